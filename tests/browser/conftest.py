"""Playwright driving Debian's Chromium against a real uvicorn server."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_ALL, clean_env, running_server
from timebank.demo import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).parent / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module.

    Playwright's sync API keeps an event loop running in this thread while it is open; it
    must be closed before the async tests of other modules start their own loops.
    """
    if not os.path.exists(CHROMIUM):
        reason = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_ALL:
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The live server's folder; its data (SQLite file, secret key) is in ``var``."""
    return tmp_path_factory.mktemp("live")


@pytest.fixture(scope="session")
def live_server(live_dir: Path) -> Iterator[str]:
    """``timebank serve --demo`` on a free loopback port, on its own SQLite file."""
    run_dir = live_dir
    env = clean_env(TIMEBANK_DATA_DIR=str(run_dir / "var"))
    command = [sys.executable, "-m", "timebank", "serve", "--demo"]
    with running_server(command, env=env, cwd=run_dir) as base:
        yield base


@pytest.fixture
def mobile_page(browser: Any) -> Iterator[Any]:
    """A page at a 360×740 phone viewport, collecting console errors."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2)
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda msg: msg.type == "error" and page.console_errors.append(msg.text),  # type: ignore[attr-defined]
    )
    yield page
    context.close()


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under tests/browser/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


README_SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def readme_shot(page: Any, name: str) -> Path:
    """A screenshot the README shows: saved under tests/browser/screenshots/ (not committed)
    on every run, and over ``docs/screenshots/`` only when ``TIMEBANK_README_SCREENSHOTS=1``
    asks to regenerate the README's pictures deliberately."""
    path = screenshot(page, name)
    if os.environ.get("TIMEBANK_README_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SHOTS / f"{name}.png")
    return path


def sign_in(page: Any, live_server: str, phone: str, target: str) -> None:
    """Sign ``page`` in as the demo member with ``phone`` through the form, landing on
    ``target``."""
    page.goto(f"{live_server}/signin?next={target}")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}{target}")
