"""Deadline reminders and escalation over simulated time, on SQLite and PostgreSQL.

The sweep runs as the scheduler runs it (plan into the outbox, then deliver) with a clock the
test moves, and a recording bot in place of Telegram (the end-to-end tests cover the wire).
"""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE, Settings
from bot.policy import Policy, load_policy
from bot.services import approvals, dispatch, jobs, notices, reminders, staff, stock, users
from bot.services.clocks import ClockKeeper
from bot.services.reminders import Planner
from handlers import outbox
from handlers.common import Deps
from handlers.outbox import LEASE
from handlers import sweeps
from handlers.sweeps import plan_reminders, sweep_with
from storage.db import Database
from storage.models import Customer, OutboxMessage, ServiceRequest, SlaClock, User, UserRole
from storage.repositories import OutboxRepository
from tests.conftest import START
from tests.test_dispatch import _request, _setup

POLICY = load_policy(DEFAULT_POLICY_FILE)
SHANGHAI = ZoneInfo("Asia/Shanghai")
STEP = timedelta(minutes=10)


class RecordingBot:
    """Stands in for Telegram: keeps what was sent, to whom and when."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock, self.sent = clock, []

    async def send_message(self, chat_id, text, parse_mode=None, reply_markup=None, rate_limit_args=None):
        self.sent.append(SimpleNamespace(at=self.clock.now(), chat_id=chat_id, text=text, markup=reply_markup))
        return SimpleNamespace(message_id=len(self.sent))


class Scheduler:
    """One bot process's sweeping, with its own engine (as after a restart or in a second process)."""

    def __init__(self, database_url: str, clock: ManualClock, bot: RecordingBot, policy: Policy = POLICY) -> None:
        settings = Settings(bot_token="1:x", database_url=database_url, telegram_api_url="http://127.0.0.1:9", timezone=SHANGHAI,
                            default_language="en", admin_telegram_ids=frozenset(), policy_file=DEFAULT_POLICY_FILE)
        self.keeper = ClockKeeper(policy, SHANGHAI)
        self.db = Database(database_url, before_commit=self.keeper)
        self.deps = Deps(settings=settings, policy=policy, db=self.db, clock=clock, keeper=self.keeper,
                         planner=Planner(policy, self.keeper, SHANGHAI))
        self.bot = bot

    async def start(self) -> None:
        """What start-up does before the first sweep (`bot.app._post_init`): recompute the clocks if the policy changed."""
        async with self.db.uow() as uow:
            await self.keeper.resync_if_policy_changed(uow)
            await uow.commit()

    async def sweep(self):
        return await sweep_with(self.bot, self.deps)

    async def close(self) -> None:
        await self.db.dispose()


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%a %H:%M")


async def _grant(uow, admin, user, role, clock):
    invite = await staff.create_invite(uow, admin, role, POLICY.staff, clock.now())
    await staff.redeem_invite(uow, user, invite.code, POLICY.staff, clock.now())


async def _desk(uow, clock):
    """Two dispatchers (500, 501), engineers 600-601, a service manager (700), a general manager (701)."""
    dispatcher, crew, user, customer = await _setup(uow, clock, engineers=2)
    for telegram_id, role in ((700, "service_manager"), (701, "general_manager")):
        manager = await users.touch(uow, telegram_id, role, None, "en", "en", clock.now())
        await _grant(uow, dispatcher, manager, role, clock)
    return dispatcher, crew, user, customer


NAMES = {500: "D1", 501: "D2", 600: "E", 700: "SM", 701: "GM"}

