"""A coordinator at a desktop registers a resident and finds them in the member list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import run_axe, screenshot, sign_in


@pytest.fixture
def desktop_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert errors == []


def test_coordinator_registers_a_resident_and_finds_them(
    desktop_page: Any, live_server: str
) -> None:
    page = desktop_page
    sign_in(page, live_server, "13800000002", "/people")
    assert run_axe(page) == []
    page.get_by_test_id("register-link").click()
    page.wait_for_url(f"{live_server}/people/new")
    page.fill("input[name=name]", "孙玉梅")
    page.fill("input[name=phone]", "13912345678")
    page.fill("input[name=birth_date]", "1939-04-02")
    page.select_option("select[name=care_level]", "semi")
    page.get_by_label("独居").check()
    page.get_by_label("送餐").first.check()
    assert run_axe(page) == []
    screenshot(page, "register-zh-1280")
    page.get_by_test_id("register-submit").click()
    page.wait_for_url(f"{live_server}/people/*?registered=1")
    assert page.get_by_test_id("member-name").inner_text() == "孙玉梅"
    assert "独居" in page.content() and "半失能" in page.content()
    screenshot(page, "member-zh-1280")
    assert run_axe(page) == []
    page.goto(f"{live_server}/people")
    page.get_by_test_id("search").fill("孙玉")
    page.get_by_role("button", name="查找").click()
    listing = page.get_by_test_id("member-list")
    assert "孙玉梅" in listing.inner_text()
    screenshot(page, "members-zh-1280")


def test_coordinator_pages_fit_a_phone(mobile_page: Any, live_server: str) -> None:
    page = mobile_page
    page.goto(f"{live_server}/signin/code")
    assert run_axe(page) == []
    screenshot(page, "signin-code-zh-360")
    sign_in(page, live_server, "13800000002", "/people")
    page.get_by_role("link", name="陈秀英").first.click()
    page.wait_for_url(f"{live_server}/people/*")
    detail = page.url.removeprefix(live_server)
    pages = {
        "people": "/people",
        "register": "/people/new",
        "member": detail,
        "edit": f"{detail}/edit",
        "import": "/people/import",
        "audit": "/audit",
        "password": "/me/password",
    }
    page.goto(f"{live_server}/people")  # the settings link is on the list page
    settings = page.get_by_role("link", name="桂花社区").get_attribute("href")
    pages["settings"] = settings
    for name, path in pages.items():
        page.goto(f"{live_server}{path}")
        fits = page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        assert fits, f"{name} scrolls sideways at 360 px"
        assert run_axe(page) == [], name
        screenshot(page, f"{name}-zh-360")
    assert page.console_errors == []  # type: ignore[attr-defined]
