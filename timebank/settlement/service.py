"""The monthly settlement of paid helpers (困困结对): verified visits × the helper's rate.

A month's settlement lists every verified visit of a paid pairing served in it (local
days) and not yet paid, with the amount accrued at verification (``visit.pay_fen``). A
coordinator closes the month once it is over: its lines are written once (a visit is paid
once: a unique key), and nothing later changes them. A visit of a closed month verified
afterwards (a flagged visit approved late) is paid in the next month's settlement, marked
as a correction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from timebank import calendar, db
from timebank.cells import append, excel_csv
from timebank.errors import Conflict, Invalid
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import Community
from timebank.settlement.models import SettlementLine, SettlementMonth


@dataclass
class Line:
    """One visit to pay."""

    visit_id: int
    helper_id: int
    helper_name: str
    helper_no: str
    resident_name: str
    service: str
    served_on: date
    minutes: int
    amount_fen: int
    correction: bool


@dataclass
class HelperTotal:
    """A helper's sum for the month."""

    helper_id: int
    name: str
    member_no: str
    rate_fen: int | None
    visits: int = 0
    minutes: int = 0
    amount_fen: int = 0
    corrections_fen: int = 0


@dataclass
class Settlement:
    """A month of a community: lines, totals per helper, and whether it is closed."""

    community: Community
    month: date
    closed: SettlementMonth | None
    lines: list[Line]
    helpers: list[HelperTotal] = field(default_factory=list)

    @property
    def label(self) -> str:
        return calendar.month_label(self.month)

    @property
    def amount_fen(self) -> int:
        return sum(h.amount_fen for h in self.helpers)

    @property
    def minutes(self) -> int:
        return sum(h.minutes for h in self.helpers)


OPEN_LINES = """
SELECT v.id, v.helper_id, h.name AS helper_name, h.member_no AS helper_no,
       r.name AS resident_name, v.service_code, v.checked_in_at, v.served_minutes, v.pay_fen,
       p.hourly_rate_fen
FROM visit v
JOIN member h ON h.id = v.helper_id
JOIN member r ON r.id = v.resident_id
LEFT JOIN helper_profile p ON p.member_id = v.helper_id
LEFT JOIN settlement_line s ON s.visit_id = v.id
WHERE v.community_id = ? AND v.status = 'verified' AND v.pay_fen IS NOT NULL
  AND v.checked_in_at < ? AND s.id IS NULL
ORDER BY h.name, v.checked_in_at
"""
CLOSED_LINES = """
SELECT v.id, v.helper_id, h.name AS helper_name, h.member_no AS helper_no,
       r.name AS resident_name, v.service_code, s.served_on, s.minutes, s.amount_fen,
       p.hourly_rate_fen, s.correction
FROM settlement_line s
JOIN visit v ON v.id = s.visit_id
JOIN member h ON h.id = s.helper_id
JOIN member r ON r.id = v.resident_id
LEFT JOIN helper_profile p ON p.member_id = s.helper_id
WHERE s.settlement_id = ?
ORDER BY h.name, s.served_on, v.id
"""


def _day(value: Any, tz: ZoneInfo) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # a settled line's date
    if isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value)
    return calendar.day_of(db.stored_time(value), tz)


async def compute(community: Community, month: date, tz: ZoneInfo) -> Settlement:
    """A month's settlement: its closed lines, or what closing it now would pay."""
    label = calendar.month_label(month)
    closed = await SettlementMonth.get_or_none(community=community, month=label)
    lines: list[Line] = []
    rates: dict[int, int | None] = {}
    if closed is not None:
        rows = await db.fetch(CLOSED_LINES, closed.id)
    else:
        _, end = calendar.month_bounds(month, tz)
        rows = await db.fetch(OPEN_LINES, community.id, end)
    for r in rows:
        served_on = _day(r["served_on"] if closed else r["checked_in_at"], tz)
        rates[int(r["helper_id"])] = r["hourly_rate_fen"]
        lines.append(
            Line(
                visit_id=int(r["id"]),
                helper_id=int(r["helper_id"]),
                helper_name=str(r["helper_name"]),
                helper_no=str(r["helper_no"]),
                resident_name=str(r["resident_name"]),
                service=str(r["service_code"]),
                served_on=served_on,
                minutes=int((r["minutes"] if closed else r["served_minutes"]) or 0),
                amount_fen=int((r["amount_fen"] if closed else r["pay_fen"]) or 0),
                correction=bool(r["correction"]) if closed else served_on < month,
            )
        )
    totals: dict[int, HelperTotal] = {}
    for line in lines:
        total = totals.setdefault(
            line.helper_id,
            HelperTotal(line.helper_id, line.helper_name, line.helper_no, rates[line.helper_id]),
        )
        total.visits += 1
        total.minutes += line.minutes
        total.amount_fen += line.amount_fen
        if line.correction:
            total.corrections_fen += line.amount_fen
    return Settlement(
        community, month, closed, lines, sorted(totals.values(), key=lambda t: t.name)
    )


