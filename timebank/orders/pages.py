"""Order pages: the coordinator's board and hotline form, the helper's day, and the
resident's large-type "order a service" page with their upcoming visits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank import calendar, confirm, inputs, notices
from timebank.calendar import tz_of
from timebank.catalog.service import catalog
from timebank.errors import Invalid, TimebankError
from timebank.http import local_path, post
from timebank.i18n import request_lang
from timebank.labels import _
from timebank.orders import conduct, service
from timebank.orders.models import Order
from timebank.pairing.records import own_pairings, paired_helpers, pairing_json
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.models import Community, Member, MemberRole, Role
from timebank.people.web import Asked, actor_of, asked_community, posted_form, signed_in
from timebank.templating import render

# What a move did, said on the page the form comes back to (see timebank.notices).
DONE = {
    "take": _("Taken: %(what)s"),
    "assign": _("Sent to %(helper)s: %(what)s"),
    "release": _("Given back for someone else to take: %(what)s"),
    "cancel": _("Cancelled: %(what)s"),
    "no_show": _("Marked as not visited: %(what)s"),
}


async def _described(request: Request, order: Order) -> dict[str, str]:
    """The order as a message names it: what, for whom, when; and its helper."""
    people = await service.names([order])
    what = " · ".join(
        (
            notices.service_name(request, order.service_code),
            people.get(order.resident_id, ""),
            notices.when(request, order.starts_at, tz_of(request)),
        )
    )
    return {"what": what, "helper": people.get(order.helper_id or 0, "")}


async def done_message(request: Request, who: SignedIn) -> str:
    """What the move this page was sent back from did, if the reader may see the order."""
    found = notices.asked(request, DONE, "order")
    order = await Order.get_or_none(id=found[1]) if found else None
    if found is None or order is None or not policy.can_see_order(who, order):
        return ""
    return notices.say(request, DONE[found[0]], **await _described(request, order))


@signed_in
async def board_page(request: Request, who: SignedIn) -> Response:
    """Overdue, open and assigned orders of my communities, with assign forms."""
    policy.require_coordinator(who)
    found = await service.board(policy.coordinated_communities(who))
    everyone = found.open + found.assigned + found.overdue
    people = await service.names(everyone)
    communities = {o.community_id for o in everyone}
    helper_ids = await MemberRole.filter(
        role=Role.HELPER, member__community_id__in=sorted(communities)
    ).values_list("member_id", flat=True)
    helpers = await Member.filter(id__in=list(helper_ids), is_active=True).order_by("name")
    return render(
        request,
        "orders/board.html",
        {
            "overdue": [service.order_json(o, people) for o in found.overdue],
            "open": [service.order_json(o, people) for o in found.open],
            "assigned": [service.order_json(o, people) for o in found.assigned],
            "helpers": helpers,
            "paired": await paired_helpers([o.resident_id for o in everyone]),
            "done": await done_message(request, who),
        },
    )


@signed_in
async def act_submit(request: Request, who: SignedIn) -> Response:
    """Take, assign, release, cancel or mark no-show, from any order list; then go back."""
    form = await posted_form(request, who)
    order = await conduct.visible_order(who, request.path_params["order_id"])
    body = {k: form.get(k) for k in ("action", "helper", "reason")}
    action = str(body.get("action", ""))
    if action == "no_show" and not confirm.confirmed(form):
        policy.require(policy.can_move_order(who, order, action))
        return confirm.ask(
            request,
            form,
            question=_(
                "Mark %(what)s as not visited? %(helper)s gets no hours for it, and hours the "
                "resident set aside for it are given back. This cannot be undone."
            ),
            button=_("Yes, mark as not visited"),
            back=local_path(str(form.get("next", "")), default="/orders"),
            **await _described(request, order),
        )
    await conduct.act(actor_of(request, who), who, order, body)
    back = local_path(str(form.get("next", "")), default="/")
    return RedirectResponse(notices.back_to(back, action, order=order.id), status_code=303)


def _moment(day: str, clock: str, tz: ZoneInfo) -> datetime:
    try:
        wall = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise Invalid(
            "Please give a date and a time.", "请填写日期和时间。", code="bad_time"
        ) from None
    return inputs.parse_moment(calendar.at(wall.date(), tz, wall.time()).isoformat(), "day")


async def _ordering_for(request: Request, who: SignedIn) -> Asked | None:
    """A coordinator's community whose residents and services are offered: the one asked
    for, the resident's (from the dashboard's "send someone"), else their own."""
    policy.require(policy.can_order(who))
    if not policy.coordinates_any(who):
        return None
    wanted_id = inputs.id_or_none(request.query_params.get("resident", ""))
    target = await Member.get_or_none(id=wanted_id) if wanted_id else None
    prefer = target.community_id if target else None
    return await asked_community(request, who, prefer=prefer)


def _blank_form(request: Request, tz: ZoneInfo, coordinator: bool) -> dict[str, Any]:
    """Tomorrow at nine; from the dashboard's overdue list, this resident within the hour."""
    tomorrow = (calendar.local_today(tz) + timedelta(days=1)).isoformat()
    form = {"day": tomorrow, "start": "09:00", "end": "10:00", "service": "", "notes": ""}
    if coordinator and inputs.id_or_none(request.query_params.get("resident")):
        soon = datetime.now(tz) + timedelta(hours=1)
        form.update(
            resident=request.query_params["resident"], day=soon.date().isoformat(),
            start=f"{soon.hour:02d}:00", end=f"{min(soon.hour + 1, 23):02d}:00",
            service="visit",
        )  # fmt: skip
    return form


