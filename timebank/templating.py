"""Jinja2 templates and static files from ``web/``, with per-request language."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from timebank import __version__
from timebank.i18n import LANG_NAMES, gettext_for, memo_in, request_lang, translations
from timebank.labels import (
    ACCOUNT_KIND_NAMES,
    AUDIT_ACTION_NAMES,
    AUDIT_ACTION_OTHER,
    CARE_LEVEL_NAMES,
    COMPENSATION_NAMES,
    FLAG_NAMES,
    GRANT_STATUS_NAMES,
    HARDSHIP_NAMES,
    HELPER_KIND_NAMES,
    ITEM_KIND_NAMES,
    KIND_NAMES,
    ORDER_ACTION_NAMES,
    ORDER_STATUS_NAMES,
    PAIRING_ACTION_NAMES,
    PAIRING_STATUS_NAMES,
    PHASE_NAMES,
    REDEMPTION_STATUS_NAMES,
    RELATION_NAMES,
    ROLE_NAMES,
    SERVICE_NAMES,
    VISIT_STATUS_NAMES,
)
from timebank.ledger.hours import format_minutes
from timebank.menu import menu_for


def web_dir() -> Path:
    """Where templates and static files live: inside the installed package, or the checkout."""
    package = Path(__file__).parent
    for candidate in (package / "web", package.parent / "web"):
        if (candidate / "templates").is_dir():
            return candidate
    raise RuntimeError(f"web assets not found beside {package}")  # a broken install


# Jinja's newstyle gettext calls these with the template context, then applies
# autoescaping and ``%`` formatting itself, so they only look the text up.
@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return gettext_for(context.get("lang", "zh-CN"), message)


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return translations(context.get("lang", "zh-CN")).ngettext(singular, plural, n)


def _common_context(request: Request) -> dict[str, Any]:
    lang = request_lang(request)
    me = getattr(request.state, "me", None)
    return {
        "me": me,
        "menu": menu_for(me),
        "role_names": ROLE_NAMES,
        "kind_names": KIND_NAMES,
        "phase_names": PHASE_NAMES,
        "account_kind_names": ACCOUNT_KIND_NAMES,
        "audit_action_names": AUDIT_ACTION_NAMES,
        "audit_action_other": AUDIT_ACTION_OTHER,
        "care_level_names": CARE_LEVEL_NAMES,
        "compensation_names": COMPENSATION_NAMES,
        "order_action_names": ORDER_ACTION_NAMES,
        "order_status_names": ORDER_STATUS_NAMES,
        "visit_status_names": VISIT_STATUS_NAMES,
        "flag_names": FLAG_NAMES,
        "item_kind_names": ITEM_KIND_NAMES,
        "redemption_status_names": REDEMPTION_STATUS_NAMES,
        "grant_status_names": GRANT_STATUS_NAMES,
        "pairing_action_names": PAIRING_ACTION_NAMES,
        "pairing_status_names": PAIRING_STATUS_NAMES,
        "hardship_names": HARDSHIP_NAMES,
        "helper_kind_names": HELPER_KIND_NAMES,
        "relation_names": RELATION_NAMES,
        "service_names": SERVICE_NAMES,
        "lang": lang,
        "lang_names": LANG_NAMES,
        "version": __version__,
        "settings": request.app.state.settings,
    }


@jinja2.pass_context
def _url_for(context: jinja2.runtime.Context, name: str, /, **path_params: Any) -> str:
    # A path, not Starlette's absolute URL: behind a TLS-terminating proxy an absolute
    # http:// stylesheet link would be blocked as mixed content.
    request: Request = context["request"]
    root: str = request.scope.get("root_path", "")
    return root + str(request.app.url_path_for(name, **path_params))


@jinja2.pass_context
def _local_date(context: jinja2.runtime.Context, moment: datetime) -> str:
    # Stored in UTC; a day is the community's day (Asia/Shanghai unless configured).
    return moment.astimezone(ZoneInfo(context["settings"].timezone)).strftime("%Y-%m-%d")


@jinja2.pass_context
def _local_time(context: jinja2.runtime.Context, moment: datetime | str) -> str:
    # The community's wall-clock time, to the minute (audit times arrive as ISO text).
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo(context["settings"].timezone)).strftime("%Y-%m-%d %H:%M")


@jinja2.pass_context
def _minutes(context: jinja2.runtime.Context, minutes: int) -> str:
    # Hours as the reader writes them: 2小时30分, or 2.5 h.
    return format_minutes(minutes, context.get("lang", "zh-CN"))


@jinja2.pass_context
def _memo(context: jinja2.runtime.Context, text: str) -> Markup:
    # A stored "中文 / English" note: the reader's half only, marked as what someone wrote
    # (translate="no"), not the site's own words in the page's language.
    return Markup('<span translate="no">{}</span>').format(
        memo_in(text, context.get("lang", "zh-CN"))
    )


@jinja2.pass_context
def _local_clock(context: jinja2.runtime.Context, moment: datetime | str) -> str:
    # Only the time of day (HH:MM), for the end of a window shown beside its start.
    return str(_local_time(context, moment))[-5:]


def make_templates() -> Jinja2Templates:
    """The template renderer every page uses."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(web_dir() / "templates"),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    templates = Jinja2Templates(env=env, context_processors=[_common_context])
    env.globals["url_for"] = _url_for
    env.filters["local_date"] = _local_date
    env.filters["local_time"] = _local_time
    env.filters["local_clock"] = _local_clock
    env.filters["minutes"] = _minutes
    env.filters["memo"] = _memo
    return templates


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """Render ``template`` for ``request``."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context or {}, status_code=status)
