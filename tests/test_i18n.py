"""Every UI string has its Chinese translation, and the catalog holds nothing stale."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from timebank.i18n import LOCALE_DIR, gettext_for, pick_lang

ROOT = Path(__file__).parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "gettext_for": (2,)}


def source_messages() -> set[str]:
    found: set[str] = set()
    for subdir, method in (("timebank", "python"), ("web/templates", "jinja2")):
        mapping = [("**.py", "python")] if method == "python" else [("**.html", "jinja2")]
        options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / subdir, method_map=mapping, options_map=options, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_is_translated_to_chinese() -> None:
    with open(LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    translated = {m.id: m.string for m in catalog if m.id}
    messages = source_messages()
    assert len(messages) > 20
    missing = sorted(m for m in messages if not translated.get(m))
    assert missing == [], "add these to messages.po (see README, Translating)"
    stale = sorted(set(translated) - messages)
    assert stale == [], "these are no longer used"


def test_lookup_and_language_choice() -> None:
    assert gettext_for("zh-CN", "Time Bank") == "时间银行"
    assert gettext_for("en", "Time Bank") == "Time Bank"
    assert pick_lang(cookie="en", query=None, default="zh-CN") == "en"
    assert pick_lang(cookie="en", query="zh-CN", default="en") == "zh-CN"
    assert pick_lang(cookie="xx", query="yy", default="zh-CN") == "zh-CN"
