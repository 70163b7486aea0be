"""The ledger's public operations. Nothing else in timebank writes hours.

Every operation takes a client-supplied idempotency ``key``: repeating a call with the same
key and arguments returns the original transaction; the same key with other arguments is
a 409. Each one is a plan (which legs, decided while the ledger is locked) handed to
``steps.write_steps`` and run by ``drivers.run`` in one database transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from timebank.errors import Conflict, Invalid, NotFound
from timebank.ledger.accounts import (
    community_account,
    fund,
    opened,
    pool,
    prepare_accounts,
    sink_of,
    wallet,
    wallet_spec,
)
from timebank.ledger.drivers import write
from timebank.ledger.models import (
    Account,
    AccountKind,
    Phase,
    TxnKind,
)

# Reading lives in queries.py; callers use this module for both.
from timebank.ledger.queries import (
    AccountView,
    Balance,
    StatementLine,
    account,
    accounts,
    balance,
    checkpoint_json,
    checkpoints,
    create_checkpoint,
    statement,
    transaction,
)
from timebank.ledger.rules import Leg, Plan, Posted
from timebank.ledger.steps import (
    PlanSteps,
    PrepareSteps,
    Query,
    Steps,
    nothing_to_prepare,
    open_account,
    write_steps,
)

MAX_MINUTES = 1_000_000  # ~ 16,000 hours: far above any single movement
# Holds are voided, not reversed; releases and reversals move no posted hours.
NOT_REVERSIBLE = {TxnKind.RESERVE, TxnKind.VOID, TxnKind.EXPIRE, TxnKind.REVERSAL}


def _minutes(minutes: int) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= MAX_MINUTES:
        raise Invalid(
            f"The amount must be a whole number of minutes between 1 and {MAX_MINUTES}.",
            f"时长必须是 1 到 {MAX_MINUTES} 之间的整数分钟。",
            code="invalid_minutes",
        )
    return minutes


def _reason(reason: str, *, required: bool = False) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    if len(reason) > 500:
        raise Invalid(
            "The reason is too long (500 characters at most).",
            "原因过长（最多 500 字）。",
            code="reason_too_long",
        )
    return reason


# Posted transfers -----------------------------------------------------------------------


def _transfer_plan(amount: int, **plan: Any) -> PlanSteps:
    def steps(prepared: Any) -> Steps[Plan]:
        source, target = yield from opened(prepared)
        return Plan(
            legs=[Leg(source, -amount, Phase.POSTED), Leg(target, amount, Phase.POSTED)], **plan
        )

    return steps


# ``checks``: a caller's own rules and rows, run under the ledger lock in the same
# transaction just before the legs are decided (e.g. a redemption's limits, the stock of
# an item and the redemption row itself); it returns the ref_id the transaction carries.
Checks = Callable[[], Steps[str]]


def _checked(checks: Checks | None, plan: Callable[[str], PlanSteps], ref_id: str) -> PlanSteps:
    def steps(prepared: Any) -> Steps[Plan]:
        ref = (yield from checks()) if checks is not None else ref_id
        return (yield from plan(ref)(prepared))

    return steps


async def _write(
    kind: TxnKind,
    key: str,
    request: dict[str, Any],
    plan: PlanSteps,
    actor_id: int | None = None,
    on_behalf_of_id: int | None = None,
    reason: str = "",
    prepare: PrepareSteps = nothing_to_prepare,
) -> Posted:
    return await write(
        kind=kind,
        key=key,
        request=request,
        plan=plan,
        prepare=prepare,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        reason=reason,
    )


def _credit_parts(
    *,
    helper_id: int,
    community_id: int,
    minutes: int,
    visit_id: int | str,
    payer_id: int | None,
) -> tuple[dict[str, Any], PlanSteps, PrepareSteps]:
    amount = _minutes(minutes)
    request = {
        "helper": helper_id,
        "community": community_id,
        "minutes": minutes,
        "visit": str(visit_id),
        "payer": payer_id,
    }
    plan = _transfer_plan(amount, ref_type="visit", ref_id=str(visit_id))
    source = fund(community_id) if payer_id is None else wallet_spec(payer_id)
    return request, plan, prepare_accounts(source, wallet_spec(helper_id))


async def credit_service(
    *,
    helper_id: int,
    community_id: int,
    minutes: int,
    visit_id: int | str,
    key: str,
    actor_id: int | None = None,
    reason: str = "",
    payer_id: int | None = None,
) -> Posted:
    """Credit a helper for a verified visit: from the community's issuance fund (兜底), or
    from the wallet of ``payer_id`` (the resident served) when given."""
    request, plan, prepare = _credit_parts(
        helper_id=helper_id, community_id=community_id, minutes=minutes,
        visit_id=visit_id, payer_id=payer_id,
    )  # fmt: skip
    return await _write(
        TxnKind.SERVICE_CREDIT,
        key,
        request,
        plan,
        actor_id,
        reason=_reason(reason),
        prepare=prepare,
    )


def credit_service_steps(
    *,
    helper_id: int,
    community_id: int,
    minutes: int,
    visit_id: int | str,
    key: str,
    actor_id: int | None = None,
    payer_id: int | None = None,
) -> Steps[Posted]:
    """``credit_service`` as steps, to run inside another step sequence's transaction (a
    visit verified and credited in one commit, see ``timebank.visits.steps``)."""
    request, plan, prepare = _credit_parts(
        helper_id=helper_id, community_id=community_id, minutes=minutes,
        visit_id=visit_id, payer_id=payer_id,
    )  # fmt: skip
    return write_steps(
        kind=TxnKind.SERVICE_CREDIT,
        key=key,
        request=request,
        plan=plan,
        prepare=prepare,
        actor_id=actor_id,
        on_behalf_of_id=None,
        reason="",
    )


async def grant(
    *,
    community_id: int,
    member_id: int,
    minutes: int,
    key: str,
    actor_id: int,
    reason: str,
    from_pool: bool = False,
) -> Posted:
    """Grant hours to a member from the community fund (兜底), or from the public pool of
    donated hours (公益池) with ``from_pool``; a reason is required."""
    amount, reason = _minutes(minutes), _reason(reason, required=True)
    request = {"community": community_id, "member": member_id, "minutes": minutes}
    if from_pool:
        request["pool"] = True
    source = pool(community_id) if from_pool else fund(community_id)
    prepare = prepare_accounts(source, wallet_spec(member_id))
    return await _write(
        TxnKind.GRANT,
        key,
        request,
        _transfer_plan(amount),
        actor_id,
        reason=reason,
        prepare=prepare,
    )


async def redeem(
    *,
    member_id: int,
    minutes: int,
    key: str,
    actor_id: int | None,
    ref_type: str = "",
    ref_id: str = "",
    on_behalf_of_id: int | None = None,
    reason: str = "",
    checks: Checks | None = None,
) -> Posted:
    """Spend hours at once (goods, privileges): wallet to the redemption account."""
    amount = _minutes(minutes)
    request = {"member": member_id, "minutes": minutes, "ref": f"{ref_type}:{ref_id}"}
    plan = _checked(
        checks, lambda ref: _transfer_plan(amount, ref_type=ref_type, ref_id=ref), ref_id
    )
    prepare = prepare_accounts(wallet_spec(member_id), partial(sink_of, member_id))
    return await _write(
        TxnKind.REDEEM, key, request, plan, actor_id, on_behalf_of_id, _reason(reason), prepare
    )


async def donate(
    *,
    from_member_id: int,
    to_account_id: int,
    minutes: int,
    key: str,
    actor_id: int | None,
    reason: str = "",
) -> Posted:
    """Give hours to another member's wallet (family) or the community pool (公益池)."""
    amount = _minutes(minutes)

    def plan(prepared: Any) -> Steps[Plan]:
        (source,) = yield from opened(prepared)
        rows = yield Query(
            "SELECT kind, member_id FROM ledger_account WHERE id = ?", (to_account_id,)
        )
        if not rows or rows[0][0] not in (AccountKind.WALLET.value, AccountKind.POOL.value):
            raise Invalid(
                "Hours can be given to a member's wallet or the community pool.",
                "时间只能转赠给成员账户或社区公益池。",
                code="invalid_recipient",
            )
        if to_account_id == source:
            raise Invalid(
                "You cannot give hours to yourself.", "不能转赠给自己。", code="same_account"
            )
        return Plan(
            legs=[Leg(source, -amount, Phase.POSTED), Leg(to_account_id, amount, Phase.POSTED)]
        )

    request = {"from": from_member_id, "to": to_account_id, "minutes": minutes}
    return await _write(
        TxnKind.DONATE,
        key,
        request,
        plan,
        actor_id,
        reason=_reason(reason),
        prepare=prepare_accounts(wallet_spec(from_member_id)),
    )


