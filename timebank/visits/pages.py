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

from timebank import flash
from timebank.calendar import tz_of
from timebank.catalog.service import catalog
from timebank.errors import TimebankError
from timebank.i18n import request_lang
from timebank.ledger import service as ledger
from timebank.ledger.hours import format_minutes
from timebank.people import policy
from timebank.people.audit import Actor
from timebank.people.models import Community, Member, MemberRole, Role
from timebank.people.web import actor_of, asked_community, me, posted_form, signin_redirect
from timebank.qr import qr_png
from timebank.templating import render, web_dir
from timebank.visits import placards, service
from timebank.visits.api import (
    may_rate,
    placard_json,
    placard_resident,
    rate_as,
    require_helper,
    review_as,
    scan_as,
    secret_of,
    visible_visit,
)
from timebank.visits.models import Visit, VisitStatus


async def office(community_id: int) -> list[Member]:
    """The coordinators of a community: whom to call."""
    ids = await MemberRole.filter(role=Role.COORDINATOR, member__community_id=community_id)
    return list(
        await Member.filter(id__in=[r.member_id for r in ids], is_active=True).order_by("name")  # type: ignore[attr-defined]
    )


async def service_names(community_id: int, lang: str) -> dict[str, str]:
    """Service code → its name in ``lang`` for a community."""
    community = await Community.get(id=community_id)
    return {s.code: (s.name_en if lang == "en" else s.name_zh) for s in await catalog(community)}


async def _refused(request: Request, error: TimebankError, helper: Member | None) -> Response:
    lang = request_lang(request)
    callers = await office(helper.community_id) if helper else []  # type: ignore[attr-defined]
    return render(
        request,
        "visits/refused.html",
        {"message": error.message(lang), "code": error.code, "office": callers},
        status=error.status,
    )


async def checkin_page(request: Request) -> Response:
    """What a scanned placard opens: one big Start or Finish button (changes nothing)."""
    token = request.path_params["token"]
    who = me(request)
    try:
        placards.read_token(secret_of(request), token)
    except TimebankError as error:
        ip = request.client.host if request.client else ""
        actor = actor_of(request, who) if who is not None else Actor(None, ip)
        await service.audit_refusal(actor, token, error)
        return await _refused(request, error, None)
    if who is None:
        return signin_redirect(request)
    helper = await Member.get(id=who.member.id)
    try:
        found = await scan_as(request, who, token)
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
        elsewhere = await Member.get(id=found.elsewhere.resident_id)  # type: ignore[attr-defined]
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


async def checkin_submit(request: Request) -> Response:
    """The Start / Finish button without JavaScript (the page's script posts to the API)."""
    token = request.path_params["token"]
    who = me(request)
    if who is None:
        return signin_redirect(request)
    form = await posted_form(request, who)
    helper = await Member.get(id=who.member.id)
    try:
        require_helper(who)
    except TimebankError as error:
        return await _refused(request, error, helper)
    body = {k: form.get(k) for k in ("event_id", "client_time", "lat", "lon", "service", "pin")}
    try:
        where = service.parse_where(body)
        if form.get("action") == "finish":
            visit = await service.check_out(
                actor_of(request, who), secret_of(request), token, helper, where,
                tz=tz_of(request), pin=str(body.get("pin") or ""),
            )  # fmt: skip
        else:
            visit, _ = await service.check_in(
                actor_of(request, who), secret_of(request), token, helper, where,
                str(body.get("service") or ""), tz=tz_of(request),
            )  # fmt: skip
    except TimebankError as error:
        if error.status == 403:
            await service.audit_refusal(actor_of(request, who), token, error)
            return await _refused(request, error, helper)
        found = await scan_as(request, who, token)
        return await _checkin(
            request, token, found, helper, error.message(request_lang(request)), error.status
        )
    return RedirectResponse(f"/visits/{visit.id}", status_code=303)


async def visit_page(request: Request) -> Response:
    """One visit: times, minutes, hours credited, flags; rating and review forms."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    visit = await visible_visit(request, who)
    people = await service.names([visit])
    lang = request_lang(request)
    names = await service_names(visit.community_id, lang)  # type: ignore[attr-defined]
    balance = None
    if who.member.id == visit.helper_id:  # type: ignore[attr-defined]
        balance = await ledger.balance((await ledger.wallet(who.member.id)).id)
    return flash.render_page(
        request,
        "visits/visit.html",
        {
            "v": service.visit_json(visit, people),
            "visit": visit,
            "service_name": names.get(visit.service_code, visit.service_code),
            "hours": format_minutes,
            "balance": balance,
            "can_rate": visit.rating is None
            and visit.status not in (VisitStatus.OPEN, VisitStatus.REJECTED)
            and await may_rate(who, visit),
            "can_review": visit.status is VisitStatus.FLAGGED
            and policy.coordinates(who, visit.community_id),  # type: ignore[attr-defined]
        },
    )


async def visit_review_submit(request: Request) -> Response:
    """Approve, adjust or reject a flagged visit from its page or the queue."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    form = await posted_form(request, who)
    visit = await visible_visit(request, who)
    body = {k: form.get(k) for k in ("action", "minutes", "reason", "community_pays")}
    try:
        await review_as(request, who, visit, body)
    except TimebankError as error:
        if error.status == 403:
            raise
        return await _visit_again(request, visit, error)
    return RedirectResponse(
        "/visits?status=flagged" if form.get("back") == "queue" else f"/visits/{visit.id}",
        status_code=303,
    )


