"""Over HTTP: defects found in the sales area (consultations answered by two people, the /sell form)."""
from __future__ import annotations

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard


def _answers_to(alice, number: str) -> list[str]:
    return [m.text for m in alice.messages if f"Answer on your request {number}" in (m.text or "")]


async def _question_answered_by_sam(fake):
    """Two salespeople hear of Alice's consultation; Sam answers it. Returns (sam, sue, alice, number)."""
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 6905, "Sam", "salesperson")
    sue = await enrol(fake, dora, 6906, "Sue", "salesperson")
    alice = fake.add_user(user_id=6024, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    await sam.press("💬 Answer the customer", next(m for m in sam.messages if number in (m.text or "")))
    await sam.send_text("Use ISO VG 46 hydraulic oil.")
    return sam, sue, alice, number


async def test_a_colleague_who_opens_an_already_answered_question_is_shown_the_answer_before_a_second_one_goes_out(fake, desk):
    """Two salespeople hear of the question. Sam answers it; Sue presses her own (older) notice's
    button afterwards, not knowing: the customer must not get a second, different answer unasked."""
    sam, sue, alice, number = await _question_answered_by_sam(fake)
    await sue.press("💬 Answer the customer", next(m for m in sue.messages if number in (m.text or "")))
    await sue.send_text("Use ISO VG 68 oil.")
    assert len(_answers_to(alice, number)) == 1  # Sam's only, so far
    assert "Sam answered this customer meanwhile" in sue.last.text and "ISO VG 46" in sue.last.text
    assert "📤 Send mine too" in sue.last.button_texts
    await sue.press("📤 Send mine too")  # her choice, knowing Sam's answer
    answers = _answers_to(alice, number)
    assert len(answers) == 2 and "ISO VG 68" in answers[-1]
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert [e.details["text"] for e in await uow.requests.events(request.id, include_internal=False) if e.action == "answered"] == [
            "Use ISO VG 46 hydraulic oil.", "Use ISO VG 68 oil."]
    fake.assert_no_rejections()


async def test_a_follow_up_question_is_answered_without_a_warning_about_the_earlier_answer(fake, desk):
    sam, sue, alice, number = await _question_answered_by_sam(fake)
    await alice.press("↩️ Reply")
    await alice.send_text("And how many litres does it take?")
    told = next(m for m in reversed(sue.messages) if "how many litres" in (m.text or ""))
    await sue.press("💬 Answer the customer", told)
    await sue.send_text("About 2 litres.")
    assert sue.last.text == f"✅ Your answer is sent to the customer of {number}."
    assert "About 2 litres." in _answers_to(alice, number)[-1]
    fake.assert_no_rejections()


async def _sell_up_to_summary(sam, name: str, phone: str, description: str) -> None:
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text(name)
    await sam.send_text(phone)
    await sam.press("I don't know it")
    await sam.send_text(description)


async def test_the_summary_says_when_the_phone_is_a_customer_already_known_under_another_name(fake, desk):
    """The request goes to the record that has the phone, not to the name typed: the salesperson
    sees whose record it is before sending, and can correct a wrong phone instead of filing Bob's
    job (and telling of it) on Alice's record."""
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice, name="Alice Wang")  # +8613800138000
    await _sell_up_to_summary(sam, "Bob Li, Green Valley Farm", "+86 138 0013 8000", "The well pump rattles")
    assert "Check the request" in sam.last.text
    assert "Alice Wang" in sam.last.text and "go back to the phone step" in sam.last.text
    for _ in range(3):  # review → description → serial → phone
        await sam.press("⬅️ Back")
    await sam.send_text("+86 139 0013 9000")
    await sam.press("I don't know it")
    await sam.send_text("The well pump rattles")
    assert "Check the request" in sam.last.text and "Alice Wang" not in sam.last.text
    await sam.press("📤 Send for approval")
    async with desk.db.uow() as uow:
        alice_record = await uow.customers.by_user_id((await uow.users.by_telegram_id(5001)).id)
        bob = await uow.customers.by_phone("+8613900139000")
        assert bob is not None and bob.name == "Bob Li, Green Valley Farm" and bob.id != alice_record.id
    fake.assert_no_rejections()


