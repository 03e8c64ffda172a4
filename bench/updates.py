"""Benchmark: updates per second and latency from update to reply, the real desk against the fake Bot API.

What is measured. An update's latency runs from the moment the fake Bot API (tests/fakebot) makes it
available to the bot (queued for getUpdates, which is also when the webhook sender starts
POSTing it) to the moment the fake receives the bot's first sendMessage to that chat. Scenarios:

  echo    a bare echo bot on the same stack: PTB Application built from the same Settings with the
          same transport and rate limiter, one MessageHandler sending the text back; no database.
          The baseline: what PTB, HTTP and the fake cost per update.
  /my     a customer with 20 requests asks for their list, in a database of --requests requests
          (20 per customer; every customer of the desk has a Telegram user).
  intake  the customer's fault report, step by step as tests/e2e/helpers.py `file_request`: /new,
          type, "I don't know the serial number", description, "Skip, no photos", location,
          confirm; 7 updates per dialog, counted per update and per completed dialog.

Each in two load modes:

  throughput  many customers in parallel (50), each acting again as soon as its reply arrives, so
              the bot is never idle; reports updates/s (and dialogs/s).
  100/s       a fixed offered rate (--rate, evenly spaced; each update from one of 200 customers whose
              previous reply has arrived, as people wait for the bot before the next step); reports
              p50/p99/max latency. A bot that falls 2 s behind runs out of waiting customers and the
              offered rate drops: the table shows the rate actually offered. For intake the
              "per dialog" latency is the sum of its 7 waits (the time the customer spent waiting
              for the bot), since the gaps between steps are set by the pacing, not by the bot.

The bot as deployed: `bot.app.build_application(settings, policy, SystemClock())` with a real Settings
(so the scheduler runs the sweep every minute and the outbox round every second, which sends the
dispatchers' new-request notifications at their 1/s pace), started in its own process (the fake
and the load run in this one, as Telegram and the users would be elsewhere), logging configured
as `servicedesk` does (INFO, to a file).

Mode: long polling (`--mode webhook` runs the other). Both run the same handlers one update at a
time (PTB's default, which the desk keeps); they differ in delivery. getUpdates hands the bot up
to 100 queued updates in one HTTP exchange; a webhook costs the bot one HTTP request per update
(the fake, like Telegram, POSTs each update and waits for its 200, which the desk answers after
handling it, before that chat's next update; up to 40 chats at once). Polling is the default and
the figures in the README; webhook mode is the way to run several processes behind one URL, which
this single-process benchmark does not measure.

Flood limits are lifted, because we measure the bot, not Telegram: the fake's 30 sends/s
(`global_rate_limit`) is off, and so is the 30 calls/s overall window of the desk's own rate
limiter (bot/flood.py, passed as `build_application(..., limits=...)` with only
`overall_per_second` raised; the per-chat pace of notifications, the group limit and the 429
retries stay as deployed). With that window, no bot answers more than 30 updates/s whatever its
handlers cost; one extra row ("echo, 30/s limiter as deployed") shows what it does at 100 updates/s.

What is checked, so that the figures measure what they claim: every update got its reply, and the
reply is the right one (the echoed text; the /my list with the customer's own newest request; each
intake prompt in turn, then "Request SR-… is registered"); every announced request exists in the
database for that customer and the intake customers have exactly as many requests as completed
dialogs; the fake rejected no call; the bot logged no error. The targets (/my throughput >= 50 % of
echo, intake >= 30 %, p99 < 50 ms at 100 updates/s) are printed as met/missed, never enforced.

    .venv/bin/python -m bench.updates [--backend sqlite|postgresql|both] [--requests 100000]
                                      [--updates N] [--mode polling|webhook] [--quick]

Adding a scenario: write a `Scenario` subclass (its `session` returns the steps one customer takes,
`verify` checks the database afterwards) and add it to `scenarios_for`.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import html
import math
import multiprocessing
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.common import (Backend, PostgresBackend, backends_for, bulk_insert, check, finish_seed, machine, request_row,
                          user_row)
from bot.config import DEFAULT_POLICY_FILE, Settings
from bot.flood import TELEGRAM_LIMITS, FloodLimiter, FloodLimits
from storage.db import create_engine
from storage.models import AppState, Counter, Customer, RequestEvent, ServiceRequest, User, UserRole
from tests.fakebot import ApiCall, FakeTelegram, FakeUser, Rejection, SentMessage

TOKEN = "123456:BENCH-TOKEN"
TIMEZONE = ZoneInfo("Asia/Shanghai")
DISPATCHER_TELEGRAM_ID = 9001
STATUS_TELEGRAM_BASE = 200_000_000  # + customer number: the /my customers (20 seeded requests each)
INTAKE_TELEGRAM_BASE = 300_000_000  # + n: customers who only report new faults
PER_CUSTOMER = 20
TARGET_P99 = 0.050
STATUS_SHARE, INTAKE_SHARE = 0.50, 0.30
REPLY_TIMEOUT = 60.0  # seconds an update may wait for its reply before it counts as unanswered
THROUGHPUT, PACED = "throughput", "paced"
DESCRIPTION = "Pump trips the breaker after 5 minutes"


@dataclass(frozen=True)
class Sizes:
    requests: int
    updates: int  # per measurement
    concurrency: int  # customers acting at once in throughput mode
    pool: int  # customers of the paced mode: 2 s of arrivals at 100/s may wait on replies at once
    warmup: int  # updates before each measurement, not counted


FULL = Sizes(requests=100_000, updates=600, concurrency=50, pool=200, warmup=50)
QUICK = Sizes(requests=2_000, updates=70, concurrency=8, pool=60, warmup=14)


# --------------------------------------------------------------------------- the fake, with a stopwatch


class Exchange:
    """One update a customer is waiting on: when it was made available, when the first reply
    arrived, and the message it was waiting for (the one that lets the customer go on)."""

    def __init__(self, expect: Callable[[SentMessage], bool]) -> None:
        self.expect = expect
        self.pushed = 0.0
        self.replied: float | None = None
        self.matched: SentMessage | None = None
        self.done = asyncio.get_running_loop().create_future()

    def on_message(self, arrived: float, message: SentMessage) -> None:
        if self.replied is None:
            self.replied = arrived
        if not self.done.done() and self.expect(message):
            self.matched = message
            self.done.set_result(None)

    @property
    def latency(self) -> float:
        assert self.replied is not None
        return self.replied - self.pushed


class TimedTelegram(FakeTelegram):
    """The fake Bot API, telling each waiting customer when a sendMessage to their chat arrives."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN, bot_username="service_desk_bot")
        self.global_rate_limit = None  # we measure the bot, not Telegram's 30 messages/s
        self.waiting: dict[int, Exchange] = {}

    async def _execute(self, call: ApiCall, request: Any) -> Any:
        arrived = time.monotonic()
        result = await super()._execute(call, request)
        if call.method == "sendMessage":
            chat_id = call.params.get("chat_id")
            exchange = self.waiting.get(chat_id)
            if exchange is not None:
                exchange.on_message(arrived, self.users[chat_id].messages[-1])
        return result


