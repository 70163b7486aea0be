"""Issue 14, spreadsheets, the audit log and messages: formula injection in every export,
anonymous refusals kept out of the audit table, no free text from the URL shown as an
official message (both databases)."""

from __future__ import annotations

import csv
import io
import logging
import re
import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from tests.conftest import (
    clients_of,
    csrf,
    make_community,
    make_signed_up,
    make_world,
    sign_in_client,
)
from timebank.cells import cell, excel_csv
from timebank.ledger import service as ledger
from timebank.people.models import AuditEvent, HelperProfile, Member, ResidentProfile
from timebank.redeem.models import RedeemItem, Redemption
from timebank.refusal_log import RefusalLog
from timebank.visits.models import Visit, VisitStatus

TZ = ZoneInfo("Asia/Shanghai")
LINK = '=HYPERLINK("http://x","y")'
CALC = "=cmd|' /C calc'!A0"
SUM = "@SUM(1)"
EVIL = (LINK, CALC, SUM)


def months_ago(n: int) -> date:
    first = datetime.now(TZ).date().replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


@pytest.fixture
async def evil(app: Any) -> Any:
    """A community named @SUM(1) whose paid helper is =HYPERLINK(...), serving =cmd|...,
    who is overdue a visit; and its coordinator, signed in."""
    here = await make_community(SUM)
    helper = await make_signed_up(here, "helper", name=LINK)
    resident = await make_signed_up(here, "resident", name=CALC)
    coordinator = await make_signed_up(here, "coordinator", name="李芳")
    await HelperProfile.create(member=helper, kind="paid", hourly_rate_fen=2400)
    await ResidentProfile.create(member=resident, emergency_name=SUM, emergency_phone="-1+1")
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await Member.filter(id=resident.id).update(address="+1+cmd", created_at=long_ago)
    at = datetime.combine(months_ago(1) + timedelta(days=3), time(9), tzinfo=TZ)
    await Visit.create(
        community=here, resident=resident, helper=helper, service_code="visit",
        status=VisitStatus.VERIFIED, in_event=uuid.uuid4().hex, checked_in_at=at,
        received_in_at=at, checked_out_at=at + timedelta(minutes=60), served_minutes=60,
        credit_minutes=60, pay_fen=2400, hours=False,
    )  # fmt: skip
    async with clients_of(app, coordinator) as (office,):
        yield {"here": here, "office": office, "month": f"{months_ago(1):%Y-%m}"}


def csv_cells(body: bytes) -> list[str]:
    text = body.decode("utf-8").removeprefix("\ufeff")
    return [value for row in csv.reader(io.StringIO(text)) for value in row]


def assert_csv_safe(body: bytes, expected: tuple[str, ...]) -> None:
    values = csv_cells(body)
    for value in values:
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    for text in expected:
        assert "'" + text in values, (text, values)


def xlsx_cells(body: bytes) -> list[Any]:
    book = load_workbook(io.BytesIO(body))
    found = []
    for sheet in book.worksheets:
        assert isinstance(sheet, Worksheet)
        found += [c for row in sheet.iter_rows() for c in row if c.value is not None]
    return found


def assert_xlsx_safe(body: bytes, expected: tuple[str, ...]) -> None:
    found = xlsx_cells(body)
    for c in found:
        assert c.data_type != "f", c.value
        if isinstance(c.value, str):
            assert c.data_type == "s" and not c.value.startswith(("=", "+", "-", "@")), c.value
    texts = [c.value for c in found if isinstance(c.value, str)]
    for text in expected:
        assert "'" + text in texts, (text, texts)


async def redeem_rice(office: dict[str, Any]) -> httpx.Response:
    """The elder redeems the rice, confirmed, from her page (without enough hours: refused)."""
    elder = office["elder_c"]
    page = await elder.get("/redeem")
    return await elder.post(
        "/redeem",
        data={"csrf_token": csrf(page.text), "item": office["rice"].id,
              "key": form_key(page.text), "confirmed": "yes"},
    )  # fmt: skip


async def test_settlement_csv_and_xlsx_hold_no_formula(evil: dict[str, Any]) -> None:
    url = f"/api/v1/communities/{evil['here'].id}/settlements/{evil['month']}/export"
    as_csv = await evil["office"].get(f"{url}?format=csv")
    assert as_csv.status_code == 200, as_csv.text
    assert_csv_safe(as_csv.content, (LINK, CALC))
    assert any(v.startswith("'@SUM(1) ") for v in csv_cells(as_csv.content))  # the title
    as_xlsx = await evil["office"].get(f"{url}?format=xlsx")
    assert as_xlsx.status_code == 200, as_xlsx.text
    assert_xlsx_safe(as_xlsx.content, (LINK, CALC))
    # Numbers stay numbers.
    assert any(c.value == 60 and c.data_type == "n" for c in xlsx_cells(as_xlsx.content))


