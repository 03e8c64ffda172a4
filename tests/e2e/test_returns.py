"""Returns over HTTP: a customer asks to return a faulty product from /products or from a request
card, the service manager decides, the customer gets shipping instructions, and the warehouse
tracks the product until the refund; the customer is told at every step."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from storage.models import AuditEntry, Part, Product, ReturnCase
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, report_by_phone, t




async def _sold_to(desk, telegram_id: int, serial: str, days_ago: int) -> None:
    """The registry says the customer bought the product `days_ago` days ago (local date)."""
    today = desk.clock.now().astimezone(desk.settings.timezone).date()
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(telegram_id)).id)
        await uow.products.add(Product(serial=serial, model="QJ 50-120", customer_id=customer.id, sale_date=today - timedelta(days=days_ago)))
        await uow.commit()


def _data(message, label: str) -> str:
    return next(b["callback_data"] for row in message.reply_markup["inline_keyboard"] for b in row if b["text"] == label)


async def test_a_faulty_product_10_days_after_sale_is_refunded_after_approval_and_tracking(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7301, "Sun", "service_manager")
    wen = await enrol(fake, dora, 7302, "Wen", "warehouse")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5001, "QJ-2001", days_ago=10)

    await alice.send_text("/products")
    await alice.press("↩️ Return or exchange: QJ-2001")
    assert "Is the product unused and intact, or does it have a quality fault?" in alice.last.text
    await alice.send_text("It is broken")  # typed where a button is the answer
    assert "Please use the buttons above" in alice.last.text
    await alice.press("🔧 Quality fault")
    assert "Describe it briefly" in alice.last.text
    await alice.send_sticker()
    assert "Please describe it as text" in alice.last.text
    await alice.send_text("x" * 1001)
    assert "too long" in alice.last.text
    await alice.send_text("The pump stops after five minutes & smells burnt")
    summary = alice.last
    assert "Proposed: refund" in summary.text and "Shipping to us is at the company's cost." in summary.text
    assert "a product with a quality fault is refunded until" in summary.text
    assert "smells burnt" in summary.text
    send = _data(summary, "✅ Send the request")
    await alice.press("✅ Send the request", summary)
    number = re.search(r"SR-\d{4}-\d{6}", alice.last.text).group(0)
    assert f"Your return request {number} is registered. Proposed: refund." in alice.last.text
    await alice.press_data(send, summary)  # a double press on Send creates nothing more
    assert alice.callback_answers[-1][1] == "This button is no longer valid."

    card = sun.last
    assert number in card.text and "Return or exchange" in card.text
    assert "quality fault, day 10 after" in card.text and "Proposed: refund" in card.text and "Shipping paid by the company" in card.text
    assert any(number in (m.text or "") for m in dora.messages)  # the dispatchers get every new request
    alice_seen = len(alice.messages)
    await sun.press("✅ Approve", card)
    assert not any("Approved by" in (m.text or "") for m in alice.messages[alice_seen:])  # staff wording stays with staff

    instructions = next(m for m in reversed(alice.messages) if "is approved" in (m.text or ""))
    assert f"Your return {number} is approved: refund." in instructions.text
    assert desk.policy.returns.return_address in instructions.text
    assert "Shipping is at the company's cost" in instructions.text and f"Write the request number {number} on the parcel." in instructions.text
    tracking = wen.last
    assert f"Return {number}" in tracking.text and "approved, waiting for the product" in tracking.text
    received = _data(tracking, "📦 Product received")

    await alice.press_data(received)  # a customer forging the warehouse's button
    assert alice.callback_answers[-1][1] == "This button is no longer valid."

    desk.clock.advance(timedelta(days=3))
    await wen.press("📦 Product received", tracking)
    assert f"We have received the product for {number}" in alice.last.text
    assert "Marked “product received” by Wen" in wen.message(tracking.message_id).text
    await wen.press_data(received, tracking)  # the same press again
    assert wen.callback_answers[-1][1] == "This return is already “product received”; nothing was changed."

    await wen.press("🔍 Inspected", tracking)
    assert f"The product for {number} has been inspected." in alice.last.text
    await wen.press("💰 Refunded", tracking)
    assert f"{number}: your refund has been made. The request is closed." in alice.last.text
    assert wen.message(tracking.message_id).button_texts == ["🔄 Refresh"]

    await alice.send_text(number)  # the customer's card tells the story
    history = alice.last.text
    for label in ("Return approved; shipping instructions sent", "Returned product received", "Returned product inspected", "Refunded"):
        assert label in history
    assert "Status: Closed" in history
    async with desk.db.uow() as uow:
        case = (await uow.session.scalars(select(ReturnCase))).one()
        assert (case.state, case.proposed_outcome, case.shipping_paid_by, case.days_since) == ("refunded", "refund", "company", 10)
        audited = list(await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action.in_(("return_not_allowed", "return_late_press")))))
        assert sorted(audited) == [5001, 7302]
    fake.assert_no_rejections()


async def test_from_a_request_card_the_customer_picks_the_product_and_a_rejection_gives_the_reason(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7301, "Sun", "service_manager")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    await alice.press("↩️ Return or exchange")
    assert "Returns are for registered products" in alice.last.text

    await _sold_to(desk, 5001, "QJ-2002", days_ago=8)
    await alice.press("↩️ Return or exchange")
    await alice.press("QJ 50-120 · QJ-2002")
    await alice.press("📦 Unused and intact")
    assert "can be returned without a reason only until" in alice.last.text  # day 8: too late for that
    await alice.press("🔧 Quality fault")
    await alice.send_text("Rattles when running")
    assert "Proposed: exchange" not in alice.last.text and "Proposed: refund" in alice.last.text
    await alice.press("✅ Send the request")
    returned = re.search(r"SR-\d{4}-\d{6}", alice.last.text).group(0)
    assert returned != number

    await sun.press("❌ Reject", sun.last)
    await sun.send_text("The noise is normal for this model; see the manual, page 12")
    refusal = next(m for m in reversed(alice.messages) if "was not approved" in (m.text or ""))
    assert f"Your return {returned} was not approved." in refusal.text and "normal for this model" in refusal.text
    await alice.send_text(returned)
    assert "Return not approved" in alice.last.text and "Status: Closed" in alice.last.text
    assert "↩️ Return or exchange" not in alice.last.button_texts  # a return's own card offers no return
    fake.assert_no_rejections()


async def _ask_return(customer, serial: str) -> str:
    """The customer asks to return a faulty product; the request number."""
    await customer.send_text("/products")
    await customer.press(f"↩️ Return or exchange: {serial}")
    await customer.press("🔧 Quality fault")
    await customer.send_text("It stops after five minutes")
    await customer.press("✅ Send the request")
    return re.search(r"SR-\d{4}-\d{6}", customer.last.text).group(0)


async def test_the_warehouse_finds_every_return_waiting_on_it_with_returns(fake, desk, monkeypatch):
    from bot.services import returns

    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7311, "Sun", "service_manager")
    wen = await enrol(fake, dora, 7312, "Wen", "warehouse")
    alice = fake.add_user(user_id=5011, first_name="Alice", language_code="en")
    await onboard(alice)
    await wen.send_text("/returns")
    assert wen.last.text == "No returns are waiting on the warehouse."
    await alice.send_text("/returns")
    assert alice.last.text == "This command is for the warehouse and the service manager."
    await wen.send_text("/help")
    assert "/returns — approved returns on their way back" in wen.last.text

    await _sold_to(desk, 5011, "QJ-2101", days_ago=10)
    await _sold_to(desk, 5011, "QJ-2102", days_ago=12)
    first = await _ask_return(alice, "QJ-2101")
    second = await _ask_return(alice, "QJ-2102")
    await wen.send_text("/returns")
    assert wen.last.text == "No returns are waiting on the warehouse."  # both still wait for the manager

    def approval_card(number: str):
        return next(m for m in sun.messages if number in (m.text or "") and "✅ Approve" in m.button_texts)

    await sun.press("✅ Approve", approval_card(first))
    seen = len(wen.messages)
    await wen.send_text("/returns")
    (card,) = wen.messages[seen:]
    assert f"Return {first}" in card.text and "approved, waiting for the product" in card.text
    assert card.button_texts == ["📦 Product received", "🔄 Refresh"]

    desk.clock.advance(timedelta(hours=1))
    await sun.press("✅ Approve", approval_card(second))
    desk.clock.advance(timedelta(hours=1))
    await wen.press("📦 Product received", card)  # acted on from the list
    assert f"We have received the product for {first}" in alice.last.text

    seen = len(wen.messages)
    await wen.send_text("/returns")
    listed = wen.messages[seen:]
    assert [m.text.split("\n")[0] for m in listed] == [  # the one untouched longest first
        f"↩️ Return {second} · approved, waiting for the product", f"↩️ Return {first} · product received",
    ]
    monkeypatch.setattr(returns, "IN_HAND_SHOWN", 1)
    seen = len(wen.messages)
    await wen.send_text("/returns")
    card, more = wen.messages[seen:]
    assert f"Return {second}" in card.text and card.button_texts == ["📦 Product received", "🔄 Refresh"]
    assert more.text == "Returns waiting on the warehouse: 2. Shown above: the 1 that waited longest."

    for step in ("🔍 Inspected", "💰 Refunded"):
        await wen.press(step, listed[1])  # the first return's card from the full listing
    seen = len(wen.messages)
    await wen.send_text("/returns")  # refunded: no longer waiting on the warehouse, and no "more" line
    assert [m.text.split("\n")[0] for m in wen.messages[seen:]] == [f"↩️ Return {second} · approved, waiting for the product"]
    fake.assert_no_rejections()


async def test_a_paid_repair_return_is_repaired_only_after_the_customer_accepts_the_quote(fake, desk):
    async with desk.db.uow() as uow:
        uow.session.add(Part(code="QJ-200", name="Impeller", unit="pcs", price=120_000))  # 1,200.00 CNY
        await uow.commit()
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7321, "Sun", "service_manager")
    wen = await enrol(fake, dora, 7322, "Wen", "warehouse")
    alice = fake.add_user(user_id=5021, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5021, "QJ-2201", days_ago=200)  # past the 3-month free repair
    number = await _ask_return(alice, "QJ-2201")
    assert "Proposed: paid repair" in alice.messages[-2].text  # the summary said so, and that the cost comes first
    await sun.press("✅ Approve", next(m for m in sun.messages if number in (m.text or "") and "✅ Approve" in m.button_texts))
    tracking = wen.last
    await wen.press("📦 Product received", tracking)
    await wen.press("🔍 Inspected", tracking)
    asked = dora.last
    assert asked.text == f"🧮 Return {number} is inspected and is a paid repair: send the customer a quote before the repair."

    told = len(alice.messages)
    await wen.press("🔧 Repaired", tracking)  # before the customer has agreed to the cost
    assert wen.callback_answers[-1][1].startswith("This repair is paid: mark it repaired once the customer has accepted the quote")
    assert len(alice.messages) == told
    await wen.send_text("/returns")
    assert f"Return {number} · product inspected" in wen.last.text

    await dora.press("📂 Open the request", asked)
    assert "Warranty: warranty expired" in dora.last.text
    await dora.press("🧮 Quote")
    await dora.send_text("qj-200")
    await dora.send_text("1")
    await dora.press("Parts done ›")
    await dora.send_text("600")
    await dora.send_text("350")
    await dora.press("📤 Send to the customer")
    offer = alice.last
    assert "Total: CN¥2,150.00" in offer.text
    await alice.press("✅ Accept", offer)

    await wen.press("🔧 Repaired", tracking)
    assert f"🔧 {number}: the product is repaired and is sent back to you. The request is closed." in alice.last.text
    async with desk.db.uow() as uow:
        assert (await uow.session.scalars(select(ReturnCase))).one().state == "repaired"
    fake.assert_no_rejections()


async def _cancel(customer, number: str) -> None:
    await customer.send_text(number)
    await customer.press("Cancel this request")
    await customer.press("Yes, cancel it")


async def test_a_cancelled_return_request_ends_the_return_and_the_product_may_be_returned_again(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7321, "Sun", "service_manager")
    wen = await enrol(fake, dora, 7322, "Wen", "warehouse")
    alice = fake.add_user(user_id=5021, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5021, "QJ-2001", days_ago=10)

    first = await _ask_return(alice, "QJ-2001")  # cancelled while the manager has not decided
    card = sun.last
    approve = _data(card, "✅ Approve")
    await _cancel(alice, first)
    assert "Status: Cancelled" in alice.last.text
    assert "withdrawn" in sun.message(card.message_id).text and not sun.message(card.message_id).buttons
    await sun.press_data(approve, card)
    assert sun.callback_answers[-1][1] == "This approval was withdrawn: there is nothing left to decide."

    second = await _ask_return(alice, "QJ-2001")  # allowed again; approved, then cancelled before shipping
    assert second != first
    await sun.press("✅ Approve", sun.last)
    await _cancel(alice, second)
    await wen.send_text("/returns")
    assert second not in wen.last.text

    third = await _ask_return(alice, "QJ-2001")  # once the warehouse has it, it is theirs to finish
    await sun.press("✅ Approve", sun.last)
    await wen.press("📦 Product received", wen.last)
    await alice.send_text(third)
    await alice.press("Cancel this request")
    assert alice.callback_answers[-1][1] == "This return can no longer be cancelled: the warehouse has your product. Please add a comment instead."
    async with desk.db.uow() as uow:
        states = {case.request_id: case.state for case in await uow.session.scalars(select(ReturnCase))}
        numbers = {(await uow.requests.get(request_id)).number: state for request_id, state in states.items()}
        assert numbers == {first: "cancelled", second: "cancelled", third: "received"}
    fake.assert_no_rejections()


async def test_return_chosen_in_new_follows_the_return_rules_for_a_registered_product(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7331, "Sun", "service_manager")
    alice = fake.add_user(user_id=5031, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5031, "QJ-2001", days_ago=10)

    await alice.send_text("/new")
    await alice.press("Return / exchange")
    assert "Which product do you want to return or exchange?" in alice.last.text
    await alice.press("⬅️ Back")  # back to the types of /new
    assert "What do you need?" in alice.last.text
    await alice.press("Return / exchange")
    await alice.press("📝 Another product, not in this list")  # the registry does not know it: /new's own questions
    assert "serial number" in alice.last.text.lower()
    await alice.send_text("/cancel")

    await alice.send_text("/new")
    await alice.press("Return / exchange")
    await alice.press("QJ 50-120 · QJ-2001")
    await alice.press("🔧 Quality fault")
    await alice.send_text("It stops after five minutes")
    assert "Proposed: refund" in alice.last.text
    await alice.press("✅ Send the request")
    number = re.search(r"SR-\d{4}-\d{6}", alice.last.text).group(0)
    assert number in sun.last.text and "✅ Approve" in sun.last.button_texts  # the manager's approval applies
    async with desk.db.uow() as uow:
        case = (await uow.session.scalars(select(ReturnCase))).one()
        assert (case.state, (await uow.requests.get(case.request_id)).number) == ("pending", number)
    fake.assert_no_rejections()


async def test_return_chosen_in_new_without_registered_products_is_a_request_for_the_service_department(fake, desk):
    alice = fake.add_user(user_id=5032, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Return / exchange", description="I want to return the pump I bought")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.kind == "return" and await uow.returns.of_request(request.id) is None
    fake.assert_no_rejections()


async def _quoted_paid_return(fake, desk, alice_id: int):
    """A return past the free-repair window, approved, received and inspected, and the dispatcher's
    quote for the paid repair sent to the customer; (dora, alice, sun, wen, number, tracking card)."""
    async with desk.db.uow() as uow:
        uow.session.add(Part(code="QJ-200", name="Impeller", unit="pcs", price=120_000))
        await uow.commit()
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7321, "Sun", "service_manager")
    wen = await enrol(fake, dora, 7322, "Wen", "warehouse")
    alice = fake.add_user(user_id=alice_id, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, alice_id, "QJ-2201", days_ago=200)  # past the free-repair window: a paid repair
    number = await _ask_return(alice, "QJ-2201")
    await sun.press("✅ Approve", next(m for m in sun.messages if number in (m.text or "") and "✅ Approve" in m.button_texts))
    tracking = wen.last
    await wen.press("📦 Product received", tracking)
    await wen.press("🔍 Inspected", tracking)
    await dora.press("📂 Open the request", dora.last)
    await dora.press("🧮 Quote")
    await dora.press("Parts done ›")
    await dora.send_text("800")
    await dora.send_text("0")
    await dora.press("📤 Send to the customer")
    return dora, alice, sun, wen, number, tracking


async def test_a_declined_paid_repair_goes_back_to_the_customer_unrepaired_from_the_tracking_card(fake, desk):
    dora, alice, sun, wen, number, tracking = await _quoted_paid_return(fake, desk, 5031)
    await alice.press("❌ Decline", alice.last)

    await dora.send_text(number)
    await dora.press("🗂 Close the request")  # the product is at the warehouse: not a way to end this
    assert dora.callback_answers[-1][1].startswith("The warehouse has the customer's product")
    await wen.press("📤 Sent back unrepaired", tracking)
    assert alice.last.text == f"📤 {number}: the product is sent back to you as it came, without repair. The request is closed."
    await wen.send_text("/returns")
    assert wen.last.text == "No returns are waiting on the warehouse."
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.closed_reason) == ("closed", "sent_back")
        assert all(c.stopped_at is not None for c in await uow.requests.clocks(request.id))
    fake.assert_no_rejections()


async def test_the_approvers_card_gives_the_returns_grounds_in_the_approvers_language(fake, desk):
    """The reason line (outcome, days since the sale, who pays shipping) was written once in the
    desk's default language: a Russian manager read a Russian card with an English reason."""
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7301, "Sun", "service_manager", "ru")
    alice = fake.add_user(user_id=5301, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5301, "QJ-2301", days_ago=10)
    await alice.send_text("/products")
    await alice.press("↩️ Return or exchange: QJ-2301")
    await alice.press("🔧 Quality fault")
    await alice.send_text("The pump stops after five minutes")
    await alice.press("✅ Send the request")
    card = sun.last
    assert t("ru", "Reason: {text}", text="") in card.text
    assert t("ru", "quality fault") in card.text and "quality fault" not in card.text
    await sun.press(t("ru", "✅ Approve"), card)
    assert t("ru", "quality fault") in fake.users[7301].message(card.message_id).text  # the redrawn copy too


