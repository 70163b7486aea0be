"""Placards, check-in and check-out, flags, review, rating and crediting (API, both DBs)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from tortoise import connections

from tests.conftest import make_family, make_world, signed_in_client
from timebank.ledger.models import LedgerTxn
from timebank.ledger.service import grant
from timebank.orders.models import Order, OrderEvent, OrderStatus
from timebank.pairing.models import Compensation, Pairing, PairingStatus, PlanItem
from timebank.people.models import AuditEvent, Community, HelperProfile
from timebank.visits import placards
from timebank.visits.models import Visit
from timebank.visits.service import close_forgotten
from timebank.visits.steps import served_minutes

HOME = (30.5928, 114.3055)  # the resident's home
TZ = ZoneInfo("Asia/Shanghai")  # the test settings' community zone


def event() -> str:
    return uuid.uuid4().hex


async def order_now(w: dict[str, Any], service: str = "meal_help", **extra: Any) -> Order:
    """An order assigned to the helper whose window is now (started 55 minutes ago)."""
    now = datetime.now(UTC)
    return await Order.create(
        community=w["here"],
        resident=w["resident"],
        helper=w["helper"],
        service_code=service,
        starts_at=now - timedelta(minutes=55),
        ends_at=now + timedelta(minutes=5),
        status=OrderStatus.ASSIGNED,
        **{"funded": True, **extra},
    )


async def backdate(visit_id: int, minutes: int) -> None:
    """Pretend the visit was checked in ``minutes`` ago."""
    await Visit.filter(id=visit_id).update(
        checked_in_at=datetime.now(UTC) - timedelta(minutes=minutes)
    )


@pytest.fixture
async def w(app: Any) -> AsyncExitStack:  # type: ignore[misc]
    world = await make_world(
        "coordinator", "helper", "other_helper", "resident", "family", "stranger", "far_helper"
    )
    world["app"] = app
    resident = world["resident"]
    resident.lat, resident.lon = HOME
    await resident.save()
    # She agreed that her son may act for her (rate and confirm her visits among others).
    await make_family(world["family"], resident, consent=True)
    secret = app.state.settings.secret_key
    placard = await placards.placard_of(resident)
    world["token"] = placards.make_token(secret, resident.id, placard.generation)
    stranger_placard = await placards.placard_of(world["stranger"])
    world["stranger_token"] = placards.make_token(
        secret, world["stranger"].id, stranger_placard.generation
    )
    async with AsyncExitStack() as stack:
        world["stack"] = stack
        world["h"], world["hh"] = await signed_in_client(stack, app, world["helper"])
        world["c"], world["ch"] = await signed_in_client(stack, app, world["coordinator"])
        yield world  # type: ignore[misc]


async def start(w: dict[str, Any], token: str | None = None, **body: Any) -> httpx.Response:
    body.setdefault("event_id", event())
    return await w["h"].post(
        f"/api/v1/placards/{token or w['token']}/check-in", json=body, headers=w["hh"]
    )


async def finish(w: dict[str, Any], token: str | None = None, **body: Any) -> httpx.Response:
    body.setdefault("event_id", event())
    return await w["h"].post(
        f"/api/v1/placards/{token or w['token']}/check-out", json=body, headers=w["hh"]
    )


async def push_back() -> None:
    """Move every visit so far a day into the past (so the next does not overlap them)."""
    for visit in await Visit.all():
        day = timedelta(days=1)
        await Visit.filter(id=visit.id).update(
            checked_in_at=visit.checked_in_at - day,
            checked_out_at=visit.checked_out_at - day if visit.checked_out_at else None,
        )


async def credited(visit_id: int) -> int:
    return await LedgerTxn.filter(ref_type="visit", ref_id=str(visit_id)).count()


async def history(order_id: int) -> list[tuple[str, str]]:
    """An order's transitions, oldest first: (from, to)."""
    events = await OrderEvent.filter(order_id=order_id).order_by("id")
    return [(e.from_status, e.to_status) for e in events]


