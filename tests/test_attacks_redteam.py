"""Red team of issue 14's merged fixes: each hole found by attacking the merged code, tried
again through the HTTP interfaces on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from tests.conftest import as_, balance, coordinate_street, key, make_signed_up, make_world
from timebank.ledger import service as ledger
from timebank.people.models import FamilyLink, MemberRole, Relation


@pytest.fixture
async def w(app: Any) -> Any:
    world = await make_world("admin", "coordinator", "second", "street", "mother")
    world["app"] = app
    await coordinate_street(world["street"], world["here"])
    async with AsyncExitStack() as stack:
        world["stack"] = stack
        yield world


async def mother_of(w: dict[str, Any], name: str) -> None:
    """The admin recorded that ``w["mother"]`` is ``w[name]``'s mother."""
    child, mother = w[name], w["mother"]
    await FamilyLink.create(member=child, relative=mother, relation=Relation.PARENT)
    await FamilyLink.create(member=mother, relative=child, relation=Relation.CHILD)


async def test_a_coordinator_cannot_unlink_herself_from_her_family(w: dict[str, Any]) -> None:
    """Unlinking her mother (through the API or the page) would let her grant her mother
    hours alone: a family link is removed only by someone who manages both its members."""
    await mother_of(w, "coordinator")
    coordinator, h = await as_(w, "coordinator")
    link = await FamilyLink.get(member=w["mother"], relative=w["coordinator"])
    api = await coordinator.delete(f"/api/v1/members/{w['mother'].id}/family/{link.id}", headers=h)
    assert api.status_code == 403, api.text
    page = await coordinator.post(
        f"/people/{w['mother'].id}/family/{link.id}/delete",
        data={"csrf_token": h["x-csrf-token"]},
    )
    assert page.status_code in (303, 403), page.text
    assert await FamilyLink.filter(member=w["mother"], relative=w["coordinator"]).exists()
    grant = await coordinator.post(
        "/api/v1/grants",
        json={"member": w["mother"].id, "minutes": 30, "reason": "补贴", "key": key()},
        headers=h,
    )
    assert grant.status_code == 201 and grant.json()["status"] == "pending", grant.text
    assert await balance(w["mother"]) == 0


@pytest.mark.parametrize("raw", ["٣", "99999999999999999999999", "2147483648", "0"])
async def test_a_page_asked_for_a_community_that_cannot_exist_is_404(
    w: dict[str, Any], raw: str
) -> None:
    """?community= with a superscript digit or an id beyond 32 bits was a 500 on every page
    with a community picker."""
    for who in ("coordinator", "admin"):
        client, _ = await as_(w, who)
        for page in ("/grants", "/redeem/catalog", "/settlements", "/placards", "/order"):
            answer = await client.get(f"{page}?community={raw}", headers={"accept": "text/html"})
            assert answer.status_code in (403, 404), (who, page, answer.status_code)


async def test_a_superscript_digit_asks_for_that_community(w: dict[str, Any]) -> None:
    """?community=² was a 500; numbers are now read after NFKC (issue 16, item 9), so it asks
    for community 2 and is answered exactly as ?community=2 is."""
    for who in ("coordinator", "admin"):
        client, _ = await as_(w, who)
        for page in ("/grants", "/redeem/catalog", "/settlements", "/placards", "/order"):
            html = {"accept": "text/html"}
            plain = await client.get(f"{page}?community=2", headers=html)
            odd = await client.get(f"{page}?community=²", headers=html)
            assert odd.status_code == plain.status_code < 500, (who, page, odd.status_code)


async def test_nobody_sets_the_pin_of_a_resident_they_or_their_family_serve(
    w: dict[str, Any],
) -> None:
    """The PIN is the resident's confirmation of a visit: a coordinator who serves the
    resident (or whose husband does) set it herself, then "confirmed" her own check-out."""
    from timebank.pairing.models import Pairing, PairingStatus
    from timebank.people.models import HelperProfile, Role
    from timebank.visits.models import Placard

    await MemberRole.create(member=w["coordinator"], role=Role.HELPER, community_id=w["here"].id)
    await HelperProfile.create(member=w["coordinator"])
    await Pairing.create(
        community=w["here"], helper=w["coordinator"], resident=w["mother"],
        status=PairingStatus.APPROVED, proposed_by_id=w["second"].id,
    )  # fmt: skip
    coordinator, h = await as_(w, "coordinator")
    url = f"/api/v1/members/{w['mother'].id}/placard/pin"
    own = await coordinator.put(url, json={"pin": "4321"}, headers=h)
    assert own.status_code == 403, own.text
    page = await coordinator.post(
        f"/people/{w['mother'].id}/placard/pin",
        data={"pin": "4321", "csrf_token": h["x-csrf-token"]},
    )
    assert page.status_code == 403, page.text
    assert not any(p.pin_hash for p in await Placard.filter(resident_id=w["mother"].id))
    # Her family serving the resident is the same; another coordinator sets it.
    await Pairing.filter(helper=w["coordinator"]).update(status=PairingStatus.ENDED)
    husband = await make_signed_up(w["here"], "helper", name="丈夫")
    await HelperProfile.create(member=husband)
    await FamilyLink.create(member=husband, relative=w["coordinator"], relation=Relation.SPOUSE)
    await FamilyLink.create(member=w["coordinator"], relative=husband, relation=Relation.SPOUSE)
    await Pairing.create(
        community=w["here"], helper=husband, resident=w["mother"],
        status=PairingStatus.APPROVED, proposed_by_id=w["second"].id,
    )  # fmt: skip
    family = await coordinator.put(url, json={"pin": "4321"}, headers=h)
    assert family.status_code == 403, family.text
    second, sh = await as_(w, "second")
    ok = await second.put(url, json={"pin": "4321"}, headers=sh)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("raw", ["2147483648", "99999999999999999999999"])
