"""The ledger's public operations. Nothing else in timebank writes hours.

Every operation takes a client-supplied idempotency ``key``: repeating a call with the same
key and arguments returns the original transaction; the same key with other arguments is
a 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from timebank.errors import Conflict, Invalid, NotFound
from timebank.ledger.models import (
    Account,
    AccountKind,
    ChainHead,
    Checkpoint,
    Entry,
    LedgerTxn,
    Phase,
    TxnKind,
)
from timebank.ledger.writer import Leg, Plan, Posted, write
from timebank.people.models import Member

MAX_MINUTES = 1_000_000  # ~ 16,000 hours: far above any single movement
# Holds are voided, not reversed; releases and reversals move no posted hours.
NOT_REVERSIBLE = (TxnKind.RESERVE, TxnKind.VOID, TxnKind.EXPIRE, TxnKind.REVERSAL)


@dataclass(frozen=True)
class Balance:
    """An account's balances in minutes, read from its cached totals."""

    account_id: int
    posted: int
    pending_debits: int
    pending_credits: int
    available: int
    floor: int | None
    cap: int | None

    def as_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "account": self.account_id,
            "posted_minutes": self.posted,
            "pending_debit_minutes": self.pending_debits,
            "pending_credit_minutes": self.pending_credits,
            "available_minutes": self.available,
            "floor_minutes": self.floor,
            "cap_minutes": self.cap,
        }


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


async def _get_or_create(
    community_id: int, kind: AccountKind, member_id: int | None, floor: int | None, cap: int | None
) -> Account:
    found = await Account.get_or_none(community_id=community_id, kind=kind, member_id=member_id)
    if found is not None:
        return found
    try:
        async with in_transaction():
            return await Account.create(
                community_id=community_id, kind=kind, member_id=member_id, floor=floor, cap=cap
            )
    except IntegrityError:  # created by a concurrent request a moment ago
        return await Account.get(community_id=community_id, kind=kind, member_id=member_id)


async def wallet(member_id: int, *, floor: int = 0, cap: int | None = None) -> Account:
    """The member's wallet, opened (with ``floor``/``cap``) on first use."""
    member = await Member.get_or_none(id=member_id)
    if member is None:
        raise NotFound(
            f"There is no member number {member_id}.",
            f"找不到编号为 {member_id} 的成员。",
            code="member_not_found",
        )
    return await _get_or_create(member.community_id, AccountKind.WALLET, member_id, floor, cap)  # type: ignore[attr-defined]


async def community_account(
    community_id: int, kind: AccountKind, *, budget: int | None = None
) -> Account:
    """A community's system account; the issuance fund may go ``budget`` minutes negative."""
    if kind is AccountKind.WALLET:
        raise ValueError("wallets belong to members")
    floor = -budget if (kind is AccountKind.ISSUANCE and budget is not None) else None
    return await _get_or_create(community_id, kind, None, floor, None)


async def _transfer(
    *,
    kind: TxnKind,
    debit: Account,
    credit: Account,
    minutes: int,
    key: str,
    request: dict[str, Any],
    ref_type: str = "",
    ref_id: str = "",
    actor_id: int | None,
    on_behalf_of_id: int | None = None,
    reason: str = "",
) -> Posted:
    amount = _minutes(minutes)

    async def plan() -> Plan:
        return Plan(
            legs=[Leg(debit.id, -amount, Phase.POSTED), Leg(credit.id, amount, Phase.POSTED)],
            ref_type=ref_type,
            ref_id=ref_id,
        )

    return await write(
        kind=kind,
        key=key,
        request=request,
        plan=plan,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        reason=reason,
    )


async def credit_service(
    *,
    helper_id: int,
    community_id: int,
    minutes: int,
    visit_id: int | str,
    key: str,
    actor_id: int | None = None,
    reason: str = "",
) -> Posted:
    """Credit a helper for a verified visit, from the community's issuance fund."""
    request = {
        "helper": helper_id,
        "community": community_id,
        "minutes": minutes,
        "visit": str(visit_id),
    }
    return await _transfer(
        kind=TxnKind.SERVICE_CREDIT,
        debit=await community_account(community_id, AccountKind.ISSUANCE),
        credit=await wallet(helper_id),
        minutes=minutes,
        key=key,
        request=request,
        ref_type="visit",
        ref_id=str(visit_id),
        actor_id=actor_id,
        reason=_reason(reason),
    )


