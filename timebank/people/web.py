"""Who is asking: the signed-in member of a request, and the CSRF check."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from timebank.errors import Forbidden, Unauthorized
from timebank.http import set_site_cookie
from timebank.people.audit import Actor
from timebank.people.auth import SESSION_COOKIE, SESSION_DAYS, SignedIn, csrf_ok, current
from timebank.people.models import Community

SKIP = ("/static/", "/healthz")


class SignedInMember:
    """Looks up the session cookie once per request; ``request.state.me`` is the result."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})
            me = None
            if not scope["path"].startswith(SKIP):
                request = Request(scope)
                me = await current(
                    request.cookies.get(SESSION_COOKIE),
                    secret_key=request.app.state.settings.secret_key,
                )
            scope["state"]["me"] = me
        await self.app(scope, receive, send)


def me(request: Request) -> SignedIn | None:
    """The signed-in member, or None."""
    found: SignedIn | None = getattr(request.state, "me", None)
    return found


def require_member(request: Request) -> SignedIn:
    """The signed-in member, or a 401 asking to sign in."""
    found = me(request)
    if found is None:
        raise Unauthorized("Please sign in first.", "请先登录。", code="sign_in_required")
    return found


def require_csrf(request: Request, signed_in: SignedIn, token: str | None) -> None:
    """Refuse a state change that does not carry this session's CSRF token."""
    if not csrf_ok(signed_in, token):
        raise Forbidden(
            "The form has expired or did not come from this site. Please reload and try again.",
            "页面已过期或来源不明，请刷新后重试。",
            code="csrf_failed",
        )


def actor_of(request: Request, who: SignedIn) -> Actor:
    """The acting member and the address the request came from (for the audit log)."""
    return Actor(who.member.id, request.client.host if request.client else "")


def signin_redirect(request: Request) -> Response:
    """Send a visitor who is not signed in to sign in, and back here afterwards."""
    return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    """The session cookie, for SESSION_DAYS (HttpOnly, SameSite=Lax, Secure on https)."""
    set_site_cookie(request, response, SESSION_COOKIE, value, max_age=SESSION_DAYS * 24 * 3600)


def changing(request: Request) -> SignedIn:
    """The signed-in member of a state-changing API call, which must carry X-CSRF-Token."""
    who = require_member(request)
    require_csrf(request, who, request.headers.get("x-csrf-token"))
    return who


Page = Callable[[Request, SignedIn], Awaitable[Response]]


def signed_in(page: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page for signed-in members (flaskr's ``login_required``): anyone else is sent to
    sign in first, and back to this page afterwards. The page gets who is asking."""

    @functools.wraps(page)
    async def guarded(request: Request) -> Response:
        who = me(request)
        if who is None:
            return signin_redirect(request)
        return await page(request, who)

    return guarded


async def posted_form(request: Request, who: SignedIn) -> FormData:
    """A submitted form, refused unless it carries this session's CSRF token, or with a NUL
    in any field (which PostgreSQL cannot store)."""
    from timebank.inputs import check_form

    form = await request.form()
    require_csrf(request, who, str(form.get("csrf_token", "")))
    check_form(form)
    return form


@dataclass(frozen=True)
class Asked:
    """The community an office page is about, and the others its coordinator may pick."""

    community: Community
    choices: list[Community]


async def asked_community(request: Request, who: SignedIn, *, prefer: int | None = None) -> Asked:
    """``?community=ID`` (refused unless coordinated), else ``prefer`` when they coordinate
    it, else the coordinator's own community, else (a sub-district's or district's
    coordinator) the first community they coordinate; with every community-level community
    they coordinate, for the page's picker."""
    from timebank.people import policy
    from timebank.people.service import get_community

    choices = await policy.communities_of(who)
    raw = request.query_params.get("community", "")
    if not raw and prefer is not None and prefer in {c.id for c in choices}:
        raw = str(prefer)
    own = int(who.member.community_id)
    if not raw and choices and own not in {c.id for c in choices}:
        return Asked(choices[0], choices)
    wanted = policy.community_asked(who, raw)
    found = next((c for c in choices if c.id == wanted), None)
    return Asked(found or await get_community(wanted), choices)
