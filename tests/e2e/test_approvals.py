"""Approvals over HTTP: a dispatcher asks for a fee waiver, approvers decide with inline buttons,
the first press wins, questions go back and forth, late and forged presses change nothing."""
from __future__ import annotations

import re

from sqlalchemy import select

from storage.models import Approval, AuditEntry
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, t




def _data(message, label: str) -> str:
    """The callback data behind a button, kept to press it again later (as a stale client would)."""
    return next(b["callback_data"] for row in message.reply_markup["inline_keyboard"] for b in row if b["text"] == label)


async def _quote_on_card(dora, labour: str) -> None:
    """A labour-only quote from the staff card on screen."""
    await dora.press("🧮 Quote")
    await dora.press("Parts done ›")
    await dora.send_text(labour)
    await dora.send_text("0")
    await dora.press("📤 Send to the customer")


async def _paid_and_quoted(dora, labour: str) -> None:
    """From the new-request notice: the work is decided paid and quoted."""
    await dora.press("Open to triage")
    await dora.press("Warranty…")
    await dora.press("warranty expired")  # paid work: a waiver is the company carrying its cost
    await _quote_on_card(dora, labour)


async def _ask_waiver(dora, number: str, amount: str, reason: str) -> None:
    await _paid_and_quoted(dora, amount)
    await dora.send_text(number)
    await dora.press("💸 Ask for a fee waiver")
    assert "how much should the customer not pay" in dora.last.text
    await dora.send_text(amount)
    await dora.send_text(reason)


async def test_the_first_marketing_vp_decides_and_the_others_copy_says_so(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    max_ = await enrol(fake, dora, 7102, "Max", "marketing_vp")
    gao = await enrol(fake, dora, 7103, "Gao", "general_manager")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)

    await dora.press("Open to triage")
    await dora.press("Warranty…")
    await dora.press("warranty expired")
    await dora.press("💸 Ask for a fee waiver")  # nothing quoted yet: nothing to waive
    assert dora.callback_answers[-1][1].startswith("A fee waiver covers a quote: send the customer the quote first")
    await dora.send_text(number)
    await _quote_on_card(dora, "10000")
    await dora.send_text(number)
    await dora.press("💸 Ask for a fee waiver")
    await dora.send_text("a lot")
    assert "not an amount I can use" in dora.last.text
    await dora.send_text("10000")
    assert "Why should the company carry the cost" in dora.last.text
    await dora.send_text("Long-standing customer; the fault is borderline")
    assert "sent for approval to: Marketing VP" in dora.last.text

    mia_card, max_card = mia.last, max_.last
    assert number in mia_card.text and "¥10,000.00" in mia_card.text and "borderline" in mia_card.text
    assert "✅ Approve" in max_card.button_texts
    max_reject = _data(max_card, "❌ Reject")
    assert gao.last is None or number not in (gao.last.text or "")  # 10,000 is the marketing VP's

    await mia.press("✅ Approve", mia_card)
    assert "Approved by Mia" in fake.users[7102].message(max_card.message_id).text
    assert fake.users[7102].message(max_card.message_id).button_texts == []  # nothing left to press
    assert "Approved by Mia" in dora.last.text and "The approval is complete." in dora.last.text

    await max_.press_data(max_reject, max_card)  # Max's client still showed the buttons
    assert any("Already decided" in (text or "") for _, text, _ in max_.callback_answers)
    async with desk.db.uow() as uow:
        approval = (await uow.session.scalars(select(Approval))).one()
        assert (approval.status, approval.decided_by_id) == ("approved", (await uow.users.by_telegram_id(7101)).id)
        late = list(await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "approval_late_press")))
        assert late == [7102]
    fake.assert_no_rejections()


