"""The rules of the service catalog: seeded from the default list, edited by coordinators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from timebank import inputs
from timebank.catalog.models import ServiceType
from timebank.errors import Invalid, NotFound
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.member_fields import FieldError, invalid_fields
from timebank.people.models import Community

# code: (中文, English, typical minutes, most minutes)
DEFAULTS: dict[str, tuple[str, str, int, int]] = {
    "meal_help": ("助餐", "Meal help", 60, 120),
    "meal_delivery": ("送餐", "Meal delivery", 30, 60),
    "cleaning": ("助洁", "Cleaning", 90, 180),
    "bathing": ("助浴", "Bathing", 60, 120),
    "medical": ("助医", "Medical escort", 120, 300),
    "mobility": ("助行", "Walking help", 60, 120),
    "companionship": ("陪聊/心理慰藉", "Companionship", 60, 120),
    "haircut": ("理发", "Haircut", 30, 60),
    "nails": ("剪指甲", "Nail trimming", 30, 60),
    "shopping": ("代购", "Shopping", 60, 120),
    "visit": ("探视巡访", "Home visit", 30, 90),
    "group": ("集体志愿活动", "Group activity", 120, 240),
}


async def catalog(community: Community) -> list[ServiceType]:
    """The community's service types, seeded with the defaults the first time."""
    found = await ServiceType.filter(community=community).order_by("id")
    if found:
        return list(found)
    try:
        async with in_transaction():
            for code, (zh, en, typical, most) in DEFAULTS.items():
                await ServiceType.create(
                    community=community,
                    code=code,
                    name_zh=zh,
                    name_en=en,
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
    for service in await catalog(community):
        if service.code == code and service.active:
            return service
    raise Invalid(
        f"{code!r} is not a service this community offers.",
        f"本社区没有“{code}”这项服务。",
        code="unknown_service",
    )


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
        value = int(raw)
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
