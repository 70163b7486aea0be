"""JSON API: orders (place, board, take, assign, release, cancel, no-show), my tasks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank import calendar, inputs
from timebank.calendar import tz_of
from timebank.http import post, read_json
from timebank.orders import conduct, service
from timebank.pairing.records import own_pairings, pairing_json
from timebank.people import policy
from timebank.people.models import Member, Role
from timebank.people.web import actor_of, changing, require_member

SCHEMAS = conduct.SCHEMAS


async def list_orders(request: Request) -> Response:
    """
    ---
    summary: Orders board (coordinators) or my orders (residents and helpers)
    responses: {"200": "OrderBoard: open, assigned and overdue orders, or mine"}
    """
    who = require_member(request)
    if policy.coordinates_any(who):
        found = await service.board(policy.coordinated_communities(who))
        people = await service.names(found.open + found.assigned + found.overdue)
        return JSONResponse(
            {
                "open": [service.order_json(o, people) for o in found.open],
                "assigned": [service.order_json(o, people) for o in found.assigned],
                "overdue": [service.order_json(o, people) for o in found.overdue],
            }
        )
    mine = await service.upcoming(await Member.get(id=who.member.id))
    return JSONResponse({"mine": [service.order_json(o, await service.names(mine)) for o in mine]})


async def create_order(request: Request) -> Response:
    """
    ---
    summary: Order a service (a resident for themself, a coordinator for a resident)
    requestBody: OrderRequest
    responses: {"201": "Order: The order"}
    errors: [404]
    """
    who = changing(request)
    body = await read_json(request)
    tz = tz_of(request)
    order = await conduct.place_as(
        actor_of(request, who),
        who,
        resident_id=body.get("resident"),
        service_code=str(body.get("service", "")),
        starts_at=inputs.parse_moment(body.get("starts_at"), "starts_at", tz=tz),
        ends_at=inputs.parse_moment(body.get("ends_at"), "ends_at", tz=tz),
        notes=str(body.get("notes") or ""),
        address=str(body.get("address") or ""),
        funded=body.get("funded") is True,
    )
    return JSONResponse(service.order_json(order), status_code=201)


async def get_order(request: Request) -> Response:
    """
    ---
    summary: One order
    responses: {"200": "Order: The order"}
    errors: [403]
    """
    who = require_member(request)
    order = await conduct.visible_order(who, request.path_params["order_id"])
    return JSONResponse(service.order_json(order, await service.names([order])))


async def transition_order(request: Request) -> Response:
    """
    ---
    summary: Take (helpers), assign or mark no-show (coordinators), release, or cancel
    requestBody: OrderMove
    responses: {"200": "Order: The order after the change"}
    errors: [409]
    """
    who = changing(request)
    order = await conduct.visible_order(who, request.path_params["order_id"])
    order = await conduct.act(actor_of(request, who), who, order, await read_json(request))
    return JSONResponse(service.order_json(order, await service.names([order])))


async def my_tasks(request: Request) -> Response:
    """
    ---
    summary: "A helper's day: tasks, the next seven days', open orders to take, pairings"
    parameters: [{name: date, in: query, schema: {type: string, format: date}}]
    responses: {"200": "Tasks: tasks, open orders and pairings"}
    errors: [422]
    """
    who = require_member(request)
    tz = tz_of(request)
    raw = request.query_params.get("date")
    day = inputs.parse_day(raw, "date") if raw else calendar.local_today(tz)
    me = await Member.get(id=who.member.id)
    tasks = await service.tasks(me, day, tz=tz)
    coming = await service.coming(me, day, tz=tz)
    offered = await service.open_for(me) if who.has(Role.HELPER) else []
    people = await service.names(tasks + coming + offered)
    return JSONResponse(
        {
            "date": day.isoformat(),
            "tasks": [service.order_json(o, people) for o in tasks],
            "coming": [service.order_json(o, people) for o in coming],
            "open": [service.order_json(o, people) for o in offered],
            "pairings": [await pairing_json(p, full=False) for p in await own_pairings(who)],
        }
    )


routes = [
    Route("/orders", list_orders, methods=["GET"]),
    post("/orders", create_order),
    Route("/orders/{order_id:int}", get_order, methods=["GET"]),
    post("/orders/{order_id:int}/transitions", transition_order),
    Route("/me/tasks", my_tasks, methods=["GET"]),
]
