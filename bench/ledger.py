"""Ledger benchmark: posting rate, balance reads at 1k vs 1M entries, verify speed.

Every figure is printed beside a baseline measured in the same run:
- posting: ``credit_service`` vs a raw driver committing one comparable row per
  transaction with the same settings (aiosqlite with the same pragmas; asyncpg);
- balance: the same read on a ledger of 1,000 and of 1,000,000 entries;
- verify: ``verify()`` vs a raw scan that reads and SHA-256-hashes the same rows.

    python bench/ledger.py [--entries 1000000] [--postgres URL] [--posting-only]

PostgreSQL runs when ``--postgres`` (or ``TIMEBANK_TEST_POSTGRES_URL``) names a server
where databases may be created; each run creates and drops its own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import scratch_postgres  # noqa: E402
from bench.ledger_data import fill  # noqa: E402
from tests.conftest import make_community, make_member  # noqa: E402
from timebank import db  # noqa: E402
from timebank.ledger import service as ledger  # noqa: E402
from timebank.ledger.verify import verify  # noqa: E402

POSTS = 2000
READS = 2000

WORKER = """
import asyncio, sys, time
from timebank import db
from timebank.ledger import service as ledger

async def main(url, helper, community, prefix, tasks, each):
    await db.open_db(url)
    await ledger.balance(1)  # connected, pool warm
    start = time.time()
    async def one(t):
        for i in range(each):
            await ledger.credit_service(helper_id=helper, community_id=community, minutes=1,
                                        visit_id=f"{prefix}-{t}-{i}", key=f"{prefix}-{t}-{i}")
    await asyncio.gather(*(one(t) for t in range(tasks)))
    print(start, time.time())
    await db.close_db()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
                 int(sys.argv[5]), int(sys.argv[6])))
"""


def line(label: str, value: str) -> None:
    print(f"  {label:<52} {value}")


async def raw_sqlite_commits(path: str, n: int) -> float:
    """Commits/s of aiosqlite inserting one ledger-sized row per transaction."""
    import aiosqlite

    conn = await aiosqlite.connect(path, isolation_level=None)
    for pragma, value in db.SQLITE_PRAGMAS.items():
        await conn.execute(f"PRAGMA {pragma}={value}")
    await conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b TEXT, h TEXT)")
    start = time.perf_counter()
    for i in range(n):
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute("INSERT INTO t (a, b, h) VALUES (?, ?, ?)", (i, "x" * 20, "y" * 64))
        await conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    await conn.close()
    return rate


async def raw_postgres_commits(url: str, n: int) -> float:
    """Commits/s of asyncpg inserting one ledger-sized row per transaction."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    await conn.execute("CREATE TABLE bench_t (id serial PRIMARY KEY, a int, b text, h text)")
    start = time.perf_counter()
    for i in range(n):
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO bench_t (a, b, h) VALUES ($1, $2, $3)", i, "x" * 20, "y" * 64
            )
    rate = n / (time.perf_counter() - start)
    await conn.execute("DROP TABLE bench_t")
    await conn.close()
    return rate


async def posting_rate(n: int) -> tuple[float, int, int]:
    """``credit_service`` calls per second, one after another."""
    community = await make_community("记账基准")
    helper = await make_member(community, "helper")
    await ledger.credit_service(
        helper_id=helper.id, community_id=community.id, minutes=1, visit_id="warm", key="warm"
    )
    start = time.perf_counter()
    for i in range(n):
        await ledger.credit_service(
            helper_id=helper.id, community_id=community.id, minutes=1, visit_id=i, key=f"post-{i}"
        )
    return n / (time.perf_counter() - start), helper.id, community.id


def concurrent_rate(
    url: str, helper: int, community: int, processes: int, tasks: int, each: int
) -> float:
    """Transfers/s from ``processes`` OS processes × ``tasks`` tasks.

    Timed from the first worker's first write to the last worker's last (each worker
    reports its own clock), not counting interpreter start-up.
    """
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                url,
                str(helper),
                str(community),
                f"c{p}-{uuid.uuid4().hex[:6]}",
                str(tasks),
                str(each),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for p in range(processes)
    ]
    spans = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit("a worker failed")
        spans.append([float(x) for x in out.split()])
    elapsed = max(end for _, end in spans) - min(begin for begin, _ in spans)
    return processes * tasks * each / elapsed