async def _residents(community: Community) -> list[Member]:
    ids = MemberRole.filter(role=Role.RESIDENT, member__community_id=community.id)
    return list(
        await Member.filter(
            id__in=list(await ids.values_list("member_id", flat=True)), is_active=True
        ).order_by("name")
    )


@signed_in
async def order_page(request: Request, who: SignedIn) -> Response:
    """Order a service: a resident for themself, a coordinator for a resident, or
    (``?for=ID``) family for a member who lets them act for them."""
    elder = await policy.elder_asked(who, request.query_params.get("for"))
    asked = None if elder else await _ordering_for(request, who)
    coordinator = asked is not None
    if asked is None:
        community = await Community.get(id=(elder or who.member).community_id)
    else:
        community = asked.community
    tz = tz_of(request)
    context: dict[str, Any] = {
        "services": [s for s in await catalog(community) if s.active],
        "coordinator": coordinator,
        "community": community,
        "choices": asked.choices if asked else [],
        "residents": await _residents(community) if coordinator else [],
        "form": _blank_form(request, tz, coordinator),
        "error": "",
        "error_field": "",
        "placed": request.query_params.get("placed") == "1",
        "elder": elder,
    }
    status = 200
    if request.method == "POST":
        form = await posted_form(request, who)
        values = {k: str(form.get(k, "")) for k in ("day", "start", "end", "service", "notes")}
        context["form"] = {
            **values,
            "resident": str(form.get("resident", "")),
            "funded": form.get("funded") == "on",
        }
        try:
            await conduct.place_as(
                actor_of(request, who),
                who,
                resident_id=elder.id if elder else form.get("resident") if coordinator else None,
                service_code=values["service"],
                starts_at=_moment(values["day"], values["start"], tz),
                ends_at=_moment(values["day"], values["end"], tz),
                notes=values["notes"],
                address="",
                funded=coordinator and form.get("funded") == "on",
            )
            placed = f"/order?for={elder.id}&placed=1" if elder else "/order?placed=1"
            return RedirectResponse(placed, status_code=303)
        except TimebankError as exc:
            context["error"] = exc.message(request_lang(request))
            context["error_field"] = str((exc.details or {}).get("field") or "")
            status = exc.status
    mine = await service.upcoming(await Member.get(id=(elder or who.member).id))
    context["upcoming"] = [service.order_json(o, await service.names(mine)) for o in mine]
    context["done"] = await done_message(request, who)
    # Family acting for a member may cancel what they placed (what she placed is hers).
    context["cancels"] = {o.id for o in mine if not elder or o.placed_by_id == who.member.id}
    return render(request, "orders/order.html", context, status=status)


@signed_in
async def tasks_page(request: Request, who: SignedIn) -> Response:
    """A helper's day: today's tasks, the week's to come, open orders to take, my pairings."""
    policy.require(policy.is_helper(who))
    helper = await Member.get(id=who.member.id)
    today = calendar.local_today(tz_of(request))
    tasks = await service.tasks(helper, today, tz=tz_of(request))
    coming = await service.coming(helper, today, tz=tz_of(request))
    offered = await service.open_for(helper)
    people = await service.names(tasks + coming + offered)
    return render(
        request,
        "orders/tasks.html",
        {
            "today": today,
            "tasks": [service.order_json(o, people) for o in tasks],
            "coming": [service.order_json(o, people) for o in coming],
            "offered": [service.order_json(o, people) for o in offered],
            "pairings": [await pairing_json(p, full=False) for p in await own_pairings(who)],
            "done": await done_message(request, who),
        },
    )


routes = [
    Route("/orders", board_page, name="orders_board"),
    post("/orders/{order_id:int}/act", act_submit, name="order_act"),
    Route("/order", order_page, methods=["GET", "POST"], name="order_service"),
    Route("/tasks", tasks_page, name="my_tasks"),
]