async def test_monthly_report_csv_and_xlsx_hold_no_formula(evil: dict[str, Any]) -> None:
    url = f"/api/v1/reports/monthly?month={evil['month']}"
    as_csv = await evil["office"].get(f"{url}&format=csv")
    assert as_csv.status_code == 200, as_csv.text
    assert_csv_safe(as_csv.content, (SUM, f"{SUM}街道", f"{SUM}区"))
    as_xlsx = await evil["office"].get(f"{url}&format=xlsx")
    assert as_xlsx.status_code == 200, as_xlsx.text
    assert_xlsx_safe(as_xlsx.content, (SUM, f"{SUM}街道", f"{SUM}区"))


async def test_overdue_csv_holds_no_formula(evil: dict[str, Any]) -> None:
    as_csv = await evil["office"].get("/api/v1/reports/overdue?format=csv")
    assert as_csv.status_code == 200, as_csv.text
    assert_csv_safe(as_csv.content, (CALC, SUM, "+1+cmd", "-1+1"))


def test_the_cell_rule() -> None:
    for text in (*EVIL, "+1", "-1", "\tx", "\rx", "\0x"):
        assert cell(text) == "'" + text
    for kept in ("陈秀英", "a=b", "'=already", "", " =1"):
        assert cell(kept) == kept
    for number in (-5, -0.5, 0, 12.5):
        assert cell(number) == number
    assert csv_cells(excel_csv([[-5, "-5", LINK]])) == ["-5", "'-5", "'" + LINK]


# Anonymous refusals: the server log, rate-limited; not the audit table -----------------


