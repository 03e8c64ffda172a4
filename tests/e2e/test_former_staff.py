"""A staff member who leaves (deactivated) is a customer again: they keep hearing about their own
requests, and no longer hear anything meant for staff."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.services import notices
from bot.views import View
from handlers.outbox import CLOSED_BY_TIMEOUT, CLOSED_BY_TIMEOUT_STAFF
from storage.models import OutboxMessage
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, report_by_phone
from tests.e2e.test_returns import _approval_card, _ask_return, _sold_to


async def _join_staff(admin, person, role: str) -> None:
    """A customer already on the bot accepts an invitation to the staff."""
    await admin.send_text(f"/invite {role}")
    code = re.search(r"start=(inv_[\w-]+)", admin.last.text).group(1)
    await person.send_text(f"/start {code}")


async def _deactivate(admin, name: str) -> None:
    await admin.send_text("/staff")
    await admin.press(name)
    await admin.press("⛔ Deactivate")


async def test_a_deactivated_staff_member_still_hears_about_their_own_customer_request(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 4101, "Ed", "engineer")
    alice = fake.add_user(user_id=4103, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _join_staff(dora, alice, "salesperson")
    await _deactivate(dora, "Alice")
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(4103)).is_active is False

    # staff news no longer reaches her: a new consultation goes to the salespeople and dispatchers
    bob = fake.add_user(user_id=4104, first_name="Bob", language_code="en")
    await onboard(bob, phone="+8613900139001")
    question = await file_request(bob, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    await dora.wait_for(question, timeout=3)
    assert not any(question in (m.text or "") for m in alice.messages)

    # her own request, as a customer: the engineer, his report, her verdict
    await assign(dora, number, "Ed")
    assigned = await alice.wait_for(number, timeout=3)
    assert assigned.text == f"👷 Engineer Ed is assigned to your request {number}."
    await ed.press("Accept")
    await report_by_phone(ed)
    report = await alice.wait_for("Is the problem solved?", timeout=3)
    assert number in report.text
    await alice.press("✅ Resolved", report)
    await ed.wait_for(f"The customer confirmed job {number} as resolved", timeout=3)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.status == "closed" and request.closed_reason != "timeout"
    fake.assert_no_rejections()


async def test_messages_waiting_when_someone_leaves_keep_the_customers_and_drop_the_staffs(fake, desk):
    """Rows queued while Alice was staff and a customer, and Ed (staff only), both deactivated
    before the rows fall due: Alice gets what is hers as a customer, nothing else; Ed nothing."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 4201, "Ed", "engineer")
    alice = fake.add_user(user_id=4203, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _join_staff(dora, alice, "salesperson")
    now, later = desk.clock.now(), desk.clock.now() + timedelta(hours=1)
    timeout = {"number": number, "hours": 72}
    async with desk.db.uow() as uow:
        her, him = await uow.users.by_telegram_id(4203), await uow.users.by_telegram_id(4201)
        for person, kind, payload, key in (
            (her, notices.VIEW, View("A note on your request").to_payload(), "t:alice:view"),
            (her, CLOSED_BY_TIMEOUT, timeout, "t:alice:customer"),
            (her, CLOSED_BY_TIMEOUT_STAFF, timeout, "t:alice:staff"),
            (him, notices.VIEW, View("A note on your job").to_payload(), "t:ed:view"),
        ):
            assert await notices.queue(uow, person, kind, payload, key, now, not_before=later)
        await uow.commit()
    await _deactivate(dora, "Alice")
    await _deactivate(dora, "Ed")

    desk.clock.advance(timedelta(hours=2))
    await desk.sweep()
    told = [m.text for m in alice.new_messages]
    assert "A note on your request" in told
    assert f"Request {number} is closed: we did not hear back within 72 hours after the work report, so we count it as resolved. " \
           "If the problem comes back, report it with /new." in told
    assert not any("closed as confirmed by timeout" in text for text in told)  # the staff's version
    assert not any("A note on your job" in (m.text or "") for m in ed.messages)
    async with desk.db.uow() as uow:
        rows = {row.key: row for row in (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.key.like("t:%")))).scalars()}
        assert {key: (row.sent_at is not None, row.failure) for key, row in rows.items()} == {
            "t:alice:view": (True, None), "t:alice:customer": (True, None),
            "t:alice:staff": (True, "obsolete"), "t:ed:view": (True, "unreachable"),
        }
        # and nothing new is queued for someone who left and never was a customer
        him = await uow.users.by_telegram_id(4201)
        assert not await notices.queue(uow, him, notices.VIEW, View("More work").to_payload(), "t:ed:later", desk.clock.now())
    fake.assert_no_rejections()


async def test_an_engineer_who_left_is_not_told_the_customer_confirmed_his_job(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = fake.add_user(user_id=4121, first_name="Ed", language_code="en")
    await onboard(ed, phone="+8613900139021")  # a customer of the desk first, then an engineer
    await _join_staff(dora, ed, "engineer")
    alice = fake.add_user(user_id=4122, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed)
    report = await alice.wait_for("Is the problem solved?", timeout=3)
    await _deactivate(dora, "Ed")
    await alice.press("✅ Resolved", report)
    await fake.settle()
    assert not any(f"confirmed job {number}" in (m.text or "") for m in ed.messages)  # staff news, for someone who left
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == "closed"
    fake.assert_no_rejections()


async def test_someone_who_left_is_asked_about_their_own_return_as_a_customer(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7391, "Sun", "service_manager")
    alice = fake.add_user(user_id=5091, first_name="Alice", language_code="en")
    await onboard(alice)
    await _join_staff(dora, alice, "salesperson")
    await _deactivate(dora, "Alice")
    await _sold_to(desk, 5091, "QJ-2901", days_ago=10)
    number = await _ask_return(alice, "QJ-2901")
    await sun.press("❓ Ask for info", _approval_card(sun, number))
    assert "What do you need to know about the Return or exchange for" in sun.last.text
    await sun.send_text("Do you still have the box?")
    assert "Do you still have the box?" in alice.last.text
    fake.assert_no_rejections()


async def test_deactivating_someone_leaves_the_question_on_their_own_return_with_them(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7392, "Sun", "service_manager")
    alice = fake.add_user(user_id=5092, first_name="Alice", language_code="en")
    await onboard(alice)
    await _join_staff(dora, alice, "salesperson")
    await _sold_to(desk, 5092, "QJ-2902", days_ago=10)
    number = await _ask_return(alice, "QJ-2902")
    await sun.press("❓ Ask for info", _approval_card(sun, number))
    await sun.send_text("Do you still have the box?")
    await alice.wait_for("Do you still have the box?", timeout=3)
    await _deactivate(dora, "Alice")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        status = next((a.status for a in await uow.approvals.open() if a.request_id == request.id), None)
    assert status == "info"  # still waiting for the customer's answer
    fake.assert_no_rejections()
