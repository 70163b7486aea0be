"""Visit pages: the check-in page a placard opens (light, works offline), the visit page,
the review queue and my visits, and the printable placards.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from timebank import confirm, flash, notices
from timebank.calendar import tz_of
from timebank.catalog.service import catalog
from timebank.errors import TimebankError
from timebank.http import post
from timebank.i18n import request_lang
from timebank.labels import _
from timebank.ledger import service as ledger
from timebank.ledger.hours import format_minutes
from timebank.people import policy
from timebank.people.audit import Actor
from timebank.people.auth import SignedIn
from timebank.people.models import Community, Member, MemberRole, Role
from timebank.people.web import (
    actor_of,
    asked_community,
    me,
    posted_form,
    signed_in,
    signin_redirect,
)
from timebank.qr import qr_png
from timebank.templating import render, web_dir
from timebank.visits import conduct, placards, service
from timebank.visits.conduct import placard_card, placard_resident, visible_visit
from timebank.visits.models import Visit, VisitStatus


async def office(community_id: int) -> list[Member]:
    """The coordinators of a community: whom to call."""
    ids = await MemberRole.filter(role=Role.COORDINATOR, member__community_id=community_id)
    return list(
        await Member.filter(id__in=[r.member_id for r in ids], is_active=True).order_by("name")
    )


async def service_names(community_id: int, lang: str) -> dict[str, str]:
    """Service code → its name in ``lang`` for a community."""
    community = await Community.get(id=community_id)
    return {s.code: (s.name_en if lang == "en" else s.name_zh) for s in await catalog(community)}


async def _refused(request: Request, error: TimebankError, helper: Member | None) -> Response:
    lang = request_lang(request)
    callers = await office(helper.community_id) if helper else []
    return render(
        request,
        "visits/refused.html",
        {"message": error.message(lang), "code": error.code, "office": callers},
        status=error.status,
    )


async def checkin_page(request: Request) -> Response:
    """What a scanned placard opens: one big Start or Finish button (changes nothing).

    Not ``@signed_in``: a placard that is no longer valid is refused (and logged) before
    anyone is asked to sign in.
    """
    token = request.path_params["token"]
    settings = request.app.state.settings
    who = me(request)
    try:
        placards.read_token(settings.secret_key, token)
    except TimebankError as error:
        ip = request.client.host if request.client else ""
        actor = actor_of(request, who) if who is not None else Actor(None, ip)
        await service.audit_refusal(actor, token, error)
        return await _refused(request, error, None)
    if who is None:
        return signin_redirect(request)
    helper = await Member.get(id=who.member.id)
    try:
        found = await conduct.scan_as(settings, actor_of(request, who), token, who.member.id)
    except TimebankError as error:
        return await _refused(request, error, helper)
    return await _checkin(request, token, found, helper)


async def _checkin(
    request: Request,
    token: str,
    found: service.Scan,
    helper: Member,
    error: str = "",
    status: int = 200,
) -> Response:
    lang = request_lang(request)
    names = await service_names(found.community.id, lang)
    visit = found.open_visit
    elsewhere = None
    if found.elsewhere is not None:
        elsewhere = await Member.get(id=found.elsewhere.resident_id)
    code = found.order.service_code if found.order else (visit.service_code if visit else "")
    return render(
        request,
        "visits/checkin.html",
        {
            "token": token,
            "found": found,
            "action": found.action,
            "event_id": uuid.uuid4().hex,
            "service_name": names.get(code, code),
            "choices": [(s.code, names.get(s.code, s.code)) for s in found.services],
            "locate": helper.consent_at is not None,
            "timezone": request.app.state.settings.timezone,
            "pin_set": bool(found.placard.pin_hash),
            "error": error,
            "elsewhere": elsewhere,
        },
        status=status,
    )


@signed_in
async def checkin_submit(request: Request, who: SignedIn) -> Response:
    """The Start / Finish button without JavaScript (the page's script posts to the API)."""
    token = request.path_params["token"]
    form = await posted_form(request, who)
    helper = await Member.get(id=who.member.id)
    try:
        policy.require_helper(who)
    except TimebankError as error:
        return await _refused(request, error, helper)
    body = {k: form.get(k) for k in ("event_id", "client_time", "lat", "lon", "service", "pin")}
    settings, actor = request.app.state.settings, actor_of(request, who)
    try:
        async with conduct.refusals_audited(actor, token):
            if form.get("action") == "finish":
                tz = tz_of(request)
                visit = await conduct.check_out(settings, actor, token, helper, body, tz=tz)
            else:
                visit, _ = await conduct.check_in(settings, actor, token, helper, body)
    except TimebankError as error:
        if error.status == 403:
            return await _refused(request, error, helper)
        found = await conduct.scan_as(settings, actor, token, who.member.id)
        return await _checkin(
            request, token, found, helper, error.message(request_lang(request)), error.status
        )
    return RedirectResponse(f"/visits/{visit.id}", status_code=303)


# What a review did, said on the page it comes back to (?done=approve&visit=ID).
REVIEWED = {
    "approve": _("Approved: %(what)s. %(hours)s go to %(helper)s."),
    "adjust": _("Approved with the minutes you set: %(what)s. %(hours)s go to %(helper)s."),
    "reject": _("Rejected: %(what)s. No hours are credited."),
}


async def review_message(request: Request, who: SignedIn) -> str:
    """What the review this page was sent back from did, if the reader may see the visit."""
    found = notices.asked(request, REVIEWED, "visit")
    visit = await Visit.get_or_none(id=found[1]) if found else None
    if found is None or visit is None or not await policy.can_see_visit(who, visit):
        return ""
    people = await service.names([visit])
    what = " · ".join(
        (
            notices.service_name(request, visit.service_code),
            people.get(visit.resident_id, ""),
            notices.when(request, visit.checked_in_at, tz_of(request)),
        )
    )
    return notices.say(
        request,
        REVIEWED[found[0]],
        what=what,
        hours=format_minutes(visit.credit_minutes or 0, request_lang(request)),
        helper=people.get(visit.helper_id, ""),
    )


@signed_in
async def visit_page(request: Request, who: SignedIn) -> Response:
    """One visit: times, minutes, hours credited, flags; rating and review forms."""
    visit = await visible_visit(who, request.path_params["visit_id"])
    people = await service.names([visit])
    lang = request_lang(request)
    names = await service_names(visit.community_id, lang)
    balance = None
    if who.member.id == visit.helper_id:
        balance = await ledger.balance((await ledger.wallet(who.member.id)).id)
    return flash.render_page(
        request,
        "visits/visit.html",
        {
            "v": service.visit_json(visit, people),
            "visit": visit,
            "service_name": names.get(visit.service_code, visit.service_code),
            "balance": balance,
            "can_rate": visit.rating is None
            and visit.status not in (VisitStatus.OPEN, VisitStatus.REJECTED)
            and await policy.may_rate_visit(who, visit),
            "can_review": visit.status is VisitStatus.FLAGGED
            and policy.can_review_visit(who, visit),
            "done": await review_message(request, who),
        },
    )


@signed_in
async def visit_review_submit(request: Request, who: SignedIn) -> Response:
    """Approve, adjust or reject a flagged visit from its page or the queue."""
    form = await posted_form(request, who)
    visit = await visible_visit(who, request.path_params["visit_id"])
    body = {k: form.get(k) for k in ("action", "minutes", "reason", "community_pays")}
    try:
        await conduct.review_as(actor_of(request, who), who, visit, body)
    except TimebankError as error:
        if error.status == 403:
            raise
        kept = {k: form.get(k) for k in ("minutes", "reason", "community_pays")}
        return await _visit_again(request, visit, error, at="review", kept=kept)
    back = "/visits?status=flagged" if form.get("back") == "queue" else f"/visits/{visit.id}"
    done = notices.back_to(back, str(body.get("action")), visit=visit.id)
    return RedirectResponse(done, status_code=303)


async def _visit_again(
    request: Request, visit: Visit, error: TimebankError, **form: Any
) -> Response:
    """Back to the visit's page, the message next to the form sent (``at``, ``kept``)."""
    return flash.redirect(request, f"/visits/{visit.id}", error, **form)


@signed_in
async def visit_rating_submit(request: Request, who: SignedIn) -> Response:
    """The resident or family rates a visit (and so confirms it)."""
    form = await posted_form(request, who)
    visit = await visible_visit(who, request.path_params["visit_id"])
    try:
        policy.require(await policy.may_rate_visit(who, visit))
        body = {k: form.get(k) for k in ("rating", "comment")}
        await conduct.rate(actor_of(request, who), visit, body)
    except TimebankError as error:
        if error.status == 403:
            raise
        return await _visit_again(request, visit, error, at="rating", kept=body)
    return RedirectResponse(f"/visits/{visit.id}", status_code=303)


@signed_in
async def visits_page(request: Request, who: SignedIn) -> Response:
    """Coordinators: visits waiting for review and visits under way. Others: my visits.
    ``?for=ID``: the visits a family member who lets me act for them received."""
    elder = await policy.elder_asked(who, request.query_params.get("for"))
    if elder is not None:
        return await _visits_of(request, elder)
    coordinator = policy.coordinates_any(who)
    communities = policy.coordinated_communities(who) if coordinator else set()
    mine = service.visible_visits(Visit.all(), member_id=who.member.id, communities=set())
    context: dict[str, Any] = {"coordinator": coordinator, "elder": None}
    lists: dict[str, list[Visit]] = {}
    if coordinator:
        scope = service.visible_visits(Visit.all(), member_id=0, communities=communities)
        lists["flagged"] = list(
            await scope.filter(status=VisitStatus.FLAGGED).order_by("checked_in_at").limit(200)
        )
        lists["open"] = list(
            await scope.filter(status=VisitStatus.OPEN).order_by("checked_in_at").limit(200)
        )
    lists["mine"] = list(await mine.order_by("-checked_in_at").limit(100))
    everyone = [v for found in lists.values() for v in found]
    people = await service.names(everyone)
    lang = request_lang(request)
    names: dict[str, str] = {}
    for community_id in {v.community_id for v in everyone}:
        names |= await service_names(community_id, lang)
    for key, found in lists.items():
        context[key] = [service.visit_json(v, people) for v in found]
    context["service_names_here"] = names
    context["me_id"] = who.member.id
    context["own_visits"] = policy.gives_or_gets_services(who)
    context["done"] = await review_message(request, who)
    return render(request, "visits/list.html", context)


async def _visits_of(request: Request, elder: Member) -> Response:
    """The visits ``elder`` received, newest first, for family acting for them."""
    found = list(await Visit.filter(resident_id=elder.id).order_by("-checked_in_at").limit(100))
    people = await service.names(found)
    names = await service_names(elder.community_id, request_lang(request))
    return render(
        request,
        "visits/list.html",
        {
            "coordinator": False,
            "elder": elder,
            "done": None,
            "mine": [service.visit_json(v, people) for v in found],
            "service_names_here": names,
        },
    )


# Placards --------------------------------------------------------------------------------


@signed_in
async def placard_page(request: Request, who: SignedIn) -> Response:
    """A resident's printable placard (A6), with reissue and PIN forms for the office."""
    resident = await placard_resident(who, request.path_params["member_id"])
    community = await Community.get(id=resident.community_id)
    return flash.render_page(
        request,
        "visits/placard.html",
        {
            "resident": resident,
            "community": community,
            "card": await placard_card(request.app.state.settings, resident),
            "done": request.query_params.get("done", ""),
        },
    )


@signed_in
async def placard_png(request: Request, who: SignedIn) -> Response:
    """The placard's QR code as a PNG."""
    resident = await placard_resident(who, request.path_params["member_id"])
    card = await placard_card(request.app.state.settings, resident)
    return Response(
        qr_png(card["url"]),
        media_type="image/png",
        headers={"Cache-Control": "private, no-store"},
    )


@signed_in
async def placard_reissue_submit(request: Request, who: SignedIn) -> Response:
    """Reissue: the old placard stops working at once."""
    form = await posted_form(request, who)
    resident = await placard_resident(who, request.path_params["member_id"])
    if not confirm.confirmed(form):
        return confirm.ask(
            request,
            form,
            question=_(
                "Issue a new placard for %(name)s? The placard on their door stops working at "
                "once: helpers cannot check in there until the new one is printed and put up."
            ),
            button=_("Yes, issue a new placard"),
            back=f"/people/{resident.id}/placard",
            name=resident.name,
        )
    await placards.reissue(actor_of(request, who), resident)
    return RedirectResponse(f"/people/{resident.id}/placard?done=reissued", status_code=303)


@signed_in
async def placard_pin_submit(request: Request, who: SignedIn) -> Response:
    """Set or clear the resident's confirmation PIN."""
    form = await posted_form(request, who)
    resident = await placard_resident(who, request.path_params["member_id"])
    policy.require(await policy.can_set_pin(who, resident))
    try:
        await placards.set_pin(actor_of(request, who), resident, str(form.get("pin", "")))
    except TimebankError as error:
        return flash.redirect(request, f"/people/{resident.id}/placard", error)
    return RedirectResponse(f"/people/{resident.id}/placard?done=pin", status_code=303)


@signed_in
async def placard_sheet(request: Request, who: SignedIn) -> Response:
    """Every resident's placard of a community, to print on A4 (four to a page)."""
    policy.require_coordinator(who)
    asked = await asked_community(request, who)
    community = asked.community
    ids = await MemberRole.filter(role=Role.RESIDENT, member__community_id=community.id)
    residents = await Member.filter(
        id__in=[r.member_id for r in ids],
        is_active=True,
    ).order_by("member_no")
    return render(
        request,
        "visits/sheet.html",
        {"community": community, "residents": residents, "choices": asked.choices},
    )


async def service_worker(request: Request) -> Response:
    """The check-in pages' service worker (scope /v/): they open again without signal."""
    path = Path(web_dir()) / "static" / "js" / "checkin-sw.js"
    return FileResponse(
        path,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/v/"},
    )


routes = [
    Route("/v/sw.js", service_worker, name="checkin_sw"),
    Route("/v/{token}", checkin_page, name="checkin"),
    post("/v/{token}", checkin_submit, name="checkin_submit"),
    Route("/visits", visits_page, name="visits"),
    Route("/visits/{visit_id:int}", visit_page, name="visit"),
    post("/visits/{visit_id:int}/review", visit_review_submit, name="visit_review"),
    post("/visits/{visit_id:int}/rating", visit_rating_submit, name="visit_rating"),
    Route("/people/{member_id:int}/placard", placard_page, name="placard"),
    Route("/people/{member_id:int}/placard.png", placard_png, name="placard_png"),
    post("/people/{member_id:int}/placard", placard_reissue_submit, name="placard_reissue"),
    post("/people/{member_id:int}/placard/pin", placard_pin_submit, name="placard_pin"),
    Route("/placards", placard_sheet, name="placard_sheet"),
]
