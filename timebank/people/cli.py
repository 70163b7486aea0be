"""``timebank set-password`` and ``timebank signin-code``: the server's operator looks
after any account, an admin's included, which nobody can change through the web."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from tortoise.transactions import in_transaction

from timebank.errors import Invalid, NotFound
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import Member
from timebank.settings import Settings


def read_password() -> str:
    """A password typed twice at a prompt, or the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password / 密码: ")
        if first != getpass.getpass("Again / 再输一次: "):
            raise Invalid("The two passwords differ.", "两次输入的密码不一致。")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _member(phone: str) -> Member:
    from timebank.people.service import normalize_phone

    found = await Member.get_or_none(phone=normalize_phone(phone))
    if found is None:
        raise NotFound(
            f"There is no member with the phone number {phone}.",
            f"找不到电话号码为 {phone} 的成员。",
            code="member_not_found",
        )
    return found


async def _set_password(settings: Settings, phone: str, password: str) -> str:
    from timebank.db import connected
    from timebank.people.members import end_sessions
    from timebank.people.service import hash_password

    async with connected(settings.db_url):
        member = await _member(phone)
        new_hash = hash_password(password)
        async with in_transaction():
            await Member.filter(id=member.id).update(password_hash=new_hash)
            ended = await end_sessions(member.id)
            await audit.record_about(
                Actor.system(), "member.password_reset", member, on_behalf_of_id=member.id
            )
    return (
        f"password set for {member.name} ({member.phone}); {ended} session(s) ended"
        f" / 已为 {member.name} 设置新密码，已结束 {ended} 个会话"
    )


def cmd_set_password(settings: Settings, args: argparse.Namespace) -> None:
    """Set a member's password (an admin's too) and sign them out everywhere."""
    password = read_password()
    print(asyncio.run(_set_password(settings, args.phone, password)))


async def _signin_code(settings: Settings, phone: str) -> str:
    from timebank.db import connected
    from timebank.people.auth import CODE_HOURS, issue_code

    async with connected(settings.db_url):
        member = await _member(phone)
        code = await issue_code(Actor.system(), member)
    return (
        f"one-time sign-in code for {member.name} ({member.phone}): {code},"
        f" valid {CODE_HOURS} hours / 一次性登录码：{code}，{CODE_HOURS} 小时内有效"
    )


def cmd_signin_code(settings: Settings, args: argparse.Namespace) -> None:
    """Issue a one-time sign-in code for a member (an admin's too)."""
    print(asyncio.run(_signin_code(settings, args.phone)))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the account commands to the ``timebank`` parser."""
    reset = sub.add_parser(
        "set-password",
        help=cmd_set_password.__doc__,
        description="The password is asked for at a prompt, or read from standard input.",
    )
    reset.add_argument("--phone", required=True, help="the member's sign-in phone number")
    reset.set_defaults(func=cmd_set_password)
    code = sub.add_parser("signin-code", help=cmd_signin_code.__doc__)
    code.add_argument("--phone", required=True, help="the member's sign-in phone number")
    code.set_defaults(func=cmd_signin_code)
