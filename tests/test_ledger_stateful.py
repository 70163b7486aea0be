"""Random sequences of ledger operations against a plain in-memory model (Hypothesis).

After every step: each wallet's posted, held and available minutes equal the model's, all
posted balances sum to zero, and `verify` passes.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import make_community, make_member, pg_admin, pg_url_for
from timebank import db
from timebank.errors import TimebankError
from timebank.ledger import service as ledger
from timebank.ledger.models import Account
from timebank.ledger.verify import verify

pytestmark = pytest.mark.slow
MEMBERS = 3
amounts = st.integers(min_value=1, max_value=120)
who = st.integers(min_value=0, max_value=MEMBERS - 1)


def machine(
    open_database: Callable[[], Coroutine[Any, Any, str]],
    close_database: Callable[[str], Coroutine[Any, Any, None]],
) -> type:
    class Ledger(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.url = self.run(open_database())
            self.run(db.open_db(self.url))
            self.community = self.run(make_community())
            self.members = [self.run(make_member(self.community, "helper")) for _ in range(MEMBERS)]
            self.wallets = [self.run(ledger.wallet(m.id)).id for m in self.members]
            self.posted = [0] * MEMBERS
            self.held = [0] * MEMBERS
            self.holds: dict[int, tuple[int, int]] = {}  # open hold id -> (member, minutes)
            self.reversible: dict[int, list[tuple[int, int]]] = {}  # txn -> (member, delta)
            self.calls: dict[str, tuple[Any, Any]] = {}
            self.n = 0

        def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
            return self.loop.run_until_complete(coro)

        def key(self) -> str:
            self.n += 1
            return f"k{self.n}"

        def attempt(self, call: Coroutine[Any, Any, Any], ok: bool, code: str = "") -> Any:
            try:
                result = self.run(call)
            except TimebankError as exc:
                assert not ok, f"refused unexpectedly: {exc.code} {exc.en}"
                assert exc.code == code, exc.code
                return None
            assert ok, f"accepted, model expected {code}"
            return result

        def available(self, m: int) -> int:
            return self.posted[m] - self.held[m]

        def spend(
            self, write: Callable[..., Coroutine[Any, Any, Any]], m: int, minutes: int
        ) -> Any:
            """``write`` (redeem or reserve) ``minutes`` of ``m``'s: refused beyond what they
            have available, else its result."""
            return self.attempt(
                write(member_id=self.members[m].id, minutes=minutes, key=self.key(), actor_id=None),
                minutes <= self.available(m),
                "insufficient_hours",
            )

        def earning(self, m: int, minutes: int, key: str) -> Coroutine[Any, Any, Any]:
            """``m`` credited ``minutes`` for a visit, ``key`` naming both."""
            return ledger.credit_service(
                helper_id=self.members[m].id,
                community_id=self.community.id,
                minutes=minutes,
                visit_id=key,
                key=key,
            )

        @rule(m=who, minutes=amounts)
        def credit(self, m: int, minutes: int) -> None:
            key = self.key()
            posted = self.attempt(self.earning(m, minutes, key), ok=True)
            self.posted[m] += minutes
            self.reversible[posted.txn.id] = [(m, minutes)]
            self.calls[key] = ("credit", m, minutes, posted.txn.id)

        @rule(m=who, minutes=amounts)
        def redeem(self, m: int, minutes: int) -> None:
            posted = self.spend(ledger.redeem, m, minutes)
            if posted is not None:
                self.posted[m] -= minutes
                self.reversible[posted.txn.id] = [(m, -minutes)]

        @rule(a=who, b=who, minutes=amounts)
        def donate(self, a: int, b: int, minutes: int) -> None:
            if a == b:
                return
            ok = minutes <= self.available(a)
            posted = self.attempt(
                ledger.donate(
                    from_member_id=self.members[a].id,
                    to_account_id=self.wallets[b],
                    minutes=minutes,
                    key=self.key(),
                    actor_id=None,
                ),
                ok,
                "insufficient_hours",
            )
            if ok:
                self.posted[a] -= minutes
                self.posted[b] += minutes
                self.reversible[posted.txn.id] = [(a, -minutes), (b, minutes)]

        @rule(m=who, minutes=amounts)
        def reserve(self, m: int, minutes: int) -> None:
            posted = self.spend(ledger.reserve, m, minutes)
            if posted is not None:
                self.held[m] += minutes
                self.holds[posted.txn.id] = (m, minutes)

        @precondition(lambda self: self.holds)
        @rule(data=st.data(), to=who)
        def post(self, data: st.DataObject, to: int) -> None:
            hold = data.draw(st.sampled_from(sorted(self.holds)))
            m, held = self.holds.pop(hold)
            spend = data.draw(st.integers(min_value=1, max_value=held))
            posted = self.attempt(
                ledger.post(
                    reserve_id=hold,
                    key=self.key(),
                    actor_id=None,
                    to_account_id=self.wallets[to],
                    minutes=spend,
                ),
                ok=True,
            )
            self.held[m] -= held
            self.posted[m] -= spend
            self.posted[to] += spend
            self.reversible[posted.txn.id] = [(m, -spend), (to, spend)]

        @precondition(lambda self: self.holds)
        @rule(data=st.data(), expire=st.booleans())
        def release(self, data: st.DataObject, expire: bool) -> None:
            hold = data.draw(st.sampled_from(sorted(self.holds)))
            m, held = self.holds.pop(hold)
            resolve = ledger.expire if expire else ledger.void
            self.attempt(resolve(reserve_id=hold, key=self.key(), actor_id=None), ok=True)
            self.held[m] -= held
            code = "hold_resolved"
            self.attempt(ledger.void(reserve_id=hold, key=self.key(), actor_id=None), False, code)

        @precondition(lambda self: self.reversible)
        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            txn = data.draw(st.sampled_from(sorted(self.reversible)))
            deltas = self.reversible[txn]
            after = list(self.posted)
            for m, delta in deltas:
                after[m] -= delta
            ok = all(after[m] - self.held[m] >= 0 or delta < 0 for m, delta in deltas)
            self.attempt(
                ledger.reverse(txn_id=txn, key=self.key(), actor_id=None, reason="test"),
                ok,
                "insufficient_hours",
            )
            if ok:
                self.posted = after
                del self.reversible[txn]
                self.attempt(
                    ledger.reverse(txn_id=txn, key=self.key(), actor_id=None, reason="again"),
                    False,
                    "already_reversed",
                )

        @precondition(lambda self: self.calls)
        @rule(data=st.data())
        def replay(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(sorted(self.calls)))
            _, m, minutes, txn_id = self.calls[key]
            again = self.run(self.earning(m, minutes, key))
            assert not again.created and again.txn.id == txn_id

        @invariant()
        def balances_match_the_model(self) -> None:
            for m, wallet in enumerate(self.wallets):
                balance = self.run(ledger.balance(wallet))
                assert (balance.posted, balance.pending_debits) == (self.posted[m], self.held[m])
                assert balance.available == self.available(m) >= 0
            accounts = self.run(Account.all())
            assert sum(a.posted_balance for a in accounts) == 0

        @invariant()
        def chain_verifies(self) -> None:
            report = self.run(verify())
            assert report.ok, f"seq {report.broken_seq}: {report.reason}"

        def teardown(self) -> None:
            self.run(db.close_db())
            self.run(close_database(self.url))
            self.loop.close()

    return Ledger


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_random_operation_sequences(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")

        async def open_database() -> str:
            path = tmp_path / f"{uuid.uuid4().hex}.sqlite3"
            shutil.copyfile(template, path)
            return f"sqlite://{path}"

        async def close_database(url: str) -> None:
            Path(url.removeprefix("sqlite://")).unlink()
    else:
        pg_template = request.getfixturevalue("pg_template")

        async def open_database() -> str:
            name = f"timebank_hyp_{uuid.uuid4().hex[:12]}"
            await pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
            return pg_url_for(name)

        async def close_database(url: str) -> None:
            await pg_admin(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    run_state_machine_as_test(
        machine(open_database, close_database),
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
