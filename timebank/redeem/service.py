"""The rules of spending and giving hours: the catalogue, redemptions, hand-over (核销),
donations (转赠) and grants (兜底).

A redemption's limits (per day, per month), the item's stock and the redemption row are
checked and written under the ledger lock, in the transaction that moves the hours
(``ledger.redeem(checks=…)``): two members racing for the last bag of rice, or one member
racing against their own limit, cannot both win, and nothing is half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from timebank.db.steps import Query, Steps
from timebank.errors import Conflict, Forbidden, Invalid, NotFound
from timebank.ledger import service as ledger
from timebank.ledger.models import AccountKind, LedgerTxn, TxnKind
from timebank.ledger.rules import Posted, actor_key
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.member_fields import FieldError, invalid_fields
from timebank.people.models import Community, FamilyLink, Member, ResidentProfile
from timebank.redeem.models import (
    Grant,
    GrantSource,
    GrantStatus,
    ItemKind,
    RedeemItem,
    Redemption,
    RedemptionStatus,
)

MAX_PRICE = 100 * 60  # 100 hours
MAX_STOCK = 100_000
MAX_KEY = 100

# Catalogue --------------------------------------------------------------------------------


def item_json(item: RedeemItem) -> dict[str, Any]:
    """An item as the API shows it."""
    return {
        "id": item.id,
        "community": item.community_id,  # type: ignore[attr-defined]
        "kind": item.kind.value,
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "price_minutes": item.price_minutes,
        "stock": item.stock,
        "service": item.service_code or None,
        "active": item.active,
    }


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
    for name, limit in (("name_zh", 60), ("name_en", 80)):
        if name in data or not partial:
            text = str(data.get(name) or "").strip()
            if not text or len(text) > limit:
                errors.append(
                    FieldError(name, f"needs 1 to {limit} characters.", f"需要 1 到 {limit} 个字。")
                )
            values[name] = text
    if "price_minutes" in data or not partial:
        try:
            price = int(str(data.get("price_minutes")).strip())
        except ValueError:
            price = 0
        if not 1 <= price <= MAX_PRICE:
            errors.append(
                FieldError("price_minutes", f"must be from 1 to {MAX_PRICE} minutes.",
                           f"必须是 1 到 {MAX_PRICE} 分钟。")
            )  # fmt: skip
        values["price_minutes"] = price
    if "stock" in data:
        raw = data.get("stock")
        if raw is None or str(raw).strip() == "":
            values["stock"] = None
        else:
            try:
                stock = int(str(raw).strip())
            except ValueError:
                stock = -1
            if not 0 <= stock <= MAX_STOCK:
                errors.append(
                    FieldError("stock", f"must be from 0 to {MAX_STOCK}, or empty for no limit.",
                               f"必须是 0 到 {MAX_STOCK}，或留空表示不限。")
                )  # fmt: skip
            values["stock"] = stock
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
        await audit.record(
            actor, "redeem.item_create", target_type="redeem_item", target_id=item.id,
            community_id=community.id, detail={"name": item.name_zh},
        )  # fmt: skip
    return item


async def update_item(actor: Actor, item: RedeemItem, data: dict[str, Any]) -> RedeemItem:
    """Change an item's names, price, stock or availability."""
    values = parse_item({**data, "kind": item.kind.value}, partial=True)
    values.pop("kind", None)
    values.pop("service_code", None)
    async with in_transaction():
        if values:
            await RedeemItem.filter(id=item.id).update(**values)
        await audit.record(
            actor, "redeem.item_update", target_type="redeem_item", target_id=item.id,
            community_id=item.community_id,  # type: ignore[attr-defined]
            detail={k: v for k, v in values.items() if k != "active"},
        )  # fmt: skip
    return await RedeemItem.get(id=item.id)


async def get_item(item_id: int) -> RedeemItem:
    """The item with this id, or a 404."""
    found = await RedeemItem.get_or_none(id=item_id)
    if found is None:
        raise NotFound(
            f"There is no item number {item_id}.", f"找不到编号为 {item_id} 的兑换项。",
            code="item_not_found",
        )  # fmt: skip
    return found


