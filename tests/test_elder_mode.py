"""Elder mode (长辈版): a switch each member turns on or off for themselves, remembered, and
the sign-in page saying why it appeared when a placard sent the visitor there."""

from __future__ import annotations

import re

import httpx

from tests.conftest import make_community, make_signed_up, sign_in_page
from timebank.people.models import Member

ELDER_CLASS = re.compile(r'<html[^>]*class="elder"')


async def csrf_of(client: httpx.AsyncClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/me")).text)
    assert found
    return found.group(1)


async def test_a_resident_turns_elder_mode_on_and_off(client: httpx.AsyncClient) -> None:
    community = await make_community()
    resident = await make_signed_up(community, "resident", name="陈秀英")
    assert (await sign_in_page(client, resident, next="/me")).status_code == 303
    me = await client.get("/me")
    assert 'data-testid="elder-on"' in me.text and "长辈版" in me.text
    assert not ELDER_CLASS.search(me.text)
    csrf = await csrf_of(client)
    done = await client.post(
        "/me/elder-mode", data={"csrf_token": csrf, "elder_mode": "on", "next": "/me/hours"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/me/hours"
    assert (await Member.get(id=resident.id)).elder_mode is True
    hours = await client.get("/me/hours")
    assert ELDER_CLASS.search(hours.text) and 'data-testid="elder-off"' in hours.text
    off = await client.post(
        "/me/elder-mode", data={"csrf_token": csrf, "elder_mode": "off", "next": "//evil.test/"}
    )
    assert off.status_code == 303 and off.headers["location"] == "/me"  # never off-site
    assert (await Member.get(id=resident.id)).elder_mode is False
    assert not ELDER_CLASS.search((await client.get("/me")).text)


async def test_the_elder_switch_refuses_bad_input(client: httpx.AsyncClient) -> None:
    community = await make_community()
    resident = await make_signed_up(community, "resident", name="陈秀英")
    anonymous = await client.post("/me/elder-mode", data={"elder_mode": "on"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")
    await sign_in_page(client, resident, next="/me")
    csrf = await csrf_of(client)
    no_csrf = await client.post("/me/elder-mode", data={"elder_mode": "on"})
    assert no_csrf.status_code == 403
    wrong_csrf = await client.post("/me/elder-mode", data={"csrf_token": "x", "elder_mode": "on"})
    assert wrong_csrf.status_code == 403
    for value in ("", "yes", "1", "ON"):
        bad = await client.post("/me/elder-mode", data={"csrf_token": csrf, "elder_mode": value})
        assert bad.status_code == 422, value
        assert "长辈版" in bad.text and "请选择开启或关闭" in bad.text
    english = await client.post(
        "/me/elder-mode?lang=en", data={"csrf_token": csrf, "elder_mode": "maybe"}
    )
    assert english.status_code == 422 and "Elder mode: choose on or off." in english.text
    nul = await client.post("/me/elder-mode", data={"csrf_token": csrf, "elder_mode": "on\x00"})
    assert nul.status_code in (400, 422)
    assert (await Member.get(id=resident.id)).elder_mode is False  # nothing written


async def test_the_elder_mode_of_one_member_is_theirs_alone(client: httpx.AsyncClient) -> None:
    community = await make_community()
    mother = await make_signed_up(community, "resident", name="陈秀英")
    other = await make_signed_up(community, "resident", name="王秀英")
    await sign_in_page(client, mother, next="/me")
    csrf = await csrf_of(client)
    await client.post("/me/elder-mode", data={"csrf_token": csrf, "elder_mode": "on"})
    assert (await Member.get(id=mother.id)).elder_mode is True
    assert (await Member.get(id=other.id)).elder_mode is False


async def test_an_office_account_sees_the_switch_only_once_it_is_on(
    client: httpx.AsyncClient,
) -> None:
    community = await make_community()
    coordinator = await make_signed_up(community, "coordinator", name="李芳")
    await sign_in_page(client, coordinator, next="/me")
    assert 'data-testid="elder-switch"' not in (await client.get("/me")).text
    csrf = await csrf_of(client)
    await client.post("/me/elder-mode", data={"csrf_token": csrf, "elder_mode": "on"})
    page = (await client.get("/me")).text
    assert 'data-testid="elder-off"' in page and ELDER_CLASS.search(page)  # and can turn it off


async def test_signin_says_a_placard_sent_you(client: httpx.AsyncClient) -> None:
    placard = await client.get("/signin", params={"next": "/v/abc"})
    assert placard.status_code == 200
    assert 'data-testid="signin-reason"' in placard.text
    assert "请先登录，再为这位老人签到" in placard.text
    plain = await client.get("/signin", params={"next": "/me"})
    assert 'data-testid="signin-reason"' not in plain.text
    # The sentence is the server's own; words in the address are never shown as a message.
    forged = await client.get("/signin", params={"next": "/v/请把钱转给李四"})
    assert forged.text.count("请把钱转给李四") <= 1  # only inside the hidden "next" field
    assert not re.search(r">[^<]*请把钱转给李四", forged.text)
    offsite = await client.get("/signin", params={"next": "https://evil.test/v/x"})
    assert 'data-testid="signin-reason"' not in offsite.text
