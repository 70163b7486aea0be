"""Check-in and check-out as step sequences: plain SQL run in one transaction, in one hop.

The tap at the door is the busiest request the service has. Run through the ORM it took
about 40 statements and 50 ms of Python a pair; here each is one ``ledger.drivers.run``
(on SQLite: one trip to the database thread inside ``BEGIN IMMEDIATE``; on PostgreSQL:
one transaction), and a clean check-out verifies the visit and posts its hours with the
ledger's own steps in the same commit - a visit is never verified without its hours, nor
credited twice. The rules are those of ``timebank.visits.service`` (which runs these).
Closing a visit (check-out, the forgotten ones) is ``timebank.visits.closing``; the order
and audit rows are written by their owners' steps (``orders.steps``, ``audit.record_steps``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from timebank.db import stored_time
from timebank.db.steps import Query, Steps
from timebank.geo import metres_between
from timebank.orders import steps as orders
from timebank.orders.models import OrderStatus
from timebank.people.audit import Actor, record_steps
from timebank.visits import refusals

# A service missing from the catalogue counts with these (as an unsaved ServiceType would).
DEFAULT_SERVICE = (10, 120, 1000, False)  # min, max minutes, multiplier ‰, confirmation


class SlowPath(Exception):  # noqa: N818 - a signal, not an error
    """A case the sequence leaves to the ORM: the service that runs it takes the slow path
    for ``reason`` (about the member or community ``subject``) and runs it again."""

    FORGOTTEN = "forgotten"  # the helper's visit elsewhere is past its maximum: close it
    NO_CATALOG = "no_catalog"  # the community offers no service yet: seed its catalogue

    def __init__(self, reason: str, subject: int) -> None:
        super().__init__(f"slow path: {reason}")
        self.reason = reason
        self.subject = subject


@dataclass(frozen=True)
class Tap:
    """One check-in or check-out: who tapped which placard, as the phone sent it and the
    server saw it."""

    helper_id: int
    helper_community: int
    resident_id: int  # the placard's resident
    generation: int  # the placard's
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


def distance_to(tap: Tap, lat: Any, lon: Any) -> int | None:
    """How far from the home (``lat``, ``lon`` as stored) the tap was, when both are known."""
    if tap.lat is None or tap.lon is None or lat is None or lon is None:
        return None
    return distance_m(tap.lat, tap.lon, float(lat), float(lon))


@dataclass(frozen=True)
class Home:
    """The placard's resident, as a tap needs them, and their community's window."""

    community_id: int
    lat: Any
    lon: Any
    early: int  # minutes a check-in may come before an order's window
    late: int  # and after it


def arrival(column: str, tap: Tap) -> Steps[int | Home]:
    """The visit this tap's event id (``column``: in_event or out_event) already made;
    else the placard's resident (a ``Home``), or a refusal.

    One statement: the event id's visit and the placard, its resident and their community
    are each at most one row, joined to one row that is always there.
    """
    rows = yield Query(
        "SELECT r.id, r.helper_id, p.generation, m.community_id, m.lat, m.lon,"
        " c.checkin_early_minutes, c.checkin_late_minutes"
        f" FROM (SELECT 1) AS one LEFT JOIN visit r ON r.{column} = ?"
        " LEFT JOIN placard p ON p.resident_id = ? LEFT JOIN member m ON m.id = p.resident_id"
        " LEFT JOIN community c ON c.id = m.community_id",
        (tap.event_id, tap.resident_id),
    )
    replay, replay_helper, current, community_id, lat, lon, early, late = rows[0]
    if replay is not None:
        if int(replay_helper) != tap.helper_id:
            raise refusals.event_id_taken()
        return int(replay)
    if current is None:
        raise refusals.never_issued()
    if int(current) != tap.generation:
        raise refusals.revoked()
    if int(community_id) != tap.helper_community:
        raise refusals.other_community()
    if tap.resident_id == tap.helper_id:
        raise refusals.same_person()
    return Home(int(community_id), lat, lon, int(early), int(late))


def _terms(
    order: tuple[Any, ...] | None, pairing: tuple[Any, ...] | None
) -> tuple[bool, bool, bool]:
    """(funded, hours, paid) per the order, else the pairing's plan."""
    compensation = str(pairing[1]) if pairing is not None else "hours"
    funded = bool(order[2]) if order is not None else bool(pairing and pairing[2])
    return funded, compensation in ("hours", "both"), compensation in ("paid", "both")


