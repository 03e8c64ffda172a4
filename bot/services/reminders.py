"""Reminders before each deadline and escalation after it, planned by the sweep into the outbox.

Planning and sending are separate steps: a reminder is recorded (one outbox row per clock,
reminder point and person, unique by key) in the transaction that advances the clock, and a
sender delivers recorded rows later. So a restart, a crash before sending or a second bot
process neither loses nor doubles a reminder. After downtime a clock jumps straight to its
latest point, telling everyone the skipped points would have told, once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.policy import APPROVER, ASSIGNEE, ClockRule, Policy
from bot.worktime import DailyWindow
from bot.services import complaints
from bot.services.clocks import CLOSED_STATUSES, ClockKeeper, reminder_point
from bot.services.dispatch import require_overseer
from storage.db import UnitOfWork
from storage.models import OutboxMessage, ServiceRequest, SlaClock, User

DEADLINE = "deadline"  # outbox kind
# outbox kind: a reminder that could not reach its person (they blocked the bot), to whoever stands
# in for them on the clock's chain: {"clock_id", "point", "person_id"} (the person not reached)
UNREACHED = "deadline_unreached"
MISSED = "missed"  # a deadline row's payload: the people a reminder of the same clock and point could not reach
AT_RISK_SHARE_DEFAULT = 0.8


def chain_steps(rule: ClockRule, point: int, before_points: int) -> tuple[str, ...]:
    """Who a reminder point is for: before the deadline whoever answers for the clock; at and
    after it that person and one step further up the chain per repeat (the last step repeats)."""
    chain = rule.escalation
    if point < before_points:
        return chain[:1]
    step = min(1 + point - before_points, len(chain) - 1)
    return tuple(dict.fromkeys((chain[0], chain[step])))


def latest_point_due(policy: Policy, keeper: ClockKeeper, clock: SlaClock, now: datetime) -> int | None:
    """The highest reminder point at or before `now` not handled yet, or None."""
    before = len(policy.reminders.before)
    latest, point = None, clock.alert_point
    while point < before:
        moment = reminder_point(policy, keeper.calendar, clock, point)
        if moment is None or moment > now:
            return latest
        latest, point = point, point + 1
    if clock.due_at is None or clock.due_at > now:
        return latest
    repeats = int((now - clock.due_at) / policy.reminders.repeat_after_breach)
    return before + repeats if before + repeats >= clock.alert_point else latest


async def people(uow: UnitOfWork, request: ServiceRequest, step: str) -> list[User]:
    """The people behind one step of a chain; of a role, those on duty (everyone if none is)."""
    if step == ASSIGNEE:
        engineer = await uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None
        return [engineer] if engineer is not None and engineer.is_active else []
    if step == APPROVER:
        found: dict[int, User] = {}
        for approval in await uow.approvals.pending_of_request(request.id):
            found.update((user.id, user) for user in await people(uow, request, approval.current_role))
        return list(found.values())
    holders = await uow.users.active_with_role(step)
    return [user for user in holders if user.on_duty] or holders


async def recipients(uow: UnitOfWork, request: ServiceRequest, rule: ClockRule, steps: tuple[str, ...], exclude: frozenset[int] = frozenset()) -> list[User]:
    """Everyone to tell; a step with nobody behind it (no engineer yet) passes to the next one up,
    and when nobody is left above (no general manager), down to the highest step that has someone,
    so an escalation keeps reaching the most senior person there is. `exclude`: people who cannot
    act on it (who asked for an approval they may not grant)."""
    found: dict[int, User] = {}
    for step in steps:
        index = rule.escalation.index(step)
        for fallback in (*rule.escalation[index:], *reversed(rule.escalation[:index])):
            users = [user for user in await people(uow, request, fallback) if user.id not in exclude]
            if users:
                found.update((user.id, user) for user in users)
                break
    return list(found.values())


async def cannot_act(uow: UnitOfWork, policy: Policy, request: ServiceRequest, rule: ClockRule) -> frozenset[int]:
    """Who is left out of a clock's reminders, as chasing them would only chase someone who may
    not act: the people a complaint is about (its clock), and without self-approval whoever asked
    for every approval still pending (an approval clock)."""
    own_work = await complaints.own_work_ids_of_request(uow, request)
    if APPROVER not in rule.escalation or policy.approvals.self_approval:
        return own_work
    pending = await uow.approvals.pending_of_request(request.id)
    return own_work | (frozenset.intersection(*(frozenset({a.requested_by_id}) for a in pending)) if pending else frozenset())


async def still_concerned(uow: UnitOfWork, policy: Policy, user: User, request: ServiceRequest, clock: SlaClock) -> bool:
    """Whether a reminder recorded for `user` still concerns them when it is sent (held for the
    morning, say): they are the engineer on the job, or hold a role on the clock's chain."""
    rule = policy.clocks.rule(clock.kind)
    if rule is None:
        return False
    if user.id in await complaints.own_work_ids_of_request(uow, request):
        return False  # a complaint about their own work is not theirs to act on
    if request.assigned_engineer_id == user.id:
        return True
    if user.role_names & set(rule.escalation):
        return True
    if APPROVER in rule.escalation:
        return any(a.current_role in user.role_names for a in await uow.approvals.pending_of_request(request.id))
    return False


