"""JSON API: orders (place, board, take, assign, release, cancel, no-show), my tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank import inputs
from timebank.calendar import tz_of
from timebank.errors import BadRequest, Invalid
from timebank.http import read_json
from timebank.orders import service
from timebank.orders.models import Order
from timebank.pairing.api import pairing_json, visible_pairings
from timebank.people import members, policy
from timebank.people.auth import SignedIn
from timebank.people.models import Member, Role
from timebank.people.web import actor_of, changing, require_member

# Who may do what to an order, beyond seeing it.
COORDINATOR_ACTIONS = {"assign", "no_show"}
LATER_ACTIONS = {"start", "complete", "verify", "flag"}  # check-in and verification


def parse_moment(value: Any, name: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 time; without an offset it is the community's local time."""
    return inputs.parse_moment(value, name, tz=tz)


def can_see(who: SignedIn, order: Order) -> bool:
    """The resident, the helper, a coordinator, or any helper of the community while open."""
    me = who.member.id
    if me in (order.resident_id, order.helper_id):  # type: ignore[attr-defined]
        return True
    if policy.coordinates(who, order.community_id):  # type: ignore[attr-defined]
        return True
    return (
        order.status.value == "open"
        and who.has(Role.HELPER)
        and who.member.community_id == order.community_id  # type: ignore[attr-defined]
    )


def may(who: SignedIn, order: Order, action: str) -> bool:
    """Whether ``who`` may carry out ``action`` on ``order``."""
    coordinator = policy.coordinates(who, order.community_id)  # type: ignore[attr-defined]
    me = who.member.id
    if action == "take":
        return who.has(Role.HELPER)
    if action == "release":
        return coordinator or me == order.helper_id  # type: ignore[attr-defined]
    if action == "cancel":
        return coordinator or me in (order.resident_id, order.placed_by_id)  # type: ignore[attr-defined]
    return coordinator


async def act(request: Request, who: SignedIn, order: Order, body: dict[str, Any]) -> Order:
    """Check and carry out a transition requested through the API or a page."""
    action = str(body.get("action", ""))
    if action in LATER_ACTIONS:
        raise Invalid(
            "Visits are started and finished by scanning the placard at the resident's home.",
            "服务的开始和结束须在老人家中扫码完成。",
            code="use_the_placard",
        )
    if action not in service.MOVES:
        raise Invalid(f"Unknown action {action!r}.", f"未知操作“{action}”。", code="unknown_action")
    policy.require(may(who, order, action))
    helper: Member | None = None
    if action == "take":
        helper = await Member.get(id=who.member.id)
    elif action == "assign":
        raw = body.get("helper")
        if raw in (None, ""):
            raise BadRequest(
                "Choose the helper to assign.", "请选择要派单的帮扶人。", code="helper_required"
            )
        helper = await members.get_member(inputs.record_id(raw, "helper"))
    return await service.move(
        actor_of(request, who), order, action, helper=helper, reason=str(body.get("reason") or "")
    )


async def visible_order(request: Request, who: SignedIn) -> Order:
    """The order in the path, if ``who`` may see it."""
    order = await service.get_order(int(request.path_params["order_id"]))
    policy.require(can_see(who, order))
    return order


async def list_orders(request: Request) -> Response:
    """
    ---
    summary: Orders board (coordinators) or my orders (residents and helpers)
    tags: [orders]
    responses:
      "200":
        description: "open, assigned and overdue orders, or mine"
        content: {application/json: {schema: {$ref: "#/components/schemas/OrderBoard"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
    """
    who = require_member(request)
    if policy.coordinates_any(who):
        found = await service.board(policy.coordinated_communities(who))
        everyone = found.open + found.assigned + found.overdue
        people = await service.names(everyone)
        return JSONResponse(
            {
                "open": [service.order_json(o, people) for o in found.open],
                "assigned": [service.order_json(o, people) for o in found.assigned],
                "overdue": [service.order_json(o, people) for o in found.overdue],
            }
        )
    me = await Member.get(id=who.member.id)
    mine = await service.upcoming(me)
    return JSONResponse({"mine": [service.order_json(o, await service.names(mine)) for o in mine]})


