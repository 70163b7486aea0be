"""The visit pages without JavaScript: the placard page, check-in by form, the visit page,
review and rating forms, the printable placards (both databases)."""

from __future__ import annotations

import re
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import csrf, make_community, make_signed_up, make_world, page_client
from timebank.orders.models import Order, OrderStatus
from timebank.people.models import AuditEvent
from timebank.visits import placards
from timebank.visits.models import Visit


@pytest.fixture
async def w(app: Any) -> Any:
    world = await make_world("coordinator", "helper", "resident")
    world["app"] = app
    here = world["here"]
    placard = await placards.placard_of(world["resident"])
    world["token"] = placards.make_token(
        app.state.settings.secret_key, world["resident"].id, placard.generation
    )
    now = datetime.now(UTC)
    world["order"] = await Order.create(
        community=here, resident=world["resident"], helper=world["helper"],
        service_code="meal_help", starts_at=now - timedelta(minutes=55),
        ends_at=now + timedelta(minutes=5), status=OrderStatus.ASSIGNED, funded=True,
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        world["stack"] = stack
        world["h"] = await page_client(stack, app, world["helper"])
        world["c"] = await page_client(stack, app, world["coordinator"])
        world["r"] = await page_client(stack, app, world["resident"])
        yield world


async def a_short_visit(w: dict[str, Any]) -> tuple[Visit, str]:
    """The helper starts and at once finishes a visit at the placard: too short, flagged.
    Returns the visit and the helper's form token."""
    url = f"/v/{w['token']}"
    page = await w["h"].get(url)
    token = csrf(page.text)
    await w["h"].post(url, data={"csrf_token": token, "action": "start", "event_id": "a" * 16})
    await w["h"].post(url, data={"csrf_token": token, "action": "finish", "event_id": "b" * 16})
    return await Visit.get(), token


async def test_check_in_and_out_with_the_form(w: dict[str, Any]) -> None:
    url = f"/v/{w['token']}"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=w["app"]), base_url="http://testserver"
    ) as anonymous:
        away = await anonymous.get(url)
        assert away.status_code == 303 and away.headers["location"] == f"/signin?next={url}"
        forged = await anonymous.get("/v/forged.token")
        assert forged.status_code == 403  # refused before signing in: the server log only
    assert await AuditEvent.filter(action="visit.refused", actor_id=None).count() == 0
    page = await w["h"].get(url)
    assert page.status_code == 200
    assert "陈秀英" in page.text and "开始服务" in page.text and 'data-action="start"' in page.text
    assert "pico" not in page.text  # the light page: no framework to download
    event_id = re.search(r'name="event_id" value="([0-9a-f]+)"', page.text)
    assert event_id
    form = {"csrf_token": csrf(page.text), "action": "start", "event_id": event_id.group(1)}
    started = await w["h"].post(url, data=form)
    assert started.status_code == 303 and started.headers["location"].startswith("/visits/")
    # The same form sent again (a double tap) is the same visit.
    again = await w["h"].post(url, data=form)
    assert again.headers["location"] == started.headers["location"]
    assert await Visit.all().count() == 1
    visit = await Visit.get()
    await Visit.filter(id=visit.id).update(checked_in_at=datetime.now(UTC) - timedelta(minutes=44))
    finish_page = await w["h"].get(url)
    assert "结束服务" in finish_page.text and 'data-action="finish"' in finish_page.text
    bad = await w["h"].post(
        url, data={"csrf_token": csrf(page.text), "action": "finish", "event_id": "x"}
    )
    assert bad.status_code == 422 and "事件编号" in bad.text
    done = await w["h"].post(
        url,
        data={"csrf_token": csrf(page.text), "action": "finish", "event_id": uuid.uuid4().hex},
    )
    assert done.status_code == 303
    shown = await w["h"].get(done.headers["location"])
    assert shown.status_code == 200
    assert 'data-testid="credited"' in shown.text and "45分" in shown.text
    mine = await w["h"].get("/visits")
    assert "助餐" in mine.text and "陈秀英" in mine.text