async def test_a_large_waiver_goes_to_the_general_manager_who_asks_then_rejects(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    gao = await enrol(fake, dora, 7103, "Gao", "general_manager")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    mia_seen = len(mia.messages)

    await _ask_waiver(dora, number, "10,001", "Big customer")
    assert "sent for approval to: General manager" in dora.last.text
    filed = dora.last
    assert len(mia.messages) == mia_seen  # above 10,000: not the marketing VP's decision
    card = gao.last
    assert "¥10,001.00" in card.text

    await gao.press("❓ Ask for info", card)
    await gao.send_sticker()
    assert "write it as text" in gao.last.text
    await gao.send_text("Which contract covers this site?")
    assert "asked for more information" in dora.last.text and "Which contract" in dora.last.text
    await dora.press("✍️ Answer")
    await dora.send_text("Frame contract FC-2025-07")
    assert "waiting for a decision again" in dora.last.text

    new_card = gao.last
    assert "✅ Approve" in new_card.button_texts and new_card.message_id != card.message_id
    await gao.press("❌ Reject", new_card)
    assert "Why do you reject" in gao.last.text
    await gao.send_text("x" * 1001)
    assert "too long" in gao.last.text
    await gao.send_text("The contract excludes travel costs")
    assert "Rejected by Gao" in dora.last.text and "excludes travel" in dora.last.text

    await dora.press("Back to the request", filed)  # the message turns into the request's card
    assert "Fee waiver CN¥10,001.00: rejected" in dora.message(filed.message_id).text
    fake.assert_no_rejections()


async def test_customers_and_wrong_roles_cannot_decide_and_are_audited(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _ask_waiver(dora, number, "500", "Goodwill")
    approve = _data(mia.last, "✅ Approve")

    await alice.press_data(approve)  # a customer replays the approver's button
    await dora.press_data(approve)  # the requester (a dispatcher, not a marketing VP)
    await alice.send_text("/approvals")
    assert "for approvers" in alice.last.text

    await mia.send_text("/approvals")
    assert "1 approval waits for you" in mia.last.text and number in mia.last.text
    async with desk.db.uow() as uow:
        approval = (await uow.session.scalars(select(Approval))).one()
        assert approval.status == "pending"
        refused = list(await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "approval_not_allowed")))
        assert refused == [5001, DISPATCHER_ID]
    fake.assert_no_rejections()


async def test_a_sales_filed_request_passes_both_vps_before_the_queue_and_the_customer_is_told(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    pavel = await enrol(fake, dora, 7301, "Pavel", "production_vp")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)  # phone +8613800138000: the bot knows her
    pavel_seen = len(pavel.messages)

    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Alice, Yellow River Farm")
    await sam.send_text("call me")
    assert "not a phone number" in sam.last.text
    await sam.send_text("138 0013 8000")  # without the country code it would not match Alice's
    assert "with the country code" in sam.last.text
    await sam.send_text("+86 138 0013 8000")
    await sam.press("I don't know it")
    await sam.send_text("The irrigation pump stops after an hour")
    assert "Check the request" in sam.last.text and "+8613800138000" in sam.last.text
    await sam.press("📤 Send for approval")
    number = re.search(r"SR-\d{4}-\d{6}", sam.last.text).group(0)

    await dora.send_text("/queue")
    assert number not in dora.last.text  # not the service department's yet
    assert len(pavel.messages) == pavel_seen  # the production VP decides second

    await mia.press("✅ Approve")
    assert "Next: Production VP." in sam.last.text
    await pavel.press("✅ Approve")
    assert "The approval is complete." in sam.last.text
    notice = next(m for m in reversed(dora.messages) if m.text and "New request" in m.text)
    assert number in notice.text and "irrigation pump" in notice.text
    assert "Our sales team registered request" in alice.last.text and number in alice.last.text
    await dora.send_text("/queue")
    assert number in dora.last.text
    fake.assert_no_rejections()