# START is Monday 09:30 in Shanghai. R1 is never contacted until 16:00: its 4 h first-contact
# clock reminds the dispatchers at 50 % (11:30) and 80 % (12:42, seen by the 12:50 sweep),
# escalates to the service manager at the breach (13:30) and to the general manager 2 h later.
# R2 is contacted, assigned and accepted at 10:00: its 24 h arrival clock reaches 50 % at 22:00
# and 80 % at 05:12, both outside reachable hours, so the engineer hears once, at 08:00. A customer
# wait from 09:00 to 10:30 moves the deadline to 11:30, when the engineer and the dispatchers are
# told; the engineer arrives at 12:00. Its 7-day repair clock (from the report, plus the 1.5 h
# pause) reaches 50 % on Thursday 23:00 and 80 % on Sunday 01:24: both wait for 08:00.
# R1, contacted but never assigned, has its 7-day repair clock too: with no engineer, the
# dispatchers hear of it at 50 % (Thursday 21:30), 80 % (Sunday 01:54, at 08:00) and when it is
# missed (the next Monday 09:30).
EXPECTED_WEEK = [
    ("Mon 11:30", "D1", "R1"), ("Mon 11:30", "D2", "R1"),
    ("Mon 12:50", "D1", "R1"), ("Mon 12:50", "D2", "R1"),
    ("Mon 13:30", "D1", "R1"), ("Mon 13:30", "D2", "R1"), ("Mon 13:30", "SM", "R1"),
    ("Mon 15:30", "D1", "R1"), ("Mon 15:30", "D2", "R1"), ("Mon 15:30", "GM", "R1"),
    ("Tue 08:00", "E", "R2"),
    ("Tue 11:30", "D1", "R2"), ("Tue 11:30", "D2", "R2"), ("Tue 11:30", "E", "R2"),
    ("Fri 08:00", "E", "R2"),
    ("Sun 08:00", "E", "R2"),
    ("Thu 21:30", "D1", "R1"), ("Thu 21:30", "D2", "R1"),
    ("Sun 08:00", "D1", "R1"), ("Sun 08:00", "D2", "R1"),
    ("Mon 09:30", "D1", "R1"), ("Mon 09:30", "D2", "R1"),  # a week after the report
]


async def _simulate_week(database, database_url, clock, restarts=()):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _desk(uow, clock)
        r1 = await _request(uow, user, customer, clock)
        r2 = await _request(uow, user, customer, clock)
        await uow.commit()
    numbers = {r1.number: "R1", r2.number: "R2"}

    async def act(action):
        async with database.uow() as uow:
            await action(uow, await uow.users.get(dispatcher.id), await uow.users.get(crew[0].id))
            await uow.commit()

    actions = {
        START + timedelta(minutes=30): lambda uow, d, e: _contact_assign_accept(uow, d, e, r2.id, clock),
        START + timedelta(hours=6, minutes=30): lambda uow, d, e: dispatch.log_contacted(uow, d, r1.id, "Called back", clock.now()),
        START + timedelta(days=1, hours=-0.5): lambda uow, d, e: jobs.wait_for(uow, e, r2.id, jobs.WAITING_CUSTOMER, "Gate locked", clock.now()),
        START + timedelta(days=1, hours=1): lambda uow, d, e: jobs.resume(uow, e, r2.id, clock.now()),
        START + timedelta(days=1, hours=2.5): lambda uow, d, e: jobs.arrived(uow, e, r2.id, 34.8, 114.3, clock.now()),
    }
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    end = START + timedelta(days=7)
    while clock.now() <= end:
        if clock.now() in actions:
            await act(actions[clock.now()])
        if clock.now() in restarts:
            await scheduler.close()
            scheduler = Scheduler(database_url, clock, bot)
        await scheduler.sweep()
        clock.advance(STEP)
    await scheduler.close()
    deliveries = []
    for message in bot.sent:
        for number, label in numbers.items():
            if number in message.text:
                deliveries.append((_local(message.at), NAMES[message.chat_id], label))
    return sorted(deliveries), bot


async def _contact_assign_accept(uow, dispatcher, engineer, request_id, clock):
    await dispatch.log_contacted(uow, dispatcher, request_id, "Called", clock.now())
    await dispatch.assign(uow, dispatcher, request_id, engineer.id, None, clock.now())
    await dispatch.respond(uow, engineer, request_id, True, None, clock.now())


async def test_a_week_of_reminders_and_escalations_reaches_the_right_people_at_the_right_times(database, database_url, clock):
    deliveries, bot = await _simulate_week(database, database_url, clock)
    assert deliveries == sorted(EXPECTED_WEEK)
    overdue_to_sm = next(m for m in bot.sent if m.chat_id == 700)
    assert "overdue" in overdue_to_sm.text and "first contact" in overdue_to_sm.text
    async with database.uow() as uow:
        kept = {c.kind: c for c in await uow.requests.clocks(2)}
        assert (kept["onsite_arrival"].outcome, kept["onsite_arrival"].late_seconds) == ("breached", 30 * 60)
        assert kept["repair_completed"].stopped_at is None


