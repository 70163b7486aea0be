"""The rules of service orders: placing, taking, assigning, and every later transition.

Lifecycle: open → assigned → in_progress (checked in) → completed (checked out) → verified
or flagged; cancelled or no_show with a reason. Each transition is a conditional update from
the state it was read in, so two helpers taking one order at once cannot both win; taking
and assigning lock the helper's profile first, so one helper cannot end up with two orders
at the same time. The state machine and its writes are ``orders.steps`` (check-in and
check-out compose them into their own sequences); a cancel or no-show gives a booked
service's held hours back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from timebank import calendar
from timebank.catalog.service import service_type
from timebank.db import get_or_404
from timebank.db.steps import run
from timebank.errors import Conflict, Forbidden, Invalid
from timebank.orders import steps
from timebank.orders.models import Order, OrderEvent, OrderStatus
from timebank.orders.steps import MOVES as MOVES
from timebank.pairing.models import Pairing, PairingStatus
from timebank.pairing.service import _lock_helper, has_role
from timebank.pairing.service import generate as generate  # plans become orders there
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import Community, HelperProfile, Member, Role
from timebank.people.service import member_names
from timebank.redeem.service import release_for_order

S = OrderStatus
BUSY = (S.ASSIGNED, S.IN_PROGRESS)
MAX_WINDOW = timedelta(hours=12)
MAX_AHEAD = timedelta(days=90)
MAX_TEXT = 500


async def get_order(order_id: int) -> Order:
    """The order with this id, or a 404."""
    return await get_or_404(Order, order_id, "order", "订单", "order_not_found")


async def place(
    actor: Actor,
    *,
    resident: Member,
    service_code: str,
    starts_at: datetime,
    ends_at: datetime,
    notes: str = "",
    address: str = "",
    on_behalf: bool,
    funded: bool = False,
) -> Order:
    """A resident orders a service (点单), or a coordinator does it for them."""
    if not resident.is_active or not await has_role(resident, Role.RESIDENT):
        raise Invalid(
            f"{resident.name} is not an active resident.", f"{resident.name} 不是在册的服务对象。",
            code="not_a_resident",
        )  # fmt: skip
    community = await Community.get(id=resident.community_id)
    service = await service_type(community, service_code)
    _check_window(starts_at, ends_at, notes, address)
    async with in_transaction():
        order = await Order.create(
            community=community,
            resident=resident,
            service_code=service.code,
            starts_at=starts_at,
            ends_at=ends_at,
            notes=notes.strip(),
            address=address.strip() or resident.address,
            placed_by_id=actor.member_id,
            on_behalf=on_behalf,
            funded=funded,
        )
        await OrderEvent.create(order=order, actor_id=actor.member_id, to_status=S.OPEN)
        await audit.record_about(
            actor,
            "order.place",
            order,
            on_behalf_of_id=resident.id if on_behalf else None,
            detail={"service": service.code},
        )
    return order


def _check_window(starts_at: datetime, ends_at: datetime, notes: str, address: str) -> None:
    """Refuse a time window (or notes) an order may not have."""
    now = datetime.now(UTC)
    if ends_at <= starts_at:
        raise Invalid(
            "The time window must end after it starts.", "结束时间必须晚于开始时间。",
            code="bad_window",
        )  # fmt: skip
    if ends_at - starts_at > MAX_WINDOW:
        raise Invalid(
            "A time window is at most 12 hours.", "时间段最长 12 小时。", code="bad_window"
        )
    if ends_at < now or starts_at > now + MAX_AHEAD:
        raise Invalid(
            "The time must be between now and 90 days ahead.",
            "时间必须在现在到 90 天之内。",
            code="bad_window",
        )
    if len(notes) > MAX_TEXT or len(address) > 200:
        raise Invalid(
            "The notes or the address are too long.", "备注或地址太长。", code="text_too_long"
        )


async def _check_free(helper: Member, order: Order) -> None:
    overlapping = await Order.filter(
        helper=helper,
        status__in=BUSY,
        starts_at__lt=order.ends_at,
        ends_at__gt=order.starts_at,
    ).exclude(id=order.id)
    if overlapping:
        raise Conflict(
            f"{helper.name} already has order {overlapping[0].id} at that time.",
            f"{helper.name} 在这段时间已有订单（编号 {overlapping[0].id}）。",
            code="helper_busy",
        )


async def _helper_for(order: Order, helper: Member) -> None:
    # The community first: a refusal names only someone the caller may see.
    if helper.community_id != order.community_id:
        raise Forbidden(
            "This order is in another community.", "这是其他社区的订单。", code="other_community"
        )
    if not helper.is_active or not await has_role(helper, Role.HELPER):
        raise Invalid(
            f"{helper.name} is not an active helper.", f"{helper.name} 不是在册的帮扶人。",
            code="not_a_helper",
        )  # fmt: skip
    if helper.id == order.resident_id:
        raise Invalid(
            "A resident cannot serve their own order.", "不能为自己的订单服务。",
            code="same_person",
        )  # fmt: skip


async def move(
    actor: Actor,
    order: Order,
    action: str,
    *,
    helper: Member | None = None,
    reason: str = "",
) -> Order:
    """Carry out ``action`` on ``order`` (see MOVES); ``helper`` for take and assign.

    A booked service's held hours go back to whoever booked it when its order is
    cancelled (void) or never served (expire)."""
    reason = reason.strip()
    steps.check(action, order.id, order.status, reason)
    helper_id = order.helper_id
    if action == "release":
        helper_id = None
    async with in_transaction():
        if helper is not None:
            await _helper_for(order, helper)
            await _lock_helper(helper)
            await _check_free(helper, order)
            helper_id = helper.id
        await run(
            steps.move(
                order_id=order.id, action=action, source=order.status,
                actor_id=actor.member_id, helper_id=helper_id, at=datetime.now(UTC),
                reason=reason,
            )
        )  # fmt: skip
        await audit.record_about(
            actor,
            f"order.{action}",
            order,
            detail={"helper": helper.id} if helper is not None else None,
        )
    if action in ("cancel", "no_show"):
        await release_for_order(actor, order.id, never_served=action == "no_show")
    return await Order.get(id=order.id)


async def serves(helper_id: int, resident_id: int) -> bool:
    """Whether the helper serves the resident now: an active or suspended pairing, or an
    order assigned to them or under way."""
    if await Pairing.exists(
        helper_id=helper_id,
        resident_id=resident_id,
        status__in=(PairingStatus.APPROVED, PairingStatus.SUSPENDED),
    ):
        return True
    return await Order.exists(helper_id=helper_id, resident_id=resident_id, status__in=BUSY)


# Lists -----------------------------------------------------------------------------------


async def tasks(helper: Member, day: date, *, tz: ZoneInfo) -> list[Order]:
    """The helper's orders on a local day (begun by its end, not over by its start),
    assigned or under way, by time: one from 23:50 to 00:20 is on both days."""
    start, end = calendar.day_bounds(day, tz)
    return list(
        await Order.filter(
            helper=helper, status__in=BUSY, starts_at__lt=end, ends_at__gt=start
        ).order_by("starts_at")
    )


async def coming(helper: Member, after: date, *, tz: ZoneInfo, days: int = 7) -> list[Order]:
    """The helper's orders on the local days after ``after`` (a week by default), by time.

    A task taken late in the evening for just after midnight belongs here, not to "today".
    """
    start = calendar.day_bounds(after + timedelta(days=1), tz)[0]
    end = calendar.day_bounds(after + timedelta(days=days), tz)[1]
    return list(
        await Order.filter(helper=helper, status__in=BUSY, starts_at__gte=start, starts_at__lt=end)
        .order_by("starts_at")
        .limit(100)
    )


async def open_for(helper: Member, *, days: int = 14) -> list[Order]:
    """Open orders of the helper's community that match their skills (all, if none listed)."""
    now = datetime.now(UTC)
    query = Order.filter(
        community_id=helper.community_id,
        status=S.OPEN,
        ends_at__gt=now,
        starts_at__lt=now + timedelta(days=days),
    ).exclude(resident_id=helper.id)
    profile = await HelperProfile.get_or_none(member=helper)
    skills = [s for s in (profile.skills.split(",") if profile else []) if s]
    if skills:
        query = query.filter(service_code__in=skills)
    return list(await query.order_by("starts_at").limit(100))


