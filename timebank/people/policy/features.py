"""Who may see and do what in each feature: visits, orders, pairing, redeem, the ledger
and rating. See ``policy/__init__``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from timebank.errors import Forbidden
from timebank.ledger import service as ledger
from timebank.ledger.models import Entry
from timebank.ledger.queries import AccountView
from timebank.people.auth import SignedIn
from timebank.people.models import Member, Role

if TYPE_CHECKING:  # the features build on people: their records are only named here
    from timebank.orders.models import Order
    from timebank.pairing.models import Pairing
    from timebank.visits.models import Visit


from timebank.people.policy.core import (
    acts_for,
    can_manage_member,
    can_view_account,
    coordinates,
    coordinates_any,
    is_family,
    own_or_family,
    own_or_family_of,
    require,
)

# Visits ------------------------------------------------------------------------------------


def require_helper(who: SignedIn) -> None:
    """Refuse a check-in or check-out by anyone but a helper, before reading the request."""
    if not who.has(Role.HELPER):
        raise Forbidden(
            "Only a helper can check in a visit. Please sign in with a helper's account.",
            "只有帮扶人/志愿者可以扫码签到，请用帮扶人账号登录。",
            code="not_a_helper",
        )


async def can_see_visit(who: SignedIn, visit: Visit) -> bool:
    """The helper, the resident, family she lets act for her, or a coordinator."""
    if who.member.id in (visit.helper_id, visit.resident_id):
        return True
    if coordinates(who, visit.community_id):
        return True
    return await acts_for(relative=who.member.id, of=visit.resident_id)


def can_review_visit(who: SignedIn, visit: Visit) -> bool:
    """Approve, adjust or reject a flagged visit: a coordinator of its community."""
    return coordinates(who, visit.community_id)


# Orders ------------------------------------------------------------------------------------


def can_see_order(who: SignedIn, order: Order) -> bool:
    """The resident, the helper, whoever placed it, a coordinator, or any helper of the
    community while open."""
    if who.member.id in (order.resident_id, order.helper_id, order.placed_by_id):
        return True
    if coordinates(who, order.community_id):
        return True
    return (
        order.status.value == "open"
        and who.has(Role.HELPER)
        and who.member.community_id == order.community_id
    )


def can_move_order(who: SignedIn, order: Order, action: str) -> bool:
    """Take (any helper), release (its helper), cancel (its resident or whoever placed it);
    a coordinator of its community any of these, and alone assign or mark no-show."""
    coordinator = coordinates(who, order.community_id)
    if action == "take":
        return who.has(Role.HELPER)
    if action == "release":
        return coordinator or who.member.id == order.helper_id
    if action == "cancel":
        return coordinator or who.member.id in (order.resident_id, order.placed_by_id)
    return coordinator


def is_helper(who: SignedIn) -> bool:
    """A helper: sees their tasks (today's and the week's) and takes open orders."""
    return who.has(Role.HELPER)


def orders_for_self(who: SignedIn) -> bool:
    """A resident, who orders services for themself."""
    return who.has(Role.RESIDENT)


def gives_or_gets_services(who: SignedIn) -> bool:
    """A helper or a resident: someone with visits of their own."""
    return who.has(Role.HELPER) or who.has(Role.RESIDENT)


def can_order(who: SignedIn) -> bool:
    """Order services at all: a resident (for themself) or a coordinator (for residents)."""
    return who.has(Role.RESIDENT) or coordinates_any(who)


async def can_order_for(who: SignedIn, resident: Member, *, on_behalf: bool, funded: bool) -> bool:
    """Place an order for ``resident``: oneself, or ``on_behalf`` of a resident one manages
    or acts for (family with her consent); only a coordinator of the resident's community
    may have the community fund pay (兜底)."""
    if on_behalf and not (
        await acts_for(relative=who.member.id, of=resident.id)
        or await can_manage_member(who, resident)
    ):
        return False
    return not funded or coordinates(who, resident.community_id)


# Pairing -----------------------------------------------------------------------------------


def can_see_pairing(who: SignedIn, pairing: Pairing) -> bool:
    """The helper, the resident, or a coordinator of the pairing's community."""
    if who.member.id in (pairing.helper_id, pairing.resident_id):
        return True
    return can_manage_pairing(who, pairing)


def can_manage_pairing(who: SignedIn, pairing: Pairing) -> bool:
    """Approve, reject, suspend, resume, end, plan: a coordinator of its community."""
    return coordinates(who, pairing.community_id)


def can_propose_pairing(who: SignedIn, helper: Member, resident: Member) -> bool:
    """A coordinator of the resident, or a helper asking to serve them."""
    asks_for_self = helper.id == who.member.id and who.has(Role.HELPER)
    return coordinates(who, resident.community_id) or asks_for_self


# redeem: the catalogue, redemptions and hand-over, donations, grants --------------------------


