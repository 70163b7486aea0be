"""What a person typed about a member, read and checked: one parser (``parse_member``) for
a form, the JSON API and a row of a coordinator's Excel list, reporting every field it
cannot accept in both languages; and who may grant which roles."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from timebank import inputs
from timebank.errors import Invalid
from timebank.i18n import field_label
from timebank.labels import (
    CARE_LEVEL_NAMES,
    HARDSHIP_NAMES,
    HELPER_KIND_NAMES,
    SERVICE_NAMES,
    ZH_CODES,
)
from timebank.people.models import Role
from timebank.people.service import check_password, hash_password_off_loop, normalize_phone

TEXT_LIMITS = {
    "name": 60,
    "address": 200,
    "languages": 100,
    "emergency_name": 60,
    "notes": 2000,
    "availability": 200,
}
MEMBER_FIELDS = ("name", "phone", "birth_date", "address", "lat", "lon", "languages")
RESIDENT_FIELDS = (
    "care_level",
    "hardship",
    "needs",
    "visit_every_days",
    "emergency_name",
    "emergency_phone",
    "notes",
)
NEW_PASSWORD = "new password"  # not a field name: never stored, audited or shown


@dataclass
class FieldError:
    """One field a person must fix, in both languages."""

    field: str
    en: str
    zh: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "en": self.en, "zh": self.zh}


@dataclass
class Parsed:
    """What ``parse_member`` accepted (only the fields present) and what it refused."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    def refuse(self, name: str, en: str, zh: str) -> None:
        self.errors.append(FieldError(name, en, zh))


def invalid_fields(errors: list[FieldError]) -> Invalid:
    """A 422 naming every field to fix."""
    fields = list(dict.fromkeys(e.field for e in errors))
    en = ", ".join(field_label(f, "en") for f in fields)
    zh = "、".join(field_label(f, "zh-CN") for f in fields)
    return Invalid(
        f"Please correct: {en}. " + " ".join(e.en for e in errors),
        f"请修改：{zh}。" + "".join(e.zh for e in errors),
        code="invalid_fields",
        details={"fields": [e.as_json() for e in errors]},
    )


def _items(value: Any) -> list[str]:
    """A list from a JSON list, a form's repeated field, or a cell like ``低保;独居``."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        parts = [str(v) for v in value]
    else:
        parts = re.split(r"[;,，；、/|]", str(value))
    return [p.strip() for p in parts if p.strip()]


def _codes(parsed: Parsed, name: str, value: Any, allowed: Mapping[str, str]) -> list[str]:
    codes: list[str] = []
    for item in _items(value):
        code = ZH_CODES.get(item, item)
        if code not in allowed:
            parsed.refuse(
                name,
                f"{item!r} is not one of: {', '.join(allowed)}.",
                f"“{item}”不是可选项。",
            )
        elif code not in codes:
            codes.append(code)
    return codes


N = TypeVar("N", int, float)


def _number(
    parsed: Parsed, name: str, value: Any, read: Callable[[str], N], kind: tuple[str, str]
) -> N | None:
    """``value`` read by ``read`` (int or float) after NFKC; None when empty or refused."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return read(inputs.plain(value))
    except ValueError:
        parsed.refuse(name, f"{value!r} is not {kind[0]}.", f"“{value}”不是{kind[1]}。")
        return None


def _int(parsed: Parsed, name: str, value: Any, low: int, high: int) -> int | None:
    number = _number(parsed, name, value, int, ("a whole number", "整数"))
    if number is not None and not low <= number <= high:
        parsed.refuse(name, f"must be between {low} and {high}.", f"必须在 {low} 到 {high} 之间。")
        return None
    return number


def _float(parsed: Parsed, name: str, value: Any, bound: float) -> float | None:
    number = _number(parsed, name, value, float, ("a number", "数字"))
    if number is not None and not -bound <= number <= bound:
        parsed.refuse(name, f"must be between -{bound} and {bound}.", f"必须在 ±{bound} 之内。")
        return None
    return number


def _date(parsed: Parsed, name: str, value: Any) -> date | None:
    text = str(value or "").strip().replace("/", "-").replace(".", "-")
    if not text:
        return None
    try:
        day = date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")))
    except ValueError:
        parsed.refuse(
            name,
            f"{value!r} is not a date like 1948-03-15.",
            f"“{value}”不是日期，例如 1948-03-15。",
        )
        return None
    if not date(1900, 1, 1) <= day <= datetime.now(UTC).date():
        parsed.refuse(name, "is not a possible birth date.", "出生日期不合理。")
        return None
    return day


