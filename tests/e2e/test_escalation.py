"""Over HTTP: a hard case goes to a technical expert and back; a consultation is answered in the chat."""
from __future__ import annotations


from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import escalation
from storage.models import AuditEntry
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import TRANSLATORS, assign, enrol, file_request, onboard, report_by_phone, t




async def _open_card(dora, number: str) -> None:
    await dora.send_text("/queue")
    await dora.press(number)


async def test_a_hard_case_goes_to_the_expert_and_the_answer_to_dispatcher_and_engineer(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6001, first_name="Alice", language_code="en")
    ed = await enrol(fake, dora, 6101, "Ed", "engineer")
    xena = await enrol(fake, dora, 6201, "Xena", "technical_expert", language_code="zh-hans")
    await onboard(alice)
    number = await file_request(alice, photos=1)
    await _open_card(dora, number)
    await dora.press("Assign")
    await dora.press("Ed")

    await dora.press("Ask an expert")
    assert "Xena · 0 open cases" in dora.last.button_texts[0]
    await dora.press("Xena")
    assert f"What should Xena look at in {number}?" in dora.last.text
    await dora.send_sticker()
    assert dora.last.text == "Please write your question for the expert as text, or press Cancel."
    await dora.send_text("Breaker trips after 5 minutes, insulation looked fine. Cause?")
    assert any(f"{number} is sent to Xena" in (m.text or "") for m in dora.new_messages)
    assert "Sent to a technical expert: Breaker trips" in dora.last.text  # the refreshed card's history

    case = next(m for m in xena.messages if t("zh_Hans", "✍️ Write analysis") in m.button_texts)
    assert number in case.text
    assert "Breaker trips after 5 minutes" in case.text and "Alice" not in case.text and "8613800138000" not in case.text
    assert any(m.photo_file_ids for m in xena.messages)  # the request's photo came along

    await xena.send_text("/cases")
    assert number in xena.last.button_texts[0]
    await xena.press(number)
    await xena.press(t("zh_Hans", "✍️ Write analysis"))
    await xena.send_text("Motor winding insulation breaks down when warm.")
    await xena.press(t("zh_Hans", "⬅️ Back"))
    assert "Motor winding insulation" in xena.last.text  # what was written is shown, and can be kept
    await xena.press(t("zh_Hans", "➡️ Keep this text"))
    await xena.send_text("x" * (escalation.PLAN_MAX + 1))
    assert xena.last.text == TRANSLATORS["zh_Hans"].ngettext(
        "That is too long: at most {n} character, please shorten it.", "That is too long: at most {n} characters, please shorten it.", escalation.PLAN_MAX,
    )
    await xena.send_text("Rewind or replace the motor; megger test at 500 V after the repair.")
    review = xena.last
    assert "Motor winding insulation" in review.text and "Rewind or replace the motor" in review.text
    send_data = next(b["callback_data"] for b in review.buttons if b["text"] == t("zh_Hans", "📤 Send"))
    await xena.press(t("zh_Hans", "✏️ Edit"))
    await xena.press(t("zh_Hans", "➡️ Keep this text"))
    await xena.press(t("zh_Hans", "➡️ Keep this text"))
    await xena.press(t("zh_Hans", "📤 Send"))
    assert xena.last.text == t("zh_Hans", "✅ Your analysis and repair plan for {number} are sent. Thank you!", number=number)
    await xena.press_data(send_data, review)  # the first review's Send, pressed again after sending
    assert xena.callback_answers[-1][1] == t("zh_Hans", "This button is no longer valid.")

    for reader, button in ((dora, f"Open {number}"), (ed, f"Open job {number}")):
        answer = next(m for m in reversed(reader.messages) if f"Xena answered on {number}" in (m.text or ""))
        assert "Motor winding insulation breaks down" in answer.text and "megger test at 500 V" in answer.text
        assert button in answer.button_texts
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert len([e for e in await uow.requests.events(request.id, include_internal=True) if e.action == "expert_answer"]) == 1

    await alice.send_text(f"/status {number}")
    card = alice.last.text
    assert "Motor winding" not in card and "Breaker trips after 5 minutes, insulation" not in card and "expert" not in card.lower()
    fake.assert_no_rejections()


