"""The menu on every page: what each member sees, and that none of it is refused."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from typing import Any

import httpx

from tests.conftest import coordinate_street, make_world, page_client

MENU_LINK = re.compile(r'<a href="([^"]+)" data-testid="menu-([a-z-]+)"')
EXPECTED = {
    "helper": ["tasks", "visits", "hours", "use-hours", "family"],
    "resident": ["order", "visits", "hours", "family"],
    "coordinator": ["hours", "dashboard", "members", "pairings", "orders", "all-visits",
                    "handover", "reports", "grants", "placards", "settlements", "accounts",
                    "catalog", "audit"],
}  # fmt: skip


def menu_of(html: str) -> list[tuple[str, str]]:
    """(href, test id) of every menu entry on a page."""
    start = html.index('data-testid="menu"')
    return MENU_LINK.findall(html[start : html.index("</nav>", start)])


async def test_each_member_has_a_menu_whose_every_entry_opens(app: Any) -> None:
    world = await make_world("helper", "resident", "coordinator", "street", "admin")
    people = {k: v for k, v in world.items() if k != "here"}
    await coordinate_street(people["street"], world["here"])
    async with AsyncExitStack() as stack:
        for persona, member in people.items():
            client = await page_client(stack, app, member)
            page = await client.get("/me")
            assert page.status_code == 200
            assert 'href="/me" data-testid="brand"' in page.text, persona
            entries = menu_of(page.text)
            testids = [t for _, t in entries]
            assert testids == EXPECTED.get(persona, EXPECTED["coordinator"]), persona
            for href, testid in entries:
                opened = await client.get(href)
                assert opened.status_code == 200, (persona, href, opened.status_code)
                if testid == "placards":
                    continue  # the A4 sheet to print carries nothing but the placards
                assert 'aria-current="page"' in opened.text.split('data-testid="menu"')[1]
                # The menu is on every page, not only the profile.
                assert f'data-testid="menu-{testid}"' in opened.text


async def test_a_visitor_has_no_menu_and_the_brand_goes_to_the_landing_page(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/signin")
    assert 'data-testid="menu"' not in page.text
    assert 'href="/" data-testid="brand"' in page.text
