"""Communities and members: the rules the foundation needs, and the demo data."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from timebank.demo import DEMO_PASSWORD, DEMO_PEOPLE, load_demo
from timebank.errors import Conflict, Invalid
from timebank.ledger import service as ledger
from timebank.ledger.models import LedgerTxn as LedgerTxnModel
from timebank.ledger.models import TxnKind
from timebank.ledger.verify import verify
from timebank.people.members import create_member
from timebank.people.models import (
    Community,
    FamilyLink,
    HelperProfile,
    Level,
    Member,
    MemberRole,
    ResidentProfile,
    Role,
)
from timebank.people.service import create_community, verify_password


async def _community() -> Community:
    district = await create_community(name="江城区", level=Level.DISTRICT, parent=None)
    return await create_community(name="桂花社区", level=Level.COMMUNITY, parent=district)


async def test_member_gets_roles_number_and_hashed_password(orm: None) -> None:
    community = await _community()
    member = await create_member(
        community=community,
        name=" 张三 ",
        phone="138 0000-1111",
        password="long enough",
        roles=[Role.HELPER, Role.RESIDENT],
    )
    assert member.name == "张三" and member.phone == "13800001111"
    assert member.member_no == "0001"
    assert member.password_hash and "long enough" not in member.password_hash
    assert verify_password(member.password_hash, "long enough")
    assert not verify_password(member.password_hash, "wrong")
    roles = await MemberRole.filter(member=member).values_list("role", flat=True)
    assert sorted(roles) == ["helper", "resident"]
    second = await create_member(
        community=community, name="李四", phone="13800002222", password=None, roles=[]
    )
    assert second.member_no == "0002"
    assert not verify_password(second.password_hash, "")


@pytest.mark.parametrize(
    ("phone", "password", "code"),
    [("12ab", "long enough", "invalid_phone"), ("13800003333", "short", "password_too_short")],
)
async def test_bad_member_input_is_refused_and_nothing_written(
    orm: None, phone: str, password: str, code: str
) -> None:
    community = await _community()
    with pytest.raises(Invalid) as caught:
        await create_member(
            community=community, name="王五", phone=phone, password=password, roles=[]
        )
    assert caught.value.code == code and caught.value.zh and caught.value.en
    assert await Member.all().count() == 0


async def test_duplicate_phone_is_a_conflict(orm: None) -> None:
    community = await _community()
    await create_member(community=community, name="A", phone="13800004444", password=None, roles=[])
    with pytest.raises(Conflict) as caught:
        await create_member(
            community=community, name="B", phone="13800004444", password=None, roles=[]
        )
    assert caught.value.code == "phone_taken"
    assert await Member.all().count() == 1


async def test_community_levels_are_checked(orm: None) -> None:
    with pytest.raises(Invalid):
        await create_community(name="孤立社区", level=Level.COMMUNITY, parent=None)
    district = await create_community(name="江城区", level=Level.DISTRICT, parent=None)
    with pytest.raises(Invalid):
        await create_community(name="另一个区", level=Level.DISTRICT, parent=district)
    await create_community(name="东湖街道", level=Level.SUBDISTRICT, parent=district)
    with pytest.raises(Conflict):
        await create_community(name="东湖街道", level=Level.SUBDISTRICT, parent=district)
    # Top-level names are unique too (a NULL parent escapes the unique index).
    with pytest.raises(Conflict):
        await create_community(name="江城区", level=Level.DISTRICT, parent=None)
    assert await Community.all().count() == 2


async def test_demo_data_loads_once(orm: None) -> None:
    await load_demo(ZoneInfo("Asia/Shanghai"))
    await load_demo(ZoneInfo("Asia/Shanghai"))
    # The logins, and about twenty residents and twenty helpers with profiles and families,
    # in one district, two sub-districts and three communities.
    assert await Member.all().count() == len(DEMO_PEOPLE) + 40
    assert await ResidentProfile.all().count() == 20 + 2  # and the two resident logins
    # and 赵德海 (resident and helper), and the two helper logins once paired (defaults)
    assert await HelperProfile.all().count() == 20 + 1 + 2
    assert await FamilyLink.all().count() == 6
    # Pairings in every state, orders in every state.
    from timebank.orders.models import Order, OrderStatus
    from timebank.pairing.models import Pairing, PairingStatus

    pairing_states = set(await Pairing.all().values_list("status", flat=True))
    assert pairing_states == {s.value for s in PairingStatus}
    order_states = set(await Order.all().values_list("status", flat=True))
    assert order_states == {s.value for s in OrderStatus}
    levels = await Community.all().values_list("level", flat=True)
    assert sorted(levels) == ["community"] * 3 + ["district"] + ["subdistrict"] * 2
    admin = await Member.get(phone=DEMO_PEOPLE[0].phone)
    assert verify_password(admin.password_hash, DEMO_PASSWORD)
    # The demo ledger: loaded once, intact, with a balance for the resident.
    from timebank.ledger.models import LedgerTxn
    from timebank.visits.models import Visit, VisitStatus

    report = await verify()
    # Three months of history: a credit (two entries) for each history visit, and the
    # history's redemptions (two entries each).
    history = await Visit.filter(in_event__startswith="history-").count()
    redeemed = await LedgerTxn.filter(
        idempotency_key__startswith="redeem:", idempotency_key__contains=":history-"
    ).count()  # keys are scoped to their sender: redeem:<member>:history-...
    assert history > 300 and redeemed > 0
    # 20 entries of the demo ledger, two for each of the six verified demo visits, two each
    # for the redeem demo's 2 donations, 3 redemptions, 3 grants and 1 reversal, and the
    # booked services: 4 holds (2 entries each), a void and an expiry (2), a post (4).
    fixed = 20 + 2 * 6 + 2 * 9 + 8 + 4 + 4
    assert report.ok and report.entries == fixed + 2 * history + 2 * redeemed
    assert report.checkpoints == 1
    kinds = set(await LedgerTxnModel.all().values_list("kind", flat=True))
    assert kinds == {k.value for k in TxnKind}  # every kind of transaction appears
    # The history was written in time order: the chain's times never go back, and each of
    # this month and the two before it has hours credited in it.
    times = [t.created_at for t in await LedgerTxn.all().order_by("id")]
    assert times == sorted(times)
    tz = ZoneInfo("Asia/Shanghai")
    this_month = datetime.now(tz).date().replace(day=1)
    months = {this_month}
    for _ in range(2):
        months.add((min(months) - timedelta(days=1)).replace(day=1))
    credited = {
        t.created_at.astimezone(tz).date().replace(day=1)
        for t in await LedgerTxn.filter(kind=TxnKind.SERVICE_CREDIT)
    }
    assert months <= credited
    # Visits in every state; the verified ones credited exactly once.
    visit_states = set(await Visit.all().values_list("status", flat=True))
    assert visit_states == {s.value for s in VisitStatus}
    verified = await Visit.filter(status=VisitStatus.VERIFIED, hours=True)
    # The history's, six credited by the fund, and a haircut booked with hours (paid from
    # its hold); the paid helper's visits earn pay, not hours, and the two months before
    # this one are settled.
    assert len(verified) == history + 7 and all(v.ledger_txn_id for v in verified)
    from timebank.settlement.models import SettlementLine, SettlementMonth

    assert await SettlementMonth.all().count() == 2
    assert await SettlementLine.all().count() == 4 + 8
    # The safety net has someone to show: a resident living alone per community, missed
    # for the last week or so; everyone else was visited within their week.
    from timebank.reports.overdue import overdue

    late = await overdue(None, tz=tz)
    assert [o.alone for o in late] == [True] * 3
    assert len({o.community_id for o in late}) == 3
    # Every community's report has figures in each of the three months; hours were earned
    # in each, and redeemed last month (two redemption afternoons a month).
    from timebank.calendar import next_month
    from timebank.reports.monthly import report as monthly_report

    communities = list(await Community.filter(level=Level.COMMUNITY))
    for first in sorted(months):
        figures = await monthly_report(communities, first, next_month(first), tz=tz)
        assert all(f.visits > 0 and f.earned > 0 and f.ratings > 0 for f in figures.communities)
    last_month = sorted(months)[-2]
    figures = await monthly_report(communities, last_month, next_month(last_month), tz=tz)
    assert sum(f.redeemed for f in figures.communities) > 0
    ids = [str(v.id) for v in verified]
    assert await LedgerTxn.filter(ref_type="visit", ref_id__in=ids).count() == history + 6
    resident = await Member.get(phone="13800000005")
    balance = await ledger.balance((await ledger.wallet(resident.id)).id)
    # 240 of the demo ledger, 60 from her son, 60 for eggs and 90 for oil redeemed, 45 for
    # a haircut served; 60 held by the demo ledger and 45 for tomorrow's haircut.
    assert (balance.posted, balance.pending_debits, balance.available) == (105, 105, 0)
