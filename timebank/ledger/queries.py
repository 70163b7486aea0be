"""Reading the ledger: balances, statements, accounts, transactions, checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from timebank import db, inputs
from timebank.errors import Invalid, NotFound
from timebank.ledger.models import (
    AccountKind,
    ChainHead,
    Checkpoint,
    Entry,
    LedgerTxn,
    Phase,
    TxnKind,
)


@dataclass(frozen=True)
class Balance:
    """An account's balances in minutes, read from its cached totals."""

    account_id: int
    posted: int
    pending_debits: int
    pending_credits: int
    available: int
    floor: int | None
    cap: int | None

    def as_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "account": self.account_id,
            "posted_minutes": self.posted,
            "pending_debit_minutes": self.pending_debits,
            "pending_credit_minutes": self.pending_credits,
            "available_minutes": self.available,
            "floor_minutes": self.floor,
            "cap_minutes": self.cap,
        }


# Reading --------------------------------------------------------------------------------


async def balance(account_id: int) -> Balance:
    """The account's balances from its cached totals: one row, however long the history."""
    rows = await db.fetch(
        "SELECT posted_credits, posted_debits, pending_credits, pending_debits, floor, cap"
        " FROM ledger_account WHERE id = ?",
        account_id,
    )
    if not rows:
        raise NotFound(
            f"There is no account number {account_id}.",
            f"找不到编号为 {account_id} 的账户。",
            code="account_not_found",
        )
    row = rows[0]
    posted = int(row["posted_credits"]) - int(row["posted_debits"])
    held = int(row["pending_debits"])
    return Balance(
        account_id=account_id,
        posted=posted,
        pending_debits=held,
        pending_credits=int(row["pending_credits"]),
        available=posted - held,
        floor=row["floor"],
        cap=row["cap"],
    )


async def create_checkpoint(*, actor_id: int | None, note: str = "") -> Checkpoint:
    """Record the current chain head so that it can be printed or published."""
    head = await ChainHead.get(id=1)
    return await Checkpoint.create(
        seq=head.seq, hash=head.hash, created_by_id=actor_id, note=(note or "").strip()[:200]
    )


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint as exported: enough to check the chain against it later."""
    return {
        "ledger": "timebank",
        "seq": int(checkpoint.seq),
        "hash": checkpoint.hash,
        "created_at": checkpoint.created_at.isoformat(),
        "note": checkpoint.note,
    }


@dataclass(frozen=True)
class StatementLine:
    """One movement on an account, as a passbook shows it."""

    seq: int
    txn_id: int
    kind: TxnKind
    phase: Phase
    amount: int
    balance_after: int
    reason: str
    ref_type: str
    ref_id: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "seq": self.seq,
            "transaction": self.txn_id,
            "kind": self.kind.value,
            "phase": self.phase.value,
            "amount_minutes": self.amount,
            "available_after_minutes": self.balance_after,
            "reason": self.reason,
            "ref": {"type": self.ref_type, "id": self.ref_id} if self.ref_type else None,
            "at": self.at.isoformat(),
        }


MAX_PAGE = 500


async def statement(
    *,
    account_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int = 0,
    before_seq: int | None = None,
    newest_first: bool = False,
    limit: int = 50,
) -> list[StatementLine]:
    """Movements on an account in seq order, from ``since`` up to (not including) ``until``.

    Paged by ``after_seq`` (the last seq of the previous page) or, newest first, by
    ``before_seq`` (the oldest seq of the previous page): keyset paging stays fast however
    long the history.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(
            f"limit must be between 1 and {MAX_PAGE}.",
            f"每页条数必须在 1 到 {MAX_PAGE} 之间。",
            code="invalid_limit",
        )
    if since is not None and until is not None and until <= since:
        raise Invalid(
            "The end of the period must come after its start.",
            "结束时间必须晚于开始时间。",
            code="invalid_period",
        )
    await balance(account_id)  # a 404 for an unknown account
    query = (
        "SELECT e.seq, e.txn_id, t.kind, e.phase, e.amount, e.balance_after, t.reason,"
        " t.ref_type, t.ref_id, t.created_at FROM ledger_entry e"
        " JOIN ledger_txn t ON t.id = e.txn_id WHERE e.account_id = ? AND e.seq > ?"
    )
    params: list[Any] = [account_id, after_seq]
    if before_seq is not None:
        query += " AND e.seq < ?"
        params.append(before_seq)
    for bound, op in ((since, ">="), (until, "<")):
        if bound is not None:
            if bound.tzinfo is None:
                raise Invalid("Times need a time zone.", "时间必须带时区。", code="naive_time")
            query += f" AND t.created_at {op} ?"
            params.append(bound.astimezone(UTC))
    order = " ORDER BY e.seq DESC LIMIT ?" if newest_first else " ORDER BY e.seq LIMIT ?"
    rows = await db.fetch(query + order, *params, limit)
    return [
        StatementLine(
            seq=int(r["seq"]),
            txn_id=int(r["txn_id"]),
            kind=TxnKind(r["kind"]),
            phase=Phase(r["phase"]),
            amount=int(r["amount"]),
            balance_after=int(r["balance_after"]),
            reason=r["reason"],
            ref_type=r["ref_type"],
            ref_id=r["ref_id"],
            at=db.stored_time(r["created_at"]),
        )
        for r in rows
    ]


