"""Reports benchmark: the dashboard and the monthly report on a district's worth of data.

Builds a district (``bench/district_data.py``: 100,000 members, 300,000 visits, 1,000,000
ledger entries), then times, through the app in-process (httpx, signed in as a real
coordinator and an admin), the best of five after one warm-up:
- ``GET /dashboard`` for one community's coordinator and for the district's admin (all
  100 communities): overdue list, today's counts, three charts;
- ``GET /api/v1/reports/monthly?month=<last month>`` for the whole district as JSON and as
  XLSX (100 communities, 10 sub-districts, the district).

The baseline, measured in the same run on the same file: the plain driver (sqlite3 /
asyncpg) counting and summing last month's verified visits in one statement - the least
any monthly figure costs. Ratios are ours / baseline.

    python bench/reports.py [--members 100000] [--visits 300000] [--entries 1000000]
                            [--postgres URL] [--skip-sqlite]

PostgreSQL runs when ``--postgres`` (or ``TIMEBANK_TEST_POSTGRES_URL``) names a server
where databases may be created; each run creates and drops its own.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.databases import on_each_database, running_app  # noqa: E402
from bench.district_data import build  # noqa: E402
from timebank import db  # noqa: E402
from timebank.calendar import next_month, previous_month  # noqa: E402
from timebank.people.members import create_member  # noqa: E402
from timebank.people.models import Community, Role  # noqa: E402

PASSWORD = "bench-password-1"
TZ = ZoneInfo("Asia/Shanghai")


def line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}", flush=True)


def last_month() -> tuple[datetime, datetime, str]:
    first = previous_month(datetime.now(TZ).date())
    start = datetime.combine(first, dtime(0), tzinfo=TZ).astimezone(UTC)
    end = datetime.combine(next_month(first), dtime(0), tzinfo=TZ).astimezone(UTC)
    return start, end, first.strftime("%Y-%m")


BASELINE = (
    "SELECT COUNT(*), SUM(served_minutes) FROM visit WHERE status = 'verified'"
    " AND checked_in_at >= {a} AND checked_in_at < {b}"
)


async def baseline_seconds(url: str) -> float:
    """Best of five: the plain driver's one-statement count and sum of last month."""
    start, end, _ = last_month()
    best = float("inf")
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite://"))
        for _ in range(6):
            began = time.perf_counter()
            conn.execute(BASELINE.format(a="?", b="?"),
                         (start.isoformat(sep=" "), end.isoformat(sep=" "))).fetchall()  # fmt: skip
            best = min(best, time.perf_counter() - began)
        conn.close()
        return best
    import asyncpg

    pg = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    for _ in range(6):
        began = time.perf_counter()
        await pg.fetch(BASELINE.format(a="$1", b="$2"), start, end)
        best = min(best, time.perf_counter() - began)
    await pg.close()
    return best


async def timed(client: httpx.AsyncClient, path: str) -> tuple[float, httpx.Response]:
    """Best of five after a warm-up."""
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        response = await client.get(path)
        best = min(best, time.perf_counter() - began)
        assert response.status_code == 200
    return best, response


async def signed_in(app: Any, phone: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120)
    response = await client.post("/api/v1/session", json={"phone": phone, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


async def measure(url: str, args: argparse.Namespace, label: str, data_dir: str) -> None:
    print(f"\n{label}", flush=True)
    await db.migrate(url)
    await db.open_db(url)
    began = time.perf_counter()
    made = await build(members=args.members, visits=args.visits, entries=args.entries)
    line("generated (members, visits, ledger entries)",
         f"{made.members:,}, {made.visits:,}, {made.entries:,} in "
         f"{time.perf_counter() - began:.0f} s")  # fmt: skip
    community = await Community.get(id=made.community_ids[0])
    await create_member(community=community, name="协调员", phone="19900000001",
                        password=PASSWORD, roles=[Role.COORDINATOR])  # fmt: skip
    await create_member(community=community, name="区管理员", phone="19900000002",
                        password=PASSWORD, roles=[Role.ADMIN])  # fmt: skip
    await db.close_db()
    async with running_app(url, data_dir) as app:
        coordinator = await signed_in(app, "19900000001")
        admin = await signed_in(app, "19900000002")
        await timings(url, coordinator, admin, "as loaded")
        if not url.startswith("sqlite"):
            # What autovacuum does to a table this size soon after such a load: statistics
            # for the planner, and the visibility map that lets index-only scans skip the
            # table. (SQLite is measured as the product runs it: no ANALYZE.)
            import asyncpg

            pg = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
            await pg.execute("VACUUM ANALYZE")
            await pg.close()
            await timings(url, coordinator, admin, "after VACUUM ANALYZE")
        await coordinator.aclose()
        await admin.aclose()


async def timings(
    url: str, coordinator: httpx.AsyncClient, admin: httpx.AsyncClient, label: str
) -> None:
    print(f" {label}", flush=True)
    baseline = await baseline_seconds(url)
    line("baseline: plain driver, last month's count and sum", f"{baseline * 1000:.1f} ms")
    _, _, month = last_month()
    figures = []
    for name, client, path in (
        ("dashboard, one community's coordinator", coordinator, "/dashboard"),
        ("dashboard, the district's admin (100 communities)", admin, "/dashboard"),
        ("monthly report, district, JSON", admin, f"/api/v1/reports/monthly?month={month}"),
        ("monthly report, district, XLSX", admin,
         f"/api/v1/reports/monthly?month={month}&format=xlsx"),
    ):  # fmt: skip
        seconds, response = await timed(client, path)
        figures.append((name, seconds))
        extra = ""
        if path == "/dashboard":
            found = re.search(r'id="overdue-title">[^<]*<small>\((\d+)\)', response.text)
            extra = f" ({int(found.group(1)) if found else 0:,} residents overdue)"
        line(f"{name}", f"{seconds * 1000:,.0f} ms{extra}")
    for name, seconds in figures:
        what, which = name.split(", ", 1)
        line(f"ratio {what} / baseline ({which})", f"{seconds / baseline:,.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=300_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    await on_each_database(parser, "district.sqlite3", measure)


if __name__ == "__main__":
    asyncio.run(main())
