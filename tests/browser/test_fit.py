"""Representative pages measured as their users meet them, on a 360 px phone and a 1280 px
desktop: nothing cut off or wider than the screen, main text of 18 px or more, tap targets
of 44 x 44 px or more with room between buttons, field borders and the focus ring at 3:1;
and elder mode (长辈版) giving 22 px text and 60 px targets on a resident's pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser import measure
from tests.browser.conftest import readme_shot, run_axe, sign_in

COORDINATOR, HELPER, RESIDENT = "13800000002", "13800000003", "13800000005"
# Each person's pages: the statement and the passbook, a helper's tasks, the office's boards.
PAGES = {
    RESIDENT: ["/me/statement", "/me/hours"],
    HELPER: ["/tasks", "/me/hours"],
    COORDINATOR: ["/settlements", "/orders", "/people", "/dashboard"],
}
WIDTHS = {"phone": (360, 740), "desktop": (1280, 800)}
CHECKS: dict[str, Callable[[Any], list[str]]] = {
    "wider than the screen or hidden": measure.overflow,
    "text under 18 px": measure.small_text,
    "targets under 44 px": measure.small_targets,
    "buttons too close": measure.crowded_buttons,
    "faint field borders": measure.faint_borders,
    "faint focus ring": measure.faint_focus,
}
# A resident's own pages, in elder mode.
ELDER_PAGES = ["/", "/me", "/me/hours", "/order", "/visits", "/redeem"]


@pytest.mark.parametrize("width", WIDTHS, ids=list(WIDTHS))
def test_representative_pages_fit_people(browser: Any, live_server: str, width: str) -> None:
    w, h = WIDTHS[width]
    found: dict[str, list[str]] = {}
    for phone, paths in PAGES.items():
        context = browser.new_context(viewport={"width": w, "height": h})
        page = context.new_page()
        sign_in(page, live_server, phone, paths[0])
        for path in paths:
            page.goto(f"{live_server}{path}")
            for name, check in CHECKS.items():
                if problems := check(page):
                    found[f"{path} {name}"] = problems[:5]
        context.close()
    assert found == {}


def placard_path(browser: Any, live_server: str) -> str:
    """The check-in address (/v/<token>) on a 桂花社区 resident's placard."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, COORDINATOR, "/me")
    residents = page.request.get(f"{live_server}/api/v1/members?role=resident").json()
    card = page.request.get(f"{live_server}/api/v1/members/{residents['members'][0]['id']}/placard")
    url = str(card.json()["url"])
    context.close()
    return "/v/" + url.rsplit("/v/", 1)[1]


@pytest.mark.parametrize("width", WIDTHS, ids=list(WIDTHS))
def test_the_checkin_page_fits_people(browser: Any, live_server: str, width: str) -> None:
    """The page a helper's phone opens at the door (its own light style sheet)."""
    placard = placard_path(browser, live_server)
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h})
    page = context.new_page()
    page.goto(f"{live_server}{placard}")  # sent to sign in first, told why
    page.wait_for_url(f"{live_server}/signin?next={placard}")
    assert page.get_by_test_id("signin-reason").inner_text() == "请先登录，再为这位老人签到。"
    found = {name: check(page) for name, check in CHECKS.items()}
    sign_in(page, live_server, HELPER, placard)
    for path in (placard, "/v/not-a-placard"):
        page.goto(f"{live_server}{path}")
        found |= {f"{path} {name}": check(page) for name, check in CHECKS.items()}
    context.close()
    assert {k: v for k, v in found.items() if v} == {}


def test_the_statement_shows_every_column_on_a_phone(browser: Any, live_server: str) -> None:
    """Not even inside a box that scrolls: an elderly reader sees 余额 without looking for it."""
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    sign_in(page, live_server, RESIDENT, "/me/statement")
    outside = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=statement] :is(th, td)')]
        .filter((cell) => cell.getBoundingClientRect().right > document.documentElement.clientWidth)
        .map((cell) => cell.innerText)"""
    )
    assert page.get_by_role("columnheader", name="余额").is_visible()
    assert outside == []
    context.close()


def test_elder_mode_is_larger_and_remembered(browser: Any, live_server: str) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    sign_in(page, live_server, RESIDENT, "/me")
    try:
        page.get_by_test_id("elder-on").click()
        page.wait_for_url(f"{live_server}/me")
        assert page.evaluate("() => document.documentElement.classList.contains('elder')")
        found: dict[str, list[str]] = {}
        for path in ELDER_PAGES:
            page.goto(f"{live_server}{path}")
            checks = {
                "text under 22 px": measure.small_text(page, 22),
                "targets under 60 px": measure.small_targets(page, 60),
                "wider than the screen": measure.overflow(page),
            }
            found |= {f"{path} {k}": v[:5] for k, v in checks.items() if v}
        assert found == {}
        assert run_axe(page) == []
        page.goto(f"{live_server}/me")
        readme_shot(page, "phone-elder-mode")
        # Remembered for the member: a new browser signing in gets elder mode too.
        other = browser.new_context(viewport={"width": 360, "height": 740})
        again = other.new_page()
        sign_in(again, live_server, RESIDENT, "/me/hours")
        assert again.evaluate("() => document.documentElement.classList.contains('elder')")
        other.close()
    finally:
        page.goto(f"{live_server}/me")
        if page.get_by_test_id("elder-off").count():
            page.get_by_test_id("elder-off").click()  # other tests expect the standard site
            page.wait_for_url(f"{live_server}/me")
    assert not page.evaluate("() => document.documentElement.classList.contains('elder')")
    context.close()
