"""The coordinator's dashboard: the overdue-visit safety net first, then today's work."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.pairing.api import tz_of
from timebank.people import policy
from timebank.people.web import me, require_member, signin_redirect
from timebank.reports import dashboard
from timebank.reports.overdue import overdue
from timebank.templating import render


async def dashboard_page(request: Request) -> Response:
    """Who is overdue for a visit, and what needs doing today."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    policy.require_coordinator(who)
    communities = policy.coordinated_communities(who)
    tz = tz_of(request)
    return render(
        request,
        "reports/dashboard.html",
        {
            "overdue": await overdue(communities, tz=tz),
            "today": await dashboard.today(communities, tz=tz),
        },
    )


async def overdue_api(request: Request) -> Response:
    """
    ---
    summary: Residents whose required visit is missed, most overdue first (safety net)
    tags: [reports]
    responses:
      "200": {description: "overdue residents with their helper and phones"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    policy.require_coordinator(who)
    found = await overdue(policy.coordinated_communities(who), tz=tz_of(request))
    return JSONResponse({"overdue": [o.as_json() for o in found]})


async def today_api(request: Request) -> Response:
    """
    ---
    summary: Today's counts for the dashboard (visits under way, due, late, to review …)
    tags: [reports]
    responses:
      "200": {description: "counts"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    policy.require_coordinator(who)
    found = await dashboard.today(policy.coordinated_communities(who), tz=tz_of(request))
    return JSONResponse(found.__dict__)


page_routes = [Route("/dashboard", dashboard_page, name="dashboard")]
api_routes = [
    Route("/reports/overdue", overdue_api, methods=["GET"]),
    Route("/reports/today", today_api, methods=["GET"]),
]