def _bool(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on", "是", "同意", "y"}


def parse_member(data: Mapping[str, Any], *, partial: bool) -> Parsed:
    """Check a member's fields; with ``partial`` only those present (an edit)."""
    parsed = Parsed()

    def present(name: str) -> bool:
        return name in data and (not partial or data.get(name) is not None)

    _read_person(parsed, data, present, partial=partial)
    _read_profiles(parsed, data, present)
    if present("password") and data.get("password"):
        try:
            # Checked here, hashed off the event loop by ``hash_new_password``.
            check_password(str(data.get("password")))
            parsed.values[NEW_PASSWORD] = str(data.get("password"))
        except Invalid as exc:
            parsed.refuse("password", exc.en, exc.zh)
    return parsed


def _read_person(
    parsed: Parsed, data: Mapping[str, Any], present: Callable[[str], bool], *, partial: bool
) -> None:
    """The member's own fields: name, phone, texts, roles, birth date, place, consent."""
    values = parsed.values
    for name, limit in TEXT_LIMITS.items():
        if present(name):
            text = str(data.get(name) or "").strip()
            if len(text) > limit:
                parsed.refuse(
                    name,
                    f"is too long (at most {limit} characters).",
                    f"太长（最多 {limit} 个字）。",
                )
            else:
                values[name] = text
    too_long = any(e.field == "name" for e in parsed.errors)  # not "please give the name"
    if (not partial or "name" in data) and not values.get("name") and not too_long:
        parsed.refuse("name", "Please give the member's name.", "请填写姓名。")
    if not partial or "phone" in data:
        try:
            values["phone"] = normalize_phone(str(data.get("phone") or ""))
        except Invalid as exc:
            parsed.refuse("phone", exc.en, exc.zh)
    if present("emergency_phone"):
        raw = str(data.get("emergency_phone") or "").strip()
        if raw:
            try:
                values["emergency_phone"] = normalize_phone(raw)
            except Invalid as exc:
                parsed.refuse("emergency_phone", exc.en, exc.zh)
        else:
            values["emergency_phone"] = ""
    if present("roles"):
        allowed = {r.value: r.value for r in Role}
        values["roles"] = [Role(c) for c in _codes(parsed, "roles", data.get("roles"), allowed)]
        if not values["roles"] and not any(e.field == "roles" for e in parsed.errors):
            parsed.refuse("roles", "Choose at least one role.", "请至少选择一个角色。")
    elif not partial:
        parsed.refuse("roles", "Choose at least one role.", "请至少选择一个角色。")
    if present("birth_date"):
        values["birth_date"] = _date(parsed, "birth_date", data.get("birth_date"))
    if present("lat"):
        values["lat"] = _float(parsed, "lat", data.get("lat"), 90)
    if present("lon"):
        values["lon"] = _float(parsed, "lon", data.get("lon"), 180)
    if present("consent"):
        values["consent"] = _bool(data.get("consent"))


def _read_profiles(parsed: Parsed, data: Mapping[str, Any], present: Callable[[str], bool]) -> None:
    """A resident's and a helper's profile fields."""
    values = parsed.values
    if present("care_level"):
        levels = _codes(parsed, "care_level", data.get("care_level"), CARE_LEVEL_NAMES)
        if len(levels) > 1:
            parsed.refuse("care_level", "Choose one care level.", "护理等级只能选一个。")
        elif levels:
            values["care_level"] = levels[0]
    for name, allowed in (
        ("hardship", HARDSHIP_NAMES),
        ("needs", SERVICE_NAMES),
        ("skills", SERVICE_NAMES),
    ):
        if present(name):
            values[name] = _codes(parsed, name, data.get(name), allowed)
    if present("visit_every_days"):
        values["visit_every_days"] = _int(
            parsed, "visit_every_days", data.get("visit_every_days"), 1, 365
        )
    if present("capacity"):
        capacity = _int(parsed, "capacity", data.get("capacity"), 0, 50)
        if capacity is not None:
            values["capacity"] = capacity
    if present("helper_kind"):
        kinds = _codes(parsed, "helper_kind", data.get("helper_kind"), HELPER_KIND_NAMES)
        if kinds:
            values["helper_kind"] = kinds[0]
    if present("hourly_rate"):
        raw = str(data.get("hourly_rate") or "").strip()
        if raw:
            try:
                fen = Decimal(raw) * 100
                if fen < 0 or fen > 100_000 or fen != fen.to_integral_value():
                    raise InvalidOperation
                values["hourly_rate_fen"] = int(fen)
            except InvalidOperation:
                parsed.refuse(
                    "hourly_rate",
                    f"{raw!r} is not an hourly rate in yuan (like 25 or 25.50).",
                    f"“{raw}”不是以元为单位的时薪（例如 25 或 25.50）。",
                )
        else:
            values["hourly_rate_fen"] = None


def can_grant(roles: Iterable[Role], *, admin: bool) -> list[FieldError]:
    if admin:
        return []
    return [
        FieldError(
            "roles",
            f"Only a district administrator may make someone {role.value}.",
            "只有区级管理员可以任命协调员或管理员。",
        )
        for role in roles
        if role in (Role.COORDINATOR, Role.ADMIN)
    ]


async def hash_new_password(values: dict[str, Any]) -> None:
    """Replace a new password ``parse_member`` accepted by its hash, computed in the argon2
    pool (hashing on the event loop would stall every other request)."""
    if NEW_PASSWORD in values:
        values["password_hash"] = await hash_password_off_loop(values.pop(NEW_PASSWORD))
