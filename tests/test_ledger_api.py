"""The ledger's API and pages: who may see which account, reversal, checkpoints."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import clients_of, make_community, make_signed_up, sign_in_client
from timebank.ledger import service as ledger
from timebank.ledger.models import LedgerTxn
from timebank.visits.models import Visit, VisitStatus

HTML = {"accept": "text/html"}


@pytest.fixture
async def town(app: Any) -> dict[str, Any]:
    """Two communities, each with a coordinator and a helper who earned hours."""
    here, there = await make_community("桂花社区"), await make_community("枫林社区")
    people: dict[str, Any] = {
        "coordinator": await make_signed_up(here, "coordinator", name="李芳"),
        "helper": await make_signed_up(here, "helper", name="张建国"),
        "neighbour": await make_signed_up(here, "helper", name="王五"),
        "other_coordinator": await make_signed_up(there, "coordinator", name="周桂兰"),
        "admin": await make_signed_up(there, "admin", name="王明"),
    }
    people["credit"] = await ledger.credit_service(
        helper_id=people["helper"].id, community_id=here.id, minutes=90, visit_id=1, key="c1"
    )
    people["wallet"] = (await ledger.wallet(people["helper"].id)).id
    return people


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("helper", 200),
        ("coordinator", 200),
        ("admin", 200),
        ("neighbour", 403),
        ("other_coordinator", 403),
        (None, 401),
    ],
)
async def test_who_sees_an_account(
    client: httpx.AsyncClient, town: dict[str, Any], who: str | None, status: int
) -> None:
    if who:
        await sign_in_client(client, town[who])
    for path in (
        f"/api/v1/ledger/accounts/{town['wallet']}",
        f"/api/v1/ledger/accounts/{town['wallet']}/statement",
        f"/api/v1/ledger/transactions/{town['credit'].txn.id}",
    ):
        response = await client.get(path)
        assert response.status_code == status, (path, response.text)
    if status == 200:
        body = (await client.get(f"/api/v1/ledger/accounts/{town['wallet']}/statement")).json()
        assert body["account"]["balance"]["available_minutes"] == 90
        assert body["lines"][0]["kind"] == "service_credit"


async def test_unknown_account_is_404(client: httpx.AsyncClient, town: dict[str, Any]) -> None:
    await sign_in_client(client, town["admin"])
    assert (await client.get("/api/v1/ledger/accounts/99999")).status_code == 404
    assert (await client.get("/api/v1/ledger/accounts/abc")).status_code == 404


@pytest.mark.parametrize("who", ["helper", "other_coordinator"])
async def test_only_the_coordinator_reverses(
    client: httpx.AsyncClient, town: dict[str, Any], who: str
) -> None:
    csrf = await sign_in_client(client, town[who])
    response = await client.post(
        f"/api/v1/ledger/transactions/{town['credit'].txn.id}/reversal",
        json={"reason": "错误", "idempotency_key": "r1"},
        headers={"x-csrf-token": csrf},
    )
    assert response.status_code == 403
    assert await LedgerTxn.filter(kind="reversal").count() == 0


async def test_reversal_through_the_api(client: httpx.AsyncClient, town: dict[str, Any]) -> None:
    csrf = await sign_in_client(client, town["coordinator"])
    path = f"/api/v1/ledger/transactions/{town['credit'].txn.id}/reversal"
    assert (
        await client.post(path, json={"reason": "x", "idempotency_key": "k"})
    ).status_code == 403
    no_reason = await client.post(
        path, json={"reason": "", "idempotency_key": "k"}, headers={"x-csrf-token": csrf}
    )
    assert no_reason.status_code == 422
    first = await client.post(
        path, json={"reason": "重复登记", "idempotency_key": "k"}, headers={"x-csrf-token": csrf}
    )
    assert first.status_code == 201
    assert first.json()["reverses"] == town["credit"].txn.id
    again = await client.post(
        path, json={"reason": "重复登记", "idempotency_key": "k"}, headers={"x-csrf-token": csrf}
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    twice = await client.post(
        path, json={"reason": "again", "idempotency_key": "k2"}, headers={"x-csrf-token": csrf}
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_reversed"
    assert (await ledger.balance(town["wallet"])).available == 0


async def test_checkpoints_api(client: httpx.AsyncClient, town: dict[str, Any]) -> None:
    csrf = await sign_in_client(client, town["helper"])
    assert (await client.get("/api/v1/ledger/checkpoints")).status_code == 403
    client.cookies.clear()
    csrf = await sign_in_client(client, town["coordinator"])
    made = await client.post(
        "/api/v1/ledger/checkpoints", json={"note": "月底"}, headers={"x-csrf-token": csrf}
    )
    assert made.status_code == 201 and made.json()["seq"] == 2
    listed = (await client.get("/api/v1/ledger/checkpoints")).json()
    assert [c["hash"] for c in listed] == [made.json()["hash"]]
    too_long = await client.post(
        "/api/v1/ledger/checkpoints", json={"note": "x" * 201}, headers={"x-csrf-token": csrf}
    )
    assert too_long.status_code == 422


async def test_coordinator_pages_and_form_reversal(
    client: httpx.AsyncClient, town: dict[str, Any]
) -> None:
    await sign_in_client(client, town["helper"])
    assert (await client.get("/ledger/accounts", headers=HTML)).status_code == 403
    client.cookies.clear()
    csrf = await sign_in_client(client, town["coordinator"])
    listing = await client.get("/ledger/accounts", headers=HTML)
    assert listing.status_code == 200 and "张建国" in listing.text and "周桂兰" not in listing.text
    page = await client.get(f"/ledger/accounts/{town['wallet']}", headers=HTML)
    assert "1小时30分" in page.text and "冲正这笔交易" in page.text
    form = {"csrf_token": csrf, "key": "abc", "account": str(town["wallet"]), "reason": "录错"}
    path = f"/ledger/transactions/{town['credit'].txn.id}/reverse"
    done = await client.post(path, data=form)
    assert done.status_code == 303
    again = await client.post(path, data=form)  # a double submit: the same reversal
    assert again.status_code == 303
    assert await LedgerTxn.filter(kind="reversal").count() == 1
    other = await client.get(f"/ledger/accounts/{town['wallet']}", headers=HTML)
    assert "0分" in other.text


async def _served(community: Any, helper: Any, resident: Any, code: str) -> Any:
    """A finished visit of ``helper`` at ``resident``'s home (what a credit refers to)."""
    at = datetime.now(UTC) - timedelta(hours=2)
    return await Visit.create(
        community=community, resident=resident, helper=helper, service_code=code,
        status=VisitStatus.VERIFIED, in_event=uuid.uuid4().hex, checked_in_at=at,
        received_in_at=at, checked_out_at=at + timedelta(minutes=45), raw_minutes=45,
        served_minutes=45, credit_minutes=45,
    )  # fmt: skip