async def create_order(request: Request) -> Response:
    """
    ---
    summary: Order a service (a resident for themself, a coordinator for a resident)
    tags: [orders]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [service, starts_at, ends_at]
            properties:
              resident:
                allOf: [$ref: "#/components/schemas/Id"]
                description: "left out: myself"
              service: {type: string}
              starts_at: {type: string, format: date-time}
              ends_at: {type: string, format: date-time}
              notes: {type: string}
              address: {type: string}
              funded: {type: boolean, description: "the fund pays (coordinators only)"}
    responses:
      "201":
        description: "The order"
        content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    body = await read_json(request)
    tz = tz_of(request)
    order = await place_as(
        request,
        who,
        resident_id=body.get("resident"),
        service_code=str(body.get("service", "")),
        starts_at=parse_moment(body.get("starts_at"), "starts_at", tz),
        ends_at=parse_moment(body.get("ends_at"), "ends_at", tz),
        notes=str(body.get("notes") or ""),
        address=str(body.get("address") or ""),
        funded=body.get("funded") is True,
    )
    return JSONResponse(service.order_json(order), status_code=201)


async def place_as(
    request: Request,
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
    if resident_id in (None, "", who.member.id):
        resident = await Member.get(id=who.member.id)
        on_behalf = False
    else:
        resident = await members.get_member(inputs.record_id(resident_id, "resident"))
        policy.require(await policy.can_manage_member(who, resident))
        on_behalf = True
    if funded:
        policy.require(policy.coordinates(who, resident.community_id))  # type: ignore[attr-defined]
    return await service.place(
        actor_of(request, who),
        resident=resident,
        service_code=service_code,
        starts_at=starts_at,
        ends_at=ends_at,
        notes=notes,
        address=address,
        on_behalf=on_behalf,
        funded=funded,
    )


async def get_order(request: Request) -> Response:
    """
    ---
    summary: One order
    tags: [orders]
    parameters:
      - {name: order_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The order"
        content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    order = await visible_order(request, who)
    return JSONResponse(service.order_json(order, await service.names([order])))


async def transition_order(request: Request) -> Response:
    """
    ---
    summary: Take (helpers), assign or mark no-show (coordinators), release, or cancel
    tags: [orders]
    parameters:
      - {name: order_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [action]
            properties:
              action: {type: string, enum: [take, assign, release, cancel, no_show]}
              helper:
                allOf: [$ref: "#/components/schemas/Id"]
                description: "for assign"
              reason: {type: string, description: "needed to cancel or mark no-show"}
    responses:
      "200":
        description: "The order after the change"
        content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}
      "400": {$ref: "#/components/responses/BadRequest"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    order = await visible_order(request, who)
    order = await act(request, who, order, await read_json(request))
    return JSONResponse(service.order_json(order, await service.names([order])))


async def my_tasks(request: Request) -> Response:
    """
    ---
    summary: "A helper's day: tasks, open orders to take, pairings"
    tags: [orders]
    parameters:
      - {name: date, in: query, schema: {type: string, format: date}}
    responses:
      "200":
        description: "tasks, open orders and pairings"
        content: {application/json: {schema: {$ref: "#/components/schemas/Tasks"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = require_member(request)
    tz = tz_of(request)
    raw = request.query_params.get("date")
    day = inputs.parse_day(raw, "date") if raw else datetime.now(tz).date()
    me = await Member.get(id=who.member.id)
    tasks = await service.tasks(me, day, tz=tz)
    offered = await service.open_for(me) if who.has(Role.HELPER) else []
    people = await service.names(tasks + offered)
    pairings = await visible_pairings_of(who)
    return JSONResponse(
        {
            "date": day.isoformat(),
            "tasks": [service.order_json(o, people) for o in tasks],
            "open": [service.order_json(o, people) for o in offered],
            "pairings": [await pairing_json(p, full=False) for p in pairings],
        }
    )


async def visible_pairings_of(who: SignedIn) -> list[Any]:
    """The member's own pairings (as helper or resident), not the whole community's."""
    me = who.member.id
    return [
        p
        for p in await visible_pairings(who, "")
        if me in (p.helper_id, p.resident_id)  # type: ignore[attr-defined]
    ]


routes = [
    Route("/orders", list_orders, methods=["GET"]),
    Route("/orders", create_order, methods=["POST"]),
    Route("/orders/{order_id:int}", get_order, methods=["GET"]),
    Route("/orders/{order_id:int}/transitions", transition_order, methods=["POST"]),
    Route("/me/tasks", my_tasks, methods=["GET"]),
]
