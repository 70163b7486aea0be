"""The coordinator's pages: approving a pairing says so and makes no visit already late,
and the visits page shows no empty "my visits" to a coordinator who has none."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import csrf, make_community, make_signed_up, page_client
from timebank import calendar
from timebank.orders.models import Order
from timebank.pairing import service as pairing_service
from timebank.people.audit import Actor

TZ = ZoneInfo("Asia/Shanghai")


async def test_approving_a_pairing_says_so_and_makes_no_order_already_late(app: Any) -> None:
    here = await make_community("桂花社区")
    coordinator = await make_signed_up(here, "coordinator", name="李芳")
    helper = await make_signed_up(here, "helper", name="张建国")
    resident = await make_signed_up(here, "resident", name="陈秀英")
    pairing = await pairing_service.propose(Actor(None), helper=helper, resident=resident)
    # Every day at midnight: today's has always passed by the time anyone approves.
    await pairing_service.add_plan_item(
        Actor(coordinator.id), pairing, service_code="visit", every_days=1, start="00:00"
    )
    async with AsyncExitStack() as stack:
        client = await page_client(stack, app, coordinator)
        page = await client.get(f"/pairings/{pairing.id}")
        approved = await client.post(
            f"/pairings/{pairing.id}/transition",
            data={"csrf_token": csrf(page.text), "action": "approve"},
        )
        assert approved.headers["location"] == f"/pairings/{pairing.id}?done=approve"
        page = await client.get(approved.headers["location"])
        assert 'data-testid="done">已批准结对：张建国 将为 陈秀英 服务。</p>' in page.text
        assert 'data-testid="done"' not in (await client.get(f"/pairings/{pairing.id}")).text
    today = calendar.local_today(TZ)
    due = sorted(o.due_on for o in await Order.filter(pairing_id=pairing.id))
    assert due == [today.fromordinal(today.toordinal() + 1)]  # tomorrow's, not today's


async def test_a_coordinator_sees_no_empty_list_of_their_own_visits(app: Any) -> None:
    here = await make_community("桂花社区")
    coordinator = await make_signed_up(here, "coordinator", name="李芳")
    helper = await make_signed_up(here, "helper", name="张建国")
    async with AsyncExitStack() as stack:
        office = await (await page_client(stack, app, coordinator)).get("/visits")
        assert 'data-testid="review-queue"' in office.text
        assert 'data-testid="my-visits"' not in office.text and "我的服务记录" not in office.text
        own = await (await page_client(stack, app, helper)).get("/visits")
        assert 'data-testid="my-visits"' in own.text
