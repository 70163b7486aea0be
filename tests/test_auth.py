"""Signing in and out, sessions, CSRF and throttling, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import (
    PASSWORD,
    make_community,
    make_signed_up,
    sign_in_client,
    signin_form_token,
)
from timebank.ledger import service as ledger
from timebank.people.models import Session, SignInAttempt

HTML = {"accept": "text/html"}


@pytest.fixture
async def helper(app: Any) -> Any:
    community = await make_community()
    return await make_signed_up(community, "helper", name="张建国")


async def test_api_sign_in_me_and_sign_out(client: httpx.AsyncClient, helper: Any) -> None:
    assert (await client.get("/api/v1/me")).status_code == 401
    csrf = await sign_in_client(client, helper)
    cookie = client.cookies.get("tb_session")
    assert cookie and helper.phone not in cookie  # only a signed random id
    me = (await client.get("/api/v1/me")).json()
    assert me["name"] == "张建国" and me["roles"][0]["role"] == "helper"
    # Signing out needs the CSRF token, then really ends the session.
    assert (await client.delete("/api/v1/session")).status_code == 403
    assert (
        await client.delete("/api/v1/session", headers={"x-csrf-token": csrf})
    ).status_code == 204
    client.cookies.set("tb_session", cookie)  # a copy kept from before signing out
    assert (await client.get("/api/v1/me")).status_code == 401
    assert await Session.filter(revoked_at__isnull=False).count() == 1


async def test_cookie_flags(client: httpx.AsyncClient, helper: Any) -> None:
    response = await client.post(
        "/api/v1/session", json={"phone": helper.phone, "password": PASSWORD}
    )
    flags = response.headers["set-cookie"]
    assert "HttpOnly" in flags and "SameSite=lax" in flags and "Secure" not in flags


@pytest.mark.parametrize("password", ["wrong-password", ""])
async def test_wrong_password_and_unknown_phone_look_the_same(
    client: httpx.AsyncClient, helper: Any, password: str
) -> None:
    wrong = await client.post("/api/v1/session", json={"phone": helper.phone, "password": password})
    unknown = await client.post(
        "/api/v1/session", json={"phone": "13111111111", "password": PASSWORD}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_credentials"
    assert await Session.all().count() == 0


async def test_repeated_failures_are_throttled(client: httpx.AsyncClient, helper: Any) -> None:
    for _ in range(5):
        await client.post("/api/v1/session", json={"phone": helper.phone, "password": "x"})
    blocked = await client.post(
        "/api/v1/session", json={"phone": helper.phone, "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert "15" in blocked.json()["error"]["messages"]["zh-CN"]
    assert await SignInAttempt.filter(succeeded=False).count() == 5
    assert await Session.all().count() == 0


async def test_bad_json_sign_in_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/session", content=b"phone=1", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_signin_page_flow(client: httpx.AsyncClient, helper: Any) -> None:
    page = await client.get("/signin", headers=HTML)
    assert page.status_code == 200 and 'name="password"' in page.text
    token = await signin_form_token(client)
    bad = await client.post(
        "/signin", data={"phone": helper.phone, "password": "nope", "signin_token": token}
    )
    assert bad.status_code == 401 and "电话号码或密码错误" in bad.text
    good = await client.post(
        "/signin",
        data={
            "phone": helper.phone,
            "password": PASSWORD,
            "next": "//evil.example/",
            "signin_token": token,
        },
    )
    assert good.status_code == 303 and good.headers["location"] == "/me"
    profile = await client.get("/me", headers=HTML)
    assert "张建国" in profile.text and "志愿者 / 结对帮扶人" in profile.text
    # The profile's sign-out form carries the CSRF token; without it nothing happens.
    assert (await client.post("/signout", data={})).status_code == 403
    session = await Session.get()
    out = await client.post("/signout", data={"csrf_token": session.csrf_token})
    assert out.status_code == 303
    assert (await client.get("/me", headers=HTML)).headers["location"] == "/signin?next=/me"


async def test_my_hours_api_and_passbook(client: httpx.AsyncClient, helper: Any) -> None:
    assert (await client.get("/api/v1/me/hours")).status_code == 401
    for n in range(3):
        await ledger.credit_service(
            helper_id=helper.id,
            community_id=helper.community_id,
            minutes=90,
            visit_id=n,
            key=f"v{n}",
        )
    await sign_in_client(client, helper)
    body = (await client.get("/api/v1/me/hours", params={"limit": 2})).json()
    assert body["balance"]["available_minutes"] == 270
    assert [line["amount_minutes"] for line in body["lines"]] == [90, 90]
    # Newest first: the next page is the older one.
    assert [line["available_after_minutes"] for line in body["lines"]] == [270, 180]
    rest = (await client.get("/api/v1/me/hours", params={"before": body["next_before"]})).json()
    assert [line["available_after_minutes"] for line in rest["lines"]] == [90]
    assert rest["next_before"] is None
    for bad in ({"limit": "x"}, {"limit": 0}, {"since": "2026-10-01"}):
        response = await client.get("/api/v1/me/hours", params=bad)
        assert response.status_code == 422, bad
    page = await client.get("/me/hours", headers=HTML)
    assert "4小时30分" in page.text and "提供服务" in page.text and "+1小时30分" in page.text


async def test_old_sign_in_records_are_deleted(client: httpx.AsyncClient, helper: Any) -> None:
    """Attempts (phone and address) are kept 30 days, ended sessions not at all, codes 30
    days after they expired or were used; what is still needed stays."""
    from timebank.people.auth import prune
    from timebank.people.models import SignInCode

    now = datetime.now(UTC)
    await sign_in_client(client, helper)  # a live session and a recent attempt
    live = await Session.get(member=helper)
    old = await SignInAttempt.create(phone=helper.phone, ip="10.0.0.1", succeeded=False)
    await SignInAttempt.filter(id=old.id).update(at=now - timedelta(days=31))
    kept = await SignInAttempt.create(phone=helper.phone, ip="10.0.0.1", succeeded=False)
    await SignInAttempt.filter(id=kept.id).update(at=now - timedelta(days=29))
    for name, expires, revoked in (("expired", -1, None), ("out", 5, -1), ("later", 5, None)):
        await Session.create(
            id=f"s-{name}", member=helper, csrf_token="x", expires_at=now + timedelta(days=expires),
            revoked_at=None if revoked is None else now + timedelta(days=revoked),
        )  # fmt: skip
    for name, expires, used in (("stale", -31, None), ("used", 1, -31), ("fresh", -1, -1)):
        await SignInCode.create(
            member=helper, code_hash=f"{name:0<64}", expires_at=now + timedelta(days=expires),
            used_at=None if used is None else now + timedelta(days=used),
        )  # fmt: skip
    pruned = await prune()
    assert (pruned.attempts, pruned.sessions, pruned.codes) == (1, 2, 2)
    assert not await SignInAttempt.exists(id=old.id) and await SignInAttempt.exists(id=kept.id)
    assert {s.id for s in await Session.all()} == {live.id, "s-later"}
    assert [c.code_hash[:5] for c in await SignInCode.all()] == ["fresh"]
    # The signed-in client is still signed in, and a second run deletes nothing.
    assert (await client.get("/api/v1/me")).status_code == 200
    again = await prune()
    assert (again.attempts, again.sessions, again.codes) == (0, 0, 0)


def full_width(text: str) -> str:
    """``text`` as a Chinese input method types it: digits and + full-width (U+FF01..)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


async def test_full_width_phone_signs_in_on_the_form_and_the_api(
    client: httpx.AsyncClient, helper: Any
) -> None:
    """A phone number typed in full-width digits is the same number: the right password
    signs in (it used to answer "电话号码或密码错误", and count towards the lockout)."""
    wide = "　" + full_width(helper.phone) + " "
    token = await signin_form_token(client)
    page = await client.post(
        "/signin", data={"phone": wide, "password": PASSWORD, "signin_token": token}
    )
    assert page.status_code == 303, page.text[:300]
    api = await client.post("/api/v1/session", json={"phone": wide, "password": PASSWORD})
    assert api.status_code == 200, api.text
    assert await SignInAttempt.filter(succeeded=False).count() == 0


async def test_full_width_sign_in_code_is_the_same_code(
    client: httpx.AsyncClient, helper: Any
) -> None:
    from timebank.people import auth
    from timebank.people.audit import Actor

    code = await auth.issue_code(Actor(helper.id, ""), helper)
    body = {"phone": full_width(helper.phone), "code": full_width(code)}
    response = await client.post("/api/v1/session/code", json=body)
    assert response.status_code == 200, response.text
