"""Check-in and check-out as step sequences: plain SQL run in one transaction, in one hop.

The tap at the door is the busiest request the service has. Run through the ORM it took
about 40 statements and 50 ms of Python a pair; here each is one ``ledger.drivers.run``
(on SQLite: one trip to the database thread inside ``BEGIN IMMEDIATE``; on PostgreSQL:
one transaction), and a clean check-out verifies the visit and posts its hours with the
ledger's own steps in the same commit - a visit is never verified without its hours, nor
credited twice. The rules are those of ``timebank.visits.service`` (which runs these).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from timebank.db import stored_time
from timebank.db.steps import Query, Steps
from timebank.errors import Conflict, TimebankError
from timebank.geo import metres_between
from timebank.ledger import service as ledger
from timebank.visits import refusals
from timebank.visits.models import Flag

# Ledger refusals that send a verified visit back to review (flag no_hours).
UNPAYABLE = {"insufficient_hours", "budget_exhausted", "balance_cap"}
# A service missing from the catalogue counts with these (as an unsaved ServiceType would).
DEFAULT_SERVICE = (10, 120, 1000, False)  # min, max minutes, multiplier ‰, confirmation


class SlowPath(Exception):  # noqa: N818 - a signal, not an error
    """A case the sequence leaves to the ORM (seeding a community's catalogue, closing a
    forgotten visit): the caller awaits ``fix`` and runs the sequence again."""

    def __init__(self, fix: Callable[[], Awaitable[Any]]) -> None:
        super().__init__("slow path")
        self.fix = fix


@dataclass(frozen=True)
class Tap:
    """One check-in or check-out, as the phone sent it and the server saw it."""

    event_id: str
    at: datetime  # the moment that counts (server time, or offline phone time)
    now: datetime  # when the server received it
    client_at: datetime | None
    lat: float | None
    lon: float | None
    offline: bool


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Great-circle distance in whole metres."""
    return round(metres_between(lat1, lon1, lat2, lon2))


def served_minutes(seconds: float, unit: int, most: int) -> int:
    """Minutes served: rounded to the nearest ``unit`` (halves up), at least one unit,
    at most ``most``."""
    units = math.floor(seconds / 60 / unit + 0.5)
    return min(max(units, 1) * unit, most)


def _audit(
    actor_id: int | None, ip: str, action: str, visit_id: int, community_id: int,
    detail: dict[str, Any], now: datetime,
) -> Query:  # fmt: skip
    return Query(
        "INSERT INTO audit_event (at, actor_id, on_behalf_of_id, action, target_type,"
        " target_id, community_id, ip, detail) VALUES (?, ?, NULL, ?, 'visit', ?, ?, ?, ?)",
        (now, actor_id, action, str(visit_id), community_id, ip[:64],
         json.dumps(detail, ensure_ascii=False, sort_keys=True)),
    )  # fmt: skip


def _move_order(
    order_id: int, source: str, target: str, actor_id: int | None, helper_id: int,
    now: datetime, reason: str = "",
) -> Steps[None]:  # fmt: skip
    moved = yield Query(
        "UPDATE service_order SET status = ? WHERE id = ? AND status = ? RETURNING id",
        (target, order_id, source),
    )
    if not moved:
        raise Conflict(
            f"Order {order_id} changed at the same moment. Please reload.",
            f"订单 {order_id} 刚被修改，请刷新。",
            code="order_changed",
        )
    yield Query(
        "INSERT INTO order_event (at, actor_id, from_status, to_status, helper_id, reason,"
        " order_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, actor_id, source, target, helper_id, reason, order_id),
    )