async def test_my_hours_is_newest_first_paged_and_says_for_whom(app: Any) -> None:
    """56 movements: the page shows the 50 newest, the newest on top saying whom it served,
    and a link to the older ones; the coordinator's account page and the API the same."""
    here = await make_community("桂花社区")
    helper = await make_signed_up(here, "helper", name="张建国")
    elder = await make_signed_up(here, "resident", name="陈秀英")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    for n in range(55):
        await ledger.grant(community_id=here.id, member_id=helper.id, minutes=30,
                           key=f"old-{n}", actor_id=lead.id, reason=f"第{n + 1}次补贴")  # fmt: skip
    haircut = await _served(here, helper, elder, "haircut")
    await ledger.credit_service(helper_id=helper.id, community_id=here.id, minutes=45,
                                visit_id=haircut.id, key="haircut")  # fmt: skip
    wallet = (await ledger.wallet(helper.id)).id
    async with clients_of(app, helper, lead) as (mine, office):
        page = await mine.get("/me/hours", headers=HTML)
        assert page.status_code == 200
        items = page.text.split('<ol class="movements">')[1].split("</ol>")[0].split("<li>")[1:]
        assert len(items) == 50
        assert "为 陈秀英 上门理发" in items[0] and "+45分" in items[0]
        assert "来自 社区补贴" in items[1] and "第55次补贴" in items[1]
        assert "第6次补贴" not in page.text and "第7次补贴" in page.text  # 6 on the next page
        older = re.search(r'href="\?before=(\d+)"[^>]*data-testid="movements-older"', page.text)
        assert older, "no link to the older movements"
        rest = await mine.get(f"/me/hours?before={older.group(1)}", headers=HTML)
        assert rest.status_code == 200 and "第1次补贴" in rest.text and "第6次补贴" in rest.text
        assert "第7次补贴" not in rest.text and "movements-older" not in rest.text
        assert "回到最新记录" in rest.text
        # The coordinator's view of the account: the same order, the same link.
        account = await office.get(f"/ledger/accounts/{wallet}", headers=HTML)
        first = account.text.split('<ol class="movements">')[1].split("<li>")[1]
        assert "为 陈秀英 上门理发" in first and "movements-older" in account.text
        # The API: newest first, paged by next_before.
        body = (await mine.get("/api/v1/me/hours", params={"limit": 50})).json()
        assert body["order"] == "newest_first" and body["lines"][0]["amount_minutes"] == 45
        assert body["next_after"] is None and body["next_before"] == int(older.group(1))
        tail = (await mine.get("/api/v1/me/hours", params={"before": body["next_before"]})).json()
        assert len(tail["lines"]) == 6 and tail["next_before"] is None
        seqs = [x["seq"] for x in body["lines"] + tail["lines"]]
        assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 56
        statement = await office.get(f"/api/v1/ledger/accounts/{wallet}/statement?limit=1")
        assert statement.json()["lines"][0]["amount_minutes"] == 45
        # Following new movements oldest first still works with after.
        ascending = (await mine.get("/api/v1/me/hours", params={"after": 0, "limit": 2})).json()
        assert ascending["order"] == "oldest_first" and ascending["next_after"] is not None
        assert ascending["lines"][0]["reason"] == "第1次补贴"


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5", str(2**63), "9" * 30])
async def test_a_bad_page_cursor_is_a_clear_4xx(app: Any, raw: str) -> None:
    here = await make_community("桂花社区")
    helper = await make_signed_up(here, "helper", name="张建国")
    lead = await make_signed_up(here, "coordinator", name="李芳")
    wallet = (await ledger.wallet(helper.id)).id
    async with clients_of(app, helper, lead) as (mine, office):
        for client, path in ((mine, "/me/hours"), (office, f"/ledger/accounts/{wallet}")):
            page = await client.get(path, params={"before": raw}, headers=HTML)
            assert page.status_code == 422, (path, raw, page.status_code)
            assert "更早的记录" in page.text  # names the field as the page calls it
        api = await mine.get("/api/v1/me/hours", params={"before": raw})
        assert api.status_code == 422 and api.json()["error"]["details"]["field"] == "before"
        both = await mine.get("/api/v1/me/hours", params={"before": 5, "after": 1})
        assert both.status_code == 422


async def test_a_cursor_past_32_bits_is_fine(app: Any) -> None:
    """Sequence numbers are 64-bit: a cursor past 2**31 reads, on PostgreSQL too."""
    here = await make_community("桂花社区")
    helper = await make_signed_up(here, "helper", name="张建国")
    await ledger.credit_service(helper_id=helper.id, community_id=here.id, minutes=30,
                                visit_id=1, key="one")  # fmt: skip
    async with clients_of(app, helper) as (mine,):
        for before in (2**31, 2**40, 2**63 - 1):
            page = await mine.get("/me/hours", params={"before": before}, headers=HTML)
            assert page.status_code == 200 and "+30分" in page.text
            api = await mine.get("/api/v1/me/hours", params={"before": before})
            assert api.status_code == 200 and len(api.json()["lines"]) == 1
        # And the cursor is a cursor: before the only movement there is nothing.
        seq = api.json()["lines"][0]["seq"]
        empty = await mine.get("/me/hours", params={"before": seq}, headers=HTML)
        assert empty.status_code == 200 and "+30分" not in empty.text
        assert (await mine.get("/api/v1/me/hours", params={"before": seq})).json()["lines"] == []
