"""The ledger's rules, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tortoise import connections

from tests.conftest import make_community, make_member
from timebank.errors import Conflict, Invalid, NotFound
from timebank.ledger import chain
from timebank.ledger import service as ledger
from timebank.ledger.models import AccountKind, Entry, LedgerTxn, TxnKind
from timebank.ledger.verify import verify


@pytest.fixture
async def people(orm: None) -> dict[str, Any]:
    community = await make_community()
    helper = await make_member(community, "helper", name="张建国")
    resident = await make_member(community, "resident", name="陈秀英")
    coordinator = await make_member(community, "coordinator", name="李芳")
    return {
        "community": community,
        "helper": helper,
        "resident": resident,
        "coordinator": coordinator,
    }


async def available(member: Any) -> int:
    return (await ledger.balance((await ledger.wallet(member.id)).id)).available


async def earn(p: dict[str, Any], minutes: int, key: str = "earn") -> Any:
    return await ledger.credit_service(
        helper_id=p["helper"].id,
        community_id=p["community"].id,
        minutes=minutes,
        visit_id=key,
        key=key,
    )


async def grant(p: dict[str, Any], minutes: int, key: str, reason: str) -> Any:
    """The coordinator grants the resident ``minutes``."""
    return await ledger.grant(
        community_id=p["community"].id,
        member_id=p["resident"].id,
        minutes=minutes,
        key=key,
        actor_id=p["coordinator"].id,
        reason=reason,
    )


async def test_service_credit_moves_hours_from_the_fund(people: dict[str, Any]) -> None:
    posted = await earn(people, 90)
    assert posted.created and posted.txn.kind is TxnKind.SERVICE_CREDIT
    assert await available(people["helper"]) == 90
    fund = await ledger.community_account(people["community"].id, AccountKind.ISSUANCE)
    assert (await ledger.balance(fund.id)).posted == -90
    entries = await Entry.filter(txn_id=posted.txn.id).order_by("seq")
    assert [e.seq for e in entries] == [1, 2]
    assert sum(e.amount for e in entries) == 0
    assert entries[0].prev_hash == chain.GENESIS and entries[1].prev_hash == entries[0].hash
    assert (await verify()).ok


async def test_idempotency(people: dict[str, Any]) -> None:
    first = await earn(people, 60, key="visit-1")
    again = await earn(people, 60, key="visit-1")
    assert not again.created and again.txn.id == first.txn.id
    assert await available(people["helper"]) == 60
    with pytest.raises(Conflict) as caught:
        await ledger.credit_service(
            helper_id=people["helper"].id,
            community_id=people["community"].id,
            minutes=61,
            visit_id="visit-1",
            key="visit-1",
        )
    assert caught.value.code == "idempotency_key_reused"
    assert await LedgerTxn.all().count() == 1


@pytest.mark.parametrize("minutes", [0, -5, 1.5, True, 10**9])
async def test_bad_amounts_are_refused(people: dict[str, Any], minutes: Any) -> None:
    with pytest.raises(Invalid) as caught:
        await earn(people, minutes)
    assert caught.value.code == "invalid_minutes"
    assert await Entry.all().count() == 0


async def test_wallet_never_goes_below_its_floor(people: dict[str, Any]) -> None:
    await earn(people, 30)
    with pytest.raises(Conflict) as caught:
        await ledger.redeem(member_id=people["helper"].id, minutes=31, key="r", actor_id=None)
    assert caught.value.code == "insufficient_hours"
    assert "30分" in caught.value.zh and "0.5 h" in caught.value.en
    await ledger.redeem(member_id=people["helper"].id, minutes=30, key="r2", actor_id=None)
    assert await available(people["helper"]) == 0
    assert (await verify()).ok


async def test_configured_overdraft_and_cap(people: dict[str, Any]) -> None:
    wallet = await ledger.wallet(people["resident"].id, floor=-60, cap=120)
    await ledger.redeem(member_id=people["resident"].id, minutes=60, key="a", actor_id=None)
    assert (await ledger.balance(wallet.id)).available == -60
    with pytest.raises(Conflict):
        await ledger.redeem(member_id=people["resident"].id, minutes=1, key="b", actor_id=None)
    await grant(people, 180, key="g", reason="低保")
    with pytest.raises(Conflict) as caught:
        await grant(people, 1, key="g2", reason="x")
    assert caught.value.code == "balance_cap"


async def test_issuance_budget(people: dict[str, Any]) -> None:
    await ledger.community_account(people["community"].id, AccountKind.ISSUANCE, budget=100)
    await earn(people, 100, key="a")
    with pytest.raises(Conflict) as caught:
        await earn(people, 1, key="b")
    assert caught.value.code == "budget_exhausted"


async def test_grant_needs_a_reason(people: dict[str, Any]) -> None:
    with pytest.raises(Invalid) as caught:
        await grant(people, 60, key="g", reason=" ")
    assert caught.value.code == "reason_required"


async def test_two_phase_reserve_then_post(people: dict[str, Any]) -> None:
    await earn(people, 120)
    hold = await ledger.reserve(
        member_id=people["helper"].id,
        minutes=60,
        key="h",
        actor_id=None,
        ref_type="order",
        ref_id="7",
    )
    assert await available(people["helper"]) == 60
    wallet = await ledger.wallet(people["helper"].id)
    assert (await ledger.balance(wallet.id)).posted == 120
    with pytest.raises(Conflict):
        await ledger.redeem(member_id=people["helper"].id, minutes=61, key="r", actor_id=None)
    target = await ledger.wallet(people["resident"].id)
    await ledger.post(
        reserve_id=hold.txn.id, key="p", actor_id=None, to_account_id=target.id, minutes=45
    )
    assert await available(people["helper"]) == 75  # 15 unspent minutes came back
    assert await available(people["resident"]) == 45
    for resolve in (ledger.void, ledger.expire):
        with pytest.raises(Conflict) as caught:
            await resolve(reserve_id=hold.txn.id, key=f"again-{resolve.__name__}", actor_id=None)
        assert caught.value.code == "hold_resolved"
    with pytest.raises(Invalid):
        hold2 = await ledger.reserve(
            member_id=people["helper"].id, minutes=10, key="h2", actor_id=None
        )
        await ledger.post(reserve_id=hold2.txn.id, key="p2", actor_id=None, minutes=11)
    assert (await verify()).ok


async def test_void_and_expire_release_the_hold(people: dict[str, Any]) -> None:
    await earn(people, 60)
    for n, resolve in enumerate((ledger.void, ledger.expire)):
        hold = await ledger.reserve(
            member_id=people["helper"].id, minutes=60, key=f"h{n}", actor_id=None
        )
        assert await available(people["helper"]) == 0
        await resolve(reserve_id=hold.txn.id, key=f"r{n}", actor_id=None)
        assert await available(people["helper"]) == 60
    with pytest.raises(NotFound):
        await ledger.void(reserve_id=9999, key="x", actor_id=None)
    assert (await verify()).ok


async def test_reversal_rules(people: dict[str, Any]) -> None:
    credit = await earn(people, 60)
    coordinator = people["coordinator"].id
    with pytest.raises(Invalid):
        await ledger.reverse(txn_id=credit.txn.id, key="x", actor_id=coordinator, reason="")
    reversal = await ledger.reverse(
        txn_id=credit.txn.id, key="rev", actor_id=coordinator, reason="重复登记"
    )
    assert reversal.txn.reverses_id == credit.txn.id  # type: ignore[attr-defined]
    assert await available(people["helper"]) == 0
    with pytest.raises(Conflict) as caught:
        await ledger.reverse(txn_id=credit.txn.id, key="rev2", actor_id=coordinator, reason="x")
    assert caught.value.code == "already_reversed"
    with pytest.raises(Conflict) as caught:
        await ledger.reverse(txn_id=reversal.txn.id, key="rev3", actor_id=coordinator, reason="x")
    assert caught.value.code == "not_reversible"
    # A reversal that would overdraw fails and writes nothing.
    spent = await earn(people, 30, key="e2")
    await ledger.redeem(member_id=people["helper"].id, minutes=30, key="spend", actor_id=None)
    before = await Entry.all().count()
    with pytest.raises(Conflict) as caught:
        await ledger.reverse(txn_id=spent.txn.id, key="rev4", actor_id=coordinator, reason="x")
    assert caught.value.code == "insufficient_hours"
    assert await Entry.all().count() == before
    assert (await verify()).ok


async def test_donation(people: dict[str, Any]) -> None:
    await earn(people, 60)
    helper = people["helper"].id

    async def donate(to: Any, minutes: int, key: str, actor_id: int | None = None) -> None:
        await ledger.donate(
            from_member_id=helper, to_account_id=to.id, minutes=minutes, key=key, actor_id=actor_id
        )

    await donate(await ledger.wallet(people["resident"].id), 20, key="d", actor_id=helper)
    assert await available(people["resident"]) == 20
    with pytest.raises(Invalid):
        await donate(await ledger.wallet(helper), 1, key="d2")
    fund = await ledger.community_account(people["community"].id, AccountKind.ISSUANCE)
    with pytest.raises(Invalid):
        await donate(fund, 1, key="d3")


async def test_the_database_refuses_updates_and_deletes(
    people: dict[str, Any], db_url: str
) -> None:
    await earn(people, 60)
    conn = connections.get("default")
    statements = [
        "UPDATE ledger_entry SET amount = 600 WHERE seq = 2",
        "DELETE FROM ledger_entry WHERE seq = 2",
        "UPDATE ledger_txn SET reason = 'x'",
        "DELETE FROM ledger_txn",
    ]
    if db_url.startswith("postgres"):
        statements += ["TRUNCATE ledger_entry CASCADE", "TRUNCATE ledger_txn CASCADE"]
    for sql in statements:
        with pytest.raises(Exception, match="append-only"):
            await conn.execute_script(sql)
    # The ORM's update and delete hit the same wall.
    with pytest.raises(Exception, match="append-only"):
        await Entry.filter(seq=1).update(amount=1)
    assert [e.amount for e in await Entry.all().order_by("seq")] == [-60, 60]
    assert (await verify()).ok


async def test_statement_pages_and_periods(people: dict[str, Any]) -> None:
    from datetime import UTC, datetime, timedelta

    for n in range(5):
        await earn(people, 10 + n, key=f"s{n}")
    await ledger.redeem(member_id=people["helper"].id, minutes=12, key="spend", actor_id=None)
    account = (await ledger.wallet(people["helper"].id)).id
    first = await ledger.statement(account_id=account, limit=4)
    assert [line.amount for line in first] == [10, 11, 12, 13]
    assert [line.balance_after for line in first] == [10, 21, 33, 46]
    rest = await ledger.statement(account_id=account, after_seq=first[-1].seq, limit=4)
    assert [(line.kind, line.amount) for line in rest] == [
        (TxnKind.SERVICE_CREDIT, 14),
        (TxnKind.REDEEM, -12),
    ]
    assert rest[-1].balance_after == await available(people["helper"]) == 48
    now = datetime.now(UTC)
    assert len(await ledger.statement(account_id=account, since=now - timedelta(hours=1))) == 6
    assert await ledger.statement(account_id=account, since=now + timedelta(seconds=5)) == []
    assert await ledger.statement(account_id=account, until=now - timedelta(hours=1)) == []
    with pytest.raises(Invalid):
        await ledger.statement(account_id=account, limit=0)
    with pytest.raises(Invalid):
        await ledger.statement(account_id=account, since=now, until=now)
    with pytest.raises(NotFound):
        await ledger.statement(account_id=99999)
    assert first[0].as_json()["kind"] == "service_credit"


async def test_concurrent_writes_one_failing_do_not_sink_the_others(
    people: dict[str, Any],
) -> None:
    # On PostgreSQL concurrent transfers are committed together (one statement per batch):
    # one that the database refuses (an actor who does not exist) must fail alone.
    await earn(people, 1, key="warm")  # accounts exist, so every call takes the fast path

    async def credit(n: int) -> Any:
        return await ledger.credit_service(
            helper_id=people["helper"].id,
            community_id=people["community"].id,
            minutes=10,
            visit_id=f"v{n}",
            key=f"batch-{n}",
            actor_id=999_999 if n == 3 else people["coordinator"].id,
        )

    results = await asyncio.gather(*(credit(n) for n in range(8)), return_exceptions=True)
    failed = [n for n, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [3]
    assert all(r.created for n, r in enumerate(results) if n != 3)
    assert await available(people["helper"]) == 1 + 7 * 10
    assert await LedgerTxn.filter(idempotency_key="batch-3").count() == 0
    assert (await verify()).ok
