"""The rules of visits: scanning a placard, checking in and out, flags, review, crediting.

Flag, don't block: a visit that breaks a rule (outside its window, too far from the home,
too short or too long, over the daily cap, overlapping another, unconfirmed, recorded
offline, closed automatically) is kept and waits for a coordinator; a clean visit is
verified at check-out. Verification claims the visit with a conditional update, so only
one caller ever credits it, and the ledger posting's idempotency key is the visit id, so a
retry (or the repair job after a crash) posts it at most once.
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
from tortoise.transactions import in_transaction

from timebank import inputs, refusal_log
from timebank.catalog.models import ServiceType
from timebank.catalog.service import catalog
from timebank.db import from_row
from timebank.db.steps import Steps, run
from timebank.errors import Conflict, Forbidden, Invalid, NotFound, TimebankError
from timebank.orders.models import Order, OrderStatus
from timebank.pairing.models import Pairing, PairingStatus, PlanItem
from timebank.pairing.service import has_role
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import Community, FamilyLink, HelperProfile, Member, Role
from timebank.people.service import in_argon2_pool, member_names
from timebank.visits import placards, refusals, steps
from timebank.visits.models import Flag, Placard, Visit, VisitStatus

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
        raise Invalid(
            f"{name} must be a number from {-limit:g} to {limit:g}.",
            f"{name} 必须是 {-limit:g} 到 {limit:g} 之间的数。",
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


def _moment(where: Where, now: datetime, *, not_before: datetime | None = None) -> datetime:
    """Server time, except for a record sent late from offline: the phone's time, kept
    within the last 24 hours, not in the future and not before ``not_before``."""
    if not where.offline or where.client_at is None:
        return now
    at = min(max(where.client_at, now - OFFLINE_LIMIT), now)
    return max(at, not_before) if not_before is not None else at


# Scanning -------------------------------------------------------------------------------


@dataclass
class Scan:
    """What a helper's scan of a placard finds: whose home, and what they may do there."""

    resident: Member
    community: Community
    placard: Placard
    open_visit: Visit | None  # the helper's visit under way here
    elsewhere: Visit | None  # the helper's visit under way at someone else's home
    order: Order | None  # the helper's order here whose window is now
    pairing: Pairing | None  # the active pairing, when there is one
    services: list[ServiceType]  # what may be chosen for a visit without an order

    @property
    def action(self) -> str:
        return "finish" if self.open_visit is not None else "start"


def window(order: Order, community: Community) -> tuple[datetime, datetime]:
    """When an order's visit may be checked in: early before it starts to late after its end."""
    return (
        order.starts_at - timedelta(minutes=community.checkin_early_minutes),
        order.ends_at + timedelta(minutes=community.checkin_late_minutes),
    )


async def _order_now(
    helper: Member, resident: Member, community: Community, at: datetime
) -> Order | None:
    early = timedelta(minutes=community.checkin_early_minutes)
    late = timedelta(minutes=community.checkin_late_minutes)
    found = await Order.filter(
        helper=helper,
        resident=resident,
        status=OrderStatus.ASSIGNED,
        starts_at__lte=at + early,
        ends_at__gte=at - late,
    ).order_by("starts_at")
    return found[0] if found else None


async def scan(secret: str, token: str, helper: Member, *, at: datetime | None = None) -> Scan:
    """Check a scanned token and the helper's right to serve here; changes nothing."""
    resident, placard = await placards.current(secret, token)
    now = at or datetime.now(UTC)
    if not helper.is_active or not await has_role(helper, Role.HELPER):
        raise refusals.not_a_helper()
    if helper.community_id != resident.community_id:  # type: ignore[attr-defined]
        raise refusals.other_community()
    if helper.id == resident.id:
        raise refusals.same_person()
    community = await Community.get(id=resident.community_id)  # type: ignore[attr-defined]
    open_visit = await Visit.get_or_none(open_helper_id=helper.id)
    elsewhere = None
    if open_visit is not None and open_visit.resident_id != resident.id:  # type: ignore[attr-defined]
        elsewhere, open_visit = open_visit, None
    order = await _order_now(helper, resident, community, now)
    pairing = await Pairing.filter(
        helper=helper, resident=resident, status=PairingStatus.APPROVED
    ).first()
    if open_visit is None and order is None and pairing is None:
        raise refusals.not_yours()
    services: list[ServiceType] = []
    if order is None and pairing is not None:
        offered = {s.code: s for s in await catalog(community) if s.active}
        planned = await PlanItem.filter(pairing=pairing, active=True).order_by("start_minute")
        codes = [p.service_code for p in planned if p.service_code in offered]
        services = [offered[c] for c in dict.fromkeys(codes)] or (
            [offered["visit"]] if "visit" in offered else list(offered.values())[:1]
        )
    return Scan(resident, community, placard, open_visit, elsewhere, order, pairing, services)


