"""The service's own periodic work, run beside the web app unless TIMEBANK_JOBS=off.

Hourly: turn the active pairings' plans into today's and tomorrow's orders, so helpers
see them in "today's tasks" (the same as `timebank orders generate`; running both, or
several workers, is harmless: one order per plan item and day).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from timebank.orders.service import generate

log = logging.getLogger(__name__)
EVERY_SECONDS = 3600


async def generate_soon(tz: ZoneInfo, *, pairing_id: int | None = None) -> int:
    """Orders for today and tomorrow, in the community's time zone (of one pairing, or all)."""
    today = datetime.now(tz).date()
    tomorrow = today + timedelta(days=1)
    return await generate(today, tz=tz, pairing_id=pairing_id) + await generate(
        tomorrow, tz=tz, pairing_id=pairing_id
    )


async def run_forever(timezone: str) -> None:
    """Run the hourly work until cancelled; a failure is logged and tried again."""
    tz = ZoneInfo(timezone)
    while True:
        try:
            created = await generate_soon(tz)
            if created:
                log.info("created %d orders from pairing plans", created)
        except Exception:  # keep the service up; the next hour tries again
            log.exception("generating orders from pairing plans failed")
        await asyncio.sleep(EVERY_SECONDS)
