"""The redemption catalogue: what a community's hours can buy (goods, privileges, services
booked with hours), with prices in minutes, stock and availability."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from timebank.db import get_or_404
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.member_fields import FieldError, invalid_fields
from timebank.people.models import Community
from timebank.redeem.models import ItemKind, RedeemItem

MAX_PRICE = 100 * 60  # 100 hours
MAX_STOCK = 100_000


def item_json(item: RedeemItem) -> dict[str, Any]:
    """An item as the API shows it."""
    return {
        "id": item.id,
        "community": item.community_id,
        "kind": item.kind.value,
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "price_minutes": item.price_minutes,
        "stock": item.stock,
        "service": item.service_code or None,
        "active": item.active,
    }


async def items_of(community_id: int, *, withdrawn: bool = False) -> list[RedeemItem]:
    """A community's catalogue, by kind and price; items withdrawn from it only if asked."""
    query = RedeemItem.filter(community_id=community_id)
    if not withdrawn:
        query = query.filter(active=True)
    return list(await query.order_by("kind", "price_minutes", "id"))


def _within(raw: Any, low: int, high: int, errors: list[FieldError], refusal: FieldError) -> Any:
    """``raw`` as a whole number from ``low`` to ``high``; else ``refusal`` joins ``errors``."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = low - 1
    if low <= value <= high:
        return value
    errors.append(refusal)
    return None


def _names(data: dict[str, Any], values: dict[str, Any], errors: list[FieldError],
           partial: bool) -> None:  # fmt: skip
    for name, limit in (("name_zh", 60), ("name_en", 80)):
        if name in data or not partial:
            text = str(data.get(name) or "").strip()
            if not text or len(text) > limit:
                errors.append(
                    FieldError(name, f"needs 1 to {limit} characters.", f"需要 1 到 {limit} 个字。")
                )
            values[name] = text


def _price_and_stock(data: dict[str, Any], values: dict[str, Any], errors: list[FieldError],
                     partial: bool) -> None:  # fmt: skip
    if "price_minutes" in data or not partial:
        values["price_minutes"] = _within(
            data.get("price_minutes"), 1, MAX_PRICE, errors,
            FieldError("price_minutes", f"must be from 1 to {MAX_PRICE} minutes.",
                       f"必须是 1 到 {MAX_PRICE} 分钟。"),
        )  # fmt: skip
    if "stock" in data:
        raw = data.get("stock")
        values["stock"] = None if raw is None or str(raw).strip() == "" else _within(
            raw, 0, MAX_STOCK, errors,
            FieldError("stock", f"must be from 0 to {MAX_STOCK}, or empty for no limit.",
                       f"必须是 0 到 {MAX_STOCK}，或留空表示不限。"),
        )  # fmt: skip


def parse_item(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """An item's fields from a form or JSON, checked; a 422 naming every bad one."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    if "kind" in data or not partial:
        try:
            values["kind"] = ItemKind(str(data.get("kind") or ""))
        except ValueError:
            errors.append(
                FieldError("kind", "must be goods, privilege or service.",
                           "必须是物品、优待或服务。")
            )  # fmt: skip
    _names(data, values, errors, partial)
    _price_and_stock(data, values, errors, partial)
    if "service" in data:
        values["service_code"] = str(data.get("service") or "").strip()
    if "active" in data:
        raw = data["active"]
        values["active"] = raw is True or str(raw).lower() in {"1", "true", "on", "yes"}
    if "kind" in values and values["kind"] is not ItemKind.SERVICE:
        values.pop("service_code", None)
    if values.get("kind") is ItemKind.SERVICE and not values.get("service_code"):
        errors.append(
            FieldError("service", "is needed for a service.", "服务类兑换项须选择服务项目。")
        )
    if errors:
        raise invalid_fields(errors)
    return values


async def create_item(actor: Actor, community: Community, data: dict[str, Any]) -> RedeemItem:
    """Add an item to a community's catalogue."""
    values = parse_item(data)
    if values["kind"] is ItemKind.SERVICE:
        from timebank.catalog.service import service_type

        await service_type(community, values["service_code"])
    async with in_transaction():
        item = await RedeemItem.create(community=community, **values)
        await audit.record_about(actor, "redeem.item_create", item, detail={"name": item.name_zh})
    return item


async def update_item(actor: Actor, item: RedeemItem, data: dict[str, Any]) -> RedeemItem:
    """Change an item's names, price, stock or availability."""
    values = parse_item({**data, "kind": item.kind.value}, partial=True)
    values.pop("kind", None)
    values.pop("service_code", None)
    async with in_transaction():
        if values:
            await RedeemItem.filter(id=item.id).update(**values)
        await audit.record_about(
            actor,
            "redeem.item_update",
            item,
            detail={k: v for k, v in values.items() if k != "active"},
        )
    return await RedeemItem.get(id=item.id)


async def get_item(item_id: int) -> RedeemItem:
    """The item with this id, or a 404."""
    return await get_or_404(RedeemItem, item_id, "item", "兑换项", "item_not_found")
