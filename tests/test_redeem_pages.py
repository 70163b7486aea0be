"""The redeem, hand-over, grants and settlement pages, by form (both databases)."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import csrf, make_world, page_client
from timebank.ledger import service as ledger
from timebank.people.models import Community, FamilyLink, Member, Relation
from timebank.redeem.models import Grant, RedeemItem, Redemption


def form_key(html: str) -> str:
    found = re.search(r'name="key" value="([^"]+)"', html)
    assert found
    return found.group(1).split("-")[0]


@pytest.fixture
async def w(app: Any) -> Any:
    world = await make_world("lead", "second", "elder", "son")
    here = world["here"]
    await Member.filter(id=world["elder"].id).update(birth_date=date(1940, 1, 1))
    await FamilyLink.create(member=world["son"], relative=world["elder"], relation=Relation.PARENT)
    await ledger.grant(community_id=here.id, member_id=world["elder"].id, minutes=300,
                       key="pages-grant", actor_id=world["lead"].id, reason="兜底")  # fmt: skip
    world["rice"] = await RedeemItem.create(
        community=here, kind="goods", name_zh="大米", name_en="Rice", price_minutes=120, stock=5
    )
    async with AsyncExitStack() as stack:
        for name in ("lead", "second", "elder", "son"):
            world[name + "_c"] = await page_client(stack, app, world[name])
        yield world


async def test_use_my_hours(w: dict[str, Any]) -> None:
    page = await w["elder_c"].get("/redeem")
    assert page.status_code == 200 and "大米" in page.text and "5小时" in page.text
    token, key = csrf(page.text), form_key(page.text)
    done = await w["elder_c"].post(
        "/redeem",
        data={"csrf_token": token, "item": w["rice"].id, "key": f"{key}-1", "confirmed": "yes"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/redeem?done=redeemed"
    again = await w["elder_c"].post(  # the same form sent twice: one redemption
        "/redeem",
        data={"csrf_token": token, "item": w["rice"].id, "key": f"{key}-1", "confirmed": "yes"},
    )
    assert again.status_code == 303 and await Redemption.all().count() == 1
    shown = await w["elder_c"].get("/redeem?done=redeemed")
    assert "3小时" in shown.text and "待领取" in shown.text
    bad = await w["elder_c"].post(
        "/redeem", data={"csrf_token": token, "item": w["rice"].id, "confirmed": "yes"}
    )
    assert bad.status_code == 303 and bad.headers["location"] == "/redeem"  # no text in the URL
    assert "唯一编号" in (await w["elder_c"].get("/redeem")).text  # the message, from the server
    # Giving hours: to family, to the pool; to a stranger refused.
    son_page = await w["son_c"].get("/redeem")
    assert "陈秀英" in son_page.text  # his mother, in the "to" list
    await ledger.grant(community_id=w["here"].id, member_id=w["son"].id, minutes=60,
                       key="pages-son", actor_id=w["lead"].id, reason="x")  # fmt: skip
    gave = await w["son_c"].post(
        "/redeem/donate",
        data={"csrf_token": csrf(son_page.text), "to": w["elder"].id, "minutes": "30",
              "key": form_key(son_page.text) + "-give"},
    )  # fmt: skip
    assert gave.headers["location"] == "/redeem?done=donated"
    too_much = await w["son_c"].post(
        "/redeem/donate",
        data={"csrf_token": csrf(son_page.text), "to": "pool", "minutes": "999",
              "key": form_key(son_page.text) + "-more"},
    )  # fmt: skip
    assert too_much.headers["location"] == "/redeem"
    assert 'data-testid="redeem-error"' in (await w["son_c"].get("/redeem")).text


async def test_office_pages(w: dict[str, Any]) -> None:
    # The catalogue: add an item, change one, a bad price said plainly.
    page = await w["lead_c"].get("/redeem/catalog")
    assert page.status_code == 200 and "大米" in page.text
    token = csrf(page.text)
    added = await w["lead_c"].post(
        f"/redeem/catalog?community={w['here'].id}",
        data={"csrf_token": token, "kind": "goods", "name_zh": "食用油", "name_en": "Oil",
              "price_minutes": "90", "stock": "10"},
    )  # fmt: skip
    assert added.status_code == 303 and await RedeemItem.filter(name_zh="食用油").exists()
    bad = await w["lead_c"].post(
        f"/redeem/catalog?community={w['here'].id}",
        data={"csrf_token": token, "kind": "goods", "name_zh": "x", "name_en": "x",
              "price_minutes": "0"},
    )  # fmt: skip
    assert "error=" not in bad.headers["location"]
    assert "price_minutes" in (await w["lead_c"].get(bad.headers["location"])).text
    changed = await w["lead_c"].post(
        f"/redeem/catalog?community={w['here'].id}",
        data={"csrf_token": token, "item": w["rice"].id, "name_zh": "大米 10 斤",
              "name_en": "Rice", "price_minutes": "200", "stock": "3", "active": "on"},
    )  # fmt: skip
    assert changed.status_code == 303
    assert (await RedeemItem.get(id=w["rice"].id)).price_minutes == 200
    assert (await w["son_c"].get("/redeem/catalog")).status_code == 403
    # Hand-over.
    redemption = await Redemption.create(
        community=w["here"], item=w["rice"], member=w["elder"], beneficiary=w["elder"],
        minutes=200, status="to_hand_over", created_at=datetime.now(UTC),
    )  # fmt: skip
    queue = await w["lead_c"].get("/redeem/handover")
    assert f'data-testid="handover-{redemption.id}"' in queue.text
    handed = await w["lead_c"].post(
        f"/redeem/handover/{redemption.id}", data={"csrf_token": csrf(queue.text)}
    )
    assert handed.status_code == 303
    assert (await Redemption.get(id=redemption.id)).status.value == "handed_over"
    # Grants: a large one waits for the second coordinator.
    await Community.filter(id=w["here"].id).update(grant_review_minutes=600)
    grants = await w["lead_c"].get("/grants")
    assert grants.status_code == 200 and "陈秀英" in grants.text
    large = await w["lead_c"].post(
        f"/grants?community={w['here'].id}",
        data={"csrf_token": csrf(grants.text), "member": w["elder"].id, "minutes": "900",
              "source": "fund", "reason": "失独老人", "key": form_key(grants.text)},
    )  # fmt: skip
    assert large.headers["location"].endswith("done=pending")
    grant = await Grant.get()
    own = await w["lead_c"].post(
        f"/grants/{grant.id}/decision", data={"csrf_token": csrf(grants.text), "approve": "1"}
    )
    assert "error=" not in own.headers["location"]
    assert 'data-testid="grant-error"' in (await w["lead_c"].get(own.headers["location"])).text
    second_page = await w["second_c"].get("/grants")
    assert f'data-testid="approve-grant-{grant.id}"' in second_page.text
    approved = await w["second_c"].post(
        f"/grants/{grant.id}/decision", data={"csrf_token": csrf(second_page.text), "approve": "1"}
    )
    assert approved.status_code == 303
    assert (await Grant.get(id=grant.id)).status.value == "posted"


async def test_settlement_page(w: dict[str, Any]) -> None:
    page = await w["lead_c"].get("/settlements")
    assert page.status_code == 200 and 'data-testid="settlement-helpers"' in page.text
    last = (datetime.now(UTC).date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert f'value="{last}"' in page.text  # last month by default
    bad = await w["lead_c"].get("/settlements?month=soon")
    assert bad.status_code == 422 and "2026-10" in bad.text
    closed = await w["lead_c"].post(
        f"/communities/{w['here'].id}/settlements/{last}/close",
        data={"csrf_token": csrf(page.text), "confirmed": "yes"},
    )
    assert closed.status_code == 303
    shown = await w["lead_c"].get(closed.headers["location"])
    assert "已结算" in shown.text and 'data-testid="close-month"' not in shown.text
    twice = await w["lead_c"].post(
        f"/communities/{w['here'].id}/settlements/{last}/close",
        data={"csrf_token": csrf(page.text)},
    )
    assert "error=" not in twice.headers["location"]
    shown = await w["lead_c"].get(twice.headers["location"])
    assert 'data-testid="settlement-error"' in shown.text
    assert (await w["son_c"].get("/settlements")).status_code == 403


async def test_giving_hours_in_hours_and_minutes(w: dict[str, Any]) -> None:
    """The form asks 小时 and 分钟, as the balance is shown; a wrong number is refused with
    the box's own name, never the code name ``minutes``."""
    page = await w["elder_c"].get("/redeem")
    assert 'name="hours"' in page.text and "转赠多少时间" in page.text
    token, key = csrf(page.text), form_key(page.text)
    give = {"csrf_token": token, "to": "pool", "key": f"{key}-give"}
    gave = await w["elder_c"].post("/redeem/donate", data={**give, "hours": "1", "minutes": "30"})
    assert gave.headers["location"] == "/redeem?done=donated"
    assert "3小时30分" in (await w["elder_c"].get("/redeem")).text  # 5 h less 1 h 30
    wrong = {**give, "hours": "", "minutes": "abc", "key": f"{key}-bad"}
    bad = await w["elder_c"].post("/redeem/donate", data=wrong)
    assert bad.headers["location"] == "/redeem"
    shown = await w["elder_c"].get("/redeem")
    error = re.search(r'data-testid="redeem-error">([^<]*)<', shown.text)
    assert error and error.group(1).startswith("分钟必须是"), error
    assert not re.search(r"[A-Za-z]{2,}", error.group(1))