def _resident(
    resident_id: int, generation: int, helper_id: int, helper_community: int
) -> Steps[tuple[Any, ...]]:
    """The placard's resident: (community id, lat, lon, name, pin hash), or a refusal."""
    rows = yield Query(
        "SELECT p.generation, m.community_id, m.lat, m.lon, m.name, p.pin_hash"
        " FROM placard p JOIN member m ON m.id = p.resident_id WHERE p.resident_id = ?",
        (resident_id,),
    )
    if not rows:
        raise refusals.never_issued()
    current, community_id, lat, lon, name, pin_hash = rows[0]
    if int(current) != generation:
        raise refusals.revoked()
    if int(community_id) != helper_community:
        raise refusals.other_community()
    if resident_id == helper_id:
        raise refusals.same_person()
    return int(community_id), lat, lon, str(name), str(pin_hash or "")


def _terms(
    order: tuple[Any, ...] | None, pairing: tuple[Any, ...] | None
) -> tuple[bool, bool, bool]:
    """(funded, hours, paid) per the order, else the pairing's plan."""
    compensation = str(pairing[1]) if pairing is not None else "hours"
    funded = bool(order[2]) if order is not None else bool(pairing and pairing[2])
    return funded, compensation in ("hours", "both"), compensation in ("paid", "both")


def check_in_steps(
    *,
    actor_id: int | None,
    ip: str,
    helper_id: int,
    helper_community: int,
    resident_id: int,
    generation: int,
    tap: Tap,
    service_code: str,
    close_forgotten: Callable[[], Awaitable[Any]],
    seed_catalog: Callable[[int], Awaitable[Any]],
) -> Steps[tuple[int, bool]]:
    """Open a visit; (visit id, created). A repeated event id returns the same visit."""
    replay = yield Query("SELECT id, helper_id FROM visit WHERE in_event = ?", (tap.event_id,))
    if replay:
        if int(replay[0][1]) != helper_id:
            raise refusals.event_id_taken()
        return int(replay[0][0]), False
    community_id, lat, lon, _, _ = yield from _resident(
        resident_id, generation, helper_id, helper_community
    )
    ((early, late),) = yield Query(
        "SELECT checkin_early_minutes, checkin_late_minutes FROM community WHERE id = ?",
        (community_id,),
    )
    open_rows = yield Query(
        "SELECT v.id, v.resident_id, v.checked_in_at, m.name, COALESCE(s.max_minutes, ?),"
        " c.checkin_late_minutes FROM visit v JOIN member m ON m.id = v.resident_id"
        " JOIN community c ON c.id = v.community_id LEFT JOIN service_type s"
        " ON s.community_id = v.community_id AND s.code = v.service_code"
        " WHERE v.open_helper_id = ?",
        (DEFAULT_SERVICE[1], helper_id),
    )
    if open_rows:
        open_id, open_resident, opened_at, open_name, most, open_late = open_rows[0]
        if int(open_resident) == resident_id:  # a second scan: the visit is already open
            return int(open_id), False
        if stored_time(opened_at) + timedelta(minutes=int(most) + int(open_late)) < tap.now:
            raise SlowPath(close_forgotten)  # forgotten: close it at its maximum, then retry
        raise refusals.open_elsewhere(str(open_name))
    found = yield Query(
        "SELECT id, service_code, funded, pairing_id FROM service_order WHERE helper_id = ?"
        " AND resident_id = ? AND status = 'assigned' AND starts_at <= ? AND ends_at >= ?"
        " ORDER BY starts_at LIMIT 1",
        (helper_id, resident_id, tap.at + timedelta(minutes=early),
         tap.at - timedelta(minutes=late)),
    )  # fmt: skip
    order = tuple(found[0]) if found else None
    pairing: tuple[Any, ...] | None = None
    if order is not None:
        code = str(order[1])
        if order[3] is not None:
            rows = yield Query(
                "SELECT id, compensation, funded FROM pairing WHERE id = ?", (order[3],)
            )
            pairing = tuple(rows[0]) if rows else None
    else:
        rows = yield Query(
            "SELECT id, compensation, funded FROM pairing WHERE helper_id = ?"
            " AND resident_id = ? AND status = 'approved' ORDER BY id LIMIT 1",
            (helper_id, resident_id),
        )
        if not rows:
            raise refusals.not_yours()
        pairing = tuple(rows[0])
        offered = yield Query(
            "SELECT code FROM service_type WHERE community_id = ? AND active = ? ORDER BY id",
            (community_id, True),
        )
        if not offered:
            raise SlowPath(lambda: seed_catalog(community_id))
        offered_codes = [str(r[0]) for r in offered]
        planned = yield Query(
            "SELECT service_code FROM plan_item WHERE pairing_id = ? AND active = ?"
            " ORDER BY start_minute",
            (pairing[0], True),
        )
        codes = [str(r[0]) for r in planned if str(r[0]) in offered_codes]
        codes = list(dict.fromkeys(codes)) or (
            ["visit"] if "visit" in offered_codes else offered_codes[:1]
        )
        if service_code and service_code not in codes:
            raise refusals.not_in_plan()
        code = service_code or codes[0]
    distance = None
    if tap.lat is not None and tap.lon is not None and lat is not None and lon is not None:
        distance = distance_m(tap.lat, tap.lon, float(lat), float(lon))
    funded, hours, paid = _terms(order, pairing)
    pairing_id = pairing[0] if pairing is not None else None
    ((visit_id,),) = yield Query(
        "INSERT INTO visit (community_id, resident_id, helper_id, order_id, pairing_id,"
        " service_code, status, open_helper_id, in_event, checked_in_at, received_in_at,"
        " client_in_at, in_lat, in_lon, in_distance_m, offline, flags, funded, hours, pay_fen,"
        " confirmed_by, pin_failures, comment, review_note)"
        " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, '', 0, '', '')"
        " RETURNING id",
        (community_id, resident_id, helper_id, order[0] if order else None, pairing_id, code,
         helper_id, tap.event_id, tap.at, tap.now, tap.client_at, tap.lat, tap.lon, distance,
         tap.offline, funded, hours, 0 if paid else None),
    )  # fmt: skip
    if order is not None:
        yield from _move_order(order[0], "assigned", "in_progress", actor_id, helper_id, tap.now)
    detail = {"offline": tap.offline, "order": order[0] if order else None}
    yield _audit(actor_id, ip, "visit.check_in", visit_id, community_id, detail, tap.now)
    return int(visit_id), True


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


