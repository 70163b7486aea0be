"""The rules of the service catalog: seeded from the default list, edited by coordinators;
the one source of the names a service is shown by."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from timebank import inputs
from timebank.bodies import body
from timebank.catalog.models import ServiceType
from timebank.errors import Invalid, NotFound
from timebank.i18n import gettext_for
from timebank.labels import SERVICE_NAMES
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.member_fields import FieldError, invalid_fields
from timebank.people.models import Community, Level


def _bounded(kind: str, low: float, high: float) -> dict[str, Any]:
    return {"type": kind, "minimum": low, "maximum": high}


# The body update_service reads, for the API document.
SCHEMAS: dict[str, Any] = {
    "ServiceChange": body(
        [],
        name_zh={"type": "string", "minLength": 1, "maxLength": 40},
        name_en={"type": "string", "minLength": 1, "maxLength": 60},
        typical_minutes=_bounded("integer", 5, 720),
        max_minutes=_bounded("integer", 5, 720),
        min_minutes=_bounded("integer", 0, 720),
        multiplier=_bounded("number", 0.1, 5),
        needs_confirmation={"type": "boolean"},
        group_activity={"type": "boolean"},
        active={"type": "boolean"},
    ),
}

# code: (typical minutes, most minutes). The names are labels.SERVICE_NAMES: English there,
# Chinese in the translation catalogue; once seeded, a community's own names are its own.
DEFAULTS: dict[str, tuple[int, int]] = {
    "meal_help": (60, 120), "meal_delivery": (30, 60), "cleaning": (90, 180),
    "bathing": (60, 120), "medical": (120, 300), "mobility": (60, 120),
    "companionship": (60, 120), "haircut": (30, 60), "nails": (30, 60),
    "shopping": (60, 120), "visit": (30, 90), "group": (120, 240),
}  # fmt: skip


def seed_name(code: str, lang: str) -> str:
    """The name a default service type starts with, in ``lang`` (the code if it is none)."""
    return gettext_for(lang, SERVICE_NAMES[code]) if code in SERVICE_NAMES else code


async def catalog(community: Community) -> list[ServiceType]:
    """The community's service types, seeded with the defaults the first time."""
    found = await ServiceType.filter(community=community).order_by("id")
    if found:
        return list(found)
    try:
        async with in_transaction():
            for code, (typical, most) in DEFAULTS.items():
                await ServiceType.create(
                    community=community,
                    code=code,
                    name_zh=seed_name(code, "zh-CN"),
                    name_en=seed_name(code, "en"),
                    typical_minutes=typical,
                    max_minutes=most,
                    needs_confirmation=code in ("bathing", "medical"),
                    group_activity=code == "group",
                )
    except IntegrityError:
        pass  # another request seeded it at the same moment
    return list(await ServiceType.filter(community=community).order_by("id"))


async def service_type(community: Community, code: str) -> ServiceType:
    """An active service type of the community, or a 422 naming the choices."""
    if not code.strip():
        raise Invalid(
            "Please choose a service.", "请选择服务项目。", code="service_required",
            details={"field": "service"},
        )  # fmt: skip
    for service in await catalog(community):
        if service.code == code and service.active:
            return service
    raise Invalid(
        f"{code!r} is not a service this community offers.",
        f"本社区没有“{code}”这项服务。",
        code="unknown_service",
    )


async def service_names(community: Community, lang: str) -> dict[str, str]:
    """Code → the community's own name of each of its services, in ``lang``: what its
    pages and exports show."""
    english = lang == "en"
    return {s.code: s.name_en if english else s.name_zh for s in await catalog(community)}


