"""Redemptions: spending hours on goods or a privilege (goods then wait for hand-over at the
office, 核销), or booking a service with them (an order, and a hold on the hours that goes to
the helper, back on a cancel, or expires when the service is never given).

The catalogue is ``redeem.items``, what a redemption must pass ``redeem.limits``, donations
and grants ``redeem.gifts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from timebank import inputs
from timebank.bodies import ID, an_id, body
from timebank.db import get_or_404
from timebank.errors import Conflict, Forbidden, Invalid
from timebank.ledger import service as ledger
from timebank.ledger.models import LedgerTxn, TxnKind
from timebank.people import audit, members, policy
from timebank.people.audit import Actor
from timebank.people.auth import SignedIn
from timebank.people.models import Community, Member
from timebank.redeem.items import get_item
from timebank.redeem.limits import check_key, limits_and_row, may_redeem, own_decision
from timebank.redeem.models import (
    ItemKind,
    RedeemItem,
    Redemption,
    RedemptionStatus,
)

# The body of POST /redemptions (redeem_for reads it), for the API document.
SCHEMAS: dict[str, Any] = {
    "NewRedemption": body(
        ["item", "key"],
        item=ID,
        key={"type": "string", "minLength": 8, "maxLength": 100, "description": "idempotency key"},
        **{"for": an_id("a linked family member (default myself)")},
        member=an_id("coordinators - whose hours"),
        starts_at={"type": "string", "format": "date-time", "description": "a service - when"},
    ),
}


@dataclass(frozen=True)
class Spending:
    """Who spends whose hours on what, for whom: what the ledger call of a redemption and of
    a booking share."""

    actor: Actor
    member: Member
    beneficiary: Member
    item: RedeemItem
    on_behalf: bool
    community: Community
    tz: ZoneInfo

    def ledger_arguments(
        self, status: RedemptionStatus, order_id: int | None = None
    ) -> dict[str, Any]:
        """The arguments of ``ledger.redeem`` / ``ledger.reserve`` but the key; the limits
        and the redemption row are checked and written under the ledger lock."""
        return {
            "member_id": self.member.id,
            "minutes": self.item.price_minutes,
            "actor_id": self.actor.member_id,
            "ref_type": "redemption",
            "ref_id": f"item-{self.item.id}",
            "on_behalf_of_id": self.member.id if self.on_behalf else None,
            "checks": lambda: limits_and_row(
                community=self.community,
                item=self.item,
                member_id=self.member.id,
                beneficiary_id=self.beneficiary.id,
                actor_id=self.actor.member_id,
                on_behalf=self.on_behalf,
                status=status,
                tz=self.tz,
                order_id=order_id,
            ),  # fmt: skip
        }


async def _spending(
    actor: Actor, member: Member, beneficiary: Member, item: RedeemItem, on_behalf: bool,
    tz: ZoneInfo,
) -> Spending:  # fmt: skip
    if await policy.spends_on_own(
        actor.member_id, beneficiary.id, on_behalf=on_behalf, member=member.id
    ):
        raise own_decision()  # spending someone's hours on oneself or one's family
    community = await may_redeem(member, beneficiary, item, tz)
    return Spending(actor, member, beneficiary, item, on_behalf, community, tz)


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
    spending = await _spending(actor, member, beneficiary, item, on_behalf, tz)
    status = RedemptionStatus.TO_HAND_OVER if item.kind is ItemKind.GOODS else RedemptionStatus.DONE
    posted = await ledger.redeem(key=f"redeem:{key}", **spending.ledger_arguments(status))
    redemption = await Redemption.get(id=int(posted.txn.ref_id))
    if posted.created:
        await audit.record_about(
            actor,
            "redeem.redeem",
            redemption,
            on_behalf_of_id=member.id if on_behalf else None,
            detail={"item": item.id, "minutes": item.price_minutes, "for": beneficiary.id},
        )
    return redemption


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
    spending = await _spending(actor, member, beneficiary, item, on_behalf, tz)
    offered = await service_type(spending.community, item.service_code)
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
            arguments = spending.ledger_arguments(RedemptionStatus.RESERVED, order.id)
            posted = await ledger.reserve(key=ledger_key, **arguments)
            if not posted.created:
                raise _Repeated
            await audit.record(
                actor, "redeem.book", target_type="redemption", target_id=posted.txn.ref_id,
                community_id=spending.community.id,
                on_behalf_of_id=member.id if on_behalf else None,
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


async def redeem_for(actor: Actor, who: SignedIn, body: dict[str, Any], tz: ZoneInfo) -> Redemption:
    """Redeem or book (``NewRedemption``) for ``who``, or (someone who manages ``member``)
    on behalf of ``member``."""
    item = await get_item(inputs.record_id(body.get("item"), "item"))
    on_behalf = body.get("member") not in (None, "", who.member.id)
    if on_behalf:
        member = await members.get_member(inputs.record_id(body.get("member"), "member"))
        policy.require(await policy.can_spend_for(who, member))
    else:
        member = await Member.get(id=who.member.id)
    raw_for = body.get("for")
    beneficiary = member
    if raw_for not in (None, "", member.id, str(member.id)):
        beneficiary = await members.get_member(inputs.record_id(raw_for, "for"))
    key = str(body.get("key") or "")
    if item.kind is ItemKind.SERVICE:
        starts_at = inputs.parse_moment(body.get("starts_at"), "starts_at", tz=tz)
        return await book_service(
            actor, member=member, beneficiary=beneficiary, item=item, starts_at=starts_at,
            key=key, on_behalf=on_behalf, tz=tz,
        )  # fmt: skip
    return await redeem(
        actor, member=member, beneficiary=beneficiary, item=item, key=key,
        on_behalf=on_behalf, tz=tz,
    )  # fmt: skip


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
    not by whoever spent the member's hours on them "on their behalf"."""
    if not await policy.can_hand_over(
        actor.member_id, member=redemption.member_id, beneficiary=redemption.beneficiary_id
    ):
        raise own_decision()
    if policy.redeemed_it(
        actor.member_id, spent_by=redemption.actor_id, on_behalf=redemption.on_behalf
    ):
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
        await audit.record_about(actor, "redeem.hand_over", redemption)
    return await Redemption.get(id=redemption.id)


