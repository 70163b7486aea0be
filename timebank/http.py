"""What every route shares: the request's language, JSON input, errors, security headers."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timebank import inputs
from timebank.errors import BadRequest, TimebankError
from timebank.i18n import gettext_for, request_lang
from timebank.templating import render

log = logging.getLogger("timebank")

# Messages for HTTP errors raised by routing itself (unknown path, wrong method).
HTTP_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "The request could not be understood.", "请求无法识别。"),
    401: ("unauthorized", "Please sign in first.", "请先登录。"),
    403: ("forbidden", "You may not do this.", "您没有权限执行此操作。"),
    404: ("not_found", "There is no such page or record.", "找不到该页面或记录。"),
    405: (
        "method_not_allowed",
        "This address does not accept that method.",
        "该地址不支持此请求方式。",
    ),
    409: ("conflict", "This conflicts with the current state.", "与当前状态冲突。"),
    413: ("too_large", "The request is too large.", "请求内容过大。"),
    422: ("invalid", "Some of the input is not valid.", "部分输入无效。"),
    429: (
        "too_many_requests",
        "Too many requests. Please wait a little.",
        "请求过于频繁，请稍后再试。",
    ),
}
INTERNAL = (
    "internal_error",
    "Something went wrong on our side. Nothing was saved. "
    "Please try again or call your coordinator.",
    "系统出错，本次操作未保存。请重试或联系社区协调员。",
)


def post(path: str, endpoint: Any, *, name: str | None = None) -> Route:
    """The route of a form or an API call that changes something: ``path`` taking POST."""
    return Route(path, endpoint, methods=["POST"], name=name)


def wants_json(request: Request) -> bool:
    """API paths, and clients that ask for JSON, get JSON errors; browsers get a page."""
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default``.

    "//host" and "https://…" would turn a redirect after sign-in or a language switch into
    an open redirect to another site.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def set_site_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int | None = None
) -> None:
    """A cookie of this site, as every one of ours is set: HttpOnly (no script reads it),
    SameSite=Lax (a cross-site POST does not send it), Secure on an https site, for every
    path; ``max_age`` in seconds, else it lasts the browser session."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.https,
    )


class _NotFinite(ValueError):
    """NaN, Infinity or a number too large for a float (1e309) in a JSON body."""


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotFinite(text)
    return value


def _no_constant(text: str) -> float:
    raise _NotFinite(text)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it.

    Every string in it (keys too) is checked for NUL and lone surrogates, which
    ``json.loads`` produces from ``\\u0000`` and ``\\ud800``; numbers must be finite.
    """
    raw = await request.body()
    try:
        body = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except _NotFinite:
        raise BadRequest(
            "Numbers in the request must be finite (no NaN or Infinity, at most 1e308).",
            "请求中的数字必须是有限值（不能是 NaN 或无穷大，最大 1e308）。",
            code="invalid_json",
        ) from None
    except RecursionError:
        raise BadRequest(
            "The request body is nested too deeply.",
            "请求内容嵌套层数过多。",
            code="invalid_json",
        ) from None
    except ValueError:
        raise BadRequest(
            "The request body is not valid JSON.", "请求内容不是有效的 JSON。", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise BadRequest(
            "The request body must be a JSON object.",
            "请求内容必须是 JSON 对象。",
            code="invalid_json",
        )
    inputs.check_json_text(body)
    return body


def error_response(request: Request, status: int, code: str, en: str, zh: str) -> Response:
    """The one shape every error takes: JSON for the API, a page for people."""
    error = TimebankError(en, zh, code=code)
    lang = request_lang(request)
    if wants_json(request):
        return JSONResponse(error.body(lang), status_code=status)
    context = {
        "status": status,
        "message": error.message(lang),
        "title": gettext_for(lang, "Something is wrong"),
    }
    return render(request, "errors/error.html", context, status=status)


async def on_domain_error(request: Request, exc: Exception) -> Response:
    """A rule refused the request: its status, code and message."""
    assert isinstance(exc, TimebankError)
    lang = request_lang(request)
    if wants_json(request):
        return JSONResponse(exc.body(lang), status_code=exc.status)
    return error_response(request, exc.status, exc.code, exc.en, exc.zh)


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405 …) in the same shape as domain errors."""
    assert isinstance(exc, HTTPException)
    code, en, zh = HTTP_MESSAGES.get(
        exc.status_code, (str(exc.status_code), exc.detail, exc.detail)
    )
    response = error_response(request, exc.status_code, code, en, zh)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        # Starlette names only the methods of the first route that matched the path.
        top = {**request.scope, "root_path": request.scope.get("app_root_path", "")}
        allowed = allowed_methods(request.app.router.routes, top)
        if allowed:
            response.headers["allow"] = ", ".join(sorted(allowed))
    return response


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route (inside mounts too) accepts for this scope's path."""
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            match, child = route.matches(scope)
            if match is Match.FULL:
                found |= allowed_methods(route.routes, {**scope, **child})
        elif isinstance(route, Route) and route.methods:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                found |= route.methods
    return found


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    """Log the traceback; the client learns only that nothing was saved."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, *INTERNAL)


EXCEPTION_HANDLERS = {
    TimebankError: on_domain_error,
    HTTPException: on_http_error,
    Exception: on_unexpected_error,
}

# No inline script or style anywhere: the pages only load the vendored files.
CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Adds the same protective headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.extend(
                    [
                        (b"content-security-policy", CSP.encode()),
                        (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"same-origin"),
                        (b"x-frame-options", b"DENY"),
                    ]
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


class InputGuard:
    """Refuses, before any route runs, input no route could store or should read.

    A path that is not clean UTF-8 text (a NUL, bytes that are not UTF-8, an encoded
    surrogate) is a 404; such a query parameter is a 400 naming it. A body larger than its
    limit is a 413: up front when Content-Length says so, else as soon as the bytes
    received pass the limit, so a 100 MB body is never held in memory.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"].encode("utf-8", "surrogatepass")  # when no raw_path is given
        raw_path = bytes(scope.get("raw_path") or path).partition(b"?")[0]
        if not inputs.path_is_clean(raw_path):
            await error_response(request, 404, *HTTP_MESSAGES[404])(scope, receive, send)
            return
        name = inputs.check_query(scope.get("query_string", b""))
        if name is not None:
            error = inputs.refuse_text(name)
            response = await on_domain_error(request, error)
            await response(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = request.headers.get("content-length", "0")
        if not declared.isascii() or not declared.isdigit() or int(declared) > limit:
            status = 413 if declared.isascii() and declared.isdigit() else 400
            await error_response(request, status, *HTTP_MESSAGES[status])(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413)
            return message

        await self.app(scope, counted, send)


def body_limit(path: str) -> int:
    """The largest body a request to ``path`` may send: the CSV import's, else 1 MB."""
    from timebank.people.member_import import MAX_IMPORT_BYTES

    if path.endswith("/import"):
        return MAX_IMPORT_BYTES + inputs.MULTIPART_SLACK
    return inputs.MAX_BODY_BYTES
