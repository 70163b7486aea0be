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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from timebank.catalog.models import ServiceType
from timebank.catalog.service import catalog
from timebank.errors import Conflict, Forbidden, Invalid, NotFound, TimebankError
from timebank.ledger import service as ledger
from timebank.orders.models import Order, OrderEvent, OrderStatus
from timebank.pairing.models import Compensation, Pairing, PairingStatus, PlanItem
from timebank.pairing.service import has_role
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import Community, HelperProfile, Member, Role
from timebank.visits import placards
from timebank.visits.models import Flag, Placard, Visit, VisitStatus

EVENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
OFFLINE_LIMIT = timedelta(hours=24)  # how old an offline record may be
PIN_TRIES = 3
EARTH_RADIUS_M = 6_371_000
# Ledger refusals that send a verified visit back to review (flag no_hours).
UNPAYABLE = {"insufficient_hours", "budget_exhausted", "balance_cap"}


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
        try:
            client_at = datetime.fromisoformat(str(raw_time))
        except ValueError:
            client_at = None
        if client_at is None or client_at.tzinfo is None:
            raise Invalid(
                "client_time must be a time with its offset, like 2026-11-23T09:00:00+08:00.",
                "client_time 必须是带时区的时间。",
                code="bad_time",
            )
        client_at = client_at.astimezone(UTC)
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


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(h)))


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
        raise Forbidden(
            "Only a helper can check in a visit. Please sign in with a helper's account.",
            "只有帮扶人/志愿者可以扫码签到，请用帮扶人账号登录。",
            code="not_a_helper",
        )
    if helper.community_id != resident.community_id:  # type: ignore[attr-defined]
        raise Forbidden(
            "This resident belongs to another community. Please call your community office.",
            "这位老人属于其他社区，请联系您所在社区的工作人员。",
            code="other_community",
        )
    if helper.id == resident.id:
        raise Forbidden("You cannot serve yourself.", "不能为自己服务。", code="same_person")
    community = await Community.get(id=resident.community_id)  # type: ignore[attr-defined]
    await close_forgotten(helper_id=helper.id)
    open_visit = await Visit.get_or_none(open_helper_id=helper.id)
    elsewhere = None
    if open_visit is not None and open_visit.resident_id != resident.id:  # type: ignore[attr-defined]
        elsewhere, open_visit = open_visit, None
    order = await _order_now(helper, resident, community, now)
    pairing = await Pairing.filter(
        helper=helper, resident=resident, status=PairingStatus.APPROVED
    ).first()
    if open_visit is None and order is None and pairing is None:
        raise Forbidden(
            "You have no order now and no active pairing with this resident. "
            "Please call your community office to be assigned.",
            "您现在没有这位老人的订单，也没有结对关系。请联系社区工作人员派单。",
            code="not_yours",
        )
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
    """Write a refused scan to the audit log (who, which code, why)."""
    await audit.record(
        actor,
        "visit.refused",
        target_type="placard",
        target_id=token[:40],
        detail={"code": error.code},
    )


# Check-in --------------------------------------------------------------------------------


async def _replayed(column: str, where: Where, helper: Member) -> Visit | None:
    found = await Visit.filter(**{column: where.event_id}).first()
    if found is None:
        return None
    if found.helper_id != helper.id:  # type: ignore[attr-defined]
        raise Conflict(
            "This event id was already used. Please reload the page.",
            "该事件编号已被使用，请刷新页面。",
            code="event_id_taken",
        )
    return found


async def _terms(order: Order | None, pairing: Pairing | None, helper: Member) -> dict[str, Any]:
    """Who pays and how the helper is rewarded: per the order, else the pairing's plan."""
    if order is not None and order.pairing_id is not None and pairing is None:
        pairing = await Pairing.get_or_none(id=order.pairing_id)
    compensation = pairing.compensation if pairing is not None else Compensation.HOURS
    funded = order.funded if order is not None else bool(pairing and pairing.funded)
    return {
        "funded": funded,
        "hours": compensation in (Compensation.HOURS, Compensation.BOTH),
        "paid": compensation in (Compensation.PAID, Compensation.BOTH),
    }


