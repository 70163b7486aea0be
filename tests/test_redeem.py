"""Redeeming, hand-over, donations and grants through the API, with every rule (both DBs)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import date
from typing import Any

import httpx
import pytest

from tests.conftest import balance, key, make_family, make_signed_up, make_world, signed_in_client
from timebank.ledger import service as ledger
from timebank.ledger.models import Account, AccountKind, LedgerTxn, TxnKind
from timebank.people.models import (
    Community,
    Member,
    ResidentProfile,
)
from timebank.redeem.models import RedeemItem, Redemption


async def give(member: Any, minutes: int, community: Any) -> None:
    await ledger.grant(
        community_id=community.id, member_id=member.id, minutes=minutes, key=key(),
        actor_id=member.id, reason="test",
    )  # fmt: skip


@pytest.fixture
async def w(app: Any) -> Any:
    world = await make_world("coordinator", "second", "elder", "son", "young", "stranger")
    world["app"] = app
    here = world["here"]
    await Member.filter(id=world["elder"].id).update(birth_date=date(1948, 3, 1))
    await Member.filter(id=world["son"].id).update(birth_date=date(1975, 6, 1))
    await Member.filter(id=world["young"].id).update(birth_date=date(1990, 1, 1))
    await make_family(world["son"], world["elder"])
    world["rice"] = await RedeemItem.create(
        community=here, kind="goods", name_zh="大米 5 斤", name_en="Rice 2.5 kg",
        price_minutes=120, stock=3,
    )  # fmt: skip
    world["haircut_card"] = await RedeemItem.create(
        community=here, kind="privilege", name_zh="理发优惠券", name_en="Haircut voucher",
        price_minutes=30,
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        world["stack"] = stack
        for name in ("coordinator", "second", "elder", "son", "young"):
            world[f"{name}_c"], world[f"{name}_h"] = await signed_in_client(stack, app, world[name])
        yield world


async def redeem(w: dict[str, Any], who: str, **body: Any) -> httpx.Response:
    body.setdefault("key", key())
    return await w[f"{who}_c"].post("/api/v1/redemptions", json=body, headers=w[f"{who}_h"])


async def test_redeem_goods_and_hand_over(w: dict[str, Any]) -> None:
    await give(w["elder"], 300, w["here"])
    catalog = await w["elder_c"].get(f"/api/v1/communities/{w['here'].id}/catalog")
    assert [i["name_zh"] for i in catalog.json()["items"]] == ["大米 5 斤", "理发优惠券"]
    tap = key()
    done = await redeem(w, "elder", item=w["rice"].id, key=tap)
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "to_hand_over" and done.json()["minutes"] == 120
    again = await redeem(w, "elder", item=w["rice"].id, key=tap)  # a retry: the same one
    assert again.json()["id"] == done.json()["id"]
    assert await Redemption.all().count() == 1
    assert await balance(w["elder"]) == 180
    assert (await RedeemItem.get(id=w["rice"].id)).stock == 2
    # The office's hand-over queue, then 核销 once.
    queue = await w["coordinator_c"].get("/api/v1/redemptions?status=to_hand_over")
    assert [r["id"] for r in queue.json()["redemptions"]] == [done.json()["id"]]
    url = f"/api/v1/redemptions/{done.json()['id']}/hand-over"
    assert (await w["elder_c"].post(url, headers=w["elder_h"])).status_code == 403
    handed = await w["coordinator_c"].post(url, headers=w["coordinator_h"])
    assert handed.json()["status"] == "handed_over"
    twice = await w["coordinator_c"].post(url, headers=w["coordinator_h"])
    assert twice.status_code == 409
    privilege = await redeem(w, "elder", item=w["haircut_card"].id)
    assert privilege.json()["status"] == "done"
    txns = await LedgerTxn.filter(kind=TxnKind.REDEEM).values_list("ref_type", "ref_id")
    assert sorted(txns) == [("redemption", str(done.json()["id"])),
                            ("redemption", str(privilege.json()["id"]))]  # fmt: skip


async def test_every_rule_says_why(w: dict[str, Any]) -> None:
    # Too few hours.
    poor = await redeem(w, "elder", item=w["rice"].id)
    assert poor.status_code == 409 and poor.json()["error"]["code"] == "insufficient_hours"
    assert "余额" in poor.json()["error"]["messages"]["zh-CN"] or poor.json()["error"]["message"]
    assert (await RedeemItem.get(id=w["rice"].id)).stock == 3  # nothing half-written
    assert await Redemption.all().count() == 0
    # The age gate (60 by default): 王小明 is 36, with no hardship category.
    await give(w["young"], 300, w["here"])
    young = await redeem(w, "young", item=w["haircut_card"].id)
    assert young.status_code == 422 and young.json()["error"]["code"] == "redeem_age"
    assert "60" in young.json()["error"]["messages"]["zh-CN"]
    # ... unless in a hardship category (低保).
    await ResidentProfile.create(member=w["young"], hardship="dibao")
    assert (await redeem(w, "young", item=w["haircut_card"].id)).status_code == 201
    # The son redeems for his mother (his hours, her haircut); not for a stranger.
    await give(w["son"], 300, w["here"])
    for_mother = await redeem(w, "son", item=w["haircut_card"].id, **{"for": w["elder"].id})
    assert for_mother.status_code == 201
    assert for_mother.json()["beneficiary"] == w["elder"].id
    for_himself = await redeem(w, "son", item=w["haircut_card"].id)
    assert for_himself.json()["error"]["code"] == "redeem_age"  # he is 51
    stranger = await redeem(w, "son", item=w["haircut_card"].id, **{"for": w["young"].id})
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "not_family"
    # Limits per day and per month.
    await Community.filter(id=w["here"].id).update(redeem_daily_minutes=60)
    await give(w["elder"], 600, w["here"])
    assert (await redeem(w, "elder", item=w["haircut_card"].id)).status_code == 201
    over = await redeem(w, "elder", item=w["rice"].id)  # 30 today + 120 > 60
    assert over.status_code == 409 and over.json()["error"]["code"] == "redeem_day_limit"
    await Community.filter(id=w["here"].id).update(
        redeem_daily_minutes=None, redeem_monthly_minutes=100
    )
    month = await redeem(w, "elder", item=w["rice"].id)
    assert month.json()["error"]["code"] == "redeem_month_limit"
    await Community.filter(id=w["here"].id).update(redeem_monthly_minutes=None)
    # No stock left.
    await RedeemItem.filter(id=w["rice"].id).update(stock=0)
    empty = await redeem(w, "elder", item=w["rice"].id)
    assert empty.status_code == 409 and empty.json()["error"]["code"] == "out_of_stock"
    # Bad input.
    assert (await redeem(w, "elder", item="rice")).status_code == 422
    assert (await redeem(w, "elder", item=w["rice"].id, key="short")).status_code == 422
    assert (await redeem(w, "elder", item=99999)).status_code == 404
    inactive = await w["coordinator_c"].patch(
        f"/api/v1/catalog/{w['haircut_card'].id}", json={"active": False},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert inactive.status_code == 200
    assert (await redeem(w, "elder", item=w["haircut_card"].id)).status_code == 409


async def test_races_for_the_last_hours_and_the_last_bag(w: dict[str, Any]) -> None:
    # Enough hours for one bag of rice, two redemptions at once: one wins.
    await give(w["elder"], 150, w["here"])
    results = await asyncio.gather(*(redeem(w, "elder", item=w["rice"].id) for _ in range(2)))
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
    assert await balance(w["elder"]) == 30
    # One bag left, four members with hours race for it: one wins, stock never below zero.
    await RedeemItem.filter(id=w["rice"].id).update(stock=1)
    people = [w["elder"]]
    async with AsyncExitStack() as stack:
        clients = []
        for n in range(3):
            member = await make_signed_up(w["here"], "resident", name=f"老人{n}")
            await Member.filter(id=member.id).update(birth_date=date(1940, 1, 1))
            await give(member, 200, w["here"])
            clients.append(await signed_in_client(stack, w["app"], member))
            people.append(member)
        await give(w["elder"], 200, w["here"])
        clients.append((w["elder_c"], w["elder_h"]))
        results = await asyncio.gather(
            *(
                c.post("/api/v1/redemptions", json={"item": w["rice"].id, "key": key()}, headers=h)
                for c, h in clients
            )  # fmt: skip
        )
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409], [r.text for r in results]
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {"out_of_stock"}
    assert (await RedeemItem.get(id=w["rice"].id)).stock == 0
    assert await Redemption.filter(item=w["rice"]).count() == 2  # the first race's, and this


async def test_donations(w: dict[str, Any]) -> None:
    await give(w["son"], 300, w["here"])
    url = "/api/v1/me/donations"
    to_mother = await w["son_c"].post(
        url, json={"to": w["elder"].id, "minutes": 120, "key": key()}, headers=w["son_h"]
    )
    assert to_mother.status_code == 201, to_mother.text
    assert await balance(w["elder"]) == 120 and await balance(w["son"]) == 180
    to_pool = await w["son_c"].post(
        url, json={"to": "pool", "minutes": 60, "key": key(), "reason": "公益"},
        headers=w["son_h"],
    )  # fmt: skip
    assert to_pool.status_code == 201
    pool = await Account.get(kind=AccountKind.POOL, community_id=w["here"].id)
    assert pool.posted_balance == 60
    stranger = await w["son_c"].post(
        url, json={"to": w["young"].id, "minutes": 10, "key": key()}, headers=w["son_h"]
    )
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "not_family"
    too_much = await w["son_c"].post(
        url, json={"to": "pool", "minutes": 500, "key": key()}, headers=w["son_h"]
    )
    assert too_much.status_code == 409
    assert (await w["son_c"].post(url, json={"to": "x"}, headers=w["son_h"])).status_code == 422


async def test_grants_and_four_eyes(w: dict[str, Any]) -> None:
    await Community.filter(id=w["here"].id).update(grant_review_minutes=600)
    url = "/api/v1/grants"
    small = await w["coordinator_c"].post(
        url, json={"member": w["elder"].id, "minutes": 120, "reason": "独居老人", "key": key()},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert small.status_code == 201 and small.json()["status"] == "posted", small.text
    assert await balance(w["elder"]) == 120
    no_reason = await w["coordinator_c"].post(
        url, json={"member": w["elder"].id, "minutes": 60, "key": key()},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert no_reason.status_code == 422
    large = await w["coordinator_c"].post(
        url, json={"member": w["elder"].id, "minutes": 1200, "reason": "失独", "key": key()},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert large.json()["status"] == "pending" and await balance(w["elder"]) == 120
    decision = f"{url}/{large.json()['id']}/decision"
    own = await w["coordinator_c"].post(
        decision, json={"approve": True}, headers=w["coordinator_h"]
    )
    assert own.status_code == 403 and own.json()["error"]["code"] == "four_eyes"
    approved = await w["second_c"].post(decision, json={"approve": True}, headers=w["second_h"])
    assert approved.json()["status"] == "posted" and await balance(w["elder"]) == 1320
    again = await w["second_c"].post(decision, json={"approve": True}, headers=w["second_h"])
    assert again.status_code == 409
    # From the public pool: only what was donated.
    pool_grant = await w["coordinator_c"].post(
        url, json={"member": w["elder"].id, "minutes": 30, "reason": "孤寡", "key": key(),
                   "source": "pool"}, headers=w["coordinator_h"],
    )  # fmt: skip
    assert pool_grant.status_code == 409, pool_grant.text  # the pool is empty
    pending = await w["second_c"].get(f"{url}?status=pending")
    assert pending.json()["grants"] == []
    refused = await w["elder_c"].get(url)
    assert refused.status_code == 403


async def test_a_service_booked_with_hours(w: dict[str, Any]) -> None:
    """Booked: hours held. Served: they go to the helper. Cancelled: back. Never: expire."""
    from datetime import UTC, datetime, timedelta

    from timebank.orders.models import Order
    from timebank.redeem.service import expire_unserved
    from timebank.visits import placards
    from timebank.visits.models import Visit

    haircut = await w["coordinator_c"].post(
        f"/api/v1/communities/{w['here'].id}/catalog",
        json={"kind": "service", "name_zh": "上门理发", "name_en": "Haircut at home",
              "price_minutes": 45, "service": "haircut"},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert haircut.status_code == 201, haircut.text
    item = haircut.json()["id"]
    no_time = await redeem(w, "elder", item=item)
    assert no_time.status_code == 422 and no_time.json()["error"]["code"] == "bad_time"
    # Too few hours: refused, and no order is left behind.
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    poor = await redeem(w, "elder", item=item, starts_at=soon)
    assert poor.status_code == 409 and poor.json()["error"]["code"] == "insufficient_hours"
    assert await Order.all().count() == 0 and await Redemption.all().count() == 0
    await give(w["elder"], 200, w["here"])
    tap = key()
    booked = await redeem(w, "elder", item=item, starts_at=soon, key=tap)
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == "reserved" and booked.json()["order"]
    again = await redeem(w, "elder", item=item, starts_at=soon, key=tap)
    assert again.json()["id"] == booked.json()["id"] and await Order.all().count() == 1
    wallet = await ledger.balance((await ledger.wallet(w["elder"].id)).id)
    assert (wallet.posted, wallet.available) == (200, 155)  # 45 held
    # The helper takes the order, checks in and out at the placard: the hold goes to them.
    order_id = booked.json()["order"]
    took = await w["son_c"].post(
        f"/api/v1/orders/{order_id}/transitions", json={"action": "take"}, headers=w["son_h"]
    )
    assert took.status_code == 200, took.text
    placard = await placards.placard_of(w["elder"])
    token = placards.make_token(w["app"].state.settings.secret_key, w["elder"].id,
                                placard.generation)  # fmt: skip
    opened = await w["son_c"].post(
        f"/api/v1/placards/{token}/check-in", json={"event_id": key()}, headers=w["son_h"]
    )
    assert opened.status_code == 201, opened.text
    await Visit.filter(id=opened.json()["id"]).update(
        checked_in_at=datetime.now(UTC) - timedelta(minutes=20)  # the window opened 25 ago
    )
    closed = await w["son_c"].post(
        f"/api/v1/placards/{token}/check-out", json={"event_id": key()}, headers=w["son_h"]
    )
    assert closed.json()["status"] == "verified", closed.text
    assert closed.json()["credit_minutes"] == 45  # the price held, not the minutes served
    posted = await LedgerTxn.get(id=closed.json()["ledger_txn"])
    assert posted.kind is TxnKind.POST
    assert (await Redemption.get(id=booked.json()["id"])).status.value == "served"
    assert await balance(w["son"]) == 45
    wallet = await ledger.balance((await ledger.wallet(w["elder"].id)).id)
    assert (wallet.posted, wallet.available, wallet.pending_debits) == (155, 155, 0)
    # The resident rates it.
    rated = await w["elder_c"].post(
        f"/api/v1/visits/{closed.json()['id']}/rating", json={"rating": 5},
        headers=w["elder_h"],
    )  # fmt: skip
    assert rated.status_code == 200 and rated.json()["rating"] == 5
    # Cancelled: the hours come back (void).
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    second = await redeem(w, "elder", item=item, starts_at=later)
    cancelled = await w["elder_c"].post(
        f"/api/v1/orders/{second.json()['order']}/transitions",
        json={"action": "cancel", "reason": "改天"}, headers=w["elder_h"],
    )  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    assert (await Redemption.get(id=second.json()["id"])).status.value == "cancelled"
    assert await LedgerTxn.filter(kind=TxnKind.VOID).count() == 1
    # Never served: expired a day after its window, by the job.
    third = await redeem(w, "elder", item=item, starts_at=later)
    assert await expire_unserved() == 0
    assert await expire_unserved(datetime.now(UTC) + timedelta(days=4)) == 1
    assert (await Redemption.get(id=third.json()["id"])).status.value == "expired"
    wallet = await ledger.balance((await ledger.wallet(w["elder"].id)).id)
    assert (wallet.posted, wallet.available) == (155, 155)


async def test_group_activity_hours_are_given_not_redeemed(w: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from timebank.catalog.service import catalog
    from timebank.visits.models import Visit, VisitStatus

    await catalog(w["here"])  # the community's services, "group" among them
    now = datetime.now(UTC)
    posted = await ledger.credit_service(
        helper_id=w["elder"].id, community_id=w["here"].id, minutes=60, visit_id="g1",
        key=key(),
    )  # fmt: skip
    await Visit.create(
        community=w["here"], resident=w["young"], helper=w["elder"], service_code="group",
        status=VisitStatus.VERIFIED, in_event=key(), checked_in_at=now, received_in_at=now,
        credit_minutes=60, ledger_txn_id=posted.txn.id,
    )  # fmt: skip
    await give(w["elder"], 30, w["here"])  # 90 in all, 60 of them from a group activity
    # Off by default: everything can be redeemed.
    assert (await redeem(w, "elder", item=w["haircut_card"].id)).status_code == 201
    await Community.filter(id=w["here"].id).update(group_hours_donate_only=True)
    refused = await redeem(w, "elder", item=w["haircut_card"].id)  # 60 left, all group
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "group_hours"
    assert "60" in refused.json()["error"]["messages"]["zh-CN"]
    # Giving 30 of them away leaves 30 locked; and a setting on the community page.
    given = await w["elder_c"].post(
        "/api/v1/me/donations", json={"to": "pool", "minutes": 30, "key": key()},
        headers=w["elder_h"],
    )  # fmt: skip
    assert given.status_code == 201
    assert (await redeem(w, "elder", item=w["haircut_card"].id)).status_code == 409
    await give(w["elder"], 30, w["here"])
    assert (await redeem(w, "elder", item=w["haircut_card"].id)).status_code == 201
    settings = await w["coordinator_c"].get(f"/api/v1/communities/{w['here'].id}")
    assert settings.json()["settings"]["group_hours_donate_only"] is True


async def test_the_fund_budget(w: dict[str, Any]) -> None:
    fund = await Account.get_or_none(kind=AccountKind.ISSUANCE, community_id=w["here"].id)
    issued = -fund.posted_balance if fund else 0
    # The budget is a safeguard against minting hours: set by an administrator only.
    refused = await w["coordinator_c"].patch(
        f"/api/v1/communities/{w['here'].id}", json={"fund_budget_minutes": issued + 100},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert refused.status_code == 403, refused.text
    admin_c, admin_h = await signed_in_client(
        w["stack"], w["app"], await make_signed_up(w["here"], "admin", name="区管理员")
    )
    set_budget = await admin_c.patch(
        f"/api/v1/communities/{w['here'].id}", json={"fund_budget_minutes": issued + 100},
        headers=admin_h,
    )  # fmt: skip
    assert set_budget.status_code == 200, set_budget.text
    url = "/api/v1/grants"
    first = await w["coordinator_c"].post(
        url, json={"member": w["elder"].id, "minutes": 60, "reason": "兜底", "key": key()},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert first.status_code == 201 and first.json()["status"] == "posted"
    over = await w["coordinator_c"].post(
        url, json={"member": w["elder"].id, "minutes": 60, "reason": "兜底", "key": key()},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert over.status_code == 409 and over.json()["error"]["code"] == "budget_exhausted"
    assert "预算" in over.json()["error"]["messages"]["zh-CN"]
    assert await balance(w["elder"]) == 60
    # No budget: no limit.
    await admin_c.patch(
        f"/api/v1/communities/{w['here'].id}", json={"fund_budget_minutes": None},
        headers=admin_h,
    )  # fmt: skip
    again = await w["coordinator_c"].post(
        url, json={"member": w["elder"].id, "minutes": 60, "reason": "兜底", "key": key()},
        headers=w["coordinator_h"],
    )  # fmt: skip
    assert again.status_code == 201
