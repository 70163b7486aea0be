"""Checked readers for request input: text, whole numbers, ids, dates, months, choices.

Every value a request carries goes through one of these before it reaches a service or the
database, so a value the database cannot store (NUL on PostgreSQL, a lone surrogate, an id
past a 32-bit column, a date past year 9999 once shifted to UTC) is a 4xx naming the field,
never a 500.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

from starlette.convertors import Convertor, register_url_convertor

from timebank.errors import BadRequest, Invalid
from timebank.i18n import field_label

ID_MAX = 2**31 - 1  # every id column is a 32-bit integer on PostgreSQL
SEQ_MAX = 2**63 - 1  # ledger sequence numbers are 64-bit
# The window a service date, a visit time or a report month may fall in. Wide enough for any
# record a time bank keeps, narrow enough that shifting a time to UTC never leaves the calendar.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
# Request bodies: JSON and forms. The CSV import has its own limit (member_import).
MAX_BODY_BYTES = 1024 * 1024
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around an uploaded file

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# ASCII digits only, once made plain(): int() also takes "1_0" and Arabic-Indic digits.
_WHOLE = re.compile(r"-?[0-9]{1,19}")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|-?\.[0-9]+")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
E = TypeVar("E", bound=enum.Enum)


def named(field: str) -> tuple[str, str]:
    """What the form called ``field``, in English and Chinese, for a message about it."""
    return field_label(field, "en"), field_label(field, "zh-CN")


def plain(raw: Any) -> str:
    """What was typed, as plain trimmed text: NFKC turns the full-width digits, letters,
    signs and spaces of a Chinese input method ("１３８", "＋", "：", U+3000) into ASCII.

    Every phone number, code, PIN and number typed into a form or a JSON body goes through
    here first, so "１２３４" and "1234" are the same PIN. (Dates and times come from pickers
    and clocks, and stay strict.)"""
    return unicodedata.normalize("NFKC", "" if raw is None else str(raw)).strip()


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a NUL or a lone surrogate), or None."""
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    return "NUL" if found.group() == "\x00" else "surrogate"


def refuse_text(field: str) -> BadRequest:
    """The error for text containing a NUL character or a broken (surrogate) character."""
    en, zh = named(field)
    return BadRequest(
        f"{en} contains a character that is not allowed (a NUL or a broken character).",
        f"{zh}含有不允许的字符（空字符或损坏的字符）。",
        code="invalid_text",
        details={"field": field},
    )


def check_text(value: Any, field: str) -> None:
    """Refuse ``value`` if it is text with NUL or a lone surrogate, naming ``field``."""
    if isinstance(value, str) and text_problem(value):
        raise refuse_text(field)


def check_json_text(value: Any) -> None:
    """Refuse any key or string in a parsed JSON value that cannot be stored as text.

    The error names the field by its path, e.g. ``name`` or ``hardship[2]``. The walk is a
    loop, not recursion: the JSON parser already bounds the depth, but nothing here should.
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            check_text(item, path or "body")
        elif isinstance(item, dict):
            for key, inner in item.items():
                check_text(key, path or "body")  # a bad key: name the object holding it
                stack.append((inner, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{i}]") for i, inner in enumerate(item))


def check_form(form: Mapping[str, Any]) -> None:
    """Refuse a submitted form with a NUL in any field, naming the field."""
    for name, value in form.items():
        check_text(name, "form")
        check_text(value, name)


def check_query(raw: bytes) -> str | None:
    """The name of the first query parameter that is not clean UTF-8 text, or None.

    Starlette decodes a query with ``errors="replace"``; a NUL, bytes that are not UTF-8
    and encoded surrogates must be refused before they turn into something else.
    """
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        clean = []
        for part in (name, value):
            try:
                text = unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                text = "\x00"
            clean.append(text)
        if text_problem(clean[0]) or text_problem(clean[1]):
            shown = clean[0] if not text_problem(clean[0]) else "?"
            return shown or "?"
    return None


def path_is_clean(raw_path: bytes) -> bool:
    """Whether a percent-encoded path decodes to UTF-8 text without NUL or surrogates."""
    try:
        text = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text_problem(text) is None


def is_whole(raw: str) -> bool:
    """Whether ``raw`` is a whole number in digits, full-width ones too (not "1_0" or
    "0x10")."""
    return _WHOLE.fullmatch(plain(raw)) is not None


def id_or_none(raw: Any) -> int | None:
    """``raw`` as the id of a stored record if it can be one, else None (for forms and links
    that fall back quietly rather than refuse)."""
    text = plain(raw)
    if not is_whole(text) or not 1 <= int(text) <= ID_MAX:
        return None
    return int(text)


def thousandths(raw: Any) -> int:
    """A decimal like 1.5 (a JSON number or text, full-width digits too) in thousandths, or
    -1 when it is not a finite number ("inf", "nan" and "1e309" are not)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return -1
    text = plain(raw)
    if not _DECIMAL.fullmatch(text):
        return -1
    value = float(text)
    return round(value * 1000) if math.isfinite(value) and abs(value) < 1e12 else -1


def _not_whole(field: str, low: int, high: int) -> Invalid:
    en, zh = named(field)
    return Invalid(
        f"{en} must be a whole number from {low} to {high}.",
        f"{zh}必须是 {low} 到 {high} 之间的整数。",
        code="invalid_number",
        details={"field": field},
    )


