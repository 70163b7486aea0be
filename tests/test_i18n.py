"""Every UI string has its Chinese translation, and the catalog holds nothing stale."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from timebank.demo import DEMO_PASSWORD, load_demo
from timebank.i18n import LOCALE_DIR, gettext_for, memo_in, pick_lang

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


# Latin words a Chinese page may show: the language switch names English in English, the
# footer names the software and its API.
LATIN_ALLOWED = {"English", "API", "timebank"}


def latin_words(html: str) -> set[str]:
    """The Latin words a person reads on a page: text outside tags, scripts and styles."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    text = re.sub(r"(?s)<!--.*?-->", " ", text)
    text = unescape(re.sub(r"(?s)<[^>]*>", " ", text))
    return set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_ALLOWED


async def test_chinese_pages_of_helpers_and_residents_have_no_english(
    client: httpx.AsyncClient,
) -> None:
    """The demo's helper and resident read only Chinese: no English half of a stored note
    ("电话下单 / by phone"), no code name of a field or an action, on any page of theirs."""
    await load_demo(ZoneInfo("Asia/Shanghai"))
    found: dict[str, set[str]] = {}
    for phone in ("13800000003", "13800000005"):  # 张建国 (helper), 陈秀英 (resident)
        client.cookies.clear()
        signed = await client.post(
            "/api/v1/session", json={"phone": phone, "password": DEMO_PASSWORD}
        )
        assert signed.status_code == 200
        paths = ["/me", "/me/hours", "/me/statement", "/redeem", "/tasks", "/visits", "/order"]
        listing = await client.get("/visits", headers={"accept": "text/html"})
        paths += sorted(set(re.findall(r'href="(/visits/\d+)"', listing.text)))[:5]
        for path in paths:
            page = await client.get(path, headers={"accept": "text/html"})
            if page.status_code == 403:
                continue  # not a page of theirs
            assert page.status_code == 200, (phone, path, page.status_code)
            words = latin_words(page.text)
            if words:
                found[f"{phone} {path}"] = words
    assert found == {}
    # The resident's grant note was stored in both languages: each page shows its own half.
    chinese = await client.get("/me/hours", headers={"accept": "text/html"})
    english = await client.get("/me/hours?lang=en", headers={"accept": "text/html"})
    assert "独居高龄老人兜底时长" in chinese.text and "living alone" not in chinese.text
    assert "Community grant for an elderly resident living alone" in english.text
    assert "独居高龄老人兜底时长" not in english.text


def test_a_note_in_both_languages_shows_the_readers_half() -> None:
    assert memo_in("电话下单 / by phone", "zh-CN") == "电话下单"
    assert memo_in("电话下单 / by phone", "en") == "by phone"
    # What a person typed stays as typed.
    for typed in ("米 / 面", "rice / flour", "3 / 4 份", "老人住院", ""):
        assert memo_in(typed, "zh-CN") == typed and memo_in(typed, "en") == typed