# Redeeming --------------------------------------------------------------------------------


def age_on(birth: date, day: date) -> int:
    """Whole years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


async def check_age(community: Community, beneficiary: Member, today: date) -> None:
    """The redemption age gate; residents in a hardship category are exempt."""
    if community.redeem_min_age <= 0:
        return
    profile = await ResidentProfile.get_or_none(member=beneficiary)
    if profile is not None and profile.hardship.strip(","):
        return
    if beneficiary.birth_date is None:
        raise Invalid(
            f"Hours can be redeemed for people aged {community.redeem_min_age} or over; "
            f"{beneficiary.name}'s birth date is not recorded. Please ask the office.",
            f"年满 {community.redeem_min_age} 岁才能兑换，"
            f"{beneficiary.name} 的出生日期未登记，请联系社区。",
            code="redeem_age",
        )
    if age_on(beneficiary.birth_date, today) < community.redeem_min_age:
        raise Invalid(
            f"Hours can be redeemed for people aged {community.redeem_min_age} or over "
            "(or in a hardship category).",
            f"年满 {community.redeem_min_age} 岁（或属于困难群体）才能兑换。",
            code="redeem_age",
        )


async def is_family(member_id: int, other_id: int) -> bool:
    """Whether ``other`` is a linked family member of ``member``."""
    return await FamilyLink.exists(member_id=member_id, relative_id=other_id)


async def own_or_family(person_id: int | None, member_id: int) -> bool:
    """Whether ``person`` is ``member`` or one of their linked family: such a person may
    not decide alone about ``member``'s hours (grant, approve, hand over)."""
    if person_id is None:
        return False
    return person_id == member_id or await is_family(member_id, person_id)


def _own_decision() -> Forbidden:
    return Forbidden(
        "You cannot approve this for yourself or your own family: another coordinator must.",
        "不能为本人或自己的家属审批，须由另一位协调员处理。",
        code="own_decision",
    )


def check_key(key: str, actor: Actor) -> str:
    """The request's idempotency key, checked and scoped to ``actor`` (``actor_key``)."""
    key = (key or "").strip()
    if not 8 <= len(key) <= MAX_KEY:
        raise Invalid(
            "The request lacks its idempotency key (8 to 100 characters). Reload the page.",
            "请求缺少唯一编号，请刷新页面。",
            code="bad_key",
        )
    return actor_key(actor.member_id, key, limit=MAX_KEY)  # fits Grant.key


def _limits_and_row(
    *,
    community: Community,
    item: RedeemItem,
    member_id: int,
    beneficiary_id: int,
    actor_id: int | None,
    on_behalf: bool,
    status: RedemptionStatus,
    tz: ZoneInfo,
    order_id: int | None = None,
) -> Steps[str]:
    """Under the ledger lock: the day and month limits, the stock, then the row."""
    now = datetime.now(UTC)
    local = now.astimezone(tz)
    day = datetime.combine(local.date(), time(0), tzinfo=tz).astimezone(UTC)
    month = datetime.combine(local.date().replace(day=1), time(0), tzinfo=tz).astimezone(UTC)
    for since, limit, en, zh in (
        (day, community.redeem_daily_minutes, "day", "每天"),
        (month, community.redeem_monthly_minutes, "month", "每月"),
    ):
        if limit is None:
            continue
        ((spent,),) = yield Query(
            "SELECT COALESCE(SUM(minutes), 0) FROM redemption WHERE member_id = ?"
            " AND created_at >= ? AND status NOT IN ('cancelled', 'expired')",
            (member_id, since),
        )
        if int(spent) + item.price_minutes > limit:
            raise Conflict(
                f"This would pass the limit of {limit} minutes a {en} "
                f"({int(spent)} redeemed already).",
                f"超过{zh}兑换上限 {limit} 分钟（已兑换 {int(spent)} 分钟）。",
                code=f"redeem_{en}_limit",
            )
    if community.group_hours_donate_only:
        yield from _group_hours_rule(member_id, item)
    if item.stock is not None:
        left = yield Query(
            "UPDATE redeem_item SET stock = stock - 1 WHERE id = ? AND stock > 0 RETURNING stock",
            (item.id,),
        )
        if not left:
            raise Conflict(
                f"{item.name_en} is out of stock.", f"{item.name_zh}已兑完。", code="out_of_stock"
            )
    ((row_id,),) = yield Query(
        "INSERT INTO redemption (community_id, item_id, member_id, beneficiary_id, actor_id,"
        " on_behalf, minutes, status, order_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (community.id, item.id, member_id, beneficiary_id, actor_id, on_behalf,
         item.price_minutes, status.value, order_id, now),
    )  # fmt: skip
    return str(row_id)


