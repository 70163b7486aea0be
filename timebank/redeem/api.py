"""JSON API: the redemption catalogue, redemptions and hand-over, donations, grants."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank import inputs
from timebank.calendar import tz_of
from timebank.http import post, read_json
from timebank.people import policy
from timebank.people.service import get_community, member_names
from timebank.people.web import actor_of, changing, require_member
from timebank.redeem import gifts, items, service
from timebank.redeem.models import RedemptionStatus


async def list_catalog(request: Request) -> Response:
    """
    ---
    summary: A community's redemption catalogue (goods, privileges, services)
    responses: {"200": "ItemList: items"}
    errors: [403]
    """
    who = require_member(request)
    community = await get_community(int(request.path_params["community_id"]))
    policy.require(policy.can_see_catalogs(who, community.id))
    found = await items.items_of(community.id, withdrawn=policy.coordinates(who, community.id))
    return JSONResponse({"items": [items.item_json(i) for i in found]})


async def create_item(request: Request) -> Response:
    """
    ---
    summary: Add an item to the catalogue
    requestBody: NewItem
    responses: {"201": "Item: The item"}
    """
    who = changing(request)
    community = await get_community(int(request.path_params["community_id"]))
    policy.require(policy.coordinates(who, community.id))
    item = await items.create_item(actor_of(request, who), community, await read_json(request))
    return JSONResponse(items.item_json(item), status_code=201)


async def update_item(request: Request) -> Response:
    """
    ---
    summary: Change an item (names, price, stock, offered or not)
    requestBody: ItemChange
    responses: {"200": "Item: The item"}
    """
    who = changing(request)
    item = await items.get_item(int(request.path_params["catalog_item_id"]))
    policy.require(policy.coordinates(who, item.community_id))
    item = await items.update_item(actor_of(request, who), item, await read_json(request))
    return JSONResponse(items.item_json(item))


async def create_redemption(request: Request) -> Response:
    """
    ---
    summary: Redeem hours for goods, a privilege or a service (for myself or family)
    description: >
      Goods wait at the office for hand-over (核销); a service is booked as an order at
      starts_at, its hours held for the helper. A repeated key returns the first redemption.
    requestBody: NewRedemption
    responses: {"201": "Redemption: The redemption"}
    errors: [404, 409]
    """
    who = changing(request)
    body = await read_json(request)
    redemption = await service.redeem_for(actor_of(request, who), who, body, tz_of(request))
    return JSONResponse(service.redemption_json(redemption), status_code=201)


async def list_redemptions(request: Request) -> Response:
    """
    ---
    summary: Redemptions - a coordinator's (e.g. status=to_hand_over), or mine
    parameters:
      - name: status
        in: query
        schema: {type: string, enum: [to_hand_over, handed_over, done, reserved, served, cancelled]}
      - {name: mine, in: query, schema: {type: boolean}}
    responses: {"200": "RedemptionList: redemptions, newest first"}
    """
    who = require_member(request)
    raw = request.query_params.get("status")
    status = inputs.choice(raw, "status", RedemptionStatus) if raw else None
    mine = request.query_params.get("mine") in ("1", "true")
    found = await service.redemptions_seen(who, status=status, mine=mine)
    names = await member_names({r.member_id for r in found} | {r.beneficiary_id for r in found})
    return JSONResponse({"redemptions": [service.redemption_json(r, names) for r in found]})


async def hand_over(request: Request) -> Response:
    """
    ---
    summary: Hand the goods of a redemption over (核销)
    responses: {"200": "Redemption: The redemption, handed over"}
    errors: [409]
    """
    who = changing(request)
    redemption = await service.get_redemption(int(request.path_params["redemption_id"]))
    policy.require(policy.coordinates(who, redemption.community_id))
    redemption = await service.hand_over(actor_of(request, who), redemption)
    return JSONResponse(service.redemption_json(redemption))


async def create_donation(request: Request) -> Response:
    """
    ---
    summary: Give my hours to a linked family member or to the community's public pool
    requestBody: NewDonation
    responses: {"201": "Donation: The ledger transaction"}
    errors: [404, 409]
    """
    who = changing(request)
    posted = await gifts.donate_for(actor_of(request, who), who, await read_json(request))
    return JSONResponse({"transaction": posted.txn.id, "created": posted.created}, status_code=201)


async def create_grant(request: Request) -> Response:
    """
    ---
    summary: Grant hours to a member from the community fund (兜底) or the public pool
    description: >
      Posted at once, or - above the community's grant_review_minutes - left pending
      for a second coordinator.
    requestBody: NewGrant
    responses: {"201": "Grant: The grant (posted or pending)"}
    errors: [404, 409]
    """
    who = changing(request)
    policy.require_coordinator(who)
    grant = await gifts.grant_for(actor_of(request, who), who, await read_json(request))
    return JSONResponse(gifts.grant_json(grant), status_code=201)


async def list_grants(request: Request) -> Response:
    """
    ---
    summary: Grants of my communities (status=pending - waiting for a second coordinator)
    parameters:
      - {name: status, in: query, schema: {type: string, enum: [pending, posted, rejected]}}
    responses: {"200": "GrantList: grants, newest first"}
    errors: [403]
    """
    who = require_member(request)
    policy.require_coordinator(who)
    found = await gifts.grants_seen(who, request.query_params.get("status"))
    names = await member_names({g.member_id for g in found})
    return JSONResponse({"grants": [gifts.grant_json(g, names) for g in found]})


async def decide_grant(request: Request) -> Response:
    """
    ---
    summary: Approve or reject a grant waiting for a second coordinator
    requestBody: GrantDecision
    responses: {"200": "Grant: The grant"}
    errors: [409]
    """
    who = changing(request)
    body = await read_json(request)
    grant = await gifts.get_grant(int(request.path_params["grant_id"]))
    policy.require(policy.coordinates(who, grant.community_id))
    grant = await gifts.decide_grant(
        actor_of(request, who), grant, body.get("approve") is True, str(body.get("note") or "")
    )
    return JSONResponse(gifts.grant_json(grant))


routes = [
    Route("/communities/{community_id:int}/catalog", list_catalog, methods=["GET"]),
    post("/communities/{community_id:int}/catalog", create_item),
    Route("/catalog/{catalog_item_id:int}", update_item, methods=["PATCH"]),
    Route("/redemptions", list_redemptions, methods=["GET"]),
    post("/redemptions", create_redemption),
    post("/redemptions/{redemption_id:int}/hand-over", hand_over),
    post("/me/donations", create_donation),
    Route("/grants", list_grants, methods=["GET"]),
    post("/grants", create_grant),
    post("/grants/{grant_id:int}/decision", decide_grant),
]
