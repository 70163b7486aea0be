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
    return DEMO_PEOPLE
