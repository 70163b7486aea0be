"""Showing minutes as hours: ``2.5 h`` in English, ``2小时30分`` in Chinese."""

from __future__ import annotations


def format_minutes(minutes: int, lang: str) -> str:
    """``minutes`` for a person reading ``lang``."""
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    if lang == "en":
        hours = f"{minutes / 60:.2f}".rstrip("0").rstrip(".")
        return f"{sign}{hours} h"
    whole, rest = divmod(minutes, 60)
    if whole and rest:
        return f"{sign}{whole}小时{rest}分"
    if whole:
        return f"{sign}{whole}小时"
    return f"{sign}{rest}分"
