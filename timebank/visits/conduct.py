"""What a member asks of a visit or a placard, checked by the policy and carried out by the
service: scanning, checking in and out, seeing, reviewing and rating a visit, a resident's
placard. Shared by the check-in and visit pages and the API, which only read the request
(a JSON body or a form, as the same dict) and render the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

from timebank import calendar
from timebank.bodies import body
from timebank.errors import Invalid, TimebankError
from timebank.people import members, policy
from timebank.people.audit import Actor
from timebank.people.auth import SignedIn
from timebank.people.models import Member, Role
from timebank.settings import Settings
from timebank.visits import placards, service
from timebank.visits.models import Visit

_TAP = {
    "event_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
    "client_time": {"type": "string", "format": "date-time"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "lon": {"type": "number", "minimum": -180, "maximum": 180},
    "offline": {"type": "boolean"},
}
# What each request about a visit reads (service.parse_where reads the tap's fields).
SCHEMAS: dict[str, Any] = {
    "CheckIn": body(
        ["event_id"],
        **_TAP,
        service={"type": "string", "description": "for a visit of a pairing without an order"},
    ),
    "CheckOut": body(
        ["event_id"],
        **_TAP,
        pin={"type": "string", "description": "the resident's PIN, typed by them (optional)"},
    ),
    "VisitReview": body(
        ["action"],
        action={"type": "string", "enum": ["approve", "adjust", "reject"]},
        minutes={"type": "integer", "description": "adjust - the minutes served"},
        reason={"type": "string", "description": "needed to adjust or reject"},
        community_pays={"type": "boolean", "description": "the fund pays"},
    ),
    "VisitRating": body(
        ["rating"],
        rating={"type": "integer", "minimum": 1, "maximum": 5},
        comment={"type": "string"},
    ),
    "PinChange": body(
        ["pin"],
        pin={"type": "string", "pattern": "^([0-9]{4,6})?$", "description": "empty clears it"},
    ),
}


async def scan_as(settings: Settings, actor: Actor, token: str, member_id: int) -> service.Scan:
    """Scan a placard as member ``member_id``; a refusal is written to the audit log
    before it is raised."""
    try:
        return await service.scan(settings.secret_key, token, await Member.get(id=member_id))
    except TimebankError as error:
        await service.audit_refusal(actor, token, error)
        raise


@asynccontextmanager
async def refusals_audited(actor: Actor, token: str) -> AsyncIterator[None]:
    """Write a refusal (403) of a tap on the placard ``token`` to the audit log, then raise it."""
    try:
        yield
    except TimebankError as error:
        if error.status == 403:
            await service.audit_refusal(actor, token, error)
        raise


async def check_in(
    settings: Settings, actor: Actor, token: str, helper: Member, body: dict[str, Any]
) -> tuple[Visit, bool]:
    """Open a visit from a CheckIn; (visit, created)."""
    where = service.parse_where(body)
    service_code = str(body.get("service") or "")
    return await service.check_in(
        actor, settings.secret_key, token, helper, where, service_code,
        tz=calendar.zone(settings.timezone),
    )  # fmt: skip


async def check_out(
    settings: Settings,
    actor: Actor,
    token: str,
    helper: Member,
    body: dict[str, Any],
    *,
    tz: ZoneInfo,
) -> Visit:
    """Close the helper's open visit here from a CheckOut."""
    where = service.parse_where(body)
    pin = str(body.get("pin") or "")
    return await service.check_out(actor, settings.secret_key, token, helper, where, tz=tz, pin=pin)


async def visible_visit(who: SignedIn, visit_id: int) -> Visit:
    """The visit ``visit_id``, if ``who`` may see it."""
    visit = await service.get_visit(visit_id)
    policy.require(await policy.can_see_visit(who, visit))
    return visit


def _whole(raw: Any) -> int | None:
    """A number typed in a form or sent as JSON; not one: -1, refused by the service."""
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        return -1


async def review_as(actor: Actor, who: SignedIn, visit: Visit, body: dict[str, Any]) -> Visit:
    """Review (a VisitReview), checking ``who`` coordinates the visit's community."""
    policy.require(policy.can_review_visit(who, visit))
    return await service.review(
        actor,
        visit,
        str(body.get("action") or ""),
        minutes=_whole(body.get("minutes")),
        reason=str(body.get("reason") or ""),
        community_pays=body.get("community_pays") in (True, "on", "1", "true"),
    )


async def rate(actor: Actor, visit: Visit, body: dict[str, Any]) -> Visit:
    """Rate (a VisitRating); the caller has checked that ``who`` may (``may_rate``)."""
    rating = _whole(body.get("rating"))
    return await service.rate(actor, visit, rating or 0, str(body.get("comment") or ""))


async def placard_card(settings: Settings, resident: Member) -> dict[str, Any]:
    """A resident's placard: the URL its QR holds, its generation, whether a PIN is set."""
    placard = await placards.placard_of(resident)
    token = placards.make_token(settings.secret_key, resident.id, placard.generation)
    return {
        "resident": resident.id,
        "member_no": resident.member_no,
        "generation": placard.generation,
        "url": placards.placard_url(settings.base_url, token),
        "pin_set": bool(placard.pin_hash),
        "issued_at": placard.issued_at.isoformat(),
    }


async def placard_resident(who: SignedIn, member_id: int) -> Member:
    """The resident ``member_id``, if ``who`` manages them."""
    resident = await members.get_member(member_id)
    policy.require(await policy.can_manage_member(who, resident))
    if not await Member.filter(id=resident.id, roles__role=Role.RESIDENT).exists():
        raise Invalid(
            f"{resident.name} is not a resident: only residents have placards.",
            f"{resident.name} 不是服务对象，只有服务对象有上门服务码。",
            code="not_a_resident",
        )
    return resident
