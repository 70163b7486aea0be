"""The rules of pairings: who may serve whom, the lifecycle, and the visit plan.

Lifecycle: proposed → approved ↔ suspended → ended, or proposed → rejected. Every change
is a conditional update from the state it was read in (two coordinators pressing at once
cannot both win) with an event row and an audit event in the same transaction. Proposing
and approving lock the helper's profile first, so capacity and "one active pairing per
helper and resident" hold under concurrency. An approved pairing's plan becomes orders
(``generate``, written by ``orders.steps``): at once when it is approved or resumed, and
by the hourly job.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from timebank import calendar, inputs
from timebank.catalog.service import service_type
from timebank.db import get_or_404
from timebank.db.steps import run
from timebank.errors import Conflict, Forbidden, Invalid, NotFound
from timebank.orders import steps as order_steps
from timebank.pairing.models import (
    Compensation,
    Pairing,
    PairingEvent,
    PairingStatus,
    PlanItem,
)
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import (
    Community,
    FamilyLink,
    HelperProfile,
    Member,
    MemberRole,
    Role,
)

ACTIVE = (PairingStatus.PROPOSED, PairingStatus.APPROVED, PairingStatus.SUSPENDED)
# action: (the states it may start from, the state it leads to, whether a reason is required)
ACTIONS: dict[str, tuple[tuple[PairingStatus, ...], PairingStatus, bool]] = {
    "approve": ((PairingStatus.PROPOSED,), PairingStatus.APPROVED, False),
    "reject": ((PairingStatus.PROPOSED,), PairingStatus.REJECTED, True),
    "suspend": ((PairingStatus.APPROVED,), PairingStatus.SUSPENDED, True),
    "resume": ((PairingStatus.SUSPENDED,), PairingStatus.APPROVED, False),
    "end": ((PairingStatus.APPROVED, PairingStatus.SUSPENDED), PairingStatus.ENDED, True),
}
MAX_REASON = 300


async def has_role(member: Member, role: Role) -> bool:
    """Whether ``member`` holds ``role``."""
    return await MemberRole.exists(member=member, role=role)


async def active_count(helper_id: int) -> int:
    """How many approved pairings the helper serves now."""
    return await Pairing.filter(helper_id=helper_id, status=PairingStatus.APPROVED).count()


async def _lock_helper(helper: Member) -> HelperProfile:
    # Serializes proposals and approvals for one helper (SQLite: BEGIN IMMEDIATE does it).
    profile = await HelperProfile.filter(member=helper).select_for_update().first()
    if profile is None:
        profile = await HelperProfile.create(member=helper)
    return profile


async def _check_capacity(helper: Member, profile: HelperProfile) -> None:
    if await active_count(helper.id) >= profile.capacity:
        raise Conflict(
            f"{helper.name} already serves {profile.capacity} residents, their most.",
            f"{helper.name} 已结对 {profile.capacity} 人，已满。",
            code="no_capacity",
        )


async def propose(
    actor: Actor,
    *,
    helper: Member,
    resident: Member,
    compensation: str = "hours",
    note: str = "",
    across_communities: bool = False,
    funded: bool = True,
) -> Pairing:
    """Propose that ``helper`` serves ``resident`` (a coordinator, or the helper asking)."""
    community_id = await _check_pair(helper, resident, across_communities=across_communities)
    try:
        kind = Compensation(compensation)
    except ValueError:
        raise Invalid(
            "Compensation is hours, paid or both.", "报酬方式只能是时长、有偿或两者。",
            code="bad_compensation",
        ) from None  # fmt: skip
    note = note.strip()[:MAX_REASON]
    async with in_transaction():
        profile = await _lock_helper(helper)
        if await Pairing.exists(helper=helper, resident=resident, status__in=ACTIVE):
            raise Conflict(
                f"{helper.name} and {resident.name} are already paired (or proposed).",
                f"{helper.name} 与 {resident.name} 已经结对（或正在申请）。",
                code="already_paired",
            )
        await _check_capacity(helper, profile)
        pairing = await Pairing.create(
            community_id=community_id,
            helper=helper,
            resident=resident,
            compensation=kind,
            funded=funded,
            proposed_by_id=actor.member_id,
            note=note,
        )
        await PairingEvent.create(
            pairing=pairing, actor_id=actor.member_id, to_status=PairingStatus.PROPOSED, reason=note
        )
        await audit.record_about(
            actor, "pairing.propose", pairing, detail={"helper": helper.id, "resident": resident.id}
        )
    return pairing


async def _check_pair(helper: Member, resident: Member, *, across_communities: bool) -> int:
    """Refuse a pair that may not serve together; the resident's community."""
    if helper.id == resident.id:
        raise Invalid(
            "A helper cannot be paired with themselves.", "帮扶人和服务对象不能是同一人。",
            code="same_person",
        )  # fmt: skip
    # The community first: a refusal names only someone the caller may see.
    community_id: int = resident.community_id
    if helper.community_id != community_id and not across_communities:
        raise Invalid(
            "Helper and resident live in different communities; only a district "
            "administrator may pair them.",
            "帮扶人和服务对象不在同一社区，只有区级管理员可以跨社区结对。",
            code="other_community",
        )
    if not helper.is_active or not await has_role(helper, Role.HELPER):
        raise Invalid(
            f"{helper.name} is not an active helper.", f"{helper.name} 不是在册的帮扶人。",
            code="not_a_helper",
        )  # fmt: skip
    if not resident.is_active or not await has_role(resident, Role.RESIDENT):
        raise Invalid(
            f"{resident.name} is not an active resident.", f"{resident.name} 不是在册的服务对象。",
            code="not_a_resident",
        )  # fmt: skip
    return community_id


