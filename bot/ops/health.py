"""What the health endpoint reports: database reachable, scheduler alive, age of the last update.

Healthy means the database answered and, when this process runs sweeps, the scheduler is
running and its last sweep finished recently. The age of the last update is reported, not
judged: a quiet night is not an outage.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram.ext import Application

from bot.app import LAST_SWEEP_KEY, LAST_UPDATE_KEY, SCHEDULER_KEY, SCHEDULER_STARTED_KEY, SWEEPS_KEY
from bot.scheduler import SWEEP_SECONDS
from handlers.common import DEPS_KEY, Deps

log = logging.getLogger(__name__)
DATABASE_TIMEOUT_SECONDS = 5
# A sweep runs every minute; three missed in a row means the scheduler is stuck.
SWEEP_STALE_SECONDS = 3 * SWEEP_SECONDS


@dataclass(frozen=True)
class Health:
    database: str  # ok, error
    scheduler: str  # alive, stopped, stale (no sweep finished lately), off (sweeps run elsewhere)
    last_update_age_seconds: int | None
    last_sweep_age_seconds: int | None

    @property
    def healthy(self) -> bool:
        return self.database == "ok" and self.scheduler in ("alive", "off")

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "database": self.database,
            "scheduler": self.scheduler,
            "last_update_age_seconds": self.last_update_age_seconds,
            "last_sweep_age_seconds": self.last_sweep_age_seconds,
        }


async def check_health(app: Application) -> Health:
    deps: Deps = app.bot_data[DEPS_KEY]
    now = deps.clock.now()
    sweep_age = _age(now, app.bot_data.get(LAST_SWEEP_KEY))
    return Health(
        database=await _database_state(deps),
        # before the first sweep finishes, its age counts from the scheduler's start: sweeps
        # failing from the first one on are stale too
        scheduler=_scheduler_state(app, sweep_age if sweep_age is not None else _age(now, app.bot_data.get(SCHEDULER_STARTED_KEY))),
        last_update_age_seconds=_age(now, app.bot_data.get(LAST_UPDATE_KEY)),
        last_sweep_age_seconds=sweep_age,
    )


async def _database_state(deps: Deps) -> str:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            await deps.db.ping()
    except Exception as exc:  # any failure is "error"; the reason goes to the log, not to the prober
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return "error"
    return "ok"


def _scheduler_state(app: Application, sweep_age: int | None) -> str:
    if not app.bot_data.get(SWEEPS_KEY):
        return "off"
    scheduler = app.bot_data.get(SCHEDULER_KEY)
    if scheduler is None or not scheduler.running:
        return "stopped"
    if sweep_age is not None and sweep_age > SWEEP_STALE_SECONDS:
        return "stale"
    return "alive"


def _age(now: datetime, moment: datetime | None) -> int | None:
    return None if moment is None else max(0, int((now - moment).total_seconds()))