def check_in_steps(*, actor: Actor, tap: Tap, service_code: str) -> Steps[tuple[int, bool]]:
    """Open a visit; (visit id, created). A repeated event id returns the same visit."""
    home = yield from arrival("in_event", tap)
    if isinstance(home, int):  # a repeated event id
        return home, False
    community_id = home.community_id
    helper_id, resident_id = tap.helper_id, tap.resident_id
    open_id = yield from _open_visit(helper_id, resident_id, tap)
    if open_id is not None:  # a second scan: the visit is already open
        return open_id, False
    order = yield from _order_now(helper_id, resident_id, tap.at, home.early, home.late)
    if order is not None:
        code = str(order[1])
        pairing = None
        if order[3] is not None:
            pairing = yield from _pairing("id = ?", (order[3],))
    else:
        pairing = yield from _pairing(
            "helper_id = ? AND resident_id = ? AND status = 'approved'", (helper_id, resident_id)
        )
        if pairing is None:
            raise refusals.not_yours()
        code = yield from _planned_service(community_id, int(pairing[0]), service_code)
    funded, hours, paid = _terms(order, pairing)
    ((visit_id,),) = yield Query(
        "INSERT INTO visit (community_id, resident_id, helper_id, order_id, pairing_id,"
        " service_code, status, open_helper_id, in_event, checked_in_at, received_in_at,"
        " client_in_at, in_lat, in_lon, in_distance_m, offline, flags, funded, hours, pay_fen,"
        " confirmed_by, pin_failures, comment, review_note)"
        " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, '', 0, '', '')"
        " RETURNING id",
        (community_id, resident_id, helper_id, order[0] if order else None,
         pairing[0] if pairing is not None else None, code, helper_id, tap.event_id, tap.at,
         tap.now, tap.client_at, tap.lat, tap.lon, distance_to(tap, home.lat, home.lon),
         tap.offline, funded, hours, 0 if paid else None),
    )  # fmt: skip
    if order is not None:
        yield from orders.move(
            order_id=order[0], action="start", source=OrderStatus.ASSIGNED,
            actor_id=actor.member_id, helper_id=helper_id, at=tap.now,
        )  # fmt: skip
    yield from record_steps(
        actor, "visit.check_in", target_type="visit", target_id=visit_id,
        community_id=community_id, at=tap.now,
        detail={"offline": tap.offline, "order": order[0] if order else None},
    )  # fmt: skip
    return int(visit_id), True


def _order_now(
    helper_id: int, resident_id: int, at: datetime, early: int, late: int
) -> Steps[tuple[Any, ...] | None]:
    """(id, service, funded, pairing id) of the helper's order here whose window is now."""
    found = yield Query(
        "SELECT id, service_code, funded, pairing_id FROM service_order WHERE helper_id = ?"
        " AND resident_id = ? AND status = 'assigned' AND starts_at <= ? AND ends_at >= ?"
        " ORDER BY starts_at LIMIT 1",
        (helper_id, resident_id, at + timedelta(minutes=early), at - timedelta(minutes=late)),
    )
    return tuple(found[0]) if found else None


def _open_visit(helper_id: int, resident_id: int, tap: Tap) -> Steps[int | None]:
    """The helper's visit open at this home; a refusal when one is open elsewhere (or the
    slow path, when that one is forgotten: past its maximum and the late allowance)."""
    rows = yield Query(
        "SELECT v.id, v.resident_id, v.checked_in_at, m.name, COALESCE(s.max_minutes, ?),"
        " c.checkin_late_minutes FROM visit v JOIN member m ON m.id = v.resident_id"
        " JOIN community c ON c.id = v.community_id LEFT JOIN service_type s"
        " ON s.community_id = v.community_id AND s.code = v.service_code"
        " WHERE v.open_helper_id = ?",
        (DEFAULT_SERVICE[1], helper_id),
    )
    if not rows:
        return None
    open_id, open_resident, opened_at, open_name, most, open_late = rows[0]
    if int(open_resident) == resident_id:
        return int(open_id)
    if stored_time(opened_at) + timedelta(minutes=int(most) + int(open_late)) < tap.now:
        raise SlowPath(SlowPath.FORGOTTEN, helper_id)
    raise refusals.open_elsewhere(str(open_name))


def _pairing(where: str, params: tuple[Any, ...]) -> Steps[tuple[Any, ...] | None]:
    """(id, compensation, funded) of the first pairing ``where`` holds, or None."""
    rows = yield Query(
        f"SELECT id, compensation, funded FROM pairing WHERE {where} ORDER BY id LIMIT 1", params
    )
    return tuple(rows[0]) if rows else None


def _planned_service(community_id: int, pairing_id: int, chosen: str) -> Steps[str]:
    """The service of a visit without an order: ``chosen`` when the pairing's plan has it,
    else the plan's first (or "visit", or the first the community offers)."""
    offered = yield Query(
        "SELECT code FROM service_type WHERE community_id = ? AND active = ? ORDER BY id",
        (community_id, True),
    )
    if not offered:
        raise SlowPath(SlowPath.NO_CATALOG, community_id)
    offered_codes = [str(r[0]) for r in offered]
    planned = yield Query(
        "SELECT service_code FROM plan_item WHERE pairing_id = ? AND active = ?"
        " ORDER BY start_minute",
        (pairing_id, True),
    )
    codes = [str(r[0]) for r in planned if str(r[0]) in offered_codes]
    codes = list(dict.fromkeys(codes)) or (
        ["visit"] if "visit" in offered_codes else offered_codes[:1]
    )
    if chosen and chosen not in codes:
        raise refusals.not_in_plan()
    return chosen or codes[0]


def _all_columns() -> list[str]:
    from timebank.visits.models import Visit

    return list(Visit._meta.fields_db_projection.values())


def with_row(inner: Steps[tuple[int, bool]]) -> Steps[tuple[dict[str, Any], bool]]:
    """Run ``inner``, then read the visit it names in the same hop: (columns, created)."""
    visit_id, created = yield from inner
    columns = _all_columns()
    (row,) = yield Query(f"SELECT {', '.join(columns)} FROM visit WHERE id = ?", (visit_id,))
    return dict(zip(columns, row, strict=True)), created
