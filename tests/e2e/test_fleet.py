"""A webhook fleet end to end: two bot processes behind a load balancer on one PostgreSQL database.

Each "process" is its own Application with its own WebhookDesk (HTTP server on its own port), its
own database engine (connection pool) and its own bot_data. The two share nothing but the
PostgreSQL database, the fake Bot API — which also plays the load balancer in front of them
(tests/fakebot/webhook.py LoadBalancer) — and the test's ManualClock, standing for the wall clock
every machine reads. They run in one event loop so the test can steer them; what the requirement
is about holds all the same: only the database coordinates them.

The stream: 1,000 updates from 80 customers onboarding, filing a fault report through the
multi-step intake and asking for its status, all at once. The balancer sends each customer's
consecutive updates to alternating processes (so every dialog step is read from the database by
the other process than the one that wrote the previous step), and every tenth update to both
processes at the same moment, as a balancer that retries after a timeout does. Then reminders
fall due and both processes sweep at the same time, several times.

PostgreSQL only: SQLite is one file on one machine, not something a fleet shares.
"""
from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from itertools import pairwise
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.app import build_application, run_outbox_round
from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE, Settings
from bot.ops.webhook import WebhookDesk
from bot.policy import load_policy
from bot.services import users
from handlers.sweeps import SweepResult, sweep
from storage.db import Database
from storage.models import OutboxMessage, ProcessedUpdate, ServiceRequest, SlaClock, User
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID, TEST_LIMITS
from tests.e2e.helpers import t
from tests.fakebot import FakeTelegram, FakeUser, SentMessage

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

SECRET = "fleet-secret_0123456789"
PUBLIC_URL = "https://desk.example.com/tg-hook"  # the balancer's address, the one given to Telegram
CUSTOMERS = 80  # the first one files alone as the reference; the other 79 at once
STREAM_UPDATES = 1000
DUPLICATE_EVERY = 10  # every tenth update of the concurrent stream reaches both processes
FLEET_LIMITS = replace(TEST_LIMITS, overall_per_second=100)
STEP_TIMEOUT = 60.0  # one step of one customer, with 79 others queued on the same two processes
NUMBER = re.compile(r"SR-\d{4}-\d{6}")
PHONE = re.compile(r"\+?86\d{11}")
ANSWER_NEEDED = re.compile(r"(\d+) deadlines? needs? your attention")
APOLOGY = t("en", "Sorry, something went wrong on our side. What you sent before is saved; please try again in a moment.")

# One customer's script: onboarding (4 updates), the intake (7), then /status (1) and maybe /my (1).
ONBOARDING = [("text", "/start"), ("press", "Lin"), ("contact", None), ("text", "Yellow River Farm")]
INTAKE = [
    ("text", "/new"), ("press", t("en", "Fault repair")), ("press", t("en", "I don't know the serial number")),
    ("text", "Pump trips the breaker after 5 minutes"), ("press", t("en", "Skip, no photos")),
    ("location", None), ("press", t("en", "✅ Confirm and send")),
]
STATUS, MY = ("status", None), ("text", "/my")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BotProcess:
    """One bot process of the fleet, as deployed in webhook mode."""

    def __init__(self, fake: FakeTelegram, database_url: str, clock: ManualClock) -> None:
        port = _free_port()
        self.backend_url = f"http://127.0.0.1:{port}/tg-hook"
        settings = Settings(
            bot_token=fake.token, database_url=database_url, telegram_api_url=fake.url,
            timezone=ZoneInfo("Asia/Shanghai"), default_language="en",
            admin_telegram_ids=frozenset({DISPATCHER_ID, SECOND_DISPATCHER_ID}), policy_file=DEFAULT_POLICY_FILE,
            webhook_url=PUBLIC_URL, webhook_secret=SECRET, webhook_listen="127.0.0.1", webhook_port=port,
            webhook_path="/tg-hook",
        )
        # sweeps=False: the test runs the sweeps and outbox rounds itself, after moving the clock.
        self.app = build_application(settings, load_policy(DEFAULT_POLICY_FILE), clock, sweeps=False, limits=FLEET_LIMITS)
        self.desk = WebhookDesk(self.app, settings)

    async def sweep(self) -> SweepResult:
        return await sweep(self.app)

    async def outbox_rounds(self, stop: asyncio.Event) -> None:
        """What the process's scheduler does every second (here more often): send what the outbox holds."""
        while not stop.is_set():
            await run_outbox_round(self.app)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)


