"""Every page, as every kind of person sees it: the crawl that keeps the pages fit for use.

For each persona the crawl collects the same-origin pages reachable from their home page and
menu, plus the route table's pages without parameters that their role may open, one page
per route pattern. Each page is then opened in Chinese and English, on a 360 px phone and a
1280 px desktop, and checked (see ``PAGE_CHECKS``). Screenshots go to
tests/browser/screenshots/crawl/ (not committed)."""

from __future__ import annotations

import re
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import SCREENSHOTS, readme_shot, run_axe
from tests.browser.page_checks import PAGE_CHECKS, other_language
from tests.test_authorization import DENIED, RULES
from timebank.demo import DEMO_PASSWORD

WIDTHS = ((360, 740), (1280, 800))
LANGS = ("zh-CN", "en")
MAX_PAGES = 60  # per persona: a crawl that finds more has found a loop
# Personas by demo phone (None: anonymous). The family member is 张建国, 陈秀英's son, whom
# she lets act for her (he is a helper too); the helper is 刘小红.
PERSONAS = {
    "anonymous": None,
    "helper": "13800000004",
    "resident": "13800000005",
    "family": "13800000003",
    "coordinator": "13800000002",
    "subdistrict": "13800000009",
    "admin": "13800000001",
}
# Where each persona starts, besides "/".
HOMES = {
    "anonymous": ["/", "/signin"],
    "helper": ["/me", "/tasks"],
    "resident": ["/me"],
    "family": ["/me", "/family"],
    "coordinator": ["/me", "/dashboard"],
    "subdistrict": ["/me", "/dashboard"],
    "admin": ["/me", "/dashboard"],
}
# The phone screens the README shows (in Chinese): persona, path, picture.
README_SCREENS = {
    ("helper", "/tasks"): "phone-helper-tasks",
    ("resident", "/me"): "phone-resident-me",
    ("family", "/family"): "phone-family",
}
# Who each persona is in the authorization matrix (tests/test_authorization.py).
MATRIX = {"anonymous": "anonymous", "helper": "helper", "resident": "resident",
          "family": "helper", "coordinator": "coordinator", "subdistrict": "coordinator",
          "admin": "admin"}  # fmt: skip
# Not pages to check: leaving, switching language, files, the API, the service worker.
SKIP = re.compile(
    r"^/(signout|lang/|api/|static/|healthz)|\.(png|xlsx|csv|pdf|json|js|svg)$|/v/sw\.js$"
)


def pattern(path: str) -> str:
    """The route pattern a path stands for: numbers and tokens become placeholders."""
    parts = []
    for part in path.strip("/").split("/"):
        if part.isdigit():
            parts.append("{id}")
        elif len(part) >= 20 and re.fullmatch(r"[A-Za-z0-9_.~-]+", part):
            parts.append("{token}")
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def signed_in_context(browser: Any, base: str, phone: str | None, lang: str, size: Any) -> Any:
    """A browser context of ``size`` in ``lang``, signed in as ``phone`` (or anonymous)."""
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{base}/lang/{lang}?next=/")
    if phone:
        page.goto(f"{base}/signin?next=/me")
        page.fill("input[name=phone]", phone)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/me")
    page.close()
    return context


def routed(persona: str) -> list[str]:
    """The route table's pages without parameters that the persona's role may open."""
    return sorted(
        path
        for (method, path), rule in RULES.items()
        if method == "GET" and "{" not in path and not SKIP.search(path)
        and MATRIX[persona] not in DENIED[rule]
    )  # fmt: skip


def discover(context: Any, base: str, persona: str) -> list[str]:
    """Same-origin pages reachable by following links from the persona's homes and from the
    route table's pages their role may open, one per route pattern, in the order found."""
    seen: dict[str, str] = {}
    queue = [*HOMES[persona], *routed(persona)]
    page = context.new_page()
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if pattern(path) in seen:
            continue
        response = page.goto(f"{base}{path}")
        landed = urlsplit(page.url)
        if response is None or landed.path != urlsplit(path).path:
            continue  # redirected (to sign in, or onwards): that page is crawled on its own
        seen[pattern(path)] = path
        hrefs = page.eval_on_selector_all(
            "a[href]:not([download])", "els => els.map(e => e.getAttribute('href'))"
        )
        for href in hrefs:
            target = urlsplit(href)
            if target.netloc and f"{target.scheme}://{target.netloc}" != base:
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if target.path.startswith("/") and not SKIP.search(target.path):
                queue.append(link)
    page.close()
    return list(seen.values())


def check_page(page: Any, base: str, path: str, lang: str, names: frozenset[str]) -> list[str]:
    """Everything wrong with one page, as readable lines (none: the page is fit)."""
    page.console_errors = []
    response = page.goto(f"{base}{path}")
    page.wait_for_load_state("load")
    problems = []
    if response is None or response.status >= 400:
        problems.append(f"HTTP {response.status if response else 'none'}")
    problems += [f"console: {e}" for e in page.console_errors]
    problems += [f"axe {v['id']}: {v['help']}" for v in run_axe(page)]
    for check in [*PAGE_CHECKS, partial(other_language, names=names)]:
        problems += check(page, lang)
    return problems


def names_of_people_and_places(live_dir: Path) -> frozenset[str]:
    """Names and addresses the demo holds: an English page may show them as they are."""
    with sqlite3.connect(live_dir / "var" / "timebank.sqlite3", timeout=30) as conn:
        rows = conn.execute(
            "SELECT name FROM member UNION SELECT address FROM member"
            " UNION SELECT name FROM community UNION SELECT emergency_name FROM resident_profile"
        ).fetchall()
    return frozenset(r[0] for r in rows if r[0])


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_every_page_is_fit_for_its_people(
    browser: Any,
    live_server: str,
    live_dir: Path,
    persona: str,
) -> None:
    phone = PERSONAS[persona]
    folder = SCREENSHOTS / "crawl"
    folder.mkdir(parents=True, exist_ok=True)
    first = signed_in_context(browser, live_server, phone, "zh-CN", WIDTHS[1])
    paths = discover(first, live_server, persona)
    first.close()
    assert paths, f"{persona}: no page found"
    names = names_of_people_and_places(live_dir)
    failures: list[str] = []
    for lang in LANGS:
        for size in WIDTHS:
            context = signed_in_context(browser, live_server, phone, lang, size)
            page = context.new_page()
            page.on(
                "console",
                lambda msg, page=page: msg.type == "error" and page.console_errors.append(msg.text),
            )
            for path in paths:
                for problem in check_page(page, live_server, path, lang, names):
                    failures.append(f"{persona} {lang} {size[0]}px {path}: {problem}")
                name = re.sub(r"[^A-Za-z0-9]+", "_", pattern(path)).strip("_") or "home"
                page.screenshot(path=str(folder / f"{persona}-{lang}-{size[0]}-{name}.png"))
                if lang == "zh-CN" and size == WIDTHS[0] and (persona, path) in README_SCREENS:
                    readme_shot(page, README_SCREENS[persona, path])
            context.close()
    assert failures == [], "\n".join(failures[:200])
