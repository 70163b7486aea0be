"""Family acting for an elder (issue 16, item 7): with her consent recorded, her son sees her
hours, visits and upcoming services, orders and books for her (recorded as on behalf) and
rates her visits, except those he served; without it, or after she withdraws it, he is
refused. Both databases."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import csrf, key, make_community, make_signed_up, signed_in_client
from timebank.ledger import service as ledger
from timebank.orders.models import Order
from timebank.people.audit import Actor
from timebank.people.members import link_family
from timebank.people.models import AuditEvent, FamilyLink, Member
from timebank.redeem.models import RedeemItem, Redemption
from timebank.visits.models import Visit, VisitStatus

FAMILY_PAGES = ("/order", "/me/hours", "/visits", "/redeem")
BIG = 2**31


@pytest.fixture
async def w(app: Any) -> Any:
    here = await make_community("桂花社区")
    there = await make_community("枫林社区")
    world: dict[str, Any] = {
        "app": app,
        "here": here,
        "mother": await make_signed_up(here, "resident", name="陈秀英"),
        "son": await make_signed_up(here, "helper", name="张建国"),
        "helper": await make_signed_up(here, "helper", name="刘小红"),
        "coordinator": await make_signed_up(here, "coordinator", name="李芳"),
        "aunt": await make_signed_up(here, "resident", name="李芳的母亲"),
        "stranger": await make_signed_up(here, "resident", name="赵德海"),
        "far": await make_signed_up(there, "coordinator", name="周桂兰"),
        "admin": await make_signed_up(here, "admin", name="王明"),
    }
    system = Actor.system()
    await Member.filter(id=world["mother"].id).update(birth_date=date(1938, 9, 12))
    await link_family(system, world["mother"], world["son"], "child")
    await link_family(system, world["aunt"], world["coordinator"], "child")
    world["link"] = await FamilyLink.get(member=world["mother"], relative=world["son"])
    world["aunt_link"] = await FamilyLink.get(member=world["aunt"], relative=world["coordinator"])
    await ledger.grant(
        community_id=here.id, member_id=world["mother"].id, minutes=600, key=key(),
        actor_id=world["admin"].id, reason="兜底",
    )  # fmt: skip
    world["haircut"] = await RedeemItem.create(
        community=here, kind="service", name_zh="理发", name_en="Haircut", price_minutes=30,
        service_code="haircut",
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        world["stack"] = stack
        for name in ("mother", "son", "coordinator", "stranger", "far", "admin"):
            world[f"{name}_c"], world[f"{name}_h"] = await signed_in_client(stack, app, world[name])
        yield world


async def consent(w: dict[str, Any], who: str, link: FamilyLink, given: bool) -> httpx.Response:
    url = f"/api/v1/members/{link.member_id}/family/{link.id}/consent"
    return await w[f"{who}_c"].put(url, json={"consent": given}, headers=w[f"{who}_h"])


async def order_as(w: dict[str, Any], who: str) -> httpx.Response:
    starts = datetime.now(UTC) + timedelta(days=2)
    body = {
        "resident": w["mother"].id, "service": "cleaning", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    return await w[f"{who}_c"].post("/api/v1/orders", json=body, headers=w[f"{who}_h"])


async def refused_everywhere(w: dict[str, Any], who: str) -> None:
    for path in FAMILY_PAGES:
        page = await w[f"{who}_c"].get(f"{path}?for={w['mother'].id}")
        assert page.status_code == 403, (path, page.status_code)
    assert (await order_as(w, who)).status_code == 403


async def test_the_son_is_refused_until_his_mother_agrees(w: dict[str, Any]) -> None:
    await refused_everywhere(w, "son")
    family = await w["son_c"].get("/family")
    assert family.status_code == 200 and 'data-testid="elder-waiting"' in family.text
    given = await consent(w, "mother", w["link"], True)
    assert given.status_code == 200, given.text
    assert given.json()["consent"] is True and given.json()["consent_by"] == w["mother"].id
    mother = w["mother"].id
    for path in FAMILY_PAGES:
        page = await w["son_c"].get(f"{path}?for={mother}")
        assert page.status_code == 200, (path, page.text)
        assert 'data-testid="acting-for"' in page.text and "陈秀英" in page.text, path
    hours = await w["son_c"].get(f"/me/hours?for={mother}")
    assert "10" in hours.text  # her 600 minutes, not his empty wallet
    family = await w["son_c"].get("/family")
    assert f"/order?for={mother}" in family.text and f"/redeem?for={mother}" in family.text


async def test_orders_and_bookings_for_her_are_recorded_on_behalf(w: dict[str, Any]) -> None:
    assert (await consent(w, "mother", w["link"], True)).status_code == 200
    placed = await order_as(w, "son")
    assert placed.status_code == 201, placed.text
    order = await Order.get(id=placed.json()["id"])
    assert (order.resident_id, order.placed_by_id, order.on_behalf) == (
        w["mother"].id, w["son"].id, True,
    )  # fmt: skip
    # The page: the order form acting for her, and her upcoming services listed.
    page = await w["son_c"].get(f"/order?for={w['mother'].id}")
    tomorrow = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    form = {"csrf_token": csrf(page.text), "service": "visit", "day": tomorrow,
            "start": "09:00", "end": "10:00", "notes": ""}  # fmt: skip
    sent = await w["son_c"].post(f"/order?for={w['mother'].id}", data=form)
    assert sent.status_code == 303 and sent.headers["location"].endswith("placed=1")
    assert await Order.filter(resident_id=w["mother"].id, placed_by_id=w["son"].id).count() == 2
    listed = await w["son_c"].get(sent.headers["location"])
    assert f'data-testid="order-{order.id}"' in listed.text
    # Booking a haircut with her hours, from the "use hours" page acting for her.
    page = await w["son_c"].get(f"/redeem?for={w['mother'].id}")
    assert 'data-testid="donate-form"' not in page.text  # her hours go to her only
    form = {"csrf_token": csrf(page.text), "item": str(w["haircut"].id), "key": key(),
            "member": str(w["mother"].id), "day": tomorrow, "time": "10:00"}  # fmt: skip
    # Asked first, about her hours: what it costs her and what she has left.
    asked = await w["son_c"].post("/redeem", data=form)
    assert asked.status_code == 200 and "陈秀英的" in asked.text, asked.text
    assert "还剩 9小时30分 可用" in asked.text  # her 10 hours less the 30-minute haircut
    booked = await w["son_c"].post("/redeem", data={**form, "confirmed": "yes"})
    assert booked.status_code == 303, booked.text
    assert booked.headers["location"] == f"/redeem?for={w['mother'].id}&done=booked"
    redemption = await Redemption.get(member_id=w["mother"].id)
    assert (redemption.beneficiary_id, redemption.actor_id, redemption.on_behalf) == (
        w["mother"].id, w["son"].id, True,
    )  # fmt: skip
    assert (await ledger.balance((await ledger.wallet(w["mother"].id)).id)).available == 570
    # But not her hours spent on himself.
    body = {"item": w["haircut"].id, "key": key(), "member": w["mother"].id,
            "for": w["son"].id, "starts_at": f"{tomorrow}T11:00"}  # fmt: skip
    own = await w["son_c"].post("/api/v1/redemptions", json=body, headers=w["son_h"])
    assert own.status_code == 403


async def _visit(w: dict[str, Any], helper: str, n: int) -> Visit:
    now = datetime.now(UTC) - timedelta(days=1, hours=n)
    return await Visit.create(
        community=w["here"], resident=w["mother"], helper=w[helper], service_code="visit",
        status=VisitStatus.FLAGGED, flags="too_short", in_event=f"family-{n}", checked_in_at=now,
        received_in_at=now, checked_out_at=now + timedelta(hours=1), served_minutes=60,
        credit_minutes=60, raw_minutes=60,
    )  # fmt: skip


async def test_the_son_rates_her_visits_but_not_those_he_served(w: dict[str, Any]) -> None:
    other = await _visit(w, "helper", 1)
    his = await _visit(w, "son", 2)
    rate = "/api/v1/visits/{}/rating"
    before = await w["son_c"].post(rate.format(other.id), json={"rating": 5}, headers=w["son_h"])
    assert before.status_code == 403
    assert (await w["son_c"].get(f"/visits/{other.id}")).status_code == 403
    assert (await consent(w, "mother", w["link"], True)).status_code == 200
    listed = await w["son_c"].get(f"/visits?for={w['mother'].id}")
    assert f"/visits/{other.id}" in listed.text and f"/visits/{his.id}" in listed.text
    page = await w["son_c"].get(f"/visits/{his.id}")
    assert page.status_code == 200 and f"/visits/{his.id}/rating" not in page.text
    served = await w["son_c"].post(rate.format(his.id), json={"rating": 5}, headers=w["son_h"])
    assert served.status_code == 403
    page = await w["son_c"].get(f"/visits/{other.id}")
    assert f"/visits/{other.id}/rating" in page.text
    rated = await w["son_c"].post(rate.format(other.id), json={"rating": 4}, headers=w["son_h"])
    assert rated.status_code == 200, rated.text
    assert (await Visit.get(id=other.id)).rating == 4


async def test_an_unrelated_person_is_refused(w: dict[str, Any]) -> None:
    assert (await consent(w, "mother", w["link"], True)).status_code == 200
    await refused_everywhere(w, "stranger")
    assert (await consent(w, "stranger", w["link"], False)).status_code == 403
    assert (await consent(w, "son", w["link"], True)).status_code == 403  # not for himself
    assert (await consent(w, "far", w["link"], False)).status_code == 403  # other community
    assert (await FamilyLink.get(id=w["link"].id)).consent_at is not None


async def test_a_coordinator_records_consent_but_never_for_her_own_family(
    w: dict[str, Any],
) -> None:
    assert (await consent(w, "coordinator", w["aunt_link"], True)).status_code == 403
    assert (await FamilyLink.get(id=w["aunt_link"].id)).consent_at is None
    page = await w["coordinator_c"].get(f"/people/{w['aunt'].id}")
    assert f'data-testid="consent-give-{w["aunt_link"].id}"' not in page.text
    posted = await w["coordinator_c"].post(
        f"/people/{w['aunt'].id}/family/{w['aunt_link'].id}/consent",
        data={"csrf_token": csrf(page.text), "consent": "give"},
    )
    assert posted.status_code == 403
    # Another coordinator (here: the admin) records it for them, in the audit log.
    assert (await consent(w, "admin", w["aunt_link"], True)).status_code == 200
    # She records her mother's consent for her son from the mother's page.
    page = await w["coordinator_c"].get(f"/people/{w['mother'].id}")
    assert f'data-testid="consent-give-{w["link"].id}"' in page.text
    posted = await w["coordinator_c"].post(
        f"/people/{w['mother'].id}/family/{w['link'].id}/consent",
        data={"csrf_token": csrf(page.text), "consent": "give"},
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/people/{w['mother'].id}?done=consent_given#family"
    link = await FamilyLink.get(id=w["link"].id)
    assert link.consent_at is not None and link.consent_by_id == w["coordinator"].id
    event = await AuditEvent.filter(action="family.consent").order_by("-id").first()
    assert event is not None and event.actor_id == w["coordinator"].id
    assert event.on_behalf_of_id == w["mother"].id
    assert (await w["son_c"].get(f"/order?for={w['mother'].id}")).status_code == 200


async def test_withdrawn_consent_refuses_again(w: dict[str, Any]) -> None:
    me = await w["mother_c"].get("/me")
    assert f'data-testid="consent-give-{w["link"].id}"' in me.text
    url = f"/people/{w['mother'].id}/family/{w['link'].id}/consent"
    given = await w["mother_c"].post(url, data={"csrf_token": csrf(me.text), "consent": "give"})
    assert given.status_code == 303 and given.headers["location"].startswith("/me?done=")
    assert (await w["son_c"].get(f"/order?for={w['mother'].id}")).status_code == 200
    me = await w["mother_c"].get("/me?done=consent_given")
    assert 'data-testid="consent-done"' in me.text
    assert f'data-testid="consent-withdraw-{w["link"].id}"' in me.text
    gone = await w["mother_c"].post(url, data={"csrf_token": csrf(me.text), "consent": "withdraw"})
    assert gone.status_code == 303
    await refused_everywhere(w, "son")
    actions = await AuditEvent.filter(action__startswith="family.consent").values_list(
        "action", "actor_id", "on_behalf_of_id"
    )
    assert sorted(actions) == [
        ("family.consent", w["mother"].id, None),
        ("family.consent_withdrawn", w["mother"].id, None),
    ]
    bad = await w["mother_c"].post(url, data={"csrf_token": csrf(me.text), "consent": "maybe"})
    assert bad.status_code == 422


async def test_ids_past_32_bits_are_not_found(w: dict[str, Any]) -> None:
    assert (await consent(w, "mother", w["link"], True)).status_code == 200
    for path in FAMILY_PAGES:
        for raw in (str(BIG), "99999999999999999999999", "٣", "-1"):
            page = await w["son_c"].get(f"{path}?for={raw}")
            assert page.status_code == 404, (path, raw, page.status_code)
        # Numbers are read after NFKC (issue 16, item 9): "²" is the id 2, answered as "2" is.
        plain = (await w["son_c"].get(f"{path}?for=2")).status_code
        assert (await w["son_c"].get(f"{path}?for=²")).status_code == plain < 500, path
    api = f"/api/v1/members/{BIG}/family/1/consent"
    put = await w["admin_c"].put(api, json={"consent": True}, headers=w["admin_h"])
    assert put.status_code == 404
    api = f"/api/v1/members/{w['mother'].id}/family/{BIG}/consent"
    put = await w["admin_c"].put(api, json={"consent": True}, headers=w["admin_h"])
    assert put.status_code == 404
    page = await w["admin_c"].get("/me")
    form = {"csrf_token": csrf(page.text), "consent": "give"}
    for url in (f"/people/{BIG}/family/1/consent", f"/people/1/family/{BIG}/consent"):
        assert (await w["admin_c"].post(url, data=form)).status_code == 404