def test_served_minutes_rounding() -> None:
    assert served_minutes(52 * 60, 15, 120) == 45  # 3.47 units → 3
    assert served_minutes(53 * 60, 15, 120) == 60  # 3.53 units → 4
    assert served_minutes(52.5 * 60, 15, 120) == 60  # halves go up
    assert served_minutes(10, 15, 120) == 15  # at least one unit
    assert served_minutes(300 * 60, 15, 120) == 120  # capped at the service's maximum


async def test_placard_tokens_that_do_not_work(w: dict[str, Any]) -> None:
    token = w["token"]
    forged = placards.make_token("another-secret-key-of-32-characters!", w["resident"].id, 1)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    swapped = placards.make_token(w["app"].state.settings.secret_key, w["resident"].id + 1, 1)
    for bad, code in [
        ("not-a-token", "bad_placard"),
        (forged, "bad_placard"),
        (tampered, "bad_placard"),
        (swapped, "bad_placard"),  # a signed token of a resident who has no placard
        (w["stranger_token"], "other_community"),
    ]:
        seen = await w["h"].get(f"/api/v1/placards/{bad}")
        assert seen.status_code == 403, (bad, seen.text)
        assert seen.json()["error"]["code"] == code
        tried = await start(w, bad)
        assert tried.status_code == 403 and tried.json()["error"]["code"] == code
    # Reissuing bumps the generation: the old placard stops working at once.
    reissued = await w["c"].post(f"/api/v1/members/{w['resident'].id}/placard", headers=w["ch"])
    assert reissued.status_code == 200 and reissued.json()["generation"] == 2
    old = await w["h"].get(f"/api/v1/placards/{token}")
    assert old.status_code == 403 and old.json()["error"]["code"] == "revoked_placard"
    new_token = reissued.json()["url"].rsplit("/v/", 1)[1]
    await order_now(w)
    fine = await w["h"].get(f"/api/v1/placards/{new_token}")
    assert fine.status_code == 200 and fine.json()["action"] == "start"
    # No order and no pairing: refused, and said why.
    other, other_h = await signed_in_client(w["stack"], w["app"], w["other_helper"])
    nothing = await other.get(f"/api/v1/placards/{new_token}")
    assert nothing.status_code == 403 and nothing.json()["error"]["code"] == "not_yours"
    assert "社区" in nothing.json()["error"]["messages"]["zh-CN"]
    # Every refusal of a signed-in member is in the audit log.
    refused = await AuditEvent.filter(action="visit.refused").count()
    assert refused == 5 * 2 + 1 + 1
    # Anonymous: sign in first.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=w["app"]), base_url="http://testserver"
    ) as anonymous:
        assert (await anonymous.get(f"/api/v1/placards/{new_token}")).status_code == 401


async def test_check_in_and_out_credits_hours_once(w: dict[str, Any]) -> None:
    order = await order_now(w)
    first = event()
    opened = await start(w, event_id=first, lat=HOME[0], lon=HOME[1])
    assert opened.status_code == 201, opened.text
    visit = opened.json()
    assert visit["status"] == "open" and visit["order"] == order.id
    assert visit["in_distance_m"] == 0
    # A double tap (same event id) and a second scan (a new one) both give the same visit.
    again = await start(w, event_id=first)
    assert again.status_code == 200 and again.json()["id"] == visit["id"]
    rescan = await start(w)
    assert rescan.status_code == 200 and rescan.json()["id"] == visit["id"]
    page = await w["h"].get(f"/api/v1/placards/{w['token']}")
    assert page.json()["action"] == "finish"
    assert (await Order.get(id=order.id)).status is OrderStatus.IN_PROGRESS
    await backdate(visit["id"], 50)
    last = event()
    closed = await finish(w, event_id=last, lat=HOME[0] + 0.0005, lon=HOME[1])
    assert closed.status_code == 200, closed.text
    done = closed.json()
    assert done["status"] == "verified", done["flags"]
    assert done["raw_minutes"] == 50 and done["served_minutes"] == 45
    assert done["credit_minutes"] == 45 and done["ledger_txn"] is not None
    assert 50 <= done["out_distance_m"] <= 60
    # A retried check-out changes nothing and posts nothing more.
    retried = await finish(w, event_id=last)
    assert retried.status_code == 200 and retried.json()["id"] == visit["id"]
    assert await Visit.filter(resident=w["resident"]).count() == 1
    assert await credited(visit["id"]) == 1
    assert (await Order.get(id=order.id)).status is OrderStatus.VERIFIED
    balance = await w["h"].get("/api/v1/me/hours")
    assert balance.json()["balance"]["available_minutes"] == 45, balance.text
    # Nothing left open: another check-out is a clear 409.
    nothing = await finish(w)
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "no_open_visit"
    mine = await w["h"].get("/api/v1/visits?mine=1")
    assert [v["id"] for v in mine.json()["visits"]] == [visit["id"]]


