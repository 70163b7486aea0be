"""Which helpers suit a resident, best first, and why.

A score adds up what a coordinator would weigh: skills that match the resident's needs
(the most), how near the helper lives (when both locations are known), free capacity,
a shared language, and past ratings (once visits are rated). Each part that counted is
kept as a reason, so the page can say *why* a helper is suggested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from timebank.geo import metres_between
from timebank.pairing.models import Pairing, PairingStatus
from timebank.pairing.service import ACTIVE
from timebank.people.models import HelperProfile, Member, MemberRole, ResidentProfile, Role

SKILL_WEIGHT = 3.0
DISTANCE_WEIGHT = 2.0
CAPACITY_WEIGHT = 1.0
LANGUAGE_WEIGHT = 0.5


@dataclass
class Suggestion:
    """A candidate helper, their score and the reasons behind it."""

    helper: Member
    score: float
    free: int
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "helper": self.helper.id,
            "name": self.helper.name,
            "score": round(self.score, 3),
            "free": self.free,
            "reasons": self.reasons,
        }


def km_between(a: Member, b: Member) -> float | None:
    """Great-circle distance in km, when both have a location."""
    if None in (a.lat, a.lon, b.lat, b.lon):
        return None
    return metres_between(a.lat, a.lon, b.lat, b.lon) / 1000  # type: ignore[arg-type]


def _codes(text: str) -> set[str]:
    return {c.strip() for c in text.replace("，", ",").split(",") if c.strip()}


async def suggest(resident: Member, *, limit: int = 10) -> list[Suggestion]:
    """Helpers of the resident's community who could take them on, best first."""
    profile = await ResidentProfile.get_or_none(member=resident)
    needs = _codes(profile.needs) if profile else set()
    helper_ids = await MemberRole.filter(
        role=Role.HELPER,
        member__community_id=resident.community_id,
    ).values_list("member_id", flat=True)
    helpers = await Member.filter(id__in=list(helper_ids), is_active=True).exclude(id=resident.id)
    if not helpers:
        return []
    ids = [h.id for h in helpers]
    profiles = {p.member_id: p for p in await HelperProfile.filter(member_id__in=ids)}
    busy: dict[int, int] = {}
    serving = Pairing.filter(helper_id__in=ids, status=PairingStatus.APPROVED)
    for helper_id in await serving.values_list("helper_id", flat=True):
        busy[int(str(helper_id))] = busy.get(int(str(helper_id)), 0) + 1
    paired = Pairing.filter(resident=resident, status__in=ACTIVE)
    already = {int(str(i)) for i in await paired.values_list("helper_id", flat=True)}
    languages = _codes(resident.languages)
    found: list[Suggestion] = []
    for helper in helpers:
        if helper.id in already:
            continue
        hp = profiles.get(helper.id)
        capacity = hp.capacity if hp else 3
        free = capacity - busy.get(helper.id, 0)
        if free <= 0:
            continue
        s = Suggestion(helper, 0.0, free)
        skills = _codes(hp.skills) if hp else set()
        matched = sorted(needs & skills)
        if needs:
            s.score += SKILL_WEIGHT * len(matched) / len(needs)
        if matched:
            s.reasons.append({"reason": "skills", "services": matched})
        km = km_between(resident, helper)
        if km is not None:
            s.score += DISTANCE_WEIGHT / (1 + km)
            s.reasons.append({"reason": "distance", "km": round(km, 1)})
        s.score += CAPACITY_WEIGHT * min(free, 3) / 3
        s.reasons.append({"reason": "free", "count": free})
        shared = sorted(languages & _codes(helper.languages))
        if shared:
            s.score += LANGUAGE_WEIGHT
            s.reasons.append({"reason": "language", "languages": shared})
        found.append(s)
    found.sort(key=lambda s: (-s.score, s.helper.id))
    return found[:limit]
