"""After check-out: review, rating and crediting, the ways a visit reaches the ledger later.

A flagged visit waits for a coordinator (approve, adjust, reject) or, when it only lacks
the resident's confirmation, for the resident's (or family's) rating. Its order follows
it through ``orders.steps`` (every transition in the order's history), and a verified
visit's hours are posted once (``credit``: the ledger key is the visit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from timebank.catalog.models import ServiceType
from timebank.catalog.service import catalog
from timebank.db.steps import run
from timebank.errors import Conflict, Forbidden, Invalid
from timebank.orders import steps as orders
from timebank.orders.models import OrderStatus
from timebank.people import audit, policy
from timebank.people.audit import Actor
from timebank.people.models import Community, HelperProfile
from timebank.visits import closing
from timebank.visits.models import Flag, Visit, VisitStatus


async def service_of(visit: Visit) -> ServiceType:
    """The visit's service as the catalogue has it now (defaults, if it was removed)."""
    community = await Community.get(id=visit.community_id)
    for found in await catalog(community):  # seeds the community's catalogue on first use
        if found.code == visit.service_code:
            return found
    # A service removed from the catalogue since: count it as 1:1, defaults for the rest.
    return ServiceType(
        code=visit.service_code, name_zh=visit.service_code, name_en=visit.service_code
    )


async def _measured(visit: Visit, served: int) -> dict[str, Any]:
    """Minutes and pay for a visit a coordinator adjusted to ``served`` minutes."""
    community = await Community.get(id=visit.community_id)
    service = await service_of(visit)
    rules = closing.Rules(
        unit=community.time_unit_minutes, radius=community.visit_radius_m,
        daily_cap=community.daily_cap_minutes, early=community.checkin_early_minutes,
        late=community.checkin_late_minutes, min_minutes=service.min_minutes,
        max_minutes=service.max_minutes, multiplier=service.multiplier_milli,
        needs_confirmation=service.needs_confirmation,
    )  # fmt: skip
    rate = None
    if visit.pay_fen is not None:
        profile = await HelperProfile.get_or_none(member_id=visit.helper_id)
        rate = profile.hourly_rate_fen if profile is not None else None
    end = visit.checked_out_at or visit.checked_in_at
    return closing.measure(visit.checked_in_at, end, rules, rate, visit.pay_fen is not None, served)


async def credit(visit: Visit, actor: Actor) -> Visit:
    """Post a verified visit's hours to the ledger, once (key: the visit id).

    When the resident's wallet cannot pay, the visit goes back to review, flagged no_hours.
    """
    if visit.status is not VisitStatus.VERIFIED or visit.ledger_txn_id is not None:
        return visit
    if not visit.hours or not visit.credit_minutes:
        return visit
    await run(
        closing.credit_steps(
            visit_id=visit.id,
            helper_id=visit.helper_id,
            community_id=visit.community_id,
            resident_id=visit.resident_id,
            minutes=visit.credit_minutes,
            funded=visit.funded,
            actor=actor,
            flags=visit.flags,
            order_id=visit.order_id,
        )  # fmt: skip
    )
    return await Visit.get(id=visit.id)


async def credit_pending() -> int:
    """Post any verified visit whose posting was cut off (a crash between verifying and
    posting); harmless to run at any time. Returns how many were posted."""
    done = 0
    for visit in await Visit.filter(
        status=VisitStatus.VERIFIED, ledger_txn_id=None, hours=True, credit_minutes__gt=0
    ):
        after = await credit(visit, Actor.system())
        done += after.ledger_txn_id is not None
    return done


REVIEW_ACTIONS = ("approve", "adjust", "reject")


