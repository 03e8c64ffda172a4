"""Work done on time rather than on a message: the periodic sweep and the outbox sender.

A sweep (1) closes reports customers left unanswered, (2) records the reminders that are due,
(3) sends what the outbox holds. Each step reads and writes rows only, so any number of bot
processes may sweep the same database: steps 1-2 lock what they touch (SKIP LOCKED), step 3
claims rows with a lease.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram.error import BadRequest, Forbidden, TelegramError

from bot import clock_views, stock_views
from bot.i18n import Translator
from bot.services import complaints, confirmation, followups, maintenance, reminders, stock, users
from bot.views import View
from handlers import complaints as complaint_handlers
from handlers import followups as followup_handlers
from handlers import maintenance as maintenance_handlers
from handlers import reports as report_handlers
from handlers.common import Deps, DEPS_KEY, send
from storage.db import UnitOfWork
from storage.models import OutboxMessage, User

log = logging.getLogger(__name__)
CLOSED_BY_TIMEOUT = "closed_by_timeout"  # outbox kind
PLAN_BATCH = 100  # clocks per transaction: short enough not to keep SQLite's write lock for long
SEND_BATCH = 200
LEASE = timedelta(minutes=5)  # a sender that died holding rows gives them up after this


@dataclass(frozen=True)
class SweepResult:
    closed: int
    planned: int
    sent: int


async def sweep(app: Any) -> SweepResult:
    return await sweep_with(app.bot, app.bot_data[DEPS_KEY])


async def sweep_with(bot: Any, deps: Deps) -> SweepResult:
    now = deps.clock.now()
    closed = await close_unconfirmed(deps, now)
    planned = await plan_reminders(deps, now)
    await maintenance_handlers.remind_due(deps, now)  # maintenance reminders (handlers/maintenance.py)
    await followup_handlers.plan_digests(deps, now)  # the callback role's daily list (handlers/followups.py)
    sent = await deliver(bot, deps, now)
    await report_handlers.send_monthly_reports(bot, deps)  # the managers' monthly report, once a month (handlers/reports.py)
    return SweepResult(closed, planned, sent)


async def close_unconfirmed(deps: Deps, now: datetime) -> int:
    """Close reports past the confirmation window and queue a note for each customer."""
    window = deps.policy.closing.confirmation_timeout
    async with deps.db.uow() as uow:
        closed = await confirmation.close_unconfirmed(uow, now, window)
        for request in closed:
            await followups.schedule_after_close(uow, deps.policy.follow_ups, deps.settings.timezone, request, now)
            customer = await uow.customers.get(request.customer_id)
            if customer.user_id is None:
                continue
            await uow.outbox.add_once(OutboxMessage(
                key=f"{CLOSED_BY_TIMEOUT}:{request.id}", user_id=customer.user_id, kind=CLOSED_BY_TIMEOUT,
                payload={"number": request.number, "hours": int(window.total_seconds() // 3600)},
                not_before=deps.planner.customer_time(now), created_at=now,
            ))
        await uow.commit()
    return len(closed)


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


async def deliver(bot: Any, deps: Deps, now: datetime) -> int:
    """Send the due outbox rows, one combined message per person; returns how many people got one."""
    sent = 0
    while True:
        async with deps.db.uow() as uow:
            claimed = await uow.outbox.claim_due(now, LEASE, SEND_BATCH)
            if claimed:  # the rest of these people's rows too, so each gets one message, not one per batch
                claimed += await uow.outbox.claim_due(now, LEASE, None, {m.user_id for m in claimed})
            await uow.commit()
        if not claimed:
            return sent
        by_user: dict[int, list[OutboxMessage]] = {}
        for message in claimed:
            by_user.setdefault(message.user_id, []).append(message)
        for user_id, messages in by_user.items():
            # No transaction is open while Telegram answers: on SQLite it would hold the write lock.
            async with deps.db.uow() as uow:
                user = await uow.users.get(user_id)
                chat_id, views = await _compose(deps, uow, user, messages, now)
            outcome = await _send(bot, chat_id, views, user_id) if views else ("obsolete" if chat_id else "unreachable")
            if outcome != "retry":  # a network failure keeps the lease; the rows go again later
                async with deps.db.uow() as uow:
                    await uow.outbox.finish([m.id for m in messages], now, None if outcome == "sent" else outcome)
                    if outcome == "blocked":
                        await users.mark_unreachable(uow, chat_id)
                    await uow.commit()
            sent += outcome == "sent"


async def _compose(deps: Deps, uow: UnitOfWork, user: User | None, messages: list[OutboxMessage], now: datetime) -> tuple[int | None, list[View]]:
    """The chat to write to (None: the person cannot be reached) and what to tell them."""
    if user is None or not user.is_active or not user.is_reachable:
        return None, []
    _ = Translator(user.language, deps.settings.timezone)
    views = []
    deadline_messages = [m for m in messages if m.kind == reminders.DEADLINE]
    if deadline_messages:
        items = await reminders.deadline_items(uow, user, deadline_messages, now)
        if items:
            views.append(clock_views.digest(_, items, now))
    for message in messages:
        if message.kind == stock.STOCK_LOW and await stock.still_low(uow, message.payload["part_id"]):
            views.append(stock_views.stock_low(_, message.payload))  # restocked meanwhile: nothing to say
        if message.kind in maintenance.OUTBOX_KINDS and (view := await maintenance_handlers.compose(uow, user, message, _)):
            views.append(view)
        if message.kind == followups.DIGEST and (view := await followup_handlers.digest_view(uow, user, message, _)):
            views.append(view)
        if message.kind == complaints.OUTBOX_KIND and (view := await complaint_handlers.compose(uow, user, message, _)):
            views.append(view)  # a complaint's written answer held over the customer's quiet hours
        if message.kind == CLOSED_BY_TIMEOUT:
            views.append(View(_(
                "Request {number} is closed: we did not hear back within {hours} hours after the work report, so we count it as resolved. If the problem comes back, report it with /new.",
                number=message.payload["number"], hours=message.payload["hours"],
            )))
    return user.telegram_id, views  # no views: somebody acted meanwhile, nothing left to say


async def _send(bot: Any, chat_id: int, views: list[View], user_id: int) -> str:
    try:
        for view in views:
            await send(bot, chat_id, view)
    except Forbidden:
        return "blocked"
    except BadRequest as exc:
        log.error("outbox message for user %s rejected by Telegram: %s", user_id, exc)
        return "rejected"
    except TelegramError as exc:
        log.warning("outbox message for user %s not sent (%s); retrying after the lease", user_id, exc)
        return "retry"
    return "sent"
