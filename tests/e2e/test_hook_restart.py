"""A PostgreSQL restart, a failover or an idle-session kill drops every pooled connection of the
desk. The database is up again; the desk must not lose the next update nor call the database down."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.app import build_application, run_outbox_round, run_sweep
from bot.config import DEFAULT_POLICY_FILE
from bot.ops.webhook import WebhookDesk
from bot.policy import load_policy
from storage.db import Database
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import t
from tests.e2e.test_webhook import WebhookHarness

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]
APOLOGY = t("en", "Sorry, something went wrong on our side. What you sent before is saved; please try again in a moment.")
OTHER_SESSIONS = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


async def _restart_the_database(db: Database, *, wait: bool = True) -> None:
    """What a PostgreSQL restart (or failover, or idle_session_timeout) does to the desk's pooled
    connections: the server ends every other session. `wait`: return once they are gone, as the
    next update finds them after a real restart; without it the next update comes an instant later."""
    async with db.uow() as uow:
        killed = await uow.session.scalar(text(f"SELECT count(pg_terminate_backend(pid)) {OTHER_SESSIONS}"))
        assert killed >= 1, "the desk held no pooled connection to cut"
        for _ in range(200 if wait else 0):
            if not await uow.session.scalar(text(f"SELECT count(*) {OTHER_SESSIONS}")):
                break
            await asyncio.sleep(0.01)


class QuietHarness(WebhookHarness):
    """The webhook harness without the scheduler: nothing but the update and the probe takes a pooled connection."""

    def __init__(self, fake, database_url, clock) -> None:
        super().__init__(fake, database_url, clock)
        self.app = build_application(self.settings, load_policy(DEFAULT_POLICY_FILE), clock, sweeps=False)
        self.desk = WebhookDesk(self.app, self.settings)


@pytest.fixture
async def quiet_hook(fake, database_url, clock):
    fake.add_user(user_id=DISPATCHER_ID, first_name="Dora", language_code="en")
    harness = QuietHarness(fake, database_url, clock)
    await harness.start()
    yield harness
    await harness.stop()
    await harness.db.dispose()


async def test_after_the_database_restarts_the_next_updates_are_handled_not_lost(desk, fake):
    alice = fake.add_user(user_id=3101, first_name="Alice", language_code="en")
    await alice.send_text("/start")
    await _restart_the_database(desk.db)
    for _ in range(3):  # the first one meets the dropped connection; none may fail
        before = len(alice.messages)
        await alice.send_text("/help")
        new = [m.text for m in alice.messages[before:]]
        assert new and not any(APOLOGY in text for text in new), new


async def test_an_update_right_as_the_server_drops_the_connections_is_handled_not_lost(desk, fake):
    """The server's goodbye has arrived, its socket not yet closed: the claim meets the dead
    connection and is tried again on a fresh one (UnitOfWork.claim_update)."""
    alice = fake.add_user(user_id=3105, first_name="Alice", language_code="en")
    await alice.send_text("/start")
    for _ in range(3):
        await _restart_the_database(desk.db, wait=False)
        before = len(alice.messages)
        await alice.send_text("/help")
        new = [m.text for m in alice.messages[before:]]
        assert new and not any(APOLOGY in text for text in new), new


async def test_webhook_after_the_database_restarts_the_next_update_is_handled_before_its_200(quiet_hook, fake):
    """The webhook answers 200 after handling; an update the dropped connection failed would be gone for good."""
    alice = fake.add_user(user_id=3103, first_name="Alice", language_code="en")
    await alice.send_text("/start")
    await _restart_the_database(quiet_hook.db)
    before = len(alice.messages)
    await alice.send_text("/help")
    await fake.settle()
    assert alice.update_ids[-1] in await quiet_hook.handled_update_ids()
    shown = [m.text for m in alice.messages[before:]]
    assert shown and not any(APOLOGY in text for text in shown), shown


@pytest.mark.parametrize("wait", [True, False], ids=["restarted", "an_instant_after"])
async def test_health_calls_the_database_ok_once_it_is_back_up(quiet_hook, wait):
    status, body = await quiet_hook.health()
    assert (status, body["database"]) == (200, "ok")
    for _ in range(3):
        await _restart_the_database(quiet_hook.db, wait=wait)
        status, body = await quiet_hook.health()
        assert (status, body["database"]) == (200, "ok"), body


async def test_a_sweep_and_an_outbox_round_right_after_the_restart_work(desk, fake):
    """Were they to fail, the scheduler would log it and run them again later (bot.scheduler._logged)."""
    alice = fake.add_user(user_id=3104, first_name="Alice", language_code="en")
    await alice.send_text("/start")
    for round_ in (run_sweep, run_outbox_round):
        await _restart_the_database(desk.db)
        await round_(desk.app)


async def test_webhook_an_update_the_unreachable_database_failed_is_delivered_again_and_handled(quiet_hook, fake):
    """A database down for a moment (a failover, a restart slower than the update) fails the
    update before its commit. Answered 200, Telegram would drop it for good; answered 503, it is
    delivered again and handled once the database is back. No apology meanwhile: it would ask the
    person to send again what is already on its way."""
    alice = fake.add_user(user_id=3106, first_name="Alice", language_code="en")
    await alice.send_text("/start")
    database = quiet_hook.db.engine.url.database  # closed to new sessions from a session on another database
    control = Database(quiet_hook.db.engine.url.set(database="postgres").render_as_string(hide_password=False))
    try:
        async with control.engine.connect() as admin:
            await admin.execution_options(isolation_level="AUTOCOMMIT")
            await admin.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            await admin.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                                {"name": database})
            before = len(alice.messages)
            update_id = await alice.send_text("/help", wait=False) and alice.update_ids[-1]
            for _ in range(500):  # until the desk has failed the update at least once
                if fake.webhook.last_error_message:
                    break
                await asyncio.sleep(0.01)
            assert "503" in (fake.webhook.last_error_message or ""), fake.webhook.last_error_message
            await admin.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        await fake.wait_handled(update_id)
    finally:
        async with control.engine.connect() as admin:
            await admin.execution_options(isolation_level="AUTOCOMMIT")
            await admin.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        await control.dispose()
    await fake.settle()
    assert update_id in await quiet_hook.handled_update_ids()
    shown = [m.text for m in alice.messages[before:]]
    assert any("/my" in text for text in shown), shown  # the help text, once the database answered
    assert not any(APOLOGY in text for text in shown), shown