async def test_racing_requests_make_one_visit_and_one_posting(w: dict[str, Any]) -> None:
    await order_now(w)
    tap = event()
    results = await asyncio.gather(*(start(w, event_id=tap) for _ in range(6)))
    assert {r.status_code for r in results} <= {200, 201}, [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert await Visit.filter(helper=w["helper"]).count() == 1
    visit_id = results[0].json()["id"]
    await backdate(visit_id, 40)
    out = event()
    results = await asyncio.gather(*(finish(w, event_id=out) for _ in range(6)))
    assert {r.status_code for r in results} == {200}, [r.text for r in results]
    assert {r.json()["status"] for r in results} == {"verified"}
    assert await credited(visit_id) == 1


async def test_a_retry_that_lost_the_race_gets_the_first_result(
    w: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a retry can look for its event id before the first request commits and
    for the order after it (the order is then in progress, so "no order now"); it must
    answer with the first request's visit, not the refusal. The interleaving is forced
    here: the steps are replaced by the refusal they would give."""
    from timebank.visits import refusals
    from timebank.visits import service as visits_service

    async def race(
        send: Any, status: int, refusal: Callable[[], Exception], refused: tuple[int, str]
    ) -> httpx.Response:
        """``send`` an event; then, the steps giving ``refusal``, the same event again (the
        first answer's visit) and a new one (refused)."""
        tap = event()
        sent = await send(w, event_id=tap)
        assert sent.status_code == status, sent.text

        async def refuse(make: Any, **_: Any) -> Any:
            raise refusal()

        monkeypatch.setattr(visits_service, "_run_with_fixes", refuse)
        again = await send(w, event_id=tap)
        assert again.status_code == 200 and again.json()["id"] == sent.json()["id"]
        # Without a visit of that event id the refusal stands.
        other = await send(w, event_id=event())
        assert (other.status_code, other.json()["error"]["code"]) == refused
        monkeypatch.undo()
        return again

    await order_now(w)
    # Check-in: the retry lost the race to its first request.
    first = await race(start, 201, refusals.not_yours, (403, "not_yours"))
    await backdate(first.json()["id"], 40)
    # Check-out: the retry found the visit closed by its first request.
    retried = await race(finish, 200, refusals.no_open_visit, (409, "no_open_visit"))
    assert retried.json()["id"] == first.json()["id"]
    assert retried.json()["status"] == "verified"


async def test_bad_requests_are_clear(w: dict[str, Any]) -> None:
    await order_now(w)
    for body, code in [
        ({"event_id": "short"}, "bad_event_id"),
        ({"event_id": event(), "lat": 95, "lon": 1}, "bad_location"),
        ({"event_id": event(), "lat": 30}, "bad_location"),
        ({"event_id": event(), "client_time": "yesterday"}, "bad_time"),
        ({"event_id": event(), "client_time": "2026-11-22T09:00"}, "bad_time"),
        ({"event_id": event(), "offline": True}, "bad_time"),
    ]:
        response = await w["h"].post(
            f"/api/v1/placards/{w['token']}/check-in", json=body, headers=w["hh"]
        )
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == code
    no_csrf = await w["h"].post(f"/api/v1/placards/{w['token']}/check-in", json={})
    assert no_csrf.status_code == 403
    not_json = await w["h"].post(
        f"/api/v1/placards/{w['token']}/check-in", content=b"{", headers=w["hh"]
    )
    assert not_json.status_code == 400
    assert await Visit.all().count() == 0
    # A coordinator is not a helper: refused, clearly.
    refused = await w["c"].post(
        f"/api/v1/placards/{w['token']}/check-in", json={"event_id": event()}, headers=w["ch"]
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_a_helper"
    # One open visit per helper: finish the first home before starting another.
    assert (await start(w)).status_code == 201
    family_placard = await placards.placard_of(w["family"])
    other_token = placards.make_token(
        w["app"].state.settings.secret_key, w["family"].id, family_placard.generation
    )
    await Order.create(
        community=w["here"], resident=w["family"], helper=w["helper"], service_code="visit",
        starts_at=datetime.now(UTC), ends_at=datetime.now(UTC) + timedelta(hours=1),
        status=OrderStatus.ASSIGNED,
    )  # fmt: skip
    busy = await start(w, other_token)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "visit_open_elsewhere"
    assert "陈秀英" in busy.json()["error"]["messages"]["zh-CN"]
    # Still under way 40 minutes on (not yet forgotten): the same answer.
    opened = await Visit.get(open_helper_id=w["helper"].id)
    await backdate(opened.id, 40)
    still = await start(w, other_token)
    assert still.status_code == 409 and still.json()["error"]["code"] == "visit_open_elsewhere"
    # Forgotten (past meal help's 120 minutes and the 60 late): closed, and the new one opens.
    await backdate(opened.id, 200)
    moved_on = await start(w, other_token)
    assert moved_on.status_code == 201, moved_on.text
    assert "auto_closed" in (await Visit.get(id=opened.id)).flags


async def flagged_visit(w: dict[str, Any], minutes: int, **out: Any) -> dict[str, Any]:
    opened = await start(w, **out.pop("start", {}))
    assert opened.status_code == 201, opened.text
    if minutes:
        await backdate(opened.json()["id"], minutes)
    closed = await finish(w, **out)
    assert closed.status_code == 200, closed.text
    return dict(closed.json())


async def test_each_flag_rule(w: dict[str, Any]) -> None:
    # Too short.
    await order_now(w)
    short = await flagged_visit(w, 3)
    assert short["status"] == "flagged" and short["flags"] == ["too_short"]
    assert short["ledger_txn"] is None and await credited(short["id"]) == 0
    # Too long: capped at the service's maximum (meal_delivery: 60 minutes).
    await push_back()
    await order_now(w, service="meal_delivery")
    capped = await flagged_visit(w, 80)
    assert "too_long" in capped["flags"] and capped["served_minutes"] == 60
    assert "overlap" not in capped["flags"]
    # Too far from the home (the community's radius is 250 m).
    await push_back()
    await order_now(w)
    far = await flagged_visit(w, 40, start={"lat": HOME[0] + 0.01, "lon": HOME[1]})
    assert far["flags"] == ["too_far"] and far["in_distance_m"] > 1000
    # Outside the window: an active pairing's visit without an order.
    await push_back()
    pairing = await Pairing.create(
        community=w["here"], helper=w["helper"], resident=w["resident"],
        status=PairingStatus.APPROVED, started_on=datetime.now(UTC).date(),
    )  # fmt: skip
    await PlanItem.create(pairing=pairing, service_code="companionship", every_days=7)
    scan = await w["h"].get(f"/api/v1/placards/{w['token']}")
    assert scan.json()["order"] is None and scan.json()["services"][0]["code"] == "companionship"
    unscheduled = await flagged_visit(w, 40, start={"service": "companionship"})
    assert unscheduled["flags"] == ["outside_window"] and unscheduled["pairing"] == pairing.id
    bad_service = await start(w, service="bathing")
    assert bad_service.status_code == 422
    # Recorded offline: the phone's times count, flagged.
    await push_back()
    await order_now(w)
    phone_in = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    offline = await flagged_visit(
        w, 0, start={"offline": True, "client_time": phone_in},
        offline=True, client_time=datetime.now(UTC).isoformat(),
    )  # fmt: skip
    assert offline["flags"] == ["offline"] and offline["served_minutes"] == 30
    # Overlapping another visit of the helper (an offline record put in the past).
    await order_now(w)
    overlapping = await flagged_visit(
        w, 0, start={"offline": True, "client_time": phone_in},
        offline=True, client_time=datetime.now(UTC).isoformat(),
    )  # fmt: skip
    assert set(overlapping["flags"]) == {"offline", "overlap"}
    # Over the daily earning cap (45 minutes earned, 30 allowed).
    await push_back()
    await Community.filter(id=w["here"].id).update(daily_cap_minutes=30)
    await order_now(w)
    over = await flagged_visit(w, 40)
    assert over["flags"] == ["daily_cap"]
    await Community.filter(id=w["here"].id).update(daily_cap_minutes=None)


async def test_confirmation_pin_and_rating(w: dict[str, Any]) -> None:
    # Bathing needs the resident's confirmation.
    set_pin = await w["c"].put(
        f"/api/v1/members/{w['resident'].id}/placard/pin", json={"pin": "2580"}, headers=w["ch"]
    )
    assert set_pin.status_code == 200 and set_pin.json()["pin_set"] is True
    bad_pin = await w["c"].put(
        f"/api/v1/members/{w['resident'].id}/placard/pin", json={"pin": "12"}, headers=w["ch"]
    )
    assert bad_pin.status_code == 422 and bad_pin.json()["error"]["code"] == "bad_pin"
    await order_now(w, service="bathing")
    confirmed = await flagged_visit(w, 60, pin="2580")
    assert confirmed["status"] == "verified" and confirmed["confirmed_by"] == "pin"
    # Three wrong PINs lock it; the visit stays open until finished without one.
    await push_back()
    await order_now(w, service="bathing")
    opened = await start(w)
    await backdate(opened.json()["id"], 60)
    for left in (2, 1, 0):
        wrong = await finish(w, pin="1111")
        assert wrong.status_code == 422 and wrong.json()["error"]["details"]["tries_left"] == left
    locked = await finish(w, pin="2580")
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "pin_locked"
    unconfirmed = await finish(w)
    assert unconfirmed.json()["flags"] == ["unconfirmed"]
    visit_id = unconfirmed.json()["id"]
    # The family rates it later: that confirms it, and it is verified and credited.
    async with AsyncExitStack() as stack:
        family, family_h = await signed_in_client(stack, w["app"], w["family"])
        url = f"/api/v1/visits/{visit_id}/rating"
        too_high = await family.post(url, json={"rating": 6}, headers=family_h)
        assert too_high.status_code == 422
        rated = await family.post(url, json={"rating": 5, "comment": "很好"}, headers=family_h)
        assert rated.status_code == 200, rated.text
        assert rated.json()["status"] == "verified" and rated.json()["confirmed_by"] == "rating"
        assert await credited(visit_id) == 1
        twice = await family.post(url, json={"rating": 4}, headers=family_h)
        assert twice.status_code == 409
        # The helper cannot rate their own visit.
        own = await w["h"].post(url, json={"rating": 5}, headers=w["hh"])
        assert own.status_code == 403


async def test_review_queue(w: dict[str, Any]) -> None:
    await order_now(w)
    a = await flagged_visit(w, 3)
    await order_now(w)
    b = await flagged_visit(w, 3)
    await order_now(w)
    c = await flagged_visit(w, 3)
    queue = await w["c"].get("/api/v1/visits?status=flagged")
    assert {v["id"] for v in queue.json()["visits"]} == {a["id"], b["id"], c["id"]}
    assert queue.json()["visits"][0]["helper_name"] == "张建国"
    bad = await w["c"].get("/api/v1/visits?status=lost")
    assert bad.status_code == 400
    url = "/api/v1/visits/{}/review"
    # Only a coordinator of the community reviews.
    helper_try = await w["h"].post(url.format(a["id"]), json={"action": "approve"}, headers=w["hh"])
    assert helper_try.status_code == 403
    no_reason = await w["c"].post(url.format(b["id"]), json={"action": "reject"}, headers=w["ch"])
    assert no_reason.status_code == 422 and no_reason.json()["error"]["code"] == "reason_required"
    approved = await w["c"].post(url.format(a["id"]), json={"action": "approve"}, headers=w["ch"])
    assert approved.status_code == 200 and approved.json()["status"] == "verified"
    assert approved.json()["credit_minutes"] == 15 and await credited(a["id"]) == 1
    adjusted = await w["c"].post(
        url.format(b["id"]),
        json={"action": "adjust", "minutes": 30, "reason": "打电话核实，服务了半小时"},
        headers=w["ch"],
    )
    assert adjusted.status_code == 200 and adjusted.json()["credit_minutes"] == 30
    bad_minutes = await w["c"].post(
        url.format(c["id"]), json={"action": "adjust", "minutes": 0, "reason": "x"},
        headers=w["ch"],
    )  # fmt: skip
    assert bad_minutes.status_code == 422
    rejected = await w["c"].post(
        url.format(c["id"]), json={"action": "reject", "reason": "老人说没有来"}, headers=w["ch"]
    )
    assert rejected.json()["status"] == "rejected" and await credited(c["id"]) == 0
    again = await w["c"].post(url.format(a["id"]), json={"action": "approve"}, headers=w["ch"])
    assert again.status_code == 409
    assert await credited(a["id"]) == 1
    balance = await w["h"].get("/api/v1/me/hours")
    assert balance.json()["balance"]["available_minutes"] == 45


async def test_who_pays(w: dict[str, Any]) -> None:
    # An order the resident placed is paid from their wallet: with no hours, it waits.
    await order_now(w, funded=False)
    unpaid = await flagged_visit(w, 30)
    assert unpaid["flags"] == ["no_hours"] and unpaid["ledger_txn"] is None
    await grant(
        community_id=w["here"].id, member_id=w["resident"].id, minutes=120,
        key="grant-1", actor_id=w["coordinator"].id, reason="兜底",
    )  # fmt: skip
    approved = await w["c"].post(
        f"/api/v1/visits/{unpaid['id']}/review", json={"action": "approve"}, headers=w["ch"]
    )
    assert approved.json()["status"] == "verified", approved.text
    async with AsyncExitStack() as stack:
        resident, _ = await signed_in_client(stack, w["app"], w["resident"])
        hours = (await resident.get("/api/v1/me/hours")).json()["balance"]
        assert hours["available_minutes"] == 90
    # A paid pairing (困困结对) accrues pay at the helper's rate and no hours.
    await push_back()
    await HelperProfile.create(member=w["helper"], hourly_rate_fen=2400)
    pairing = await Pairing.create(
        community=w["here"], helper=w["helper"], resident=w["resident"],
        status=PairingStatus.APPROVED, compensation=Compensation.PAID,
        started_on=datetime.now(UTC).date(),
    )  # fmt: skip
    await order_now(w, pairing_id=pairing.id)
    paid = await flagged_visit(w, 60)
    assert paid["status"] == "verified" and paid["pay_fen"] == 2400
    assert paid["hours"] is False and await credited(paid["id"]) == 0


async def test_forgotten_visit_is_closed_at_its_maximum(w: dict[str, Any]) -> None:
    await order_now(w)
    opened = await start(w)
    await backdate(opened.json()["id"], 200)  # meal_help: at most 120, plus 60 late
    assert await close_forgotten(tz=TZ) == 1
    visit = await Visit.get(id=opened.json()["id"])
    assert visit.status.value == "flagged" and visit.served_minutes == 120
    assert "auto_closed" in visit.flags.split(",")
    assert visit.open_helper_id is None
    assert await close_forgotten(tz=TZ) == 0


async def test_the_order_history_records_review_and_rating(w: dict[str, Any]) -> None:
    """Every transition of a visit's order is in its history, the coordinator's approval
    and the family's rating included, with who made it."""
    order = await order_now(w)
    short = await flagged_visit(w, 3)
    approved = await w["c"].post(
        f"/api/v1/visits/{short['id']}/review", json={"action": "approve"}, headers=w["ch"]
    )
    assert approved.status_code == 200 and approved.json()["status"] == "verified"
    assert (await Order.get(id=order.id)).status is OrderStatus.VERIFIED
    assert await history(order.id) == [
        ("assigned", "in_progress"), ("in_progress", "completed"), ("completed", "flagged"),
        ("flagged", "verified"),
    ]  # fmt: skip
    last = await OrderEvent.filter(order_id=order.id).order_by("-id").first()
    assert last is not None and last.actor_id == w["coordinator"].id
    # A rejected visit leaves its order flagged: no transition, no row.
    await push_back()
    order = await order_now(w)
    rejected = await flagged_visit(w, 3)
    await w["c"].post(
        f"/api/v1/visits/{rejected['id']}/review",
        json={"action": "reject", "reason": "老人说没有来"},
        headers=w["ch"],
    )
    assert (await history(order.id))[-1] == ("completed", "flagged")
    # Bathing waits for the resident's confirmation; the family's rating gives it.
    await push_back()
    order = await order_now(w, service="bathing")
    unconfirmed = await flagged_visit(w, 60)
    assert unconfirmed["flags"] == ["unconfirmed"]
    async with AsyncExitStack() as stack:
        family, family_h = await signed_in_client(stack, w["app"], w["family"])
        rated = await family.post(
            f"/api/v1/visits/{unconfirmed['id']}/rating", json={"rating": 5}, headers=family_h
        )
        assert rated.status_code == 200 and rated.json()["status"] == "verified"
    assert (await Order.get(id=order.id)).status is OrderStatus.VERIFIED
    assert (await history(order.id))[-3:] == [
        ("in_progress", "completed"), ("completed", "flagged"), ("flagged", "verified"),
    ]  # fmt: skip
    last = await OrderEvent.filter(order_id=order.id).order_by("-id").first()
    assert last is not None and last.actor_id == w["family"].id


async def test_an_unpaid_visit_sends_its_order_back_to_review_in_the_history(
    w: dict[str, Any],
) -> None:
    """The resident's wallet cannot pay: the order, verified at check-out, is flagged
    again (no_hours), and that too is a transition with its row."""
    order = await order_now(w, funded=False)
    unpaid = await flagged_visit(w, 30)
    assert unpaid["flags"] == ["no_hours"]
    assert (await Order.get(id=order.id)).status is OrderStatus.FLAGGED
    assert (await history(order.id))[-2:] == [("completed", "verified"), ("verified", "flagged")]


class Statements:
    """Counts the statements the database is sent (SQLite: its trace callback; PostgreSQL:
    asyncpg's query logger on every connection of the pool)."""

    def __init__(self) -> None:
        self.seen = 0
        self.client = connections.get("default")

    def saw(self, *_: Any) -> None:
        self.seen += 1

    async def __aenter__(self) -> Statements:
        if self.client.capabilities.dialect == "sqlite":
            conn = self.client._connection
            await conn._execute(conn._conn.set_trace_callback, self.saw)
        else:
            for holder in self.client._pool._holders:
                if holder._con is not None:
                    holder._con.add_query_logger(self.saw)
        return self

    async def __aexit__(self, *_: Any) -> None:
        if self.client.capabilities.dialect == "sqlite":
            conn = self.client._connection
            await conn._execute(conn._conn.set_trace_callback, None)
        else:
            for holder in self.client._pool._holders:
                if holder._con is not None:
                    holder._con.remove_query_logger(self.saw)


async def test_a_clean_check_in_and_out_costs_few_statements(w: dict[str, Any]) -> None:
    """The tap at the door is the busiest request: a clean check-in and check-out (session
    look-ups, transactions, order moves, audit rows and the ledger posting included) cost
    at most 33 statements on SQLite, 27 on PostgreSQL (42 and 36 before issue 15's work)."""
    for _ in range(2):  # the first opens the ledger accounts, the second finds their ids
        await order_now(w)
        warm = await start(w)
        await backdate(warm.json()["id"], 50)
        assert (await finish(w)).json()["status"] == "verified"
        await push_back()
    await order_now(w)
    async with Statements() as checking_in:
        opened = await start(w)
    await backdate(opened.json()["id"], 50)
    async with Statements() as checking_out:
        closed = await finish(w)
    assert closed.json()["status"] == "verified" and closed.json()["ledger_txn"] is not None
    most = 33 if checking_in.client.capabilities.dialect == "sqlite" else 27
    assert checking_in.seen + checking_out.seen <= most, (checking_in.seen, checking_out.seen)
