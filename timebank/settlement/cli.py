"""``timebank settlement``: a month's settlement of paid helpers for the finance office."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from timebank import calendar
from timebank.errors import NotFound
from timebank.settings import Settings


async def _settlement(settings: Settings, args: argparse.Namespace) -> tuple[bytes, str]:
    from timebank.catalog.service import service_names
    from timebank.db import connected
    from timebank.people.models import Community, Level
    from timebank.settlement import service

    month = calendar.parse_month(args.month)
    async with connected(settings.db_url):
        community = await Community.get_or_none(id=args.community, level=Level.COMMUNITY)
        if community is None:
            raise NotFound(
                f"There is no community {args.community}.", f"找不到社区 {args.community}。"
            )
        found = await service.compute(community, month, calendar.zone(settings.timezone))
        names = await service_names(community, "zh-CN")
    data = service.as_xlsx(found, names) if args.format == "xlsx" else service.as_csv(found, names)
    state = "closed / 已结算" if found.closed else "open, not closed yet / 未结算"
    return data, f"{found.community.name} {found.label}: {len(found.helpers)} helper(s), {state}"


def cmd_settlement(settings: Settings, args: argparse.Namespace) -> int:
    """Write a month's settlement of paid helpers (one community) as XLSX or CSV."""
    data, summary = asyncio.run(_settlement(settings, args))
    Path(args.out).write_bytes(data)
    print(f"{args.out}: {len(data):,} bytes · {summary}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``timebank settlement`` to the ``timebank`` parser."""
    command = sub.add_parser("settlement", help=cmd_settlement.__doc__)
    command.add_argument("--community", type=int, required=True, help="the community's id")
    command.add_argument("--month", required=True, help="e.g. 2026-10")
    command.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    command.add_argument("--out", required=True, help="the file to write")
    command.set_defaults(func=cmd_settlement)
