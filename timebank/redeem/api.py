"""JSON API: the redemption catalogue, redemptions and hand-over, donations, grants."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.expressions import Q

from timebank import inputs
from timebank.calendar import tz_of
from timebank.errors import BadRequest, NotFound
from timebank.http import read_json
from timebank.inputs import parse_moment
from timebank.people import members, policy
from timebank.people.auth import SignedIn
from timebank.people.models import Member
from timebank.people.service import get_community, member_names
from timebank.people.web import actor_of, changing, require_member
from timebank.redeem import service
from timebank.redeem.models import (
    Grant,
    GrantSource,
    GrantStatus,
    ItemKind,
    RedeemItem,
    Redemption,
    RedemptionStatus,
)


def _int(value: Any, name: str, *, low: int = 1, high: int = inputs.ID_MAX) -> int:
    """An id (or, with bounds, a number) from a JSON body or form, or a 422 naming it."""
    return inputs.whole_number(value, name, low=low, high=high)


async def names_of(ids: set[int]) -> dict[int, str]:
    """Member id → name."""
    return await member_names(ids)


async def list_catalog(request: Request) -> Response:
    """
    ---
    summary: A community's redemption catalogue (goods, privileges, services)
    tags: [redeem]
    parameters:
      - {name: community_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "items"
        content: {application/json: {schema: {$ref: "#/components/schemas/ItemList"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    community = await get_community(int(request.path_params["community_id"]))
    policy.require(
        who.member.community_id == community.id  # type: ignore[attr-defined]
        or policy.coordinates(who, community.id)
    )
    items = await RedeemItem.filter(community=community).order_by("kind", "price_minutes", "id")
    coordinator = policy.coordinates(who, community.id)
    return JSONResponse({"items": [service.item_json(i) for i in items if i.active or coordinator]})


async def create_item(request: Request) -> Response:
    """
    ---
    summary: Add an item to the catalogue
    tags: [redeem]
    parameters:
      - {name: community_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/NewItem"}
    responses:
      "201":
        description: "The item"
        content: {application/json: {schema: {$ref: "#/components/schemas/Item"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    community = await get_community(int(request.path_params["community_id"]))
    policy.require(policy.coordinates(who, community.id))
    item = await service.create_item(actor_of(request, who), community, await read_json(request))
    return JSONResponse(service.item_json(item), status_code=201)


async def update_item(request: Request) -> Response:
    """
    ---
    summary: Change an item (names, price, stock, offered or not)
    tags: [redeem]
    parameters:
      - {name: catalog_item_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/ItemChange"}
    responses:
      "200":
        description: "The item"
        content: {application/json: {schema: {$ref: "#/components/schemas/Item"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    item = await service.get_item(int(request.path_params["catalog_item_id"]))
    policy.require(policy.coordinates(who, item.community_id))  # type: ignore[attr-defined]
    item = await service.update_item(actor_of(request, who), item, await read_json(request))
    return JSONResponse(service.item_json(item))


async def redeem_as(request: Request, who: SignedIn, body: dict[str, Any]) -> Redemption:
    """Redeem for ``who`` (or, for a coordinator, on behalf of ``member``)."""
    item = await service.get_item(_int(body.get("item"), "item"))
    on_behalf = body.get("member") not in (None, "", who.member.id)
    if on_behalf:
        member = await members.get_member(_int(body.get("member"), "member"))
        policy.require(await policy.can_manage_member(who, member))
    else:
        member = await Member.get(id=who.member.id)
    raw_for = body.get("for")
    beneficiary = member
    if raw_for not in (None, "", member.id, str(member.id)):
        beneficiary = await members.get_member(_int(raw_for, "for"))
    if item.kind is ItemKind.SERVICE:
        tz = tz_of(request)
        return await service.book_service(
            actor_of(request, who),
            member=member,
            beneficiary=beneficiary,
            item=item,
            starts_at=parse_moment(body.get("starts_at"), "starts_at", tz=tz),
            key=str(body.get("key") or ""),
            on_behalf=on_behalf,
            tz=tz,
        )
    return await service.redeem(
        actor_of(request, who),
        member=member,
        beneficiary=beneficiary,
        item=item,
        key=str(body.get("key") or ""),
        on_behalf=on_behalf,
        tz=tz_of(request),
    )


async def create_redemption(request: Request) -> Response:
    """
    ---
    summary: Redeem hours for goods, a privilege or a service (for myself or family)
    description: >
      Goods and privileges - the hours leave the wallet at once; goods then wait at the
      office for hand-over (核销). A service is booked as an order at starts_at and its
      hours are held, to go to the helper who serves it. Refused with a clear message for
      too few hours, the age gate, the day and month limits, or no stock. A repeated key
      returns the first redemption.
    tags: [redeem]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [item, key]
            properties:
              item: {$ref: "#/components/schemas/Id"}
              key: {type: string, minLength: 8, maxLength: 100, description: "idempotency key"}
              for:
                allOf: [$ref: "#/components/schemas/Id"]
                description: "a linked family member (default myself)"
              member:
                allOf: [$ref: "#/components/schemas/Id"]
                description: "coordinators - whose hours"
              starts_at: {type: string, format: date-time, description: "a service - when"}
    responses:
      "201":
        description: "The redemption"
        content: {application/json: {schema: {$ref: "#/components/schemas/Redemption"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    redemption = await redeem_as(request, who, await read_json(request))
    return JSONResponse(service.redemption_json(redemption), status_code=201)


async def list_redemptions(request: Request) -> Response:
    """
    ---
    summary: Redemptions - a coordinator's (e.g. status=to_hand_over), or mine
    tags: [redeem]
    parameters:
      - name: status
        in: query
        schema: {type: string, enum: [to_hand_over, handed_over, done, reserved, served, cancelled]}
      - {name: mine, in: query, schema: {type: boolean}}
    responses:
      "200":
        description: "redemptions, newest first"
        content: {application/json: {schema: {$ref: "#/components/schemas/RedemptionList"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
    """
    who = require_member(request)
    query = Redemption.all()
    if status := request.query_params.get("status"):
        query = query.filter(status=inputs.choice(status, "status", RedemptionStatus))
    mine = request.query_params.get("mine") in ("1", "true")
    if policy.coordinates_any(who) and not mine:
        communities = policy.coordinated_communities(who)
        if communities is not None:
            query = query.filter(community_id__in=sorted(communities))
    else:
        query = query.filter(Q(member_id=who.member.id) | Q(beneficiary_id=who.member.id))
    found = list(await query.order_by("-created_at").limit(200))
    names = await names_of({r.member_id for r in found} | {r.beneficiary_id for r in found})  # type: ignore[attr-defined]
    return JSONResponse({"redemptions": [service.redemption_json(r, names) for r in found]})


async def hand_over(request: Request) -> Response:
    """
    ---
    summary: Hand the goods of a redemption over (核销)
    tags: [redeem]
    parameters:
      - {name: redemption_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The redemption, handed over"
        content: {application/json: {schema: {$ref: "#/components/schemas/Redemption"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
    """
    who = changing(request)
    redemption = await service.get_redemption(int(request.path_params["redemption_id"]))
    policy.require(policy.coordinates(who, redemption.community_id))  # type: ignore[attr-defined]
    redemption = await service.hand_over(actor_of(request, who), redemption)
    return JSONResponse(service.redemption_json(redemption))


async def donate_as(request: Request, who: SignedIn, body: dict[str, Any]) -> Any:
    """Donate ``who``'s hours to family or the pool."""
    target = body.get("to")
    to_member = None
    if target != "pool":
        to_member = await members.get_member(_int(target, "to"))
    return await service.donate(
        actor_of(request, who),
        member=await Member.get(id=who.member.id),
        to_member=to_member,
        minutes=_int(body.get("minutes"), "minutes", low=-inputs.ID_MAX),
        key=str(body.get("key") or ""),
        reason=str(body.get("reason") or ""),
    )


async def create_donation(request: Request) -> Response:
    """
    ---
    summary: Give my hours to a linked family member or to the community's public pool
    tags: [redeem]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [to, minutes, key]
            properties:
              to:
                description: "a family member's id, or pool"
                oneOf: [$ref: "#/components/schemas/Id", {type: string, enum: [pool]}]
              minutes: {type: integer, minimum: 1}
              key: {type: string, minLength: 8, maxLength: 100}
              reason: {type: string}
    responses:
      "201":
        description: "The ledger transaction"
        content: {application/json: {schema: {$ref: "#/components/schemas/Donation"}}}
      "400": {$ref: "#/components/responses/BadRequest"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    posted = await donate_as(request, who, await read_json(request))
    return JSONResponse({"transaction": posted.txn.id, "created": posted.created}, status_code=201)


async def grant_as(request: Request, who: SignedIn, body: dict[str, Any]) -> Grant:
    """Grant hours as a coordinator of the member's community."""
    member = await members.get_member(_int(body.get("member"), "member"))
    policy.require(policy.coordinates(who, member.community_id))  # type: ignore[attr-defined]
    try:
        source = GrantSource(str(body.get("source") or "fund"))
    except ValueError:
        raise BadRequest(
            "source must be fund or pool.", "来源只能是 fund 或 pool。", code="invalid_parameter"
        ) from None
    community = await get_community(member.community_id)  # type: ignore[attr-defined]
    ask = service.GrantAsk(
        member=member,
        minutes=_int(body.get("minutes"), "minutes", low=-inputs.ID_MAX),
        source=source,
        reason=str(body.get("reason") or ""),
    )
    return await service.request_grant(
        actor_of(request, who), community, ask, str(body.get("key") or "")
    )


async def create_grant(request: Request) -> Response:
    """
    ---
    summary: Grant hours to a member from the community fund (兜底) or the public pool
    description: >
      Posted at once, or - above the community's grant_review_minutes - left pending
      for a second coordinator.
    tags: [redeem]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [member, minutes, reason, key]
            properties:
              member: {$ref: "#/components/schemas/Id"}
              minutes: {type: integer, minimum: 1, maximum: 6000}
              source: {type: string, enum: [fund, pool]}
              reason: {type: string, minLength: 1, maxLength: 300}
              key: {type: string, minLength: 8, maxLength: 100}
    responses:
      "201":
        description: "The grant (posted or pending)"
        content: {application/json: {schema: {$ref: "#/components/schemas/Grant"}}}
      "400": {$ref: "#/components/responses/BadRequest"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    policy.require_coordinator(who)
    grant = await grant_as(request, who, await read_json(request))
    return JSONResponse(service.grant_json(grant), status_code=201)


async def list_grants(request: Request) -> Response:
    """
    ---
    summary: Grants of my communities (status=pending - waiting for a second coordinator)
    tags: [redeem]
    parameters:
      - {name: status, in: query, schema: {type: string, enum: [pending, posted, rejected]}}
    responses:
      "200":
        description: "grants, newest first"
        content: {application/json: {schema: {$ref: "#/components/schemas/GrantList"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    policy.require_coordinator(who)
    query = Grant.all()
    communities = policy.coordinated_communities(who)
    if communities is not None:
        query = query.filter(community_id__in=sorted(communities))
    if status := request.query_params.get("status"):
        if status not in {s.value for s in GrantStatus}:
            raise BadRequest(
                "status must be pending, posted or rejected.",
                "status 只能是 pending、posted 或 rejected。",
                code="invalid_parameter",
            )
        query = query.filter(status=status)
    found = list(await query.order_by("-created_at").limit(200))
    names = await names_of({g.member_id for g in found})  # type: ignore[attr-defined]
    return JSONResponse({"grants": [service.grant_json(g, names) for g in found]})


async def decide_grant(request: Request) -> Response:
    """
    ---
    summary: Approve or reject a grant waiting for a second coordinator
    tags: [redeem]
    parameters:
      - {name: grant_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [approve]
            properties:
              approve: {type: boolean}
              note: {type: string, description: "needed to reject"}
    responses:
      "200":
        description: "The grant"
        content: {application/json: {schema: {$ref: "#/components/schemas/Grant"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    body = await read_json(request)
    grant = await get_grant(int(request.path_params["grant_id"]))
    policy.require(policy.coordinates(who, grant.community_id))  # type: ignore[attr-defined]
    grant = await service.decide_grant(
        actor_of(request, who), grant, body.get("approve") is True, str(body.get("note") or "")
    )
    return JSONResponse(service.grant_json(grant))


async def get_grant(grant_id: int) -> Grant:
    """The grant with this id, or a 404."""
    found = await Grant.get_or_none(id=grant_id)
    if found is None:
        raise NotFound(
            f"There is no grant number {grant_id}.", f"找不到编号为 {grant_id} 的补贴。",
            code="grant_not_found",
        )  # fmt: skip
    return found


routes = [
    Route("/communities/{community_id:int}/catalog", list_catalog, methods=["GET"]),
    Route("/communities/{community_id:int}/catalog", create_item, methods=["POST"]),
    Route("/catalog/{catalog_item_id:int}", update_item, methods=["PATCH"]),
    Route("/redemptions", list_redemptions, methods=["GET"]),
    Route("/redemptions", create_redemption, methods=["POST"]),
    Route("/redemptions/{redemption_id:int}/hand-over", hand_over, methods=["POST"]),
    Route("/me/donations", create_donation, methods=["POST"]),
    Route("/grants", list_grants, methods=["GET"]),
    Route("/grants", create_grant, methods=["POST"]),
    Route("/grants/{grant_id:int}/decision", decide_grant, methods=["POST"]),
]
