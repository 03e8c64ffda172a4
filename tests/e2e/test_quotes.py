"""Paid work over HTTP: the engineer quotes, the customer declines, the dispatcher asks for a fee
waiver, the marketing VP approves, and only then can the work start."""
from __future__ import annotations


from bot.callbacks import DispatchButton
from storage.models import Part
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol, file_request, onboard, t




async def _paid_request(fake, customer_id: int) -> tuple:
    """Alice files a request and the dispatcher decides it is out of warranty: paid work."""
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=customer_id, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await dora.press("Open to triage")
    await dora.press("Warranty…")
    await dora.press("warranty expired")
    return dora, alice, number


async def test_quote_declined_then_a_waiver_approved_lets_the_work_start(fake, desk):
    async with desk.db.uow() as uow:
        uow.session.add(Part(code="QJ-200", name="Impeller", unit="pcs", price=120_000))  # 1,200.00 CNY
        await uow.commit()
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7401, "Ed", "engineer")
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    dora, alice, number = await _paid_request(fake, 5001)
    await dora.press("Assign")
    await dora.press("Ed")
    await ed.press("✅ Accept")

    await ed.press("🚗 On my way")
    assert any("paid work" in (text or "") for _, text, _ in ed.callback_answers)  # no quote accepted yet

    await ed.press("🧮 Quote")
    await ed.send_text("nothing like this")
    assert "No priced part matches" in ed.last.text
    await ed.send_text("qj-200")  # an exact code goes straight to the quantity
    assert "How many of “Impeller”" in ed.last.text
    await ed.send_text("two")
    assert "whole number" in ed.last.text
    await ed.send_text("2")
    await ed.press("Parts done ›")
    await ed.send_text("600")
    await ed.send_text("350")
    assert "Total: CN¥3,350.00" in ed.last.text
    await ed.press("📤 Send to the customer")
    assert "Quote of CN¥3,350.00 sent" in ed.last.text

    offer = alice.last
    assert "Impeller × 2 = CN¥2,400.00" in offer.text and "Total: CN¥3,350.00" in offer.text
    accept = next(b["callback_data"] for row in offer.reply_markup["inline_keyboard"] for b in row if b["text"] == "✅ Accept")
    await alice.press("❌ Decline", offer)
    assert "You declined the quote" in alice.last.text
    await alice.press_data(accept, offer)  # a stale client still shows the buttons
    assert any("already answered" in (text or "") for _, text, _ in alice.callback_answers)  # a second answer changes nothing

    declined = dora.last
    assert "declined the quote of CN¥3,350.00" in declined.text
    await dora.press("💸 Ask for a fee waiver", declined)
    assert "Waive CN¥3,350.00" in dora.last.text  # the amount comes from the declined quote
    await dora.send_text("Second failure within a year; keep the customer")
    await mia.press("✅ Approve")
    assert "The approval is complete." in ed.last.text
    assert alice.last.text == t("en", "Request {number}: the company carries the cost of this work. You pay nothing; we will arrange the work with you.", number=number)

    await ed.press("🚗 On my way")
    assert f"on the way to you (request {number})" in alice.last.text
    fake.assert_no_rejections()


async def test_a_quote_cannot_be_accepted_once_its_request_is_cancelled(fake, desk):
    async with desk.db.uow() as uow:
        uow.session.add(Part(code="QJ-300", name="Impeller", unit="pcs", price=120_000))
        await uow.commit()
    dora, alice, number = await _paid_request(fake, 5421)
    await dora.press("🧮 Quote")
    await dora.send_text("qj-300")
    await dora.send_text("1")
    await dora.press("Parts done ›")
    await dora.send_text("600")
    await dora.send_text("0")
    await dora.press("📤 Send to the customer")
    offer = alice.last
    await alice.send_text(number)
    await alice.press("Cancel this request")
    await alice.press("Yes, cancel it")
    dora_seen = len(dora.messages)

    await alice.press("✅ Accept", offer)
    assert alice.callback_answers[-1][1] == "This request is cancelled or closed; the quote no longer applies."
    assert not alice.message(offer.message_id).buttons
    assert not any("accepted" in (m.text or "") for m in dora.messages[dora_seen:])
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert "quote_accepted" not in [e.action for e in await uow.requests.events(request.id, include_internal=True)]
    fake.assert_no_rejections()