async def audit_refusal(actor: Actor, token: str, error: TimebankError) -> None:
    """Write a refused scan to the audit log (who, which code, why); a scan by someone not
    signed in goes to the server log instead, rate-limited (strangers cannot fill the audit)."""
    if actor.member_id is None:
        refusal_log.anonymous.refused(actor.ip, "placard scan", error.code, token)
        return
    await audit.record(
        actor,
        "visit.refused",
        target_type="placard",
        target_id=token[:40],
        detail={"code": error.code},
    )


# Check-in and check-out (the SQL is in steps.py) ----------------------------------------


async def _replayed(column: str, where: Where, helper: Member) -> Visit | None:
    found = await Visit.filter(**{column: where.event_id}).first()
    if found is None:
        return None
    if found.helper_id != helper.id:  # type: ignore[attr-defined]
        raise refusals.event_id_taken()
    return found


def _duplicate(error: BaseException) -> bool:
    """A unique key refused the row (two requests raced on PostgreSQL)."""
    return isinstance(error, IntegrityError | sqlite3.IntegrityError) or (
        type(error).__name__ == "UniqueViolationError"
    )


async def _seed_catalog(community_id: int) -> None:
    await catalog(await Community.get(id=community_id))


async def _run_with_fixes(make: Callable[[], Steps[T]]) -> T:
    """Run a step sequence; when it asks for the slow path, take it and run it again."""
    for _ in range(3):
        try:
            return await run(make())
        except steps.SlowPath as slow:
            await slow.fix()
    raise Conflict(
        "This could not be recorded just now. Please tap again.",
        "暂时无法记录，请再点一次。",
        code="try_again",
    )


def _tap(where: Where, now: datetime, *, not_before: datetime | None = None) -> steps.Tap:
    return steps.Tap(
        event_id=where.event_id,
        at=_moment(where, now, not_before=not_before),
        now=now,
        client_at=where.client_at,
        lat=where.lat,
        lon=where.lon,
        offline=where.offline,
    )


async def check_in(
    actor: Actor, secret: str, token: str, helper: Member, where: Where, service_code: str = ""
) -> tuple[Visit, bool]:
    """Open a visit; (visit, created). A repeated event id returns the same visit.

    The caller has checked that ``helper`` holds the helper role (``api.require_helper``).
    """
    resident_id, generation = placards.read_token(secret, token)
    if not helper.is_active:
        raise refusals.not_a_helper()
    tap = _tap(where, datetime.now(UTC))
    try:
        row, created = await _run_with_fixes(
            lambda: steps.with_row(
                steps.check_in_steps(
                    actor_id=actor.member_id,
                    ip=actor.ip,
                    helper_id=helper.id,
                    helper_community=helper.community_id,  # type: ignore[attr-defined]
                    resident_id=resident_id,
                    generation=generation,
                    tap=tap,
                    service_code=service_code,
                    close_forgotten=lambda: close_forgotten(helper_id=helper.id),
                    seed_catalog=_seed_catalog,
                )
            )  # fmt: skip
        )
    except Exception as error:
        refused = isinstance(error, TimebankError)
        if not (_duplicate(error) or refused):
            raise
        # A retry racing the first request, or a check-in elsewhere at the same moment. On
        # PostgreSQL a retry can also be refused ("no order now") when the first request
        # committed between its look for the event id and its look for the order.
        replay = await _replayed("in_event", where, helper)
        if replay is not None:
            return replay, False
        if refused:
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
    resident_id, generation = placards.read_token(secret, token)
    confirmed = ""
    if (pin or "").strip():
        replay = await _confirm_pin(secret, token, helper, where, pin.strip())
        if replay is not None:
            return replay
        confirmed = "pin"
    tap = _tap(where, datetime.now(UTC))
    try:
        row, _ = await _run_with_fixes(
            lambda: steps.with_row(
                _paired(
                    steps.check_out_steps(
                        actor_id=actor.member_id,
                        ip=actor.ip,
                        helper_id=helper.id,
                        helper_community=helper.community_id,  # type: ignore[attr-defined]
                        resident_id=resident_id,
                        generation=generation,
                        tap=tap,
                        confirmed=confirmed,
                        tz=tz,
                        seed_catalog=_seed_catalog,
                    )
                )
            )
        )
    except Exception as error:
        refused = isinstance(error, TimebankError)
        if not (_duplicate(error) or refused):
            raise
        # As at check-in: a retry that lost the race finds the first one's result.
        replay = await _replayed("out_event", where, helper)
        if replay is not None:
            return replay
        if refused and getattr(error, "code", "") != "visit_closed":
            raise
        raise Conflict(
            "This visit was already finished.", "这次服务已经签退。", code="visit_closed"
        ) from None
    return from_row(Visit, row)


