"""The authorization matrix: every route, every role, nobody reaches what they must not.

The table below names the access rule of every route the app serves. The test walks the
app's route table, so a new route that is not in the table fails the suite until someone
decides who may use it. Each person who must be refused is sent a real request (with a
valid CSRF token, so the refusal comes from the policy, not from the CSRF check) and must
get 401/403 (or, for a page, be sent to sign in); nothing may answer 5xx. GET routes are
also opened by everyone allowed, who must not be refused.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from tests.conftest import make_community, make_member
from timebank.ledger import passbook
from timebank.ledger import service as ledger
from timebank.orders import service as order_service
from timebank.orders.models import Order, OrderStatus
from timebank.pairing import service as pairing_service
from timebank.people.audit import Actor
from timebank.people.auth import _serializer
from timebank.people.models import FamilyLink, Relation, Session
from timebank.redeem.models import Grant, RedeemItem, Redemption
from timebank.visits import placards
from timebank.visits.models import Visit, VisitStatus

PUBLIC, MEMBER, COMMUNITY, SELF, ANY_COORDINATOR, COORDINATOR = (
    "public",
    "member",
    "community",
    "self",
    "any_coordinator",
    "coordinator",
)
ORDERING, HELPER = "resident_or_coordinator", "helper"
PERSONAS = ("anonymous", "resident", "helper", "other_coordinator", "coordinator", "admin")
DENIED = {
    PUBLIC: set(),
    MEMBER: {"anonymous"},
    COMMUNITY: {"anonymous", "other_coordinator"},
    SELF: {"anonymous", "helper", "other_coordinator"},
    ANY_COORDINATOR: {"anonymous", "resident", "helper"},
    COORDINATOR: {"anonymous", "resident", "helper", "other_coordinator"},
    ORDERING: {"anonymous", "helper"},
    HELPER: {"anonymous", "resident", "other_coordinator", "coordinator", "admin"},
}
RULES = {
    ("GET", "/"): PUBLIC,
    ("GET", "/lang/{code}"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/signin"): PUBLIC,
    ("POST", "/signin"): PUBLIC,
    ("GET", "/signin/code"): PUBLIC,
    ("POST", "/signin/code"): PUBLIC,
    ("POST", "/signout"): MEMBER,
    ("GET", "/me"): MEMBER,
    ("GET", "/me/hours"): MEMBER,
    ("GET", "/me/password"): MEMBER,
    ("POST", "/me/password"): MEMBER,
    ("GET", "/me/consent"): MEMBER,
    ("POST", "/me/consent"): MEMBER,
    ("POST", "/me/elder-mode"): MEMBER,
    ("GET", "/people"): ANY_COORDINATOR,
    ("GET", "/people/new"): ANY_COORDINATOR,
    ("POST", "/people/new"): COORDINATOR,
    ("GET", "/people/import"): ANY_COORDINATOR,
    ("POST", "/people/import"): COORDINATOR,
    ("GET", "/people/{member_id}"): SELF,
    ("GET", "/people/{member_id}/edit"): COORDINATOR,
    ("POST", "/people/{member_id}/edit"): COORDINATOR,
    ("POST", "/people/{member_id}/code"): COORDINATOR,
    ("POST", "/people/{member_id}/active"): COORDINATOR,
    ("POST", "/people/{member_id}/family"): COORDINATOR,
    ("POST", "/people/{member_id}/family/{link_id}/delete"): COORDINATOR,
    # Family acting for an elder: the relatives' page lists whom they may act for; the
    # elder's consent is recorded by the elder or a coordinator who manages her.
    ("GET", "/family"): MEMBER,
    ("POST", "/people/{member_id}/family/{link_id}/consent"): SELF,
    ("PUT", "/api/v1/members/{member_id}/family/{link_id}/consent"): SELF,
    ("GET", "/communities/{community_id}/settings"): COORDINATOR,
    ("POST", "/communities/{community_id}/settings"): COORDINATOR,
    ("GET", "/audit"): ANY_COORDINATOR,
    ("GET", "/ledger/accounts"): ANY_COORDINATOR,
    ("GET", "/ledger/accounts/{account_id}"): SELF,
    ("POST", "/ledger/transactions/{txn_id}/reverse"): COORDINATOR,
    ("GET", "/api/v1/"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("POST", "/api/v1/session"): PUBLIC,
    ("POST", "/api/v1/session/code"): PUBLIC,
    ("DELETE", "/api/v1/session"): MEMBER,
    ("GET", "/api/v1/me"): MEMBER,
    ("GET", "/api/v1/me/hours"): MEMBER,
    ("PUT", "/api/v1/me/password"): MEMBER,
    ("PUT", "/api/v1/me/consent"): MEMBER,
    ("GET", "/api/v1/communities"): MEMBER,
    ("GET", "/api/v1/communities/{community_id}"): COMMUNITY,
    ("PATCH", "/api/v1/communities/{community_id}"): COORDINATOR,
    ("POST", "/api/v1/communities/{community_id}/import"): COORDINATOR,
    ("GET", "/api/v1/members"): ANY_COORDINATOR,
    ("POST", "/api/v1/members"): COORDINATOR,
    ("GET", "/api/v1/members/{member_id}"): SELF,
    ("PATCH", "/api/v1/members/{member_id}"): COORDINATOR,
    ("POST", "/api/v1/members/{member_id}/signin-code"): COORDINATOR,
    ("POST", "/api/v1/members/{member_id}/family"): COORDINATOR,
    ("DELETE", "/api/v1/members/{member_id}/family/{link_id}"): COORDINATOR,
    ("GET", "/api/v1/audit"): ANY_COORDINATOR,
    ("GET", "/api/v1/ledger/accounts/{account_id}"): SELF,
    ("GET", "/api/v1/ledger/accounts/{account_id}/statement"): SELF,
    ("GET", "/api/v1/ledger/transactions/{txn_id}"): SELF,
    ("POST", "/api/v1/ledger/transactions/{txn_id}/reversal"): COORDINATOR,
    ("GET", "/api/v1/ledger/checkpoints"): ANY_COORDINATOR,
    ("POST", "/api/v1/ledger/checkpoints"): ANY_COORDINATOR,
    # Who may propose a pairing or place an order depends on the body (the helper
    # themself, the resident themself, or their coordinator): the service answers 4xx.
    ("GET", "/api/v1/pairings"): MEMBER,
    ("POST", "/api/v1/pairings"): MEMBER,
    ("GET", "/api/v1/pairings/{pairing_id}"): SELF,
    ("POST", "/api/v1/pairings/{pairing_id}/transitions"): COORDINATOR,
    ("POST", "/api/v1/pairings/{pairing_id}/plan"): COORDINATOR,
    ("DELETE", "/api/v1/pairings/{pairing_id}/plan/{item_id}"): COORDINATOR,
    ("GET", "/api/v1/members/{member_id}/suggestions"): COORDINATOR,
    ("GET", "/api/v1/orders"): MEMBER,
    ("POST", "/api/v1/orders"): MEMBER,
    ("GET", "/api/v1/orders/{order_id}"): COMMUNITY,  # open: the community's helpers see it
    ("POST", "/api/v1/orders/{order_id}/transitions"): COMMUNITY,
    ("GET", "/api/v1/me/tasks"): MEMBER,
    ("GET", "/api/v1/communities/{community_id}/services"): COMMUNITY,
    ("PATCH", "/api/v1/communities/{community_id}/services/{code}"): COORDINATOR,
    ("GET", "/pairings"): ANY_COORDINATOR,
    ("POST", "/pairings/propose"): MEMBER,
    ("GET", "/pairings/{pairing_id}"): SELF,
    ("POST", "/pairings/{pairing_id}/transition"): COORDINATOR,
    ("POST", "/pairings/{pairing_id}/plan"): COORDINATOR,
    ("POST", "/pairings/{pairing_id}/plan/{item_id}/delete"): COORDINATOR,
    ("GET", "/people/{member_id}/suggestions"): COORDINATOR,
    ("GET", "/orders"): ANY_COORDINATOR,
    ("POST", "/orders/{order_id}/act"): COMMUNITY,
    ("GET", "/order"): ORDERING,
    ("POST", "/order"): ORDERING,
    ("GET", "/tasks"): HELPER,
    ("GET", "/communities/{community_id}/services"): COORDINATOR,
    ("POST", "/communities/{community_id}/services"): COORDINATOR,
    # Visits and placards. The persona helper has an order now at the home of the resident's
    # relative, whose placard is {token}.
    ("GET", "/api/v1/placards/{token}"): HELPER,
    ("POST", "/api/v1/placards/{token}/check-in"): HELPER,
    ("POST", "/api/v1/placards/{token}/check-out"): HELPER,
    ("GET", "/api/v1/visits"): MEMBER,
    ("GET", "/api/v1/visits/{visit_id}"): SELF,
    ("POST", "/api/v1/visits/{visit_id}/review"): COORDINATOR,
    ("POST", "/api/v1/visits/{visit_id}/rating"): SELF,  # the resident or family
    ("GET", "/api/v1/members/{member_id}/placard"): COORDINATOR,
    ("POST", "/api/v1/members/{member_id}/placard"): COORDINATOR,
    ("PUT", "/api/v1/members/{member_id}/placard/pin"): COORDINATOR,
    ("GET", "/v/sw.js"): PUBLIC,
    ("GET", "/v/{token}"): HELPER,
    ("POST", "/v/{token}"): HELPER,
    ("GET", "/visits"): MEMBER,
    ("GET", "/visits/{visit_id}"): SELF,
    ("POST", "/visits/{visit_id}/review"): COORDINATOR,
    ("POST", "/visits/{visit_id}/rating"): SELF,
    ("GET", "/people/{member_id}/placard"): COORDINATOR,
    ("GET", "/people/{member_id}/placard.png"): COORDINATOR,
    ("POST", "/people/{member_id}/placard"): COORDINATOR,
    ("POST", "/people/{member_id}/placard/pin"): COORDINATOR,
    ("GET", "/placards"): ANY_COORDINATOR,
    # Redeeming, hand-over, donations, grants.
    ("GET", "/api/v1/communities/{community_id}/catalog"): COMMUNITY,
    ("POST", "/api/v1/communities/{community_id}/catalog"): COORDINATOR,
    ("PATCH", "/api/v1/catalog/{catalog_item_id}"): COORDINATOR,
    ("GET", "/api/v1/redemptions"): MEMBER,
    ("POST", "/api/v1/redemptions"): MEMBER,
    ("POST", "/api/v1/redemptions/{redemption_id}/hand-over"): COORDINATOR,
    ("POST", "/api/v1/me/donations"): MEMBER,
    ("GET", "/api/v1/grants"): ANY_COORDINATOR,
    ("POST", "/api/v1/grants"): ANY_COORDINATOR,  # for members of their own community
    ("POST", "/api/v1/grants/{grant_id}/decision"): COORDINATOR,
    ("GET", "/redeem"): MEMBER,
    ("POST", "/redeem"): MEMBER,
    ("POST", "/redeem/donate"): MEMBER,
    ("GET", "/redeem/catalog"): ANY_COORDINATOR,
    ("POST", "/redeem/catalog"): ANY_COORDINATOR,
    ("GET", "/redeem/handover"): ANY_COORDINATOR,
    ("POST", "/redeem/handover/{redemption_id}"): COORDINATOR,
    ("GET", "/grants"): ANY_COORDINATOR,
    ("POST", "/grants"): ANY_COORDINATOR,
    ("POST", "/grants/{grant_id}/decision"): COORDINATOR,
    # Printed statements and checking them.
    ("GET", "/me/statement"): MEMBER,
    ("GET", "/ledger/accounts/{account_id}/statement"): SELF,
    ("GET", "/statements/{statement}"): COORDINATOR,
    ("GET", "/api/v1/statements/{statement}"): COORDINATOR,
    # Settlement of paid helpers.
    ("GET", "/api/v1/communities/{community_id}/settlements/{month}"): COORDINATOR,
    ("POST", "/api/v1/communities/{community_id}/settlements/{month}/close"): COORDINATOR,
    ("GET", "/api/v1/communities/{community_id}/settlements/{month}/export"): COORDINATOR,
    ("GET", "/settlements"): ANY_COORDINATOR,
    ("POST", "/communities/{community_id}/settlements/{month}/close"): COORDINATOR,
    # The dashboard and the overdue-visit safety net.
    ("GET", "/dashboard"): ANY_COORDINATOR,
    ("GET", "/api/v1/reports/overdue"): ANY_COORDINATOR,
    ("GET", "/api/v1/reports/today"): ANY_COORDINATOR,
    ("GET", "/api/v1/reports/monthly"): ANY_COORDINATOR,
    ("GET", "/reports"): ANY_COORDINATOR,
}


def route_table(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, path parameters without their converters."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            if route.path != "/static":
                found |= route_table(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = (prefix + route.path).replace(":int}", "}")
            found |= {(m, path) for m in (route.methods or set()) - {"HEAD"}}
    return found


def test_every_route_has_a_rule(app: Any) -> None:
    served = route_table(app.routes)
    assert served - RULES.keys() == set(), "routes without an access rule in RULES"
    assert RULES.keys() - served == set(), "rules for routes that no longer exist"


@pytest.fixture
async def world(app: Any) -> dict[str, Any]:
    here = await make_community("桂花社区")
    there = await make_community("枫林社区")
    people = {
        "resident": await make_member(here, "resident", name="陈秀英"),
        "helper": await make_member(here, "helper", name="张建国"),
        "coordinator": await make_member(here, "coordinator", name="李芳"),
        "other_coordinator": await make_member(there, "coordinator", name="王强"),
        "admin": await make_member(here, "admin", name="区管理员"),
    }
    relative = await make_member(here, "resident", name="陈明")
    link = await FamilyLink.create(
        member=people["resident"], relative=relative, relation=Relation.CHILD
    )
    posted = await ledger.grant(
        community_id=here.id,
        member_id=people["resident"].id,
        minutes=60,
        key="matrix-grant",
        actor_id=people["coordinator"].id,
        reason="兜底",
    )
    wallet = await ledger.wallet(people["resident"].id)
    # A pairing of the resident with a helper who is none of the personas, with a plan,
    # and an open order of the resident.
    paired_helper = await make_member(here, "helper", name="结对帮扶人")
    actor = Actor(people["coordinator"].id)
    pairing = await pairing_service.propose(
        actor, helper=paired_helper, resident=people["resident"]
    )
    item = await pairing_service.add_plan_item(
        actor, pairing, service_code="visit", every_days=7, start="09:00"
    )
    starts = datetime.now(UTC) + timedelta(days=1)
    order = await order_service.place(
        actor,
        resident=people["resident"],
        service_code="cleaning",
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        on_behalf=True,
    )
    # An order of the persona helper at the resident's home now, and a flagged visit of
    # the paired helper (not a persona).
    now = datetime.now(UTC)
    await Order.create(
        community=here, resident=relative, helper=people["helper"],
        service_code="visit", starts_at=now, ends_at=now + timedelta(hours=1),
        status=OrderStatus.ASSIGNED,
    )  # fmt: skip
    visit = await Visit.create(
        community=here, resident=people["resident"], helper=paired_helper,
        service_code="visit", status=VisitStatus.FLAGGED, in_event="matrix-visit-1",
        checked_in_at=now - timedelta(hours=1), received_in_at=now - timedelta(hours=1),
        checked_out_at=now, flags="too_short", served_minutes=15, credit_minutes=15,
        raw_minutes=5,
    )  # fmt: skip
    placard = await placards.placard_of(relative)
    token = placards.make_token(app.state.settings.secret_key, relative.id, placard.generation)
    # A catalogue item, a redemption waiting for hand-over, a grant waiting for approval.
    item = await RedeemItem.create(
        community=here, kind="goods", name_zh="大米", name_en="Rice", price_minutes=60
    )
    redemption = await Redemption.create(
        community=here, item=item, member=people["resident"], beneficiary=people["resident"],
        minutes=60, status="to_hand_over", created_at=now,
    )  # fmt: skip
    grant = await Grant.create(
        community=here, member=people["resident"], source="fund", minutes=600, reason="x",
        status="pending", requested_by_id=people["coordinator"].id, key="matrix-grant-1",
    )  # fmt: skip
    sessions = {}
    for name, member in people.items():
        session = await Session.create(
            id=secrets.token_urlsafe(16),
            member=member,
            csrf_token=secrets.token_urlsafe(16),
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
        sessions[name] = session
    return {
        "here": here,
        "people": people,
        "sessions": sessions,
        "params": {
            "member_id": people["resident"].id,
            "community_id": here.id,
            "account_id": wallet.id,
            "txn_id": posted.txn.id,
            "link_id": link.id,
            "pairing_id": pairing.id,
            "item_id": item.id,
            "order_id": order.id,
            "code": "en",
            "token": token,
            "visit_id": visit.id,
            "catalog_item_id": item.id,
            "redemption_id": redemption.id,
            "grant_id": grant.id,
            "month": "2026-01",
            "statement": passbook.sign(
                app.state.settings.secret_key, await passbook.summary(wallet.id, 10**9)
            ),
        },
    }


async def call(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any], persona: str, method: str, path: str
) -> httpx.Response:
    url = path.format(**world["params"])
    cookies, headers, data = {}, {}, {}
    if persona != "anonymous":
        session = world["sessions"][persona]
        cookies["tb_session"] = _serializer(app.state.settings.secret_key).dumps(session.id)
        headers["x-csrf-token"] = session.csrf_token
        data["csrf_token"] = session.csrf_token
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    if path.startswith("/api/"):
        body = {"community": world["here"].id, "reason": "matrix"} if method != "GET" else None
        return await client.request(method, url, json=body, headers=headers)
    if method == "GET":
        return await client.get(url)
    return await client.request(method, url, data=data, headers={"accept": "text/html"})


def refused(response: httpx.Response, path: str) -> bool:
    if response.status_code in (401, 403):
        return True
    # Pages send an anonymous visitor to sign in.
    return response.status_code == 303 and response.headers["location"].startswith("/signin")


async def test_nobody_reaches_what_they_must_not(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any]
) -> None:
    problems = []
    for (method, path), rule in sorted(RULES.items()):
        for persona in PERSONAS:
            deny = persona in DENIED[rule]
            if not deny and method != "GET":
                continue  # changes by allowed people are the feature tests' business
            response = await call(client, app, world, persona, method, path)
            if response.status_code >= 500:
                problems.append(f"{method} {path} as {persona}: {response.status_code}")
            elif deny and not refused(response, path):
                problems.append(
                    f"{method} {path} as {persona}: let through ({response.status_code})"
                )
            elif not deny and response.status_code in (401, 403):
                problems.append(f"{method} {path} as {persona}: refused ({response.status_code})")
    assert problems == []
