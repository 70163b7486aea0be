"""The ledger's rules as plain values and functions: legs, totals, floors, caps, keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from timebank.errors import Conflict, Invalid
from timebank.ledger.hours import format_minutes
from timebank.ledger.models import AccountKind, Phase, TxnKind

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
class Txn:
    """A ledger transaction as the service returns it."""

    id: int
    kind: TxnKind
    reverses_id: int | None
    resolves_id: int | None
    ref_type: str
    ref_id: str
    created_at: datetime


@dataclass(frozen=True)
class Posted:
    """The result of a write: the transaction, and whether this call created it."""

    txn: Txn
    created: bool


@dataclass
class Totals:
    """An account's cached totals while a transaction is being applied."""

    posted_credits: int
    posted_debits: int
    pending_credits: int
    pending_debits: int

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

    def copy(self) -> Totals:
        """An independent copy."""
        return Totals(
            self.posted_credits, self.posted_debits, self.pending_credits, self.pending_debits
        )


@dataclass(frozen=True)
class AccountState:
    """An account row as locked for a write."""

    id: int
    kind: str
    floor: int | None
    cap: int | None
    version: int
    totals: Totals

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> AccountState:
        """From ``id, kind, floor, cap, version`` and the four totals."""
        id_, kind, floor, cap, version, pc, pd, prc, prd = row
        return cls(
            int(id_),
            str(kind),
            None if floor is None else int(floor),
            None if cap is None else int(cap),
            int(version),
            Totals(int(pc), int(pd), int(prc), int(prd)),
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


def actor_key(actor_id: int | None, key: str, *, limit: int = MAX_KEY) -> str:
    """A client's idempotency key, scoped to the member who sent it: the one rule for keys
    sent by people (ledger reversals, grants, redemptions, donations). Another member who
    sends the same key makes their own request and never gets the first one's answer back.
    ``<actor>:<key>``, or ``<actor>:sha256:<digest>`` when that would exceed ``limit``."""
    scoped = f"{actor_id or 0}:{key}"
    if len(scoped) <= limit:
        return scoped
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{actor_id or 0}:sha256:{digest}"


def check_balanced(legs: list[Leg]) -> None:
    """Every transaction has two sides and sums to zero in each phase."""
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


def check_limits(account: AccountState, after: Totals) -> None:
    """Refuse a change that takes ``account`` below its floor or above its cap."""
    # Only a change that makes things worse is refused: an account already past its floor
    # or cap (after a settings change) can still move back towards it.
    before = account.totals
    spent = after.available < before.available
    if account.floor is not None and spent and after.available < account.floor:
        refuse_floor(account.id, account.kind, account.floor, before.available)
    grew = after.posted_balance > before.posted_balance
    if account.cap is not None and grew and after.posted_balance > account.cap:
        refuse_cap(account.id, account.cap)


def refuse_cap(account_id: int, cap: int) -> None:
    """The error for a balance that would pass its cap."""
    raise Conflict(
        f"This would take the balance above its cap of {format_minutes(cap, 'en')}.",
        f"超出时间余额上限 {format_minutes(cap, 'zh-CN')}。",
        code="balance_cap",
        details={"account": account_id, "cap_minutes": cap},
    )


def refuse_floor(account_id: int, kind: str, floor: int, available: int) -> None:
    """The error for a spend below the account's floor (or the fund's budget)."""
    room = available - floor
    details = {"account": account_id, "available_minutes": room}
    if kind == AccountKind.ISSUANCE:
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


MAX_MINUTES = 1_000_000  # ~ 16,000 hours: far above any single movement


def check_minutes(minutes: int) -> int:
    """``minutes`` when it is a whole number of minutes the ledger may move, else a 400."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= MAX_MINUTES:
        raise Invalid(
            f"The amount must be a whole number of minutes between 1 and {MAX_MINUTES}.",
            f"时长必须是 1 到 {MAX_MINUTES} 之间的整数分钟。",
            code="invalid_minutes",
        )
    return minutes


def check_reason(reason: str, *, required: bool = False) -> str:
    """The reason given for a movement, trimmed; a 400 when missing (if required) or too long."""
    reason = (reason or "").strip()
    if required and not reason:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    if len(reason) > 500:
        raise Invalid(
            "The reason is too long (500 characters at most).",
            "原因过长（最多 500 字）。",
            code="reason_too_long",
        )
    return reason
