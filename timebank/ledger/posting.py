"""Append one ledger transaction, the fastest way the database can.

SQLite, and PostgreSQL when something must be read under the lock (holds, reversals, a
first-time account): the step sequence ``steps.write_steps``, run by
``timebank.db.steps.run``. PostgreSQL otherwise: one call of the server-side function
``ledger_write`` (migration 0004: the same rules and the same hash bytes as the Python
path, which ``verify`` recomputes), concurrent calls of a process committed together.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from timebank.db.steps import look_up, run
from timebank.errors import NotFound
from timebank.ledger.models import TxnKind
from timebank.ledger.rules import (
    Plan,
    Posted,
    Txn,
    check_balanced,
    check_key,
    refuse_cap,
    refuse_floor,
)
from timebank.ledger.steps import (
    PlanSteps,
    PrepareSteps,
    as_txn,
    digest_of,
    fingerprint_of,
    key_reused,
    nothing_to_prepare,
    write_steps,
)


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
MAX_BATCH = 64  # transfers at most in one ledger_write_many


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
    kind: TxnKind,
    key: str,
    request: dict[str, Any],
    plan: PlanSteps,
    actor_id: int | None = None,
    on_behalf_of_id: int | None = None,
    reason: str = "",
    prepare: PrepareSteps = nothing_to_prepare,
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
        prepared, _ = await look_up(client, prepare())
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
