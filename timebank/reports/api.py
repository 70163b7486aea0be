"""JSON API and downloads: the overdue-visit safety net, today's counts, figures for funders."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank import calendar
from timebank.catalog.service import names_across
from timebank.errors import BadRequest
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.web import require_member
from timebank.reports import dashboard, export, monthly
from timebank.reports.overdue import overdue
from timebank.reports.service import communities_asked, period

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _coordinator(request: Request) -> SignedIn:
    who = require_member(request)
    policy.require_coordinator(who)
    return who


def _download(data: bytes, media_type: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(data, media_type=media_type, headers=headers)


async def overdue_api(request: Request) -> Response:
    """
    ---
    summary: Residents whose required visit is missed, most overdue first (safety net)
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [json, csv]}}
    responses:
      "200":
        description: "overdue residents with their helper and phones (JSON or CSV)"
        content: {application/json: {schema: {$ref: "#/components/schemas/OverdueList"}},
                  text/csv: {schema: {type: string}}}
    errors: [403]
    """
    who = _coordinator(request)
    kind = request.query_params.get("format", "json")
    if kind not in ("json", "csv"):
        raise BadRequest("format must be json or csv.", "格式只能是 json 或 csv。",
                         code="invalid_parameter")  # fmt: skip
    tz = calendar.tz_of(request)
    found = await overdue(policy.coordinated_communities(who), tz=tz)
    if kind == "csv":
        day = calendar.local_today(tz).isoformat()
        return _download(export.overdue_csv(found), CSV, f"timebank-overdue-{day}.csv")
    return JSONResponse({"overdue": [o.as_json() for o in found]})


async def today_api(request: Request) -> Response:
    """
    ---
    summary: Today's counts for the dashboard (visits under way, due, late, to review …)
    responses: {"200": "Today: counts"}
    errors: [403]
    """
    who = _coordinator(request)
    found = await dashboard.today(policy.coordinated_communities(who), tz=calendar.tz_of(request))
    return JSONResponse(found.__dict__)


async def report_api(request: Request) -> Response:
    """
    ---
    summary: Figures for funders for a month or period - per community, rolled up
    parameters:
      - {name: month, in: query, schema: {type: string, example: "2026-10"}}
      - {name: from, in: query, schema: {type: string, format: date}}
      - {name: to, in: query, schema: {type: string, format: date}, description: "inclusive"}
      - {name: community, in: query, schema: {type: integer}}
      - {name: format, in: query, schema: {type: string, enum: [json, csv, xlsx]}}
    responses:
      "200":
        description: "JSON, or the CSV / XLSX file"
        content: {application/json: {schema: {$ref: "#/components/schemas/MonthlyReport"}},
                  text/csv: {schema: {type: string}},
                  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet:
                    {schema: {type: string, format: binary}}}
    errors: [403, 422]
    """
    who = _coordinator(request)
    tz = calendar.tz_of(request)
    start, end = period(request.query_params, tz)
    communities = await communities_asked(who, request.query_params.get("community", ""))
    found = await monthly.report(communities, start, end, tz=tz)
    kind = request.query_params.get("format", "json")
    last = end - timedelta(days=1)
    name = f"timebank-report-{start.isoformat()}-{last.isoformat()}"
    if kind in ("csv", "xlsx"):
        names = await names_across({c.id for c in communities}, "zh-CN")
        if kind == "csv":
            return _download(export.as_csv(found, names), CSV, f"{name}.csv")
        return _download(export.as_xlsx(found, names), XLSX, f"{name}.xlsx")
    if kind != "json":
        raise BadRequest("format must be json, csv or xlsx.", "格式只能是 json、csv 或 xlsx。",
                         code="invalid_parameter")  # fmt: skip
    return JSONResponse(
        {"from": start.isoformat(), "to": last.isoformat(),
         "communities": [f.as_json() for f in found.communities],
         "rollups": [f.as_json() for f in found.rollups]}
    )  # fmt: skip


routes = [
    Route("/reports/monthly", report_api, methods=["GET"]),
    Route("/reports/overdue", overdue_api, methods=["GET"]),
    Route("/reports/today", today_api, methods=["GET"]),
]
