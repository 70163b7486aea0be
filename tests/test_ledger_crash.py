"""A writer killed with SIGKILL mid-stream loses nothing it acknowledged, breaks nothing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import clean_env, make_community, make_member
from timebank.ledger.models import LedgerTxn
from timebank.ledger.verify import verify

pytestmark = pytest.mark.slow

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from timebank import db
    from timebank.ledger import service as ledger

    async def main(url, helper, community, prefix):
        await db.open_db(url)
        n = 0
        while True:
            n += 1
            key = f"{prefix}-{n}"
            if n % 3 == 0:
                await ledger.redeem(member_id=helper, minutes=5, key=key, actor_id=None)
            else:
                await ledger.credit_service(helper_id=helper, community_id=community,
                                            minutes=10, visit_id=key, key=key)
            print(key, flush=True)  # acknowledged: the commit returned

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
    """
)


async def test_sigkill_at_random_points(orm: None, db_url: str, tmp_path: Path) -> None:
    community = await make_community()
    helper = await make_member(community, "helper")
    rng = random.Random(20261122)
    acknowledged: list[str] = []
    env = clean_env(TIMEBANK_DATA_DIR=str(tmp_path / "w"))
    for round_ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, str(helper.id), str(community.id), f"r{round_}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        acknowledged.append(proc.stdout.readline().strip())  # it is writing now
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        acknowledged += out.split()
        report = await verify()
        assert report.ok, f"round {round_}: seq {report.broken_seq}: {report.reason}"
    keys = set(await LedgerTxn.all().values_list("idempotency_key", flat=True))
    missing = [k for k in acknowledged if k not in keys]
    assert missing == []
    assert len(acknowledged) > 10
