"""Demo data for ``timebank serve --demo`` and ``timebank demo``; loading it twice is harmless.

Every feature adds its own part here so that it shows up on a fresh demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from timebank import demo_hours
from timebank.calendar import local_today
from timebank.demo_history import load_history
from timebank.people import family, members
from timebank.people.audit import Actor
from timebank.people.members import create_member
from timebank.people.models import (
    Community,
    FamilyLink,
    Level,
    Member,
    ResidentProfile,
    Role,
)
from timebank.people.service import create_community

# Published in the README and printed by `serve --demo`: never use it for real accounts.
DEMO_PASSWORD = "demo-2026"


@dataclass(frozen=True)
class DemoLogin:
    """A demo account as printed for the person trying the service."""

    phone: str
    name: str
    roles: tuple[Role, ...]
    community: str


DEMO_PEOPLE = [
    DemoLogin("13800000001", "王明", (Role.ADMIN,), "桂花社区"),
    DemoLogin("13800000002", "李芳", (Role.COORDINATOR,), "桂花社区"),
    DemoLogin("13800000003", "张建国", (Role.HELPER,), "桂花社区"),
    DemoLogin("13800000004", "刘小红", (Role.HELPER,), "桂花社区"),
    DemoLogin("13800000005", "陈秀英", (Role.RESIDENT,), "桂花社区"),
    DemoLogin("13800000006", "赵德海", (Role.RESIDENT, Role.HELPER), "枫林社区"),
    DemoLogin("13800000007", "周桂兰", (Role.COORDINATOR,), "枫林社区"),
    DemoLogin("13800000008", "孙丽", (Role.COORDINATOR,), "荷塘社区"),
    # The sub-district's coordinator: both of 东湖街道's communities.
    DemoLogin("13800000009", "吴涛", (Role.COORDINATOR,), "东湖街道"),
]


async def _community(name: str, level: Level, parent: Community | None) -> Community:
    existing = await Community.get_or_none(name=name, parent=parent)
    return existing or await create_community(name=name, level=level, parent=parent)


async def load_demo(tz: ZoneInfo) -> list[DemoLogin]:
    """Create the demo district and people unless they exist; return the logins. ``tz``:
    the communities' time zone, from the settings of the command that loads the demo."""
    district = await _community("江城区", Level.DISTRICT, None)
    street = await _community("东湖街道", Level.SUBDISTRICT, district)
    communities = {
        name: await _community(name, Level.COMMUNITY, street) for name in ("桂花社区", "枫林社区")
    }
    west = await _community("西湖街道", Level.SUBDISTRICT, district)
    communities["荷塘社区"] = await _community("荷塘社区", Level.COMMUNITY, west)
    places = {**communities, street.name: street}
    for person in DEMO_PEOPLE:
        if not await Member.exists(phone=person.phone):
            await create_member(
                community=places[person.community],
                name=person.name,
                phone=person.phone,
                password=DEMO_PASSWORD,
                roles=list(person.roles),
            )
    await _demo_profiles(communities)
    await _demo_pairings_and_orders(tz)
    await _demo_catalog()
    await load_history(tz=tz)
    await demo_hours.hours([p.phone for p in DEMO_PEOPLE])
    await _demo_visits()
    await demo_hours.redemptions(tz)
    await demo_hours.bookings(tz)
    await demo_hours.settlement(tz)
    # The members joined about three months ago (the overdue list counts from then).
    joined = datetime.now(UTC) - timedelta(days=95)
    await Member.filter(phone__startswith="1380", created_at__gt=joined).update(created_at=joined)
    return DEMO_PEOPLE


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["秀英", "桂兰", "德海", "玉珍", "建华", "淑芬", "国庆", "凤英", "志明", "丽华"]
HARDSHIPS = [
    ["alone", "elderly"],
    ["dibao"],
    ["empty_nest"],
    ["tekun", "alone"],
    ["disability"],
    ["left_behind"],
    ["shidu"],
    [],
]
NEEDS = [["meal_delivery"], ["cleaning", "companionship"], ["medical"], ["bathing"], ["visit"]]
SKILLS = [["meal_help", "meal_delivery"], ["cleaning"], ["companionship", "visit"], ["haircut"]]


