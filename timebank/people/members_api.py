"""JSON API: members, family links, sign-in codes, communities and their settings, audit."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.errors import BadRequest, Invalid, NotFound
from timebank.http import read_json
from timebank.inputs import int_query
from timebank.people import audit, auth, communities, directory, member_import, members, policy
from timebank.people.auth import SignedIn
from timebank.people.models import AuditEvent, Community, FamilyLink, Member, Role
from timebank.people.service import get_community, member_names
from timebank.people.web import actor_of, changing, require_member


async def member_for(request: Request, who: SignedIn, *, manage: bool) -> Member:
    """The member named in the path, if ``who`` may see (or ``manage``) them."""
    member = await members.get_member(int(request.path_params["member_id"]))
    if manage:
        policy.require(await policy.can_manage_member(who, member))
    else:
        policy.require(await can_view(who, member))
    return member


async def can_view(who: SignedIn, member: Member) -> bool:
    """``policy.can_view_member``, knowing whether ``who`` serves ``member`` as a helper."""
    from timebank.orders.service import serves  # orders builds on people

    helping = who.has(Role.HELPER) and await serves(who.member.id, member.id)
    return policy.can_view_member(who, member, serves=helping)


async def list_members(request: Request) -> Response:
    """
    ---
    summary: Search members of the communities one coordinates
    tags: [people]
    parameters:
      - {name: q, in: query, schema: {type: string}, description: "name, phone or member number"}
      - name: role
        in: query
        schema: {type: string, enum: [helper, resident, coordinator, admin]}
      - {name: hardship, in: query, schema: {type: string}}
      - {name: community, in: query, schema: {type: integer}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 200}}
      - {name: offset, in: query, schema: {type: integer, minimum: 0}}
    responses:
      "200":
        description: "members (roles and hardship, no profiles) and the total"
        content: {application/json: {schema: {$ref: "#/components/schemas/MemberList"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    policy.require_coordinator(who)
    scope = policy.visible_communities(who)
    community = request.query_params.get("community")
    if community:
        community_id = int_query(request, "community", 0, 1, 2**31 - 1)
        policy.require(policy.can_manage_community(who, community_id))
        scope = {community_id}
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
    tags: [people]
    requestBody:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/NewMember"}
    responses:
      "201":
        description: "The member, with profiles"
        content: {application/json: {schema: {$ref: "#/components/schemas/Member"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
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
    tags: [people]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The member"
        content: {application/json: {schema: {$ref: "#/components/schemas/Member"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    member = await member_for(request, who, manage=False)
    return JSONResponse(await directory.member_json(member))


async def update_member(request: Request) -> Response:
    """
    ---
    summary: Change a member's fields, roles or profiles (only the fields sent)
    tags: [people]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/MemberChange"}
    responses:
      "200":
        description: "The member after the change"
        content: {application/json: {schema: {$ref: "#/components/schemas/Member"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    member = await member_for(request, who, manage=True)
    body = await read_json(request)
    policy.require(await policy.can_take_over(who, member, body))
    member = await members.update(actor_of(request, who), member, body, admin=policy.is_admin(who))
    return JSONResponse(await directory.member_json(member))


async def issue_code(request: Request) -> Response:
    """
    ---
    summary: Issue a one-time sign-in code for a member (shown once, valid 24 hours)
    tags: [people]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
    responses:
      "201":
        description: "code and hours valid"
        content: {application/json: {schema: {$ref: "#/components/schemas/SigninCode"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = changing(request)
    member = await member_for(request, who, manage=True)
    policy.require(await policy.can_take_over(who, member, {}, code=True))
    code = await auth.issue_code(actor_of(request, who), member)
    return JSONResponse({"code": code, "hours": auth.CODE_HOURS}, status_code=201)


async def add_family(request: Request) -> Response:
    """
    ---
    summary: Link a relative to a member (both directions)
    tags: [people]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [relative, relation]
            properties:
              relative: {$ref: "#/components/schemas/Id"}
              relation:
                type: string
                enum: [spouse, child, parent, sibling, grandchild, grandparent, other]
    responses:
      "201":
        description: "The member with their family"
        content: {application/json: {schema: {$ref: "#/components/schemas/Member"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    member = await member_for(request, who, manage=True)
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
    tags: [people]
    parameters:
      - {name: member_id, in: path, required: true, schema: {type: integer}}
      - {name: link_id, in: path, required: true, schema: {type: integer}}
    responses:
      "204": {description: "Removed"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = changing(request)
    member = await member_for(request, who, manage=True)
    link = await FamilyLink.get_or_none(id=int(request.path_params["link_id"]), member=member)
    if link is None:
        raise NotFound("There is no such family link.", "找不到该亲属关系。", code="link_not_found")
    policy.require(await policy.can_unlink_family(who, link))
    await members.unlink_family(actor_of(request, who), link)
    return Response(status_code=204)


async def list_communities(request: Request) -> Response:
    """
    ---
    summary: The communities one may see (coordinated ones, all for an admin, else one's own)
    tags: [people]
    responses:
      "200":
        description: "communities with settings"
        content: {application/json: {schema: {$ref: "#/components/schemas/CommunityList"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
    """
    who = require_member(request)
    scope = policy.visible_communities(who)
    query = Community.all().order_by("id")
    if scope is not None:
        scope = scope | {who.member.community_id}
        query = query.filter(id__in=sorted(scope))
    return JSONResponse({"communities": [communities.community_json(c) for c in await query]})


async def get_community_settings(request: Request) -> Response:
    """
    ---
    summary: A community and its settings
    tags: [people]
    parameters:
      - {name: community_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The community"
        content: {application/json: {schema: {$ref: "#/components/schemas/Community"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    community = await get_community(int(request.path_params["community_id"]))
    own = community.id == who.member.community_id
    policy.require(own or policy.can_manage_community(who, community.id))
    return JSONResponse(communities.community_json(community))


async def update_community_settings(request: Request) -> Response:
    """
    ---
    summary: Change a community's settings (coordinators)
    tags: [people]
    parameters:
      - {name: community_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/SettingsChange"}
    responses:
      "200":
        description: "The community after the change"
        content: {application/json: {schema: {$ref: "#/components/schemas/Community"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "422": {$ref: "#/components/responses/Invalid"}
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
    tags: [people]
    parameters:
      - {name: community_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        text/csv:
          schema: {type: string}
    responses:
      "201":
        description: "How many were registered, and who"
        content: {application/json: {schema: {$ref: "#/components/schemas/Imported"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "422": {$ref: "#/components/responses/Invalid"}
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


async def audit_events(
    who: SignedIn, *, community: int | None, member: int | None, limit: int, before: int | None
) -> list[AuditEvent]:
    """The newest audit events ``who`` may read, newest first."""
    policy.require_coordinator(who)
    query = AuditEvent.all()
    scope = policy.visible_communities(who)
    if community is not None:
        policy.require(policy.can_manage_community(who, community))
        query = query.filter(community_id=community)
    elif scope is not None:
        query = query.filter(community_id__in=sorted(scope))
    if member is not None:
        query = query.filter(target_type="member", target_id=str(member))
    if before is not None:
        query = query.filter(id__lt=before)
    return await query.order_by("-id").limit(limit)


async def names_of(events: list[AuditEvent]) -> dict[int, str]:
    """Member id → name for the actors of ``events``."""
    return await member_names(e.actor_id for e in events)


async def list_audit(request: Request) -> Response:
    """
    ---
    summary: The audit log of the communities one coordinates, newest first
    tags: [people]
    parameters:
      - {name: community, in: query, schema: {type: integer}}
      - {name: member, in: query, schema: {type: integer}}
      - {name: before, in: query, schema: {type: integer}, description: "page back from id"}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
    responses:
      "200":
        description: "events"
        content: {application/json: {schema: {$ref: "#/components/schemas/AuditList"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    params = request.query_params
    events = await audit_events(
        who,
        community=int_query(request, "community", 0, 1, 2**31 - 1)
        if params.get("community")
        else None,
        member=int_query(request, "member", 0, 1, 2**31 - 1) if params.get("member") else None,
        limit=int_query(request, "limit", 100, 1, 500),
        before=int_query(request, "before", 0, 1, 2**62) if params.get("before") else None,
    )
    names = await names_of(events)
    return JSONResponse({"events": [audit.event_json(e, names) for e in events]})


async def change_password(request: Request) -> Response:
    """
    ---
    summary: Change my password (other sessions are signed out)
    description: >-
      A wrong current password counts as a failed sign-in of the member's phone: after 5 in
      15 minutes the answer is 429 (a stolen session cannot guess the password).
    tags: [people]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [new]
            properties: {current: {type: string}, new: {type: string, minLength: 8}}
    responses:
      "204": {description: "Changed"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "422": {$ref: "#/components/responses/Invalid"}
      "429": {$ref: "#/components/responses/TooManyAttempts"}
    """
    who = changing(request)
    body = await read_json(request)
    await auth.change_password(
        who,
        current=str(body.get("current", "")),
        new=str(body.get("new", "")),
        ip=request.client.host if request.client else "",
    )
    return Response(status_code=204)


async def my_consent(request: Request) -> Response:
    """
    ---
    summary: Give or withdraw my consent to the use of my data (and location at check-in)
    tags: [people]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [consent]
            properties: {consent: {type: boolean}}
    responses:
      "200":
        description: "consent (true or false) and since when"
        content: {application/json: {schema: {$ref: "#/components/schemas/Consent"}}}
      "400": {$ref: "#/components/responses/BadRequest"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    body = await read_json(request)
    given = body.get("consent")
    if not isinstance(given, bool):
        raise Invalid(
            'Send {"consent": true} to agree or {"consent": false} to withdraw.',
            '请发送 {"consent": true} 表示同意，或 {"consent": false} 表示撤回。',
            code="bad_consent",
        )
    member = await members.set_consent(actor_of(request, who), who.member, given)
    return JSONResponse(consent_json(member))


def consent_json(member: Any) -> dict[str, Any]:
    """Whether the member consents, and since when."""
    at = member.consent_at
    return {"consent": at is not None, "consent_at": at.isoformat() if at else None}


routes = [
    Route("/members", list_members, methods=["GET"]),
    Route("/members", create_member, methods=["POST"]),
    Route("/members/{member_id:int}", get_member, methods=["GET"]),
    Route("/members/{member_id:int}", update_member, methods=["PATCH"]),
    Route("/members/{member_id:int}/signin-code", issue_code, methods=["POST"]),
    Route("/members/{member_id:int}/family", add_family, methods=["POST"]),
    Route("/members/{member_id:int}/family/{link_id:int}", remove_family, methods=["DELETE"]),
    Route("/communities", list_communities, methods=["GET"]),
    Route("/communities/{community_id:int}", get_community_settings, methods=["GET"]),
    Route("/communities/{community_id:int}", update_community_settings, methods=["PATCH"]),
    Route("/communities/{community_id:int}/import", import_members, methods=["POST"]),
    Route("/audit", list_audit, methods=["GET"]),
    Route("/me/password", change_password, methods=["PUT"]),
    Route("/me/consent", my_consent, methods=["PUT"]),
]
