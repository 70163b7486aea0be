"""What happened, said on the page a form comes back to ("已接单：理发 · 王秀英 · 12月4日 15:05").

The URL carries only a fixed code and a record's id (``?done=take&order=7``): the page keeps
the code only when it is one it knows, loads the record, checks the reader may see it, and
builds the sentence itself, so no text in a URL is ever shown as the site's message.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request

from timebank import inputs
from timebank.i18n import gettext_for, request_lang
from timebank.labels import SERVICE_NAMES


def back_to(path: str, code: str, **ids: int) -> str:
    """``path`` (a local path, perhaps with a query) with ``done=code`` and the ids."""
    separator = "&" if "?" in path else "?"
    return f"{path}{separator}{urlencode({'done': code, **ids})}"


def asked(request: Request, codes: dict[str, str], record: str) -> tuple[str, int] | None:
    """The known code and the record's id this page was sent back with, or None."""
    code = request.query_params.get("done", "")
    found = inputs.id_or_none(request.query_params.get(record, ""))
    if code not in codes or found is None:
        return None
    return code, found


def when(request: Request, moment: datetime, tz: ZoneInfo) -> str:
    """A moment as a reader says it: 12月4日 15:05, or 4 Dec 15:05."""
    local = moment.astimezone(tz)
    if request_lang(request) == "en":
        return f"{local.day} {local.strftime('%b')} {local:%H:%M}"
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def service_name(request: Request, code: str) -> str:
    """A service's name in the reader's language."""
    return gettext_for(request_lang(request), SERVICE_NAMES.get(code, code))


def say(request: Request, message: str, **params: str) -> str:
    """``message`` (a msgid with ``%(name)s`` places) in the reader's language, filled in."""
    return gettext_for(request_lang(request), message) % params
