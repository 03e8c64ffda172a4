"""The outbox sender against the fake Bot API: bursts, a sender killed mid-burst, 429s and 403s.

Telegram's limits run ten times faster here (`TELEGRAM_LIMITS.scaled(10)` on our side, a 0.1 s
window on the fake's): 30 messages per window overall and one per window per chat, the real
counts, so a burst of 1,000 takes a few seconds instead of half a minute. The fake answers 429 to
any call over those limits, so a sender that overstepped them would be caught.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE, Settings
from bot.flood import TELEGRAM_LIMITS, FloodLimits
from bot.policy import load_policy
from bot.services import notices, users
from bot.views import View
from handlers.common import DEPS_KEY
from handlers import outbox
from handlers.outbox import deliver, deliver_now
from storage.db import Database
from storage.models import Customer, OutboxMessage, ServiceRequest, User, UserRole
from tests.fakebot import FakeTelegram

SPEED = 10
PEOPLE, EACH = 100, 10
FIRST_ID = 70_000


def _settings(fake: FakeTelegram, database_url: str) -> Settings:
    return Settings(
        bot_token=fake.token, database_url=database_url, telegram_api_url=fake.url,
        timezone=ZoneInfo("Asia/Shanghai"), default_language="en", admin_telegram_ids=frozenset(),
        policy_file=DEFAULT_POLICY_FILE,
    )


async def _stop_as_run_polling_does(app) -> None:
    await app.stop()
    await app.post_stop(app)
    await app.shutdown()
    await app.post_shutdown(app)


class Sender:
    """One bot process used only for its outbox sender (no polling: nothing else runs)."""

    def __init__(self, fake: FakeTelegram, database_url: str, clock: ManualClock, limits: FloodLimits = TELEGRAM_LIMITS.scaled(SPEED)) -> None:
        self.app = build_application(_settings(fake, database_url), load_policy(DEFAULT_POLICY_FILE), clock, sweeps=False, limits=limits)
        self.deps = self.app.bot_data[DEPS_KEY]

    async def __aenter__(self) -> Sender:
        await self.app.initialize()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.app.shutdown()
        await self.deps.db.dispose()

    async def deliver(self) -> int:
        return await deliver(self.app.bot, self.deps, self.deps.clock.now())


@pytest.fixture
def telegram(fake: FakeTelegram) -> FakeTelegram:
    fake.rate_window = 1.0 / SPEED
    fake.global_rate_limit = TELEGRAM_LIMITS.overall_per_second
    fake.chat_rate_limit = 1
    return fake


async def _people(database: Database, fake: FakeTelegram, clock: ManualClock, count: int) -> list[User]:
    async with database.uow() as uow:
        people = []
        for i in range(count):
            fake.add_user(FIRST_ID + i, f"P{i}")
            people.append(await users.touch(uow, FIRST_ID + i, f"P{i}", None, "en", "en", clock.now()))
        await uow.commit()
    return people


async def _burst(database: Database, people: list[User], clock: ManualClock) -> None:
    """EACH notifications per person, created interleaved (person 0, 1, … then again)."""
    async with database.uow() as uow:
        for n in range(EACH):
            for person in people:
                payload = View(f"notice {person.telegram_id}/{n}").to_payload() | {"photos": [], "voices": []}
                assert await notices.queue(uow, person, notices.VIEW, payload, f"test:{person.id}:{n}", clock.now())
        await uow.commit()


async def _notify(database: Database, person: User, text: str, key: str, clock: ManualClock) -> None:
    async with database.uow() as uow:
        payload = View(text).to_payload() | {"photos": [], "voices": []}
        assert await notices.queue(uow, person, notices.VIEW, payload, key, clock.now())
        await uow.commit()


def _received(fake: FakeTelegram, person: User) -> list[int]:
    return [int(message.text.split("/")[1]) for message in fake.messages_to(person.telegram_id) if message.text.startswith("notice")]


def _delivered(fake: FakeTelegram) -> int:
    return sum(call.error_code is None for call in fake.calls("sendMessage"))


async def _outbox(database: Database) -> list[SimpleNamespace]:
    async with database.uow() as uow:
        rows = await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [SimpleNamespace(user_id=r.user_id, sent_at=r.sent_at, failure=r.failure, claimed_until=r.claimed_until) for r in rows]


async def test_a_burst_of_1000_is_delivered_completely_in_order_within_the_limits(database, database_url, telegram, clock):
    people = await _people(database, telegram, clock, PEOPLE)
    await _burst(database, people, clock)
    async with Sender(telegram, database_url, clock) as sender:
        assert await sender.deliver() == PEOPLE * EACH
    assert telegram.rejections == []  # never over 30 per window overall or 1 per window per chat
    for person in people:
        assert _received(telegram, person) == list(range(EACH))
    assert all(row.sent_at is not None and row.failure is None for row in await _outbox(database))


async def test_a_sender_killed_mid_burst_resumes_without_loss_or_duplicates(database, database_url, telegram, clock):
    people = await _people(database, telegram, clock, PEOPLE)
    await _burst(database, people, clock)
    async with Sender(telegram, database_url, clock) as sender:
        burst = asyncio.ensure_future(sender.deliver())
        while _delivered(telegram) < 400:
            await asyncio.sleep(0.01)
        burst.cancel()
        with pytest.raises(asyncio.CancelledError):
            await burst
    sent_before = _delivered(telegram)
    rows = await _outbox(database)
    assert 400 <= sent_before < PEOPLE * EACH
    assert sum(row.sent_at is not None for row in rows) == sent_before  # what went out is recorded, nothing more
    assert all(row.claimed_until is None for row in rows if row.sent_at is None)  # released for the next sender at once

    async with Sender(telegram, database_url, clock) as restarted:  # the process comes back
        assert await restarted.deliver() == PEOPLE * EACH - sent_before
    for person in people:
        assert _received(telegram, person) == list(range(EACH))
    assert telegram.rejections == []


async def test_stopping_the_desk_mid_burst_ends_its_outbox_round_and_releases_the_rest(database, database_url, telegram, clock):
    """The background round (started by the scheduler, as deployed) is ended by a shutdown in the
    order run_polling uses: it once waited forever for a slot of a rate limiter already shut down."""
    people = await _people(database, telegram, clock, PEOPLE)
    await _burst(database, people, clock)
    app = build_application(_settings(telegram, database_url), load_policy(DEFAULT_POLICY_FILE), clock, limits=TELEGRAM_LIMITS.scaled(SPEED))
    await app.initialize()
    await app.post_init(app)  # starts the scheduler: the outbox round runs every second
    await app.start()
    while _delivered(telegram) < 100:
        await asyncio.sleep(0.01)

    await asyncio.wait_for(_stop_as_run_polling_does(app), timeout=15)
    sent_before = _delivered(telegram)
    await asyncio.sleep(0.3)
    assert _delivered(telegram) == sent_before  # nothing goes out once the desk has stopped
    rows = await _outbox(database)
    assert 100 <= sent_before < PEOPLE * EACH
    assert sum(row.sent_at is not None for row in rows) == sent_before
    assert all(row.claimed_until is None for row in rows if row.sent_at is None)

    async with Sender(telegram, database_url, clock) as restarted:
        assert await restarted.deliver() == PEOPLE * EACH - sent_before
    for person in people:
        assert _received(telegram, person) == list(range(EACH))


async def test_stopping_while_telegram_asks_to_wait_releases_the_notifications_at_once(database, database_url, telegram, clock):
    people = await _people(database, telegram, clock, 5)
    await _burst(database, people, clock)
    telegram.inject_flood(retry_after=30, times=1, method="sendMessage")
    app = build_application(_settings(telegram, database_url), load_policy(DEFAULT_POLICY_FILE), clock, limits=TELEGRAM_LIMITS.scaled(SPEED))
    await app.initialize()
    await app.post_init(app)
    await app.start()
    while not any(call.error_code == 429 for call in telegram.calls("sendMessage")):
        await asyncio.sleep(0.01)
    # 30 s of Telegram's pause (at the real pace: the retry_after is not scaled) would outlast
    # systemd's stop timeout; the waiting notifications are given back instead of waited for.
    await asyncio.wait_for(_stop_as_run_polling_does(app), timeout=5)
    sent = _delivered(telegram)
    rows = await _outbox(database)
    assert sum(row.sent_at is not None for row in rows) == sent < len(rows)
    assert all(row.claimed_until is None for row in rows if row.sent_at is None)


async def test_a_failing_person_releases_their_rows_and_a_sent_message_is_recorded_through_a_busy_database(
        database, database_url, telegram, clock, monkeypatch):
    people = await _people(database, telegram, clock, 2)
    await _burst(database, people, clock)
    compose, close = outbox._compose, outbox._close
    failures = {"compose": 1, "close": 2}

    async def failing_compose(deps, uow, person, rows, now):
        if person.id == people[0].id and failures["compose"]:
            failures["compose"] -= 1
            raise TimeoutError("the database stayed busy for 15 s")
        return await compose(deps, uow, person, rows, now)

    async def busy_close(uow, ids, now, failure=None):
        if failure is None and failures["close"]:  # recording a sent message
            failures["close"] -= 1
            raise TimeoutError("the database stayed busy for 15 s")
        return await close(uow, ids, now, failure)

    monkeypatch.setattr(outbox, "_compose", failing_compose)
    monkeypatch.setattr(outbox, "_close", busy_close)
    async with Sender(telegram, database_url, clock) as sender:
        with pytest.raises(TimeoutError):
            await sender.deliver()
        mine = [row for row in await _outbox(database) if row.user_id == people[0].id]
        assert all(row.sent_at is None and row.claimed_until is None for row in mine)  # not held for the 5-minute lease
        await sender.deliver()
    for person in people:
        assert _received(telegram, person) == list(range(EACH))  # each once: the busy recordings were retried
    assert all(row.sent_at is not None for row in await _outbox(database))


async def test_a_429_delays_the_message_by_at_least_retry_after(database, database_url, telegram, clock):
    people = await _people(database, telegram, clock, 2)
    await _burst(database, people, clock)
    flooded = people[0].telegram_id
    telegram.inject_flood(retry_after=1, times=1, method="sendMessage", chat_id=flooded)
    async with Sender(telegram, database_url, clock) as sender:
        assert await sender.deliver() == 2 * EACH
    calls = [call for call in telegram.calls("sendMessage") if call.params["chat_id"] == flooded]
    refused = next(call for call in calls if call.error_code == 429)
    retried = calls[calls.index(refused) + 1]
    assert retried.error_code is None and retried.time - refused.time >= 1.0
    assert _received(telegram, people[0]) == list(range(EACH))


async def test_429s_beyond_the_retries_hold_the_persons_messages_until_retry_after(database, database_url, telegram, clock):
    people = await _people(database, telegram, clock, 2)
    await _burst(database, people, clock)
    flooded = people[0].telegram_id
    telegram.inject_flood(retry_after=1, times=TELEGRAM_LIMITS.max_retries + 1, method="sendMessage", chat_id=flooded)
    async with Sender(telegram, database_url, clock) as sender:
        assert await sender.deliver() == EACH  # the other person's
        assert _received(telegram, people[0]) == []
        assert await sender.deliver() == 0  # still held: Telegram asked to wait
        rows = [row for row in await _outbox(database) if row.user_id == people[0].id]
        held = [row for row in rows if row.claimed_until is not None]
        assert all(row.sent_at is None for row in rows) and held  # the round's rows held, the later ones behind them
        assert all(row.claimed_until == clock.now() + timedelta(seconds=1) for row in held)
        clock.advance(timedelta(seconds=2))
        assert await sender.deliver() == EACH
    assert _received(telegram, people[0]) == list(range(EACH))


async def test_a_blocked_customer_is_marked_unreachable_and_the_dispatchers_are_told_once(database, database_url, telegram, clock):
    now = clock.now()
    async with database.uow() as uow:
        dispatchers = []
        for telegram_id, name in ((81, "Dora"), (82, "Wang")):
            telegram.add_user(telegram_id, name)
            dispatchers.append(await uow.users.add(User(telegram_id=telegram_id, first_name=name, language="en", created_at=now, roles=[UserRole(role="dispatcher")])))
        await uow.commit()
    customer_user = (await _people(database, telegram, clock, 1))[0]
    async with database.uow() as uow:
        customer = await uow.customers.add(Customer(user_id=customer_user.id, name="Li Farm", phone="+8613800138000", created_at=now))
        uow.session.add(ServiceRequest(number="SR-2026-000042", kind="repair", status="assigned", customer_id=customer.id, description="Pump",
                                       created_by_user_id=customer_user.id, created_at=now, updated_at=now))
        await uow.commit()
    await _burst(database, [customer_user], clock)
    telegram.block(customer_user.telegram_id)
    async with Sender(telegram, database_url, clock) as sender:
        await sender.deliver()
        await sender.deliver()
        async with database.uow() as uow:
            assert (await uow.users.get(customer_user.id)).is_reachable is False
            assert await notices.queue(uow, await uow.users.get(customer_user.id), notices.VIEW, {"text": "x"}, "late", now) is False
        for dispatcher in dispatchers:
            alerts = [m.text for m in telegram.messages_to(dispatcher.telegram_id)]
            assert len(alerts) == 1 and "Li Farm" in alerts[0] and "+8613800138000" in alerts[0] and "SR-2026-000042" in alerts[0]
        rows = [row for row in await _outbox(database) if row.user_id == customer_user.id]
        assert [row.failure for row in rows] == ["blocked"] * EACH

        # They unblock and write to us, then block the bot again: a new block, a new alert.
        telegram.unblock(customer_user.telegram_id)
        async with database.uow() as uow:
            await users.touch(uow, customer_user.telegram_id, "P0", None, "en", "en", now)
            await notices.queue(uow, await uow.users.get(customer_user.id), notices.VIEW, View("again").to_payload(), "again", now)
            await uow.commit()
        telegram.block(customer_user.telegram_id)
        clock.advance(timedelta(minutes=1))
        await sender.deliver()
        await sender.deliver()
    assert [len(telegram.messages_to(d.telegram_id)) for d in dispatchers] == [2, 2]


async def test_a_card_whose_album_failed_is_not_sent_again(database, database_url, telegram, clock):
    telegram.chat_rate_limit = None  # the album follows the card at once, as Telegram allows
    person = (await _people(database, telegram, clock, 1))[0]
    async with database.uow() as uow:
        payload = View("New request SR-1 with photos").to_payload() | {"photos": ["https://example.com/a.jpg", "https://example.com/b.jpg"], "voices": []}
        assert await notices.queue(uow, person, notices.VIEW, payload, "card", clock.now())
        await uow.commit()
    telegram.inject_flood(retry_after=1, times=TELEGRAM_LIMITS.max_retries + 1, method="sendMediaGroup")
    async with Sender(telegram, database_url, clock) as sender:
        await sender.deliver()
        clock.advance(timedelta(seconds=5))
        await sender.deliver()
    assert [m.text for m in telegram.messages_to(person.telegram_id) if m.text] == ["New request SR-1 with photos"]
    async with database.uow() as uow:
        [row] = list(await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.key == "card")))
        assert row.sent_at is not None and row.failure is None


async def test_a_long_notification_whose_second_piece_fails_is_not_sent_twice(database, database_url, telegram, clock):
    telegram.chat_rate_limit = None  # the pieces of one message follow each other at once
    person = (await _people(database, telegram, clock, 1))[0]
    await _notify(database, person, "first piece " + "x" * 4000 + "\nSECOND piece " + "y" * 200, "long", clock)
    telegram.inject_error(500, "Internal Server Error", method="sendMessage", when=lambda params: params["text"].startswith("SECOND"))
    async with Sender(telegram, database_url, clock) as sender:
        assert await sender.deliver() == 0
        clock.advance(outbox.NETWORK_RETRY + timedelta(seconds=1))
        assert await sender.deliver() == 1
    texts = [m.text for m in telegram.messages_to(person.telegram_id)]
    assert [text.split()[0] for text in texts] == ["first", "SECOND"]  # each piece once, in order
    [row] = await _outbox(database)
    assert row.sent_at is not None and row.failure is None


async def test_a_long_notification_whose_later_piece_is_refused_is_closed_with_what_arrived(database, database_url, telegram, clock):
    telegram.chat_rate_limit = None
    person = (await _people(database, telegram, clock, 1))[0]
    await _notify(database, person, "first piece " + "x" * 4000 + "\nSECOND piece " + "y" * 200, "long", clock)
    telegram.inject_error(400, "Bad Request: can't parse entities", method="sendMessage", when=lambda params: params["text"].startswith("SECOND"))
    async with Sender(telegram, database_url, clock) as sender:
        assert await sender.deliver() == 0
        clock.advance(timedelta(minutes=10))
        assert await sender.deliver() == 0  # trying again would only repeat what arrived
    assert [m.text.split()[0] for m in telegram.messages_to(person.telegram_id)] == ["first"]
    [row] = await _outbox(database)
    assert row.sent_at is not None and row.failure == "rejected"


async def test_two_processes_keep_one_a_second_to_one_person(database, database_url, telegram, clock):
    """Telegram's pace is counted in real time: the fake's window and each process's rate limiter
    run on the wall clock (ten times faster here), while the desk's injected clock stands still.
    Each update's after-commit delivery lands on the other process, 50 ms (half the pace) after
    the last: only what the database tells the second process can keep it from writing too soon."""
    person = (await _people(database, telegram, clock, 1))[0]
    async with Sender(telegram, database_url, clock) as a, Sender(telegram, database_url, clock) as b:
        for n in range(10):
            await _notify(database, person, f"notice {person.telegram_id}/{n}", f"update:{n}", clock)
            sender = (a, b)[n % 2]
            await deliver_now(sender.app.bot, sender.deps, {person.id})
            await asyncio.sleep(0.05)
        await a.deliver()  # what had to wait for the pace: the background round
    calls = [c for c in telegram.calls("sendMessage") if c.params["chat_id"] == person.telegram_id]
    ok = [c for c in calls if c.error_code is None]
    gaps = [round(later.time - earlier.time, 3) for earlier, later in zip(ok, ok[1:])]
    assert telegram.rejections == [] and min(gaps) >= 0.095, f"429s: {len(telegram.rejections)}; gaps: {gaps}"
    assert _received(telegram, person) == list(range(10))


async def test_a_person_just_notified_by_one_process_waits_for_the_pace_on_another(database, database_url, telegram, clock):
    """At Telegram's real pace (one a second per chat): the second process's after-commit delivery
    leaves the message to its background round, which sends it a second after the first."""
    telegram.rate_window = 1.0
    person = (await _people(database, telegram, clock, 1))[0]
    async with Sender(telegram, database_url, clock, TELEGRAM_LIMITS) as a, Sender(telegram, database_url, clock, TELEGRAM_LIMITS) as b:
        await _notify(database, person, f"notice {person.telegram_id}/0", "update:0", clock)
        await deliver_now(a.app.bot, a.deps, {person.id})
        await _notify(database, person, f"notice {person.telegram_id}/1", "update:1", clock)
        await deliver_now(b.app.bot, b.deps, {person.id})
        assert _received(telegram, person) == [0]
        assert [row.claimed_until for row in await _outbox(database) if row.sent_at is None] == [None]  # waiting, for any process
        assert await b.deliver() == 1
    first, second = [c.time for c in telegram.calls("sendMessage") if c.error_code is None]
    assert second - first >= 1.0 and telegram.rejections == []
    assert _received(telegram, person) == [0, 1]


async def test_a_message_waiting_out_a_long_429_is_not_sent_twice_once_its_lease_ends(database, database_url, telegram, clock):
    """Telegram's retry_after outlasting the lease (here the desk's clock jumps past it while the
    first process waits): the second process takes the message over, and the first must not send
    it as well: the message arrives once."""
    person = (await _people(database, telegram, clock, 1))[0]
    await _notify(database, person, "your quote is ready", "quote", clock)
    telegram.inject_flood(retry_after=1, times=1, method="sendMessage", chat_id=person.telegram_id)
    async with Sender(telegram, database_url, clock) as a, Sender(telegram, database_url, clock) as b:
        stuck = asyncio.ensure_future(a.deliver())
        while not any(c.error_code == 429 for c in telegram.calls("sendMessage")):
            await asyncio.sleep(0.01)
        clock.advance(outbox.LEASE + timedelta(seconds=1))
        taken_over = await b.deliver()
        # The first lets go of the message unsent once its lease is over; its round then claims
        # afresh what nobody took over (on a loaded machine the second may claim only after that).
        assert taken_over + await stuck == 1
    assert [m.text for m in telegram.messages_to(person.telegram_id)] == ["your quote is ready"]
    [row] = await _outbox(database)
    assert row.sent_at is not None and row.failure is None
