"""The rules of visits: checking in and out at the resident's door, and reading visits.

Flag, don't block: a visit that breaks a rule (outside its window, too far from the home,
too short or too long, over the daily cap, overlapping another, unconfirmed, recorded
offline, closed automatically) is kept and waits for a coordinator; a clean visit is
verified at check-out. Verification claims the visit with a conditional update, so only
one caller ever credits it, and the ledger posting's idempotency key is the visit id, so a
retry (or the repair job after a crash) posts it at most once.

The SQL of a tap is in ``steps`` (check-in) and ``closing`` (check-out); scanning a placard
is ``scanning``; what happens after check-out (review, rating, crediting) is ``review``.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from timebank import inputs
from timebank.catalog.service import catalog
from timebank.db import from_row, get_or_404
from timebank.db.steps import Steps, run
from timebank.errors import Conflict, Invalid, TimebankError
from timebank.people.audit import Actor
from timebank.people.models import Community, Member
from timebank.people.service import in_argon2_pool, member_names
from timebank.visits import closing, placards, refusals, steps
from timebank.visits.models import Visit, VisitStatus
from timebank.visits.review import credit as credit
from timebank.visits.review import credit_pending as credit_pending
from timebank.visits.review import rate as rate
from timebank.visits.review import review as review
from timebank.visits.review import service_of
from timebank.visits.scanning import Scan as Scan
from timebank.visits.scanning import audit_refusal as audit_refusal
from timebank.visits.scanning import scan as scan

T = TypeVar("T")

EVENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
OFFLINE_LIMIT = timedelta(hours=24)  # how old an offline record may be
PIN_TRIES = 3


@dataclass(frozen=True)
class Where:
    """What the phone sends with a tap: its event id, its clock and (with consent) place."""

    event_id: str
    client_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    offline: bool = False


def _coordinate(raw: Any, name: str, limit: float) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(str(raw))
    except ValueError:
        value = math.inf
    if not -limit <= value <= limit:
        en, zh = inputs.named(name)
        raise Invalid(
            f"{en} must be a number from {-limit:g} to {limit:g}.",
            f"{zh}必须是 {-limit:g} 到 {limit:g} 之间的数。",
            code="bad_location",
        )
    return value


def parse_where(body: dict[str, Any]) -> Where:
    """The event id, client time and location of a check-in or check-out, checked."""
    event_id = str(body.get("event_id") or "")
    if not EVENT_ID.fullmatch(event_id):
        raise Invalid(
            "The request lacks its event id (8 to 64 letters, digits, - or _). "
            "Please reload the page and tap again.",
            "请求缺少事件编号，请刷新页面后重试。",
            code="bad_event_id",
        )
    client_at = None
    raw_time = body.get("client_time")
    if raw_time not in (None, ""):
        # Within the service's window, so the shift to UTC cannot leave the calendar.
        client_at = inputs.parse_moment(str(raw_time), "client_time").astimezone(UTC)
    lat = _coordinate(body.get("lat"), "lat", 90)
    lon = _coordinate(body.get("lon"), "lon", 180)
    if (lat is None) != (lon is None):
        raise Invalid(
            "Send both lat and lon, or neither.", "经纬度须同时提供。", code="bad_location"
        )
    offline = body.get("offline") in (True, "1", "true", "on")
    if offline and client_at is None:
        raise Invalid(
            "A visit recorded offline needs the phone's time.",
            "离线记录须带手机时间。",
            code="bad_time",
        )
    return Where(event_id, client_at, lat, lon, offline)


def _moment(where: Where, now: datetime) -> datetime:
    """Server time, except for a record sent late from offline: the phone's time, kept
    within the last 24 hours and not in the future."""
    if not where.offline or where.client_at is None:
        return now
    return min(max(where.client_at, now - OFFLINE_LIMIT), now)


# Check-in and check-out (the SQL is in steps.py and closing.py) --------------------------


async def _replayed(column: str, where: Where, helper: Member) -> Visit | None:
    found = await Visit.filter(**{column: where.event_id}).first()
    if found is None:
        return None
    if found.helper_id != helper.id:
        raise refusals.event_id_taken()
    return found


def _duplicate(error: BaseException) -> bool:
    """A unique key refused the row (two requests raced on PostgreSQL)."""
    return isinstance(error, IntegrityError | sqlite3.IntegrityError) or (
        type(error).__name__ == "UniqueViolationError"
    )


async def _run_with_fixes(make: Callable[[], Steps[T]], *, tz: ZoneInfo) -> T:
    """Run a step sequence; when it asks for the slow path, take it and run it again."""
    for _ in range(3):
        try:
            return await run(make())
        except steps.SlowPath as slow:
            if slow.reason == steps.SlowPath.FORGOTTEN:
                await close_forgotten(helper_id=slow.subject, tz=tz)
            else:  # NO_CATALOG: the catalogue is seeded on first use
                await catalog(await Community.get(id=slow.subject))
    raise Conflict(
        "This could not be recorded just now. Please tap again.",
        "暂时无法记录，请再点一次。",
        code="try_again",
    )


def _tap(secret: str, token: str, helper: Member, where: Where) -> steps.Tap:
    """The tap of ``helper`` on the placard of ``token``, received now."""
    resident_id, generation = placards.read_token(secret, token)
    now = datetime.now(UTC)
    return steps.Tap(
        helper_id=helper.id,
        helper_community=helper.community_id,
        resident_id=resident_id,
        generation=generation,
        event_id=where.event_id,
        at=_moment(where, now),
        now=now,
        client_at=where.client_at,
        lat=where.lat,
        lon=where.lon,
        offline=where.offline,
    )


async def _replay_of_refused(
    column: str, where: Where, helper: Member, error: Exception
) -> Visit | None:
    """After a refused or clashing tap: the visit its event id made, when it was a retry
    that lost the race to the first request; else None (the refusal stands)."""
    refused = isinstance(error, TimebankError)
    if not (_duplicate(error) or refused):
        raise error
    # A retry racing the first request, or a tap elsewhere at the same moment. On
    # PostgreSQL a retry can also be refused ("no order now", "no open visit") when the
    # first request committed between its look for the event id and its next look.
    return await _replayed(column, where, helper)


async def check_in(
    actor: Actor,
    secret: str,
    token: str,
    helper: Member,
    where: Where,
    service_code: str = "",
    *,
    tz: ZoneInfo,
) -> tuple[Visit, bool]:
    """Open a visit; (visit, created). A repeated event id returns the same visit.

    The caller has checked that ``helper`` holds the helper role (``api.require_helper``).
    """
    tap = _tap(secret, token, helper, where)
    if not helper.is_active:
        raise refusals.not_a_helper()
    try:
        row, created = await _run_with_fixes(
            lambda: steps.with_row(
                steps.check_in_steps(actor=actor, tap=tap, service_code=service_code)
            ),
            tz=tz,
        )  # fmt: skip
    except Exception as error:
        replay = await _replay_of_refused("in_event", where, helper, error)
        if replay is not None:
            return replay, False
        if isinstance(error, TimebankError):
            raise
        raise Conflict(
            "You already have a visit open. Reload the page.",
            "您已有一项正在进行的服务，请刷新页面。",
            code="visit_open",
        ) from None
    return from_row(Visit, row), created


async def _confirm_pin(
    secret: str, token: str, helper: Member, where: Where, pin: str
) -> Visit | None:
    """Check the resident's PIN typed at check-out (a wrong one counts, and 3 lock it).
    Returns the visit already closed by this event id, if this is a retry.

    Each try takes one of the 3 before its PIN is checked, in one conditional update, so
    parallel guesses cannot check more than 3 wrong PINs. A right PIN gives its try back:
    only wrong ones lock."""
    resident, placard = await placards.current(secret, token)
    visit = await Visit.get_or_none(open_helper_id=helper.id, resident_id=resident.id)
    if visit is None:
        replay = await _replayed("out_event", where, helper)
        if replay is not None:
            return replay
        raise refusals.no_open_visit()
    taken = await Visit.filter(id=visit.id, pin_failures__lt=PIN_TRIES).update(
        pin_failures=F("pin_failures") + 1
    )
    if not taken:
        raise Conflict(
            "The PIN is locked after 3 wrong tries. Finish without it: the resident "
            "or family can confirm the visit later on their own page.",
            "确认码已输错 3 次被锁定。请不填确认码直接签退，老人或家属可稍后在自己的页面确认。",
            code="pin_locked",
        )
    if await in_argon2_pool(placards.pin_matches, placard, pin):
        await Visit.filter(id=visit.id).update(pin_failures=F("pin_failures") - 1)
    else:
        now_failed = await Visit.get(id=visit.id).only("id", "pin_failures")
        left = max(0, PIN_TRIES - now_failed.pin_failures)
        raise Invalid(
            f"Wrong PIN. {left} tries left." if left else "Wrong PIN. The PIN is now locked.",
            f"确认码不对，还可以试 {left} 次。" if left else "确认码不对，已锁定。",
            code="wrong_pin",
            details={"tries_left": left},
        )
    return None


async def check_out(
    actor: Actor,
    secret: str,
    token: str,
    helper: Member,
    where: Where,
    *,
    tz: ZoneInfo,
    pin: str = "",
) -> Visit:
    """Close the helper's open visit here; verify and credit it at once (one commit) when
    no rule is broken. A repeated event id returns the same visit."""
    tap = _tap(secret, token, helper, where)  # a forged placard is refused before the PIN
    confirmed = ""
    if (pin or "").strip():
        replay = await _confirm_pin(secret, token, helper, where, pin.strip())
        if replay is not None:
            return replay
        confirmed = "pin"
    try:
        row, _ = await _run_with_fixes(
            lambda: steps.with_row(
                _paired(
                    closing.check_out_steps(actor=actor, tap=tap, confirmed=confirmed, tz=tz)
                )
            ),
            tz=tz,
        )  # fmt: skip
    except Exception as error:
        replay = await _replay_of_refused("out_event", where, helper, error)
        if replay is not None:
            return replay
        if isinstance(error, TimebankError) and error.code != "visit_closed":
            raise
        raise Conflict(
            "This visit was already finished.", "这次服务已经签退。", code="visit_closed"
        ) from None
    return from_row(Visit, row)


def _paired(inner: Steps[int]) -> Steps[tuple[int, bool]]:
    return (yield from inner), False


def _row(visit: Visit) -> tuple[Any, ...]:
    """A visit as ``closing.VISIT_COLUMNS``."""
    return (
        visit.id, visit.order_id, visit.service_code, visit.checked_in_at, visit.in_distance_m,
        visit.offline, visit.flags, visit.funded, visit.hours, visit.pay_fen,
        visit.community_id, visit.resident_id, visit.confirmed_by,
    )  # fmt: skip


async def close_forgotten(*, helper_id: int | None = None, tz: ZoneInfo) -> int:
    """Close visits left open past their service's maximum (and the late allowance), at
    that maximum, flagged; returns how many. ``tz``: the community's, for its daily cap."""
    query = Visit.filter(status=VisitStatus.OPEN)
    if helper_id is not None:
        query = query.filter(open_helper_id=helper_id)
    now = datetime.now(UTC)
    closed = 0
    for visit in await query.filter(checked_in_at__lt=now - timedelta(minutes=30)):
        service = await service_of(visit)
        community = await Community.get(id=visit.community_id)
        limit = timedelta(minutes=service.max_minutes + community.checkin_late_minutes)
        if visit.checked_in_at + limit > now:
            continue
        end = visit.checked_in_at + timedelta(minutes=service.max_minutes)
        try:
            await _run_with_fixes(
                lambda visit=visit, end=end: closing.close_steps(  # type: ignore[misc]
                    actor=Actor.system(), visit=_row(visit), tap=None, end=end,
                    changes={"helper_id": visit.helper_id, "received_out_at": now}, tz=tz,
                    confirmed=visit.confirmed_by, auto_closed=True,
                ),
                tz=tz,
            )  # fmt: skip
        except Conflict:
            continue  # finished by the helper at the same moment
        closed += 1
    return closed


