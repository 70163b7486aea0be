"""The order's state machine (``orders.steps``): every allowed transition writes the order
and its history row (actor, reason); every other one is refused and writes nothing (both
databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import make_community, make_member
from timebank.db.steps import run
from timebank.errors import Conflict, Invalid, TimebankError
from timebank.orders import service as orders
from timebank.orders import steps
from timebank.orders.models import Order, OrderEvent, OrderStatus
from timebank.people.audit import Actor
from timebank.people.models import AuditEvent

S = OrderStatus


@pytest.fixture
async def world(orm: None) -> dict[str, Any]:
    here = await make_community("桂花社区")
    return {
        "here": here,
        "actor": Actor((await make_member(here, "coordinator", name="李芳")).id, "127.0.0.1"),
        "helper": await make_member(here, "helper", name="张建国"),
        "resident": await make_member(here, "resident", name="陈秀英"),
        "next": 0,
    }


async def order_in(world: dict[str, Any], status: OrderStatus) -> Order:
    """A fresh order in ``status`` (with a helper once it has one), in a window of its own."""
    world["next"] += 1
    starts = datetime.now(UTC) + timedelta(days=1, hours=2 * world["next"])
    return await Order.create(
        community=world["here"],
        resident=world["resident"],
        helper=None if status is S.OPEN else world["helper"],
        service_code="cleaning",
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        status=status,
    )


async def written(order: Order) -> tuple[int, int]:
    """How many history rows and audit rows the order has."""
    events = await OrderEvent.filter(order_id=order.id).count()
    audits = await AuditEvent.filter(target_type="order", target_id=str(order.id)).count()
    return events, audits


async def test_every_allowed_transition_is_recorded_and_every_other_refused(
    world: dict[str, Any],
) -> None:
    actor, helper = world["actor"], world["helper"]
    for action, (sources, target, _) in steps.MOVES.items():
        for source in S:
            order = await order_in(world, source)
            reason = f"{action} 的原因"
            chosen = helper if action in ("take", "assign") else None
            if source not in sources:
                with pytest.raises(Conflict) as refused:
                    await orders.move(actor, order, action, helper=chosen, reason=reason)
                assert refused.value.status == 409
                assert refused.value.code in ("wrong_state", "already_taken"), (action, source)
                stored = await Order.get(id=order.id)
                assert stored.status is source and await written(order) == (0, 0)
                continue
            moved = await orders.move(actor, order, action, helper=chosen, reason=reason)
            assert moved.status is target, (action, source)
            (event,) = await OrderEvent.filter(order_id=order.id)
            assert (event.from_status, event.to_status) == (source.value, target.value)
            assert event.actor_id == actor.member_id and event.reason == reason
            # The helper taking or given the order; none once released; else the same.
            kept = chosen or (None if source is S.OPEN else helper)
            assert event.helper_id == (None if action == "release" or kept is None else kept.id)
            assert moved.helper_id == event.helper_id
            assert moved.reason == (reason if action in steps.KEEPS_REASON else "")
            assert await written(order) == (1, 1)


async def test_a_transition_without_its_reason_or_unknown_is_refused(
    world: dict[str, Any],
) -> None:
    actor = world["actor"]
    for action, (sources, _, needs_reason) in steps.MOVES.items():
        if not needs_reason:
            continue
        order = await order_in(world, sources[0])
        for reason in ("", "  ", "x" * 301):
            with pytest.raises(Invalid) as refused:
                await orders.move(actor, order, action, reason=reason)
            assert refused.value.status == 422
            assert refused.value.code in ("reason_required", "reason_too_long")
        assert (await Order.get(id=order.id)).status is sources[0]
        assert await written(order) == (0, 0)
    order = await order_in(world, S.OPEN)
    with pytest.raises(Invalid) as refused:
        await orders.move(actor, order, "fly")
    assert refused.value.code == "unknown_action" and await written(order) == (0, 0)


async def test_steps_refuse_an_order_changed_since_it_was_read(world: dict[str, Any]) -> None:
    """Check-in reads the order, then moves it: when it changed in between, nothing is
    written and the caller hears why."""
    order = await order_in(world, S.OPEN)  # read as assigned, but open now
    with pytest.raises(TimebankError) as refused:
        await run(
            steps.move(
                order_id=order.id, action="start", source=S.ASSIGNED, actor_id=None,
                helper_id=world["helper"].id, at=datetime.now(UTC),
            )
        )  # fmt: skip
    assert refused.value.status == 409 and refused.value.code == "order_changed"
    assert (await Order.get(id=order.id)).status is S.OPEN and await written(order) == (0, 0)


async def test_an_order_follows_its_visit_only_from_the_state_it_is_expected_in(
    world: dict[str, Any],
) -> None:
    actor_id = world["actor"].member_id
    flagged = await order_in(world, S.FLAGGED)
    cancelled = await order_in(world, S.CANCELLED)
    for order, expected in ((flagged, True), (cancelled, False)):
        followed = await run(
            steps.follow(
                order_id=order.id, action="verify", when=S.FLAGGED, actor_id=actor_id,
                at=datetime.now(UTC),
            )
        )  # fmt: skip
        assert followed is expected
    assert (await Order.get(id=flagged.id)).status is S.VERIFIED
    (event,) = await OrderEvent.filter(order_id=flagged.id)
    assert (event.from_status, event.to_status, event.actor_id) == ("flagged", "verified", actor_id)
    assert (await Order.get(id=cancelled.id)).status is S.CANCELLED
    assert await OrderEvent.filter(order_id=cancelled.id).count() == 0