async def test_restarts_mid_week_neither_repeat_nor_lose_a_reminder(database, database_url, clock):
    restarts = (START + timedelta(hours=13, minutes=30), START + timedelta(days=2, hours=2, minutes=30))  # Mon 23:00, Wed 12:00
    deliveries, _ = await _simulate_week(database, database_url, clock, restarts)
    assert deliveries == sorted(EXPECTED_WEEK)


async def test_after_ten_hours_down_each_person_gets_one_combined_message(database, database_url, clock, monkeypatch):
    monkeypatch.setattr(outbox, "PEOPLE_PER_ROUND", 1)  # one person per round: the four people take four rounds
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _desk(uow, clock)
        numbers = [(await _request(uow, user, customer, clock)).number for _ in range(3)]
        await uow.commit()
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    await scheduler.sweep()
    assert bot.sent == []
    clock.advance(timedelta(hours=10))  # down from 09:30 to 19:30: 50 %, 80 %, breach and 3 repeats missed
    await scheduler.sweep()
    await scheduler.close()
    assert Counter(NAMES[m.chat_id] for m in bot.sent) == {"D1": 1, "D2": 1, "SM": 1, "GM": 1}
    for message in bot.sent:
        assert all(number in message.text for number in numbers)
        assert "3 deadlines need your attention" in message.text


async def test_after_a_commit_only_people_without_a_queue_are_claimed(database, clock):
    """The immediate delivery leaves a person with a queue to the background round, which claims them."""
    async with database.uow() as uow:
        quiet = await users.touch(uow, 5001, "Quiet", None, "en", "en", clock.now())
        busy = await users.touch(uow, 5002, "Busy", None, "en", "en", clock.now())
        for person, count in ((quiet, 2), (busy, outbox.IMMEDIATE_MAX_WAITING + 1)):
            for n in range(count):
                await notices.queue(uow, person, notices.VIEW, {"text": f"note {n}"}, f"test:{person.id}:{n}", clock.now())
        await uow.commit()
    async with database.uow() as uow:
        now_claimed = await uow.outbox.claim_people(clock.now(), LEASE, 100, [quiet.id, busy.id],
                                                    max_waiting=outbox.IMMEDIATE_MAX_WAITING)
        round_claimed = await uow.outbox.claim_people(clock.now(), LEASE, 100)
        assert [m.user_id for m in now_claimed] == [quiet.id, quiet.id]
        assert [m.user_id for m in round_claimed] == [busy.id] * (outbox.IMMEDIATE_MAX_WAITING + 1)


async def test_a_round_claims_a_few_of_a_long_queue_and_every_deadline_reminder_with_them(database, clock):
    """A long queue costs a round no more than a short one; deadline reminders still go as one digest."""
    async with database.uow() as uow:
        busy = await users.touch(uow, 5002, "Busy", None, "en", "en", clock.now())
        late = await users.touch(uow, 5004, "Late", None, "en", "en", clock.now())
        for n in range(50):
            await notices.queue(uow, busy, notices.VIEW, {"text": f"note {n}"}, f"test:busy:{n}", clock.now())
        await notices.queue(uow, late, notices.VIEW, {"text": "note"}, "test:late:note", clock.now())
        for n in range(5):  # the digest's rows: the first among the oldest three, the rest after them
            await uow.outbox.add_once(OutboxMessage(
                key=f"test:late:deadline:{n}", user_id=late.id, kind=reminders.DEADLINE, payload={},
                not_before=clock.now(), created_at=clock.now()))
        for n in range(3):
            await notices.queue(uow, late, notices.VIEW, {"text": f"after {n}"}, f"test:late:after:{n}", clock.now())
        await uow.commit()
    async with database.uow() as uow:
        claimed = await uow.outbox.claim_people(clock.now(), LEASE, 100, per_person=3, digest_kind=reminders.DEADLINE)
        await uow.commit()
    assert [m.payload["text"] for m in claimed if m.user_id == busy.id] == ["note 0", "note 1", "note 2"]
    late_rows = [m for m in claimed if m.user_id == late.id]
    assert [m.kind for m in late_rows] == [notices.VIEW] + [reminders.DEADLINE] * 5
    async with database.uow() as uow:  # the rest waits for the claim's sender: nobody else takes it
        assert await uow.outbox.claim_people(clock.now(), LEASE, 100, per_person=3) == []


