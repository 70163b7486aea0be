"""What the crawl (test_every_page.py) checks on every page besides axe: each check takes a
Playwright page and its language and returns readable lines, one per problem (none: the page
passes). The measuring itself is ``measure``'s; the language check is here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.browser import measure

# The visible text of the page (names of people and places are told apart by the caller).
TEXT_JS = """() => {
  const parts = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const el = node.parentElement, text = node.textContent.trim();
    if (!text || !el || el.closest('script, style, noscript, [translate=no], .sr-only')) continue;
    const marked = el.closest('[lang]');  // a language's own name, in that language
    if (marked && marked.lang !== document.documentElement.lang) continue;
    const r = el.getBoundingClientRect();
    if (r.width && r.height && el.checkVisibility({visibilityProperty: true})) parts.push(text);
  }
  for (const el of document.querySelectorAll('input[placeholder], [aria-label], [title]'))
    parts.push(el.getAttribute('placeholder') || el.getAttribute('aria-label')
      || el.getAttribute('title'));
  return parts.join('\\n');
}"""

# Latin words a Chinese page may show: units, the product's name, standards, formats.
LATIN_ALLOWED = {"API", "QR", "PIN", "CSV", "Excel", "xlsx", "English", "timebank", "GB", "T"}
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def _measured(name: str, measure_it: Callable[[Any], list[str]]) -> Callable[[Any, str], list[str]]:
    return lambda page, lang: [f"{name}: {x}" for x in measure_it(page)]


def other_language(page: Any, lang: str, names: frozenset[str] = frozenset()) -> list[str]:
    """Latin words on a Chinese page outside the allow-list; Chinese on an English page
    outside people's and places' ``names`` (and text marked ``translate="no"``)."""
    text = page.evaluate(TEXT_JS)
    if lang.startswith("zh"):
        words = {w for w in LATIN_WORD.findall(text) if w not in LATIN_ALLOWED}
        return [f"English in the Chinese page: {w}" for w in sorted(words)[:10]]
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return [f"Chinese in the English page: {w}" for w in sorted(set(CJK.findall(text)))[:10]]


# Nothing past the screen or cut off, main text >= 18 px, targets >= 44 x 44 px.
PAGE_CHECKS = [
    _measured("wider than the screen", measure.overflow),
    _measured("text under 18 px", measure.small_text),
    _measured("target under 44 px", measure.small_targets),
]
