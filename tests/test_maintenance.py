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
from bot.services import intake, maintenance, requests, users
from bot.services.clocks import ClockKeeper
from bot.services.errors import NotFound
from bot.services.inputs import TextInput
from bot.services.reminders import Planner
from handlers import maintenance as maintenance_handlers
from handlers.common import Deps
from handlers.sweeps import sweep_with
from storage.db import Database
from storage.models import AppState, Customer, MaintenanceReminder, OutboxMessage, Product, ReturnCase, ServiceRequest, User, UserRole
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
        assert len(await _reminders(database)) == 2
        # ...but the due dates (QJ-B's 03-10, QJ-A's 03-16; nobody booked): one chase each, once.
        assert (await _outbox(database))[3:] == [
            ("maintenance_list", ids["dispatcher"], f"maintenance_list:{ids['dispatcher']}:2026-03-10:due_day"),
            ("maintenance_due", ids["alice"], f"maintenance_due:{reminder_a}:due_day"),
            ("maintenance_list", ids["dispatcher"], f"maintenance_list:{ids['dispatcher']}:2026-03-16:due_day"),
        ]
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
    assert "2 products" in listed and "QJ-A — Alice, +8613800138000 — due on Mar 16, 2026" in listed and "QJ-B — no customer registered — due on Mar 10, 2026" in listed


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


# --- the due date: a reminder nobody booked is chased once -------------------------------------

DUE_DAY_A = date(2026, 3, 16)  # QJ-A's due date (reminded on 03-02)


async def _book(database, clock, ids) -> str:
    """Alice books QJ-A's maintenance from her reminder; returns the request number."""
    async with database.uow() as uow:
        reminder = await uow.session.scalar(select(MaintenanceReminder).where(MaintenanceReminder.product_id == ids["QJ-A"]))
        alice = await uow.users.get(ids["alice"])
        customer = await uow.customers.get(ids["customer"])
        booking = await maintenance.start_booking(uow, alice, customer, reminder.id, "Periodic maintenance", clock.now())
        await intake.handle_input(uow, customer, booking.draft, TextInput("Farm road 1"), clock.now())
        request = await intake.submit(uow, alice, customer, booking.draft, POLICY, clock.now(), SHANGHAI)
        await uow.commit()
        return request.number


def _chases(bot) -> list:
    return [m for m in bot.sent if "not booked" in m.text]


def _at(clock, day: date, hour: int, minute: int = 0) -> None:
    clock.set(local(day, hour, minute).astimezone(START.tzinfo))


async def test_an_unbooked_maintenance_is_chased_once_on_its_due_date(database, database_url, clock):
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))  # 10:00: the reminders of QJ-A (due 03-16) and QJ-B (due 03-10)
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        await sweep_with(bot, deps)
        bot.sent.clear()
        _at(clock, date(2026, 3, 10), 10)  # QJ-B's due date: nobody booked it (no customer on the bot)
        await sweep_with(bot, deps)
        [listed] = bot.sent
        assert listed.chat_id == 500 and "QJ-B — no customer registered — due on Mar 10, 2026" in listed.text and "not booked" in listed.text
        bot.sent.clear()
        _at(clock, DUE_DAY_A, 9, 59)
        await sweep_with(bot, deps)
        assert bot.sent == []
        _at(clock, DUE_DAY_A, 10)
        await sweep_with(bot, deps)
        [to_alice] = [m for m in bot.sent if m.chat_id == 1001]
        [to_dispatcher] = [m for m in bot.sent if m.chat_id == 500]
        assert "QJ 50 · QJ-A" in to_alice.text and "Mar 16, 2026" in to_alice.text and "not booked" in to_alice.text
        [[book]] = to_alice.markup.inline_keyboard
        assert book.text == "🔧 Book maintenance" and book.callback_data == "1:mnt:1:book"
        assert "QJ-A — Alice, +8613800138000 — due on Mar 16, 2026" in to_dispatcher.text and "QJ-B" not in to_dispatcher.text
    finally:
        await deps.db.dispose()
    # Another sweep, a restart, a rescan of the day (the scan marker lost) and the next days: nothing more.
    bot.sent.clear()
    deps = _deps(database_url, clock)
    try:
        clock.advance(timedelta(minutes=1))
        await sweep_with(bot, deps)
        async with database.uow() as uow:
            await uow.session.delete(await uow.session.get(AppState, maintenance.SCANNED_STATE))
            await uow.commit()
        await sweep_with(bot, deps)
        for _ in range(3):
            clock.advance(timedelta(days=1))
            await sweep_with(bot, deps)
    finally:
        await deps.db.dispose()
    assert bot.sent == []


