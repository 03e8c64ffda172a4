"""Benchmark: one deadline sweep over many open requests, with some or none of their clocks due.

Why: the sweep (`handlers/sweeps.py`) runs every minute in every bot process. Its cost must follow
the reminders that are due, not the number of open requests: a desk with 100,000 open requests and
nothing due should sweep about as fast as an empty one, and one with 1,000 due clocks should pay
for those 1,000. This script measures both cases on SQLite and PostgreSQL and prints the figures.

It is a benchmark, not a test: it never judges the times. It only checks that the "due" sweep
really planned one reminder per due clock and called the bot, and that the "none due" sweep did
nothing, so that both figures measure what they claim to.

    .venv/bin/python -m bench.sweep [--requests 100000] [--due 1000] [--backend sqlite|postgresql|both]
                                    [--runs 3] [--profile]
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (Backend, backends_for, bulk_insert, check, finish_seed, machine, request_row,
                          user_row)
from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE, Settings
from bot.policy import load_policy
from bot.services.clocks import ClockKeeper
from bot.services.reminders import Planner
from handlers.common import Deps
from handlers.sweeps import deliver, plan_reminders
from storage.db import Database, create_engine
from storage.models import Customer, OutboxMessage, ServiceRequest, SlaClock, User, UserRole

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Wednesday, 10:00 in Asia/Shanghai: inside the staff reachable hours (08:00-22:00), so every
# planned reminder is due for sending at once and `deliver` does its full share of the work.
NOW = datetime(2026, 3, 4, 2, 0, tzinfo=timezone.utc)
ENGINEERS = 100
DUE, NONE_DUE = "due", "none due"

# The clocks as the ClockKeeper would have left them 13 h into a 24 h on-site arrival window
# (reminders at 50 % and 80 % of it, see bot/policy.default.toml):
STARTED = NOW - timedelta(hours=13)
WINDOW = timedelta(hours=24)
POINT_0 = STARTED + WINDOW * 0.5  # 1 h ago
POINT_1 = STARTED + WINDOW * 0.8  # in 6 h 12 min
DUE_AT = NOW - timedelta(minutes=1)  # a due clock: its 50 % reminder is waiting for this sweep


# --------------------------------------------------------------------------- data


def due_clock_ids(requests: int, due: int) -> set[int]:
    """Which clocks are due: a fixed pseudo-random spread, so they fall on many engineers (an
    even stride of requests/due would put them all on one engineer of the round robin)."""
    return set(random.Random(20260304).sample(range(1, requests + 1), due))


async def seed(url: str, requests: int, due_ids: set[int]) -> None:
    """Fill a migrated, empty database with Core bulk inserts in one transaction.

    The ORM would take minutes for 200,000 rows; executemany in chunks takes seconds. Ids are
    given explicitly so no RETURNING is needed (PostgreSQL's sequences are moved past them after).
    Clocks that are not due are stored as the keeper leaves them after their 50 % reminder:
    alert point 1, next alert at the 80 % point, in the future."""
    created = NOW - timedelta(hours=14)
    engineers = list(range(2, 2 + ENGINEERS))
    users = [user_row(1, 1_000_001, "Dispatcher", created, full_name="Bench Dispatcher")]
    users += [user_row(i, 1_000_000 + i, f"Engineer {i}", created, full_name=f"Bench Engineer {i}") for i in engineers]
    roles = [{"user_id": 1, "role": "dispatcher"}] + [{"user_id": i, "role": "engineer"} for i in engineers]
    service_requests = [
        request_row(i, f"SR-2026-{i:06d}", 1, created, status="in_progress",
                    assigned_engineer_id=engineers[(i - 1) % ENGINEERS])
        for i in range(1, requests + 1)
    ]
    clocks = [
        dict(id=i, request_id=i, kind="onsite_arrival", started_at=STARTED, window_seconds=int(WINDOW.total_seconds()),
             due_at=STARTED + WINDOW, pauses=[], paused_since=None, pause_reason=None, remaining_seconds=None,
             stopped_at=None, outcome=None, late_seconds=None,
             alert_point=0 if i in due_ids else 1, next_alert_at=DUE_AT if i in due_ids else POINT_1)
        for i in range(1, requests + 1)
    ]
    engine = create_engine(url)  # the app's engine factory: same SQLite pragmas (WAL, foreign keys)
    try:
        async with engine.begin() as conn:
            await bulk_insert(conn, User.__table__, users)
            await bulk_insert(conn, UserRole.__table__, roles)
            await bulk_insert(conn, Customer.__table__, [dict(
                id=1, user_id=None, name="Bench Customer", phone="+8613800000000", company=None, created_at=created)])
            await bulk_insert(conn, ServiceRequest.__table__, service_requests)
            await bulk_insert(conn, SlaClock.__table__, clocks)
        await finish_seed(engine, tables=("users", "user_roles", "customers", "service_requests", "sla_clocks", "outbox"),
                          sequences=("users", "customers", "service_requests", "sla_clocks"))
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- one sweep


class StubBot:
    """Stands in for telegram.Bot: counts messages, no network, so only our own work is timed."""

    def __init__(self) -> None:
        self.calls = 0

    async def send_message(self, chat_id: int, text: str, parse_mode: Any = None, reply_markup: Any = None, rate_limit_args: Any = None) -> Any:
        self.calls += 1
        return SimpleNamespace(message_id=self.calls, chat_id=chat_id, text=text)


@dataclass
class StatementLog:
    """Every SQL statement the engine sends while `active`, with its count and time, so a figure
    can be explained (a sweep with nothing due should send a handful of statements, whatever
    the number of open requests) and its statements EXPLAINed afterwards."""

    active: bool = False
    count: int = 0
    stats: dict[str, list[float]] = field(default_factory=dict)  # statement -> [count, seconds]
    params: dict[str, Any] = field(default_factory=dict)  # statement -> parameters of its first run
    _started: list[float] = field(default_factory=list)

    def attach(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.active:
            self._started.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.active and self._started:
            spent = time.perf_counter() - self._started.pop()
            self.count += 1
            entry = self.stats.setdefault(statement, [0, 0.0])
            entry[0] += 1
            entry[1] += spent
            self.params.setdefault(statement, parameters)


@dataclass
class Result:
    backend: str
    scenario: str
    run: int
    requests: int
    due: int
    seed_seconds: float
    sweep_seconds: float
    plan_seconds: float  # the part of the sweep spent in plan_reminders (the rest is deliver)
    planned: int
    sent: int
    bot_calls: int
    statements: int
    log: StatementLog


def build_deps(url: str) -> Deps:
    """The dependencies as bot/app.py build_application wires them (the keeper is the hook)."""
    settings = Settings(bot_token="123456:BENCH-TOKEN", database_url=url, timezone=SHANGHAI,
                        default_language="en", policy_file=DEFAULT_POLICY_FILE)
    policy = load_policy(settings.policy_file)
    keeper = ClockKeeper(policy, settings.timezone)
    db = Database(url, before_commit=keeper)
    return Deps(settings=settings, policy=policy, db=db, clock=ManualClock(NOW), keeper=keeper,
                planner=Planner(policy, keeper, settings.timezone))


async def run_once(backend: Backend, scenario: str, run: int, requests: int, due: int) -> tuple[Result, str]:
    """Fresh database, seed, warm up, time one sweep (plan + deliver), verify; returns the URL too
    (the caller drops the database once it has EXPLAINed what it wanted)."""
    url = await backend.fresh()
    due_ids = due_clock_ids(requests, due) if scenario == DUE else set()
    started = time.perf_counter()
    await seed(url, requests, due_ids)
    seed_seconds = time.perf_counter() - started

    deps = build_deps(url)
    log = StatementLog()
    log.attach(deps.db.engine)
    bot = StubBot()
    try:
        # Warm-up a day earlier, when nothing is due: opens the pooled connection and compiles the
        # sweep's queries, as in a bot that has been sweeping every minute. Changes nothing.
        check(await plan_reminders(deps, NOW - timedelta(days=1)) == 0, "warm-up sweep found clocks due")
        check(await deliver(bot, deps, NOW - timedelta(days=1)) == 0, "warm-up sweep sent messages")

        log.active = True
        started = time.perf_counter()
        planned = await plan_reminders(deps, NOW)
        plan_seconds = time.perf_counter() - started
        sent = await deliver(bot, deps, NOW)
        sweep_seconds = time.perf_counter() - started
        log.active = False

        async with deps.db.uow() as uow:
            rows = (await uow.session.execute(
                select(func.count(), func.count(OutboxMessage.sent_at), func.count(OutboxMessage.failure))
                .select_from(OutboxMessage)
            )).one()
        outbox_rows, outbox_sent, outbox_failed = rows
        expected = len(due_ids)
        check(planned == expected, f"{backend.name}/{scenario}: {planned} clocks handled, expected {expected}")
        check(outbox_rows == expected, f"{backend.name}/{scenario}: {outbox_rows} outbox rows planned, expected {expected}")
        check(outbox_sent == expected and outbox_failed == 0,
              f"{backend.name}/{scenario}: {outbox_sent} of {outbox_rows} outbox rows sent, {outbox_failed} failed")
        if scenario == DUE:
            check(bot.calls >= 1 and sent >= 1, f"{backend.name}/{scenario}: the bot was never called")
        else:
            check(bot.calls == 0, f"{backend.name}/{scenario}: the bot was called {bot.calls} times")
    finally:
        await deps.db.dispose()
    result = Result(backend.name, scenario, run, requests, len(due_ids), seed_seconds, sweep_seconds,
                    plan_seconds, planned, sent, bot.calls, log.count, log)
    return result, url


async def explain(url: str, log: StatementLog) -> list[str]:
    """The query plans of the statements a sweep sent (run with their recorded parameters and
    rolled back), to show which index each one uses."""
    engine = create_engine(url)
    lines: list[str] = []
    try:
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        for statement in log.stats:
            async with engine.connect() as conn:
                try:
                    plan = await conn.exec_driver_sql(prefix + statement, log.params[statement])
                    rows = plan.all()
                finally:
                    await conn.rollback()
            lines.append("  " + " ".join(statement.split())[:150])
            for row in rows:
                lines.append("      " + str(row[-1]))
    finally:
        await engine.dispose()
    return lines


# --------------------------------------------------------------------------- report


def print_table(results: list[Result]) -> None:
    print(f"{'backend':<11}{'open':>8}{'due':>7}{'run':>5}{'seed s':>9}{'sweep s':>10}{'plan s':>9}"
          f"{'planned':>9}{'sent':>6}{'bot calls':>11}{'SQL stmts':>11}")
    for r in results:
        print(f"{r.backend:<11}{r.requests:>8}{r.due:>7}{r.run:>5}{r.seed_seconds:>9.2f}{r.sweep_seconds:>10.4f}{r.plan_seconds:>9.4f}"
              f"{r.planned:>9}{r.sent:>6}{r.bot_calls:>11}{r.statements:>11}")


def print_summary(results: list[Result]) -> None:
    """Per backend: median sweep of each scenario, their ratio and the cost per due clock."""
    print()
    print("median sweep seconds per backend (seeding not included):")
    for backend in dict.fromkeys(r.backend for r in results):
        due = [r for r in results if r.backend == backend and r.scenario == DUE]
        none = [r for r in results if r.backend == backend and r.scenario == NONE_DUE]
        due_s = statistics.median(r.sweep_seconds for r in due)
        none_s = statistics.median(r.sweep_seconds for r in none)
        count = due[0].due
        print(f"  {backend}: {due[0].requests} open, {count} due: {due_s:.4f} s | none due: {none_s:.4f} s | "
              f"ratio due/none {due_s / none_s:.0f}x | {due_s / count * 1000:.3f} ms per due clock "
              f"({(due_s - none_s) / count * 1000:.3f} ms over the empty sweep) | "
              f"statements: {due[0].statements} vs {none[0].statements}")


def print_profile(result: Result, top: int = 8) -> None:
    print(f"\nwhere the {result.backend} '{result.scenario}' sweep (run {result.run}) spent its SQL time:")
    rows = sorted(result.log.stats.items(), key=lambda item: item[1][1], reverse=True)[:top]
    for statement, (count, seconds) in rows:
        print(f"  {seconds:8.4f} s {int(count):6}x  {' '.join(statement.split())[:110]}")


async def bench_backend(backend: Backend, requests: int, due: int, runs: int, profile: bool) -> list[Result]:
    results = []
    for run in range(1, runs + 1):
        for scenario in (DUE, NONE_DUE):
            result, url = await run_once(backend, scenario, run, requests, due)
            try:
                if run == 1 and scenario == NONE_DUE:
                    print(f"\n{backend.name}: query plans of the 'none due' sweep ({result.statements} statements):")
                    print("\n".join(await explain(url, result.log)))
            finally:
                await backend.drop(url)
            if profile and run == 1:
                print_profile(result)
            results.append(result)
            print(f"  {backend.name} run {run} {scenario}: seeded in {result.seed_seconds:.1f} s, "
                  f"swept in {result.sweep_seconds:.4f} s", flush=True)
    return results


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="open requests (one running clock each)")
    parser.add_argument("--due", type=int, default=1_000, help="clocks with a reminder due in the 'due' scenario")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=3, help="fresh databases per scenario (the median is reported)")
    parser.add_argument("--profile", action="store_true", help="also print the slowest SQL statements of each sweep")
    args = parser.parse_args(argv)
    if not 0 < args.due <= args.requests:
        parser.error("--due must be between 1 and --requests")

    print(f"machine: {machine()}")
    print(f"sweep at {NOW.astimezone(SHANGHAI):%a %Y-%m-%d %H:%M} Asia/Shanghai; {args.requests} open requests, "
          f"{args.due} due; {args.runs} run(s) per scenario, each on a freshly seeded database", flush=True)
    backends = backends_for(args.backend, "bench-sweep-")
    results: list[Result] = []
    try:
        for backend in backends:
            results += await bench_backend(backend, args.requests, args.due, args.runs, args.profile)
    finally:
        for backend in backends:
            backend.close()
    if not results:
        print("nothing measured")
        return 1
    print()
    print_table(results)
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
