"""Registering and looking after members: profiles, roles, family links, CSV import.

One parser (``parse_member``) reads what a person typed, whether it came from a form, the
JSON API or a row of a coordinator's Excel list, and reports every field it cannot accept
in both languages. Every change is written in one transaction with its audit event.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from timebank.errors import Conflict, Invalid, NotFound
from timebank.labels import (
    CARE_LEVEL_NAMES,
    HARDSHIP_NAMES,
    HELPER_KIND_NAMES,
    RELATION_NAMES,
    SERVICE_NAMES,
    ZH_CODES,
)
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import (
    Community,
    FamilyLink,
    HelperProfile,
    Member,
    MemberRole,
    Relation,
    ResidentProfile,
    Role,
)
from timebank.people.service import hash_password, insert_member, normalize_phone, phone_taken

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
HELPER_FIELDS = ("helper_kind", "hourly_rate", "skills", "capacity", "availability")
INVERSE = {
    Relation.SPOUSE: Relation.SPOUSE,
    Relation.CHILD: Relation.PARENT,
    Relation.PARENT: Relation.CHILD,
    Relation.SIBLING: Relation.SIBLING,
    Relation.GRANDCHILD: Relation.GRANDPARENT,
    Relation.GRANDPARENT: Relation.GRANDCHILD,
    Relation.OTHER: Relation.OTHER,
}
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
    names = ", ".join(dict.fromkeys(e.field for e in errors))
    return Invalid(
        f"Please correct: {names}. " + " ".join(e.en for e in errors),
        f"请修改：{names}。" + "".join(e.zh for e in errors),
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


def _int(parsed: Parsed, name: str, value: Any, low: int, high: int) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        parsed.refuse(name, f"{value!r} is not a whole number.", f"“{value}”不是整数。")
        return None
    if not low <= number <= high:
        parsed.refuse(name, f"must be between {low} and {high}.", f"必须在 {low} 到 {high} 之间。")
        return None
    return number


def _float(parsed: Parsed, name: str, value: Any, bound: float) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        parsed.refuse(name, f"{value!r} is not a number.", f"“{value}”不是数字。")
        return None
    if not -bound <= number <= bound:
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
    values = parsed.values

    def present(name: str) -> bool:
        return name in data and (not partial or data.get(name) is not None)

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
    if (not partial or "name" in data) and not values.get("name"):
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
    if present("password") and data.get("password"):
        try:
            values["password_hash"] = hash_password(str(data.get("password")))
        except Invalid as exc:
            parsed.refuse("password", exc.en, exc.zh)
    return parsed


def _can_grant(roles: Iterable[Role], *, admin: bool) -> list[FieldError]:
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


async def _apply_profiles(member: Member, roles: set[Role], values: dict[str, Any]) -> None:
    if Role.RESIDENT in roles:
        profile, _ = await ResidentProfile.get_or_create(member=member)
        for name in RESIDENT_FIELDS:
            if name in values:
                value = values[name]
                setattr(profile, name, ",".join(value) if isinstance(value, list) else value)
        await profile.save()
    if Role.HELPER in roles:
        helper, _ = await HelperProfile.get_or_create(member=member)
        if "helper_kind" in values:
            helper.kind = values["helper_kind"]
        for name in ("hourly_rate_fen", "capacity", "availability"):
            if name in values:
                setattr(helper, name, values[name])
        if "skills" in values:
            helper.skills = ",".join(values["skills"])
        await helper.save()


def _member_columns(values: dict[str, Any]) -> dict[str, Any]:
    columns = {k: values[k] for k in MEMBER_FIELDS if k in values}
    if "consent" in values:
        columns["consent_at"] = datetime.now(UTC) if values["consent"] else None
    if "password_hash" in values:
        columns["password_hash"] = values["password_hash"]
    return columns


async def register(
    actor: Actor, community: Community, data: Mapping[str, Any], *, admin: bool
) -> Member:
    """Register a member in ``community`` with their roles and profiles."""
    parsed = parse_member(data, partial=False)
    parsed.errors += _can_grant(parsed.values.get("roles", []), admin=admin)
    if parsed.errors:
        raise invalid_fields(parsed.errors)
    if community.level.value != "community":
        raise Invalid(
            "Members belong to a community (社区/村), not to a district or sub-district.",
            "成员只能登记在社区或村，不能登记在区或街道。",
            code="not_a_community",
        )
    return await _insert(actor, community, parsed.values)


async def _insert(actor: Actor, community: Community, values: dict[str, Any]) -> Member:
    roles: list[Role] = values["roles"]

    async def profiles_and_audit(member: Member) -> None:
        await _apply_profiles(member, set(roles), values)
        await audit.record(
            actor,
            "member.register",
            target_type="member",
            target_id=member.id,
            community_id=community.id,
            detail={"name": member.name, "roles": [r.value for r in roles]},
        )

    return await insert_member(
        community, columns=_member_columns(values), roles=roles, then=profiles_and_audit
    )


async def update(actor: Actor, member: Member, data: Mapping[str, Any], *, admin: bool) -> Member:
    """Change the fields present in ``data`` (and the roles, when given)."""
    parsed = parse_member(data, partial=True)
    values = parsed.values
    current = {
        Role(str(r)) for r in await MemberRole.filter(member=member).values_list("role", flat=True)
    }
    roles = set(values.get("roles", current))
    parsed.errors += _can_grant(roles - current, admin=admin)
    parsed.errors += _can_grant(current - roles, admin=admin)
    if parsed.errors:
        raise invalid_fields(parsed.errors)
    moved = "phone" in values and values["phone"] != member.phone
    if moved and await Member.exists(phone=values["phone"]):
        raise phone_taken(values["phone"])
    changed = sorted(k for k in values if k != "password_hash")
    try:
        async with in_transaction():
            columns = _member_columns(values)
            if columns:
                await Member.filter(id=member.id).update(**columns)
            for role in roles - current:
                scope = None if role is Role.ADMIN else member.community_id  # type: ignore[attr-defined]
                await MemberRole.create(member=member, role=role, community_id=scope)
            if current - roles:
                await MemberRole.filter(member=member, role__in=list(current - roles)).delete()
            await _apply_profiles(member, roles, values)
            await audit.record(
                actor,
                "member.update",
                target_type="member",
                target_id=member.id,
                community_id=member.community_id,  # type: ignore[attr-defined]
                on_behalf_of_id=member.id if actor.member_id != member.id else None,
                detail={"fields": changed},
            )
    except IntegrityError:
        raise phone_taken(values.get("phone", member.phone)) from None
    return await Member.get(id=member.id)


async def set_consent(actor: Actor, member: Member, given: bool) -> Member:
    """The member gives or withdraws their consent to the use of their data, which covers
    the location recorded at check-in; the audit log keeps each change. Giving it again
    keeps the date it was first given."""
    async with in_transaction():
        if given:
            await Member.filter(id=member.id, consent_at=None).update(consent_at=datetime.now(UTC))
        else:
            await Member.filter(id=member.id).update(consent_at=None)
        await audit.record(
            actor,
            "member.consent" if given else "member.consent_withdrawn",
            target_type="member",
            target_id=member.id,
            community_id=member.community_id,  # type: ignore[attr-defined]
        )
    return await Member.get(id=member.id)


async def set_active(actor: Actor, member: Member, active: bool) -> None:
    """Deactivate (no sign-in, kept in every record) or reactivate a member."""
    async with in_transaction():
        await Member.filter(id=member.id).update(is_active=active)
        await audit.record(
            actor,
            "member.activate" if active else "member.deactivate",
            target_type="member",
            target_id=member.id,
            community_id=member.community_id,  # type: ignore[attr-defined]
        )


async def get_member(member_id: int) -> Member:
    """The member with this id, or a 404."""
    found = await Member.get_or_none(id=member_id)
    if found is None:
        raise NotFound(
            f"There is no member number {member_id}.",
            f"找不到编号为 {member_id} 的成员。",
            code="member_not_found",
        )
    return found


# Family ---------------------------------------------------------------------------------


async def link_family(actor: Actor, member: Member, relative: Member, relation: str) -> FamilyLink:
    """Record that ``relative`` is ``member``'s ``relation`` (and the inverse)."""
    code = ZH_CODES.get(relation, relation)
    if code not in RELATION_NAMES:
        raise invalid_fields(
            [
                FieldError(
                    "relation", f"{relation!r} is not a relation.", f"“{relation}”不是亲属关系。"
                )
            ]
        )
    if member.id == relative.id:
        raise Invalid(
            "A member cannot be their own relative.", "不能把自己登记为亲属。", code="self_link"
        )
    if await FamilyLink.exists(member=member, relative=relative):
        raise Conflict(
            f"{relative.name} is already linked to {member.name}.",
            f"{relative.name} 已经是 {member.name} 的亲属。",
            code="already_linked",
        )
    kind = Relation(code)
    try:
        async with in_transaction():
            link = await FamilyLink.create(member=member, relative=relative, relation=kind)
            await FamilyLink.create(member=relative, relative=member, relation=INVERSE[kind])
            await audit.record(
                actor,
                "family.link",
                target_type="member",
                target_id=member.id,
                community_id=member.community_id,  # type: ignore[attr-defined]
                detail={"relative": relative.id, "relation": kind.value},
            )
    except IntegrityError:
        raise Conflict(
            f"{relative.name} is already linked to {member.name}.",
            f"{relative.name} 已经是 {member.name} 的亲属。",
            code="already_linked",
        ) from None
    return link


