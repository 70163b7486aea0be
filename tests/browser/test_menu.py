"""The menu at the top of every page, on a 360 px phone and at 200% zoom (1280 px / 2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import run_axe, sign_in

# Every box in the header inside the viewport, and every menu target at least 44 × 44 px.
CHECK = """() => {
  const width = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll('.site-header *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.left < -0.5 || r.right > width + 0.5);
  }).map(e => e.outerHTML.slice(0, 80));
  const small = [...document.querySelectorAll('.site-menu a, .site-menu summary')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.width < 44 || r.height < 44);
  }).map(e => e.textContent);
  return {out, small};
}"""


@pytest.mark.parametrize(
    ("viewport", "scale"), [({"width": 360, "height": 740}, 2), ({"width": 640, "height": 400}, 2)]
)
@pytest.mark.parametrize("phone", ["13800000002", "13800000003", "13800000005"])
def test_the_menu_fits_and_leads_everywhere(
    browser: Any, live_server: str, viewport: dict[str, int], scale: int, phone: str
) -> None:
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    page = context.new_page()
    try:
        sign_in(page, live_server, phone, "/me")
        menu = page.get_by_test_id("menu")
        assert menu.is_visible()
        more = page.get_by_test_id("menu-more")
        if more.count():
            more.click()  # the coordinator's less used pages, folded
        assert page.evaluate(CHECK) == {"out": [], "small": []}
        assert page.get_by_test_id("me-link").is_visible()
        assert run_axe(page) == []
        links = menu.locator("a")
        for n in range(links.count()):
            href = links.nth(n).get_attribute("href")
            response = page.request.get(f"{live_server}{href}")
            assert response.status < 400, (phone, href)
        # The brand leads home: the member's own page.
        page.goto(f"{live_server}/me/hours")
        page.get_by_test_id("brand").click()
        page.wait_for_url(f"{live_server}/me")
    finally:
        context.close()