async def exchange(fake: TimedTelegram, user: FakeUser, step: Step) -> Exchange:
    """Perform one step as `user` and wait for its reply; `replied` stays None on a timeout."""
    waiting = Exchange(step.expect)
    fake.waiting[user.id] = waiting
    waiting.pushed = time.monotonic()
    await step.act(user)  # queues the update at once (wait=False)
    with suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(waiting.done), REPLY_TIMEOUT)
    if waiting.matched is None:
        waiting.replied = None  # a reply that never turned into the expected one does not count
    fake.waiting.pop(user.id, None)
    return waiting


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Step:
    act: Callable[[FakeUser], Awaitable[Any]]
    expect: Callable[[SentMessage], bool]


@dataclass
class Actor:
    """A fake Telegram user the load drives, with what its replies must show."""

    user: FakeUser
    customer_id: int
    newest_number: str | None = None  # /my must list it first


def has_button(label: str) -> Callable[[SentMessage], bool]:
    return lambda message: label in message.button_texts


def shows(text: str) -> Callable[[SentMessage], bool]:
    return lambda message: text in (message.text or "")


class Scenario:
    key: str
    title: str
    needs_database = True

    def session(self, customer: Actor) -> list[Step]:
        """The updates one customer sends in turn (one for a command, several for a dialog)."""
        raise NotImplementedError

    def completed(self, customer: Actor, steps: list[Exchange]) -> None:
        """A whole session was answered (a dialog reached its end)."""

    async def verify(self, url: str) -> None:
        """Check in the database that the work really happened."""


class Echo(Scenario):
    key, title, needs_database = "echo", "echo (baseline)", False

    def __init__(self) -> None:
        self.count = 0

    def session(self, customer: Actor) -> list[Step]:
        self.count += 1
        text = f"echo {customer.user.id} #{self.count}"
        return [Step(lambda user: user.send_text(text, wait=False), lambda m: m.text == text)]


class Status(Scenario):
    key, title = "my", "/my, 20 requests"

    def session(self, customer: Actor) -> list[Step]:
        first_page = f"(page 1 of {math.ceil(PER_CUSTOMER / 5)})"
        return [Step(lambda user: user.send_text("/my", wait=False),
                     lambda m: first_page in (m.text or "") and customer.newest_number in (m.text or ""))]


