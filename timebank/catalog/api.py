"""JSON API: a community's service catalog."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.catalog import service
from timebank.http import read_json
from timebank.people import policy
from timebank.people.service import get_community
from timebank.people.web import actor_of, changing, require_member


async def list_services(request: Request) -> Response:
    """
    ---
    summary: The services a community offers (its members and coordinators)
    tags: [catalog]
    parameters:
      - {name: community_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "service types"
        content: {application/json: {schema: {$ref: "#/components/schemas/ServiceList"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    community = await get_community(int(request.path_params["community_id"]))
    own = community.id == who.member.community_id  # type: ignore[attr-defined]
    policy.require(own or policy.can_manage_community(who, community.id))
    return JSONResponse(
        {"services": [service.service_json(s) for s in await service.catalog(community)]}
    )


async def update_service(request: Request) -> Response:
    """
    ---
    summary: Change a service type (coordinators)
    tags: [catalog]
    parameters:
      - {name: community_id, in: path, required: true, schema: {type: integer}}
      - {name: code, in: path, required: true, schema: {type: string}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties:
              name_zh: {type: string, minLength: 1, maxLength: 40}
              name_en: {type: string, minLength: 1, maxLength: 60}
              typical_minutes: {type: integer, minimum: 5, maximum: 720}
              max_minutes: {type: integer, minimum: 5, maximum: 720}
              min_minutes: {type: integer, minimum: 0, maximum: 720}
              multiplier: {type: number, minimum: 0.1, maximum: 5}
              needs_confirmation: {type: boolean}
              group_activity: {type: boolean}
              active: {type: boolean}
    responses:
      "200":
        description: "The service type"
        content: {application/json: {schema: {$ref: "#/components/schemas/Service"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = changing(request)
    community_id = int(request.path_params["community_id"])
    policy.require(policy.can_manage_community(who, community_id))
    community = await get_community(community_id)
    updated = await service.update_service(
        actor_of(request, who), community, request.path_params["code"], await read_json(request)
    )
    return JSONResponse(service.service_json(updated))


routes = [
    Route("/communities/{community_id:int}/services", list_services, methods=["GET"]),
    Route("/communities/{community_id:int}/services/{code}", update_service, methods=["PATCH"]),
]
