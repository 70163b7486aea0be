"""Append one ledger transaction, the fastest way the database can.

SQLite, and PostgreSQL when something must be read under the lock (holds, reversals, a
first-time account): the step sequence ``steps.write_steps``, run by
``timebank.db.steps.run``. PostgreSQL otherwise: one call of the server-side function
``ledger_write`` (migration 0004: the same rules and the same hash bytes as the Python
path, which ``verify`` recomputes), concurrent calls of a process committed together.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from timebank.db.steps import Gathering, gathering, look_up, run
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


class LedgerWriteFailed(Exception):
    """One transfer of a batch failed in the database; the others were committed."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(f"ledger_write failed ({sqlstate}): {message}")
        self.sqlstate = sqlstate


def _json_args(args: tuple[Any, ...]) -> list[Any]:
    # ledger_write's arguments for ledger_write_many: the timestamp as ISO text.
    return [a.isoformat() if isinstance(a, datetime) else a for a in args]


def _group_commit(client: Any) -> Gathering[tuple[Any, ...], Any]:
    """Concurrent ``ledger_write`` calls of this process in shared transactions.

    Every ledger write holds the chain head until its commit, so one commit's WAL flush
    at a time would cap the rate. Calls that arrive while one is being written go together
    in the next batch: one statement (``ledger_write_many``, migration 0006), one lock, one
    flush. A call alone goes straight to ``ledger_write``, in the caller's task.
    """

    async def alone(args: tuple[Any, ...]) -> Any:
        async with client.acquire_connection() as conn:
            return await conn.fetchrow(LEDGER_WRITE, *args)

    async def together(batch: list[tuple[Any, ...]]) -> list[tuple[bool, Any]]:
        async with client.acquire_connection() as conn:
            if len(batch) == 1:
                rows = [await conn.fetchrow(LEDGER_WRITE, *batch[0])]
            else:
                calls = json.dumps([_json_args(a) for a in batch])
                rows = [r[1:] for r in await conn.fetch(LEDGER_WRITE_MANY, calls)]
        return [_outcome(row) for row in rows]

    return gathering(client, "_timebank_group_commit", lambda: Gathering(alone, together))


def _outcome(row: Any) -> tuple[bool, Any]:
    if row[0] == "error":  # this call alone failed and was rolled back
        info = json.loads(row[2])
        return False, LedgerWriteFailed(info["sqlstate"], info["message"])
    return True, row


async def _postgres_transfer(
    client: Any, kind: TxnKind, decided: Plan, args: tuple[Any, ...], now: datetime
) -> Posted:
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
    concurrent calls committed together (``_group_commit``); the rest, and SQLite, run the
    step sequence.
    """
    client = connections.get("default")
    decided = None
    if client.capabilities.dialect == "postgres":
        check_key(key)
        prepared, _ = await look_up(client, prepare())
        decided = _static(plan, prepared)
    if decided is None or decided.reverses_id is not None or decided.resolves_id is not None:
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
    check_balanced(decided.legs)
    now = datetime.now(UTC)
    fingerprint = fingerprint_of(kind, request)
    digest = digest_of(kind, key, fingerprint, decided, actor_id, on_behalf_of_id, reason, now)
    legs = decided.legs
    args = (key, fingerprint, kind.value, actor_id, on_behalf_of_id, reason, decided.ref_type,
            decided.ref_id, digest, now, [leg.account_id for leg in legs],
            [leg.amount for leg in legs], [leg.phase.value for leg in legs])  # fmt: skip
    return await _postgres_transfer(client, kind, decided, args, now)
