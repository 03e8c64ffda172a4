"""Complaints over HTTP: a customer complains from a request card, the complaint supervisor is told,
investigates and answers in writing, and the customer receives the answer; a low survey score offers
a complaint; forged presses change nothing; the supervisor is reminded before the deadline."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from storage.models import AuditEntry, Complaint, ComplaintLink, ComplaintNote
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, report_by_phone


def _data(message, label: str) -> str:
    return next(b["callback_data"] for row in message.reply_markup["inline_keyboard"] for b in row if b["text"] == label)


def _number(text: str) -> str:
    return re.search(r"SR-\d{4}-\d{6}", text).group(0)


async def test_complaint_from_a_card_investigated_and_answered_in_writing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    sun = await enrol(fake, dora, 7402, "Sun", "service_manager")
    ed = await enrol(fake, dora, 7403, "Ed", "engineer")
    alice = fake.add_user(user_id=5101, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    other = await file_request(alice, description="Second pump hums")
    await assign(dora, number, "Ed")

    await alice.send_text(number)
    await alice.press("📣 Complain")
    assert f"A complaint about request {number}. What is it about?" in alice.last.text
    assert "👷 The engineer" in alice.last.button_texts  # the request has an engineer
    await alice.send_text("He was rude")  # typed where a button is the answer
    assert "Please use the buttons above" in alice.last.text
    await alice.press("👷 The engineer")
    assert "Please describe what went wrong" in alice.last.text
    await alice.send_sticker()
    assert "Please describe your complaint as text" in alice.last.text
    await alice.send_text("x" * 2001)
    assert "too long" in alice.last.text
    await desk.restart()  # a restart mid-dialog loses nothing
    await alice.send_text("The engineer came 2 days late & did not call <before>")
    summary = alice.last
    assert "Your complaint" in summary.text and f"About: {number}" in summary.text and "Concerning: the engineer" in summary.text
    assert "did not call <before>" in summary.text
    send = _data(summary, "✅ Send the complaint")
    await alice.press("✅ Send the complaint", summary)
    filed = alice.last.text
    complaint_number = _number(filed)
    assert complaint_number not in (number, other)
    assert f"Your complaint {complaint_number} is registered." in filed and "Written answer promised by:" in filed
    await alice.press_data(send, summary)  # a double press creates nothing more
    assert alice.callback_answers[-1][1] == "This button is no longer valid."

    card = qin.last
    assert "A new complaint has arrived." in card.text and f"Complaint {complaint_number}" in card.text
    assert f"About: {number} · Fault repair · engineer Ed" in card.text and "Customer: Alice, +8613800138000" in card.text
    assert "Concerning: the engineer (Ed)" in card.text and "did not call <before>" in card.text
    assert not any(complaint_number in (m.text or "") for m in dora.messages)  # not the dispatchers'
    take = _data(card, "🙋 Take it")
    await ed.press_data(take)  # an engineer forging the supervisor's button
    assert ed.callback_answers[-1][1] == "This button is no longer valid."

    await sun.send_text("/complaints")  # the service manager reads along
    assert complaint_number in sun.last.text
    await sun.press(complaint_number)
    assert f"Complaint {complaint_number}" in sun.last.text and "🙋 Take it" not in sun.last.button_texts
    await sun.press_data(take)
    assert sun.callback_answers[-1][1] == "This button is no longer valid."

    await qin.press("🙋 Take it", card)
    assert "Taken by: Qin" in qin.message(card.message_id).text
    await qin.press_data(take, card)  # the same press again
    assert qin.callback_answers[-1][1] == "Qin has already taken this complaint; nothing was changed."
    assert "Complaint taken up for investigation" in (await _customer_card(alice, complaint_number))

    await qin.press("✍️ Write answer")  # too early
    assert qin.callback_answers[-1][1] == "Record the cause and the corrective action before writing the answer."
    await qin.press("📝 Add note")
    await qin.send_text("Called Ed: the visit was moved twice by dispatch")
    assert "Note added by Qin." in qin.last.text and "Called Ed: the visit was moved twice" in qin.last.text
    await qin.press("🔗 Link request")
    await qin.send_text("SR-2026-999999")
    assert "There is no other request SR-2026-999999" in qin.last.text
    await qin.send_text(other)
    assert f"Linked requests: {other}" in qin.last.text
    await qin.press("🔗 Link request")
    await qin.send_text(other)
    assert f"{other} is already linked" in qin.last.text
    await qin.send_text("/cancel")
    await qin.press("❗ Cause: service fault")
    await qin.send_text("Visit rescheduled without telling the customer")
    assert "Cause: service fault. Visit rescheduled" in qin.last.text
    await qin.press("🛠 Corrective action")
    await qin.send_text("Dispatch must call the customer when a visit moves")
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, we are sorry: the visit was moved without calling you. Dispatch now calls on every change.")
    preview = qin.last
    assert "Preview" in preview.text and "we are sorry" in preview.text
    send_answer = _data(preview, "📤 Send to the customer")
    await qin.press("📤 Send to the customer", preview)
    assert "Answer sent to the customer by Qin" in qin.last.text
    answer = alice.last
    assert f"Answer to your complaint {complaint_number}" in answer.text and "Dispatch now calls on every change." in answer.text
    await qin.press_data(send_answer, preview)
    assert qin.callback_answers[-1][1] == "This button is no longer valid."
    assert len([m for m in alice.messages if "Answer to your complaint" in (m.text or "")]) == 1

    history = await _customer_card(alice, complaint_number)
    assert "Status: Closed" in history and "Complaint answered in writing" in history
    assert not {"📣 Complain", "↩️ Return or exchange"} & set(alice.last.button_texts)  # a complaint's own card
    await qin.send_text("/complaints")
    assert "No complaint is waiting for an answer." in qin.last.text
    async with desk.db.uow() as uow:
        complaint = (await uow.session.scalars(select(Complaint))).one()
        assert (complaint.state, complaint.service_fault, complaint.source, complaint.subject) == ("answered", True, "card", "engineer")
        assert complaint.corrective_action == "Dispatch must call the customer when a visit moves"
        assert len(list(await uow.session.scalars(select(ComplaintNote)))) == 1
        assert len(list(await uow.session.scalars(select(ComplaintLink)))) == 1
        request = await uow.requests.get(complaint.request_id)
        clock = next(c for c in await uow.requests.clocks(request.id) if c.kind == "complaint_answer")
        assert (request.status, clock.stopped_at is not None, clock.outcome) == ("closed", True, "met")
        audited = list(await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action.in_(("complaint_not_allowed", "complaint_late_press")))))
        assert sorted(audited) == [7401, 7402, 7403]
    fake.assert_no_rejections()


async def _customer_card(customer, number: str) -> str:
    await customer.send_text(number)
    return customer.last.text


async def test_a_low_survey_score_offers_a_complaint(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    ed = await enrol(fake, dora, 7403, "Ed", "engineer")
    alice = fake.add_user(user_id=5102, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed)
    await alice.press("Resolved")
    await alice.press("⭐⭐")
    await alice.press("No")
    await alice.press("Skip")
    offer = alice.last
    assert f"We are sorry the service on {number} disappointed you" in offer.text
    complain = _data(offer, "📣 File a complaint")
    await ed.press_data(complain)  # someone else's offer
    assert ed.callback_answers[-1][1] == "This button is no longer valid."
    await alice.press("📣 File a complaint", offer)
    await alice.press("🛎 The service")
    await alice.send_text("Nobody told me the valve was the problem before the visit")
    await alice.press("✅ Send the complaint")
    complaint_number = _number(alice.last.text)
    assert f"Your complaint {complaint_number} is registered." in alice.last.text
    assert f"Complaint {complaint_number}" in qin.last.text and "after a low survey score" in qin.last.text
    async with desk.db.uow() as uow:
        complaint = (await uow.session.scalars(select(Complaint))).one()
        about = await uow.requests.by_number(number)
        assert (complaint.source, complaint.subject, complaint.about_request_id, complaint.engineer_id) == ("survey", "service", about.id, None)
    await alice.press_data(complain, offer)  # the offer once more: it was taken
    assert alice.callback_answers[-1][1] == "This button is no longer valid."
    fake.assert_no_rejections()


async def test_complain_command_and_intake_type_and_the_supervisor_is_reminded(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    alice = fake.add_user(user_id=5103, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)

    await alice.send_text("/new")  # "Complaint" as the type hands over to the complaint dialog
    await alice.press("Complaint")
    assert "What is your complaint about? Choose the request" in alice.last.text
    await alice.press("⬅️ Back")
    assert "Choose the type of request" in alice.last.text
    await alice.send_text("/complain")
    assert number in " ".join(alice.last.button_texts)
    await alice.press("Not about a specific request")
    assert "👷 The engineer" not in alice.last.button_texts
    await alice.press("📦 The product")
    await alice.send_text("The new model leaks from the first day")
    await alice.press("✏️ Edit")
    await alice.press("Description")
    await alice.send_text("The new model leaks oil from the first day")
    assert "About: not about a specific request" in alice.last.text and "leaks oil" in alice.last.text
    await alice.press("✅ Send the complaint")
    complaint_number = _number(alice.last.text)
    await alice.send_text("/my")
    assert complaint_number in alice.last.text and "Complaint" in alice.last.text

    seen = len(qin.messages)
    desk.clock.advance(timedelta(hours=36, minutes=5))  # half of the 72-hour window (Tuesday 21:35, staff still reachable)
    await desk.sweep()
    reminder = next(m for m in qin.messages[seen:] if "deadline" in (m.text or ""))
    assert complaint_number in reminder.text and "complaint answer" in reminder.text
    await qin.press(f"Open complaint {complaint_number}", reminder)
    assert f"Complaint {complaint_number}" in qin.last.text and "🙋 Take it" in qin.last.button_texts
    await dora.send_text("/overdue")  # at risk once 80 % is gone
    assert complaint_number not in dora.last.text
    desk.clock.advance(timedelta(hours=22))
    await dora.send_text("/overdue")
    assert complaint_number in dora.last.text
    fake.assert_no_rejections()


async def test_a_newcomers_complain_registers_them_and_then_opens_the_complaint(fake, desk):
    bob = fake.add_user(user_id=5110, first_name="Bob", language_code="en")
    await bob.send_text("/complain")
    assert "What is your name?" in bob.last.text  # who is complaining comes first
    await bob.press("Bob")
    await bob.share_contact(phone="+8613800138011", own=True)
    await bob.press("Skip")
    registered = bob.messages[-2].text
    assert "you are registered" in registered
    assert "What is your complaint about?" in bob.last.text  # straight on, no "send /complain again"
    await bob.press("Not about a specific request")
    assert "👷 The engineer" not in bob.last.button_texts


async def test_a_dispatchers_forged_answer_button_on_a_complaint_changes_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await enrol(fake, dora, 7411, "Qin", "complaint_supervisor")
    alice = fake.add_user(user_id=5111, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/complain")
    await alice.press("Not about a specific request")
    await alice.press("🛎 The service")
    await alice.send_text("Nobody called me back for a week")
    await alice.press("✅ Send the complaint")
    number = _number(alice.last.text)
    await alice.send_text(number)
    await alice.press("💬 Add comment or photos")
    await alice.send_text("Still waiting!")
    async with desk.db.uow() as uow:
        request_id = (await uow.requests.by_number(number)).id
    alice_seen = len(alice.messages)
    await dora.press_data(f"1:cn:{request_id}:answer")  # the consultation's "Answer the customer", never shown on a complaint
    assert dora.callback_answers[-1][1] == "This button is no longer valid."
    await dora.send_text("We do not care.")
    assert not any("We do not care." in (m.text or "") for m in alice.messages[alice_seen:])


async def test_with_no_complaint_supervisor_the_manager_reading_it_is_told_how_to_get_one(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 6951, "Sun", "service_manager")
    alice = fake.add_user(user_id=6952, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/complain")
    await alice.press("Not about a specific request")
    await alice.press("🛎 The service")
    await alice.send_text("Nobody called me back for a week.")
    await alice.press("✅ Send the complaint")
    card = next(m for m in sun.messages if "A new complaint has arrived." in (m.text or ""))
    assert "/invite complaint_supervisor" in card.text and "🙋 Take it" not in card.button_texts
    fake.assert_no_rejections()


async def test_an_answer_to_a_customer_who_blocked_the_bot_is_not_reported_as_sent(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    await enrol(fake, dora, 7403, "Ed", "engineer")
    alice = fake.add_user(user_id=5101, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    await alice.press("📣 Complain")
    await alice.press("🛎 The service")
    await alice.send_text("Nobody called me back")
    await alice.press("✅ Send the complaint")
    card = qin.last
    fake.block(alice.id)
    await assign(dora, number, "Ed")  # the notice to Alice gets 403: she is marked unreachable
    await desk.sweep()
    await qin.press("🙋 Take it", card)
    await qin.press("❗ Cause: service fault")
    await qin.send_text("Visit rescheduled without telling the customer")
    await qin.press("🛠 Corrective action")
    await qin.send_text("Dispatch must call the customer when a visit moves")
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, we are sorry.")
    await qin.press("📤 Send to the customer", qin.last)
    await desk.sweep()
    assert "Answer sent to the customer" not in qin.last.text
    assert "cannot be reached on this bot" in qin.last.text
    assert not any("we are sorry" in (m.text or "") for m in alice.messages)


async def test_the_complaint_supervisor_reads_the_whole_complaint_even_past_one_message(fake, desk):
    """The card cut the complaint at 1500 characters, on one line; the intake takes 2000. Whole,
    in emoji (two units each for Telegram) the card is longer than one message: it comes in
    pieces, the buttons on the last, and "Take it" redraws it in pieces too (an edit cannot split)."""
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    alice = fake.add_user(user_id=5403, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    await alice.press("📣 Complain")
    await alice.press(alice.last.button_texts[0])
    await alice.send_text("😡" * 1950 + "\nI want a refund of the travel fee.")  # 1,986 characters
    await alice.press("✅ Send the complaint")
    sent = [m for m in qin.messages if m.text]
    told = sent[next(i for i, m in enumerate(sent) if "A new complaint has arrived." in m.text):]
    assert len(told) >= 2 and "🙋 Take it" in told[-1].button_texts  # past one message
    assert sum(m.text.count("😡") for m in told) == 1950
    assert any(line == "I want a refund of the travel fee." for m in told for line in m.text.split("\n"))  # its own line

    await qin.press("🙋 Take it", told[-1])
    redrawn = "\n".join(m.text for m in qin.new_messages)
    assert "Taken by: Qin" in redrawn and redrawn.count("😡") == 1950 and "refund of the travel fee" in redrawn
    fake.assert_no_rejections()


async def test_a_written_complaint_survives_a_comment_on_another_request(fake, desk):
    alice = fake.add_user(user_id=9911, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text("/complain")
    await alice.press("Not about a specific request")
    await alice.press("🛎 The service")
    await alice.send_text("Nobody called me back for a week, and when they did the engineer was rude and left the site dirty.")
    assert "Your complaint" in alice.last.text  # the summary, not sent yet
    await alice.send_text(f"/status {number}")
    await alice.press("💬 Add comment or photos")
    await alice.send_text("The pump is still leaking")
    await alice.press("✅ Done")
    await alice.send_text("/complain")
    assert "Nobody called me back" in alice.last.text, alice.last.text
    assert alice.messages[-2].text == "You have an unfinished complaint; let's continue where you stopped."
    await alice.press("✅ Send the complaint")
    assert "Your complaint" in alice.last.text and "is registered" in alice.last.text
    async with desk.db.uow() as uow:
        complaint = (await uow.session.scalars(select(Complaint))).one()
        assert (await uow.requests.get(complaint.request_id)).description.startswith("Nobody called me back")
    await alice.send_text("/complain")  # nothing kept aside any more: a fresh complaint
    assert "What is your complaint about? Choose the request" in alice.last.text
    fake.assert_no_rejections()


async def test_a_written_complaint_comes_back_from_its_own_requests_card_not_another(fake, desk):
    alice = fake.add_user(user_id=9912, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice)
    second = await file_request(alice, description="Second pump hums")
    await alice.send_text(first)
    await alice.press("📣 Complain")
    await alice.press("🛎 The service")
    await alice.send_text("Nobody told me when the engineer would come")
    await alice.send_text("/new")  # another dialog takes over
    assert "What do you need?" in alice.last.text
    await alice.send_text(f"/status {second}")
    await alice.press("📣 Complain")  # another request: a complaint of its own, the first one stays aside
    assert f"A complaint about request {second}. What is it about?" in alice.last.text
    assert "unfinished complaint" not in alice.messages[-2].text
    await alice.send_text(f"/status {first}")
    await alice.press("📣 Complain")
    assert alice.messages[-2].text == "You have an unfinished complaint; let's continue where you stopped."
    assert f"About: {first}" in alice.last.text and "Nobody told me when the engineer would come" in alice.last.text
    await alice.send_text("/cancel")  # dropped for good
    await alice.send_text(f"/status {first}")
    await alice.press("📣 Complain")
    assert f"A complaint about request {first}. What is it about?" in alice.last.text
    fake.assert_no_rejections()


async def _grant(admin, name: str, role_label: str) -> None:
    await admin.send_text("/staff")
    await admin.press(name)
    await admin.press("➕ " + role_label)


async def _complain_about_the_engineer(alice, number: str) -> str:
    await alice.send_text(number)
    await alice.press("📣 Complain")
    await alice.press("👷 The engineer")
    await alice.send_text("The engineer came 2 days late and was rude")
    await alice.press("✅ Send the complaint")
    return _number(alice.last.text)


OWN_WORK = "This complaint is about your own work, so another supervisor handles it."


async def test_an_engineer_who_is_also_complaint_supervisor_cannot_decide_a_complaint_about_himself(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    ed = await enrol(fake, dora, 7403, "Ed", "engineer")
    await _grant(dora, "Ed", "Complaint supervisor")  # "a person may hold several roles"
    alice = fake.add_user(user_id=5101, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    ed_seen = len(ed.messages)
    complaint_number = await _complain_about_the_engineer(alice, number)

    card = qin.last
    assert "A new complaint has arrived." in card.text and "Concerning: the engineer (Ed)" in card.text
    assert not any(complaint_number in (m.text or "") for m in ed.messages[ed_seen:])  # not sent to the man it names
    await ed.press_data(_data(card, "🙋 Take it"))  # Qin's button, replayed
    assert ed.callback_answers[-1][1] == OWN_WORK
    await ed.send_text("/complaints")  # he may still read it, with no buttons to act and the reason
    await ed.press(complaint_number)
    assert OWN_WORK in ed.last.text and not {"🙋 Take it", "➖ Cause: not service fault"} & set(ed.last.button_texts)

    await qin.press("🙋 Take it", card)
    await ed.press_data(_data(qin.message(card.message_id), "➖ Cause: not service fault"))
    assert ed.callback_answers[-1][1] == OWN_WORK
    await qin.press("❗ Cause: service fault")
    await qin.send_text("Two days late without a call")
    await qin.press("🛠 Corrective action")
    await qin.send_text("Engineers call when they are late")
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, we are sorry.")
    await qin.press("📤 Send to the customer")
    assert "Answer sent to the customer by Qin" in qin.last.text
    async with desk.db.uow() as uow:
        complaint = (await uow.session.scalars(select(Complaint))).one()
        assert (complaint.state, complaint.service_fault, complaint.supervisor_id) == ("answered", True, (await uow.users.by_telegram_id(7401)).id)
        refused = list(await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "complaint_not_allowed")))
        assert [(entry.actor_telegram_id, entry.details.get("reason")) for entry in refused] == [(7403, "own_work")] * 2
    fake.assert_no_rejections()


async def test_when_the_only_complaint_supervisor_is_the_engineer_named_the_service_manager_is_told(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, 7402, "Sun", "service_manager")
    ed = await enrol(fake, dora, 7403, "Ed", "engineer")
    await _grant(dora, "Ed", "Complaint supervisor")
    alice = fake.add_user(user_id=5104, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    ed_seen = len(ed.messages)
    complaint_number = await _complain_about_the_engineer(alice, number)
    card = next(m for m in sun.messages if "A new complaint has arrived." in (m.text or ""))
    assert complaint_number in card.text and "🙋 Take it" not in card.button_texts
    assert "The only complaint supervisors are the people this complaint is about" in card.text  # the manager learns why
    assert not any(complaint_number in (m.text or "") for m in ed.messages[ed_seen:])

    sun_seen = len(sun.messages)
    desk.clock.advance(timedelta(hours=36, minutes=5))  # half of the 72-hour window: the deadline reminder
    await desk.sweep()
    assert any(complaint_number in (m.text or "") and "deadline" in m.text for m in sun.messages[sun_seen:])
    assert not any(complaint_number in (m.text or "") for m in ed.messages[ed_seen:])  # not chased about himself
    fake.assert_no_rejections()


async def test_a_supervisor_registers_a_complaint_phoned_in_and_the_customer_gets_the_written_answer(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    qiu = await enrol(fake, dora, 7404, "Qiu", "complaint_supervisor")
    ed = await enrol(fake, dora, 7403, "Ed", "engineer")
    alice = fake.add_user(user_id=5105, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")

    for outsider in (dora, ed, alice):  # dispatcher, engineer, customer
        await outsider.send_text(f"/complaint {number}")
        assert outsider.last.text == "This command is for the complaint supervisor."
    await qin.send_text("/complaint")
    assert "Send the number of the request the complaint is about" in qin.last.text
    await qin.send_text("/complaint SR-2026-999999")
    assert "There is no request SR-2026-999999" in qin.last.text

    await qin.send_text(f"/complaint {number}")
    assert f"Registering a complaint of Alice about request {number}. What is it about?" in qin.last.text
    assert "👷 The engineer" in qin.last.button_texts
    await qin.send_text("the engineer")  # typed where a button is the answer
    assert "Please use the buttons above" in qin.last.text
    await qin.press("👷 The engineer")
    assert "Write the customer's complaint as they told it" in qin.last.text
    await qin.send_sticker()
    assert "Please describe your complaint as text" in qin.last.text
    await qin.send_text("x" * 2001)
    assert "too long" in qin.last.text
    await qin.press("⬅️ Back")
    await qin.press("🛎 The service")
    await qin.send_text("Phoned in: nobody told her the visit was moved <twice>")
    summary = qin.last
    assert "Complaint of Alice" in summary.text and f"About: {number}" in summary.text and "Concerning: the service" in summary.text
    assert "moved <twice>" in summary.text
    await qin.press("✅ Register the complaint", summary)
    card = qin.last
    complaint_number = _number(card.text)
    assert f"Complaint {complaint_number} is registered for Alice." in card.text and "cannot be reached" not in card.text
    assert "registered by Qin for the customer" in card.text and "🙋 Take it" in card.button_texts
    assert not any("A new complaint has arrived." in (m.text or "") for m in qin.messages)  # his own card is enough
    told = qiu.last
    assert "A new complaint has arrived." in told.text and complaint_number in told.text and "registered by Qin" in told.text
    await alice.send_text("/my")
    assert complaint_number in alice.last.text  # hers, in her list, with its clock

    await qiu.press("🙋 Take it", told)
    await qiu.press("➖ Cause: not service fault")
    await qiu.send_text("The visit was moved at her request")
    await qiu.press("🛠 Corrective action")
    await qiu.send_text("None needed")
    await qiu.press("✍️ Write answer")
    await qiu.send_text("Dear Alice, the visit was moved as you asked on the phone.")
    await qiu.press("📤 Send to the customer")
    assert "Answer sent to the customer by Qiu" in qiu.last.text
    assert f"Answer to your complaint {complaint_number}" in alice.last.text and "as you asked on the phone" in alice.last.text
    await qin.send_text(f"/complaint {complaint_number}")  # a complaint about a complaint: no
    assert f"A complaint cannot be registered about {complaint_number}" in qin.last.text
    async with desk.db.uow() as uow:
        complaint = (await uow.session.scalars(select(Complaint))).one()
        request = await uow.requests.get(complaint.request_id)
        about = await uow.requests.by_number(number)
        qin_id = (await uow.users.by_telegram_id(7401)).id
        assert (complaint.source, complaint.subject, complaint.about_request_id, complaint.state) == ("staff", "service", about.id, "answered")
        assert (request.customer_id, request.created_by_user_id, request.kind) == (about.customer_id, qin_id, "complaint")
        clock = next(c for c in await uow.requests.clocks(request.id) if c.kind == "complaint_answer")
        assert (clock.started_at, clock.outcome) == (complaint.created_at, "met")
    fake.assert_no_rejections()
