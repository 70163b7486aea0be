"""The printed statement and its QR: it decodes, and a coordinator's scan says whether the
paper matches the ledger (both databases)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REQUIRE_ALL, make_community, make_signed_up, sign_in_client
from timebank.ledger import passbook
from timebank.ledger import service as ledger


def scanned(html: str, tmp_path: Path, base_url: str) -> str:
    """The token in a printed statement's QR, decoded with zbar from the page's image."""
    found = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert found, "the statement has no QR"
    png = tmp_path / "statement.png"
    png.write_bytes(base64.b64decode(found.group(1)))
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        if REQUIRE_ALL:
            pytest.fail("the statement QR test needs zbarimg (apt-get install zbar-tools)")
        pytest.skip("the statement QR test needs zbarimg (apt-get install zbar-tools)")
    url = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert url.startswith(base_url + "/statements/")
    return url.rsplit("/", 1)[1]


async def test_statement_qr_proves_the_statement(app: Any, tmp_path: Path) -> None:
    here = await make_community("桂花社区")
    elder = await make_signed_up(here, "resident", name="陈秀英")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    other = await make_signed_up(await make_community("荷塘社区"), "coordinator", name="孙丽")
    for n, minutes in enumerate((120, 45, 30)):
        await ledger.grant(community_id=here.id, member_id=elder.id, minutes=minutes,
                           key=f"statement-{n}", actor_id=lead.id, reason="兜底")  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as mine,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as office,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere,
    ):
        await sign_in_client(mine, elder)
        await sign_in_client(office, lead)
        await sign_in_client(elsewhere, other)
        page = await mine.get("/me/statement")
        assert page.status_code == 200
        assert page.text.count("<tr>") == 1 + 3 and "3小时15分" in page.text
        token = scanned(page.text, tmp_path, app.state.settings.base_url)
        # A coordinator of the community scans it: it matches.
        checked = await office.get(f"/api/v1/statements/{token}")
        assert checked.status_code == 200, checked.text
        body = checked.json()
        assert body["matches"] is True and body["printed"]["count"] == 3
        assert body["printed"]["balance_minutes"] == 195 and body["member_name"] == "陈秀英"
        shown = await office.get(f"/statements/{token}")
        assert 'data-testid="statement-matches"' in shown.text
        # Later movements do not spoil an older statement; its figures stay what was printed.
        await ledger.grant(community_id=here.id, member_id=elder.id, minutes=15,
                           key="statement-later", actor_id=lead.id, reason="兜底")  # fmt: skip
        later = (await office.get(f"/api/v1/statements/{token}")).json()
        assert later["matches"] is True and later["available_now_minutes"] == 210
        # A QR whose figures were changed (say, a bigger balance) is refused: not signed.
        printed = passbook.read(app.state.settings.secret_key, token)
        forged = passbook.sign("some-other-key-of-enough-length-1234", printed)
        assert (await office.get(f"/api/v1/statements/{forged}")).status_code == 403
        payload, _, signature = token.partition(".")
        tampered = f"{payload[:-2]}AA.{signature}"
        assert (await office.get(f"/api/v1/statements/{tampered}")).status_code == 403
        # Figures that do not match the ledger (signed, but not what the ledger holds).
        wrong = passbook.Summary(printed.account_id, printed.through_seq, printed.count,
                                 printed.balance + 60, printed.digest)  # fmt: skip
        differs = await office.get(
            f"/statements/{passbook.sign(app.state.settings.secret_key, wrong)}"
        )
        assert 'data-testid="statement-differs"' in differs.text
        # Only a coordinator of the member's community checks it.
        assert (await elsewhere.get(f"/api/v1/statements/{token}")).status_code == 403
        assert (await mine.get(f"/api/v1/statements/{token}")).status_code == 403


async def test_a_long_history_starts_with_the_balance_brought_forward(
    app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A statement prints the latest movements (a community fund's history runs to many
    thousands): the balance before them comes first, and the QR still proves them all."""
    monkeypatch.setattr(passbook, "MAX_LINES", 3)
    here = await make_community("桂花社区")
    elder = await make_signed_up(here, "resident", name="陈秀英")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    for n, minutes in enumerate((120, 45, 30, 15, 60)):
        await ledger.grant(community_id=here.id, member_id=elder.id, minutes=minutes,
                           key=f"long-{n}", actor_id=lead.id, reason=f"第{n + 1}次")  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as mine,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as office,
    ):
        await sign_in_client(mine, elder)
        await sign_in_client(office, lead)
        page = await mine.get("/me/statement")
        assert page.status_code == 200
        rows = page.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
        assert len(rows) == 1 + 3
        assert "承前余额（此前 2 笔收支未打印）" in rows[0] and ">2小时45分<" in rows[0]  # 120 + 45
        assert "第3次" in rows[1] and "第5次" in rows[3] and "第1次" not in page.text
        assert "4小时30分" in page.text  # the balance: all five
        token = scanned(page.text, tmp_path, app.state.settings.base_url)
        checked = (await office.get(f"/api/v1/statements/{token}")).json()
        assert checked["matches"] is True and checked["printed"]["count"] == 5
    # A short history has nothing brought forward.
    monkeypatch.setattr(passbook, "MAX_LINES", 5)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as mine:
        await sign_in_client(mine, elder)
        whole = await mine.get("/me/statement")
        assert 'data-testid="brought-forward"' not in whole.text and "第1次" in whole.text


async def test_passbook_and_statement_in_plain_words_and_hours(app: Any) -> None:
    """An elder reads 预约占用 / 已退回, not 冻结 / 解冻, and every amount on the statement
    in hours and minutes like her balance, not a bare count of minutes."""
    here = await make_community("桂花社区")
    elder = await make_signed_up(here, "resident", name="陈秀英")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    await ledger.grant(community_id=here.id, member_id=elder.id, minutes=150,
                       key="plain-grant", actor_id=lead.id, reason="兜底")  # fmt: skip
    held = await ledger.reserve(member_id=elder.id, minutes=60, key="plain-hold",
                                actor_id=elder.id)  # fmt: skip
    await ledger.void(reserve_id=held.txn.id, key="plain-void", actor_id=elder.id)
    await ledger.reserve(member_id=elder.id, minutes=45, key="plain-hold-2", actor_id=elder.id)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as mine:
        await sign_in_client(mine, elder)
        hours = await mine.get("/me/hours")
        statement = await mine.get("/me/statement")
        for page in (hours, statement):
            assert page.status_code == 200
            assert "冻结" not in page.text and "解冻" not in page.text
            assert "预约占用" in page.text and "已退回" in page.text
        assert re.search(r"预约占用：\s*45分", hours.text)
        cells = re.findall(r'<td class="num">([^<]*)</td>', statement.text)
        assert cells[:2] == ["+2小时30分", "2小时30分"], cells
        assert all(re.fullmatch(r"[-+]?(\d+小时)?(\d+分)?", c) for c in cells), cells
        assert "分钟数" not in statement.text
