"""Which accounts a ledger operation touches: wallets and community accounts.

Accounts are looked up before the ledger lock (they are never deleted, so an id found is
an id that stays) and opened under it when missing, so two requests cannot open one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from timebank.db.steps import Steps, run
from timebank.ledger.models import Account, AccountKind
from timebank.ledger.steps import (
    AccountSpec,
    LockHead,
    PrepareSteps,
    find_account,
    member_community,
    open_account,
)


def _opening(spec: AccountSpec) -> Steps[int]:
    # Opened under the ledger lock, like every write: two requests cannot both open one.
    yield LockHead("")
    return (yield from open_account(spec))


async def wallet(member_id: int, *, floor: int = 0, cap: int | None = None) -> Account:
    """The member's wallet, opened (with ``floor`` and ``cap``) on first use."""
    found = await Account.get_or_none(member_id=member_id, kind=AccountKind.WALLET)
    if found is not None:
        return found
    spec = AccountSpec(AccountKind.WALLET, member_id=member_id, floor=floor, cap=cap)
    return await Account.get(id=await run(_opening(spec)))


async def community_account(
    community_id: int, kind: AccountKind, *, budget: int | None = None
) -> Account:
    """A community's system account; the issuance fund may go ``budget`` minutes negative."""
    if kind is AccountKind.WALLET:
        raise ValueError("wallets belong to members")
    found = await Account.get_or_none(community_id=community_id, kind=kind, member_id=None)
    if found is not None:
        return found
    floor = -budget if (kind is AccountKind.ISSUANCE and budget is not None) else None
    if kind is AccountKind.POOL:
        floor = 0  # donated hours only: the pool never goes below empty
    spec = AccountSpec(kind, community_id=community_id, floor=floor)
    return await Account.get(id=await run(_opening(spec)))


def fund(community_id: int) -> AccountSpec:
    return AccountSpec(AccountKind.ISSUANCE, community_id=community_id, floor=None)


def pool(community_id: int) -> AccountSpec:
    return AccountSpec(AccountKind.POOL, community_id=community_id, floor=0)


def sink(community_id: int) -> AccountSpec:
    return AccountSpec(AccountKind.REDEMPTION, community_id=community_id, floor=None)


def wallet_spec(member_id: int) -> AccountSpec:
    return AccountSpec(AccountKind.WALLET, member_id=member_id)


def prepare_accounts(*specs: AccountSpec | Callable[[], Steps[AccountSpec]]) -> PrepareSteps:
    """Look the accounts up before the lock; the plan opens the missing ones under it."""

    def steps() -> Steps[tuple[Any, tuple[int, ...]]]:
        found: list[tuple[AccountSpec, int | None]] = []
        for spec in specs:
            if not isinstance(spec, AccountSpec):
                spec = yield from spec()
            found.append((spec, (yield from find_account(spec))))
        return found, tuple(i for _, i in found if i is not None)

    return steps


def opened(prepared: list[tuple[AccountSpec, int | None]]) -> Steps[list[int]]:
    ids = []
    for spec, found in prepared:
        ids.append(found if found is not None else (yield from open_account(spec)))
    return ids


def sink_of(member_id: int) -> Steps[AccountSpec]:
    return sink((yield from member_community(member_id)))


async def set_fund_budget(*, community_id: int, minutes: int | None) -> None:
    """The most the community fund (兜底) may ever hand out: its floor is minus the budget;
    None: no limit. A grant or a funded visit beyond it is refused (budget_exhausted)."""
    fund_account = await community_account(community_id, AccountKind.ISSUANCE)
    await Account.filter(id=fund_account.id).update(floor=None if minutes is None else -minutes)