async def _visit_again(request: Request, visit: Visit, error: TimebankError) -> Response:
    return flash.redirect(request, f"/visits/{visit.id}", error)


async def visit_rating_submit(request: Request) -> Response:
    """The resident or family rates a visit (and so confirms it)."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    form = await posted_form(request, who)
    visit = await visible_visit(request, who)
    try:
        await rate_as(request, who, visit, {k: form.get(k) for k in ("rating", "comment")})
    except TimebankError as error:
        if error.status == 403:
            raise
        return await _visit_again(request, visit, error)
    return RedirectResponse(f"/visits/{visit.id}", status_code=303)


async def visits_page(request: Request) -> Response:
    """Coordinators: visits waiting for review and visits under way. Others: my visits."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    coordinator = policy.coordinates_any(who)
    communities = policy.coordinated_communities(who) if coordinator else set()
    mine = service.visible_visits(Visit.all(), member_id=who.member.id, communities=set())
    context: dict[str, Any] = {"coordinator": coordinator, "hours": format_minutes}
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
    for community_id in {v.community_id for v in everyone}:  # type: ignore[attr-defined]
        names |= await service_names(community_id, lang)
    for key, found in lists.items():
        context[key] = [service.visit_json(v, people) for v in found]
    context["service_names_here"] = names
    context["me_id"] = who.member.id
    return render(request, "visits/list.html", context)


# Placards --------------------------------------------------------------------------------


async def placard_page(request: Request) -> Response:
    """A resident's printable placard (A6), with reissue and PIN forms for the office."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    resident = await placard_resident(request, who)
    community = await Community.get(id=resident.community_id)  # type: ignore[attr-defined]
    return flash.render_page(
        request,
        "visits/placard.html",
        {
            "resident": resident,
            "community": community,
            "card": await placard_json(request, resident),
            "done": request.query_params.get("done", ""),
        },
    )


async def placard_png(request: Request) -> Response:
    """The placard's QR code as a PNG."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    resident = await placard_resident(request, who)
    card = await placard_json(request, resident)
    return Response(
        qr_png(card["url"]),
        media_type="image/png",
        headers={"Cache-Control": "private, no-store"},
    )


async def placard_reissue_submit(request: Request) -> Response:
    """Reissue: the old placard stops working at once."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    await posted_form(request, who)
    resident = await placard_resident(request, who)
    await placards.reissue(actor_of(request, who), resident)
    return RedirectResponse(f"/people/{resident.id}/placard?done=reissued", status_code=303)


async def placard_pin_submit(request: Request) -> Response:
    """Set or clear the resident's confirmation PIN."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    form = await posted_form(request, who)
    resident = await placard_resident(request, who)
    policy.require(await policy.can_set_pin(who, resident))
    try:
        await placards.set_pin(actor_of(request, who), resident, str(form.get("pin", "")))
    except TimebankError as error:
        return flash.redirect(request, f"/people/{resident.id}/placard", error)
    return RedirectResponse(f"/people/{resident.id}/placard?done=pin", status_code=303)


async def placard_sheet(request: Request) -> Response:
    """Every resident's placard of a community, to print on A4 (four to a page)."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    policy.require_coordinator(who)
    asked = await asked_community(request, who)
    community = asked.community
    ids = await MemberRole.filter(role=Role.RESIDENT, member__community_id=community.id)
    residents = await Member.filter(
        id__in=[r.member_id for r in ids],  # type: ignore[attr-defined]
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
    Route("/v/{token}", checkin_submit, methods=["POST"], name="checkin_submit"),
    Route("/visits", visits_page, name="visits"),
    Route("/visits/{visit_id:int}", visit_page, name="visit"),
    Route(
        "/visits/{visit_id:int}/review", visit_review_submit, methods=["POST"], name="visit_review"
    ),
    Route(
        "/visits/{visit_id:int}/rating", visit_rating_submit, methods=["POST"], name="visit_rating"
    ),
    Route("/people/{member_id:int}/placard", placard_page, name="placard"),
    Route("/people/{member_id:int}/placard.png", placard_png, name="placard_png"),
    Route(
        "/people/{member_id:int}/placard",
        placard_reissue_submit,
        methods=["POST"],
        name="placard_reissue",
    ),
    Route(
        "/people/{member_id:int}/placard/pin",
        placard_pin_submit,
        methods=["POST"],
        name="placard_pin",
    ),
    Route("/placards", placard_sheet, name="placard_sheet"),
]