def can_see_catalogs(who: SignedIn, community_id: int) -> bool:
    """A community's catalogues (its services, what its hours buy): its members, and its
    coordinators."""
    return who.member.community_id == community_id or coordinates(who, community_id)


async def can_spend_for(who: SignedIn, member: Member) -> bool:
    """Spend ``member``'s hours "on their behalf": whoever manages the member, or family
    the member lets act for them."""
    if await acts_for(relative=who.member.id, of=member.id):
        return True
    return await can_manage_member(who, member)


async def spends_on_own(
    person: int | None, beneficiary: int, *, on_behalf: bool, member: int | None = None
) -> bool:
    """Someone spending a member's hours on behalf of them, for themselves or their own
    family: refused, whatever their role. Family the ``member`` lets act for them may spend
    her hours on her, and on nobody else."""
    if not on_behalf:
        return False
    if beneficiary == member and await acts_for(relative=person, of=beneficiary):
        return False
    return await own_or_family(person, beneficiary)


async def can_hand_over(person: int | None, *, member: int, beneficiary: int) -> bool:
    """Hand a redemption's goods over (核销): never to oneself or one's family, whether they
    paid for them or receive them."""
    for one in (member, beneficiary):
        if await own_or_family(person, one):
            return False
    return True


def redeemed_it(person: int | None, *, spent_by: int | None, on_behalf: bool) -> bool:
    """Whether ``person`` spent the member's hours on these goods on their behalf: then
    someone else hands them over, or one person alone would turn a member's hours into
    goods in their own hands."""
    return on_behalf and person == spent_by


async def grant_needs_review(
    person: int | None, *, member: int, minutes: int, review_minutes: int | None
) -> bool:
    """Whether a grant waits for a second coordinator: above the community's review size,
    and always when it is for the granting coordinator or her family."""
    large = review_minutes is not None and minutes > review_minutes
    return large or await own_or_family(person, member)


def requested_it(person: int | None, *, requested_by: int) -> bool:
    """Whether ``person`` asked for the grant: someone else must decide it (four eyes)."""
    return person == requested_by


# ledger ---------------------------------------------------------------------------------


async def viewable_account(who: SignedIn, account_id: int) -> AccountView:
    """Account ``account_id`` with its balance: a 404 when there is none, a 403 unless it is
    ``who``'s own or in a community ``who`` coordinates."""
    view = await ledger.account(account_id)
    require(can_view_account(who, member_id=view.member_id, community_id=view.community_id))
    return view


async def require_transaction_view(who: SignedIn, entries: Iterable[Entry]) -> None:
    """A 403 unless ``who`` may see one of the accounts a transaction touches."""
    views = [await ledger.account(e.account_id) for e in entries]
    require(
        any(
            can_view_account(who, member_id=v.member_id, community_id=v.community_id) for v in views
        )
    )


async def require_reversal_rights(who: SignedIn, txn_id: int) -> None:
    """Only a coordinator of every community the transaction touches may reverse it, and
    never one whose own (or whose family's) wallet it touches: giving back one's own
    spent hours would be minting them alone."""
    _, entries = await ledger.transaction(txn_id)
    accounts = [await ledger.account(e.account_id) for e in entries]
    require(all(coordinates(who, a.community_id) for a in accounts))
    owners = {a.member_id for a in accounts if a.member_id is not None}
    if owners:
        require(not await own_or_family_of(who, owners))


# Visits: rating ------------------------------------------------------------------------


async def may_rate_visit(who: SignedIn, visit: Visit) -> bool:
    """Whether ``who`` may rate the visit (see ``may_rate``)."""
    return await may_rate(who.member.id, helper=visit.helper_id, resident=visit.resident_id)


async def may_rate(person: int | None, *, helper: int, resident: int) -> bool:
    """Whether ``person`` may rate (and so confirm) a visit ``helper`` gave ``resident``:
    the resident, or family she lets act for her; never whoever served it, nor (unless
    they are the resident) the helper's family - the hours are theirs."""
    if person is None or person == helper:
        return False
    if person == resident:
        return True
    return await acts_for(relative=person, of=resident) and not await is_family(
        relative=person, of=helper
    )


__all__ = [
    "require_helper",
    "can_see_visit",
    "can_review_visit",
    "can_see_order",
    "can_move_order",
    "is_helper",
    "orders_for_self",
    "gives_or_gets_services",
    "can_order",
    "can_order_for",
    "can_see_pairing",
    "can_manage_pairing",
    "can_propose_pairing",
    "can_see_catalogs",
    "can_spend_for",
    "spends_on_own",
    "can_hand_over",
    "redeemed_it",
    "grant_needs_review",
    "requested_it",
    "viewable_account",
    "require_transaction_view",
    "require_reversal_rights",
    "may_rate_visit",
    "may_rate",
]
