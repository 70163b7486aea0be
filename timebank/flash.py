"""A refusal's message carried across a redirect, from the server, never from the URL.

A page that showed ``?error=<text>`` as a red alert would show anyone's text as an official
message ("your account is frozen, call 400-…"). Instead, a form that is refused redirects with
the message in a short-lived cookie signed with the app's secret key (salted with the session
cookie, so it is good only for the browser session that was refused) and meant for one path;
the page at that path shows it once, in the reader's language, and clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from timebank.errors import TimebankError
from timebank.http import set_site_cookie
from timebank.i18n import request_lang
from timebank.people.auth import SESSION_COOKIE
from timebank.templating import render

FLASH_COOKIE = "tb_flash"
MAX_AGE = 120  # seconds: long enough for a slow phone to follow the redirect
KEPT_CHARS = 300  # a kept form value longer than any field the forms allow is cut


def _serializer(request: Request) -> URLSafeTimedSerializer:
    session = request.cookies.get(SESSION_COOKIE, "")
    return URLSafeTimedSerializer(
        request.app.state.settings.secret_key, salt=f"timebank.flash:{session}"
    )


def redirect(
    request: Request,
    to: str,
    error: TimebankError,
    *,
    at: str = "",
    kept: Mapping[str, Any] | None = None,
) -> Response:
    """303 to ``to`` (a local path), with ``error``'s message for the page there; ``at``
    names the form it belongs to (the page shows it there) and ``kept`` what was typed into
    that form, so the page shows it again rather than an empty form."""
    response = RedirectResponse(to, status_code=303)
    typed = {str(k): str(v)[:KEPT_CHARS] for k, v in (kept or {}).items() if v is not None}
    value = _serializer(request).dumps(
        {"path": urlsplit(to).path, "en": error.en, "zh": error.zh, "at": at, "kept": typed}
    )
    set_site_cookie(request, response, FLASH_COOKIE, value, max_age=MAX_AGE)
    return response


def _flashed(request: Request) -> dict[str, Any]:
    """What was flashed for this page ({} when nothing was)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return {}
    try:
        found = _serializer(request).loads(raw, max_age=MAX_AGE)
    except BadSignature:  # forged, for another session, or expired
        return {}
    if not isinstance(found, dict) or found.get("path") != request.url.path:
        return {}
    return found


def message(request: Request) -> str:
    """The message flashed for this page, in the reader's language ("" when there is none)."""
    text = _flashed(request).get("en" if request_lang(request) == "en" else "zh")
    return text if isinstance(text, str) else ""


def render_page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """``render`` with the flashed message as ``error``, shown once: the cookie is cleared.
    ``error_at`` names the form it belongs to ("" for the page), ``kept`` what was typed."""
    found = _flashed(request)
    shown = message(request)
    kept = found.get("kept") if shown else None
    extra = {
        "error": shown,
        "error_at": str(found.get("at") or "") if shown else "",
        "kept": kept if isinstance(kept, dict) else {},
    }
    response = render(request, template, {**context, **extra}, status=status)
    if shown:
        response.delete_cookie(FLASH_COOKIE)
    return response