async def check_in(
    actor: Actor, secret: str, token: str, helper: Member, where: Where, service_code: str = ""
) -> tuple[Visit, bool]:
    """Open a visit; (visit, created). A repeated event id returns the same visit."""
    replay = await _replayed("in_event", where, helper)
    if replay is not None:
        return replay, False
    now = datetime.now(UTC)
    at = _moment(where, now)
    found = await scan(secret, token, helper, at=at)
    if found.open_visit is not None:  # a second scan and tap: the visit is already open
        return found.open_visit, False
    if found.elsewhere is not None:
        other = await Member.get(id=found.elsewhere.resident_id)  # type: ignore[attr-defined]
        raise Conflict(
            f"Your visit to {other.name} is still open. Finish it there first.",
            f"您在{other.name}家的服务还没有结束，请先去签退。",
            code="visit_open_elsewhere",
        )
    order, pairing, resident = found.order, found.pairing, found.resident
    if order is not None:
        code = order.service_code
    else:
        codes = [s.code for s in found.services]
        code = service_code if service_code in codes else (codes[0] if codes else "visit")
        if service_code and service_code not in codes:
            raise Invalid(
                "Choose one of the services of this pairing's plan.",
                "请选择结对计划中的服务项目。",
                code="unknown_service",
            )
    distance = None
    if where.lat is not None and resident.lat is not None:
        distance = distance_m(where.lat, where.lon, resident.lat, resident.lon)  # type: ignore[arg-type]
    terms = await _terms(order, pairing, helper)
    try:
        async with in_transaction():
            visit = await Visit.create(
                community_id=resident.community_id,  # type: ignore[attr-defined]
                resident=resident,
                helper=helper,
                order_id=order.id if order else None,
                pairing_id=pairing.id if pairing else (order.pairing_id if order else None),
                service_code=code,
                open_helper_id=helper.id,
                in_event=where.event_id,
                checked_in_at=at,
                received_in_at=now,
                client_in_at=where.client_at,
                in_lat=where.lat,
                in_lon=where.lon,
                in_distance_m=distance,
                offline=where.offline,
                funded=terms["funded"],
                hours=terms["hours"],
                pay_fen=0 if terms["paid"] else None,
            )
            if order is not None:
                await _move_order(actor, order, OrderStatus.ASSIGNED, OrderStatus.IN_PROGRESS)
            await audit.record(
                actor,
                "visit.check_in",
                target_type="visit",
                target_id=visit.id,
                community_id=visit.community_id,  # type: ignore[attr-defined]
                detail={"order": visit.order_id, "offline": where.offline},
            )
    except IntegrityError:
        # A retry racing the first request, or a check-in elsewhere at the same moment.
        replay = await _replayed("in_event", where, helper)
        if replay is not None:
            return replay, False
        raise Conflict(
            "You already have a visit open. Reload the page.",
            "您已有一项正在进行的服务，请刷新页面。",
            code="visit_open",
        ) from None
    return visit, True


async def _move_order(
    actor: Actor, order: Order, source: OrderStatus, target: OrderStatus, reason: str = ""
) -> None:
    moved = await Order.filter(id=order.id, status=source).update(status=target)
    if not moved:
        raise Conflict(
            f"Order {order.id} changed at the same moment. Please reload.",
            f"订单 {order.id} 刚被修改，请刷新。",
            code="order_changed",
        )
    await OrderEvent.create(
        order_id=order.id,
        actor_id=actor.member_id,
        from_status=source.value,
        to_status=target.value,
        helper_id=order.helper_id,  # type: ignore[attr-defined]
        reason=reason,
    )


# Check-out -------------------------------------------------------------------------------


def served_minutes(seconds: float, unit: int, most: int) -> int:
    """Minutes served: rounded to the nearest ``unit`` (halves up), at least one unit,
    at most ``most``."""
    units = math.floor(seconds / 60 / unit + 0.5)
    return min(max(units, 1) * unit, most)


async def _service_of(visit: Visit) -> ServiceType:
    community = await Community.get(id=visit.community_id)  # type: ignore[attr-defined]
    for found in await catalog(community):  # seeds the community's catalogue on first use
        if found.code == visit.service_code:
            return found
    # A service removed from the catalogue since: count it as 1:1, defaults for the rest.
    return ServiceType(
        code=visit.service_code, name_zh=visit.service_code, name_en=visit.service_code
    )