def _group_hours_rule(member_id: int, item: RedeemItem) -> Steps[None]:
    """Hours earned in group activities may be given away, not redeemed: what the member
    keeps after this redemption must cover them (what they gave away counts first)."""
    ((group,),) = yield Query(
        "SELECT COALESCE(SUM(v.credit_minutes), 0) FROM visit v JOIN service_type s"
        " ON s.community_id = v.community_id AND s.code = v.service_code"
        " WHERE v.helper_id = ? AND v.status = 'verified' AND v.ledger_txn_id IS NOT NULL"
        " AND s.group_activity = ?",
        (member_id, True),
    )
    if not int(group):
        return
    ((given,),) = yield Query(
        "SELECT COALESCE(SUM(-e.amount), 0) FROM ledger_entry e"
        " JOIN ledger_txn t ON t.id = e.txn_id JOIN ledger_account a ON a.id = e.account_id"
        " WHERE a.member_id = ? AND a.kind = 'wallet' AND t.kind = 'donate' AND e.amount < 0",
        (member_id,),
    )
    rows = yield Query(
        "SELECT posted_credits - posted_debits - pending_debits FROM ledger_account"
        " WHERE member_id = ? AND kind = 'wallet'",
        (member_id,),
    )
    available = int(rows[0][0]) if rows else 0
    locked = max(int(group) - int(given), 0)
    if available - item.price_minutes < locked:
        free = max(available - locked, 0)
        raise Conflict(
            f"{locked} minutes earned in group activities can only be given away, not "
            f"redeemed; {free} minutes can be redeemed.",
            f"集体活动获得的 {locked} 分钟只能转赠，不能兑换；可兑换 {free} 分钟。",
            code="group_hours",
        )


async def redeem(
    actor: Actor,
    *,
    member: Member,
    beneficiary: Member,
    item: RedeemItem,
    key: str,
    on_behalf: bool,
    tz: ZoneInfo,
) -> Redemption:
    """Spend ``member``'s hours on goods or a privilege for ``beneficiary`` (themself or a
    linked family member). Goods then wait for hand-over at the office (核销)."""
    key = check_key(key, actor)
    if item.kind is ItemKind.SERVICE:
        raise Invalid(
            "A service is booked with a date and time: use the booking form.",
            "服务类兑换须预约时间，请使用预约表单。",
            code="book_service",
        )
    if on_behalf and await own_or_family(actor.member_id, beneficiary.id):
        raise _own_decision()  # spending someone's hours on oneself or one's family
    community = await _may_redeem(member, beneficiary, item, tz)
    status = RedemptionStatus.TO_HAND_OVER if item.kind is ItemKind.GOODS else RedemptionStatus.DONE
    posted = await ledger.redeem(
        member_id=member.id,
        minutes=item.price_minutes,
        key=f"redeem:{key}",
        actor_id=actor.member_id,
        ref_type="redemption",
        ref_id=f"item-{item.id}",
        on_behalf_of_id=member.id if on_behalf else None,
        checks=lambda: _limits_and_row(
            community=community,
            item=item,
            member_id=member.id,
            beneficiary_id=beneficiary.id,
            actor_id=actor.member_id,
            on_behalf=on_behalf,
            status=status,
            tz=tz,
        ),  # fmt: skip
    )
    redemption = await Redemption.get(id=int(posted.txn.ref_id))
    if posted.created:
        await audit.record(
            actor, "redeem.redeem", target_type="redemption", target_id=redemption.id,
            community_id=community.id, on_behalf_of_id=member.id if on_behalf else None,
            detail={"item": item.id, "minutes": item.price_minutes, "for": beneficiary.id},
        )  # fmt: skip
    return redemption


