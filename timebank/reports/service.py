"""What a report is asked for: its period of local days and the communities it covers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from timebank import calendar, inputs
from timebank.errors import Invalid
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.models import Community


def period(query: Mapping[str, str], tz: ZoneInfo) -> tuple[date, date]:
    """The local days [start, end) asked for: ?month=2026-10 (last month by default), or
    ?from=…&to=… (inclusive)."""
    if query.get("from") or query.get("to"):
        start = inputs.parse_day(query.get("from", ""), "from")
        end = inputs.parse_day(query.get("to", ""), "to") + timedelta(days=1)
    else:
        raw = query.get("month") or calendar.month_label(calendar.last_month(tz))
        start = calendar.parse_month(raw)
        end = calendar.next_month(start)
    if end <= start or (end - start).days > 366:
        raise Invalid(
            "The period must run forward, a year at most.", "统计期须从前往后，最长一年。",
            code="bad_period",
        )  # fmt: skip
    return start, end


async def communities_asked(who: SignedIn, raw: str) -> list[Community]:
    """The communities ``who`` coordinates, or only ``raw`` (?community=ID) among them,
    refused unless they coordinate it."""
    found = await policy.communities_of(who)
    if raw:
        wanted = inputs.id_or_none(raw)
        policy.require(wanted is not None and policy.coordinates(who, wanted))
        found = [c for c in found if c.id == wanted]
    return found