async def test_a_fee_waiver_must_cover_the_declined_quote(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7421, "Ed", "engineer")
    mia = await enrol(fake, dora, 7121, "Mia", "marketing_vp")
    gao = await enrol(fake, dora, 7123, "Gao", "general_manager")
    dora, alice, _ = await _paid_request(fake, 5431)
    await dora.press("Assign")
    await dora.press("Ed")
    await ed.press("✅ Accept")
    await ed.press("🧮 Quote")
    await ed.press("Parts done ›")
    await ed.send_text("20000")
    await ed.send_text("0")
    await ed.press("📤 Send to the customer")
    await alice.press("❌ Decline", alice.last)
    declined = dora.last
    await dora.press("💸 Ask for a fee waiver", declined)
    await dora.press("⬅️ Back")  # to type another amount
    mia_seen = len(mia.messages)
    await dora.send_text("100")  # a marketing VP's amount would have cleared a general manager's job
    assert dora.last.text == "A fee waiver must cover the quote the customer was given: at least CN¥20,000.00. A smaller share is a new quote."
    await dora.send_text("20000")
    await dora.send_text("Loyal customer, the pump failed twice")
    assert any("Fee waiver" in (m.text or "") for m in gao.messages) and len(mia.messages) == mia_seen
    await ed.press("🚗 On my way")
    assert ed.callback_answers[-1][1].startswith("This is paid work")  # until the general manager approves
    await gao.press("✅ Approve")
    await ed.press("🚗 On my way")
    assert "on the way" in alice.last.text
    fake.assert_no_rejections()


async def _quote_labour(staff, amount: str) -> None:
    """A quote of labour only, from the staff card on screen."""
    await staff.press("🧮 Quote")
    await staff.press("Parts done ›")
    await staff.send_text(amount)
    await staff.send_text("0")
    await staff.press("📤 Send to the customer")


async def test_a_quote_waiting_when_the_work_is_ruled_in_warranty_no_longer_applies(fake, desk):
    dora, alice, number = await _paid_request(fake, 5011)
    await _quote_labour(dora, "5000")
    offer = alice.last
    await dora.send_text(number)
    await dora.press("Warranty…")
    await dora.press("in warranty")
    assert "covered by warranty" in alice.last.text and "CN¥5,000.00" in alice.last.text
    await alice.press("✅ Accept", offer)
    assert alice.callback_answers[-1][1] == t("en", "The work is covered by warranty after all: the quote no longer applies and there is nothing to pay.")
    async with desk.db.uow() as uow:
        assert await uow.quotes.latest((await uow.requests.by_number(number)).id) is None  # superseded: none in force
    fake.assert_no_rejections()


async def test_no_quote_before_the_dispatcher_decides_the_work_is_paid(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5021, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)  # no registered product: warranty unknown
    await dora.press("Open to triage")
    assert "🧮 Quote" not in dora.last.button_texts
    request_id = await _request_id(desk, number)
    await dora.press_data(DispatchButton(request_id, "quote").pack())  # a card from before, or a forged press
    assert dora.callback_answers[-1][1] == t("en", "A quote is for paid work: set the warranty to “expired” or “paid” first.")
    fake.assert_no_rejections()


async def _request_id(desk, number: str) -> int:
    async with desk.db.uow() as uow:
        return (await uow.requests.by_number(number)).id


async def test_accepting_the_quote_withdraws_a_fee_waiver_asked_meanwhile(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7131, "Mia", "marketing_vp")
    dora, alice, number = await _paid_request(fake, 5031)
    await _quote_labour(dora, "3000")
    offer = alice.last
    await dora.send_text(number)
    await dora.press("💸 Ask for a fee waiver")
    await dora.send_text("3000")
    await dora.send_text("Loyal customer")
    card = mia.last
    approve = next(b["callback_data"] for row in card.reply_markup["inline_keyboard"] for b in row if b["text"] == "✅ Approve")
    await alice.press("✅ Accept", offer)
    assert "the customer accepted the quote and pays it" in mia.message(card.message_id).text
    await mia.press_data(approve)
    assert mia.callback_answers[-1][1] == t("en", "This approval was withdrawn: there is nothing left to decide.")
    await dora.send_text(number)
    await dora.press("💸 Ask for a fee waiver")
    assert dora.callback_answers[-1][1] == t("en", "The customer has accepted the quote and pays it: there is no fee to waive. Nothing was sent for approval.")
    fake.assert_no_rejections()



