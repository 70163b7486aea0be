"""What a member asks of an order, checked by the policy and carried out by the service:
placing one, moving it (take, assign, release, cancel, no-show), seeing it. Shared by the
order pages and the API, which only read the request and render the answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from timebank import inputs
from timebank.bodies import an_id, body
from timebank.errors import BadRequest, Invalid
from timebank.orders import service
from timebank.orders.models import Order
from timebank.people import members, policy
from timebank.people.audit import Actor
from timebank.people.auth import SignedIn
from timebank.people.models import Member

# What an order and a move read (the API's body; the pages' forms hold the same fields).
SCHEMAS: dict[str, Any] = {
    "OrderRequest": body(
        ["service", "starts_at", "ends_at"],
        resident=an_id("left out: myself"),
        service={"type": "string"},
        starts_at={"type": "string", "format": "date-time"},
        ends_at={"type": "string", "format": "date-time"},
        notes={"type": "string"},
        address={"type": "string"},
        funded={"type": "boolean", "description": "the fund pays (coordinators only)"},
    ),
    "OrderMove": body(
        ["action"],
        action={"type": "string", "enum": ["take", "assign", "release", "cancel", "no_show"]},
        helper=an_id("for assign"),
        reason={"type": "string", "description": "needed to cancel or mark no-show"},
    ),
}

LATER_ACTIONS = {"start", "complete", "verify", "flag"}  # check-in and verification


async def visible_order(who: SignedIn, order_id: int) -> Order:
    """The order ``order_id``, if ``who`` may see it."""
    order = await service.get_order(order_id)
    policy.require(policy.can_see_order(who, order))
    return order


async def _helper_named(who: SignedIn, action: str, body: dict[str, Any]) -> Member | None:
    """Who takes the order (oneself) or is assigned to it (``body["helper"]``)."""
    if action == "take":
        return await Member.get(id=who.member.id)
    if action != "assign":
        return None
    raw = body.get("helper")
    if raw in (None, ""):
        raise BadRequest(
            "Choose the helper to assign.", "请选择要派单的帮扶人。", code="helper_required"
        )
    return await members.get_member(inputs.record_id(raw, "helper"))


async def act(actor: Actor, who: SignedIn, order: Order, body: dict[str, Any]) -> Order:
    """Check and carry out a move (an OrderMove) requested through the API or a page."""
    action = str(body.get("action", ""))
    if action in LATER_ACTIONS:
        raise Invalid(
            "Visits are started and finished by scanning the placard at the resident's home.",
            "服务的开始和结束须在老人家中扫码完成。",
            code="use_the_placard",
        )
    if action not in service.MOVES:
        raise Invalid(f"Unknown action {action!r}.", f"未知操作“{action}”。", code="unknown_action")
    policy.require(policy.can_move_order(who, order, action))
    helper = await _helper_named(who, action, body)
    return await service.move(
        actor, order, action, helper=helper, reason=str(body.get("reason") or "")
    )


async def place_as(
    actor: Actor,
    who: SignedIn,
    *,
    resident_id: Any,
    service_code: str,
    starts_at: datetime,
    ends_at: datetime,
    notes: str,
    address: str,
    funded: bool = False,
) -> Order:
    """Place an order, checking ``who`` may: the resident, or their coordinator (only a
    coordinator may have the community fund pay for it, 兜底)."""
    on_behalf = resident_id not in (None, "", who.member.id)
    if on_behalf:
        resident = await members.get_member(inputs.record_id(resident_id, "resident"))
    else:
        resident = await Member.get(id=who.member.id)
    allowed = await policy.can_order_for(who, resident, on_behalf=on_behalf, funded=funded)
    policy.require(allowed)
    return await service.place(
        actor,
        resident=resident,
        service_code=service_code,
        starts_at=starts_at,
        ends_at=ends_at,
        notes=notes,
        address=address,
        on_behalf=on_behalf,
        funded=funded,
    )
