"""What a benchmark runs on: a fresh SQLite file, a scratch PostgreSQL database (created on
the server ``--postgres`` names, dropped afterwards), and the app, in-process, on either."""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette

from timebank.app import create_app
from timebank.settings import Settings


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """``--postgres URL`` (default: $TIMEBANK_TEST_POSTGRES_URL) and ``--skip-sqlite``."""
    parser.add_argument("--postgres", default=os.environ.get("TIMEBANK_TEST_POSTGRES_URL", ""))
    parser.add_argument("--skip-sqlite", action="store_true")


@asynccontextmanager
async def scratch_postgres(server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the server of ``server_url``, dropped at the end."""
    import asyncpg

    admin_url = server_url.replace("postgres://", "postgresql://", 1)
    name = f"timebank_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def on_each_database(
    parser: argparse.ArgumentParser,
    sqlite_file: str,
    measure: Callable[[str, argparse.Namespace, str, str], Awaitable[None]],
) -> None:
    """With the command line read by ``parser`` and the database options:
    ``measure(url, args, label, data_dir)`` on SQLite (unless ``--skip-sqlite``), then on
    a scratch PostgreSQL database (with ``--postgres``), in one temporary directory."""
    add_database_options(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_sqlite:
            await measure(f"sqlite://{Path(tmp) / sqlite_file}", args, "SQLite", tmp)
        if args.postgres:
            async with scratch_postgres(args.postgres) as url:
                await measure(url, args, "PostgreSQL", tmp)


@asynccontextmanager
async def running_app(url: str, data_dir: str) -> AsyncIterator[Starlette]:
    """The app on the database at ``url``, started up, without its background jobs."""
    settings = Settings.from_env(
        {}, data_dir=data_dir, db_url=url, base_url="http://bench", jobs="off",
        timezone="Asia/Shanghai",
    )  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
