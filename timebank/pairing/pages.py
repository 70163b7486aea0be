"""Coordinators' pairing pages: approval queue, pairing detail (history, plan, actions),
and suggestions for a resident with one-click proposals.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank import inputs
from timebank.calendar import tz_of
from timebank.catalog.service import catalog
from timebank.http import post
from timebank.i18n import gettext_for, request_lang
from timebank.labels import _
from timebank.pairing import records, service
from timebank.pairing.records import pairing_json, visible_pairing
from timebank.pairing.suggest import suggest
from timebank.people import members, policy
from timebank.people.auth import SignedIn
from timebank.people.models import Community
from timebank.people.web import actor_of, posted_form, signed_in
from timebank.templating import render

# What an action on the pairing did, said on its page (a fixed code in the URL: ?done=approve).
DONE = {
    "approve": _("Approved: %(helper)s will serve %(resident)s."),
    "reject": _("Rejected: %(helper)s will not serve %(resident)s."),
    "suspend": _("Paused: %(helper)s's visits to %(resident)s stop until resumed."),
    "resume": _("Resumed: %(helper)s serves %(resident)s again."),
    "end": _("Ended: %(helper)s no longer serves %(resident)s."),
    "plan": _("Added to the visit plan."),
    "plan_remove": _("Removed from the visit plan."),
}


def done_message(request: Request, p: dict[str, Any]) -> str:
    """What the action this page was sent back from did (``p``: the pairing's record)."""
    code = request.query_params.get("done", "")
    if code not in DONE:
        return ""
    names = {"helper": p["helper_name"], "resident": p["resident_name"]}
    return gettext_for(request_lang(request), DONE[code]) % names


@signed_in
async def queue_page(request: Request, who: SignedIn) -> Response:
    """Pairings awaiting approval, then the active and suspended ones."""
    policy.require_coordinator(who)
    found = [await pairing_json(p, full=False) for p in await records.visible_pairings(who)]
    by_status = {
        status: [p for p in found if p["status"] == status]
        for status in ("proposed", "approved", "suspended", "ended", "rejected")
    }
    return render(request, "pairing/queue.html", {"by_status": by_status})


@signed_in
async def detail_page(request: Request, who: SignedIn) -> Response:
    """One pairing: who, status, plan, history, and the actions a coordinator may take."""
    p = await visible_pairing(who, request.path_params["pairing_id"], manage=False)
    community = await Community.get(id=p.community_id)
    shown = await pairing_json(p)
    return render(
        request,
        "pairing/detail.html",
        {
            "p": shown,
            "done": done_message(request, shown),
            "manage": policy.can_manage_pairing(who, p),
            "services": [s for s in await catalog(community) if s.active],
            "actions": [a for a, (sources, _, _) in service.ACTIONS.items() if p.status in sources],
        },
    )


@signed_in
async def transition_submit(request: Request, who: SignedIn) -> Response:
    """Approve, reject, suspend, resume or end, from the detail page."""
    form = await posted_form(request, who)
    p = await visible_pairing(who, request.path_params["pairing_id"], manage=True)
    action = str(form.get("action", ""))
    reason = str(form.get("reason", ""))
    p = await service.transition(
        actor_of(request, who), p, action, reason=reason, tz=tz_of(request)
    )
    return RedirectResponse(f"/pairings/{p.id}?done={action}", status_code=303)


@signed_in
async def plan_submit(request: Request, who: SignedIn) -> Response:
    """Add a recurring visit to the plan."""
    form = await posted_form(request, who)
    p = await visible_pairing(who, request.path_params["pairing_id"], manage=True)
    raw = str(form.get("every_days", ""))
    # Not a number, or past any column: 0, refused by the service with its own message.
    every = int(raw) if inputs.is_whole(raw) and abs(int(raw)) <= inputs.ID_MAX else 0
    await service.add_plan_item(
        actor_of(request, who),
        p,
        service_code=str(form.get("service", "")),
        every_days=every,
        start=str(form.get("start", "")),
        schedule_in=tz_of(request),
    )
    return RedirectResponse(f"/pairings/{p.id}?done=plan", status_code=303)


@signed_in
async def plan_remove_submit(request: Request, who: SignedIn) -> Response:
    """Stop a recurring visit."""
    await posted_form(request, who)
    p = await visible_pairing(who, request.path_params["pairing_id"], manage=True)
    await service.remove_plan_item(actor_of(request, who), p, int(request.path_params["item_id"]))
    return RedirectResponse(f"/pairings/{p.id}?done=plan_remove", status_code=303)


@signed_in
async def suggest_page(request: Request, who: SignedIn) -> Response:
    """Helpers who suit a resident, best first, with a propose button each."""
    resident = await members.get_member(int(request.path_params["member_id"]))
    policy.require(await policy.can_manage_member(who, resident))
    return render(
        request,
        "pairing/suggest.html",
        {"resident": resident, "suggestions": await suggest(resident)},
    )


@signed_in
async def propose_submit(request: Request, who: SignedIn) -> Response:
    """Propose a pairing (from the suggestions page) and open it."""
    form = await posted_form(request, who)
    # Not an id: 0, and the 404 below says what is missing.
    helper_id = inputs.id_or_none(form.get("helper")) or 0
    resident_id = inputs.id_or_none(form.get("resident")) or 0
    helper = await members.get_member(helper_id)
    resident = await members.get_member(resident_id)
    body = {"note": form.get("note", "")}
    p = await records.propose_as(actor_of(request, who), who, helper, resident, body)
    return RedirectResponse(f"/pairings/{p.id}", status_code=303)


routes = [
    Route("/pairings", queue_page, name="pairing_queue"),
    post("/pairings/propose", propose_submit, name="pairing_propose"),
    Route("/pairings/{pairing_id:int}", detail_page, name="pairing_detail"),
    post("/pairings/{pairing_id:int}/transition", transition_submit, name="pairing_transition"),
    post("/pairings/{pairing_id:int}/plan", plan_submit, name="pairing_plan"),
    post(
        "/pairings/{pairing_id:int}/plan/{item_id:int}/delete",
        plan_remove_submit,
        name="pairing_plan_remove",
    ),
    Route("/people/{member_id:int}/suggestions", suggest_page, name="pairing_suggest"),
]
