"""JSON API: pairings, their transitions and plans, and helper suggestions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank import inputs
from timebank.bodies import body
from timebank.calendar import tz_of
from timebank.http import post, read_json
from timebank.inputs import body_int, int_query
from timebank.pairing import records, service
from timebank.pairing.suggest import suggest
from timebank.people import members, policy
from timebank.people.web import actor_of, changing, require_member

# What the pairing's transitions and plan read (the proposal's is in records).
SCHEMAS: dict[str, Any] = {
    **records.SCHEMAS,
    "PairingMove": body(
        ["action"],
        action={"type": "string", "enum": ["approve", "reject", "suspend", "resume", "end"]},
        reason={"type": "string", "description": "needed to reject, suspend or end"},
    ),
    "PlanVisit": body(
        ["service", "every_days", "start"],
        service={"type": "string"},
        every_days={"type": "integer"},
        start={"type": "string", "example": "09:30"},
        duration_minutes={"type": "integer"},
    ),
}


async def list_pairings(request: Request) -> Response:
    """
    ---
    summary: Pairings one may see (coordinators, their communities'; others, their own)
    parameters:
      - name: status
        in: query
        schema: {type: string, enum: [proposed, approved, suspended, ended, rejected]}
    responses: {"200": "PairingList: pairings"}
    """
    who = require_member(request)
    found = await records.visible_pairings(who, request.query_params.get("status", ""))
    return JSONResponse({"pairings": [await records.pairing_json(p, full=False) for p in found]})


async def create_pairing(request: Request) -> Response:
    """
    ---
    summary: Propose a pairing (a coordinator, or a helper asking to serve a resident)
    requestBody: PairingProposal
    responses: {"201": "Pairing: The proposed pairing"}
    errors: [404, 409]
    """
    who = changing(request)
    body = await read_json(request)
    helper = await members.get_member(inputs.record_id(body.get("helper"), "helper"))
    resident = await members.get_member(inputs.record_id(body.get("resident"), "resident"))
    p = await records.propose_as(actor_of(request, who), who, helper, resident, body)
    return JSONResponse(await records.pairing_json(p), status_code=201)


async def get_pairing(request: Request) -> Response:
    """
    ---
    summary: A pairing with its history and plan
    responses: {"200": "Pairing: The pairing"}
    errors: [403]
    """
    who = require_member(request)
    p = await records.visible_pairing(who, request.path_params["pairing_id"], manage=False)
    return JSONResponse(await records.pairing_json(p))


async def transition_pairing(request: Request) -> Response:
    """
    ---
    summary: Approve, reject, suspend, resume or end a pairing (coordinators)
    requestBody: PairingMove
    responses: {"200": "Pairing: The pairing after the change"}
    errors: [409]
    """
    who = changing(request)
    p = await records.visible_pairing(who, request.path_params["pairing_id"], manage=True)
    body = await read_json(request)
    p = await service.transition(
        actor_of(request, who),
        p,
        str(body.get("action", "")),
        reason=str(body.get("reason") or ""),
        tz=tz_of(request),
    )
    return JSONResponse(await records.pairing_json(p))


async def add_plan(request: Request) -> Response:
    """
    ---
    summary: Add a recurring visit to a pairing's plan (coordinators)
    requestBody: PlanVisit
    responses: {"201": "Pairing: The pairing with its plan"}
    errors: [409]
    """
    who = changing(request)
    p = await records.visible_pairing(who, request.path_params["pairing_id"], manage=True)
    body = await read_json(request)
    duration = body.get("duration_minutes")
    await service.add_plan_item(
        actor_of(request, who),
        p,
        service_code=str(body.get("service", "")),
        every_days=body_int(body, "every_days"),
        start=str(body.get("start", "")),
        duration_minutes=body_int(body, "duration_minutes") if duration is not None else None,
        schedule_in=tz_of(request),
    )
    return JSONResponse(await records.pairing_json(p), status_code=201)


async def remove_plan(request: Request) -> Response:
    """
    ---
    summary: Stop a recurring visit of a pairing's plan (coordinators)
    responses: {"204": {description: "Stopped"}}
    """
    who = changing(request)
    p = await records.visible_pairing(who, request.path_params["pairing_id"], manage=True)
    await service.remove_plan_item(actor_of(request, who), p, int(request.path_params["item_id"]))
    return Response(status_code=204)


async def suggestions(request: Request) -> Response:
    """
    ---
    summary: Helpers who suit a resident, best first, with the reasons
    parameters:
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 50}}
    responses: {"200": "SuggestionList: suggestions"}
    errors: [403]
    """
    who = require_member(request)
    resident = await members.get_member(int(request.path_params["member_id"]))
    policy.require(await policy.can_manage_member(who, resident))
    found = await suggest(resident, limit=int_query(request, "limit", 10, 1, 50))
    return JSONResponse({"suggestions": [s.as_json() for s in found]})


routes = [
    Route("/pairings", list_pairings, methods=["GET"]),
    post("/pairings", create_pairing),
    Route("/pairings/{pairing_id:int}", get_pairing, methods=["GET"]),
    post("/pairings/{pairing_id:int}/transitions", transition_pairing),
    post("/pairings/{pairing_id:int}/plan", add_plan),
    Route("/pairings/{pairing_id:int}/plan/{item_id:int}", remove_plan, methods=["DELETE"]),
    Route("/members/{member_id:int}/suggestions", suggestions, methods=["GET"]),
]
