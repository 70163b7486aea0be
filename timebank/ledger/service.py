"""The ledger's public operations. Nothing else in timebank writes hours.

Every operation takes a client-supplied idempotency ``key``: repeating a call with the same
key and arguments returns the original transaction; the same key with other arguments is
a 409. Each one is a plan (which legs, decided while the ledger is locked) handed to
``steps.write_steps`` and written by ``posting.write`` in one database transaction. Holds
live in ``holds.py``, reading in ``queries.py``; callers use this module for all of them.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from timebank.db.steps import Query, Steps
from timebank.errors import Conflict, Invalid, NotFound
from timebank.ledger.accounts import (
    community_account,
    fund,
    opened,
    pool,
    prepare_accounts,
    set_fund_budget,
    sink_of,
    wallet,
    wallet_spec,
)
from timebank.ledger.holds import expire, post, post_to_member_steps, reserve, void
from timebank.ledger.models import AccountKind, Phase, TxnKind
from timebank.ledger.posting import write

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
from timebank.ledger.rules import Leg, Plan, Posted, check_minutes, check_reason
from timebank.ledger.steps import (
    Checks,
    PlanSteps,
    PrepareSteps,
    at_most_once,
    checked,
    write_steps,
)

# Holds are voided, not reversed; releases and reversals move no posted hours.
NOT_REVERSIBLE = {TxnKind.RESERVE, TxnKind.VOID, TxnKind.EXPIRE, TxnKind.REVERSAL}


# Posted transfers -----------------------------------------------------------------------


def _transfer_plan(amount: int, **plan: Any) -> PlanSteps:
    def steps(prepared: Any) -> Steps[Plan]:
        source, target = yield from opened(prepared)
        return Plan(
            legs=[Leg(source, -amount, Phase.POSTED), Leg(target, amount, Phase.POSTED)], **plan
        )

    return steps


def _credit_parts(
    *,
    helper_id: int,
    community_id: int,
    minutes: int,
    visit_id: int | str,
    payer_id: int | None,
) -> tuple[dict[str, Any], PlanSteps, PrepareSteps]:
    amount = check_minutes(minutes)
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
    return await write(
        TxnKind.SERVICE_CREDIT,
        key,
        request,
        plan,
        actor_id,
        reason=check_reason(reason),
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
    amount, reason = check_minutes(minutes), check_reason(reason, required=True)
    request = {"community": community_id, "member": member_id, "minutes": minutes}
    if from_pool:
        request["pool"] = True
    source = pool(community_id) if from_pool else fund(community_id)
    prepare = prepare_accounts(source, wallet_spec(member_id))
    return await write(
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
    amount = check_minutes(minutes)
    request = {"member": member_id, "minutes": minutes, "ref": f"{ref_type}:{ref_id}"}
    plan = checked(
        checks, lambda ref: _transfer_plan(amount, ref_type=ref_type, ref_id=ref), ref_id
    )
    prepare = prepare_accounts(wallet_spec(member_id), partial(sink_of, member_id))
    return await write(
        TxnKind.REDEEM, key, request, plan, actor_id, on_behalf_of_id, check_reason(reason), prepare
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
    amount = check_minutes(minutes)

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
    return await write(
        TxnKind.DONATE,
        key,
        request,
        plan,
        actor_id,
        reason=check_reason(reason),
        prepare=prepare_accounts(wallet_spec(from_member_id)),
    )


# Corrections ----------------------------------------------------------------------------


async def reverse(*, txn_id: int, key: str, actor_id: int | None, reason: str) -> Posted:
    """Undo a posted transaction with its mirror image; at most once, reason required."""
    reason = check_reason(reason, required=True)

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
        yield from at_most_once("reverses_id", txn_id)
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

    return await write(TxnKind.REVERSAL, key, {"txn": txn_id}, plan, actor_id, reason=reason)


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
