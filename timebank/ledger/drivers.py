"""Carry out a ledger step sequence in one database transaction, SQLite or PostgreSQL.

SQLite: the whole sequence runs in aiosqlite's database thread in one hop, inside
``BEGIN IMMEDIATE`` (or a savepoint when the caller already holds a transaction). Each
statement handed to that thread separately costs ~150 µs of thread switching, more than
the statement itself; one hop keeps a ledger write close to the cost of its commit.

PostgreSQL: the chain head is locked with ``SELECT … FOR UPDATE`` (serializing all ledger
writers, which one gapless chain needs), then the accounts in id order, and everything the
write appends or updates goes in one statement, so the lock is held for four round trips.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from timebank.db import sql as numbered
from timebank.errors import NotFound
from timebank.ledger.models import TxnKind
from timebank.ledger.rules import (
    AccountState,
    Plan,
    Posted,
    Txn,
    check_balanced,
    check_key,
    refuse_cap,
    refuse_floor,
)
from timebank.ledger.steps import (
    TXN_INSERT_COLUMNS,
    Append,
    LockAccounts,
    LockHead,
    PlanSteps,
    PrepareSteps,
    Query,
    Request,
    Steps,
    as_txn,
    digest_of,
    fingerprint_of,
    key_reused,
    write_steps,
)

T = TypeVar("T")
TXN_LOOKUP = (
    "SELECT id, kind, reverses_id, resolves_id, ref_type, ref_id, created_at, request_hash"
    " FROM ledger_txn WHERE idempotency_key = ?"
)
ACCOUNT_LOCK = (
    "SELECT id, kind, floor, cap, version, posted_credits, posted_debits, pending_credits,"
    " pending_debits FROM ledger_account WHERE id IN ({marks}) ORDER BY id"
)


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


# SQLite, in the database thread ---------------------------------------------------------


def _plain(params: tuple[Any, ...]) -> tuple[Any, ...]:
    # Times as tortoise writes them; sqlite3's default datetime adapter is deprecated.
    return tuple(p.isoformat(sep=" ") if isinstance(p, datetime) else p for p in params)


def _run_sqlite(conn: sqlite3.Connection, steps: Steps[T], nested: bool) -> T:
    conn.execute("SAVEPOINT ledger_write" if nested else "BEGIN IMMEDIATE")
    try:
        result = _drive_sqlite(conn, steps)
    except BaseException:
        if nested:
            conn.execute("ROLLBACK TO ledger_write")
            conn.execute("RELEASE ledger_write")
        else:
            conn.execute("ROLLBACK")
        raise
    conn.execute("RELEASE ledger_write" if nested else "COMMIT")
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
        reply = _sqlite_request(conn, request)


def _sqlite_request(conn: sqlite3.Connection, request: Request) -> Any:
    if isinstance(request, Query):
        return [tuple(r) for r in conn.execute(request.sql, _plain(request.params))]
    if isinstance(request, LockHead):  # BEGIN IMMEDIATE already holds the database
        ((seq, digest),) = conn.execute("SELECT seq, hash FROM ledger_head WHERE id = 1")
        found = conn.execute(TXN_LOOKUP, (request.key,)).fetchone()
        accounts = _sqlite_accounts(conn, request.accounts) if request.accounts else []
        return seq, digest, tuple(found) if found else None, accounts
    if isinstance(request, LockAccounts):
        return _sqlite_accounts(conn, request.ids)
    return _sqlite_append(conn, request)


def _sqlite_accounts(conn: sqlite3.Connection, ids: tuple[int, ...]) -> list[AccountState]:
    rows = conn.execute(ACCOUNT_LOCK.format(marks=", ".join("?" * len(ids))), ids)
    return [AccountState.from_row(tuple(r)) for r in rows]


def _sqlite_append(conn: sqlite3.Connection, append: Append) -> int:
    ((txn_id,),) = conn.execute(
        f"INSERT INTO ledger_txn ({TXN_INSERT_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        _plain(append.txn),
    ).fetchall()
    conn.executemany(
        "INSERT INTO ledger_entry (seq, txn_id, account_id, amount, phase, balance_after,"
        " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(e[0], txn_id, *e[1:]) for e in append.entries],
    )
    updated = conn.executemany(
        "UPDATE ledger_account SET posted_credits = ?, posted_debits = ?, pending_credits = ?,"
        " pending_debits = ?, version = version + 1 WHERE id = ? AND version = ?",
        [(*a[1:5], a[0], a[5]) for a in append.accounts],
    ).rowcount
    _check_updated(updated, len(append.accounts))
    conn.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", append.head)
    return int(txn_id)


def _check_updated(updated: int, expected: int) -> None:
    # The head lock makes this impossible unless something wrote accounts behind the ledger.
    if updated != expected:
        raise RuntimeError(f"ledger accounts changed underneath ({updated} of {expected})")


# PostgreSQL ---------------------------------------------------------------------------------

PG_HEAD = "SELECT seq, hash FROM ledger_head WHERE id = 1 FOR UPDATE"
# Once the head is ours: the transaction of the key, and the accounts locked in id order.
PG_AFTER_HEAD = """
WITH a AS (
    SELECT id, kind, floor, cap, version, posted_credits, posted_debits, pending_credits,
           pending_debits
    FROM ledger_account WHERE id = ANY($2::int[]) ORDER BY id FOR UPDATE
)
SELECT (SELECT json_agg(json_build_array(a.id, a.kind, a.floor, a.cap, a.version,
                                         a.posted_credits, a.posted_debits,
                                         a.pending_credits, a.pending_debits) ORDER BY a.id)
        FROM a) AS accounts,
       (SELECT json_build_array(t.id, t.kind, t.reverses_id, t.resolves_id, t.ref_type,
                                t.ref_id, t.created_at, t.request_hash)
        FROM ledger_txn t WHERE t.idempotency_key = $1) AS txn
