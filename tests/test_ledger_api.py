"""The ledger's API and pages: who may see which account, reversal, checkpoints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import make_community, make_signed_up, sign_in_client
from timebank.ledger import service as ledger
from timebank.ledger.models import LedgerTxn

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