def _paired(inner: Steps[int]) -> Steps[tuple[int, bool]]:
    return (yield from inner), False


def _row(visit: Visit) -> tuple[Any, ...]:
    """A visit as ``steps.VISIT_COLUMNS``."""
    return (
        visit.id, visit.order_id, visit.service_code, visit.checked_in_at, visit.in_distance_m,
        visit.offline, visit.flags, visit.funded, visit.hours, visit.pay_fen,
        visit.community_id, visit.resident_id, visit.confirmed_by,  # type: ignore[attr-defined]
    )  # fmt: skip


async def close_forgotten(*, helper_id: int | None = None, tz: ZoneInfo | None = None) -> int:
    """Close visits left open past their service's maximum (and the late allowance), at
    that maximum, flagged; returns how many."""
    query = Visit.filter(status=VisitStatus.OPEN)
    if helper_id is not None:
        query = query.filter(open_helper_id=helper_id)
    now = datetime.now(UTC)
    closed = 0
    for visit in await query.filter(checked_in_at__lt=now - timedelta(minutes=30)):
        service = await _service_of(visit)
        community = await Community.get(id=visit.community_id)  # type: ignore[attr-defined]
        limit = timedelta(minutes=service.max_minutes + community.checkin_late_minutes)
        if visit.checked_in_at + limit > now:
            continue
        end = visit.checked_in_at + timedelta(minutes=service.max_minutes)
        try:
            await _run_with_fixes(
                lambda visit=visit, end=end: steps.close_steps(  # type: ignore[misc]
                    actor_id=None,
                    ip="",
                    visit=_row(visit),
                    tap=None,
                    end=end,
                    changes={"helper_id": visit.helper_id, "received_out_at": now},
                    tz=tz or ZoneInfo("Asia/Shanghai"),
                    confirmed=visit.confirmed_by,
                    auto_closed=True,
                    seed_catalog=_seed_catalog,
                )  # fmt: skip
            )
        except Conflict:
            continue  # finished by the helper at the same moment
        closed += 1
    return closed


async def _service_of(visit: Visit) -> ServiceType:
    community = await Community.get(id=visit.community_id)  # type: ignore[attr-defined]
    for found in await catalog(community):  # seeds the community's catalogue on first use
        if found.code == visit.service_code:
            return found
    # A service removed from the catalogue since: count it as 1:1, defaults for the rest.
    return ServiceType(
        code=visit.service_code, name_zh=visit.service_code, name_en=visit.service_code
    )


async def _measured(visit: Visit, served: int) -> dict[str, Any]:
    """Minutes and pay for a visit a coordinator adjusted to ``served`` minutes."""
    community = await Community.get(id=visit.community_id)  # type: ignore[attr-defined]
    service = await _service_of(visit)
    rules = steps.Rules(
        unit=community.time_unit_minutes, radius=community.visit_radius_m,
        daily_cap=community.daily_cap_minutes, early=community.checkin_early_minutes,
        late=community.checkin_late_minutes, min_minutes=service.min_minutes,
        max_minutes=service.max_minutes, multiplier=service.multiplier_milli,
        needs_confirmation=service.needs_confirmation,
    )  # fmt: skip
    rate = None
    if visit.pay_fen is not None:
        profile = await HelperProfile.get_or_none(member_id=visit.helper_id)  # type: ignore[attr-defined]
        rate = profile.hourly_rate_fen if profile is not None else None
    end = visit.checked_out_at or visit.checked_in_at
    return steps.measure(visit.checked_in_at, end, rules, rate, visit.pay_fen is not None, served)