async def _flags(
    visit: Visit, community: Community, service: ServiceType, tz: ZoneInfo
) -> list[Flag]:
    """The rules a closed visit breaks (its times, minutes and confirmation already set)."""
    flags: list[Flag] = []
    start, end = visit.checked_in_at, visit.checked_out_at
    assert end is not None and visit.raw_minutes is not None
    order = await Order.get_or_none(id=visit.order_id) if visit.order_id else None
    if order is None:
        flags.append(Flag.OUTSIDE_WINDOW)
    else:
        opens, closes = window(order, community)
        if not (opens <= start <= closes and end <= closes):
            flags.append(Flag.OUTSIDE_WINDOW)
    radius = community.visit_radius_m
    if any(d is not None and d > radius for d in (visit.in_distance_m, visit.out_distance_m)):
        flags.append(Flag.TOO_FAR)
    if visit.raw_minutes < service.min_minutes:
        flags.append(Flag.TOO_SHORT)
    if visit.raw_minutes > service.max_minutes:
        flags.append(Flag.TOO_LONG)
    if community.daily_cap_minutes is not None and visit.hours:
        local = start.astimezone(tz).date()
        day_start = datetime.combine(local, datetime.min.time(), tzinfo=tz).astimezone(UTC)
        earned = (
            await Visit.filter(
                helper_id=visit.helper_id,  # type: ignore[attr-defined]
                status__in=(VisitStatus.VERIFIED, VisitStatus.FLAGGED),
                checked_in_at__gte=day_start,
                checked_in_at__lt=day_start + timedelta(days=1),
            )
            .exclude(id=visit.id)
            .values_list("credit_minutes", flat=True)
        )
        total = sum(int(str(m)) for m in earned if m is not None)
        if total + (visit.credit_minutes or 0) > community.daily_cap_minutes:
            flags.append(Flag.DAILY_CAP)
    if (
        await Visit.filter(
            helper_id=visit.helper_id,  # type: ignore[attr-defined]
            checked_in_at__lt=end,
            checked_out_at__gt=start,
        )
        .exclude(id=visit.id)
        .exclude(status=VisitStatus.REJECTED)
        .exists()
    ):
        flags.append(Flag.OVERLAP)
    if service.needs_confirmation and not visit.confirmed_by:
        flags.append(Flag.UNCONFIRMED)
    if visit.offline:
        flags.append(Flag.OFFLINE)
    if visit.flags and Flag.AUTO_CLOSED.value in visit.flags.split(","):
        flags.append(Flag.AUTO_CLOSED)
    return flags


async def _pay_rate(visit: Visit) -> int | None:
    profile = await HelperProfile.get_or_none(member_id=visit.helper_id)  # type: ignore[attr-defined]
    return profile.hourly_rate_fen if profile is not None else None


