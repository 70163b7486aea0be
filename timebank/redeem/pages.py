"""Redeem pages: a member's "use my hours" page (redeem, give), and the office's catalogue,
hand-over queue (核销) and grants."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank import calendar, confirm, flash, inputs
from timebank.catalog.service import catalog
from timebank.errors import TimebankError
from timebank.http import post
from timebank.i18n import request_lang
from timebank.labels import _
from timebank.ledger import service as ledger
from timebank.ledger.hours import format_minutes
from timebank.ledger.models import AccountKind
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.models import FamilyLink, Member, MemberRole, Role
from timebank.people.service import get_community, member_names
from timebank.people.web import actor_of, asked_community, posted_form, signed_in
from timebank.redeem import gifts, items, service
from timebank.redeem.models import Grant, GrantStatus, RedeemItem, Redemption

FIRST_SLOT, LAST_SLOT = 9, 18  # the hours a service booked with hours may start by default


def _back(
    path: str,
    *,
    error: TimebankError | None = None,
    request: Request,
    done: str = "",
    at: str = "",
    kept: dict[str, Any] | None = None,
) -> Response:
    if error is not None:
        return flash.redirect(request, path, error, at=at, kept=kept)
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{separator}done={done}" if done else path, status_code=303)


def now_in(tz: ZoneInfo) -> datetime:
    """The community's wall clock now."""
    return datetime.now(tz)


def booking_slot(now: datetime) -> dict[str, str]:
    """The booking form's default: the next whole hour at least half an hour ahead, between
    09:00 and 18:00, else 09:00 the next day (not today 09:00, refused every afternoon)."""
    start = (now + timedelta(minutes=90)).replace(minute=0, second=0, microsecond=0)
    if start.hour < FIRST_SLOT or start.date() > now.date():
        start = start.replace(hour=FIRST_SLOT)
    elif start.hour > LAST_SLOT:
        start = (start + timedelta(days=1)).replace(hour=FIRST_SLOT)
    return {"day": start.date().isoformat(), "time": f"{start.hour:02d}:00"}


@signed_in
async def use_hours_page(request: Request, who: SignedIn) -> Response:
    """My hours: balance, what they can buy, giving them to family or the pool; or
    (``?for=ID``) a family member's, who lets me act for them, spent on them only."""
    elder = await policy.elder_asked(who, request.query_params.get("for"))
    member = elder or await Member.get(id=who.member.id)
    wallet = await ledger.wallet(member.id)
    links = [] if elder else await FamilyLink.filter(member=member).prefetch_related("relative")
    mine = list(await Redemption.filter(member=member).order_by("-created_at").limit(30))
    item_names = {i.id: i for i in await RedeemItem.filter(id__in=[r.item_id for r in mine])}
    return flash.render_page(
        request,
        "redeem/use.html",
        {
            "balance": await ledger.balance(wallet.id),
            "items": await items.items_of(member.community_id),
            "today": calendar.local_today(calendar.tz_of(request)).isoformat(),
            "slot": booking_slot(now_in(calendar.tz_of(request))),
            "family": [link.relative for link in links],
            "mine": mine,
            "item_names": item_names,
            "key": uuid.uuid4().hex,
            "done": request.query_params.get("done", ""),
            "elder": elder,
        },
    )


@signed_in
async def redeem_submit(request: Request, who: SignedIn) -> Response:
    """Redeem one item from the page."""
    form = await posted_form(request, who)
    body: dict[str, Any] = {k: form.get(k) for k in ("item", "key", "for", "member")}
    if form.get("day"):  # a service: its local date and time
        body["starts_at"] = f"{form.get('day')}T{form.get('time') or '09:00'}"
    elder = inputs.id_or_none(form.get("member"))  # family acting for a member: back there
    back = f"/redeem?for={elder}" if elder else "/redeem"
    try:
        if not confirm.confirmed(form):
            return await _ask_to_spend(request, who, form)
        await service.redeem_for(actor_of(request, who), who, body, calendar.tz_of(request))
    except TimebankError as error:
        if error.status == 403:
            raise
        kept = {k: form.get(k) for k in ("for", "day", "time")}
        at = f"item-{inputs.id_or_none(form.get('item')) or ''}"
        return _back(back, error=error, request=request, at=at, kept=kept)
    return _back(back, request=request, done="booked" if form.get("day") else "redeemed")


