"""Funder figures for a month, checked against a hand-computed fixture: local days, the
month boundary, roll-ups, CSV and XLSX (both databases)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from openpyxl import load_workbook

from tests.conftest import (
    clients_of,
    coordinate_street,
    make_community,
    make_signed_up,
    sign_in_client,
)
from timebank.ledger import service as ledger
from timebank.people.models import Community, Level, ResidentProfile
from timebank.people.service import create_community
from timebank.reports.monthly import report
from timebank.visits.models import Visit, VisitStatus

TZ = ZoneInfo("Asia/Shanghai")
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(UTC)


async def visit(community: Any, resident: Any, helper: Any, when: datetime, minutes: int,
                service: str = "visit", *, status: str = "verified", rating: int | None = None,
                pay_fen: int | None = None) -> None:  # fmt: skip
    await Visit.create(
        community=community, resident=resident, helper=helper, service_code=service,
        status=VisitStatus(status), in_event=uuid.uuid4().hex, checked_in_at=when,
        received_in_at=when, served_minutes=minutes, credit_minutes=minutes, rating=rating,
        pay_fen=pay_fen,
    )  # fmt: skip


async def test_october_figures(app: Any) -> None:
    here = await make_community("桂花社区")
    street = await Community.get(id=here.parent_id)  # type: ignore[attr-defined]
    there = await create_community(name="枫林社区", level=Level.COMMUNITY, parent=street)
    lead = await make_signed_up(here, "coordinator", name="李芳")
    h1 = await make_signed_up(here, "helper", name="张建国")
    h2 = await make_signed_up(here, "helper", name="刘小红")
    r1 = await make_signed_up(here, "resident", name="陈秀英")  # 独居, 低保
    r2 = await make_signed_up(here, "resident", name="王桂兰")  # 特困
    await ResidentProfile.create(member=r1, hardship="alone,dibao")
    await ResidentProfile.create(member=r2, hardship="tekun")
    h3 = await make_signed_up(there, "helper", name="赵德海")
    r3 = await make_signed_up(there, "resident", name="周玉珍")
    # In October (local days):
    await visit(here, r1, h1, at(OCT, 9), 60, "meal_delivery", rating=5)
    await visit(here, r1, h2, at(date(2026, 10, 15), 10), 90, "cleaning", rating=4)
    await visit(here, r2, h1, at(date(2026, 10, 31), 23, 30), 30)  # 15:30 UTC, still Oct
    await visit(there, r3, h3, at(date(2026, 10, 20), 9), 120, "cleaning", pay_fen=5000)
    # Not October: 00:30 on Nov 1 local (16:30 UTC on Oct 31), Sep 30 local, a flagged one.
    await visit(here, r2, h2, at(NOV, 0, 30), 45)
    await visit(here, r1, h1, at(date(2026, 9, 30), 23, 0), 60)
    await visit(here, r1, h1, at(date(2026, 10, 10), 9), 60, status="flagged")
    found = await report([here, there], OCT, NOV, tz=TZ)
    a, b = found.communities
    assert (a.name, a.visits, a.minutes, a.residents, a.helpers) == ("桂花社区", 3, 180, 2, 2)
    assert (a.ratings, a.satisfaction, a.pay_fen) == (2, 4.5, 0)
    assert a.by_service == {"meal_delivery": [1, 60], "cleaning": [1, 90], "visit": [1, 30]}
    assert a.by_category == {"alone": [2, 150], "dibao": [2, 150], "tekun": [1, 30]}
    assert (b.visits, b.minutes, b.pay_fen, b.satisfaction) == (1, 120, 5000, None)
    (street_total, district_total) = found.rollups
    assert street_total.name == "桂花社区街道" and street_total.visits == 4
    assert street_total.minutes == 300 and street_total.residents == 3
    assert district_total.level == "district" and district_total.by_service["cleaning"] == [2, 210]
    # Hours earned and redeemed come from the ledger's postings in the period.
    assert a.earned == 0 and a.redeemed == 0
    async with clients_of(app, lead) as (office,):
        api = await office.get("/api/v1/reports/monthly?month=2026-10")
        assert api.status_code == 200
        mine = api.json()["communities"]
        assert [c["name"] for c in mine] == ["桂花社区"]  # only what the coordinator sees
        assert mine[0]["visits"] == 3 and mine[0]["satisfaction"] == 4.5
        xlsx = await office.get("/api/v1/reports/monthly?month=2026-10&format=xlsx")
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet is not None
        assert sheet["A2"].value == "地区" and sheet["C2"].value == "服务人次"
        assert sheet["A3"].value == "桂花社区" and sheet["C3"].value == 3 and sheet["D3"].value == 3
        csv_file = await office.get("/api/v1/reports/monthly?month=2026-10&format=csv")
        assert csv_file.content.decode("utf-8").startswith("\ufeff时间银行服务统计")
        period = await office.get("/api/v1/reports/monthly?from=2026-10-31&to=2026-11-01")
        assert period.json()["communities"][0]["visits"] == 2  # Oct 31 and Nov 1, local
        bad = await office.get("/api/v1/reports/monthly?month=October")
        assert bad.status_code == 422
        page = await office.get("/reports?month=2026-10")
        # 桂花社区街道 also holds 枫林社区, which 李芳 does not coordinate: no roll-up row.
        assert page.status_code == 200 and "桂花社区街道" not in page.text
        assert (
            await office.get(f"/api/v1/reports/monthly?community={there.id}")
        ).status_code == 403


async def test_hours_earned_and_redeemed(app: Any) -> None:
    here = await make_community("桂花社区")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    helper = await make_signed_up(here, "helper", name="张建国")
    await ledger.credit_service(helper_id=helper.id, community_id=here.id, minutes=90,
                                visit_id="r1", key="report-credit")  # fmt: skip
    await ledger.redeem(member_id=helper.id, minutes=30, key="report-redeem",
                        actor_id=helper.id)  # fmt: skip
    await ledger.grant(community_id=here.id, member_id=helper.id, minutes=60, key="report-g",
                       actor_id=lead.id, reason="不算获得")  # fmt: skip
    today = datetime.now(TZ).date()
    found = await report([here], today, today + timedelta(days=1), tz=TZ)
    assert (found.communities[0].earned, found.communities[0].redeemed) == (90, 30)


async def test_a_renamed_service_has_one_name(app: Any) -> None:
    """A community's own name of a service is what its reports show; figures that add up
    communities naming it differently show the default name, in the reader's language."""
    from timebank.catalog.service import names_across, service_names, update_service
    from timebank.people.audit import Actor
    from timebank.reports.export import headers

    here = await make_community("桂花社区")
    street = await Community.get(id=here.parent_id)  # type: ignore[attr-defined]
    there = await create_community(name="枫林社区", level=Level.COMMUNITY, parent=street)
    assert (await names_across({here.id, there.id}, "zh-CN"))["companionship"] == "陪聊/心理慰藉"
    await update_service(Actor.system(), here, "cleaning", {"name_zh": "家政保洁"})
    assert (await service_names(here, "zh-CN"))["cleaning"] == "家政保洁"
    assert (await names_across({here.id}, "zh-CN"))["cleaning"] == "家政保洁"
    assert (await names_across({here.id}, "en"))["cleaning"] == "Cleaning"
    both = await names_across({here.id, there.id}, "zh-CN")  # "there" keeps the default
    assert both["cleaning"] == "助洁" and both["meal_help"] == "助餐"
    r = await make_signed_up(here, "resident", name="陈秀英")
    h = await make_signed_up(here, "helper", name="张建国")
    await visit(here, r, h, at(date(2026, 10, 15), 10), 90, "cleaning")
    found = await report([here], OCT, NOV, tz=TZ)
    assert "家政保洁（人次）" in headers(found, await names_across({here.id}, "zh-CN"))


