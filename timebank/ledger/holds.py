"""Two-phase holds: hours held for a booked service (``reserve``), then spent (``post``) or
given back (``void``, ``expire``). Callers use ``timebank.ledger.service``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from timebank.db.steps import Query, Steps
from timebank.errors import Invalid, NotFound
from timebank.ledger.accounts import opened, prepare_accounts, sink_of, wallet_spec
from timebank.ledger.models import Phase, TxnKind
from timebank.ledger.posting import write
from timebank.ledger.rules import Leg, Plan, Posted, check_minutes, check_reason
from timebank.ledger.steps import (
    Checks,
    PlanSteps,
    at_most_once,
    checked,
    open_account,
    write_steps,
)


async def reserve(
    *,
    member_id: int,
    minutes: int,
    key: str,
    actor_id: int | None,
    checks: Checks | None = None,
    ref_type: str = "",
    ref_id: str = "",
    on_behalf_of_id: int | None = None,
) -> Posted:
    """Hold hours for a booked redemption; resolve with ``post``, ``void`` or ``expire``."""
    amount = check_minutes(minutes)

    def held(ref: str) -> PlanSteps:
        def steps(prepared: Any) -> Steps[Plan]:
            source, escrow = yield from opened(prepared)
            return Plan(
                legs=[Leg(source, -amount, Phase.PENDING), Leg(escrow, amount, Phase.PENDING)],
                ref_type=ref_type,
                ref_id=ref,
            )

        return steps

    plan = checked(checks, held, ref_id)

    request = {"member": member_id, "minutes": minutes, "ref": f"{ref_type}:{ref_id}"}
    prepare = prepare_accounts(wallet_spec(member_id), partial(sink_of, member_id))
    return await write(
        TxnKind.RESERVE, key, request, plan, actor_id, on_behalf_of_id, prepare=prepare
    )


def _open_hold(reserve_id: int) -> Steps[tuple[str, str, list[tuple[int, int]]]]:
    """``ref_type, ref_id`` and the ``(account, amount)`` legs of a still-open hold."""
    rows = yield Query("SELECT kind, ref_type, ref_id FROM ledger_txn WHERE id = ?", (reserve_id,))
    if not rows or rows[0][0] != TxnKind.RESERVE.value:
        raise NotFound(
            f"There is no hold number {reserve_id}.",
            f"找不到编号为 {reserve_id} 的预约冻结。",
            code="hold_not_found",
        )
    yield from at_most_once("resolves_id", reserve_id)
    legs = yield Query(
        "SELECT account_id, amount FROM ledger_entry WHERE txn_id = ? ORDER BY seq", (reserve_id,)
    )
    return rows[0][1], rows[0][2], [(int(a), int(m)) for a, m in legs]


def _post_plan(
    reserve_id: int, minutes: int | None, target_of: Callable[[int], Steps[int]]
) -> PlanSteps:
    def plan(_: Any) -> Steps[Plan]:
        ref_type, ref_id, legs = yield from _open_hold(reserve_id)
        (debit, held_out), (credit, held_in) = sorted(legs, key=lambda leg: leg[1])
        amount = held_in if minutes is None else minutes
        if amount > held_in:
            raise Invalid(
                "Cannot post more than was held.",
                "入账时长不能超过冻结时长。",
                code="post_exceeds_hold",
            )
        target = yield from target_of(credit)
        return Plan(
            legs=[
                Leg(debit, -held_out, Phase.RELEASE),
                Leg(credit, -held_in, Phase.RELEASE),
                Leg(debit, -amount, Phase.POSTED),
                Leg(target, amount, Phase.POSTED),
            ],
            resolves_id=reserve_id,
            ref_type=ref_type,
            ref_id=ref_id,
        )

    return plan


def _fixed(account_id: int | None) -> Callable[[int], Steps[int]]:
    def target(escrow: int) -> Steps[int]:
        return escrow if account_id is None else account_id
        yield  # a generator that reads nothing

    return target


async def post(
    *,
    reserve_id: int,
    key: str,
    actor_id: int | None,
    to_account_id: int | None = None,
    minutes: int | None = None,
) -> Posted:
    """Spend held hours: up to the held amount moves to ``to_account_id`` (default: escrow)."""
    if minutes is not None:
        check_minutes(minutes)
    request = {"hold": reserve_id, "to": to_account_id, "minutes": minutes}
    plan = _post_plan(reserve_id, minutes, _fixed(to_account_id))
    return await write(TxnKind.POST, key, request, plan, actor_id)


def post_to_member_steps(
    *, reserve_id: int, member_id: int, key: str, actor_id: int | None
) -> Steps[Posted]:
    """``post`` the whole hold to a member's wallet (opened if missing), as steps to run in
    another sequence's transaction: a booked service paid to the helper who served it."""

    def wallet_of(_: int) -> Steps[int]:
        return (yield from open_account(wallet_spec(member_id)))

    return write_steps(
        kind=TxnKind.POST,
        key=key,
        request={"hold": reserve_id, "to_member": member_id},
        plan=_post_plan(reserve_id, None, wallet_of),
        actor_id=actor_id,
        on_behalf_of_id=None,
        reason="",
    )


async def _release(
    kind: TxnKind, reserve_id: int, key: str, actor_id: int | None, reason: str
) -> Posted:
    def plan(_: Any) -> Steps[Plan]:
        ref_type, ref_id, legs = yield from _open_hold(reserve_id)
        return Plan(
            legs=[Leg(a, -m, Phase.RELEASE) for a, m in legs],
            resolves_id=reserve_id,
            ref_type=ref_type,
            ref_id=ref_id,
        )

    return await write(kind, key, {"hold": reserve_id}, plan, actor_id, reason=check_reason(reason))


async def void(*, reserve_id: int, key: str, actor_id: int | None, reason: str = "") -> Posted:
    """Give held hours back (the booking was cancelled)."""
    return await _release(TxnKind.VOID, reserve_id, key, actor_id, reason)


async def expire(*, reserve_id: int, key: str, actor_id: int | None = None) -> Posted:
    """Give held hours back because the booking was never served."""
    return await _release(TxnKind.EXPIRE, reserve_id, key, actor_id, "expired")
