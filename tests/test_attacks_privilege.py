"""Issue 14, privilege and money: each attack that worked, tried again through the API
(both databases). A coordinator cannot take over a higher or equal rank, cannot mint
hours for herself or her family, a helper cannot confirm his own visit, a reset ends the
member's sessions, idempotency keys belong to whoever sent them, refusals name nobody,
and a refused member update writes nothing."""

from __future__ import annotations

import json
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import (
    PASSWORD,
    as_,
    balance,
    coordinate_street,
    key,
    make_family,
    make_signed_up,
    make_world,
)
from timebank.ledger import service as ledger
from timebank.ledger.verify import verify
from timebank.pairing.models import Pairing, PairingStatus
from timebank.people.models import (
    AuditEvent,
    Community,
    FamilyLink,
    Member,
    MemberRole,
    Relation,
    Role,
    Session,
)
from timebank.redeem.models import Grant
from timebank.visits.models import Visit, VisitStatus


@pytest.fixture
async def w(app: Any) -> Any:
    world = await make_world(
        "admin", "admin2", "coordinator", "second", "far", "street", "elder", "son", "stranger"
    )
    world["app"] = app
    # A sub-district (街道) coordinator: coordinates every community of the street.
    await coordinate_street(world["street"], world["here"])
    await make_family(world["son"], world["elder"])
    async with AsyncExitStack() as stack:
        world["stack"] = stack
        yield world


# 1. Rank ------------------------------------------------------------------------------------


async def test_a_coordinator_cannot_take_over_the_admin_or_another_coordinator(
    w: dict[str, Any],
) -> None:
    coordinator, h = await as_(w, "coordinator")
    for target in ("admin", "second", "street", "coordinator"):
        member_id = w[target].id
        code = await coordinator.post(f"/api/v1/members/{member_id}/signin-code", headers=h)
        assert code.status_code == 403, (target, code.text)
        for change in ({"password": "taken-over-1234"}, {"active": False},
                       {"phone": "13700000001"}, {"name": "改名"}):  # fmt: skip
            patched = await coordinator.patch(
                f"/api/v1/members/{member_id}", json=change, headers=h
            )
            assert patched.status_code == 403, (target, change, patched.text)
    for target in ("admin", "second", "street"):
        after = await Member.get(id=w[target].id)
        assert after.is_active and after.phone == w[target].phone and after.name == w[target].name
    # A sub-district coordinator follows the same rule, for the community's coordinators too.
    street, sh = await as_(w, "street")
    refused = await street.post(f"/api/v1/members/{w['coordinator'].id}/signin-code", headers=sh)
    assert refused.status_code == 403
    refused = await street.patch(f"/api/v1/members/{w['admin'].id}", json={"active": False},
                                 headers=sh)  # fmt: skip
    assert refused.status_code == 403
    # Below their rank, in their communities: still allowed.
    ok = await coordinator.post(f"/api/v1/members/{w['elder'].id}/signin-code", headers=h)
    assert ok.status_code == 201, ok.text
    ok = await street.patch(f"/api/v1/members/{w['son'].id}", json={"name": "张建"}, headers=sh)
    assert ok.status_code == 200, ok.text
    # An admin manages coordinators, but not another admin (the server's CLI does that).
    admin, ah = await as_(w, "admin")
    ok = await admin.post(f"/api/v1/members/{w['coordinator'].id}/signin-code", headers=ah)
    assert ok.status_code == 201, ok.text
    refused = await admin.patch(f"/api/v1/members/{w['admin2'].id}",
                                json={"password": "taken-over-1234"}, headers=ah)  # fmt: skip
    assert refused.status_code == 403


async def test_a_coordinator_cannot_give_herself_a_higher_role(w: dict[str, Any]) -> None:
    coordinator, h = await as_(w, "coordinator")
    promote = await coordinator.patch(
        f"/api/v1/members/{w['son'].id}", json={"roles": ["helper", "coordinator"]}, headers=h
    )
    assert promote.status_code == 422, promote.text
    own = await coordinator.patch(
        f"/api/v1/members/{w['coordinator'].id}", json={"roles": ["coordinator", "admin"]},
        headers=h,
    )  # fmt: skip
    assert own.status_code == 403
    roles = await MemberRole.filter(member_id=w["coordinator"].id).values_list("role", flat=True)
    assert {str(r) for r in roles} == {"coordinator"}