async def balance_read_seconds(account_id: int) -> float:
    """Seconds per balance read: the best of 7 rounds, so a burst of other load on the
    machine does not decide the figure."""
    rounds = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(READS // 7):
            await ledger.balance(account_id)
        rounds.append((time.perf_counter() - start) / (READS // 7))
    return min(rounds)


async def raw_scan_rate(url: str) -> float:
    """Entries/s of a plain scan that reads and hashes the ledger rows."""
    query = (
        "SELECT seq, txn_id, account_id, amount, phase, balance_after, prev_hash, hash"
        " FROM ledger_entry ORDER BY seq"
    )
    start = time.perf_counter()
    count = 0
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite://"))
        for row in conn.execute(query):
            hashlib.sha256(repr(row).encode()).hexdigest()
            count += 1
        conn.close()
    else:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        async with conn.transaction():
            async for row in conn.cursor(query, prefetch=20000):
                hashlib.sha256(repr(tuple(row)).encode()).hexdigest()
                count += 1
        await conn.close()
    return count / (time.perf_counter() - start)


async def measure(url: str, entries: int, label: str) -> tuple[int, int]:
    print(f"\n{label}")
    await db.migrate(url)
    await db.open_db(url)
    try:
        rate, helper, community = await posting_rate(POSTS)
        line("credit_service, sequential (transfers/s)", f"{rate:,.0f}")
        small = await fill(1000, wallets=10, seed=1)
        small_read = await balance_read_seconds(small[0])
        big = await fill(entries, wallets=1000, seed=2)
        big_read = await balance_read_seconds(big[0])
        line("balance read at 1,000 entries", f"{small_read * 1e6:,.0f} µs")
        line(f"balance read at {entries:,} more entries", f"{big_read * 1e6:,.0f} µs")
        line("ratio large/small (target ≤ 1.2)", f"{big_read / small_read:.2f}")
        report = await verify()
        assert report.ok, report.reason
        ours = report.entries / report.seconds
        raw = await raw_scan_rate(url)
        line(f"verify ({report.entries:,} entries, entries/s)", f"{ours:,.0f}")
        line("raw scan + SHA-256 of the same rows (entries/s)", f"{raw:,.0f}")
        line("ratio verify/raw (target ≥ 0.5)", f"{ours / raw:.2f}")
    finally:
        await db.close_db()
    return helper, community


async def posting_only(postgres: str) -> None:
    """The posting part alone: ``credit_service`` one after another against the raw
    driver's commits, with the process's CPU time per posting (on PostgreSQL, the client's:
    steadier than a rate when others share the machine)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = await raw_sqlite_commits(str(Path(tmp) / "raw.sqlite3"), POSTS)
        await _posting(f"sqlite://{Path(tmp) / 'ledger.sqlite3'}", "SQLite", raw)
    if postgres:
        async with scratch_postgres(postgres) as url:
            await _posting(url, "PostgreSQL", await raw_postgres_commits(url, POSTS))


async def _posting(url: str, label: str, raw: float) -> None:
    await db.migrate(url)
    await db.open_db(url)
    try:
        cpu = time.process_time()
        rate, _, _ = await posting_rate(POSTS)
        cpu = time.process_time() - cpu
    finally:
        await db.close_db()
    print(label)
    line("baseline: one row per commit (commits/s)", f"{raw:,.0f}")
    line("credit_service (transfers/s)", f"{rate:,.0f}")
    line("ratio credit_service/baseline (target ≥ 0.5)", f"{rate / raw:.2f}")
    line("CPU µs per posting (process; PostgreSQL: client)", f"{cpu / (POSTS + 1) * 1e6:,.0f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("TIMEBANK_TEST_POSTGRES_URL", ""))
    parser.add_argument("--posting-only", action="store_true", help="only the posting part")
    args = parser.parse_args()
    if args.posting_only:
        await posting_only(args.postgres)
        return

    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite")
        raw = await raw_sqlite_commits(str(Path(tmp) / "raw.sqlite3"), POSTS)
        line("baseline: aiosqlite, one row per commit (commits/s)", f"{raw:,.0f}")
        url = f"sqlite://{Path(tmp) / 'ledger.sqlite3'}"
        await db.migrate(url)
        await db.open_db(url)
        rate, _, _ = await posting_rate(POSTS)
        await db.close_db()
        line("credit_service (transfers/s)", f"{rate:,.0f}")
        line("ratio credit_service/baseline (target ≥ 0.5)", f"{rate / raw:.2f}")
        await measure(f"sqlite://{Path(tmp) / 'big.sqlite3'}", args.entries, "SQLite, large")

    if args.postgres:
        async with scratch_postgres(args.postgres) as url:
            print("\nPostgreSQL")
            raw = await raw_postgres_commits(url, POSTS)
            line("baseline: asyncpg, one row per commit (commits/s)", f"{raw:,.0f}")
            helper, community = await measure(url, args.entries, "PostgreSQL, large")
            for processes, tasks in ((1, 8), (1, 32), (2, 16), (4, 8)):
                rate = concurrent_rate(url, helper, community, processes, tasks, 250)
                line(
                    f"credit_service, {processes} process(es) × {tasks} tasks (transfers/s)",
                    f"{rate:,.0f}",
                )


if __name__ == "__main__":
    asyncio.run(main())
