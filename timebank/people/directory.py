"""The member directory as coordinators read it: search, a page of summaries (two queries
for the whole page), and one member's record with profiles and family."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q

from timebank import inputs
from timebank.people.models import (
    FamilyLink,
    Hardship,
    HelperProfile,
    Member,
    MemberRole,
    ResidentProfile,
    Role,
)


@dataclass
class MemberPage:
    members: list[Member]
    total: int


async def search(
    communities: set[int] | None,
    *,
    q: str = "",
    role: str = "",
    hardship: str = "",
    limit: int = 50,
    offset: int = 0,
) -> MemberPage:
    """Members of ``communities`` (None: all) matching the filters, by community and number."""
    query = Member.all()
    if communities is not None:
        query = query.filter(community_id__in=sorted(communities))
    q = q.strip()
    if q:
        match = Q(name__icontains=q) | Q(phone__contains=q)
        # member_no holds at most 12 characters: a longer text cannot be one (and tortoise
        # refuses to compare it, which was a 500).
        if q.isascii() and q.isdigit() and len(q) <= 12:
            match |= Q(member_no=q.zfill(4))
        query = query.filter(match)
    if role:
        query = query.filter(roles__role=inputs.choice(role, "role", Role).value)
    if hardship:
        code = inputs.choice(hardship, "hardship", Hardship).value
        query = query.filter(resident_profile__hardship__contains=code)
    query = query.distinct()
    total = await query.count()
    members = await query.order_by("community_id", "member_no").offset(offset).limit(limit)
    return MemberPage(members, total)


# What every answer about a member starts with: key → the member's attribute.
CARD = (("id", "id"), ("name", "name"), ("phone", "phone"), ("member_no", "member_no"))


def card(member: Member) -> dict[str, Any]:
    """Who a member is, as every answer about them starts."""
    return {key: getattr(member, attr) for key, attr in CARD} | {"community": member.community_id}


def _summary(member: Member, roles: list[str]) -> dict[str, Any]:
    return {
        **card(member),
        "active": member.is_active,
        "roles": sorted(set(roles)),
        "birth_date": member.birth_date.isoformat() if member.birth_date else None,
        "has_password": bool(member.password_hash),
    }


async def summaries(found: list[Member]) -> list[dict[str, Any]]:
    """Members for a list, with their roles and hardship: two queries for the whole page."""
    ids = [m.id for m in found]
    roles: dict[int, list[str]] = {i: [] for i in ids}
    for member_id, role in await MemberRole.filter(member_id__in=ids).values_list(
        "member_id", "role"
    ):
        roles[int(member_id)].append(str(role))
    hardship = dict(
        await ResidentProfile.filter(member_id__in=ids).values_list("member_id", "hardship")
    )
    return [
        {**_summary(m, roles[m.id]), "hardship": _split(str(hardship.get(m.id) or ""))}
        for m in found
    ]


async def member_json(member: Member, *, full: bool = True) -> dict[str, Any]:
    """A member as the API shows them (``full``: with profiles and family)."""
    roles = await MemberRole.filter(member=member).values_list("role", flat=True)
    data = _summary(member, [str(r) for r in roles])
    if not full:
        return data
    data.update(
        address=member.address,
        lat=member.lat,
        lon=member.lon,
        languages=member.languages,
        consent=member.consent_at is not None,
    )
    resident = await ResidentProfile.get_or_none(member=member)
    data["resident"] = None if resident is None else _resident_json(resident)
    helper = await HelperProfile.get_or_none(member=member)
    data["helper"] = None if helper is None else _helper_json(helper)
    links = await FamilyLink.filter(member=member).prefetch_related("relative").order_by("id")
    data["family"] = [
        {
            "id": link.id,
            "relative": link.relative.id,
            "name": link.relative.name,
            "relation": link.relation.value,
            "consent": link.consent_at is not None,
        }
        for link in links
    ]
    return data


def _split(value: str) -> list[str]:
    return [v for v in value.split(",") if v]


def _resident_json(resident: ResidentProfile) -> dict[str, Any]:
    listed = {"hardship": _split(resident.hardship), "needs": _split(resident.needs)}
    return {"care_level": resident.care_level.value, **listed} | {
        name: getattr(resident, name)
        for name in ("visit_every_days", "emergency_name", "emergency_phone", "notes")
    }


def _helper_json(helper: HelperProfile) -> dict[str, Any]:
    fen = helper.hourly_rate_fen
    return {
        "kind": helper.kind.value,
        "hourly_rate": None if fen is None else f"{Decimal(fen) / 100:.2f}",
        "skills": _split(helper.skills),
        "capacity": helper.capacity,
        "availability": helper.availability,
    }
