"""Check-in and check-out through the real HTTP server, against the floor of this design.

Both servers run under uvicorn (one worker, uvloop and httptools, no access log) on a fresh
SQLite file, and are driven by the same client: C concurrent keep-alive connections
(default 32), each repeating N times (default 40) a pair of POSTs.

- **timebank**: ``POST /api/v1/placards/<token>/check-in`` then ``…/check-out`` for an
  order in its window; each pair opens a visit, closes it, finds no flag, verifies it and
  posts the hours to the ledger (a hash-chained two-entry transaction).
- **floor**: a minimal Starlette app that verifies an itsdangerous token and commits one
  row per request (aiosqlite, the same pragmas: WAL, synchronous=FULL) - what any design
  that checks a signed placard and records the tap must at least do.

Prints requests/s of each, their ratio (target ≥ 0.5), and p50/p99 latency (target p99
≤ 150 ms).

    python bench/checkin.py [--clients 32] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-1"
SECRET = "bench-secret-key-0123456789abcdef-0123456789"


# The floor: verify a signed token, commit one row. ------------------------------------


def floor_app() -> Any:
    """The minimal Starlette app (run by uvicorn with --factory)."""
    import aiosqlite
    from itsdangerous import BadSignature, URLSafeSerializer
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    signer = URLSafeSerializer(SECRET, salt="timebank.placard.v1")
    state: dict[str, Any] = {}

    async def tap(request: Request) -> JSONResponse:
        try:
            member, generation = signer.loads(request.path_params["token"])
        except BadSignature:
            return JSONResponse({"error": "bad token"}, status_code=403)
        body = await request.json()
        conn = state["conn"]
        async with state["lock"]:
            cursor = await conn.execute(
                "INSERT INTO tap (member, generation, event, at) VALUES (?, ?, ?, ?)",
                (member, generation, body["event_id"], datetime.now(UTC).isoformat()),
            )
            await conn.commit()
        return JSONResponse({"id": cursor.lastrowid}, status_code=201)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        conn = await aiosqlite.connect(os.environ["FLOOR_DB"])
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=15000"):
            await conn.execute(f"PRAGMA {pragma}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS tap (id INTEGER PRIMARY KEY, member INT, "
            "generation INT, event TEXT UNIQUE, at TEXT)"
        )
        await conn.commit()
        state["conn"], state["lock"] = conn, asyncio.Lock()
        yield
        await conn.close()

    return Starlette(
        routes=[Route("/v/{token}/{action}", tap, methods=["POST"])], lifespan=lifespan
    )


# Seeding timebank ----------------------------------------------------------------------


async def seed(db_url: str, clients: int, rounds: int) -> list[tuple[str, str]]:
    """A community with ``clients`` helper/resident pairs, each with ``rounds`` orders in
    their window now; returns (helper phone, placard token) per pair."""
    from timebank import db
    from timebank.catalog.models import ServiceType
    from timebank.catalog.service import catalog
    from timebank.orders.models import Order, OrderStatus
    from timebank.people.members import create_member
    from timebank.people.models import Community, Level, Role
    from timebank.people.service import create_community
    from timebank.visits import placards

    await db.migrate(db_url)
    await db.open_db(db_url)
    try:
        district = await create_community(name="基准区", level=Level.DISTRICT, parent=None)
        here = await create_community(name="基准社区", level=Level.COMMUNITY, parent=district)
        await Community.filter(id=here.id).update(time_unit_minutes=1)
        await catalog(here)
        await ServiceType.filter(community=here, code="visit").update(min_minutes=0)
        now = datetime.now(UTC)
        pairs = []
        for n in range(clients):
            helper = await create_member(
                community=here, name=f"帮扶{n}", phone=f"1370000{n:04d}",
                password=PASSWORD, roles=[Role.HELPER],
            )  # fmt: skip
            resident = await create_member(
                community=here, name=f"老人{n}", phone=f"1371000{n:04d}",
                password=None, roles=[Role.RESIDENT],
            )  # fmt: skip
            await Order.bulk_create(
                [
                    Order(
                        community=here,
                        resident=resident,
                        helper=helper,
                        service_code="visit",
                        starts_at=now - timedelta(minutes=10),
                        ends_at=now + timedelta(hours=2),
                        status=OrderStatus.ASSIGNED,
                        funded=True,
                    )  # fmt: skip
                    for _ in range(rounds)
                ]
            )
            placard = await placards.placard_of(resident)
            pairs.append(
                (helper.phone, placards.make_token(SECRET, resident.id, placard.generation))
            )
        return pairs
    finally:
        await db.close_db()


# A small keep-alive HTTP/1.1 client (the client must not be the bottleneck) -----------


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""
        self.csrf = ""

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n"
        )
        if self.cookie:
            head += f"Cookie: {self.cookie}\r\nX-CSRF-Token: {self.csrf}\r\n"
        status_line = b""
        for _ in range(2):  # the server closes a keep-alive connection idle for 5 s
            self.writer.write(head.encode() + b"\r\n" + data)
            await self.writer.drain()
            status_line = await self.reader.readline()
            if status_line:
                break
            self.writer.close()
            await self.open()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "set-cookie" and value.strip().startswith("tb_session="):
                self.cookie = value.strip().split(";")[0]
        payload = await self.reader.readexactly(length)
        return status, json.loads(payload) if payload else {}

    def close(self) -> None:
        self.writer.close()


async def drive(
    port: int, pairs: list[tuple[str, str]], rounds: int, prefix: str, sign_in: bool
) -> tuple[float, list[float], int]:
    """Run every client; returns (seconds, latencies, errors)."""
    connections = [Connection(port) for _ in pairs]
    for conn, (phone, _) in zip(connections, pairs, strict=True):
        await conn.open()
        if sign_in:
            status, body = await conn.post(
                "/api/v1/session", {"phone": phone, "password": PASSWORD}
            )
            assert status == 200, body
            conn.csrf = body["csrf_token"]
    latencies: list[float] = []
    errors = 0

    async def client(conn: Connection, token: str) -> None:
        nonlocal errors
        for _ in range(rounds):
            for action in ("check-in", "check-out"):
                started = time.perf_counter()
                status, body = await conn.post(
                    f"{prefix}/{token}/{action}",
                    {"event_id": uuid.uuid4().hex, "client_time": datetime.now(UTC).isoformat()},
                )
                latencies.append(time.perf_counter() - started)
                if status >= 300 or (action == "check-out" and sign_in and
                                     body.get("status") != "verified"):  # fmt: skip
                    errors += 1
                    if errors <= 3:
                        print(f"  unexpected answer {status}: {str(body)[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(client(c, t) for c, (_, t) in zip(connections, pairs, strict=True)))
    seconds = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return seconds, latencies, errors


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--factory", "--port", str(port),
         "--log-level", "warning", "--no-access-log", "--loop", "uvloop", "--http", "httptools"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{app} did not start")


def report(name: str, seconds: float, latencies: list[float], errors: int) -> float:
    rate = len(latencies) / seconds
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<10} {len(latencies):>6} requests in {seconds:6.2f} s  {rate:8.0f} req/s"
        f"   p50 {cuts[49] * 1000:6.1f} ms   p99 {cuts[98] * 1000:6.1f} ms   errors {errors}"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of each server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBANK_")}
        db_url = f"sqlite://{Path(tmp) / 'timebank.sqlite3'}"
        pairs = asyncio.run(seed(db_url, args.clients, args.rounds * args.runs))
        floor_env = base | {"FLOOR_DB": str(Path(tmp) / "floor.sqlite3"),
                            "PYTHONPATH": str(ROOT)}  # fmt: skip
        env = base | {
            "TIMEBANK_DATA_DIR": tmp, "TIMEBANK_DB_URL": db_url, "TIMEBANK_SECRET_KEY": SECRET,
            "TIMEBANK_JOBS": "off",
        }  # fmt: skip
        floor_pairs = [(f"p{n}", _floor_token(n)) for n in range(args.clients)]
        floor_server, floor_port = serve("bench.checkin:floor_app", floor_env)
        our_server, our_port = serve("timebank.app:create_app", env)
        floors, ours = [], []
        try:
            # Alternate the two, so a slow moment of the machine (its disk above all) falls
            # on both; report each one's median run.
            for _ in range(args.runs):
                floors.append(
                    asyncio.run(drive(floor_port, floor_pairs, args.rounds, "/v", sign_in=False))
                )
                ours.append(
                    asyncio.run(
                        drive(our_port, pairs, args.rounds, "/api/v1/placards", sign_in=True)
                    )
                )
        finally:
            for process in (floor_server, our_server):
                process.terminate()
                process.wait()
        posted = asyncio.run(_posted(db_url))
    print(
        f"{args.clients} clients x {args.rounds} rounds x 2 requests, {args.runs} alternating "
        "runs each, one uvicorn worker, SQLite"
    )
    floor_rates = [report("floor", *run) for run in floors]
    our_rates = [report("timebank", *run) for run in ours]
    floor_rate, our_rate = statistics.median(floor_rates), statistics.median(our_rates)
    expected = args.clients * args.rounds * args.runs
    print(f"visits credited to the ledger: {posted} (expected {expected})")
    print(f"median req/s: floor {floor_rate:.0f}, timebank {our_rate:.0f}")
    print(f"ratio timebank/floor, medians (target >= 0.5): {our_rate / floor_rate:.2f}")
    ordered = sorted(range(len(ours)), key=lambda i: our_rates[i])
    median_run = ours[ordered[len(ordered) // 2]]
    cuts = statistics.quantiles(median_run[1], n=100)
    print(
        f"timebank latency in its median run: p50 {cuts[49] * 1000:.1f} ms, "
        f"p99 {cuts[98] * 1000:.1f} ms (target p99 <= 150 ms)"
    )


def _floor_token(n: int) -> str:
    from itsdangerous import URLSafeSerializer

    return str(URLSafeSerializer(SECRET, salt="timebank.placard.v1").dumps([n, 1]))


async def _posted(db_url: str) -> int:
    from timebank import db
    from timebank.ledger.models import LedgerTxn

    await db.open_db(db_url)
    try:
        return await LedgerTxn.filter(ref_type="visit").count()
    finally:
        await db.close_db()


if __name__ == "__main__":
    main()
