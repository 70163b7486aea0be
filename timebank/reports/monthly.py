"""Figures for funders: a month (or any period) per community, rolled up to sub-district
and district. Every figure is a SQL aggregate; nothing loads the visits into Python.

Periods are the community's local days: ``[start, end)`` of local dates, stored times in
UTC. A visit counts in the period in which it was checked in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from timebank import calendar, db
from timebank.people.models import Community, Hardship, Level
from timebank.reports.overdue import overdue

CATEGORIES = [h.value for h in Hardship]

VISITS = """
SELECT v.community_id, COUNT(*) AS visits, COALESCE(SUM(v.served_minutes), 0) AS minutes,
       COUNT(DISTINCT v.resident_id) AS residents, COUNT(DISTINCT v.helper_id) AS helpers,
       COUNT(v.rating) AS ratings, COALESCE(SUM(v.rating), 0) AS rating_sum,
       COALESCE(SUM(v.pay_fen), 0) AS pay_fen
FROM visit v
WHERE v.status = 'verified' AND v.checked_in_at >= ? AND v.checked_in_at < ? {scope}
GROUP BY v.community_id
"""
BY_SERVICE = """
SELECT v.community_id, v.service_code, COUNT(*) AS visits,
       COALESCE(SUM(v.served_minutes), 0) AS minutes
FROM visit v
WHERE v.status = 'verified' AND v.checked_in_at >= ? AND v.checked_in_at < ? {scope}
GROUP BY v.community_id, v.service_code
"""
BY_CATEGORY = """
SELECT v.community_id, {columns}
FROM visit v LEFT JOIN resident_profile rp ON rp.member_id = v.resident_id
WHERE v.status = 'verified' AND v.checked_in_at >= ? AND v.checked_in_at < ? {scope}
GROUP BY v.community_id
"""
# The period's transactions first (CROSS JOIN fixes that order on SQLite, whose planner
# would otherwise walk every entry of every wallet): measured 2.4 s → 0.2 s on a district.
HOURS = """
SELECT a.community_id,
       COALESCE(SUM(CASE WHEN e.amount > 0 AND t.kind IN ('service_credit', 'post')
                    THEN e.amount ELSE 0 END), 0) AS earned,
       COALESCE(SUM(CASE WHEN e.amount < 0 AND t.kind IN ('redeem', 'post')
                    THEN -e.amount ELSE 0 END), 0) AS redeemed
FROM ledger_txn t CROSS JOIN ledger_entry e CROSS JOIN ledger_account a
WHERE e.txn_id = t.id AND a.id = e.account_id
  AND a.kind = 'wallet' AND e.phase = 'posted' AND t.created_at >= ? AND t.created_at < ?
  {scope}
GROUP BY a.community_id
"""


@dataclass
class Figures:
    """One community's figures (or a roll-up of several)."""

    community_id: int
    name: str
    level: str
    visits: int = 0
    minutes: int = 0
    residents: int = 0
    helpers: int = 0
    ratings: int = 0
    rating_sum: int = 0
    pay_fen: int = 0
    earned: int = 0
    redeemed: int = 0
    overdue: int = 0
    by_service: dict[str, list[int]] = field(default_factory=dict)  # code: [visits, minutes]
    by_category: dict[str, list[int]] = field(default_factory=dict)  # code: [visits, minutes]

    @property
    def satisfaction(self) -> float | None:
        return round(self.rating_sum / self.ratings, 2) if self.ratings else None

    def add(self, other: Figures) -> None:
        """Add a community's figures into a roll-up (members belong to one community, so
        residents and helpers served add up too)."""
        for name in ("visits", "minutes", "residents", "helpers", "ratings", "rating_sum",
                     "pay_fen", "earned", "redeemed", "overdue"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.by_service, other.by_service),
                             (self.by_category, other.by_category)):  # fmt: skip
            for code, (visits, minutes) in theirs.items():
                counted = mine.setdefault(code, [0, 0])
                counted[0] += visits
                counted[1] += minutes

    def as_json(self) -> dict[str, Any]:
        return {
            "community": self.community_id,
            "name": self.name,
            "level": self.level,
            "visits": self.visits,
            "minutes": self.minutes,
            "residents": self.residents,
            "helpers": self.helpers,
            "satisfaction": self.satisfaction,
            "ratings": self.ratings,
            "pay_fen": self.pay_fen,
            "earned_minutes": self.earned,
            "redeemed_minutes": self.redeemed,
            "overdue": self.overdue,
            "by_service": {k: {"visits": v, "minutes": m} for k, (v, m) in self.by_service.items()},
            "by_category": {
                k: {"visits": v, "minutes": m} for k, (v, m) in self.by_category.items()
            },
        }