async def test_a_salesperson_may_share_the_customers_contact_card_at_the_phone_step(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Alice, Yellow River Farm")
    await sam.share_contact(phone="8613800138000", own=False, first_name="Alice")  # from the phone book
    await sam.press("I don't know it")
    await sam.send_text("The irrigation pump stops after an hour")
    assert "Check the request" in sam.last.text and "+8613800138000" in sam.last.text
    fake.assert_no_rejections()


async def test_the_approver_who_asked_decides_with_the_answer_in_front_of_them(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    gao = await enrol(fake, dora, 7103, "Gao", "general_manager")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _ask_waiver(dora, number, "10,001", "Big customer")
    await gao.press("❓ Ask for info", gao.last)
    await gao.send_text("Which contract covers this site?")
    seen = len(gao.messages)
    await dora.press("✍️ Answer")
    await dora.send_text("Frame contract FC-2025-07")
    await fake.settle()
    card = next(m for m in gao.messages[seen:] if "✅ Approve" in m.button_texts)
    assert "Asked: Which contract covers this site?" in card.text and "Answered: Frame contract FC-2025-07" in card.text


async def test_ruling_the_work_in_warranty_withdraws_the_fee_waiver_and_its_pause(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7131, "Mia", "marketing_vp")
    ed = await enrol(fake, dora, 7132, "Ed", "engineer")
    alice = fake.add_user(user_id=5031, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _ask_waiver(dora, number, "3000", "Loyal customer")
    card = mia.last
    approve = _data(card, "✅ Approve")
    await dora.send_text(number)
    await dora.press("Warranty…")
    await dora.press("in warranty")  # a manufacturing defect after all: free work, nothing to waive
    redrawn = fake.users[7131].message(card.message_id)
    assert redrawn.buttons == [] and "the work was ruled in warranty" in redrawn.text  # Mia's copy says so at once
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        waiver = (await uow.session.scalars(select(Approval.status).where(Approval.request_id == request.id))).one()
        paused = {c.kind: c.pause_reason for c in await uow.requests.clocks(request.id) if c.stopped_at is None and c.pause_reason}
    assert waiver == "withdrawn"
    assert paused == {}  # the free job's deadlines do not wait for an approval nobody needs
    seen = len(alice.messages)
    await mia.press_data(approve, card)
    assert mia.callback_answers[-1][1] == t("en", "This approval was withdrawn: there is nothing left to decide.")
    assert alice.messages[seen:] == []  # never "the company carries the cost"
    fake.assert_no_rejections()


async def test_a_deactivated_dispatcher_cannot_answer_the_approvers_question(fake, desk):
    root = fake.users[DISPATCHER_ID]
    dan = await enrol(fake, root, 7141, "Dan", "dispatcher")
    mia = await enrol(fake, root, 7142, "Mia", "marketing_vp")
    alice = fake.add_user(user_id=5041, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await dan.send_text(number)
    await dan.press("Warranty…")
    await dan.press("warranty expired")
    await _quote_on_card(dan, "3000")
    await dan.send_text(number)
    await dan.press("💸 Ask for a fee waiver")
    await dan.send_text("3000")
    await dan.send_text("Loyal customer")
    await mia.press("❓ Ask for info")
    await mia.send_text("How long have they been a customer?")
    question = dan.last
    await dan.press("✍️ Answer", question)  # the answer dialog is open...
    await root.send_text("/staff")
    await root.press("Dan")
    await root.press("Deactivate")  # ...when Dan leaves the company
    await dan.send_text("Ten years, trust me")
    assert "waiting for a decision again" not in (dan.last.text or "")
    await dan.press("✍️ Answer", question)
    assert dan.callback_answers[-1][1] == t("en", "This button is no longer valid.")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        waiver = (await uow.session.scalars(select(Approval).where(Approval.request_id == request.id))).one()
        assert waiver.status == "pending"  # Mia's to decide again, without the answer
        waiver_id = waiver.id
    await fake.settle()
    card = mia.last
    assert number in card.text and "Dan can no longer answer" in card.text
    await mia.press("❓ Ask for info", card)  # asking again would wait for nobody
    assert mia.callback_answers[-1][1] == t("en", "{name} can no longer answer questions (deactivated, or no longer in the role that asked): approve or reject with what you have.", name="Dan")
    await mia.press("✅ Approve", card)
    async with desk.db.uow() as uow:
        assert (await uow.approvals.get(waiver_id)).status == "approved"
    fake.assert_no_rejections()


async def test_the_approvers_own_reason_is_confirmed_as_typed(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _ask_waiver(dora, number, "500", "Goodwill")
    await mia.press("❓ Ask for info", mia.last)
    await mia.send_text("Did R&D confirm <misuse>?")
    assert "Did R&D confirm <misuse>?" in mia.last.text and "&amp;" not in mia.last.text
    await dora.press("✍️ Answer")
    await dora.send_text("No")
    await mia.press("❌ Reject", mia.last)
    await mia.send_text("R&D says the seal was cut")
    assert mia.last.text.startswith(f"Recorded for {number}.") and "R&D says the seal was cut" in mia.last.text
    assert "R&D says the seal was cut" in dora.last.text  # the requester's copy, as before
    fake.assert_no_rejections()


async def test_a_fee_waiver_asked_from_two_chats_goes_to_the_approvers_once(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    dan = await enrol(fake, dora, 7171, "Dan", "dispatcher")
    mia = await enrol(fake, dora, 7172, "Mia", "marketing_vp")
    alice = fake.add_user(user_id=5071, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _paid_and_quoted(dora, "3000")
    await alice.press("❌ Decline", alice.last)
    await dora.press("💸 Ask for a fee waiver", dora.last)  # both dispatchers were told of the decline...
    await dan.press("💸 Ask for a fee waiver", dan.last)  # ...and both open the waiver
    await dora.send_text("Loyal customer")
    await dan.send_text("Keep the customer")
    assert dan.last.text == t("en", "A fee waiver for this request is already with the approvers.")
    assert len([m for m in mia.messages if "Fee waiver" in (m.text or "")]) == 1
    await dora.send_text(number)
    await dora.press("💸 Ask for a fee waiver")
    assert dora.callback_answers[-1][1] == t("en", "A fee waiver for this request is already with the approvers.")

    await mia.press("✅ Approve")
    await dan.send_text(number)
    await dan.press("💸 Ask for a fee waiver")
    assert dan.callback_answers[-1][1] == t("en", "A fee waiver for this request is already approved and covers its quote: the customer pays nothing.")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        waivers = (await uow.session.scalars(select(Approval.status).where(Approval.request_id == request.id, Approval.kind == "waiver"))).all()
    assert waivers == ["approved"]
    fake.assert_no_rejections()


async def test_a_sales_request_whose_salesperson_left_during_a_question_goes_back_to_the_approvers(fake, desk):
    """The question can no longer be answered: the step is the approvers' again (their card says
    why), they decide with what they have, and the request goes on."""
    from tests.e2e.test_sales import _approve, _sell

    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    pavel = await enrol(fake, dora, 7102, "Pavel", "production_vp")
    number = await _sell(sam, "+86 138 0013 8000", "Pump at Field 9 leaks")
    card = next(m for m in reversed(mia.messages) if number in (m.text or "") and "✅ Approve" in m.button_texts)
    await mia.press("❓ Ask for info", card)
    await mia.send_text("Which site exactly?")
    assert "Which site" in sam.last.text
    mia_seen = len(mia.messages)

    await dora.send_text("/staff")
    await dora.press("Sam")
    await dora.press("⛔ Deactivate")
    await fake.settle()
    told = [m for m in mia.messages[mia_seen:] if number in (m.text or "")]
    assert told and "✅ Approve" in told[-1].button_texts, "the approver was not told the step is hers again"
    assert "Sam can no longer answer" in told[-1].text and "Asked: Which site exactly?" in told[-1].text
    await sam.press("✍️ Answer")
    assert sam.callback_answers[-1][1] == t("en", "This button is no longer valid.")
    await mia.send_text("/approvals")
    assert number in " ".join(mia.last.button_texts)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        approval = (await uow.approvals.of_request(request.id))[0]
        assert approval.status == "pending"
        events = [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        assert events[-1] == "approval_requester_left"  # the step's clock runs again from here

    await _approve(mia, number)
    await _approve(pavel, number)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.status == "new"  # the service department's now
        assert (await uow.approvals.of_request(request.id))[0].status == "approved"
    fake.assert_no_rejections()