async def test_another_experts_forged_answer_button_and_a_customers_forged_escalation_are_refused(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6002, first_name="Alice", language_code="en")
    xena = await enrol(fake, dora, 6202, "Xena", "technical_expert")
    yuri = await enrol(fake, dora, 6203, "Yuri", "technical_expert")
    await onboard(alice)
    number = await file_request(alice)
    await _open_card(dora, number)
    await dora.press("Ask an expert")
    await dora.press("Xena")
    await dora.send_text("Cause of the tripping?")
    async with desk.db.uow() as uow:
        request_id = (await uow.requests.by_number(number)).id
        case_id = (await uow.escalations.unanswered_of_request(request_id))[0].id
        yuri_id = (await uow.users.by_telegram_id(6203)).id

    await yuri.press_data(f"1:xc:{case_id}:write")
    assert yuri.callback_answers[-1][1] == "This button is no longer valid."
    await alice.press_data(f"1:xp:{request_id}:{yuri_id}")  # a customer choosing an expert
    assert alice.callback_answers[-1][1] == "This button is no longer valid."
    await alice.send_text("/cases")
    assert alice.last.text == "This command is for technical experts."

    await dora.press("Ask an expert", dora.last)  # a second escalation while the first is open
    assert f"{number} already waits for the answer of Xena" in dora.last.text and "Cause of the tripping?" in dora.last.text
    async with desk.db.uow() as uow:
        audited = list(await uow.session.scalars(
            select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "not_allowed_button").order_by(AuditEntry.id)
        ))
        assert audited == [6203, 6002]
        case = await uow.escalations.get(case_id)
        assert case.answered_at is None and await uow.drafts.of_user(yuri_id) is None
    await xena.send_text("/cases")
    assert number in xena.last.button_texts[0]
    fake.assert_no_rejections()