async def _may_redeem(
    member: Member, beneficiary: Member, item: RedeemItem, tz: ZoneInfo
) -> Community:
    """The checks before any redemption: offered, same community, family, age."""
    if not item.active:
        raise Conflict("This item is not offered now.", "该兑换项已下架。", code="item_inactive")
    if member.community_id != item.community_id:  # type: ignore[attr-defined]
        raise Forbidden("This item is in another community.", "这是其他社区的兑换项。",
                        code="other_community")  # fmt: skip
    if beneficiary.id != member.id and not await is_family(member.id, beneficiary.id):
        raise Forbidden(  # no name: the caller may not see that member
            "Hours are redeemed for oneself or a linked family member only.",
            "只能为本人或登记的家属兑换。",
            code="not_family",
        )
    community = await Community.get(id=member.community_id)  # type: ignore[attr-defined]
    await check_age(community, beneficiary, datetime.now(tz).date())
    return community


class _Repeated(Exception):  # noqa: N818 - a signal: roll back, the request was made before
    pass


async def book_service(
    actor: Actor,
    *,
    member: Member,
    beneficiary: Member,
    item: RedeemItem,
    starts_at: datetime,
    key: str,
    on_behalf: bool,
    tz: ZoneInfo,
) -> Redemption:
    """Book a service with hours: an order for ``beneficiary`` and a hold on ``member``'s
    hours, in one transaction. The hold goes to the helper on the verified visit, back if
    the order is cancelled, and expires if the service is never given."""
    from timebank.catalog.service import service_type
    from timebank.orders import service as orders

    key = check_key(key, actor)
    if item.kind is not ItemKind.SERVICE:
        raise Invalid("Only a service is booked.", "只有服务类需要预约。", code="not_a_service")
    if on_behalf and await own_or_family(actor.member_id, beneficiary.id):
        raise _own_decision()  # spending someone's hours on oneself or one's family
    community = await _may_redeem(member, beneficiary, item, tz)
    offered = await service_type(community, item.service_code)
    ledger_key = f"book:{key}"
    if (found := await _booked(ledger_key)) is not None:
        return found
    try:
        async with in_transaction():
            order = await orders.place(
                actor, resident=beneficiary, service_code=offered.code, starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=offered.typical_minutes),
                notes="时间兑换 / paid with hours", on_behalf=actor.member_id != beneficiary.id,
            )  # fmt: skip
            posted = await ledger.reserve(
                member_id=member.id,
                minutes=item.price_minutes,
                key=ledger_key,
                actor_id=actor.member_id,
                ref_type="redemption",
                ref_id=f"item-{item.id}",
                on_behalf_of_id=member.id if on_behalf else None,
                checks=lambda: _limits_and_row(
                    community=community,
                    item=item,
                    member_id=member.id,
                    beneficiary_id=beneficiary.id,
                    actor_id=actor.member_id,
                    on_behalf=on_behalf,
                    status=RedemptionStatus.RESERVED,
                    tz=tz,
                    order_id=order.id,
                ),  # fmt: skip
            )
            if not posted.created:
                raise _Repeated
            await audit.record(
                actor, "redeem.book", target_type="redemption", target_id=posted.txn.ref_id,
                community_id=community.id, on_behalf_of_id=member.id if on_behalf else None,
                detail={"item": item.id, "order": order.id, "minutes": item.price_minutes},
            )  # fmt: skip
    except _Repeated:
        pass
    found = await _booked(ledger_key)
    assert found is not None
    return found


