"""The overdue-visit safety net: the rule for each frequency, local days, the dashboard and
its API (both databases)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.conftest import clients_of, make_community, make_signed_up, sign_in_client
from timebank.pairing.models import Pairing, PairingStatus
from timebank.people.models import Member, ResidentProfile
from timebank.reports.dashboard import today as today_counts
from timebank.reports.overdue import overdue
from timebank.visits.models import Visit, VisitStatus

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 22)


async def visited(resident: Any, helper: Any, at: datetime, status: str = "verified") -> None:
    await Visit.create(
        community_id=resident.community_id, resident=resident, helper=helper,
        service_code="visit", status=VisitStatus(status), in_event=uuid.uuid4().hex,
        checked_in_at=at, received_in_at=at, checked_out_at=at + timedelta(minutes=30),
    )  # fmt: skip


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(UTC)


async def test_the_overdue_rule(app: Any) -> None:
    here = await make_community("桂花社区")  # visits every 7 days by default
    helper = await make_signed_up(here, "helper", name="张建国")
    joined = local(date(2026, 8, 1), 9)

    async def resident(name: str, every: int | None, hardship: str = "") -> Any:
        member = await make_signed_up(here, "resident", name=name)
        await Member.filter(id=member.id).update(created_at=joined)
        await ResidentProfile.create(member=member, visit_every_days=every, hardship=hardship)
        return member

    daily = await resident("每日", 1, "alone")
    weekly = await resident("每周", None)
    monthly = await resident("每月", 30)
    never = await resident("从未", 7, "alone")
    fresh = await resident("新登记", 7)
    await Member.filter(id=fresh.id).update(created_at=local(TODAY, 8))
    gone = await resident("注销", 7)
    await Member.filter(id=gone.id).update(is_active=False)
    # Daily: visited yesterday (ok) would be ok; here two days ago → 1 day overdue.
    await visited(daily, helper, local(TODAY - timedelta(days=2), 10))
    # Weekly: the last verified visit 8 days ago (one flagged visit since does not count);
    # 00:30 local on that day is 16:30 UTC the day before: the local day counts.
    await visited(weekly, helper, local(TODAY - timedelta(days=8), 0, 30))
    await visited(weekly, helper, local(TODAY - timedelta(days=1), 10), status="flagged")
    # Monthly: 30 days ago exactly → not overdue yet.
    await visited(monthly, helper, local(TODAY - timedelta(days=30), 15))
    await Pairing.create(community=here, helper=helper, resident=never,
                         status=PairingStatus.APPROVED)  # fmt: skip
    found = await overdue({here.id}, tz=TZ, today=TODAY)
    by_name = {o.name: o for o in found}
    assert set(by_name) == {"每日", "每周", "从未"}
    assert by_name["每日"].overdue_days == 1 and by_name["每日"].every_days == 1
    assert by_name["每周"].overdue_days == 1 and by_name["每周"].last_visit == TODAY - timedelta(8)
    assert by_name["从未"].last_visit is None
    assert by_name["从未"].days_since == (TODAY - date(2026, 8, 1)).days
    assert by_name["从未"].helper_name == "张建国"
    # Most overdue first; at equal days, those living alone first.
    assert [o.name for o in found] == ["从未", "每日", "每周"]
    # The day after, the monthly one is overdue too.
    later = await overdue({here.id}, tz=TZ, today=TODAY + timedelta(days=1))
    assert "每月" in {o.name for o in later}
    # Another community's coordinator sees none of them.
    assert await overdue({here.id + 999}, tz=TZ, today=TODAY) == []
    assert await overdue(set(), tz=TZ, today=TODAY) == []


async def test_dashboard_and_api(app: Any) -> None:
    here = await make_community("桂花社区")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    helper = await make_signed_up(here, "helper", name="张建国")
    alone = await make_signed_up(here, "resident", name="王秀英")
    await Member.filter(id=alone.id).update(created_at=datetime.now(UTC) - timedelta(days=20))
    await ResidentProfile.create(member=alone, hardship="alone")
    await visited(alone, helper, datetime.now(UTC) - timedelta(minutes=20), status="open")
    counts = await today_counts({here.id}, tz=TZ)
    assert counts.in_progress == 1 and counts.visits_flagged == 0
    async with clients_of(app, lead, helper) as (office, other):
        page = await office.get("/dashboard")
        assert page.status_code == 200
        assert f'data-testid="overdue-{alone.id}"' in page.text and "逾期 13 天" in page.text
        assert "王秀英" in page.text and f"/order?resident={alone.id}" in page.text
        assert page.text.count('class="chart"') == 3  # hours by month, visits by week, ratings
        api = await office.get("/api/v1/reports/overdue")
        assert [o["name"] for o in api.json()["overdue"]] == ["王秀英"]
        assert api.json()["overdue"][0]["overdue_days"] == 13
        counted = await office.get("/api/v1/reports/today")
        assert counted.json()["in_progress"] == 1
        send = await office.get(f"/order?resident={alone.id}")
        assert f'value="{alone.id}" selected' in send.text
        assert (await other.get("/dashboard")).status_code == 403
        assert (await other.get("/api/v1/reports/overdue")).status_code == 403


async def test_chart_buckets_and_svg(app: Any) -> None:
    from timebank.reports import charts

    here = await make_community("桂花社区")
    helper = await make_signed_up(here, "helper", name="张建国")
    resident = await make_signed_up(here, "resident", name="陈秀英")
    await visited(resident, helper, local(date(2026, 10, 31), 23, 30))  # October, local
    await visited(resident, helper, local(date(2026, 11, 1), 0, 30))  # November, local
    await Visit.filter(checked_in_at__gte=local(date(2026, 11, 1), 0)).update(
        served_minutes=90, rating=4
    )
    found = await charts.buckets({here.id}, charts.months(TODAY, 2), tz=TZ)
    assert [(b.label, b.visits) for b in found] == [("2026-10", 1), ("2026-11", 1)]
    assert found[1].by_service == {"visit": 90} and found[1].satisfaction == 4
    week_labels = [label for label, _, _ in charts.weeks(TODAY, 3)]
    assert week_labels == ["11-02", "11-09", "11-16"]  # Mondays; TODAY is a Sunday
    svg = charts.stacked_hours(found, {"visit": "探视巡访"}, "每月服务时长")
    assert svg.startswith("<svg") and 'aria-label="每月服务时长"' in svg and "探视巡访" in svg
    assert "<polyline" not in charts.trend(found[:1], "满意度")  # one point: no line


async def test_a_long_list_is_cut_and_downloadable(app: Any) -> None:
    """A district's list can run to hundreds: the page shows the 50 most overdue and says
    how many there are; "show everyone" and the CSV give them all."""
    here = await make_community("桂花社区")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    for n in range(53):
        member = await make_signed_up(here, "resident", name=f"老人{n:02d}")
        # 老人00 was registered longest ago: the most overdue.
        joined = datetime.now(UTC) - timedelta(days=100 - n)
        await Member.filter(id=member.id).update(created_at=joined)
        await ResidentProfile.create(member=member, hardship="alone" if n == 52 else "")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as office:
        await sign_in_client(office, lead)
        page = await office.get("/dashboard")
        shown = page.text.count('data-testid="overdue-')
        assert shown == 50 + 2  # 50 rows, and the "more" and CSV links
        assert "老人00" in page.text and "老人52" not in page.text
        assert "显示逾期最久的 50 人，共 53 人" in page.text
        everyone = await office.get("/dashboard?overdue=all")
        assert "老人52" in everyone.text and 'data-testid="overdue-more"' not in everyone.text
        csv_file = await office.get("/api/v1/reports/overdue?format=csv")
        assert csv_file.status_code == 200
        assert csv_file.headers["content-type"].startswith("text/csv")
        lines = csv_file.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("社区,姓名,编号,电话") and len(lines) == 1 + 53
        first = lines[1].split(",")
        assert first[1] == "老人00" and first[7] == "从未" and int(first[9]) == 100 - 7
        assert "独居" in lines[-1]  # 老人52, the least overdue, lives alone
        bad = await office.get("/api/v1/reports/overdue?format=xls")
        assert bad.status_code == 400 and "json 或 csv" in bad.json()["error"]["messages"]["zh-CN"]
