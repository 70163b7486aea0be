"""How the ledger's own requests (``steps.LockHead``, ``LockAccounts``, ``Append``) are
carried out, on SQLite and on PostgreSQL; ``timebank.db.steps`` runs the sequences.

SQLite: ``BEGIN IMMEDIATE`` already holds the whole database, so locking the head is a read.
PostgreSQL: the chain head is locked with ``SELECT … FOR UPDATE`` (serializing all ledger
writers, which one gapless chain needs), then the accounts in id order, and everything the
write appends or updates goes in one statement, so the lock is held for four round trips.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from timebank.db.steps import plain
from timebank.ledger.rules import AccountState

if TYPE_CHECKING:
    from timebank.ledger.steps import Append, LockAccounts, LockHead

TXN_INSERT_COLUMNS = (
    "kind, actor_id, on_behalf_of_id, reason, ref_type, ref_id, idempotency_key,"
    " request_hash, reverses_id, resolves_id, digest, created_at"
)
TXN_LOOKUP = (
    "SELECT id, kind, reverses_id, resolves_id, ref_type, ref_id, created_at, request_hash"
    " FROM ledger_txn WHERE idempotency_key = ?"
)
ACCOUNT_LOCK = (
    "SELECT id, kind, floor, cap, version, posted_credits, posted_debits, pending_credits,"
    " pending_debits FROM ledger_account WHERE id IN ({marks}) ORDER BY id"
)


# SQLite, in the database thread ---------------------------------------------------------


def sqlite_lock_head(conn: sqlite3.Connection, request: LockHead) -> Any:
    """``LockHead`` on SQLite: ``BEGIN IMMEDIATE`` already holds the database."""
    ((seq, digest),) = conn.execute("SELECT seq, hash FROM ledger_head WHERE id = 1")
    found = conn.execute(TXN_LOOKUP, (request.key,)).fetchone()
    accounts = sqlite_accounts(conn, request.accounts) if request.accounts else []
    return seq, digest, tuple(found) if found else None, accounts


def sqlite_accounts(conn: sqlite3.Connection, ids: tuple[int, ...]) -> list[AccountState]:
    """``LockAccounts`` on SQLite: a read, the database is already ours."""
    rows = conn.execute(ACCOUNT_LOCK.format(marks=", ".join("?" * len(ids))), ids)
    return [AccountState.from_row(tuple(r)) for r in rows]


def sqlite_append(conn: sqlite3.Connection, append: Append) -> int:
    """``Append`` on SQLite."""
    ((txn_id,),) = conn.execute(
        f"INSERT INTO ledger_txn ({TXN_INSERT_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        plain(append.txn),
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
    check_updated(updated, len(append.accounts))
    conn.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", append.head)
    return int(txn_id)


def check_updated(updated: int, expected: int) -> None:
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


async def postgres_lock_head(conn: Any, request: LockHead) -> Any:
    """``LockHead`` on PostgreSQL: the head first, then what only its holder may read."""
    head = await conn.fetchrow(PG_HEAD)
    # Read only once the head is ours: a statement that waited for the lock still reads
    # other tables as of its start, and would miss a key committed meanwhile.
    row = await conn.fetchrow(PG_AFTER_HEAD, request.key, list(request.accounts))
    accounts = [AccountState.from_row(tuple(a)) for a in json.loads(row["accounts"] or "[]")]
    found = json.loads(row["txn"]) if row["txn"] is not None else None
    return head[0], head[1], (tuple(found) if found else None), accounts


async def postgres_accounts(conn: Any, request: LockAccounts) -> list[AccountState]:
    """``LockAccounts`` on PostgreSQL."""
    rows = await conn.fetch(PG_ACCOUNTS, list(request.ids))
    return [AccountState.from_row(tuple(r)) for r in rows]


async def postgres_append(conn: Any, request: Append) -> int:
    """``Append`` on PostgreSQL, in one statement."""
    columns = [list(c) for c in zip(*request.entries, strict=True)]
    columns += [list(c) for c in zip(*request.accounts, strict=True)]
    row = await conn.fetchrow(PG_APPEND, *request.txn, *columns, *request.head)
    check_updated(int(row["updated"]), len(request.accounts))
    return int(row["txn_id"])
