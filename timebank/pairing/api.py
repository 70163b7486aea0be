"""JSON API: pairings, their transitions and plans, and helper suggestions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.expressions import Q

from timebank import inputs
from timebank.calendar import tz_of
from timebank.errors import BadRequest
from timebank.http import read_json
from timebank.inputs import body_int, int_query
from timebank.pairing import service
from timebank.pairing.models import Pairing, PairingEvent, PairingStatus, PlanItem
from timebank.pairing.suggest import suggest
from timebank.people import members, policy
from timebank.people.auth import SignedIn
from timebank.people.models import Member, Role
from timebank.people.web import actor_of, changing, require_member


async def pairing_json(p: Pairing, *, full: bool = True) -> dict[str, Any]:
    """A pairing with names, and (``full``) its history and plan."""
    pair = [p.helper_id, p.resident_id]  # type: ignore[attr-defined]
    people: dict[int, str] = {
        int(i): str(n) for i, n in await Member.filter(id__in=pair).values_list("id", "name")
    }
    data: dict[str, Any] = {
        "id": p.id,
        "community": p.community_id,  # type: ignore[attr-defined]
        "helper": p.helper_id,  # type: ignore[attr-defined]
        "helper_name": people.get(p.helper_id, ""),  # type: ignore[attr-defined]
        "resident": p.resident_id,  # type: ignore[attr-defined]
        "resident_name": people.get(p.resident_id, ""),  # type: ignore[attr-defined]
        "status": p.status.value,
        "compensation": p.compensation.value,
        "funded": p.funded,
        "proposed_by": p.proposed_by_id,
        "approved_by": p.approved_by_id,
        "started_on": p.started_on.isoformat() if p.started_on else None,
        "note": p.note,
    }
    if full:
        events = await PairingEvent.filter(pairing=p).order_by("id")
        data["history"] = [
            {
                "at": e.at.isoformat(),
                "actor": e.actor_id,
                "from": e.from_status,
                "to": e.to_status,
                "reason": e.reason,
            }
            for e in events
        ]
        plan = await PlanItem.filter(pairing=p, active=True).order_by("id")
        data["plan"] = [
            {
                "id": i.id,
                "service": i.service_code,
                "every_days": i.every_days,
                "start": f"{i.start_minute // 60:02d}:{i.start_minute % 60:02d}",
                "duration_minutes": i.duration_minutes,
            }
            for i in plan
        ]
    return data


def can_see(who: SignedIn, p: Pairing) -> bool:
    """The helper, the resident, or a coordinator of the pairing's community."""
    me = who.member.id
    return me in (p.helper_id, p.resident_id) or policy.coordinates(who, p.community_id)  # type: ignore[attr-defined]


async def visible_pairing(request: Request, who: SignedIn, *, manage: bool) -> Pairing:
    """The pairing in the path, if ``who`` may see (or ``manage``) it."""
    p = await service.get_pairing(int(request.path_params["pairing_id"]))
    allowed = policy.coordinates(who, p.community_id) if manage else can_see(who, p)  # type: ignore[attr-defined]
    policy.require(allowed)
    return p


async def list_pairings(request: Request) -> Response:
    """
    ---
    summary: Pairings one may see (coordinators, their communities'; others, their own)
    tags: [pairings]
    parameters:
      - name: status
        in: query
        schema: {type: string, enum: [proposed, approved, suspended, ended, rejected]}
    responses:
      "200":
        description: "pairings"
        content: {application/json: {schema: {$ref: "#/components/schemas/PairingList"}}}
      "400": {$ref: "#/components/responses/BadRequest"}
      "401": {$ref: "#/components/responses/Unauthorized"}
    """
    who = require_member(request)
    status = request.query_params.get("status", "")
    found = await visible_pairings(who, status)
    return JSONResponse({"pairings": [await pairing_json(p, full=False) for p in found]})


async def visible_pairings(who: SignedIn, status: str) -> list[Pairing]:
    """Pairings ``who`` may see, newest first, optionally of one status."""
    query = Pairing.all()
    if status:
        if status not in {s.value for s in PairingStatus}:
            raise BadRequest(
                f"Unknown status {status!r}.", f"未知状态“{status}”。", code="invalid_parameter"
            )
        query = query.filter(status=status)
    scope = policy.coordinated_communities(who)
    if scope is not None:
        me = who.member.id
        query = query.filter(
            Q(helper_id=me) | Q(resident_id=me) | Q(community_id__in=sorted(scope))
        )
    return list(await query.order_by("-id").limit(500))


