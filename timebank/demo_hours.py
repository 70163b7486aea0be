"""The demo's hours: the ledger's own corrections, redemptions and donations, services
booked with hours, and a paid helper's settled month (see ``timebank.demo``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from timebank.calendar import day_start, local_today
from timebank.people.audit import Actor
from timebank.people.models import (
    Community,
    Level,
    Member,
    MemberRole,
    Role,
)


async def hours(logins: list[str]) -> None:
    """Hours earned, granted, spent and held, so balances and statements show something
    (``logins``: the demo logins' phone numbers)."""
    from timebank.ledger import service as ledger
    from timebank.ledger.models import Checkpoint

    by_phone = {m.phone: m for m in await Member.filter(phone__in=logins)}
    coordinator = by_phone["13800000002"]
    for n, (phone, minutes) in enumerate(
        [
            ("13800000003", 90),
            ("13800000004", 120),
            ("13800000003", 60),
            ("13800000004", 45),
            ("13800000003", 75),
            ("13800000004", 120),
            ("13800000006", 60),
        ]
    ):
        helper = by_phone[phone]
        await ledger.credit_service(
            helper_id=helper.id,
            community_id=helper.community_id,
            minutes=minutes,
            visit_id=f"demo-{n}",
            key=f"demo-credit-{n}",
        )
    resident = by_phone["13800000005"]
    await ledger.grant(
        community_id=resident.community_id,
        member_id=resident.id,
        minutes=240,
        key="demo-grant-1",
        actor_id=coordinator.id,
        reason="独居高龄老人兜底时长 / Community grant for an elderly resident living alone",
    )
    await ledger.redeem(
        member_id=by_phone["13800000003"].id,
        minutes=30,
        key="demo-redeem-1",
        actor_id=by_phone["13800000003"].id,
        ref_type="goods",
        ref_id="rice-5kg",
        reason="爱心超市：大米 5 公斤",
    )
    await ledger.reserve(
        member_id=resident.id,
        minutes=60,
        key="demo-reserve-1",
        actor_id=coordinator.id,
        on_behalf_of_id=resident.id,
        ref_type="order",
        ref_id="demo-haircut",
    )
    if not await Checkpoint.exists():
        await ledger.create_checkpoint(actor_id=coordinator.id, note="demo")


async def redemptions(tz: ZoneInfo) -> None:
    """Redemptions, donations, grants and a correction, once."""
    from timebank.ledger import service as ledger
    from timebank.ledger.models import LedgerTxn
    from timebank.ledger.rules import actor_key
    from timebank.redeem import gifts
    from timebank.redeem import service as redeem
    from timebank.redeem.models import GrantSource, ItemKind, RedeemItem

    by_phone = {m.phone: m for m in await Member.filter(phone__startswith="138000000")}
    son, mother = by_phone["13800000003"], by_phone["13800000005"]
    done = f"donate:{actor_key(son.id, 'demo-donate-mother')}"  # keys are the sender's own
    if await LedgerTxn.exists(idempotency_key=done):
        return
    items = {
        community.id: list(
            await RedeemItem.filter(
                community=community, kind__in=[ItemKind.GOODS, ItemKind.PRIVILEGE]
            ).order_by("id")
        )
        for community in await Community.filter(level=Level.COMMUNITY)
    }
    lead = Actor(by_phone["13800000002"].id)
    here = await Community.get(id=mother.community_id)
    await Community.filter(id=here.id).update(grant_review_minutes=600)
    here = await Community.get(id=here.id)
    rice, oil, eggs, haircut, _ = items[here.id]
    # 张建国 gives his mother an hour, and half an hour to the public pool.
    await gifts.donate(Actor(son.id), member=son, to_member=mother, minutes=60,
                        key="demo-donate-mother", reason="给妈妈")  # fmt: skip
    await gifts.donate(Actor(son.id), member=son, to_member=None, minutes=30,
                        key="demo-donate-pool", reason="公益")  # fmt: skip
    # She redeems eggs (handed over), oil (waiting at the office) and a haircut voucher.
    first = await redeem.redeem(Actor(mother.id), member=mother, beneficiary=mother, item=eggs,
                                key="demo-redeem-eggs", on_behalf=False, tz=tz)  # fmt: skip
    await redeem.hand_over(lead, first)
    await redeem.redeem(lead, member=mother, beneficiary=mother, item=oil,
                        key="demo-redeem-oil", on_behalf=True, tz=tz)  # fmt: skip
    await redeem.redeem(Actor(son.id), member=son, beneficiary=mother, item=haircut,
                        key="demo-redeem-haircut", on_behalf=False, tz=tz)  # fmt: skip
    # Grants: a small one posted at once, one from the pool, a large one waiting.
    residents = [
        m
        for m in await Member.filter(community_id=here.id, phone__startswith="1380001")
        if int(m.phone[-4:]) % 2 == 0
    ]
    needy = residents[0] if residents else mother
    await gifts.request_grant(lead, here, gifts.GrantAsk(needy, 120, GrantSource.FUND,
                               "独居老人兜底补贴"), "demo-grant-small")  # fmt: skip
    await gifts.request_grant(lead, here, gifts.GrantAsk(needy, 30, GrantSource.POOL,
                               "公益池转赠"), "demo-grant-pool")  # fmt: skip
    await gifts.request_grant(lead, here, gifts.GrantAsk(mother, 900, GrantSource.FUND,
                               "失能老人年度补贴，待复核"), "demo-grant-large")  # fmt: skip
    # A correction: a grant posted twice by mistake, reversed.
    twice = await ledger.grant(community_id=here.id, member_id=needy.id, minutes=60,
                               key="demo-grant-twice", actor_id=lead.member_id or 0,
                               reason="重复发放")  # fmt: skip
    await ledger.reverse(txn_id=twice.txn.id, key="demo-reverse-twice",
                         actor_id=lead.member_id, reason="重复发放，冲正")  # fmt: skip


async def bookings(tz: ZoneInfo) -> None:
    """Services booked with hours in every state: held, served, cancelled, never served."""
    from timebank.orders import service as orders
    from timebank.orders.models import Order, OrderStatus
    from timebank.redeem import service as redeem
    from timebank.redeem.models import ItemKind, RedeemItem
    from timebank.visits import service as visits
    from timebank.visits.models import Visit, VisitStatus

    if await RedeemItem.exists(kind=ItemKind.SERVICE):
        return
    for community in await Community.filter(level=Level.COMMUNITY):
        await RedeemItem.create(
            community=community, kind=ItemKind.SERVICE, name_zh="上门理发",
            name_en="Haircut at home", price_minutes=45, service_code="haircut",
        )  # fmt: skip
    by_phone = {m.phone: m for m in await Member.filter(phone__startswith="138000000")}
    lead = Actor(by_phone["13800000002"].id)
    barber, mother = by_phone["13800000004"], by_phone["13800000005"]
    item = await RedeemItem.get(kind=ItemKind.SERVICE, community_id=mother.community_id)
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    async def book(name: str, starts: datetime) -> Any:
        return await redeem.book_service(
            Actor(mother.id), member=mother, beneficiary=mother, item=item, starts_at=starts,
            key=f"demo-book-{name}", on_behalf=False, tz=tz,
        )  # fmt: skip

    # Cancelled by her (the hours come back), and one nobody came to (they expire).
    cancelled = await book("cancelled", now + timedelta(days=3))
    order = await orders.get_order(cancelled.order_id or 0)
    await orders.move(Actor(mother.id), order, "cancel", reason="改天再约 / another day")
    missed = await book("missed", now + timedelta(hours=1))
    order = await orders.move(lead, await orders.get_order(missed.order_id or 0), "assign",
                              helper=barber)  # fmt: skip
    await orders.move(lead, order, "no_show", reason="帮扶人临时生病 / helper fell ill")
    # Served yesterday: 刘小红 cut her hair; the held hours went to her on the verified visit.
    served = await book("served", now + timedelta(minutes=10))
    order = await orders.move(lead, await orders.get_order(served.order_id or 0), "assign",
                              helper=barber)  # fmt: skip
    start = now - timedelta(days=1, hours=2)
    await Order.filter(id=order.id).update(
        starts_at=start - timedelta(minutes=10), ends_at=start + timedelta(minutes=50),
        status=OrderStatus.VERIFIED,
    )  # fmt: skip
    visit = await Visit.create(
        community_id=mother.community_id, resident=mother, helper=barber,
        order_id=order.id, service_code="haircut", status=VisitStatus.VERIFIED,
        in_event="demo-in-haircut", out_event="demo-out-haircut", checked_in_at=start,
        received_in_at=start, checked_out_at=start + timedelta(minutes=25),
        received_out_at=start + timedelta(minutes=25), raw_minutes=25,
        served_minutes=30, credit_minutes=45, funded=False, flags="", rating=5,
        comment="剪得很好", rated_by_id=mother.id, rated_at=start + timedelta(hours=1),
        confirmed_by="rating",
    )  # fmt: skip
    await visits.credit(visit, Actor.system())
    # Held: booked for tomorrow.
    await book("held", now + timedelta(days=1))


async def settlement(tz: ZoneInfo) -> None:
    """A paid helper (困困结对) with visits last month and this month; last month closed.

    Long on purpose: the months are told in order, the last one closed at the end.
    """
    from timebank.pairing.models import Compensation, Pairing, PairingStatus
    from timebank.people.models import HelperKind, HelperProfile
    from timebank.settlement import service as settlement
    from timebank.settlement.models import SettlementMonth
    from timebank.visits.models import Visit, VisitStatus

    if await SettlementMonth.exists():
        return
    by_phone = {m.phone: m for m in await Member.filter(phone__startswith="1380")}
    paid = (
        await HelperProfile.filter(
            kind=HelperKind.PAID,
            hourly_rate_fen__not_isnull=True,
            member__phone__startswith="1380001",
        )
        .order_by("id")
        .first()
    )
    if paid is None:
        return
    helper = await Member.get(id=paid.member_id)
    here = await Community.get(id=helper.community_id)
    office = await MemberRole.filter(role=Role.COORDINATOR, community_id=here.id).first()
    if office is None:
        return
    lead = await Member.get(id=office.member_id)
    residents = [
        m for m in by_phone.values()
        if m.community_id == here.id and m.phone.startswith("1380001")
        and int(m.phone[-4:]) % 2 == 0
    ]  # fmt: skip
    resident = sorted(residents, key=lambda m: m.phone)[-3]
    pairing = await Pairing.create(
        community=here, helper=helper, resident=resident, status=PairingStatus.APPROVED,
        compensation=Compensation.PAID, proposed_by_id=lead.id, approved_by_id=lead.id,
        started_on=local_today(tz) - timedelta(days=90), note="困困结对 · 按小时付费",
    )  # fmt: skip
    this_month = local_today(tz).replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    two_ago = (last_month - timedelta(days=1)).replace(day=1)
    rate = paid.hourly_rate_fen or 0
    months = ((two_ago, (4, 11, 18, 25)), (last_month, (2, 6, 9, 13, 16, 20, 23, 27)),
              (this_month, (1,)))  # fmt: skip
    for n, (first, days) in enumerate(months):
        for day in days:
            start = day_start(first + timedelta(days=day - 1), tz) + timedelta(hours=9)
            if start >= datetime.now(tz):
                continue
            minutes = 60 if day % 2 else 90
            await Visit.create(
                community=here, resident=resident, helper=helper, pairing_id=pairing.id,
                service_code="cleaning", status=VisitStatus.VERIFIED,
                in_event=f"demo-paid-{n}-{day}", checked_in_at=start, received_in_at=start,
                checked_out_at=start + timedelta(minutes=minutes),
                received_out_at=start + timedelta(minutes=minutes), raw_minutes=minutes,
                served_minutes=minutes, credit_minutes=minutes, hours=False,
                pay_fen=round(minutes * rate / 60), funded=True,
            )  # fmt: skip
    await settlement.close(Actor(lead.id), here, two_ago, tz)
    await settlement.close(Actor(lead.id), here, last_month, tz)
