"""Attacks on signing in (issue 14, items 4-6 and non-ASCII CSRF), on both databases.

Parallel guesses of passwords, one-time codes and the placard PIN; the event loop while
argon2 works; the time an unknown phone costs; login CSRF on the forms and the API.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from tests.conftest import (
    PASSWORD,
    make_community,
    make_member,
    make_signed_up,
    sign_in_client,
    signin_form_token,
)
from tests.test_visits import backdate, finish, order_now, start, w  # noqa: F401
from timebank.errors import TimebankError
from timebank.people import auth
from timebank.people.audit import Actor
from timebank.people.auth import MAX_FAILS_PER_IP, MAX_FAILS_PER_PHONE
from timebank.people.models import Member, Session
from timebank.people.service import hash_password
from timebank.visits import placards
from timebank.visits.models import Visit

HTML = {"accept": "text/html"}


class Spy:
    """Counts calls of a function (from any thread) and passes them on."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real, self.calls, self._lock = real, 0, threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
        return self.real(*args, **kwargs)


@pytest.fixture
def argon2_verify(monkeypatch: pytest.MonkeyPatch) -> Spy:
    """Every real argon2 password check, counted."""
    spy = Spy(PasswordHasher.verify)
    monkeypatch.setattr(PasswordHasher, "verify", lambda self, *a: spy(self, *a))
    return spy


def hashing_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the name of the thread each argon2 hash runs on."""
    threads: list[str] = []
    real = PasswordHasher.hash

    def recording_hash(self: PasswordHasher, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", recording_hash)
    return threads


@pytest.fixture
async def helper(app: Any) -> Any:
    return await make_signed_up(await make_community(), "helper", name="张建国")


async def guess(client: httpx.AsyncClient, phone: str, password: str) -> int:
    response = await client.post("/api/v1/session", json={"phone": phone, "password": password})
    return response.status_code


# Item 4: count before checking, atomically.


async def test_fifty_parallel_password_guesses_check_at_most_the_limit(
    client: httpx.AsyncClient, helper: Any, argon2_verify: Spy
) -> None:
    answers = await asyncio.gather(*(guess(client, helper.phone, f"guess-{i}") for i in range(50)))
    assert argon2_verify.calls <= MAX_FAILS_PER_PHONE
    assert set(answers) <= {401, 429} and answers.count(401) == argon2_verify.calls
    # Once the limit is reached (a burst may have been refused whole, checking none) the
    # right password, among more guesses, does not get in.
    while argon2_verify.calls < MAX_FAILS_PER_PHONE:
        assert await guess(client, helper.phone, "one-more") == 401
    checked = argon2_verify.calls
    more = [guess(client, helper.phone, f"again-{i}") for i in range(20)]
    more.insert(10, guess(client, helper.phone, PASSWORD))
    answers = await asyncio.gather(*more)
    assert set(answers) == {429} and argon2_verify.calls == checked
    assert await Session.all().count() == 0


async def test_parallel_guesses_from_one_address_check_at_most_its_limit(
    client: httpx.AsyncClient, app: Any, argon2_verify: Spy
) -> None:
    community = await make_community()
    first = await make_signed_up(community, "resident")
    phones = [first.phone]
    for _ in range(MAX_FAILS_PER_IP + 9):
        phones.append((await make_member(community, "resident")).phone)
    await Member.filter(phone__in=phones).update(password_hash=first.password_hash)
    answers = await asyncio.gather(*(guess(client, phone, "not-it-1") for phone in phones))
    assert argon2_verify.calls <= MAX_FAILS_PER_IP
    assert answers.count(401) == argon2_verify.calls and answers.count(429) >= 9


async def test_fifty_parallel_code_guesses_check_at_most_the_limit(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    community = await make_community()
    coordinator = await make_signed_up(community, "coordinator")
    resident = await make_member(community, "resident", name="陈秀英")
    code = await auth.issue_code(Actor(coordinator.id, ""), resident)
    checks = Spy(auth._code_hash)
    monkeypatch.setattr(auth, "_code_hash", checks)

    async def try_code(value: str) -> int:
        body = {"phone": resident.phone, "code": value}
        return (await client.post("/api/v1/session/code", json=body)).status_code

    wrong = [f"{(int(code) + i) % 10**8:08d}" for i in range(1, 51)]
    answers = await asyncio.gather(*(try_code(value) for value in wrong))
    assert checks.calls <= MAX_FAILS_PER_PHONE
    assert set(answers) <= {401, 429} and answers.count(401) == checks.calls
    # Up to the limit (a burst may have been refused whole, checking none), then the
    # right code is refused too.
    while checks.calls < MAX_FAILS_PER_PHONE:
        assert await try_code(wrong[0]) == 401
    assert await try_code(code) == 429 and checks.calls == MAX_FAILS_PER_PHONE
    assert await Session.all().count() == 0


async def test_fifty_parallel_pin_guesses_check_at_most_three(
    w: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_pin = await w["c"].put(
        f"/api/v1/members/{w['resident'].id}/placard/pin", json={"pin": "2580"}, headers=w["ch"]
    )
    assert set_pin.status_code == 200
    await order_now(w, service="bathing")
    opened = await start(w)
    await backdate(opened.json()["id"], 60)
    checks = Spy(placards.pin_matches)
    monkeypatch.setattr(placards, "pin_matches", checks)
    answers = await asyncio.gather(*(finish(w, pin=f"{1000 + i}") for i in range(50)))
    codes = [a.json()["error"]["code"] for a in answers]
    assert checks.calls == 3 and codes.count("wrong_pin") == 3
    assert set(codes) == {"wrong_pin", "pin_locked"}
    assert (await Visit.get(id=opened.json()["id"])).pin_failures == 3
    # The right PIN no longer helps, and is not checked.
    locked = await finish(w, pin="2580")
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "pin_locked"
    assert checks.calls == 3


async def test_a_right_pin_does_not_use_up_a_try(w: dict[str, Any]) -> None:  # noqa: F811
    await w["c"].put(
        f"/api/v1/members/{w['resident'].id}/placard/pin", json={"pin": "2580"}, headers=w["ch"]
    )
    await order_now(w, service="bathing")
    opened = await start(w)
    await backdate(opened.json()["id"], 60)
    wrong = await finish(w, pin="1111")
    assert wrong.json()["error"]["details"]["tries_left"] == 2
    right = await finish(w, pin="2580")
    assert right.status_code == 200 and right.json()["confirmed_by"] == "pin"
    assert (await Visit.get(id=opened.json()["id"])).pin_failures == 1


async def test_a_pin_is_hashed_off_the_event_loop(
    w: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Setting a PIN hashes it in the argon2 pool; digits that are not 0-9 once made plain
    (Arabic-Indic ones) are not a PIN."""
    url = f"/api/v1/members/{w['resident'].id}/placard/pin"
    other = await w["c"].put(url, json={"pin": "٢٥٨٠"}, headers=w["ch"])
    assert other.status_code == 422 and other.json()["error"]["code"] == "bad_pin"
    threads = hashing_threads(monkeypatch)
    assert (await w["c"].put(url, json={"pin": "2580"}, headers=w["ch"])).status_code == 200
    assert len(threads) == 1 and threads[0].startswith("argon2"), threads


