"""Demo data for ``timebank serve --demo`` and ``timebank demo``; loading it twice is harmless.

Every feature adds its own part here so that it shows up on a fresh demo.
"""

from __future__ import annotations

from dataclasses import dataclass

from timebank.people.models import Community, Level, Member, Role
from timebank.people.service import create_community, create_member

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
]


async def _community(name: str, level: Level, parent: Community | None) -> Community:
    existing = await Community.get_or_none(name=name, parent=parent)
    return existing or await create_community(name=name, level=level, parent=parent)


async def load_demo() -> list[DemoLogin]:
    """Create the demo district and people unless they exist; return the logins."""
    district = await _community("江城区", Level.DISTRICT, None)
    street = await _community("东湖街道", Level.SUBDISTRICT, district)
    communities = {
        name: await _community(name, Level.COMMUNITY, street) for name in ("桂花社区", "枫林社区")
    }
    for person in DEMO_PEOPLE:
        if not await Member.exists(phone=person.phone):
            await create_member(
                community=communities[person.community],
                name=person.name,
                phone=person.phone,
                password=DEMO_PASSWORD,
                roles=list(person.roles),
            )
    await _demo_ledger()
    return DEMO_PEOPLE


async def _demo_ledger() -> None:
    """Hours earned, granted, spent and held, so balances and statements show something."""
    from timebank.ledger import service as ledger
    from timebank.ledger.models import Checkpoint

    by_phone = {m.phone: m for m in await Member.filter(phone__in=[p.phone for p in DEMO_PEOPLE])}
    coordinator = by_phone["13800000002"]
    for n, (phone, minutes) in enumerate(
        [
            ("13800000003", 90),
            ("13800000004", 120),
            ("13800000003", 60),
            ("13800000004", 45),
            ("13800000003", 75),
            ("13800000004", 120),
            ("13800000006", 60),
        ]
    ):
        helper = by_phone[phone]
        await ledger.credit_service(
            helper_id=helper.id,
            community_id=helper.community_id,  # type: ignore[attr-defined]
            minutes=minutes,
            visit_id=f"demo-{n}",
            key=f"demo-credit-{n}",
        )
    resident = by_phone["13800000005"]
    await ledger.grant(
        community_id=resident.community_id,  # type: ignore[attr-defined]
        member_id=resident.id,
        minutes=240,
        key="demo-grant-1",
        actor_id=coordinator.id,
        reason="独居高龄老人兜底时长 / Community grant for an elderly resident living alone",
    )
    await ledger.redeem(
        member_id=by_phone["13800000003"].id,
        minutes=30,
        key="demo-redeem-1",
        actor_id=by_phone["13800000003"].id,
        ref_type="goods",
        ref_id="rice-5kg",
        reason="爱心超市：大米 5 公斤",
    )
    await ledger.reserve(
        member_id=resident.id,
        minutes=60,
        key="demo-reserve-1",
        actor_id=coordinator.id,
        on_behalf_of_id=resident.id,
        ref_type="order",
        ref_id="demo-haircut",
    )
    if not await Checkpoint.exists():
        await ledger.create_checkpoint(actor_id=coordinator.id, note="demo")