async def get_redemption(redemption_id: int) -> Redemption:
    """The redemption with this id, or a 404."""
    return await get_or_404(
        Redemption, redemption_id, "redemption", "兑换记录", "redemption_not_found"
    )


def in_communities(query: QuerySet[Any], communities: set[int] | None) -> QuerySet[Any]:
    """``query`` narrowed to ``communities`` (None: all, an admin's)."""
    return query if communities is None else query.filter(community_id__in=sorted(communities))


async def redemptions_seen(
    who: SignedIn, *, status: RedemptionStatus | None, mine: bool
) -> list[Redemption]:
    """The latest 200 redemptions ``who`` sees, newest first: a coordinator's communities'
    (unless ``mine``), else their own and those made for them."""
    query = Redemption.all()
    if status is not None:
        query = query.filter(status=status)
    if policy.coordinates_any(who) and not mine:
        query = in_communities(query, policy.coordinated_communities(who))
    else:
        query = query.filter(Q(member_id=who.member.id) | Q(beneficiary_id=who.member.id))
    return list(await query.order_by("-created_at").limit(200))


async def waiting_for_hand_over(who: SignedIn) -> list[Redemption]:
    """Goods waiting at the offices ``who`` coordinates, oldest first."""
    query = Redemption.filter(status=RedemptionStatus.TO_HAND_OVER)
    query = in_communities(query, policy.coordinated_communities(who))
    return list(await query.order_by("created_at").limit(300))


def redemption_json(r: Redemption, names: dict[int, str] | None = None) -> dict[str, Any]:
    """A redemption as the API shows it."""
    names = names or {}
    return {
        "id": r.id,
        "community": r.community_id,
        "item": r.item_id,
        "member": r.member_id,
        "member_name": names.get(r.member_id, ""),
        "beneficiary": r.beneficiary_id,
        "beneficiary_name": names.get(r.beneficiary_id, ""),
        "minutes": r.minutes,
        "status": r.status.value,
        "on_behalf": r.on_behalf,
        "order": r.order_id,
        "handed_over_at": r.handed_over_at.isoformat() if r.handed_over_at else None,
        "created_at": r.created_at.isoformat(),
    }
