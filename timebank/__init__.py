"""timebank: a community time bank and mutual-aid platform (时间银行 · 困困结对)."""

__version__ = "0.1.0"

# Before any route is built: ``{x:int}`` in a path matches only ids a 32-bit column can hold.
from timebank import inputs as _inputs  # noqa: E402,F401
