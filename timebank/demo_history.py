"""Three months of service for the demo, up to yesterday, so every report and chart has
figures on a fresh ``timebank serve --demo``.

Written in time order, through the same functions as the live service: each verified visit
is credited by ``visits.credit`` and each redemption goes through ``redeem.redeem``, with
the ledger's clock set to the moment it happened (``ledger.steps.recorded_at``), so the
chain is valid and the hours fall in the month they were earned. Two residents living
alone are left unvisited for the last ten days or so: the safety net has someone to show.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from timebank import calendar
from timebank.people.audit import Actor
from timebank.people.models import Community, Level, Member

# Minutes a service usually takes, by service (the demo draws from these).
LENGTHS = {
    "meal_delivery": (20, 25, 30, 35),
    "meal_help": (45, 60),
    "cleaning": (60, 90, 120),
    "companionship": (45, 60, 90),
    "medical": (90, 120, 150),
    "bathing": (45, 60),
    "visit": (30, 45),
    "haircut": (30,),
}
DAYS = 91
HISTORY = "history-"  # the check-in event ids of history visits start with this


@dataclass(frozen=True)
class Planned:
    """One visit of the history."""

    start: datetime
    resident: Member
    helper: Member
    code: str
    minutes: int
    rating: int | None
    pairing_id: int | None = None


async def load_history(*, tz: ZoneInfo, days: int = DAYS) -> None:
    """The demo's last ``days`` days of visits, hours and redemptions, once.

    Long on purpose: the days are written in order, as the service would have.
    """
    from timebank.ledger.steps import recorded_at
    from timebank.pairing.models import Pairing, PairingStatus
    from timebank.people.models import ResidentProfile
    from timebank.visits import service as visits
    from timebank.visits.models import Visit, VisitStatus

    if await Visit.exists(in_event__startswith=HISTORY):
        return
    rng = random.Random(2026)
    today = calendar.local_today(tz)
    first = today - timedelta(days=days)
    plan: list[Planned] = []
    for community in await Community.filter(level=Level.COMMUNITY).order_by("id"):
        people = (
            await Member.filter(
                community=community,
                phone__startswith="1380",
                roles__role__in=["resident", "helper"],
            )
            .order_by("phone")
            .distinct()
        )
        profiles = {
            p.member_id: p
            for p in await ResidentProfile.filter(member_id__in=[m.id for m in people])
        }
        # Everyone with a resident profile but 陈秀英 (below); the generated helpers, paid
        # ones too (outside their paired hours they volunteer like anyone).
        residents = [m for m in people if m.id in profiles and m.phone != "13800000005"]
        helpers = [m for m in people if m.phone.startswith("1380001") and m.id not in profiles]
        if not helpers:
            continue
        alone_left = 1  # one resident living alone per community is missed lately
        for n, resident in enumerate(residents):
            profile = profiles.get(resident.id)
            needs = [c for c in (profile.needs if profile else "").split(",") if c in LENGTHS]
            needs = needs or ["visit"]
            hardship = (profile.hardship if profile else "").split(",")
            stop = today
            if "alone" in hardship and alone_left:
                alone_left -= 1
                stop = today - timedelta(days=10 + community.id % 4)
            every = 2 + n % 4  # every 2 to 5 days: within the weekly frequency
            day = first + timedelta(days=n % every)
            while day < stop:
                code = needs[(day - first).days // every % len(needs)]
                helper = helpers[(n + (day - first).days // 7) % len(helpers)]
                plan.append(_planned(rng, day, first, days, resident, helper, code, tz))
                day += timedelta(days=every)
    # 陈秀英: her son brings her meals every day and cleans once a week (their pairing).
    mother = await Member.get_or_none(phone="13800000005")
    son = await Member.get_or_none(phone="13800000003")
    if mother is not None and son is not None:
        pairing = await Pairing.filter(
            helper=son, resident=mother, status=PairingStatus.APPROVED
        ).first()
        pairing_id = pairing.id if pairing else None
        # The demo's own visits cover the last five days.
        for offset in range(days, 5, -1):
            day = today - timedelta(days=offset)
            meal = _planned(rng, day, first, days, mother, son, "meal_delivery", tz, hour=11)
            plan.append(replace(meal, pairing_id=pairing_id))
            if day.weekday() == 5:
                clean = _planned(rng, day, first, days, mother, son, "cleaning", tz, hour=15)
                plan.append(replace(clean, pairing_id=pairing_id))
    # In the order the hours were credited: at each check-out.
    plan.sort(key=lambda p: (p.start + timedelta(minutes=p.minutes), p.resident.id))
    redemptions = _redemptions_by_day(first, today)
    system = Actor.system()
    for n, one in enumerate(plan):
        end = one.start + timedelta(minutes=one.minutes)
        served = max(15, round(one.minutes / 15) * 15)
        while redemptions and redemptions[0] <= end:
            await _redeem_some(redemptions.pop(0), rng, tz)
        visit = await Visit.create(
            community_id=one.resident.community_id,
            resident=one.resident,
            helper=one.helper,
            pairing_id=one.pairing_id,
            service_code=one.code,
            status=VisitStatus.VERIFIED,
            in_event=f"{HISTORY}in-{n}",
            out_event=f"{HISTORY}out-{n}",
            checked_in_at=one.start,
            received_in_at=one.start,
            checked_out_at=end,
            received_out_at=end,
            in_distance_m=10 + n % 40,
            out_distance_m=15 + n % 30,
            raw_minutes=one.minutes,
            served_minutes=served,
            credit_minutes=served,
            flags="",
            funded=True,
            rating=one.rating,
            rated_by_id=one.resident.id if one.rating else None,
            rated_at=end + timedelta(hours=2) if one.rating else None,
            confirmed_by="rating" if one.rating else "pin",
        )
        with recorded_at(lambda end=end: end + timedelta(seconds=5)):  # type: ignore[misc]
            await visits.credit(visit, system)


def _planned(
    rng: random.Random,
    day: date,
    first: date,
    days: int,
    resident: Member,
    helper: Member,
    code: str,
    tz: ZoneInfo,
    *,
    hour: int | None = None,
) -> Planned:
    """A visit on ``day``; ratings get a little better month by month (the trend chart)."""
    start = calendar.at(day, tz, time(hour if hour is not None else rng.choice((9, 10, 14, 15, 16)),
                             rng.choice((0, 10, 20, 30, 40))))  # fmt: skip
    progress = (day - first).days / days
    rating = None
    if rng.random() < 0.6:
        rating = 5 if rng.random() < 0.45 + 0.35 * progress else rng.choice((3, 4, 4, 4))
    return Planned(start, resident, helper, code, rng.choice(LENGTHS[code]), rating)


def _redemptions_by_day(first: date, today: date) -> list[datetime]:
    """Two afternoons a month when older volunteers come to the office to redeem."""
    found = []
    day = first
    while day < today:
        if day.day in (10, 25):
            found.append(datetime.combine(day, time(7, 30), tzinfo=UTC))  # 15:30 in 江城
        day += timedelta(days=1)
    return found


async def _redeem_some(at: datetime, rng: random.Random, tz: ZoneInfo) -> None:
    """Helpers old enough (and with the hours) redeem something from their community's
    catalogue on this afternoon; goods are handed over on the spot."""
    from timebank.errors import Conflict, Invalid
    from timebank.ledger.steps import recorded_at
    from timebank.people.models import MemberRole, Role
    from timebank.redeem import service as redeem
    from timebank.redeem.models import ItemKind, RedeemItem, Redemption, RedemptionStatus

    helpers = await Member.filter(
        phone__startswith="1380001", roles__role="helper", birth_date__lte=date(1966, 1, 1)
    ).order_by("phone")
    for helper in helpers:
        items = await RedeemItem.filter(
            community_id=helper.community_id,
            kind__in=[ItemKind.GOODS, ItemKind.PRIVILEGE],
            active=True,
        ).order_by("id")
        if not items or rng.random() < 0.3:
            continue
        item = rng.choice(items)
        actor = Actor(helper.id)
        try:
            with recorded_at(lambda: at):
                made = await redeem.redeem(
                    actor, member=helper, beneficiary=helper, item=item,
                    key=f"{HISTORY}redeem-{at:%Y%m%d}-{helper.id}", on_behalf=False, tz=tz,
                )  # fmt: skip
        except (Invalid, Conflict):
            continue  # not enough hours yet, or a limit: they come back another day
        office = await MemberRole.filter(
            role=Role.COORDINATOR,
            community_id=item.community_id,
        ).first()
        if made.status is RedemptionStatus.TO_HAND_OVER and office is not None:
            await redeem.hand_over(Actor(office.member_id), made)
        await Redemption.filter(id=made.id).update(
            created_at=at, handed_over_at=at if item.kind is ItemKind.GOODS else None
        )