@pytest.mark.parametrize(("saved", "typed"), [("２５８０", "2580"), ("2580", "２５８０ ")])
async def test_a_full_width_pin_is_the_same_pin(
    w: dict[str, Any],  # noqa: F811
    saved: str,
    typed: str,
) -> None:
    """A PIN typed with a Chinese input method's full-width digits, at the office or at the
    door, is the PIN in plain digits (it used to be saved and then never match)."""
    url = f"/api/v1/members/{w['resident'].id}/placard/pin"
    assert (await w["c"].put(url, json={"pin": saved}, headers=w["ch"])).status_code == 200
    await order_now(w, service="bathing")
    opened = await start(w)
    await backdate(opened.json()["id"], 60)
    right = await finish(w, pin=typed)
    assert right.status_code == 200 and right.json()["confirmed_by"] == "pin", right.text


# Item 5: argon2 off the event loop, and the same work for unknown phones.


async def test_the_server_answers_while_a_password_is_checked(
    client: httpx.AsyncClient, helper: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    started, release = threading.Event(), threading.Event()
    real = PasswordHasher.verify

    def slow_verify(self: PasswordHasher, *args: Any) -> Any:
        order.append("verify started")
        started.set()
        release.wait(timeout=10)  # a safety net only: the test releases it
        order.append("verify done")
        return real(self, *args)

    monkeypatch.setattr(PasswordHasher, "verify", slow_verify)
    signing_in = asyncio.create_task(guess(client, helper.phone, PASSWORD))
    while not started.is_set() and not signing_in.done():
        await asyncio.sleep(0)
    health = await client.get("/healthz")
    order.append(f"healthz {health.status_code}")
    release.set()
    assert await signing_in == 200
    assert order == ["verify started", "healthz 200", "verify done"]


async def test_few_password_checks_run_at_once(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, most = 0, 0
    changed = threading.Condition()
    real = PasswordHasher.verify

    def counted(self: PasswordHasher, *args: Any) -> Any:
        nonlocal running, most
        with changed:
            running += 1
            most = max(most, running)
            changed.notify_all()
            # Hold on until a second check runs beside this one (the pool has room for
            # it), then a little longer, for more to pile up if the pool let them.
            changed.wait_for(lambda: most >= 2, timeout=5)
        time.sleep(0.05)
        with changed:
            running -= 1
        return real(self, *args)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    phones = [f"1361234{i:04d}" for i in range(12)]  # unknown: each checks a dummy hash
    answers = await asyncio.gather(*(guess(client, phone, "wrong-password") for phone in phones))
    assert answers == [401] * 12
    assert 2 <= most <= 4


async def test_an_unknown_phone_costs_one_real_password_check(
    client: httpx.AsyncClient, helper: Any, argon2_verify: Spy
) -> None:
    community = await make_community("荷塘社区")
    no_password = await make_member(community, "resident")
    gone = await make_signed_up(community, "resident")
    await Member.filter(id=gone.id).update(is_active=False)
    for phone in ("13111111111", no_password.phone, gone.phone, helper.phone):
        before = argon2_verify.calls
        assert await guess(client, phone, "wrong-password") == 401
        assert argon2_verify.calls == before + 1, phone


# Item 6: login CSRF.


@pytest.mark.parametrize("path", ["/signin", "/signin/code"])
async def test_sign_in_forms_refuse_a_post_without_their_token(
    client: httpx.AsyncClient, helper: Any, path: str
) -> None:
    form = {"phone": helper.phone, "password": PASSWORD, "code": "12345678"}
    missing = await client.post(path, data=form, headers=HTML)
    assert missing.status_code == 403 and "登录页面已过期或来源不明" in missing.text
    token = await signin_form_token(client, path)
    wrong = await client.post(path, data={**form, "signin_token": token[:-1] + "x"})
    assert wrong.status_code == 403
    client.cookies.set("tb_lang", "en")
    english = await client.post(path, data={**form, "signin_token": "é"}, headers=HTML)
    assert english.status_code == 403 and "did not come from this site" in english.text
    # A cross-site page has no cookie to match, whatever the field says.
    client.cookies.clear()
    assert (await client.post(path, data={**form, "signin_token": token})).status_code == 403
    for response in (missing, wrong, english):
        assert "tb_session" not in response.headers.get("set-cookie", "")
    assert await Session.all().count() == 0


async def test_sign_in_form_with_its_token_signs_in(client: httpx.AsyncClient, helper: Any) -> None:
    page = await client.get("/signin?next=/me", headers=HTML)
    cookie = page.headers["set-cookie"]
    assert "tb_signin=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    token = await signin_form_token(client)
    form = {"phone": helper.phone, "password": PASSWORD, "signin_token": token, "next": "/me"}
    signed_in = await client.post("/signin", data=form)
    assert signed_in.status_code == 303 and client.cookies.get("tb_session")
    assert client.cookies.get("tb_signin") is None  # used up: the next form gets a new one


@pytest.mark.parametrize("path", ["/api/v1/session", "/api/v1/session/code"])
async def test_session_api_takes_only_json(
    client: httpx.AsyncClient, helper: Any, path: str
) -> None:
    body = {"phone": helper.phone, "password": PASSWORD, "code": "12345678"}
    raw = json.dumps(body).encode()
    # What a page on another site can send without asking: a form, or text.
    for response in (
        await client.post(path, data=body),
        await client.post(path, files={"phone": (None, helper.phone)}),
        await client.post(path, content=raw, headers={"content-type": "text/plain"}),
        await client.post(path, content=raw),
    ):
        assert response.status_code == 415
        error = response.json()["error"]
        assert error["code"] == "json_required" and "JSON" in error["messages"]["zh-CN"]
        assert "tb_session" not in response.headers.get("set-cookie", "")
    assert await Session.all().count() == 0
    charset = {"content-type": "application/json; charset=utf-8"}
    assert (await client.post(path, content=raw, headers=charset)).status_code in (200, 401)


# Non-ASCII CSRF tokens are refused, not a 500.


async def test_non_ascii_csrf_header_and_form_value_are_refused(
    client: httpx.AsyncClient, helper: Any
) -> None:
    await sign_in_client(client, helper)
    header = await client.delete("/api/v1/session", headers={"x-csrf-token": "é".encode("latin-1")})
    assert header.status_code == 403 and header.json()["error"]["code"] == "csrf_failed"
    utf8 = await client.delete("/api/v1/session", headers={"x-csrf-token": "密".encode()})
    assert utf8.status_code == 403
    form = await client.post("/signout", data={"csrf_token": "é密\U0001f600"}, headers=HTML)
    assert form.status_code == 403
    client.cookies.delete("tb_session")
    signin = await client.post("/signin", data={"phone": helper.phone, "signin_token": "é"})
    assert signin.status_code == 403
    assert await Session.filter(revoked_at=None).count() == 1  # still signed in


async def test_two_clients_keep_their_own_sign_in_tokens(app: Any, helper: Any) -> None:
    async with AsyncExitStack() as stack:
        one, two = [
            await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            )
            for _ in range(2)
        ]
        token_one, token_two = await signin_form_token(one), await signin_form_token(two)
        assert token_one != token_two
        form = {"phone": helper.phone, "password": PASSWORD, "signin_token": token_one}
        assert (await two.post("/signin", data=form)).status_code == 403
        assert (await one.post("/signin", data=form)).status_code == 303


async def test_a_password_that_is_not_text_is_a_4xx_not_a_500(
    client: httpx.AsyncClient, helper: Any
) -> None:
    """A lone surrogate is refused at the input boundary (read_json), naming the field;
    ``hash_password`` refuses it too, for callers that do not come through JSON."""
    csrf = await sign_in_client(client, helper)
    raw = json.dumps({"current": PASSWORD, "new": "long enough \ud800"}).encode()
    headers = {"x-csrf-token": csrf, "content-type": "application/json"}
    response = await client.put("/api/v1/me/password", content=raw, headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"]["field"] == "new" and error["messages"]["zh-CN"]
    with pytest.raises(TimebankError) as refused:
        hash_password("long enough \ud800")
    assert refused.value.code == "invalid_password" and "密码" in refused.value.zh
    # Nothing changed: the old password still signs in, a lone surrogate does not.
    client.cookies.clear()
    surrogate = json.dumps({"phone": helper.phone, "password": "\ud800"}).encode()
    wrong = await client.post(
        "/api/v1/session", content=surrogate, headers={"content-type": "application/json"}
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["details"]["field"] == "password"
    assert await guess(client, helper.phone, PASSWORD) == 200


async def test_passwords_set_by_a_coordinator_are_hashed_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registering a member with a password and resetting one hash in the argon2 pool, not
    on the thread that serves every other request."""
    here = await make_community()
    coordinator = await make_signed_up(here, "coordinator", name="协调员")
    resident = await make_member(here, "resident", name="王秀兰")
    token = await sign_in_client(client, coordinator)
    threads = hashing_threads(monkeypatch)
    headers = {"x-csrf-token": token}
    reset = await client.patch(
        f"/api/v1/members/{resident.id}", json={"password": "a-new-password-1"}, headers=headers
    )
    assert reset.status_code == 200, reset.text
    created = await client.post(
        "/api/v1/members",
        json={
            "community": here.id,
            "name": "李明",
            "phone": "13712345678",
            "roles": ["helper"],
            "password": "another-password-2",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert len(threads) == 2 and all(name.startswith("argon2") for name in threads), threads
    short = await client.patch(
        f"/api/v1/members/{resident.id}", json={"password": "short"}, headers=headers
    )
    assert short.status_code == 422 and "password" in short.json()["error"]["messages"]["en"]
    assert len(threads) == 2  # a refused password is not hashed at all
    signed_in = await client.post(
        "/api/v1/session", json={"phone": resident.phone, "password": "a-new-password-1"}
    )
    assert signed_in.status_code == 200


async def test_the_dummy_hash_is_made_at_start_up(settings: Any) -> None:
    """The first unknown phone after a restart must not pay for making the dummy hash."""
    from timebank.app import create_app
    from timebank.people import service

    service._dummy_hash.cache_clear()
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        assert service._dummy_hash.cache_info().currsize == 1


async def test_a_stolen_session_cannot_guess_the_password(
    client: httpx.AsyncClient, helper: Any, argon2_verify: Spy
) -> None:
    """PUT /me/password checks the current password like a sign-in: 50 parallel wrong
    guesses check at most the phone's limit, and once the limit is reached even the right
    password is refused until the window ends."""
    csrf = await sign_in_client(client, helper)
    argon2_verify.calls = 0
    headers = {"x-csrf-token": csrf}

    async def change(current: str) -> int:
        body = {"current": current, "new": "a-brand-new-password"}
        return (await client.put("/api/v1/me/password", json=body, headers=headers)).status_code

    answers = await asyncio.gather(*(change(f"wrong-{n}") for n in range(50)))
    assert argon2_verify.calls <= MAX_FAILS_PER_PHONE
    assert answers.count(403) <= MAX_FAILS_PER_PHONE and set(answers) <= {403, 429}
    one_by_one = [await change(f"again-{n}") for n in range(MAX_FAILS_PER_PHONE + 1)]
    assert one_by_one.count(403) + answers.count(403) == MAX_FAILS_PER_PHONE
    assert one_by_one[-1] == 429 and argon2_verify.calls == MAX_FAILS_PER_PHONE
    before = (await Member.get(id=helper.id)).password_hash
    assert await change(PASSWORD) == 429
    assert (await Member.get(id=helper.id)).password_hash == before  # nothing changed