async def _demo_profiles(communities: dict[str, Community]) -> None:
    """About twenty residents and twenty helpers with varied profiles, and some families.

    Long on purpose: one story, each step reading the records the step before made.
    """

    system = Actor.system()
    names = list(communities)
    for n in range(40):
        phone = f"1380001{n:04d}"
        if await Member.exists(phone=phone):
            continue
        resident = n % 2 == 0
        data: dict[str, object] = {
            "name": SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 3) % len(GIVEN)],
            "phone": phone,
            "address": f"{(n % 9) + 1} 栋 {(n % 5) + 1}0{(n % 3) + 1} 室",
            "consent": True,
            # Around 江城: within a few kilometres, so suggestions can weigh distance.
            "lat": f"{30.58 + (n % 7) * 0.004:.4f}",
            "lon": f"{114.30 + (n % 5) * 0.005:.4f}",
        }
        if resident:
            data.update(
                roles=["resident"],
                birth_date=f"{1928 + n % 25}-{n % 12 + 1:02d}-{n % 27 + 1:02d}",
                care_level=["self_care", "semi", "disabled"][n % 3],
                hardship=HARDSHIPS[(n // 2) % len(HARDSHIPS)],
                needs=NEEDS[(n // 2) % len(NEEDS)],
                visit_every_days=7 if "alone" in HARDSHIPS[(n // 2) % len(HARDSHIPS)] else None,
                emergency_name="社区值班室",
                emergency_phone="02788880000",
            )
        else:
            paid = n % 6 == 1
            data.update(
                roles=["helper"],
                birth_date=f"{1955 + n % 40}-{n % 12 + 1:02d}-{n % 27 + 1:02d}",
                helper_kind="paid" if paid else "volunteer",
                hourly_rate="25" if paid else "",
                skills=SKILLS[(n // 2) % len(SKILLS)],
                capacity=2 + n % 3,
                availability="工作日上午" if n % 4 == 1 else "周末",
            )
        community = communities[names[n % len(names)]]
        await members.register(system, community, data, admin=True)
    # The resident logins have profiles too: 陈秀英 lives alone, 赵德海 is on 低保.
    for phone, profile in (
        ("13800000005", {"care_level": "semi", "hardship": ["alone", "elderly"],
                         "needs": ["meal_delivery", "haircut"], "visit_every_days": 7,
                         "birth_date": "1938-09-12"}),
        ("13800000006", {"care_level": "self_care", "hardship": ["dibao"],
                         "needs": ["cleaning"], "birth_date": "1950-02-20"}),
    ):  # fmt: skip
        member = await Member.get_or_none(phone=phone)
        if member is not None and not await ResidentProfile.exists(member=member):
            await members.update(system, member, profile, admin=True)
    # Families: 陈秀英's son helps in the same community; a few resident couples.
    son = await Member.get_or_none(phone="13800000003")
    mother = await Member.get_or_none(phone="13800000005")
    pairs = [(mother, son, "child")]
    for n in range(0, 12, 6):
        a = await Member.get_or_none(phone=f"1380001{n:04d}")
        b = await Member.get_or_none(phone=f"1380001{n + 3:04d}")
        pairs.append((a, b, "child"))
    for a, b, relation in pairs:
        if a is not None and b is not None and not await FamilyLink.exists(member=a, relative=b):
            await members.link_family(system, a, b, relation)
    # 陈秀英 agreed that her son may act for her (order, book, rate): recorded by herself.
    link = await FamilyLink.get_or_none(member=mother, relative=son, consent_at=None)
    if mother is not None and link is not None:
        await family.set_consent(Actor(mother.id, ""), link, True)


async def _demo_pairings_and_orders(tz: ZoneInfo) -> None:
    """Pairings in every state and orders in every state, once.

    Long on purpose: the pairings move through their states one after another.
    """
    from timebank.orders import service as orders
    from timebank.pairing import service as pairing
    from timebank.pairing.models import Pairing

    if await Pairing.exists():
        return
    by_phone = {m.phone: m for m in await Member.filter(phone__startswith="1380")}
    coordinator = by_phone["13800000002"]
    lead = Actor(coordinator.id, "")
    helper, helper2 = by_phone["13800000003"], by_phone["13800000004"]
    resident = by_phone["13800000005"]
    # Residents and helpers of 桂花社区 among the generated ones (even numbers are residents).
    locals_ = [m for m in by_phone.values() if m.community_id == resident.community_id]
    residents = sorted(
        (m for m in locals_ if m.phone.startswith("1380001") and int(m.phone[-4:]) % 2 == 0),
        key=lambda m: m.phone,
    )
    helpers = sorted(
        (m for m in locals_ if m.phone.startswith("1380001") and int(m.phone[-4:]) % 2 == 1),
        key=lambda m: m.phone,
    )
    # Active: 张建国 serves his mother 陈秀英 (meals daily, cleaning weekly).
    active = await pairing.propose(lead, helper=helper, resident=resident, note="母子结对")
    await pairing.add_plan_item(lead, active, service_code="meal_delivery", every_days=1,
                                start="11:30")  # fmt: skip
    await pairing.add_plan_item(lead, active, service_code="cleaning", every_days=7,
                                start="15:00")  # fmt: skip
    await pairing.transition(lead, active, "approve", tz=tz)
    # Awaiting approval, suspended, ended, rejected.
    waiting = await pairing.propose(
        lead, helper=helper2, resident=residents[0], note="独居老人，需每日探访"
    )
    await pairing.add_plan_item(lead, waiting, service_code="visit", every_days=1, start="10:00")
    suspended = await pairing.propose(lead, helper=helpers[0], resident=residents[1])
    suspended = await pairing.transition(lead, suspended, "approve", tz=tz)
    await pairing.transition(lead, suspended, "suspend", reason="老人住院 / in hospital", tz=tz)
    ended = await pairing.propose(lead, helper=helpers[1], resident=residents[2])
    ended = await pairing.transition(lead, ended, "approve", tz=tz)
    await pairing.transition(lead, ended, "end", reason="搬去子女家 / moved away", tz=tz)
    rejected = await pairing.propose(lead, helper=helpers[2], resident=residents[3])
    await pairing.transition(lead, rejected, "reject", reason="时间对不上 / no common times",
                             tz=tz)  # fmt: skip
    today = local_today(tz)
    await orders.generate(today, tz=tz)
    await orders.generate(today + timedelta(days=1), tz=tz)
    # One order in every state. Windows around now, so the later states are plausible.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    plans = [
        ("haircut", [], "", residents[0]),
        ("shopping", ["take"], "", residents[1]),
        ("companionship", ["take", "start"], "", residents[2]),
        ("visit", ["take", "start", "complete"], "", residents[3]),
        ("meal_help", ["take", "start", "complete", "verify"], "", residents[4]),
        ("mobility", ["take", "start", "complete", "flag"], "时长偏短 / very short", residents[5]),
        ("medical", ["cancel"], "老人改约 / rescheduled", residents[6]),
        ("nails", ["take", "no_show"], "无人应门 / nobody home", residents[0]),
    ]
    for n, (code, steps, reason, who) in enumerate(plans):
        starts = now + timedelta(days=1, hours=n) if not steps or steps == ["take"] else now
        order = await orders.place(
            lead, resident=who, service_code=code, starts_at=starts - timedelta(minutes=30),
            ends_at=starts + timedelta(minutes=60), on_behalf=True, notes="电话下单 / by phone",
        )  # fmt: skip
        serving = helpers[3 + n % 4]
        for step in steps:
            order = await orders.move(
                lead, order, step, helper=serving if step == "take" else None, reason=reason
            )


async def _demo_visits() -> None:
    """Visits in every state, with hours credited for the verified ones, once; and the
    confirmation PIN of 陈秀英 (2580).

    Long on purpose: each visit's state is reached through the ones before it.
    """
    from timebank.orders.models import Order, OrderStatus
    from timebank.pairing.models import Pairing, PairingStatus
    from timebank.visits import placards
    from timebank.visits import service as visits
    from timebank.visits.models import Visit, VisitStatus

    if await Visit.exists(in_event="demo-in-1"):
        return
    by_phone = {m.phone: m for m in await Member.filter(phone__startswith="1380")}
    coordinator, helper = by_phone["13800000002"], by_phone["13800000003"]
    mother = by_phone["13800000005"]
    await placards.set_pin(Actor(coordinator.id), mother, "2580")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    count = 0

    async def visit(
        resident: Member,
        helper: Member,
        code: str,
        start: datetime,
        minutes: int | None,
        status: VisitStatus,
        *,
        flags: str = "",
        order: Order | None = None,
        pairing: Pairing | None = None,
        rating: int | None = None,
        comment: str = "",
        note: str = "",
    ) -> Visit:
        nonlocal count
        count += 1
        end = start + timedelta(minutes=minutes) if minutes is not None else None
        served = None if minutes is None else max(15, round(minutes / 15) * 15)
        made = await Visit.create(
            community_id=resident.community_id,
            resident=resident,
            helper=helper,
            order_id=order.id if order else None,
            pairing_id=pairing.id if pairing else (order.pairing_id if order else None),
            service_code=code,
            status=status,
            open_helper_id=helper.id if status is VisitStatus.OPEN else None,
            in_event=f"demo-in-{count}",
            out_event=f"demo-out-{count}" if end else None,
            checked_in_at=start,
            received_in_at=start,
            checked_out_at=end,
            received_out_at=end,
            in_distance_m=12,
            out_distance_m=20 if end else None,
            raw_minutes=minutes,
            served_minutes=served,
            credit_minutes=served,
            flags=flags,
            funded=True,
            rating=rating,
            comment=comment,
            rated_by_id=resident.id if rating else None,
            rated_at=end if rating else None,
            confirmed_by="rating" if rating else "",
            reviewed_by_id=coordinator.id if note else None,
            reviewed_at=end if note else None,
            review_note=note,
        )
        if status is VisitStatus.VERIFIED:
            made = await visits.credit(made, Actor.system())
        return made

    # 张建国 brought his mother her meals on the last five days; she rated one.
    pairing = await Pairing.filter(
        helper=helper, resident=mother, status=PairingStatus.APPROVED
    ).first()
    for days in range(5, 0, -1):
        start = now - timedelta(days=days, hours=now.hour) + timedelta(hours=3, minutes=30)
        await visit(mother, helper, "meal_delivery", start, 32, VisitStatus.VERIFIED,
                    pairing=pairing, rating=5 if days == 2 else None,
                    comment="饭菜热乎，孩子很用心" if days == 2 else "")  # fmt: skip
    # The demo orders under way, verified and flagged get their visits.
    for code, status, minutes, flags in [
        ("companionship", VisitStatus.OPEN, None, ""),
        ("meal_help", VisitStatus.VERIFIED, 58, ""),
        ("mobility", VisitStatus.FLAGGED, 6, "too_short"),
    ]:
        order = await Order.filter(service_code=code, helper_id__not_isnull=True).first()
        if order is None or order.helper_id is None:
            continue
        served_by = await Member.get(id=order.helper_id)
        resident = await Member.get(id=order.resident_id)
        start = now - timedelta(minutes=(minutes or 20) + 5)
        await visit(resident, served_by, code, start, minutes, status, flags=flags, order=order)
        if status is VisitStatus.OPEN:
            await Order.filter(id=order.id).update(status=OrderStatus.IN_PROGRESS)
    # One recorded offline waiting for review, and one rejected after a phone call.
    others = sorted(
        (m for m in by_phone.values() if m.phone.startswith("1380001")), key=lambda m: m.phone
    )
    locals_ = [m for m in others if m.community_id == mother.community_id]
    residents = [m for m in locals_ if int(m.phone[-4:]) % 2 == 0]
    helpers = [m for m in locals_ if int(m.phone[-4:]) % 2 == 1]
    other = helpers[2 % len(helpers)]
    await visit(residents[-1], other, "visit", now - timedelta(days=1, hours=2), 45,
                VisitStatus.FLAGGED, flags="outside_window,offline")  # fmt: skip
    await visit(residents[-2], other, "shopping", now - timedelta(days=3), 20,
                VisitStatus.REJECTED, flags="too_far",
                note="老人说当天没有人来 / the resident says nobody came")  # fmt: skip


async def _demo_catalog() -> None:
    """Goods and privileges in every community's catalogue, once."""
    from timebank.redeem.models import ItemKind, RedeemItem

    goods = [
        (ItemKind.GOODS, "大米 5 斤", "Rice, 2.5 kg", 120, 20),
        (ItemKind.GOODS, "食用油 1 桶", "Cooking oil, 1 bottle", 90, 15),
        (ItemKind.GOODS, "鸡蛋 1 盒", "Eggs, 1 box", 60, 30),
        (ItemKind.PRIVILEGE, "理发 8 折券", "Haircut, 20% off", 30, None),
        (ItemKind.PRIVILEGE, "社区食堂午餐 1 次", "One lunch at the canteen", 45, None),
    ]
    for community in await Community.filter(level=Level.COMMUNITY):
        if await RedeemItem.exists(community=community):
            continue
        for kind, zh, en, price, stock in goods:
            await RedeemItem.create(
                community=community, kind=kind, name_zh=zh, name_en=en,
                price_minutes=price, stock=stock,
            )  # fmt: skip
