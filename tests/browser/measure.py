"""Measurements of a rendered page, for people with a small phone, elderly eyes and hands.

Each function runs JavaScript in a Playwright ``page`` and returns a list of findings (short
strings naming the element and the number), empty when the page passes. The browser tests
of single pages and the crawl over every page share them.
"""

from __future__ import annotations

from typing import Any

# An element is described by its tag, test id or class and the start of its text.
_DESCRIBE = """
const describe = (el) => {
  const id = el.getAttribute('data-testid') ? `[data-testid=${el.getAttribute('data-testid')}]`
    : (el.className && typeof el.className === 'string'
       ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const text = (el.innerText || el.value || el.textContent || '').trim().replace(/\\s+/g, ' ');
  return `${el.tagName.toLowerCase()}${id} "${text.slice(0, 30)}"`;
};
// Screen-reader-only text and the skip link (until focused) are meant to be off screen.
const offstage = (el) => !!el.closest('.visually-hidden, .skip-link:not(:focus), [hidden]');
const shown = (el) => el.checkVisibility({visibilityProperty: true, opacityProperty: false})
  && !offstage(el);
"""

_OVERFLOW = (
    _DESCRIBE
    + """
() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const wide = new Set();
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  // Inside a container that scrolls sideways on its own, only the container must fit.
  const scrolled = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (scrolls(p)) return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (!shown(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if ((box.right > width + 0.5 || box.left < -0.5) && !scrolled(el)) {
      wide.add(el);
      // The outermost element that is too wide names the problem; its children follow.
      if (wide.has(el.parentElement)) continue;
      found.push(`${describe(el)} spans ${Math.round(box.left)}..${Math.round(box.right)} px`
        + ` of a ${width} px viewport`);
    }
  }
  for (const el of [document.documentElement, document.body,
                    ...document.body.querySelectorAll('*')]) {
    const style = getComputedStyle(el);
    if (!['hidden', 'clip'].includes(style.overflowX) || !shown(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      found.push(`${describe(el)} hides ${el.scrollWidth - el.clientWidth} px`
        + ` (overflow-x: ${style.overflowX})`);
    }
  }
  return found;
}
"""
)

_SMALL_TEXT = (
    _DESCRIBE
    + """
([minimum, allowed]) => {
  const found = [];
  const allow = (el) => allowed && el.closest(allowed);
  // The size a person sees: in an SVG chart the font size is scaled with the drawing.
  const seen = (el) => {
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (el instanceof SVGElement && el.getScreenCTM) {
      const m = el.getScreenCTM();
      return m ? size * Math.sqrt(Math.abs(m.a * m.d - m.b * m.c)) : size;
    }
    return size;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seenElements = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || seenElements.has(el) || !node.textContent.trim()) continue;
    if (el.closest('script, style, template, option, noscript, title')) continue;
    seenElements.add(el);
    if (!shown(el) || allow(el)) continue;
    const size = seen(el);
    if (size < minimum - 0.05) found.push(`${describe(el)} is ${size.toFixed(1)} px`);
  }
  const fields = 'input:not([type=hidden]):not([type=checkbox]):not([type=radio]),'
    + ' select, textarea';
  for (const el of document.querySelectorAll(fields)) {
    if (!shown(el) || allow(el)) continue;
    const size = seen(el);
    if (size < minimum - 0.05) found.push(`${describe(el)} is ${size.toFixed(1)} px`);
  }
  return found;
}
"""
)

_TARGETS = (
    _DESCRIBE
    + """
([minimum, allowed]) => {
  const found = [];
  const picked = new Set();
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  for (const el of document.body.querySelectorAll(selector)) {
    if (allowed && el.closest(allowed)) continue;
    let target = el;
    // A checkbox or radio button is tapped through its label.
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      target = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`))
        || el;
    }
    if (picked.has(target) || !shown(target)) continue;
    picked.add(target);
    const box = target.getBoundingClientRect();
    if (box.width < minimum - 0.5 || box.height < minimum - 0.5) {
      found.push(`${describe(target)} is ${Math.round(box.width)} x ${Math.round(box.height)} px`);
    }
  }
  return found;
}
"""
)

# Buttons (and the summaries that open a costly step, such as 取消订单) side by side or
# stacked must not touch: a slip must not hit the one next to it.
_BUTTON_GAPS = (
    _DESCRIBE
    + """
(gap) => {
  const found = [];
  const buttons = [...document.body.querySelectorAll(
    'button, [role=button], input[type=submit], input[type=button], summary')]
    .filter(shown).map((el) => [el, el.getBoundingClientRect()])
    .filter(([, b]) => b.width > 0 && b.height > 0);
  for (let i = 0; i < buttons.length; i++) {
    for (let j = i + 1; j < buttons.length; j++) {
      const [a, p] = buttons[i], [b, q] = buttons[j];
      if (a.contains(b) || b.contains(a)) continue;
      const dx = Math.max(q.left - p.right, p.left - q.right);
      const dy = Math.max(q.top - p.bottom, p.top - q.bottom);
      if (Math.max(dx, dy) < gap - 0.5) {
        const apart = Math.round(Math.max(dx, dy));
        found.push(`${describe(a)} and ${describe(b)} are ${apart} px apart`);
      }
    }
  }
  return found;
}
"""
)