async def unlink_family(actor: Actor, link: FamilyLink) -> None:
    """Remove a family link, both directions."""
    member_id, relative_id = link.member_id, link.relative_id  # type: ignore[attr-defined]
    member = await get_member(member_id)
    async with in_transaction():
        await FamilyLink.filter(
            Q(member_id=member_id, relative_id=relative_id)
            | Q(member_id=relative_id, relative_id=member_id)
        ).delete()
        await audit.record(
            actor,
            "family.unlink",
            target_type="member",
            target_id=member_id,
            community_id=member.community_id,  # type: ignore[attr-defined]
            detail={"relative": relative_id},
        )


# Reading ----------------------------------------------------------------------------------


@dataclass
class MemberPage:
    members: list[Member]
    total: int


async def search(
    communities: set[int] | None,
    *,
    q: str = "",
    role: str = "",
    hardship: str = "",
    limit: int = 50,
    offset: int = 0,
) -> MemberPage:
    """Members of ``communities`` (None: all) matching the filters, by community and number."""
    query = Member.all()
    if communities is not None:
        query = query.filter(community_id__in=sorted(communities))
    q = q.strip()
    if q:
        query = query.filter(Q(name__icontains=q) | Q(phone__contains=q) | Q(member_no=q.zfill(4)))
    if role:
        query = query.filter(roles__role=role)
    if hardship:
        query = query.filter(resident_profile__hardship__contains=hardship)
    query = query.distinct()
    total = await query.count()
    members = await query.order_by("community_id", "member_no").offset(offset).limit(limit)
    return MemberPage(members, total)


