"""Walk the whole ledger and prove it intact, or name the first broken seq and why.

Checks: gapless ``seq`` from 1; every ``prev_hash`` links to the entry before; every hash
and transaction digest recomputes; every transaction's entries are contiguous and sum to
zero in each phase; each hold is resolved at most once; every ``balance_after`` and every
account's cached totals equal the sums of its entries; the chain head names the last entry;
and the chain still holds every checkpoint (from the database, and optionally one kept
outside it), so even a rewrite of the whole chain is caught.

Rows are streamed with plain SQL in ``seq`` order, a page at a time: the ORM would build
an object per row, about ten times slower on millions of entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections

from timebank import db
from timebank.ledger import chain
from timebank.ledger.models import Phase

PAGE = 20_000
PHASES = {p.value: p for p in Phase}
# Entries and their transactions are read apart, each a primary-key range scan: joining
# them row by row cost more than checking the rows.
ENTRY_SQL = (
    "SELECT seq, txn_id, account_id, amount, phase, balance_after, prev_hash, hash"
    " FROM ledger_entry WHERE seq > ? ORDER BY seq LIMIT ?"
)
TXN_SQL = (
    "SELECT id, kind, actor_id, on_behalf_of_id, reason, ref_type, ref_id, idempotency_key,"
    " request_hash, reverses_id, resolves_id, digest, created_at"
    " FROM ledger_txn WHERE id BETWEEN ? AND ?"
)
Page = tuple[list[tuple[Any, ...]], dict[int, tuple[Any, ...]]]


class Broken(Exception):
    """The ledger is not intact at ``seq``."""

    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


@dataclass(frozen=True)
class CheckpointMark:
    """A (seq, hash) the chain must still contain."""

    seq: int
    hash: str
    source: str


@dataclass
class Report:
    """What ``verify`` found."""

    ok: bool
    entries: int = 0
    transactions: int = 0
    head_seq: int = 0
    head_hash: str = chain.GENESIS
    broken_seq: int | None = None
    reason: str = ""
    seconds: float = 0.0
    checkpoints: int = 0

    def as_json(self) -> dict[str, Any]:
        """For the API and ``timebank verify --json``."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class _Walk:
    """State carried from one entry to the next."""

    marks: dict[int, CheckpointMark]
    seq: int = 0
    prev: str = chain.GENESIS
    txn_id: int | None = None
    txn_digest: str = ""
    txn_first_seq: int = 0
    sums: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    resolved: set[int] = field(default_factory=set)
    # Per account: posted credits, posted debits, pending credits, pending debits.
    totals: dict[int, list[int]] = field(default_factory=dict)


def _micros(value: datetime | str) -> int:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return chain.micros(value)


def _close_txn(walk: _Walk) -> None:
    if walk.txn_id is not None and any(walk.sums.values()):
        raise Broken(
            walk.txn_first_seq, f"transaction {walk.txn_id} does not sum to zero: {walk.sums}"
        )


def _open_txn(walk: _Walk, txn_id: int, txns: dict[int, tuple[Any, ...]]) -> None:
    # Ids are assigned under the ledger lock, so they rise along the chain: a lower one
    # means a transaction's entries are split up, or rows were moved.
    if walk.txn_id is not None and txn_id <= walk.txn_id:
        raise Broken(walk.seq, f"transaction {txn_id} is out of order (entries moved?)")
    row = txns.get(txn_id)
    if row is None:
        raise Broken(walk.seq, f"the entry belongs to transaction {txn_id}, which is missing")
    digest = chain.txn_digest(
        kind=row[1],
        actor_id=row[2],
        on_behalf_of_id=row[3],
        reason=row[4],
        ref_type=row[5],
        ref_id=row[6],
        idempotency_key=row[7],
        request_hash=row[8],
        reverses_id=row[9],
        resolves_id=row[10],
        created_us=_micros(row[12]),
    )
    if digest != row[11]:
        raise Broken(walk.seq, f"transaction {txn_id} was altered (its digest does not match)")
    resolves = row[10]
    if resolves is not None:
        if resolves in walk.resolved:
            raise Broken(walk.seq, f"hold {resolves} is resolved more than once")
        walk.resolved.add(int(resolves))
    walk.transactions += 1
    walk.txn_id, walk.txn_digest, walk.txn_first_seq = txn_id, digest, walk.seq
    walk.sums = {p: 0 for p in PHASES}