async def test_a_long_queue_never_holds_up_a_message_that_arrives_for_somebody_else(database, database_url, clock, monkeypatch):
    async with database.uow() as uow:
        busy = await users.touch(uow, 5002, "Busy", None, "en", "en", clock.now())
        other = await users.touch(uow, 5003, "Other", None, "en", "en", clock.now())
        for n in range(7):
            await notices.queue(uow, busy, notices.VIEW, {"text": f"busy {n}"}, f"test:busy:{n}", clock.now())
        await uow.commit()
    real_claim = OutboxRepository.claim_people

    async def claim_then_a_new_notice(self, *args, **kwargs):
        claimed = await real_claim(self, *args, **kwargs)
        if not await self.session.scalar(select(func.count()).where(OutboxMessage.user_id == other.id)):
            await self.add_once(OutboxMessage(  # written while the first round is under way
                key="test:other:0", user_id=other.id, kind=notices.VIEW, payload={"text": "other 0"},
                not_before=clock.now(), created_at=clock.now()))
        return claimed

    monkeypatch.setattr(OutboxRepository, "claim_people", claim_then_a_new_notice)
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    await outbox.deliver(bot, scheduler.deps, clock.now())
    await scheduler.close()
    texts = [message.text for message in bot.sent]
    assert [text for text in texts if text.startswith("busy")] == [f"busy {n}" for n in range(7)]  # in order, all
    assert texts.index("other 0") < texts.index("busy 6")  # sent in the next round, not after the whole queue
    assert texts.index("other 0") >= outbox.PER_PERSON_PER_ROUND


async def test_a_reminder_recorded_before_a_crash_is_sent_once_after_the_lease(database, database_url, clock):
    async with database.uow() as uow:
        await _desk(uow, clock)
        dispatcher, crew, user, customer = await _setup(uow, clock, engineers=0)
        await _request(uow, user, customer, clock)
        await uow.commit()
    clock.advance(timedelta(hours=2))
    crashed = Scheduler(database_url, clock, RecordingBot(clock))
    await plan_reminders(crashed.deps, clock.now())  # recorded...
    async with crashed.db.uow() as uow:  # ...claimed by a sender that then dies before sending
        assert len(await uow.outbox.claim_people(clock.now(), LEASE, 100)) == 2
        await uow.commit()
    await crashed.close()
    bot = RecordingBot(clock)
    survivor = Scheduler(database_url, clock, bot)
    await survivor.sweep()
    assert bot.sent == []  # the dead sender's lease still holds
    clock.advance(LEASE + STEP)
    await survivor.sweep()
    await survivor.sweep()
    await survivor.close()
    assert sorted(NAMES[m.chat_id] for m in bot.sent) == ["D1", "D2"]


