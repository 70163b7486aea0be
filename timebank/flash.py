"""A refusal's message carried across a redirect, from the server, never from the URL.

A page that showed ``?error=<text>`` as a red alert would show anyone's text as an official
message ("your account is frozen, call 400-…"). Instead, a form that is refused redirects with
the message in a short-lived cookie signed with the app's secret key (salted with the session
cookie, so it is good only for the browser session that was refused) and meant for one path;
the page at that path shows it once, in the reader's language, and clears it.
"""

from __future__ import annotations

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


def _serializer(request: Request) -> URLSafeTimedSerializer:
    session = request.cookies.get(SESSION_COOKIE, "")
    return URLSafeTimedSerializer(
        request.app.state.settings.secret_key, salt=f"timebank.flash:{session}"
    )


def redirect(request: Request, to: str, error: TimebankError) -> Response:
    """303 to ``to`` (a local path), with ``error``'s message for the page there."""
    response = RedirectResponse(to, status_code=303)
    value = _serializer(request).dumps({"path": urlsplit(to).path, "en": error.en, "zh": error.zh})
    set_site_cookie(request, response, FLASH_COOKIE, value, max_age=MAX_AGE)
    return response


def message(request: Request) -> str:
    """The message flashed for this page, in the reader's language ("" when there is none)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return ""
    try:
        found = _serializer(request).loads(raw, max_age=MAX_AGE)
    except BadSignature:  # forged, for another session, or expired
        return ""
    if not isinstance(found, dict) or found.get("path") != request.url.path:
        return ""
    text = found.get("en" if request_lang(request) == "en" else "zh")
    return text if isinstance(text, str) else ""


def render_page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """``render`` with the flashed message as ``error``, shown once: the cookie is cleared."""
    shown = message(request)
    response = render(request, template, {**context, "error": shown}, status=status)
    if shown:
        response.delete_cookie(FLASH_COOKIE)
    return response
