"""Communities as coordinators see them, and each community's own settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tortoise.transactions import in_transaction

from timebank.errors import Forbidden
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.member_fields import FieldError, invalid_fields
from timebank.people.models import Community

# name: (lowest, highest, may be empty)
SETTINGS: dict[str, tuple[int, int, bool]] = {
    "overdraft_minutes": (0, 600_000, False),
    "balance_cap_minutes": (60, 6_000_000, True),
    "daily_cap_minutes": (15, 24 * 60, True),
    "redeem_min_age": (0, 120, False),
    "visit_every_days": (1, 365, False),
    "visit_radius_m": (25, 10_000, False),
    "time_unit_minutes": (1, 60, False),
    "checkin_early_minutes": (0, 240, False),
    "checkin_late_minutes": (0, 480, False),
    "redeem_daily_minutes": (15, 600_000, True),
    "redeem_monthly_minutes": (15, 6_000_000, True),
    "grant_review_minutes": (15, 6_000_000, True),
    "fund_budget_minutes": (0, 600_000_000, True),
}


def community_json(community: Community) -> dict[str, Any]:
    """A community with its settings."""
    data: dict[str, Any] = {
        "id": community.id,
        "name": community.name,
        "level": community.level.value,
        "parent": community.parent_id,
    }
    data["settings"] = {name: getattr(community, name) for name in SETTINGS}
    data["settings"]["four_eyes"] = community.four_eyes
    data["settings"]["group_hours_donate_only"] = community.group_hours_donate_only
    return data


def parse_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """The settings present in ``data``, checked; a 422 naming every bad one."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, (low, high, optional) in SETTINGS.items():
        if name not in data:
            continue
        raw = data[name]
        if raw is None or str(raw).strip() == "":
            if optional:
                values[name] = None
            else:
                errors.append(FieldError(name, "is required.", "必须填写。"))
            continue
        try:
            number = int(str(raw).strip())
        except ValueError:
            errors.append(FieldError(name, f"{raw!r} is not a whole number.", f"“{raw}”不是整数。"))
            continue
        if not low <= number <= high:
            errors.append(
                FieldError(
                    name, f"must be between {low} and {high}.", f"必须在 {low} 到 {high} 之间。"
                )
            )
            continue
        values[name] = number
    for switch in ("four_eyes", "group_hours_donate_only"):
        if switch in data:
            raw = data[switch]
            values[switch] = raw is True or str(raw).lower() in {"1", "true", "on", "yes"}
    if errors:
        raise invalid_fields(errors)
    return values


# The safeguards against one coordinator minting hours alone: changed by an admin only.
SAFEGUARDS = ("grant_review_minutes", "four_eyes", "fund_budget_minutes")


async def update_settings(
    actor: Actor, community: Community, data: Mapping[str, Any], *, safeguards: bool
) -> Community:
    """Change a community's settings; the audit event keeps the old and new values.
    Without ``safeguards`` (``policy.can_change_safeguards``), changing one is refused."""
    values = parse_settings(data)
    before = {k: getattr(community, k) for k in values}
    touched = [k for k in SAFEGUARDS if k in values and values[k] != before[k]]
    if touched and not safeguards:
        raise Forbidden(
            "Only a district administrator may change the grant review size, the "
            f"four-eyes rule or the fund budget ({', '.join(touched)}).",
            f"只有区级管理员可以修改大额补贴审核线、双人复核或补贴预算（{', '.join(touched)}）。",
            code="safeguard_admin_only",
        )
    async with in_transaction():
        if values:
            await Community.filter(id=community.id).update(**values)
        await audit.record_about(
            actor, "community.settings", community, detail={"before": before, "after": values}
        )
    if "fund_budget_minutes" in values:  # the ledger enforces it: the fund's floor
        from timebank.ledger.service import set_fund_budget

        await set_fund_budget(community_id=community.id, minutes=values["fund_budget_minutes"])
    return await Community.get(id=community.id)
