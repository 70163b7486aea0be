"""What a redemption must pass: the item offered, the family, the age gate, the request's
key, and (under the ledger lock, in the transaction that moves the hours) the day and month
limits, the group-activity hours and the stock, with the redemption row written last.

Checked and written under the lock (``ledger.redeem(checks=…)``): two members racing for the
last bag of rice, or one member racing against their own limit, cannot both win, and nothing
is half-written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from timebank import calendar
from timebank.db.steps import Query, Steps
from timebank.errors import Conflict, Forbidden, Invalid
from timebank.ledger.rules import actor_key
from timebank.people import policy
from timebank.people.audit import Actor
from timebank.people.models import Community, Member, ResidentProfile
from timebank.redeem.models import RedeemItem, RedemptionStatus

MAX_KEY = 100


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


def own_decision() -> Forbidden:
    """The refusal of a decision about one's own or one's family's hours."""
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


async def may_redeem(
    member: Member, beneficiary: Member, item: RedeemItem, tz: ZoneInfo
) -> Community:
    """The checks before any redemption: offered, same community, family, age."""
    if not item.active:
        raise Conflict("This item is not offered now.", "该兑换项已下架。", code="item_inactive")
    if member.community_id != item.community_id:
        raise Forbidden("This item is in another community.", "这是其他社区的兑换项。",
                        code="other_community")  # fmt: skip
    if beneficiary.id != member.id and not await policy.is_family(
        relative=beneficiary.id, of=member.id
    ):
        raise Forbidden(  # no name: the caller may not see that member
            "Hours are redeemed for oneself or a linked family member only.",
            "只能为本人或登记的家属兑换。",
            code="not_family",
        )
    community = await Community.get(id=member.community_id)
    await check_age(community, beneficiary, calendar.local_today(tz))
    return community


def limits_and_row(
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
    today = calendar.local_today(tz, now)
    for since, limit, en, zh in (
        (calendar.day_start(today, tz), community.redeem_daily_minutes, "day", "每天"),
        (calendar.month_bounds(today, tz)[0], community.redeem_monthly_minutes, "month", "每月"),
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