def _rules(
    community_id: int, code: str, seed_catalog: Callable[[int], Awaitable[Any]]
) -> Steps[Rules]:
    rows = yield Query(
        "SELECT c.time_unit_minutes, c.visit_radius_m, c.daily_cap_minutes,"
        " c.checkin_early_minutes, c.checkin_late_minutes, s.min_minutes, s.max_minutes,"
        " s.multiplier_milli, s.needs_confirmation,"
        " (SELECT COUNT(*) FROM service_type t WHERE t.community_id = c.id)"
        " FROM community c LEFT JOIN service_type s ON s.community_id = c.id AND s.code = ?"
        " WHERE c.id = ?",
        (code, community_id),
    )
    unit, radius, cap, early, late, low, high, milli, confirm, offered = rows[0]
    if not offered:
        raise SlowPath(lambda: seed_catalog(community_id))
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


def _all_columns() -> list[str]:
    from timebank.visits.models import Visit

    return list(Visit._meta.fields_db_projection.values())


def with_row(inner: Steps[tuple[int, bool]]) -> Steps[tuple[dict[str, Any], bool]]:
    """Run ``inner``, then read the visit it names in the same hop: (columns, created)."""
    visit_id, created = yield from inner
    columns = _all_columns()
    (row,) = yield Query(f"SELECT {', '.join(columns)} FROM visit WHERE id = ?", (visit_id,))
    return dict(zip(columns, row, strict=True)), created


VISIT_COLUMNS = (
    "id, order_id, service_code, checked_in_at, in_distance_m, offline, flags, funded, hours,"
    " pay_fen, community_id, resident_id, confirmed_by"
)