async def test_two_schedulers_on_one_database_send_each_of_1000_reminders_exactly_once(database, database_url, clock):
    """Each of 1,000 engineers has a clock at 50 %; two processes sweep at the same moment."""
    now = clock.now()
    async with database.uow() as uow:
        owner = User(telegram_id=1, first_name="Owner", language="en", created_at=now)
        uow.session.add(owner)
        await uow.session.flush()
        customer = Customer(user_id=owner.id, name="Farm", phone="+8613800138000", created_at=now)
        uow.session.add(customer)
        engineers = [User(telegram_id=10_000 + i, first_name=f"E{i}", language="en", created_at=now,
                          roles=[UserRole(role="engineer")]) for i in range(1000)]
        uow.session.add_all(engineers)
        await uow.session.flush()
        requests = [ServiceRequest(number=f"SR-2026-{i + 1:06d}", kind="repair", status="in_progress", customer_id=customer.id,
                                   description="Pump stops", assigned_engineer_id=engineer.id, created_by_user_id=owner.id,
                                   created_at=now, updated_at=now) for i, engineer in enumerate(engineers)]
        uow.session.add_all(requests)
        await uow.session.flush()
        uow.session.add_all(SlaClock(
            request_id=request.id, kind="onsite_arrival", started_at=now - timedelta(hours=13), window_seconds=24 * 3600,
            due_at=now + timedelta(hours=11), pauses=[], alert_point=0, next_alert_at=now - timedelta(hours=1),
        ) for request in requests)
        await uow.commit()
    bot = RecordingBot(clock)
    first, second = Scheduler(database_url, clock, bot), Scheduler(database_url, clock, bot)
    await asyncio.gather(first.sweep(), second.sweep())
    await asyncio.gather(first.sweep(), second.sweep())
    await first.close()
    await second.close()
    per_chat = Counter(message.chat_id for message in bot.sent)
    assert len(per_chat) == 1000 and set(per_chat.values()) == {1}
    async with database.uow() as uow:
        rows = await uow.outbox.of_user(engineers[0].id)
        assert [(row.sent_at is not None, row.attempts) for row in rows] == [(True, 1)]
        assert await uow.outbox.pending_count() == 0


async def test_a_customer_message_from_a_timer_waits_for_the_morning():
    planner = Planner(POLICY, ClockKeeper(POLICY, SHANGHAI), SHANGHAI)
    late_evening = datetime(2026, 3, 2, 23, 15, tzinfo=SHANGHAI)
    assert planner.customer_time(late_evening) == datetime(2026, 3, 3, 8, 0, tzinfo=SHANGHAI)
    afternoon = datetime(2026, 3, 2, 15, 0, tzinfo=SHANGHAI)
    assert planner.customer_time(afternoon) == afternoon
    assert planner.staff_time(late_evening, urgent=True) == late_evening  # urgent escalations do not wait
    assert planner.staff_time(late_evening, urgent=False) == datetime(2026, 3, 3, 8, 0, tzinfo=SHANGHAI)


async def test_the_sweep_forgets_update_ids_after_two_days_a_batch_at_a_time(database, database_url, clock, monkeypatch):
    monkeypatch.setattr(sweeps, "FORGET_BATCH", 3)
    async with database.uow() as uow:
        for update_id in range(1, 8):
            assert await uow.updates.claim(update_id, clock.now() - timedelta(days=3))
        assert await uow.updates.claim(100, clock.now() - sweeps.UPDATE_IDS_KEPT + timedelta(minutes=1))
        await uow.commit()
    scheduler = Scheduler(database_url, clock, RecordingBot(clock))
    try:
        await scheduler.sweep()
    finally:
        await scheduler.close()
    async with database.uow() as uow:
        assert await uow.updates.claim(100, clock.now()) is False  # a repeated delivery is still caught
        # seven ids in batches of three: all gone, so Telegram numbering anew cannot hit an old one
        assert [await uow.updates.claim(update_id, clock.now()) for update_id in range(1, 8)] == [True] * 7


async def test_with_nobody_at_the_top_of_the_chain_the_highest_person_there_keeps_hearing_of_a_breach(database, database_url, clock):
    async with database.uow() as uow:  # two dispatchers and a service manager; no general manager
        dispatcher, _, user, customer = await _setup(uow, clock, engineers=0)
        manager = await users.touch(uow, 700, "SM", None, "en", "en", clock.now())
        await _grant(uow, dispatcher, manager, "service_manager", clock)
        await _request(uow, user, customer, clock)  # nobody ever contacts the customer
        await uow.commit()
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    for _ in range(6 * 12):  # 12 hours, a sweep every 10 minutes, all within reachable hours
        await scheduler.sweep()
        clock.advance(timedelta(minutes=10))
    await scheduler.close()
    # breached after 4 h, then repeats every 2 h: the steps meant for the general manager reach the service manager
    assert len([m for m in bot.sent if m.chat_id == 700]) >= 3


