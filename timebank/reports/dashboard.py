"""Today's figures for the coordinator's dashboard: one SQL statement of counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from timebank import calendar, db

COUNTS = """
SELECT
  (SELECT COUNT(*) FROM visit WHERE status = 'open' AND {scope}) AS in_progress,
  (SELECT COUNT(*) FROM service_order WHERE status IN ('open', 'assigned')
     AND starts_at >= ? AND starts_at < ? AND ends_at >= ? AND {scope}) AS due_today,
  (SELECT COUNT(*) FROM service_order WHERE status IN ('open', 'assigned')
     AND ends_at < ? AND ends_at >= ? AND {scope}) AS late,
  (SELECT COUNT(*) FROM service_order WHERE status = 'open' AND ends_at >= ? AND {scope})
     AS orders_open,
  (SELECT COUNT(*) FROM pairing WHERE status = 'proposed' AND {scope}) AS pairings_proposed,
  (SELECT COUNT(*) FROM visit WHERE status = 'flagged' AND {scope}) AS visits_flagged,
  (SELECT COUNT(*) FROM redemption WHERE status = 'to_hand_over' AND {scope}) AS to_hand_over,
  (SELECT COUNT(*) FROM grant_request WHERE status = 'pending' AND {scope}) AS grants_pending
"""


@dataclass(frozen=True)
class Today:
    """What needs a coordinator's eye today."""

    in_progress: int
    due_today: int
    late: int
    orders_open: int
    pairings_proposed: int
    visits_flagged: int
    to_hand_over: int
    grants_pending: int


async def today(communities: set[int] | None, *, tz: ZoneInfo) -> Today:
    """Today's counts for ``communities`` (None: all)."""
    now = datetime.now(UTC)
    start, end = calendar.day_bounds(calendar.local_today(tz, now), tz)
    if communities is None:
        scope, scope_params = "1 = 1", []
    elif not communities:
        return Today(0, 0, 0, 0, 0, 0, 0, 0)
    else:
        marks = ", ".join("?" * len(communities))
        scope, scope_params = f"community_id IN ({marks})", sorted(communities)
    query = COUNTS.format(scope=scope)
    params = [
        *scope_params,
        start, end, now, *scope_params,
        now, now - timedelta(days=7), *scope_params,
        now, *scope_params,
        *scope_params,
        *scope_params,
        *scope_params,
        *scope_params,
    ]  # fmt: skip
    (row,) = await db.fetch(query, *params)
    return Today(**{k: int(v) for k, v in row.items()})
