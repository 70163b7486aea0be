"""``timebank overdue``: the residents whose required visit is missed (for a daily cron)."""

from __future__ import annotations

import argparse
import asyncio
import json
from zoneinfo import ZoneInfo

from timebank.reports.overdue import Overdue, overdue
from timebank.settings import Settings


async def _overdue(settings: Settings, community: int | None) -> list[Overdue]:
    from timebank.cli import orm

    async with orm(settings):
        return await overdue(
            None if community is None else {community}, tz=ZoneInfo(settings.timezone)
        )


def cmd_overdue(settings: Settings, args: argparse.Namespace) -> int:
    """Print the residents overdue for a visit, most overdue first; exit 0 either way."""
    found = asyncio.run(_overdue(settings, args.community))
    if args.json:
        print(json.dumps([o.as_json() for o in found], ensure_ascii=False, indent=1))
        return 0
    print(f"{len(found)} resident(s) overdue for a visit / 逾期未探访 {len(found)} 人")
    for o in found:
        last = o.last_visit.isoformat() if o.last_visit else "never / 从未"
        alone = " 独居" if o.alone else ""
        helper = f" · {o.helper_name} {o.helper_phone}" if o.helper_name else ""
        print(
            f"{o.overdue_days:>4} days · {o.community_name} · {o.name} ({o.member_no}){alone}"
            f" · {o.phone} · last {last} · every {o.every_days} d{helper}"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``timebank overdue`` to the ``timebank`` parser."""
    command = sub.add_parser("overdue", help=cmd_overdue.__doc__)
    command.add_argument("--community", type=int, help="only this community")
    command.add_argument("--json", action="store_true", help="JSON instead of lines")
    command.set_defaults(func=cmd_overdue)
