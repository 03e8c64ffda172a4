"""Work done on time rather than on a message: the periodic sweep.

A sweep (1) closes reports customers left unanswered (telling them, the engineer, the dispatchers
and an expert whose question was still open), (2) records the reminders that are due
(and the monthly report on its day), (3) sends what the outbox holds (handlers/outbox.py), (4)
forgets old update ids. Each step reads and writes rows only, so any number of bot processes may
sweep the same database: steps 1-2 lock what they touch (SKIP LOCKED), step 3 claims people's rows
with a lease, step 4 deletes what any of them may delete.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.services import confirmation, followups, notices
from handlers import followups as followup_handlers
from handlers import maintenance as maintenance_handlers
from handlers import reports as report_handlers
from handlers import returns as return_handlers
from handlers.common import Deps, DEPS_KEY
from handlers.outbox import CLOSED_BY_TIMEOUT, CLOSED_BY_TIMEOUT_STAFF, deliver
from storage.models import OutboxMessage

log = logging.getLogger(__name__)
PLAN_BATCH = 100  # clocks per transaction: short enough not to keep SQLite's write lock for long
# Update ids are kept long enough to catch a repeated delivery (Telegram keeps an update for at most
# 24 hours) and no longer: after a week without updates Telegram starts numbering again at random,
# and a new update must not be taken for a duplicate of an old one.
UPDATE_IDS_KEPT = timedelta(days=2)
FORGET_BATCH = 5000  # ids per transaction


@dataclass(frozen=True)
class SweepResult:
    closed: int
    planned: int
    sent: int


async def sweep(app: Any, *, send: bool = True) -> SweepResult:
    return await sweep_with(app.bot, app.bot_data[DEPS_KEY], send=send)


async def sweep_with(bot: Any, deps: Deps, *, send: bool = True) -> SweepResult:
    """`send=False`: leave step 3 to the outbox round (bot/scheduler.py), as a running bot does."""
    now = deps.clock.now()
    closed = await close_unconfirmed(deps, now)
    planned = await plan_reminders(deps, now)
    await maintenance_handlers.remind_due(deps, now)  # maintenance reminders (handlers/maintenance.py)
    await followup_handlers.plan_digests(deps, now)  # the callback role's daily list (handlers/followups.py)
    await report_handlers.queue_monthly_reports(deps)  # the managers' monthly report, once a month (handlers/reports.py)
    sent = await deliver(bot, deps, now) if send else 0
    await forget_old_updates(deps, now)
    return SweepResult(closed, planned, sent)


async def close_unconfirmed(deps: Deps, now: datetime) -> int:
    """Close reports past the confirmation window and queue a note for each customer, and for
    the engineer and the dispatchers (keyed per request and person: a second sweep adds none)."""
    window = deps.policy.closing.confirmation_timeout
    staff_time = deps.planner.staff_time(now, urgent=False)  # news, not a call to act: in staff hours
    async with deps.db.uow() as uow:
        closed = await confirmation.close_unconfirmed(uow, now, window, staff_time=staff_time)
        for request in closed:
            await followups.schedule_after_close(uow, deps.policy.follow_ups, deps.settings.timezone, request, now)
            await return_handlers.queue_not_coming(uow, deps, request, now, not_before=staff_time)  # an approved return ended with it
            payload = {"number": request.number, "hours": int(window.total_seconds() // 3600)}
            for person in await confirmation.told_of_timeout(uow, request):
                await notices.queue(uow, person, CLOSED_BY_TIMEOUT_STAFF, payload, f"{CLOSED_BY_TIMEOUT}:{request.id}:{person.id}", now,
                                    not_before=staff_time)
            customer = await uow.customers.get(request.customer_id)
            if customer.user_id is None or customer.erased_at is not None:
                continue
            await uow.outbox.add_once(OutboxMessage(
                key=f"{CLOSED_BY_TIMEOUT}:{request.id}", user_id=customer.user_id, kind=CLOSED_BY_TIMEOUT,
                payload=payload, not_before=deps.planner.customer_time(now), created_at=now,
            ))
        await uow.commit()
    return len(closed)


async def forget_old_updates(deps: Deps, now: datetime) -> int:
    """Delete the update ids processed more than UPDATE_IDS_KEPT ago, a batch per transaction."""
    total = 0
    while True:
        async with deps.db.uow() as uow:
            forgotten = await uow.updates.forget_before(now - UPDATE_IDS_KEPT, FORGET_BATCH)
            await uow.commit()
        total += forgotten
        if forgotten < FORGET_BATCH:
            return total


async def plan_reminders(deps: Deps, now: datetime) -> int:
    """Record every reminder due by now, a batch of clocks per transaction."""
    total = 0
    while True:
        async with deps.db.uow() as uow:
            handled = await deps.planner.plan(uow, now, PLAN_BATCH)
            await uow.commit()
        total += handled
        if handled < PLAN_BATCH:
            return total
