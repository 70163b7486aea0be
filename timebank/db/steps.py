"""Run a sequence of database requests, free of any I/O, in one transaction (SQLite or PostgreSQL).

A step sequence is a generator: it yields requests (``Query``, or an ``Operation`` that
knows its own SQL, such as the ledger's chain-head lock) and receives their results. The
rules live in the generator once, while each driver does the I/O its own best way.

SQLite: the whole sequence runs in aiosqlite's database thread in one hop, inside
``BEGIN IMMEDIATE`` (or a savepoint when the caller already holds a transaction). Each
statement handed to that thread separately costs ~150 µs of thread switching, more than
the statement itself; one hop keeps a write close to the cost of its commit. Sequences
that arrive while one runs go together in the next hop (``_SqliteGroup``).

PostgreSQL: the requests go one by one on one connection, inside one transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from timebank.db import sql as numbered

T = TypeVar("T")
MAX_BATCH = 64  # sequences at most in one SQLite commit
STABLE_ROWS = 100_000  # stable answers remembered per database (about 20 MB at most)


@dataclass(frozen=True)
class Query:
    """Plain SQL with ``?`` placeholders; the result is its rows as tuples.

    ``stable``: once the query returns rows, it returns the same rows for as long as the
    database lives (an account's id: accounts are never deleted or renamed), so a driver
    may remember them.
    """

    sql: str
    params: tuple[Any, ...] = ()
    stable: bool = False


class Operation(Protocol):
    """A request that carries itself out, on each database its own best way."""

    def on_sqlite(self, conn: sqlite3.Connection) -> Any:
        """The result, in SQLite's database thread, inside the sequence's transaction."""

    async def on_postgres(self, conn: Any) -> Any:
        """The result, on the asyncpg connection holding the sequence's transaction."""


Steps = Generator[Any, Any, T]  # yields Query | Operation, returns T


async def run(steps: Steps[T]) -> T:
    """Run ``steps`` in one transaction of the current connection and return its result."""
    client = connections.get("default")
    nested = isinstance(client, TransactionalDBClient)
    if client.capabilities.dialect == "sqlite":
        if not nested:
            result: T = await _sqlite_group(client).call(steps)
            return result
        async with client.acquire_connection() as conn:
            # aiosqlite's own way of running a function in its database thread.
            result = await conn._execute(_run_sqlite, conn._conn, steps, nested)
            return result
    async with client.acquire_connection() as conn, conn.transaction():
        return await _run_postgres(conn, steps)


async def look_up(client: Any, steps: Steps[T]) -> T:
    """Run read-only ``steps`` outside a transaction (PostgreSQL), answering stable queries
    from memory.

    The memory belongs to the client (one database) and keeps only answers with rows: an
    account's id, once found, needs no round trip again.
    """
    memo: dict[tuple[str, tuple[Any, ...]], Any] = client.__dict__.setdefault(
        "_timebank_stable_rows", {}
    )
    reply: Any = None
    while True:
        try:
            request = steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(request, Query) and request.stable:
            reply = memo.get((request.sql, request.params))
            if reply is None:
                async with client.acquire_connection() as conn:
                    reply = await _postgres_request(conn, request)
                if reply:
                    if len(memo) >= STABLE_ROWS:
                        memo.clear()
                    memo[(request.sql, request.params)] = reply
        else:
            async with client.acquire_connection() as conn:
                reply = await _postgres_request(conn, request)


# SQLite, in the database thread ---------------------------------------------------------


def plain(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """Parameters for sqlite3: times as tortoise writes them (the default adapter is
    deprecated)."""
    return tuple(p.isoformat(sep=" ") if isinstance(p, datetime) else p for p in params)


def _run_sqlite(conn: sqlite3.Connection, steps: Steps[T], nested: bool) -> T:
    conn.execute("SAVEPOINT step_sequence" if nested else "BEGIN IMMEDIATE")
    try:
        result = _drive_sqlite(conn, steps)
    except BaseException:
        if nested:
            conn.execute("ROLLBACK TO step_sequence")
            conn.execute("RELEASE step_sequence")
        else:
            conn.execute("ROLLBACK")
        raise
    conn.execute("RELEASE step_sequence" if nested else "COMMIT")
    return result


class _SqliteGroup:
    """Runs the step sequences that arrive together in one SQLite transaction.

    Each sequence costs a trip to the database thread and a commit (a WAL flush with
    ``synchronous=FULL``) - more than its statements. Sequences that arrive while a batch
    is running wait and go together in the next one: one trip, ``BEGIN IMMEDIATE``, each
    sequence in a savepoint of its own (one that fails is rolled back alone and its caller
    hears why), one ``COMMIT``. A call returns only after its batch committed; a call alone
    goes at once, as before.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.queue: list[tuple[Steps[Any], asyncio.Future[Any]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def call(self, steps: Steps[T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.queue.append((steps, future))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
            try:
                async with self.client.acquire_connection() as conn:
                    outcomes = await conn._execute(
                        _run_sqlite_batch, conn._conn, [steps for steps, _ in batch]
                    )
            except BaseException as exc:  # the commit failed: nothing of the batch is kept
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)


def _sqlite_group(client: Any) -> _SqliteGroup:
    group: _SqliteGroup | None = getattr(client, "_timebank_sqlite_group", None)
    if group is None:
        group = _SqliteGroup(client)
        client._timebank_sqlite_group = group
    return group


def _run_sqlite_batch(conn: sqlite3.Connection, batch: list[Steps[Any]]) -> list[tuple[bool, Any]]:
    if len(batch) == 1:  # alone: no savepoint needed
        try:
            return [(True, _run_sqlite(conn, batch[0], False))]
        except Exception as exc:
            return [(False, exc)]
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for steps in batch:
            conn.execute("SAVEPOINT batch_item")
            try:
                value = _drive_sqlite(conn, steps)
            except Exception as exc:
                conn.execute("ROLLBACK TO batch_item")
                conn.execute("RELEASE batch_item")
                outcomes.append((False, exc))
                continue
            conn.execute("RELEASE batch_item")
            outcomes.append((True, value))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _drive_sqlite(conn: sqlite3.Connection, steps: Steps[T]) -> T:
    reply: Any = None
    while True:
        try:
            request = steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(request, Query):
            reply = [tuple(r) for r in conn.execute(request.sql, plain(request.params))]
        else:
            reply = request.on_sqlite(conn)


# PostgreSQL ---------------------------------------------------------------------------------


async def _run_postgres(conn: Any, steps: Steps[T]) -> T:
    reply: Any = None
    while True:
        try:
            request = steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        reply = await _postgres_request(conn, request)


async def _postgres_request(conn: Any, request: Query | Operation) -> Any:
    if isinstance(request, Query):
        rows = await conn.fetch(numbered(request.sql, connections.get("default")), *request.params)
        return [tuple(r) for r in rows]
    return await request.on_postgres(conn)
