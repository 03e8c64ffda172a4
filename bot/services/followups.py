"""Follow-up calls after a closed job: when they fall due, who sees them, what the caller records.

DESIGN.md: after a job is closed the customer is called "first within 3–7 days, second one week
later". A repair, installation or maintenance job that closes with a work report gets round 1,
due `first_from_days` after the local closing day and late after `first_by_days`. When round 1 is
done (the customer reached, or recorded unreachable after `max_attempts` tries) round 2 falls due
`second_after_days` after the day of that call, late `second_window_days` later. Each round exists
once per request (a unique key), so a second close path or a replayed update adds nothing.

The callback role records; dispatchers may read the list and the cards (they act on unhappy
customers). The customer is never messaged by this feature. Dates are local (`TIMEZONE`) days.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.policy import FollowUpPolicy
from bot.services import dialogs, requests
from bot.services.errors import DomainError, NotAllowed, NotFound, StaleAction
from bot.services.users import ROLE_DISPATCHER
from storage.db import UnitOfWork
from storage.models import Customer, Draft, FollowUpCall, JobReport, OutboxMessage, Product, RequestEvent, ServiceRequest, User

ROLE_CALLBACK = "callback"
DUE, DONE = "due", "done"
SATISFIED, NOT_SATISFIED, UNREACHABLE = "satisfied", "not_satisfied", "unreachable"
REACHED = (SATISFIED, NOT_SATISFIED)
FEEDBACK_DIALOG, FEEDBACK_STEP = "follow_up_feedback", "feedback"
DIGEST = "follow_ups_due"  # outbox kind: the callback person's daily list
EVENT = "follow_up_call"  # internal timeline event when a call is done
LIST_LIMIT = 20  # calls on one /calls page
DIGEST_SHOWN = 5  # the oldest calls named in the daily message

CALL_KINDS = frozenset({"repair", "installation", "maintenance"})
# Why the other kinds get no call (the reason is kept here, where the rule is):
NO_CALL_REASONS = {
    # a question answered in the chat: no work was done on the equipment to ask about
    "consultation": "no_work_on_site",
    # the product comes back to us (refund, exchange or workshop repair); the return has its own
    # tracking and messages to the customer
    "return": "return_tracked",
    # the complaint supervisor answers in writing; a satisfaction call would be a second channel
    # talking over the written answer
    "complaint": "answered_in_writing",
}
NO_REPORT = "closed_without_work"  # declined quote, duplicate: nobody did anything to ask about


class AlreadyRecorded(DomainError):
    """The call is done, or someone recorded a try since this card was shown."""

    def __init__(self, call: FollowUpCall) -> None:
        super().__init__(call.id)
        self.call = call


# --- the date rules (pure) -------------------------------------------------------------------


def local_day(moment: datetime, timezone: ZoneInfo) -> date:
    return moment.astimezone(timezone).date()


def first_round_window(closed_on: date, policy: FollowUpPolicy) -> tuple[date, date]:
    """(due on, late after) for the first call of a job closed on `closed_on`."""
    return closed_on + timedelta(days=policy.first_from_days), closed_on + timedelta(days=policy.first_by_days)


def second_round_window(first_call_on: date, policy: FollowUpPolicy) -> tuple[date, date]:
    """(due on, late after) for the second call, counted from the day the first one was done."""
    due_on = first_call_on + timedelta(days=policy.second_after_days)
    return due_on, due_on + timedelta(days=policy.second_window_days)


def skip_reason(kind: str, has_report: bool) -> str | None:
    """Why a closed request gets no follow-up calls, or None when it gets them."""
    if kind not in CALL_KINDS:
        return NO_CALL_REASONS.get(kind, "kind_" + kind)
    return None if has_report else NO_REPORT


def is_overdue(call: FollowUpCall, today: date) -> bool:
    return call.state == DUE and today > call.due_by


def digest_time(now: datetime, timezone: ZoneInfo, policy: FollowUpPolicy) -> bool:
    """Has today's `remind_at` (local) come?"""
    return now.astimezone(timezone).time().replace(tzinfo=None) >= policy.remind_at


# --- who may do what ----------------------------------------------------------------------------


def may_record(user: User) -> bool:
    return user.is_active and ROLE_CALLBACK in user.role_names


def may_read(user: User) -> bool:
    return user.is_active and bool(user.role_names & {ROLE_CALLBACK, ROLE_DISPATCHER})


def _require_caller(user: User) -> None:
    if not may_record(user):
        raise NotAllowed()


async def _engineer_id(uow: UnitOfWork, request: ServiceRequest, report: JobReport | None = None) -> int | None:
    """Whose work the call checks: the last report's writer (one disputed, when the dispatcher
    closed the job after it), else the engineer the job was with."""
    report = report or await uow.jobs.latest_report(request.id)
    return report.engineer_id if report else request.assigned_engineer_id