async def test_refused_pages_say_why_and_whom_to_call(w: dict[str, Any]) -> None:
    bad = await w["h"].get("/v/forged.token")
    assert bad.status_code == 403 and "篡改" in bad.text
    await Order.filter(id=w["order"].id).update(status=OrderStatus.CANCELLED)
    nothing = await w["h"].get(f"/v/{w['token']}")
    assert nothing.status_code == 403 and "派单" in nothing.text
    assert "李芳" in nothing.text and w["coordinator"].phone in nothing.text  # whom to call
    coordinator = await w["c"].get(f"/v/{w['token']}")
    assert coordinator.status_code == 403 and "帮扶人" in coordinator.text
    assert await AuditEvent.filter(action="visit.refused").count() == 3


async def test_review_and_rating_forms(w: dict[str, Any]) -> None:
    visit, token = await a_short_visit(w)
    assert visit.status.value == "flagged"  # a few seconds: too short
    queue = await w["c"].get("/visits")
    assert queue.status_code == 200 and f'data-testid="review-{visit.id}"' in queue.text
    assert "时长过短" in queue.text
    review = f"/visits/{visit.id}/review"
    no_reason = await w["c"].post(
        review, data={"csrf_token": csrf(queue.text), "action": "reject", "back": "queue"}
    )
    assert no_reason.status_code == 303 and "error=" not in no_reason.headers["location"]
    shown = await w["c"].get(no_reason.headers["location"])
    assert "请填写原因" in shown.text
    # The helper cannot review.
    refused = await w["h"].post(review, data={"csrf_token": token, "action": "approve"})
    assert refused.status_code == 403
    approved = await w["c"].post(
        review,
        data={"csrf_token": csrf(queue.text), "action": "adjust", "minutes": "30",
              "reason": "电话核实", "back": "queue"},
    )  # fmt: skip
    back = f"/visits?status=flagged&done=adjust&visit={visit.id}"
    assert approved.status_code == 303 and approved.headers["location"] == back
    visit = await Visit.get()
    assert visit.status.value == "verified" and visit.credit_minutes == 30 and visit.ledger_txn_id
    # The queue says what the review did, from the visit itself.
    said = (await w["c"].get(back)).text
    assert "已按您填写的分钟数通过：助餐 · 陈秀英 ·" in said and "张建国 获得 30分。" in said
    # The resident rates it from the visit page.
    page = await w["r"].get(f"/visits/{visit.id}")
    assert 'data-testid="rating-form"' in page.text
    rated = await w["r"].post(
        f"/visits/{visit.id}/rating",
        data={"csrf_token": csrf(page.text), "rating": "4", "comment": "准时"},
    )
    assert rated.status_code == 303
    assert (await Visit.get()).rating == 4
    page = await w["r"].get(f"/visits/{visit.id}")
    assert 'data-testid="rating-form"' not in page.text and "★★★★" in page.text


