"""The landing page, the language switch and the health check."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from timebank import __version__, db
from timebank.errors import NotFound
from timebank.http import local_path, set_site_cookie
from timebank.i18n import LANG_COOKIE
from timebank.settings import SUPPORTED_LANGS
from timebank.templating import render

ONE_YEAR = 365 * 24 * 3600
log = logging.getLogger("timebank")


async def landing(request: Request) -> Response:
    """What the service is, for whoever opens it first."""
    return render(request, "home/landing.html")


async def switch_lang(request: Request) -> Response:
    """Remember the chosen UI language in a cookie and go back where the person was."""
    code = request.path_params["code"]
    if code not in SUPPORTED_LANGS:
        raise NotFound(
            # Not the code itself: text from the URL is never shown as the site's message.
            f"Unknown language; choose one of {', '.join(SUPPORTED_LANGS)}.",
            "不支持该语言，请选择中文或 English。",
            code="unknown_language",
        )
    response = RedirectResponse(local_path(request.query_params.get("next")), status_code=303)
    set_site_cookie(request, response, LANG_COOKIE, code, max_age=ONE_YEAR)
    return response


async def healthz(request: Request) -> Response:
    """200 when the database answers, 503 (with the reason logged) when it does not."""
    try:
        await db.ping()
    except Exception:  # any failure means "not healthy"; the details go to the log
        log.exception("health check failed")
        return JSONResponse(
            {
                "status": "error",
                "error": {"code": "database_unavailable", "message": "database unreachable"},
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": db.dialect(), "version": __version__})


routes = [
    Route("/", landing, name="landing"),
    Route("/lang/{code}", switch_lang, name="switch_lang"),
    Route("/healthz", healthz, name="healthz"),
]
