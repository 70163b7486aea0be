"""Write a large, valid ledger straight into the tables (benchmarks only).

Going through the service would take an hour for a million entries; this computes the same
digests and hash links with the same functions (``timebank.ledger.chain``) and bulk-inserts
them, so that ``verify`` accepts the result. The product itself never writes this way.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections

from bench.district_data import bulk_insert
from timebank.db import sql as numbered
from timebank.ledger import chain
from timebank.ledger import service as ledger
from timebank.ledger.models import AccountKind, Phase
from timebank.ledger.rules import Totals


async def fill(entries: int, *, wallets: int = 1000, seed: int = 1) -> list[int]:
    """Append ``entries`` (even) entries of service credits; returns the wallet ids.

    A bulk writer: one pass over the rows, in the order the tables need them; kept in one
    piece so the generated data reads as one story.
    """
    from tests.conftest import make_community, make_member

    community = await make_community(f"基准社区{seed}")
    fund = await ledger.community_account(community.id, AccountKind.ISSUANCE)
    members = [await make_member(community, "helper") for _ in range(wallets)]
    ids = [(await ledger.wallet(m.id)).id for m in members]
    rng = random.Random(seed)
    conn = connections.get("default")
    head = (await conn.execute_query_dict("SELECT seq, hash FROM ledger_head WHERE id = 1"))[0]
    last = await conn.execute_query_dict("SELECT COALESCE(MAX(id), 0) AS n FROM ledger_txn")
    next_txn = last[0]["n"]
    seq, prev = int(head["seq"]), head["hash"]
    totals = {i: Totals(0, 0, 0, 0) for i in [fund.id, *ids]}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    txns: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    sqlite = conn.capabilities.dialect == "sqlite"
    for n in range(entries // 2):
        txn_id = int(next_txn) + n + 1
        wallet, amount = ids[n % wallets], rng.randint(30, 120)
        key = f"bench-{seed}-{n}"
        at = start + timedelta(seconds=n)
        request = chain.request_hash({"kind": "service_credit", "n": n})
        digest = chain.txn_digest(
            kind="service_credit",
            actor_id=None,
            on_behalf_of_id=None,
            reason="",
            ref_type="visit",
            ref_id=str(n),
            idempotency_key=key,
            request_hash=request,
            reverses_id=None,
            resolves_id=None,
            created_us=chain.micros(at),
        )
        txns.append(
            (
                txn_id,
                "service_credit",
                "",
                "visit",
                str(n),
                key,
                request,
                digest,
                at.isoformat(sep=" ") if sqlite else at,
            )
        )
        for account, delta in ((fund.id, -amount), (wallet, amount)):
            seq += 1
            totals[account].apply(delta, Phase.POSTED)
            balance = totals[account].available
            link = chain.entry_hash(
                prev_hash=prev,
                seq=seq,
                txn_digest=digest,
                account_id=account,
                amount=delta,
                phase="posted",
                balance_after=balance,
            )
            rows.append((seq, txn_id, account, delta, "posted", balance, prev, link))
            prev = link
    await bulk_insert(conn, "ledger_txn", TXN_COLUMNS, txns)
    await bulk_insert(conn, "ledger_entry", ENTRY_COLUMNS, rows)
    for account, t in totals.items():
        await conn.execute_query(
            _q(
                conn,
                "UPDATE ledger_account SET posted_credits = posted_credits + ?,"
                " posted_debits = posted_debits + ? WHERE id = ?",
            ),
            [t.posted_credits, t.posted_debits, account],
        )
    await conn.execute_query(
        _q(conn, "UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1"), [seq, prev]
    )
    return ids


def _q(conn: Any, sql: str) -> str:
    return numbered(sql, conn)


TXN_COLUMNS = [
    "id",
    "kind",
    "reason",
    "ref_type",
    "ref_id",
    "idempotency_key",
    "request_hash",
    "digest",
    "created_at",
]
ENTRY_COLUMNS = [
    "seq",
    "txn_id",
    "account_id",
    "amount",
    "phase",
    "balance_after",
    "prev_hash",
    "hash",
]