def _approval_card(approver, number: str):
    return next(m for m in approver.messages if number in (m.text or "") and "✅ Approve" in m.button_texts)


async def test_a_return_closed_by_the_customers_confirmed_report_ends_and_the_product_may_be_returned_again(fake, desk):
    """The dispatcher sent an engineer to a return still waiting for the manager, the engineer
    solved it by phone and the customer pressed "Resolved": the return ends with its request."""
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7341, "Sun", "service_manager")
    ed = await enrol(fake, dora, 5641, "Ed", "engineer")
    alice = fake.add_user(user_id=5041, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5041, "QJ-2401", days_ago=10)
    number = await _ask_return(alice, "QJ-2401")
    card = _approval_card(sun, number)
    approve = _data(card, "✅ Approve")
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed, solution="Reset the thermal cut-out with the customer", opinion="Works again")
    await alice.press("Resolved")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        case = await uow.returns.of_request(request.id)
        (approval,) = await uow.approvals.of_request(request.id)
        assert (request.status, case.state, approval.status) == ("closed", "cancelled", "withdrawn")
    redrawn = sun.message(card.message_id)
    assert "Withdrawn" in redrawn.text and "the request was cancelled or closed" in redrawn.text and not redrawn.buttons
    await sun.press_data(approve, card)
    assert sun.callback_answers[-1][1] == "This approval was withdrawn: there is nothing left to decide."

    desk.clock.advance(timedelta(days=2))  # the fault is back, still within the refund period
    second = await _ask_return(alice, "QJ-2401")
    assert second != number
    assert "Proposed: refund" in _approval_card(sun, second).text
    fake.assert_no_rejections()


