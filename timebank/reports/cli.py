"""``timebank overdue``: the residents whose required visit is missed (for a daily cron)."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from timebank import calendar
from timebank.errors import ConfigError
from timebank.reports.overdue import Overdue, overdue
from timebank.settings import Settings


async def _overdue(settings: Settings, community: int | None) -> list[Overdue]:
    from timebank.db import connected

    async with connected(settings.db_url):
        return await overdue(
            None if community is None else {community}, tz=calendar.zone(settings.timezone)
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


async def _report(settings: Settings, args: argparse.Namespace) -> bytes:
    from timebank.catalog.service import names_across
    from timebank.db import connected
    from timebank.people.models import Community, Level
    from timebank.reports import export, monthly

    start = calendar.parse_month(args.month)
    async with connected(settings.db_url):
        query = Community.filter(level=Level.COMMUNITY)
        if args.community is not None:
            query = query.filter(id=args.community)
        communities = list(await query.order_by("id"))
        if not communities:
            raise ConfigError(f"There is no community {args.community}. / 找不到该社区。")
        found = await monthly.report(
            communities, start, calendar.next_month(start), tz=calendar.zone(settings.timezone)
        )
        names = await names_across({c.id for c in communities}, "zh-CN")
    return export.as_xlsx(found, names) if args.format == "xlsx" else export.as_csv(found, names)


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write a month's figures (every community, or one) as XLSX or CSV."""
    data = asyncio.run(_report(settings, args))
    Path(args.out).write_bytes(data)
    print(f"{args.out}: {len(data):,} bytes / 已导出")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``timebank overdue`` and ``timebank export`` to the ``timebank`` parser."""
    exporting = sub.add_parser("export", help=cmd_export.__doc__)
    exporting.add_argument("--month", required=True, help="e.g. 2026-10")
    exporting.add_argument("--community", type=int, help="only this community")
    exporting.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    exporting.add_argument("--out", required=True, help="the file to write")
    exporting.set_defaults(func=cmd_export)
    command = sub.add_parser("overdue", help=cmd_overdue.__doc__)
    command.add_argument("--community", type=int, help="only this community")
    command.add_argument("--json", action="store_true", help="JSON instead of lines")
    command.set_defaults(func=cmd_overdue)