def _walk_page(walk: _Walk, page: Page) -> None:
    """Check a page of entries. One tight loop with local names: it runs once per entry."""
    rows, txns = page
    seq, prev, txn_id, digest = walk.seq, walk.prev, walk.txn_id, walk.txn_digest
    sums, totals, marks = walk.sums, walk.totals, walk.marks
    sha256 = hashlib.sha256
    for row in rows:
        seq += 1
        entry_seq, entry_txn, account, amount, phase, balance_after, prev_hash, link = row
        if entry_seq != seq:
            walk.seq = seq
            raise Broken(seq, f"seq {seq} is missing (next entry is seq {entry_seq})")
        if prev_hash != prev:
            raise Broken(seq, "prev_hash does not link to the previous entry")
        if entry_txn != txn_id:
            walk.seq, walk.prev = seq, prev
            _close_txn(walk)
            _open_txn(walk, entry_txn, txns)
            txn_id, digest, sums = walk.txn_id, walk.txn_digest, walk.sums
        if phase not in sums:
            raise Broken(seq, f"unknown phase {phase!r}")
        # Same bytes as chain.entry_hash (tests/test_ledger.py checks the two agree).
        body = (
            f'{prev}\n{{"account":{account},"amount":{amount},'
            f'"balance_after":{balance_after},"phase":"{phase}","seq":{seq},"txn":"{digest}"}}'
        )
        if sha256(body.encode()).hexdigest() != link:
            raise Broken(seq, "hash does not match the entry (amount, account or phase altered)")
        sums[phase] += amount
        t = totals.get(account)
        if t is None:
            t = totals[account] = [0, 0, 0, 0]
        if phase == "posted":
            if amount > 0:
                t[0] += amount
            else:
                t[1] -= amount
        elif phase == "pending":
            if amount < 0:
                t[3] -= amount
            else:
                t[2] += amount
        else:  # release
            if amount > 0:
                t[3] -= amount
            else:
                t[2] += amount
            if t[2] < 0 or t[3] < 0:
                raise Broken(seq, f"account {account} releases more than it held")
        if t[0] - t[1] - t[3] != balance_after:
            raise Broken(seq, f"balance_after {balance_after} should be {t[0] - t[1] - t[3]}")
        mark = marks.get(seq)
        if mark is not None and mark.hash != link:
            raise Broken(seq, f"entry differs from the {mark.source} checkpoint at seq {seq}")
        prev = link
    walk.seq, walk.prev = seq, prev