async def review(
    actor: Actor,
    visit: Visit,
    action: str,
    *,
    minutes: int | None = None,
    reason: str = "",
    community_pays: bool = False,
) -> Visit:
    """A coordinator approves a flagged visit, approves it with another duration, or
    rejects it; adjusting and rejecting need a reason."""
    reason = await _check_review(actor, visit, action, reason)
    changes: dict[str, Any] = {
        "reviewed_by_id": actor.member_id,
        "reviewed_at": datetime.now(UTC),
        "review_note": reason,
    }
    if action == "reject":
        changes["status"] = VisitStatus.REJECTED
    else:
        changes["status"] = VisitStatus.VERIFIED
        if community_pays:
            changes["funded"] = True
        if action == "adjust":
            if minutes is None or not 1 <= minutes <= 12 * 60:
                raise Invalid(
                    "Give the minutes served, from 1 to 720.",
                    "请填写服务分钟数（1 到 720）。",
                    code="bad_minutes",
                )
            changes.update(await _measured(visit, minutes))
            del changes["raw_minutes"]
    async with in_transaction():
        moved = await Visit.filter(id=visit.id, status=VisitStatus.FLAGGED).update(**changes)
        if not moved:
            raise Conflict(
                f"Visit {visit.id} was reviewed at the same moment.",
                f"服务记录 {visit.id} 刚被别人审核。",
                code="visit_changed",
            )
        if visit.order_id and action != "reject":  # a rejected visit's order stays flagged
            await _verify_order(visit.order_id, actor)
        await audit.record_about(
            actor,
            f"visit.{action}",
            visit,
            detail={"minutes": minutes, "reason": reason} if minutes else {"reason": reason},
        )
    return await credit(await Visit.get(id=visit.id), actor)


async def _check_review(actor: Actor, visit: Visit, action: str, reason: str) -> str:
    """Refuse a review ``actor`` may not make, or of a visit not flagged; the reason, trimmed."""
    if await policy.own_or_family(actor.member_id, visit.helper_id):
        raise _own_visit()  # the hours are theirs: they may not approve them
    reason = (reason or "").strip()
    if action not in REVIEW_ACTIONS:
        raise Invalid(
            "The action must be approve, adjust or reject.",
            "操作只能是通过、调整时长或驳回。",
            code="unknown_action",
        )
    if action != "approve" and not reason:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    if len(reason) > 300:
        raise Invalid("The reason is too long.", "原因太长。", code="reason_too_long")
    if visit.status is not VisitStatus.FLAGGED:
        raise Conflict(
            f"Visit {visit.id} is {visit.status.value}: only flagged visits are reviewed.",
            f"服务记录 {visit.id} 不在待审核状态。",
            code="wrong_state",
        )
    return reason


def _own_visit() -> Forbidden:
    return Forbidden(
        "Whoever served a visit (or their family) cannot confirm, rate or review it.",
        "提供服务的人（及其家属）不能确认、评价或审核这次服务。",
        code="own_visit",
    )


async def _verify_order(order_id: int, actor: Actor) -> None:
    """The flagged order of a visit now verified follows it, with its history row."""
    await run(
        orders.follow(
            order_id=order_id, action="verify", when=OrderStatus.FLAGGED,
            actor_id=actor.member_id, at=datetime.now(UTC),
        )
    )  # fmt: skip


async def rate(actor: Actor, visit: Visit, rating: int, comment: str = "") -> Visit:
    """The resident (or family) rates a finished visit, which also confirms it: a visit
    waiting only for confirmation is then verified."""
    if not await policy.may_rate(
        actor.member_id, helper=visit.helper_id, resident=visit.resident_id
    ):
        raise _own_visit()
    if not 1 <= rating <= 5:
        raise Invalid("The rating is 1 to 5 stars.", "评分为 1 到 5 星。", code="bad_rating")
    comment = (comment or "").strip()
    if len(comment) > 300:
        raise Invalid("The comment is too long.", "评价太长。", code="comment_too_long")
    if visit.status in (VisitStatus.OPEN, VisitStatus.REJECTED):
        raise Conflict(
            "Only a finished visit can be rated.", "只能评价已结束的服务。", code="wrong_state"
        )
    if visit.rating is not None:
        raise Conflict(
            "This visit was already rated.", "这次服务已经评价过。", code="already_rated"
        )
    flags = [f for f in visit.flags.split(",") if f and f != Flag.UNCONFIRMED.value]
    changes: dict[str, Any] = {
        "rating": rating,
        "comment": comment,
        "rated_by_id": actor.member_id,
        "rated_at": datetime.now(UTC),
        "confirmed_by": visit.confirmed_by or "rating",
        "flags": ",".join(flags),
    }
    verify_now = visit.status is VisitStatus.FLAGGED and not flags and visit.reviewed_at is None
    if verify_now:
        changes["status"] = VisitStatus.VERIFIED
    async with in_transaction():
        moved = await Visit.filter(id=visit.id, status=visit.status, rating=None).update(**changes)
        if not moved:
            raise Conflict(
                "This visit changed at the same moment.", "这次服务刚被修改。", code="visit_changed"
            )
        if verify_now and visit.order_id:
            await _verify_order(visit.order_id, actor)
        await audit.record_about(actor, "visit.rate", visit, detail={"rating": rating})
    return await credit(await Visit.get(id=visit.id), actor)
