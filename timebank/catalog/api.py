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
    responses: {"200": "ServiceList: service types"}
    errors: [403]
    """
    who = require_member(request)
    community = await get_community(int(request.path_params["community_id"]))
    policy.require(policy.can_see_catalogs(who, community.id))
    return JSONResponse(
        {"services": [service.service_json(s) for s in await service.catalog(community)]}
    )


async def update_service(request: Request) -> Response:
    """
    ---
    summary: Change a service type (coordinators)
    parameters:
      - {name: code, in: path, required: true, schema: {type: string}}
    requestBody: ServiceChange
    responses: {"200": "Service: The service type"}
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
