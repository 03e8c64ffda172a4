"""Deadline clocks: what the policy says about a request, worked out from its timeline.

A clock is never started or stopped by hand. Every timeline event marks its request as touched;
before the transaction commits, `ClockKeeper` replays the request's events through the policy
(`derive`) and writes the result to the request's `sla_clocks` rows. So the workflow only records
what happened, and a changed distance band, warranty or policy file gives new due times by the
same arithmetic.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.policy import ClockRule, Policy, ReminderPolicy
from bot.services.dispatch import effective_warranty
from bot.worktime import WorkCalendar
from storage.db import UnitOfWork
from storage.models import ServiceRequest, SlaClock

MET, BREACHED = "met", "breached"
CLOSED_STATUSES = ("closed", "cancelled")
POLICY_STATE = "clock_policy"
# The reminder shares the rows' alert points count in (point 2 is the breach with two shares, the
# first repeat with one): a policy file that changes them must not turn a breach into "told".
SHARES_STATE = "clock_policy_shares"
RESUMED_AFTER_WAIT = "customer"  # the reason recorded for the time a resumed clock stood stopped


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None  # None: still paused
    wait: str


@dataclass(frozen=True)
class DerivedClock:
    rule: ClockRule
    started_at: datetime
    window: timedelta
    pauses: tuple[Pause, ...]
    stopped_at: datetime | None
    earlier: tuple[DerivedClock, ...] = ()  # a repeating clock's finished cycles before this one


Event = tuple[str, datetime] | tuple[str, datetime, object]  # action, when, and what it is about (an approval's id)


def derive(policy: Policy, request: ServiceRequest, events: Iterable[Event],
           due_from: datetime | None = None, warranty: str | None = None) -> list[DerivedClock]:
    """The clocks the policy runs on this request, from its timeline (oldest event first).
    An event's third item, when given, names what it is about: a repeating clock's stop ends the
    start about the same thing (a decided approval ends its own request), and the clock runs on
    from the oldest start still open.
    `due_from`: a booked maintenance's due date; `from_due_date` clocks start no earlier.
    `warranty`: the warranty the desk works with (`dispatch.effective_warranty`: the dispatcher's
    ruling, else the registry's reading the card shows); the ruling alone when not given."""
    events = list(events)
    warranty = request.warranty or warranty
    derived = []
    for rule in policy.clocks.rules:
        if request.kind not in rule.kinds or (rule.warranty is not None and warranty not in rule.warranty):
            continue
        clock = _replay(policy, rule, events, policy.deadlines.window(rule.name, request.distance_band))
        if clock is not None and rule.from_due_date and due_from is not None:
            clock = _not_before(clock, due_from)
        if clock is not None:
            derived.append(clock)
    return derived


def _not_before(clock: DerivedClock, moment: datetime) -> DerivedClock:
    """The clock as if started at `moment` when it started earlier: what happened before does
    not count (pauses are cut at it); stopped before it, it took no time at all."""
    if clock.started_at >= moment:
        return clock
    if clock.stopped_at is not None and clock.stopped_at <= moment:
        return replace(clock, started_at=clock.stopped_at, pauses=())
    return replace(clock, started_at=moment, pauses=tuple(_cut(clock.pauses, moment)))


def _cut(pauses: Iterable[Pause], moment: datetime) -> list[Pause]:
    """The pauses as a cycle starting at `moment` has them: what ended before it is left out."""
    return [Pause(max(p.start, moment), p.end, p.wait) for p in pauses if p.end is None or p.end > moment]


def _match_start(open_starts: list[tuple[datetime, object]], subject: object) -> bool:
    """Remove the open start a stop ends: the one about the same subject. True when that was the
    oldest, whose time the running cycle counts from. A stop about nothing known cannot say which
    it ends: the newest goes, so no deadline is put off on a guess."""
    index = next((i for i, (_, about) in enumerate(open_starts) if subject is not None and about == subject), None)
    if index is None:
        if open_starts:
            open_starts.pop()
        return False
    del open_starts[index]
    return index == 0


def _replay(policy: Policy, rule: ClockRule, events: list[Event], window: timedelta) -> DerivedClock | None:
    waits = [wait for wait in policy.clocks.waits if wait.name in rule.pauses_for]
    active: dict[str, datetime] = {}  # wait name -> since when
    open_waits: dict[str, int] = {}  # a stacking wait: begins not yet matched by an end
    started: datetime | None = None
    pauses: list[Pause] = []
    paused_since: datetime | None = None
    finished: DerivedClock | None = None  # a repeating clock's last completed cycle
    cycles: list[DerivedClock] = []  # every completed cycle of a repeating clock, oldest first
    # a repeating clock: starts not yet matched by a stop (e.g. two pending approvals), oldest first
    open_starts: list[tuple[datetime, object]] = []
    stopped_at: datetime | None = None  # a resumable clock, stopped until one of its resume events
    running_since: datetime | None = None  # the start, or the latest resume
    # a one-off clock whose own stop came before its start (the expert's plan recorded before the
    # engineer was assigned): it is met the moment it starts
    stopped_early = False
    for action, at, *about in events:
        subject = about[0] if about else None
        for wait in waits:
            if action in wait.ends_on:
                open_waits[wait.name] = max(0, open_waits.get(wait.name, 0) - 1) if wait.stacks else 0
                if not open_waits[wait.name]:
                    active.pop(wait.name, None)
            elif action in wait.begins_on:
                open_waits[wait.name] = open_waits.get(wait.name, 0) + 1
                active.setdefault(wait.name, at)
        if action in rule.starts_on:
            open_starts.append((at, subject))
            if started is None:
                if stopped_early:
                    return DerivedClock(rule, at, window, (), at)
                started, pauses, paused_since, running_since = at, [], None, at
        if started is None:
            stopped_early = stopped_early or (action in rule.stops_on and not rule.repeats and not rule.resumes_on)
            continue
        if stopped_at is not None:
            if action in policy.clocks.stop_all_on:
                break
            if action not in rule.resumes_on:
                continue
            # The stop did not hold (the customer disputed the repair): the clock runs on from
            # its old start, and the time it stood stopped counts as waiting on the customer.
            pauses.append(Pause(stopped_at, at, RESUMED_AFTER_WAIT))
            stopped_at, finished, running_since = None, None, at
        if action in rule.stops_on or action in policy.clocks.stop_all_on:
            oldest = _match_start(open_starts, subject)
            if rule.repeats and open_starts and action not in policy.clocks.stop_all_on:
                if oldest:  # its cycle ends here; the next open start runs on from its own time, not this one's
                    ended = [*pauses[:-1], Pause(pauses[-1].start, at, pauses[-1].wait)] if paused_since is not None else pauses
                    cycles.append(DerivedClock(rule, started, window, tuple(ended), at))
                    started = running_since = open_starts[0][0]
                    pauses = _cut(pauses, started)
                    paused_since = pauses[-1].start if pauses and pauses[-1].end is None else None
                continue  # another start is still open: the clock goes on
            if paused_since is not None:
                last = pauses.pop()
                pauses.append(Pause(last.start, at, last.wait))
            finished = DerivedClock(rule, started, window, tuple(pauses), at)
            if rule.resumes_on and action not in policy.clocks.stop_all_on:
                stopped_at, paused_since = at, None
                continue
            if rule.repeats:
                finished = replace(finished, earlier=tuple(cycles))
                cycles.append(finished)
            if not rule.repeats or action in policy.clocks.stop_all_on:
                return finished
            started, open_starts = None, []
            continue
        if active and paused_since is None:
            paused_since = max(running_since, min(active.values()))
            pauses.append(Pause(paused_since, None, min(active, key=active.get)))
        elif not active and paused_since is not None:
            last = pauses.pop()
            pauses.append(Pause(last.start, at, last.wait))
            paused_since = None
    if started is None or stopped_at is not None:
        return finished
    return DerivedClock(rule, started, window, tuple(pauses), None, tuple(cycles))


def instant_of(calendar: WorkCalendar, start: datetime, pauses: Sequence[Pause], amount: timedelta) -> datetime | None:
    """When `amount` of counted time has run since `start`, not counting pauses; None while an
    open pause holds the clock before that point."""
    cursor, remaining = start, amount
    for pause in pauses:
        reached = calendar.add(cursor, remaining)
        if reached <= pause.start:
            return reached
        remaining -= calendar.between(cursor, pause.start)
        if pause.end is None:
            return None
        cursor = max(cursor, pause.end)
    return calendar.add(cursor, remaining)


def counted(calendar: WorkCalendar, start: datetime, pauses: Sequence[Pause], until: datetime) -> timedelta:
    """Counted time between `start` and `until`, pauses left out."""
    total = calendar.between(start, until)
    for pause in pauses:
        end = pause.end or until
        total -= calendar.between(max(pause.start, start), min(end, until))
    return max(total, timedelta(0))


def reminder_point(policy: Policy, calendar: WorkCalendar, clock: SlaClock, point: int) -> datetime | None:
    """When reminder point `point` falls: first the shares of the window before the deadline,
    then the deadline itself, then a repeat every `repeat_after_breach`."""
    return _point_at(policy.reminders, calendar, clock, point)


def _point_at(reminders: ReminderPolicy, calendar: WorkCalendar, clock: SlaClock, point: int) -> datetime | None:
    before = reminders.before
    if point < len(before):
        return instant_of(calendar, clock.started_at, stored_pauses(clock), timedelta(seconds=clock.window_seconds * before[point]))
    if clock.due_at is None:
        return None
    return clock.due_at + (point - len(before)) * reminders.repeat_after_breach


def stored_pauses(clock: SlaClock) -> tuple[Pause, ...]:
    return tuple(
        Pause(datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None, wait)
        for start, end, wait in clock.pauses or ()
    )


def apply(policy: Policy, calendar: WorkCalendar, row: SlaClock, clock: DerivedClock,
          counted_in: tuple[float, ...] | None = None) -> None:
    """Write a derived clock onto its row: due time, pause, outcome and next reminder.
    `counted_in`: the reminder shares the row's alert point counts in, when the policy file
    changed them since it was handled (None: the policy's own)."""
    if row.started_at != clock.started_at:
        row.alert_point = 0  # a new cycle of a repeating clock: its reminders start over
    old_due = row.due_at
    handled = policy.reminders if counted_in is None else replace(policy.reminders, before=counted_in)
    # When the reminders handled so far were due, by the schedule they were handled by, and how
    # many levels above the first the chain has been told (none before the breach).
    handled_until = _point_at(handled, calendar, row, row.alert_point - 1) if row.alert_point and old_due is not None else None
    levels_told = min(max(0, (row.alert_point or 0) - len(handled.before)), len(clock.rule.escalation) - 1)
    row.started_at = clock.started_at
    row.window_seconds = int(clock.window.total_seconds())
    row.pauses = [[p.start.isoformat(), p.end.isoformat() if p.end else None, p.wait] for p in clock.pauses]
    open_pause = clock.pauses[-1] if clock.pauses and clock.pauses[-1].end is None else None
    row.paused_since = open_pause.start if open_pause else None
    row.pause_reason = open_pause.wait if open_pause else None
    row.due_at = instant_of(calendar, clock.started_at, clock.pauses, clock.window)
    row.remaining_seconds = (
        int((clock.window - counted(calendar, clock.started_at, clock.pauses, open_pause.start)).total_seconds())
        if open_pause else None
    )
    row.stopped_at = clock.stopped_at
    if clock.stopped_at is not None and row.due_at is not None:
        late = _lateness(calendar, clock)
        row.outcome = BREACHED if late > timedelta(0) else MET
        row.late_seconds = max(0, int(late.total_seconds()))
    else:
        row.outcome, row.late_seconds = None, None
    # A repeating clock keeps one row: an earlier cycle's breach (a late first approval step) must
    # not be overwritten by a later cycle that was on time.
    row.earlier_breach = any(_lateness(calendar, cycle) > timedelta(0) for cycle in clock.earlier)
    if row.alert_point is None:
        row.alert_point = 0
    elif handled_until is not None and row.due_at is not None and (row.due_at != old_due or counted_in is not None) and clock.stopped_at is None:
        # The deadline moved (a distance band set late or corrected, a window changed in the policy
        # file): the reminders of the new schedule that fall after those already handled are still
        # to come. A level of the chain not told yet is never skipped, even when the new breach is
        # long past: the next sweep tells every level up to the latest point due, once.
        row.alert_point = min(_first_point_after(policy, calendar, row, handled_until), len(policy.reminders.before) + levels_told)
    row.next_alert_at = None if clock.stopped_at or open_pause else reminder_point(policy, calendar, row, row.alert_point)


def _first_point_after(policy: Policy, calendar: WorkCalendar, row: SlaClock, moment: datetime) -> int:
    point = 0
    while (at := reminder_point(policy, calendar, row, point)) is not None and at <= moment:
        point += 1
    return point


def _lateness(calendar: WorkCalendar, clock: DerivedClock) -> timedelta:
    """How long after its due time a stopped clock stopped, in the clock's own time (working mode:
    no weekend hours); zero when on time or still running."""
    due = instant_of(calendar, clock.started_at, clock.pauses, clock.window)
    if clock.stopped_at is None or due is None:
        return timedelta(0)
    return calendar.between(due, clock.stopped_at)


class ClockKeeper:
    """Keeps `sla_clocks` rows in step with the timeline; installed as the database's
    before-commit hook, so every transaction that records an event updates its clocks."""

    def __init__(self, policy: Policy, tz: ZoneInfo) -> None:
        self.policy = policy
        self.tz = tz
        self.due_date_kinds = frozenset(kind for rule in policy.clocks.rules if rule.from_due_date for kind in rule.kinds) & {"maintenance"}
        warranty_rules = [rule for rule in policy.clocks.rules if rule.warranty is not None]
        self.warranty_kinds = frozenset(kind for rule in warranty_rules for kind in rule.kinds)
        self.warranty_starts = frozenset(action for rule in warranty_rules for action in rule.starts_on)
        self.calendar = policy.calendar.calendar(tz)
        self.fingerprint = hashlib.sha256(json.dumps(_plain((
            policy.deadlines, policy.clocks, policy.reminders, policy.calendar, str(tz),
        ))).encode()).hexdigest()[:32]

    async def __call__(self, uow: UnitOfWork, request_ids: set[int]) -> None:
        # Each request is locked (in id order) before its events and clock rows are read: two
        # transactions recording events on one request (two approvals asked at once) take turns,
        # and the second finds the clock rows the first inserted instead of inserting them again.
        for request_id in sorted(request_ids):
            request = await uow.requests.lock(request_id)
            if request is not None:
                await self.sync(uow, request)

    async def sync(self, uow: UnitOfWork, request: ServiceRequest, counted_in: tuple[float, ...] | None = None) -> list[SlaClock]:
        events = [(event.action, event.created_at, (event.details or {}).get("approval_id"))
                  for event in await uow.requests.events(request.id, include_internal=True)]
        due_from = None
        if request.kind in self.due_date_kinds:  # booked from a maintenance reminder: the visit is needed on its due date
            due_on = await uow.maintenance.due_on_booked_by(request.id)
            due_from = datetime.combine(due_on, time(0), tzinfo=self.tz) if due_on else None
        warranty = None  # read only once a clock that depends on it could start: the registry's reading until a dispatcher rules
        if request.kind in self.warranty_kinds and not request.warranty and any(event[0] in self.warranty_starts for event in events):
            warranty = await effective_warranty(uow, request, self.tz)
        derived = {clock.rule.name: clock for clock in derive(self.policy, request, events, due_from, warranty)}
        rows = {row.kind: row for row in await uow.requests.clock_rows(request.id)}
        for kind, row in rows.items():
            if kind not in derived:  # the rule no longer applies (e.g. the warranty was overruled)
                await uow.clocks.delete(row)
        result = []
        for kind, clock in derived.items():
            row = rows.get(kind)
            if row is None:
                row = SlaClock(request_id=request.id, kind=kind, started_at=clock.started_at, alert_point=0, pauses=[])
                uow.session.add(row)
            apply(self.policy, self.calendar, row, clock, counted_in)
            result.append(row)
        await uow.session.flush()
        return result

    async def resync_if_policy_changed(self, uow: UnitOfWork, batch: int = 500) -> int:
        """After the policy file (or time zone) changed, recompute every open request's clocks once."""
        if await uow.app_state.get(POLICY_STATE) == self.fingerprint:
            return 0
        shares = _shares_text(self.policy.reminders.before)
        stored = await uow.app_state.get(SHARES_STATE)
        counted_in = None if stored in (None, shares) else tuple(json.loads(stored))
        count, after = 0, 0
        while ids := await uow.clocks.open_request_ids(CLOSED_STATUSES, after, batch):
            for request_id in ids:
                await self.sync(uow, await uow.requests.get(request_id), counted_in)
            count, after = count + len(ids), ids[-1]
        await uow.app_state.set(POLICY_STATE, self.fingerprint)
        await uow.app_state.set(SHARES_STATE, shares)
        return count


def _shares_text(before: tuple[float, ...]) -> str:
    """The reminder shares as stored (4 decimals: a few seconds of a window; short enough for app_state)."""
    return json.dumps([round(share, 4) for share in before], separators=(",", ":"))


def _plain(value: object) -> object:
    """Policy values as JSON, the same in every process: a set's order follows the string hash
    seed, which differs per process, so sets are sorted (repr() would differ at every start)."""
    if dataclasses.is_dataclass(value):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=repr)
    if isinstance(value, dict):
        return [[_plain(key), _plain(item)] for key, item in value.items()]  # in order: a table's first band is the default
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (date, time)):
        return value.isoformat()
    return value