async def close(actor: Actor, community: Community, month: date, tz: ZoneInfo) -> Settlement:
    """Close a month that is over: write its lines once; later changes go to the next."""
    over_on = calendar.next_month(month)
    if calendar.local_today(tz) < over_on:
        raise Invalid(
            f"{month:%Y-%m} is not over yet: it can be closed from {over_on}.",
            f"{month:%Y-%m} 还没有结束，{over_on} 起才能结算。",
            code="month_not_over",
        )
    found = await compute(community, month, tz)
    if found.closed is not None:
        raise Conflict(
            f"{month:%Y-%m} is already closed.", f"{month:%Y-%m} 已经结算。", code="already_closed"
        )
    try:
        async with in_transaction():
            closed = await SettlementMonth.create(
                community=community, month=calendar.month_label(month),
                closed_by_id=actor.member_id or 0, visits=len(found.lines),
                minutes=found.minutes, amount_fen=found.amount_fen,
            )  # fmt: skip
            await SettlementLine.bulk_create(
                [
                    SettlementLine(
                        settlement=closed,
                        visit_id=line.visit_id,
                        helper_id=line.helper_id,
                        served_on=line.served_on,
                        minutes=line.minutes,
                        amount_fen=line.amount_fen,
                        correction=line.correction,
                    )  # fmt: skip
                    for line in found.lines
                ]
            )
            await audit.record_about(
                actor,
                "settlement.close",
                closed,
                detail={
                    "month": closed.month,
                    "visits": closed.visits,
                    "amount_fen": closed.amount_fen,
                },
            )
    except IntegrityError:  # closed, or a visit paid, by someone else at the same moment
        raise Conflict(
            f"{month:%Y-%m} was closed at the same moment.",
            f"{month:%Y-%m} 刚被别人结算。",
            code="already_closed",
        ) from None
    return await compute(community, month, tz)


def as_json(found: Settlement) -> dict[str, Any]:
    """A settlement for the API."""
    return {
        "community": found.community.id,
        "month": found.label,
        "closed": found.closed is not None,
        "closed_at": found.closed.closed_at.isoformat() if found.closed else None,
        "visits": len(found.lines),
        "minutes": found.minutes,
        "amount_fen": found.amount_fen,
        "helpers": [
            {
                "helper": h.helper_id,
                "name": h.name,
                "member_no": h.member_no,
                "rate_fen": h.rate_fen,
                "visits": h.visits,
                "minutes": h.minutes,
                "amount_fen": h.amount_fen,
                "corrections_fen": h.corrections_fen,
            }
            for h in found.helpers
        ],  # fmt: skip
        "lines": [
            {
                "visit": x.visit_id,
                "helper": x.helper_id,
                "served_on": x.served_on.isoformat(),
                "resident": x.resident_name,
                "service": x.service,
                "minutes": x.minutes,
                "amount_fen": x.amount_fen,
                "correction": x.correction,
            }
            for x in found.lines
        ],  # fmt: skip
    }


HELPER_HEADERS = ["帮扶人", "编号", "服务次数", "服务时长（小时）", "时薪（元）", "应付金额（元）",
                  "其中更正（元）"]  # fmt: skip
LINE_HEADERS = ["服务日期", "帮扶人", "服务对象", "服务项目", "服务时长（分钟）", "金额（元）",
                "更正"]  # fmt: skip


def _yuan(fen: int | None) -> float | str:
    return "" if fen is None else round(fen / 100, 2)


def _helper_rows(found: Settlement) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [h.name, h.member_no, h.visits, round(h.minutes / 60, 2), _yuan(h.rate_fen),
         _yuan(h.amount_fen), _yuan(h.corrections_fen)]
        for h in found.helpers
    ]  # fmt: skip
    rows.append(["合计", "", len(found.lines), round(found.minutes / 60, 2), "",
                 _yuan(found.amount_fen), ""])  # fmt: skip
    return rows


def _line_rows(found: Settlement, names: dict[str, str]) -> list[list[Any]]:
    return [
        [x.served_on.isoformat(), x.helper_name, x.resident_name, names.get(x.service, x.service),
         x.minutes, _yuan(x.amount_fen), "是" if x.correction else ""]
        for x in found.lines
    ]  # fmt: skip


def _title(found: Settlement) -> str:
    return f"{found.community.name} {found.label} 结算表" + (
        "（已结算）" if found.closed else "（未结算）"
    )


def as_csv(found: Settlement, names: dict[str, str]) -> bytes:
    """The settlement as CSV, UTF-8 with a BOM so that Excel opens the Chinese right."""
    return excel_csv([[_title(found)], HELPER_HEADERS, *_helper_rows(found), [],
                      LINE_HEADERS, *_line_rows(found, names)])  # fmt: skip


def as_xlsx(found: Settlement, names: dict[str, str]) -> bytes:
    """The settlement as an Excel workbook: totals per helper, then every visit."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "汇总"
    append(sheet, [_title(found)])
    append(sheet, HELPER_HEADERS)
    for row in _helper_rows(found):
        append(sheet, row)
    detail = book.create_sheet("明细")
    append(detail, LINE_HEADERS)
    for row in _line_rows(found, names):
        append(detail, row)
    for ws, header_row in ((sheet, 2), (detail, 1)):
        for cell in ws[header_row]:
            cell.font = Font(bold=True)
        for index, column in enumerate(ws.columns, start=1):
            width = max(len(str(c.value or "")) for c in column)
            letter = get_column_letter(index)
            # CJK characters are about twice as wide as Latin ones.
            ws.column_dimensions[letter].width = min(max(width * 2 + 2, 10), 40)
    sheet.freeze_panes = "A3"
    detail.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
