"""Text in a URL is never shown as the site's own message (issue 14): every page route,
as a coordinator, a helper and anonymous, with a scam sentence in every query parameter a
page reads and in every text path parameter; no alert on the page may carry it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
from starlette.routing import Route

from tests.conftest import make_community, make_member, make_signed_up, sign_in_client

SCAM = "您的账户已冻结请致电400-123"
# Every query parameter a page reads (grep query_params in timebank), and a few more.
PARAMS = [
    "after",
    "before",
    "community",
    "done",
    "error",
    "format",
    "limit",
    "month",
    "next",
    "overdue",
    "placed",
    "registered",
    "resident",
    "q",
    "role",
    "status",
    "date",
    "until",
    "message",
    "msg",
    "notice",
]


class Alerts(HTMLParser):
    """The text inside elements marked role="alert" (the site's red messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += 1
        elif ("role", "alert") in attrs:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def alerts_of(html: str) -> str:
    parser = Alerts()
    parser.feed(html)
    return " ".join(parser.text)


def page_routes(app: Any) -> list[str]:
    """The paths of every page route that answers GET."""
    return [
        r.path
        for r in app.routes
        if isinstance(r, Route) and r.methods and "GET" in r.methods and r.path != "/healthz"
    ]


def concrete(path: str, member_id: int) -> str:
    """``path`` with its id parameters filled in and its text parameters holding the scam."""
    path = re.sub(r"\{member_id:int\}", str(member_id), path)
    path = re.sub(r"\{[a-z_]+:int\}", "1", path)
    return re.sub(r"\{[a-z_]+\}", SCAM, path)


async def test_no_page_shows_text_from_its_url(app: Any, client: httpx.AsyncClient) -> None:
    here = await make_community()
    coordinator = await make_signed_up(here, "coordinator", name="协调员")
    helper = await make_signed_up(here, "helper", name="志愿者")
    resident = await make_member(here, "resident", name="王秀兰")
    query = {name: SCAM for name in PARAMS}
    shown: list[str] = []
    for who in (None, helper, coordinator):
        client.cookies.clear()
        if who is not None:
            await sign_in_client(client, who)
        for path in page_routes(app):
            url = concrete(path, resident.id)
            response = await client.get(url, params=query, headers={"accept": "text/html"})
            assert response.status_code < 500, (url, response.status_code)
            if SCAM in alerts_of(response.text) or "400-123" in alerts_of(response.text):
                shown.append(f"{getattr(who, 'name', 'anonymous')} {url} {response.status_code}")
    assert not shown, "\n".join(shown)
