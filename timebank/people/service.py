"""The rules for communities and members: validation, passwords, roles."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError

from timebank import inputs
from timebank.db import get_or_404
from timebank.errors import Conflict, Invalid
from timebank.people.models import AuditEvent, Community, Level, Member

PHONE = re.compile(r"^\+?[0-9]{5,15}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# argon2 takes tens of milliseconds of CPU and 64 MiB per call: run it off the event loop,
# a few at a time (the pool's threads bound how many are in flight; the rest queue).
_pool = ThreadPoolExecutor(
    max_workers=max(2, min(4, os.cpu_count() or 2)), thread_name_prefix="argon2"
)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` after checking it is long enough."""
    return _hasher.hash(check_password(password))


def check_password(password: str) -> bytes:
    """``password`` as the bytes to hash, or a 422: too short, or not text."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            f"The password must have at least {MIN_PASSWORD} characters.",
            f"密码至少需要 {MIN_PASSWORD} 个字符。",
            code="password_too_short",
        )
    try:
        encoded = password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no keyboard types it
        raise Invalid(
            "The password contains a character that is not text. Please type it again.",
            "密码中含有无效字符，请重新输入。",
            code="invalid_password",
            details={"fields": [{"field": "password", "en": "not text", "zh": "含无效字符"}]},
        ) from None
    return encoded


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a member without a password never matches."""
    if not password_hash:
        return False
    try:
        # As bytes: a lone surrogate typed into the form must not match or crash, just fail.
        return _hasher.verify(password_hash, password.encode("utf-8", "surrogatepass"))
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    # Made once, with the same parameters as every member's hash, so that checking a
    # password against it costs what checking a real one does.
    return _hasher.hash(secrets.token_urlsafe(16))


async def prepare_dummy_hash() -> None:
    """Make the dummy hash at start-up, so the first unknown phone to sign in does not pay
    for it (one extra argon2 hash would tell it apart)."""
    await in_argon2_pool(_dummy_hash)


def _verify_or_dummy(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(password_hash, password)


T = TypeVar("T")


async def in_argon2_pool(check: Callable[..., T], *args: Any) -> T:
    """Run an argon2 hash or check (password, placard PIN) in the bounded thread pool."""
    return await asyncio.get_running_loop().run_in_executor(_pool, check, *args)


async def hash_password_off_loop(password: str) -> str:
    """``hash_password`` in the argon2 thread pool, so the server keeps answering."""
    if len(password) < MIN_PASSWORD:
        return hash_password(password)  # the 422, without queueing for a thread
    return await in_argon2_pool(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """``verify_password`` in the argon2 thread pool. Without a hash (an unknown or
    inactive phone, a member without a password) it checks against a dummy hash and
    answers False: every sign-in costs the same, so the time taken does not tell
    registered phone numbers from others."""
    return await in_argon2_pool(_verify_or_dummy, password_hash, password)


def normalize_phone(phone: str) -> str:
    """The phone number in ASCII digits (full-width ones too) without spaces and dashes, or
    a 422 saying what is wrong."""
    cleaned = re.sub(r"[\s-]", "", inputs.plain(phone))
    if not PHONE.match(cleaned):
        raise Invalid(
            f"{phone!r} is not a phone number: use 5 to 15 digits, optionally starting with +.",
            f"“{phone}”不是有效的电话号码：请输入 5 到 15 位数字，可以 + 开头。",
            code="invalid_phone",
        )
    return cleaned


async def create_community(*, name: str, level: Level, parent: Community | None) -> Community:
    """A community under ``parent`` (a district has none)."""
    name = name.strip()
    if not name:
        raise Invalid("The community needs a name.", "请填写社区名称。", code="name_required")
    if (level is Level.DISTRICT) != (parent is None):
        raise Invalid(
            "A district has no parent; every other level needs one.",
            "区没有上级，其他层级必须有上级。",
            code="invalid_parent",
        )
    exists = Conflict(
        f"There is already a community called {name} here.",
        f"该上级下已有名为“{name}”的社区。",
        code="community_exists",
    )
    # The unique index on (parent, name) does not see NULL parents as equal.
    if parent is None and await Community.exists(name=name, parent=None):
        raise exists
    try:
        return await Community.create(name=name, level=level, parent=parent)
    except IntegrityError:
        raise exists from None


async def next_member_no(community: Community) -> str:
    """The next free passbook-style number in ``community`` (e.g. ``0007``)."""
    count = await Member.filter(community=community).count()
    return f"{count + 1:04d}"


def phone_taken(phone: str) -> Conflict:
    """The 409 for a phone number that is already someone's login."""
    return Conflict(
        f"The phone number {phone} is already registered.",
        f"电话号码 {phone} 已经登记过。",
        code="phone_taken",
        details={"fields": [{"field": "phone", "en": "already registered", "zh": "已登记"}]},
    )


async def get_community(community_id: int) -> Community:
    """The community with this id, or a 404."""
    return await get_or_404(Community, community_id, "community", "社区", "community_not_found")


async def member_names(ids: Iterable[int | None]) -> dict[int, str]:
    """Member id → name for ``ids`` (None and unknown ids left out), in one query."""
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await Member.filter(id__in=wanted).values_list("id", "name")
    return {int(i): str(n) for i, n in rows}


async def audit_events(
    scope: set[int] | None, *, member: int | None, limit: int, before: int | None
) -> list[AuditEvent]:
    """The newest audit events of the communities in ``scope`` (None: all), of one
    ``member`` when given, older than the event ``before`` when given; newest first."""
    query = AuditEvent.all()
    if scope is not None:
        query = query.filter(community_id__in=sorted(scope))
    if member is not None:
        query = query.filter(target_type="member", target_id=str(member))
    if before is not None:
        query = query.filter(id__lt=before)
    return await query.order_by("-id").limit(limit)