def close_steps(
    *,
    actor_id: int | None,
    ip: str,
    visit: tuple[Any, ...],
    tap: Tap | None,
    end: datetime,
    changes: dict[str, Any],
    tz: ZoneInfo,
    confirmed: str,
    auto_closed: bool,
    seed_catalog: Callable[[int], Awaitable[Any]],
) -> Steps[int]:
    """Close an open visit (``visit``: VISIT_COLUMNS), flag it or verify and credit it."""
    (visit_id, order_id, code, checked_in_at, in_distance, offline, _, funded, hours, pay_fen,
     community_id, resident_id, _) = visit  # fmt: skip
    start = stored_time(checked_in_at)
    helper_id = int(changes.pop("helper_id"))
    rules = yield from _rules(int(community_id), str(code), seed_catalog)
    rate = None
    if pay_fen is not None:
        rows = yield Query(
            "SELECT hourly_rate_fen FROM helper_profile WHERE member_id = ?", (helper_id,)
        )
        rate = int(rows[0][0]) if rows and rows[0][0] is not None else None
    measured = measure(start, end, rules, rate, pay_fen is not None)
    flags: list[Flag] = []
    order = None
    if order_id is not None:
        rows = yield Query(
            "SELECT starts_at, ends_at, status FROM service_order WHERE id = ?", (order_id,)
        )
        order = rows[0] if rows else None
    if order is None:
        flags.append(Flag.OUTSIDE_WINDOW)
    else:
        opens = stored_time(order[0]) - timedelta(minutes=rules.early)
        closes = stored_time(order[1]) + timedelta(minutes=rules.late)
        if not (opens <= start <= closes and end <= closes):
            flags.append(Flag.OUTSIDE_WINDOW)
    out_distance = changes.get("out_distance_m")
    if any(d is not None and d > rules.radius for d in (in_distance, out_distance)):
        flags.append(Flag.TOO_FAR)
    if measured["raw_minutes"] < rules.min_minutes:
        flags.append(Flag.TOO_SHORT)
    if measured["raw_minutes"] > rules.max_minutes:
        flags.append(Flag.TOO_LONG)
    if rules.daily_cap is not None and hours:
        local = start.astimezone(tz).date()
        day_start = datetime.combine(local, datetime.min.time(), tzinfo=tz).astimezone(UTC)
        ((earned,),) = yield Query(
            "SELECT COALESCE(SUM(credit_minutes), 0) FROM visit WHERE helper_id = ?"
            " AND status IN ('verified', 'flagged') AND checked_in_at >= ?"
            " AND checked_in_at < ? AND id <> ?",
            (helper_id, day_start, day_start + timedelta(days=1), visit_id),
        )
        if int(earned) + measured["credit_minutes"] > rules.daily_cap:
            flags.append(Flag.DAILY_CAP)
    overlapping = yield Query(
        "SELECT 1 FROM visit WHERE helper_id = ? AND checked_in_at < ? AND checked_out_at > ?"
        " AND id <> ? AND status <> 'rejected' LIMIT 1",
        (helper_id, end, start, visit_id),
    )
    if overlapping:
        flags.append(Flag.OVERLAP)
    if rules.needs_confirmation and not confirmed:
        flags.append(Flag.UNCONFIRMED)
    if offline or changes.get("offline"):
        flags.append(Flag.OFFLINE)
    if auto_closed:
        flags.append(Flag.AUTO_CLOSED)
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
        yield from _move_order(order_id, "in_progress", "completed", actor_id, helper_id, now)
        yield from _move_order(order_id, "completed", status, actor_id, helper_id, now,
                               values["flags"])  # fmt: skip
    detail = {"flags": [f.value for f in flags], "minutes": measured["served_minutes"]}
    action = "visit.auto_close" if auto_closed else "visit.check_out"
    yield _audit(actor_id, ip, action, visit_id, int(community_id), detail, now)
    if status == "verified" and hours:
        yield from credit_steps(
            visit_id=visit_id, helper_id=helper_id, community_id=int(community_id),
            resident_id=int(resident_id), minutes=measured["credit_minutes"],
            funded=bool(funded), actor_id=actor_id, flags=values["flags"], order_id=order_id,
        )  # fmt: skip
    return int(visit_id)


