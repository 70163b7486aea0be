"""A report as CSV or an Excel workbook, with Chinese headers, for the civil-affairs office."""

from __future__ import annotations

import io
from typing import Any

from timebank.cells import append, excel_csv
from timebank.labels import SERVICE_NAMES
from timebank.reports.monthly import CATEGORIES, Figures, Report
from timebank.reports.overdue import Overdue

LEVELS = {"community": "社区", "subdistrict": "街道", "district": "区"}
ZH_HARDSHIP = {"dibao": "低保", "tekun": "特困", "alone": "独居", "empty_nest": "空巢",
               "left_behind": "留守", "elderly": "高龄", "disability": "残疾", "shidu": "失独",
               "gugua": "孤寡"}  # fmt: skip
HEADERS = ["地区", "级别", "服务人次", "服务时长（小时）", "服务对象人数", "活跃帮扶人数",
           "满意度（平均分）", "评价数", "获得时间（小时）", "兑换时间（小时）",
           "逾期未探访人数", "付费帮扶金额（元）"]  # fmt: skip


def _hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def services_of(report: Report) -> list[str]:
    """The services of a report's figures: the default ones in their order, then others."""
    seen = {code for f in report.communities for code in f.by_service}
    return [c for c in SERVICE_NAMES if c in seen] + sorted(seen - set(SERVICE_NAMES))


def headers(report: Report, names: dict[str, str]) -> list[str]:
    """The column headers; ``names``: code → the service's Chinese name."""
    services = services_of(report)
    return (
        HEADERS
        + [f"{names.get(s, s)}（人次）" for s in services]
        + [f"{names.get(s, s)}（小时）" for s in services]
        + [f"{ZH_HARDSHIP.get(c, c)}（人次）" for c in CATEGORIES]
    )


def row(report: Report, f: Figures) -> list[Any]:
    services = services_of(report)
    return (
        [f.name, LEVELS.get(f.level, f.level), f.visits, _hours(f.minutes), f.residents,
         f.helpers, f.satisfaction if f.satisfaction is not None else "", f.ratings,
         _hours(f.earned), _hours(f.redeemed), f.overdue, round(f.pay_fen / 100, 2)]
        + [f.by_service.get(s, [0, 0])[0] for s in services]
        + [_hours(f.by_service.get(s, [0, 0])[1]) for s in services]
        + [f.by_category.get(c, [0, 0])[0] for c in CATEGORIES]
    )  # fmt: skip


def title(report: Report) -> str:
    return f"时间银行服务统计 {report.start.isoformat()} 至 {report.end.isoformat()}（不含）"


def as_csv(report: Report, names: dict[str, str]) -> bytes:
    """The report as CSV: a title row, the headers, each community, then the roll-ups;
    ``names``: code → the service's Chinese name."""
    rows = [row(report, f) for f in [*report.communities, *report.rollups]]
    return excel_csv([[title(report)], headers(report, names), *rows])


OVERDUE_HEADERS = ["社区", "姓名", "编号", "电话", "地址", "困难类别", "探访频率（天）",
                   "最近探访", "距今天数", "逾期天数", "结对帮扶人", "帮扶人电话",
                   "紧急联系人", "紧急联系电话"]  # fmt: skip


def overdue_csv(found: list[Overdue]) -> bytes:
    """The overdue list for the office's phone round (Chinese headers)."""
    rows = [
        [o.community_name, o.name, o.member_no, o.phone, o.address,
         "、".join(ZH_HARDSHIP.get(h, h) for h in o.hardship), o.every_days,
         o.last_visit.isoformat() if o.last_visit else "从未", o.days_since, o.overdue_days,
         o.helper_name, o.helper_phone, o.emergency_name, o.emergency_phone]
        for o in found
    ]  # fmt: skip
    return excel_csv([OVERDUE_HEADERS, *rows])


def as_xlsx(report: Report, names: dict[str, str]) -> bytes:
    """One sheet: each community, then each sub-district and district; Chinese headers
    (``names``: code → the service's Chinese name)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "服务统计"
    append(sheet, [title(report)])
    append(sheet, headers(report, names))
    for f in [*report.communities, *report.rollups]:
        append(sheet, row(report, f))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for index, column in enumerate(sheet.iter_cols(min_row=2), start=1):
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width * 2, 8), 30)
    sheet.freeze_panes = "C3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