async def _booked(ledger_key: str) -> Redemption | None:
    txn = await LedgerTxn.get_or_none(idempotency_key=ledger_key)
    return None if txn is None else await Redemption.get(id=int(txn.ref_id))


async def release_for_order(actor: Actor, order_id: int, *, never_served: bool = False) -> None:
    """A booked service's order was cancelled (the hours come back: void) or never served
    (they come back: expire). Safe to call for any order: without a hold it does nothing."""
    redemption = await Redemption.get_or_none(order_id=order_id, status=RedemptionStatus.RESERVED)
    if redemption is None:
        return
    hold = await LedgerTxn.get(
        kind=TxnKind.RESERVE, ref_type="redemption", ref_id=str(redemption.id)
    )
    key = f"release:{redemption.id}"
    if never_served:
        await ledger.expire(reserve_id=hold.id, key=key, actor_id=actor.member_id)
        status = RedemptionStatus.EXPIRED
    else:
        await ledger.void(reserve_id=hold.id, key=key, actor_id=actor.member_id,
                          reason="预约取消 / booking cancelled")  # fmt: skip
        status = RedemptionStatus.CANCELLED
    await Redemption.filter(id=redemption.id, status=RedemptionStatus.RESERVED).update(
        status=status
    )


async def expire_unserved(now: datetime | None = None) -> int:
    """Give back the hours of bookings whose service was never given (a day after the
    order's window ended and not under way or done); returns how many."""
    from timebank.orders.models import Order, OrderStatus

    now = now or datetime.now(UTC)
    given = (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED, OrderStatus.VERIFIED,
             OrderStatus.FLAGGED)  # fmt: skip
    expired = 0
    for redemption in await Redemption.filter(status=RedemptionStatus.RESERVED):
        order = await Order.get_or_none(id=redemption.order_id)
        if order is not None and (order.status in given or order.ends_at > now - timedelta(days=1)):
            continue
        await release_for_order(Actor.system(), redemption.order_id or 0, never_served=True)
        expired += 1
    return expired


async def hand_over(actor: Actor, redemption: Redemption) -> Redemption:
    """The office hands the goods over (核销); once, never to oneself or one's family, and
    not by whoever spent the member's hours on them "on their behalf" (alone, they would
    turn the member's hours into goods in their own hands)."""
    for person in (redemption.member_id, redemption.beneficiary_id):  # type: ignore[attr-defined]
        if await own_or_family(actor.member_id, person):
            raise _own_decision()
    if redemption.on_behalf and actor.member_id == redemption.actor_id:
        raise Forbidden(
            "You redeemed these goods for the member: another coordinator hands them over.",
            "这笔兑换是您代为办理的，须由另一位协调员核销发放。",
            code="four_eyes",
        )
    now = datetime.now(UTC)
    async with in_transaction():
        moved = await Redemption.filter(
            id=redemption.id, status=RedemptionStatus.TO_HAND_OVER
        ).update(status=RedemptionStatus.HANDED_OVER, handed_over_by_id=actor.member_id,
                 handed_over_at=now)  # fmt: skip
        if not moved:
            raise Conflict(
                "This redemption is not waiting for hand-over.",
                "这笔兑换不在待核销状态。",
                code="wrong_state",
            )
        await audit.record(
            actor, "redeem.hand_over", target_type="redemption", target_id=redemption.id,
            community_id=redemption.community_id,  # type: ignore[attr-defined]
        )  # fmt: skip
    return await Redemption.get(id=redemption.id)


async def get_redemption(redemption_id: int) -> Redemption:
    """The redemption with this id, or a 404."""
    found = await Redemption.get_or_none(id=redemption_id)
    if found is None:
        raise NotFound(
            f"There is no redemption number {redemption_id}.",
            f"找不到编号为 {redemption_id} 的兑换记录。",
            code="redemption_not_found",
        )
    return found