async def transition(
    actor: Actor, pairing: Pairing, action: str, *, reason: str = "", tz: ZoneInfo
) -> Pairing:
    """Approve, reject, suspend, resume or end a pairing; an approved (or resumed) one's
    plan becomes today's and tomorrow's orders at once."""
    target, reason, community = await _check_transition(actor, pairing, action, reason)
    changes: dict[str, object] = {"status": target, "updated_at": datetime.now(UTC)}
    if action == "approve":
        changes.update(approved_by_id=actor.member_id, started_on=calendar.local_today(tz))
    async with in_transaction():
        if target is PairingStatus.APPROVED:
            helper = await Member.get(id=pairing.helper_id)
            await _check_capacity(helper, await _lock_helper(helper))
        moved = await Pairing.filter(id=pairing.id, status=pairing.status).update(**changes)
        if not moved:
            raise Conflict(
                "Someone changed this pairing at the same moment. Please look again.",
                "有人同时修改了这个结对，请刷新后再看。",
                code="pairing_changed",
            )
        await PairingEvent.create(
            pairing=pairing,
            actor_id=actor.member_id,
            from_status=pairing.status.value,
            to_status=target.value,
            reason=reason,
        )
        await audit.record_about(
            actor, f"pairing.{action}", pairing, detail={"reason": reason} if reason else None
        )
    if target is PairingStatus.APPROVED:
        await generate_soon(tz, pairing_id=pairing.id)
    return await Pairing.get(id=pairing.id)


async def _check_transition(
    actor: Actor, pairing: Pairing, action: str, reason: str
) -> tuple[PairingStatus, str, Community]:
    """Refuse a transition that may not be made (by ``actor``, from the pairing's state);
    the state it leads to, the reason trimmed, and the pairing's community."""
    if action not in ACTIONS:
        raise Invalid(
            f"Unknown action {action!r}: use {', '.join(ACTIONS)}.",
            f"未知操作“{action}”。",
            code="unknown_action",
        )
    sources, target, needs_reason = ACTIONS[action]
    reason = reason.strip()
    if needs_reason and not reason:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    if len(reason) > MAX_REASON:
        raise Invalid(
            f"The reason is too long (at most {MAX_REASON} characters).",
            f"原因太长（最多 {MAX_REASON} 个字）。",
            code="reason_too_long",
        )
    if pairing.status not in sources:
        raise _wrong_state(action, pairing.status)
    community = await Community.get(id=pairing.community_id)
    if (
        action == "approve"
        and community.four_eyes
        and pairing.proposed_by_id is not None
        and pairing.proposed_by_id == actor.member_id
    ):
        raise Conflict(
            "This community needs a second coordinator to approve a pairing you proposed.",
            "本社区实行双人复核：您提出的结对需由另一位协调员审批。",
            code="four_eyes",
        )
    if action == "approve" and await _party_to(actor.member_id, pairing):
        raise Forbidden(
            "You cannot approve a pairing of yourself or your family: another coordinator must.",
            "不能审批本人或自己家属的结对，须由另一位协调员处理。",
            code="own_decision",
        )
    return target, reason, community


async def _party_to(person_id: int | None, pairing: Pairing) -> bool:
    """Whether ``person`` is the pairing's helper or resident, or family of either."""
    sides = [pairing.helper_id, pairing.resident_id]
    if person_id is None:
        return False
    return person_id in sides or await FamilyLink.exists(member_id__in=sides, relative_id=person_id)


def _wrong_state(action: str, status: PairingStatus) -> Conflict:
    return Conflict(
        f"A pairing that is {status.value} cannot be given the action {action!r}.",
        f"处于“{status.value}”状态的结对不能执行“{action}”。",
        code="wrong_state",
    )


async def get_pairing(pairing_id: int) -> Pairing:
    """The pairing with this id, or a 404."""
    return await get_or_404(Pairing, pairing_id, "pairing", "结对", "pairing_not_found")


