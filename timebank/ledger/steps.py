"""A ledger write as a sequence of database requests, free of any I/O (a generator).

``write_steps`` yields requests (``LockHead``, ``Query``, ``LockAccounts``, ``Append``)
and receives their results; ``timebank.db.steps.run`` carries them out in one database
transaction, the ledger's own requests with their SQL in ``timebank.ledger.drivers``. The
rules live here once, while each driver does the I/O its own best way: on SQLite the whole
sequence runs in the database thread in one hop, on PostgreSQL the appends go in one
statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from timebank.db.steps import Query, Steps
from timebank.errors import Conflict, NotFound
from timebank.ledger import chain, drivers
from timebank.ledger.models import AccountKind, TxnKind
from timebank.ledger.rules import (
    AccountState,
    Plan,
    Posted,
    Totals,
    Txn,
    check_balanced,
    check_key,
    check_limits,
)

T = TypeVar("T")


@dataclass(frozen=True)
class LockHead:
    """Lock the chain head, then read the transaction of ``key`` and lock ``accounts``.

    The result is ``(seq, hash, txn row or None, [AccountState …])``; the txn row is
    ``id, kind, reverses_id, resolves_id, ref_type, ref_id, created_at, request_hash``.
    """

    key: str
    accounts: tuple[int, ...] = ()

    def on_sqlite(self, conn: sqlite3.Connection) -> Any:
        return drivers.sqlite_lock_head(conn, self)

    async def on_postgres(self, conn: Any) -> Any:
        return await drivers.postgres_lock_head(conn, self)


@dataclass(frozen=True)
class LockAccounts:
    """Lock these accounts in id order; the result is a list of ``AccountState``."""

    ids: tuple[int, ...]

    def on_sqlite(self, conn: sqlite3.Connection) -> list[AccountState]:
        return drivers.sqlite_accounts(conn, self.ids)

    async def on_postgres(self, conn: Any) -> list[AccountState]:
        return await drivers.postgres_accounts(conn, self)


@dataclass(frozen=True)
class Append:
    """Insert the transaction and its entries, update totals and head; result: txn id."""

    txn: tuple[Any, ...]  # kind … created_at, in TXN_INSERT's column order
    entries: list[tuple[Any, ...]]  # seq, account_id, amount, phase, balance_after, prev, hash
    accounts: list[tuple[int, int, int, int, int, int]]  # id, 4 totals, version before
    head: tuple[int, str]

    def on_sqlite(self, conn: sqlite3.Connection) -> int:
        return drivers.sqlite_append(conn, self)

    async def on_postgres(self, conn: Any) -> int:
        return await drivers.postgres_append(conn, self)


# Before the lock: look up what can be looked up (accounts that exist); returns what the
# plan needs and the account ids to lock together with the head.
PrepareSteps = Callable[[], Steps[tuple[Any, tuple[int, ...]]]]
# Under the lock: decide the legs.
PlanSteps = Callable[[Any], Steps[Plan]]


# ``checks``: a caller's own rules and rows, run under the ledger lock in the same
# transaction just before the legs are decided (e.g. a redemption's limits, the stock of
# an item and the redemption row itself); it returns the ref_id the transaction carries.
Checks = Callable[[], Steps[str]]


def checked(checks: Checks | None, plan: Callable[[str], PlanSteps], ref_id: str) -> PlanSteps:
    """``plan`` for the ref_id that ``checks`` return (or ``ref_id`` without checks)."""

    def steps(prepared: Any) -> Steps[Plan]:
        ref = (yield from checks()) if checks is not None else ref_id
        return (yield from plan(ref)(prepared))

    return steps


# What a second resolution of a hold, or a second reversal, is refused with.
_DONE = {
    "resolves_id": ("Hold {} is already resolved.", "预约冻结 {} 已经处理过。", "hold_resolved"),
    "reverses_id": (
        "Transaction {} has already been reversed.",
        "交易 {} 已经冲正过。",
        "already_reversed",
    ),
}


def at_most_once(column: str, txn_id: int) -> Steps[None]:
    """A 409 when a transaction already points at ``txn_id`` through ``column``
    (``resolves_id``: a hold is resolved once; ``reverses_id``: reversed once)."""
    if (yield Query(f"SELECT id FROM ledger_txn WHERE {column} = ?", (txn_id,))):
        english, chinese, code = _DONE[column]
        raise Conflict(english.format(txn_id), chinese.format(txn_id), code=code)


def nothing_to_prepare() -> Steps[tuple[Any, tuple[int, ...]]]:
    """A preparation that looks nothing up."""
    return None, ()
    yield  # a generator that asks nothing


def _now() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _now


@contextmanager
def recorded_at(when: Callable[[], datetime]) -> Iterator[None]:
    """Write the ledger's transactions in this block as made at ``when()``.

    For loading history in time order before the service takes requests (the demo's three
    months of service); the chain stays valid, the times are part of each digest. It is
    process-wide because step sequences may run in the database driver's thread, so it is
    never used while serving, and no request can reach it.
    """
    global _clock
    _clock = when
    try:
        yield
    finally:
        _clock = _now


def as_txn(row: tuple[Any, ...]) -> Txn:
    """A ``Txn`` from ``id, kind, reverses_id, resolves_id, ref_type, ref_id, created_at``."""
    created = row[6]
    if isinstance(created, str):  # SQLite hands back text
        created = datetime.fromisoformat(created)
    return Txn(int(row[0]), TxnKind(row[1]), row[2], row[3], row[4], row[5], created)


def key_reused() -> Conflict:
    """The error for an idempotency key that comes back with another request."""
    return Conflict(
        "This idempotency key was already used for a different request.",
        "该幂等键已用于另一笔不同的请求。",
        code="idempotency_key_reused",
    )


def fingerprint_of(kind: TxnKind, request: dict[str, Any]) -> str:
    """The hash of a request, compared when its idempotency key comes again."""
    return chain.request_hash({"kind": kind.value, **request})


def digest_of(
    kind: TxnKind,
    key: str,
    fingerprint: str,
    decided: Plan,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    reason: str,
    now: datetime,
) -> str:
    """The digest of the transaction about to be written."""
    return chain.txn_digest(
        kind=kind.value,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        reason=reason,
        ref_type=decided.ref_type,
        ref_id=decided.ref_id,
        idempotency_key=key,
        request_hash=fingerprint,
        reverses_id=decided.reverses_id,
        resolves_id=decided.resolves_id,
        created_us=chain.micros(now),
    )


def _applied(
    decided: Plan, accounts: dict[int, AccountState]
) -> tuple[dict[int, Totals], list[int]]:
    """Each account's totals after the legs, and the available balance after each leg;
    refused when a leg takes an account below its floor or above its cap."""
    after = {i: a.totals.copy() for i, a in accounts.items()}
    balances = []
    for leg in decided.legs:
        after[leg.account_id].apply(leg.amount, leg.phase)
        balances.append(after[leg.account_id].available)
    for account_id, account in accounts.items():
        check_limits(account, after[account_id])
    return after, balances


def _linked(
    decided: Plan, balances: list[int], digest: str, seq: int, prev: str
) -> list[tuple[Any, ...]]:
    """The entry rows of the legs, each hash-linked to the one before (from the head)."""
    entries = []
    for leg, balance_after in zip(decided.legs, balances, strict=True):
        seq += 1
        link = chain.entry_hash(
            prev_hash=prev,
            seq=seq,
            txn_digest=digest,
            account_id=leg.account_id,
            amount=leg.amount,
            phase=leg.phase.value,
            balance_after=balance_after,
        )
        entries.append(
            (seq, leg.account_id, leg.amount, leg.phase.value, balance_after, prev, link)
        )
        prev = link
    return entries


def write_steps(
    *,
    kind: TxnKind,
    key: str,
    request: dict[str, Any],
    plan: PlanSteps,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    reason: str,
    prepare: PrepareSteps = nothing_to_prepare,
) -> Steps[Posted]:
    """Append one transaction; a repeated key with the same request returns the original."""
    check_key(key)
    fingerprint = fingerprint_of(kind, request)
    prepared, known = yield from prepare()
    head_seq, head_hash, existing, locked = yield LockHead(key, tuple(sorted(set(known))))
    if existing is not None:
        if existing[7] != fingerprint:
            raise key_reused()
        return Posted(as_txn(existing), created=False)
    decided = yield from plan(prepared)
    check_balanced(decided.legs)
    wanted = {leg.account_id for leg in decided.legs}
    if not wanted <= {a.id for a in locked}:
        # The plan chose accounts not locked with the head (holds, reversals, new accounts).
        locked = yield LockAccounts(tuple(sorted(wanted | {a.id for a in locked})))
    accounts = {a.id: a for a in locked if a.id in wanted}
    if len(accounts) != len(wanted):
        raise NotFound("Unknown account.", "账户不存在。", code="account_not_found")
    after, balances = _applied(decided, accounts)
    now = _clock()
    digest = digest_of(kind, key, fingerprint, decided, actor_id, on_behalf_of_id, reason, now)
    entries = _linked(decided, balances, digest, int(head_seq), str(head_hash))
    txn = (kind.value, actor_id, on_behalf_of_id, reason, decided.ref_type, decided.ref_id,
           key, fingerprint, decided.reverses_id, decided.resolves_id, digest, now)  # fmt: skip
    totals = [(i, t.posted_credits, t.posted_debits, t.pending_credits, t.pending_debits,
               accounts[i].version) for i, t in after.items()]  # fmt: skip
    head = (entries[-1][0], entries[-1][6])  # the last entry's seq and hash
    txn_id = yield Append(txn=txn, entries=entries, accounts=totals, head=head)
    made = Txn(int(txn_id), kind, decided.reverses_id, decided.resolves_id, decided.ref_type,
               decided.ref_id, now)  # fmt: skip
    return Posted(made, created=True)


@dataclass(frozen=True)
class AccountSpec:
    """Which account: a member's wallet, or a community's system account of ``kind``."""

    kind: AccountKind
    community_id: int | None = None
    member_id: int | None = None
    floor: int | None = 0  # for a new account
    cap: int | None = None  # for a new account


def find_account(spec: AccountSpec) -> Steps[int | None]:
    """The id of the account ``spec`` names, or None when it is not opened yet."""
    if spec.member_id is not None:
        rows = yield Query(
            "SELECT id FROM ledger_account WHERE member_id = ? AND kind = ?",
            (spec.member_id, spec.kind.value),
            stable=True,
        )
    else:
        rows = yield Query(
            "SELECT id FROM ledger_account"
            " WHERE community_id = ? AND kind = ? AND member_id IS NULL",
            (spec.community_id, spec.kind.value),
            stable=True,
        )
    return int(rows[0][0]) if rows else None


def open_account(spec: AccountSpec) -> Steps[int]:
    """The id of the account ``spec`` names, opening it if missing.

    Runs under the ledger lock, so two writers cannot both open the same account.
    """
    found = yield from find_account(spec)
    if found is not None:
        return found
    community_id = spec.community_id
    if spec.member_id is not None:
        community_id = yield from member_community(spec.member_id)
    created = yield Query(
        "INSERT INTO ledger_account (kind, community_id, member_id, floor, cap, posted_credits,"
        " posted_debits, pending_credits, pending_debits, version, created_at)"
        " VALUES (?, ?, ?, ?, ?, 0, 0, 0, 0, 0, ?) RETURNING id",
        (spec.kind.value, community_id, spec.member_id, spec.floor, spec.cap, datetime.now(UTC)),
    )
    return int(created[0][0])


def member_community(member_id: int) -> Steps[int]:
    """The community of a member, or a 404."""
    rows = yield Query("SELECT community_id FROM member WHERE id = ?", (member_id,))
    if not rows:
        raise NotFound(
            f"There is no member number {member_id}.",
            f"找不到编号为 {member_id} 的成员。",
            code="member_not_found",
        )
    return int(rows[0][0])