async def test_roll_ups_only_for_levels_the_reader_fully_covers(app: Any) -> None:
    """A community's coordinator gets their community's figures, not the same figures
    labelled as the sub-district's and district's totals (page, JSON and Excel alike); a
    sub-district's coordinator gets the sub-district's total, the admin every level."""
    here = await make_community("桂花社区")
    street = await Community.get(id=here.parent_id)  # type: ignore[attr-defined]
    there = await create_community(name="枫林社区", level=Level.COMMUNITY, parent=street)
    lead = await make_signed_up(here, "coordinator", name="李芳")
    wu = await make_signed_up(here, "coordinator", name="吴涛")
    await coordinate_street(wu, here)
    admin = await make_signed_up(here, "admin", name="管理员")
    h1 = await make_signed_up(here, "helper", name="张建国")
    r1 = await make_signed_up(here, "resident", name="陈秀英")
    h2 = await make_signed_up(there, "helper", name="赵德海")
    r2 = await make_signed_up(there, "resident", name="周玉珍")
    await visit(here, r1, h1, at(date(2026, 10, 15), 10), 60)
    await visit(there, r2, h2, at(date(2026, 10, 16), 10), 60)
    assert (await report([here], OCT, NOV, tz=TZ)).rollups == []
    seen: dict[str, list[tuple[str, int]]] = {}
    transport = httpx.ASGITransport(app=app)
    for who in (lead, wu, admin):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as office:
            await sign_in_client(office, who)
            body = (await office.get("/api/v1/reports/monthly?month=2026-10")).json()
            seen[who.name] = [(f["name"], f["visits"]) for f in body["rollups"]]
            page = await office.get("/reports?month=2026-10")
            xlsx = await office.get("/api/v1/reports/monthly?month=2026-10&format=xlsx")
            sheet = load_workbook(io.BytesIO(xlsx.content)).active
            assert sheet is not None
            rows = [str(r[0]) for r in sheet.iter_rows(values_only=True)]
            for name, _ in seen[who.name]:
                assert name in page.text and name in rows
            if who is lead:
                assert "桂花社区街道" not in page.text and "桂花社区街道" not in rows
    assert seen["李芳"] == []
    assert seen["吴涛"] == seen["管理员"] == [("桂花社区街道", 2), ("桂花社区区", 2)]