@dataclass
class Report:
    """A period's figures: each community, then each sub-district and district."""

    start: date
    end: date  # exclusive
    communities: list[Figures]
    rollups: list[Figures]


async def report(communities: list[Community], start: date, end: date, *, tz: ZoneInfo) -> Report:
    """The figures of ``communities`` (community level) for local days [start, end)."""
    found = {c.id: Figures(c.id, c.name, c.level.value) for c in communities}
    if not found:
        return Report(start, end, [], [])
    ids = sorted(found)
    marks = ", ".join("?" * len(ids))
    period = [calendar.day_start(start, tz), calendar.day_start(end, tz)]
    for row in await db.fetch(VISITS.format(scope=f"AND v.community_id IN ({marks})"),
                              *period, *ids):  # fmt: skip
        figures = found[int(row["community_id"])]
        for name in ("visits", "minutes", "residents", "helpers", "ratings", "rating_sum",
                     "pay_fen"):  # fmt: skip
            setattr(figures, name, int(row[name]))
    for row in await db.fetch(BY_SERVICE.format(scope=f"AND v.community_id IN ({marks})"),
                              *period, *ids):  # fmt: skip
        found[int(row["community_id"])].by_service[str(row["service_code"])] = [
            int(row["visits"]),
            int(row["minutes"]),
        ]
    columns = ", ".join(
        f"SUM(CASE WHEN ',' || COALESCE(rp.hardship, '') || ',' LIKE '%,{c},%' THEN 1 ELSE 0"
        f" END) AS v_{c}, SUM(CASE WHEN ',' || COALESCE(rp.hardship, '') || ',' LIKE"
        f" '%,{c},%' THEN COALESCE(v.served_minutes, 0) ELSE 0 END) AS m_{c}"
        for c in CATEGORIES
    )
    query = BY_CATEGORY.format(columns=columns, scope=f"AND v.community_id IN ({marks})")
    for row in await db.fetch(query, *period, *ids):
        figures = found[int(row["community_id"])]
        for c in CATEGORIES:
            if int(row[f"v_{c}"] or 0):
                figures.by_category[c] = [int(row[f"v_{c}"]), int(row[f"m_{c}"] or 0)]
    hours = HOURS.format(scope=f"AND a.community_id IN ({marks})")
    for row in await db.fetch(hours, *period, *ids):
        figures = found[int(row["community_id"])]
        figures.earned, figures.redeemed = int(row["earned"]), int(row["redeemed"])
    for late in await overdue(set(ids), tz=tz):
        found[late.community_id].overdue += 1
    return Report(start, end, [found[i] for i in ids], await _rollups(list(found.values())))


def _ancestors(communities: dict[int, Community], community_id: int) -> list[Community]:
    found = []
    parent_id = communities[community_id].parent_id
    while parent_id is not None:
        found.append(communities[parent_id])
        parent_id = communities[parent_id].parent_id
    return found


async def _rollups(figures: list[Figures]) -> list[Figures]:
    """Sub-district and district totals of the communities' figures, only for those whose
    every community is in the report: a community's coordinator (or a report asked for one
    community) gets no "sub-district" or "district" row that holds one community's figures."""
    communities = {c.id: c for c in await Community.all()}
    counted = {one.community_id for one in figures}
    uncovered = {
        above.id
        for c in communities.values()
        if c.level is Level.COMMUNITY and c.id not in counted
        for above in _ancestors(communities, c.id)
    }
    parents: dict[int, Figures] = {}
    for one in figures:
        for parent in _ancestors(communities, one.community_id):
            if parent.id not in uncovered:
                total = parents.setdefault(
                    parent.id, Figures(parent.id, parent.name, parent.level.value)
                )
                total.add(one)
    order = {Level.SUBDISTRICT.value: 0, Level.DISTRICT.value: 1}
    return sorted(parents.values(), key=lambda f: (order.get(f.level, 2), f.name))
