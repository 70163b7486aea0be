"""What every route shares: the request's language, JSON input, errors, security headers."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    try:
        body = await request.json()
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
    return response


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
