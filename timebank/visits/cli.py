"""``timebank placards``: print residents' placards; ``timebank visits close-forgotten``."""

from __future__ import annotations

import argparse
import asyncio
import html
from pathlib import Path
from zoneinfo import ZoneInfo

from timebank.errors import ConfigError
from timebank.people.models import Community, Level, Member, MemberRole, Role
from timebank.qr import qr_png
from timebank.settings import Settings
from timebank.templating import web_dir
from timebank.visits import placards
from timebank.visits.review import credit_pending
from timebank.visits.service import close_forgotten

SHEET = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main class="sheet">
{cards}
</main>
</body>
</html>
"""
CARD = """<section class="card">
  <p class="title">{community} · 上门服务码</p>
  <img src="{png}" alt="上门服务码 {number}">
  <p class="no">编号 {number}</p>
  <p class="how">帮扶人/志愿者：到达后用手机扫码，点“开始服务”；离开时再扫码，点“结束服务”。</p>
</section>"""


async def _write(settings: Settings, out: Path, community_id: int | None) -> list[Path]:
    from timebank.db import connected

    written: list[Path] = []
    async with connected(settings.db_url):
        if community_id is not None:
            community = await Community.get_or_none(id=community_id)
            if community is None:
                raise ConfigError(f"There is no community {community_id}. / 找不到该社区。")
            communities = [community]
        else:
            communities = list(await Community.filter(level=Level.COMMUNITY).order_by("id"))
        css = (web_dir() / "static" / "css" / "placards.css").read_text(encoding="utf-8")
        for community in communities:
            folder = out if community_id is not None else out / str(community.id)
            ids = await MemberRole.filter(role=Role.RESIDENT, member__community_id=community.id)
            residents = await Member.filter(
                id__in=[r.member_id for r in ids],
                is_active=True,
            ).order_by("member_no")
            if not residents:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            cards = []
            for resident in residents:
                placard = await placards.placard_of(resident)
                token = placards.make_token(settings.secret_key, resident.id, placard.generation)
                png = folder / f"{resident.member_no}.png"
                png.write_bytes(qr_png(placards.placard_url(settings.base_url, token)))
                written.append(png)
                cards.append(
                    CARD.format(
                        community=html.escape(community.name),
                        png=html.escape(png.name),
                        number=html.escape(resident.member_no),
                    )
                )
            sheet = folder / "placards.html"
            sheet.write_text(
                SHEET.format(
                    title=html.escape(f"{community.name} · 上门服务码"),
                    css=css,
                    cards="\n".join(cards),
                ),
                encoding="utf-8",
            )
            written.append(sheet)
    return written


def cmd_placards(settings: Settings, args: argparse.Namespace) -> int:
    """Write each resident's placard as <member-number>.png and a printable placards.html."""
    written = asyncio.run(_write(settings, Path(args.out), args.community))
    pngs = sum(1 for p in written if p.suffix == ".png")
    for path in written:
        if path.suffix == ".html":
            print(f"{path}")
    print(f"{pngs} placard(s) written to {args.out} / 已生成 {pngs} 张上门服务码")
    # Said every time: a placard printed with the wrong address opens nowhere.
    print(f"they open {settings.base_url}/v/… / 扫码打开的地址：{settings.base_url}/v/…")
    return 0


async def _close(settings: Settings) -> tuple[int, int]:
    from timebank.db import connected

    async with connected(settings.db_url):
        return await close_forgotten(tz=ZoneInfo(settings.timezone)), await credit_pending()


def cmd_close_forgotten(settings: Settings, args: argparse.Namespace) -> int:
    """Close visits left open past their maximum (flagged) and post any cut-off credit."""
    closed, posted = asyncio.run(_close(settings))
    print(f"{closed} visit(s) closed, {posted} posted / 自动签退 {closed} 次，补记 {posted} 次")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``timebank placards`` and ``timebank visits …`` to the ``timebank`` parser."""
    cards = sub.add_parser(
        "placards",
        help=cmd_placards.__doc__,
        description="Without --community: one folder per community, named by its id.",
    )
    cards.add_argument("--out", required=True, help="the folder to write to")
    cards.add_argument("--community", type=int, help="only this community's residents")
    cards.set_defaults(func=cmd_placards)
    visits = sub.add_parser("visits", help="visits")
    commands = visits.add_subparsers(dest="visits_command", required=True)
    close = commands.add_parser("close-forgotten", help=cmd_close_forgotten.__doc__)
    close.set_defaults(func=cmd_close_forgotten)