def redemption_json(r: Redemption, names: dict[int, str] | None = None) -> dict[str, Any]:
    """A redemption as the API shows it."""
    names = names or {}
    return {
        "id": r.id,
        "community": r.community_id,  # type: ignore[attr-defined]
        "item": r.item_id,  # type: ignore[attr-defined]
        "member": r.member_id,  # type: ignore[attr-defined]
        "member_name": names.get(r.member_id, ""),  # type: ignore[attr-defined]
        "beneficiary": r.beneficiary_id,  # type: ignore[attr-defined]
        "beneficiary_name": names.get(r.beneficiary_id, ""),  # type: ignore[attr-defined]
        "minutes": r.minutes,
        "status": r.status.value,
        "on_behalf": r.on_behalf,
        "order": r.order_id,
        "handed_over_at": r.handed_over_at.isoformat() if r.handed_over_at else None,
        "created_at": r.created_at.isoformat(),
    }


# Donations ---------------------------------------------------------------------------------


async def donate(
    actor: Actor,
    *,
    member: Member,
    to_member: Member | None,
    minutes: int,
    key: str,
    reason: str = "",
) -> Posted:
    """Give hours to a linked family member, or (``to_member`` None) to the community's
    public pool (公益池), from which coordinators grant hours to residents in hardship."""
    key = check_key(key, actor)
    if to_member is not None:
        if to_member.id == member.id:
            raise Invalid("You cannot give hours to yourself.", "不能转赠给自己。",
                          code="same_account")  # fmt: skip
        if not await is_family(member.id, to_member.id):
            raise Forbidden(  # no name: the caller may not see that member
                "This member is not your linked family: hours go to family or to "
                "the community's public pool.",
                "该成员不是您登记的家属：时间只能转赠给家属或社区公益池。",
                code="not_family",
            )
        target = await ledger.wallet(to_member.id)
    else:
        target = await ledger.community_account(
            member.community_id,  # type: ignore[attr-defined]
            AccountKind.POOL,
        )
    posted = await ledger.donate(
        from_member_id=member.id,
        to_account_id=target.id,
        minutes=minutes,
        key=f"donate:{key}",
        actor_id=actor.member_id,
        reason=reason,
    )
    if posted.created:
        await audit.record(
            actor, "redeem.donate", target_type="member", target_id=member.id,
            community_id=member.community_id,  # type: ignore[attr-defined]
            detail={"to": to_member.id if to_member else "pool", "minutes": minutes},
        )  # fmt: skip
    return posted


# Grants ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantAsk:
    """A coordinator's grant: to whom, how much, from where, why."""

    member: Member
    minutes: int
    source: GrantSource
    reason: str


async def request_grant(actor: Actor, community: Community, ask: GrantAsk, key: str) -> Grant:
    """Grant hours; posted at once, or (above the community's review size) left for a
    second coordinator to approve."""
    key = check_key(key, actor)
    if not 1 <= ask.minutes <= 100 * 60:
        raise Invalid("A grant is 1 to 6,000 minutes.", "补贴时长须为 1 到 6000 分钟。",
                      code="invalid_minutes")  # fmt: skip
    reason = ask.reason.strip()
    if not reason:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    if len(reason) > 300:
        raise Invalid("The reason is too long.", "原因太长。", code="reason_too_long")
    if ask.member.community_id != community.id:  # type: ignore[attr-defined]
        raise Forbidden("This member is in another community.", "该成员属于其他社区。",
                        code="other_community")  # fmt: skip
    # Hours for oneself or one's family always wait for a second coordinator, whatever
    # their size and whatever the community's settings.
    review = (
        community.grant_review_minutes is not None and ask.minutes > community.grant_review_minutes
    ) or await own_or_family(actor.member_id, ask.member.id)
    existing = await Grant.get_or_none(key=key)
    if existing is not None:
        return existing
    posted = None
    if not review:  # small enough: the hours move first, so a refusal leaves nothing behind
        posted = await _ledger_grant(actor, community.id, ask.member.id, ask.minutes,
                                     ask.source, reason, key)  # fmt: skip
    try:
        async with in_transaction():
            grant = await Grant.create(
                community=community, member=ask.member, source=ask.source,
                minutes=ask.minutes, reason=reason, requested_by_id=actor.member_id or 0,
                status=GrantStatus.PENDING if posted is None else GrantStatus.POSTED,
                ledger_txn_id=posted.txn.id if posted else None,
                decided_by_id=actor.member_id if posted else None,
                decided_at=datetime.now(UTC) if posted else None, key=key,
            )  # fmt: skip
            await audit.record(
                actor, "grant.request", target_type="grant", target_id=grant.id,
                community_id=community.id,
                detail={"member": ask.member.id, "minutes": ask.minutes, "review": review},
            )  # fmt: skip
    except IntegrityError:  # the same request, sent twice at once
        return await Grant.get(key=key)
    return grant


