"""The one place hours are written: a balanced transaction appended to the hash chain.

Every write runs in one database transaction that first takes the chain head (SQLite:
``BEGIN IMMEDIATE`` holds the write lock; PostgreSQL: ``SELECT … FOR UPDATE`` on the head
row, then on the accounts in id order). Holding the head serializes all ledger writes, which
a single gapless hash chain needs anyway, and makes the idempotency check, the balance
checks and the appends one atomic step. No task is spawned inside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from timebank.errors import Conflict, Invalid
from timebank.ledger import chain
from timebank.ledger.hours import format_minutes
from timebank.ledger.models import Account, AccountKind, ChainHead, Entry, LedgerTxn, Phase, TxnKind

MAX_KEY = 128


@dataclass(frozen=True)
class Leg:
    """One side of a transaction: ``amount`` minutes (signed) on an account."""

    account_id: int
    amount: int
    phase: Phase


@dataclass
class Plan:
    """What a transaction will write, decided while the ledger is locked."""

    legs: list[Leg]
    reverses_id: int | None = None
    resolves_id: int | None = None
    ref_type: str = ""
    ref_id: str = ""


@dataclass(frozen=True)
class Posted:
    """The result of a write: the transaction, and whether this call created it."""

    txn: LedgerTxn
    created: bool


@dataclass
class Totals:
    """An account's cached totals while a transaction is being applied."""

    posted_credits: int
    posted_debits: int
    pending_credits: int
    pending_debits: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def posted_balance(self) -> int:
        return self.posted_credits - self.posted_debits

    @property
    def available(self) -> int:
        return self.posted_balance - self.pending_debits

    def apply(self, amount: int, phase: Phase) -> None:
        """Add one leg to the totals."""
        if phase is Phase.POSTED:
            if amount > 0:
                self.posted_credits += amount
            else:
                self.posted_debits -= amount
        elif phase is Phase.PENDING:
            if amount < 0:
                self.pending_debits -= amount
            else:
                self.pending_credits += amount
        elif amount > 0:  # release of a hold on a debit
            self.pending_debits -= amount
        else:  # release of a pending credit
            self.pending_credits += amount


def totals_of(account: Account) -> Totals:
    """The cached totals of ``account`` as plain integers."""
    return Totals(
        int(account.posted_credits),
        int(account.posted_debits),
        int(account.pending_credits),
        int(account.pending_debits),
    )


def check_key(key: str) -> str:
    """A usable idempotency key, or a 422."""
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        raise Invalid(
            f"An idempotency key of 1 to {MAX_KEY} characters is required.",
            f"需要 1 到 {MAX_KEY} 个字符的幂等键（idempotency key）。",
            code="invalid_idempotency_key",
        )
    return key


def _check_balanced(legs: list[Leg]) -> None:
    if len(legs) < 2:
        raise Invalid(
            "A transaction needs two sides.", "一笔账至少需要借贷两方。", code="unbalanced"
        )
    for phase in Phase:
        if sum(leg.amount for leg in legs if leg.phase is phase) != 0:
            raise Invalid(
                "The transaction does not sum to zero.", "这笔账借贷不平。", code="unbalanced"
            )
    if any(leg.amount == 0 for leg in legs):
        raise Invalid("A leg of zero minutes.", "记账金额不能为零。", code="zero_amount")


def _check_limits(account: Account, before: Totals, after: Totals) -> None:
    # Only a leg that makes things worse is refused: an account already past its floor or
    # cap (after a settings change) can still move back towards it.
    spent = after.available < before.available
    if account.floor is not None and spent and after.available < account.floor:
        _refuse_floor(account, before)
    grew = after.posted_balance > before.posted_balance
    if account.cap is not None and grew and after.posted_balance > account.cap:
        raise Conflict(
            f"This would take the balance above its cap of "
            f"{format_minutes(int(account.cap), 'en')}.",
            f"超出时间余额上限 {format_minutes(int(account.cap), 'zh-CN')}。",
            code="balance_cap",
            details={"account": account.id, "cap_minutes": account.cap},
        )


