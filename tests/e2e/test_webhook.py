"""Webhook mode end to end: the fake Bot API POSTs updates to the bot's own HTTP server."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

import bot.ops.health as health_module
import tests.fakebot.methods as fake_methods
from bot.app import LAST_SWEEP_KEY, SCHEDULER_KEY, build_application
from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE, ConfigError, Settings
from bot.ops.webhook import SECRET_HEADER, WebhookDesk, serve
from bot.policy import load_policy
from storage.db import Database
from storage.models import ProcessedUpdate
from tests.e2e.conftest import DISPATCHER_ID
from tests.fakebot import FakeTelegram
from tests.fakebot.objects import command_entities
from tests.fakebot.validation import bad_request

SECRET = "desk-secret_0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebhookHarness:
    def __init__(self, fake: FakeTelegram, database_url: str, clock: ManualClock) -> None:
        port = _free_port()
        self.fake, self.clock, self.base = fake, clock, f"http://127.0.0.1:{port}"
        self.settings = Settings(
            bot_token=fake.token, database_url=database_url, telegram_api_url=fake.url,
            timezone=ZoneInfo("Asia/Shanghai"), default_language="en", admin_telegram_ids=frozenset({DISPATCHER_ID}),
            policy_file=DEFAULT_POLICY_FILE, webhook_url=f"{self.base}/tg-hook", webhook_secret=SECRET,
            webhook_listen="127.0.0.1", webhook_port=port, webhook_path="/tg-hook",
        )
        self.app = build_application(self.settings, load_policy(DEFAULT_POLICY_FILE), clock, sweeps=True)
        self.desk = WebhookDesk(self.app, self.settings)
        self.db = Database(database_url)
        self.running = False

    async def start(self) -> None:
        await self.desk.start()
        self.running = True
        self.fake.watch(self.app)
        await self.fake.settle()

    async def stop(self) -> None:
        if self.running:
            self.running = False
            await self.desk.stop()

    async def post(self, update: dict, secret: str | None) -> int:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.base}/tg-hook", json=update, headers=headers) as response:
                return response.status

    async def health(self) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.base}/healthz") as response:
                return response.status, await response.json()

    async def handled_update_ids(self) -> set[int]:
        async with self.db.uow() as uow:
            return set((await uow.session.execute(select(ProcessedUpdate.update_id))).scalars())


@pytest.fixture
async def hook(fake: FakeTelegram, database_url: str, clock: ManualClock) -> AsyncIterator[WebhookHarness]:
    fake.add_user(user_id=DISPATCHER_ID, first_name="Dora", language_code="en")
    harness = WebhookHarness(fake, database_url, clock)
    await harness.start()
    yield harness
    await harness.stop()
    await harness.db.dispose()


def _start_update(user, update_id: int) -> dict:
    message = {"message_id": 500 + update_id, "from": user.user_object, "chat": user.chat_object,
               "date": 1_772_415_000, "text": "/start", "entities": command_entities("/start")}
    return {"update_id": update_id, "message": message}


async def test_start_up_registers_the_webhook_with_the_secret_and_all_update_types(hook, fake):
    call = fake.calls("setWebhook")[-1]
    assert call.params["url"] == hook.settings.webhook_url
    assert call.params["secret_token"] == SECRET
    assert {"message", "callback_query", "edited_message"} <= set(call.params["allowed_updates"])
    assert fake.webhook is not None and fake.webhook.url == hook.settings.webhook_url
    assert not fake.calls("getUpdates")  # no polling in webhook mode


async def test_updates_without_the_right_secret_are_refused_with_403_and_not_handled(hook, fake):
    alice = fake.add_user(user_id=3001, first_name="Alice")
    assert await hook.post(_start_update(alice, 7001), secret=None) == 403
    assert await hook.post(_start_update(alice, 7002), secret="wrong-secret") == 403
    assert await hook.post(_start_update(alice, 7003), secret=SECRET[:-1]) == 403
    await fake.settle()
    assert alice.messages == []
    assert not {7001, 7002, 7003} & await hook.handled_update_ids()

    # The fake delivers as Telegram does, with the secret: handled and answered.
    await alice.send_text("/start")
    assert alice.messages, "the bot answered the update delivered with the secret"
    assert alice.update_ids[-1] in await hook.handled_update_ids()
    fake.assert_no_rejections()


async def test_an_update_posted_twice_is_handled_once(hook, fake):
    alice = fake.add_user(user_id=3002, first_name="Alice")
    assert await hook.post(_start_update(alice, 7100), secret=SECRET) == 200
    await fake.settle()
    answered = len(alice.messages)
    assert answered >= 1
    assert await hook.post(_start_update(alice, 7100), secret=SECRET) == 200  # Telegram's retry
    await fake.settle()
    assert len(alice.messages) == answered


async def test_health_reports_database_scheduler_and_the_age_of_the_last_update(hook, fake, clock):
    status, body = await hook.health()
    assert status == 200
    assert body["database"] == "ok" and body["scheduler"] == "alive" and body["status"] == "ok"
    assert body["last_update_age_seconds"] is None  # nothing received yet

    alice = fake.add_user(user_id=3003, first_name="Alice")
    await alice.send_text("/start")
    clock.advance(timedelta(seconds=95))
    status, body = await hook.health()
    assert status == 200 and body["last_update_age_seconds"] == 95

    hook.app.bot_data[SCHEDULER_KEY].shutdown(wait=False)
    status, body = await hook.health()
    assert status == 503
    assert body["scheduler"] == "stopped" and body["status"] == "unhealthy" and body["database"] == "ok"


async def test_a_stale_scheduler_is_unhealthy(hook, clock):
    for _ in range(500):  # the first sweep runs at start-up, beside the test
        if LAST_SWEEP_KEY in hook.app.bot_data:
            break
        await asyncio.sleep(0.01)
    status, body = await hook.health()
    assert status == 200 and body["last_sweep_age_seconds"] is not None
    clock.advance(timedelta(minutes=10))  # no sweep finished for ten minutes (the test's clock moved, not the scheduler's)
    status, body = await hook.health()
    assert status == 503 and body["scheduler"] == "stale"


async def test_the_webhook_answers_once_the_update_is_handled(hook, fake):
    """200 means handled: Telegram then forgets the update, so nothing may be left to do."""
    alice = fake.add_user(user_id=3005, first_name="Alice")
    assert await hook.post(_start_update(alice, 7150), secret=SECRET) == 200
    assert 7150 in await hook.handled_update_ids()  # committed before the answer, not after
    assert alice.messages, "the reply went out before the answer"


async def test_stopping_finishes_the_update_in_hand_and_leaves_the_waiting_ones_to_telegram(hook, fake):
    alice = fake.add_user(user_id=3004, first_name="Alice")
    bob = fake.add_user(user_id=3006, first_name="Bob")
    release, held = asyncio.Event(), asyncio.Event()

    async def slow_first(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.update_id == 7201:
            held.set()
            await release.wait()

    hook.app.add_handler(TypeHandler(Update, slow_first), group=-2)
    in_hand = asyncio.create_task(hook.post(_start_update(alice, 7201), secret=SECRET))
    try:
        await asyncio.wait_for(held.wait(), 10)
        waiting = [asyncio.create_task(hook.post(_start_update(user, update_id), secret=SECRET))
                   for user, update_id in ((alice, 7202), (bob, 7203))]
        while hook.desk.server.waiting < 2:  # both arrived and wait for their turn
            await asyncio.sleep(0.01)
        stopping = asyncio.create_task(hook.stop())
        await asyncio.sleep(0.05)
    finally:
        release.set()
    assert await in_hand == 200
    assert [await task for task in waiting] == [503, 503]  # Telegram keeps them and delivers them again
    await stopping
    handled = await hook.handled_update_ids()
    assert 7201 in handled and not {7202, 7203} & handled
    assert alice.messages and bob.messages == []


async def test_sweeps_failing_from_the_first_one_make_the_scheduler_stale(fake, database_url, clock, monkeypatch):
    import bot.app

    runs = []

    async def failing_sweep(app, send=True):  # e.g. a bad row makes every sweep raise from the start
        runs.append(1)
        raise RuntimeError("sweep failed")

    monkeypatch.setattr(bot.app, "sweep", failing_sweep)
    fake.add_user(user_id=DISPATCHER_ID, first_name="Dora", language_code="en")
    hook = WebhookHarness(fake, database_url, clock)
    await hook.start()
    try:
        for _ in range(500):
            if runs:
                break
            await asyncio.sleep(0.01)
        assert runs and LAST_SWEEP_KEY not in hook.app.bot_data  # it ran, and never finished
        status, body = await hook.health()
        assert status == 200  # just started: not stale yet
        clock.advance(timedelta(minutes=30))
        status, body = await hook.health()
    finally:
        await hook.stop()
        await hook.db.dispose()
    assert (status, body["scheduler"]) == (503, "stale")


async def test_health_does_not_call_the_database_down_while_an_update_holds_its_transaction(fake, database_url, clock, monkeypatch):
    """The probe only reads: on SQLite it must not queue for the write lock that a long update
    (e.g. a reply waiting out a 429 inside its transaction) holds."""
    monkeypatch.setattr(health_module, "DATABASE_TIMEOUT_SECONDS", 0.5)  # 5 s in production
    fake.add_user(user_id=DISPATCHER_ID, first_name="Dora", language_code="en")
    hook = WebhookHarness(fake, database_url, clock)
    await hook.start()
    deps = hook.app.bot_data["deps"]
    held, release = asyncio.Event(), asyncio.Event()

    async def a_long_update() -> None:
        async with deps.db.uow() as uow:
            await uow.updates.claim(7301, clock.now())
            held.set()
            await release.wait()
            await uow.commit()

    task = asyncio.create_task(a_long_update())
    try:
        await asyncio.wait_for(held.wait(), 10)
        status, body = await hook.health()
    finally:
        release.set()
        await task
        await hook.stop()
        await hook.db.dispose()
    assert (status, body["database"]) == (200, "ok"), body


@pytest.mark.parametrize("body", [
    "[]", "null", '"an update"', "{not json", '{"update_id": 7401, "message": "x"}',
    '{"update_id": 7402, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}, "date": 100000000000000000000}}',
])
async def test_a_body_that_is_not_an_update_is_answered_200_and_dropped(hook, fake, body, caplog):
    """Telegram delivers again whatever is not answered 2xx: a body that cannot be read now never
    will be, so a 4xx (or a 500 and a traceback) would have it sent again and again."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{hook.base}/tg-hook", data=body, headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"}) as response:
            assert response.status == 200
    assert "not an update" in caplog.text and "Traceback" not in caplog.text
    assert not {7401, 7402} & await hook.handled_update_ids()
    alice = fake.add_user(user_id=3007, first_name="Alice")
    await alice.send_text("/start")  # the next update is handled as usual
    assert alice.messages


