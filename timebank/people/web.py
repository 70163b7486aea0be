"""Who is asking: the signed-in member of a request, and the CSRF check."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from timebank.errors import Forbidden, Unauthorized
from timebank.people.audit import Actor
from timebank.people.auth import SESSION_COOKIE, SignedIn, csrf_ok, current

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


async def posted_form(request: Request, who: SignedIn) -> FormData:
    """A submitted form, refused unless it carries this session's CSRF token."""
    form = await request.form()
    require_csrf(request, who, str(form.get("csrf_token", "")))
    return form