async def upcoming(resident: Member) -> list[Order]:
    """The resident's orders still to come or under way."""
    since = datetime.now(UTC) - timedelta(hours=12)
    return list(
        await Order.filter(resident=resident, status__in=(S.OPEN, *BUSY), ends_at__gte=since)
        .order_by("starts_at")
        .limit(50)
    )


@dataclass
class Board:
    """The coordinator's orders board."""

    open: list[Order]
    assigned: list[Order]
    overdue: list[Order]


async def board(communities: set[int] | None, *, days: int = 14) -> Board:
    """Open and assigned orders of the next ``days``, and the overdue ones."""
    now = datetime.now(UTC)
    query = Order.filter(status__in=(S.OPEN, S.ASSIGNED))
    if communities is not None:
        query = query.filter(community_id__in=sorted(communities))
    overdue = await query.filter(ends_at__lt=now).order_by("ends_at").limit(200)
    coming = (
        await query.filter(ends_at__gte=now, starts_at__lt=now + timedelta(days=days))
        .order_by("starts_at")
        .limit(400)
    )
    return Board(
        open=[o for o in coming if o.status is S.OPEN],
        assigned=[o for o in coming if o.status is S.ASSIGNED],
        overdue=list(overdue),
    )


async def names(orders: list[Order]) -> dict[int, str]:
    """Member id → name for the residents and helpers of ``orders``."""
    ids = {o.resident_id for o in orders} | {o.helper_id for o in orders}
    return await member_names(ids)


def order_json(order: Order, people: dict[int, str] | None = None) -> dict[str, Any]:
    """An order as the API shows it."""
    people = people or {}
    return {
        "id": order.id,
        "community": order.community_id,
        "resident": order.resident_id,
        "resident_name": people.get(order.resident_id, ""),
        "helper": order.helper_id,
        "helper_name": people.get(order.helper_id or 0, ""),
        "service": order.service_code,
        "starts_at": order.starts_at.isoformat(),
        "ends_at": order.ends_at.isoformat(),
        "status": order.status.value,
        "notes": order.notes,
        "address": order.address,
        "on_behalf": order.on_behalf,
        "funded": order.funded,
        "pairing": order.pairing_id,
        "due_on": order.due_on.isoformat() if order.due_on else None,
        "reason": order.reason,
    }
