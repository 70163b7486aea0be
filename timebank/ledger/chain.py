"""The hash chain: canonical JSON of transactions and entries, and their SHA-256 digests.

An entry's hash covers the previous entry's hash and the digest of its transaction, so
changing any amount, account, phase, kind, reason, reference or time anywhere in the
ledger breaks every later link. Canonical: sorted keys, no whitespace, integers only (time
as integer microseconds since the Unix epoch, UTC).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from json.encoder import encode_basestring as _json_string
from typing import Any

GENESIS = "0" * 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """``moment`` as integer microseconds since the epoch (exact, no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    return (moment - EPOCH) // timedelta(microseconds=1)


def canonical(data: dict[str, Any]) -> bytes:
    """The one byte string that stands for ``data``."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _text(value: str) -> str:
    return str(_json_string(value))


def _int_or_null(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def txn_digest(
    *,
    kind: str,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    reason: str,
    ref_type: str,
    ref_id: str,
    idempotency_key: str,
    request_hash: str,
    reverses_id: int | None,
    resolves_id: int | None,
    created_us: int,
) -> str:
    """SHA-256 over every field of a transaction but its id (unknown until inserted)."""
    # Formatted by hand, keys in sorted order, strings escaped by json's own encoder: the
    # same bytes as canonical() (tests/test_ledger_chain.py checks), several times faster,
    # which matters when verify recomputes it for every transaction.
    body = (
        f'{{"actor":{_int_or_null(actor_id)},"at":{int(created_us)},'
        f'"key":{_text(idempotency_key)},"kind":{_text(kind)},'
        f'"on_behalf_of":{_int_or_null(on_behalf_of_id)},"reason":{_text(reason)},'
        f'"ref_id":{_text(ref_id)},"ref_type":{_text(ref_type)},'
        f'"request":{_text(request_hash)},"resolves":{_int_or_null(resolves_id)},'
        f'"reverses":{_int_or_null(reverses_id)}}}'
    )
    return sha256(body.encode()).hexdigest()


def canonical_txn(**fields: Any) -> bytes:
    """The slow, obviously canonical form of a transaction, for tests to compare against."""
    return canonical(
        {
            "kind": fields["kind"],
            "actor": fields["actor_id"],
            "on_behalf_of": fields["on_behalf_of_id"],
            "reason": fields["reason"],
            "ref_type": fields["ref_type"],
            "ref_id": fields["ref_id"],
            "key": fields["idempotency_key"],
            "request": fields["request_hash"],
            "reverses": fields["reverses_id"],
            "resolves": fields["resolves_id"],
            "at": fields["created_us"],
        }
    )


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    txn_digest: str,
    account_id: int,
    amount: int,
    phase: str,
    balance_after: int,
) -> str:
    """SHA-256 over the previous hash and the entry's canonical JSON."""
    # Formatted by hand because this runs once per entry when verifying millions of them:
    # every value is an integer or a plain ASCII word, so this is byte for byte what
    # canonical() gives (tests/test_ledger_chain.py checks that).
    body = (
        f'{{"account":{int(account_id)},"amount":{int(amount)},'
        f'"balance_after":{int(balance_after)},"phase":"{phase}","seq":{int(seq)},'
        f'"txn":"{txn_digest}"}}'
    )
    return sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def request_hash(request: dict[str, Any]) -> str:
    """The fingerprint of a ledger request, compared when its idempotency key repeats."""
    return hashlib.sha256(canonical(request)).hexdigest()
