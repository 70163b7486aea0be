"""The dashboard's charts, drawn on the server as SVG (no script, no CDN, prints well):
hours per month by service, visits per week, and the satisfaction trend. Each bucket is
one SQL aggregate over verified visits in its local-day range."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape
from zoneinfo import ZoneInfo

from timebank import calendar, db
from timebank.people.models import Community, Level

BUCKET = """
SELECT v.service_code, COUNT(*) AS visits, COALESCE(SUM(v.served_minutes), 0) AS minutes,
       COUNT(v.rating) AS ratings, COALESCE(SUM(v.rating), 0) AS rating_sum
FROM visit v
WHERE v.status = 'verified' AND v.checked_in_at >= ? AND v.checked_in_at < ? {scope}
GROUP BY v.service_code
"""
COLOURS = ["#0b6e3a", "#0a5cad", "#a4420b", "#6b3fa0", "#8a6d00", "#00707a", "#9c2a5a",
           "#4a5a6a", "#2e7d32", "#b3261e", "#5d4037", "#37474f"]  # fmt: skip


@dataclass
class Bucket:
    """One month or week."""

    label: str
    visits: int = 0
    minutes: int = 0
    ratings: int = 0
    rating_sum: int = 0
    by_service: dict[str, int] = field(default_factory=dict)  # minutes

    @property
    def satisfaction(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None


async def buckets(
    communities: set[int] | None, ranges: list[tuple[str, date, date]], *, tz: ZoneInfo
) -> list[Bucket]:
    """Visits, minutes (by service) and ratings per ``(label, start, end)`` range."""
    if communities is None:  # all: named, so the index on (status, community, time) serves
        communities = {c.id for c in await Community.filter(level=Level.COMMUNITY).only("id")}
    if not communities:
        return [Bucket(label) for label, _, _ in ranges]
    scope = f"AND v.community_id IN ({', '.join('?' * len(communities))})"
    params = sorted(communities)
    found = []
    for label, start, end in ranges:
        bucket = Bucket(label)
        rows = await db.fetch(BUCKET.format(scope=scope), calendar.day_start(start, tz),
                              calendar.day_start(end, tz),
                              *params)  # fmt: skip
        for row in rows:
            bucket.visits += int(row["visits"])
            bucket.minutes += int(row["minutes"])
            bucket.ratings += int(row["ratings"])
            bucket.rating_sum += int(row["rating_sum"])
            bucket.by_service[str(row["service_code"])] = int(row["minutes"])
        found.append(bucket)
    return found


def months(today: date, count: int) -> list[tuple[str, date, date]]:
    """The last ``count`` months up to this one: (label, first day, next month's first)."""
    first = today.replace(day=1)
    ranges = []
    for _ in range(count):
        ranges.append((calendar.month_label(first), first, calendar.next_month(first)))
        first = calendar.previous_month(first)
    return list(reversed(ranges))


def weeks(today: date, count: int) -> list[tuple[str, date, date]]:
    """The last ``count`` weeks (Monday to Sunday) up to this one."""
    monday = today - timedelta(days=today.weekday())
    ranges = [
        (f"{(monday - timedelta(weeks=n)):%m-%d}", monday - timedelta(weeks=n),
         monday - timedelta(weeks=n - 1))
        for n in range(count)
    ]  # fmt: skip
    return list(reversed(ranges))


# Drawn at its own size (the page scrolls a chart sideways on a phone, never shrinks it), so
# that every label is 18 px, the least an elderly reader is asked to read.
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 240, 64, 36, 14
FONT, LEGEND_ROW, LEGEND_COLUMN = 18, 28, 176


def _frame(title: str, body: list[str], legend: list[str] | None = None) -> str:
    extra = LEGEND_ROW * ((len(legend) + 3) // 4) + 8 if legend else 0
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT + extra}" role="img" aria-label="{escape(title)}"'
        f' width="{WIDTH}" class="chart" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "".join(legend or [])
        + "</svg>"
    )


def _axis(top_value: float, unit: str) -> list[str]:
    plot_h = HEIGHT - BOTTOM - TOP
    parts = [
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH}" y2="{TOP + plot_h}" stroke="#57606a"/>'
    ]
    for fraction in (0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<text x="{LEFT - 6}" y="{y + 6:.1f}" text-anchor="end" font-size="{FONT}"'
            f' fill="#57606a">{top_value * fraction:.0f}{escape(unit)}</text>'
        )
    return parts


def stacked_hours(found: list[Bucket], names: dict[str, str], title: str) -> str:
    """Hours per bucket, stacked by service."""
    services = sorted({s for b in found for s in b.by_service},
                      key=lambda s: -sum(b.by_service.get(s, 0) for b in found))  # fmt: skip
    top = max([b.minutes / 60 for b in found] + [1.0])
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(found), 1)
    body = _axis(top, "h")
    for i, b in enumerate(found):
        x, y = LEFT + i * slot + slot * 0.2, float(TOP + plot_h)
        for j, service in enumerate(services):
            h = b.by_service.get(service, 0) / 60 / top * plot_h
            if h <= 0:
                continue
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{h:.1f}"'
                f' fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(names.get(service, service))}'
                f" {b.by_service[service] / 60:.1f} h</title></rect>"
            )
        body.append(
            f'<text x="{x + slot * 0.3:.1f}" y="{HEIGHT - 12}" text-anchor="middle"'
            f' font-size="{FONT}" fill="#1b1f24">{escape(b.label)}</text>'
        )
    legend = [
        f'<rect x="{LEFT + (j % 4) * LEGEND_COLUMN}" y="{HEIGHT + 8 + LEGEND_ROW * (j // 4)}"'
        f' width="14" height="14" fill="{COLOURS[j % len(COLOURS)]}"/>'
        f'<text x="{LEFT + (j % 4) * LEGEND_COLUMN + 20}"'
        f' y="{HEIGHT + 21 + LEGEND_ROW * (j // 4)}"'
        f' font-size="{FONT}" fill="#1b1f24">{escape(names.get(s, s))}</text>'
        for j, s in enumerate(services)
    ]
    return _frame(title, body, legend)


def bars(found: list[Bucket], title: str) -> str:
    """Visits per bucket."""
    top = max([float(b.visits) for b in found] + [1.0])
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(found), 1)
    body = _axis(top, "")
    for i, b in enumerate(found):
        h = b.visits / top * plot_h
        x = LEFT + i * slot + slot * 0.15
        body.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}"'
            f' height="{h:.1f}" fill="#0a5cad"><title>{escape(b.label)}: {b.visits}</title></rect>'
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - 12}" text-anchor="middle"'
            f' font-size="{FONT}" fill="#1b1f24">{escape(b.label)}</text>'
        )
    return _frame(title, body)


def trend(found: list[Bucket], title: str) -> str:
    """The average rating (1 to 5) per bucket, as a line; buckets without ratings skipped."""
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(found), 1)
    body = _axis(5, "★")
    points = []
    for i, b in enumerate(found):
        x = LEFT + i * slot + slot * 0.5
        body.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="{FONT}"'
            f' fill="#1b1f24">{escape(b.label)}</text>'
        )
        if b.satisfaction is not None:
            y = TOP + plot_h * (1 - b.satisfaction / 5)
            points.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#a4420b"><title>{escape(b.label)}:'
                f" {b.satisfaction:.2f} ({b.ratings})</title></circle>"
            )
    if len(points) > 1:
        body.insert(3, f'<polyline points="{" ".join(points)}" fill="none" stroke="#a4420b"'
                       ' stroke-width="2"/>')  # fmt: skip
    return _frame(title, body)