def _summary(member: Member, roles: list[str]) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "phone": member.phone,
        "member_no": member.member_no,
        "community": member.community_id,  # type: ignore[attr-defined]
        "active": member.is_active,
        "roles": sorted(set(roles)),
        "birth_date": member.birth_date.isoformat() if member.birth_date else None,
        "has_password": bool(member.password_hash),
    }


async def summaries(found: list[Member]) -> list[dict[str, Any]]:
    """Members for a list, with their roles and hardship: two queries for the whole page."""
    ids = [m.id for m in found]
    roles: dict[int, list[str]] = {i: [] for i in ids}
    for member_id, role in await MemberRole.filter(member_id__in=ids).values_list(
        "member_id", "role"
    ):
        roles[int(member_id)].append(str(role))
    hardship = dict(
        await ResidentProfile.filter(member_id__in=ids).values_list("member_id", "hardship")
    )
    return [
        {**_summary(m, roles[m.id]), "hardship": _split(str(hardship.get(m.id) or ""))}
        for m in found
    ]


async def member_json(member: Member, *, full: bool = True) -> dict[str, Any]:
    """A member as the API shows them (``full``: with profiles and family)."""
    roles = await MemberRole.filter(member=member).values_list("role", flat=True)
    data = _summary(member, [str(r) for r in roles])
    if not full:
        return data
    data.update(
        address=member.address,
        lat=member.lat,
        lon=member.lon,
        languages=member.languages,
        consent=member.consent_at is not None,
    )
    resident = await ResidentProfile.get_or_none(member=member)
    data["resident"] = (
        None
        if resident is None
        else {
            "care_level": resident.care_level.value,
            "hardship": _split(resident.hardship),
            "needs": _split(resident.needs),
            "visit_every_days": resident.visit_every_days,
            "emergency_name": resident.emergency_name,
            "emergency_phone": resident.emergency_phone,
            "notes": resident.notes,
        }
    )
    helper = await HelperProfile.get_or_none(member=member)
    data["helper"] = (
        None
        if helper is None
        else {
            "kind": helper.kind.value,
            "hourly_rate": None
            if helper.hourly_rate_fen is None
            else f"{Decimal(helper.hourly_rate_fen) / 100:.2f}",
            "skills": _split(helper.skills),
            "capacity": helper.capacity,
            "availability": helper.availability,
        }
    )
    links = await FamilyLink.filter(member=member).prefetch_related("relative").order_by("id")
    data["family"] = [
        {
            "id": link.id,
            "relative": link.relative.id,
            "name": link.relative.name,
            "relation": link.relation.value,
        }
        for link in links
    ]
    return data


def _split(value: str) -> list[str]:
    return [v for v in value.split(",") if v]


# CSV import ---------------------------------------------------------------------------


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
        parsed.errors += _can_grant(parsed.values.get("roles", []), admin=admin)
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
            created.append(await _insert(actor, community, values))
        await audit.record(
            actor,
            "member.import",
            target_type="community",
            target_id=community.id,
            community_id=community.id,
            detail={"count": len(created)},
        )
    return ImportResult(created)
