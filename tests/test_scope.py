"""A coordinator of a sub-district (街道) coordinates every community below it; a
community's coordinator only their own (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import clients_of, make_signed_up
from timebank.people.models import Level, Member, ResidentProfile
from timebank.people.service import create_community


async def test_a_sub_district_coordinator_sees_its_communities(app: Any) -> None:
    district = await create_community(name="江城区", level=Level.DISTRICT, parent=None)
    east = await create_community(name="东湖街道", level=Level.SUBDISTRICT, parent=district)
    west = await create_community(name="西湖街道", level=Level.SUBDISTRICT, parent=district)
    a = await create_community(name="桂花社区", level=Level.COMMUNITY, parent=east)
    b = await create_community(name="枫林社区", level=Level.COMMUNITY, parent=east)
    c = await create_community(name="荷塘社区", level=Level.COMMUNITY, parent=west)
    street_lead = await make_signed_up(east, "coordinator", name="街道主任")
    lead_a = await make_signed_up(a, "coordinator", name="李芳")
    residents = {}
    for community, name in ((a, "王秀英"), (b, "赵德海"), (c, "孙玉珍")):
        member = await make_signed_up(community, "resident", name=name)
        await Member.filter(id=member.id).update(created_at=datetime.now(UTC) - timedelta(30))
        await ResidentProfile.create(member=member, hardship="alone")
        residents[name] = member
    async with clients_of(app, street_lead, lead_a) as (street, office):
        # The overdue list: both of the street's communities, not the other street's.
        late = await street.get("/api/v1/reports/overdue")
        assert sorted(o["name"] for o in late.json()["overdue"]) == ["王秀英", "赵德海"]
        page = await street.get("/dashboard")
        assert "王秀英" in page.text and "赵德海" in page.text and "孙玉珍" not in page.text
        mine = await office.get("/api/v1/reports/overdue")
        assert [o["name"] for o in mine.json()["overdue"]] == ["王秀英"]
        # The monthly figures: the street's two communities, rolled up to it.
        month = (await street.get("/api/v1/reports/monthly?month=2026-10")).json()
        assert [f["name"] for f in month["communities"]] == ["桂花社区", "枫林社区"]
        assert "东湖街道" in [f["name"] for f in month["rollups"]]
        assert (await street.get(f"/api/v1/reports/monthly?month=2026-10&community={c.id}")
                ).status_code == 403  # fmt: skip
        # Members: those of the street's communities, not of the other street.
        assert (await street.get(f"/api/v1/members/{residents['赵德海'].id}")).status_code == 200
        assert (await street.get(f"/api/v1/members/{residents['孙玉珍'].id}")).status_code == 403
        # A community's coordinator: only their own community.
        assert (await office.get(f"/api/v1/members/{residents['赵德海'].id}")).status_code == 403
        listed = await street.get("/api/v1/members?role=resident")
        assert listed.status_code == 200
        names = {m["name"] for m in listed.json()["members"]}
        assert {"王秀英", "赵德海"} <= names and "孙玉珍" not in names


async def one_street() -> tuple[Any, Any, Any]:
    """东湖街道 (of 江城区) and its two communities, 桂花社区 and 枫林社区."""
    district = await create_community(name="江城区", level=Level.DISTRICT, parent=None)
    east = await create_community(name="东湖街道", level=Level.SUBDISTRICT, parent=district)
    a = await create_community(name="桂花社区", level=Level.COMMUNITY, parent=east)
    b = await create_community(name="枫林社区", level=Level.COMMUNITY, parent=east)
    return east, a, b


async def test_office_pages_open_on_a_community_and_offer_the_others(app: Any) -> None:
    east, a, b = await one_street()
    street_lead = await make_signed_up(east, "coordinator", name="街道主任")
    lead_a = await make_signed_up(a, "coordinator", name="李芳")
    async with clients_of(app, street_lead, lead_a) as (street, office):
        for path in ("/settlements", "/redeem/catalog", "/grants", "/placards"):
            page = await street.get(path)
            assert page.status_code == 200, (path, page.text[:300])
            # The first community below the street, not the street itself; both offered.
            assert "桂花社区" in page.text.split("</title>")[0], path
            picker = page.text.split('data-testid="community-picker"')[1].split("</form>")[0]
            assert f'value="{a.id}" selected' in picker and f'value="{b.id}"' in picker, path
            other = await street.get(f"{path}?community={b.id}")
            assert "枫林社区" in other.text.split("</title>")[0], path
            mine = await office.get(path)
            assert "桂花社区" in mine.text.split("</title>")[0], path
            assert 'data-testid="community-picker"' not in mine.text, path  # one community
            assert (await office.get(f"{path}?community={b.id}")).status_code == 403, path
        # The settlement page keeps the month when another community is picked.
        month = await street.get(f"/settlements?month=2026-10&community={b.id}")
        picker = month.text.split('data-testid="community-picker"')[1].split("</form>")[0]
        assert 'name="month" value="2026-10"' in picker


async def test_the_order_form_offers_one_communitys_residents_at_a_time(app: Any) -> None:
    east, a, b = await one_street()
    street_lead = await make_signed_up(east, "coordinator", name="街道主任")
    in_a = await make_signed_up(a, "resident", name="王秀英")
    in_b = await make_signed_up(b, "resident", name="赵德海")
    async with clients_of(app, street_lead) as (street,):
        form = await street.get("/order")
        assert form.status_code == 200
        assert "王秀英" in form.text and "赵德海" not in form.text  # 桂花, the first
        assert f'action="/order?community={a.id}"' in form.text
        picker = form.text.split('data-testid="community-picker"')[1].split("</form>")[0]
        assert f'value="{b.id}"' in picker
        # From the dashboard's "send someone": the resident's own community.
        sent = await street.get(f"/order?resident={in_b.id}")
        assert "赵德海" in sent.text and "王秀英" not in sent.text
        assert f'value="{in_b.id}" selected' in sent.text
        other = await street.get(f"/order?community={b.id}")
        assert "赵德海" in other.text and f'value="{in_a.id}"' not in other.text
