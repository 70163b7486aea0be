"""Someone with the database edits history: `timebank verify` names where."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections

from tests.conftest import clean_env, make_community, make_member
from timebank.ledger import service as ledger
from timebank.ledger.service import checkpoint_json, create_checkpoint
from timebank.ledger.verify import verify

pytestmark = pytest.mark.slow


async def drop_guards(db_url: str) -> None:
    conn = connections.get("default")
    for table in ("ledger_txn", "ledger_entry", "ledger_checkpoint"):
        if db_url.startswith("postgres"):
            await conn.execute_script(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            for op in ("update", "delete"):
                await conn.execute_script(f"DROP TRIGGER {table}_no_{op}")


async def tamper(db_url: str, sql: str) -> None:
    """Change the ledger behind the service's back: its guards dropped, ``sql`` run."""
    await drop_guards(db_url)
    await connections.get("default").execute_script(sql)


def run_verify(db_url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(TIMEBANK_DB_URL=db_url, TIMEBANK_DATA_DIR=str(tmp_path / "cli"))
    return subprocess.run(
        [sys.executable, "-m", "timebank", "verify", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
async def history(orm: None) -> dict[str, Any]:
    """Three transactions: seq 1-2, 3-4, 5-6."""
    community = await make_community()
    helper = await make_member(community, "helper")
    for n in range(3):
        await ledger.credit_service(
            helper_id=helper.id, community_id=community.id, minutes=30 + n, visit_id=n, key=f"k{n}"
        )
    return {"community": community, "helper": helper}


async def test_intact_ledger_verifies(history: dict[str, Any], db_url: str, tmp_path: Path) -> None:
    result = run_verify(db_url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ledger intact" in result.stdout and "6 entries" in result.stdout


@pytest.mark.parametrize(
    ("change", "seq", "said"),
    [
        ("UPDATE ledger_entry SET amount = 310 WHERE seq = 4", "seq 4", "hash does not match"),
        ("UPDATE ledger_txn SET ref_id = '99' WHERE idempotency_key = 'k1'", "seq 3", "altered"),
    ],
    ids=["amount", "transaction"],
)
async def test_an_altered_row_is_named(
    history: dict[str, Any], db_url: str, tmp_path: Path, change: str, seq: str, said: str
) -> None:
    await tamper(db_url, change)
    result = run_verify(db_url, tmp_path)
    assert result.returncode == 1
    assert seq in result.stdout and said in result.stdout


async def test_altered_cached_totals_are_caught(
    history: dict[str, Any], db_url: str, tmp_path: Path
) -> None:
    await connections.get("default").execute_script(
        "UPDATE ledger_account SET posted_credits = posted_credits + 600 WHERE kind = 'wallet'"
    )
    result = run_verify(db_url, tmp_path, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert not report["ok"] and "cached totals" in report["reason"]


async def test_deleted_tail_is_caught_by_checkpoints(
    history: dict[str, Any], db_url: str, tmp_path: Path
) -> None:
    exported = tmp_path / "checkpoint.json"
    exported.write_text(json.dumps(checkpoint_json(await create_checkpoint(actor_id=None))))
    await drop_guards(db_url)
    conn = connections.get("default")
    # Remove the last transaction and make the head agree: the chain itself is consistent.
    rows = await conn.execute_query_dict("SELECT hash FROM ledger_entry WHERE seq = 4")
    await conn.execute_script("DELETE FROM ledger_entry WHERE seq > 4")
    await conn.execute_script("DELETE FROM ledger_txn WHERE idempotency_key = 'k2'")
    await conn.execute_script(
        f"UPDATE ledger_head SET seq = 4, hash = '{rows[0]['hash']}' WHERE id = 1"
    )
    await conn.execute_script("UPDATE ledger_account SET posted_credits = 61 WHERE kind = 'wallet'")
    await conn.execute_script(
        "UPDATE ledger_account SET posted_debits = 61 WHERE kind = 'issuance'"
    )
    recorded = run_verify(db_url, tmp_path)
    assert recorded.returncode == 1
    assert "seq 5" in recorded.stdout and "entries were removed" in recorded.stdout
    # Deleting the recorded checkpoint too still leaves the one kept outside.
    await conn.execute_script("DELETE FROM ledger_checkpoint")
    assert run_verify(db_url, tmp_path).returncode == 0  # nothing inside can tell
    external = run_verify(db_url, tmp_path, "--checkpoint", str(exported))
    assert external.returncode == 1
    assert "external" in external.stdout and "entries were removed" in external.stdout


def test_unreadable_checkpoint_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    env = clean_env(TIMEBANK_DATA_DIR=str(tmp_path / "var"))
    result = subprocess.run(
        [sys.executable, "-m", "timebank", "verify", "--checkpoint", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and "not a checkpoint file" in result.stderr
    assert os.path.exists(bad)


@pytest.mark.parametrize("worker_from", [0, 10**9], ids=["worker process", "in process"])
async def test_transactions_are_checked_in_a_worker_or_in_process(
    history: dict[str, Any], db_url: str, worker_from: int
) -> None:
    # Large ledgers check their transactions in a second process (timebank.ledger.txncheck);
    # both ways must find the same things and name the same seq.
    assert (await verify(worker_from=worker_from)).ok
    await drop_guards(db_url)
    conn = connections.get("default")
    await conn.execute_script("UPDATE ledger_txn SET reason = 'x' WHERE idempotency_key = 'k2'")
    report = await verify(worker_from=worker_from)
    assert not report.ok and report.broken_seq == 5 and "altered" in report.reason
    # A broken entry earlier in the chain is the first thing wrong.
    await conn.execute_script("UPDATE ledger_entry SET amount = 99 WHERE seq = 2")
    report = await verify(worker_from=worker_from)
    assert not report.ok and report.broken_seq == 2 and "hash does not match" in report.reason
