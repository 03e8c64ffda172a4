"""Maintenance reminders over HTTP with the desk clock: a product with a 6-month cycle in the
registry, its customer and the dispatchers told exactly once on the reminder day at 10:00, and
"Book maintenance" opening a maintenance request for that product, once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from storage.models import AuditEntry, MaintenanceReminder, OutboxMessage, Product, ServiceRequest
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, onboard, t

# Commissioned 2025-09-20 with a 6-month cycle: due Friday 2026-03-20, reminded 14 days before,
# Friday 2026-03-06 at 10:00 Shanghai (02:00 UTC). The desk clock starts on Monday 2026-03-02 09:30.
REGISTRY = (
    "Serial,Model,Customer/Project,Sale date,Commissioning date,Warranty months,Maintenance cycle\n"
    "QJ-7001,QJ 50-120,Yellow River Farm,2025-09-01,2025-09-20,24,6\n"
).encode()
REMINDER_AT = datetime(2026, 3, 6, 2, 0, tzinfo=timezone.utc)
DUE_AT = datetime(2026, 3, 20, 2, 0, tzinfo=timezone.utc)  # the due date, 10:00 Shanghai


def en(message: str, **values) -> str:
    return t("en", message, **values)


def _maintenance_messages(user) -> list:
    return [m for m in user.messages if "QJ-7001" in (m.text or "") and ("🔧" in (m.text or ""))]


async def test_reminded_once_at_ten_and_booked_with_one_tap(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    await wang.send_text("/start")  # so the bot knows Wang reads Chinese
    await dora.send_text("/import")
    await dora.send_document("registry.csv", data=REGISTRY)
    alice = fake.add_user(user_id=7101, first_name="Alice", language_code="en")
    mallory = fake.add_user(user_id=7102, first_name="Mallory", language_code="en")
    await onboard(alice)
    await alice.send_text("/products")
    await alice.press(en("Claim a product by serial"))
    await alice.send_text("QJ-7001")
    await dora.press(en("✅ Confirm"))
    assert en("QJ 50-120 · QJ-7001 is now registered to you") in alice.last.text

    await desk.sweep()  # Monday 09:30
    desk.clock.set(REMINDER_AT - timedelta(minutes=1))  # Friday 09:59
    await desk.sweep()
    assert _maintenance_messages(alice) == [] and _maintenance_messages(dora) == [] and _maintenance_messages(wang) == []

    desk.clock.set(REMINDER_AT)
    await desk.sweep()
    [reminder] = _maintenance_messages(alice)
    assert en("Periodic maintenance of your {product} is due on {date}.", product="QJ 50-120 · QJ-7001", date="Mar 20, 2026") in reminder.text
    assert reminder.button_texts == [en("🔧 Book maintenance")]
    [listed] = _maintenance_messages(dora)
    assert en("{product} — {owner}, {phone} — due on {date}", product="QJ 50-120 · QJ-7001", owner="Alice", phone="+8613800138000",
              date="Mar 20, 2026") in listed.text
    assert len(_maintenance_messages(wang)) == 1 and "QJ-7001" in wang.messages[-1].text and "Alice" in wang.messages[-1].text

    # Another sweep, a restart and the next days: nobody is told again.
    desk.clock.advance(timedelta(minutes=1))
    await desk.sweep()
    await desk.restart()
    for _ in range(3):
        desk.clock.advance(timedelta(days=1))
        await desk.sweep()
    assert len(_maintenance_messages(alice)) == 1 and len(_maintenance_messages(dora)) == 1 and len(_maintenance_messages(wang)) == 1

    # A stranger forging the button learns nothing and books nothing.
    book_data = reminder.buttons[0]["callback_data"]
    await mallory.send_text("/start")
    await mallory.press_data(book_data)
    assert mallory.callback_answers[-1][1] == en("This button is no longer valid.")

    # One tap: the maintenance request for the product; the site is asked (no earlier request says it).
    await alice.press(en("🔧 Book maintenance"), reminder)
    assert any("Booking maintenance of QJ 50-120 · QJ-7001" in (m.text or "") for m in alice.messages[-2:])
    await alice.send_location(34.7466, 113.6253)
    summary = alice.last.text
    assert en("Type: {value}", value=en("Maintenance")) in summary and "QJ 50-120 · QJ-7001" in summary
    assert "Periodic maintenance of QJ 50-120 · QJ-7001, due on Mar 20, 2026." in summary
    await alice.press(en("✅ Confirm and send"))
    number = next(m for m in reversed(alice.messages) if "is registered" in (m.text or "")).text.split()[2]
    assert number.startswith("SR-2026-")
    assert any(number in (m.text or "") and "QJ-7001" in (m.text or "") for m in dora.messages[-3:])

    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        product = await uow.products.by_serial("QJ-7001")
        assert (request.kind, request.product_id) == ("maintenance", product.id)
        reminder_row = await uow.session.scalar(select(MaintenanceReminder))
        assert (reminder_row.due_on.isoformat(), reminder_row.booked_request_id) == ("2026-03-20", request.id)
        audited = list(await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "foreign_maintenance_button")))
        assert audited == [7102]

    # A second press says it is booked, and by which request.
    await alice.press_data(book_data, reminder)
    assert alice.callback_answers[-1][1] == en("This maintenance is already booked: request {number}. Follow it with /my.", number=number)
    async with desk.db.uow() as uow:
        assert len(list(await uow.session.scalars(select(MaintenanceReminder.id)))) == 1
        assert await uow.drafts.of_user((await uow.users.by_telegram_id(7101)).id) is None
    fake.assert_no_rejections()


async def _alice_owns(fake):
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/import")
    await dora.send_document("registry.csv", data=REGISTRY)
    alice = fake.add_user(user_id=7101, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/products")
    await alice.press(en("Claim a product by serial"))
    await alice.send_text("QJ-7001")
    await dora.press(en("✅ Confirm"))
    return dora, alice


async def _reminded(fake, desk):
    dora, alice = await _alice_owns(fake)
    desk.clock.set(REMINDER_AT)
    await desk.sweep()
    [reminder] = _maintenance_messages(alice)
    return dora, alice, reminder


async def _maintenance_numbers(desk) -> list[str]:
    async with desk.db.uow() as uow:
        return list(await uow.session.scalars(select(ServiceRequest.number).where(ServiceRequest.kind == "maintenance")))


async def test_a_booking_kept_aside_while_the_reminder_was_booked_again_is_not_sent_twice(fake, desk):
    dora, alice, reminder = await _reminded(fake, desk)
    await alice.press(en("🔧 Book maintenance"), reminder)
    await alice.send_location(34.7466, 113.6253)
    await alice.send_text("/products")
    await alice.press(en("Claim a product by serial"))  # the booking is kept aside
    await alice.press(en("🔧 Book maintenance"), reminder)  # and the reminder booked anew
    await alice.send_location(34.7466, 113.6253)
    await alice.press(en("✅ Confirm and send"))
    [number] = await _maintenance_numbers(desk)
    await alice.send_text("/new")  # the booking kept aside comes back...
    await alice.press(en("✅ Confirm and send"))  # ...and is refused: one visit per due date
    assert en("This maintenance is already booked: request {number}. Follow it with /my.", number=number) in alice.last.text
    assert await _maintenance_numbers(desk) == [number]


async def test_a_booking_opened_before_the_product_changed_hands_is_refused(fake, desk):
    dora, alice, reminder = await _reminded(fake, desk)
    await alice.press(en("🔧 Book maintenance"), reminder)
    await alice.send_location(34.7466, 113.6253)
    summary = alice.last
    bob = fake.add_user(user_id=7103, first_name="Bob", language_code="en")
    await onboard(bob, phone="+8613900139000", company="Bob Farm")
    await bob.send_text("/products")
    await bob.press(en("Claim a product by serial"))
    await bob.send_text("QJ-7001")
    await dora.press(en("✅ Confirm"))
    await alice.press(en("✅ Confirm and send"), summary)
    assert "no longer registered to you" in alice.last.text
    assert await _maintenance_numbers(desk) == []


async def test_customers_who_cannot_get_the_button_are_marked_to_call(fake, desk):
    dora, alice = await _alice_owns(fake)
    fake.block(7101)
    async with desk.db.uow() as uow:  # what an earlier 403 left
        (await uow.users.by_telegram_id(7101)).is_reachable = False
        await uow.commit()
    desk.clock.set(REMINDER_AT)
    await desk.sweep()
    [listed] = _maintenance_messages(dora)
    line = next(line for line in listed.text.splitlines() if "QJ-7001" in line)
    assert line.startswith("📞 ") and "Alice" in line
    async with desk.db.uow() as uow:  # nothing queued to someone who blocked the bot
        assert list(await uow.session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == "maintenance_due"))) == []


async def test_an_erased_customer_is_not_reminded_and_the_list_says_so(fake, desk):
    dora, alice = await _alice_owns(fake)
    await dora.send_text("/erase +8613800138000")
    await dora.press("🗑 Erase", dora.last)
    desk.clock.set(REMINDER_AT)
    await desk.sweep()
    async with desk.db.uow() as uow:
        assert list(await uow.session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == "maintenance_due"))) == []
    [listed] = _maintenance_messages(dora)
    assert en("customer's data erased") in listed.text
    fake.assert_no_rejections()


async def test_a_refunded_unit_is_not_on_the_maintenance_list(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7301, "Sun", "service_manager")
    wen = await enrol(fake, dora, 7302, "Wen", "warehouse")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    today = desk.clock.now().astimezone(desk.settings.timezone).date()
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(5001)).id)
        await uow.products.add(Product(serial="QJ-2001", model="QJ 50-120", customer_id=customer.id, owner_name="Yellow River Farm",
                                       sale_date=today - timedelta(days=10), maintenance_cycle_months=1))
        await uow.commit()
    await alice.send_text("/products")
    await alice.press("↩️ Return or exchange: QJ-2001")
    await alice.press("🔧 Quality fault")
    await alice.send_text("The pump stops after five minutes")
    await alice.press("✅ Send the request", alice.last)
    await sun.press("✅ Approve", sun.last)
    tracking = wen.last
    for step in ("📦 Product received", "🔍 Inspected", "💰 Refunded"):
        await wen.press(step, tracking)
    seen = len(dora.messages)
    desk.clock.advance(timedelta(days=8))  # past the reminder day of the next due date (in about 20 days)
    await desk.sweep()
    assert [m.text for m in dora.messages[seen:] if "QJ-2001" in (m.text or "")] == []


async def test_a_maintenance_booked_two_weeks_ahead_is_not_overdue_before_its_due_date(fake, desk):
    dora, alice, reminder = await _reminded(fake, desk)
    ed = await enrol(fake, dora, 7201, "Ed", "engineer")
    await alice.press(en("🔧 Book maintenance"), reminder)
    await alice.send_location(34.7466, 113.6253)
    await alice.press(en("✅ Confirm and send"))
    [number] = await _maintenance_numbers(desk)
    await assign(dora, number, "Ed", "en")
    await ed.press("✅ Accept")
    seen = len(dora.messages)
    desk.clock.advance(timedelta(hours=25))  # the next day: two weeks before the due date
    await desk.sweep()
    assert not any("on-site arrival" in (m.text or "") for m in dora.messages[seen:])  # (first contact is due: nobody logged it)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        [arrival] = [c for c in await uow.requests.clocks(request.id) if c.kind == "onsite_arrival"]
        # due on the maintenance date (2026-03-20, Shanghai) plus the 24-hour window
        assert arrival.due_at == datetime(2026, 3, 20, 16, 0, tzinfo=timezone.utc)


async def test_a_booking_turned_into_a_fault_report_is_sent_as_one(fake, desk):
    dora, alice, reminder = await _reminded(fake, desk)
    await alice.press(en("🔧 Book maintenance"), reminder)
    await alice.send_location(34.7466, 113.6253)
    await alice.press(en("✏️ Edit"))
    await alice.press(en("Type"))
    await alice.press(en("Fault repair"))  # it is a fault after all
    await alice.send_text("/products")
    await alice.press(en("Claim a product by serial"))  # the form is kept aside
    await alice.press(en("🔧 Book maintenance"), reminder)  # and the maintenance booked meanwhile
    await alice.send_location(34.7466, 113.6253)
    await alice.press(en("✅ Confirm and send"))
    await alice.send_text("/new")  # the fault report comes back...
    await alice.press(en("✅ Confirm and send"))  # ...and goes as a fault report, not refused as a booking
    assert "is registered" in alice.last.text
    async with desk.db.uow() as uow:
        assert sorted(await uow.session.scalars(select(ServiceRequest.kind))) == ["maintenance", "repair"]


async def test_a_maintenance_nobody_booked_is_chased_once_on_its_due_date(fake, desk):
    dora, alice, reminder = await _reminded(fake, desk)
    wang = fake.users[SECOND_DISPATCHER_ID]
    desk.clock.set(DUE_AT - timedelta(minutes=1))
    await desk.sweep()
    assert len(_maintenance_messages(alice)) == 1 and len(_maintenance_messages(dora)) == 1

    desk.clock.set(DUE_AT)  # the due date, 10:00: still nothing booked
    await desk.sweep()
    [_, again] = _maintenance_messages(alice)
    assert en("The periodic maintenance of your {product}, due on {date}, is not booked yet.", product="QJ 50-120 · QJ-7001",
              date="Mar 20, 2026") in again.text
    assert again.button_texts == [en("🔧 Book maintenance")]
    for dispatcher in (dora, wang):
        [_, to_call] = _maintenance_messages(dispatcher)
        assert "QJ-7001" in to_call.text and "Alice, +8613800138000" in to_call.text
    assert en("Their due date has come and nobody booked the visit: please phone the customers.") in dora.messages[-1].text

    # Another sweep, a restart and the next days: nobody is told again.
    desk.clock.advance(timedelta(minutes=1))
    await desk.sweep()
    await desk.restart()
    for _ in range(3):
        desk.clock.advance(timedelta(days=1))
        await desk.sweep()
    assert len(_maintenance_messages(alice)) == 2 and len(_maintenance_messages(dora)) == 2 and len(_maintenance_messages(wang)) == 2

    # The second reminder's button books, as the first one's does.
    await alice.press(en("🔧 Book maintenance"), again)
    await alice.send_location(34.7466, 113.6253)
    await alice.press(en("✅ Confirm and send"))
    assert len(await _maintenance_numbers(desk)) == 1
    fake.assert_no_rejections()


async def test_a_maintenance_booked_before_its_due_date_is_not_chased(fake, desk):
    dora, alice, reminder = await _reminded(fake, desk)
    await alice.press(en("🔧 Book maintenance"), reminder)
    await alice.send_location(34.7466, 113.6253)
    await alice.press(en("✅ Confirm and send"))
    seen_alice, seen_dora = len(alice.messages), len(dora.messages)
    desk.clock.set(DUE_AT)
    await desk.sweep()
    assert not any("not booked" in (m.text or "") for m in alice.messages[seen_alice:] + dora.messages[seen_dora:])
