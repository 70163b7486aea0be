"""JSON API: scanning placards, check-in and check-out, visits, review, rating, placards."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.calendar import tz_of
from timebank.catalog.service import service_json
from timebank.errors import BadRequest
from timebank.http import post, read_json
from timebank.inputs import int_query
from timebank.orders.service import order_json
from timebank.people import policy
from timebank.people.web import actor_of, changing, require_member
from timebank.visits import conduct, placards, service
from timebank.visits.models import Visit, VisitStatus

SCHEMAS = conduct.SCHEMAS


def scan_json(found: service.Scan) -> dict[str, Any]:
    """What the check-in page shows, as JSON."""
    people = {found.resident.id: found.resident.name}
    return {
        "action": found.action,
        "resident": {
            "id": found.resident.id,
            "name": found.resident.name,
            "member_no": found.resident.member_no,
        },
        "community": {"id": found.community.id, "name": found.community.name},
        "order": order_json(found.order, people) if found.order else None,
        "pairing": found.pairing.id if found.pairing else None,
        "visit": service.visit_json(found.open_visit, people) if found.open_visit else None,
        "open_elsewhere": found.elsewhere.id if found.elsewhere else None,
        "services": [service_json(s) for s in found.services],
        "pin_set": bool(found.placard.pin_hash),
    }


async def get_placard_scan(request: Request) -> Response:
    """
    ---
    summary: What scanning a placard allows now (changes nothing)
    parameters: [{name: token, in: path, required: true, schema: {type: string}}]
    responses: {"200": "Scan: start or finish, the resident, the order or pairing"}
    errors: [403]
    """
    who = require_member(request)
    token = request.path_params["token"]
    settings = request.app.state.settings
    found = await conduct.scan_as(settings, actor_of(request, who), token, who.member.id)
    return JSONResponse(scan_json(found))


async def check_in(request: Request) -> Response:
    """
    ---
    summary: Check in at a resident's home (start the visit)
    description: >
      event_id is made by the phone once per tap: a repeated request with the same id
      returns the same visit (200) instead of opening another. Server time counts, except
      for a record sent late with offline=true (then client_time, flagged).
    parameters: [{name: token, in: path, required: true, schema: {type: string}}]
    requestBody: CheckIn
    responses:
      "200": "Visit: The visit already open (a repeated tap)"
      "201": "Visit: The visit, opened"
    errors: [409]
    """
    who = changing(request)
    policy.require_helper(who)
    body = await read_json(request)
    token = request.path_params["token"]
    actor = actor_of(request, who)
    async with conduct.refusals_audited(actor, token):
        visit, created = await conduct.check_in(
            request.app.state.settings, actor, token, who.member, body
        )
    return JSONResponse(service.visit_json(visit), status_code=201 if created else 200)


async def check_out(request: Request) -> Response:
    """
    ---
    summary: Check out (finish the visit); a clean visit is verified and credited at once
    parameters: [{name: token, in: path, required: true, schema: {type: string}}]
    requestBody: CheckOut
    responses: {"200": "Visit: The visit, verified or flagged for review"}
    errors: [409]
    """
    who = changing(request)
    policy.require_helper(who)
    body = await read_json(request)
    visit = await conduct.check_out(
        request.app.state.settings,
        actor_of(request, who),
        request.path_params["token"],
        who.member,
        body,
        tz=tz_of(request),
    )
    return JSONResponse(service.visit_json(visit))


def _status_asked(request: Request) -> str:
    status = request.query_params.get("status", "")
    if status and status not in {s.value for s in VisitStatus}:
        raise BadRequest(
            "status must be open, verified, flagged or rejected.",
            "status 只能是 open、verified、flagged 或 rejected。",
            code="invalid_parameter",
        )
    return status


async def list_visits(request: Request) -> Response:
    """
    ---
    summary: Visits - a coordinator's (filter by status, e.g. flagged for review), or mine
    parameters:
      - {name: status, in: query, schema: {type: string, enum: [open, verified, flagged, rejected]}}
      - {name: mine, in: query, schema: {type: boolean}, description: "only mine"}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
    responses: {"200": "VisitList: visits, newest first"}
    """
    who = require_member(request)
    limit = int_query(request, "limit", 100, 1, 500)
    query = Visit.all()
    status = _status_asked(request)
    if status:
        query = query.filter(status=status)
    mine = request.query_params.get("mine") in ("1", "true")
    communities = (
        policy.coordinated_communities(who) if policy.coordinates_any(who) and not mine else set()
    )
    query = service.visible_visits(query, member_id=who.member.id, communities=communities)
    found = list(await query.order_by("-checked_in_at").limit(limit))
    people = await service.names(found)
    return JSONResponse({"visits": [service.visit_json(v, people) for v in found]})


async def get_visit(request: Request) -> Response:
    """
    ---
    summary: One visit
    responses: {"200": "Visit: The visit"}
    errors: [403]
    """
    who = require_member(request)
    visit = await conduct.visible_visit(who, request.path_params["visit_id"])
    return JSONResponse(service.visit_json(visit, await service.names([visit])))


async def review_visit(request: Request) -> Response:
    """
    ---
    summary: Review a flagged visit (approve, adjust the minutes with a reason, or reject)
    requestBody: VisitReview
    responses: {"200": "Visit: The visit after review (verified and credited, or rejected)"}
    errors: [409]
    """
    who = changing(request)
    body = await read_json(request)
    visit = await conduct.visible_visit(who, request.path_params["visit_id"])
    visit = await conduct.review_as(actor_of(request, who), who, visit, body)
    return JSONResponse(service.visit_json(visit))


async def rate_visit(request: Request) -> Response:
    """
    ---
    summary: Rate a finished visit, 1 to 5 (the resident or their family); this confirms it
    requestBody: VisitRating
    responses: {"200": "Visit: The visit"}
    errors: [409]
    """
    who = changing(request)
    body = await read_json(request)
    visit = await conduct.visible_visit(who, request.path_params["visit_id"])
    policy.require(await policy.may_rate_visit(who, visit))
    visit = await conduct.rate(actor_of(request, who), visit, body)
    return JSONResponse(service.visit_json(visit))


async def get_placard(request: Request) -> Response:
    """
    ---
    summary: A resident's placard (the URL its QR code holds)
    responses: {"200": "Placard: url, generation, pin_set"}
    errors: [403, 422]
    """
    who = require_member(request)
    resident = await conduct.placard_resident(who, request.path_params["member_id"])
    return JSONResponse(await conduct.placard_card(request.app.state.settings, resident))


async def reissue_placard(request: Request) -> Response:
    """
    ---
    summary: Reissue a resident's placard (every earlier placard stops working at once)
    responses: {"200": "Placard: The new placard"}
    errors: [422]
    """
    who = changing(request)
    resident = await conduct.placard_resident(who, request.path_params["member_id"])
    await placards.reissue(actor_of(request, who), resident)
    return JSONResponse(await conduct.placard_card(request.app.state.settings, resident))


async def set_pin(request: Request) -> Response:
    """
    ---
    summary: Set or clear the PIN a resident types to confirm a visit
    requestBody: PinChange
    responses: {"200": "Placard: The placard"}
    """
    who = changing(request)
    body = await read_json(request)
    resident = await conduct.placard_resident(who, request.path_params["member_id"])
    policy.require(await policy.can_set_pin(who, resident))
    await placards.set_pin(actor_of(request, who), resident, str(body.get("pin") or ""))
    return JSONResponse(await conduct.placard_card(request.app.state.settings, resident))


routes = [
    Route("/placards/{token}", get_placard_scan, methods=["GET"]),
    post("/placards/{token}/check-in", check_in),
    post("/placards/{token}/check-out", check_out),
    Route("/visits", list_visits, methods=["GET"]),
    Route("/visits/{visit_id:int}", get_visit, methods=["GET"]),
    post("/visits/{visit_id:int}/review", review_visit),
    post("/visits/{visit_id:int}/rating", rate_visit),
    Route("/members/{member_id:int}/placard", get_placard, methods=["GET"]),
    post("/members/{member_id:int}/placard", reissue_placard),
    Route("/members/{member_id:int}/placard/pin", set_pin, methods=["PUT"]),
]
