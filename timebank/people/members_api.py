"""JSON API: members, family links, sign-in codes, communities and their settings, audit."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.bodies import ID, body
from timebank.errors import BadRequest, Invalid, NotFound
from timebank.http import post, read_json
from timebank.inputs import int_query
from timebank.people import (
    audit,
    auth,
    communities,
    directory,
    family,
    member_import,
    members,
    policy,
    service,
)
from timebank.people.auth import SignedIn
from timebank.people.models import Community, FamilyLink, Member, Relation
from timebank.people.service import get_community
from timebank.people.web import actor_of, changing, require_member

# The request bodies read here (besides api_schemas' members and settings), for the OpenAPI
# document (timebank.api.FEATURE_SCHEMAS).
SCHEMAS: dict[str, Any] = {
    "NewFamilyLink": body(
        ["relative", "relation"],
        relative=ID,
        relation={"type": "string", "enum": [r.value for r in Relation]},
    )
}


async def managing(request: Request) -> tuple[SignedIn, Member]:
    """Who changes (with the CSRF header) the member named in the path, whom they manage."""
    who = changing(request)
    member = await members.get_member(int(request.path_params["member_id"]))
    policy.require(await policy.can_manage_member(who, member))
    return who, member


async def list_members(request: Request) -> Response:
    """
    ---
    summary: Search members of the communities one coordinates
    parameters:
      - {name: q, in: query, schema: {type: string}, description: "name, phone or member number"}
      - {name: role, in: query, schema: {type: string, enum: [helper,resident,coordinator,admin]}}
      - {name: hardship, in: query, schema: {type: string}}
      - {name: community, in: query, schema: {type: integer}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 200}}
      - {name: offset, in: query, schema: {type: integer, minimum: 0}}
    responses: {"200": "MemberList: members (roles and hardship, no profiles) and the total"}
    errors: [403]
    """
    who = require_member(request)
    policy.require_coordinator(who)  # before the 400s, as it always was
    scope = policy.coordinated_scope(who, _id_query(request, "community"))
    found = await directory.search(
        scope,
        q=request.query_params.get("q", ""),
        role=request.query_params.get("role", ""),
        hardship=request.query_params.get("hardship", ""),
        limit=int_query(request, "limit", 50, 1, 200),
        offset=int_query(request, "offset", 0, 0, 10**9),
    )
    return JSONResponse(
        {
            "total": found.total,
            "members": await directory.summaries(found.members),
        }
    )


async def create_member(request: Request) -> Response:
    """
    ---
    summary: Register a member (resident, helper or both) in a community
    requestBody: NewMember
    responses: {"201": "Member: The member, with profiles"}
    errors: [404, 409]
    """
    who = changing(request)
    body = await read_json(request)
    community_id = body.get("community")
    if not isinstance(community_id, int) or isinstance(community_id, bool):
        raise BadRequest(
            "community must be the id of a community.", "community 必须是社区编号。",
            code="invalid_parameter",
        )  # fmt: skip
    policy.require(policy.can_manage_community(who, community_id))
    community = await get_community(community_id)
    member = await members.register(
        actor_of(request, who), community, body, admin=policy.is_admin(who)
    )
    return JSONResponse(await directory.member_json(member), status_code=201)


async def get_member(request: Request) -> Response:
    """
    ---
    summary: One member with profiles and family
    responses: {"200": "Member: The member"}
    errors: [403]
    """
    who = require_member(request)
    member = await members.get_member(int(request.path_params["member_id"]))
    policy.require(await policy.can_view_member(who, member))
    return JSONResponse(await directory.member_json(member))


async def update_member(request: Request) -> Response:
    """
    ---
    summary: Change a member's fields, roles or profiles (only the fields sent)
    requestBody: MemberChange
    responses: {"200": "Member: The member after the change"}
    errors: [409]
    """
    who, member = await managing(request)
    body = await read_json(request)
    policy.require(await policy.can_take_over(who, member, body))
    member = await members.update(actor_of(request, who), member, body, admin=policy.is_admin(who))
    return JSONResponse(await directory.member_json(member))


async def issue_code(request: Request) -> Response:
    """
    ---
    summary: Issue a one-time sign-in code for a member (shown once, valid 24 hours)
    responses: {"201": "SigninCode: code and hours valid"}
    """
    who, member = await managing(request)
    policy.require(await policy.can_take_over(who, member, {}, code=True))
    code = await auth.issue_code(actor_of(request, who), member)
    return JSONResponse({"code": code, "hours": auth.CODE_HOURS}, status_code=201)


async def add_family(request: Request) -> Response:
    """
    ---
    summary: Link a relative to a member (both directions)
    requestBody: NewFamilyLink
    responses: {"201": "Member: The member with their family"}
    errors: [409]
    """
    who, member = await managing(request)
    body = await read_json(request)
    relative_id = body.get("relative")
    if not isinstance(relative_id, int) or isinstance(relative_id, bool):
        raise BadRequest(
            "relative must be a member id.", "relative 必须是成员编号。", code="invalid_parameter"
        )
    relative = await members.get_member(relative_id)
    policy.require(await policy.can_manage_member(who, relative))
    await members.link_family(
        actor_of(request, who), member, relative, str(body.get("relation", ""))
    )
    return JSONResponse(await directory.member_json(member), status_code=201)


async def remove_family(request: Request) -> Response:
    """
    ---
    summary: Remove a family link (both directions)
    responses: {"204": {description: "Removed"}}
    """
    who, member = await managing(request)
    link = await FamilyLink.get_or_none(id=int(request.path_params["link_id"]), member=member)
    if link is None:
        raise NotFound("There is no such family link.", "找不到该亲属关系。", code="link_not_found")
    policy.require(await policy.can_unlink_family(who, link))
    await members.unlink_family(actor_of(request, who), link)
    return Response(status_code=204)


async def family_consent(request: Request) -> Response:
    """
    ---
    summary: Record or withdraw the member's consent that a linked relative acts for them
    description: The member themself, or a coordinator who manages them (never for their
      own family). With consent the relative sees the member's visits, hours and orders,
      orders and books for them and rates their visits.
    tags: [people]
    requestBody: ConsentChange
    responses: {"200": "FamilyConsent: the link and its consent"}
    """
    who = changing(request)
    member = await members.get_member(int(request.path_params["member_id"]))
    link = await family.get_link(member.id, int(request.path_params["link_id"]))
    policy.require(await policy.can_record_family_consent(who, link))
    given = (await read_json(request)).get("consent")
    if not isinstance(given, bool):
        raise Invalid(
            'Send {"consent": true} to agree or {"consent": false} to withdraw.',
            '请发送 {"consent": true} 表示同意，或 {"consent": false} 表示撤回。',
            code="bad_consent",
        )
    link = await family.set_consent(actor_of(request, who), link, given)
    return JSONResponse(family.link_json(link))


async def list_communities(request: Request) -> Response:
    """
    ---
    summary: The communities one may see (coordinated ones, all for an admin, else one's own)
    responses: {"200": "CommunityList: communities with settings"}
    """
    scope = policy.communities_seen(require_member(request))
    query = Community.all().order_by("id")
    if scope is not None:
        query = query.filter(id__in=sorted(scope))
    return JSONResponse({"communities": [communities.community_json(c) for c in await query]})


async def get_community_settings(request: Request) -> Response:
    """
    ---
    summary: A community and its settings
    responses: {"200": "Community: The community"}
    errors: [403]
    """
    who = require_member(request)
    community = await get_community(int(request.path_params["community_id"]))
    policy.require(policy.can_view_community(who, community.id))
    return JSONResponse(communities.community_json(community))


async def update_community_settings(request: Request) -> Response:
    """
    ---
    summary: Change a community's settings (coordinators)
    requestBody: SettingsChange
    responses: {"200": "Community: The community after the change"}
    """
    who = changing(request)
    community_id = int(request.path_params["community_id"])
    policy.require(policy.can_manage_community(who, community_id))
    community = await get_community(community_id)
    body = await read_json(request)
    updated = await communities.update_settings(
        actor_of(request, who), community, body, safeguards=policy.can_change_safeguards(who)
    )
    return JSONResponse(communities.community_json(updated))


async def import_members(request: Request) -> Response:
    """
    ---
    summary: Import members from a CSV file (all rows or none)
    requestBody: {content: {text/csv: {schema: {type: string}}}}
    responses: {"201": "Imported: How many were registered, and who"}
    """
    who = changing(request)
    community_id = int(request.path_params["community_id"])
    policy.require(policy.can_manage_community(who, community_id))
    community = await get_community(community_id)
    raw = await request.body()
    result = await member_import.import_csv(
        actor_of(request, who), community, raw, admin=policy.is_admin(who)
    )
    return JSONResponse(
        {
            "created": len(result.created),
            "members": await directory.summaries(result.created),
        },
        status_code=201,
    )


async def list_audit(request: Request) -> Response:
    """
    ---
    summary: The audit log of the communities one coordinates, newest first
    parameters:
      - {name: community, in: query, schema: {type: integer}}
      - {name: member, in: query, schema: {type: integer}}
      - {name: before, in: query, schema: {type: integer}, description: "page back from id"}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
    responses: {"200": "AuditList: events"}
    errors: [403]
    """
    who = require_member(request)
    community, member = _id_query(request, "community"), _id_query(request, "member")
    limit = int_query(request, "limit", 100, 1, 500)
    before = _id_query(request, "before", 2**62)
    scope = policy.coordinated_scope(who, community)  # after the 400s, as it always was
    events = await service.audit_events(scope, member=member, limit=limit, before=before)
    names = await service.member_names(e.actor_id for e in events)
    return JSONResponse({"events": [audit.event_json(e, names) for e in events]})


def _id_query(request: Request, name: str, high: int = 2**31 - 1) -> int | None:
    """The id in the query parameter ``name``, None when it is absent or empty."""
    return int_query(request, name, 0, 1, high) if request.query_params.get(name) else None


routes = [
    Route("/members", list_members, methods=["GET"]),
    post("/members", create_member),
    Route("/members/{member_id:int}", get_member, methods=["GET"]),
    Route("/members/{member_id:int}", update_member, methods=["PATCH"]),
    post("/members/{member_id:int}/signin-code", issue_code),
    post("/members/{member_id:int}/family", add_family),
    Route("/members/{member_id:int}/family/{link_id:int}", remove_family, methods=["DELETE"]),
    Route("/members/{member_id:int}/family/{link_id:int}/consent", family_consent, methods=["PUT"]),
    Route("/communities", list_communities, methods=["GET"]),
    Route("/communities/{community_id:int}", get_community_settings, methods=["GET"]),
    Route("/communities/{community_id:int}", update_community_settings, methods=["PATCH"]),
    post("/communities/{community_id:int}/import", import_members),
    Route("/audit", list_audit, methods=["GET"]),
]
