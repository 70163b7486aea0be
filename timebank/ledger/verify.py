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
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tortoise import connections

from timebank import db
from timebank.ledger import chain, txncheck

PAGE = 20_000
WORKER_FROM = 100_000  # transactions; a worker process costs ~0.3 s to start
log = logging.getLogger(__name__)
# Entries and their transactions are read apart, each a primary-key range scan: joining
# them row by row cost more than checking the rows.
ENTRY_SQL = (
    "SELECT seq, txn_id, account_id, amount, phase, balance_after, prev_hash, hash"
    " FROM ledger_entry WHERE seq > ? ORDER BY seq LIMIT ?"
)
DIGEST_SQL = "SELECT id, digest FROM ledger_txn WHERE id BETWEEN ? AND ?"
Page = tuple[list[tuple[Any, ...]], dict[int, str]]


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
    sums: list[int] = field(default_factory=lambda: [0, 0, 0])  # posted, pending, release
    transactions: int = 0
    # Per account: posted credits, posted debits, pending credits, pending debits.
    totals: dict[int, list[int]] = field(default_factory=dict)


def _walk_page(walk: _Walk, page: Page) -> None:
    """Check a page of entries.

    One tight loop with local names, the per-transaction checks inline: it runs once per
    entry, and calls and attribute look-ups cost more here than the checks themselves.
    """
    rows, txns = page
    seq, prev, txn_id, digest = walk.seq, walk.prev, walk.txn_id, walk.txn_digest
    totals, marks = walk.totals, walk.marks
    s_posted, s_pending, s_release = walk.sums
    first, transactions = walk.txn_first_seq, walk.transactions
    sha256 = hashlib.sha256
    try:
        for row in rows:
            seq += 1
            entry_seq, entry_txn, account, amount, phase, balance_after, prev_hash, link = row
            if entry_seq != seq:
                raise Broken(seq, f"seq {seq} is missing (next entry is seq {entry_seq})")
            if prev_hash != prev:
                raise Broken(seq, "prev_hash does not link to the previous entry")
            if entry_txn != txn_id:
                if s_posted or s_pending or s_release:
                    sums = {"pending": s_pending, "release": s_release, "posted": s_posted}
                    raise Broken(first, f"transaction {txn_id} does not sum to zero: {sums}")
                # Ids are assigned under the ledger lock, so they rise along the chain: a
                # lower one means a transaction's entries are split up, or rows were moved.
                if txn_id is not None and entry_txn <= txn_id:
                    raise Broken(seq, f"transaction {entry_txn} is out of order (entries moved?)")
                stored = txns.get(entry_txn)  # its stored digest: txncheck recomputes it
                if stored is None:
                    raise Broken(
                        seq, f"the entry belongs to transaction {entry_txn}, which is missing"
                    )
                digest = stored
                transactions += 1
                txn_id, first = entry_txn, seq
            # Same bytes as chain.entry_hash (tests/test_ledger.py checks the two agree).
            body = (
                f'{prev}\n{{"account":{account},"amount":{amount},'
                f'"balance_after":{balance_after},"phase":"{phase}","seq":{seq},'
                f'"txn":"{digest}"}}'
            )
            if sha256(body.encode()).hexdigest() != link:
                raise Broken(
                    seq, "hash does not match the entry (amount, account or phase altered)"
                )
            t = totals.get(account)
            if t is None:
                t = totals[account] = [0, 0, 0, 0]
            if phase == "posted":
                s_posted += amount
                if amount > 0:
                    t[0] += amount
                else:
                    t[1] -= amount
            elif phase == "pending":
                s_pending += amount
                if amount < 0:
                    t[3] -= amount
                else:
                    t[2] += amount
            elif phase == "release":
                s_release += amount
                if amount > 0:
                    t[3] -= amount
                else:
                    t[2] += amount
                if t[2] < 0 or t[3] < 0:
                    raise Broken(seq, f"account {account} releases more than it held")
            else:
                raise Broken(seq, f"unknown phase {phase!r}")
            if t[0] - t[1] - t[3] != balance_after:
                raise Broken(seq, f"balance_after {balance_after} should be {t[0] - t[1] - t[3]}")
            mark = marks.get(seq)
            if mark is not None and mark.hash != link:
                raise Broken(seq, f"entry differs from the {mark.source} checkpoint at seq {seq}")
            prev = link
    finally:  # where the walk got to, also when it stopped at a broken entry
        walk.seq, walk.prev, walk.txn_id, walk.txn_digest = seq, prev, txn_id, digest
        walk.sums = [s_posted, s_pending, s_release]
        walk.txn_first_seq, walk.transactions = first, transactions


