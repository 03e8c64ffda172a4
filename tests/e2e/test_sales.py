"""A salesperson's /sell request over HTTP: which customer record it goes to, which product, and when the customer sees it."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from storage.models import AuditEntry, Customer, Product
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol, file_request, onboard


async def _sell(sam, phone: str, text: str, serial: str | None = None) -> str:
    """The salesperson files a repair for Alice; the request number."""
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Alice")
    await sam.send_text(phone)
    if serial is None:
        await sam.press("I don't know it")
    else:
        await sam.send_text(serial)
    await sam.send_text(text)
    await sam.press("📤 Send for approval")
    return re.search(r"SR-\d{4}-\d{6}", sam.last.text).group(0)


async def _approve(approver, number: str) -> None:
    card = next(m for m in reversed(approver.messages) if number in (m.text or "") and "✅ Approve" in m.button_texts)
    await approver.press("✅ Approve", card)


async def _onboard_typing(user, phone: str) -> None:
    """Registration with the phone typed, not shared with the contact button: Telegram vouches for nothing."""
    await user.send_text("/start")
    await user.press(user.first_name)  # "Use “Mallory”"
    await user.send_text(phone)
    await user.send_text("Yellow River Farm")


async def _vps(fake):
    dora = fake.users[DISPATCHER_ID]
    return (await enrol(fake, dora, 7201, "Sam", "salesperson"), await enrol(fake, dora, 7101, "Mia", "marketing_vp"),
            await enrol(fake, dora, 7102, "Pavel", "production_vp"))


async def test_a_sales_request_stays_with_the_sales_record_not_with_whoever_typed_that_phone_later(fake, desk):
    """Sales filed a job for a phone before anyone used the bot with it. Someone who then types that
    number at registration proves nothing: the next job filed for the phone stays with the record sales
    made, and the person in the bot is neither told of it nor sees it (NOTES.md)."""
    sam, mia, pavel = await _vps(fake)
    first = await _sell(sam, "+86 138 0013 8000", "First job, before anyone used the bot with this phone")
    mallory = fake.add_user(user_id=5001, first_name="Mallory", language_code="en")
    await _onboard_typing(mallory, "+86 138 0013 8000")
    second = await _sell(sam, "+86 138 0013 8000", "Second job: the pump at Field 9 leaks, gate code 4711")
    await _approve(mia, second)
    await _approve(pavel, second)
    assert not any(second in (m.text or "") for m in mallory.messages)
    await mallory.send_text("/my")
    assert second not in mallory.last.text and first not in mallory.last.text
    async with desk.db.uow() as uow:
        sales_record = (await uow.requests.by_number(first)).customer_id
        assert (await uow.requests.by_number(second)).customer_id == sales_record
        assert sales_record != (await uow.customers.by_user_id((await uow.users.by_telegram_id(5001)).id)).id
    fake.assert_no_rejections()


async def test_a_customer_who_joins_later_with_their_own_shared_contact_takes_over_the_record_sales_filed_for(fake, desk):
    """Sales filed for a phone nobody used the bot with. The customer then registers sharing their own
    contact (Telegram vouches for the number): they are that record, so /my lists the request, and
    the next job sales files for the phone reaches them."""
    sam, mia, pavel = await _vps(fake)
    number = await _sell(sam, "+86 138 0013 8000", "The pump at Field 3 trips the breaker")
    await _approve(mia, number)
    await _approve(pavel, number)
    async with desk.db.uow() as uow:
        sales_record = (await uow.requests.by_number(number)).customer_id
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice, name="Alice Wang")  # shares her own contact: +8613800138000
    await alice.send_text("/my")
    assert number in alice.last.text
    second = await _sell(sam, "+86 138 0013 8000", "Second job: the valve leaks")
    await _approve(mia, second)
    await _approve(pavel, second)
    assert any(second in (m.text or "") for m in alice.messages)
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(5001)
        customer = await uow.customers.by_user_id(user.id)
        assert customer.id == sales_record
        assert (customer.name, customer.company) == ("Alice", "Yellow River Farm")  # sales' name kept, the empty company filled
        assert (await uow.session.scalar(select(func.count()).select_from(Customer))) == 1
        linked = list(await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "customer_linked")))
        assert [(e.actor_telegram_id, e.details["customer_id"]) for e in linked] == [(5001, sales_record)]
    fake.assert_no_rejections()


async def test_a_shared_contact_is_not_linked_when_two_records_sales_made_have_that_phone(fake, desk):
    """Which of two chatless records is theirs is a guess: neither is taken over."""
    sam, mia, pavel = await _vps(fake)
    first = await _sell(sam, "+86 138 0013 8000", "First job")
    async with desk.db.uow() as uow:  # a second chatless record with the phone (e.g. an import)
        await uow.customers.add(Customer(user_id=None, name="A. Wang", phone="+8613800138000", company=None, created_at=desk.clock.now()))
        await uow.commit()
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/my")
    assert first not in alice.last.text
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(5001)).id)
        assert customer.id != (await uow.requests.by_number(first)).customer_id


async def test_a_sales_request_is_not_linked_to_another_customers_registered_product(fake, desk):
    sam, mia, pavel = await _vps(fake)
    bob = fake.add_user(user_id=5002, first_name="Bob", language_code="en")
    await onboard(bob, phone="+8613900139000")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    today = desk.clock.now().astimezone(desk.settings.timezone).date()
    async with desk.db.uow() as uow:
        bob_customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(5002)).id)
        alice_customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(5001)).id)
        await uow.products.add(Product(serial="QJ-9001", model="QJ 50-120", customer_id=bob_customer.id, sale_date=today - timedelta(days=30)))
        await uow.products.add(Product(serial="QJ-9002", model="QJ 50-120", customer_id=alice_customer.id, sale_date=today - timedelta(days=30)))
        await uow.commit()
    foreign = await _sell(sam, "+86 138 0013 8000", "Pump stops", serial="QJ-9001")  # Bob's serial, mistyped or not
    own = await _sell(sam, "+86 138 0013 8000", "Pump rattles", serial="qj-9002")
    for number in (foreign, own):
        await _approve(mia, number)
        await _approve(pavel, number)
    await alice.send_text(foreign)
    assert "QJ-9001" in alice.last.text  # the serial as typed, not Bob's product
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(foreign)
        assert (request.customer_id, request.product_id, request.serial_text) == (alice_customer.id, None, "QJ-9001")
        linked = await uow.requests.by_number(own)
        assert (await uow.products.get(linked.product_id)).serial == "QJ-9002"
    fake.assert_no_rejections()


async def test_the_customer_sees_a_sales_request_only_once_the_service_department_has_it(fake, desk):
    """Neither while its approval chain decides nor after the chain turned it down: a request the
    customer was never told of does not sit in /my as "waiting", then close without a word."""
    sam, mia, pavel = await _vps(fake)
    alice = fake.add_user(user_id=5003, first_name="Alice", language_code="en")
    await onboard(alice)  # +8613800138000
    turned_down = await _sell(sam, "+86 138 0013 8000", "The irrigation pump stops after an hour")
    taken_on = await _sell(sam, "+86 138 0013 8000", "The second pump leaks")
    await alice.send_text("/my")
    assert turned_down not in alice.last.text and taken_on not in alice.last.text
    card = next(m for m in reversed(mia.messages) if turned_down in (m.text or "") and "❌ Reject" in m.button_texts)
    await mia.press("❌ Reject", card)
    await mia.send_text("Customer has unpaid invoices; sales must collect first")
    await _approve(mia, taken_on)
    await _approve(pavel, taken_on)
    await alice.send_text("/my")
    assert taken_on in alice.last.text and turned_down not in alice.last.text
    await alice.send_text(f"/status {turned_down}")
    assert alice.last.text == f"No request {turned_down} was found among yours. Check the number, or see /my."
    assert not any("unpaid invoices" in (m.text or "") for m in alice.messages)
    fake.assert_no_rejections()


async def test_a_filled_sell_form_survives_answering_a_consultation(fake, desk):
    sam, mia, pavel = await _vps(fake)
    alice = fake.add_user(user_id=9931, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    notice = next(m for m in sam.messages if number in (m.text or ""))
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Bob, Green Valley Farm")
    await sam.send_text("+86 139 0013 9000")
    await sam.send_text("QJ-7001")
    await sam.send_text("The well pump at Green Valley rattles")
    assert "Check the request" in sam.last.text
    await sam.press("💬 Answer the customer", notice)  # another dialog takes over
    await sam.send_text("Use ISO VG 46 hydraulic oil.")
    assert f"Your answer is sent to the customer of {number}" in sam.last.text
    await sam.send_text("/sell")
    assert sam.messages[-2].text == "You have an unfinished request for a customer; let's continue where you stopped."
    form = sam.last.text
    assert "Check the request" in form and "Green Valley Farm" in form and "+8613900139000" in form and "QJ-7001" in form and "rattles" in form
    await sam.press("📤 Send for approval")
    filed = re.search(r"SR-\d{4}-\d{6}", sam.last.text).group(0)
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(filed)).description == "The well pump at Green Valley rattles"
    await sam.send_text("/sell")  # nothing kept aside any more: a fresh form
    assert "unfinished" not in sam.messages[-2].text and "Check the request" not in sam.last.text
    fake.assert_no_rejections()