async def test_a_consultation_is_answered_the_customer_replies_and_closes_it(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    await wang.send_text("/start")  # the bot learns Wang's language (Chinese) from his first message
    alice = fake.add_user(user_id=6003, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    await dora.press("Open to triage")
    assert "⏱ consultation answer" in dora.last.text
    await dora.press("Answer the customer")
    assert "Which oil grade does the QJ pump need?" in dora.last.text
    await dora.send_photo()
    assert dora.last.text == "Please write the answer as text, or press Cancel."
    await dora.send_text("y" * 3001)
    assert dora.last.text == "That is too long: at most 3000 characters, please shorten it."
    await dora.send_text("Use ISO VG 46 hydraulic oil <not motor oil>.")
    assert any(f"Your answer is sent to the customer of {number}" in (m.text or "") for m in dora.new_messages)
    assert "Answer from the service department: Use ISO VG 46" in dora.last.text
    assert "⏱ consultation answer" not in dora.last.text
    dora_card = dora.last

    first_answer = alice.last
    assert f"Answer on your request {number}" in first_answer.text and "<not motor oil>" in first_answer.text
    assert first_answer.button_texts == ["✅ That answers my question", "↩️ Reply"]
    await alice.press("Reply")
    await alice.send_text("And how many litres?")
    for dispatcher, label in ((dora, "💬 Answer the customer"), (wang, t("zh_Hans", "💬 Answer the customer"))):
        assert "And how many litres?" in dispatcher.last.text and label in dispatcher.last.button_texts
    await dora.press("✔️ Close: answered", dora_card)  # the card from before the new question
    assert dora.callback_answers[-1][1] == "The customer has asked again since the last answer: answer that first. Nothing was closed."
    await wang.press(t("zh_Hans", "💬 Answer the customer"))
    assert "And how many litres?" in wang.last.text
    await wang.send_text("About 2 litres.")
    assert "About 2 litres." in alice.last.text

    await alice.press("That answers my question")
    assert alice.last.text == f"✅ Thank you! Request {number} is closed. If you need anything else, send a new request with /new."
    assert f"the answer on {number} resolves their question" in dora.last.text
    await alice.press("That answers my question", first_answer)  # the older answer's button
    assert alice.callback_answers[-1][1] == "This request is already closed."
    await alice.send_text(f"/status {number}")
    assert "Status: Closed" in alice.last.text and "Closed: the customer confirmed the answer" in alice.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.closed_reason) == ("closed", "confirmed")
        actions = [e.action for e in await uow.requests.events(request.id, include_internal=False)]
        assert actions.count("answered") == 2 and actions[-1] == "answer_confirmed"
        assert await uow.drafts.of_user((await uow.users.by_telegram_id(6003)).id) is None  # the reply mode ended too
    fake.assert_no_rejections()


async def test_an_answer_written_at_night_reaches_the_customer_when_their_quiet_hours_end(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6013, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    await dora.press("Open to triage")
    desk.clock.advance(timedelta(hours=14))  # 23:30 in Shanghai: Alice's quiet hours (21:00-08:00)
    await dora.press("Answer the customer")
    alice_seen = len(alice.messages)
    await dora.send_text("Use ISO VG 46 hydraulic oil.")
    assert f"Your answer to {number} is saved; the customer receives it when their quiet hours end" in dora.new_messages[0].text
    await desk.sweep()
    assert alice.messages[alice_seen:] == []  # nothing at night

    desk.clock.advance(timedelta(hours=8, minutes=30))  # 08:00
    await desk.sweep()
    assert any("Use ISO VG 46" in (m.text or "") for m in alice.messages[alice_seen:])
    fake.assert_no_rejections()


async def test_a_case_left_with_an_expert_who_went_off_duty_can_go_to_another(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6022, first_name="Alice", language_code="en")
    xena = await enrol(fake, dora, 6222, "Xena", "technical_expert")
    yuri = await enrol(fake, dora, 6223, "Yuri", "technical_expert")
    await onboard(alice)
    number = await file_request(alice)
    await _open_card(dora, number)
    await dora.press("Ask an expert")
    await dora.press("Xena")
    await dora.send_text("Cause of the tripping?")
    await _open_card(dora, number)
    await dora.press("Ask an expert")
    assert "Xena" in dora.last.text and "Yuri" not in " ".join(dora.last.button_texts)  # one open case at a time

    await xena.send_text("/duty")  # Xena goes off duty with the case unanswered
    await _open_card(dora, number)
    await dora.press("Ask an expert")
    assert "Yuri" in " ".join(dora.last.button_texts) and "Xena" not in " ".join(dora.last.button_texts)
    await dora.press("Yuri")
    await dora.send_text("Cause of the tripping? Xena is away.")
    assert "Cause of the tripping? Xena is away." in yuri.last.text
    await desk.sweep()
    await desk.sweep()  # told once
    replaced = t("en", "🧠 Case {number} went to another expert while you were off duty, so no answer is needed from you.", number=number)
    assert [m.text for m in xena.messages if replaced in (m.text or "")] == ["\n".join([replaced, "Question:", "Cause of the tripping?"])]
    await xena.send_text("/duty")  # back on duty: the case is not hers any more
    await xena.send_text("/cases")
    assert xena.last.text == "You have no open cases."
    fake.assert_no_rejections()


async def test_the_dispatcher_who_asked_is_told_when_the_expert_is_deactivated_with_the_case_open(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6023, first_name="Alice", language_code="en")
    xena = await enrol(fake, dora, 6224, "Xena", "technical_expert")
    await onboard(alice)
    number = await file_request(alice)
    await _open_card(dora, number)
    await dora.press("Ask an expert")
    await dora.press("Xena")
    await dora.send_text("Cause of the tripping?")
    await dora.send_text("/staff")
    await dora.press("Xena")
    await dora.press("⛔ Deactivate")
    told = next(m for m in reversed(dora.messages) if "can no longer answer your question" in (m.text or ""))
    assert number in told.text and f"Open {number}" in told.button_texts
    fake.assert_no_rejections()


async def test_a_salesperson_answers_a_simple_consultation_and_closes_it(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 6905, "Sam", "salesperson")
    alice = fake.add_user(user_id=6024, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    notice = next(m for m in sam.messages if number in (m.text or ""))
    await sam.press("💬 Answer the customer", notice)
    await sam.send_text("Use ISO VG 46 hydraulic oil.")
    assert "Use ISO VG 46 hydraulic oil." in alice.last.text
    assert f"Your answer is sent to the customer of {number}" in sam.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert [c.stopped_at is not None for c in await uow.requests.clocks(request.id)] == [True]  # answered in time

    other = await file_request(alice)  # a repair: the salesperson is not told and may not answer comments on it
    assert not any(other in (m.text or "") for m in sam.messages)
    fake.assert_no_rejections()


async def test_a_second_answer_written_meanwhile_is_held_until_its_writer_confirms_it(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    alice = fake.add_user(user_id=6025, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    notice = dora.last
    await dora.press("Open to triage", notice)
    await dora.press("Answer the customer")
    await wang.send_text("/start")
    await wang.send_text(number)
    await wang.press(t("zh_Hans", "💬 Answer the customer"))  # both are writing
    await dora.send_text("Use ISO VG 46 hydraulic oil.")
    await wang.send_text("Use SAE 10W-30 motor oil.")
    assert "Use ISO VG 46 hydraulic oil." in wang.last.text  # Wang sees Dora's answer first
    answers = [m for m in alice.messages if "Answer on your request" in (m.text or "")]
    assert len(answers) == 1
    await wang.send_text("Another idea")  # neither sent nor lost: the choice is asked for
    assert wang.last.text == t("zh_Hans", "Please press “Send mine too” or Cancel.")
    await wang.press(t("zh_Hans", "📤 Send mine too"))
    assert "Use SAE 10W-30 motor oil." in alice.last.text
    fake.assert_no_rejections()



async def test_the_expert_reads_the_whole_description_even_past_one_message(fake, desk):
    """The case cut the customer's description at 1200 characters, on one line."""
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6002, first_name="Alice", language_code="en")
    await enrol(fake, dora, 6102, "Ed", "engineer")
    xena = await enrol(fake, dora, 6202, "Xena", "technical_expert")
    await onboard(alice)
    number = await file_request(alice, description="🔧" * 1950 + "\nDisplay shows error code E-042.")  # 1,981 characters
    await _open_card(dora, number)
    await dora.press("Assign")
    await dora.press("Ed")
    await dora.press("Ask an expert")
    await dora.press("Xena")
    await dora.send_text("Which part fails first, and why? " * 10)  # with it the case is past one message
    sent = [m for m in xena.messages if m.text]
    first = next(i for i, m in enumerate(sent) if f"Case {number}" in m.text)
    last = next(i for i, m in enumerate(sent) if "✍️ Write analysis" in m.button_texts)
    case = sent[first:last + 1]
    assert len(case) >= 2 and sum(m.text.count("🔧") for m in case) == 1950  # past one message, whole
    assert any(line == "Display shows error code E-042." for m in case for line in m.text.split("\n"))  # its own line

    await xena.send_text("/cases")
    await xena.press(number)  # the case is redrawn in pieces: an edit cannot split it
    opened = "\n".join(m.text or "" for m in xena.new_messages)
    assert opened.count("🔧") == 1950 and "E-042" in opened
    await xena.press("✍️ Write analysis")
    assert "Cause analysis" in xena.last.text
    fake.assert_no_rejections()


async def test_a_stale_expert_list_does_not_send_the_case_to_an_expert_who_went_off_duty(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6024, first_name="Alice", language_code="en")
    xena = await enrol(fake, dora, 6224, "Xena", "technical_expert")
    await enrol(fake, dora, 6225, "Yuri", "technical_expert")
    await onboard(alice)
    number = await file_request(alice)
    await _open_card(dora, number)
    await dora.press("Ask an expert")
    listing = dora.last
    await xena.send_text("/duty")  # off duty after the list was drawn
    dora_seen = len(dora.messages)
    await dora.press(next(b for b in listing.button_texts if b.startswith("Xena")), listing)
    assert dora.callback_answers[-1][1] == "Xena is off duty now. Please choose another expert."
    assert len(dora.messages) == dora_seen  # no prompt for a question
    assert [b for b in dora.last.button_texts if b.startswith(("Xena", "Yuri"))] == ["Yuri · 0 open cases"]
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert await uow.escalations.unanswered_of_request(request.id) == []
    fake.assert_no_rejections()


async def test_an_expert_who_goes_off_duty_while_the_question_is_typed_does_not_get_it(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6025, first_name="Alice", language_code="en")
    xena = await enrol(fake, dora, 6226, "Xena", "technical_expert")
    await enrol(fake, dora, 6227, "Yuri", "technical_expert")
    await onboard(alice)
    number = await file_request(alice)
    await _open_card(dora, number)
    await dora.press("Ask an expert")
    await dora.press("Xena")
    await xena.send_text("/duty")
    xena_seen = len(xena.messages)
    await dora.send_text("Breaker trips after 5 minutes. Cause?")
    assert dora.messages[-2].text == "Xena is off duty now. Please choose another expert."
    assert "Yuri · 0 open cases" in dora.last.button_texts  # the experts to choose from
    assert len(xena.messages) == xena_seen
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert await uow.escalations.unanswered_of_request(request.id) == []
    fake.assert_no_rejections()


async def test_when_the_dispatcher_who_asked_has_left_too_every_dispatcher_is_told_the_question_has_no_expert(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    dan = await enrol(fake, dora, 6231, "Dan", "dispatcher")
    xena = await enrol(fake, dora, 6232, "Xena", "technical_expert")
    alice = fake.add_user(user_id=6233, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _open_card(dan, number)
    await dan.press("Ask an expert")
    await dan.press("Xena")
    await dan.send_text("Cause of the tripping?")
    for person in ("Dan", "Xena"):  # Dan leaves; then Xena, with the question unanswered
        await dora.send_text("/staff")
        await dora.press(person)
        await dora.press("⛔ Deactivate")
    for dispatcher in (dora, wang):
        told = next(m for m in reversed(dispatcher.messages) if "can no longer answer the question on" in (m.text or ""))
        assert number in told.text and "a dispatcher who has left" in told.text and f"Open {number}" in told.button_texts
    assert not any("can no longer answer" in (m.text or "") for m in dan.messages)
    fake.assert_no_rejections()


async def _ask_xena(fake, dora, xena_id: int, alice_id: int, question: str = "Cause of the tripping?"):
    """Alice's repair with a question open with Xena: (customer, expert, number)."""
    alice = fake.add_user(user_id=alice_id, first_name="Alice", language_code="en")
    xena = await enrol(fake, dora, xena_id, "Xena", "technical_expert")
    await onboard(alice)
    number = await file_request(alice)
    await _open_card(dora, number)
    await dora.press("Ask an expert")
    await dora.press("Xena")
    await dora.send_text(question)
    return alice, xena, number


def _closed_notices(expert, number: str) -> list[str]:
    return [m.text for m in expert.messages if f"Case {number} is withdrawn" in (m.text or "")]


async def test_the_expert_hears_once_when_the_dispatcher_closes_the_request_of_an_open_question(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice, xena, number = await _ask_xena(fake, dora, 6211, 6011)
    case = next(m for m in xena.messages if "✍️ Write analysis" in m.button_texts)
    await xena.press("✍️ Write analysis", case)
    await xena.send_text("Probably the motor winding.")  # halfway through the answer

    await dora.send_text(number)
    await dora.press("🗂 Close the request")
    await dora.send_text("Customer bought a new pump")
    await desk.sweep()
    assert _closed_notices(xena, number) == [
        "\n".join([t("en", "🧠 Case {number} is withdrawn: the request is closed, so no answer is needed.", number=number),
                   "Question:", "Cause of the tripping?"]),
    ]
    await desk.sweep()
    assert len(_closed_notices(xena, number)) == 1  # told once

    await xena.send_text("Rewind the motor.")
    await xena.press("📤 Send")  # the answer finished after the close is politely refused
    assert xena.last.text == "This request is closed or cancelled; the case is withdrawn."
    await xena.press("✍️ Write analysis", case)
    assert xena.callback_answers[-1][1] == "This request is closed or cancelled; the case is withdrawn."
    await xena.send_text("/cases")
    assert xena.last.text == "You have no open cases."
    other = await file_request(alice)
    await _open_card(dora, other)
    await dora.press("Ask an expert")
    assert "Xena · 0 open cases" in dora.last.button_texts[0]
    fake.assert_no_rejections()


async def test_the_expert_hears_when_the_customer_cancels_the_request_of_an_open_question(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice, xena, number = await _ask_xena(fake, dora, 6212, 6012)
    await alice.send_text(f"/status {number}")
    await alice.press("Cancel this request")
    await alice.press("Yes, cancel it")
    await desk.sweep()
    assert [text.splitlines()[0] for text in _closed_notices(xena, number)] == [
        t("en", "🧠 Case {number} is withdrawn: the request was cancelled, so no answer is needed.", number=number),
    ]
    fake.assert_no_rejections()


@pytest.mark.parametrize("closing", ["resolved", "timeout"])
async def test_the_expert_hears_when_the_repair_of_an_open_question_is_confirmed(fake, desk, closing):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 6111, "Ed", "engineer")
    alice, xena, number = await _ask_xena(fake, dora, 6213, 6013)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)  # Ed solved it before Xena answered
    if closing == "resolved":
        await alice.press("Resolved")
    else:
        desk.clock.advance(timedelta(hours=73))
    await desk.sweep()
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == "closed"
    assert [text.splitlines()[0] for text in _closed_notices(xena, number)] == [
        t("en", "🧠 Case {number} is withdrawn: the request is closed, so no answer is needed.", number=number),
    ]
    await desk.sweep()
    assert len(_closed_notices(xena, number)) == 1
    fake.assert_no_rejections()


async def test_a_close_by_timeout_at_night_tells_the_expert_in_staff_hours(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 6121, "Ed", "engineer")
    alice, xena, number = await _ask_xena(fake, dora, 6225, 6025)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)  # Monday about 09:30 in Shanghai
    desk.clock.advance(timedelta(hours=89))  # Friday 02:30: the 72 hours ran out during the night
    await desk.sweep()
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == "closed"
    assert _closed_notices(xena, number) == []  # nobody acted: the expert is not woken for it
    assert not [m for m in ed.messages if "closed as confirmed by timeout" in (m.text or "")]
    desk.clock.advance(timedelta(hours=6))  # 08:30, staff hours
    await desk.sweep()
    assert len(_closed_notices(xena, number)) == 1
    assert len([m for m in ed.messages if "closed as confirmed by timeout" in (m.text or "")]) == 1
    fake.assert_no_rejections()
