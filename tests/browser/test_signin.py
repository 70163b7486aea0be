"""A demo helper signs in on a phone and opens their passbook."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.browser.conftest import run_axe, screenshot
from timebank.demo import DEMO_PASSWORD
from timebank.ledger.hours import format_minutes


def his_hours(live_dir: Path) -> str:
    """张建国's balance: 225 minutes from the demo's own part (90 + 60 + 75 earned, 30
    redeemed, five meal deliveries to his mother of 30 minutes each; 60 given to her, 30 to
    the pool, 30 for her haircut), and what the three months of history credited him for
    his mother's meals and cleaning, read from the visits (not the ledger)."""
    with sqlite3.connect(live_dir / "var" / "timebank.sqlite3", timeout=30) as conn:
        (history,) = conn.execute(
            "SELECT COALESCE(SUM(v.credit_minutes), 0) FROM visit v JOIN member m"
            " ON m.id = v.helper_id WHERE m.phone = '13800000003' AND v.status = 'verified'"
            " AND v.in_event LIKE 'history-%'"
        ).fetchone()
    assert history > 80 * 20  # a meal every day for about three months
    return format_minutes(225 + int(history), "zh-CN")


def test_helper_signs_in_on_a_phone_and_sees_their_hours(
    mobile_page: Any, live_server: str, live_dir: Path
) -> None:
    page = mobile_page
    page.goto(f"{live_server}/")
    page.get_by_test_id("signin-link").click()
    page.wait_for_url(f"{live_server}/signin")
    assert run_axe(page) == []
    page.fill("input[name=phone]", "13800000003")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "电话号码或密码错误" in page.get_by_test_id("signin-error").inner_text()
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/me")
    assert page.locator("h1").inner_text() == "张建国"
    screenshot(page, "me-zh-360")
    page.get_by_role("button", name="我的时间", exact=True).click()
    page.wait_for_url(f"{live_server}/me/hours")
    assert page.get_by_test_id("available").inner_text() == his_hours(live_dir)
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    screenshot(page, "passbook-zh-360")
    assert run_axe(page) == []
    page.get_by_test_id("me-link").click()
    page.wait_for_url(f"{live_server}/me")
    page.get_by_test_id("signout").click()
    page.wait_for_url(f"{live_server}/")
    assert page.get_by_test_id("signin-link").is_visible()


def test_coordinator_opens_the_community_accounts_on_a_phone(
    mobile_page: Any, live_server: str, live_dir: Path
) -> None:
    page = mobile_page
    page.goto(f"{live_server}/signin")
    screenshot(page, "signin-zh-360")
    page.fill("input[name=phone]", "13800000002")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/me")
    page.get_by_test_id("accounts-link").click()
    page.wait_for_url(f"{live_server}/ledger/accounts")
    assert "张建国" in page.content() and "周桂兰" not in page.content()
    screenshot(page, "accounts-zh-360")
    assert run_axe(page) == []
    page.get_by_role("link", name="张建国").click()
    assert page.get_by_test_id("available").inner_text() == his_hours(live_dir)
    page.locator("details.reverse summary").first.click()
    screenshot(page, "account-zh-360")
    assert run_axe(page) == []