async def hand_over(uow: UnitOfWork, keeper: ClockKeeper, request: ServiceRequest) -> None:
    """A job given to an engineer: the latest reminder before a deadline its engineer answers for
    went to whoever answered before (the engineer it was taken from, or the dispatchers while it
    had none). One held for reachable hours is dropped at sending for someone no longer on the job,
    and the next point may be the breach itself, so that point is planned again: the next sweep
    tells the new engineer (the others' reminder keys are the same, so nobody hears it twice)."""
    before = len(keeper.policy.reminders.before)
    for clock in await uow.requests.clocks(request.id):
        rule = keeper.policy.clocks.rule(clock.kind)
        if rule is None or rule.escalation[0] != ASSIGNEE or clock.stopped_at is not None or not 0 < (clock.alert_point or 0) <= before:
            continue  # not the engineer's deadline, over, nothing told yet, or breached (each repeat tells the engineer)
        clock.alert_point -= 1
        clock.next_alert_at = None if clock.paused_since else reminder_point(keeper.policy, keeper.calendar, clock, clock.alert_point)


def _step_of(rule: ClockRule, request: ServiceRequest, person: User, pending_roles: frozenset[str]) -> int | None:
    """The lowest level of the clock's chain `person` answers for (None: none of it any more)."""
    if not person.is_active:
        return None  # left the staff: their jobs and approval steps went back when they left
    for index, step in enumerate(rule.escalation):
        if step == ASSIGNEE:
            if request.assigned_engineer_id == person.id:
                return index
        elif step == APPROVER:
            if pending_roles & person.role_names:
                return index
        elif step in person.role_names:
            return index
    return None


async def stand_ins(uow: UnitOfWork, policy: Policy, request: ServiceRequest, rule: ClockRule, person: User) -> list[User]:
    """Who is told a reminder meant for `person`, who cannot be reached: the next level up the
    chain that has someone reachable, or, with nobody above, the highest one below (as `recipients`
    falls back), else the others of their own level. The next level even when others of their
    own level got the same reminder: they may have blocked the bot at the same moment (two
    senders, each not seeing the other's block yet), and then nobody would be told."""
    pending_roles = frozenset(a.current_role for a in await uow.approvals.pending_of_request(request.id)) if APPROVER in rule.escalation else frozenset()
    index = _step_of(rule, request, person, pending_roles)
    if index is None:
        return []
    exclude = await cannot_act(uow, policy, request, rule) | {person.id}
    for fallback in (*rule.escalation[index + 1:], *reversed(rule.escalation[:index]), rule.escalation[index]):
        users = [user for user in await people(uow, request, fallback) if user.id not in exclude and user.is_reachable]
        if users:
            return users
    return []