async def test_a_webhook_url_telegram_refuses_is_a_setting_to_fix_and_the_desk_stops_cleanly(fake, database_url, clock, monkeypatch):
    """`servicedesk` prints it as one line and exits with code 2 (tests/e2e/test_process.py)."""
    def as_telegram_answers(url, secret):
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")

    monkeypatch.setattr(fake_methods, "check_webhook_params", as_telegram_answers)
    fake.add_user(user_id=DISPATCHER_ID, first_name="Dora", language_code="en")
    hook = WebhookHarness(fake, database_url, clock)
    try:
        with pytest.raises(ConfigError) as refused:
            await serve(hook.app, hook.settings)
    finally:
        await hook.db.dispose()
    assert refused.value.setting == "WEBHOOK_URL" and "ports 80, 88, 443 or 8443" in str(refused.value)
    assert not hook.app.running and SCHEDULER_KEY not in hook.app.bot_data  # the scheduler is shut down
    with socket.socket() as again:  # and the server is gone: its port is free
        again.bind(("127.0.0.1", hook.settings.webhook_port))


APOLOGY = "Sorry, something went wrong on our side."
HELP_LINE = "/my — your requests"


async def test_an_update_telegram_failed_before_its_commit_is_answered_503_and_delivered_again(hook, fake):
    """Telegram's API failed the reply (a 502, twice): nothing was committed.
    Answered 200, the update would be gone; answered 503, Telegram delivers it again and the
    person gets the answer once, with no apology asking them to send it again."""
    alice = fake.add_user(user_id=3007, first_name="Alice", language_code="en")
    await alice.send_text("/start")
    fake.inject_error(502, "Bad Gateway", times=2, method="sendMessage", chat_id=alice.id)
    before = len(alice.messages)
    await alice.send_text("/help")
    await alice.wait_for(HELP_LINE)
    await fake.settle()
    assert "503" in (fake.webhook.last_error_message or ""), fake.webhook.last_error_message
    shown = [m.text for m in alice.messages[before:]]
    assert sum(HELP_LINE in text for text in shown) == 1, shown
    assert not any(APOLOGY in text for text in shown), shown
    assert alice.update_ids[-1] in await hook.handled_update_ids()


async def test_an_update_a_handler_fails_on_its_own_gets_the_apology_and_200(hook, fake):
    """A mistake of ours would fail every delivery the same way: the person is told, Telegram is not asked again."""
    alice = fake.add_user(user_id=3008, first_name="Alice", language_code="en")

    async def broken(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.update_id == 7301:
            raise ValueError("a handler's own mistake")

    hook.app.add_handler(TypeHandler(Update, broken), group=-2)
    assert await hook.post(_start_update(alice, 7301), secret=SECRET) == 200
    assert any(APOLOGY in m.text for m in alice.messages)
    assert fake.webhook.last_error_message is None
