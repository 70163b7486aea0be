"""Redeem pages: a member's "use my hours" page (redeem, give), and the office's catalogue,
hand-over queue (核销) and grants."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank import calendar, flash, inputs
from timebank.catalog.service import catalog
from timebank.errors import TimebankError
from timebank.http import post
from timebank.ledger import service as ledger
from timebank.ledger.models import AccountKind
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.models import FamilyLink, Member, MemberRole, Role
from timebank.people.service import get_community, member_names
from timebank.people.web import actor_of, asked_community, posted_form, signed_in
from timebank.redeem import gifts, items, service
from timebank.redeem.models import Grant, GrantStatus, RedeemItem, Redemption


def _back(
    path: str, *, error: TimebankError | None = None, request: Request, done: str = ""
) -> Response:
    if error is not None:
        return flash.redirect(request, path, error)
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{separator}done={done}" if done else path, status_code=303)


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
        await service.redeem_for(actor_of(request, who), who, body, calendar.tz_of(request))
    except TimebankError as error:
        if error.status == 403:
            raise
        return _back(back, error=error, request=request)
    return _back(back, request=request, done="booked" if form.get("day") else "redeemed")


@signed_in
async def donate_submit(request: Request, who: SignedIn) -> Response:
    """Give hours from the page."""
    form = await posted_form(request, who)
    body = {k: form.get(k) for k in ("to", "minutes", "key", "reason")}
    try:
        await gifts.donate_for(actor_of(request, who), who, body)
    except TimebankError as error:
        return _back("/redeem", error=error, request=request)
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
