"""Pairings and orders: every transition, every rule, the take race, plans, suggestions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import make_member, make_world
from timebank.catalog import service as catalog
from timebank.errors import Conflict, Forbidden, Invalid
from timebank.orders import service as orders
from timebank.orders.models import Order, OrderEvent, OrderStatus
from timebank.pairing import service as pairing
from timebank.pairing.models import PairingEvent, PairingStatus
from timebank.pairing.suggest import suggest
from timebank.people import members
from timebank.people.audit import Actor
from timebank.people.models import Community, Member

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def world(orm: None) -> dict[str, Any]:
    w = await make_world(
        "coordinator",
        "second",
        "helper",
        "helper2",
        "resident",
        "resident2",
        "stranger",
        make=make_member,
    )
    w["actor"] = Actor(w["coordinator"].id, "127.0.0.1")
    return w


async def test_pairing_lifecycle_records_every_transition(world: dict[str, Any]) -> None:
    actor = world["actor"]
    p = await pairing.propose(actor, helper=world["helper"], resident=world["resident"])
    assert p.status is PairingStatus.PROPOSED
    p = await pairing.transition(actor, p, "approve", tz=TZ)
    assert p.status is PairingStatus.APPROVED and p.started_on == datetime.now(TZ).date()
    p = await pairing.transition(actor, p, "suspend", reason="住院", tz=TZ)
    assert p.status is PairingStatus.SUSPENDED
    p = await pairing.transition(actor, p, "resume", tz=TZ)
    assert p.status is PairingStatus.APPROVED
    p = await pairing.transition(actor, p, "end", reason="搬家", tz=TZ)
    assert p.status is PairingStatus.ENDED
    events = await PairingEvent.filter(pairing=p).order_by("id")
    assert [(e.from_status, e.to_status, e.reason) for e in events] == [
        ("", "proposed", ""),
        ("proposed", "approved", ""),
        ("approved", "suspended", "住院"),
        ("suspended", "approved", ""),
        ("approved", "ended", "搬家"),
    ]
    assert all(e.actor_id == world["coordinator"].id for e in events)
    with pytest.raises(Conflict) as caught:
        await pairing.transition(actor, p, "resume", tz=TZ)
    assert caught.value.code == "wrong_state"
    rejected = await pairing.propose(actor, helper=world["helper"], resident=world["resident"])
    with pytest.raises(Invalid):
        await pairing.transition(actor, rejected, "reject", tz=TZ)  # a reason is needed
    rejected = await pairing.transition(actor, rejected, "reject", reason="不合适", tz=TZ)
    assert rejected.status is PairingStatus.REJECTED
    with pytest.raises(Invalid):
        await pairing.transition(actor, rejected, "fly", tz=TZ)


async def test_pairing_rules(world: dict[str, Any]) -> None:
    actor = world["actor"]
    cases = [
        (world["helper"], world["helper"], "same_person"),
        (world["resident"], world["resident2"], "not_a_helper"),
        (world["helper"], world["helper2"], "not_a_resident"),
        (world["helper"], world["stranger"], "other_community"),
    ]
    for helper, resident, code in cases:
        with pytest.raises(Invalid) as caught:
            await pairing.propose(actor, helper=helper, resident=resident)
        assert caught.value.code == code
    cross = await pairing.propose(
        actor, helper=world["helper"], resident=world["stranger"], across_communities=True
    )
    assert cross.community_id == world["there"].id  # type: ignore[attr-defined]
    await pairing.propose(actor, helper=world["helper"], resident=world["resident"])
    with pytest.raises(Conflict) as caught:
        await pairing.propose(actor, helper=world["helper"], resident=world["resident"])
    assert caught.value.code == "already_paired"
    # Capacity: a helper serving as many residents as they said is full.
    await members.update(actor, world["helper2"], {"capacity": 1}, admin=True)
    first = await pairing.propose(actor, helper=world["helper2"], resident=world["resident"])
    second = await pairing.propose(actor, helper=world["helper2"], resident=world["resident2"])
    await pairing.transition(actor, first, "approve", tz=TZ)
    with pytest.raises(Conflict) as caught:
        await pairing.transition(actor, second, "approve", tz=TZ)
    assert caught.value.code == "no_capacity"


async def test_four_eyes(world: dict[str, Any]) -> None:
    await Community.filter(id=world["here"].id).update(four_eyes=True)
    p = await pairing.propose(world["actor"], helper=world["helper"], resident=world["resident"])
    with pytest.raises(Conflict) as caught:
        await pairing.transition(world["actor"], p, "approve", tz=TZ)
    assert caught.value.code == "four_eyes"
    other = Actor(world["second"].id)
    assert (await pairing.transition(other, p, "approve", tz=TZ)).status is PairingStatus.APPROVED


async def test_concurrent_approvals_respect_capacity(world: dict[str, Any]) -> None:
    actor = world["actor"]
    await members.update(actor, world["helper"], {"capacity": 1}, admin=True)
    a = await pairing.propose(actor, helper=world["helper"], resident=world["resident"])
    b = await pairing.propose(actor, helper=world["helper"], resident=world["resident2"])
    results = await asyncio.gather(
        pairing.transition(actor, a, "approve", tz=TZ),
        pairing.transition(actor, b, "approve", tz=TZ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Pairing"]
    assert await pairing.active_count(world["helper"].id) == 1


def window(hours_ahead: float, length: float = 1) -> tuple[datetime, datetime]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours_ahead)
    return start, start + timedelta(hours=length)


async def place(world: dict[str, Any], hours_ahead: float = 24, **kw: Any) -> Order:
    starts, ends = window(hours_ahead)
    return await orders.place(
        world["actor"],
        resident=kw.pop("resident", world["resident"]),
        service_code=kw.pop("service_code", "cleaning"),
        starts_at=starts,
        ends_at=ends,
        on_behalf=True,
        **kw,
    )


async def test_order_lifecycle(world: dict[str, Any]) -> None:
    actor, helper = world["actor"], world["helper"]
    order = await place(world)
    assert order.status is OrderStatus.OPEN and order.on_behalf
    order = await orders.move(Actor(helper.id), order, "take", helper=helper)
    assert order.status is OrderStatus.ASSIGNED and order.helper_id == helper.id  # type: ignore[attr-defined]
    order = await orders.move(actor, order, "release")
    assert order.status is OrderStatus.OPEN and order.helper_id is None  # type: ignore[attr-defined]
    order = await orders.move(actor, order, "assign", helper=world["helper2"])
    for action, status in (
        ("start", OrderStatus.IN_PROGRESS),
        ("complete", OrderStatus.COMPLETED),
    ):
        order = await orders.move(actor, order, action)
        assert order.status is status
    order = await orders.move(actor, order, "flag", reason="时长偏短")
    assert order.status is OrderStatus.FLAGGED and order.reason == "时长偏短"
    order = await orders.move(actor, order, "verify")
    assert order.status is OrderStatus.VERIFIED
    with pytest.raises(Conflict):
        await orders.move(actor, order, "cancel", reason="x")
    cancelled = await orders.move(actor, await place(world), "cancel", reason="老人住院")
    assert cancelled.status is OrderStatus.CANCELLED
    missed = await orders.move(actor, await place(world), "assign", helper=helper)
    with pytest.raises(Invalid):
        await orders.move(actor, missed, "no_show")  # a reason is needed
    missed = await orders.move(actor, missed, "no_show", reason="无人应门")
    assert missed.status is OrderStatus.NO_SHOW
    events = await OrderEvent.filter(order_id=order.id).values_list("to_status", flat=True)
    assert list(events) == [
        "open", "assigned", "open", "assigned", "in_progress", "completed", "flagged", "verified"
    ]  # fmt: skip


async def test_order_rules(world: dict[str, Any]) -> None:
    actor = world["actor"]
    with pytest.raises(Invalid) as caught:
        await place(world, service_code="skydiving")
    assert caught.value.code == "unknown_service"
    with pytest.raises(Invalid):
        await place(world, resident=world["helper"])
    starts, _ = window(24)
    for ends in (starts, starts + timedelta(hours=13)):
        with pytest.raises(Invalid):
            await orders.place(
                actor, resident=world["resident"], service_code="cleaning",
                starts_at=starts, ends_at=ends, on_behalf=True,
            )  # fmt: skip
    with pytest.raises(Invalid):
        await place(world, hours_ahead=-5)
    order = await place(world)
    far_helper = await make_member(world["there"], "helper")
    with pytest.raises(Forbidden):
        await orders.move(actor, order, "take", helper=far_helper)
    with pytest.raises(Invalid):
        await orders.move(actor, order, "take", helper=world["resident2"])
    # No two overlapping orders for one helper.
    await orders.move(actor, order, "take", helper=world["helper"])
    clash = await place(world, hours_ahead=24.5, resident=world["resident2"])
    with pytest.raises(Conflict) as caught:
        await orders.move(actor, clash, "take", helper=world["helper"])
    assert caught.value.code == "helper_busy"
    later = await place(world, hours_ahead=26, resident=world["resident2"])
    assert (await orders.move(actor, later, "take", helper=world["helper"])).status is (
        OrderStatus.ASSIGNED
    )


async def test_two_helpers_race_for_one_order(world: dict[str, Any]) -> None:
    order = await place(world)
    helpers = [world["helper"], world["helper2"]] + [
        await make_member(world["here"], "helper") for _ in range(4)
    ]
    results = await asyncio.gather(
        *(orders.move(Actor(h.id), order, "take", helper=h) for h in helpers),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, Order)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == len(helpers) - 1
    assert all(r.code == "already_taken" for r in lost)
    stored = await Order.get(id=order.id)
    assert stored.helper_id == won[0].helper_id  # type: ignore[attr-defined]
    assert await OrderEvent.filter(order_id=order.id, to_status="assigned").count() == 1


async def test_plans_generate_due_orders_once(world: dict[str, Any]) -> None:
    actor = world["actor"]
    p = await pairing.propose(actor, helper=world["helper"], resident=world["resident"])
    p = await pairing.transition(actor, p, "approve", tz=TZ)
    start = p.started_on
    assert start is not None
    await pairing.add_plan_item(actor, p, service_code="meal_delivery", every_days=1, start="11:30")
    await pairing.add_plan_item(actor, p, service_code="cleaning", every_days=7, start="15:00")
    with pytest.raises(Invalid):
        await pairing.add_plan_item(actor, p, service_code="cleaning", every_days=0, start="15:00")
    with pytest.raises(Invalid):
        await pairing.add_plan_item(actor, p, service_code="cleaning", every_days=7, start="25:00")
    with pytest.raises(Invalid):
        await pairing.add_plan_item(
            actor, p, service_code="cleaning", every_days=7, start="15:00", duration_minutes=999
        )
    assert await orders.generate(start, tz=TZ) == 2
    assert await orders.generate(start, tz=TZ) == 0  # once per item and day
    assert await orders.generate(start + timedelta(days=1), tz=TZ) == 1  # meals only
    assert await orders.generate(start + timedelta(days=7), tz=TZ) == 2
    assert await orders.generate(start - timedelta(days=1), tz=TZ) == 0
    today = await orders.tasks(world["helper"], start, tz=TZ)
    assert [(o.service_code, o.starts_at.astimezone(TZ).strftime("%H:%M")) for o in today] == [
        ("meal_delivery", "11:30"),
        ("cleaning", "15:00"),
    ]
    assert all(o.status is OrderStatus.ASSIGNED and o.pairing_id == p.id for o in today)
    await pairing.transition(actor, p, "suspend", reason="住院", tz=TZ)
    assert await orders.generate(start + timedelta(days=2), tz=TZ) == 0


async def test_generation_counts_local_days(world: dict[str, Any]) -> None:
    # 07:00 in Shanghai is 23:00 UTC the day before: the order belongs to the local day.
    actor = world["actor"]
    p = await pairing.propose(actor, helper=world["helper"], resident=world["resident"])
    p = await pairing.transition(actor, p, "approve", tz=TZ)
    await pairing.add_plan_item(actor, p, service_code="visit", every_days=1, start="07:00")
    day = p.started_on
    assert day is not None
    await orders.generate(day, tz=TZ)
    (order,) = await orders.tasks(world["helper"], day, tz=TZ)
    assert order.starts_at.astimezone(UTC).date() == day - timedelta(days=1)
    assert order.due_on == day


async def test_suggestions_rank_skills_first_and_say_why(world: dict[str, Any]) -> None:
    actor = world["actor"]
    here = world["here"]
    await members.update(actor, world["resident"], {"needs": ["bathing"], "lat": "30.0",
                                                      "lon": "114.0"}, admin=True)  # fmt: skip
    bather = await make_member(here, "helper", name="会助浴")
    await members.update(actor, bather, {"skills": ["bathing"]}, admin=True)
    near = await make_member(here, "helper", name="住得近")
    await members.update(actor, near, {"lat": "30.001", "lon": "114.001"}, admin=True)
    full = await make_member(here, "helper", name="满员")
    await members.update(actor, full, {"skills": ["bathing"], "capacity": 0}, admin=True)
    resident = await Member.get(id=world["resident"].id)  # with the location just set
    ranked = await suggest(resident)
    names = [s.helper.name for s in ranked]
    assert names[0] == "会助浴" and names[1] == "住得近"
    assert "满员" not in names  # no free capacity
    assert {"reason": "skills", "services": ["bathing"]} in ranked[0].reasons
    assert any(r["reason"] == "distance" and r["km"] < 1 for r in ranked[1].reasons)
    # Already paired helpers are not suggested again.
    await pairing.propose(actor, helper=bather, resident=world["resident"])
    assert "会助浴" not in [s.helper.name for s in await suggest(resident)]


async def test_catalog_seeded_and_edited(world: dict[str, Any]) -> None:
    services = await catalog.catalog(world["here"])
    assert {s.code for s in services} >= {"meal_help", "bathing", "visit"}
    bathing = next(s for s in services if s.code == "bathing")
    assert bathing.name_zh == "助浴" and bathing.needs_confirmation
    updated = await catalog.update_service(
        world["actor"], world["here"], "bathing", {"max_minutes": 150, "multiplier": "1.5"}
    )
    assert updated.max_minutes == 150 and updated.multiplier_milli == 1500
    with pytest.raises(Invalid):
        await catalog.update_service(
            world["actor"], world["here"], "bathing", {"typical_minutes": 200}
        )
    await catalog.update_service(world["actor"], world["here"], "haircut", {"active": False})
    with pytest.raises(Invalid):
        await place(world, service_code="haircut")
    other = await catalog.catalog(world["there"])
    assert next(s for s in other if s.code == "haircut").active
