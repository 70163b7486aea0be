"""Signing in and out: server-side sessions behind a signed cookie, CSRF, throttling.

The cookie holds only an itsdangerous signature over a random session id; the session row
says who it is, until when, and whether it was revoked, so signing out really ends it.
Attempts are counted per phone number and per address over a sliding window, each one
written down before its password or code is checked, so parallel guesses cannot slip past
the limit. The sign-in forms carry a pre-session token (double-submit cookie) against
login CSRF.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from tortoise import connections
from tortoise.transactions import in_transaction

from timebank import inputs
from timebank.db import from_row, sql
from timebank.errors import Forbidden, TimebankError, Unauthorized
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import (
    Member,
    MemberRole,
    Role,
    Session,
    SignInAttempt,
    SignInCode,
)
from timebank.people.service import (
    hash_password_off_loop,
    normalize_phone,
    verify_password_off_loop,
)

SESSION_COOKIE = "tb_session"
SESSION_DAYS = 30
WINDOW = timedelta(minutes=15)
MAX_FAILS_PER_PHONE = 5
MAX_FAILS_PER_IP = 30
CODE_DIGITS = 8
CODE_HOURS = 24


class TooManyAttempts(TimebankError):
    """Sign-in refused for a while after repeated failures."""

    status, code = 429, "too_many_attempts"


@dataclass(frozen=True)
class SignedIn:
    """The member behind a request, with the roles they hold."""

    member: Member
    session: Session
    roles: frozenset[tuple[Role, int | None]]

    @property
    def role_values(self) -> list[str]:
        """The roles held, each once, sorted (for display)."""
        return sorted({role.value for role, _ in self.roles})

    def has(self, role: Role) -> bool:
        """Whether the member holds ``role`` anywhere."""
        return any(r == role for r, _ in self.roles)


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="timebank.session")


@lru_cache(maxsize=4096)
def _session_id(secret_key: str, cookie: str) -> Any:
    """The session id a cookie signs, or BadSignature.

    Checking the signature (key derivation, HMAC, JSON) is the same work with the same
    answer for every request of a session, ~50 µs each; a cookie once checked is
    remembered (a forged one raises, and is never remembered). Whether the session is
    still valid is read from the database on every request.
    """
    return _serializer(secret_key).loads(cookie)


def _bad_credentials() -> Unauthorized:
    # The same answer for an unknown phone and a wrong password: no enumeration of members.
    return Unauthorized(
        "The phone number or password is wrong.",
        "电话号码或密码错误。",
        code="bad_credentials",
    )


async def _count_attempt(phone: str, ip: str) -> int:
    """Write the attempt down as failed, then refuse it if the window holds too many
    failures counting itself; returns its id, to mark it succeeded afterwards.

    Writing first is what makes the limit hold under parallel guesses: each attempt's count
    includes every attempt committed before it, so the n-th one to commit counts at least n
    and at most the limit ever reach the password check. (Deleting a refused attempt's row
    keeps that true: every attempt that was checked keeps its row.)"""
    attempt = await SignInAttempt.create(phone=phone, ip=ip[:64], succeeded=False)
    since = datetime.now(UTC) - WINDOW
    by_phone = await SignInAttempt.filter(phone=phone, succeeded=False, at__gte=since).count()
    by_ip = await SignInAttempt.filter(ip=ip[:64], succeeded=False, at__gte=since).count()
    if by_phone > MAX_FAILS_PER_PHONE or by_ip > MAX_FAILS_PER_IP:
        # Not checked, so not a failure: the window is not stretched by waiting callers.
        await SignInAttempt.filter(id=attempt.id).delete()
        minutes = int(WINDOW.total_seconds() // 60)
        raise TooManyAttempts(
            f"Too many wrong attempts. Please wait {minutes} minutes, "
            "or call your community coordinator.",
            f"密码错误次数过多，请 {minutes} 分钟后再试，或联系社区协调员。",
        )
    return int(attempt.id)


async def _attempt(
    phone: str, ip: str, refusal: Callable[[], Unauthorized]
) -> tuple[int, Member | None]:
    """A counted sign-in attempt for ``phone``, and the active member it belongs to, if
    any; what is not a phone number is refused as a wrong secret would be."""
    try:
        phone = normalize_phone(phone)
    except TimebankError:
        raise refusal() from None
    return await _count_attempt(phone, ip), await Member.get_or_none(phone=phone, is_active=True)


async def _succeeded(attempt_id: int) -> None:
    await SignInAttempt.filter(id=attempt_id).update(succeeded=True)


async def sign_in(
    *, phone: str, password: str, ip: str, user_agent: str, secret_key: str
) -> tuple[str, SignedIn]:
    """Check the password and open a session; returns the cookie value and the member."""
    attempt, member = await _attempt(phone, ip, _bad_credentials)
    # Unknown phones are checked against a dummy hash: the same time for every answer.
    known = member.password_hash if member is not None else None
    if not await verify_password_off_loop(known, password) or member is None:
        raise _bad_credentials()
    await _succeeded(attempt)
    return await _open_session(member, ip, user_agent, secret_key)


async def _open_session(
    member: Member, ip: str, user_agent: str, secret_key: str
) -> tuple[str, SignedIn]:
    session = await Session.create(
        id=secrets.token_urlsafe(32),
        member=member,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=datetime.now(UTC) + timedelta(days=SESSION_DAYS),
        ip=ip[:64],
        user_agent=user_agent[:200],
    )
    return _serializer(secret_key).dumps(session.id), await _signed_in(member, session)


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_code(actor: Actor, member: Member) -> str:
    """A one-time sign-in code for ``member`` (8 digits, valid CODE_HOURS hours).

    Earlier unused codes of the member stop working. Only the code's hash is stored.
    """
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    now = datetime.now(UTC)
    async with in_transaction():
        await SignInCode.filter(member=member, used_at=None).update(used_at=now)
        await SignInCode.create(
            member=member,
            code_hash=_code_hash(code),
            issued_by_id=actor.member_id,
            expires_at=now + timedelta(hours=CODE_HOURS),
        )
        await audit.record_about(actor, "member.signin_code", member, on_behalf_of_id=member.id)
    return code


async def sign_in_with_code(
    *, phone: str, code: str, ip: str, user_agent: str, secret_key: str
) -> tuple[str, SignedIn]:
    """Sign in with a one-time code; it cannot be used again. Throttled like passwords."""
    attempt, member = await _attempt(phone, ip, _bad_code)
    now = datetime.now(UTC)
    code = inputs.plain(code)
    found = await _matching_code(member, code, now) if member is not None else None
    if found is None or member is None:
        raise _bad_code()
    # Used once: the update only succeeds for the first of two racing requests.
    if not await SignInCode.filter(id=found.id, used_at=None).update(used_at=now):
        raise _bad_code()
    await _succeeded(attempt)
    await audit.record_about(Actor(member.id, ip), "member.signin_code_used", member)
    return await _open_session(member, ip, user_agent, secret_key)


async def _matching_code(member: Member, code: str, now: datetime) -> SignInCode | None:
    """The member's unused, unexpired code equal to ``code`` (only counted attempts get here)."""
    if not (code.isascii() and code.isdigit()):
        return None
    return await SignInCode.get_or_none(
        member=member, code_hash=_code_hash(code), used_at=None, expires_at__gt=now
    )