async def reroute_unreached(uow: UnitOfWork, policy: Policy, person: User, rows: list[OutboxMessage], now: datetime) -> int:
    """`person` cannot be reached (they blocked the bot) and these rows of theirs will not be
    sent: each reminder among them (a deadline's, or one already passed on to them) goes to their
    stand-ins on the clock's chain (`stand_ins`), saying who could not be reached, when it is
    still due to them. Once per row and stand-in (keyed so), at the time the row was due."""
    queued = 0
    for row in rows:
        if row.sent_at is not None or row.kind not in (DEADLINE, UNREACHED):
            continue
        clock = await uow.clocks.get(row.payload.get("clock_id", 0))
        if clock is None or clock.stopped_at is not None:
            continue
        request = await uow.requests.get(clock.request_id)
        rule = policy.clocks.rule(clock.kind)
        if rule is None or request is None or request.status in CLOSED_STATUSES:
            continue
        not_reached = row.payload.get("person_id", person.id) if row.kind == UNREACHED else person.id
        for reader in await stand_ins(uow, policy, request, rule, person):
            if reader.id == not_reached or await _told_already(uow, reader, clock, row.payload.get("point"), not_reached):
                continue
            queued += await uow.outbox.add_once(OutboxMessage(
                key=f"{UNREACHED}:{row.id}:{reader.id}", user_id=reader.id, kind=UNREACHED,
                payload={"clock_id": clock.id, "point": row.payload.get("point"), "person_id": not_reached},
                not_before=max(row.not_before, now), created_at=now,
            ))
    return queued


async def _told_already(uow: UnitOfWork, reader: User, clock: SlaClock, point: int | None, not_reached: int) -> bool:
    """Whether `reader` has their own reminder of this clock at this point (at a breach a dispatcher
    is reminded too): one message about a deadline, not two. Not sent yet, it says whom it missed
    (payload MISSED); sent already, it told them of the deadline, and the block alert of the person."""
    for row in await uow.outbox.of_user(reader.id):
        if row.kind != DEADLINE or row.failure is not None or row.payload.get("clock_id") != clock.id or row.payload.get("point") != point:
            continue
        if row.sent_at is None and not_reached not in row.payload.get(MISSED, []):
            row.payload = {**row.payload, MISSED: [*row.payload.get(MISSED, []), not_reached]}
        return True
    return False


@dataclass(frozen=True)
class Planner:
    policy: Policy
    keeper: ClockKeeper
    tz: ZoneInfo

    def staff_time(self, now: datetime, urgent: bool) -> datetime:
        return now if urgent else self.policy.hours.staff_reachable.next_inside(now, self.tz)

    def customer_time(self, now: datetime) -> datetime:
        quiet = self.policy.hours.customer_quiet
        return DailyWindow(quiet.end, quiet.start).next_inside(now, self.tz)  # the hours outside the quiet ones

    async def plan(self, uow: UnitOfWork, now: datetime, batch: int = 100) -> int:
        """Record the reminders due by `now` for up to `batch` clocks; returns clocks handled."""
        clocks = await uow.clocks.claim_alerts_due(now, batch)
        before = len(self.policy.reminders.before)
        for clock in clocks:
            request = await uow.requests.get(clock.request_id)
            rule = self.policy.clocks.rule(clock.kind)
            latest = latest_point_due(self.policy, self.keeper, clock, now)
            if rule is None or request.status in CLOSED_STATUSES or clock.stopped_at is not None or latest is None:
                clock.next_alert_at = None if rule is None or clock.stopped_at else reminder_point(self.policy, self.keeper.calendar, clock, clock.alert_point)
                continue
            steps: dict[str, None] = {}
            for point in range(clock.alert_point, min(latest, before + len(rule.escalation)) + 1):
                steps.update(dict.fromkeys(chain_steps(rule, point, before)))
            steps.update(dict.fromkeys(chain_steps(rule, latest, before)))
            not_before = self.staff_time(now, urgent=rule.urgent and latest >= before)
            # The due time too: after the deadline moved, a point is a new reminder; and when the
            # point falls: after the policy's shares changed, point 1 may be the breach, not 80 %.
            falls_at = reminder_point(self.policy, self.keeper.calendar, clock, latest)
            base = (f"clock:{clock.id}:{int(clock.started_at.timestamp())}:{int(clock.due_at.timestamp()) if clock.due_at else 0}"
                    f":{latest}:{int(falls_at.timestamp())}")
            told = await recipients(uow, request, rule, tuple(steps), await cannot_act(uow, self.policy, request, rule))
            # Someone already known to be unreachable (blocked the bot) is not written to: their
            # stand-ins are told at once, as the sender would after the 403 (reroute_unreached); one
            # who gets their own reminder of this point has it say whom it missed instead.
            missed: dict[int, list[int]] = {user.id: [] for user in told if user.is_reachable}
            for user in told:
                if user.is_reachable:
                    continue
                for reader in await stand_ins(uow, self.policy, request, rule, user):
                    if reader.id in missed:
                        missed[reader.id].append(user.id)
                        continue
                    await uow.outbox.add_once(OutboxMessage(
                        key=f"{UNREACHED}:{base}:{user.id}:{reader.id}", user_id=reader.id, kind=UNREACHED,
                        payload={"clock_id": clock.id, "point": latest, "person_id": user.id}, not_before=not_before, created_at=now,
                    ))
            for user_id, not_reached in missed.items():
                await uow.outbox.add_once(OutboxMessage(
                    key=f"{base}:{user_id}", user_id=user_id, kind=DEADLINE,
                    payload={"clock_id": clock.id, "point": latest} | ({MISSED: not_reached} if not_reached else {}),
                    not_before=not_before, created_at=now,
                ))
            clock.alert_point = latest + 1
            clock.next_alert_at = reminder_point(self.policy, self.keeper.calendar, clock, clock.alert_point)
        await uow.session.flush()
        return len(clocks)


