"""APScheduler triggers the periodic sweeps; every sweep reads and writes only database rows,
so a restart or a second process loses nothing (the scheduler holds no state that matters)."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)
SWEEP_SECONDS = 60
# The outbox round: messages the after-commit delivery left (the chat's pace, another process's
# rows, a 429 pause over) go out within about this long.
OUTBOX_SECONDS = 1


class _SkippedRunFilter(logging.Filter):
    """Drops APScheduler's warning that a run was skipped because the previous one still runs:
    that is the intended behaviour (see `start_sweeps`), and a long outbox round (a chat served
    at one message a second) would otherwise log it every second."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRunFilter())


def start_sweeps(sweep: Callable[[], Awaitable[object]], deliver: Callable[[], Awaitable[object]]) -> AsyncIOScheduler:
    """Run `sweep` now and then every minute, and `deliver` every second; a run still going when
    its next one is due makes that one skip, not queue."""
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    scheduler.add_job(
        _logged(sweep, "sweep", SWEEP_SECONDS), "interval", seconds=SWEEP_SECONDS, id="sweep",
        next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True,
    )
    scheduler.add_job(
        _logged(deliver, "outbox round", OUTBOX_SECONDS), "interval", seconds=OUTBOX_SECONDS, id="outbox",
        max_instances=1, coalesce=True,
    )
    scheduler.start()
    return scheduler


def _logged(job: Callable[[], Awaitable[object]], name: str, seconds: int) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:  # one failed run must not stop the next ones
            log.exception("%s failed; it will run again in %s s", name, seconds)
    return run