async def create_pairing(request: Request) -> Response:
    """
    ---
    summary: Propose a pairing (a coordinator, or a helper asking to serve a resident)
    tags: [pairings]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [helper, resident]
            properties:
              helper: {$ref: "#/components/schemas/Id"}
              resident: {$ref: "#/components/schemas/Id"}
              compensation: {type: string, enum: [hours, paid, both]}
              funded: {type: boolean, description: "true (default) - the fund pays (兜底)"}
              note: {type: string}
    responses:
      "201":
        description: "The proposed pairing"
        content: {application/json: {schema: {$ref: "#/components/schemas/Pairing"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    body = await read_json(request)
    helper = await members.get_member(inputs.record_id(body.get("helper"), "helper"))
    resident = await members.get_member(inputs.record_id(body.get("resident"), "resident"))
    p = await propose_as(who, request, helper, resident, body)
    return JSONResponse(await pairing_json(p), status_code=201)


async def propose_as(
    who: SignedIn, request: Request, helper: Member, resident: Member, body: dict[str, Any]
) -> Pairing:
    """Propose, checking that ``who`` may: a coordinator of the resident, or the helper."""
    asks_for_self = helper.id == who.member.id and who.has(Role.HELPER)
    allowed = policy.coordinates(who, resident.community_id) or asks_for_self  # type: ignore[attr-defined]
    policy.require(allowed)
    return await service.propose(
        actor_of(request, who),
        helper=helper,
        resident=resident,
        compensation=str(body.get("compensation") or "hours"),
        note=str(body.get("note") or ""),
        across_communities=policy.is_admin(who),
        funded=body.get("funded") is not False and str(body.get("funded")) != "off",
    )


async def get_pairing(request: Request) -> Response:
    """
    ---
    summary: A pairing with its history and plan
    tags: [pairings]
    parameters:
      - {name: pairing_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The pairing"
        content: {application/json: {schema: {$ref: "#/components/schemas/Pairing"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    return JSONResponse(await pairing_json(await visible_pairing(request, who, manage=False)))


async def transition_pairing(request: Request) -> Response:
    """
    ---
    summary: Approve, reject, suspend, resume or end a pairing (coordinators)
    tags: [pairings]
    parameters:
      - {name: pairing_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [action]
            properties:
              action: {type: string, enum: [approve, reject, suspend, resume, end]}
              reason: {type: string, description: "needed to reject, suspend or end"}
    responses:
      "200":
        description: "The pairing after the change"
        content: {application/json: {schema: {$ref: "#/components/schemas/Pairing"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    p = await visible_pairing(request, who, manage=True)
    body = await read_json(request)
    p = await service.transition(
        actor_of(request, who),
        p,
        str(body.get("action", "")),
        reason=str(body.get("reason") or ""),
        tz=tz_of(request),
    )
    return JSONResponse(await pairing_json(p))


async def add_plan(request: Request) -> Response:
    """
    ---
    summary: Add a recurring visit to a pairing's plan (coordinators)
    tags: [pairings]
    parameters:
      - {name: pairing_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [service, every_days, start]
            properties:
              service: {type: string}
              every_days: {type: integer}
              start: {type: string, example: "09:30"}
              duration_minutes: {type: integer}
    responses:
      "201":
        description: "The pairing with its plan"
        content: {application/json: {schema: {$ref: "#/components/schemas/Pairing"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    p = await visible_pairing(request, who, manage=True)
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
    return JSONResponse(await pairing_json(p), status_code=201)


async def remove_plan(request: Request) -> Response:
    """
    ---
    summary: Stop a recurring visit of a pairing's plan (coordinators)
    tags: [pairings]
    parameters:
      - {name: pairing_id, in: path, required: true, schema: {type: integer}}
      - {name: item_id, in: path, required: true, schema: {type: integer}}
    responses:
      "204": {description: "Stopped"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = changing(request)
    p = await visible_pairing(request, who, manage=True)
    await service.remove_plan_item(actor_of(request, who), p, int(request.path_params["item_id"]))
    return Response(status_code=204)


async def suggestions(request: Request) -> Response:
    """
    ---
    summary: Helpers who suit a resident, best first, with the reasons
    tags: [pairings]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 50}}
    responses:
      "200":
        description: "suggestions"
        content: {application/json: {schema: {$ref: "#/components/schemas/SuggestionList"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    resident = await members.get_member(int(request.path_params["member_id"]))
    policy.require(await policy.can_manage_member(who, resident))
    found = await suggest(resident, limit=int_query(request, "limit", 10, 1, 50))
    return JSONResponse({"suggestions": [s.as_json() for s in found]})


routes = [
    Route("/pairings", list_pairings, methods=["GET"]),
    Route("/pairings", create_pairing, methods=["POST"]),
    Route("/pairings/{pairing_id:int}", get_pairing, methods=["GET"]),
    Route("/pairings/{pairing_id:int}/transitions", transition_pairing, methods=["POST"]),
    Route("/pairings/{pairing_id:int}/plan", add_plan, methods=["POST"]),
    Route("/pairings/{pairing_id:int}/plan/{item_id:int}", remove_plan, methods=["DELETE"]),
    Route("/members/{member_id:int}/suggestions", suggestions, methods=["GET"]),
]