async def _ask_to_spend(request: Request, who: SignedIn, form: Any) -> Response:
    """How many hours this will spend and how many are left: asked before spending them.
    Acting for a family member (``member``): their hours, said so."""
    item = await items.get_item(inputs.record_id(form.get("item"), "item"))
    elder = await policy.elder_asked(who, form.get("member"))
    lang = request_lang(request)
    owner = elder.id if elder else who.member.id
    available = (await ledger.balance((await ledger.wallet(owner)).id)).available
    booking = bool(form.get("day"))
    if elder:
        question = (
            _(
                "Book “%(item)s” for %(name)s? %(hours)s of their hours are set aside now and "
                "spent when the service is given; %(left)s are left to use."
            )
            if booking
            else _("Redeem “%(item)s” for %(name)s? This spends %(hours)s of their hours; "
                   "%(left)s are left.")
        )  # fmt: skip
    else:
        question = (
            _(
                "Book “%(item)s”? %(hours)s of your hours are set aside now and spent when the "
                "service is given; %(left)s are left to use."
            )
            if booking
            else _("Redeem “%(item)s”? This spends %(hours)s of your hours; %(left)s are left.")
        )
    return confirm.ask(
        request,
        form,
        question=question,
        button=_("Yes, book it") if booking else _("Yes, redeem it"),
        back=f"/redeem?for={elder.id}" if elder else "/redeem",
        item=item.name_en if lang == "en" else item.name_zh,
        name=elder.name if elder else "",
        hours=format_minutes(item.price_minutes, lang),
        left=format_minutes(available - item.price_minutes, lang),
    )


def _hours_and_minutes(form: Mapping[str, Any]) -> int:
    """The time the form's 小时 and 分钟 boxes add up to, in minutes (either may be empty)."""
    hours = inputs.whole_number(str(form.get("hours") or "0"), "hours", low=0, high=100_000)
    minutes = inputs.whole_number(str(form.get("minutes") or "0"), "minutes", low=0, high=6_000_000)
    return hours * 60 + minutes


@signed_in
async def donate_submit(request: Request, who: SignedIn) -> Response:
    """Give hours from the page."""
    form = await posted_form(request, who)
    body: dict[str, Any] = {k: form.get(k) for k in ("to", "key", "reason")}
    try:
        body["minutes"] = _hours_and_minutes(form)
        await gifts.donate_for(actor_of(request, who), who, body)
    except TimebankError as error:
        kept = {k: form.get(k) for k in ("to", "hours", "minutes", "reason")}
        return _back("/redeem", error=error, request=request, at="donate", kept=kept)
    return _back("/redeem", request=request, done="donated")


def _community_of(request: Request, who: SignedIn) -> int:
    return policy.community_asked(who, request.query_params.get("community"))


@signed_in
async def catalog_page(request: Request, who: SignedIn) -> Response:
    """The office's catalogue: every item with its price, stock and switch, and a new one."""
    policy.require_coordinator(who)
    asked = await asked_community(request, who)
    community = asked.community
    return flash.render_page(
        request,
        "redeem/catalog.html",
        {
            "community": community,
            "choices": asked.choices,
            "items": await items.items_of(community.id, withdrawn=True),
            "services": [x for x in await catalog(community) if x.active],
        },
    )


@signed_in
async def catalog_submit(request: Request, who: SignedIn) -> Response:
    """Add an item, or change one (``item`` in the form)."""
    form = await posted_form(request, who)
    community = await get_community(_community_of(request, who))
    back = f"/redeem/catalog?community={community.id}"
    data: dict[str, Any] = {
        k: str(form[k])
        for k in ("kind", "name_zh", "name_en", "price_minutes", "stock", "service")
        if k in form  # fmt: skip
    }
    try:
        if form.get("item"):
            item = await items.get_item(inputs.record_id(str(form["item"]), "item"))
            policy.require(item.community_id == community.id)
            data["active"] = "active" in form
            await items.update_item(actor_of(request, who), item, data)
        else:
            await items.create_item(actor_of(request, who), community, data)
    except TimebankError as error:
        if error.status == 403:
            raise
        return _back(back, error=error, request=request)
    return RedirectResponse(back, status_code=303)