"""
PG_ACCOUNTS = (
    "SELECT id, kind, floor, cap, version, posted_credits, posted_debits, pending_credits,"
    " pending_debits FROM ledger_account WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE"
)
# Everything one write appends or updates, in one statement.
PG_APPEND = f"""
WITH t AS (
    INSERT INTO ledger_txn ({TXN_INSERT_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id
), e AS (
    INSERT INTO ledger_entry (seq, txn_id, account_id, amount, phase, balance_after,
                              prev_hash, hash)
    SELECT v.seq, t.id, v.account_id, v.amount, v.phase, v.balance_after, v.prev, v.hash
    FROM t, unnest($13::bigint[], $14::int[], $15::bigint[], $16::text[], $17::bigint[],
                   $18::text[], $19::text[])
         AS v(seq, account_id, amount, phase, balance_after, prev, hash)
), a AS (
    UPDATE ledger_account AS acc
    SET posted_credits = v.pc, posted_debits = v.pd, pending_credits = v.prc,
        pending_debits = v.prd, version = acc.version + 1
    FROM unnest($20::int[], $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[],
                $25::int[]) AS v(id, pc, pd, prc, prd, version)
    WHERE acc.id = v.id AND acc.version = v.version
    RETURNING acc.id
), h AS (
    UPDATE ledger_head SET seq = $26, hash = $27 WHERE id = 1
)
SELECT (SELECT id FROM t) AS txn_id, (SELECT count(*) FROM a) AS updated
"""


async def _run_postgres(conn: Any, steps: Steps[T]) -> T:
    reply: Any = None
    while True:
        try:
            request = steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        reply = await _postgres_request(conn, request)


async def _postgres_request(conn: Any, request: Request) -> Any:
    if isinstance(request, Query):
        client = connections.get("default")
        rows = await conn.fetch(numbered(request.sql, client), *request.params)
        return [tuple(r) for r in rows]
    if isinstance(request, LockHead):
        head = await conn.fetchrow(PG_HEAD)
        # Read only once the head is ours: a statement that waited for the lock still reads
        # other tables as of its start, and would miss a key committed meanwhile.
        row = await conn.fetchrow(PG_AFTER_HEAD, request.key, list(request.accounts))
        accounts = [AccountState.from_row(tuple(a)) for a in json.loads(row["accounts"] or "[]")]
        found = json.loads(row["txn"]) if row["txn"] is not None else None
        return head[0], head[1], (tuple(found) if found else None), accounts
    if isinstance(request, LockAccounts):
        rows = await conn.fetch(PG_ACCOUNTS, list(request.ids))
        return [AccountState.from_row(tuple(r)) for r in rows]
    assert isinstance(request, Append)
    columns = [list(c) for c in zip(*request.entries, strict=True)]
    columns += [list(c) for c in zip(*request.accounts, strict=True)]
    row = await conn.fetchrow(PG_APPEND, *request.txn, *columns, *request.head)
    _check_updated(int(row["updated"]), len(request.accounts))
    return int(row["txn_id"])


# PostgreSQL's fast path ------------------------------------------------------------------


async def _prepare_postgres(client: Any, steps: Steps[T]) -> T:
    """Run the look-ups before the lock, answering stable queries from memory.

    Account ids never change once found, so after the first write a transfer between
    known accounts needs no round trip before its ``ledger_write``. The memory belongs to
    the client (one database) and keeps only answers with rows.
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


def _static(plan: PlanSteps, prepared: Any) -> Plan | None:
    """The plan's result when it needs no database read under the lock, else None."""
    steps = plan(prepared)
    try:
        steps.send(None)
    except StopIteration as done:
        decided: Plan = done.value
        return decided
    steps.close()
    return None


LEDGER_WRITE = (
    "SELECT status, txn_id, detail FROM ledger_write($1, $2, $3, $4, $5, $6, $7, $8, $9,"
    " $10, $11, $12, $13)"
)
LEDGER_WRITE_MANY = (
    "SELECT ord, status, txn_id, detail FROM ledger_write_many($1::json) ORDER BY ord"
)
MAX_BATCH = 64
STABLE_ROWS = 100_000  # account ids remembered per database (about 20 MB at most)


class _GroupCommit:
    """Runs concurrent ``ledger_write`` calls of this process in shared transactions.

    Every ledger write holds the chain head until its commit, so one commit's WAL flush
    at a time would cap the rate. Calls that arrive while a batch is being written wait
    and go together in the next one: one statement (``ledger_write_many``, migration
    0006), one lock, one flush, up to MAX_BATCH transactions. A call returns only after
    its batch committed. A call alone goes straight to ``ledger_write``.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def call(self, args: tuple[Any, ...]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue.append((args, future))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
            try:
                async with self.client.acquire_connection() as conn:
                    if len(batch) == 1:
                        rows = [await conn.fetchrow(LEDGER_WRITE, *batch[0][0])]
                    else:
                        calls = json.dumps([_json_args(a) for a, _ in batch])
                        rows = [r[1:] for r in await conn.fetch(LEDGER_WRITE_MANY, calls)]
            except Exception as exc:  # nothing was written: every caller hears why
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), row in zip(batch, rows, strict=True):
                if future.done():
                    continue
                if row[0] == "error":  # this call alone failed and was rolled back
                    info = json.loads(row[2])
                    future.set_exception(LedgerWriteFailed(info["sqlstate"], info["message"]))
                else:
                    future.set_result(row)


class LedgerWriteFailed(Exception):
    """One transfer of a batch failed in the database; the others were committed."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(f"ledger_write failed ({sqlstate}): {message}")
        self.sqlstate = sqlstate


def _json_args(args: tuple[Any, ...]) -> list[Any]:
    # ledger_write's arguments for ledger_write_many: the timestamp as ISO text.
    return [a.isoformat() if isinstance(a, datetime) else a for a in args]


def _group_commit(client: Any) -> _GroupCommit:
    group: _GroupCommit | None = getattr(client, "_timebank_group_commit", None)
    if group is None:
        group = _GroupCommit(client)
        client._timebank_group_commit = group
    return group


async def _postgres_transfer(
    client: Any,
    *,
    kind: TxnKind,
    key: str,
    fingerprint: str,
    decided: Plan,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    reason: str,
) -> Posted:
    now = datetime.now(UTC)
    digest = digest_of(kind, key, fingerprint, decided, actor_id, on_behalf_of_id, reason, now)
    legs = decided.legs
    args = (
        key,
        fingerprint,
        kind.value,
        actor_id,
        on_behalf_of_id,
        reason,
        decided.ref_type,
        decided.ref_id,
        digest,
        now,
        [leg.account_id for leg in legs],
        [leg.amount for leg in legs],
        [leg.phase.value for leg in legs],
    )
    if isinstance(client, TransactionalDBClient):  # inside the caller's own transaction
        async with client.acquire_connection() as conn:
            status, txn_id, detail = await conn.fetchrow(LEDGER_WRITE, *args)
    else:
        status, txn_id, detail = await _group_commit(client).call(args)
    info = json.loads(detail) if detail else {}
    if status == "created":
        txn = Txn(int(txn_id), kind, None, None, decided.ref_type, decided.ref_id, now)
        return Posted(txn, created=True)
    if status == "replay":
        row = (
            txn_id,
            info["kind"],
            info["reverses_id"],
            info["resolves_id"],
            info["ref_type"],
            info["ref_id"],
            info["created_at"],
        )
        return Posted(as_txn(row), created=False)
    if status == "key_reused":
        raise key_reused()
    if status == "floor":
        refuse_floor(int(txn_id), info["kind"], int(info["floor"]), int(info["available"]))
    if status == "cap":
        refuse_cap(int(txn_id), int(info["cap"]))
    raise NotFound("Unknown account.", "账户不存在。", code="account_not_found")


async def write(
    *,
    kind: TxnKind,
    key: str,
    request: dict[str, Any],
    plan: PlanSteps,
    prepare: PrepareSteps,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    reason: str,
) -> Posted:
    """Append one transaction (see ``steps.write_steps``), the fastest way this database can.

    On PostgreSQL a transfer whose accounts all exist and whose legs need nothing read
    under the lock goes through the server-side ``ledger_write`` in one statement, with
    concurrent calls committed together (``_GroupCommit``); the rest, and SQLite, run the
    step sequence.
    """
    client = connections.get("default")
    if client.capabilities.dialect == "postgres":
        check_key(key)
        prepared, _ = await _prepare_postgres(client, prepare())
        decided = _static(plan, prepared)
        if decided is not None and decided.reverses_id is None and decided.resolves_id is None:
            check_balanced(decided.legs)
            return await _postgres_transfer(
                client,
                kind=kind,
                key=key,
                fingerprint=fingerprint_of(kind, request),
                decided=decided,
                actor_id=actor_id,
                on_behalf_of_id=on_behalf_of_id,
                reason=reason,
            )
    return await run(
        write_steps(
            kind=kind,
            key=key,
            request=request,
            plan=plan,
            prepare=prepare,
            actor_id=actor_id,
            on_behalf_of_id=on_behalf_of_id,
            reason=reason,
        )
    )