async def _ledger_grant(
    actor: Actor, community_id: int, member_id: int, minutes: int, source: GrantSource,
    reason: str, key: str,
) -> Posted:  # fmt: skip
    return await ledger.grant(
        community_id=community_id,
        member_id=member_id,
        minutes=minutes,
        key=f"grant:{key}",
        actor_id=actor.member_id or 0,
        reason=reason,
        from_pool=source is GrantSource.POOL,
    )


async def decide_grant(actor: Actor, grant: Grant, approve: bool, note: str = "") -> Grant:
    """A second coordinator approves or rejects a grant waiting for review."""
    if grant.status is not GrantStatus.PENDING:
        raise Conflict("This grant was already decided.", "该补贴已处理。", code="wrong_state")
    if actor.member_id == grant.requested_by_id:
        raise Forbidden(
            "A large grant needs a second coordinator: someone else must approve it.",
            "大额补贴须由另一位工作人员审批。",
            code="four_eyes",
        )
    if await own_or_family(actor.member_id, grant.member_id):  # type: ignore[attr-defined]
        raise _own_decision()
    note = note.strip()
    if not approve and not note:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    posted = None
    if approve:  # the hours move first: a refusal (an empty pool) leaves the grant pending
        posted = await _ledger_grant(
            actor, grant.community_id, grant.member_id, grant.minutes,  # type: ignore[attr-defined]
            grant.source, grant.reason, grant.key,
        )  # fmt: skip
    async with in_transaction():
        moved = await Grant.filter(id=grant.id, status=GrantStatus.PENDING).update(
            status=GrantStatus.POSTED if approve else GrantStatus.REJECTED,
            decided_by_id=actor.member_id,
            decided_at=datetime.now(UTC),
            decision_note=note[:300],
            ledger_txn_id=posted.txn.id if posted else None,
        )
        if moved:
            await audit.record(
                actor, "grant.approve" if approve else "grant.reject", target_type="grant",
                target_id=grant.id, community_id=grant.community_id,  # type: ignore[attr-defined]
            )  # fmt: skip
    if not moved and not approve:
        raise Conflict("This grant was already decided.", "该补贴已处理。", code="wrong_state")
    return await Grant.get(id=grant.id)


def grant_json(grant: Grant, names: dict[int, str] | None = None) -> dict[str, Any]:
    """A grant as the API shows it."""
    names = names or {}
    return {
        "id": grant.id,
        "community": grant.community_id,  # type: ignore[attr-defined]
        "member": grant.member_id,  # type: ignore[attr-defined]
        "member_name": names.get(grant.member_id, ""),  # type: ignore[attr-defined]
        "source": grant.source.value,
        "minutes": grant.minutes,
        "reason": grant.reason,
        "status": grant.status.value,
        "requested_by": grant.requested_by_id,
        "decided_by": grant.decided_by_id,
        "ledger_txn": grant.ledger_txn_id,
        "created_at": grant.created_at.isoformat(),
    }