# Verification and crediting ---------------------------------------------------------------


async def credit(visit: Visit, actor: Actor) -> Visit:
    """Post a verified visit's hours to the ledger, once (key: the visit id).

    When the resident's wallet cannot pay, the visit goes back to review, flagged no_hours.
    """
    if visit.status is not VisitStatus.VERIFIED or visit.ledger_txn_id is not None:
        return visit
    if not visit.hours or not visit.credit_minutes:
        return visit
    await run(
        steps.credit_steps(
            visit_id=visit.id,
            helper_id=visit.helper_id,  # type: ignore[attr-defined]
            community_id=visit.community_id,  # type: ignore[attr-defined]
            resident_id=visit.resident_id,  # type: ignore[attr-defined]
            minutes=visit.credit_minutes,
            funded=visit.funded,
            actor_id=actor.member_id,
            flags=visit.flags,
            order_id=visit.order_id,
        )  # fmt: skip
    )
    return await Visit.get(id=visit.id)


async def credit_pending() -> int:
    """Post any verified visit whose posting was cut off (a crash between verifying and
    posting); harmless to run at any time. Returns how many were posted."""
    done = 0
    for visit in await Visit.filter(
        status=VisitStatus.VERIFIED, ledger_txn_id=None, hours=True, credit_minutes__gt=0
    ):
        after = await credit(visit, Actor.system())
        done += after.ledger_txn_id is not None
    return done


REVIEW_ACTIONS = ("approve", "adjust", "reject")


async def review(
    actor: Actor,
    visit: Visit,
    action: str,
    *,
    minutes: int | None = None,
    reason: str = "",
    community_pays: bool = False,
) -> Visit:
    """A coordinator approves a flagged visit, approves it with another duration, or
    rejects it; adjusting and rejecting need a reason."""
    if await _served_by(actor.member_id, visit):
        raise _own_visit()
    reason = (reason or "").strip()
    if action not in REVIEW_ACTIONS:
        raise Invalid(
            "The action must be approve, adjust or reject.",
            "操作只能是通过、调整时长或驳回。",
            code="unknown_action",
        )
    if action != "approve" and not reason:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    if len(reason) > 300:
        raise Invalid("The reason is too long.", "原因太长。", code="reason_too_long")
    if visit.status is not VisitStatus.FLAGGED:
        raise Conflict(
            f"Visit {visit.id} is {visit.status.value}: only flagged visits are reviewed.",
            f"服务记录 {visit.id} 不在待审核状态。",
            code="wrong_state",
        )
    changes: dict[str, Any] = {
        "reviewed_by_id": actor.member_id,
        "reviewed_at": datetime.now(UTC),
        "review_note": reason,
    }
    if action == "reject":
        changes["status"] = VisitStatus.REJECTED
    else:
        changes["status"] = VisitStatus.VERIFIED
        if community_pays:
            changes["funded"] = True
        if action == "adjust":
            if minutes is None or not 1 <= minutes <= 12 * 60:
                raise Invalid(
                    "Give the minutes served, from 1 to 720.",
                    "请填写服务分钟数（1 到 720）。",
                    code="bad_minutes",
                )
            changes.update(await _measured(visit, minutes))
            del changes["raw_minutes"]
    async with in_transaction():
        moved = await Visit.filter(id=visit.id, status=VisitStatus.FLAGGED).update(**changes)
        if not moved:
            raise Conflict(
                f"Visit {visit.id} was reviewed at the same moment.",
                f"服务记录 {visit.id} 刚被别人审核。",
                code="visit_changed",
            )
        if visit.order_id:
            await Order.filter(id=visit.order_id, status=OrderStatus.FLAGGED).update(
                status=OrderStatus.VERIFIED if action != "reject" else OrderStatus.FLAGGED
            )
        await audit.record(
            actor,
            f"visit.{action}",
            target_type="visit",
            target_id=visit.id,
            community_id=visit.community_id,  # type: ignore[attr-defined]
            detail={"minutes": minutes, "reason": reason} if minutes else {"reason": reason},
        )
    return await credit(await Visit.get(id=visit.id), actor)


