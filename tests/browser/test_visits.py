"""A helper on a phone opens a placard URL, signs in, checks in and out, and sees the hours
credited; then the same with the signal gone (the taps wait in the browser and are sent
when it returns). Also: the check-in page's weight, and a printed placard that scans."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import readme_shot, run_axe, screenshot, sign_in
from tests.conftest import REQUIRE_ALL
from timebank.demo import DEMO_PASSWORD

HELPER = "13800000006"  # 赵德海, resident and helper of 枫林社区
COORDINATOR = "13800000007"  # 周桂兰, coordinator of 枫林社区
PAGE_BUDGET = 60 * 1024


def office(live_server: str) -> tuple[httpx.Client, dict[str, str]]:
    client = httpx.Client(base_url=live_server, timeout=30)
    signed = client.post("/api/v1/session", json={"phone": COORDINATOR, "password": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.text
    return client, {"x-csrf-token": signed.json()["csrf_token"]}


def member(client: httpx.Client, **query: str) -> dict[str, Any]:
    found = client.get("/api/v1/members", params=query)
    assert found.status_code == 200, found.text
    return dict(found.json()["members"][0])


def order_for_now(live_server: str, resident_no: int) -> tuple[dict[str, Any], str]:
    """A coordinator orders a visit for now for a resident of 枫林社区 and assigns it to
    赵德海; returns the resident and their placard's path (/v/<token>)."""
    client, headers = office(live_server)
    with closing(client):
        helper = member(client, q=HELPER)
        residents = client.get("/api/v1/members", params={"role": "resident"}).json()["members"]
        resident = [r for r in residents if r["id"] != helper["id"]][resident_no]
        now = datetime.now(UTC)
        placed = client.post(
            "/api/v1/orders",
            json={
                "resident": resident["id"],
                "service": "companionship",
                "starts_at": (now - timedelta(minutes=20)).isoformat(),
                "ends_at": (now + timedelta(minutes=40)).isoformat(),
                "funded": True,
            },
            headers=headers,
        )
        assert placed.status_code == 201, placed.text
        assigned = client.post(
            f"/api/v1/orders/{placed.json()['id']}/transitions",
            json={"action": "assign", "helper": helper["id"]},
            headers=headers,
        )
        assert assigned.status_code == 200, assigned.text
        card = client.get(f"/api/v1/members/{resident['id']}/placard")
        assert card.status_code == 200, card.text
        return resident, "/v/" + card.json()["url"].rsplit("/v/", 1)[1]


def page_weight(page: Any) -> int:
    """Bytes the page loaded over the network (compressed), document and every resource."""
    return int(
        page.evaluate(
            """() => performance.getEntriesByType('navigation')
                 .concat(performance.getEntriesByType('resource'))
                 .reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0)"""
        )
    )