def parse_time_of_day(text: str) -> int:
    """``"09:30"`` as minutes after midnight, or a 422."""
    try:
        hours, minutes = (int(p) for p in inputs.plain(text).split(":"))
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            raise ValueError
    except ValueError:
        raise Invalid(
            f"{text!r} is not a time of day like 09:30.",
            f"“{text}”不是时间，例如 09:30。",
            code="bad_time",
        ) from None
    return hours * 60 + minutes


async def add_plan_item(
    actor: Actor,
    pairing: Pairing,
    *,
    service_code: str,
    every_days: int,
    start: str,
    duration_minutes: int | None = None,
    schedule_in: ZoneInfo | None = None,
) -> PlanItem:
    """Add a recurring visit to the pairing's plan (e.g. meals daily, cleaning weekly).

    ``schedule_in`` (the community's zone): an approved pairing's orders of today and
    tomorrow are made at once, not at the hourly job's next run (pages and API do so)."""
    if pairing.status not in ACTIVE:
        raise _wrong_state("plan", pairing.status)
    community = await Community.get(id=pairing.community_id)
    service = await service_type(community, service_code)
    if not 1 <= every_days <= 365:
        raise Invalid(
            "Visit every 1 to 365 days.", "探访间隔须在 1 到 365 天之间。", code="bad_frequency"
        )
    minutes = duration_minutes or service.typical_minutes
    if not 5 <= minutes <= service.max_minutes:
        raise Invalid(
            f"A visit of {service.name_en} lasts 5 to {service.max_minutes} minutes.",
            f"“{service.name_zh}”每次 5 到 {service.max_minutes} 分钟。",
            code="bad_duration",
        )
    start_minute = parse_time_of_day(start)
    async with in_transaction():
        item = await PlanItem.create(
            pairing=pairing,
            service_code=service.code,
            every_days=every_days,
            start_minute=start_minute,
            duration_minutes=minutes,
        )
        await audit.record_about(
            actor,
            "pairing.plan",
            pairing,
            detail={"service": service.code, "every_days": every_days, "start": start},
        )
    if schedule_in is not None and pairing.status is PairingStatus.APPROVED:
        await generate_soon(schedule_in, pairing_id=pairing.id)
    return item


async def remove_plan_item(actor: Actor, pairing: Pairing, item_id: int) -> None:
    """Stop a recurring visit (orders already generated stay)."""
    async with in_transaction():
        changed = await PlanItem.filter(id=item_id, pairing=pairing, active=True).update(
            active=False
        )
        if not changed:
            raise NotFound("There is no such plan item.", "找不到该计划项。", code="plan_not_found")
        await audit.record_about(actor, "pairing.plan_remove", pairing, detail={"item": item_id})


def is_due(item: PlanItem, started_on: date, day: date) -> bool:
    """Whether a plan item wants a visit on ``day`` (counted from the pairing's start)."""
    offset = (day - started_on).days
    return offset >= 0 and offset % item.every_days == 0


# Plans become orders -----------------------------------------------------------------------


async def generate(
    day: date, *, tz: ZoneInfo, pairing_id: int | None = None, after: datetime | None = None
) -> int:
    """Create the orders the active pairings' plans want on ``day``; returns how many.

    Safe to run again (and from several processes): one order per plan item and day.
    ``pairing_id``: only that pairing's (right after it is approved or its plan changes).
    ``after``: none that would start before it (an order made late is overdue at birth).
    """
    active = Pairing.filter(status=PairingStatus.APPROVED, started_on__lte=day)
    if pairing_id is not None:
        active = active.filter(id=pairing_id)
    pairings = {p.id: p for p in await active}
    if not pairings:
        return 0
    created = 0
    for item in await PlanItem.filter(pairing_id__in=list(pairings), active=True):
        pairing = pairings[item.pairing_id]
        if pairing.started_on is None or not is_due(item, pairing.started_on, day):
            continue
        starts = calendar.at(day, tz, time(item.start_minute // 60, item.start_minute % 60))
        if after is not None and starts < after:
            continue
        made = await run(
            order_steps.open_planned(
                community_id=pairing.community_id,
                resident_id=pairing.resident_id,
                helper_id=pairing.helper_id,
                service_code=item.service_code, starts_at=starts,
                ends_at=starts + timedelta(minutes=item.duration_minutes),
                pairing_id=pairing.id, plan_item_id=item.id, due_on=day, funded=pairing.funded,
                at=datetime.now(UTC),
            )
        )  # fmt: skip
        created += made is not None
    return created


async def generate_soon(tz: ZoneInfo, *, pairing_id: int | None = None) -> int:
    """Orders for today and tomorrow, in the community's time zone (of one pairing, or all),
    except today's whose time has passed: a pairing approved at three would otherwise get a
    nine o'clock visit that is already late."""
    today, now = calendar.local_today(tz), datetime.now(UTC)
    return await generate(today, tz=tz, pairing_id=pairing_id, after=now) + await generate(
        today + timedelta(days=1), tz=tz, pairing_id=pairing_id, after=now
    )
