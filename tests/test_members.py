"""Members, profiles, family, sign-in codes, passwords, settings, audit, CSV import."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, make_community, make_signed_up, sign_in_client
from timebank.people.models import AuditEvent, Member, ResidentProfile


@pytest.fixture
async def world(app: Any) -> dict[str, Any]:
    here = await make_community("桂花社区")
    there = await make_community("枫林社区")
    return {
        "here": here,
        "there": there,
        "coordinator": await make_signed_up(here, "coordinator", name="李芳"),
        "other_coordinator": await make_signed_up(there, "coordinator", name="王强"),
        "helper": await make_signed_up(here, "helper", name="张建国"),
    }


async def as_coordinator(client: httpx.AsyncClient, world: dict[str, Any]) -> dict[str, str]:
    return {"x-csrf-token": await sign_in_client(client, world["coordinator"])}


RESIDENT = {
    "name": "陈秀英",
    "phone": "139 0000 1111",
    "roles": ["resident"],
    "birth_date": "1941-05-03",
    "address": "桂花路 3 号",
    "care_level": "semi",
    "hardship": ["alone", "dibao"],
    "needs": ["meal_delivery", "cleaning"],
    "visit_every_days": 7,
    "emergency_name": "陈明",
    "emergency_phone": "13900002222",
}


async def test_register_find_and_read_a_resident(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    headers = await as_coordinator(client, world)
    created = await client.post(
        "/api/v1/members", json={"community": world["here"].id, **RESIDENT}, headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["phone"] == "13900001111" and body["member_no"]
    assert body["resident"]["hardship"] == ["alone", "dibao"]
    assert body["resident"]["care_level"] == "semi"
    found = await client.get("/api/v1/members", params={"q": "陈秀"})
    assert [m["id"] for m in found.json()["members"]] == [body["id"]]
    by_hardship = await client.get("/api/v1/members", params={"hardship": "alone"})
    assert [m["id"] for m in by_hardship.json()["members"]] == [body["id"]]
    assert by_hardship.json()["members"][0]["hardship"] == ["alone", "dibao"]
    helpers = await client.get("/api/v1/members", params={"role": "helper"})
    assert [m["name"] for m in helpers.json()["members"]] == ["张建国"]
    event = await AuditEvent.get(action="member.register", target_id=str(body["id"]))
    assert event.actor_id == world["coordinator"].id and event.community_id == world["here"].id


async def test_bad_registrations_are_clear_and_write_nothing(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    headers = await as_coordinator(client, world)
    before = await Member.all().count()
    bad = {
        "community": world["here"].id,
        "name": "x" * 61,
        "phone": "12",
        "roles": ["resident", "wizard"],
        "birth_date": "1941-13-40",
        "hardship": ["rich"],
        "visit_every_days": 0,
    }
    response = await client.post("/api/v1/members", json=bad, headers=headers)
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["error"]["details"]["fields"]}
    assert fields == {"name", "phone", "roles", "birth_date", "hardship", "visit_every_days"}
    assert "请修改" in response.json()["error"]["messages"]["zh-CN"]
    duplicate = {"community": world["here"].id, **RESIDENT, "phone": world["helper"].phone}
    response = await client.post("/api/v1/members", json=duplicate, headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "phone_taken"
    unknown = await client.post(
        "/api/v1/members", json={"community": 999999, **RESIDENT}, headers=headers
    )
    assert unknown.status_code == 403  # not one of mine (and it does not exist)
    coordinator_role = {"community": world["here"].id, **RESIDENT, "roles": ["coordinator"]}
    response = await client.post("/api/v1/members", json=coordinator_role, headers=headers)
    assert response.status_code == 422  # only an admin appoints coordinators
    assert await Member.all().count() == before


async def test_coordinators_stay_inside_their_communities(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    headers = {"x-csrf-token": await sign_in_client(client, world["other_coordinator"])}
    response = await client.get(f"/api/v1/members/{world['helper'].id}")
    assert response.status_code == 403
    response = await client.patch(
        f"/api/v1/members/{world['helper'].id}", json={"name": "改名"}, headers=headers
    )
    assert response.status_code == 403
    listed = await client.get("/api/v1/members")
    assert {m["name"] for m in listed.json()["members"]} == {"王强"}
    settings = await client.patch(
        f"/api/v1/communities/{world['here'].id}", json={"redeem_min_age": 65}, headers=headers
    )
    assert settings.status_code == 403


async def test_edit_profiles_roles_and_deactivate(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    headers = await as_coordinator(client, world)
    helper = world["helper"]
    response = await client.patch(
        f"/api/v1/members/{helper.id}",
        json={
            "roles": ["helper", "resident"],
            "helper_kind": "paid",
            "hourly_rate": "25.50",
            "skills": ["助餐", "cleaning"],
            "capacity": 2,
            "hardship": ["特困"],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["roles"] == ["helper", "resident"]
    assert body["helper"] == {
        "kind": "paid",
        "hourly_rate": "25.50",
        "skills": ["meal_help", "cleaning"],
        "capacity": 2,
        "availability": "",
    }
    assert body["resident"]["hardship"] == ["tekun"]
    bad = await client.patch(
        f"/api/v1/members/{helper.id}", json={"hourly_rate": "abc"}, headers=headers
    )
    assert bad.status_code == 422
    off = await client.patch(
        f"/api/v1/members/{helper.id}", json={"active": False}, headers=headers
    )
    assert off.status_code == 200 and off.json()["active"] is False
    signin = await client.post(
        "/api/v1/session", json={"phone": helper.phone, "password": PASSWORD}
    )
    assert signin.status_code == 401  # inactive members cannot sign in


async def test_family_links_both_ways(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    headers = await as_coordinator(client, world)
    mother = (
        await client.post(
            "/api/v1/members", json={"community": world["here"].id, **RESIDENT}, headers=headers
        )
    ).json()
    son = world["helper"]
    url = f"/api/v1/members/{mother['id']}/family"
    response = await client.post(
        url, json={"relative": son.id, "relation": "child"}, headers=headers
    )
    assert response.status_code == 201
    assert response.json()["family"][0]["relation"] == "child"
    son_view = (await client.get(f"/api/v1/members/{son.id}")).json()
    assert son_view["family"] == [
        {"id": son_view["family"][0]["id"], "relative": mother["id"], "name": "陈秀英",
         "relation": "parent", "consent": False}
    ]  # fmt: skip
    again = await client.post(url, json={"relative": son.id, "relation": "child"}, headers=headers)
    assert again.status_code == 409
    itself = await client.post(
        url, json={"relative": mother["id"], "relation": "spouse"}, headers=headers
    )
    assert itself.status_code == 422
    other = await make_signed_up(world["there"], "resident")
    outside = await client.post(
        url, json={"relative": other.id, "relation": "sibling"}, headers=headers
    )
    assert outside.status_code == 403
    link_id = response.json()["family"][0]["id"]
    removed = await client.delete(f"{url}/{link_id}", headers=headers)
    assert removed.status_code == 204
    assert (await client.get(f"/api/v1/members/{son.id}")).json()["family"] == []


async def test_one_time_code_then_password(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any]
) -> None:
    headers = await as_coordinator(client, world)
    resident = (
        await client.post(
            "/api/v1/members", json={"community": world["here"].id, **RESIDENT}, headers=headers
        )
    ).json()
    code = (
        await client.post(f"/api/v1/members/{resident['id']}/signin-code", headers=headers)
    ).json()["code"]
    assert len(code) == 8 and code.isdigit()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as phone:
        wrong = await phone.post(
            "/api/v1/session/code", json={"phone": resident["phone"], "code": "00000000"}
        )
        assert wrong.status_code == 401
        ok = await phone.post(
            "/api/v1/session/code", json={"phone": resident["phone"], "code": code}
        )
        assert ok.status_code == 200, ok.text
        csrf = {"x-csrf-token": ok.json()["csrf_token"]}
        short = await phone.put("/api/v1/me/password", json={"new": "short"}, headers=csrf)
        assert short.status_code == 422
        new = {"new": "陈秀英的新密码2026"}
        done = await phone.put("/api/v1/me/password", json=new, headers=csrf)
        assert done.status_code == 204
        change = await phone.put(
            "/api/v1/me/password",
            json={"current": "wrong-one", "new": "another-pass"},
            headers=csrf,
        )
        assert change.status_code == 403
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as again:
        reused = await again.post(
            "/api/v1/session/code", json={"phone": resident["phone"], "code": code}
        )
        assert reused.status_code == 401  # used once
        signin = await again.post(
            "/api/v1/session", json={"phone": resident["phone"], "password": "陈秀英的新密码2026"}
        )
        assert signin.status_code == 200
    actions = set(await AuditEvent.all().values_list("action", flat=True))
    assert {"member.signin_code", "member.signin_code_used", "member.password"} <= actions


async def test_password_change_signs_out_other_sessions(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any]
) -> None:
    helper = world["helper"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await sign_in_client(other, helper)
        csrf = {"x-csrf-token": await sign_in_client(client, helper)}
        response = await client.put(
            "/api/v1/me/password",
            json={"current": PASSWORD, "new": "a-newer-password"},
            headers=csrf,
        )
        assert response.status_code == 204
        assert (await other.get("/api/v1/me")).status_code == 401
        assert (await client.get("/api/v1/me")).status_code == 200


async def test_community_settings(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    headers = await as_coordinator(client, world)
    url = f"/api/v1/communities/{world['here'].id}"
    response = await client.patch(
        url,
        json={"redeem_min_age": 65, "balance_cap_minutes": 90000, "four_eyes": False},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    settings = response.json()["settings"]
    assert settings["redeem_min_age"] == 65 and settings["balance_cap_minutes"] == 90000
    assert settings["four_eyes"] is False
    # The four-eyes rule is a safeguard: a district administrator changes it, not she.
    refused = await client.patch(url, json={"four_eyes": True}, headers=headers)
    assert refused.status_code == 403, refused.text
    assert (await client.get(url)).json()["settings"]["four_eyes"] is False
    bad = await client.patch(
        url, json={"redeem_min_age": 300, "visit_every_days": "x"}, headers=headers
    )
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["details"]["fields"]} == {
        "redeem_min_age",
        "visit_every_days",
    }
    assert (await client.get(url)).json()["settings"]["redeem_min_age"] == 65
    event = await AuditEvent.filter(action="community.settings").first()
    assert event is not None and '"redeem_min_age": 60' in event.detail


CSV_OK = (
    "姓名,电话,角色,出生日期,困难类别,护理等级,服务需求\n"
    "刘桂兰,13911110001,服务对象,1938/2/1,独居;低保,失能,送餐、助洁\n"
    "赵志强,13911110002,志愿者,1965-07-08,,,\n"
)


async def test_csv_import_all_or_nothing(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    headers = await as_coordinator(client, world)
    url = f"/api/v1/communities/{world['here'].id}/import"
    bad = CSV_OK + "王五,12,居民,1940-01-01,有钱,,\n刘桂兰二,13911110001,居民,,,,\n"
    before = await Member.all().count()
    response = await client.post(url, content=bad.encode(), headers=headers)
    assert response.status_code == 422
    rows = response.json()["error"]["details"]["rows"]
    assert {(r["line"], r["field"]) for r in rows} == {(4, "phone"), (4, "hardship"), (5, "phone")}
    assert await Member.all().count() == before
    response = await client.post(url, content=CSV_OK.encode("gb18030"), headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 2
    liu = await Member.get(phone="13911110001")
    profile = await ResidentProfile.get(member=liu)
    assert profile.hardship == "alone,dibao" and profile.care_level.value == "disabled"
    assert profile.needs == "meal_delivery,cleaning"
    again = await client.post(url, content=CSV_OK.encode(), headers=headers)
    assert again.status_code == 422  # both phones are registered now
    for broken in (b"", b"just,some,columns\n1,2,3\n", b"\xff\xfe\x00bad" * 3):
        response = await client.post(url, content=broken, headers=headers)
        assert response.status_code == 422, broken


async def test_audit_log_is_append_only_and_scoped(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    headers = await as_coordinator(client, world)
    await client.post(
        "/api/v1/members", json={"community": world["here"].id, **RESIDENT}, headers=headers
    )
    events = (await client.get("/api/v1/audit")).json()["events"]
    assert events and events[0]["action"] == "member.register"
    assert events[0]["actor_name"] == "李芳"
    from tortoise import connections

    conn = connections.get("default")
    with pytest.raises(Exception, match="append-only"):
        await conn.execute_script("UPDATE audit_event SET action = 'x'")
    with pytest.raises(Exception, match="append-only"):
        await conn.execute_script("DELETE FROM audit_event")
    await client.delete("/api/v1/session", headers=headers)
    await sign_in_client(client, world["other_coordinator"])
    assert (await client.get("/api/v1/audit")).json()["events"] == []
    await client.delete("/api/v1/session", headers=headers)
    await sign_in_client(client, world["helper"])
    assert (await client.get("/api/v1/audit")).status_code == 403