@signed_in
async def handover_page(request: Request, who: SignedIn) -> Response:
    """Goods waiting at the office for their owners (核销)."""
    policy.require_coordinator(who)
    waiting = await service.waiting_for_hand_over(who)
    names = await member_names({r.member_id for r in waiting} | {r.beneficiary_id for r in waiting})
    found = {i.id: i for i in await RedeemItem.filter(id__in=[r.item_id for r in waiting])}
    return flash.render_page(
        request, "redeem/handover.html", {"waiting": waiting, "names": names, "items": found}
    )


@signed_in
async def handover_submit(request: Request, who: SignedIn) -> Response:
    """Hand one redemption's goods over."""
    await posted_form(request, who)
    redemption = await service.get_redemption(int(request.path_params["redemption_id"]))
    policy.require(policy.coordinates(who, redemption.community_id))
    try:
        await service.hand_over(actor_of(request, who), redemption)
    except TimebankError as error:
        return _back("/redeem/handover", error=error, request=request)
    return RedirectResponse("/redeem/handover", status_code=303)


@signed_in
async def grants_page(request: Request, who: SignedIn) -> Response:
    """Grant hours; grants waiting for a second coordinator; the latest grants."""
    policy.require_coordinator(who)
    asked = await asked_community(request, who)
    community = asked.community
    resident_ids = await MemberRole.filter(
        role=Role.RESIDENT, member__community_id=community.id
    ).values_list("member_id", flat=True)
    residents = await Member.filter(id__in=list(resident_ids), is_active=True).order_by("name")
    grants = list(await Grant.filter(community=community).order_by("-created_at").limit(100))
    names = await member_names({g.member_id for g in grants} | {g.requested_by_id for g in grants})
    fund = await ledger.community_account(community.id, AccountKind.ISSUANCE)
    pool = await ledger.community_account(community.id, AccountKind.POOL)
    return flash.render_page(
        request,
        "redeem/grants.html",
        {
            "community": community,
            "choices": asked.choices,
            "residents": residents,
            "pending": [g for g in grants if g.status is GrantStatus.PENDING],
            "recent": [g for g in grants if g.status is not GrantStatus.PENDING],
            "names": names,
            "fund": await ledger.balance(fund.id),
            "pool": await ledger.balance(pool.id),
            "key": uuid.uuid4().hex,
            "done": request.query_params.get("done", ""),
        },
    )


@signed_in
async def grant_submit(request: Request, who: SignedIn) -> Response:
    """Grant hours from the page."""
    form = await posted_form(request, who)
    back = f"/grants?community={_community_of(request, who)}"
    body = {k: form.get(k) for k in ("member", "minutes", "source", "reason", "key")}
    try:
        grant = await gifts.grant_for(actor_of(request, who), who, body)
    except TimebankError as error:
        if error.status == 403:
            raise
        return _back(back, error=error, request=request)
    return RedirectResponse(f"{back}&done={grant.status.value}", status_code=303)


@signed_in
async def grant_decision_submit(request: Request, who: SignedIn) -> Response:
    """A second coordinator approves or rejects a grant."""
    form = await posted_form(request, who)
    grant = await gifts.get_grant(int(request.path_params["grant_id"]))
    policy.require(policy.coordinates(who, grant.community_id))
    back = f"/grants?community={grant.community_id}"
    try:
        await gifts.decide_grant(
            actor_of(request, who), grant, form.get("approve") == "1", str(form.get("note", ""))
        )
    except TimebankError as error:
        if error.status == 403 and error.code != "four_eyes":
            raise
        return flash.redirect(request, back, error)
    return RedirectResponse(back, status_code=303)


routes = [
    Route("/redeem", use_hours_page, name="use_hours"),
    post("/redeem", redeem_submit, name="redeem_submit"),
    post("/redeem/donate", donate_submit, name="donate_submit"),
    Route("/redeem/catalog", catalog_page, name="redeem_catalog"),
    post("/redeem/catalog", catalog_submit, name="redeem_catalog_submit"),
    Route("/redeem/handover", handover_page, name="handover"),
    post("/redeem/handover/{redemption_id:int}", handover_submit, name="handover_submit"),
    Route("/grants", grants_page, name="grants"),
    post("/grants", grant_submit, name="grant_submit"),
    post("/grants/{grant_id:int}/decision", grant_decision_submit, name="grant_decision"),
]