class Intake(Scenario):
    """The customer's fault report, as tests/e2e/helpers.py `file_request` files it."""

    key, title = "intake", "intake, 7 steps"

    def __init__(self, customers: Sequence[Actor]) -> None:
        from tests.e2e.helpers import t

        self.customer_ids = {c.customer_id for c in customers}
        self.announced: dict[str, int] = {}  # request number -> customer id
        self.labels = {name: t("en", name) for name in (
            "Fault repair", "I don't know the serial number", "Skip, no photos", "✅ Confirm and send")}
        self.registered = t("en", "✅ Request <b>{number}</b> is registered.", number="SR-").split("SR-")[1]

    def session(self, customer: Actor) -> list[Step]:
        label = self.labels
        return [
            Step(lambda user: user.send_text("/new", wait=False), has_button(label["Fault repair"])),
            Step(lambda user: user.press(label["Fault repair"], wait=False), has_button(label["I don't know the serial number"])),
            Step(lambda user: user.press(label["I don't know the serial number"], wait=False), shows("Describe the problem")),
            Step(lambda user: user.send_text(DESCRIPTION, wait=False), has_button(label["Skip, no photos"])),
            Step(lambda user: user.press(label["Skip, no photos"], wait=False), shows("Where is the equipment")),
            Step(lambda user: user.send_location(34.7466, 113.6253, wait=False), has_button(label["✅ Confirm and send"])),
            Step(lambda user: user.press(label["✅ Confirm and send"], wait=False), shows(self.registered)),
        ]

    def completed(self, customer: Actor, steps: list[Exchange]) -> None:
        number = re.search(r"SR-\d{4}-\d{6}", steps[-1].matched.text).group(0)
        check(number not in self.announced, f"request number {number} announced twice")
        self.announced[number] = customer.customer_id

    async def verify(self, url: str) -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(
                    select(ServiceRequest.number, ServiceRequest.customer_id, ServiceRequest.description)
                    .where(ServiceRequest.customer_id.in_(self.customer_ids)))).all()
        finally:
            await engine.dispose()
        stored = {number: customer_id for number, customer_id, _ in rows}
        check(stored == self.announced,
              f"intake: {len(self.announced)} requests announced, {len(stored)} stored for the intake customers"
              f" ({len(set(self.announced) - set(stored))} announced but missing)")
        check(all(description == DESCRIPTION for _, _, description in rows), "intake: a stored description differs")


# --------------------------------------------------------------------------- load


@dataclass
class Measurement:
    scenario: str
    backend: str
    mode: str
    updates: int = 0
    answered: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    dialogs: int = 0
    dialog_waits: list[float] = field(default_factory=list)
    offered_rate: float | None = None
    bot_cpu: float = 0.0
    load_cpu: float = 0.0
    machine_cpu: float = 0.0
    late_answers: int = 0  # callback queries answered after Telegram's 15 s (the bot's queue was that long)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    @property
    def dialog_rate(self) -> float:
        return self.dialogs / self.seconds if self.seconds else 0.0


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else math.nan


