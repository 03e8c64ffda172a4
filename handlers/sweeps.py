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

from bot import approval_views
from bot.i18n import Translator
from bot.views import View
from bot.services import approvals, confirmation, followups, notices, requests, users
from handlers import approvals as approval_handlers
from handlers import followups as followup_handlers
from handlers import maintenance as maintenance_handlers
from handlers import reports as report_handlers
from handlers import returns as return_handlers
from handlers.common import Deps, DEPS_KEY
from handlers.outbox import CLOSED_BY_TIMEOUT, CLOSED_BY_TIMEOUT_STAFF, deliver
from storage.db import UnitOfWork
from storage.models import Approval, OutboxMessage, ServiceRequest

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
        withdrawn: dict[int, list[Approval]] = {}
        closed = await confirmation.close_unconfirmed(uow, now, window, staff_time=staff_time, withdrawn=withdrawn)
        for request in closed:
            await followups.schedule_after_close(uow, deps.policy.follow_ups, deps.settings.timezone, request, now)
            await queue_withdrawn(uow, deps, request, withdrawn.get(request.id, []), now, staff_time=staff_time)
            await return_handlers.queue_not_coming(uow, deps, request, now, not_before=staff_time)  # an approved return ended with it
            payload = {"number": request.number, "hours": int(window.total_seconds() // 3600)}
            report = await uow.jobs.report_of(request.id)
            for person in await confirmation.told_of_timeout(uow, request):
                # the role it reaches them by: not sent once it is withdrawn (held for staff hours meanwhile)
                role = users.ROLE_DISPATCHER
                if report is not None and person.id == report.engineer_id:  # an engineer (or an expert) the job was given to
                    role = next((r for r in sorted(notices.ASSIGNED_ROLES) if r in person.role_names), "engineer")
                await notices.queue(uow, person, CLOSED_BY_TIMEOUT_STAFF, payload, f"{CLOSED_BY_TIMEOUT}:{request.id}:{person.id}", now,
                                    not_before=staff_time, for_role=role)
            customer = await uow.customers.get(request.customer_id)
            if customer.user_id is None or customer.erased_at is not None:
                continue
            await uow.outbox.add_once(OutboxMessage(
                key=f"{CLOSED_BY_TIMEOUT}:{request.id}", user_id=customer.user_id, kind=CLOSED_BY_TIMEOUT,
                payload=payload, not_before=deps.planner.customer_time(now), created_at=now,
            ))
        await uow.commit()
    return len(closed)


async def queue_withdrawn(uow: UnitOfWork, deps: Deps, request: ServiceRequest, withdrawn: list[Approval], now: datetime,
                          *, staff_time: datetime) -> None:
    """What `approval_handlers.tell_requesters_withdrawn` and `show_withdrawn` do after an update,
    for the sweep, which has none: whoever asked for an approval the timeout withdrew hears it,
    and so does each approver who holds its card (its buttons only refuse now). Outbox rows keyed
    per approval and person, so a second sweep adds nothing; staff hear in staff hours."""
    customer = await requests.customer_user(uow, request)
    for approval in withdrawn:
        why = next((a.comment for a in reversed(await uow.approvals.actions(approval.id)) if a.action == approvals.WITHDRAW), None)
        requester = await uow.users.get(approval.requested_by_id)
        asked_by_customer = customer is not None and requester is not None and requester.id == customer.id
        if requester is not None and (requester.is_active or asked_by_customer):  # staff who left are not told
            _ = Translator(requester.language, deps.settings.timezone)
            view = View(approval_views.withdrawn_for_requester(_, approval, request, why))
            when = deps.planner.customer_time(now) if asked_by_customer and not users.is_staff(requester) else staff_time
            await notices.queue(uow, requester, notices.VIEW, view.to_payload(), f"approval_withdrawn:{approval.id}:{requester.id}", now,
                                not_before=when)
        for post in await uow.approvals.posts(approval.id, approval.step):
            reader = await uow.users.get(post.user_id)
            if reader is None or not reader.is_active or (requester is not None and reader.id == requester.id):
                continue
            _ = Translator(reader.language, deps.settings.timezone)
            view = approval_views.state_card(_, approval, request, requester, approval_views.withdrawn_note(_, approval, why),
                                             reason=await approval_handlers.reason_for(uow, _, approval))
            await notices.queue(uow, reader, notices.VIEW, view.to_payload(), f"approval_withdrawn:{approval.id}:{reader.id}", now,
                                not_before=staff_time, for_role=approval.current_role)  # not once the role is withdrawn


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