# --- scheduling -----------------------------------------------------------------------------------


async def schedule_after_close(uow: UnitOfWork, policy: FollowUpPolicy, timezone: ZoneInfo, request: ServiceRequest, now: datetime) -> FollowUpCall | None:
    """Round 1 for a request just closed (call it in the closing transaction, from every close
    path). None when the request gets no calls; the existing call when it was scheduled before."""
    if request.status != requests.CLOSED:
        return None
    report = await uow.jobs.latest_report(request.id)  # a disputed one too: work was done (closed by the dispatcher after it)
    if skip_reason(request.kind, report is not None) is not None:
        return None
    customer = await uow.customers.get(request.customer_id)
    if customer is None or customer.erased_at is not None:  # erased while the report waited: nobody to call
        return None
    due_on, due_by = first_round_window(local_day(now, timezone), policy)
    return await _add(uow, request.id, 1, due_on, due_by, now)


async def _add(uow: UnitOfWork, request_id: int, round_: int, due_on: date, due_by: date, now: datetime) -> FollowUpCall:
    await uow.follow_ups.add_once(FollowUpCall(
        request_id=request_id, round=round_, due_on=due_on, due_by=due_by, state=DUE, attempts=0, created_at=now,
    ))
    return next(c for c in await uow.follow_ups.of_request(request_id) if c.round == round_)


# --- the list and the card ---------------------------------------------------------------------


@dataclass(frozen=True)
class DueCall:
    call: FollowUpCall
    request: ServiceRequest
    customer: Customer
    overdue: bool


@dataclass(frozen=True)
class DueList:
    items: list[DueCall]  # overdue first, then by deadline
    total: int
    overdue: int
    can_record: bool


async def _due_items(uow: UnitOfWork, today: date, limit: int) -> list[DueCall]:
    items = []
    for call in await uow.follow_ups.due_by_day(today, limit):
        request = await uow.requests.get(call.request_id)
        items.append(DueCall(call, request, await uow.customers.get(request.customer_id), is_overdue(call, today)))
    return items


async def due_list(uow: UnitOfWork, user: User, today: date, limit: int = LIST_LIMIT) -> DueList:
    """Calls due by `today` (overdue first) for the callback role; dispatchers may read it."""
    if not may_read(user):
        raise NotAllowed()
    total, overdue = await uow.follow_ups.count_due(today)
    return DueList(await _due_items(uow, today, limit), total, overdue, may_record(user))


@dataclass(frozen=True)
class CallCard:
    call: FollowUpCall
    request: ServiceRequest
    customer: Customer
    product: Product | None
    report: JobReport | None
    engineer: User | None
    caller: User | None
    overdue: bool
    can_record: bool
    own_job: bool = False  # the reader did the work this call checks: they may not record it


async def card(uow: UnitOfWork, user: User, call_id: int, today: date) -> CallCard:
    """What the caller needs to make the call: who, what was done, by whom, which round."""
    if not may_read(user):
        raise NotAllowed()
    call = await uow.follow_ups.get(call_id)
    if call is None:
        raise NotFound()
    request = await uow.requests.get(call.request_id)
    report = await uow.jobs.latest_report(request.id)
    engineer_id = await _engineer_id(uow, request, report)
    return CallCard(
        call=call, request=request, customer=await uow.customers.get(request.customer_id),
        product=await uow.products.get(request.product_id) if request.product_id else None,
        report=report, engineer=await uow.users.get(engineer_id) if engineer_id else None,
        caller=await uow.users.get(call.caller_id) if call.caller_id else None,
        overdue=is_overdue(call, today), can_record=may_record(user) and call.state == DUE and user.id != engineer_id,
        own_job=user.id == engineer_id,
    )


# --- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    call: FollowUpCall
    request: ServiceRequest
    next_call: FollowUpCall | None  # round 2, when this finished round 1


async def _due_call(uow: UnitOfWork, user: User, call_id: int) -> FollowUpCall:
    _require_caller(user)
    call = await uow.follow_ups.get(call_id)
    if call is None:
        raise NotFound()
    if call.state != DUE:
        raise AlreadyRecorded(call)
    if await _engineer_id(uow, await uow.requests.get(call.request_id)) == user.id:
        raise NotAllowed()  # the call checks the engineer's work: he may not record it on his own job
    return call


async def choose_outcome(uow: UnitOfWork, user: User, call_id: int, outcome: str, now: datetime) -> Draft:
    """“Reached: satisfied / not satisfied”: the feedback step comes next; nothing is recorded
    until the caller sends the feedback or skips it (so Back and Cancel leave the call due)."""
    if outcome not in REACHED:
        raise NotFound()
    call = await _due_call(uow, user, call_id)
    return await dialogs.begin(uow, user.id, FEEDBACK_DIALOG, FEEDBACK_STEP, {"call_id": call.id, "outcome": outcome}, now)


