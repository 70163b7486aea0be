"""Order pages: the coordinator's board and hotline form, the helper's day, and the
resident's large-type "order a service" page with their upcoming visits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank import inputs
from timebank.calendar import tz_of
from timebank.catalog.service import catalog
from timebank.errors import Invalid, TimebankError
from timebank.http import local_path
from timebank.i18n import request_lang
from timebank.orders import service
from timebank.orders.api import act, place_as, visible_order, visible_pairings_of
from timebank.pairing.api import pairing_json
from timebank.people import policy
from timebank.people.models import Community, Member, MemberRole, Role
from timebank.people.web import asked_community, me, posted_form, signin_redirect
from timebank.templating import render


async def board_page(request: Request) -> Response:
    """Overdue, open and assigned orders of my communities, with assign forms."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    policy.require_coordinator(who)
    found = await service.board(policy.coordinated_communities(who))
    everyone = found.open + found.assigned + found.overdue
    people = await service.names(everyone)
    communities = {o.community_id for o in everyone}  # type: ignore[attr-defined]
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
        },
    )


async def act_submit(request: Request) -> Response:
    """Take, assign, release, cancel or mark no-show, from any order list; then go back."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    form = await posted_form(request, who)
    order = await visible_order(request, who)
    await act(request, who, order, {k: form.get(k) for k in ("action", "helper", "reason")})
    return RedirectResponse(local_path(str(form.get("next", "")), default="/"), status_code=303)


def _moment(day: str, clock: str, tz: Any) -> datetime:
    try:
        moment = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    except ValueError:
        raise Invalid(
            "Please give a date and a time.", "请填写日期和时间。", code="bad_time"
        ) from None
    return inputs.parse_moment(moment.isoformat(), "day")


async def order_page(request: Request) -> Response:
    """Order a service: a resident for themself, or a coordinator for a resident."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    coordinator = policy.coordinates_any(who)
    if not coordinator:
        policy.require(who.has(Role.RESIDENT))
    community = await Community.get(id=who.member.community_id)  # type: ignore[attr-defined]
    choices: list[Community] = []
    if coordinator:
        # The community whose residents and services are offered: the one asked for, the
        # resident's (from the dashboard's "send someone"), else the coordinator's own.
        wanted = request.query_params.get("resident", "")
        wanted_id = inputs.id_or_none(wanted)
        target = await Member.get_or_none(id=wanted_id) if wanted_id else None
        asked = await asked_community(
            request,
            who,
            prefer=target.community_id if target else None,  # type: ignore[attr-defined]
        )
        community, choices = asked.community, asked.choices
    tz = tz_of(request)
    tomorrow = (datetime.now(tz) + timedelta(days=1)).date().isoformat()
    context: dict[str, Any] = {
        "services": [s for s in await catalog(community) if s.active],
        "coordinator": coordinator,
        "community": community,
        "choices": choices,
        "residents": [],
        "form": {"day": tomorrow, "start": "09:00", "end": "10:00", "service": "", "notes": ""},
        "error": "",
        "placed": request.query_params.get("placed") == "1",
    }
    if coordinator and inputs.id_or_none(request.query_params.get("resident")):
        # From the dashboard's overdue list: this resident, today, within the hour.
        soon = datetime.now(tz) + timedelta(hours=1)
        context["form"].update(
            resident=request.query_params["resident"], day=soon.date().isoformat(),
            start=f"{soon.hour:02d}:00", end=f"{min(soon.hour + 1, 23):02d}:00",
            service="visit",
        )  # fmt: skip
    if coordinator:
        ids = MemberRole.filter(role=Role.RESIDENT, member__community_id=community.id)
        context["residents"] = await Member.filter(
            id__in=list(await ids.values_list("member_id", flat=True)), is_active=True
        ).order_by("name")
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
            await place_as(
                request,
                who,
                resident_id=form.get("resident") if coordinator else None,
                service_code=values["service"],
                starts_at=_moment(values["day"], values["start"], tz),
                ends_at=_moment(values["day"], values["end"], tz),
                notes=values["notes"],
                address="",
                funded=coordinator and form.get("funded") == "on",
            )
            return RedirectResponse("/order?placed=1", status_code=303)
        except TimebankError as exc:
            context["error"] = exc.message(request_lang(request))
            status = exc.status
    mine = await service.upcoming(await Member.get(id=who.member.id))
    context["upcoming"] = [service.order_json(o, await service.names(mine)) for o in mine]
    return render(request, "orders/order.html", context, status=status)


async def tasks_page(request: Request) -> Response:
    """A helper's day: today's tasks, open orders to take, my pairings."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    policy.require(who.has(Role.HELPER))
    helper = await Member.get(id=who.member.id)
    today = datetime.now(tz_of(request)).date()
    tasks = await service.tasks(helper, today, tz=tz_of(request))
    offered = await service.open_for(helper)
    people = await service.names(tasks + offered)
    return render(
        request,
        "orders/tasks.html",
        {
            "today": today,
            "tasks": [service.order_json(o, people) for o in tasks],
            "offered": [service.order_json(o, people) for o in offered],
            "pairings": [await pairing_json(p, full=False) for p in await visible_pairings_of(who)],
        },
    )


routes = [
    Route("/orders", board_page, name="orders_board"),
    Route("/orders/{order_id:int}/act", act_submit, methods=["POST"], name="order_act"),
    Route("/order", order_page, methods=["GET", "POST"], name="order_service"),
    Route("/tasks", tasks_page, name="my_tasks"),
]