class CpuMeter:
    """CPU seconds used by the bot process, by this process (fake + load), and by the whole machine."""

    def __init__(self, bot_pid: int) -> None:
        self.bot_pid = bot_pid
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _bot(self) -> float:
        with open(f"/proc/{self.bot_pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks

    def _machine(self) -> tuple[float, float]:
        with open("/proc/stat", encoding="ascii") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        idle = values[3] + values[4]
        return (sum(values) - idle) / self.ticks, sum(values) / self.ticks

    def read(self) -> tuple[float, float, float, float]:
        own = os.times()
        busy, total = self._machine()
        return self._bot(), own.user + own.system, busy, total

    def fill(self, measurement: Measurement, start: tuple[float, float, float, float]) -> None:
        bot, own, busy, total = (b - a for a, b in zip(start, self.read()))
        wall = measurement.seconds or 1e-9
        measurement.bot_cpu, measurement.load_cpu = bot / wall, own / wall
        measurement.machine_cpu = busy / total if total else 0.0


async def run_session(fake: TimedTelegram, scenario: Scenario, customer: Actor, result: Measurement | None) -> bool:
    """One customer's whole session; False (and the rest skipped) if an update went unanswered."""
    done: list[Exchange] = []
    for step in scenario.session(customer):
        waited = await exchange(fake, customer.user, step)
        if result is not None:
            result.updates += 1
        if waited.replied is None:
            return False
        done.append(waited)
        if result is not None:
            result.answered += 1
            result.latencies.append(waited.latency)
    scenario.completed(customer, done)
    if result is not None and len(done) > 1:
        result.dialogs += 1
        result.dialog_waits.append(sum(w.latency for w in done))
    return True


async def warm_up(fake: TimedTelegram, scenario: Scenario, customers: Sequence[Actor], updates: int) -> None:
    """Connections opened, statements compiled, caches filled; nothing recorded."""
    started = 0
    while started < updates:
        batch = customers[: max(1, min(len(customers), updates - started))]
        ok = await asyncio.gather(*(run_session(fake, scenario, c, None) for c in batch))
        check(all(ok), f"{scenario.key}: an update went unanswered during the warm-up")
        started += len(batch) * len(scenario.session(batch[0]))


async def throughput(fake: TimedTelegram, scenario: Scenario, customers: Sequence[Actor], budget: int,
                     result: Measurement) -> None:
    """Every customer acts again as soon as its reply arrives; sessions start while the budget lasts
    (a started dialog is always finished)."""
    per_session = len(scenario.session(customers[0]))
    started = 0
    first_push, last_reply = [math.inf], [0.0]

    async def customer_loop(customer: Actor) -> None:
        nonlocal started
        while started < budget:
            started += per_session
            first_push[0] = min(first_push[0], time.monotonic())
            if not await run_session(fake, scenario, customer, result):
                return
            last_reply[0] = max(last_reply[0], time.monotonic())

    await asyncio.gather(*(customer_loop(c) for c in customers))
    result.seconds = last_reply[0] - first_push[0]


async def paced(fake: TimedTelegram, scenario: Scenario, customers: Sequence[Actor], total: int, rate: float,
                result: Measurement) -> None:
    """Open loop: update k is made available at start + k/rate, from a customer whose previous reply
    has arrived (a dialog's next step, or a new session). If none is ready the update waits, which
    lowers the offered rate: it is reported."""
    # Last answered, first to act again: dialogs run to their end instead of the whole pool
    # creeping through step 1 together; the pool only matters when replies are slow.
    ready: asyncio.LifoQueue[tuple[Actor, list[Step], list[Exchange]]] = asyncio.LifoQueue()
    for customer in customers:
        ready.put_nowait((customer, scenario.session(customer), []))

    async def one_step(customer: Actor, steps: list[Step], done: list[Exchange]) -> None:
        waited = await exchange(fake, customer.user, steps[len(done)])
        if waited.replied is None:
            return  # the customer stays stuck; counted as unanswered
        result.answered += 1
        result.latencies.append(waited.latency)
        done.append(waited)
        if len(done) == len(steps):
            scenario.completed(customer, done)
            if len(done) > 1:
                result.dialogs += 1
                result.dialog_waits.append(sum(w.latency for w in done))
            ready.put_nowait((customer, scenario.session(customer), []))
        else:
            ready.put_nowait((customer, steps, done))

    tasks = []
    start = time.monotonic()
    pushed_last = start
    for k in range(total):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            customer, steps, done = await asyncio.wait_for(ready.get(), REPLY_TIMEOUT * 2)
        except TimeoutError:  # every customer is stuck on an unanswered update: the rest count as unanswered
            result.updates += total - k
            break
        pushed_last = time.monotonic()
        result.updates += 1
        tasks.append(asyncio.create_task(one_step(customer, steps, done)))
    await asyncio.gather(*tasks)
    result.seconds = time.monotonic() - start
    result.offered_rate = (total - 1) / (pushed_last - start) if total > 1 and pushed_last > start else rate


# --------------------------------------------------------------------------- the bot process


def flood_limits(capped: bool) -> FloodLimits:
    """The desk's flood limits, without the 30 calls/s overall cap unless `capped` (the per-chat pace
    of notifications, the group limit and the retries stay as deployed)."""
    return TELEGRAM_LIMITS if capped else dataclasses.replace(TELEGRAM_LIMITS, overall_per_second=1_000_000)


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.bot.send_message(update.effective_chat.id, html.escape(update.effective_message.text),
                                   parse_mode=ParseMode.HTML)


def build_echo(settings: Settings, capped: bool) -> Application:
    """The baseline: the desk's ApplicationBuilder settings and rate limiter, one handler, no database."""
    app = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.bot_api_base_url)
        .base_file_url(settings.bot_api_file_url)
        .rate_limiter(FloodLimiter(flood_limits(capped)))
        .build()
    )
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT, _echo))
    return app