class _Snapshot:
    """One consistent read of the database for the whole walk, in plain SQL."""

    def __init__(self) -> None:
        self.client = connections.get("default")
        self.sqlite = self.client.capabilities.dialect == "sqlite"
        self._conn: Any = None
        self._pg: Any = None

    async def __aenter__(self) -> _Snapshot:
        if self.sqlite:
            path = self.client.filename
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            self._conn.execute("BEGIN")
        else:
            self._pg = self.client.acquire_connection()
            self._conn = await self._pg.__aenter__()
            self._txn = self._conn.transaction(isolation="repeatable_read", readonly=True)
            await self._txn.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sqlite:
            self._conn.close()
        else:
            await self._txn.rollback()
            await self._pg.__aexit__(*exc)

    async def fetch(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql``, with ``?`` placeholders on either database."""
        if self.sqlite:
            return list(await asyncio.to_thread(lambda: self._conn.execute(sql, params).fetchall()))
        return [tuple(r) for r in await self._conn.fetch(db.sql(sql, self.client), *params)]

    async def page(self, after: int) -> Page:
        """The next PAGE entries after seq ``after``, and the transactions they belong to."""
        if self.sqlite:
            return await asyncio.to_thread(self._sqlite_page, after)
        entries = [
            tuple(r) for r in await self._conn.fetch(db.sql(ENTRY_SQL, self.client), after, PAGE)
        ]
        if not entries:
            return entries, {}
        ids = [e[1] for e in entries]
        txns = await self._conn.fetch(db.sql(TXN_SQL, self.client), min(ids), max(ids))
        return entries, {r[0]: tuple(r) for r in txns}

    def _sqlite_page(self, after: int) -> Page:
        entries = self._conn.execute(ENTRY_SQL, (after, PAGE)).fetchall()
        if not entries:
            return entries, {}
        ids = [e[1] for e in entries]
        txns = self._conn.execute(TXN_SQL, (min(ids), max(ids))).fetchall()
        return entries, {r[0]: r for r in txns}

    async def pages(self) -> AsyncIterator[Page]:
        """Every entry with its transaction, in seq order, a page at a time.

        The next page is fetched while the caller checks this one.
        """
        pending = asyncio.ensure_future(self.page(0))
        try:
            while (page := await pending)[0]:
                pending = asyncio.ensure_future(self.page(page[0][-1][0]))
                yield page
        finally:
            if not pending.done():
                with contextlib.suppress(Exception):
                    await pending


async def verify(
    *,
    external: CheckpointMark | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify the ledger of the open database."""
    started = time.perf_counter()
    async with _Snapshot() as snap:
        marks = {
            int(seq): CheckpointMark(int(seq), str(hash_), "recorded")
            for seq, hash_ in await snap.fetch("SELECT seq, hash FROM ledger_checkpoint")
        }
        if external is not None:
            marks[external.seq] = external
        walk = _Walk(marks=marks)
        report = Report(ok=False, checkpoints=len(marks))
        try:
            async for page in snap.pages():
                _walk_page(walk, page)
                if progress is not None:
                    progress(walk.seq)
            _close_txn(walk)
            await _check_tables(walk, snap)
            report.ok = True
        except Broken as broken:
            report.broken_seq, report.reason = broken.seq, broken.reason
    report.entries, report.transactions = walk.seq, walk.transactions
    report.head_seq, report.head_hash = walk.seq, walk.prev
    report.seconds = time.perf_counter() - started
    return report


async def _check_tables(walk: _Walk, snap: _Snapshot) -> None:
    end = walk.seq
    for mark in walk.marks.values():
        if mark.seq > end:
            raise Broken(
                end + 1,
                f"the chain ends at seq {end} but the {mark.source} checkpoint records seq "
                f"{mark.seq}: entries were removed",
            )
    ((head_seq, head_hash),) = await snap.fetch("SELECT seq, hash FROM ledger_head WHERE id = 1")
    if int(head_seq) != end or head_hash != walk.prev:
        raise Broken(end, f"chain head says seq {head_seq}, the chain ends at seq {end}")
    ((count,),) = await snap.fetch("SELECT COUNT(*) FROM ledger_txn")
    if int(count) != walk.transactions:
        raise Broken(end, f"{int(count) - walk.transactions} transaction(s) have no entries")
    accounts = await snap.fetch(
        "SELECT id, posted_credits, posted_debits, pending_credits, pending_debits"
        " FROM ledger_account ORDER BY id"
    )
    for account_id, *cached in accounts:
        have = tuple(int(v) for v in cached)
        wanted = tuple(walk.totals.get(int(account_id), [0, 0, 0, 0]))
        if have != wanted:
            raise Broken(None, f"account {account_id} cached totals {have} != entries {wanted}")