async def test_an_approved_return_closed_unanswered_leaves_the_warehouse_list(fake, desk):
    """Approved (the warehouse waits for the product), then solved by phone and the customer never
    answered: closed by the timeout, the return ends and /returns no longer lists it."""
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7351, "Sun", "service_manager")
    wen = await enrol(fake, dora, 7352, "Wen", "warehouse")
    ed = await enrol(fake, dora, 5651, "Ed", "engineer")
    alice = fake.add_user(user_id=5051, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5051, "QJ-2501", days_ago=40)  # free repair
    number = await _ask_return(alice, "QJ-2501")
    await assign(dora, number, "Ed")
    await sun.press("✅ Approve", _approval_card(sun, number))
    tracking = wen.last
    assert "📦 Product received" in tracking.button_texts
    await ed.press("Accept")
    await report_by_phone(ed, solution="Reset the thermal cut-out with the customer", opinion="Works again")
    desk.clock.advance(desk.policy.closing.confirmation_timeout + timedelta(minutes=1))
    await desk.sweep()
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        case = await uow.returns.of_request(request.id)
        assert (request.status, request.closed_reason, case.state) == ("closed", "timeout", "cancelled")
    await wen.send_text("/returns")
    assert wen.last.text == "No returns are waiting on the warehouse."
    await wen.press("📦 Product received", tracking)  # the card from before: the button comes off
    assert wen.callback_answers[-1][1] == "This return is already “cancelled”; nothing was changed."
    assert wen.message(tracking.message_id).button_texts == ["🔄 Refresh"]
    assert "cancelled" in wen.message(tracking.message_id).text
    await alice.send_text("/products")
    await alice.press("↩️ Return or exchange: QJ-2501")
    assert "Is the product unused and intact" in alice.last.text
    fake.assert_no_rejections()


