"""Refusals of anonymous callers go to the server log, a few lines a minute, never the audit log.

Anyone can send ``GET /v/<garbage>`` a thousand times: writing each refusal to the audit table
would let strangers fill it and bury what staff did. The audit log is for people who signed
in; an operator still sees anonymous refusals here, one line per address per minute with the
number of refusals left out since, and no more than ``most_lines`` lines a minute in all.
Memory is bounded: at most ``most_addresses`` addresses are remembered.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("timebank.refusals")


@dataclass
class _Seen:
    since: float  # when this address's last line was written
    left_out: int = 0  # refusals of this address not written since


class RefusalLog:
    """Rate-limited log lines for refusals of callers who are not signed in."""

    def __init__(
        self,
        *,
        every: float = 60.0,
        most_lines: int = 60,
        most_addresses: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every, self.most_lines, self.most_addresses = every, most_lines, most_addresses
        self.clock = clock
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._window = -every  # start of the current minute for the overall limit
        self._lines = 0  # lines written in that minute
        self._dropped = 0  # refusals not written because of the overall limit

    def refused(self, ip: str, what: str, code: str, detail: str = "") -> bool:
        """Note one refusal; True when a line was written for it."""
        now = self.clock()
        seen = self._seen.get(ip)
        if seen is not None and now - seen.since < self.every:
            seen.left_out += 1
            return False
        if now - self._window >= self.every:
            self._window, self._lines = now, 0
        if self._lines >= self.most_lines:
            self._dropped += 1
            return False
        left_out = seen.left_out if seen is not None else 0
        self._seen[ip] = _Seen(now)
        self._seen.move_to_end(ip)
        while len(self._seen) > self.most_addresses:
            self._seen.popitem(last=False)
        self._lines += 1
        dropped, self._dropped = self._dropped, 0
        # %r keeps a caller's text on one line (no forged log lines).
        log.warning(
            "anonymous %s refused (%s) from %s: %r; %d more from this address and %d from "
            "others were not logged",
            what, code, ip, detail[:80], left_out, dropped,
        )  # fmt: skip
        return True


anonymous = RefusalLog()