async def grant(
    *,
    community_id: int,
    member_id: int,
    minutes: int,
    key: str,
    actor_id: int,
    reason: str,
) -> Posted:
    """Grant community-funded hours (兜底) to a member; a reason is required."""
    request = {"community": community_id, "member": member_id, "minutes": minutes}
    return await _transfer(
        kind=TxnKind.GRANT,
        debit=await community_account(community_id, AccountKind.ISSUANCE),
        credit=await wallet(member_id),
        minutes=minutes,
        key=key,
        request=request,
        actor_id=actor_id,
        reason=_reason(reason, required=True),
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
) -> Posted:
    """Spend hours at once (goods, privileges): wallet to the redemption account."""
    source = await wallet(member_id)
    request = {"member": member_id, "minutes": minutes, "ref": f"{ref_type}:{ref_id}"}
    return await _transfer(
        kind=TxnKind.REDEEM,
        debit=source,
        credit=await community_account(source.community_id, AccountKind.REDEMPTION),  # type: ignore[attr-defined]
        minutes=minutes,
        key=key,
        request=request,
        ref_type=ref_type,
        ref_id=ref_id,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        reason=_reason(reason),
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
    """Give hours to another wallet (family) or the community pool (公益池)."""
    source = await wallet(from_member_id)
    target = await Account.get_or_none(id=to_account_id)
    if target is None or target.kind not in (AccountKind.WALLET, AccountKind.POOL):
        raise Invalid(
            "Hours can be given to a member's wallet or the community pool.",
            "时间只能转赠给成员账户或社区公益池。",
            code="invalid_recipient",
        )
    if target.id == source.id:
        raise Invalid("You cannot give hours to yourself.", "不能转赠给自己。", code="same_account")
    request = {"from": from_member_id, "to": to_account_id, "minutes": minutes}
    return await _transfer(
        kind=TxnKind.DONATE,
        debit=source,
        credit=target,
        minutes=minutes,
        key=key,
        request=request,
        actor_id=actor_id,
        reason=_reason(reason),
    )


async def reserve(
    *,
    member_id: int,
    minutes: int,
    key: str,
    actor_id: int | None,
    ref_type: str = "",
    ref_id: str = "",
    on_behalf_of_id: int | None = None,
) -> Posted:
    """Hold hours for a booked redemption; resolve with ``post``, ``void`` or ``expire``."""
    source = await wallet(member_id)
    escrow = await community_account(source.community_id, AccountKind.REDEMPTION)  # type: ignore[attr-defined]
    amount = _minutes(minutes)

    async def plan() -> Plan:
        return Plan(
            legs=[Leg(source.id, -amount, Phase.PENDING), Leg(escrow.id, amount, Phase.PENDING)],
            ref_type=ref_type,
            ref_id=ref_id,
        )

    request = {"member": member_id, "minutes": minutes, "ref": f"{ref_type}:{ref_id}"}
    return await write(
        kind=TxnKind.RESERVE,
        key=key,
        request=request,
        plan=plan,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
    )


async def _open_hold(reserve_id: int) -> tuple[LedgerTxn, list[Entry]]:
    """The reserve transaction and its pending legs, checked to be still unresolved."""
    held = await LedgerTxn.get_or_none(id=reserve_id)
    if held is None or held.kind is not TxnKind.RESERVE:
        raise NotFound(
            f"There is no hold number {reserve_id}.",
            f"找不到编号为 {reserve_id} 的预约冻结。",
            code="hold_not_found",
        )
    if await LedgerTxn.exists(resolves_id=reserve_id):
        raise Conflict(
            f"Hold {reserve_id} is already resolved.",
            f"预约冻结 {reserve_id} 已经处理过。",
            code="hold_resolved",
        )
    return held, await Entry.filter(txn_id=reserve_id).order_by("seq")


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

    async def plan() -> Plan:
        held, legs = await _open_hold(reserve_id)
        debit = next(e for e in legs if e.amount < 0)
        credit = next(e for e in legs if e.amount > 0)
        amount = int(credit.amount) if minutes is None else minutes
        if amount > credit.amount:
            raise Invalid(
                "Cannot post more than was held.",
                "入账时长不能超过冻结时长。",
                code="post_exceeds_hold",
            )
        target = to_account_id if to_account_id is not None else credit.account_id  # type: ignore[attr-defined]
        return Plan(
            legs=[
                Leg(debit.account_id, int(-debit.amount), Phase.RELEASE),  # type: ignore[attr-defined]
                Leg(credit.account_id, int(-credit.amount), Phase.RELEASE),  # type: ignore[attr-defined]
                Leg(debit.account_id, -amount, Phase.POSTED),  # type: ignore[attr-defined]
                Leg(target, amount, Phase.POSTED),
            ],
            resolves_id=held.id,
            ref_type=held.ref_type,
            ref_id=held.ref_id,
        )

    request = {"hold": reserve_id, "to": to_account_id, "minutes": minutes}
    return await write(kind=TxnKind.POST, key=key, request=request, plan=plan, actor_id=actor_id)


async def _release(
    kind: TxnKind, reserve_id: int, key: str, actor_id: int | None, reason: str
) -> Posted:
    async def plan() -> Plan:
        held, legs = await _open_hold(reserve_id)
        return Plan(
            legs=[Leg(e.account_id, int(-e.amount), Phase.RELEASE) for e in legs],  # type: ignore[attr-defined]
            resolves_id=held.id,
            ref_type=held.ref_type,
            ref_id=held.ref_id,
        )

    return await write(
        kind=kind,
        key=key,
        request={"hold": reserve_id},
        plan=plan,
        actor_id=actor_id,
        reason=_reason(reason),
    )


async def void(*, reserve_id: int, key: str, actor_id: int | None, reason: str = "") -> Posted:
    """Give held hours back (the booking was cancelled)."""
    return await _release(TxnKind.VOID, reserve_id, key, actor_id, reason)


async def expire(*, reserve_id: int, key: str, actor_id: int | None = None) -> Posted:
    """Give held hours back because the booking was never served."""
    return await _release(TxnKind.EXPIRE, reserve_id, key, actor_id, "expired")


async def reverse(*, txn_id: int, key: str, actor_id: int, reason: str) -> Posted:
    """Undo a posted transaction with its mirror image; at most once, reason required."""
    reason = _reason(reason, required=True)

    async def plan() -> Plan:
        original = await LedgerTxn.get_or_none(id=txn_id)
        if original is None:
            raise NotFound(
                f"There is no transaction number {txn_id}.",
                f"找不到编号为 {txn_id} 的交易。",
                code="txn_not_found",
            )
        if original.kind in NOT_REVERSIBLE:
            raise Conflict(
                f"A {original.kind.value} transaction cannot be reversed"
                + (" (void the hold instead)." if original.kind is TxnKind.RESERVE else "."),
                "该类交易不能冲正"
                + ("（请取消冻结）。" if original.kind is TxnKind.RESERVE else "。"),
                code="not_reversible",
            )
        if await LedgerTxn.exists(reverses_id=txn_id):
            raise Conflict(
                f"Transaction {txn_id} has already been reversed.",
                f"交易 {txn_id} 已经冲正过。",
                code="already_reversed",
            )
        legs = await Entry.filter(txn_id=txn_id, phase=Phase.POSTED).order_by("seq")
        return Plan(
            legs=[Leg(e.account_id, int(-e.amount), Phase.POSTED) for e in legs],  # type: ignore[attr-defined]
            reverses_id=txn_id,
            ref_type=original.ref_type,
            ref_id=original.ref_id,
        )

    return await write(
        kind=TxnKind.REVERSAL,
        key=key,
        request={"txn": txn_id},
        plan=plan,
        actor_id=actor_id,
        reason=reason,
    )


async def balance(account_id: int) -> Balance:
    """The account's balances from its cached totals: one row, however long the history."""
    account = await Account.get_or_none(id=account_id)
    if account is None:
        raise NotFound(
            f"There is no account number {account_id}.",
            f"找不到编号为 {account_id} 的账户。",
            code="account_not_found",
        )
    return Balance(
        account_id=account.id,
        posted=account.posted_balance,
        pending_debits=int(account.pending_debits),
        pending_credits=int(account.pending_credits),
        available=account.available,
        floor=account.floor,
        cap=account.cap,
    )


async def create_checkpoint(*, actor_id: int | None, note: str = "") -> Checkpoint:
    """Record the current chain head so that it can be printed or published."""
    head = await ChainHead.get(id=1)
    return await Checkpoint.create(
        seq=head.seq, hash=head.hash, created_by_id=actor_id, note=_reason(note)[:200]
    )


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint as exported: enough to check the chain against it later."""
    return {
        "ledger": "timebank",
        "seq": int(checkpoint.seq),
        "hash": checkpoint.hash,
        "created_at": checkpoint.created_at.isoformat(),
        "note": checkpoint.note,
    }
