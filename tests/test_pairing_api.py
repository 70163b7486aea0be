"""Pairings, orders and the catalog through the JSON API and the pages."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import (
    make_community,
    make_signed_up,
    sign_in_page,
    signed_in_client,
)
from timebank.jobs import generate_soon
from timebank.orders.models import Order
from timebank.pairing.models import Pairing


@pytest.fixture
async def world(app: Any) -> dict[str, Any]:
    here = await make_community("桂花社区")
    return {
        "here": here,
        "coordinator": await make_signed_up(here, "coordinator", name="李芳"),
        "helper": await make_signed_up(here, "helper", name="张建国"),
        "resident": await make_signed_up(here, "resident", name="陈秀英"),
    }


async def test_pairing_through_the_api(app: Any, world: dict[str, Any]) -> None:
    async with AsyncExitStack() as stack:
        lead, lead_h = await signed_in_client(stack, app, world["coordinator"])
        helper, helper_h = await signed_in_client(stack, app, world["helper"])
        # A helper may ask to serve a resident of their community, not for someone else.
        before = await helper.get(f"/api/v1/members/{world['resident'].id}")
        assert before.status_code == 403
        asked = await helper.post(
            "/api/v1/pairings",
            json={"helper": world["helper"].id, "resident": world["resident"].id},
            headers=helper_h,
        )
        assert asked.status_code == 201, asked.text
        pairing_id = asked.json()["id"]
        assert asked.json()["status"] == "proposed"
        again = await helper.post(
            "/api/v1/pairings",
            json={"helper": world["helper"].id, "resident": world["resident"].id},
            headers=helper_h,
        )
        assert again.status_code == 409
        url = f"/api/v1/pairings/{pairing_id}"
        denied = await helper.post(
            f"{url}/transitions", json={"action": "approve"}, headers=helper_h
        )
        assert denied.status_code == 403
        approved = await lead.post(f"{url}/transitions", json={"action": "approve"}, headers=lead_h)
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        no_reason = await lead.post(f"{url}/transitions", json={"action": "end"}, headers=lead_h)
        assert no_reason.status_code == 422
        wrong = await lead.post(f"{url}/transitions", json={"action": "approve"}, headers=lead_h)
        assert wrong.status_code == 409
        plan = await lead.post(
            f"{url}/plan",
            json={"service": "meal_delivery", "every_days": 1, "start": "11:30"},
            headers=lead_h,
        )
        assert plan.status_code == 201 and plan.json()["plan"][0]["start"] == "11:30"
        # An active pairing's new visit is in the helper's list at once: today and tomorrow.
        assert await Order.filter(pairing_id=pairing_id).count() == 2
        bad_plan = await lead.post(
            f"{url}/plan", json={"service": "x", "every_days": 1, "start": "11:30"}, headers=lead_h
        )
        assert bad_plan.status_code == 422
        # Paired, the helper may open the resident's record (before, they could not).
        resident_url = f"/api/v1/members/{world['resident'].id}"
        assert (await helper.get(resident_url)).json()["name"] == "陈秀英"
        detail = (await helper.get(url)).json()
        assert [h["to"] for h in detail["history"]] == ["proposed", "approved"]
        suggestions = await lead.get(f"/api/v1/members/{world['resident'].id}/suggestions")
        assert suggestions.status_code == 200
        assert world["helper"].id not in [s["helper"] for s in suggestions.json()["suggestions"]]


async def test_orders_through_the_api(app: Any, world: dict[str, Any]) -> None:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    async with AsyncExitStack() as stack:
        resident, resident_h = await signed_in_client(stack, app, world["resident"])
        helper, helper_h = await signed_in_client(stack, app, world["helper"])
        lead, lead_h = await signed_in_client(stack, app, world["coordinator"])
        placed = await resident.post(
            "/api/v1/orders",
            json={
                "service": "haircut",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
                "notes": "请带剪刀",
            },
            headers=resident_h,
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        assert placed.json()["on_behalf"] is False
        bad = await resident.post(
            "/api/v1/orders",
            json={"service": "haircut", "starts_at": "tomorrow", "ends_at": "later"},
            headers=resident_h,
        )
        assert bad.status_code == 422
        offered = (await helper.get("/api/v1/me/tasks")).json()
        assert order_id in [o["id"] for o in offered["open"]]
        url = f"/api/v1/orders/{order_id}/transitions"
        not_here = await helper.post(url, json={"action": "start"}, headers=helper_h)
        assert not_here.status_code == 422 and not_here.json()["error"]["code"] == "use_the_placard"
        taken = await helper.post(url, json={"action": "take"}, headers=helper_h)
        assert taken.status_code == 200 and taken.json()["helper"] == world["helper"].id
        twice = await helper.post(url, json={"action": "take"}, headers=helper_h)
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_taken"
        assert (await resident.post(url, json={"action": "no_show", "reason": "x"},
                                    headers=resident_h)).status_code == 403  # fmt: skip
        board = (await lead.get("/api/v1/orders")).json()
        assert [o["id"] for o in board["assigned"]] == [order_id]
        cancel = await resident.post(url, json={"action": "cancel"}, headers=resident_h)
        assert cancel.status_code == 422  # a reason is needed
        cancel = await resident.post(
            url, json={"action": "cancel", "reason": "身体不适"}, headers=resident_h
        )
        assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
        # A coordinator takes a phone call and orders for the resident.
        hotline = await lead.post(
            "/api/v1/orders",
            json={
                "resident": world["resident"].id,
                "service": "bathing",
                "starts_at": start.replace(tzinfo=None).isoformat(),  # local time
                "ends_at": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
            },
            headers=lead_h,
        )
        assert hotline.status_code == 201 and hotline.json()["on_behalf"] is True
        assigned = await lead.post(
            f"/api/v1/orders/{hotline.json()['id']}/transitions",
            json={"action": "assign", "helper": world["helper"].id},
            headers=lead_h,
        )
        assert assigned.status_code == 200 and assigned.json()["status"] == "assigned"


async def test_catalog_api(app: Any, world: dict[str, Any]) -> None:
    async with AsyncExitStack() as stack:
        lead, lead_h = await signed_in_client(stack, app, world["coordinator"])
        url = f"/api/v1/communities/{world['here'].id}/services"
        listed = (await lead.get(url)).json()["services"]
        assert {"code": "bathing", "name_zh": "助浴"}.items() <= next(
            s for s in listed if s["code"] == "bathing"
        ).items()
        changed = await lead.patch(f"{url}/bathing", json={"max_minutes": 150}, headers=lead_h)
        assert changed.status_code == 200 and changed.json()["max_minutes"] == 150
        bad = await lead.patch(f"{url}/bathing", json={"multiplier": "9"}, headers=lead_h)
        assert bad.status_code == 422
        missing = await lead.patch(f"{url}/skydiving", json={"active": False}, headers=lead_h)
        assert missing.status_code == 404


async def test_pages_approve_plan_and_the_helpers_day(
    app: Any, world: dict[str, Any], client: httpx.AsyncClient
) -> None:
    await sign_in_page(client, world["coordinator"])
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/me")).text)
    assert csrf
    token = csrf.group(1)
    suggestions = await client.get(f"/people/{world['resident'].id}/suggestions")
    assert suggestions.status_code == 200 and "张建国" in suggestions.text
    proposed = await client.post(
        "/pairings/propose",
        data={"csrf_token": token, "helper": world["helper"].id, "resident": world["resident"].id},
    )
    assert proposed.status_code == 303
    pairing = await Pairing.get(helper_id=world["helper"].id)
    queue = await client.get("/pairings")
    assert 'data-testid="pairings-proposed"' in queue.text and "张建国 → 陈秀英" in queue.text
    url = f"/pairings/{pairing.id}"
    assert (await client.post(f"{url}/transition", data={"action": "approve"})).status_code == 403
    await client.post(f"{url}/transition", data={"csrf_token": token, "action": "approve"})
    now = datetime.now(UTC) + timedelta(hours=8)  # Shanghai's time of day
    start = "23:59" if now.hour == 23 else f"{now.hour + 1:02d}:00"
    await client.post(
        f"{url}/plan",
        data={"csrf_token": token, "service": "visit", "every_days": "1", "start": start},
    )
    detail = await client.get(url)
    assert 'data-testid="pairing-status">正常<' in detail.text and "探视巡访" in detail.text
    bad = await client.post(
        f"{url}/plan",
        data={"csrf_token": token, "service": "visit", "every_days": "x", "start": "9"},
    )
    assert bad.status_code == 422
    # Adding a visit to an active pairing makes today's and tomorrow's orders at once.
    assert await generate_soon(ZoneInfo("Asia/Shanghai")) == 0
    board = await client.get("/orders")
    assert board.status_code == 200 and "探视巡访" in board.text
    helper = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    async with helper:
        await sign_in_page(helper, world["helper"])
        tasks = await helper.get("/tasks")
        assert tasks.status_code == 200
        assert re.search(r'data-testid="tasks">\s*<li data-testid="order-\d+">', tasks.text)
    assert await Order.filter(helper_id=world["helper"].id).count() == 2


async def test_catalog_page(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    await sign_in_page(client, world["coordinator"])
    url = f"/communities/{world['here'].id}/services"
    page = await client.get(url)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and "助浴" in page.text and token
    form = {
        "csrf_token": token.group(1),
        "code": "bathing",
        "name_zh": "助浴",
        "name_en": "Bath",
        "typical_minutes": "60",
        "max_minutes": "30",
        "multiplier": "1",
        "active": "on",
    }
    bad = await client.post(url, data=form)
    assert bad.status_code == 422 and "不能少于通常时长" in bad.text
    good = await client.post(url, data={**form, "max_minutes": "90"})
    assert good.status_code == 200 and 'value="Bath"' in good.text


async def test_a_helper_sees_today_and_the_week_to_come(app: Any, world: dict[str, Any]) -> None:
    """A task taken late in the evening for just after midnight is not lost between
    "today" and nowhere: the helper's page and API list the next seven days too."""
    tz = ZoneInfo("Asia/Shanghai")
    today = datetime.now(tz).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=tz)

    async def assigned(starts: datetime, code: str) -> Order:
        return await Order.create(
            community=world["here"], resident=world["resident"], helper=world["helper"],
            service_code=code, starts_at=starts, ends_at=starts + timedelta(minutes=30),
            status="assigned",
        )  # fmt: skip

    night = await assigned(midnight - timedelta(minutes=10), "meal")  # till 00:20
    now = await assigned(midnight + timedelta(minutes=1), "cleaning")
    soon = await assigned(midnight + timedelta(days=1, minutes=5), "haircut")
    last = await assigned(midnight + timedelta(days=7, hours=23), "visit")
    later = await assigned(midnight + timedelta(days=8, minutes=1), "bathing")
    async with AsyncExitStack() as stack:
        helper, _ = await signed_in_client(stack, app, world["helper"])
        body = (await helper.get("/api/v1/me/tasks")).json()
        assert [o["id"] for o in body["tasks"]] == [night.id, now.id]
        assert [o["id"] for o in body["coming"]] == [soon.id, last.id]
        page = (await helper.get("/tasks")).text
        section = page.split('data-testid="coming"', 1)[1].split("</ul>", 1)[0]
        assert f'data-testid="order-{soon.id}"' in section
        assert f'data-testid="order-{last.id}"' in section
        assert f"order-{later.id}" not in page and f"order-{now.id}" not in section