def _bad_code() -> Unauthorized:
    return Unauthorized(
        "The phone number or sign-in code is wrong, or the code was used or has expired.",
        "电话号码或登录码错误，或登录码已使用、已过期。",
        code="bad_code",
    )


async def change_password(signed_in: SignedIn, *, current: str, new: str, ip: str) -> None:
    """Set a new password; the current one is needed when there is one.

    Every other session of the member ends (a phone left somewhere is signed out).
    """
    member = await Member.get(id=signed_in.member.id)
    if member.password_hash:
        # Throttled like signing in: a session left open must not let anyone guess the
        # password (and then keep the account after the session ends).
        attempt = await _count_attempt(member.phone, ip)
        if not await verify_password_off_loop(member.password_hash, current):
            raise Forbidden(
                "The current password is wrong.", "当前密码不正确。", code="wrong_password"
            )
        await _succeeded(attempt)
    new_hash = await hash_password_off_loop(new)
    async with in_transaction():
        await Member.filter(id=member.id).update(password_hash=new_hash)
        await (
            Session.filter(member=member, revoked_at=None)
            .exclude(id=signed_in.session.id)
            .update(revoked_at=datetime.now(UTC))
        )
        await audit.record_about(Actor(member.id, ip), "member.password", member)


async def _signed_in(member: Member, session: Session) -> SignedIn:
    roles = await MemberRole.filter(member=member).values_list("role", "community_id")
    return SignedIn(member, session, await _reach(frozenset((Role(r), c) for r, c in roles)))


# The communities below the ones given (a sub-district's communities, a district's
# sub-districts and theirs).
BELOW = (
    "WITH RECURSIVE below(id) AS ("
    " SELECT id FROM community WHERE parent_id IN ({marks})"
    " UNION ALL SELECT c.id FROM community c JOIN below b ON c.parent_id = b.id"
    ") SELECT id FROM below"
)


async def _reach(roles: frozenset[tuple[Role, int | None]]) -> frozenset[tuple[Role, int | None]]:
    """A coordinator of a sub-district (街道) or district coordinates every community below
    it too: their roles are widened here, once per request, so that every permission
    decision (``policy``) sees them. Nobody else costs a query."""
    above = sorted({c for r, c in roles if r is Role.COORDINATOR and c is not None})
    if not above:
        return roles
    client = connections.get("default")
    query = BELOW.format(marks=", ".join("?" * len(above)))
    _, rows = await client.execute_query(sql(query, client), above)
    return roles | {(Role.COORDINATOR, int(row["id"])) for row in rows}


