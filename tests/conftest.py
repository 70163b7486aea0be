"""Fixtures: a fresh database per test on SQLite and (when configured) PostgreSQL.

Migrations run once per session into a template (an SQLite file, a PostgreSQL template
database); each test gets its own copy, so every test sees exactly the migrated schema and
nothing left by another test. ``TIMEBANK_TEST_POSTGRES_URL`` points at a server where we may
create databases; without it the PostgreSQL half is skipped with the reason, unless
``TIMEBANK_TEST_REQUIRE_ALL=1`` (CI), where a skip would hide a broken set-up and fails.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from starlette.applications import Starlette

from timebank import db
from timebank.app import create_app
from timebank.settings import Settings

PG_URL = os.environ.get("TIMEBANK_TEST_POSTGRES_URL", "")
REQUIRE_ALL = os.environ.get("TIMEBANK_TEST_REQUIRE_ALL") == "1"
T = TypeVar("T")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail when CI demands that everything runs."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (TIMEBANK_TEST_REQUIRE_ALL=1 forbids skipping)")
    pytest.skip(reason)


def run_apart(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on its own loop in another thread.

    Session fixtures are first requested from inside a test's running loop, where
    ``asyncio.run`` is not allowed.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def pg_url_for(database: str) -> str:
    """``TIMEBANK_TEST_POSTGRES_URL`` with its database name replaced."""
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def pg_admin(sql: str) -> None:
    """Run one statement on the maintenance database (CREATE/DROP DATABASE)."""
    import asyncpg

    conn = await asyncpg.connect(pg_url_for("postgres").replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with every migration applied."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    run_apart(db.migrate(f"sqlite://{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL template database with every migration applied; dropped at the end."""
    if not PG_URL:
        skip_or_fail("PostgreSQL tests need TIMEBANK_TEST_POSTGRES_URL")
    name = f"timebank_tpl_{uuid.uuid4().hex[:12]}"
    try:
        run_apart(pg_admin(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        skip_or_fail(f"PostgreSQL at TIMEBANK_TEST_POSTGRES_URL is unreachable: {exc}")
    try:
        run_apart(db.migrate(pg_url_for(name)))
        yield name
    finally:
        run_apart(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database of each kind, for this test alone."""
    if request.param == "sqlite":
        path = tmp_path / "timebank.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite://{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"timebank_test_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield pg_url_for(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its own data dir and database, a fixed key."""
    return Settings.from_env(
        {},
        data_dir=str(tmp_path),
        db_url=db_url,
        secret_key=TEST_SECRET,
        base_url="http://testserver",
        jobs="off",  # tests run plan generation themselves
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The app with its lifespan running (the ORM open on the test's database)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def orm(db_url: str) -> AsyncIterator[None]:
    """Just the ORM on a fresh database, for service-level tests."""
    await db.open_db(db_url)
    try:
        yield
    finally:
        await db.close_db()


def free_port() -> int:
    """A TCP port on the loopback interface that nobody is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(command: list[str], *, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """Start ``command`` (which must honour ``--port``), wait for /healthz, yield its URL."""
    port = free_port()
    log = cwd / f"server-{port}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not become healthy:\n{log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any TIMEBANK_* variable of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBANK_")}
    return env | extra


_phones = iter(range(13_900_000_000, 13_999_999_999))


async def make_community(name: str = "桂花社区") -> Any:
    """A district › street › community chain; returns the community."""
    from timebank.people.models import Level
    from timebank.people.service import create_community

    district = await create_community(name=f"{name}区", level=Level.DISTRICT, parent=None)
    street = await create_community(name=f"{name}街道", level=Level.SUBDISTRICT, parent=district)
    return await create_community(name=name, level=Level.COMMUNITY, parent=street)


async def make_member(
    community: Any, *roles: str, name: str = "成员", password: str | None = None
) -> Any:
    """A member of ``community`` with ``roles`` and a unique phone number."""
    from timebank.people.members import create_member
    from timebank.people.models import Role

    return await create_member(
        community=community,
        name=name,
        phone=str(next(_phones)),
        password=password,
        roles=[Role(r) for r in roles],
    )


PASSWORD = "a-good-password"


async def make_signed_up(community: Any, *roles: str, name: str = "成员") -> Any:
    """A member with ``PASSWORD`` set, able to sign in."""
    return await make_member(community, *roles, name=name, password=PASSWORD)


# The people the tests' worlds are made of, by the key a test calls them: where they live
# ("here", 桂花社区, or "there", 荷塘社区), their role and their name. Several keys may stand
# for the same kind of person: a test names them by what they are to it.
CAST: dict[str, tuple[str, str, str]] = {
    "admin": ("here", "admin", "区管理员"),
    "admin2": ("here", "admin", "区管理员二"),
    "coordinator": ("here", "coordinator", "李芳"),
    "lead": ("here", "coordinator", "李芳"),
    "second": ("here", "coordinator", "周桂兰"),
    "street": ("here", "coordinator", "街道协调员"),
    "far": ("there", "coordinator", "王强"),
    "elder": ("here", "resident", "陈秀英"),
    "mother": ("here", "resident", "陈秀英"),
    "resident": ("here", "resident", "陈秀英"),
    "resident2": ("here", "resident", "赵德海"),
    "family": ("here", "resident", "陈小明"),
    "young": ("here", "resident", "王小明"),
    "son": ("here", "helper", "张建国"),
    "helper": ("here", "helper", "张建国"),
    "helper2": ("here", "helper", "刘小红"),
    "other_helper": ("here", "helper", "刘小红"),
    "stranger": ("there", "resident", "孙丽"),
    "far_helper": ("there", "helper", "赵德海"),
}


async def make_world(
    *people: str, there: bool = False, make: Callable[..., Awaitable[Any]] = make_signed_up
) -> dict[str, Any]:
    """``here``, ``there`` (when asked, or when one of ``people`` lives there) and ``people``
    of ``CAST``, made in that order by ``make``."""
    world = {"here": await make_community("桂花社区")}
    if there or any(CAST[name][0] == "there" for name in people):
        world["there"] = await make_community("荷塘社区")
    for name in people:
        place, role, full_name = CAST[name]
        world[name] = await make(world[place], role, name=full_name)
    return world


async def make_family(child: Any, parent: Any, *, consent: bool = False) -> None:
    """Link ``child`` and ``parent`` both ways, as two family links; ``consent``: the parent
    agreed that the child may act for them (recorded by the parent)."""
    from timebank.people.models import FamilyLink, Relation

    await FamilyLink.create(member=child, relative=parent, relation=Relation.PARENT)
    await FamilyLink.create(
        member=parent, relative=child, relation=Relation.CHILD,
        consent_at=datetime.now(UTC) if consent else None,
        consent_by_id=parent.id if consent else None,
    )  # fmt: skip


async def sign_in_client(client: httpx.AsyncClient, member: Any) -> str:
    """Sign ``client`` in as ``member`` through the API; returns the CSRF token."""
    response = await client.post(
        "/api/v1/session", json={"phone": member.phone, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


async def signin_form_token(client: httpx.AsyncClient, path: str = "/signin") -> str:
    """Open a sign-in form like a browser; returns its token (its cookie stays in ``client``)."""
    page = await client.get(path, headers={"accept": "text/html"})
    marker = 'name="signin_token" value="'
    assert marker in page.text, page.text
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


async def sign_in_page(client: httpx.AsyncClient, member: Any, **form: str) -> httpx.Response:
    """Sign ``client`` in as ``member`` through the sign-in form (``form``: more fields,
    such as ``next``); returns the form's answer."""
    return await client.post(
        "/signin",
        data={
            "phone": member.phone,
            "password": PASSWORD,
            **form,
            "signin_token": await signin_form_token(client),
        },
    )


@asynccontextmanager
async def clients_of(app: Starlette, *members: Any) -> AsyncIterator[list[httpx.AsyncClient]]:
    """A client per member, each signed in through the API, all closed at the end."""
    async with AsyncExitStack() as stack:
        yield [(await signed_in_client(stack, app, member))[0] for member in members]


async def signed_in_client(
    stack: AsyncExitStack, app: Starlette, member: Any
) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A client signed in as ``member`` (closed with ``stack``), and its CSRF header."""
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    )
    return client, {"x-csrf-token": await sign_in_client(client, member)}


async def page_client(stack: AsyncExitStack, app: Starlette, member: Any) -> httpx.AsyncClient:
    """A client signed in as ``member`` (closed with ``stack``), for pages: their forms
    carry their own CSRF token."""
    return (await signed_in_client(stack, app, member))[0]


async def as_(w: dict[str, Any], name: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A client signed in as ``w[name]``, with its CSRF header (``w``: a world fixture
    holding the ``app`` and the ``stack`` that closes its clients)."""
    return await signed_in_client(w["stack"], w["app"], w[name])


async def coordinate_street(member: Any, community: Any) -> None:
    """Make ``member``, a coordinator of ``community``, the coordinator of its sub-district
    (街道) instead: every community of the street."""
    from timebank.people.models import MemberRole

    await MemberRole.filter(member_id=member.id).update(community_id=community.parent_id)


def key() -> str:
    """A fresh idempotency key."""
    return uuid.uuid4().hex


async def balance(member: Any) -> int:
    """The minutes ``member`` may spend now."""
    from timebank.ledger import service as ledger

    return (await ledger.balance((await ledger.wallet(member.id)).id)).available


def csrf(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)
