"""APScheduler triggers the periodic sweeps; every sweep reads and writes only database rows,
so a restart or a second process loses nothing (the scheduler holds no state that matters)."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)
SWEEP_SECONDS = 60


def start_sweeps(sweep: Callable[[], Awaitable[object]]) -> AsyncIOScheduler:
    """Run `sweep` once now and then every minute; overlapping runs are skipped, not queued."""
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    scheduler.add_job(
        _logged(sweep), "interval", seconds=SWEEP_SECONDS, id="sweep",
        next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True,
    )
    scheduler.start()
    return scheduler


def _logged(sweep: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await sweep()
        except Exception:  # one failed sweep must not stop the next ones
            log.exception("sweep failed; it will run again in %s s", SWEEP_SECONDS)
    return run
