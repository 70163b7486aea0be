"""Signing in and out: server-side sessions behind a signed cookie, CSRF, throttling.

The cookie holds only an itsdangerous signature over a random session id; the session row
says who it is, until when, and whether it was revoked, so signing out really ends it.
Failed attempts are counted per phone number and per address over a sliding window.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from timebank.errors import TimebankError, Unauthorized
from timebank.people.models import Member, MemberRole, Role, Session, SignInAttempt
from timebank.people.service import normalize_phone, verify_password

SESSION_COOKIE = "tb_session"
SESSION_DAYS = 30
WINDOW = timedelta(minutes=15)
MAX_FAILS_PER_PHONE = 5
MAX_FAILS_PER_IP = 30


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


def _bad_credentials() -> Unauthorized:
    # The same answer for an unknown phone and a wrong password: no enumeration of members.
    return Unauthorized(
        "The phone number or password is wrong.",
        "电话号码或密码错误。",
        code="bad_credentials",
    )


async def _check_throttle(phone: str, ip: str) -> None:
    since = datetime.now(UTC) - WINDOW
    by_phone = await SignInAttempt.filter(phone=phone, succeeded=False, at__gte=since).count()
    by_ip = await SignInAttempt.filter(ip=ip, succeeded=False, at__gte=since).count()
    if by_phone >= MAX_FAILS_PER_PHONE or by_ip >= MAX_FAILS_PER_IP:
        minutes = int(WINDOW.total_seconds() // 60)
        raise TooManyAttempts(
            f"Too many wrong attempts. Please wait {minutes} minutes, "
            "or call your community coordinator.",
            f"密码错误次数过多，请 {minutes} 分钟后再试，或联系社区协调员。",
        )


async def sign_in(
    *, phone: str, password: str, ip: str, user_agent: str, secret_key: str
) -> tuple[str, SignedIn]:
    """Check the password and open a session; returns the cookie value and the member."""
    try:
        phone = normalize_phone(phone)
    except TimebankError:
        raise _bad_credentials() from None
    await _check_throttle(phone, ip)
    member = await Member.get_or_none(phone=phone, is_active=True)
    ok = member is not None and verify_password(member.password_hash, password)
    await SignInAttempt.create(phone=phone, ip=ip, succeeded=ok)
    if not ok or member is None:
        raise _bad_credentials()
    session = await Session.create(
        id=secrets.token_urlsafe(32),
        member=member,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=datetime.now(UTC) + timedelta(days=SESSION_DAYS),
        ip=ip[:64],
        user_agent=user_agent[:200],
    )
    return _serializer(secret_key).dumps(session.id), await _signed_in(member, session)


async def _signed_in(member: Member, session: Session) -> SignedIn:
    roles = await MemberRole.filter(member=member).values_list("role", "community_id")
    return SignedIn(member, session, frozenset((Role(r), c) for r, c in roles))


async def current(cookie: str | None, *, secret_key: str) -> SignedIn | None:
    """The member a session cookie stands for, or None (no, bad, expired or revoked)."""
    if not cookie:
        return None
    try:
        session_id = _serializer(secret_key).loads(cookie)
    except BadSignature:
        return None
    session = await Session.get_or_none(id=session_id, revoked_at=None)
    if session is None or session.expires_at <= datetime.now(UTC):
        return None
    member = await Member.get_or_none(id=session.member_id, is_active=True)  # type: ignore[attr-defined]
    return None if member is None else await _signed_in(member, session)


async def sign_out(session: Session) -> None:
    """End the session for good: the cookie no longer works, even if kept."""
    await Session.filter(id=session.id).update(revoked_at=datetime.now(UTC))


def csrf_ok(signed_in: SignedIn, token: str | None) -> bool:
    """Whether ``token`` is this session's CSRF token."""
    return bool(token) and hmac.compare_digest(signed_in.session.csrf_token, token or "")
