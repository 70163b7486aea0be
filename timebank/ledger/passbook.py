"""The printed statement (passbook) and the QR at its foot that proves it.

The paper passbooks of the first time banks could be altered with a pen. A printed
statement here ends with a QR holding a signed summary - the account, the last entry
printed, how many entries, the balance after it, and a SHA-256 over those entries' chain
hashes. A coordinator scans it; the service recomputes the summary from the ledger and
says whether the paper matches, and what the ledger holds. A changed line or balance on
paper cannot be hidden: the QR carries the true figures and cannot be re-signed without
the service's key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from timebank import db
from timebank.errors import Forbidden
from timebank.ledger import service as ledger
from timebank.ledger.queries import AccountView, StatementLine

SALT = "timebank.statement.v1"
MAX_LINES = 5000  # lines on a printed statement (about 20 years of weekly visits)


@dataclass(frozen=True)
class Summary:
    """What a statement's QR proves."""

    account_id: int
    through_seq: int
    count: int
    balance: int
    digest: str

    def as_list(self) -> list[Any]:
        return [self.account_id, self.through_seq, self.count, self.balance, self.digest]


@dataclass(frozen=True)
class Printed:
    """What a statement prints: the latest movements, and what came before them."""

    lines: list[StatementLine]  # oldest first
    earlier: int  # movements before the first line, not printed
    brought_forward: int  # the balance after them (承前余额)


async def lines_of(account_id: int) -> Printed:
    """The account's latest ``MAX_LINES`` movements, oldest first; a longer history (a
    community fund's, or decades of weekly visits) starts with the balance brought forward.
    The QR still proves every entry up to the last line printed."""
    most = MAX_LINES
    before = await db.fetch(
        "SELECT seq, balance_after FROM ledger_entry WHERE account_id = ?"
        " ORDER BY seq DESC LIMIT 1 OFFSET ?",
        account_id,
        most,
    )
    after, earlier, forward = 0, 0, 0
    if before:
        after, forward = int(before[0]["seq"]), int(before[0]["balance_after"])
        (row,) = await db.fetch(
            "SELECT COUNT(*) AS n FROM ledger_entry WHERE account_id = ? AND seq <= ?",
            account_id,
            after,
        )
        earlier = int(row["n"])
    lines: list[StatementLine] = []
    while len(lines) < most:
        page = await ledger.statement(account_id=account_id, after_seq=after, limit=500)
        lines.extend(page)
        if len(page) < 500:
            break
        after = page[-1].seq
    return Printed(lines[:most], earlier, forward)


async def summary(account_id: int, through_seq: int) -> Summary:
    """The summary of an account's entries up to ``through_seq``, from the ledger."""
    rows = await db.fetch(
        "SELECT seq, hash, balance_after FROM ledger_entry WHERE account_id = ? AND seq <= ?"
        " ORDER BY seq",
        account_id,
        through_seq,
    )
    digest = hashlib.sha256("".join(str(r["hash"]) for r in rows).encode()).hexdigest()
    balance = int(rows[-1]["balance_after"]) if rows else 0
    last = int(rows[-1]["seq"]) if rows else 0
    return Summary(account_id, last, len(rows), balance, digest)


def sign(secret: str, found: Summary) -> str:
    """The token the statement's QR carries."""
    return str(URLSafeSerializer(secret, salt=SALT).dumps(found.as_list()))


def read(secret: str, token: str) -> Summary:
    """The summary a token carries, or a 403 when it is not one of ours or was altered."""
    try:
        value = URLSafeSerializer(secret, salt=SALT).loads(token)
        account_id, through, count, balance, digest = value
        return Summary(int(account_id), int(through), int(count), int(balance), str(digest))
    except (BadSignature, TypeError, ValueError):
        raise Forbidden(
            "This is not a statement code of this time bank, or it was altered.",
            "这不是本时间银行的账单二维码，或已被篡改。",
            code="bad_statement",
        ) from None


@dataclass(frozen=True)
class Check:
    """A scanned statement against the ledger."""

    printed: Summary
    ledger: Summary
    current_balance: int

    @property
    def matches(self) -> bool:
        return self.printed == self.ledger


async def check(secret: str, token: str) -> Check:
    """Compare a scanned statement with the ledger as it is now."""
    printed = read(secret, token)
    now = await summary(printed.account_id, printed.through_seq)
    balance = await ledger.balance(printed.account_id)
    return Check(printed, now, balance.available)


def check_json(found: Check, view: AccountView) -> dict[str, Any]:
    """What the API answers on a scanned statement."""
    return {
        "matches": found.matches,
        "account": view.id,
        "member": view.member_id,
        "member_name": view.member_name,
        "printed": {
            "through_seq": found.printed.through_seq,
            "count": found.printed.count,
            "balance_minutes": found.printed.balance,
        },
        "ledger": {
            "through_seq": found.ledger.through_seq,
            "count": found.ledger.count,
            "balance_minutes": found.ledger.balance,
        },
        "available_now_minutes": found.current_balance,
    }
