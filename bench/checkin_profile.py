"""Check-in and check-out in one process, one client: statements and CPU per pair.

The concurrent benchmark (``bench/checkin.py``) shares the machine's two cores between its
client, its server and anyone else's work, so its ratio swings from run to run. This one
measures what a pair costs the server itself: the app runs in-process and is called
straight through ASGI (no HTTP client, no sockets), one request at a time, and after
``--warm`` pairs it counts over ``--pairs`` pairs

- statements per pair (over 20 pairs, before the timed ones): every statement the
  database is sent (SQLite: ``sqlite3``'s trace callback, which also sees ``BEGIN``,
  ``COMMIT`` and savepoints; PostgreSQL: asyncpg's query logger on every pooled
  connection);
- CPU ms per pair: the process's CPU time (on PostgreSQL, the client's only; on SQLite
  also the part spent in aiosqlite's database thread, commits' flushes included);
- wall ms per pair.

``--profile`` also prints where the CPU time goes (cProfile, per thread: on SQLite a step
sequence runs in aiosqlite's database thread, profiled separately).

    python bench/checkin_profile.py [--pairs 400] [--warm 20] [--profile] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.checkin import PASSWORD, SECRET, seed  # noqa: E402
from bench.databases import on_each_database  # noqa: E402

COUNTED = 20  # pairs whose statements are counted (after the warm-up, before the timed ones)


class Asgi:
    """Calls the app as a server would, one request at a time, keeping the session."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookie = ""
        self.csrf = ""

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode()
        headers = [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ]
        if self.cookie:
            headers += [(b"cookie", self.cookie.encode()), (b"x-csrf-token", self.csrf.encode())]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("bench", 80), "state": {},
        }  # fmt: skip
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}

        answer: dict[str, Any] = {"body": b""}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for name, value in message["headers"]:
                    if name == b"set-cookie" and value.startswith(b"tb_session="):
                        self.cookie = value.decode().split(";")[0]
            else:
                answer["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return answer["status"], json.loads(answer["body"] or b"{}")


def tap_body() -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "client_time": datetime.now(UTC).isoformat()}


async def count_statements() -> tuple[Callable[[], int], Callable[[], Any]]:
    """(how many statements so far, a function that stops counting)."""
    from tortoise import connections

    client = connections.get("default")
    seen = [0]

    def counted(*_: Any) -> None:
        seen[0] += 1

    if client.capabilities.dialect == "sqlite":
        conn = client._connection  # the aiosqlite connection
        await conn._execute(conn._conn.set_trace_callback, counted)

        async def stop() -> None:
            await conn._execute(conn._conn.set_trace_callback, None)

        return lambda: seen[0], stop
    held = [h._con for h in client._pool._holders if h._con is not None]
    for con in held:
        con.add_query_logger(counted)

    async def stop_pg() -> None:
        for con in held:
            con.remove_query_logger(counted)

    return lambda: seen[0], stop_pg


async def pair(client: Asgi, token: str) -> None:
    for action in ("check-in", "check-out"):
        status, body = await client.post(f"/api/v1/placards/{token}/{action}", tap_body())
        if status >= 300 or (action == "check-out" and body.get("status") != "verified"):
            raise SystemExit(f"unexpected answer {status}: {str(body)[:300]}")


async def measure(url: str, args: argparse.Namespace, label: str, data_dir: str) -> None:
    from timebank.app import create_app
    from timebank.settings import Settings

    ((phone, token),) = await seed(url, 1, args.warm + COUNTED + args.pairs)
    settings = Settings.from_env(
        {}, data_dir=data_dir, db_url=url, base_url="http://bench", jobs="off",
        timezone="Asia/Shanghai", secret_key=SECRET,
    )  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        client = Asgi(app)
        status, body = await client.post("/api/v1/session", {"phone": phone, "password": PASSWORD})
        assert status == 200, body
        client.csrf = body["csrf_token"]
        for _ in range(args.warm):
            await pair(client, token)
        statements, stop = await count_statements()
        for _ in range(COUNTED):
            await pair(client, token)
        await stop()  # counting costs time of its own: the timed pairs run without it
        main_profile, db_profile = await start_profiles(args.profile)
        db_cpu = await database_thread_time()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.pairs):
            await pair(client, token)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        db_cpu = await database_thread_time() - db_cpu
        await stop_profiles(main_profile, db_profile)
    n = args.pairs
    where = "process" if label == "SQLite" else "client"
    in_thread = f" (database thread {db_cpu * 1000 / n:.2f})" if label == "SQLite" else ""
    print(
        f"{label:<10} {n} pairs   statements/pair {statements() / COUNTED:5.1f}"
        f"   CPU ms/pair ({where}) {cpu * 1000 / n:6.2f}{in_thread}"
        f"   wall ms/pair {wall * 1000 / n:6.2f}"
    )
    for name, profile in (("event loop thread", main_profile), ("database thread", db_profile)):
        if profile is not None:
            print_profile(f"{label}, {name}", profile, args.top)


async def database_thread_time() -> float:
    """CPU seconds of aiosqlite's database thread so far (0 on PostgreSQL)."""
    from tortoise import connections

    client = connections.get("default")
    if client.capabilities.dialect != "sqlite":
        return 0.0
    seconds: float = await client._connection._execute(time.thread_time)
    return seconds


async def start_profiles(wanted: bool) -> tuple[cProfile.Profile | None, cProfile.Profile | None]:
    """cProfile in this thread and (SQLite) in aiosqlite's, each timing its own thread's CPU."""
    if not wanted:
        return None, None
    from tortoise import connections

    client = connections.get("default")
    db_profile = None
    if client.capabilities.dialect == "sqlite":
        db_profile = cProfile.Profile(time.thread_time)
        await client._connection._execute(db_profile.enable)
    main_profile = cProfile.Profile(time.thread_time)
    main_profile.enable()
    return main_profile, db_profile


async def stop_profiles(main: cProfile.Profile | None, db: cProfile.Profile | None) -> None:
    if main is not None:
        main.disable()
    if db is not None:
        from tortoise import connections

        await connections.get("default")._connection._execute(db.disable)


def print_profile(title: str, profile: cProfile.Profile, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(f"--- {title} ---")
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--top", type=int, default=40, help="functions printed per profile")
    asyncio.run(on_each_database(parser, "checkin.sqlite3", measure))


if __name__ == "__main__":
    main()
