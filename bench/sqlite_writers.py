"""Two OS processes writing one SQLite file: tortoise's stock client vs ours.

Each process runs N read-then-write transactions. Prints, per client, the transactions
that failed with "database is locked" and the wall time, and the ratio of our time to the
stock client's measured in this same run.

    python bench/sqlite_writers.py [N]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKER = r"""
import asyncio, sys, sqlite3
from tortoise import Tortoise
from tortoise.transactions import in_transaction
from tortoise.exceptions import OperationalError, TransactionManagementError
from timebank import db
from timebank.people.models import Community, Level

async def main(url, engine, name, count):
    config = db.tortoise_config(url)
    config["connections"]["default"]["engine"] = engine
    await Tortoise.init(config=config)
    failed = 0
    for i in range(count):
        try:
            async with in_transaction():
                n = await Community.filter(level=Level.DISTRICT).count()
                await Community.create(name=f"{name}-{i}-{n}", level=Level.DISTRICT)
        except (OperationalError, TransactionManagementError) as exc:
            if "locked" not in str(exc):
                raise
            failed += 1
    await Tortoise.close_connections()
    print(failed)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


def run(engine: str, count: int) -> tuple[int, float]:
    """Failed transactions and seconds for two processes using ``engine``."""
    from timebank import db

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
        asyncio.run(db.migrate(url))
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, url, engine, name, str(count)],
                stdout=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            for name in ("a", "b")
        ]
        failed = sum(int(p.communicate()[0].strip()) for p in procs)
        return failed, time.perf_counter() - start


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    total = 2 * count
    stock_failed, stock_s = run("tortoise.backends.sqlite", count)
    ours_failed, ours_s = run("timebank.db.sqlite", count)
    print(f"transactions per run: {total} (2 processes x {count})")
    print(
        f"stock tortoise (BEGIN):     {stock_failed:5d} failed ({stock_failed / total:6.1%}), "
        f"{stock_s:6.2f} s"
    )
    print(
        f"timebank (BEGIN IMMEDIATE): {ours_failed:5d} failed ({ours_failed / total:6.1%}), "
        f"{ours_s:6.2f} s"
    )
    print(f"time ratio timebank/stock: {ours_s / stock_s:.2f}")
    stock_rate = (total - stock_failed) / stock_s
    ours_rate = (total - ours_failed) / ours_s
    print(
        f"committed transactions/s: stock {stock_rate:.0f}, timebank {ours_rate:.0f} "
        f"(ratio {ours_rate / stock_rate:.2f})"
    )


if __name__ == "__main__":
    main()