# Reading ---------------------------------------------------------------------------------


async def get_visit(visit_id: int) -> Visit:
    """The visit with this id, or a 404."""
    return await get_or_404(Visit, visit_id, "visit", "服务记录", "visit_not_found")


def visible_visits(query: Any, *, member_id: int, communities: set[int] | None) -> Any:
    """Narrow ``query`` to visits the member may see (given, received, or coordinated)."""
    if communities is None:
        return query
    own = Q(resident_id=member_id) | Q(helper_id=member_id)
    return query.filter(own | Q(community_id__in=sorted(communities)))


def visit_json(visit: Visit, people: dict[int, str] | None = None) -> dict[str, Any]:
    """A visit as the API shows it."""
    people = people or {}

    def at(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": visit.id,
        "community": visit.community_id,
        "resident": visit.resident_id,
        "resident_name": people.get(visit.resident_id, ""),
        "helper": visit.helper_id,
        "helper_name": people.get(visit.helper_id, ""),
        "order": visit.order_id,
        "pairing": visit.pairing_id,
        "service": visit.service_code,
        "status": visit.status.value,
        "checked_in_at": at(visit.checked_in_at),
        "checked_out_at": at(visit.checked_out_at),
        "client_in_at": at(visit.client_in_at),
        "client_out_at": at(visit.client_out_at),
        "in_distance_m": visit.in_distance_m,
        "out_distance_m": visit.out_distance_m,
        "offline": visit.offline,
        "raw_minutes": visit.raw_minutes,
        "served_minutes": visit.served_minutes,
        "credit_minutes": visit.credit_minutes,
        "flags": [f for f in visit.flags.split(",") if f],
        "funded": visit.funded,
        "hours": visit.hours,
        "pay_fen": visit.pay_fen,
        "confirmed_by": visit.confirmed_by,
        "rating": visit.rating,
        "comment": visit.comment,
        "review_note": visit.review_note,
        "ledger_txn": visit.ledger_txn_id,
    }


async def names(visits: list[Visit]) -> dict[int, str]:
    """Member id → name for the residents and helpers of ``visits``."""
    ids = {v.resident_id for v in visits} | {v.helper_id for v in visits}
    return await member_names(ids)