@dataclass(frozen=True)
class DeadlineItem:
    clock: SlaClock
    request: ServiceRequest
    overdue: bool
    for_assignee: bool  # the recipient is the engineer doing the job


async def deadline_items(uow: UnitOfWork, policy: Policy, user: User, messages: list[OutboxMessage], now: datetime) -> list[DeadlineItem]:
    """What a person's recorded reminders are about, as of now; a clock someone already stopped
    (or paused) is left out: the reminder has nothing left to ask for; so is one that no longer
    concerns them (the job went to another engineer while it waited for the morning)."""
    items: dict[int, DeadlineItem] = {}
    for message in messages:
        clock = await uow.clocks.get(message.payload.get("clock_id", 0))
        if clock is None or clock.stopped_at is not None or clock.due_at is None or clock.id in items:
            continue
        request = await uow.requests.get(clock.request_id)
        if request.status in CLOSED_STATUSES or not await still_concerned(uow, policy, user, request, clock):
            continue
        items[clock.id] = DeadlineItem(clock, request, clock.due_at <= now, request.assigned_engineer_id == user.id)
    return sorted(items.values(), key=lambda item: item.clock.due_at)


@dataclass(frozen=True)
class OverdueEntry:
    clock: SlaClock
    request: ServiceRequest
    overdue: bool


@dataclass(frozen=True)
class OverdueList:
    entries: list[OverdueEntry]  # the first `limit`, most overdue first
    overdue: int  # every breached running deadline, shown or not
    at_risk: int  # every one at risk, shown or not


OVERDUE_SCAN = 5000  # running clocks read for /overdue's counts: far more than a desk has due at once


async def overdue(uow: UnitOfWork, actor: User, keeper: ClockKeeper, now: datetime, limit: int = 30) -> OverdueList:
    """Breached and at-risk running clocks (past the last reminder share), most overdue first; the
    counts cover those beyond the first `limit` too."""
    require_overseer(actor)
    policy = keeper.policy
    share = policy.reminders.before[-1] if policy.reminders.before else AT_RISK_SHARE_DEFAULT
    longest = max(
        [policy.deadlines.window(rule.name, band) for rule in policy.clocks.rules for band in policy.deadlines.known_arrival_bands]
    )
    horizon = keeper.calendar.add(now, longest * (1 - share))  # nothing due later can be at risk yet
    entries = []
    for clock, request in await uow.clocks.running_due_before(horizon, OVERDUE_SCAN):
        if request.status in CLOSED_STATUSES:
            continue
        if clock.due_at <= now:
            entries.append(OverdueEntry(clock, request, True))
        elif keeper.calendar.between(now, clock.due_at) <= timedelta(seconds=clock.window_seconds * (1 - share)):
            entries.append(OverdueEntry(clock, request, False))
    breached = sum(entry.overdue for entry in entries)
    return OverdueList(entries[:limit], breached, len(entries) - breached)
