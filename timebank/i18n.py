"""Chinese (default) and English UI text from gettext catalogs.

Source strings are English; ``timebank/locale/zh_CN/LC_MESSAGES/messages.po`` translates
them. Catalogs are read from the ``.po`` files at start-up (compiled in memory with Babel),
so no compiled ``.mo`` file can fall out of step with its source.
"""

from __future__ import annotations

import gettext
import re
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import Request

from timebank.labels import FIELD_LABELS
from timebank.settings import SUPPORTED_LANGS

LOCALE_DIR = Path(__file__).parent / "locale"
LANG_COOKIE = "tb_lang"
# gettext locale folder for each UI language; English is the source text.
CATALOGS = {"zh-CN": "zh_CN"}
LANG_NAMES = {"zh-CN": "中文", "en": "English"}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The translations for ``lang``; English needs none."""
    folder = CATALOGS.get(lang)
    if folder is None:
        return gettext.NullTranslations()
    with open(LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale=folder)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_for(lang: str, message: str) -> str:
    """``message`` translated into ``lang``."""
    return translations(lang).gettext(message)


def pick_lang(cookie: str | None, query: str | None, default: str) -> str:
    """The UI language: an explicit ``?lang=``, then the cookie, then the site default."""
    for candidate in (query, cookie):
        if candidate in SUPPORTED_LANGS:
            return candidate
    return default


def request_lang(request: Request) -> str:
    """The language this request is answered in."""
    return pick_lang(
        request.cookies.get(LANG_COOKIE),
        request.query_params.get("lang"),
        request.app.state.settings.lang,
    )


_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


def memo_in(text: str, lang: str) -> str:
    """A stored note written in both languages, "中文 / English", as the reader's part alone.

    Notes typed by people (a grant's reason, an order's note) are shown as typed; only a
    note whose halves are plainly Chinese and plainly not is cut.
    """
    zh, sep, en = (text or "").partition(" / ")
    if not sep or not _CJK.search(zh) or _CJK.search(en) or not en.strip():
        return text
    return en.strip() if lang == "en" else zh.strip()


def field_label(field: str, lang: str) -> str:
    """What a form called ``field``, in ``lang`` (the field itself when no form shows it)."""
    label = FIELD_LABELS.get(field)
    return gettext_for(lang, label) if label is not None else field
