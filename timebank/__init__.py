"""timebank: a community time bank and mutual-aid platform (时间银行 · 困困结对)."""

__version__ = "0.1.0"