def build_desk(settings: Settings, capped: bool) -> Application:
    from bot.app import build_application
    from bot.clock import SystemClock
    from bot.policy import load_policy

    policy = load_policy(settings.policy_file)
    return build_application(settings, policy, SystemClock(), limits=flood_limits(capped))


async def _serve(kind: str, settings: Settings, capped: bool, ready: Any, stop: Any) -> None:
    from bot.app import freeze_startup_objects

    app = build_echo(settings, capped) if kind == "echo" else build_desk(settings, capped)
    freeze_startup_objects()  # as `servicedesk` does, for the echo bot too
    if settings.webhook_mode:
        from bot.ops.webhook import WebhookDesk

        desk = WebhookDesk(app, settings)
        await desk.start()
    else:
        await app.initialize()
        if app.post_init:
            await app.post_init(app)
        await app.start()
        await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)  # as run_polling() does
    ready.set()
    try:
        await asyncio.to_thread(stop.wait)
    finally:
        if settings.webhook_mode:
            await desk.stop()
        else:
            await app.updater.stop()
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
            await app.shutdown()
            if app.post_shutdown:
                await app.post_shutdown(app)


def bot_process(kind: str, settings: Settings, capped: bool, log_path: str, ready: Any, stop: Any,
                profile: str | None = None) -> None:
    """The child process: the bot, logging as deployed into `log_path`, until `stop` is set; with
    `profile`, cProfile statistics of the whole process are written there (for `pstats`)."""
    from bot.ops.logs import configure_logging

    with open(log_path, "a", encoding="utf-8") as log:
        configure_logging(settings.log_format, settings.log_level, stream=log)
        profiler = cProfile.Profile() if profile else None
        try:
            if profiler:
                profiler.enable()
            asyncio.run(_serve(kind, settings, capped, ready, stop))
            if profiler:
                profiler.disable()
                profiler.dump_stats(profile)
        except BaseException:
            traceback.print_exc(file=log)
            traceback.print_exc()
            raise


