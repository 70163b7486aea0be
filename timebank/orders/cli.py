"""``timebank orders generate``: turn pairing plans into orders (for cron)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from timebank import calendar
from timebank.errors import ConfigError
from timebank.pairing.service import generate
from timebank.settings import Settings


async def _generate(settings: Settings, first: date, days: int) -> list[tuple[date, int]]:
    from timebank.db import connected

    tz = ZoneInfo(settings.timezone)
    async with connected(settings.db_url):
        return [
            (first + timedelta(days=n), await generate(first + timedelta(days=n), tz=tz))
            for n in range(days)
        ]


def cmd_generate(settings: Settings, args: argparse.Namespace) -> int:
    """Create the orders that active pairings' plans want (safe to run again)."""
    tz = ZoneInfo(settings.timezone)
    try:
        first = date.fromisoformat(args.date) if args.date else calendar.local_today(tz)
    except ValueError:
        raise ConfigError(f"--date {args.date!r} is not a date like 2026-11-23.") from None
    if not 1 <= args.days <= 60:
        raise ConfigError("--days must be from 1 to 60.")
    for day, created in asyncio.run(_generate(settings, first, args.days)):
        print(f"{day.isoformat()}: {created} order(s) created / 生成订单 {created} 个")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``timebank orders …`` to the ``timebank`` parser."""
    orders = sub.add_parser("orders", help="service orders")
    commands = orders.add_subparsers(dest="orders_command", required=True)
    gen = commands.add_parser("generate", help=cmd_generate.__doc__)
    gen.add_argument("--date", help="the first day (default: today, local time)")
    gen.add_argument("--days", type=int, default=2, help="how many days (default 2)")
    gen.set_defaults(func=cmd_generate)
