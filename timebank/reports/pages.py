"""The coordinator's dashboard: the overdue-visit safety net first, then today's work."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank import inputs
from timebank.calendar import tz_of
from timebank.errors import BadRequest, Invalid
from timebank.i18n import gettext_for, request_lang
from timebank.labels import SERVICE_NAMES
from timebank.people import policy
from timebank.people.models import Community
from timebank.people.web import me, require_member, signin_redirect
from timebank.reports import charts, dashboard, export, monthly
from timebank.reports.overdue import overdue
from timebank.settlement.service import next_month, previous_month
from timebank.templating import render

OVERDUE_SHOWN = 50


async def dashboard_page(request: Request) -> Response:
    """Who is overdue for a visit, and what needs doing today."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    policy.require_coordinator(who)
    communities = policy.coordinated_communities(who)
    tz = tz_of(request)
    today = datetime.now(tz).date()
    lang = request_lang(request)
    names = {code: gettext_for(lang, name) for code, name in SERVICE_NAMES.items()}
    by_month = await charts.buckets(communities, charts.months(today, 6), tz=tz)
    by_week = await charts.buckets(communities, charts.weeks(today, 12), tz=tz)
    late = await overdue(communities, tz=tz)
    return render(
        request,
        "reports/dashboard.html",
        {
            "overdue": late,
            # A district's list can run to hundreds: the most overdue first, all on request.
            "shown": len(late) if request.query_params.get("overdue") == "all" else OVERDUE_SHOWN,
            "today": await dashboard.today(communities, tz=tz),
            "hours_chart": charts.stacked_hours(
                by_month, names, gettext_for(lang, "Hours of service per month, by service")
            ),
            "visits_chart": charts.bars(by_week, gettext_for(lang, "Visits per week")),
            "rating_chart": charts.trend(by_month, gettext_for(lang, "Average rating per month")),
        },
    )


async def overdue_api(request: Request) -> Response:
    """
    ---
    summary: Residents whose required visit is missed, most overdue first (safety net)
    tags: [reports]
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [json, csv]}}
    responses:
      "200":
        description: "overdue residents with their helper and phones (JSON or CSV)"
        content:
          application/json: {schema: {$ref: "#/components/schemas/OverdueList"}}
          text/csv: {schema: {type: string}}
      "400": {$ref: "#/components/responses/BadRequest"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    policy.require_coordinator(who)
    kind = request.query_params.get("format", "json")
    if kind not in ("json", "csv"):
        raise BadRequest("format must be json or csv.", "格式只能是 json 或 csv。",
                         code="invalid_parameter")  # fmt: skip
    found = await overdue(policy.coordinated_communities(who), tz=tz_of(request))
    if kind == "csv":
        day = datetime.now(tz_of(request)).date().isoformat()
        return Response(
            export.overdue_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="timebank-overdue-{day}.csv"'},
        )
    return JSONResponse({"overdue": [o.as_json() for o in found]})


async def today_api(request: Request) -> Response:
    """
    ---
    summary: Today's counts for the dashboard (visits under way, due, late, to review …)
    tags: [reports]
    responses:
      "200":
        description: "counts"
        content: {application/json: {schema: {$ref: "#/components/schemas/Today"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    policy.require_coordinator(who)
    found = await dashboard.today(policy.coordinated_communities(who), tz=tz_of(request))
    return JSONResponse(found.__dict__)


async def _period(request: Request) -> tuple[date, date]:
    """The local days [start, end) asked for: ?month=2026-10, or ?from=…&to=… (inclusive)."""
    query = request.query_params
    if query.get("from") or query.get("to"):
        start = inputs.parse_day(query.get("from", ""), "from")
        end = inputs.parse_day(query.get("to", ""), "to") + timedelta(days=1)
    else:
        start = inputs.parse_month(query.get("month") or _last_month(request), "month")
        end = next_month(start)
    if end <= start or (end - start).days > 366:
        raise Invalid(
            "The period must run forward, a year at most.", "统计期须从前往后，最长一年。",
            code="bad_period",
        )  # fmt: skip
    return start, end


def _last_month(request: Request) -> str:
    return previous_month(datetime.now(tz_of(request)).date()).strftime("%Y-%m")


async def _communities(request: Request, who: Any) -> list[Community]:
    found = await policy.communities_of(who)
    raw = request.query_params.get("community", "")
    if raw:
        wanted = inputs.id_or_none(raw)
        policy.require(wanted is not None and policy.coordinates(who, wanted))
        found = [c for c in found if c.id == wanted]
    return found


async def report_page(request: Request) -> Response:
    """A period's figures, printable, with downloads."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    policy.require_coordinator(who)
    start, end = await _period(request)
    found = await monthly.report(await _communities(request, who), start, end, tz=tz_of(request))
    return render(
        request,
        "reports/report.html",
        {"report": found, "month": start.strftime("%Y-%m"),
         "last_day": end - timedelta(days=1), "services": export.services_of(found)},
    )  # fmt: skip


async def report_api(request: Request) -> Response:
    """
    ---
    summary: Figures for funders for a month or period - per community, rolled up
    tags: [reports]
    parameters:
      - {name: month, in: query, schema: {type: string, example: "2026-10"}}
      - {name: from, in: query, schema: {type: string, format: date}}
      - {name: to, in: query, schema: {type: string, format: date}, description: "inclusive"}
      - {name: community, in: query, schema: {type: integer}}
      - {name: format, in: query, schema: {type: string, enum: [json, csv, xlsx]}}
    responses:
      "200":
        description: "JSON, or the CSV / XLSX file"
        content:
          application/json: {schema: {$ref: "#/components/schemas/MonthlyReport"}}
          text/csv: {schema: {type: string}}
          application/vnd.openxmlformats-officedocument.spreadsheetml.sheet:
            schema: {type: string, format: binary}
      "400": {$ref: "#/components/responses/BadRequest"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = require_member(request)
    policy.require_coordinator(who)
    start, end = await _period(request)
    found = await monthly.report(await _communities(request, who), start, end, tz=tz_of(request))
    kind = request.query_params.get("format", "json")
    name = f"timebank-report-{start.isoformat()}-{(end - timedelta(days=1)).isoformat()}"
    if kind == "csv":
        return Response(
            export.as_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if kind == "xlsx":
        return Response(
            export.as_xlsx(found),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    if kind != "json":
        raise BadRequest("format must be json, csv or xlsx.", "格式只能是 json、csv 或 xlsx。",
                         code="invalid_parameter")  # fmt: skip
    return JSONResponse(
        {"from": start.isoformat(), "to": (end - timedelta(days=1)).isoformat(),
         "communities": [f.as_json() for f in found.communities],
         "rollups": [f.as_json() for f in found.rollups]}
    )  # fmt: skip


page_routes = [
    Route("/dashboard", dashboard_page, name="dashboard"),
    Route("/reports", report_page, name="reports"),
]
api_routes = [
    Route("/reports/monthly", report_api, methods=["GET"]),
    Route("/reports/overdue", overdue_api, methods=["GET"]),
    Route("/reports/today", today_api, methods=["GET"]),
]