def whole_number(raw: Any, field: str, *, low: int, high: int) -> int:
    """``raw`` (a JSON integer or digits) as an int in ``low..high``, or a 422."""
    if isinstance(raw, bool):
        raise _not_whole(field, low, high)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _WHOLE.fullmatch(plain(raw)):
        value = int(plain(raw))
    else:
        raise _not_whole(field, low, high)
    if not low <= value <= high:
        raise _not_whole(field, low, high)
    return value


def body_int(body: Mapping[str, Any], name: str) -> int:
    """A whole-number field of a JSON body (an id, a count of days or minutes) that fits the
    database's 32-bit columns, or a 422 naming it."""
    return whole_number(body.get(name), name, low=-ID_MAX, high=ID_MAX)


def int_query(request: Any, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter of a request within bounds, or a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    value = int(plain(raw)) if is_whole(raw) else low - 1
    if not low <= value <= high:
        en, zh = named(name)
        raise BadRequest(
            f"{en} must be a whole number from {low} to {high}.",
            f"{zh}必须是 {low} 到 {high} 之间的整数。",
            code="invalid_parameter",
        )
    return value


def record_id(raw: Any, field: str) -> int:
    """An id of a stored record: a whole number that fits the 32-bit id columns, or a 422."""
    return whole_number(raw, field, low=1, high=ID_MAX)


def parse_day(raw: Any, field: str, *, first: date = FIRST_DAY, last: date = LAST_DAY) -> date:
    """A date written 2026-11-23 within ``first..last``, or a 422 naming ``field``."""
    try:
        if not isinstance(raw, str) or not _DAY.fullmatch(raw.strip()):
            raise ValueError
        day = date.fromisoformat(raw.strip())
    except ValueError:
        en, zh = named(field)
        raise Invalid(
            f"{en} must be a date like 2026-11-23.",
            f"{zh}必须是日期，例如 2026-11-23。",
            code="bad_date",
            details={"field": field},
        ) from None
    if not first <= day <= last:
        raise out_of_window(field, first, last)
    return day


def out_of_window(field: str, first: date, last: date) -> Invalid:
    """The error for a date or time outside the window this service accepts."""
    en, zh = named(field)
    return Invalid(
        f"{en} must be between {first.isoformat()} and {last.isoformat()}.",
        f"{zh}必须在 {first.isoformat()} 到 {last.isoformat()} 之间。",
        code="date_out_of_range",
        details={"field": field},
    )


def parse_moment(raw: Any, field: str, *, tz: tzinfo | None = None) -> datetime:
    """An ISO 8601 time within the service window.

    Without an offset it is in ``tz`` (the community's zone); when ``tz`` is None the offset
    is required.
    """
    try:
        if not isinstance(raw, str) or not raw.isascii() or not _DAY.match(raw.strip()):
            raise ValueError
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        moment = None
    if moment is None or (moment.tzinfo is None and tz is None):
        zone = ("", "") if tz is not None else (" with its zone", "带时区的")
        en, zh = named(field)
        raise Invalid(
            f"{en} must be a time{zone[0]}, e.g. 2026-10-01T09:00:00+08:00.",
            f"{zh}必须是{zone[1]}时间，例如 2026-10-01T09:00:00+08:00。",
            code="bad_time",
            details={"field": field},
        )
    # Checked on the wall-clock date, before any arithmetic that could leave the calendar.
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise out_of_window(field, FIRST_DAY, LAST_DAY)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def parse_month(raw: Any, field: str = "month") -> date:
    """The first day of a month written 2026-10, within the service window, or a 422."""
    found = _MONTH.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if found is None or not 1 <= int(found.group(2)) <= 12:
        # The field, not what was typed: a month often comes from a link's URL, and text
        # from a URL is never shown as the site's own message.
        en, zh = named(field)
        raise Invalid(
            f"{en} must be a month like 2026-10.",
            f"{zh}必须是月份，例如 2026-10。",
            code="bad_month",
            details={"field": field},
        )
    first = date(int(found.group(1)), int(found.group(2)), 1)
    if not FIRST_DAY <= first <= LAST_DAY.replace(day=1):
        raise out_of_window(field, FIRST_DAY, LAST_DAY)
    return first


def choice(raw: Any, field: str, kind: type[E]) -> E:
    """The member of enum ``kind`` whose value is ``raw`` (a query parameter), or a 400
    listing the choices, like every other bad query parameter."""
    for member in kind:
        if member.value == raw:
            return member
    allowed = ", ".join(str(m.value) for m in kind)
    en, zh = named(field)
    raise BadRequest(
        f"{en} must be one of: {allowed}.",
        f"{zh}只能是以下之一：{allowed}。",
        code="invalid_choice",
        details={"field": field, "allowed": [m.value for m in kind]},
    )


class RecordIdConvertor(Convertor[int]):
    """``{x:int}`` in a route: 1–10 ASCII digits up to 2**31-1, so a larger id is a 404."""

    regex = (
        "0|[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
        "|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
        "|21474836[0-3][0-9]|214748364[0-7]"
    )

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("int", RecordIdConvertor())
