"""Community time: the time zone, the local day and month, and their bounds in UTC.

Everything is stored in UTC; a "day" or a "month" is always the community's, in the zone
the settings name (``TIMEBANK_TIMEZONE``). The zone is always passed in, never assumed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from timebank import inputs


def tz_of(request: Any) -> ZoneInfo:
    """The community time zone of a request's app (from its settings)."""
    return zone(request.app.state.settings.timezone)


def zone(name: str) -> ZoneInfo:
    """The time zone named in the settings."""
    return ZoneInfo(name)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date in the community."""
    return (now or datetime.now(UTC)).astimezone(tz).date()


def at(day: date, tz: ZoneInfo, clock: time = time(0)) -> datetime:
    """The moment (in UTC) of a wall-clock time on a community day."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """Midnight at the start of a community day, in UTC."""
    return at(day, tz)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC moments a community day starts and ends (the end excluded)."""
    return at(day, tz), at(day + timedelta(days=1), tz)


def day_of(moment: datetime, tz: ZoneInfo) -> date:
    """The community day a moment falls on."""
    return moment.astimezone(tz).date()


def parse_month(raw: Any, field: str = "month") -> date:
    """The first day of a month written 2026-10, within the service window, or a 422."""
    return inputs.parse_month(raw, field)


def month_of(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def next_month(first: date) -> date:
    """The first day of the month after ``first``'s."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(day: date) -> date:
    """The first day of the month before ``day``'s."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def last_month(tz: ZoneInfo, now: datetime | None = None) -> date:
    """The first day of the month before this one, in the community (what a report or a
    settlement shows by default)."""
    return previous_month(local_today(tz, now))


def month_bounds(first: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC moments a community month starts and ends (the end excluded)."""
    return at(month_of(first), tz), at(next_month(month_of(first)), tz)


def month_label(first: date) -> str:
    """A month as people write it: 2026-10."""
    return first.strftime("%Y-%m")