async def test_a_reminder_held_for_the_morning_is_dropped_for_the_engineer_the_job_was_taken_from(database, database_url, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        await dispatch.log_contacted(uow, dispatcher, request.id, "Called", clock.now())
        await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        await dispatch.respond(uow, crew[0], request.id, True, None, clock.now())  # 24 h arrival clock
        await uow.commit()
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    reassign_at = clock.now() + timedelta(hours=21)  # 06:30: the 80 % reminder (04:42) waits for 08:00
    while clock.now() < reassign_at + timedelta(hours=2):
        if clock.now() == reassign_at:
            async with database.uow() as uow:
                await dispatch.assign(uow, await uow.users.get(dispatcher.id), request.id, crew[1].id, crew[0].id, clock.now())
                await dispatch.respond(uow, await uow.users.get(crew[1].id), request.id, True, None, clock.now())
                await uow.commit()
        await scheduler.sweep()
        clock.advance(timedelta(minutes=10))
    await scheduler.close()
    after = [m.chat_id for m in bot.sent if request.number in m.text and m.at >= reassign_at]
    assert crew[0].telegram_id not in after


async def test_approval_reminders_skip_the_requester_who_may_not_decide_and_reach_who_can_be_told(database, database_url, clock):
    from tests.test_stock import _world

    dispatcher, crew, request, _, parts, _ = await _world(database, clock)
    async with database.uow() as uow:  # the only service manager is also the engineer asking; no self-approval
        engineer = await uow.users.get(crew[0].id)
        await _grant(uow, dispatcher, engineer, "service_manager", clock)
        boss = await users.touch(uow, 820, "GM", None, "en", "en", clock.now())
        await _grant(uow, dispatcher, boss, "general_manager", clock)
        requisition = await stock.request_parts(uow, engineer, request.id, [(parts["SEAL-1"].id, 1)], clock.now())
        approval = await approvals.request_approval(uow, POLICY, engineer, await uow.requests.get(request.id), "requisition", clock.now(),
                                                    subject_id=requisition.id)
        assert not approvals.may_decide(POLICY, engineer, approval)
        await uow.commit()
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    for _ in range(6 * 9):  # 50 %, 80 % and the breach of the 8 h approval clock
        await scheduler.sweep()
        clock.advance(timedelta(minutes=10))
    await scheduler.close()
    chased = [m.chat_id for m in bot.sent if "approval" in m.text.lower()]
    assert crew[0].telegram_id not in chased and 820 in chased


async def test_overdue_counts_every_deadline_beyond_the_thirty_it_shows(database, clock):
    """31 requests past their first contact and one at risk: the header says so, and that more wait."""
    from bot.clock_views import overdue_view
    from bot.i18n import Translator

    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _desk(uow, clock)
        for _ in range(31):
            await _request(uow, user, customer, clock)
        await uow.commit()
    clock.advance(timedelta(minutes=30))
    async with database.uow() as uow:
        at_risk = (await _request(uow, user, customer, clock)).number
        await uow.commit()
    clock.advance(timedelta(hours=3, minutes=40))  # the 31 are 10 minutes overdue; the last has 20 minutes left
    async with database.uow() as uow:
        found = await reminders.overdue(uow, await uow.users.get(dispatcher.id), ClockKeeper(POLICY, SHANGHAI), clock.now())
        lines = overdue_view(Translator("en", SHANGHAI), found, clock.now()).text.splitlines()
    assert (len(found.entries), found.overdue, found.at_risk) == (30, 31, 1)
    assert all(entry.overdue for entry in found.entries)  # most overdue first
    assert lines[:2] == ["<b>Deadlines</b>: 31 overdue, 1 at risk (most overdue first)", "The 30 most overdue are shown."]
    assert at_risk not in "\n".join(lines)


async def test_a_distance_band_set_after_the_default_window_passed_re_arms_the_reminders(database, database_url, clock):
    """Assigned without a band (the shortest window, 24 h), breached, then set to over 1000 km (72 h):
    the engineer is reminded again under the new window and the dispatchers hear at the new breach."""
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        number = request.number
        await dispatch.log_contacted(uow, dispatcher, request.id, "Called", clock.now())
        await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        await dispatch.respond(uow, crew[0], request.id, True, None, clock.now())
        await uow.commit()
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    band_at, end = START + timedelta(hours=25), START + timedelta(hours=76)
    try:
        while clock.now() <= end:
            if clock.now() == band_at:
                async with database.uow() as uow:
                    await dispatch.set_distance(uow, await uow.users.get(dispatcher.id), request.id, "over_1000_km",
                                                POLICY.deadlines.arrival_bands, clock.now())
                    await uow.commit()
            await scheduler.sweep()
            clock.advance(STEP)
    finally:
        await scheduler.close()
    after = [(_local(m.at), NAMES[m.chat_id]) for m in bot.sent
             if number in m.text and "on-site arrival" in m.text and m.at > band_at]
    # 50 % and 80 % of the new 72 h to the engineer, then the breach to him and the dispatchers
    assert after[:2] == [("Tue 21:30", "E"), ("Wed 19:10", "E")], after
    assert sorted(after[2:5]) == [("Thu 09:30", "D1"), ("Thu 09:30", "D2"), ("Thu 09:30", "E")], after  # no order between chats


def _changed_policy(tmp_path, old: str, new: str) -> Policy:
    """The default policy file with one line changed, as the admin would edit a copy of it."""
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_policy(path)


async def _accepted_far_job(uow, clock):
    """A request contacted, set to over 1000 km (72 h to arrive), assigned and accepted now."""
    dispatcher, crew, user, customer = await _desk(uow, clock)
    request = await _request(uow, user, customer, clock)
    await dispatch.log_contacted(uow, dispatcher, request.id, "Called", clock.now())
    await dispatch.set_distance(uow, dispatcher, request.id, "over_1000_km", POLICY.deadlines.arrival_bands, clock.now())
    await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
    await dispatch.respond(uow, crew[0], request.id, True, None, clock.now())
    return dispatcher, request


async def _never_contacted_across_a_restart(database_url, clock, bot, new_policy, restart_at, until) -> str:
    """A request filed Mon 09:30 and never contacted, swept every 10 minutes under the default
    policy until `restart_at`, then by a restarted bot with `new_policy` until `until`; its number."""
    scheduler = Scheduler(database_url, clock, bot)
    await scheduler.start()
    async with scheduler.db.uow() as uow:
        _, _, user, customer = await _desk(uow, clock)
        number = (await _request(uow, user, customer, clock)).number
        await uow.commit()
    try:
        while clock.now() < restart_at:
            await scheduler.sweep()
            clock.advance(STEP)
        await scheduler.close()
        scheduler = Scheduler(database_url, clock, bot, new_policy)
        await scheduler.start()
        while clock.now() <= until:
            await scheduler.sweep()
            clock.advance(STEP)
    finally:
        await scheduler.close()
    return number


async def test_a_first_contact_window_shortened_past_its_deadline_tells_the_service_manager_at_the_first_sweep(database_url, clock, tmp_path):
    """Never contacted; the 50 % reminder of the 4 h window went out at 11:30. At 11:40 the bot
    restarts with a 2 h window, due at 11:30: the breach is announced at once, to the service
    manager too, and the next repeat goes on up to the general manager."""
    shorter = _changed_policy(tmp_path, "first_contact_hours = 4", "first_contact_hours = 2")
    bot = RecordingBot(clock)
    number = await _never_contacted_across_a_restart(database_url, clock, bot, shorter, START + timedelta(hours=2, minutes=10),
                                                     START + timedelta(hours=5))  # restarted Mon 11:40
    told = sorted((_local(m.at), NAMES[m.chat_id]) for m in bot.sent if number in m.text)
    assert told == [
        ("Mon 11:30", "D1"), ("Mon 11:30", "D2"),  # 50 % of the old 4 h
        ("Mon 11:40", "D1"), ("Mon 11:40", "D2"), ("Mon 11:40", "SM"),  # the breach of the new 2 h, at the first sweep
        ("Mon 13:30", "D1"), ("Mon 13:30", "D2"), ("Mon 13:30", "GM"),  # 2 h later, one level further up
    ], told


async def test_a_band_corrected_to_a_shorter_window_tells_every_level_of_the_breach_once(database, database_url, clock):
    """Over 1000 km (72 h), 50 % reminder at 36 h (Tue 21:30); at 40 h (Wed 01:30) the dispatcher
    corrects it to ≤ 300 km (24 h): 16 h overdue. Every level the skipped points would have told
    hears once (in the morning: the clock is not urgent), then the repeats go on at the top."""
    async with database.uow() as uow:
        dispatcher, request = await _accepted_far_job(uow, clock)
        number, request_id = request.number, request.id
        await uow.commit()
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    fix_at = START + timedelta(hours=40)
    try:
        while clock.now() <= START + timedelta(hours=50):
            if clock.now() == fix_at:
                async with database.uow() as uow:
                    await dispatch.set_distance(uow, await uow.users.get(dispatcher.id), request_id, "up_to_300_km",
                                                POLICY.deadlines.arrival_bands, clock.now())
                    await uow.commit()
            await scheduler.sweep()
            clock.advance(STEP)
    finally:
        await scheduler.close()
    told = sorted((_local(m.at), NAMES[m.chat_id]) for m in bot.sent if number in m.text and "on-site arrival" in m.text)
    assert told == [
        ("Tue 21:30", "E"),  # 50 % of 72 h
        ("Wed 08:00", "D1"), ("Wed 08:00", "D2"), ("Wed 08:00", "E"), ("Wed 08:00", "GM"), ("Wed 08:00", "SM"),
        ("Wed 09:30", "E"), ("Wed 09:30", "GM"), ("Wed 11:30", "E"), ("Wed 11:30", "GM"),
    ], told


async def test_switching_to_the_province_table_keeps_the_window_of_a_job_given_a_distance_band(database_url, clock, tmp_path):
    """Over 1000 km (72 h) since Monday 09:30; on Tuesday 15:30 the bot restarts with the province
    table, which has no distance bands: the job keeps its 72 h, so nobody hears of a breach."""
    province = _changed_policy(tmp_path, 'onsite_arrival_table = "distance"', 'onsite_arrival_table = "province"')
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    await scheduler.start()
    async with scheduler.db.uow() as uow:
        _, request = await _accepted_far_job(uow, clock)
        number, request_id = request.number, request.id
        await uow.commit()
    try:
        while clock.now() < START + timedelta(hours=30):
            await scheduler.sweep()
            clock.advance(STEP)
        await scheduler.close()
        before = len(bot.sent)
        scheduler = Scheduler(database_url, clock, bot, province)
        await scheduler.start()
        await scheduler.sweep()
        async with scheduler.db.uow() as uow:
            arrival = next(c for c in await uow.requests.clocks(request_id) if c.kind == "onsite_arrival")
            window, due = arrival.window_seconds, arrival.due_at
            band = (await uow.requests.get(request_id)).distance_band
    finally:
        await scheduler.close()
    assert band == "over_1000_km"
    assert (window, due) == (72 * 3600, START + timedelta(hours=72))
    assert [m for m in bot.sent[before:] if number in m.text] == []


async def test_dropping_a_reminder_share_at_restart_still_announces_the_breach_to_the_service_manager(database_url, clock, tmp_path):
    """Reminders at 50 % and 80 %; the 80 % one went out at 12:50. The bot restarts at 13:00 with
    reminders at 50 % only: the clock's two handled points now read "breach told", but the
    breach at 13:30 still reaches the service manager."""
    one_share = _changed_policy(tmp_path, "before = [0.5, 0.8]", "before = [0.5]")
    bot = RecordingBot(clock)
    number = await _never_contacted_across_a_restart(database_url, clock, bot, one_share, START + timedelta(hours=3, minutes=30),
                                                     START + timedelta(hours=6, minutes=30))  # restarted Mon 13:00
    told = sorted((_local(m.at), NAMES[m.chat_id]) for m in bot.sent if number in m.text)
    assert told == sorted([
        ("Mon 11:30", "D1"), ("Mon 11:30", "D2"), ("Mon 12:50", "D1"), ("Mon 12:50", "D2"),
        ("Mon 13:30", "D1"), ("Mon 13:30", "D2"), ("Mon 13:30", "SM"),
        ("Mon 15:30", "D1"), ("Mon 15:30", "D2"), ("Mon 15:30", "GM"),
    ]), told