def credit_steps(
    *, visit_id: int, helper_id: int, community_id: int, resident_id: int, minutes: int,
    funded: bool, actor_id: int | None, flags: str, order_id: int | None,
) -> Steps[int | None]:  # fmt: skip
    """Post a verified visit's hours in the current transaction; the ledger transaction id,
    or None when the resident's wallet cannot pay (the visit goes back to review).

    A service booked with hours (a redemption) is paid from its hold, to the helper who
    served it; otherwise the community fund pays (兜底) or the resident's wallet.
    """
    if order_id is not None:
        held = yield Query(
            "SELECT id, minutes FROM redemption WHERE order_id = ? AND status = 'reserved'",
            (order_id,),
        )
        if held:
            redemption_id, held_minutes = int(held[0][0]), int(held[0][1])
            ((reserve_id,),) = yield Query(
                "SELECT id FROM ledger_txn WHERE kind = 'reserve' AND ref_type = 'redemption'"
                " AND ref_id = ?",
                (str(redemption_id),),
            )
            posted = yield from ledger.post_to_member_steps(
                reserve_id=int(reserve_id), member_id=helper_id, key=f"visit:{visit_id}",
                actor_id=actor_id,
            )  # fmt: skip
            yield Query("UPDATE redemption SET status = 'served' WHERE id = ?", (redemption_id,))
            yield Query(
                "UPDATE visit SET ledger_txn_id = ?, credit_minutes = ? WHERE id = ?",
                (posted.txn.id, held_minutes, visit_id),
            )
            return posted.txn.id
    try:
        posted = yield from ledger.credit_service_steps(
            helper_id=helper_id, community_id=community_id, minutes=minutes,
            visit_id=visit_id, key=f"visit:{visit_id}", actor_id=actor_id,
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
            yield Query(
                "UPDATE service_order SET status = 'flagged' WHERE id = ? AND status = 'verified'",
                (order_id,),
            )
        return None
    yield Query("UPDATE visit SET ledger_txn_id = ? WHERE id = ?", (posted.txn.id, visit_id))
    return posted.txn.id


def check_out_steps(
    *,
    actor_id: int | None,
    ip: str,
    helper_id: int,
    helper_community: int,
    resident_id: int,
    generation: int,
    tap: Tap,
    confirmed: str,
    tz: ZoneInfo,
    seed_catalog: Callable[[int], Awaitable[Any]],
) -> Steps[int]:
    """Close the helper's open visit at this resident's home; verify and credit it at once
    when no rule is broken. A repeated event id returns the same visit."""
    replay = yield Query("SELECT id, helper_id FROM visit WHERE out_event = ?", (tap.event_id,))
    if replay:
        if int(replay[0][1]) != helper_id:
            raise refusals.event_id_taken()
        return int(replay[0][0])
    _, lat, lon, _, _ = yield from _resident(resident_id, generation, helper_id, helper_community)
    rows = yield Query(
        f"SELECT {VISIT_COLUMNS} FROM visit WHERE open_helper_id = ? AND resident_id = ?",
        (helper_id, resident_id),
    )
    if not rows:
        raise refusals.no_open_visit()
    visit = tuple(rows[0])
    start = stored_time(visit[3])
    end = max(tap.at, start)
    distance = None
    if tap.lat is not None and tap.lon is not None and lat is not None and lon is not None:
        distance = distance_m(tap.lat, tap.lon, float(lat), float(lon))
    changes = {
        "helper_id": helper_id,
        "out_event": tap.event_id,
        "received_out_at": tap.now,
        "client_out_at": tap.client_at,
        "out_lat": tap.lat,
        "out_lon": tap.lon,
        "out_distance_m": distance,
        "offline": bool(visit[5]) or tap.offline,
    }
    return (
        yield from close_steps(
            actor_id=actor_id,
            ip=ip,
            visit=visit,
            tap=tap,
            end=end,
            changes=changes,
            tz=tz,
            confirmed=confirmed,
            auto_closed=False,
            seed_catalog=seed_catalog,
        )  # fmt: skip
    )