async def test_anonymous_garbage_scans_leave_the_audit_log_alone(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    here = await make_community()
    helper = await make_signed_up(here, "helper", name="张建国")
    before = await AuditEvent.all().count()
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    caplog.set_level(logging.WARNING, logger="timebank.refusals")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as stranger:
        for i in range(100):
            refused = await stranger.get(f"/v/garbage-{i}%0Aforged-line")
            assert refused.status_code == 403
    assert await AuditEvent.all().count() == before
    lines = [r for r in caplog.records if r.name == "timebank.refusals"]
    assert len(lines) == 1 and address in lines[0].getMessage()
    assert "\n" not in lines[0].getMessage()  # the caller's text cannot forge a log line
    # A signed-in helper's refused scan is still audited.
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as signed:
        await sign_in_client(signed, helper)
        assert (await signed.get("/v/garbage")).status_code == 403
    assert await AuditEvent.filter(action="visit.refused", actor_id=helper.id).count() == 1


def test_the_refusal_log_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limited = RefusalLog(every=60, most_lines=3, most_addresses=2, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="timebank.refusals")
    assert limited.refused("1.1.1.1", "scan", "bad_placard")
    assert not any(limited.refused("1.1.1.1", "scan", "bad_placard") for _ in range(50))
    assert limited.refused("2.2.2.2", "scan", "bad_placard")
    assert limited.refused("3.3.3.3", "scan", "bad_placard")  # forgets 1.1.1.1 (two kept)
    assert not limited.refused("4.4.4.4", "scan", "bad_placard")  # three lines this minute
    assert len(limited._seen) == 2
    now[0] = 61.0
    assert limited.refused("2.2.2.2", "scan", "bad_placard")
    assert "1 from others" in caplog.records[-1].getMessage()
    assert len(caplog.records) == 4


# Messages after a redirect come from the server, never from the URL ------------------

SCAM = "您的账户已冻结，请致电 400-123"


def form_key(html: str) -> str:
    found = re.search(r'name="key" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.fixture
async def office(app: Any) -> Any:
    world = await make_world("lead", "elder", "helper")
    here = world["here"]
    await Member.filter(id=world["elder"].id).update(birth_date=date(1940, 1, 1))
    world["rice"] = await RedeemItem.create(
        community=here, kind="goods", name_zh="大米", name_en="Rice", price_minutes=120, stock=5
    )
    world["given"] = await Redemption.create(
        community=here, item=world["rice"], member=world["elder"], beneficiary=world["elder"],
        minutes=120, status="handed_over", created_at=datetime.now(UTC),
    )  # fmt: skip
    at = datetime.now(UTC) - timedelta(hours=2)
    world["visit"] = await Visit.create(
        community=here, resident=world["elder"], helper=world["helper"], service_code="visit",
        status=VisitStatus.FLAGGED, in_event=uuid.uuid4().hex, checked_in_at=at,
        received_in_at=at, checked_out_at=at + timedelta(minutes=3), served_minutes=3,
        credit_minutes=3,
    )  # fmt: skip
    async with clients_of(app, world["lead"], world["elder"]) as (
        world["lead_c"],
        world["elder_c"],
    ):
        yield world


async def test_error_text_in_the_url_is_never_shown(office: dict[str, Any]) -> None:
    here = office["here"].id
    pages = [
        "/redeem", "/redeem/catalog", "/redeem/handover", f"/grants?community={here}",
        f"/settlements?community={here}", f"/visits/{office['visit'].id}",
        f"/people/{office['elder'].id}/placard",
    ]  # fmt: skip
    for page in pages:
        separator = "&" if "?" in page else "?"
        shown = await office["lead_c"].get(f"{page}{separator}error={quote(SCAM)}")
        assert shown.status_code == 200, (page, shown.text)
        assert "400-123" not in shown.text and "冻结" not in shown.text, page
        assert 'role="alert"' not in shown.text, page
    # Nor is a month that is not one echoed into the page.
    for page in (
        f"/settlements?month={quote(SCAM)}",
        f"/reports?from=2026-10-01&to=2026-10-31&month={quote(SCAM)}",
    ):
        shown = await office["lead_c"].get(page)
        assert shown.status_code in (200, 422) and "400-123" not in shown.text, page


async def refused_then_shown(
    client: httpx.AsyncClient, response: httpx.Response, back: str, text: str
) -> None:
    """A refused form: 303 back to ``back`` (no text in the URL), which shows ``text`` once."""
    assert response.status_code == 303, response.text
    assert response.headers["location"] == back and "error" not in back
    shown = await client.get(back)
    assert shown.status_code == 200 and text in shown.text, (back, text)
    assert 'role="alert"' in shown.text
    assert text not in (await client.get(back)).text  # once


async def test_refusals_still_show_after_the_redirect(office: dict[str, Any]) -> None:
    lead, elder, here = office["lead_c"], office["elder_c"], office["here"].id
    # A redemption without enough hours.
    refused = await redeem_rice(office)
    await refused_then_shown(elder, refused, "/redeem", "时间余额不足")
    # A grant over the community fund's budget (the form used to lose it: a second "?").
    await ledger.set_fund_budget(community_id=here, minutes=30)
    page = await lead.get(f"/grants?community={here}")
    refused = await lead.post(
        f"/grants?community={here}",
        data={"csrf_token": csrf(page.text), "member": office["elder"].id, "minutes": "60",
              "source": "fund", "reason": "兜底", "key": form_key(page.text)},
    )  # fmt: skip
    await refused_then_shown(lead, refused, f"/grants?community={here}", "兜底预算不足")
    # The catalogue form (the same second "?").
    page = await lead.get(f"/redeem/catalog?community={here}")
    refused = await lead.post(
        f"/redeem/catalog?community={here}",
        data={"csrf_token": csrf(page.text), "kind": "goods", "name_zh": "油", "name_en": "Oil",
              "price_minutes": "0"},
    )  # fmt: skip
    back = f"/redeem/catalog?community={here}"
    await refused_then_shown(lead, refused, back, "1 到 6000 分钟")
    # Handing over goods already handed over.
    refused = await lead.post(
        f"/redeem/handover/{office['given'].id}", data={"csrf_token": csrf(page.text)}
    )
    await refused_then_shown(lead, refused, "/redeem/handover", "不在待核销状态")
    # Closing a month that is not over.
    month = datetime.now(TZ).strftime("%Y-%m")
    refused = await lead.post(
        f"/communities/{here}/settlements/{month}/close", data={"csrf_token": csrf(page.text)}
    )
    await refused_then_shown(
        lead, refused, f"/settlements?community={here}&month={month}", "还没有结束"
    )
    # Rejecting a visit without a reason.
    visit = office["visit"].id
    refused = await lead.post(
        f"/visits/{visit}/review", data={"csrf_token": csrf(page.text), "action": "reject"}
    )
    await refused_then_shown(lead, refused, f"/visits/{visit}", "请填写原因")
    # A PIN that is not 4 to 6 digits.
    placard = f"/people/{office['elder'].id}/placard"
    refused = await lead.post(f"{placard}/pin", data={"csrf_token": csrf(page.text), "pin": "1"})
    await refused_then_shown(lead, refused, placard, "确认码须为 4 到 6 位数字")


async def test_a_flashed_message_is_the_servers_own(office: dict[str, Any]) -> None:
    lead, elder = office["lead_c"], office["elder_c"]
    refused = await redeem_rice(office)
    flashed = refused.cookies["tb_flash"]
    # In the reader's language.
    assert "Not enough hours" in (await elder.get("/redeem?lang=en")).text
    # Good only for the session it was made for, and only as signed.
    lead.cookies.set("tb_flash", flashed)
    assert "时间余额不足" not in (await lead.get("/redeem")).text
    elder.cookies.set("tb_flash", flashed[:-2] + "xx")
    assert 'role="alert"' not in (await elder.get("/redeem")).text
