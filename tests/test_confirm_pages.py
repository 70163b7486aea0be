"""A second step, said in plain words and required by the server, before what cannot be taken
back: redeeming hours, closing a month, deactivating someone, marking a visit not given,
removing a family link (reissuing a placard: tests/test_visits_pages.py)."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import balance, csrf, make_community, make_signed_up, page_client
from timebank import calendar
from timebank.ledger import service as ledger
from timebank.orders.models import Order, OrderStatus
from timebank.people.models import FamilyLink, Member, Relation
from timebank.redeem.models import RedeemItem, Redemption
from timebank.settlement.models import SettlementMonth


async def asked_then_done(
    client: httpx.AsyncClient, url: str, form: dict[str, str], says: list[str]
) -> httpx.Response:
    """Post ``form``: the answer must be the question (saying ``says``), not the deed; then
    say yes on that page, posting its own form, and return the answer."""
    question = await client.post(url, data=form)
    assert question.status_code == 200 and 'data-testid="confirm"' in question.text, url
    what = re.search(r'data-testid="confirm-what">([^<]*)<', question.text)
    assert what and all(s in what.group(1) for s in says), (what, says)
    # The question's own form (the page has others, such as the elder-mode switch).
    article = question.text[question.text.index('data-testid="confirm"') :]
    action = re.search(r'<form method="post" action="([^"]+)"', article)
    assert action and action.group(1) == url.split("?")[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', article))
    assert fields["confirmed"] == "yes"
    return await client.post(action.group(1), data=fields)


async def test_nothing_costly_happens_in_one_tap(app: Any) -> None:
    here = await make_community("桂花社区")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    elder = await make_signed_up(here, "resident", name="陈秀英")
    son = await make_signed_up(here, "resident", name="陈明")
    helper = await make_signed_up(here, "helper", name="张建国")
    await Member.filter(id=elder.id).update(birth_date=date(1940, 1, 1))
    link = await FamilyLink.create(member=elder, relative=son, relation=Relation.CHILD)
    await ledger.grant(community_id=here.id, member_id=elder.id, minutes=300, key="confirm-1",
                       actor_id=lead.id, reason="兜底")  # fmt: skip
    rice = await RedeemItem.create(
        community=here, kind="goods", name_zh="大米", name_en="Rice", price_minutes=120
    )
    now = datetime.now(UTC)
    late = await Order.create(
        community=here, resident=elder, helper=helper, service_code="haircut",
        starts_at=now - timedelta(hours=3), ends_at=now - timedelta(hours=2),
        status=OrderStatus.ASSIGNED, funded=True,
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        mine = await page_client(stack, app, elder)
        token = csrf((await mine.get("/redeem")).text)
        # 兑换: the hours it spends and what is left, before anything is spent.
        form = {"csrf_token": token, "item": str(rice.id), "key": "confirm-redeem"}
        done = await asked_then_done(mine, "/redeem", form, ["大米", "2小时", "3小时"])
        assert done.headers["location"] == "/redeem?done=redeemed"
        assert await Redemption.all().count() == 1 and await balance(elder) == 180
        office = await page_client(stack, app, lead)
        token = csrf((await office.get("/orders")).text)
        # 标记未上门.
        form = {"csrf_token": token, "action": "no_show", "reason": "无人应门", "next": "/orders"}
        done = await asked_then_done(
            office, f"/orders/{late.id}/act", form, ["理发 · 陈秀英", "张建国 不会因此获得时间"]
        )
        assert (await Order.get(id=late.id)).status is OrderStatus.NO_SHOW
        assert done.headers["location"] == f"/orders?done=no_show&order={late.id}"
        # 解除家属.
        url = f"/people/{elder.id}/family/{link.id}/delete"
        await asked_then_done(office, url, {"csrf_token": token}, ["解除陈明与陈秀英的家属关系"])
        assert not await FamilyLink.exists(id=link.id)
        # 停用 (reactivating is not asked).
        url = f"/people/{helper.id}/active"
        await asked_then_done(office, url, {"csrf_token": token, "active": "0"}, ["停用张建国"])
        assert not (await Member.get(id=helper.id)).is_active
        again = await office.post(url, data={"csrf_token": token, "active": "1"})
        assert again.status_code == 303 and (await Member.get(id=helper.id)).is_active
        # 结算本月: how many helpers and how much, before the month is fixed.
        month = calendar.month_label(calendar.last_month(calendar.zone("Asia/Shanghai")))
        url = f"/communities/{here.id}/settlements/{month}/close"
        done = await asked_then_done(office, url, {"csrf_token": token}, [month, "¥0.00"])
        assert done.status_code == 303 and await SettlementMonth.exists(community_id=here.id)