async def _measure(
    visit: Visit, service: ServiceType, community: Community, served: int | None = None
) -> dict[str, Any]:
    """Raw, served and credited minutes and the pay owed, for a visit with both times."""
    assert visit.checked_out_at is not None
    seconds = max((visit.checked_out_at - visit.checked_in_at).total_seconds(), 0)
    if served is None:
        served = served_minutes(seconds, community.time_unit_minutes, service.max_minutes)
    credit = max(round(served * service.multiplier_milli / 1000), 1)
    pay = None
    if visit.pay_fen is not None:  # a paid pairing
        rate = await _pay_rate(visit)
        pay = round(served * rate / 60) if rate else 0
    return {
        "raw_minutes": int(seconds // 60),
        "served_minutes": served,
        "credit_minutes": credit,
        "pay_fen": pay,
    }


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
    """Close the helper's open visit here; verify it at once when no rule is broken."""
    replay = await _replayed("out_event", where, helper)
    if replay is not None:
        return replay
    resident, placard = await placards.current(secret, token)
    visit = await Visit.get_or_none(open_helper_id=helper.id, resident_id=resident.id)
    if visit is None:
        raise Conflict(
            "You have no visit open here. Tap Start first.",
            "您在这里没有正在进行的服务，请先点“开始服务”。",
            code="no_open_visit",
        )
    confirmed = ""
    pin = (pin or "").strip()
    if pin:
        if visit.pin_failures >= PIN_TRIES:
            raise Conflict(
                "The PIN is locked after 3 wrong tries. Finish without it: the resident "
                "or family can confirm the visit later on their own page.",
                "确认码已输错 3 次被锁定。请不填确认码直接签退，老人或家属可稍后在自己的页面确认。",
                code="pin_locked",
            )
        if not placards.pin_matches(placard, pin):
            await Visit.filter(id=visit.id).update(pin_failures=F("pin_failures") + 1)
            left = PIN_TRIES - visit.pin_failures - 1
            raise Invalid(
                f"Wrong PIN. {left} tries left." if left else "Wrong PIN. The PIN is now locked.",
                f"确认码不对，还可以试 {left} 次。" if left else "确认码不对，已锁定。",
                code="wrong_pin",
                details={"tries_left": left},
            )
        confirmed = "pin"
    now = datetime.now(UTC)
    at = _moment(where, now, not_before=visit.checked_in_at)
    distance = None
    if where.lat is not None and resident.lat is not None:
        distance = distance_m(where.lat, where.lon, resident.lat, resident.lon)  # type: ignore[arg-type]
    visit.checked_out_at = at
    visit.out_distance_m = distance
    visit.offline = visit.offline or where.offline
    visit.confirmed_by = confirmed
    return await _close(
        actor,
        visit,
        tz=tz,
        changes={
            "out_event": where.event_id,
            "checked_out_at": at,
            "received_out_at": now,
            "client_out_at": where.client_at,
            "out_lat": where.lat,
            "out_lon": where.lon,
            "out_distance_m": distance,
            "offline": visit.offline,
            "confirmed_by": confirmed,
        },
        replay=(where, helper),
    )


async def _close(
    actor: Actor,
    visit: Visit,
    *,
    tz: ZoneInfo,
    changes: dict[str, Any],
    replay: tuple[Where, Member] | None = None,
) -> Visit:
    community = await Community.get(id=visit.community_id)  # type: ignore[attr-defined]
    service = await _service_of(visit)
    measured = await _measure(visit, service, community)
    for name, value in measured.items():
        setattr(visit, name, value)
    flags = await _flags(visit, community, service, tz)
    status = VisitStatus.FLAGGED if flags else VisitStatus.VERIFIED
    order = await Order.get_or_none(id=visit.order_id) if visit.order_id else None
    try:
        async with in_transaction():
            closed = await Visit.filter(id=visit.id, status=VisitStatus.OPEN).update(
                **changes,
                **measured,
                open_helper_id=None,
                status=status,
                flags=",".join(f.value for f in flags),
            )
            if not closed:
                raise _AlreadyClosed
            if order is not None and order.status is OrderStatus.IN_PROGRESS:
                await _move_order(actor, order, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED)
                await _move_order(
                    actor,
                    order,
                    OrderStatus.COMPLETED,
                    OrderStatus.FLAGGED if flags else OrderStatus.VERIFIED,
                    ",".join(f.value for f in flags),
                )
            await audit.record(
                actor,
                "visit.check_out" if replay else "visit.auto_close",
                target_type="visit",
                target_id=visit.id,
                community_id=visit.community_id,  # type: ignore[attr-defined]
                detail={"flags": [f.value for f in flags], "minutes": measured["served_minutes"]},
            )
    except (_AlreadyClosed, IntegrityError):
        if replay is not None:
            again = await _replayed("out_event", *replay)
            if again is not None:
                return again
        raise Conflict(
            "This visit was already finished.", "这次服务已经签退。", code="visit_closed"
        ) from None
    closed_visit = await Visit.get(id=visit.id)
    if status is VisitStatus.VERIFIED:
        closed_visit = await credit(closed_visit, actor)
    return closed_visit


class _AlreadyClosed(Exception):
    pass


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
        at = visit.checked_in_at + timedelta(minutes=service.max_minutes)
        visit.checked_out_at = at
        visit.flags = Flag.AUTO_CLOSED.value
        try:
            await _close(
                Actor.system(),
                visit,
                tz=tz or ZoneInfo("Asia/Shanghai"),
                changes={"checked_out_at": at, "received_out_at": now},
            )
        except Conflict:
            continue  # finished by the helper at the same moment
        closed += 1
    return closed


# Verification and crediting ---------------------------------------------------------------


async def credit(visit: Visit, actor: Actor) -> Visit:
    """Post a verified visit's hours to the ledger, once (key: the visit id).

    When the resident's wallet cannot pay, the visit goes back to review, flagged no_hours.
    """
    if visit.status is not VisitStatus.VERIFIED or visit.ledger_txn_id is not None:
        return visit
    if not visit.hours or not visit.credit_minutes:
        return visit
    try:
        posted = await ledger.credit_service(
            helper_id=visit.helper_id,  # type: ignore[attr-defined]
            community_id=visit.community_id,  # type: ignore[attr-defined]
            minutes=visit.credit_minutes,
            visit_id=visit.id,
            key=f"visit:{visit.id}",
            actor_id=actor.member_id,
            payer_id=None if visit.funded else visit.resident_id,  # type: ignore[attr-defined]
        )
    except TimebankError as error:
        if error.code not in UNPAYABLE:
            raise
        flags = [f for f in visit.flags.split(",") if f] + [Flag.NO_HOURS.value]
        await Visit.filter(id=visit.id, status=VisitStatus.VERIFIED, ledger_txn_id=None).update(
            status=VisitStatus.FLAGGED, flags=",".join(dict.fromkeys(flags))
        )
        await Order.filter(id=visit.order_id, status=OrderStatus.VERIFIED).update(
            status=OrderStatus.FLAGGED
        )
        return await Visit.get(id=visit.id)
    await Visit.filter(id=visit.id).update(ledger_txn_id=posted.txn.id)
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
            community = await Community.get(id=visit.community_id)  # type: ignore[attr-defined]
            service = await _service_of(visit)
            changes.update(await _measure(visit, service, community, served=minutes))
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


async def rate(actor: Actor, visit: Visit, rating: int, comment: str = "") -> Visit:
    """The resident (or family) rates a finished visit, which also confirms it: a visit
    waiting only for confirmation is then verified."""
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
    return {
        int(i): str(n) for i, n in await Member.filter(id__in=list(ids)).values_list("id", "name")
    }
