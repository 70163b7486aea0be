"""A second step before what cannot be taken back (spending hours, killing a placard, closing
a month, deactivating someone, marking a visit not given, removing a family link).

The form's first post does nothing: it answers a page that says in plain words what will
happen, with the same fields posted again plus ``confirmed=yes``, and a way back. The server
requires that field, so the step holds without JavaScript and cannot be skipped by a
double tap. API clients are programs that confirm before they call: they are not asked.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from timebank.i18n import gettext_for, request_lang
from timebank.templating import render

FIELD = "confirmed"


def confirmed(form: FormData) -> bool:
    """Whether the member has said yes on the confirmation page."""
    return form.get(FIELD) == "yes"


def ask(
    request: Request,
    form: FormData,
    *,
    question: str,
    button: str,
    back: str,
    **params: str,
) -> Response:
    """The confirmation page: what will happen (``question``, a msgid filled with
    ``params``), a ``button`` that posts the same form again, confirmed, and a link ``back``."""
    lang = request_lang(request)
    fields = [
        (name, value)
        for name, value in form.multi_items()
        if name not in ("csrf_token", FIELD) and isinstance(value, str)
    ]
    context = {
        "what": gettext_for(lang, question) % params,
        "yes": gettext_for(lang, button),
        "action": request.url.path,
        "fields": fields,
        "back": back,
    }
    return render(request, "confirm.html", context)
