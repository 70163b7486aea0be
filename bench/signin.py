"""Sign-in benchmark: does argon2 stall the server, and does the time tell phones apart?

Through the app in-process (httpx), on a fresh database with 20 members:
- ``GET /healthz`` while idle (the baseline), then every 10 ms while 20 sign-ins run at
  once: median, 95th percentile and worst, as ratios to the idle median;
- one wrong-password sign-in for a registered phone (the baseline) against one for an
  unknown phone and one for a member without a password: medians and their ratios (1.0
  means the time says nothing about the phone).

Each is measured twice in the same run: as the product runs (argon2 in its thread pool,
unknown phones checked against a dummy hash) and as before issue 14 (argon2 on the event
loop, unknown phones not checked), by swapping ``auth.verify_password_off_loop``.

    python bench/signin.py [--rounds 15] [--postgres URL] [--skip-sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.databases import on_each_database, running_app  # noqa: E402
from timebank import db  # noqa: E402
from timebank.people import auth  # noqa: E402
from timebank.people.members import create_member  # noqa: E402
from timebank.people.models import Community, Level, Role, SignInAttempt  # noqa: E402
from timebank.people.service import verify_password  # noqa: E402

PASSWORD = "bench-password-1"
SIGNINS = 20


def line(label: str, value: str) -> None:
    print(f"  {label:<64} {value}", flush=True)


async def on_the_loop(password_hash: str | None, password: str) -> bool:
    """The check as it was before: in the event loop, and none for an unknown phone."""
    return verify_password(password_hash, password)


async def setup(url: str) -> list[str]:
    """A district with one community and SIGNINS members who have a password, and one without."""
    await db.migrate(url)
    await db.open_db(url)
    district = await Community.create(name="基准区", level=Level.DISTRICT)
    street = await Community.create(name="基准街道", level=Level.SUBDISTRICT, parent=district)
    here = await Community.create(name="基准社区", level=Level.COMMUNITY, parent=street)
    phones = [f"1990000{i:04d}" for i in range(SIGNINS)]
    for phone in phones:
        await create_member(
            community=here, name="成员", phone=phone, password=PASSWORD, roles=[Role.HELPER]
        )
    await create_member(
        community=here, name="无密码", phone="19911110000", password=None, roles=[Role.RESIDENT]
    )
    await db.close_db()
    return phones


async def ms(call: Callable[[], Awaitable[httpx.Response]], status: int) -> float:
    began = time.perf_counter()
    response = await call()
    assert response.status_code == status, response.text[:300]
    return (time.perf_counter() - began) * 1000


async def healthz(client: httpx.AsyncClient) -> float:
    return await ms(lambda: client.get("/healthz"), 200)


async def under_load(app: Any, client: httpx.AsyncClient, phones: list[str]) -> list[float]:
    """/healthz, asked again and again while SIGNINS sign-ins run at once."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as signer:
        signing = asyncio.gather(
            *(
                signer.post("/api/v1/session", json={"phone": phone, "password": PASSWORD})
                for phone in phones
            )
        )
        samples = []
        while not signing.done():
            samples.append(await healthz(client))
            await asyncio.sleep(0.01)  # a monitor asks now and then, not flat out
        assert {r.status_code for r in await signing} == {200}
    return samples


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95)]


async def wrong_password(client: httpx.AsyncClient, phone: str) -> float:
    await SignInAttempt.all().delete()  # not part of the timing: keeps the throttle away
    body = {"phone": phone, "password": "not-the-password"}
    return await ms(lambda: client.post("/api/v1/session", json=body), 401)


async def figures(app: Any, phones: list[str], rounds: int, label: str) -> None:
    print(f" {label}", flush=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await healthz(client)
        idle = statistics.median([await healthz(client) for _ in range(rounds * 2)])
        line("baseline: /healthz, idle (median)", f"{idle:.1f} ms")
        loaded = await under_load(app, client, phones)
        spread = (statistics.median(loaded), p95(loaded), max(loaded))
        line(f"/healthz during {SIGNINS} sign-ins: median, p95, worst ({len(loaded)} asked)",
             ", ".join(f"{v:.1f}" for v in spread) + " ms")  # fmt: skip
        line("ratio /healthz during sign-ins / idle: median, p95, worst",
             ", ".join(f"{v / idle:.1f}" for v in spread))  # fmt: skip
        times: dict[str, list[float]] = {"known": [], "unknown": [], "no password": []}
        for i in range(rounds):
            times["known"].append(await wrong_password(client, phones[i % len(phones)]))
            times["unknown"].append(await wrong_password(client, f"1381234{i:04d}"))
            times["no password"].append(await wrong_password(client, "19911110000"))
        known = statistics.median(times["known"])
        line("baseline: wrong password, registered phone (median)", f"{known:.1f} ms")
        for what in ("unknown", "no password"):
            median = statistics.median(times[what])
            line(f"wrong password, {what} phone (median)", f"{median:.1f} ms")
            line(f"ratio {what} / registered", f"{median / known:.2f}")


async def measure(url: str, args: argparse.Namespace, label: str, data_dir: str) -> None:
    print(f"\n{label}", flush=True)
    phones = await setup(url)
    async with running_app(url, data_dir) as app:
        await figures(app, phones, args.rounds, "as the product runs (argon2 in its pool)")
        ours = auth.verify_password_off_loop
        auth.verify_password_off_loop = on_the_loop  # type: ignore[assignment]
        try:
            await figures(app, phones, args.rounds, "as before (argon2 on the event loop)")
        finally:
            auth.verify_password_off_loop = ours


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    await on_each_database(parser, "signin.sqlite3", measure)


if __name__ == "__main__":
    asyncio.run(main())