async def test_a_return_still_in_its_registry_warranty_is_a_free_repair_shipped_at_the_companys_cost(fake, desk):
    """Past the 3-month free repair but the registry's 24-month warranty still runs (DESIGN §1:
    in warranty, free repair and parts; quality returns ship at the company's cost)."""
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7361, "Sun", "service_manager")
    alice = fake.add_user(user_id=5061, first_name="Alice", language_code="en")
    await onboard(alice)
    today = desk.clock.now().astimezone(desk.settings.timezone).date()
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(5061)).id)
        await uow.products.add(Product(serial="QJ-2601", model="QJ 50-120", customer_id=customer.id, sale_date=today - timedelta(days=200),
                                       warranty_months=24, warranty_end=today + timedelta(days=530)))
        await uow.commit()
    number = await _ask_return(alice, "QJ-2601")
    summary = alice.messages[-2].text
    assert "Proposed: free repair" in summary and "Shipping to us is at the company's cost." in summary
    assert "the repair is paid" not in summary
    assert "Proposed: free repair" in _approval_card(sun, number).text
    await dora.send_text(number)
    assert "Warranty: in warranty" in dora.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        case = await uow.returns.of_request(request.id)
        assert request.warranty is None  # the registry's reading stands; nothing forced "expired"
        assert (case.proposed_outcome, case.shipping_paid_by) == ("free_repair", "company")
    fake.assert_no_rejections()