class OutboxRounds:
    """Every process's outbox round running in the background until stopped."""

    def __init__(self, processes: list[BotProcess]) -> None:
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(process.outbox_rounds(self._stop)) for process in processes]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


class HandledWatch:
    """Which update ids the fleet has committed as handled, polled from processed_updates."""

    def __init__(self, db: Database) -> None:
        self.db, self.seen = db, set[int]()
        self._task: asyncio.Task | None = None

    async def refresh(self) -> set[int]:
        async with self.db.uow() as uow:
            self.seen = set((await uow.session.execute(select(ProcessedUpdate.update_id))).scalars())
        return self.seen

    def start(self) -> None:
        async def poll() -> None:
            while True:
                await self.refresh()
                await asyncio.sleep(0.05)

        self._task = asyncio.get_running_loop().create_task(poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def handled(self, update_id: int) -> None:
        await until(lambda: update_id in self.seen, f"update {update_id} to be committed")


async def until(condition: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        await asyncio.sleep(0.05)


def _shown(message: SentMessage) -> tuple:
    """What the customer sees of one message, with their own phone and request number masked."""
    mask = lambda text: PHONE.sub("<phone>", NUMBER.sub("<number>", text or ""))  # noqa: E731
    return mask(message.content), tuple(mask(b) for b in message.button_texts), message.edits, message.deleted


def _has_button(user: FakeUser, label: str) -> bool:
    return any(label in text for m in user.messages if not m.deleted for text in m.button_texts)


class Customer:
    def __init__(self, user: FakeUser, phone: str, script: list[tuple[str, str | None]]) -> None:
        self.user, self.phone, self.script = user, phone, script
        self.number: str | None = None

    async def act(self, step: tuple[str, str | None]) -> int:
        """Take one step without waiting for the bot (the caller waits its own way); the update id."""
        kind, value = step
        user = self.user
        if kind == "text":
            await user.send_text(value, wait=False)
        elif kind == "status":
            assert self.number is not None, f"{user!r} was never told a request number"
            await user.send_text(f"/status {self.number}", wait=False)
        elif kind == "press":
            await until(lambda: _has_button(user, value), f"button {value!r} for {user!r}")
            await user.press(value, wait=False)
        elif kind == "contact":
            await user.share_contact(phone=self.phone, own=True, wait=False)
        elif kind == "location":
            await user.send_location(34.7466, 113.6253, wait=False)
        return user.update_ids[-1]

    def note_number(self) -> None:
        if self.number is None:
            found = [n for m in self.user.messages for n in NUMBER.findall(m.content)]
            self.number = found[0] if found else None


@pytest.fixture
async def fleet(fake: FakeTelegram, database_url: str, clock: ManualClock) -> AsyncIterator[list[BotProcess]]:
    for telegram_id, name in ((DISPATCHER_ID, "Dora"), (SECOND_DISPATCHER_ID, "Wang")):
        fake.add_user(user_id=telegram_id, first_name=name, language_code="en")
    processes = [BotProcess(fake, database_url, clock) for _ in range(2)]
    await fake.balance([process.backend_url for process in processes])
    await asyncio.gather(*(process.desk.start() for process in processes))  # a fleet starts all at once
    for process in processes:
        fake.watch(process.app)
    yield processes
    await asyncio.gather(*(process.desk.stop() for process in processes))


@pytest.fixture
async def rounds(fleet: list[BotProcess]) -> AsyncIterator[OutboxRounds]:
    running = OutboxRounds(fleet)
    yield running
    await running.stop()


@pytest.fixture
async def watch(database_url: str) -> AsyncIterator[HandledWatch]:
    db = Database(database_url)  # the test's own view of the data
    handled = HandledWatch(db)
    handled.start()
    yield handled
    await handled.stop()
    await db.dispose()


async def test_two_processes_handle_a_stream_of_1000_updates_once_and_send_each_reminder_once(fake, fleet, rounds, watch, clock):
    # Flood control is not what this test is about (tests/e2e/test_outbox.py is): every process
    # paces itself (FLEET_LIMITS, faster than Telegram's 30 calls/s so the 1,000 updates take
    # seconds, not a minute), and the fake's bot-wide limit is the sum of the processes' paces.
    fake.global_rate_limit = FLEET_LIMITS.overall_per_second * len(fleet)
    dispatchers = [fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]]
    for dispatcher in dispatchers:  # they write once, so the bot knows them by name and language
        await dispatcher.send_text("/start")

    # Which process gets each update: a customer's updates alternate between the two; during the
    # concurrent stream, every tenth update goes to both at once.
    routes: dict[int, list[int]] = {}
    steps_of: Counter[int] = Counter()
    duplicating = False

    def route(update: dict) -> list[int]:
        update_id = update["update_id"]
        if update_id not in routes:
            sender = (update.get("message") or update.get("callback_query"))["from"]["id"]
            backend = (sender + steps_of[sender]) % 2
            steps_of[sender] += 1
            routes[update_id] = [0, 1] if duplicating and update_id % DUPLICATE_EVERY == 0 else [backend]
        return routes[update_id]

    fake.balancer.route = route

    def new_customer(index: int, with_my: bool) -> Customer:
        user = fake.add_user(user_id=20_000 + index, first_name="Lin", language_code="en")
        return Customer(user, f"+86138{index:08d}", ONBOARDING + INTAKE + [STATUS] + ([MY] if with_my else []))

    # The dispatchers' new-request notices go out right after each commit, or (when the pace says
    # wait) in the processes' outbox rounds (`rounds`), as their schedulers would run them.

    # The reference: one customer alone, each step awaited until the fleet is quiet; what they
    # received after each step is the reply of exactly one handling.
    timings = {"start": time.monotonic()}
    # A press waits behind up to 79 others on two processes; on a loaded test machine that can
    # outlast Telegram's 15 s to answer it, which this test (exactly once) is not about.
    fake.callback_query_ttl = STEP_TIMEOUT
    reference = new_customer(0, with_my=True)
    replies_after: list[int] = []  # messages the customer has after each step
    fake.quiet_seconds = 0.4  # "quiet" must outlast a step's database work before its reply
    for step in reference.script:
        await watch.handled(await reference.act(step))
        await fake.settle()
        reference.note_number()
        replies_after.append(len(reference.user.messages))
    fake.quiet_seconds = 0.15
    expected = [_shown(m) for m in reference.user.messages]
    registered = t("en", "✅ Request <b>{number}</b> is registered.", number="<number>")
    assert sum(registered in text for text, *_ in expected) == 1, expected
    assert not any(APOLOGY in text for text, *_ in expected)

    # The stream: everyone else at once, each acting as soon as their previous update is handled.
    first_stream_id = fake.updates.last_id + 1
    reference_ids = set(reference.user.update_ids)
    budget = STREAM_UPDATES - len(reference_ids)
    plain = len(ONBOARDING + INTAKE) + 1
    others = CUSTOMERS - 1
    with_my = budget - others * plain  # that many customers also ask for /my
    assert 0 <= with_my <= others
    crowd = [new_customer(index, with_my=index <= with_my) for index in range(1, CUSTOMERS)]

    async def run(customer: Customer) -> None:
        for position, step in enumerate(customer.script):
            await watch.handled(await customer.act(step))
            wanted = replies_after[position]
            await until(lambda: len(customer.user.messages) >= wanted, f"{wanted} messages for {customer.user!r}")
            apologies = [m.content for m in customer.user.messages if APOLOGY in m.content]
            assert not apologies, f"{customer.user!r} got an error apology by step {position} {step}: {[_shown(m) for m in customer.user.messages]}"
            customer.note_number()

    duplicating = True
    timings["reference"] = time.monotonic()
    await asyncio.gather(*(run(customer) for customer in crowd))
    duplicating = False
    await fake.settle(timeout=STEP_TIMEOUT)
    timings["stream"] = time.monotonic()

    customers = [reference, *crowd]
    stream_ids = reference_ids | {i for c in crowd for i in c.user.update_ids}
    assert len(stream_ids) == STREAM_UPDATES and min(c.user.update_ids[0] for c in crowd) >= first_stream_id
    duplicated = [i for i in stream_ids if len(routes[i]) == 2]
    assert len(duplicated) >= STREAM_UPDATES // DUPLICATE_EVERY - len(reference_ids), "a share of duplicate deliveries"
    assert all(fake.balancer.received[i] == [0, 1] for i in duplicated), "both processes took each duplicate"
    # Every dialog step went to another process than the step before it (or to both).
    for customer in customers:
        steps = [routes[i] for i in customer.user.update_ids]
        assert all(len(a) == 2 or len(b) == 2 or a != b for a, b in pairwise(steps)), steps

    # Every update recorded exactly once (update_id is the key, so a second row cannot exist:
    # the count shows none is missing and nothing else was recorded twice under another id).
    handled = await watch.refresh()
    assert stream_ids <= handled
    async with watch.db.uow() as uow:
        rows = await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate))
        assert rows == len(set(fake.updates.delivered))

    # Each customer received exactly the replies of one handling, whichever process handled what.
    for customer in customers:
        shown = [_shown(m) for m in customer.user.messages]
        want = expected if MY in customer.script else expected[:replies_after[len(customer.script) - 1]]
        assert shown == want, f"{customer.user!r} saw {shown!r}"
        presses = sum(kind == "press" for kind, _ in customer.script)
        assert len(customer.user.callback_answers) == presses
    numbers = [customer.number for customer in customers]
    assert None not in numbers and len(set(numbers)) == CUSTOMERS

    async with watch.db.uow() as uow:
        requests = (await uow.session.execute(select(ServiceRequest.number, ServiceRequest.customer_id))).all()
    assert sorted(number for number, _ in requests) == sorted(numbers)  # no lost and no doubled request
    assert len({customer_id for _, customer_id in requests}) == CUSTOMERS

    # Each dispatcher was told about each new request once.
    def notices(dispatcher: FakeUser) -> Counter[str]:
        return Counter(n for m in dispatcher.messages if "Open to triage" in " ".join(m.button_texts) for n in set(NUMBER.findall(m.content)))

    for dispatcher in dispatchers:
        await until(lambda: len(notices(dispatcher)) == CUSTOMERS, f"new-request notices to {dispatcher!r}")
    await rounds.stop()  # from here on only the sweeps send
    await fake.settle(timeout=STEP_TIMEOUT)
    timings["notices"] = time.monotonic()
    for dispatcher in dispatchers:
        assert notices(dispatcher) == Counter({number: 1 for number in numbers})
    assert not any(APOLOGY in m.content for user in fake.users.values() for m in user.messages)

    # Reminders: at 50 % and 80 % of the 4 h first-contact window and at the deadline, each
    # dispatcher is reminded of every request; both processes sweep at once, three times a round.
    transcripts = {c.user.id: len(c.user.messages) for c in customers}
    seen = {d.id: len(d.messages) for d in dispatchers}
    for point, advance in enumerate((timedelta(hours=2), timedelta(hours=1, minutes=12), timedelta(minutes=48))):
        clock.advance(advance)
        results = []
        for _ in range(3):
            results += await asyncio.gather(*(process.sweep() for process in fleet))
        await fake.settle(timeout=STEP_TIMEOUT)
        assert sum(r.planned for r in results) == CUSTOMERS, f"round {point}: each clock planned by one process once"
        digests = {d.id: [m for m in d.messages[seen[d.id]:] if ANSWER_NEEDED.search(m.content)] for d in dispatchers}
        for dispatcher in dispatchers:
            counted = sum(int(ANSWER_NEEDED.search(m.content).group(1)) for m in digests[dispatcher.id])
            assert counted == CUSTOMERS, f"round {point}: {dispatcher!r} reminded of {counted} requests"
            shown_numbers = Counter(n for m in digests[dispatcher.id] for n in NUMBER.findall(m.content))
            assert all(count == 1 for count in shown_numbers.values())
            assert len(dispatcher.messages) - seen[dispatcher.id] == len(digests[dispatcher.id])  # nothing else
            seen[dispatcher.id] = len(dispatcher.messages)
        assert sum(r.sent for r in results) == sum(len(found) for found in digests.values())

        async with watch.db.uow() as uow:
            rows = list(await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "deadline", OutboxMessage.created_at == clock.now())
            ))
            assert len(rows) == CUSTOMERS * len(dispatchers)
            assert all(row.sent_at is not None and row.failure is None and row.attempts == 1 for row in rows)
            assert {row.payload["point"] for row in rows} == {point}
            assert await uow.outbox.pending_count() == 0
            assert not await uow.session.scalar(
                select(func.count()).select_from(SlaClock).where(SlaClock.next_alert_at <= clock.now())
            )
    assert {c.user.id: len(c.user.messages) for c in customers} == transcripts  # customers were not disturbed
    fake.assert_no_rejections()
    timings["sweeps"] = time.monotonic()
    phases = list(timings.items())
    print(f"\n{STREAM_UPDATES} updates, {len(duplicated)} of them delivered twice; seconds: "
          + ", ".join(f"{name} {end - start:.1f}" for (_, start), (name, end) in pairwise(phases)))


