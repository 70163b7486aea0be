"""Registering many members at once from a coordinator's CSV (Excel) list: every row is
read with the same parser as the form, and either all rows are registered or none."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from timebank.errors import Invalid
from timebank.i18n import field_label
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.member_fields import can_grant, parse_member
from timebank.people.members import enrol
from timebank.people.models import Community, Member

MAX_IMPORT_ROWS = 2000
MAX_IMPORT_BYTES = 1_000_000
# Column headers a coordinator's list may use, Chinese or English.
HEADERS = {
    "姓名": "name",
    "电话": "phone",
    "手机": "phone",
    "手机号": "phone",
    "角色": "roles",
    "身份": "roles",
    "出生日期": "birth_date",
    "地址": "address",
    "住址": "address",
    "语言": "languages",
    "同意": "consent",
    "护理等级": "care_level",
    "困难类别": "hardship",
    "服务需求": "needs",
    "探访间隔天数": "visit_every_days",
    "探访间隔": "visit_every_days",
    "紧急联系人": "emergency_name",
    "紧急联系电话": "emergency_phone",
    "备注": "notes",
    "帮扶类型": "helper_kind",
    "时薪": "hourly_rate",
    "技能": "skills",
    "可结对人数": "capacity",
    "服务时间": "availability",
}

# The name a list's column goes by in an error: its usual Chinese header (the first above),
# or in English the label of the form's field.
_COLUMNS = {field: header for header, field in reversed(HEADERS.items())}


def column_name(field: str, lang: str) -> str:
    """What a coordinator calls the column of ``field`` in a list, in ``lang``."""
    if lang == "en":
        return field_label(field, lang)
    return _COLUMNS.get(field) or field_label(field, lang)


@dataclass
class ImportResult:
    created: list[Member]


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves GBK by default
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid(
        "The file is not text (save it from Excel as CSV UTF-8).",
        "文件不是文本，请在 Excel 中另存为“CSV UTF-8”。",
        code="csv_unreadable",
    )


def read_rows(raw: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of a CSV file; headers Chinese or English."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise Invalid(
            f"The file is too large (at most {MAX_IMPORT_BYTES // 1000} KB).",
            f"文件太大（最多 {MAX_IMPORT_BYTES // 1000} KB）。",
            code="csv_too_large",
        )
    text = _decode(raw)
    if "\x00" in text:  # PostgreSQL cannot store it; say where it is
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise Invalid(
            f"Line {line} of the file contains a NUL character; save it again from Excel.",
            f"文件第 {line} 行含有空字符，请在 Excel 中重新保存。",
            code="csv_unreadable",
            details={"field": "file", "line": line},
        )
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        header = []
    columns = [HEADERS.get(h.strip(), h.strip().lower()) for h in header]
    if "name" not in columns or "phone" not in columns:
        raise Invalid(
            "The first line must name the columns, with at least 姓名 (name) and 电话 (phone).",
            "第一行必须是列名，至少要有“姓名”和“电话”两列。",
            code="csv_header",
        )
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise Invalid(
                    f"At most {MAX_IMPORT_ROWS} members per file.",
                    f"每个文件最多 {MAX_IMPORT_ROWS} 人。",
                    code="csv_too_many_rows",
                )
            rows.append((reader.line_num, dict(zip(columns, record, strict=False))))
    except csv.Error as exc:
        raise Invalid(
            f"Line {reader.line_num} of the file cannot be read: {exc}.",
            f"文件第 {reader.line_num} 行无法读取：{exc}。",
            code="csv_unreadable",
        ) from None
    if not rows:
        raise Invalid("The file has no members in it.", "文件里没有成员。", code="csv_empty")
    return rows


async def import_csv(
    actor: Actor, community: Community, raw: bytes, *, admin: bool
) -> ImportResult:
    """Register every row, or (if any row is wrong) none, with every row's errors."""
    rows = read_rows(raw)
    problems: list[dict[str, Any]] = []
    parsed_rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        row.setdefault("roles", "resident")
        if not row["roles"].strip():
            row["roles"] = "resident"
        row.pop("password", None)  # passwords never travel in spreadsheets
        parsed = parse_member(row, partial=False)
        parsed.errors += can_grant(parsed.values.get("roles", []), admin=admin)
        phone = parsed.values.get("phone")
        if phone:
            if phone in seen:
                parsed.refuse(
                    "phone",
                    f"the same phone number is on line {seen[phone]}.",
                    f"与第 {seen[phone]} 行的电话号码重复。",
                )
            seen.setdefault(phone, line)
        problems += [{"line": line, **e.as_json()} for e in parsed.errors]
        parsed_rows.append({"line": line, **parsed.values})
    registered = await Member.filter(phone__in=list(seen)).values_list("phone", flat=True)
    taken = {str(p) for p in registered} if seen else set()
    for phone in sorted(taken, key=lambda p: seen[p]):
        problems.append(
            {"line": seen[phone], "field": "phone", "en": f"{phone} is already registered.",
             "zh": f"{phone} 已经登记过。"}
        )  # fmt: skip
    if problems:
        problems.sort(key=lambda p: p["line"])
        lines = sorted({p["line"] for p in problems})
        raise Invalid(
            f"Nothing was imported: {len(lines)} line(s) need correcting "
            f"(lines {', '.join(map(str, lines[:20]))}).",
            f"未导入任何成员：有 {len(lines)} 行需要修改"
            f"（第 {'、'.join(map(str, lines[:20]))} 行）。",
            code="csv_rows_invalid",
            details={"rows": problems},
        )
    created: list[Member] = []
    async with in_transaction():
        for values in parsed_rows:
            created.append(await enrol(community, values, actor=actor))
        await audit.record_about(actor, "member.import", community, detail={"count": len(created)})
    return ImportResult(created)