async def test_the_summary_has_no_warning_for_the_known_customer_under_their_own_name(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice, name="Alice Wang")
    await _sell_up_to_summary(sam, "alice wang", "+86 138 0013 8000", "The well pump rattles")
    assert "Check the request" in sam.last.text and "go back to the phone step" not in sam.last.text


async def _consultation_with_engineer_on_the_way(fake):
    """Alice's question needed a visit: Ed accepted it and is on his way; Dora answered in writing."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 6801, "Ed", "engineer")
    alice = fake.add_user(user_id=6024, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="The pump hums; can someone look at it?")
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("🚗 On my way")
    await dora.send_text(number)
    await dora.press("💬 Answer the customer")
    await dora.send_text("It is the normal sound of the motor.")
    return dora, ed, alice, number


async def test_the_engineer_on_its_way_is_told_when_the_customer_closes_the_consultation_with_the_answer(fake, desk):
    """README: closing a request tells its engineer (they may be on their way)."""
    dora, ed, alice, number = await _consultation_with_engineer_on_the_way(fake)
    seen = len(ed.messages)
    await alice.press("✅ That answers my question")
    told = [m.text for m in ed.messages[seen:] if number in (m.text or "")]
    assert len(told) == 1 and "closed" in told[0] and "customer confirmed" in told[0]
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == "closed"
    fake.assert_no_rejections()


async def test_the_engineer_on_its_way_is_told_when_a_dispatcher_closes_the_consultation_as_answered(fake, desk):
    dora, ed, alice, number = await _consultation_with_engineer_on_the_way(fake)
    seen = len(ed.messages)
    await dora.press("✔️ Close: answered")
    told = [m.text for m in ed.messages[seen:] if number in (m.text or "")]
    assert len(told) == 1 and "closed" in told[0] and "answered" in told[0]
    assert "is closed as answered" in alice.last.text
    fake.assert_no_rejections()


PARTS_CSV = "Code,Name,Unit,Price,Safety level,Warehouse,Quantity\nSEAL-1,Shaft seal,pc,12,,MAIN,10\n".encode()


async def test_parts_still_asked_for_a_consultation_closed_with_its_answer_are_no_longer_requested(fake, desk):
    """As any request that ends: the service manager is not left to approve, nor the warehouse to
    issue, seals for a job the customer closed."""
    dora, ed, alice, number = await _consultation_with_engineer_on_the_way(fake)
    sun = await enrol(fake, dora, 6802, "Sun", "service_manager")
    await dora.send_text("/import")
    await dora.send_document("parts.csv", data=PARTS_CSV)
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("🔩 Request parts")
    await ed.send_text("SEAL-1")
    await ed.send_text("2")
    await ed.press("📤 Send the requisition")
    card = next(m for m in reversed(sun.messages) if "✅ Approve" in m.button_texts)
    approve = card.buttons[0]["callback_data"]
    await alice.press("✅ That answers my question")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.status == "closed"
        assert [r.status for r in await uow.stock.requisitions_of_request(request.id)] == ["cancelled"]
        assert [a.status for a in await uow.approvals.of_request(request.id)] == ["withdrawn"]
    assert "the request was cancelled or closed" in sun.message(card.message_id).text  # Sun's card says so
    assert f"Spare-part requisition for {number}:\n↩️ Withdrawn" in ed.last.text  # Ed, who asked
    await sun.press_data(approve)  # an Approve kept from before
    assert sun.callback_answers[-1][1] == "This approval was withdrawn: there is nothing left to decide."
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert [r.status for r in await uow.stock.requisitions_of_request(request.id)] == ["cancelled"]
    fake.assert_no_rejections()
