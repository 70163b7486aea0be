"""The settlement page: a month's pay per helper, every visit, close, download."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank import calendar, confirm, flash
from timebank.errors import TimebankError
from timebank.http import post
from timebank.i18n import request_lang
from timebank.labels import _
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.service import get_community
from timebank.people.web import actor_of, asked_community, posted_form, signed_in
from timebank.settlement import service
from timebank.templating import render

BAD_MONTH = {"en": "Choose a month, like 2026-10.", "zh-CN": "请选择月份，例如 2026-10。"}


@signed_in
async def settlement_page(request: Request, who: SignedIn) -> Response:
    """A community's month (last month by default)."""
    policy.require_coordinator(who)
    asked = await asked_community(request, who)
    community = asked.community
    tz = calendar.tz_of(request)
    label = request.query_params.get("month") or calendar.month_label(calendar.last_month(tz))
    try:
        month = calendar.parse_month(label)
    except TimebankError as error:
        # Not the refusal's own words, which quote what was typed: no text from the URL is
        # shown on an official page.
        message = BAD_MONTH.get(request_lang(request), BAD_MONTH["zh-CN"])
        context = {"community": community, "found": None, "month": "", "choices": asked.choices}
        return render(request, "settlement/month.html", context | {"error": message},
                      status=error.status)  # fmt: skip
    found = await service.compute(community, month, tz)
    return flash.render_page(
        request,
        "settlement/month.html",
        {"community": community, "found": found, "month": found.label, "choices": asked.choices},
    )


@signed_in
async def close_submit(request: Request, who: SignedIn) -> Response:
    """Close the month from the page."""
    form = await posted_form(request, who)
    community = await get_community(int(request.path_params["community_id"]))
    policy.require(policy.coordinates(who, community.id))
    label = request.path_params["month"]
    back = f"/settlements?community={community.id}&month={quote(label)}"
    try:
        month = calendar.parse_month(label)
        tz = calendar.tz_of(request)
        found = await service.compute(community, month, tz)
        # A month not over or closed already is refused at once, not asked about first.
        closable = found.closed is None and calendar.local_today(tz) >= calendar.next_month(month)
        if closable and not confirm.confirmed(form):
            return confirm.ask(
                request,
                form,
                question=_(
                    "Close %(month)s for %(community)s? The pay of %(count)s helpers, "
                    "¥%(amount)s in all, is fixed as shown now and cannot be changed; a later "
                    "correction is paid with next month."
                ),
                button=_("Yes, close the month"),
                back=back,
                month=f"{month:%Y-%m}",
                community=community.name,
                count=str(len(found.helpers)),
                amount=f"{found.amount_fen / 100:.2f}",
            )
        await service.close(actor_of(request, who), community, month, tz)
    except TimebankError as error:
        if error.status == 403:
            raise
        return flash.redirect(request, back, error)
    return RedirectResponse(back, status_code=303)


routes = [
    Route("/settlements", settlement_page, name="settlements"),
    post(
        "/communities/{community_id:int}/settlements/{month}/close",
        close_submit,
        name="settlement_close",
    ),
]
