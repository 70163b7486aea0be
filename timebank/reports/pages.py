"""The coordinator's dashboard (the overdue-visit safety net first, then today's work) and
the printable figures for funders."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from timebank import calendar
from timebank.catalog.service import names_across
from timebank.i18n import gettext_for, request_lang
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.web import signed_in
from timebank.reports import charts, dashboard, monthly
from timebank.reports.overdue import overdue
from timebank.reports.service import communities_asked, period
from timebank.templating import render

OVERDUE_SHOWN = 50


@signed_in
async def dashboard_page(request: Request, who: SignedIn) -> Response:
    """Who is overdue for a visit, and what needs doing today."""
    policy.require_coordinator(who)
    communities = policy.coordinated_communities(who)
    tz = calendar.tz_of(request)
    today = calendar.local_today(tz)
    lang = request_lang(request)
    names = await names_across(communities, lang)
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


@signed_in
async def report_page(request: Request, who: SignedIn) -> Response:
    """A period's figures, printable, with downloads."""
    policy.require_coordinator(who)
    tz = calendar.tz_of(request)
    start, end = period(request.query_params, tz)
    communities = await communities_asked(who, request.query_params.get("community", ""))
    found = await monthly.report(communities, start, end, tz=tz)
    return render(
        request,
        "reports/report.html",
        {"report": found, "month": calendar.month_label(start),
         "last_day": end - timedelta(days=1)},
    )  # fmt: skip


page_routes = [
    Route("/dashboard", dashboard_page, name="dashboard"),
    Route("/reports", report_page, name="reports"),
]
