"""Hours given: a member's donations (转赠) to family or the community's public pool (公益池),
and coordinators' grants (兜底) from the community fund or the pool, large ones approved by
a second coordinator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from timebank import inputs
from timebank.bodies import ID, body
from timebank.db import get_or_404
from timebank.errors import BadRequest, Conflict, Forbidden, Invalid
from timebank.ledger import service as ledger
from timebank.ledger.models import AccountKind
from timebank.ledger.rules import Posted
from timebank.people import audit, members, policy
from timebank.people.audit import Actor
from timebank.people.auth import SignedIn
from timebank.people.models import Community, Member
from timebank.people.service import get_community
from timebank.redeem.limits import check_key, own_decision
from timebank.redeem.models import Grant, GrantSource, GrantStatus

KEY = {"type": "string", "minLength": 8, "maxLength": 100}
# The bodies donate_for, grant_for and decide_grant read, for the API document.
SCHEMAS: dict[str, Any] = {
    "NewDonation": body(
        ["to", "minutes", "key"],
        to={"description": "a family member's id, or pool",
            "oneOf": [ID, {"type": "string", "enum": ["pool"]}]},
        minutes={"type": "integer", "minimum": 1},
        key=KEY,
        reason={"type": "string"},
    ),
    "NewGrant": body(
        ["member", "minutes", "reason", "key"],
        member=ID,
        minutes={"type": "integer", "minimum": 1, "maximum": 6000},
        source={"type": "string", "enum": ["fund", "pool"]},
        reason={"type": "string", "minLength": 1, "maxLength": 300},
        key=KEY,
    ),
    "GrantDecision": body(
        ["approve"],
        approve={"type": "boolean"},
        note={"type": "string", "description": "needed to reject"},
    ),
}  # fmt: skip


def _minutes(raw: Any) -> int:
    return inputs.whole_number(raw, "minutes", low=-inputs.ID_MAX, high=inputs.ID_MAX)


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
        if not await policy.is_family(relative=to_member.id, of=member.id):
            raise Forbidden(  # no name: the caller may not see that member
                "This member is not your linked family: hours go to family or to "
                "the community's public pool.",
                "该成员不是您登记的家属：时间只能转赠给家属或社区公益池。",
                code="not_family",
            )
        target = await ledger.wallet(to_member.id)
    else:
        target = await ledger.community_account(
            member.community_id,
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
        await audit.record_about(
            actor,
            "redeem.donate",
            member,
            detail={"to": to_member.id if to_member else "pool", "minutes": minutes},
        )
    return posted


async def donate_for(actor: Actor, who: SignedIn, body: dict[str, Any]) -> Posted:
    """Give ``who``'s hours (``NewDonation``) to family or the pool."""
    target = body.get("to")
    to_member = None
    if target != "pool":
        to_member = await members.get_member(inputs.record_id(target, "to"))
    return await donate(
        actor,
        member=await Member.get(id=who.member.id),
        to_member=to_member,
        minutes=_minutes(body.get("minutes")),
        key=str(body.get("key") or ""),
        reason=str(body.get("reason") or ""),
    )


# Grants ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantAsk:
    """A coordinator's grant: to whom, how much, from where, why."""

    member: Member
    minutes: int
    source: GrantSource
    reason: str


def _checked_reason(ask: GrantAsk, community: Community) -> str:
    if not 1 <= ask.minutes <= 100 * 60:
        raise Invalid("A grant is 1 to 6,000 minutes.", "补贴时长须为 1 到 6000 分钟。",
                      code="invalid_minutes")  # fmt: skip
    reason = ask.reason.strip()
    if not reason:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    if len(reason) > 300:
        raise Invalid("The reason is too long.", "原因太长。", code="reason_too_long")
    if ask.member.community_id != community.id:
        raise Forbidden("This member is in another community.", "该成员属于其他社区。",
                        code="other_community")  # fmt: skip
    return reason