async def test_the_register_and_import_forms_refuse_a_community_that_cannot_exist(
    w: dict[str, Any], raw: str
) -> None:
    """The community field of the register and import forms was read with int(): an id
    beyond 32 bits (PostgreSQL) or 64 bits (SQLite) was a 500 for the admin."""
    admin, h = await as_(w, "admin")
    form = {"csrf_token": h["x-csrf-token"], "community": raw, "name": "新人",
            "phone": "13912340000", "roles": "resident"}  # fmt: skip
    new = await admin.post("/people/new", data=form)
    assert new.status_code in (403, 404), new.status_code
    upload = await admin.post(
        "/people/import",
        data={"csrf_token": h["x-csrf-token"], "community": raw},
        files={"file": ("list.csv", "姓名,电话\n新人,13912340001\n".encode(), "text/csv")},
    )
    assert upload.status_code in (403, 404), upload.status_code


async def test_who_spent_a_members_hours_on_goods_does_not_hand_them_over(
    w: dict[str, Any],
) -> None:
    """A coordinator spent a resident's hours on rice "on her behalf" and then handed the
    rice over herself: alone, she turned the resident's hours into goods in her hands."""
    from datetime import date

    from timebank.people.models import Member
    from timebank.redeem.models import RedeemItem, Redemption, RedemptionStatus

    await Member.filter(id=w["mother"].id).update(birth_date=date(1948, 3, 1))

    rice = await RedeemItem.create(community=w["here"], kind="goods", name_zh="大米",
                                   name_en="Rice", price_minutes=30)  # fmt: skip
    await ledger.grant(community_id=w["here"].id, member_id=w["mother"].id, minutes=60,
                       key=key(), actor_id=None, reason="test")  # fmt: skip
    coordinator, h = await as_(w, "coordinator")
    spent = await coordinator.post(
        "/api/v1/redemptions",
        json={"item": rice.id, "member": w["mother"].id, "key": key()},
        headers=h,
    )
    assert spent.status_code == 201, spent.text
    rid = spent.json()["id"]
    own = await coordinator.post(f"/api/v1/redemptions/{rid}/hand-over", headers=h)
    assert own.status_code == 403, own.text
    page = await coordinator.post(f"/redeem/handover/{rid}", data={"csrf_token": h["x-csrf-token"]})
    assert page.status_code in (303, 403), page.text
    assert (await Redemption.get(id=rid)).status is RedemptionStatus.TO_HAND_OVER
    second, sh = await as_(w, "second")
    ok = await second.post(f"/api/v1/redemptions/{rid}/hand-over", headers=sh)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("path", ["/signin", "/signin/code"])
async def test_a_planted_signin_cookie_does_not_pass_the_login_csrf_check(
    w: dict[str, Any], path: str
) -> None:
    """The pre-session token was any 43 URL-safe characters, unsigned: whoever could set a
    cookie for the site (a sibling subdomain, a plain-http network) planted tb_signin=X and
    posted a form with X, signing the victim in as themselves (login CSRF). Only a token
    the server made and signed is taken, and a planted one is replaced, not adopted."""
    planted = "A" * 43
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=w["app"]), base_url="http://testserver"
    ) as victim:
        victim.cookies.set("tb_signin", planted)
        form = {"phone": w["mother"].phone, "password": "a-good-password", "code": "123456",
                "signin_token": planted}  # fmt: skip
        posted = await victim.post(path, data=form, headers={"accept": "text/html"})
        assert posted.status_code == 403, posted.status_code
        assert "tb_session" not in posted.headers.get("set-cookie", "")
        page = await victim.get(path, headers={"accept": "text/html"})
        assert f'value="{planted}"' not in page.text


async def test_a_coordinator_does_not_take_over_her_own_familys_account(
    w: dict[str, Any],
) -> None:
    """With a sign-in code (or a new password or phone) for her mother, a coordinator
    signed in as her mother and gave herself her mother's hours: alone, what an on-behalf
    redemption for her family may not do. She may still edit her mother's other details."""
    await mother_of(w, "coordinator")
    coordinator, h = await as_(w, "coordinator")
    base = f"/api/v1/members/{w['mother'].id}"
    code = await coordinator.post(f"{base}/signin-code", headers=h)
    assert code.status_code == 403, code.text
    for change in ({"password": "another-good-password"}, {"phone": "13912349999"}):
        patched = await coordinator.patch(base, json=change, headers=h)
        assert patched.status_code == 403, (change, patched.text)
    page = await coordinator.post(
        f"/people/{w['mother'].id}/code", data={"csrf_token": h["x-csrf-token"]}
    )
    assert page.status_code == 403, page.status_code
    fine = await coordinator.patch(base, json={"address": "桂花路 1 号"}, headers=h)
    assert fine.status_code == 200, fine.text
    second, sh = await as_(w, "second")
    ok = await second.post(f"{base}/signin-code", headers=sh)
    assert ok.status_code == 201, ok.text