def _close_txn(walk: _Walk) -> None:
    if walk.txn_id is not None and any(walk.sums):
        s_posted, s_pending, s_release = walk.sums
        sums = {"pending": s_pending, "release": s_release, "posted": s_posted}
        raise Broken(walk.txn_first_seq, f"transaction {walk.txn_id} does not sum to zero: {sums}")


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
        txns = await self._conn.fetch(db.sql(DIGEST_SQL, self.client), min(ids), max(ids))
        return entries, {r[0]: r[1] for r in txns}

    def _sqlite_page(self, after: int) -> Page:
        entries = self._conn.execute(ENTRY_SQL, (after, PAGE)).fetchall()
        if not entries:
            return entries, {}
        ids = [e[1] for e in entries]
        txns = self._conn.execute(DIGEST_SQL, (min(ids), max(ids))).fetchall()
        return entries, dict(txns)

    async def first_seq(self, txn_id: int) -> int | None:
        """The seq of the first entry of transaction ``txn_id`` (None if it has none)."""
        ((seq,),) = await self.fetch("SELECT MIN(seq) FROM ledger_entry WHERE txn_id = ?", txn_id)
        return None if seq is None else int(seq)

    async def start_txncheck(self, last: int) -> asyncio.subprocess.Process:
        """``python -m timebank.ledger.txncheck`` over transactions 1..``last``."""
        if self.sqlite:
            target = str(self.client.filename)  # the worker runs in this directory too
        else:
            c = self.client
            password = c.password if isinstance(c.password, str) else ""
            auth = quote(c.user or "", safe="") + (
                ":" + quote(password, safe="") if password else ""
            )
            target = f"postgresql://{auth}@{c.host}:{c.port}/{quote(c.database, safe='')}"
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "timebank.ledger.txncheck",
            str(last),
            env={**os.environ, txncheck.DSN_ENV: target},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def finish_txncheck(
        self, worker: asyncio.subprocess.Process | None, last: int
    ) -> dict[str, Any]:
        """The worker's finding, or (no worker, or it failed) the same check done here."""
        if worker is not None:
            out, err = await worker.communicate()
            try:
                found: dict[str, Any] = json.loads(out)
                if worker.returncode == 0 and found.get("count") is not None:
                    return found
            except ValueError:
                pass
            log.warning("txncheck worker failed (%s), checking here: %s", worker.returncode, err)

        async def fetch(after: int, last: int) -> list[tuple[Any, ...]]:
            return await self.fetch(txncheck.TXN_SQL, after, last, txncheck.PAGE)

        return await txncheck.check(fetch, last)

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
    worker_from: int = WORKER_FROM,
) -> Report:
    """Verify the ledger of the open database.

    The entries are walked here; the transactions (``txncheck``) are checked in a second
    process once there are ``worker_from`` of them, else here after the walk.
    """
    started = time.perf_counter()
    async with _Snapshot() as snap:
        marks = {
            int(seq): CheckpointMark(int(seq), str(hash_), "recorded")
            for seq, hash_ in await snap.fetch("SELECT seq, hash FROM ledger_checkpoint")
        }
        if external is not None:
            marks[external.seq] = external
        ((last,),) = await snap.fetch("SELECT COALESCE(MAX(id), 0) FROM ledger_txn")
        worker = await snap.start_txncheck(int(last)) if int(last) >= worker_from else None
        try:
            walk = _Walk(marks=marks)
            report = Report(ok=False, checkpoints=len(marks))
            broken: Broken | None = None
            try:
                async for page in snap.pages():
                    _walk_page(walk, page)
                    if progress is not None:
                        progress(walk.seq)
                _close_txn(walk)
                await _check_tables(walk, snap)
            except Broken as exc:
                broken = exc
            txns = await snap.finish_txncheck(worker, int(last))
        finally:
            if worker is not None and worker.returncode is None:
                worker.kill()
                await worker.wait()
        if "txn" in txns:  # the earlier of the two findings names the first broken seq
            seq = await snap.first_seq(int(txns["txn"]))
            if broken is None or broken.seq is None or (seq is not None and seq < broken.seq):
                broken = Broken(seq, str(txns["reason"]))
    if broken is None:
        report.ok = True
    else:
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
