"""The coordinator's member pages, driven as a browser would (forms, redirects, errors)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import make_community, make_signed_up, sign_in_page, signin_form_token
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import Member


async def signed_in_page(client: httpx.AsyncClient, member: Any) -> str:
    response = await sign_in_page(client, member, next="/people")
    assert response.status_code == 303
    page = await client.get("/people")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/people/new")).text)
    assert found
    return found.group(1)


async def import_list(
    client: httpx.AsyncClient, csrf: str, community: int, csv: bytes
) -> httpx.Response:
    """Post ``csv`` as a list of members to import into ``community``."""
    return await client.post(
        "/people/import",
        data={"csrf_token": csrf, "community": str(community)},
        files={"file": ("list.csv", csv, "text/csv")},
    )


async def test_register_search_edit_and_errors(client: httpx.AsyncClient, app: Any) -> None:
    community = await make_community("桂花社区")
    coordinator = await make_signed_up(community, "coordinator", name="李芳")
    csrf = await signed_in_page(client, coordinator)
    form = {
        "csrf_token": csrf,
        "community": str(community.id),
        "name": "陈秀英",
        "phone": "13900001111",
        "roles": "resident",
        "care_level": "semi",
        "hardship": ["alone", "elderly"],
        "needs": ["meal_delivery"],
        "consent": "on",
    }
    bad = await client.post("/people/new", data={**form, "phone": "12"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    assert await Member.filter(name="陈秀英").count() == 0
    done = await client.post("/people/new", data=form)
    assert done.status_code == 303
    detail = await client.get(done.headers["location"])
    assert "陈秀英" in detail.text and "独居" in detail.text and "登记了成员" in detail.text
    listing = await client.get("/people", params={"q": "陈", "hardship": "alone"})
    assert "陈秀英" in listing.text and "独居" in listing.text
    member = await Member.get(phone="13900001111")
    edit = await client.post(
        f"/people/{member.id}/edit",
        data={**form, "name": "陈秀英", "visit_every_days": "500"},
    )
    assert edit.status_code == 422 and "365" in edit.text
    code = await client.post(f"/people/{member.id}/code", data={"csrf_token": csrf})
    assert re.search(r'data-testid="code">\d{8}<', code.text)
    no_csrf = await client.post(f"/people/{member.id}/active", data={"active": "0"})
    assert no_csrf.status_code == 403
    assert (await Member.get(id=member.id)).is_active
    settings = await client.post(
        f"/communities/{community.id}/settings",
        data={"csrf_token": csrf, "redeem_min_age": "abc", "visit_every_days": "7",
              "overdraft_minutes": "0", "visit_radius_m": "250"},
    )  # fmt: skip
    assert settings.status_code == 422
    audit = await client.get("/audit")
    assert audit.status_code == 200 and "生成了一次性登录码" in audit.text


async def test_import_page_lists_every_bad_line(client: httpx.AsyncClient) -> None:
    community = await make_community("桂花社区")
    coordinator = await make_signed_up(community, "coordinator")
    csrf = await signed_in_page(client, coordinator)
    csv = "姓名,电话,困难类别\n甲,13911110001,独居\n乙,1,\n丙,13911110003,有钱\n".encode()
    response = await import_list(client, csrf, community.id, csv)
    assert response.status_code == 422
    assert re.findall(r"<tr><td>(\d+)</td>", response.text) == ["3", "4"]
    assert await Member.filter(community=community).count() == 1  # only the coordinator


async def test_code_sign_in_page_then_set_password(client: httpx.AsyncClient) -> None:
    community = await make_community("桂花社区")
    coordinator = await make_signed_up(community, "coordinator")
    csrf = await signed_in_page(client, coordinator)
    resident = await make_signed_up(community, "resident", name="陈秀英")
    page = await client.post(f"/people/{resident.id}/code", data={"csrf_token": csrf})
    code = re.search(r'data-testid="code">(\d{8})<', page.text)
    assert code
    await client.post("/signout", data={"csrf_token": csrf})
    token = await signin_form_token(client, "/signin/code")
    wrong = await client.post(
        "/signin/code", data={"phone": resident.phone, "code": "1", "signin_token": token}
    )
    assert wrong.status_code == 401 and "登录码" in wrong.text
    ok = await client.post(
        "/signin/code",
        data={"phone": resident.phone, "code": code.group(1), "signin_token": token},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/me/password"
    form = await client.get("/me/password")
    assert "当前密码" in form.text  # this member already has a password


async def test_errors_name_fields_by_their_labels(client: httpx.AsyncClient) -> None:
    """ "请修改：电话号码。", never "请修改：phone。"; an imported list's bad columns by the
    headers a coordinator writes (电话, 出生日期), and the audit log in words, not codes."""
    community = await make_community("桂花社区")
    coordinator = await make_signed_up(community, "coordinator", name="李芳")
    csrf = await signed_in_page(client, coordinator)
    form = {"csrf_token": csrf, "community": str(community.id), "name": "陈秀英",
            "phone": "12", "roles": "resident", "consent": "on"}  # fmt: skip
    bad = await client.post("/people/new", data=form)
    assert bad.status_code == 422 and "请修改：电话号码。" in bad.text
    assert "phone。" not in bad.text and "请修改：phone" not in bad.text
    api = await client.post(
        "/api/v1/members",
        json={"community": community.id, "name": "陈秀英", "phone": "12", "birth_date": "x",
              "roles": ["resident"], "consent": True},
        headers={"x-csrf-token": csrf},
    )  # fmt: skip
    messages = api.json()["error"]["messages"]
    assert api.status_code == 422 and messages["zh-CN"].startswith("请修改：电话号码、出生日期。")
    assert messages["en"].startswith("Please correct: Phone number, Birth date.")
    assert [f["field"] for f in api.json()["error"]["details"]["fields"]] == ["phone", "birth_date"]
    csv = "姓名,电话,出生日期\n乙,1,1950-01-01\n丙,13911110003,昨天\n".encode()
    listed = await import_list(client, csrf, community.id, csv)
    assert listed.status_code == 422
    columns = re.findall(r"<tr><td>\d+</td><td>([^<]*)</td>", listed.text)
    assert columns == ["电话", "出生日期"]
    english = await client.post(
        "/people/import?lang=en",
        data={"csrf_token": csrf, "community": str(community.id)},
        files={"file": ("list.csv", csv, "text/csv")},
    )
    assert re.findall(r"<tr><td>\d+</td><td>([^<]*)</td>", english.text) == [
        "Phone number",
        "Birth date",
    ]
    actor = Actor(coordinator.id)
    for action in ("order.take", "visit.adjust", "some.future_action"):
        await audit.record(actor, action, target_type="order", target_id=1,
                           community_id=community.id)  # fmt: skip
    log = await client.get("/audit")
    assert "接了服务工单" in log.text and "调整了服务时长" in log.text
    assert "做了一项修改" in log.text  # an action this version has no words for
    assert "order.take" not in log.text and "visit.adjust" not in log.text
    assert "some.future_action" not in log.text