PAGE = 50  # statement lines per page


def whole_param(
    value: str | None, name: str, default: int, *, low: int = 0, high: int = inputs.SEQ_MAX
) -> int:
    """A whole-number parameter within ``low..high`` (a 422 naming it), or ``default``."""
    if value in (None, ""):
        return default
    return inputs.whole_number(value, name, low=low, high=high)


def _moment(value: str | None, name: str) -> datetime | None:
    return inputs.parse_moment(value, name) if value else None


@dataclass(frozen=True)
class StatementPage:
    """One page of an account's movements and where the next page starts (None: no more).

    Newest first unless the query asked ``after`` (oldest first from there, for a client
    following new movements): ``next`` is then the ``after`` of the next page, otherwise
    its ``before``."""

    lines: list[StatementLine]
    newest_first: bool
    next: int | None
    first_page: bool

    def as_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "lines": [line.as_json() for line in self.lines],
            "order": "newest_first" if self.newest_first else "oldest_first",
            "next_before": self.next if self.newest_first else None,
            "next_after": None if self.newest_first else self.next,
        }


async def statement_asked(account_id: int, asked: Mapping[str, str]) -> StatementPage:
    """The page of statement lines a query string asks for (``before`` or ``after``,
    ``limit``, ``since``, ``until``), each checked (a 422 naming it)."""
    after, before = asked.get("after") or None, asked.get("before") or None
    if after is not None and before is not None:
        raise Invalid(
            "Give either after or before, not both.",
            "翻页时只能给出 after 或 before 其中一个。",
            code="invalid_paging",
        )
    newest_first = after is None

    async def lines(after_seq: int, before_seq: int | None, limit: int) -> list[StatementLine]:
        return await statement(
            account_id=account_id,
            since=_moment(asked.get("since"), "since"),
            until=_moment(asked.get("until"), "until"),
            after_seq=after_seq,
            before_seq=before_seq,
            newest_first=newest_first,
            limit=limit,
        )

    limit = whole_param(asked.get("limit"), "limit", PAGE, low=-inputs.SEQ_MAX)
    first = whole_param(after, "after", 0)
    last = None if before is None else whole_param(before, "before", 0, low=1)
    found = await lines(first, last, limit)
    following = None
    if len(found) == limit:
        edge = found[-1].seq
        more = await (lines(first, edge, 1) if newest_first else lines(edge, last, 1))
        following = edge if more else None
    return StatementPage(found, newest_first, following, after is None and before is None)


@dataclass(frozen=True)
class AccountView:
    """An account with whose it is, for pages and the API."""

    id: int
    kind: AccountKind
    community_id: int
    member_id: int | None
    member_name: str
    member_no: str
    balance: Balance

    def as_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "community": self.community_id,
            "member": self.member_id,
            "member_name": self.member_name,
            "member_no": self.member_no,
            "balance": self.balance.as_json(),
        }


ACCOUNT_VIEW = (
    "SELECT a.id, a.kind, a.community_id, a.member_id, COALESCE(m.name, '') AS name,"
    " COALESCE(m.member_no, '') AS member_no FROM ledger_account a"
    " LEFT JOIN member m ON m.id = a.member_id"
)


async def _views(rows: list[dict[str, Any]]) -> list[AccountView]:
    return [
        AccountView(
            int(r["id"]),
            AccountKind(r["kind"]),
            int(r["community_id"]),
            r["member_id"],
            r["name"],
            r["member_no"],
            await balance(int(r["id"])),
        )
        for r in rows
    ]


async def account(account_id: int) -> AccountView:
    """One account with its owner and balance, or a 404."""
    rows = await db.fetch(ACCOUNT_VIEW + " WHERE a.id = ?", account_id)
    if not rows:
        raise NotFound(
            f"There is no account number {account_id}.",
            f"找不到编号为 {account_id} 的账户。",
            code="account_not_found",
        )
    return (await _views(rows))[0]


async def accounts(*, communities: set[int] | None, limit: int = 500) -> list[AccountView]:
    """The accounts of ``communities`` (None: all), wallets first, by member number."""
    query, params = ACCOUNT_VIEW, []
    if communities is not None:
        if not communities:
            return []
        query += f" WHERE a.community_id IN ({', '.join('?' * len(communities))})"
        params = sorted(communities)
    query += " ORDER BY a.community_id, a.member_id IS NULL, m.member_no, a.id LIMIT ?"
    return await _views(await db.fetch(query, *params, limit))


async def transaction(txn_id: int) -> tuple[LedgerTxn, list[Entry]]:
    """A transaction and its entries, or a 404."""
    txn = await db.get_or_404(LedgerTxn, txn_id, "transaction", "交易", "txn_not_found")
    return txn, await Entry.filter(txn_id=txn_id).order_by("seq")


async def checkpoints() -> list[Checkpoint]:
    """Every recorded checkpoint, newest first."""
    return await Checkpoint.all().order_by("-id")
