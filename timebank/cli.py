"""The ``timebank`` command: serve, migrate, demo, create-user, prune, makemigrations, and
those of the features (verify, set-password, signin-code, ...)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

from timebank import __version__, db
from timebank.calendar import zone
from timebank.db import connected
from timebank.errors import ConfigError, Invalid, TimebankError
from timebank.ledger import cli as ledger_cli
from timebank.orders import cli as orders_cli
from timebank.people import cli as people_cli
from timebank.people.models import Community, Level, Role
from timebank.reports import cli as reports_cli
from timebank.settings import Settings
from timebank.settlement import cli as settlement_cli
from timebank.visits import cli as visits_cli


def _progress(event: str, app_label: str, name: str) -> None:
    if event == "apply_done":
        print(f"  applied {app_label}.{name}")


async def _migrate(settings: Settings) -> None:
    await db.migrate(settings.db_url, progress=_progress)


async def _demo(settings: Settings) -> None:
    from timebank.demo import DEMO_PASSWORD, load_demo

    async with connected(settings.db_url):
        logins = await load_demo(zone(settings.timezone))
    print(f"Demo logins / 演示账号 (password / 密码: {DEMO_PASSWORD})")
    for login in logins:
        roles = ", ".join(role.value for role in login.roles)
        print(f"  {login.phone}  {login.name:<4}  {roles:<18} {login.community}")


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    """Apply pending database migrations."""
    asyncio.run(_migrate(settings))
    print("database is up to date / 数据库已是最新")


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    """Load the demo data (idempotent)."""
    asyncio.run(_migrate(settings))
    asyncio.run(_demo(settings))


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def unreachable_base_url(base_url: str, host: str, port: int) -> str | None:
    """A warning when the base URL (what placard QR codes and links hold) is on this machine's
    loopback while the server listens elsewhere: printed placards would open nowhere."""
    parts = urlsplit(base_url)
    if not _is_loopback(parts.hostname or ""):
        return None  # a public name: whatever proxies to us is the operator's business
    base_port = parts.port or (443 if parts.scheme == "https" else 80)
    if _is_loopback(host) and base_port == port:
        return None
    rule = "!" * 78
    return (
        f"{rule}\n"
        f"WARNING: the base URL is {base_url}, but the server listens on {host}:{port}.\n"
        "Placard QR codes and links hold the base URL: printed placards would open nowhere.\n"
        "Give the address phones reach, e.g. --base-url http://192.168.1.20:8080 (or set\n"
        "TIMEBANK_BASE_URL).\n"
        f"警告：基础网址是 {base_url}，但服务在 {host}:{port} 上监听。\n"
        "上门服务码和链接使用基础网址：按现在的设置打印出来的服务码无法打开。\n"
        "请用 --base-url 给出手机能访问的地址。\n"
        f"{rule}"
    )


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    """Apply migrations, optionally load demo data, then serve HTTP."""
    import uvicorn

    if args.base_url:
        # The app (and every worker) reads its settings from the environment.
        settings = Settings.from_env(base_url=args.base_url)
        os.environ["TIMEBANK_BASE_URL"] = settings.base_url
    asyncio.run(_migrate(settings))
    if args.demo:
        asyncio.run(_demo(settings))
    print(
        f"timebank {__version__} on http://{args.host}:{args.port}/  (base URL {settings.base_url})"
    )
    warning = unreachable_base_url(settings.base_url, args.host, args.port)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    uvicorn.run(
        "timebank.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level="info",
        # Careless or hostile clients: idle connections are closed after 5 s, request
        # headers may not exceed 16 KB, and past 1,000 connections at once new ones get a 503
        # rather than exhausting memory (bodies are limited by the app, 413).
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
        limit_concurrency=1000,
        timeout_graceful_shutdown=20,
    )


async def _create_user(settings: Settings, args: argparse.Namespace, password: str) -> str:
    from timebank.people.members import create_member
    from timebank.people.service import create_community, get_community

    async with connected(settings.db_url):
        community: Community | None
        if args.community is not None:
            community = await get_community(args.community)
        else:
            community = await Community.filter(level=Level.DISTRICT).order_by("id").first()
            if community is None:
                if not args.district:
                    raise Invalid(
                        "There is no district yet: give its name with --district.",
                        "还没有任何区：请用 --district 指定区名。",
                    )
                community = await create_community(
                    name=args.district, level=Level.DISTRICT, parent=None
                )
        member = await create_member(
            community=community,
            name=args.name,
            phone=args.phone,
            password=password,
            roles=[Role(args.role)],
        )
        return f"created {args.role} {member.name} ({member.phone}) in {community.name}"


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> None:
    """Create a member who can sign in (the first admin, typically)."""
    password = people_cli.read_password()
    asyncio.run(_migrate(settings))  # the first admin is usually created on a fresh database
    print(asyncio.run(_create_user(settings, args, password)))


def cmd_makemigrations(settings: Settings, args: argparse.Namespace) -> None:
    """Write a migration for model changes (for developers)."""
    import types

    from tortoise.cli.cli import CLIContext, makemigrations

    module = types.ModuleType("timebank_migration_config")
    module.TORTOISE_ORM = db.tortoise_config(settings.db_url)  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    context = CLIContext(f"{module.__name__}.TORTOISE_ORM", None)
    labels = (db.APP_LABEL,) if args.empty else ()
    asyncio.run(makemigrations(context, labels, args.empty, args.name))


async def _prune(settings: Settings) -> None:
    from timebank.people.auth import prune

    async with connected(settings.db_url):
        pruned = await prune()
    print(
        f"deleted {pruned.attempts} sign-in attempt(s), {pruned.sessions} ended session(s),"
        f" {pruned.codes} old sign-in code(s) / 已删除登录尝试 {pruned.attempts} 条、"
        f"已结束的会话 {pruned.sessions} 个、过期登录码 {pruned.codes} 个"
    )


def cmd_prune(settings: Settings, args: argparse.Namespace) -> None:
    """Delete sign-in records no longer needed (attempts over 30 days old, ended sessions,
    codes expired or used over 30 days ago); safe to repeat, for cron."""
    asyncio.run(_prune(settings))


# A command returns None (success) or its exit status.
Command = Callable[[Settings, argparse.Namespace], int | None]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="timebank", description="Community time bank / 时间银行")
    parser.add_argument("--version", action="version", version=f"timebank {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help=cmd_serve.__doc__)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--base-url",
        help="the address phones reach this site at, held by placard QR codes and links "
        "(default: TIMEBANK_BASE_URL, else http://127.0.0.1:8000)",
    )
    serve.add_argument("--demo", action="store_true", help="load demo data and print its logins")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help=cmd_migrate.__doc__).set_defaults(func=cmd_migrate)
    sub.add_parser("demo", help=cmd_demo.__doc__).set_defaults(func=cmd_demo)

    user = sub.add_parser(
        "create-user",
        help=cmd_create_user.__doc__,
        description="The password is asked for at a prompt, or read from standard input.",
    )
    user.add_argument("--phone", required=True, help="the sign-in phone number")
    user.add_argument("--name", required=True)
    user.add_argument("--role", choices=[r.value for r in Role], default=Role.ADMIN.value)
    user.add_argument("--community", type=int, help="community id (default: the first district)")
    user.add_argument("--district", help="name of the district to create if none exists")
    user.set_defaults(func=cmd_create_user)

    sub.add_parser("prune", help=cmd_prune.__doc__).set_defaults(func=cmd_prune)

    mk = sub.add_parser("makemigrations", help=cmd_makemigrations.__doc__)
    mk.add_argument("--name", help="a name for the migration file")
    mk.add_argument("--empty", action="store_true", help="an empty migration for hand-written SQL")
    mk.set_defaults(func=cmd_makemigrations)

    ledger_cli.register(sub)
    orders_cli.register(sub)
    visits_cli.register(sub)
    reports_cli.register(sub)
    settlement_cli.register(sub)
    people_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        func: Command = args.func
        status = func(settings, args)
    except ConfigError as exc:
        print(f"timebank: configuration error: {exc}", file=sys.stderr)
        return 2
    except TimebankError as exc:
        print(f"timebank: {exc.zh} / {exc.en}", file=sys.stderr)
        return 1
    return status or 0