async def names_across(community_ids: Iterable[int] | None, lang: str) -> dict[str, str]:
    """Code → name, for figures that add up several communities (None: all): the name
    every one of them gives the service, or the default name where they differ (or a
    community has not seeded its catalog yet, and so shows the default)."""
    query = ServiceType.all()
    ids = None if community_ids is None else set(community_ids)
    if ids is not None:
        query = query.filter(community_id__in=sorted(ids))
    found: dict[str, set[str]] = {}
    seeded: set[int] = set()
    column = "name_en" if lang == "en" else "name_zh"
    for community_id, code, name in await query.values_list("community_id", "code", column):
        seeded.add(int(community_id))
        found.setdefault(str(code), set()).add(str(name))
    if ids is None:
        found_ids = await Community.filter(level=Level.COMMUNITY).values_list("id", flat=True)
        ids = {int(str(i)) for i in found_ids}
    names = {code: seed_name(code, lang) for code in SERVICE_NAMES}
    for code, given in found.items():
        if code in SERVICE_NAMES and not ids <= seeded:
            given = given | {names[code]}
        if len(given) == 1:
            names[code] = given.pop()
    return names


def service_json(service: ServiceType) -> dict[str, Any]:
    """A service type as the API shows it."""
    return {
        "code": service.code,
        "name_zh": service.name_zh,
        "name_en": service.name_en,
        "typical_minutes": service.typical_minutes,
        "max_minutes": service.max_minutes,
        "min_minutes": service.min_minutes,
        "multiplier": service.multiplier_milli / 1000,
        "needs_confirmation": service.needs_confirmation,
        "group_activity": service.group_activity,
        "active": service.active,
    }


def _int(errors: list[FieldError], name: str, raw: Any, low: int, high: int) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and inputs.is_whole(raw):
        value = int(inputs.plain(raw))
    else:
        errors.append(FieldError(name, f"{raw!r} is not a whole number.", f"“{raw}”不是整数。"))
        return None
    if not low <= value <= high:
        errors.append(
            FieldError(name, f"must be between {low} and {high}.", f"必须在 {low} 到 {high} 之间。")
        )
        return None
    return value


async def update_service(
    actor: Actor, community: Community, code: str, data: Mapping[str, Any]
) -> ServiceType:
    """Change a service type's names, durations, multiplier, confirmation or availability."""
    service = next((s for s in await catalog(community) if s.code == code), None)
    if service is None:
        raise NotFound(
            f"There is no service {code!r} here.", f"找不到服务“{code}”。", code="service_not_found"
        )
    changes = parse_change(service, data)
    async with in_transaction():
        await ServiceType.filter(id=service.id).update(**changes)
        await audit.record(
            actor,
            "catalog.update",
            target_type="service",
            target_id=code,
            community_id=community.id,
            detail=changes,
        )
    return await ServiceType.get(id=service.id)


def parse_change(service: ServiceType, data: Mapping[str, Any]) -> dict[str, Any]:
    """The changes to ``service`` asked for (``ServiceChange``), checked; a 422 naming
    every bad field."""
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    for name, limit in (("name_zh", 40), ("name_en", 60)):
        if name in data:
            text = str(data[name] or "").strip()
            if not text or len(text) > limit:
                errors.append(
                    FieldError(name, f"needs 1 to {limit} characters.", f"需要 1 到 {limit} 个字。")
                )
            else:
                changes[name] = text
    for name, low in (("typical_minutes", 5), ("max_minutes", 5), ("min_minutes", 0)):
        if name in data:
            value = _int(errors, name, data[name], low, 12 * 60)
            if value is not None:
                changes[name] = value
    if "multiplier" in data:
        milli = inputs.thousandths(data["multiplier"])
        if not 100 <= milli <= 5000:
            errors.append(
                FieldError("multiplier", "must be between 0.1 and 5.", "必须在 0.1 到 5 之间。")
            )
        else:
            changes["multiplier_milli"] = milli
    for name in ("needs_confirmation", "group_activity", "active"):
        if name in data:
            raw = data[name]
            changes[name] = raw is True or str(raw).lower() in {"1", "true", "on", "yes"}
    typical = changes.get("typical_minutes", service.typical_minutes)
    most = changes.get("max_minutes", service.max_minutes)
    if changes.get("min_minutes", service.min_minutes) > typical:
        errors.append(
            FieldError("min_minutes", "must not be more than the typical duration.",
                       "不能长于通常时长。")
        )  # fmt: skip
    if typical > most:
        errors.append(
            FieldError("max_minutes", "must not be less than the typical duration.",
                       "不能少于通常时长。")
        )  # fmt: skip
    if errors:
        raise invalid_fields(errors)
    return changes
