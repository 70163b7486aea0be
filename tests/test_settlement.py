"""Monthly settlement of paid helpers: figures, the month boundary in local time, closing
once, corrections in the next month, CSV and XLSX (both databases)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook

from tests.conftest import make_community, make_signed_up, sign_in_client
from timebank.calendar import next_month
from timebank.people.models import HelperProfile
from timebank.settlement.models import SettlementLine
from timebank.visits.models import Visit, VisitStatus

TZ = ZoneInfo("Asia/Shanghai")


def months_ago(n: int) -> date:
    first = datetime.now(TZ).date().replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


async def paid_visit(w: dict[str, Any], at: datetime, minutes: int, **extra: Any) -> Visit:
    return await Visit.create(
        community=w["here"], resident=w["resident"], helper=w["helper"], service_code="visit",
        status=extra.pop("status", VisitStatus.VERIFIED), in_event=uuid.uuid4().hex,
        checked_in_at=at, received_in_at=at, checked_out_at=at + timedelta(minutes=minutes),
        served_minutes=minutes, credit_minutes=minutes, pay_fen=round(minutes * 2400 / 60),
        hours=False, **extra,
    )  # fmt: skip


@pytest.fixture
async def w(app: Any) -> Any:
    here = await make_community("桂花社区")
    world: dict[str, Any] = {
        "here": here,
        "coordinator": await make_signed_up(here, "coordinator", name="李芳"),
        "helper": await make_signed_up(here, "helper", name="刘小红"),
        "resident": await make_signed_up(here, "resident", name="陈秀英"),
    }
    await HelperProfile.create(member=world["helper"], kind="paid", hourly_rate_fen=2400)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as office,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as helper,
    ):
        world["office"] = office
        world["h"] = {"x-csrf-token": await sign_in_client(office, world["coordinator"])}
        world["helper_c"] = helper
        world["helper_h"] = {"x-csrf-token": await sign_in_client(helper, world["helper"])}
        yield world


async def test_a_month_is_settled_once(w: dict[str, Any]) -> None:
    last, before = months_ago(1), months_ago(2)
    url = f"/api/v1/communities/{w['here'].id}/settlements"
    # Last month: two visits (60 and 45 minutes at 24 yuan an hour); one flagged (not paid);
    # one at 00:30 on the first of this month, Shanghai time (16:30 UTC the day before):
    # this month's, not last month's.
    start = datetime.combine(last + timedelta(days=3), time(9), tzinfo=TZ)
    await paid_visit(w, start, 60)
    await paid_visit(w, start + timedelta(days=1), 45)
    await paid_visit(w, start + timedelta(days=2), 30, status=VisitStatus.FLAGGED)
    midnight = datetime.combine(next_month(last), time(0, 30), tzinfo=TZ).astimezone(UTC)
    assert midnight.date() < next_month(last)  # still last month in UTC
    await paid_visit(w, midnight, 30)
    shown = await w["office"].get(f"{url}/{last:%Y-%m}")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["closed"] is False and body["visits"] == 2
    assert body["minutes"] == 105 and body["amount_fen"] == 2400 + 1800
    assert body["helpers"][0]["rate_fen"] == 2400
    # This month is not over: it cannot be closed. Last month can, once.
    now = datetime.now(TZ).date()
    early = await w["office"].post(f"{url}/{now:%Y-%m}/close", headers=w["h"])
    assert early.status_code == 422 and early.json()["error"]["code"] == "month_not_over"
    closed = await w["office"].post(f"{url}/{last:%Y-%m}/close", headers=w["h"])
    assert closed.status_code == 200 and closed.json()["closed"] is True
    again = await w["office"].post(f"{url}/{last:%Y-%m}/close", headers=w["h"])
    assert again.status_code == 409
    assert await SettlementLine.all().count() == 2
    # The flagged visit is approved after the close: it is paid next month, as a correction;
    # the closed month does not change.
    flagged = await Visit.get(status=VisitStatus.FLAGGED)
    await Visit.filter(id=flagged.id).update(status=VisitStatus.VERIFIED)
    still = (await w["office"].get(f"{url}/{last:%Y-%m}")).json()
    assert still["amount_fen"] == 4200 and still["visits"] == 2
    this = (await w["office"].get(f"{url}/{now:%Y-%m}")).json()
    assert this["visits"] == 2 and this["amount_fen"] == 1200 + 1200
    assert sorted(x["correction"] for x in this["lines"]) == [False, True]
    assert this["helpers"][0]["corrections_fen"] == 1200
    # The month before had nothing.
    assert (await w["office"].get(f"{url}/{before:%Y-%m}")).json()["visits"] == 0
    # Bad months, and people who may not see it.
    assert (await w["office"].get(f"{url}/2026-13")).status_code == 422
    assert (await w["office"].get(f"{url}/October")).status_code == 422
    assert (await w["helper_c"].get(f"{url}/{last:%Y-%m}")).status_code == 403
    refused = await w["helper_c"].post(f"{url}/{before:%Y-%m}/close", headers=w["helper_h"])
    assert refused.status_code == 403


async def test_exports(w: dict[str, Any]) -> None:
    last = months_ago(1)
    start = datetime.combine(last + timedelta(days=3), time(9), tzinfo=TZ)
    await paid_visit(w, start, 60)
    await paid_visit(w, start + timedelta(days=1), 90)
    url = f"/api/v1/communities/{w['here'].id}/settlements/{last:%Y-%m}/export"
    csv_file = await w["office"].get(f"{url}?format=csv")
    assert csv_file.status_code == 200
    text = csv_file.content.decode("utf-8")
    assert text.startswith("\ufeff") and "帮扶人,编号,服务次数" in text
    assert "刘小红" in text and "60.0" in text  # 24 + 36 yuan
    xlsx = await w["office"].get(url)
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(xlsx.content))
    totals = book["汇总"]
    assert [c.value for c in totals[2]][:3] == ["帮扶人", "编号", "服务次数"]
    assert totals["A3"].value == "刘小红" and totals["C3"].value == 2
    assert totals["D3"].value == 2.5 and totals["F3"].value == 60
    assert totals.column_dimensions["A"].width >= 10
    detail = book["明细"]
    assert detail.max_row == 1 + 2 and detail["E2"].value == 60
    bad = await w["office"].get(f"{url}?format=pdf")
    assert bad.status_code == 400