# Two-phase holds ------------------------------------------------------------------------


async def reserve(
    *,
    member_id: int,
    minutes: int,
    key: str,
    actor_id: int | None,
    ref_type: str = "",
    ref_id: str = "",
    on_behalf_of_id: int | None = None,
    checks: Checks | None = None,
) -> Posted:
    """Hold hours for a booked redemption; resolve with ``post``, ``void`` or ``expire``."""
    amount = _minutes(minutes)

    def held(ref: str) -> PlanSteps:
        def steps(prepared: Any) -> Steps[Plan]:
            source, escrow = yield from opened(prepared)
            return Plan(
                legs=[Leg(source, -amount, Phase.PENDING), Leg(escrow, amount, Phase.PENDING)],
                ref_type=ref_type,
                ref_id=ref,
            )

        return steps

    plan = _checked(checks, held, ref_id)

    request = {"member": member_id, "minutes": minutes, "ref": f"{ref_type}:{ref_id}"}
    prepare = prepare_accounts(wallet_spec(member_id), partial(sink_of, member_id))
    return await _write(
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
    if (yield Query("SELECT id FROM ledger_txn WHERE resolves_id = ?", (reserve_id,))):
        raise Conflict(
            f"Hold {reserve_id} is already resolved.",
            f"预约冻结 {reserve_id} 已经处理过。",
            code="hold_resolved",
        )
    legs = yield Query(
        "SELECT account_id, amount FROM ledger_entry WHERE txn_id = ? ORDER BY seq", (reserve_id,)
    )
    return rows[0][1], rows[0][2], [(int(a), int(m)) for a, m in legs]


async def set_fund_budget(*, community_id: int, minutes: int | None) -> None:
    """The most the community fund (兜底) may ever hand out: its floor is minus the budget;
    None: no limit. A grant or a funded visit beyond it is refused (budget_exhausted)."""
    fund_account = await community_account(community_id, AccountKind.ISSUANCE)
    await Account.filter(id=fund_account.id).update(floor=None if minutes is None else -minutes)


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
        _minutes(minutes)
    request = {"hold": reserve_id, "to": to_account_id, "minutes": minutes}
    plan = _post_plan(reserve_id, minutes, _fixed(to_account_id))
    return await _write(TxnKind.POST, key, request, plan, actor_id)


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

    return await _write(kind, key, {"hold": reserve_id}, plan, actor_id, reason=_reason(reason))


async def void(*, reserve_id: int, key: str, actor_id: int | None, reason: str = "") -> Posted:
    """Give held hours back (the booking was cancelled)."""
    return await _release(TxnKind.VOID, reserve_id, key, actor_id, reason)


async def expire(*, reserve_id: int, key: str, actor_id: int | None = None) -> Posted:
    """Give held hours back because the booking was never served."""
    return await _release(TxnKind.EXPIRE, reserve_id, key, actor_id, "expired")


# Corrections ----------------------------------------------------------------------------


async def reverse(*, txn_id: int, key: str, actor_id: int | None, reason: str) -> Posted:
    """Undo a posted transaction with its mirror image; at most once, reason required."""
    reason = _reason(reason, required=True)

    def plan(_: Any) -> Steps[Plan]:
        rows = yield Query("SELECT kind, ref_type, ref_id FROM ledger_txn WHERE id = ?", (txn_id,))
        if not rows:
            raise NotFound(
                f"There is no transaction number {txn_id}.",
                f"找不到编号为 {txn_id} 的交易。",
                code="txn_not_found",
            )
        kind = TxnKind(rows[0][0])
        if kind in NOT_REVERSIBLE:
            hint = kind is TxnKind.RESERVE
            raise Conflict(
                f"A {kind.value} transaction cannot be reversed"
                + (" (void the hold instead)." if hint else "."),
                "该类交易不能冲正" + ("（请取消冻结）。" if hint else "。"),
                code="not_reversible",
            )
        if (yield Query("SELECT id FROM ledger_txn WHERE reverses_id = ?", (txn_id,))):
            raise Conflict(
                f"Transaction {txn_id} has already been reversed.",
                f"交易 {txn_id} 已经冲正过。",
                code="already_reversed",
            )
        legs = yield Query(
            "SELECT account_id, amount FROM ledger_entry WHERE txn_id = ? AND phase = ?"
            " ORDER BY seq",
            (txn_id, Phase.POSTED.value),
        )
        return Plan(
            legs=[Leg(int(a), -int(m), Phase.POSTED) for a, m in legs],
            reverses_id=txn_id,
            ref_type=rows[0][1],
            ref_id=rows[0][2],
        )

    return await _write(TxnKind.REVERSAL, key, {"txn": txn_id}, plan, actor_id, reason=reason)


__all__ = [
    "AccountView",
    "Balance",
    "StatementLine",
    "account",
    "accounts",
    "balance",
    "checkpoint_json",
    "checkpoints",
    "community_account",
    "create_checkpoint",
    "credit_service",
    "credit_service_steps",
    "post_to_member_steps",
    "donate",
    "expire",
    "grant",
    "post",
    "redeem",
    "reserve",
    "reverse",
    "set_fund_budget",
    "statement",
    "transaction",
    "void",
    "wallet",
]
