"""After every action the page says what happened, from the record, never from the URL."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import csrf, make_community, make_signed_up, page_client
from timebank import calendar
from timebank.orders import service as order_service
from timebank.pairing import service as pairing_service
from timebank.people.audit import Actor

TZ = ZoneInfo("Asia/Shanghai")


async def an_order(coordinator: Any, resident: Any, days: int = 3) -> Any:
    """A haircut for ``resident`` in ``days`` days at 15:05, placed by their coordinator."""
    day = calendar.local_today(TZ) + timedelta(days=days)
    starts = calendar.at(day, TZ, time(15, 5))
    return await order_service.place(
        Actor(coordinator.id), resident=resident, service_code="haircut",
        starts_at=starts, ends_at=starts + timedelta(hours=1), on_behalf=True, funded=True,
    )  # fmt: skip


async def test_a_helper_who_takes_a_future_order_is_told_what_was_taken(app: Any) -> None:
    here = await make_community("桂花社区")
    coordinator = await make_signed_up(here, "coordinator", name="李芳")
    resident = await make_signed_up(here, "resident", name="王秀英")
    helper = await make_signed_up(here, "helper", name="张建国")
    order = await an_order(coordinator, resident)
    async with AsyncExitStack() as stack:
        client = await page_client(stack, app, helper)
        token = csrf((await client.get("/tasks")).text)
        taken = await client.post(
            f"/orders/{order.id}/act",
            data={"csrf_token": token, "action": "take", "next": "/tasks"},
        )
        assert taken.status_code == 303
        assert taken.headers["location"] == f"/tasks?done=take&order={order.id}"
        page = await client.get(taken.headers["location"])
        local = order.starts_at.astimezone(TZ)
        said = f"已接单：理发 · 王秀英 · {local.month}月{local.day}日 15:05"
        assert f'data-testid="done">{said}</p>' in page.text
        # Only known codes, about an order the reader may see; never text from the URL.
        assert (
            'data-testid="done"'
            not in (
                await client.get(
                    f"/tasks?done=%E8%B4%A6%E6%88%B7%E5%86%BB%E7%BB%93&order={order.id}"
                )
            ).text
        )
        other = await make_community("枫林社区")
        elsewhere = await an_order(
            await make_signed_up(other, "coordinator"), await make_signed_up(other, "resident")
        )
        hidden = await client.get(f"/tasks?done=take&order={elsewhere.id}")
        assert 'data-testid="done"' not in hidden.text
        given_back = await client.post(
            f"/orders/{order.id}/act",
            data={"csrf_token": token, "action": "release", "next": "/tasks"},
        )
        page = await client.get(given_back.headers["location"])
        assert "已退回，等待他人接单：理发 · 王秀英" in page.text


async def test_dispatch_starts_from_the_paired_helper_and_says_whom_it_sent(app: Any) -> None:
    here = await make_community("桂花社区")
    coordinator = await make_signed_up(here, "coordinator", name="李芳")
    paired = await make_signed_up(here, "helper", name="赵结对")
    await make_signed_up(here, "helper", name="艾首位")  # first by name
    resident = await make_signed_up(here, "resident", name="王秀英")
    alone = await make_signed_up(here, "resident", name="陈独居")
    actor = Actor(coordinator.id)
    pairing = await pairing_service.propose(actor, helper=paired, resident=resident)
    await pairing_service.transition(actor, pairing, "approve", tz=TZ)
    order = await an_order(coordinator, resident)
    other = await an_order(coordinator, alone)
    async with AsyncExitStack() as stack:
        client = await page_client(stack, app, coordinator)
        board = (await client.get("/orders")).text

        def picker(order_id: int) -> str:
            found = re.search(rf'data-testid="helper-{order_id}">(.*?)</select>', board, re.S)
            assert found
            return found.group(1)

        assert re.match(r'<option value="" >请选择帮扶人</option>', picker(order.id))
        assert f'<option value="{paired.id}" selected>赵结对' in picker(order.id)
        assert re.match(r'<option value="" selected>请选择帮扶人</option>', picker(other.id))
        assert " selected>" not in picker(other.id).split("</option>", 1)[1]
        sent = await client.post(
            f"/orders/{order.id}/act",
            data={"csrf_token": csrf(board), "action": "assign", "helper": str(paired.id),
                  "next": "/orders"},
        )  # fmt: skip
        page = await client.get(sent.headers["location"])
        assert "已派给赵结对：理发 · 王秀英 ·" in page.text
        assert datetime.now(UTC) < order.starts_at
