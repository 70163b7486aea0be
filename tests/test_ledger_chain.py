"""The hand-formatted canonical JSON is byte for byte what json.dumps gives."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from timebank.ledger import chain, txncheck
from timebank.ledger.hours import format_minutes
from timebank.ledger.models import Phase

ids = st.none() | st.integers(min_value=1, max_value=2**40)
text = st.text(max_size=40)
# A transaction's fields that go into its digest, besides its time.
TXN_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "kind": text,
    "actor_id": ids,
    "on_behalf_of_id": ids,
    "reason": text,
    "ref_type": text,
    "ref_id": text,
    "idempotency_key": text,
    "request_hash": text,
    "reverses_id": ids,
    "resolves_id": ids,
}


@given(
    **TXN_FIELDS,
    created_us=st.integers(min_value=0, max_value=2**62),
)
def test_transaction_digest_is_canonical(**fields: object) -> None:
    expected = hashlib.sha256(chain.canonical_txn(**fields)).hexdigest()
    assert chain.txn_digest(**fields) == expected  # type: ignore[arg-type]


@given(
    seq=st.integers(min_value=1, max_value=2**50),
    account=st.integers(min_value=1, max_value=2**31),
    amount=st.integers(min_value=-(2**40), max_value=2**40),
    balance=st.integers(min_value=-(2**40), max_value=2**40),
    phase=st.sampled_from([p.value for p in Phase]),
)
def test_entry_hash_is_canonical(
    seq: int, account: int, amount: int, balance: int, phase: str
) -> None:
    fast = chain.entry_hash(
        prev_hash="a" * 64,
        seq=seq,
        txn_digest="b" * 64,
        account_id=account,
        amount=amount,
        phase=phase,
        balance_after=balance,
    )
    body = chain.canonical(
        {
            "seq": seq,
            "txn": "b" * 64,
            "account": account,
            "amount": amount,
            "phase": phase,
            "balance_after": balance,
        }
    )
    assert fast == hashlib.sha256(b"a" * 64 + b"\n" + body).hexdigest()


def test_hours_display() -> None:
    assert format_minutes(150, "en") == "2.5 h"
    assert format_minutes(150, "zh-CN") == "2小时30分"
    assert format_minutes(60, "zh-CN") == "1小时"
    assert format_minutes(20, "zh-CN") == "20分"
    assert format_minutes(-90, "en") == "-1.5 h"


@given(
    **TXN_FIELDS,
    created=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    ),
    as_text=st.booleans(),
)
def test_verify_recomputes_the_same_transaction_digest(
    created: datetime, as_text: bool, **fields: Any
) -> None:
    # verify's own copy of txn_digest, over a row as each database returns it (SQLite: text,
    # with or without a fraction of a second; PostgreSQL: a datetime).
    row = (
        1,
        fields["kind"],
        fields["actor_id"],
        fields["on_behalf_of_id"],
        fields["reason"],
        fields["ref_type"],
        fields["ref_id"],
        fields["idempotency_key"],
        fields["request_hash"],
        fields["reverses_id"],
        fields["resolves_id"],
        "",
        created.isoformat(sep=" ") if as_text else created,
    )
    expected = chain.txn_digest(**fields, created_us=chain.micros(created))
    assert txncheck.txn_digest(row) == expected
