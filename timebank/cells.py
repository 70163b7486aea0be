"""Cells of the spreadsheets the office downloads (CSV and XLSX), safe to open in Excel.

Excel, WPS and LibreOffice read a text cell that starts with ``= + - @``, a tab or a carriage
return as a formula: a member named ``=HYPERLINK("http://x","y")`` would become a live link in
the settlement sheet, ``=cmd|' /C calc'!A0`` a command (CSV or formula injection). Every export
writes its cells through this module, which prefixes such text with a single quote (the OWASP
and ASVS 1.2.10 advice) so that it stays text. Numbers stay numbers: -5 is a number, not text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # openpyxl is imported only when a workbook is written
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

# What a spreadsheet takes as the start of a formula (NUL too, as ASVS lists it).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def cell(value: Any) -> Any:
    """``value`` as it may go into a spreadsheet: text that would start a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def excel_csv(rows: Iterable[Iterable[Any]]) -> bytes:
    """Rows as CSV in UTF-8 with a BOM, so that Excel in China opens the Chinese right."""
    out = io.StringIO()
    csv.writer(out).writerows([cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def append(sheet: Worksheet, row: Iterable[Any]) -> None:
    """Add ``row`` under the last row of ``sheet``, every text value stored as text."""
    sheet.append([_text(sheet, v) if isinstance(v, str) else v for v in row])


def _text(sheet: Worksheet, value: str) -> Cell:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell

    # openpyxl stores a str starting with "=" as a formula, and refuses control characters
    # (an export must not fail on a name); a cell typed "s" is written as a plain string.
    text = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", cell(value)))
    text.data_type = "s"
    return text
