"""Run a sequence of database requests, free of any I/O, in one transaction (SQLite or PostgreSQL).

A step sequence is a generator: it yields requests (``Query``, or an ``Operation`` that
knows its own SQL, such as the ledger's chain-head lock) and receives their results. The
rules live in the generator once, while each driver does the I/O its own best way.

SQLite: the whole sequence runs in aiosqlite's database thread in one hop, inside
``BEGIN IMMEDIATE`` (or a savepoint when the caller already holds a transaction). Each
statement handed to that thread separately costs ~150 µs of thread switching, more than
the statement itself; one hop keeps a write close to the cost of its commit. Sequences
that arrive while one runs go together in the next hop (``Gathering``).

PostgreSQL: the requests go one by one on one connection, inside one transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from timebank.db import sql as numbered

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")
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
    """Run ``steps`` in one transaction of the current connection and return its result.

    Stable queries are answered from the client's memory when it has them; what they
    learn is remembered once the transaction commits (not in a caller's transaction, which
    may still roll back).
    """
    client = connections.get("default")
    nested = isinstance(client, TransactionalDBClient)
    if client.capabilities.dialect == "sqlite":
        if not nested:
            result: T = await _sqlite_group(client).call(steps)
            return result
        async with client.acquire_connection() as conn:
            # aiosqlite's own way of running a function in its database thread.
            answers = Remembered(stable_rows(client))
            result = await conn._execute(_run_sqlite, conn._conn, steps, answers, True)
            return result
    answers = Remembered(stable_rows(client))
    async with client.acquire_connection() as conn, conn.transaction():
        result = await _drive(steps, partial(answers.answer_postgres, conn))
    if not nested:
        answers.keep()
    return result


Key = tuple[str, tuple[Any, ...]]


def stable_rows(client: Any) -> dict[Key, Any]:
    """The answers of stable queries the client (one database) has learnt."""
    memo: dict[Key, Any] = client.__dict__.setdefault("_timebank_stable_rows", {})
    return memo


class Remembered:
    """Answers stable queries from memory; what a transaction learns is kept (``keep``)
    only once it committed, so a row it wrote and then rolled back is never remembered.
    Only answers with rows are kept (an account's id, once found)."""

    def __init__(self, memo: dict[Key, Any]) -> None:
        self.memo = memo
        self.learnt: dict[Key, Any] = {}

    def known(self, request: Query | Operation) -> Any:
        """The remembered rows of a stable query, else None (ask the database)."""
        if not (isinstance(request, Query) and request.stable):
            return None
        key = (request.sql, request.params)
        return self.memo.get(key) or self.learnt.get(key)

    def learn(self, request: Query | Operation, rows: Any) -> Any:
        if rows and isinstance(request, Query) and request.stable:
            self.learnt[(request.sql, request.params)] = rows
        return rows

    def keep(self) -> None:
        """The transaction committed: what it learnt holds for good."""
        if len(self.memo) + len(self.learnt) > STABLE_ROWS:
            self.memo.clear()
        self.memo.update(self.learnt)
        self.learnt.clear()

    def forget(self) -> None:
        """The transaction (or savepoint) rolled back."""
        self.learnt.clear()

    def answer_sqlite(self, conn: sqlite3.Connection, request: Query | Operation) -> Any:
        rows = self.known(request)
        return rows if rows is not None else self.learn(request, _sqlite_answer(conn, request))

    async def answer_postgres(self, conn: Any, request: Query | Operation) -> Any:
        rows = self.known(request)
        if rows is None:
            rows = self.learn(request, await _postgres_request(conn, request))
        return rows


async def look_up(client: Any, steps: Steps[T]) -> T:
    """Run read-only ``steps`` outside a transaction (PostgreSQL), answering stable queries
    from memory: an account's id, once found, needs no round trip again."""
    answers = Remembered(stable_rows(client))

    async def answer(request: Query | Operation) -> Any:
        rows = answers.known(request)
        if rows is None:
            async with client.acquire_connection() as conn:
                rows = answers.learn(request, await _postgres_request(conn, request))
            answers.keep()  # read outside any transaction: committed rows
        return rows

    return await _drive(steps, answer)


def _step(steps: Steps[Any], reply: Any) -> tuple[bool, Any]:
    """``(False, the next request)``, or ``(True, the result)`` once ``steps`` return."""
    try:
        return False, steps.send(reply)
    except StopIteration as done:
        return True, done.value


async def _drive(steps: Steps[T], answer: Callable[[Any], Awaitable[Any]]) -> T:
    """Send each request's answer back into ``steps`` until they return."""
    done, value = _step(steps, None)
    while not done:
        done, value = _step(steps, await answer(value))
    return value  # type: ignore[no-any-return]


# SQLite, in the database thread ---------------------------------------------------------


def plain(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """Parameters for sqlite3: times as tortoise writes them (the default adapter is
    deprecated)."""
    for value in params:
        if isinstance(value, datetime):
            return tuple(p.isoformat(sep=" ") if isinstance(p, datetime) else p for p in params)
    return params  # most statements carry no time: nothing to copy


def _run_sqlite(conn: sqlite3.Connection, steps: Steps[T], answers: Remembered, nested: bool) -> T:
    conn.execute("SAVEPOINT step_sequence" if nested else "BEGIN IMMEDIATE")
    try:
        result = _drive_sqlite(conn, steps, answers)
    except BaseException:
        answers.forget()
        if nested:
            conn.execute("ROLLBACK TO step_sequence")
            conn.execute("RELEASE step_sequence")
        else:
            conn.execute("ROLLBACK")
        raise
    conn.execute("RELEASE step_sequence" if nested else "COMMIT")
    if not nested:
        answers.keep()
    return result


class Gathering(Generic[A, R]):
    """Calls that arrive together are carried out together: one trip and one commit.

    A commit (a WAL flush) costs more than the statements of a write. A call that finds
    nothing under way goes at once, in the caller's own task (``alone``). Calls that arrive
    while a write is under way wait, and go together in the next batch (``together``, up to
    MAX_BATCH), which reports each call's own outcome as ``(True, result)`` or ``(False,
    exception)``. A call returns only after its batch committed; when a whole batch fails,
    every caller in it hears why.
    """

    def __init__(
        self,
        alone: Callable[[A], Awaitable[R]],
        together: Callable[[list[A]], Awaitable[list[tuple[bool, Any]]]],
    ) -> None:
        self.alone = alone
        self.together = together
        self.queue: list[tuple[A, asyncio.Future[R]]] = []
        self.busy = False  # a write (alone, or a batch) is under way
        self.writer: asyncio.Task[None] | None = None  # the batches' task, kept alive

    async def call(self, item: A) -> R:
        """``item`` carried out, alone or in a batch."""
        if not self.busy:
            self.busy = True
            try:
                return await self.alone(item)
            finally:
                self.busy = False
                if self.queue:
                    self.busy = True
                    self.writer = asyncio.ensure_future(self._drain())
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        return await future

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
                try:
                    outcomes = await self.together([item for item, _ in batch])
                except BaseException as exc:  # nothing of the batch is kept
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
        finally:
            self.busy = False


def gathering(client: Any, name: str, make: Callable[[], Gathering[A, R]]) -> Gathering[A, R]:
    """The client's (one database's) gathering called ``name``, made on first use."""
    found: Gathering[A, R] | None = client.__dict__.get(name)
    if found is None:
        found = client.__dict__[name] = make()
    return found


def _sqlite_group(client: Any) -> Gathering[Steps[Any], Any]:
    memo = stable_rows(client)

    async def alone(steps: Steps[Any]) -> Any:
        async with client.acquire_connection() as conn:
            # aiosqlite's own way of running a function in its database thread.
            return await conn._execute(_run_sqlite, conn._conn, steps, Remembered(memo), False)

    async def together(batch: list[Steps[Any]]) -> list[tuple[bool, Any]]:
        async with client.acquire_connection() as conn:
            outcomes: list[tuple[bool, Any]] = await conn._execute(
                _run_sqlite_batch, conn._conn, batch, memo
            )
            return outcomes

    return gathering(client, "_timebank_sqlite_group", lambda: Gathering(alone, together))


def _run_sqlite_batch(
    conn: sqlite3.Connection, batch: list[Steps[Any]], memo: dict[Key, Any]
) -> list[tuple[bool, Any]]:
    if len(batch) == 1:  # no savepoint needed
        try:
            return [(True, _run_sqlite(conn, batch[0], Remembered(memo), False))]
        except Exception as exc:
            return [(False, exc)]
    outcomes: list[tuple[bool, Any]] = []
    learnt = Remembered(memo)  # by the items kept, once the batch commits
    conn.execute("BEGIN IMMEDIATE")
    try:
        for steps in batch:
            conn.execute("SAVEPOINT batch_item")
            answers = Remembered(memo)
            try:
                value = _drive_sqlite(conn, steps, answers)
            except Exception as exc:
                conn.execute("ROLLBACK TO batch_item")
                conn.execute("RELEASE batch_item")
                outcomes.append((False, exc))
                continue
            conn.execute("RELEASE batch_item")
            learnt.learnt.update(answers.learnt)
            outcomes.append((True, value))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    learnt.keep()
    return outcomes


def _drive_sqlite(conn: sqlite3.Connection, steps: Steps[T], answers: Remembered) -> T:
    done, value = _step(steps, None)
    while not done:
        done, value = _step(steps, answers.answer_sqlite(conn, value))
    return value  # type: ignore[no-any-return]


def _sqlite_answer(conn: sqlite3.Connection, request: Query | Operation) -> Any:
    if isinstance(request, Query):
        return [tuple(r) for r in conn.execute(request.sql, plain(request.params))]
    return request.on_sqlite(conn)


# PostgreSQL ---------------------------------------------------------------------------------


async def _postgres_request(conn: Any, request: Query | Operation) -> Any:
    if isinstance(request, Query):
        rows = await conn.fetch(numbered(request.sql, connections.get("default")), *request.params)
        return [tuple(r) for r in rows]
    return await request.on_postgres(conn)
