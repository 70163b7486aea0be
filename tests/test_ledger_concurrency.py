"""Many processes and tasks writing the ledger at once, on both databases."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import clean_env, make_community, make_member
from timebank.ledger import service as ledger
from timebank.ledger.models import Account, LedgerTxn
from timebank.ledger.verify import verify

pytestmark = pytest.mark.slow
PROCESSES = 4
TASKS = 16  # per process: 64 in all

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from timebank import db
    from timebank.errors import TimebankError
    from timebank.ledger import service as ledger

    async def one(member, key):
        try:
            posted = await ledger.redeem(member_id=member, minutes=10, key=key, actor_id=None)
            return {"ok": posted.txn.id, "created": posted.created}
        except TimebankError as exc:
            return {"refused": exc.code}
        except Exception as exc:
            return {"error": repr(exc)}

    async def main(url, member, prefix, same_key):
        await db.open_db(url)
        try:
            keys = [same_key or f"{prefix}-{i}" for i in range(int(sys.argv[5]))]
            results = await asyncio.gather(*(one(member, k) for k in keys))
        finally:
            await db.close_db()
        print(json.dumps(results))

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    """
)


def race(db_url: str, tmp_path: Path, member_id: int, same_key: str = "") -> list[dict[str, Any]]:
    """Start the worker processes together; every result of every task."""
    env = clean_env(TIMEBANK_DATA_DIR=str(tmp_path / "w"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db_url, str(member_id), f"p{n}", same_key, str(TASKS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(PROCESSES)
    ]
    results: list[dict[str, Any]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "database is locked" not in err
        results += json.loads(out)
    return results


async def test_64_redemptions_drain_one_wallet(orm: None, db_url: str, tmp_path: Path) -> None:
    community = await make_community()
    helper = await make_member(community, "helper")
    await ledger.credit_service(
        helper_id=helper.id, community_id=community.id, minutes=400, visit_id=1, key="fill"
    )
    results = race(db_url, tmp_path, helper.id)
    assert len(results) == PROCESSES * TASKS
    assert not [r for r in results if "error" in r]
    assert sum(1 for r in results if "ok" in r) == 40
    assert {r["refused"] for r in results if "refused" in r} == {"insufficient_hours"}
    wallet = await ledger.wallet(helper.id)
    assert (await ledger.balance(wallet.id)).available == 0
    accounts = await Account.all()
    assert sum(a.posted_balance for a in accounts) == 0  # hours conserved
    report = await verify()
    assert report.ok, report.reason
    assert report.entries == 2 + 40 * 2


async def test_racing_one_idempotency_key_makes_one_transaction(
    orm: None, db_url: str, tmp_path: Path
) -> None:
    community = await make_community()
    helper = await make_member(community, "helper")
    await ledger.credit_service(
        helper_id=helper.id, community_id=community.id, minutes=400, visit_id=1, key="fill"
    )
    results = race(db_url, tmp_path, helper.id, same_key="the-one-key")
    assert not [r for r in results if "error" in r or "refused" in r]
    assert len({r["ok"] for r in results}) == 1
    assert sum(1 for r in results if r["created"]) == 1
    assert await LedgerTxn.filter(idempotency_key="the-one-key").count() == 1
    assert (await ledger.balance((await ledger.wallet(helper.id)).id)).available == 390
    assert (await verify()).ok