async def test_a_booked_maintenance_is_not_chased(database, database_url, clock):
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        await sweep_with(bot, deps)
        await _book(database, clock, ids)
        bot.sent.clear()
        _at(clock, DUE_DAY_A, 10)
        await sweep_with(bot, deps)
    finally:
        await deps.db.dispose()
    assert [m for m in bot.sent if "QJ-A" in m.text] == []  # booked: nobody is chased
    async with database.uow() as uow:
        chased = await uow.session.scalar(select(MaintenanceReminder.due_day_chased_at).where(MaintenanceReminder.product_id == ids["QJ-A"]))
        assert chased is None


async def test_a_cancelled_booking_is_chased_on_the_due_date(database, database_url, clock):
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        await sweep_with(bot, deps)
        number = await _book(database, clock, ids)
        async with database.uow() as uow:
            await requests.cancel(uow, await uow.users.get(ids["alice"]), await uow.requests.by_number(number), clock.now())
            await uow.commit()
        bot.sent.clear()
        _at(clock, DUE_DAY_A, 10)
        await sweep_with(bot, deps)
    finally:
        await deps.db.dispose()
    assert len([m for m in bot.sent if m.chat_id == 1001 and "QJ-A" in m.text]) == 1
    assert len([m for m in bot.sent if m.chat_id == 500 and "QJ-A" in m.text]) == 1


async def test_what_changed_before_the_chase_was_sent_is_checked_when_sending(database, database_url, clock):
    """Queued at 10:00 but sent later (the sender was behind): booked meanwhile, nobody is told;
    the product registered to someone else meanwhile, its former customer is not told."""
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        await sweep_with(bot, deps)
        bot.sent.clear()
        _at(clock, DUE_DAY_A, 10)
        await sweep_with(bot, deps, send=False)
        await _book(database, clock, ids)
        await sweep_with(bot, deps)
        assert [m for m in _chases(bot) if "QJ-A" in m.text] == []  # (QJ-B, due 03-10, is chased: nobody owns it)
    finally:
        await deps.db.dispose()

    async with database.uow() as uow:  # Bob becomes a customer
        bob = await users.touch(uow, 1002, "Bob", None, "en", "en", clock.now())
        bob_customer = await uow.customers.add(Customer(user_id=bob.id, name="Bob", phone="+8613900139000", created_at=clock.now()))
        await uow.commit()
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        _at(clock, date(2026, 9, 2), 10)  # QJ-A's reminder of its 09-16 due date
        await sweep_with(bot, deps)
        _at(clock, date(2026, 9, 16), 10)
        await sweep_with(bot, deps, send=False)
        async with database.uow() as uow:
            (await uow.products.get(ids["QJ-A"])).customer_id = bob_customer.id
            await uow.commit()
        bot.sent.clear()
        await sweep_with(bot, deps)
    finally:
        await deps.db.dispose()
    assert [m.chat_id for m in _chases(bot)] == [500]  # the dispatcher still calls (Bob now)