async def _approved_return_tracked_in_russian(fake, desk):
    """Alice's return, approved by Sun; the warehouse (Wen) reads Russian. (dora, sun, wen, alice, number)"""
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7371, "Sun", "service_manager")
    wen = await enrol(fake, dora, 7372, "Wen", "warehouse", "ru")
    alice = fake.add_user(user_id=5071, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5071, "QJ-2701", days_ago=10)
    number = await _ask_return(alice, "QJ-2701")
    await sun.press("✅ Approve", _approval_card(sun, number))
    return dora, sun, wen, alice, number


async def test_the_warehouse_is_told_when_an_approved_return_is_cancelled(fake, desk):
    dora, sun, wen, alice, number = await _approved_return_tracked_in_russian(fake, desk)
    tracking = wen.last
    assert t("ru", "📦 Product received") in tracking.button_texts
    seen, sun_seen = len(wen.messages), len(sun.messages)
    await _cancel(alice, number)
    assert "Status: Cancelled" in alice.last.text
    (told,) = wen.messages[seen:]
    assert t("ru", "❌ Return {number} is cancelled: the product is not coming.", number=number) in told.text
    assert t("ru", "cancelled") in told.text and told.button_texts == [t("ru", "🔄 Refresh")]
    assert any(f"Return {number} is cancelled: the product is not coming." in (m.text or "") for m in sun.messages[sun_seen:])  # the manager tracks returns too
    await wen.press(t("ru", "📦 Product received"), tracking)
    assert wen.callback_answers[-1][1] == t("ru", "This return is already “{state}”; nothing was changed.", state=t("ru", "cancelled"))
    assert wen.message(tracking.message_id).button_texts == [t("ru", "🔄 Refresh")]
    fake.assert_no_rejections()