# One statement per request (this runs before every page and API call): the session, its
# member if active, and the member's roles, one row per role.
CURRENT = (
    "SELECT s.id AS s_id, s.csrf_token AS s_csrf_token, s.created_at AS s_created_at,"
    " s.expires_at AS s_expires_at, s.ip AS s_ip, s.user_agent AS s_user_agent,"
    " r.role AS r_role, r.community_id AS r_community_id, m.*"
    " FROM member_session s JOIN member m ON m.id = s.member_id"
    " LEFT JOIN member_role r ON r.member_id = m.id"
    " WHERE s.id = ? AND s.revoked_at IS NULL AND m.is_active = ?"
)


async def current(cookie: str | None, *, secret_key: str) -> SignedIn | None:
    """The member a session cookie stands for, or None (no, bad, expired or revoked)."""
    if not cookie:
        return None
    try:
        session_id = _session_id(secret_key, cookie)
    except BadSignature:
        return None
    client = connections.get("default")
    _, rows = await client.execute_query(sql(CURRENT, client), [str(session_id), True])
    if not rows:
        return None
    first = dict(rows[0])
    fields = {k: v for k, v in first.items() if not k.startswith(("s_", "r_"))}
    member = from_row(Member, fields)
    session = from_row(
        Session,
        {
            "id": first["s_id"],
            "member_id": member.id,
            "csrf_token": first["s_csrf_token"],
            "created_at": first["s_created_at"],
            "expires_at": first["s_expires_at"],
            "revoked_at": None,
            "ip": first["s_ip"],
            "user_agent": first["s_user_agent"],
        },
    )
    if session.expires_at <= datetime.now(UTC):
        return None
    roles = frozenset(
        (Role(row["r_role"]), row["r_community_id"]) for row in rows if row["r_role"] is not None
    )
    return SignedIn(member, session, await _reach(roles))


async def sign_out(session: Session) -> None:
    """End the session for good: the cookie no longer works, even if kept."""
    await Session.filter(id=session.id).update(revoked_at=datetime.now(UTC))


def same_token(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` is the non-empty secret ``expected``, compared in constant time.

    As bytes: ``hmac.compare_digest`` raises on a str that is not ASCII, and a header or
    form value can be anything (Latin-1 bytes, a lone surrogate)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


def csrf_ok(signed_in: SignedIn, token: str | None) -> bool:
    """Whether ``token`` is this session's CSRF token."""
    return same_token(signed_in.session.csrf_token, token)


# Login CSRF: a page on another site must not be able to post our sign-in forms and so
# sign the victim in as the attacker. Before there is a session, the form carries a random
# value that is also in a cookie (SameSite=Lax, so a cross-site POST does not send it).
SIGNIN_COOKIE = "tb_signin"


# <nonce>.<HMAC of the nonce>: a plain random value would let whoever can set a cookie for
# the site (a sibling subdomain, a plain-http network) plant one they know and post it.
SIGNIN_TOKEN = re.compile(r"([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})")


def _signin_mac(secret_key: str, nonce: str) -> str:
    digest = hmac.new(
        secret_key.encode("utf-8"), b"timebank.signin:" + nonce.encode("ascii"), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _signed_by_us(cookie: str | None, secret_key: str) -> bool:
    found = SIGNIN_TOKEN.fullmatch(cookie or "")
    return found is not None and same_token(_signin_mac(secret_key, found[1]), found[2])


def signin_token(cookie: str | None, secret_key: str) -> str:
    """The pre-session token for the sign-in forms: the visitor's, or a new one."""
    if _signed_by_us(cookie, secret_key):
        return str(cookie)
    nonce = secrets.token_urlsafe(32)
    return f"{nonce}.{_signin_mac(secret_key, nonce)}"


def signin_token_ok(cookie: str | None, posted: str | None, secret_key: str) -> bool:
    """Whether a posted sign-in form carries the token of the visitor's cookie (one we
    made and signed: an empty, odd or planted cookie matches nothing)."""
    return _signed_by_us(cookie, secret_key) and same_token(cookie, posted)


KEEP_ATTEMPTS = timedelta(days=30)  # long enough to look into a guessing attack afterwards
KEEP_CODES = timedelta(days=30)


@dataclass(frozen=True)
class Pruned:
    """How many rows ``prune`` deleted."""

    attempts: int
    sessions: int
    codes: int


async def prune(now: datetime | None = None) -> Pruned:
    """Delete what sign-in no longer needs, with the phone numbers and addresses in it:
    attempts older than 30 days (throttling looks back 15 minutes), sessions that expired
    or were signed out, and sign-in codes that expired or were used over 30 days ago. Safe
    to repeat; the audit log keeps who signed in and who issued which code."""
    now = now or datetime.now(UTC)
    attempts = await SignInAttempt.filter(at__lt=now - KEEP_ATTEMPTS).delete()
    sessions = await Session.filter(expires_at__lt=now).delete()
    sessions += await Session.filter(revoked_at__lt=now).delete()
    codes = await SignInCode.filter(expires_at__lt=now - KEEP_CODES).delete()
    codes += await SignInCode.filter(used_at__lt=now - KEEP_CODES).delete()
    return Pruned(attempts, sessions, codes)
