"""The landing page on a phone: fits, switches language, passes axe."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import run_axe, screenshot


def no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def test_landing_page_on_a_phone(mobile_page: Any, live_server: str) -> None:
    page = mobile_page
    page.goto(f"{live_server}/")
    assert page.locator("h1").inner_text() == "时间银行 · 邻里互助"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert no_horizontal_scroll(page)
    # The vendored stylesheet really applied (Pico sets the root font size).
    assert page.evaluate("() => getComputedStyle(document.body).fontFamily").strip() != ""
    assert float(page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")) >= 18
    screenshot(page, "landing-zh-360")
    assert run_axe(page) == []

    page.get_by_test_id("lang-switch").click()
    page.wait_for_url(f"{live_server}/")
    assert page.locator("h1").inner_text() == "Time Bank · Mutual Aid"
    assert page.locator("html").get_attribute("lang") == "en"
    assert no_horizontal_scroll(page)
    screenshot(page, "landing-en-360")
    assert run_axe(page) == []

    # The choice sticks across pages, and back again.
    page.goto(f"{live_server}/no-such-page")
    assert "There is no such page or record." in page.content()
    page.get_by_test_id("lang-switch").click()
    page.wait_for_url(f"{live_server}/no-such-page")
    assert "找不到该页面或记录。" in page.content()
    assert page.console_errors == [e for e in page.console_errors if "404" in e]


def test_touch_targets_are_large(mobile_page: Any, live_server: str) -> None:
    page = mobile_page
    page.goto(f"{live_server}/")
    height = page.get_by_test_id("lang-switch").bounding_box()["height"]
    assert height >= 44
