"""Closing a visit as a step sequence: measure it, flag it or verify it, credit its hours.

Check-out and the closing of a forgotten visit run ``close_steps`` in one transaction (see
``timebank.visits.steps``): the visit's row, its order's transitions (``orders.steps``),
the audit row and, for a clean visit, the ledger posting are committed together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from timebank import calendar
from timebank.db import stored_time
from timebank.db.steps import Query, Steps
from timebank.errors import Conflict, TimebankError
from timebank.ledger import service as ledger
from timebank.orders import steps as orders
from timebank.orders.models import OrderStatus
from timebank.people.audit import Actor, record_steps
from timebank.visits import refusals
from timebank.visits.models import Flag
from timebank.visits.steps import (
    DEFAULT_SERVICE,
    SlowPath,
    Tap,
    arrival,
    distance_to,
    served_minutes,
)

# Ledger refusals that send a verified visit back to review (flag no_hours).
UNPAYABLE = {"insufficient_hours", "budget_exhausted", "balance_cap"}
VISIT_COLUMNS = (
    "id, order_id, service_code, checked_in_at, in_distance_m, offline, flags, funded, hours,"
    " pay_fen, community_id, resident_id, confirmed_by"
)


@dataclass(frozen=True)
class Rules:
    """What a check-out is measured against: the community's and the service's settings."""

    unit: int
    radius: int
    daily_cap: int | None
    early: int
    late: int
    min_minutes: int
    max_minutes: int
    multiplier: int
    needs_confirmation: bool


RULES_COLUMNS = (
    "c.time_unit_minutes, c.visit_radius_m, c.daily_cap_minutes, c.checkin_early_minutes,"
    " c.checkin_late_minutes, s.min_minutes, s.max_minutes, s.multiplier_milli,"
    " s.needs_confirmation, (SELECT COUNT(*) FROM service_type t WHERE t.community_id = c.id)"
)


def _rules(community_id: int, code: str) -> Steps[Rules]:
    rows = yield Query(
        f"SELECT {RULES_COLUMNS} FROM community c"
        " LEFT JOIN service_type s ON s.community_id = c.id AND s.code = ? WHERE c.id = ?",
        (code, community_id),
    )
    return _rules_of(community_id, tuple(rows[0]))


def _rules_of(community_id: int, row: tuple[Any, ...]) -> Rules:
    """The rules from a row of RULES_COLUMNS (the slow path when no service is offered)."""
    unit, radius, cap, early, late, low, high, milli, confirm, offered = row
    if not offered:
        raise SlowPath(SlowPath.NO_CATALOG, community_id)
    if low is None:
        low, high, milli, confirm = DEFAULT_SERVICE
    return Rules(
        int(unit), int(radius), None if cap is None else int(cap), int(early), int(late),
        int(low), int(high), int(milli), bool(confirm),
    )  # fmt: skip


def measure(
    start: datetime, end: datetime, rules: Rules, rate_fen: int | None, paid: bool,
    served: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Raw, served and credited minutes and the pay owed."""
    seconds = max((end - start).total_seconds(), 0)
    if served is None:
        served = served_minutes(seconds, rules.unit, rules.max_minutes)
    return {
        "raw_minutes": int(seconds // 60),
        "served_minutes": served,
        "credit_minutes": max(round(served * rules.multiplier / 1000), 1),
        "pay_fen": (round(served * rate_fen / 60) if rate_fen else 0) if paid else None,
    }


@dataclass(frozen=True)
class Closing:
    """A visit being closed, as far as its flags are concerned."""

    visit_id: int
    helper_id: int
    start: datetime
    end: datetime
    order: tuple[Any, ...] | None  # starts_at, ends_at, status
    in_distance: int | None
    out_distance: int | None
    credit_minutes: int
    raw_minutes: int
    hours: bool
    confirmed: str
    offline: bool
    auto_closed: bool


def _flags(closing: Closing, rules: Rules, tz: ZoneInfo) -> Steps[list[Flag]]:
    """The rules the visit broke, in the order its flags are listed."""
    c = closing
    flags: list[Flag] = []
    if c.order is None:
        flags.append(Flag.OUTSIDE_WINDOW)
    else:
        opens = stored_time(c.order[0]) - timedelta(minutes=rules.early)
        closes = stored_time(c.order[1]) + timedelta(minutes=rules.late)
        if not (opens <= c.start <= closes and c.end <= closes):
            flags.append(Flag.OUTSIDE_WINDOW)
    if any(d is not None and d > rules.radius for d in (c.in_distance, c.out_distance)):
        flags.append(Flag.TOO_FAR)
    if c.raw_minutes < rules.min_minutes:
        flags.append(Flag.TOO_SHORT)
    if c.raw_minutes > rules.max_minutes:
        flags.append(Flag.TOO_LONG)
    if rules.daily_cap is not None and c.hours:
        day_start, day_end = calendar.day_bounds(calendar.day_of(c.start, tz), tz)
        ((earned,),) = yield Query(
            "SELECT COALESCE(SUM(credit_minutes), 0) FROM visit WHERE helper_id = ?"
            " AND status IN ('verified', 'flagged') AND checked_in_at >= ?"
            " AND checked_in_at < ? AND id <> ?",
            (c.helper_id, day_start, day_end, c.visit_id),
        )
        if int(earned) + c.credit_minutes > rules.daily_cap:
            flags.append(Flag.DAILY_CAP)
    overlapping = yield Query(
        "SELECT 1 FROM visit WHERE helper_id = ? AND checked_in_at < ? AND checked_out_at > ?"
        " AND id <> ? AND status <> 'rejected' LIMIT 1",
        (c.helper_id, c.end, c.start, c.visit_id),
    )
    if overlapping:
        flags.append(Flag.OVERLAP)
    if rules.needs_confirmation and not c.confirmed:
        flags.append(Flag.UNCONFIRMED)
    if c.offline:
        flags.append(Flag.OFFLINE)
    if c.auto_closed:
        flags.append(Flag.AUTO_CLOSED)
    return flags


def _hourly_rate(helper_id: int) -> Steps[int | None]:
    rows = yield Query(
        "SELECT hourly_rate_fen FROM helper_profile WHERE member_id = ?", (helper_id,)
    )
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


def _order_of(order_id: int) -> Steps[tuple[Any, ...] | None]:
    """(starts_at, ends_at, status) of the visit's order."""
    rows = yield Query(
        "SELECT starts_at, ends_at, status FROM service_order WHERE id = ?", (order_id,)
    )
    return tuple(rows[0]) if rows else None


@dataclass(frozen=True)
class Known:
    """What a check-out read together with the open visit."""

    rules: Rules
    order: tuple[Any, ...] | None  # starts_at, ends_at, status


def close_steps(
    *,
    actor: Actor,
    visit: tuple[Any, ...],
    tap: Tap | None,
    end: datetime,
    changes: dict[str, Any],
    tz: ZoneInfo,
    confirmed: str,
    auto_closed: bool,
    known: Known | None = None,
) -> Steps[int]:
    """Close an open visit (``visit``: VISIT_COLUMNS), flag it or verify and credit it.
    ``known``: its rules and order when the caller read them with the visit."""
    (visit_id, order_id, code, checked_in_at, in_distance, offline, _, funded, hours, pay_fen,
     community_id, resident_id, _) = visit  # fmt: skip
    start = stored_time(checked_in_at)
    helper_id = int(changes.pop("helper_id"))
    if known is None:
        rules = yield from _rules(int(community_id), str(code))
    else:
        rules = known.rules
    rate = (yield from _hourly_rate(helper_id)) if pay_fen is not None else None
    measured = measure(start, end, rules, rate, pay_fen is not None)
    if known is not None:
        order = known.order
    elif order_id is not None:
        order = yield from _order_of(order_id)
    else:
        order = None
    closing = Closing(
        visit_id, helper_id, start, end, order, in_distance, changes.get("out_distance_m"),
        measured["credit_minutes"], measured["raw_minutes"], bool(hours), confirmed,
        bool(offline or changes.get("offline")), auto_closed,
    )  # fmt: skip
    flags = yield from _flags(closing, rules, tz)
    status = "flagged" if flags else "verified"
    values = {
        **changes,
        **measured,
        "checked_out_at": end,
        "confirmed_by": confirmed,
        "open_helper_id": None,
        "status": status,
        "flags": ",".join(f.value for f in flags),
    }
    names = list(values)
    closed = yield Query(
        f"UPDATE visit SET {', '.join(f'{n} = ?' for n in names)}"
        " WHERE id = ? AND status = 'open' RETURNING id",
        (*(values[n] for n in names), visit_id),
    )
    if not closed:
        raise Conflict(
            "This visit was already finished.", "这次服务已经签退。", code="visit_closed"
        )
    now = tap.now if tap is not None else datetime.now(UTC)
    if order is not None and str(order[2]) == "in_progress":
        yield from _complete_order(order_id, status, values["flags"], actor, helper_id, now)
    yield from record_steps(
        actor, "visit.auto_close" if auto_closed else "visit.check_out", target_type="visit",
        target_id=visit_id, community_id=int(community_id), at=now,
        detail={"flags": [f.value for f in flags], "minutes": measured["served_minutes"]},
    )  # fmt: skip
    if status == "verified" and hours:
        yield from credit_steps(
            visit_id=visit_id, helper_id=helper_id, community_id=int(community_id),
            resident_id=int(resident_id), minutes=measured["credit_minutes"],
            funded=bool(funded), actor=actor, flags=values["flags"], order_id=order_id,
        )  # fmt: skip
    return int(visit_id)


def _complete_order(
    order_id: int, status: str, flags: str, actor: Actor, helper_id: int, at: datetime
) -> Steps[None]:
    """The order of a closed visit: completed, then verified or flagged as the visit is."""
    then = ("flag", flags) if status == "flagged" else ("verify", "")
    yield from orders.move_through(
        order_id=order_id, actions=(("complete", ""), then), source=OrderStatus.IN_PROGRESS,
        actor_id=actor.member_id, helper_id=helper_id, at=at, reason_kept=False,
    )  # fmt: skip


def credit_steps(
    *, visit_id: int, helper_id: int, community_id: int, resident_id: int, minutes: int,
    funded: bool, actor: Actor, flags: str, order_id: int | None,
) -> Steps[int | None]:  # fmt: skip
    """Post a verified visit's hours in the current transaction; the ledger transaction id,
    or None when the resident's wallet cannot pay (the visit and its order go back to
    review, flagged no_hours).

    A service booked with hours (a redemption) is paid from its hold, to the helper who
    served it; otherwise the community fund pays (兜底) or the resident's wallet.
    """
    if order_id is not None:
        held = yield from _paid_from_hold(visit_id, helper_id, actor, order_id)
        if held is not None:
            return held
    try:
        posted = yield from ledger.credit_service_steps(
            helper_id=helper_id, community_id=community_id, minutes=minutes,
            visit_id=visit_id, key=f"visit:{visit_id}", actor_id=actor.member_id,
            payer_id=None if funded else resident_id,
        )  # fmt: skip
    except TimebankError as error:  # refused before the ledger wrote anything
        if error.code not in UNPAYABLE:
            raise
        unpaid = ",".join(dict.fromkeys([f for f in flags.split(",") if f] + ["no_hours"]))
        yield Query(
            "UPDATE visit SET status = 'flagged', flags = ? WHERE id = ?", (unpaid, visit_id)
        )
        if order_id is not None:
            yield from orders.follow(
                order_id=order_id, action="flag", when=OrderStatus.VERIFIED,
                actor_id=actor.member_id, at=datetime.now(UTC), reason=unpaid,
            )  # fmt: skip
        return None
    yield Query("UPDATE visit SET ledger_txn_id = ? WHERE id = ?", (posted.txn.id, visit_id))
    return posted.txn.id


def _paid_from_hold(
    visit_id: int, helper_id: int, actor: Actor, order_id: int
) -> Steps[int | None]:
    """A booked service: its held hours go to the helper; the ledger transaction id, or
    None when the order holds no hours."""
    held = yield Query(
        "SELECT id, minutes FROM redemption WHERE order_id = ? AND status = 'reserved'",
        (order_id,),
    )
    if not held:
        return None
    redemption_id, held_minutes = int(held[0][0]), int(held[0][1])
    ((reserve_id,),) = yield Query(
        "SELECT id FROM ledger_txn WHERE kind = 'reserve' AND ref_type = 'redemption'"
        " AND ref_id = ?",
        (str(redemption_id),),
    )
    posted = yield from ledger.post_to_member_steps(
        reserve_id=int(reserve_id), member_id=helper_id, key=f"visit:{visit_id}",
        actor_id=actor.member_id,
    )  # fmt: skip
    yield Query("UPDATE redemption SET status = 'served' WHERE id = ?", (redemption_id,))
    yield Query(
        "UPDATE visit SET ledger_txn_id = ?, credit_minutes = ? WHERE id = ?",
        (posted.txn.id, held_minutes, visit_id),
    )
    return posted.txn.id


# The helper's open visit here (VISIT_COLUMNS), its order (starts_at, ends_at, status) and
# its rules (RULES_COLUMNS), in one statement.
OPEN_HERE = (
    f"SELECT {', '.join('v.' + c.strip() for c in VISIT_COLUMNS.split(','))},"
    f" o.starts_at, o.ends_at, o.status, {RULES_COLUMNS}"
    " FROM visit v LEFT JOIN service_order o ON o.id = v.order_id"
    " JOIN community c ON c.id = v.community_id"
    " LEFT JOIN service_type s ON s.community_id = c.id AND s.code = v.service_code"
    " WHERE v.open_helper_id = ? AND v.resident_id = ?"
)


def check_out_steps(*, actor: Actor, tap: Tap, confirmed: str, tz: ZoneInfo) -> Steps[int]:
    """Close the helper's open visit at this resident's home; verify and credit it at once
    when no rule is broken. A repeated event id returns the same visit."""
    home = yield from arrival("out_event", tap)
    if isinstance(home, int):  # a repeated event id
        return home
    rows = yield Query(OPEN_HERE, (tap.helper_id, tap.resident_id))
    if not rows:
        raise refusals.no_open_visit()
    visit, order = tuple(rows[0][:13]), tuple(rows[0][13:16])
    known = Known(_rules_of(int(visit[10]), tuple(rows[0][16:])), order if order[2] else None)
    changes = {
        "helper_id": tap.helper_id,
        "out_event": tap.event_id,
        "received_out_at": tap.now,
        "client_out_at": tap.client_at,
        "out_lat": tap.lat,
        "out_lon": tap.lon,
        "out_distance_m": distance_to(tap, home.lat, home.lon),
        "offline": bool(visit[5]) or tap.offline,
    }
    return (
        yield from close_steps(
            actor=actor,
            visit=visit,
            tap=tap,
            end=max(tap.at, stored_time(visit[3])),
            changes=changes,
            tz=tz,
            confirmed=confirmed,
            auto_closed=False,
            known=known,
        )  # fmt: skip
    )
