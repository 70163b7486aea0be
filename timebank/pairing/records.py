"""Pairings as a member sees and proposes them: the JSON record, the lists one may see,
and a proposal checked by the policy. Shared by the pairing, order and task pages and APIs.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from timebank.bodies import ID, body
from timebank.errors import BadRequest
from timebank.pairing import service
from timebank.pairing.models import Pairing, PairingEvent, PairingStatus, PlanItem
from timebank.people import policy
from timebank.people.audit import Actor
from timebank.people.auth import SignedIn
from timebank.people.models import Member

# What a proposal reads (the API's body, the suggestions page's form).
SCHEMAS: dict[str, Any] = {
    "PairingProposal": body(
        ["helper", "resident"],
        helper=ID,
        resident=ID,
        compensation={"type": "string", "enum": ["hours", "paid", "both"]},
        funded={"type": "boolean", "description": "true (default) - the fund pays (兜底)"},
        note={"type": "string"},
    ),
}


def _history(events: list[PairingEvent]) -> list[dict[str, Any]]:
    return [
        {
            "at": e.at.isoformat(),
            "actor": e.actor_id,
            "from": e.from_status,
            "to": e.to_status,
            "reason": e.reason,
        }
        for e in events
    ]


def _plan(items: list[PlanItem]) -> list[dict[str, Any]]:
    return [
        {
            "id": i.id,
            "service": i.service_code,
            "every_days": i.every_days,
            "start": f"{i.start_minute // 60:02d}:{i.start_minute % 60:02d}",
            "duration_minutes": i.duration_minutes,
        }
        for i in items
    ]


async def pairing_json(p: Pairing, *, full: bool = True) -> dict[str, Any]:
    """A pairing with names, and (``full``) its history and plan."""
    pair = [p.helper_id, p.resident_id]
    people: dict[int, str] = {
        int(i): str(n) for i, n in await Member.filter(id__in=pair).values_list("id", "name")
    }
    data: dict[str, Any] = {
        "id": p.id,
        "community": p.community_id,
        "helper": p.helper_id,
        "helper_name": people.get(p.helper_id, ""),
        "resident": p.resident_id,
        "resident_name": people.get(p.resident_id, ""),
        "status": p.status.value,
        "compensation": p.compensation.value,
        "funded": p.funded,
        "proposed_by": p.proposed_by_id,
        "approved_by": p.approved_by_id,
        "started_on": p.started_on.isoformat() if p.started_on else None,
        "note": p.note,
    }
    if full:
        data["history"] = _history(list(await PairingEvent.filter(pairing=p).order_by("id")))
        data["plan"] = _plan(list(await PlanItem.filter(pairing=p, active=True).order_by("id")))
    return data


async def visible_pairings(who: SignedIn, status: str = "") -> list[Pairing]:
    """Pairings ``who`` may see, newest first, optionally of one status."""
    query = Pairing.all()
    if status:
        if status not in {s.value for s in PairingStatus}:
            raise BadRequest(
                f"Unknown status {status!r}.", f"未知状态“{status}”。", code="invalid_parameter"
            )
        query = query.filter(status=status)
    scope = policy.coordinated_communities(who)
    if scope is not None:
        me = who.member.id
        query = query.filter(
            Q(helper_id=me) | Q(resident_id=me) | Q(community_id__in=sorted(scope))
        )
    return list(await query.order_by("-id").limit(500))


async def own_pairings(who: SignedIn) -> list[Pairing]:
    """The member's own pairings (as helper or resident), not the whole community's."""
    me = who.member.id
    return [p for p in await visible_pairings(who) if me in (p.helper_id, p.resident_id)]


async def visible_pairing(who: SignedIn, pairing_id: int, *, manage: bool) -> Pairing:
    """The pairing ``pairing_id``, if ``who`` may see (or ``manage``) it."""
    p = await service.get_pairing(pairing_id)
    allowed = policy.can_manage_pairing(who, p) if manage else policy.can_see_pairing(who, p)
    policy.require(allowed)
    return p


async def propose_as(
    actor: Actor, who: SignedIn, helper: Member, resident: Member, body: dict[str, Any]
) -> Pairing:
    """Propose (``body``: a PairingProposal's compensation, funded and note), checking that
    ``who`` may: a coordinator of the resident, or the helper."""
    policy.require(policy.can_propose_pairing(who, helper, resident))
    return await service.propose(
        actor,
        helper=helper,
        resident=resident,
        compensation=str(body.get("compensation") or "hours"),
        note=str(body.get("note") or ""),
        across_communities=policy.is_admin(who),
        funded=body.get("funded") is not False and str(body.get("funded")) != "off",
    )


async def paired_helpers(resident_ids: list[int]) -> dict[int, int]:
    """Resident → the helper of their approved pairing (the one to send first)."""
    found = await Pairing.filter(
        resident_id__in=sorted(set(resident_ids)), status=PairingStatus.APPROVED
    ).order_by("id")
    return {p.resident_id: p.helper_id for p in found}