@pytest.mark.slow
def test_the_cli_resets_an_admins_password_and_issues_a_code(tmp_path: Any) -> None:
    """Nobody changes an admin's password through the web; the server's operator can."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBANK_")} | {
        "TIMEBANK_DATA_DIR": str(tmp_path / "var")
    }

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "timebank", *args]
        return subprocess.run(command, input=stdin, env=env, capture_output=True, text=True,
                              cwd=tmp_path, timeout=120)  # fmt: skip

    made = run("create-user", "--phone", "13800000009", "--name", "管理员", "--district", "区",
               stdin=PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    reset = run("set-password", "--phone", "13800000009", stdin="a-new-password-42\n")
    assert reset.returncode == 0, reset.stderr
    assert "0 session(s) ended" in reset.stdout
    code = run("signin-code", "--phone", "13800000009")
    assert code.returncode == 0, code.stderr
    assert "一次性登录码" in code.stdout
    unknown = run("signin-code", "--phone", "13800000001")
    assert unknown.returncode == 1 and "找不到" in unknown.stderr


# 2. Minting hours alone -------------------------------------------------------------------


async def test_a_coordinator_cannot_grant_herself_or_her_family_hours_alone(
    w: dict[str, Any],
) -> None:
    await FamilyLink.create(member=w["coordinator"], relative=w["elder"], relation=Relation.PARENT)
    await FamilyLink.create(member=w["elder"], relative=w["coordinator"], relation=Relation.CHILD)
    coordinator, h = await as_(w, "coordinator")
    for target in ("coordinator", "elder"):
        grant = await coordinator.post(
            "/api/v1/grants",
            json={"member": w[target].id, "minutes": 30, "reason": "自己", "key": key()},
            headers=h,
        )
        assert grant.status_code == 201, grant.text
        assert grant.json()["status"] == "pending", (target, grant.json())
        assert await balance(w[target]) == 0
        decision = f"/api/v1/grants/{grant.json()['id']}/decision"
        own = await coordinator.post(decision, json={"approve": True}, headers=h)
        assert own.status_code == 403, own.text
    # Nor spend her mother's hours on her mother, on her behalf, without a second person.
    from timebank.redeem.models import RedeemItem

    card = await RedeemItem.create(community=w["here"], kind="privilege", name_zh="理发券",
                                   name_en="Haircut", price_minutes=30)  # fmt: skip
    await ledger.grant(community_id=w["here"].id, member_id=w["elder"].id, minutes=60,
                       key=key(), actor_id=None, reason="test")  # fmt: skip
    spent = await coordinator.post(
        "/api/v1/redemptions", json={"item": card.id, "member": w["elder"].id, "key": key()},
        headers=h,
    )  # fmt: skip
    assert spent.status_code == 403, spent.text
    assert await balance(w["elder"]) == 60
    # The second coordinator approves; the beneficiary can never approve their own grant.
    second, sh = await as_(w, "second")
    mine = await second.post(
        "/api/v1/grants",
        json={"member": w["coordinator"].id, "minutes": 45, "reason": "补贴", "key": key()},
        headers=sh,
    )
    assert mine.json()["status"] == "posted", mine.text  # small, and not hers: posted
    big = await Community.filter(id=w["here"].id).update(grant_review_minutes=60)
    assert big
    large = await second.post(
        "/api/v1/grants",
        json={"member": w["coordinator"].id, "minutes": 600, "reason": "补贴", "key": key()},
        headers=sh,
    )
    assert large.json()["status"] == "pending"
    by_beneficiary = await coordinator.post(
        f"/api/v1/grants/{large.json()['id']}/decision", json={"approve": True}, headers=h
    )
    assert by_beneficiary.status_code == 403 and by_beneficiary.json()["error"]["code"] == (
        "own_decision"
    )
    assert await balance(w["coordinator"]) == 45
    # Nor give back hours she spent, by reversing a transaction of her own wallet.
    mine_id = w["coordinator"].id
    spent = await ledger.redeem(member_id=mine_id, minutes=45, key=key(), actor_id=mine_id)
    reversal = await coordinator.post(
        f"/api/v1/ledger/transactions/{spent.txn.id}/reversal",
        json={"reason": "撤销", "idempotency_key": key()}, headers=h,
    )  # fmt: skip
    assert reversal.status_code == 403, reversal.text
    assert await balance(w["coordinator"]) == 0


async def test_only_an_admin_changes_the_four_eyes_safeguards(w: dict[str, Any]) -> None:
    await Community.filter(id=w["here"].id).update(grant_review_minutes=600)
    url = f"/api/v1/communities/{w['here'].id}"
    coordinator, h = await as_(w, "coordinator")
    for change in ({"grant_review_minutes": None}, {"four_eyes": True},
                   {"fund_budget_minutes": 100}, {"grant_review_minutes": 6_000_000}):  # fmt: skip
        refused = await coordinator.patch(url, json=change, headers=h)
        assert refused.status_code == 403, (change, refused.text)
        assert refused.json()["error"]["code"] == "safeguard_admin_only"
    after = await Community.get(id=w["here"].id)
    assert after.grant_review_minutes == 600 and not after.four_eyes
    assert after.fund_budget_minutes is None
    # The other settings, and the safeguards sent back unchanged, are still hers.
    ok = await coordinator.patch(url, json={"visit_radius_m": 300, "grant_review_minutes": 600},
                                 headers=h)  # fmt: skip
    assert ok.status_code == 200, ok.text
    admin, ah = await as_(w, "admin")
    ok = await admin.patch(url, json={"grant_review_minutes": None}, headers=ah)
    assert ok.status_code == 200 and ok.json()["settings"]["grant_review_minutes"] is None
    event = await AuditEvent.filter(action="community.settings").order_by("-id").first()
    assert event is not None and event.actor_id == w["admin"].id
    detail = json.loads(event.detail) if isinstance(event.detail, str) else event.detail
    assert detail == {
        "before": {"grant_review_minutes": 600},
        "after": {"grant_review_minutes": None},
    }


async def test_nobody_approves_a_pairing_of_themself(w: dict[str, Any]) -> None:
    """A coordinator who is also a helper cannot approve her own pairing (nor her family's)."""
    await MemberRole.create(member=w["coordinator"], role=Role.HELPER, community_id=w["here"].id)
    from timebank.people.models import HelperProfile

    await HelperProfile.create(member=w["coordinator"])
    pairing = await Pairing.create(
        community=w["here"], helper=w["coordinator"], resident=w["elder"],
        status=PairingStatus.PROPOSED, proposed_by_id=w["second"].id,
    )  # fmt: skip
    coordinator, h = await as_(w, "coordinator")
    own = await coordinator.post(f"/api/v1/pairings/{pairing.id}/transitions",
                                 json={"action": "approve"}, headers=h)  # fmt: skip
    assert own.status_code == 403, own.text
    assert (await Pairing.get(id=pairing.id)).status is PairingStatus.PROPOSED
    second, sh = await as_(w, "second")
    ok = await second.post(f"/api/v1/pairings/{pairing.id}/transitions",
                           json={"action": "approve"}, headers=sh)  # fmt: skip
    assert ok.status_code == 200, ok.text


# 3. Own visit -----------------------------------------------------------------------------


async def finished_visit(w: dict[str, Any], helper: Any) -> Visit:
    at = datetime.now(UTC) - timedelta(hours=2)
    return await Visit.create(
        community=w["here"], resident=w["elder"], helper=helper, service_code="visit",
        status=VisitStatus.FLAGGED, flags="unconfirmed", in_event=uuid.uuid4().hex,
        checked_in_at=at, received_in_at=at, checked_out_at=at + timedelta(minutes=60),
        raw_minutes=60, served_minutes=60, credit_minutes=60,
    )  # fmt: skip


async def test_a_helper_never_confirms_his_own_visit(w: dict[str, Any]) -> None:
    """The son is the elder's family and served her visit: he may not rate it."""
    visit = await finished_visit(w, w["son"])
    son, h = await as_(w, "son")
    rated = await son.post(f"/api/v1/visits/{visit.id}/rating", json={"rating": 5}, headers=h)
    assert rated.status_code == 403, rated.text
    after = await Visit.get(id=visit.id)
    assert after.rating is None and after.flags == "unconfirmed"
    assert after.status is VisitStatus.FLAGGED and await balance(w["son"]) == 0
    # Nor can a coordinator review a visit she served, or her family served.
    await MemberRole.create(member=w["coordinator"], role=Role.HELPER, community_id=w["here"].id)
    own = await finished_visit(w, w["coordinator"])
    coordinator, ch = await as_(w, "coordinator")
    reviewed = await coordinator.post(f"/api/v1/visits/{own.id}/review",
                                      json={"action": "approve"}, headers=ch)  # fmt: skip
    assert reviewed.status_code == 403, reviewed.text
    await FamilyLink.create(member=w["son"], relative=w["second"], relation=Relation.SPOUSE)
    second, sh = await as_(w, "second")
    reviewed = await second.post(f"/api/v1/visits/{visit.id}/review",
                                 json={"action": "approve"}, headers=sh)  # fmt: skip
    assert reviewed.status_code == 403, reviewed.text
    assert (await Visit.get(id=own.id)).status is VisitStatus.FLAGGED


async def test_the_helpers_family_does_not_confirm_his_visit(w: dict[str, Any]) -> None:
    """The son's wife is the elder's family too: she may not rate (and so confirm) the visit
    her husband served, which would credit their household; the elder herself still may."""
    w["wife"] = await make_signed_up(w["here"], "resident", name="刘梅")
    links = [("wife", "son", Relation.SPOUSE), ("son", "wife", Relation.SPOUSE),
             ("wife", "elder", Relation.OTHER), ("elder", "wife", Relation.OTHER)]  # fmt: skip
    for a, b, rel in links:
        await FamilyLink.create(member=w[a], relative=w[b], relation=rel)
    visit = await finished_visit(w, w["son"])
    wife, h = await as_(w, "wife")
    rated = await wife.post(f"/api/v1/visits/{visit.id}/rating", json={"rating": 5}, headers=h)
    assert rated.status_code == 403, rated.text
    assert (await Visit.get(id=visit.id)).rating is None and await balance(w["son"]) == 0
    elder, eh = await as_(w, "elder")
    rated = await elder.post(f"/api/v1/visits/{visit.id}/rating", json={"rating": 5}, headers=eh)
    assert rated.status_code == 200, rated.text
    assert (await Visit.get(id=visit.id)).rating == 5


# 7. Sessions ------------------------------------------------------------------------------


async def test_a_reset_or_deactivation_ends_every_session(w: dict[str, Any]) -> None:
    coordinator, h = await as_(w, "coordinator")
    for change in ({"password": "a-fresh-password-1"}, {"phone": "13700000002"},
                   {"active": False}):  # fmt: skip
        w["victim"] = await make_signed_up(w["here"], "helper", name="帮扶人")
        victim, _ = await as_(w, "victim")
        assert (await victim.get("/api/v1/me/hours")).status_code == 200
        url = f"/api/v1/members/{w['victim'].id}"
        changed = await coordinator.patch(url, json=change, headers=h)
        assert changed.status_code == 200, (change, changed.text)
        assert (await victim.get("/api/v1/me/hours")).status_code == 401, change
        live = await Session.filter(member_id=w["victim"].id, revoked_at=None).count()
        assert live == 0, change
    # Reactivated, the member signs in afresh: the old cookie stays dead.
    await coordinator.patch(f"/api/v1/members/{w['victim'].id}", json={"active": True}, headers=h)
    assert (await victim.get("/api/v1/me/hours")).status_code == 401


# 8. Idempotency keys ----------------------------------------------------------------------


async def test_idempotency_keys_belong_to_whoever_sent_them(w: dict[str, Any]) -> None:
    shared = "the-same-key-0001"
    signed_in = {name: await as_(w, name) for name in ("coordinator", "far")}

    async def grant(by: str, to: str, minutes: int, reason: str) -> Any:
        client, headers = signed_in[by]
        body = {"member": w[to].id, "minutes": minutes, "reason": reason, "key": shared}
        return await client.post("/api/v1/grants", json=body, headers=headers)

    first = await grant("coordinator", "elder", 30, "独居老人 秘密原因")
    assert first.status_code == 201, first.text
    theirs = await grant("far", "stranger", 20, "孤寡")
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert theirs.json()["reason"] == "孤寡" and "秘密" not in theirs.text
    assert await balance(w["stranger"]) == 20 and await balance(w["elder"]) == 30
    # The same key again from the first coordinator: the first grant, once.
    again = await grant("coordinator", "elder", 30, "独居老人 秘密原因")
    assert again.json()["id"] == first.json()["id"] and await balance(w["elder"]) == 30
    assert await Grant.all().count() == 2
    # Donations: the son's key does not stop the elder's own donation with the same key.
    son, sh = await as_(w, "son")
    elder, eh = await as_(w, "elder")
    for giver in ("son", "elder"):
        await ledger.grant(community_id=w["here"].id, member_id=w[giver].id, minutes=100,
                           key=key(), actor_id=None, reason="test")  # fmt: skip
    gave = await son.post(
        "/api/v1/me/donations", json={"to": "pool", "minutes": 10, "key": shared}, headers=sh
    )
    assert gave.status_code == 201, gave.text
    to_pool = {"to": "pool", "minutes": 10, "key": shared}
    gave2 = await elder.post("/api/v1/me/donations", json=to_pool, headers=eh)
    assert gave2.status_code == 201, gave2.text
    assert gave2.json()["transaction"] != gave.json()["transaction"]
    assert gave2.json()["created"] is True
    report = await verify()
    assert report.ok, report.reason
    # A key at the longest still fits the columns once scoped, and stays its sender's.
    from timebank.ledger.rules import actor_key

    long = "k" * 100
    assert len(actor_key(2**31 - 1, long, limit=100)) <= 100
    assert actor_key(7, long, limit=100) == actor_key(7, long, limit=100)
    assert actor_key(7, long, limit=100) != actor_key(8, long, limit=100)


# 9. Refusals ------------------------------------------------------------------------------


async def test_refusals_name_nobody_the_caller_may_not_see(w: dict[str, Any]) -> None:
    son, h = await as_(w, "son")
    await ledger.grant(community_id=w["here"].id, member_id=w["son"].id, minutes=100,
                       key=key(), actor_id=None, reason="test")  # fmt: skip
    refused = await son.post(
        "/api/v1/me/donations", json={"to": w["stranger"].id, "minutes": 10, "key": key()},
        headers=h,
    )  # fmt: skip
    assert refused.status_code == 403, refused.text
    assert "孙丽" not in refused.text and w["stranger"].phone not in refused.text
    assert refused.json()["error"]["code"] == "not_family"
    # Redeeming for a stranger, or proposing to serve someone of another community.
    from timebank.redeem.models import RedeemItem

    card = await RedeemItem.create(community=w["here"], kind="privilege", name_zh="理发券",
                                   name_en="Haircut", price_minutes=30)  # fmt: skip
    refused = await son.post(
        "/api/v1/redemptions", json={"item": card.id, "for": w["stranger"].id, "key": key()},
        headers=h,
    )  # fmt: skip
    assert refused.status_code == 403 and "孙丽" not in refused.text, refused.text
    refused = await son.post(
        "/api/v1/pairings", json={"helper": w["son"].id, "resident": w["far"].id}, headers=h
    )
    assert refused.status_code in (403, 422) and "王强" not in refused.text, refused.text


# PATCH atomicity ----------------------------------------------------------------------------


async def test_a_refused_member_update_writes_nothing(w: dict[str, Any]) -> None:
    coordinator, h = await as_(w, "coordinator")
    son, _ = await as_(w, "son")
    refused = await coordinator.patch(
        f"/api/v1/members/{w['son'].id}", json={"active": False, "roles": ["admin"]}, headers=h
    )
    assert refused.status_code == 422, refused.text
    after = await Member.get(id=w["son"].id)
    assert after.is_active
    assert (await son.get("/api/v1/me/hours")).status_code == 200
    bad = await coordinator.patch(
        f"/api/v1/members/{w['son'].id}", json={"active": "no", "name": "改名"}, headers=h
    )
    assert bad.status_code == 422 and "active" in bad.text
    assert (await Member.get(id=w["son"].id)).name == w["son"].name
    assert not await AuditEvent.filter(action="member.deactivate").exists()


async def test_the_settings_page_keeps_the_safeguards_for_an_admin(w: dict[str, Any]) -> None:
    import re

    await Community.filter(id=w["here"].id).update(grant_review_minutes=600, four_eyes=True)
    page, _ = await as_(w, "coordinator")
    url = f"/communities/{w['here'].id}/settings"
    shown = await page.get(url)
    assert shown.status_code == 200
    assert re.search(r'name="grant_review_minutes" value="600" readonly', shown.text)
    assert re.search(r'name="four_eyes" checked disabled', shown.text)
    # and says why, in words: only the district's administrator changes them
    assert 'data-testid="safeguards-note"' in shown.text
    assert shown.text.count("只有区级管理员可以修改此项。") == 3
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)
    assert csrf
    # What the browser sends: the read-only values, no (disabled) four-eyes box.
    form = {"csrf_token": csrf.group(1), "overdraft_minutes": "0", "redeem_min_age": "60",
            "visit_every_days": "7", "visit_radius_m": "300", "time_unit_minutes": "15",
            "checkin_early_minutes": "30", "checkin_late_minutes": "60",
            "grant_review_minutes": "600", "fund_budget_minutes": ""}  # fmt: skip
    saved = await page.post(url, data=form)
    assert saved.status_code == 200 and 'data-testid="saved"' in saved.text
    after = await Community.get(id=w["here"].id)
    assert after.visit_radius_m == 300 and after.four_eyes and after.grant_review_minutes == 600
    crafted = await page.post(url, data={**form, "grant_review_minutes": ""})
    assert crafted.status_code == 403 and "区级管理员" in crafted.text
    assert (await Community.get(id=w["here"].id)).grant_review_minutes == 600
    admin_page, _ = await as_(w, "admin")
    for_admin = await admin_page.get(url)
    assert for_admin.status_code == 200 and "safeguards-note" not in for_admin.text
    assert "readonly" not in for_admin.text and "disabled" not in for_admin.text
