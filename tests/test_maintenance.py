"""Maintenance reminders on SQLite and PostgreSQL: recorded once per product and due date (also
with two processes), the customer's and the dispatchers' messages, and booking from a reminder."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE, Settings
from bot.policy import load_policy
from bot.services import intake, maintenance, users
from bot.services.clocks import ClockKeeper
from bot.services.errors import NotFound
from bot.services.inputs import TextInput
from bot.services.reminders import Planner
from handlers import maintenance as maintenance_handlers
from handlers.common import Deps
from handlers.sweeps import sweep_with
from storage.db import Database
from storage.models import AppState, Customer, MaintenanceReminder, OutboxMessage, Product, User, UserRole
from tests.conftest import SHANGHAI, START

POLICY = load_policy(DEFAULT_POLICY_FILE)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


class RecordingBot:
    def __init__(self) -> None:
        self.sent = []

    async def send_message(self, chat_id, text, parse_mode=None, reply_markup=None, rate_limit_args=None):
        self.sent.append(SimpleNamespace(chat_id=chat_id, text=text, markup=reply_markup))
        return SimpleNamespace(message_id=len(self.sent))


def _deps(database_url: str, clock: ManualClock) -> Deps:
    """One bot process: its own engine, as after a restart or in a second process."""
    settings = Settings(bot_token="1:x", database_url=database_url, telegram_api_url="http://127.0.0.1:9", timezone=SHANGHAI,
                        default_language="en", admin_telegram_ids=frozenset(), policy_file=DEFAULT_POLICY_FILE)
    keeper = ClockKeeper(POLICY, SHANGHAI)
    return Deps(settings=settings, policy=POLICY, db=Database(database_url, before_commit=keeper), clock=clock, keeper=keeper,
                planner=Planner(POLICY, keeper, SHANGHAI))


async def _seed(database, clock) -> dict[str, int]:
    """Dispatcher D (telegram 500), customer Alice (1001) with QJ-A, and products without a customer.

    START is Monday 2026-03-02 09:30 local. QJ-A (commissioned 2025-09-16, 6 months) is due on
    2026-03-16: reminded today at 10:00. QJ-B (sold 2025-03-10, 12 months) is due 2026-03-10, its
    reminder day (02-24) has passed while the bot was "down": told on the first sweep. QJ-C was due
    on 2026-03-01 (passed: never told), QJ-D has no cycle, QJ-E is due in September."""
    now = clock.now()
    async with database.uow() as uow:
        dispatcher = await uow.users.add(User(telegram_id=500, first_name="D", language="en", created_at=now, roles=[UserRole(role="dispatcher")]))
        alice = await users.touch(uow, 1001, "Alice", None, "en", "en", now)
        customer = await uow.customers.add(Customer(user_id=alice.id, name="Alice", phone="+8613800138000", created_at=now))
        ids = {"dispatcher": dispatcher.id, "alice": alice.id, "customer": customer.id}
        for serial, owner, commissioned, sale, cycle in (
            ("QJ-A", customer.id, date(2025, 9, 16), date(2025, 9, 1), 6),
            ("QJ-B", None, None, date(2025, 3, 10), 12),
            ("QJ-C", customer.id, date(2025, 9, 1), None, 6),
            ("QJ-D", customer.id, date(2025, 9, 16), None, None),
            ("QJ-E", customer.id, date(2025, 9, 20), None, 12),
        ):
            product = await uow.products.add(Product(serial=serial, model="QJ 50", customer_id=owner, commissioning_date=commissioned,
                                                     sale_date=sale, maintenance_cycle_months=cycle))
            ids[serial] = product.id
        await uow.commit()
    return ids


async def _reminders(database) -> list[tuple[int, date]]:
    async with database.uow() as uow:
        return [tuple(r) for r in (await uow.session.execute(
            select(MaintenanceReminder.product_id, MaintenanceReminder.due_on).order_by(MaintenanceReminder.id))).all()]


async def _outbox(database) -> list[tuple[str, int, str]]:
    async with database.uow() as uow:
        rows = await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(m.kind, m.user_id, m.key) for m in rows]


async def test_reminders_go_out_on_their_day_once_and_not_for_passed_dates(database, database_url, clock):
    ids = await _seed(database, clock)
    deps = _deps(database_url, clock)
    try:
        assert await maintenance_handlers.remind_due(deps, clock.now()) == 1  # 09:30: QJ-B catches up
        assert await _reminders(database) == [(ids["QJ-B"], date(2026, 3, 10))]
        assert await _outbox(database) == [("maintenance_list", ids["dispatcher"], f"maintenance_list:{ids['dispatcher']}:2026-03-01")]
        clock.advance(timedelta(minutes=29))  # 09:59
        assert await maintenance_handlers.remind_due(deps, clock.now()) == 0
        clock.advance(timedelta(minutes=1))  # 10:00
        assert await maintenance_handlers.remind_due(deps, clock.now()) == 1
        assert await _reminders(database) == [(ids["QJ-B"], date(2026, 3, 10)), (ids["QJ-A"], date(2026, 3, 16))]
        reminder_a = 2
        assert (await _outbox(database))[1:] == [
            ("maintenance_due", ids["alice"], f"maintenance_due:{reminder_a}"),
            ("maintenance_list", ids["dispatcher"], f"maintenance_list:{ids['dispatcher']}:2026-03-02"),
        ]
        # Later sweeps, a rescan of the same day (the scan marker lost) and the next days add nothing.
        clock.advance(timedelta(minutes=1))
        assert await maintenance_handlers.remind_due(deps, clock.now()) == 0
        async with database.uow() as uow:
            await uow.session.delete(await uow.session.get(AppState, maintenance.SCANNED_STATE))
            await uow.commit()
        assert await maintenance_handlers.remind_due(deps, clock.now()) == 0
        for _ in range(20):
            clock.advance(timedelta(days=1))
            await maintenance_handlers.remind_due(deps, clock.now())
        assert len(await _reminders(database)) == 2 and len(await _outbox(database)) == 3
        # QJ-E (due 2026-09-20) is told on 2026-09-06 at 10:00, QJ-A's next one (09-16) on 09-02.
        clock.set(local(date(2026, 9, 2), 10).astimezone(START.tzinfo))
        assert await maintenance_handlers.remind_due(deps, clock.now()) == 1
        clock.set(local(date(2026, 9, 6), 10).astimezone(START.tzinfo))
        assert await maintenance_handlers.remind_due(deps, clock.now()) == 1
        assert (await _reminders(database))[2:] == [(ids["QJ-A"], date(2026, 9, 16)), (ids["QJ-E"], date(2026, 9, 20))]
    finally:
        await deps.db.dispose()


async def test_two_processes_sweeping_at_once_record_each_reminder_once(database, database_url, clock, monkeypatch):
    monkeypatch.setattr(maintenance, "SCAN_BATCH", 2)  # several batches per scan
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))  # 10:00
    first, second = _deps(database_url, clock), _deps(database_url, clock)
    try:
        counts = await asyncio.gather(*(maintenance_handlers.remind_due(d, clock.now()) for d in (first, second, first, second)))
        assert sum(counts) == 2
        assert sorted(await _reminders(database)) == sorted([(ids["QJ-B"], date(2026, 3, 10)), (ids["QJ-A"], date(2026, 3, 16))])
        outbox = await _outbox(database)
        assert sorted(kind for kind, _, _ in outbox) == ["maintenance_due", "maintenance_list"]
    finally:
        await first.db.dispose()
        await second.db.dispose()


async def test_the_customer_gets_a_book_button_and_the_dispatcher_one_list(database, database_url, clock):
    await _seed(database, clock)
    clock.advance(timedelta(minutes=30))  # 10:00: QJ-A and (catching up) QJ-B in one scan
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        await sweep_with(bot, deps)
        await sweep_with(bot, deps)
    finally:
        await deps.db.dispose()
    to_alice = [m for m in bot.sent if m.chat_id == 1001]
    to_dispatcher = [m for m in bot.sent if m.chat_id == 500]
    assert len(to_alice) == 1 and len(to_dispatcher) == 1
    assert "QJ 50 · QJ-A" in to_alice[0].text and "Mar 16, 2026" in to_alice[0].text
    [[book]] = to_alice[0].markup.inline_keyboard
    assert book.text == "🔧 Book maintenance" and book.callback_data == "1:mnt:1:book"
    listed = to_dispatcher[0].text
    assert "2 products" in listed and "QJ-A — Alice — due on Mar 16, 2026" in listed and "QJ-B — no customer registered — due on Mar 10, 2026" in listed


async def test_booking_from_a_reminder_links_the_request_and_only_for_the_owner(database, database_url, clock):
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))
    deps = _deps(database_url, clock)
    try:
        await maintenance_handlers.remind_due(deps, clock.now())
    finally:
        await deps.db.dispose()
    async with database.uow() as uow:
        reminder = await uow.session.scalar(select(MaintenanceReminder).where(MaintenanceReminder.product_id == ids["QJ-A"]))
        alice = await uow.users.get(ids["alice"])
        customer = await uow.customers.get(ids["customer"])
        booking = await maintenance.start_booking(uow, alice, customer, reminder.id, "Periodic maintenance", clock.now())
        assert (booking.draft.step, booking.draft.data["kind"], booking.draft.data["product_id"]) == (intake.SITE, "maintenance", ids["QJ-A"])
        await intake.handle_input(uow, customer, booking.draft, TextInput("Farm road 1"), clock.now())
        request = await intake.submit(uow, alice, customer, booking.draft, POLICY, clock.now(), SHANGHAI)
        await uow.commit()
        assert (await uow.maintenance.get(reminder.id)).booked_request_id == request.id
        assert (request.kind, request.product_id, request.description) == ("maintenance", ids["QJ-A"], "Periodic maintenance")
        with pytest.raises(maintenance.AlreadyBooked) as booked:
            await maintenance.start_booking(uow, alice, customer, reminder.id, "again", clock.now())
        assert booked.value.request.number == request.number

        # Someone else pressing (or forging) the button learns nothing; a sold product is refused politely.
        bob = await users.touch(uow, 1002, "Bob", None, "en", "en", clock.now())
        bob_customer = await uow.customers.add(Customer(user_id=bob.id, name="Bob", phone="+8613900139000", created_at=clock.now()))
        with pytest.raises(NotFound):
            await maintenance.start_booking(uow, bob, bob_customer, reminder.id, "x", clock.now())
        other = await uow.session.scalar(select(MaintenanceReminder).where(MaintenanceReminder.product_id == ids["QJ-B"]))
        (await uow.products.get(ids["QJ-B"])).customer_id = None
        with pytest.raises(NotFound):
            await maintenance.start_booking(uow, alice, customer, other.id, "x", clock.now())
        (await uow.products.get(ids["QJ-A"])).customer_id = bob_customer.id
        await uow.session.flush()
        with pytest.raises(maintenance.NoLongerYours):
            await maintenance.start_booking(uow, alice, customer, reminder.id, "x", clock.now())
        assert await uow.session.scalar(select(func.count()).select_from(MaintenanceReminder).where(MaintenanceReminder.booked_request_id.is_not(None))) == 1


async def test_two_sweeps_recording_a_new_scan_marker_at_once_both_succeed(database):
    """The first scan on a fresh database: both processes write the marker that does not exist yet."""
    both_inside = asyncio.Barrier(2)

    async def record(value: str) -> None:
        async with database.uow() as uow:
            if database.url.startswith("postgresql"):  # SQLite's write lock lets one transaction in at a time
                await both_inside.wait()
            await uow.app_state.set("maintenance_scanned_for", value)
            await uow.commit()

    await asyncio.gather(record("2026-03-02T02:00:00+00:00"), record("2026-03-02T02:00:00+00:00"))
    async with database.uow() as uow:
        assert await uow.app_state.get("maintenance_scanned_for") == "2026-03-02T02:00:00+00:00"
        await uow.app_state.set("maintenance_scanned_for", "later")
        assert await uow.app_state.get("maintenance_scanned_for") == "later"  # the session sees its own write