def _refuse_floor(account: Account, before: Totals) -> None:
    room = before.available - int(account.floor or 0)
    details = {"account": account.id, "available_minutes": room}
    if account.kind is AccountKind.ISSUANCE:
        raise Conflict(
            f"The community fund's budget is used up: only {format_minutes(room, 'en')} left.",
            f"社区兜底预算不足：仅剩 {format_minutes(room, 'zh-CN')}。",
            code="budget_exhausted",
            details=details,
        )
    raise Conflict(
        f"Not enough hours: {format_minutes(room, 'en')} available.",
        f"时间余额不足：可用 {format_minutes(room, 'zh-CN')}。",
        code="insufficient_hours",
        details=details,
    )


async def write(
    *,
    kind: TxnKind,
    key: str,
    request: dict[str, Any],
    plan: Callable[[], Awaitable[Plan]],
    actor_id: int | None = None,
    on_behalf_of_id: int | None = None,
    reason: str = "",
) -> Posted:
    """Append one transaction; a repeated key with the same request returns the original."""
    check_key(key)
    fingerprint = chain.request_hash({"kind": kind.value, **request})
    async with in_transaction():
        head = await ChainHead.filter(id=1).select_for_update().get()
        existing = await LedgerTxn.get_or_none(idempotency_key=key)
        if existing is not None:
            if existing.request_hash != fingerprint:
                raise Conflict(
                    "This idempotency key was already used for a different request.",
                    "该幂等键已用于另一笔不同的请求。",
                    code="idempotency_key_reused",
                )
            return Posted(existing, created=False)
        decided = await plan()
        _check_balanced(decided.legs)
        txn = await _append(
            head, kind, key, fingerprint, decided, actor_id, on_behalf_of_id, reason
        )
    return Posted(txn, created=True)


async def _append(
    head: ChainHead,
    kind: TxnKind,
    key: str,
    fingerprint: str,
    decided: Plan,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    reason: str,
) -> LedgerTxn:
    ids = sorted({leg.account_id for leg in decided.legs})
    accounts = {
        a.id: a for a in await Account.filter(id__in=ids).order_by("id").select_for_update()
    }
    if len(accounts) != len(ids):
        raise Invalid("Unknown account.", "账户不存在。", code="unknown_account")
    before = {i: totals_of(a) for i, a in accounts.items()}
    after = {i: totals_of(a) for i, a in accounts.items()}
    balances: list[int] = []
    for leg in decided.legs:
        after[leg.account_id].apply(leg.amount, leg.phase)
        balances.append(after[leg.account_id].available)
    for account_id, account in accounts.items():
        _check_limits(account, before[account_id], after[account_id])

    now = datetime.now(UTC)
    digest = chain.txn_digest(
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
    txn = await LedgerTxn.create(
        kind=kind,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        reason=reason,
        ref_type=decided.ref_type,
        ref_id=decided.ref_id,
        idempotency_key=key,
        request_hash=fingerprint,
        reverses_id=decided.reverses_id,
        resolves_id=decided.resolves_id,
        digest=digest,
        created_at=now,
    )
    seq, prev = int(head.seq), head.hash
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
            Entry(
                seq=seq,
                txn_id=txn.id,
                account_id=leg.account_id,
                amount=leg.amount,
                phase=leg.phase,
                balance_after=balance_after,
                prev_hash=prev,
                hash=link,
            )
        )
        prev = link
    await Entry.bulk_create(entries)
    for account_id, account in accounts.items():
        new = after[account_id]
        updated = await Account.filter(id=account_id, version=account.version).update(
            posted_credits=new.posted_credits,
            posted_debits=new.posted_debits,
            pending_credits=new.pending_credits,
            pending_debits=new.pending_debits,
            version=account.version + 1,
        )
        if updated != 1:  # only possible if something bypassed the ledger lock
            raise Conflict("The account changed underneath.", "账户被同时修改。", code="stale")
    await ChainHead.filter(id=1).update(seq=seq, hash=prev)
    return txn