async def request_grant(actor: Actor, community: Community, ask: GrantAsk, key: str) -> Grant:
    """Grant hours; posted at once, or (above the community's review size, or for the
    coordinator's own family) left for a second coordinator to approve."""
    key = check_key(key, actor)
    reason = _checked_reason(ask, community)
    review = await policy.grant_needs_review(
        actor.member_id, member=ask.member.id, minutes=ask.minutes,
        review_minutes=community.grant_review_minutes,
    )  # fmt: skip
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
            await audit.record_about(
                actor,
                "grant.request",
                grant,
                detail={"member": ask.member.id, "minutes": ask.minutes, "review": review},
            )
    except IntegrityError:  # the same request, sent twice at once
        return await Grant.get(key=key)
    return grant


async def grant_for(actor: Actor, who: SignedIn, body: dict[str, Any]) -> Grant:
    """Grant hours (``NewGrant``) as a coordinator of the member's community."""
    member = await members.get_member(inputs.record_id(body.get("member"), "member"))
    policy.require(policy.coordinates(who, member.community_id))
    try:
        source = GrantSource(str(body.get("source") or "fund"))
    except ValueError:
        raise BadRequest(
            "source must be fund or pool.", "来源只能是 fund 或 pool。", code="invalid_parameter"
        ) from None
    community = await get_community(member.community_id)
    ask = GrantAsk(
        member=member,
        minutes=_minutes(body.get("minutes")),
        source=source,
        reason=str(body.get("reason") or ""),
    )
    return await request_grant(actor, community, ask, str(body.get("key") or ""))


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
    if policy.requested_it(actor.member_id, requested_by=grant.requested_by_id):
        raise Forbidden(
            "A large grant needs a second coordinator: someone else must approve it.",
            "大额补贴须由另一位工作人员审批。",
            code="four_eyes",
        )
    if await policy.own_or_family(actor.member_id, grant.member_id):
        raise own_decision()
    note = note.strip()
    if not approve and not note:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    posted = None
    if approve:  # the hours move first: a refusal (an empty pool) leaves the grant pending
        posted = await _ledger_grant(
            actor, grant.community_id, grant.member_id, grant.minutes,
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
            await audit.record_about(actor, "grant.approve" if approve else "grant.reject", grant)
    if not moved and not approve:
        raise Conflict("This grant was already decided.", "该补贴已处理。", code="wrong_state")
    return await Grant.get(id=grant.id)


async def get_grant(grant_id: int) -> Grant:
    """The grant with this id, or a 404."""
    return await get_or_404(Grant, grant_id, "grant", "补贴", "grant_not_found")


def grant_json(grant: Grant, names: dict[int, str] | None = None) -> dict[str, Any]:
    """A grant as the API shows it (with the member's name when ``names`` has it)."""
    return {
        "id": grant.id,
        "community": grant.community_id,
        "member": grant.member_id,
        "member_name": (names or {}).get(grant.member_id, ""),
        "source": grant.source.value,
        "minutes": grant.minutes,
        "reason": grant.reason,
        "status": grant.status.value,
        "requested_by": grant.requested_by_id,
        "decided_by": grant.decided_by_id,
        "ledger_txn": grant.ledger_txn_id,
        "created_at": grant.created_at.isoformat(),
    }


async def grants_seen(who: SignedIn, status: str | None) -> list[Grant]:
    """The latest 200 grants of the communities ``who`` coordinates, newest first."""
    from timebank.redeem.service import in_communities

    query = in_communities(Grant.all(), policy.coordinated_communities(who))
    if status not in (None, "", *(s.value for s in GrantStatus)):
        raise BadRequest(
            "status must be pending, posted or rejected.",
            "status 只能是 pending、posted 或 rejected。",
            code="invalid_parameter",
        )
    if status:
        query = query.filter(status=status)
    return list(await query.order_by("-created_at").limit(200))
