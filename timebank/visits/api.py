"""JSON API: scanning placards, check-in and check-out, visits, review, rating, placards."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.calendar import tz_of
from timebank.catalog.service import service_json
from timebank.errors import BadRequest, Forbidden, Invalid, TimebankError
from timebank.http import read_json
from timebank.inputs import int_query
from timebank.orders.service import order_json
from timebank.people import members, policy
from timebank.people.auth import SignedIn
from timebank.people.models import FamilyLink, Member, Role
from timebank.people.web import actor_of, changing, require_member
from timebank.visits import placards, service
from timebank.visits.models import Visit, VisitStatus


def require_helper(who: SignedIn) -> None:
    """Refuse a check-in or check-out by anyone but a helper, before reading the request."""
    if not who.has(Role.HELPER):
        raise Forbidden(
            "Only a helper can check in a visit. Please sign in with a helper's account.",
            "只有帮扶人/志愿者可以扫码签到，请用帮扶人账号登录。",
            code="not_a_helper",
        )


def secret_of(request: Request) -> str:
    """The key placard tokens are signed with."""
    return str(request.app.state.settings.secret_key)


async def scan_as(request: Request, who: SignedIn, token: str) -> service.Scan:
    """Scan a placard as ``who``; a refusal is written to the audit log before it is raised."""
    try:
        return await service.scan(secret_of(request), token, await Member.get(id=who.member.id))
    except TimebankError as error:
        await service.audit_refusal(actor_of(request, who), token, error)
        raise


async def scan_json(found: service.Scan) -> dict[str, Any]:
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
    tags: [visits]
    parameters:
      - {name: token, in: path, required: true, schema: {type: string}}
    responses:
      "200":
        description: "start or finish, the resident, the order or pairing"
        content: {application/json: {schema: {$ref: "#/components/schemas/Scan"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    found = await scan_as(request, who, request.path_params["token"])
    return JSONResponse(await scan_json(found))


async def check_in(request: Request) -> Response:
    """
    ---
    summary: Check in at a resident's home (start the visit)
    description: >
      event_id is made by the phone once per tap: a repeated request with the same id
      returns the same visit (200) instead of opening another. Server time counts, except
      for a record sent late with offline=true (then client_time, flagged).
    tags: [visits]
    parameters:
      - {name: token, in: path, required: true, schema: {type: string}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [event_id]
            properties:
              event_id: {type: string, pattern: "^[A-Za-z0-9_-]{8,64}$"}
              client_time: {type: string, format: date-time}
              lat: {type: number, minimum: -90, maximum: 90}
              lon: {type: number, minimum: -180, maximum: 180}
              offline: {type: boolean}
              service: {type: string, description: "for a visit of a pairing without an order"}
    responses:
      "200":
        description: "The visit already open (a repeated tap)"
        content: {application/json: {schema: {$ref: "#/components/schemas/Visit"}}}
      "201":
        description: "The visit, opened"
        content: {application/json: {schema: {$ref: "#/components/schemas/Visit"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    require_helper(who)
    body = await read_json(request)
    token = request.path_params["token"]
    where = service.parse_where(body)
    helper = who.member
    try:
        visit, created = await service.check_in(
            actor_of(request, who),
            secret_of(request),
            token,
            helper,
            where,
            str(body.get("service") or ""),
            tz=tz_of(request),
        )
    except TimebankError as error:
        if error.status == 403:
            await service.audit_refusal(actor_of(request, who), token, error)
        raise
    return JSONResponse(service.visit_json(visit), status_code=201 if created else 200)


async def check_out(request: Request) -> Response:
    """
    ---
    summary: Check out (finish the visit); a clean visit is verified and credited at once
    tags: [visits]
    parameters:
      - {name: token, in: path, required: true, schema: {type: string}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [event_id]
            properties:
              event_id: {type: string, pattern: "^[A-Za-z0-9_-]{8,64}$"}
              client_time: {type: string, format: date-time}
              lat: {type: number, minimum: -90, maximum: 90}
              lon: {type: number, minimum: -180, maximum: 180}
              offline: {type: boolean}
              pin: {type: string, description: "the resident's PIN, typed by them (optional)"}
    responses:
      "200":
        description: "The visit, verified or flagged for review"
        content: {application/json: {schema: {$ref: "#/components/schemas/Visit"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    require_helper(who)
    body = await read_json(request)
    where = service.parse_where(body)
    visit = await service.check_out(
        actor_of(request, who),
        secret_of(request),
        request.path_params["token"],
        who.member,
        where,
        tz=tz_of(request),
        pin=str(body.get("pin") or ""),
    )
    return JSONResponse(service.visit_json(visit))


async def is_family(member_id: int, resident_id: int) -> bool:
    """Whether the member is a linked family member of the resident."""
    return await FamilyLink.exists(member_id=resident_id, relative_id=member_id)


async def can_see(who: SignedIn, visit: Visit) -> bool:
    """The helper, the resident, their family, or a coordinator of the community."""
    me = who.member.id
    if me in (visit.helper_id, visit.resident_id):  # type: ignore[attr-defined]
        return True
    if policy.coordinates(who, visit.community_id):  # type: ignore[attr-defined]
        return True
    return await is_family(me, visit.resident_id)  # type: ignore[attr-defined]


async def may_rate(who: SignedIn, visit: Visit) -> bool:
    """The resident, or their linked family; never whoever served the visit, nor (unless
    they are the resident) the helper's family."""
    return await policy.may_rate(who.member.id, helper=visit.helper_id, resident=visit.resident_id)


async def visible_visit(request: Request, who: SignedIn) -> Visit:
    """The visit in the path, if ``who`` may see it."""
    visit = await service.get_visit(int(request.path_params["visit_id"]))
    policy.require(await can_see(who, visit))
    return visit


async def list_visits(request: Request) -> Response:
    """
    ---
    summary: Visits - a coordinator's (filter by status, e.g. flagged for review), or mine
    tags: [visits]
    parameters:
      - {name: status, in: query, schema: {type: string, enum: [open, verified, flagged, rejected]}}
      - {name: mine, in: query, schema: {type: boolean}, description: "only mine"}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
    responses:
      "200":
        description: "visits, newest first"
        content: {application/json: {schema: {$ref: "#/components/schemas/VisitList"}}}
      "400": {$ref: "#/components/responses/BadRequest"}
      "401": {$ref: "#/components/responses/Unauthorized"}
    """
    who = require_member(request)
    limit = int_query(request, "limit", 100, 1, 500)
    query = Visit.all()
    status = request.query_params.get("status", "")
    if status:
        if status not in {s.value for s in VisitStatus}:
            raise BadRequest(
                "status must be open, verified, flagged or rejected.",
                "status 只能是 open、verified、flagged 或 rejected。",
                code="invalid_parameter",
            )
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
    tags: [visits]
    parameters:
      - {name: visit_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The visit"
        content: {application/json: {schema: {$ref: "#/components/schemas/Visit"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    visit = await visible_visit(request, who)
    return JSONResponse(service.visit_json(visit, await service.names([visit])))


async def review_visit(request: Request) -> Response:
    """
    ---
    summary: Review a flagged visit (approve, adjust the minutes with a reason, or reject)
    tags: [visits]
    parameters:
      - {name: visit_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [action]
            properties:
              action: {type: string, enum: [approve, adjust, reject]}
              minutes: {type: integer, description: "adjust - the minutes served"}
              reason: {type: string, description: "needed to adjust or reject"}
              community_pays: {type: boolean, description: "the fund pays"}
    responses:
      "200":
        description: "The visit after review (verified and credited, or rejected)"
        content: {application/json: {schema: {$ref: "#/components/schemas/Visit"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    body = await read_json(request)
    visit = await visible_visit(request, who)
    visit = await review_as(request, who, visit, body)
    return JSONResponse(service.visit_json(visit))


def _minutes(raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        return -1


async def review_as(request: Request, who: SignedIn, visit: Visit, body: dict[str, Any]) -> Visit:
    """Review, checking ``who`` coordinates the visit's community."""
    policy.require(policy.coordinates(who, visit.community_id))  # type: ignore[attr-defined]
    return await service.review(
        actor_of(request, who),
        visit,
        str(body.get("action") or ""),
        minutes=_minutes(body.get("minutes")),
        reason=str(body.get("reason") or ""),
        community_pays=body.get("community_pays") in (True, "on", "1", "true"),
    )


async def rate_visit(request: Request) -> Response:
    """
    ---
    summary: Rate a finished visit, 1 to 5 (the resident or their family); this confirms it
    tags: [visits]
    parameters:
      - {name: visit_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [rating]
            properties:
              rating: {type: integer, minimum: 1, maximum: 5}
              comment: {type: string}
    responses:
      "200":
        description: "The visit"
        content: {application/json: {schema: {$ref: "#/components/schemas/Visit"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    body = await read_json(request)
    visit = await visible_visit(request, who)
    visit = await rate_as(request, who, visit, body)
    return JSONResponse(service.visit_json(visit))


async def rate_as(request: Request, who: SignedIn, visit: Visit, body: dict[str, Any]) -> Visit:
    """Rate, checking ``who`` is the resident or family."""
    policy.require(await may_rate(who, visit))
    rating = _minutes(body.get("rating"))
    return await service.rate(
        actor_of(request, who), visit, rating or 0, str(body.get("comment") or "")
    )


async def placard_json(request: Request, resident: Member) -> dict[str, Any]:
    """A resident's placard: the URL its QR holds, its generation, whether a PIN is set."""
    placard = await placards.placard_of(resident)
    token = placards.make_token(secret_of(request), resident.id, placard.generation)
    settings = request.app.state.settings
    return {
        "resident": resident.id,
        "member_no": resident.member_no,
        "generation": placard.generation,
        "url": placards.placard_url(settings.base_url, token),
        "pin_set": bool(placard.pin_hash),
        "issued_at": placard.issued_at.isoformat(),
    }


async def placard_resident(request: Request, who: SignedIn) -> Member:
    """The resident in the path, if ``who`` coordinates them."""
    resident = await members.get_member(int(request.path_params["member_id"]))
    policy.require(await policy.can_manage_member(who, resident))
    if not await Member.filter(id=resident.id, roles__role=Role.RESIDENT).exists():
        raise Invalid(
            f"{resident.name} is not a resident: only residents have placards.",
            f"{resident.name} 不是服务对象，只有服务对象有上门服务码。",
            code="not_a_resident",
        )
    return resident


async def get_placard(request: Request) -> Response:
    """
    ---
    summary: A resident's placard (the URL its QR code holds)
    tags: [visits]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "url, generation, pin_set"
        content: {application/json: {schema: {$ref: "#/components/schemas/Placard"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = require_member(request)
    resident = await placard_resident(request, who)
    return JSONResponse(await placard_json(request, resident))


async def reissue_placard(request: Request) -> Response:
    """
    ---
    summary: Reissue a resident's placard (every earlier placard stops working at once)
    tags: [visits]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The new placard"
        content: {application/json: {schema: {$ref: "#/components/schemas/Placard"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    resident = await placard_resident(request, who)
    await placards.reissue(actor_of(request, who), resident)
    return JSONResponse(await placard_json(request, resident))


async def set_pin(request: Request) -> Response:
    """
    ---
    summary: Set or clear the PIN a resident types to confirm a visit
    tags: [visits]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [pin]
            properties:
              pin: {type: string, pattern: "^([0-9]{4,6})?$", description: "empty clears it"}
    responses:
      "200":
        description: "The placard"
        content: {application/json: {schema: {$ref: "#/components/schemas/Placard"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    body = await read_json(request)
    resident = await placard_resident(request, who)
    policy.require(await policy.can_set_pin(who, resident))
    await placards.set_pin(actor_of(request, who), resident, str(body.get("pin") or ""))
    return JSONResponse(await placard_json(request, resident))


routes = [
    Route("/placards/{token}", get_placard_scan, methods=["GET"]),
    Route("/placards/{token}/check-in", check_in, methods=["POST"]),
    Route("/placards/{token}/check-out", check_out, methods=["POST"]),
    Route("/visits", list_visits, methods=["GET"]),
    Route("/visits/{visit_id:int}", get_visit, methods=["GET"]),
    Route("/visits/{visit_id:int}/review", review_visit, methods=["POST"]),
    Route("/visits/{visit_id:int}/rating", rate_visit, methods=["POST"]),
    Route("/members/{member_id:int}/placard", get_placard, methods=["GET"]),
    Route("/members/{member_id:int}/placard", reissue_placard, methods=["POST"]),
    Route("/members/{member_id:int}/placard/pin", set_pin, methods=["PUT"]),
]
