"""A resident on a phone books a service with her hours; a helper takes it and serves it
at the placard; the held hours go to the helper; the resident rates the visit."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.browser.conftest import readme_shot, run_axe, screenshot, sign_in
from timebank.demo import DEMO_PASSWORD

RESIDENT, HELPER, COORDINATOR = "13800000005", "13800000004", "13800000002"  # 陈秀英 刘小红 李芳
TZ = ZoneInfo("Asia/Shanghai")


def prepare(live_server: str, starts: datetime) -> tuple[str, int]:
    """The office gives 陈秀英 hours and frees 刘小红 around the time; returns the placard
    path of 陈秀英 and her id."""
    with closing(httpx.Client(base_url=live_server, timeout=30)) as office:
        signed = office.post(
            "/api/v1/session", json={"phone": COORDINATOR, "password": DEMO_PASSWORD}
        )
        headers = {"x-csrf-token": signed.json()["csrf_token"]}
        members = office.get("/api/v1/members", params={"q": RESIDENT}).json()["members"]
        resident = members[0]
        helper = office.get("/api/v1/members", params={"q": HELPER}).json()["members"][0]
        granted = office.post(
            "/api/v1/grants",
            json={"member": resident["id"], "minutes": 120, "reason": "兜底补贴",
                  "key": "browser-redeem-grant"},
            headers=headers,
        )  # fmt: skip
        assert granted.status_code == 201 and granted.json()["status"] == "posted", granted.text
        # Her other assigned orders near that time go back to the board (another helper).
        board = office.get("/api/v1/orders").json()
        for order in board["assigned"] + board["overdue"]:
            ends = datetime.fromisoformat(order["ends_at"])
            begins = datetime.fromisoformat(order["starts_at"])
            if (
                order["helper"] == helper["id"]
                and begins < starts + timedelta(hours=2)
                and (ends > starts - timedelta(hours=1))
            ):
                released = office.post(
                    f"/api/v1/orders/{order['id']}/transitions", json={"action": "release"},
                    headers=headers,
                )  # fmt: skip
                assert released.status_code == 200, released.text
        card = office.get(f"/api/v1/members/{resident['id']}/placard").json()
        return "/v/" + card["url"].rsplit("/v/", 1)[1], int(resident["id"])


def test_a_resident_redeems_a_service_and_rates_it(
    browser: Any, mobile_page: Any, live_server: str, live_dir: Path
) -> None:
    starts = (datetime.now(TZ) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    placard, resident_id = prepare(live_server, starts)
    # 陈秀英 books a haircut at home with her hours, on her phone.
    page = mobile_page
    sign_in(page, live_server, RESIDENT, "/me")
    page.get_by_test_id("use-hours-link").click()
    page.wait_for_url(f"{live_server}/redeem")
    assert page.get_by_test_id("available").inner_text() == "2小时"
    item = page.locator("[data-testid=catalog] li", has_text="上门理发")
    item.locator("input[name=day]").fill(starts.date().isoformat())
    item.locator("input[name=time]").fill(starts.strftime("%H:%M"))
    item.get_by_role("button", name="预约").click()
    # Asked first, in plain words: what is set aside and what is left.
    asked = page.get_by_test_id("confirm-what").inner_text()
    assert "上门理发" in asked and "45分" in asked and "1小时15分" in asked
    page.get_by_test_id("confirm-yes").click()
    page.wait_for_url(f"{live_server}/redeem?done=booked")
    assert page.get_by_test_id("book-done").is_visible()
    assert page.get_by_test_id("available").inner_text() == "1小时15分"  # 45 minutes held
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert run_axe(page) == []
    readme_shot(page, "redeem-book-360")
    # 刘小红 takes it on her phone and serves it at the placard.
    helper = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in(helper, live_server, HELPER, "/tasks")
    offered = (
        helper.get_by_test_id("offered").locator("li", has_text="陈秀英").filter(has_text="理发")
    )
    offered.get_by_role("button", name="接单").first.click()
    helper.wait_for_url(re.compile(r".*/tasks\?done=take&order=\d+$"))
    # Told what was taken, wherever in the week it falls.
    assert helper.get_by_test_id("done").inner_text().startswith("已接单：理发 · 陈秀英 · ")
    # Today's list or the week's to come: 10 minutes from now may be past midnight.
    mine = (
        helper.get_by_test_id("tasks").inner_text() + helper.get_by_test_id("coming").inner_text()
    )
    assert "理发" in mine
    helper.goto(f"{live_server}{placard}")
    helper.get_by_test_id("visit-button").click()
    helper.wait_for_url(f"{live_server}/visits/*")
    visit_id = int(helper.url.rsplit("/", 1)[1])
    with sqlite3.connect(live_dir / "var" / "timebank.sqlite3", timeout=30) as conn:
        moment = datetime.now(UTC) - timedelta(minutes=15)
        conn.execute(
            "UPDATE visit SET checked_in_at = ? WHERE id = ?",
            (moment.strftime("%Y-%m-%d %H:%M:%S.%f+00:00"), visit_id),
        )
    helper.goto(f"{live_server}{placard}")
    helper.get_by_test_id("visit-button").click()
    helper.wait_for_url(f"{live_server}/visits/{visit_id}")
    assert helper.get_by_test_id("visit-status").inner_text() == "已核验"
    assert "45分" in helper.get_by_test_id("credited").inner_text()  # the price held
    helper.context.close()
    # The hours moved: hers are no longer held; the redemption is served.
    with sqlite3.connect(live_dir / "var" / "timebank.sqlite3", timeout=30) as conn:
        status = conn.execute(
            "SELECT status FROM redemption WHERE beneficiary_id = ? ORDER BY id DESC LIMIT 1",
            (resident_id,),
        ).fetchone()[0]
    assert status == "served"
    # 陈秀英 rates the visit from her list of visits.
    page.goto(f"{live_server}/visits")
    page.locator(f"a[href='/visits/{visit_id}']").first.click()
    page.wait_for_url(f"{live_server}/visits/{visit_id}")
    page.get_by_test_id("rating-form").locator("input[value='5']").check()
    page.fill("input[name=comment]", "剪得很好，谢谢小刘")
    page.get_by_test_id("rate").click()
    page.wait_for_url(f"{live_server}/visits/{visit_id}")
    assert "★★★★★" in page.get_by_test_id("visit").inner_text()
    assert run_axe(page) == []
    readme_shot(page, "redeem-rated-360")
    page.goto(f"{live_server}/me/hours")
    assert page.get_by_test_id("available").inner_text() == "1小时15分"
    screenshot(page, "passbook-after-redeem-zh-360")
    assert page.console_errors == []  # type: ignore[attr-defined]