async def test_a_customers_next_message_waits_until_the_other_process_has_handled_the_previous_one(fake, fleet, watch):
    """Telegram sends a chat's next update only once the previous one was answered; the desk
    answers after handling, so a quick second message cannot overtake the first on the other process."""
    lin = fake.add_user(user_id=31_000, first_name="Lin", language_code="en")
    order: list[int] = []
    release = asyncio.Event()

    async def note(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        order.append(update.update_id)

    async def hold_first(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.update_id == first:
            await release.wait()  # the first process is slow with Lin's first message

    for process in fleet:
        process.app.add_handler(TypeHandler(Update, note), group=-3)
    fleet[0].app.add_handler(TypeHandler(Update, hold_first), group=-2)
    first = fake.updates.last_id + 1
    fake.balancer.route = lambda update: [0] if update["update_id"] == first else [1]

    await lin.send_text("/start", wait=False)
    await lin.send_text("Lin Wei", wait=False)  # typed at once, before any reply
    second = lin.update_ids[-1]
    try:
        await until(lambda: first in order, "the first process to take the first message")
        await asyncio.sleep(0.5)  # ample time for the second message to be posted, were it not held back
        assert second not in fake.updates.delivered and order == [first]
    finally:
        release.set()
    await watch.handled(first)
    await watch.handled(second)
    assert order == [first, second]
    assert fake.balancer.received == {first: [0], second: [1]}
    await fake.settle()
    fake.assert_no_rejections()


async def test_a_newcomer_whose_first_updates_reach_both_processes_at_once_becomes_one_user(database_url, clock):
    """Two different updates of someone new, handled at the same moment by two processes: both
    look the person up, find nobody and insert; the second insert waits for the first and then
    takes its row instead of failing the update on the unique Telegram id."""
    first, second, observer = Database(database_url), Database(database_url), Database(database_url)
    try:
        async with first.uow() as one, second.uow() as other:
            created = await users.touch(one, 31_337, "Lin", None, "en", "en", clock.now())
            racing = asyncio.create_task(users.touch(other, 31_337, "Lin", None, "en", "en", clock.now()))

            async def insert_waiting() -> bool:
                async with observer.uow() as uow:
                    return bool(await uow.session.scalar(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )))

            deadline = time.monotonic() + STEP_TIMEOUT
            while not await insert_waiting():  # the second process is held on the first one's uncommitted row
                assert time.monotonic() < deadline and not racing.done()
                await asyncio.sleep(0.02)
            await one.commit()
            found = await racing
            await other.commit()
        assert found.id == created.id and found.telegram_id == 31_337
        async with observer.uow() as uow:
            assert await uow.session.scalar(select(func.count()).select_from(User).where(User.telegram_id == 31_337)) == 1
    finally:
        for db in (first, second, observer):
            await db.dispose()