async def test_an_unused_return_within_7_days_needs_no_reason_but_a_fault_needs_its_description(fake, desk):
    """DESIGN §1: unused and intact within 7 days, no reason needed; each reader is told so in their language."""
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7381, "Sun", "service_manager", "ru")
    alice = fake.add_user(user_id=5081, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5081, "QJ-2801", days_ago=3)
    await alice.send_text("/products")
    await alice.press("↩️ Return or exchange: QJ-2801")
    await alice.press("🔧 Quality fault")
    assert "Describe it briefly" in alice.last.text and "Skip" not in alice.last.button_texts
    await alice.press("⬅️ Back")
    await alice.press("📦 Unused and intact")
    prompt = alice.last
    assert "why you return it" not in prompt.text and "or press “Skip”" in prompt.text
    assert prompt.button_texts[0] == "Skip"
    await alice.press("Skip", prompt)
    summary = alice.last
    assert "Proposed: refund (unused product returned)" in summary.text and "Description: —" in summary.text
    await alice.press("✅ Send the request", summary)
    number = re.search(r"SR-\d{4}-\d{6}", alice.last.text).group(0)
    card = next(m for m in reversed(sun.messages) if number in (m.text or "") and len(m.button_texts) > 1)
    assert t("ru", "Unused and intact; no reason given.") in card.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.description == ""
    await alice.send_text(number)
    assert "Description: Unused and intact; no reason given." in alice.last.text
    fake.assert_no_rejections()