_COLOURS = """
const rgba = (text) => {
  const m = text.match(/rgba?\\(([^)]+)\\)/);
  if (!m) return null;
  const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(parseFloat);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, bottom) => {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
};
// The colour behind an element: the backgrounds of it and its ancestors, blended.
const behind = (el) => {
  const layers = [];
  for (let p = el; p; p = p.parentElement) {
    const c = rgba(getComputedStyle(p).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let colour = [255, 255, 255, 1];
  for (const c of layers.reverse()) colour = over(c, colour);
  return colour;
};
const luminance = (c) => {
  const [r, g, b] = c.slice(0, 3).map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};
"""

# The ring around the focused element, against what surrounds it (WCAG 1.4.11 and 2.4.13).
_FOCUS_RING = (
    _DESCRIBE
    + _COLOURS
    + """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  // Read the ring as it ends, not while a transition is still drawing it.
  for (const animation of el.getAnimations()) animation.finish();
  const style = getComputedStyle(el);
  const around = behind(el.parentElement || el);
  let ring = null;
  if (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) {
    ring = rgba(style.outlineColor);
  } else if (style.boxShadow && style.boxShadow !== 'none') {
    // The widest spread shadow is the ring.
    let widest = -1;
    for (const part of style.boxShadow.split(/,(?![^(]*\\))/)) {
      const colour = rgba(part);
      const sizes = part.replace(/rgba?\\([^)]*\\)/, '').trim().split(/\\s+/).map(parseFloat);
      const spread = sizes.length >= 4 ? sizes[3] : 0;
      if (colour && colour[3] > 0 && spread > widest) { widest = spread; ring = colour; }
    }
    if (widest <= 0) ring = null;
  }
  if (!ring) return `${describe(el)} shows no focus ring`;
  const ratio = contrast(over(ring, around), around);
  return ratio < 3 ? `${describe(el)} focus ring contrast ${ratio.toFixed(2)}:1` : '';
}
"""
)

_FIELD_BORDERS = (
    _DESCRIBE
    + _COLOURS
    + """
() => {
  const found = [];
  // A file field shows a button, not a box to type in.
  const fields = 'input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=file]),'
    + ' select, textarea';
  for (const el of document.body.querySelectorAll(fields)) {
    if (!shown(el) || el === document.activeElement) continue;
    const style = getComputedStyle(el);
    const around = behind(el.parentElement || el);
    const border = rgba(style.borderTopColor);
    if (parseFloat(style.borderTopWidth) === 0 || !border) {
      found.push(`${describe(el)} has no border`);
      continue;
    }
    const ratio = contrast(over(border, around), around);
    if (ratio < 3) found.push(`${describe(el)} border contrast ${ratio.toFixed(2)}:1`);
  }
  return found;
}
"""
)

# Footers and the legal line may be smaller than the main text.
SMALL_TEXT_ALLOWED = ".site-footer"


def overflow(page: Any) -> list[str]:
    """Elements whose box extends past the viewport's width (outside a container that
    scrolls sideways), and elements hiding content with ``overflow: hidden``."""
    found: list[str] = page.evaluate(_OVERFLOW)
    return found


def small_text(page: Any, minimum: float = 18, allowed: str = SMALL_TEXT_ALLOWED) -> list[str]:
    """Text (and form fields) rendered smaller than ``minimum`` px, outside ``allowed``."""
    found: list[str] = page.evaluate(_SMALL_TEXT, [minimum, allowed])
    return found


def small_targets(page: Any, minimum: float = 44, allowed: str = "") -> list[str]:
    """Links, buttons and fields (a checkbox by its label) smaller than ``minimum`` px."""
    found: list[str] = page.evaluate(_TARGETS, [minimum, allowed])
    return found


def crowded_buttons(page: Any, gap: float = 8) -> list[str]:
    """Pairs of buttons (or summaries) closer than ``gap`` px to each other."""
    found: list[str] = page.evaluate(_BUTTON_GAPS, gap)
    return found


def faint_borders(page: Any) -> list[str]:
    """Form fields whose border has less than 3:1 contrast with what surrounds them."""
    found: list[str] = page.evaluate(_FIELD_BORDERS)
    return found


def faint_focus(page: Any, limit: int = 40) -> list[str]:
    """Tab through the page (up to ``limit`` stops) and report each focused element whose
    focus ring has less than 3:1 contrast with what surrounds it."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    found: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        finding = page.evaluate(_FOCUS_RING)
        if finding is None:
            break
        if finding and finding not in found:
            found.append(finding)
    return found
