"""The overdue-visit safety net: residents whose required visit is missed.

A resident living alone who is not visited is a safety risk. Each resident must have a
verified visit at least every N days (their own frequency, else the community's); this
lists every active resident whose last verified visit (or, never visited, whose
registration) is older than that, most overdue first, with their paired helper and a
phone to call. Days are the community's local days. One SQL statement, however many
residents and visits: each resident's last visit is one look-up in the index on
(resident, status, check-in time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from timebank import calendar, db

QUERY = """
SELECT m.id, m.name, m.member_no, m.phone, m.address, m.community_id, m.created_at,
       c.name AS community_name, rp.hardship, rp.emergency_name, rp.emergency_phone,
       COALESCE(rp.visit_every_days, c.visit_every_days) AS every_days,
       (SELECT MAX(v.checked_in_at) FROM visit v
        WHERE v.resident_id = m.id AND v.status = 'verified') AS last_visit,
       (SELECT h.name FROM pairing p JOIN member h ON h.id = p.helper_id
        WHERE p.resident_id = m.id AND p.status = 'approved' ORDER BY p.id LIMIT 1)
        AS helper_name,
       (SELECT h.phone FROM pairing p JOIN member h ON h.id = p.helper_id
        WHERE p.resident_id = m.id AND p.status = 'approved' ORDER BY p.id LIMIT 1)
        AS helper_phone
FROM member m
JOIN member_role r ON r.member_id = m.id AND r.role = 'resident'
JOIN community c ON c.id = m.community_id
LEFT JOIN resident_profile rp ON rp.member_id = m.id
WHERE m.is_active = ?
"""


@dataclass(frozen=True)
class Overdue:
    """One resident whose visit is overdue."""

    member_id: int
    name: str
    member_no: str
    phone: str
    address: str
    community_id: int
    community_name: str
    hardship: list[str]
    every_days: int
    last_visit: date | None  # local day of the last verified visit, None: never
    days_since: int  # since the last visit (or registration)
    overdue_days: int  # past the required frequency
    helper_name: str
    helper_phone: str
    emergency_name: str
    emergency_phone: str

    @property
    def alone(self) -> bool:
        return "alone" in self.hardship

    def as_json(self) -> dict[str, Any]:
        return {
            "member": self.member_id,
            "name": self.name,
            "member_no": self.member_no,
            "phone": self.phone,
            "community": self.community_id,
            "community_name": self.community_name,
            "hardship": self.hardship,
            "every_days": self.every_days,
            "last_visit": self.last_visit.isoformat() if self.last_visit else None,
            "days_since": self.days_since,
            "overdue_days": self.overdue_days,
            "helper_name": self.helper_name,
            "helper_phone": self.helper_phone,
            "emergency_name": self.emergency_name,
            "emergency_phone": self.emergency_phone,
        }


def _local_day(value: Any, tz: ZoneInfo) -> date:
    return calendar.day_of(db.stored_time(value), tz)


async def overdue(
    communities: set[int] | None, *, tz: ZoneInfo, today: date | None = None
) -> list[Overdue]:
    """Residents of ``communities`` (None: all) whose required visit is missed, most
    overdue first (then those living alone first, then by name)."""
    query = QUERY
    params: list[Any] = [True]
    if communities is not None:
        if not communities:
            return []
        query += f" AND m.community_id IN ({', '.join('?' * len(communities))})"
        params += sorted(communities)
    today = today or calendar.local_today(tz)
    # Only those whose last visit (or registration) is more than their frequency before
    # tomorrow's midnight come back: a superset of the overdue, checked exactly below in
    # local days. A district's 20,000 residents would otherwise all cross into Python.
    _, horizon = calendar.day_bounds(today, tz)
    query = f"SELECT * FROM ({query}) q WHERE " + (
        "julianday(COALESCE(q.last_visit, q.created_at)) < julianday(?) - q.every_days"
        if db.dialect() == "sqlite"
        else "COALESCE(q.last_visit, q.created_at)"
        " < CAST(? AS TIMESTAMPTZ) - q.every_days * INTERVAL '1 day'"
    )
    params.append(horizon)
    found: list[Overdue] = []
    for row in await db.fetch(query, *params):
        last = _local_day(row["last_visit"], tz) if row["last_visit"] is not None else None
        since_day = last or _local_day(row["created_at"], tz)
        days_since = (today - since_day).days
        every = int(row["every_days"])
        if days_since <= every:
            continue
        found.append(
            Overdue(
                member_id=int(row["id"]),
                name=str(row["name"]),
                member_no=str(row["member_no"]),
                phone=str(row["phone"]),
                address=str(row["address"] or ""),
                community_id=int(row["community_id"]),
                community_name=str(row["community_name"]),
                hardship=[h for h in str(row["hardship"] or "").split(",") if h],
                every_days=every,
                last_visit=last,
                days_since=days_since,
                overdue_days=days_since - every,
                helper_name=str(row["helper_name"] or ""),
                helper_phone=str(row["helper_phone"] or ""),
                emergency_name=str(row["emergency_name"] or ""),
                emergency_phone=str(row["emergency_phone"] or ""),
            )
        )
    found.sort(key=lambda o: (-o.overdue_days, not o.alone, o.name))
    return found
