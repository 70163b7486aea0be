"""Scanning a placard: whose home it is, and what the helper may do there (changes nothing).

A refused scan is written to the audit log (``audit_refusal``), or, when nobody is signed
in, to the rate-limited server log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from timebank import refusal_log
from timebank.catalog.models import ServiceType
from timebank.catalog.service import catalog
from timebank.errors import TimebankError
from timebank.orders.models import Order, OrderStatus
from timebank.pairing.models import Pairing, PairingStatus, PlanItem
from timebank.pairing.service import has_role
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import Community, Member, Role
from timebank.visits import placards, refusals
from timebank.visits.models import Placard, Visit


@dataclass
class Scan:
    """What a helper's scan of a placard finds: whose home, and what they may do there."""

    resident: Member
    community: Community
    placard: Placard
    open_visit: Visit | None  # the helper's visit under way here
    elsewhere: Visit | None  # the helper's visit under way at someone else's home
    order: Order | None  # the helper's order here whose window is now
    pairing: Pairing | None  # the active pairing, when there is one
    services: list[ServiceType]  # what may be chosen for a visit without an order

    @property
    def action(self) -> str:
        return "finish" if self.open_visit is not None else "start"


async def _order_now(
    helper: Member, resident: Member, community: Community, at: datetime
) -> Order | None:
    early = timedelta(minutes=community.checkin_early_minutes)
    late = timedelta(minutes=community.checkin_late_minutes)
    found = await Order.filter(
        helper=helper,
        resident=resident,
        status=OrderStatus.ASSIGNED,
        starts_at__lte=at + early,
        ends_at__gte=at - late,
    ).order_by("starts_at")
    return found[0] if found else None


async def scan(secret: str, token: str, helper: Member, *, at: datetime | None = None) -> Scan:
    """Check a scanned token and the helper's right to serve here; changes nothing."""
    resident, placard = await placards.current(secret, token)
    now = at or datetime.now(UTC)
    if not helper.is_active or not await has_role(helper, Role.HELPER):
        raise refusals.not_a_helper()
    if helper.community_id != resident.community_id:
        raise refusals.other_community()
    if helper.id == resident.id:
        raise refusals.same_person()
    community = await Community.get(id=resident.community_id)
    open_visit = await Visit.get_or_none(open_helper_id=helper.id)
    elsewhere = None
    if open_visit is not None and open_visit.resident_id != resident.id:
        elsewhere, open_visit = open_visit, None
    order = await _order_now(helper, resident, community, now)
    pairing = await Pairing.filter(
        helper=helper, resident=resident, status=PairingStatus.APPROVED
    ).first()
    if open_visit is None and order is None and pairing is None:
        raise refusals.not_yours()
    services: list[ServiceType] = []
    if order is None and pairing is not None:
        offered = {s.code: s for s in await catalog(community) if s.active}
        planned = await PlanItem.filter(pairing=pairing, active=True).order_by("start_minute")
        codes = [p.service_code for p in planned if p.service_code in offered]
        services = [offered[c] for c in dict.fromkeys(codes)] or (
            [offered["visit"]] if "visit" in offered else list(offered.values())[:1]
        )
    return Scan(resident, community, placard, open_visit, elsewhere, order, pairing, services)


async def audit_refusal(actor: Actor, token: str, error: TimebankError) -> None:
    """Write a refused scan to the audit log (who, which code, why); a scan by someone not
    signed in goes to the server log instead, rate-limited (strangers cannot fill the audit)."""
    if actor.member_id is None:
        refusal_log.anonymous.refused(actor.ip, "placard scan", error.code, token)
        return
    await audit.record(
        actor,
        "visit.refused",
        target_type="placard",
        target_id=token[:40],
        detail={"code": error.code},
    )