def _own_visit() -> Forbidden:
    return Forbidden(
        "Whoever served a visit (or their family) cannot confirm, rate or review it.",
        "提供服务的人（及其家属）不能确认、评价或审核这次服务。",
        code="own_visit",
    )


async def _served_by(person_id: int | None, visit: Visit) -> bool:
    """Whether ``person`` served ``visit`` or is family of whoever did: the hours are
    theirs, so they may not approve them."""
    helper_id: int = visit.helper_id  # type: ignore[attr-defined]
    if person_id is None:
        return False
    return person_id == helper_id or await FamilyLink.exists(
        member_id=helper_id, relative_id=person_id
    )


async def rate(actor: Actor, visit: Visit, rating: int, comment: str = "") -> Visit:
    """The resident (or family) rates a finished visit, which also confirms it: a visit
    waiting only for confirmation is then verified."""
    # The resident confirms what she received, whoever served it; anyone else who rates
    # for her must be neither the helper nor the helper's family (their hours).
    by_resident = actor.member_id == visit.resident_id  # type: ignore[attr-defined]
    if actor.member_id == visit.helper_id or (  # type: ignore[attr-defined]
        not by_resident and await _served_by(actor.member_id, visit)
    ):
        raise _own_visit()
    if not 1 <= rating <= 5:
        raise Invalid("The rating is 1 to 5 stars.", "评分为 1 到 5 星。", code="bad_rating")
    comment = (comment or "").strip()
    if len(comment) > 300:
        raise Invalid("The comment is too long.", "评价太长。", code="comment_too_long")
    if visit.status in (VisitStatus.OPEN, VisitStatus.REJECTED):
        raise Conflict(
            "Only a finished visit can be rated.", "只能评价已结束的服务。", code="wrong_state"
        )
    if visit.rating is not None:
        raise Conflict(
            "This visit was already rated.", "这次服务已经评价过。", code="already_rated"
        )
    flags = [f for f in visit.flags.split(",") if f and f != Flag.UNCONFIRMED.value]
    changes: dict[str, Any] = {
        "rating": rating,
        "comment": comment,
        "rated_by_id": actor.member_id,
        "rated_at": datetime.now(UTC),
        "confirmed_by": visit.confirmed_by or "rating",
        "flags": ",".join(flags),
    }
    verify_now = visit.status is VisitStatus.FLAGGED and not flags and visit.reviewed_at is None
    if verify_now:
        changes["status"] = VisitStatus.VERIFIED
    async with in_transaction():
        moved = await Visit.filter(id=visit.id, status=visit.status, rating=None).update(**changes)
        if not moved:
            raise Conflict(
                "This visit changed at the same moment.", "这次服务刚被修改。", code="visit_changed"
            )
        if verify_now and visit.order_id:
            await Order.filter(id=visit.order_id, status=OrderStatus.FLAGGED).update(
                status=OrderStatus.VERIFIED
            )
        await audit.record(
            actor,
            "visit.rate",
            target_type="visit",
            target_id=visit.id,
            community_id=visit.community_id,  # type: ignore[attr-defined]
            detail={"rating": rating},
        )
    return await credit(await Visit.get(id=visit.id), actor)


# Reading ---------------------------------------------------------------------------------


async def get_visit(visit_id: int) -> Visit:
    """The visit with this id, or a 404."""
    found = await Visit.get_or_none(id=visit_id)
    if found is None:
        raise NotFound(
            f"There is no visit number {visit_id}.",
            f"找不到编号为 {visit_id} 的服务记录。",
            code="visit_not_found",
        )
    return found


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
        "community": visit.community_id,  # type: ignore[attr-defined]
        "resident": visit.resident_id,  # type: ignore[attr-defined]
        "resident_name": people.get(visit.resident_id, ""),  # type: ignore[attr-defined]
        "helper": visit.helper_id,  # type: ignore[attr-defined]
        "helper_name": people.get(visit.helper_id, ""),  # type: ignore[attr-defined]
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
    ids = {v.resident_id for v in visits} | {v.helper_id for v in visits}  # type: ignore[attr-defined]
    return await member_names(ids)
