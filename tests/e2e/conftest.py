"""End-to-end harness: the real Application, long-polling the fake Bot API over HTTP."""
from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE, Settings
from bot.flood import FloodLimits
from bot.policy import load_policy
from bot.services.clocks import ClockKeeper
from handlers.sweeps import sweep
from storage.db import Database
from tests.fakebot import FakeTelegram

# Scripted users act far faster than people: one notification a second per chat, or 30 a second in
# all, would make every test wait for nothing (or leave the message to the background round, which
# these tests run by hand). The pace stays on (20 per second per chat, 300 in all);
# tests/e2e/test_outbox.py checks the real limits.
TEST_LIMITS = FloodLimits(overall_per_second=300, private_chat_interval=0.05)
DISPATCHER_ID = 9001
SECOND_DISPATCHER_ID = 9002


class Desk:
    """The bot as deployed: can be started, stopped and restarted against the same database."""

    def __init__(self, fake: FakeTelegram, database_url: str, clock: ManualClock, admin_ids: frozenset[int]) -> None:
        self.fake, self.clock = fake, clock
        self.settings = Settings(
            bot_token=fake.token, database_url=database_url, telegram_api_url=fake.url,
            timezone=ZoneInfo("Asia/Shanghai"), default_language="en", admin_telegram_ids=admin_ids,
            policy_file=DEFAULT_POLICY_FILE,
        )
        self.policy = load_policy(DEFAULT_POLICY_FILE)
        self.db = Database(database_url, before_commit=ClockKeeper(self.policy, self.settings.timezone))  # the test's own view of the data
        self.app = None

    async def start(self) -> None:
        self.app = build_application(self.settings, self.policy, self.clock, sweeps=False, limits=TEST_LIMITS)
        await self.app.initialize()
        await self.app.post_init(self.app)  # run_polling() calls it; we start the parts by hand
        await self.app.start()
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1)
        self.fake.watch(self.app)  # user actions return once this app has handled the update
        await self.fake.settle()

    async def stop(self) -> None:
        if self.app is None:
            return
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.post_stop(self.app)
        await self.app.shutdown()
        await self.app.post_shutdown(self.app)
        self.app = None

    async def sweep(self) -> int:
        """What the scheduler does every minute, run now (the test moves the clock itself)."""
        count = await sweep(self.app)
        await self.fake.settle()
        return count

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(token="123456:TEST-TOKEN", bot_username="service_desk_bot")
    server.global_rate_limit = TEST_LIMITS.overall_per_second
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def desk(fake: FakeTelegram, database_url: str, clock: ManualClock) -> AsyncIterator[Desk]:
    fake.add_user(user_id=DISPATCHER_ID, first_name="Dora", language_code="en")
    fake.add_user(user_id=SECOND_DISPATCHER_ID, first_name="Wang", language_code="zh-hans")
    desk = Desk(fake, database_url, clock, frozenset({DISPATCHER_ID, SECOND_DISPATCHER_ID}))
    await desk.start()
    yield desk
    await desk.stop()
    await desk.db.dispose()