async def test_the_return_reject_and_ask_prompts_say_the_customer_reads_the_text(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7391, "Sun", "service_manager")
    alice = fake.add_user(user_id=5091, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 5091, "QJ-2901", days_ago=10)
    number = await _ask_return(alice, "QJ-2901")
    await sun.press("❌ Reject", _approval_card(sun, number))
    assert "Why do you reject the Return or exchange for" in sun.last.text and "The customer reads this." in sun.last.text
    await sun.press("✖️ Cancel")
    await sun.press("❓ Ask for info", _approval_card(sun, number))
    assert "What do you need to know about the Return or exchange for" in sun.last.text and "The customer reads this." in sun.last.text
    await sun.send_text("Do you still have the box?")
    assert "Do you still have the box?" in alice.last.text
    fake.assert_no_rejections()


async def test_the_warehouse_is_told_when_the_dispatcher_closes_an_approved_return(fake, desk):
    dora, sun, wen, alice, number = await _approved_return_tracked_in_russian(fake, desk)
    seen = len(wen.messages)
    await dora.send_text(number)
    await dora.press("🗂 Close the request")
    await dora.send_text("The customer keeps the pump after all")
    told = [m for m in wen.messages[seen:] if number in (m.text or "")]
    assert len(told) == 1 and t("ru", "❌ Return {number} is cancelled: the product is not coming.", number=number) in told[0].text
    assert "📦" not in " ".join(told[0].button_texts)  # nothing left to receive
    fake.assert_no_rejections()


async def test_a_written_return_survives_a_comment_on_another_request(fake, desk):
    alice = fake.add_user(user_id=9921, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _sold_to(desk, 9921, "QJ-2001", days_ago=10)
    await alice.send_text("/products")
    await alice.press("↩️ Return or exchange: QJ-2001")
    await alice.press("🔧 Quality fault")
    await alice.send_text("The pump stops after five minutes and smells burnt")
    assert "Proposed: refund" in alice.last.text  # the summary, not sent yet
    await alice.send_text(f"/status {number}")
    await alice.press("💬 Add comment or photos")
    await alice.send_text("The pump is still leaking")
    await alice.press("✅ Done")
    await alice.send_text("/products")
    await alice.press("↩️ Return or exchange: QJ-2001")
    assert alice.messages[-2].text == "You have an unfinished return request; let's continue where you stopped."
    assert "smells burnt" in alice.last.text and "✅ Send the request" in alice.last.button_texts
    await alice.press("✅ Send the request")
    returned = re.search(r"SR-\d{4}-\d{6}", alice.last.text).group(0)
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(returned)).description == "The pump stops after five minutes and smells burnt"
    fake.assert_no_rejections()


async def test_a_written_return_interrupted_by_new_comes_back_when_return_is_chosen_there(fake, desk):
    alice = fake.add_user(user_id=9922, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, 9922, "QJ-2001", days_ago=10)
    await alice.send_text("/products")
    await alice.press("↩️ Return or exchange: QJ-2001")
    await alice.press("🔧 Quality fault")
    await alice.send_text("The pump stops after five minutes and smells burnt")
    await alice.send_text("/new")
    assert "What do you need?" in alice.last.text
    await alice.press("Return / exchange")
    assert alice.messages[-2].text == "You have an unfinished return request; let's continue where you stopped."
    assert "smells burnt" in alice.last.text and "✅ Send the request" in alice.last.button_texts
    await alice.send_text("/cancel")  # dropped for good: the next return starts afresh
    await alice.send_text("/new")
    await alice.press("Return / exchange")
    assert "Which product do you want to return or exchange?" in alice.last.text
    fake.assert_no_rejections()
