"""Who may see and do what, the part every feature shares: roles and rank, communities,
family and the people pages, and family acting for an elder. See ``policy/__init__``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from timebank import inputs
from timebank.errors import Forbidden, NotFound, TimebankError
from timebank.people.auth import SignedIn
from timebank.people.models import Community, FamilyLink, Level, Member, MemberRole, Role

if TYPE_CHECKING:  # the features build on people: their records are only named here
    pass


def is_admin(who: SignedIn) -> bool:
    """District-wide administrator."""
    return who.has(Role.ADMIN)


def coordinates(who: SignedIn, community_id: int | None) -> bool:
    """Whether ``who`` coordinates ``community_id`` (admins coordinate everywhere)."""
    if is_admin(who):
        return True
    return community_id is not None and (Role.COORDINATOR, community_id) in who.roles


def coordinated_communities(who: SignedIn) -> set[int] | None:
    """The communities ``who`` coordinates; None means all (an admin)."""
    if is_admin(who):
        return None
    return {c for role, c in who.roles if role is Role.COORDINATOR and c is not None}


async def communities_of(who: SignedIn) -> list[Community]:
    """The communities (community level) ``who`` coordinates, by id; an admin: all."""
    scope = coordinated_communities(who)
    query = Community.filter(level=Level.COMMUNITY)
    if scope is not None:
        query = query.filter(id__in=sorted(scope))
    return list(await query.order_by("id"))


def coordinates_any(who: SignedIn) -> bool:
    """Whether ``who`` coordinates at least one community (or is an admin)."""
    return coordinated_communities(who) != set()


def can_view_account(who: SignedIn, *, member_id: int | None, community_id: int) -> bool:
    """Own wallet, or any account of a community one coordinates."""
    return member_id == who.member.id or coordinates(who, community_id)


def require(allowed: bool) -> None:
    """A 403 unless ``allowed``."""
    if not allowed:
        raise Forbidden(
            "You may not see or change this record.",
            "您无权查看或修改此记录。",
            code="forbidden",
        )


async def can_view_member(who: SignedIn, member: Member) -> bool:
    """Oneself, a member of a community one coordinates, or a resident one serves (a
    helper paired with them or assigned to their order)."""
    if member.id == who.member.id or coordinates(who, member.community_id):
        return True
    from timebank.orders.service import serves  # orders imports people: import late

    return who.has(Role.HELPER) and await serves(who.member.id, member.id)


# Rank: an admin is above every coordinator (community, sub-district or district alike),
# a coordinator above helpers and residents. Nobody manages someone of their own rank or
# higher: that is how a coordinator would take over the admin or another coordinator.
RANK = {Role.RESIDENT: 0, Role.HELPER: 0, Role.COORDINATOR: 1, Role.ADMIN: 2}


def rank_of(roles: Iterable[Role]) -> int:
    """The highest rank among ``roles`` (0 with none)."""
    return max((RANK[role] for role in roles), default=0)


def outranks(who: SignedIn, member: Member, member_roles: Iterable[Role]) -> bool:
    """Whether ``who`` may manage ``member``, who holds ``member_roles``: never oneself
    (one's own account is changed under /me), only in a community ``who`` coordinates,
    and only someone whose every role is below ``who``'s highest."""
    if member.id == who.member.id or not coordinates(who, member.community_id):
        return False
    return rank_of(role for role, _ in who.roles) > rank_of(member_roles)


async def can_manage_member(who: SignedIn, member: Member) -> bool:
    """Edit, deactivate, re-phone, reset, issue sign-in codes for, link the family of, act
    for: a coordinator for helpers and residents of their communities, an admin for
    coordinators too. Another admin is changed by the server's command line only."""
    if not coordinates_any(who) or member.id == who.member.id:
        return False
    roles = await MemberRole.filter(member_id=member.id).values_list("role", flat=True)
    return outranks(who, member, (Role(str(r)) for r in roles))


async def can_take_over(
    who: SignedIn, member: Member, changes: dict[str, object], *, code: bool = False
) -> bool:
    """Issue a sign-in code for, set the password of or re-phone ``member`` (``changes``:
    the fields asked for, or ``code``): not one's own family, whose account
    one would then use to move their hours to oneself, alone."""
    if not await can_manage_member(who, member):
        return False
    from timebank.people.service import normalize_phone  # service builds on policy

    phone = changes.get("phone")
    try:
        same_phone = phone is None or normalize_phone(str(phone)) == member.phone
    except TimebankError:
        same_phone = False
    takes = code or bool(changes.get("password")) or not same_phone
    return not takes or not await own_or_family_of(who, [member.id])


async def can_unlink_family(who: SignedIn, link: FamilyLink) -> bool:
    """Remove a family link: only someone who manages both its members, as to add one (a
    coordinator who unlinked herself from her mother could then grant her hours alone)."""
    ids = (link.member_id, link.relative_id)
    found = {m.id: m for m in await Member.filter(id__in=ids)}
    for member_id in ids:
        if member_id not in found or not await can_manage_member(who, found[member_id]):
            return False
    return True


async def can_set_pin(who: SignedIn, resident: Member) -> bool:
    """Set the PIN a resident types to confirm visits: someone who manages the resident and
    neither serves them nor has family who does (or they would confirm their own visits)."""
    from timebank.orders.service import serves  # orders imports people: import late

    if not await can_manage_member(who, resident):
        return False
    family = await FamilyLink.filter(relative_id=who.member.id).values_list("member_id", flat=True)
    for helper_id in {who.member.id, *(int(str(i)) for i in family)}:
        if await serves(helper_id, resident.id):
            return False
    return True


def can_manage_community(who: SignedIn, community_id: int) -> bool:
    """Register members into, import into, change settings of, read the audit log of."""
    return coordinates(who, community_id)


def can_change_safeguards(who: SignedIn) -> bool:
    """The grant review size, the four-eyes rule and the fund budget: an admin only, or
    one coordinator could lift the limits on the hours she grants."""
    return is_admin(who)


async def is_family(*, relative: int, of: int) -> bool:
    """Whether member ``relative`` is linked as family of member ``of`` (a son of his mother:
    ``is_family(relative=son, of=mother)``). The one place this question is asked."""
    return await FamilyLink.exists(member_id=of, relative_id=relative)


async def own_or_family(person: int | None, member: int) -> bool:
    """Whether ``person`` is ``member`` or linked family of ``member``: such a person may
    not decide alone about ``member``'s hours (grant, approve, hand over)."""
    if person is None:
        return False
    return person == member or await is_family(relative=person, of=member)


async def own_or_family_of(who: SignedIn, member_ids: Iterable[int]) -> bool:
    """Whether ``who`` is one of ``member_ids`` or linked family of one: then ``who`` may
    not decide alone about their hours (reverse, grant, approve, hand over)."""
    ids = set(member_ids)
    if who.member.id in ids:
        return True
    return await FamilyLink.exists(member_id__in=sorted(ids), relative_id=who.member.id)


def visible_communities(who: SignedIn) -> set[int] | None:
    """Whose members ``who`` may list: None means all (an admin), else coordinated ones."""
    return coordinated_communities(who)


def community_asked(who: SignedIn, raw: str | None) -> int:
    """The community a coordinator's page is about: ``?community=ID``, else their own;
    refused unless they coordinate it."""
    if not raw:
        community_id = int(who.member.community_id)
    else:  # "²" passes str.isdigit and 25 digits pass int(): neither is a stored id
        asked = inputs.id_or_none(raw)
        if asked is None:
            raise NotFound(
                "There is no such community.", "找不到该社区。", code="community_not_found"
            )
        community_id = asked
    require(coordinates(who, community_id))
    return community_id


def require_coordinator(who: SignedIn) -> None:
    """A 403 unless ``who`` coordinates somewhere (or is an admin)."""
    require(coordinates_any(who))


# People: member lists, communities, the audit log -------------------------------------


def coordinated_scope(who: SignedIn, community: int | None) -> set[int] | None:
    """The communities a coordinator's member list or audit log covers: ``community``
    when asked for (refused unless they coordinate it), else every one they coordinate
    (None: all, an admin); a 403 for someone who coordinates nothing."""
    require_coordinator(who)
    if community is None:
        return visible_communities(who)
    require(can_manage_community(who, community))
    return {community}


def communities_seen(who: SignedIn) -> set[int] | None:
    """The communities whose settings ``who`` may read: their own, and the ones they
    coordinate (None: all, an admin)."""
    scope = visible_communities(who)
    return None if scope is None else scope | {who.member.community_id}


def can_view_community(who: SignedIn, community_id: int) -> bool:
    """Read a community's settings: its members, and its coordinators."""
    return community_id == who.member.community_id or can_manage_community(who, community_id)


# Family acting for an elder ------------------------------------------------------------
# A linked relative acts for an elder (sees her visits, hours and orders; orders, books and
# rates for her) only once her consent is recorded on the link (``FamilyLink.consent_at``).
# The conflict checks above (``is_family``, ``own_or_family``) ignore consent on purpose:
# a relative is family whether or not they may act.


async def acts_for(*, relative: int | None, of: int) -> bool:
    """Whether member ``relative`` is linked family of member ``of`` with ``of``'s consent
    recorded that they act for them (never oneself)."""
    if relative is None or relative == of:
        return False
    return await FamilyLink.exists(member_id=of, relative_id=relative, consent_at__isnull=False)


async def elder_asked(who: SignedIn, raw: str | None) -> Member | None:
    """The member a resident page is about when family acts for them (``?for=ID``): None
    when not asked (or oneself), a 404 when no member has that id, a 403 unless ``who``
    acts for them."""
    if raw is None or raw == "":
        return None
    asked = inputs.id_or_none(raw)
    member = None if asked is None else await Member.get_or_none(id=asked)
    if member is None:
        raise NotFound("There is no such member.", "找不到该成员。", code="member_not_found")
    if member.id == who.member.id:
        return None
    require(await acts_for(relative=who.member.id, of=member.id))
    return member


async def can_record_family_consent(who: SignedIn, link: FamilyLink) -> bool:
    """Record or withdraw a member's consent that a linked relative acts for them: the
    member themself, or someone who manages the member and is neither of the two nor
    family of either (or a coordinator would let herself, or her family, act alone)."""
    if who.member.id == link.member_id:
        return True
    member = await Member.get_or_none(id=link.member_id)
    if member is None or not await can_manage_member(who, member):
        return False
    return not await own_or_family_of(who, [link.member_id, link.relative_id])


__all__ = [
    "is_admin",
    "coordinates",
    "coordinated_communities",
    "communities_of",
    "coordinates_any",
    "can_view_account",
    "require",
    "can_view_member",
    "rank_of",
    "outranks",
    "can_manage_member",
    "can_take_over",
    "can_unlink_family",
    "can_set_pin",
    "can_manage_community",
    "can_change_safeguards",
    "is_family",
    "own_or_family",
    "own_or_family_of",
    "visible_communities",
    "community_asked",
    "require_coordinator",
    "coordinated_scope",
    "communities_seen",
    "can_view_community",
    "acts_for",
    "elder_asked",
    "can_record_family_consent",
    "RANK",
]