async def test_a_refused_gift_keeps_what_was_typed_beside_the_form(w: dict[str, Any]) -> None:
    """Giving more hours than one has: the message is in the giving form, which still holds
    the minutes, the recipient and the note (it used to come back empty, the message at the
    top of the page)."""
    page = await w["son_c"].get("/redeem")
    refused = await w["son_c"].post(
        "/redeem/donate",
        data={"csrf_token": csrf(page.text), "to": "pool", "minutes": "999",
              "reason": "给老邻居", "key": form_key(page.text) + "-give"},
    )  # fmt: skip
    assert refused.status_code == 303 and refused.headers["location"] == "/redeem"
    shown = (await w["son_c"].get("/redeem")).text
    form = shown[shown.index('data-testid="donate-form"') :]
    form = form[: form.index("</form>")]
    assert 'role="alert"' in form and 'value="999"' in form and 'value="给老邻居"' in form
    assert 'value="pool" selected' in form
    assert shown.count('role="alert"') == 1  # once, beside the form


async def test_booking_with_the_defaults_works_in_the_afternoon(
    w: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The booking form's default time is the next sensible slot ahead, not today 09:00
    (which every afternoon was refused as in the past)."""
    from zoneinfo import ZoneInfo

    from timebank.redeem import pages

    tz = ZoneInfo("Asia/Shanghai")
    afternoon = datetime.combine(datetime.now(tz).date() + timedelta(days=1), datetime.min.time())
    afternoon = afternoon.replace(hour=15, minute=10, tzinfo=tz)
    monkeypatch.setattr(pages, "now_in", lambda zone: afternoon, raising=False)
    await RedeemItem.create(
        community=w["here"], kind="service", name_zh="理发", name_en="Haircut",
        price_minutes=60, service_code="companionship",
    )  # fmt: skip
    page = await w["elder_c"].get("/redeem")
    day = re.search(r'name="day" value="([^"]*)"', page.text)
    clock = re.search(r'name="time" value="([^"]*)"', page.text)
    assert day and clock
    assert (day.group(1), clock.group(1)) == (afternoon.date().isoformat(), "16:00")
    item = await RedeemItem.get(name_zh="理发")
    booked = await w["elder_c"].post(
        "/redeem",
        data={"csrf_token": csrf(page.text), "item": item.id, "key": form_key(page.text) + "-b",
              "day": day.group(1), "time": clock.group(1), "confirmed": "yes"},
    )  # fmt: skip
    assert booked.headers["location"] == "/redeem?done=booked"


def test_the_default_booking_slot() -> None:
    from zoneinfo import ZoneInfo

    from timebank.redeem.pages import booking_slot

    tz = ZoneInfo("Asia/Shanghai")

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 12, 3, hour, minute, tzinfo=tz)

    assert booking_slot(at(6)) == {"day": "2026-12-03", "time": "09:00"}
    assert booking_slot(at(9, 40)) == {"day": "2026-12-03", "time": "11:00"}
    assert booking_slot(at(15, 10)) == {"day": "2026-12-03", "time": "16:00"}
    assert booking_slot(at(17, 20)) == {"day": "2026-12-03", "time": "18:00"}
    assert booking_slot(at(17, 40)) == {"day": "2026-12-04", "time": "09:00"}
    assert booking_slot(at(23, 50)) == {"day": "2026-12-04", "time": "09:00"}