async def test_a_bot_down_on_the_due_date_chases_on_its_first_sweep_back(database, database_url, clock):
    """Down at 10:00 on the due date: the first sweep that day chases. Down the whole due date:
    the first sweep after it chases what fell due while it was down."""
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        await sweep_with(bot, deps)
        _at(clock, date(2026, 3, 9), 10)
        await sweep_with(bot, deps)
        bot.sent.clear()
        _at(clock, date(2026, 3, 10), 15)  # QJ-B's due date, back at 15:00
        await sweep_with(bot, deps)
        [listed] = bot.sent
        assert "QJ-B" in listed.text
        bot.sent.clear()
        _at(clock, DUE_DAY_A + timedelta(days=1), 11)  # down from 03-11 to 03-17 11:00: QJ-A's due date passed
        await sweep_with(bot, deps)
        [to_alice] = [m for m in bot.sent if m.chat_id == 1001]
        [to_dispatcher] = [m for m in bot.sent if m.chat_id == 500]
        assert "Mar 16, 2026" in to_alice.text and "QJ-A — Alice, +8613800138000 — due on Mar 16, 2026" in to_dispatcher.text
        assert "QJ-B" not in to_dispatcher.text  # chased already
    finally:
        await deps.db.dispose()
    async with database.uow() as uow:
        chased = await uow.session.scalars(select(MaintenanceReminder.product_id).where(MaintenanceReminder.due_day_chased_at.is_not(None)))
        assert sorted(chased) == sorted([ids["QJ-A"], ids["QJ-B"]])


async def test_two_processes_chase_each_due_date_once(database, database_url, clock):
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))
    first, second = _deps(database_url, clock), _deps(database_url, clock)
    try:
        await maintenance_handlers.remind_due(first, clock.now())
        _at(clock, DUE_DAY_A, 10)  # QJ-B (due 03-10) is chased here too: the last scan was on 03-02
        await asyncio.gather(*(maintenance_handlers.remind_due(d, clock.now()) for d in (first, second, first, second)))
    finally:
        await first.db.dispose()
        await second.db.dispose()
    due_day = [(kind, user_id) for kind, user_id, key in await _outbox(database) if key.endswith(":due_day")]
    assert sorted(due_day) == sorted([("maintenance_due", ids["alice"]), ("maintenance_list", ids["dispatcher"])])


async def test_a_product_registered_to_someone_else_before_its_due_date_is_chased_only_by_phone(database, database_url, clock):
    """The new owner never got the first reminder: no "not booked yet" to them (nor to Alice);
    the dispatchers' list names the new owner to phone."""
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        await sweep_with(bot, deps)
        async with database.uow() as uow:
            bob = await users.touch(uow, 1002, "Bob", None, "en", "en", clock.now())
            bob_customer = await uow.customers.add(Customer(user_id=bob.id, name="Bob", phone="+8613900139000", created_at=clock.now()))
            (await uow.products.get(ids["QJ-A"])).customer_id = bob_customer.id
            await uow.commit()
        bot.sent.clear()
        _at(clock, DUE_DAY_A, 10)
        await sweep_with(bot, deps)
    finally:
        await deps.db.dispose()
    [to_dispatcher] = _chases(bot)
    assert to_dispatcher.chat_id == 500 and "QJ-A — Bob, +8613900139000 — due on Mar 16, 2026" in to_dispatcher.text


async def test_a_unit_refunded_or_taken_off_maintenance_before_its_due_date_is_not_chased(database, database_url, clock):
    ids = await _seed(database, clock)
    clock.advance(timedelta(minutes=30))
    deps, bot = _deps(database_url, clock), RecordingBot()
    try:
        await sweep_with(bot, deps)
        async with database.uow() as uow:  # QJ-B came back refunded (nobody's); QJ-A's cycle removed by a re-import
            refund = await uow.requests.add(ServiceRequest(
                number="SR-2026-000001", kind="return", status="closed", customer_id=ids["customer"], description="x",
                created_by_user_id=ids["alice"], created_at=clock.now(), updated_at=clock.now(), product_id=ids["QJ-B"]))
            uow.session.add(ReturnCase(request_id=refund.id, product_id=ids["QJ-B"], reason_kind="quality", proposed_outcome="refund",
                                       shipping_paid_by="company", state="refunded", created_at=clock.now(), updated_at=clock.now()))
            (await uow.products.get(ids["QJ-A"])).maintenance_cycle_months = None
            await uow.commit()
        bot.sent.clear()
        for day in (date(2026, 3, 10), DUE_DAY_A):
            _at(clock, day, 10)
            await sweep_with(bot, deps)
    finally:
        await deps.db.dispose()
    assert _chases(bot) == []
