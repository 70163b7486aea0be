"""The service's own periodic work, run beside the web app unless TIMEBANK_JOBS=off.

Hourly: turn the active pairings' plans into today's and tomorrow's orders, so helpers
see them in "today's tasks" (the same as `timebank orders generate`; running both, or
several workers, is harmless: one order per plan item and day); and delete the sign-in
records no longer needed (`timebank prune`). Every ten minutes: close
visits left open past their service's maximum (flagged for review), post any verified
visit whose ledger posting was cut off (idempotent: keyed by the visit), and give back the
hours held for booked services never given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from zoneinfo import ZoneInfo

from timebank.pairing.service import generate_soon
from timebank.people.auth import prune
from timebank.redeem.service import expire_unserved
from timebank.visits.review import credit_pending
from timebank.visits.service import close_forgotten

log = logging.getLogger(__name__)
EVERY_SECONDS = 600
ORDERS_EVERY = 6  # rounds: hourly


async def run_forever(timezone: str) -> None:
    """Run the periodic work until cancelled; a failure is logged and tried again, and
    never skips the jobs after it."""
    tz = ZoneInfo(timezone)
    rounds = 0
    while True:
        if rounds % ORDERS_EVERY == 0:
            try:
                created = await generate_soon(tz)
                if created:
                    log.info("created %d orders from pairing plans", created)
            except Exception:  # keep the service up; the next hour tries again
                log.exception("generating orders from pairing plans failed")
            try:
                pruned = await prune()
                if pruned.attempts or pruned.sessions or pruned.codes:
                    log.info("deleted %s", pruned)
            except Exception:  # keep the service up; the next hour tries again
                log.exception("deleting old sign-in records failed")
        every_round: list[tuple[str, str, Callable[[], Awaitable[int]]]] = [
            (
                "closing forgotten visits",
                "closed %d forgotten visits",
                partial(close_forgotten, tz=tz),
            ),
            ("posting verified visits", "posted %d verified visits", credit_pending),
            ("expiring unserved bookings", "gave back the hours of %d bookings", expire_unserved),
        ]
        for what, done, job in every_round:  # each in its own try: one failing skips no other
            try:
                count = await job()
                if count:
                    log.info(done, count)
            except Exception:  # keep the service up; the next round tries again
                log.exception("%s failed", what)
        rounds += 1
        await asyncio.sleep(EVERY_SECONDS)