class BotProcess:
    def __init__(self, kind: str, settings: Settings, capped: bool, log_path: Path, profile: Path | None = None) -> None:
        context = multiprocessing.get_context("spawn")  # a clean interpreter, as `servicedesk` starts
        self.ready, self.stop_event = context.Event(), context.Event()
        self.log_path = log_path
        self.profiled = profile is not None
        self.process = context.Process(target=bot_process, name=f"bench-{kind}", daemon=True,
                                       args=(kind, settings, capped, str(log_path), self.ready, self.stop_event,
                                             str(profile) if profile else None))

    async def start(self) -> None:
        self.process.start()
        deadline = time.monotonic() + 120
        while not self.ready.is_set():
            check(self.process.is_alive(), f"the bot process died at start; see {self.log_path}")
            check(time.monotonic() < deadline, "the bot process did not start within 120 s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.to_thread(self.process.join, 300 if self.profiled else 30)  # writing a profile takes a while
        if self.process.is_alive():
            self.process.terminate()
            await asyncio.to_thread(self.process.join, 5)

    def errors(self) -> list[str]:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if "level=ERROR" in line or line.startswith("Traceback")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_for(fake: TimedTelegram, database_url: str, mode: str) -> Settings:
    webhook: dict[str, Any] = {}
    if mode == "webhook":
        port = free_port()
        webhook = dict(webhook_url=f"http://127.0.0.1:{port}/telegram", webhook_secret="bench-secret",
                       webhook_listen="127.0.0.1", webhook_port=port, webhook_path="/telegram")
    return Settings(bot_token=TOKEN, database_url=database_url, telegram_api_url=fake.url, timezone=TIMEZONE,
                    default_language="en", admin_telegram_ids=frozenset({DISPATCHER_TELEGRAM_ID}),
                    policy_file=DEFAULT_POLICY_FILE, log_format="text", log_level="INFO", **webhook)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Population:
    status: list[tuple[int, int, str]]  # (customer id, telegram id, newest request number)
    intake: list[tuple[int, int]]  # (customer id, telegram id)


async def seed(url: str, requests: int, intake_customers: int, now: datetime) -> Population:
    """A desk with history: `requests` requests, 20 per customer, newest last, each with its
    "created" event, all closed (open ones would need their deadline clocks, and thousands of
    long-breached requests would measure the sweep's escalations, which bench/sweep.py does);
    every customer has a Telegram user. Plus customers who have reported
    nothing yet (for the intake), a dispatcher, the request counter and the clock policy
    fingerprint where a running desk would have left them."""
    from bot.policy import load_policy
    from bot.services.clocks import POLICY_STATE, ClockKeeper

    year = now.astimezone(TIMEZONE).year
    count = math.ceil(requests / PER_CUSTOMER)
    oldest = now - timedelta(days=400)
    step = (now - timedelta(hours=1) - oldest) / max(requests, 1)
    users = [user_row(1, DISPATCHER_TELEGRAM_ID, "Dora", oldest, full_name="Bench Dispatcher")]
    customers, status, intake = [], [], []
    for k in range(1, count + intake_customers + 1):
        intake_side = k > count
        telegram_id = (INTAKE_TELEGRAM_BASE + k - count) if intake_side else (STATUS_TELEGRAM_BASE + k)
        users.append(user_row(1 + k, telegram_id, f"Customer {k}", oldest, full_name=f"Bench Customer {k}",
                              phone=f"+86138{k:08d}"))
        customers.append(dict(id=k, user_id=1 + k, name=f"Bench Customer {k}", phone=f"+86138{k:08d}",
                              company=f"Farm {k}", created_at=oldest, erased_at=None))
        if intake_side:
            intake.append((k, telegram_id))
    service_requests, events = [], []
    for i in range(1, requests + 1):
        customer_id = (i - 1) // PER_CUSTOMER + 1
        created = oldest + step * i
        service_requests.append(request_row(i, f"SR-{year}-{i:06d}", customer_id, created,
                                            status="closed", created_by_user_id=1 + customer_id))
        events.append(dict(id=i, request_id=i, actor_user_id=1 + customer_id, action="created",
                           details={"status": "new"}, internal=False, created_at=created))
    for k in range(1, count + 1):
        newest = min(k * PER_CUSTOMER, requests)
        status.append((k, STATUS_TELEGRAM_BASE + k, f"SR-{year}-{newest:06d}"))
    fingerprint = ClockKeeper(load_policy(DEFAULT_POLICY_FILE), TIMEZONE).fingerprint
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await bulk_insert(conn, User.__table__, users)
            await bulk_insert(conn, UserRole.__table__, [{"user_id": 1, "role": "admin"}, {"user_id": 1, "role": "dispatcher"}])
            await bulk_insert(conn, Customer.__table__, customers)
            await bulk_insert(conn, ServiceRequest.__table__, service_requests)
            await bulk_insert(conn, RequestEvent.__table__, events)
            await bulk_insert(conn, Counter.__table__, [{"name": f"request_number:{year}", "value": requests}])
            await bulk_insert(conn, AppState.__table__, [{"name": POLICY_STATE, "value": fingerprint}])
        await finish_seed(engine, tables=("users", "user_roles", "customers", "service_requests", "request_events",
                                          "counters", "app_state"),
                          sequences=("users", "customers", "service_requests", "request_events"))
    finally:
        await engine.dispose()
    return Population(status, intake)


# --------------------------------------------------------------------------- runs


@dataclass
class Options:
    sizes: Sizes
    mode: str
    rate: float
    profile: Path | None = None  # a folder for the bot processes' cProfile statistics

    def profile_for(self, name: str) -> Path | None:
        return self.profile / f"{name}.prof" if self.profile else None


async def measure(fake: TimedTelegram, bot: BotProcess, scenario: Scenario, customers: Sequence[Actor],
                  backend: str, options: Options, mode: str, updates: int | None = None, note: str = "") -> Measurement:
    sizes = options.sizes
    result = Measurement(scenario.title, backend, mode, note=note)
    meter = CpuMeter(bot.process.pid)
    rejected_before = len(fake.rejections)
    if mode == THROUGHPUT:
        active = customers[:sizes.concurrency]
        await warm_up(fake, scenario, active, sizes.warmup)
        start = meter.read()
        await throughput(fake, scenario, active, updates or sizes.updates, result)
    else:
        await warm_up(fake, scenario, customers[:sizes.concurrency], sizes.warmup)
        start = meter.read()
        await paced(fake, scenario, customers, updates or sizes.updates, options.rate, result)
    meter.fill(result, start)
    result.late_answers = sum(1 for r in fake.rejections[rejected_before:] if is_late_answer(r))
    print(f"  {backend or '-'} {scenario.key} {mode}: {result.answered}/{result.updates} answered in "
          f"{result.seconds:.1f} s", flush=True)
    return result


def is_late_answer(rejection: Rejection) -> bool:
    """Telegram refuses to answer a callback query after about 15 s: an overloaded bot's fate, not a wrong call."""
    return rejection.method == "answerCallbackQuery" and "too old" in rejection.description


def wrong_calls(fake: TimedTelegram) -> list[Rejection]:
    return [r for r in fake.rejections if not is_late_answer(r)]


def add_customers(fake: TimedTelegram, rows: Sequence[tuple[int, int, str | None]]) -> list[Actor]:
    return [Actor(fake.add_user(telegram_id, f"Customer {customer_id}"), customer_id, newest)
            for customer_id, telegram_id, newest in rows]


async def run_echo(options: Options, workdir: Path, problems: list[str]) -> list[Measurement]:
    results = []
    for capped in (False, True):
        fake = TimedTelegram()
        await fake.start()
        customers = [Actor(fake.add_user(100_000 + i, f"Echo {i}"), 0) for i in range(options.sizes.pool)]
        name = "echo-capped" if capped else "echo"
        bot = BotProcess("echo", settings_for(fake, "sqlite+aiosqlite:///unused.sqlite3", options.mode), capped,
                         workdir / f"{name}.log", options.profile_for(name))
        try:
            await bot.start()
            if capped:  # only to show the deployed cap at the target rate; a short run says it all
                results.append(await measure(fake, bot, Echo(), customers, "", options, PACED,
                                             updates=max(options.sizes.updates // 5, 20),
                                             note="30/s limiter as deployed"))
            else:
                results.append(await measure(fake, bot, Echo(), customers, "", options, THROUGHPUT))
                results.append(await measure(fake, bot, Echo(), customers, "", options, PACED))
        finally:
            await bot.stop()
            await fake.stop()
        report_calls_and_log("echo", fake, bot, problems)
    return results


async def run_desk(backend: Backend, options: Options, workdir: Path, problems: list[str]) -> list[Measurement]:
    sizes = options.sizes
    url = await backend.fresh()
    try:
        started = time.perf_counter()
        population = await seed(url, sizes.requests, sizes.pool, datetime.now(timezone.utc))
        print(f"  {backend.name}: seeded {sizes.requests} requests of {len(population.status)} customers "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        fake = TimedTelegram()
        await fake.start()
        fake.add_user(DISPATCHER_TELEGRAM_ID, "Dora")
        status_customers = add_customers(fake, population.status[:sizes.pool])
        intake_customers = add_customers(fake, [(c, t, None) for c, t in population.intake])
        bot = BotProcess("desk", settings_for(fake, url, options.mode), False, workdir / f"desk-{backend.name}.log",
                         options.profile_for(f"desk-{backend.name}"))
        results = []
        try:
            await bot.start()
            for scenario, customers in scenarios_for(status_customers, intake_customers):
                for mode in (THROUGHPUT, PACED):
                    results.append(await measure(fake, bot, scenario, customers, backend.label, options, mode))
                try:
                    await scenario.verify(url)
                except AssertionError as exc:
                    problems.append(f"{backend.name}: {exc}")
        finally:
            await bot.stop()
            await fake.stop()
        report_calls_and_log(backend.name, fake, bot, problems)
        return results
    finally:
        await backend.drop(url)


def report_calls_and_log(name: str, fake: TimedTelegram, bot: BotProcess, problems: list[str]) -> None:
    if wrong := wrong_calls(fake):
        problems.append(f"{name}: the fake rejected {len(wrong)} calls, e.g. {wrong[0]}")
    if errors := bot.errors():
        problems.append(f"{name}: the bot logged {len(errors)} errors, e.g. {errors[0]} (log: {bot.log_path})")


def scenarios_for(status_customers: list[Actor], intake_customers: list[Actor]) -> list[tuple[Scenario, list[Actor]]]:
    """The desk scenarios in the order they run (/my first: the intake adds requests)."""
    return [(Status(), status_customers), (Intake(intake_customers), intake_customers)]


# --------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def table(results: list[Measurement], rate: float) -> list[str]:
    lines = ["| scenario | backend | load | updates answered | updates/s | dialogs/s | p50 ms | p99 ms | max ms "
             "| dialog p50 / p99 ms | bot CPU | fake+load CPU | machine CPU |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        paced_run = r.mode == PACED
        load = (f"{r.offered_rate:.0f}/s offered" if paced_run else "throughput") + (f", {r.note}" if r.note else "")
        per_dialog = (f"{_ms(percentile(r.dialog_waits, .5))} / {_ms(percentile(r.dialog_waits, .99))}"
                      if paced_run and r.dialog_waits else "")
        lines.append(
            f"| {r.scenario} | {r.backend or '—'} | {load} | {r.answered:,}/{r.updates:,} | "
            f"{'' if paced_run else f'{r.rate:,.0f}'} | {'' if paced_run or not r.dialogs else f'{r.dialog_rate:.1f}'} | "
            f"{_ms(percentile(r.latencies, .5)) if paced_run else ''} | {_ms(percentile(r.latencies, .99)) if paced_run else ''} | "
            f"{_ms(max(r.latencies, default=math.nan)) if paced_run else ''} | {per_dialog} | "
            f"{r.bot_cpu:.0%} | {r.load_cpu:.0%} | {r.machine_cpu:.0%} |")
    return lines


def targets(results: list[Measurement], rate: float) -> list[str]:
    def find(title: str, backend: str, mode: str) -> Measurement | None:
        return next((r for r in results if r.scenario == title and r.backend == backend and r.mode == mode and not r.note), None)

    lines = []
    echo = find(Echo.title, "", THROUGHPUT)
    verdict = lambda ok: "met" if ok else "missed"  # noqa: E731
    for backend in dict.fromkeys(r.backend for r in results if r.backend):
        for title, share in ((Status.title, STATUS_SHARE), (Intake.title, INTAKE_SHARE)):
            found = find(title, backend, THROUGHPUT)
            if found and echo and echo.rate:
                ratio = found.rate / echo.rate
                lines.append(f"  {backend} {title} throughput: {found.rate:,.0f} updates/s = {ratio:.0%} of echo "
                             f"({echo.rate:,.0f}/s); target >= {share:.0%}: {verdict(ratio >= share)}")
    for r in results:
        if r.mode == PACED and not r.note:
            p99 = percentile(r.latencies, .99)
            lines.append(f"  {r.backend or '—'} {r.scenario} p99 at {r.offered_rate:.0f} updates/s offered: {_ms(p99)} ms; "
                         f"target < {TARGET_P99 * 1000:.0f} ms at {rate:.0f}/s: {verdict(p99 < TARGET_P99 and r.offered_rate >= rate * 0.95)}")
    return lines


def unanswered(results: list[Measurement]) -> list[str]:
    return [f"{r.backend or '—'} {r.scenario} {r.mode}: {r.updates - r.answered} of {r.updates} updates unanswered"
            for r in results if r.answered != r.updates]


def late_answers(results: list[Measurement]) -> list[str]:
    return [f"  {r.backend or '—'} {r.scenario} {r.mode}{f' ({r.note})' if r.note else ''}: {r.late_answers} button presses "
            f"waited over 15 s, so Telegram refused their callback answers (the replies still came)"
            for r in results if r.late_answers]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.updates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, help=f"requests in the desk's database (default {FULL.requests:,})")
    parser.add_argument("--updates", type=int, help=f"updates per measurement (default {FULL.updates:,})")
    parser.add_argument("--mode", choices=("polling", "webhook"), default="polling", help="how the bot gets updates")
    parser.add_argument("--rate", type=float, default=100.0, help="offered updates/s of the latency runs")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--profile", type=Path, help="write each bot process's cProfile statistics into this folder "
                                                     "(slows the bot: figures of a profiled run do not count)")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(requests=args.requests or base.requests, updates=args.updates or base.updates,
                  concurrency=base.concurrency, pool=base.pool, warmup=base.warmup)
    if sizes.requests < PER_CUSTOMER * sizes.concurrency:
        parser.error(f"--requests must be at least {PER_CUSTOMER * sizes.concurrency} (20 per customer acting at once)")
    options = Options(sizes, args.mode, args.rate, args.profile)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    print(f"machine: {machine()}; load average before the run {os.getloadavg()[0]:.2f}")
    print(f"{args.mode}; {sizes.requests:,} requests ({PER_CUSTOMER} per customer); {sizes.updates:,} updates per "
          f"measurement; throughput with {sizes.concurrency} customers at once; latency at {args.rate:.0f} updates/s",
          flush=True)
    backends = backends_for(args.backend, "bench-updates-")
    for backend in backends:
        if isinstance(backend, PostgresBackend):
            print(f"PostgreSQL {await backend.version()}")
    results: list[Measurement] = []
    problems: list[str] = []
    logs = Path(tempfile.mkdtemp(prefix="bench-updates-logs-"))  # kept when something went wrong
    try:
        results += await run_echo(options, logs, problems)
        for backend in backends:
            results += await run_desk(backend, options, logs, problems)
    finally:
        for backend in backends:
            backend.close()
    print()
    print("\n".join(table(results, args.rate)))
    print()
    print("targets (figures, not assertions):")
    print("\n".join(targets(results, args.rate)))
    if late := late_answers(results):
        print("\n".join(["", "overload:", *late]))
    problems = unanswered(results) + problems
    if problems:
        print("\nTHE WORK WAS NOT ALL DONE, the figures above do not count:\n  " + "\n  ".join(problems))
        print(f"bot logs: {logs}")
        return 1
    shutil.rmtree(logs, ignore_errors=True)
    print(f"\nevery update answered ({sum(r.answered for r in results):,} in all), "
          f"every intake request stored, no wrong call, no error logged")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