async def test_a_quote_sent_while_the_customer_had_blocked_the_bot_is_answered_from_the_request_card(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7401, "Ed", "engineer")
    dora, alice, number = await _paid_request(fake, 5001)
    await dora.press("Assign")
    await dora.press("Ed")
    await ed.press("✅ Accept")
    fake.block(alice.id)
    await ed.press("🧮 Quote")
    await ed.press("Parts done ›")
    await ed.send_text("600")
    await ed.send_text("350")
    await ed.press("📤 Send to the customer")
    await desk.sweep()  # the offer gets 403: Alice is marked unreachable, the offer is dropped
    assert not any("Quote for request" in (m.text or "") for m in alice.messages)
    fake.unblock(alice.id)
    await alice.send_text(number)  # back, she opens her request
    assert "A quote of CN¥950.00 waits for your answer" in alice.last.text
    card = alice.last
    await alice.press("✅ Accept the quote")
    assert "You accepted the quote of CN¥950.00" in alice.last.text
    redrawn = alice.message(card.message_id)  # the card keeps its own buttons, without the quote's
    assert "waits for your answer" not in redrawn.text and "✅ Accept the quote" not in redrawn.button_texts
    assert "💬 Add comment or photos" in redrawn.button_texts
    assert any("accepted the quote of CN¥950.00" in (m.text or "") for m in ed.messages)
    await alice.send_text(number)
    assert "waits for your answer" not in alice.last.text
    fake.assert_no_rejections(allow=lambda r: r.error_code == 403)  # only the offer sent while she had blocked the bot


async def test_a_new_quote_withdraws_the_fee_waiver_asked_against_the_one_it_replaces(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    dan = await enrol(fake, dora, 7161, "Dan", "dispatcher")
    mia = await enrol(fake, dora, 7151, "Mia", "marketing_vp")
    ed = await enrol(fake, dora, 7152, "Ed", "engineer")
    dora, alice, number = await _paid_request(fake, 5051)
    await _quote_labour(dora, "3000")
    await alice.press("❌ Decline", alice.last)
    await dan.send_text(number)
    await dan.press("💸 Ask for a fee waiver")
    await dan.send_text("3000")
    await dan.send_text("Loyal customer")
    card = mia.last
    approve = next(b["callback_data"] for row in card.reply_markup["inline_keyboard"] for b in row if b["text"] == "✅ Approve")

    await dora.send_text(number)
    await _quote_labour(dora, "5000")  # more work found: a new quote replaces the declined one
    assert "a new quote replaced the one it covered" in mia.message(card.message_id).text
    assert any("Fee waiver for" in (m.text or "") and "a new quote replaced" in (m.text or "") for m in dan.messages)
    await mia.press_data(approve)  # her client still showed the buttons
    assert mia.callback_answers[-1][1] == t("en", "This approval was withdrawn: there is nothing left to decide.")
    await dora.send_text(number)
    await dora.press("Assign")
    await dora.press("Ed")
    await ed.press("✅ Accept")
    await ed.press("🚗 On my way")
    assert ed.callback_answers[-1][1].startswith("This is paid work")  # the new quote is not answered yet
    assert not any("You pay nothing" in (m.text or "") for m in alice.messages)
    fake.assert_no_rejections()


async def test_an_approved_waiver_takes_the_buttons_off_the_quote_it_covers(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7171, "Mia", "marketing_vp")
    dora, alice, number = await _paid_request(fake, 5071)
    await _quote_labour(dora, "3000")
    offer = alice.last
    await dora.send_text(number)  # the customer has not answered yet; the dispatcher asks the approvers
    await dora.press("💸 Ask for a fee waiver")
    await dora.send_text("3000")
    await dora.send_text("Loyal customer")
    await mia.press("✅ Approve")
    assert "You pay nothing" in alice.last.text
    dora_seen = len(dora.messages)

    await alice.press("✅ Accept", offer)  # the old offer still shows its buttons
    assert alice.callback_answers[-1][1] == t("en", "The company carries the cost of this work: you pay nothing, and there is nothing to accept.")
    assert not alice.message(offer.message_id).buttons
    assert not any("accepted the quote" in (m.text or "") for m in dora.messages[dora_seen:])
    await alice.send_text(number)
    assert "waits for your answer" not in alice.last.text

    alice_seen = len(alice.messages)
    await dora.send_text(number)
    await _quote_labour(dora, "2500")  # within what was waived: nothing to ask the customer
    assert dora.last.text == t("en", "An approved fee waiver of {amount} already covers this: the customer pays nothing, so no quote was sent.", amount="CN¥3,000.00")
    assert alice.messages[alice_seen:] == []
    await dora.send_text(number)
    await _quote_labour(dora, "5000")  # more than was waived: the customer is asked for the new price
    assert "Total: CN¥5,000.00" in alice.last.text and "✅ Accept" in alice.last.button_texts
    fake.assert_no_rejections()
