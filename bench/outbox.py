"""Benchmark: how fast the outbox drains a burst under Telegram's real flood limits.

Why: a burst of notifications (a morning of reminders, a policy change) must go out at close to
Telegram's overall limit of 30 messages a second, never over it and never faster than one a second
to one person. This script queues `--messages` notifications for `--people` people on SQLite and
PostgreSQL, drains them with the bot's own sender (handlers/outbox.py, bot/flood.py) against the
project's fake Bot API, which enforces the same limits (it answers 429 to any call over them), and
prints the drain rate, the busiest second and the closest two messages to one person came.

It is a benchmark, not a test: it never judges the figures. It only checks that every message
arrived exactly once, so that the rate measures complete work.

    .venv/bin/python -m bench.outbox [--messages 1000] [--people 100] [--backend sqlite|postgresql|both]
"""
from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bench.common import Backend, backends_for, check, machine
from bot.app import build_application
from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE, Settings
from bot.flood import TELEGRAM_LIMITS
from bot.policy import load_policy
from bot.services import notices
from bot.views import View
from handlers.common import DEPS_KEY
from handlers.outbox import deliver
from storage.db import Database
from storage.models import User
from tests.fakebot import FakeTelegram

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in Asia/Shanghai
FIRST_ID = 500_000


async def drain(backend: Backend, messages: int, people: int) -> dict[str, object]:
    url = await backend.fresh()
    fake = FakeTelegram()
    await fake.start()
    fake.global_rate_limit, fake.chat_rate_limit, fake.rate_window = TELEGRAM_LIMITS.overall_per_second, 1, 1.0
    db = Database(url)
    try:
        async with db.uow() as uow:
            users = []
            for i in range(people):
                fake.add_user(FIRST_ID + i, f"P{i}")
                users.append(await uow.users.add(User(telegram_id=FIRST_ID + i, first_name=f"P{i}", language="en", created_at=NOW)))
            for n in range(messages):
                person = users[n % people]
                payload = View(f"notice {n}").to_payload() | {"photos": [], "voices": []}
                await notices.queue(uow, person, notices.VIEW, payload, f"bench:{n}", NOW)
            await uow.commit()
        settings = Settings(
            bot_token=fake.token, database_url=url, telegram_api_url=fake.url, timezone=ZoneInfo("Asia/Shanghai"),
            default_language="en", admin_telegram_ids=frozenset(), policy_file=DEFAULT_POLICY_FILE,
        )
        app = build_application(settings, load_policy(DEFAULT_POLICY_FILE), ManualClock(NOW), sweeps=False)
        await app.initialize()
        try:
            started = time.perf_counter()
            sent = await deliver(app.bot, app.bot_data[DEPS_KEY], NOW)
            elapsed = time.perf_counter() - started
        finally:
            await app.shutdown()
            await app.bot_data[DEPS_KEY].db.dispose()
        accepted = [call for call in fake.calls("sendMessage") if call.error_code is None]
        check(sent == messages and sorted(int(c.params["text"].split()[1]) for c in accepted) == list(range(messages)),
              "every notification must arrive exactly once")
        busiest = max(Counter(int(call.time - accepted[0].time) for call in accepted).values())
        gaps = []
        for chat_id in {call.params["chat_id"] for call in accepted}:
            times = sorted(call.time for call in accepted if call.params["chat_id"] == chat_id)
            gaps += [later - earlier for earlier, later in zip(times, times[1:])]
        return {
            "backend": backend.label, "messages": messages, "people": people, "seconds": elapsed,
            "rate": messages / elapsed, "busiest": busiest, "closest": min(gaps) if gaps else None,
            "429s": sum(call.error_code == 429 for call in fake.calls("sendMessage")),
        }
    finally:
        await db.dispose()
        await fake.stop()
        await backend.drop(url)


async def main(args: argparse.Namespace) -> None:
    backends = backends_for(args.backend, "bench-outbox-")
    print(machine())
    print(f"Limits: {TELEGRAM_LIMITS.overall_per_second}/s overall, one per {TELEGRAM_LIMITS.private_chat_interval:g} s per person "
          f"(the fake Bot API enforces the same)\n")
    print("| backend | messages | people | drain time | messages/s | busiest second | closest two to one person | 429s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    try:
        for backend in backends:
            row = await drain(backend, args.messages, args.people)
            closest = f"{row['closest']:.2f} s" if row["closest"] is not None else "—"
            print(f"| {row['backend']} | {row['messages']:,} | {row['people']} | {row['seconds']:.1f} s | {row['rate']:.1f} | "
                  f"{row['busiest']} | {closest} | {row['429s']} |", flush=True)
    finally:
        for backend in backends:
            backend.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
