"""A coordinator approves a proposed pairing; the helper sees the new task on a phone."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import run_axe, screenshot, sign_in


def test_coordinator_approves_and_the_helper_sees_the_task(
    mobile_page: Any, live_server: str, browser: Any
) -> None:
    # The demo's proposed pairing: 刘小红 (13800000004) to visit a resident daily at 10:00.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(desk, live_server, "13800000002", "/pairings")
    proposed = desk.get_by_test_id("pairings-proposed")
    assert "刘小红" in proposed.inner_text()
    assert run_axe(desk) == []
    proposed.get_by_role("link").first.click()
    desk.wait_for_url(f"{live_server}/pairings/*")
    assert "探视巡访" in desk.get_by_test_id("plan").inner_text()
    screenshot(desk, "pairing-proposed-zh-1280")
    desk.get_by_test_id("pairing-approve").click()
    desk.wait_for_url(f"{live_server}/pairings/*")
    assert desk.get_by_test_id("pairing-status").inner_text() == "正常"
    assert "待审批" in desk.get_by_test_id("history").inner_text()
    assert run_axe(desk) == []
    desk.context.close()

    page = mobile_page
    sign_in(page, live_server, "13800000004", "/me")
    page.get_by_test_id("tasks-link").click()
    page.wait_for_url(f"{live_server}/tasks")
    tasks = page.get_by_test_id("tasks").inner_text()
    assert "探视巡访" in tasks and "10:00" in tasks
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert run_axe(page) == []
    screenshot(page, "tasks-zh-360")
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_resident_orders_a_service_on_a_phone(mobile_page: Any, live_server: str) -> None:
    page = mobile_page
    sign_in(page, live_server, "13800000005", "/order")
    assert run_axe(page) == []
    page.get_by_label("理发").check()
    page.get_by_test_id("order-submit").click()
    page.wait_for_url(f"{live_server}/order?placed=1")
    assert page.get_by_test_id("placed").is_visible()
    assert "理发" in page.get_by_test_id("upcoming").inner_text()
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    screenshot(page, "order-zh-360")
    assert run_axe(page) == []


def test_coordinator_board_on_a_phone(mobile_page: Any, live_server: str) -> None:
    page = mobile_page
    sign_in(page, live_server, "13800000002", "/orders")
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert run_axe(page) == []
    screenshot(page, "orders-zh-360")
    page.goto(f"{live_server}/pairings")
    assert run_axe(page) == []
    screenshot(page, "pairings-zh-360")
