"""The transaction half of ``verify``: every digest recomputes, every hold resolves once.

``verify`` walks the entries and checks each one's hash against its transaction's *stored*
digest; this module proves each stored digest is the digest of the transaction's fields.
Together they check what one walk recomputing both would, and they can run at once: on a
large ledger ``verify`` starts this as a second process (``python -m
timebank.ledger.txncheck``) on the machine's other core, reading the same rows (they never
change) up to the last transaction of its snapshot. The result is one JSON line:
``{"count": n}`` or ``{"count": n, "txn": id, "reason": "…"}`` for the first broken one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from json.encoder import encode_basestring as text
from typing import Any

from timebank.ledger import chain

PAGE = 20_000
TXN_SQL = (
    "SELECT id, kind, actor_id, on_behalf_of_id, reason, ref_type, ref_id, idempotency_key,"
    " request_hash, reverses_id, resolves_id, digest, created_at"
    " FROM ledger_txn WHERE id > ? AND id <= ? ORDER BY id LIMIT ?"
)
DSN_ENV = "TIMEBANK_TXNCHECK_DSN"  # the database, passed to the worker out of sight of `ps`
from_iso = datetime.fromisoformat
Fetch = Callable[[int, int], Awaitable[list[tuple[Any, ...]]]]


class Found(Exception):
    """The first broken transaction."""

    def __init__(self, txn_id: int, reason: str) -> None:
        super().__init__(reason)
        self.txn_id = txn_id
        self.reason = reason


def txn_digest(row: tuple[Any, ...]) -> str:
    """``chain.txn_digest`` of a ``TXN_SQL`` row: the same bytes, built without keywords.

    tests/test_ledger_chain.py checks that the two agree; this runs once per transaction.
    """
    created = row[12]
    if type(created) is str:  # SQLite hands back text
        created = from_iso(created)
    delta = created - chain.EPOCH  # a naive (tampered) time raises TypeError
    at = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
    actor, on_behalf, resolves, reverses = row[2], row[3], row[10], row[9]
    body = (
        f'{{"actor":{"null" if actor is None else int(actor)},"at":{at},'
        f'"key":{text(row[7])},"kind":{text(row[1])},'
        f'"on_behalf_of":{"null" if on_behalf is None else int(on_behalf)},'
        f'"reason":{text(row[4])},"ref_id":{text(row[6])},"ref_type":{text(row[5])},'
        f'"request":{text(row[8])},"resolves":{"null" if resolves is None else int(resolves)},'
        f'"reverses":{"null" if reverses is None else int(reverses)}}}'
    )
    return hashlib.sha256(body.encode()).hexdigest()


def check_rows(rows: Iterable[tuple[Any, ...]], resolved: set[int]) -> None:
    """Check ``TXN_SQL`` rows in id order; raise ``Found`` at the first broken one."""
    for row in rows:
        try:
            digest = txn_digest(row)
        except (TypeError, ValueError):
            raise Found(row[0], f"transaction {row[0]} has an unreadable time") from None
        if digest != row[11]:
            raise Found(row[0], f"transaction {row[0]} was altered (its digest does not match)")
        holds = row[10]
        if holds is not None:
            if holds in resolved:
                raise Found(row[0], f"hold {holds} is resolved more than once")
            resolved.add(int(holds))


async def check(fetch: Fetch, last: int) -> dict[str, Any]:
    """Check transactions 1..``last``, read a page at a time by ``fetch(after, last)``."""
    resolved: set[int] = set()
    after = count = 0
    try:
        while rows := await fetch(after, last):
            check_rows(rows, resolved)
            count += len(rows)
            after = int(rows[-1][0])
    except Found as found:
        return {"count": count, "txn": found.txn_id, "reason": found.reason}
    return {"count": count}


async def _sqlite_pages(path: str) -> AsyncIterator[Fetch]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:

        async def fetch(after: int, last: int) -> list[tuple[Any, ...]]:
            return conn.execute(TXN_SQL, (after, last, PAGE)).fetchall()

        yield fetch
    finally:
        conn.close()


async def _worker(target: str, last: int) -> dict[str, Any]:
    if target.startswith("postgresql://"):
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(target)
        try:
            query = TXN_SQL.replace("id > ?", "id > $1").replace("<= ?", "<= $2")
            query = query.replace("LIMIT ?", "LIMIT $3")

            async def fetch(after: int, last: int) -> list[tuple[Any, ...]]:
                return [tuple(r) for r in await conn.fetch(query, after, last, PAGE)]

            return await check(fetch, last)
        finally:
            await conn.close()
    async for fetch_sqlite in _sqlite_pages(target):
        return await check(fetch_sqlite, last)
    raise AssertionError("unreachable")


def main() -> None:
    """``python -m timebank.ledger.txncheck LAST``; the database comes in DSN_ENV."""
    result = asyncio.run(_worker(os.environ[DSN_ENV], int(sys.argv[1])))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
