"""JSON API and downloads: a community's monthly settlement, closing it, exporting it."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank import calendar
from timebank.catalog.service import service_names
from timebank.errors import BadRequest
from timebank.http import post
from timebank.i18n import request_lang
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.models import Community
from timebank.people.service import get_community
from timebank.people.web import actor_of, changing, require_member
from timebank.settlement import service

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _scope(request: Request, *, change: bool) -> tuple[SignedIn, Community, date]:
    """Who asks, about which community (one they coordinate) and which month."""
    who = changing(request) if change else require_member(request)
    community = await get_community(int(request.path_params["community_id"]))
    policy.require(policy.coordinates(who, community.id))
    return who, community, calendar.parse_month(request.path_params["month"])


async def get_settlement(request: Request) -> Response:
    """
    ---
    summary: A month's settlement of paid helpers (closed, or what closing would pay)
    parameters:
      - {name: month, in: path, required: true, schema: {type: string, example: "2026-10"}}
    responses: {"200": "Settlement: totals per helper and every visit"}
    errors: [403, 422]
    """
    _, community, month = await _scope(request, change=False)
    found = await service.compute(community, month, calendar.tz_of(request))
    return JSONResponse(service.as_json(found))


async def close_settlement(request: Request) -> Response:
    """
    ---
    summary: Close a month that is over (its lines are written once, for good)
    parameters:
      - {name: month, in: path, required: true, schema: {type: string}}
    responses: {"200": "Settlement: The closed settlement"}
    errors: [409, 422]
    """
    who, community, month = await _scope(request, change=True)
    found = await service.close(actor_of(request, who), community, month, calendar.tz_of(request))
    return JSONResponse(service.as_json(found))


async def export_settlement(request: Request) -> Response:
    """
    ---
    summary: Download a month's settlement for the finance office (CSV or XLSX)
    parameters:
      - {name: month, in: path, required: true, schema: {type: string}}
      - {name: format, in: query, schema: {type: string, enum: [csv, xlsx]}}
    responses:
      "200":
        description: "The file"
        content: {text/csv: {schema: {type: string}},
                  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet:
                    {schema: {type: string, format: binary}}}
    errors: [403, 422]
    """
    _, community, month = await _scope(request, change=False)
    kind = request.query_params.get("format", "xlsx")
    if kind not in ("csv", "xlsx"):
        raise BadRequest("format must be csv or xlsx.", "格式只能是 csv 或 xlsx。",
                         code="invalid_parameter")  # fmt: skip
    found = await service.compute(community, month, calendar.tz_of(request))
    names = await service_names(community, request_lang(request))
    filename = f"settlement-{community.id}-{found.label}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if kind == "csv":
        return Response(service.as_csv(found, names), media_type="text/csv; charset=utf-8",
                        headers=headers)  # fmt: skip
    return Response(service.as_xlsx(found, names), media_type=XLSX, headers=headers)


routes = [
    Route("/communities/{community_id:int}/settlements/{month}", get_settlement, methods=["GET"]),
    post("/communities/{community_id:int}/settlements/{month}/close", close_settlement),
    Route(
        "/communities/{community_id:int}/settlements/{month}/export",
        export_settlement,
        methods=["GET"],
    ),
]
