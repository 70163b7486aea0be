"""A member gives or withdraws consent to the use of their data (location at check-in) on
their own page and through the API; the check-in page asks for location only with it
(both databases)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import csrf, make_community, make_signed_up, sign_in_client
from timebank.people.models import AuditEvent, Member
from timebank.visits import placards


def locates(html: str) -> bool:
    found = re.search(r'data-locate="([^"]*)"', html)
    assert found, "no check-in button on the page"
    return found.group(1) == "1"


async def test_consent_on_the_page_and_at_the_door(app: Any) -> None:
    here = await make_community("桂花社区")
    helper = await make_signed_up(here, "helper", name="张建国")
    resident = await make_signed_up(here, "resident", name="陈秀英")
    await make_signed_up(here, "coordinator", name="李芳")
    placard = await placards.placard_of(resident)
    token = placards.make_token(app.state.settings.secret_key, resident.id, placard.generation)
    from timebank.pairing.models import Pairing, PairingStatus

    await Pairing.create(community=here, helper=helper, resident=resident,
                         status=PairingStatus.APPROVED)  # fmt: skip
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        await sign_in_client(client, helper)
        me = await client.get("/me")
        assert 'href="/me/consent"' in me.text
        page = await client.get("/me/consent")
        assert page.status_code == 200 and "您尚未同意" in page.text
        assert not locates((await client.get(f"/v/{token}")).text)
        given = await client.post("/me/consent", data={"csrf_token": csrf(page.text),
                                                        "consent": "give"})  # fmt: skip
        assert given.status_code == 200 and "已记录您的同意" in given.text
        first = (await Member.get(id=helper.id)).consent_at
        assert first is not None and f"您已于 {first.date().isoformat()} 同意" in given.text
        assert locates((await client.get(f"/v/{token}")).text)
        # Giving it again keeps the first date.
        again = await client.post("/me/consent", data={"csrf_token": csrf(given.text),
                                                        "consent": "give"})  # fmt: skip
        assert again.status_code == 200 and (await Member.get(id=helper.id)).consent_at == first
        withdrawn = await client.post("/me/consent", data={"csrf_token": csrf(again.text),
                                                            "consent": "withdraw"})  # fmt: skip
        assert withdrawn.status_code == 200 and "已撤回同意" in withdrawn.text
        assert (await Member.get(id=helper.id)).consent_at is None
        assert not locates((await client.get(f"/v/{token}")).text)
        # A form without a choice, or without the CSRF token, changes nothing.
        bad = await client.post("/me/consent", data={"csrf_token": csrf(withdrawn.text),
                                                      "consent": "maybe"})  # fmt: skip
        assert bad.status_code == 422 and "请选择同意或撤回" in bad.text
        forged = await client.post("/me/consent", data={"consent": "give"})
        assert forged.status_code == 403
        assert (await Member.get(id=helper.id)).consent_at is None
    actions = (
        await AuditEvent.filter(target_id=str(helper.id))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert [a for a in actions if "consent" in a] == [
        "member.consent", "member.consent", "member.consent_withdrawn",
    ]  # fmt: skip


async def test_consent_through_the_api(app: Any) -> None:
    here = await make_community("桂花社区")
    resident = await make_signed_up(here, "resident", name="陈秀英")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        anonymous = await client.put("/api/v1/me/consent", json={"consent": True})
        assert anonymous.status_code == 401
        token = await sign_in_client(client, resident)
        headers = {"x-csrf-token": token}
        yes = await client.put("/api/v1/me/consent", json={"consent": True}, headers=headers)
        assert yes.status_code == 200 and yes.json()["consent"] is True
        assert yes.json()["consent_at"] is not None
        for body in ({"consent": "yes"}, {"consent": 1}, {}):
            bad = await client.put("/api/v1/me/consent", json=body, headers=headers)
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_consent"
            assert "撤回" in bad.json()["error"]["messages"]["zh-CN"]
        not_json = await client.put(
            "/api/v1/me/consent", content=b"yes", headers=headers | {"content-type": "text/plain"}
        )
        assert not_json.status_code == 400
        no = await client.put("/api/v1/me/consent", json={"consent": False}, headers=headers)
        assert no.status_code == 200 and no.json() == {"consent": False, "consent_at": None}
        assert (await Member.get(id=resident.id)).consent_at is None
        unsigned = await client.put("/api/v1/me/consent", json={"consent": True})
        assert unsigned.status_code == 403  # no CSRF token
        assert (await Member.get(id=resident.id)).consent_at is None