async def record_reached(uow: UnitOfWork, policy: FollowUpPolicy, timezone: ZoneInfo, user: User, draft: Draft, feedback: str | None, now: datetime) -> Recorded:
    """The customer was reached: store the outcome and the feedback once, end the dialog."""
    if draft.kind != FEEDBACK_DIALOG or draft.data.get("outcome") not in REACHED:
        raise StaleAction()
    await dialogs.end(uow, draft)
    call = await _due_call(uow, user, draft.data["call_id"])
    values = {"state": DONE, "outcome": draft.data["outcome"], "feedback": feedback, "caller_id": user.id, "done_at": now}
    if not await uow.follow_ups.record(call, None, **values):
        raise AlreadyRecorded(call)
    return await _finished(uow, policy, timezone, user, call, now)


async def no_answer(uow: UnitOfWork, policy: FollowUpPolicy, timezone: ZoneInfo, user: User, call_id: int, seen_attempts: int, now: datetime) -> Recorded:
    """One more unanswered try (`seen_attempts` is what the pressed card showed, so a double
    press counts once); at `max_attempts` the call is done as “customer unreachable”."""
    call = await _due_call(uow, user, call_id)
    tries = seen_attempts + 1
    values: dict[str, object] = {"attempts": tries, "caller_id": user.id}
    if tries >= policy.max_attempts:
        values.update(state=DONE, outcome=UNREACHABLE, done_at=now)
    if call.attempts != seen_attempts or not await uow.follow_ups.record(call, seen_attempts, **values):
        raise AlreadyRecorded(call)
    if call.state != DONE:
        return Recorded(call, await uow.requests.get(call.request_id), None)
    return await _finished(uow, policy, timezone, user, call, now)


async def _finished(uow: UnitOfWork, policy: FollowUpPolicy, timezone: ZoneInfo, user: User, call: FollowUpCall, now: datetime) -> Recorded:
    """A call is done: note it on the request's (internal) timeline; round 1 brings round 2."""
    request = await uow.requests.get(call.request_id)
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=user.id, action=EVENT, internal=True, created_at=now,
        details={"round": call.round, "outcome": call.outcome, "attempts": call.attempts},
    ))
    next_call = None
    if call.round == 1:
        due_on, due_by = second_round_window(local_day(now, timezone), policy)
        next_call = await _add(uow, request.id, 2, due_on, due_by, now)
    return Recorded(call, request, next_call)


async def dialog_call(uow: UnitOfWork, user: User, draft: Draft, today: date) -> CallCard:
    """The card the feedback dialog is about (for Back and for re-asking)."""
    return await card(uow, user, draft.data["call_id"], today)


# --- the daily message to the callback role ------------------------------------------------------


async def plan_digests(uow: UnitOfWork, policy: FollowUpPolicy, timezone: ZoneInfo, now: datetime, not_before: datetime) -> int:
    """From `remind_at` (local) on, once a day: one outbox row per active callback person when
    calls are due or overdue, and per dispatcher when some are overdue (the next level of the
    follow-up deadline; with nobody in the callback role, they hear of calls once overdue). Keys are per person and day, so a
    second process or a restart adds nothing; calls told of are marked, so later sweeps that day
    cost one query."""
    if not digest_time(now, timezone, policy):
        return 0
    today = local_day(now, timezone)
    if not await uow.follow_ups.unannounced(today):
        return 0
    callers = await uow.users.active_with_role(ROLE_CALLBACK)
    _, overdue = await uow.follow_ups.count_due(today)
    overseers = await uow.users.active_with_role(ROLE_DISPATCHER) if overdue else []
    recipients = {person.id: person for person in [*callers, *overseers]}
    if not recipients:
        return 0
    added = 0
    for person in recipients.values():
        added += await uow.outbox.add_once(OutboxMessage(
            key=f"{DIGEST}:{person.id}:{today.isoformat()}", user_id=person.id, kind=DIGEST,
            payload={"day": today.isoformat()}, not_before=not_before, created_at=now,
        ))
    await uow.follow_ups.mark_announced(today)
    return added


@dataclass(frozen=True)
class Digest:
    day: date
    total: int
    overdue: int
    oldest: list[DueCall]
    for_caller: bool = True  # False: a dispatcher told because calls are overdue


async def digest(uow: UnitOfWork, user: User, day: date) -> Digest | None:
    """What the daily message says when it is sent (None: no longer theirs to read, or nothing
    left due; a dispatcher hears only of overdue calls)."""
    if not may_read(user):
        return None
    total, overdue = await uow.follow_ups.count_due(day)
    caller = may_record(user)
    if not total or (not caller and not overdue):
        return None
    return Digest(day, total, overdue, await _due_items(uow, day, DIGEST_SHOWN), for_caller=caller)