async def test_placard_pages(w: dict[str, Any]) -> None:
    resident = w["resident"]
    page = await w["c"].get(f"/people/{resident.id}/placard")
    assert page.status_code == 200 and resident.member_no in page.text
    assert "桂花社区" in page.text and resident.phone not in page.text  # no personal data
    png = await w["c"].get(f"/people/{resident.id}/placard.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert (await w["h"].get(f"/people/{resident.id}/placard.png")).status_code == 403
    asked = await w["c"].post(
        f"/people/{resident.id}/placard", data={"csrf_token": csrf(page.text)}
    )
    assert asked.status_code == 200 and "旧码会立即失效" in asked.text  # asked first
    assert (await placards.placard_of(resident)).generation == 1
    reissued = await w["c"].post(
        f"/people/{resident.id}/placard", data={"csrf_token": csrf(page.text), "confirmed": "yes"}
    )
    assert reissued.status_code == 303
    assert (await placards.placard_of(resident)).generation == 2
    old = await w["h"].get(f"/v/{w['token']}")
    assert old.status_code == 403 and "作废" in old.text
    bad_pin = await w["c"].post(
        f"/people/{resident.id}/placard/pin", data={"csrf_token": csrf(page.text), "pin": "12a"}
    )
    shown = await w["c"].get(bad_pin.headers["location"])
    assert "4 到 6 位数字" in shown.text
    good_pin = await w["c"].post(
        f"/people/{resident.id}/placard/pin", data={"csrf_token": csrf(page.text), "pin": "2468"}
    )
    assert good_pin.headers["location"].endswith("done=pin")
    assert placards.pin_matches(await placards.placard_of(resident), "2468")
    sheet = await w["c"].get(f"/placards?community={w['here'].id}")
    assert sheet.status_code == 200
    assert sheet.text.count("<img") == 1 and f"/people/{resident.id}/placard.png" in sheet.text
    assert (await w["h"].get("/placards")).status_code == 403
    worker = await w["h"].get("/v/sw.js")
    assert worker.status_code == 200 and worker.headers["service-worker-allowed"] == "/v/"


async def test_a_visit_says_its_time_in_hours_and_minutes(app: Any) -> None:
    """ "服务时长 15分（从签到到签退共 0分）", not "服务分钟数 15 (实测: 0)"."""
    here = await make_community("桂花社区")
    helper = await make_signed_up(here, "helper", name="张建国")
    elder = await make_signed_up(here, "resident", name="陈秀英")
    at = datetime.now(UTC) - timedelta(hours=2)
    visit = await Visit.create(
        community=here, resident=elder, helper=helper, service_code="haircut",
        status="flagged", flags="too_short", in_event=uuid.uuid4().hex, checked_in_at=at,
        received_in_at=at, checked_out_at=at, raw_minutes=0, served_minutes=15,
        credit_minutes=15,
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        mine = await page_client(stack, app, helper)
        page = await mine.get(f"/visits/{visit.id}")
        assert page.status_code == 200
        served = re.search(r'data-testid="time-served">([^<]*)<', page.text)
        assert served and served.group(1) == "15分（从签到到签退共 0分）", served
        assert "服务分钟数" not in page.text and "实测" not in page.text
        listing = await mine.get("/visits")
        assert "15分" in listing.text and "15 分钟" not in listing.text


async def test_the_placard_page_shows_the_address_its_code_opens(w: dict[str, Any]) -> None:
    """The office sees, before printing, the address the QR code holds (the base URL), so a
    placard that would open nowhere (http://127.0.0.1:8000 …) is caught before it is hung."""
    page = await w["c"].get(f"/people/{w['resident'].id}/placard")
    assert f"{w['app'].state.settings.base_url}/v/{w['token']}" in page.text


async def test_a_refused_review_keeps_what_was_typed_beside_the_form(
    w: dict[str, Any],
) -> None:
    """Adjusting to 0 minutes is refused: the review form on the visit page says so and still
    holds the minutes and the reason typed (they used to be lost, the message above)."""
    visit, _ = await a_short_visit(w)
    queue = await w["c"].get("/visits")
    bad = await w["c"].post(
        f"/visits/{visit.id}/review",
        data={"csrf_token": csrf(queue.text), "action": "adjust", "minutes": "0",
              "reason": "电话核实过", "back": "queue"},
    )  # fmt: skip
    assert bad.status_code == 303
    shown = (await w["c"].get(bad.headers["location"])).text
    form = shown[shown.index(f'data-testid="review-{visit.id}"') :]
    form = form[: form.index("</form>")]
    assert 'role="alert"' in form and 'value="0"' in form and 'value="电话核实过"' in form
    assert shown.count('role="alert"') == 1