def backdate(live_dir: Path, visit_id: int, minutes: int) -> None:
    """Pretend the visit began ``minutes`` ago (the test cannot wait three quarters of an
    hour); written as tortoise writes UTC times to SQLite."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    with sqlite3.connect(live_dir / "var" / "timebank.sqlite3", timeout=30) as conn:
        conn.execute(
            "UPDATE visit SET checked_in_at = ? WHERE id = ?",
            (moment.strftime("%Y-%m-%d %H:%M:%S.%f+00:00"), visit_id),
        )


def test_helper_checks_in_and_out_on_a_phone(
    mobile_page: Any, live_server: str, live_dir: Path
) -> None:
    resident, placard = order_for_now(live_server, 0)
    page = mobile_page
    # The placard URL, as the phone's camera opens it: sign in first, then back here.
    page.goto(f"{live_server}{placard}")
    page.wait_for_url(f"{live_server}/signin?next={placard}")
    page.fill("input[name=phone]", HELPER)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}{placard}")
    page.goto(f"{live_server}{placard}")  # a fresh load, to weigh it
    page.wait_for_load_state("networkidle")
    weight = page_weight(page)
    print(f"check-in page weight: {weight} bytes compressed (budget {PAGE_BUDGET})")
    assert 0 < weight <= PAGE_BUDGET
    assert page.get_by_test_id("resident-name").inner_text() == resident["name"]
    button = page.get_by_test_id("visit-button")
    assert button.inner_text() == "开始服务"
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert run_axe(page) == []
    readme_shot(page, "checkin-start-360")
    button.click()
    page.wait_for_url(f"{live_server}/visits/*")
    assert page.get_by_test_id("visit-status").inner_text() == "服务中"
    visit_id = int(page.url.rsplit("/", 1)[1])
    backdate(live_dir, visit_id, 44)
    # Scan again on leaving: one big Finish button.
    page.goto(f"{live_server}{placard}")
    assert page.get_by_test_id("visit-button").inner_text() == "结束服务"
    readme_shot(page, "checkin-finish-360")
    page.get_by_test_id("visit-button").click()
    page.wait_for_url(f"{live_server}/visits/{visit_id}")
    assert page.get_by_test_id("visit-status").inner_text() == "已核验"
    credited = page.get_by_test_id("credited").inner_text()
    assert "45分" in credited, credited
    assert page.get_by_test_id("balance").is_visible()
    assert run_axe(page) == []
    readme_shot(page, "visit-credited-360")
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_check_in_and_out_without_signal(
    mobile_page: Any, live_server: str, live_dir: Path
) -> None:
    resident, placard = order_for_now(live_server, 1)
    page = mobile_page
    sign_in(page, live_server, HELPER, f"{placard}")
    # The service worker keeps a copy of the page for when there is no signal.
    assert page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_load_state("networkidle")
    context = page.context
    context.set_offline(True)
    page.get_by_test_id("visit-button").click()
    queued = page.get_by_test_id("visit-queued")
    queued.wait_for(state="visible")
    assert "没有信号" in queued.inner_text()
    assert page.get_by_test_id("visit-button").inner_text() == "结束服务"
    # What waits on the phone is listed: the start, for this resident, with its time.
    kept = page.get_by_test_id("visit-queue")
    kept.wait_for(state="visible")
    assert kept.locator("li").all_inner_texts()[0].startswith(f"开始服务 · {resident['name']} · ")
    # The page opens again without signal, and remembers the visit was started.
    page.reload()
    assert page.get_by_test_id("resident-name").inner_text() == resident["name"]
    page.wait_for_function("() => document.querySelectorAll('#visit-queue li').length === 1")
    page.get_by_test_id("visit-button").wait_for()
    page.wait_for_function(
        "() => document.getElementById('visit-button').textContent === '结束服务'"
    )
    page.get_by_test_id("visit-button").click()
    page.wait_for_function(
        "() => document.getElementById('visit-status').textContent.includes('签退')"
    )
    page.wait_for_function("() => document.querySelectorAll('#visit-queue li').length === 2")
    assert kept.locator("li").all_inner_texts()[1].startswith("结束服务 · ")
    readme_shot(page, "checkin-offline-360")
    with sqlite3.connect(live_dir / "var" / "timebank.sqlite3", timeout=30) as conn:
        before = conn.execute(
            "SELECT COUNT(*) FROM visit WHERE resident_id = ? AND in_event NOT LIKE ?",
            (resident["id"], "history-%"),  # the demo's three months of history aside
        ).fetchone()[0]
    assert before == 0  # nothing reached the server
    context.set_offline(False)
    page.wait_for_function(
        "() => document.getElementById('visit-status').textContent.includes('已发送')",
        timeout=30_000,
    )
    kept.wait_for(state="hidden")  # nothing left waiting
    with sqlite3.connect(live_dir / "var" / "timebank.sqlite3", timeout=30) as conn:
        rows = conn.execute(
            "SELECT status, flags, offline, checked_out_at IS NOT NULL FROM visit"
            " WHERE resident_id = ? AND in_event NOT LIKE ?",
            (resident["id"], "history-%"),
        ).fetchall()
    assert len(rows) == 1, rows
    status, flags, offline, closed = rows[0]
    assert status == "flagged" and "offline" in flags.split(",") and offline and closed
    assert page.console_errors == [] or all(  # type: ignore[attr-defined]
        "ERR_INTERNET_DISCONNECTED" in e
        for e in page.console_errors  # type: ignore[attr-defined]
    )


def test_printed_placard_scans(browser: Any, live_server: str, live_dir: Path) -> None:
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        reason = "decoding the placard needs zbarimg (apt-get install zbar-tools)"
        if REQUIRE_ALL:
            pytest.fail(reason)
        pytest.skip(reason)
    client, _ = office(live_server)
    with closing(client):
        resident = member(client, role="resident")
        expected = client.get(f"/api/v1/members/{resident['id']}/placard").json()["url"]
    context = browser.new_context(viewport={"width": 800, "height": 1100})
    page = context.new_page()
    sign_in(page, live_server, COORDINATOR, f"/people/{resident['id']}/placard")
    page.emulate_media(media="print")
    shot = screenshot(page, "placard-print")
    readme_shot(page, "placard-print")
    context.close()
    decoded = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(shot)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert decoded == expected
