"""The database layer: migrations, SQLite pragmas, and concurrent writers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.migrations.autodetector import MigrationAutodetector

from timebank import db

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise.transactions import in_transaction
    from timebank import db
    from timebank.people.models import Community, Level

    async def main(url, name, count):
        await db.open_db(url)
        try:
            for i in range(count):
                # Read, then write, in one transaction: under a deferred BEGIN this is the
                # pattern that fails with "database is locked" when another process writes.
                async with in_transaction():
                    n = await Community.filter(level=Level.DISTRICT).count()
                    await Community.create(name=f"{name}-{i}-{n}", level=Level.DISTRICT)
        finally:
            await db.close_db()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def test_migrations_create_the_schema(orm: None, db_url: str) -> None:
    conn = connections.get("default")
    if db_url.startswith("sqlite"):
        rows = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type='table'")
    else:
        rows = await conn.execute_query_dict(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    tables = {row["name"] for row in rows}
    assert {"community", "member", "member_role", "tortoise_migrations"} <= tables


async def test_models_and_migrations_agree(orm: None) -> None:
    """A model change without its migration fails here (run `timebank makemigrations`)."""
    apps = Tortoise.apps
    assert apps is not None
    config = db.tortoise_config("sqlite://:memory:")["apps"]
    writers = await MigrationAutodetector(apps, config).changes()
    assert [w.name for w in writers] == []


async def test_migrate_twice_is_harmless(db_url: str) -> None:
    await db.migrate(db_url)
    await db.migrate(db_url)


async def test_sqlite_connection_pragmas(tmp_path: Path) -> None:
    await db.open_db(f"sqlite://{tmp_path / 'p.sqlite3'}")
    try:
        conn = connections.get("default")

        async def pragma(name: str) -> object:
            return list((await conn.execute_query_dict(f"PRAGMA {name}"))[0].values())[0]

        assert await pragma("journal_mode") == "wal"
        assert await pragma("synchronous") == 2  # FULL
        assert await pragma("busy_timeout") == 15000
        assert await pragma("foreign_keys") == 1
    finally:
        await db.close_db()


def test_two_processes_write_one_sqlite_file_without_lock_errors(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    url = f"sqlite://{path}"
    import asyncio

    asyncio.run(db.migrate(url))
    count = 150
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, name, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("a", "b")
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert "database is locked" not in stderr
        assert worker.returncode == 0, stderr
    import sqlite3

    with sqlite3.connect(path) as check:
        rows = check.execute("SELECT name FROM community").fetchall()
    assert len(rows) == 2 * count
    # Each transaction saw the rows committed before it: the counts are all distinct.
    seen = sorted(int(name.rsplit("-", 1)[1]) for (name,) in rows)
    assert seen == list(range(2 * count))
