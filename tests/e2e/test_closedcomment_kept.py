"""A customer still in comment mode when their request is closed for any reason (a dispatcher
closes it, a consultation is closed as answered, they cancel it themselves): what they send next
is kept on the request and passed on to who reads their comments, and they learn that the request
is closed and what they can do. It was refused ("This request is closed; comments can no longer be
added.") and lost. (The confirmation timeout's case: tests/e2e/test_laststeps_timeout.py.)"""
from __future__ import annotations

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import complaint_ready_to_answer, enrol, file_request, onboard

REFUSED = "comments can no longer be added"


async def _kept(desk, number: str, texts: list[str], photos: int) -> None:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.status in ("closed", "cancelled")  # it stays as it was closed
        comments = [e for e in await uow.requests.events(request.id, include_internal=False) if e.action == "comment"]
        assert [e.details.get("text") for e in comments][-len(texts):] == texts
        assert all(e.details.get("after_close") for e in comments[-len(texts):])
        assert len([a for a in await uow.requests.attachments(request.id) if a.kind == "photo"]) == photos


async def test_what_a_customer_writes_after_a_dispatcher_closed_the_request_is_kept_and_passed_on(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5961, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    await alice.press("💬 Add comment or photos")
    await dora.send_text(number)
    await dora.press("🗂 Close the request")
    await dora.send_text("Duplicate of a phone call")

    dora_seen = len(dora.messages)
    await alice.send_text("It was not a duplicate, the pump is still down")
    said = alice.last.text
    assert REFUSED not in said
    assert "closed by our service department" in said
    assert number in said and "/new" in said and "Send more" in said
    told = [m for m in dora.messages[dora_seen:] if "It was not a duplicate" in (m.text or "")]
    assert told and number in told[0].text and "closed" in told[0].text
    await dora.press("Open", told[0])  # the staff card, with what she wrote
    assert number in dora.last.text and "It was not a duplicate" in dora.last.text

    dora_seen = len(dora.messages)
    await alice.send_photo(caption="The pump, this morning")
    assert REFUSED not in alice.last.text and "Send more" in alice.last.text
    photo_told = [m for m in dora.messages[dora_seen:] if number in (m.text or m.caption or "")]
    assert photo_told and "The pump, this morning" in (photo_told[0].text or photo_told[0].caption or "")
    await _kept(desk, number, ["It was not a duplicate, the pump is still down", "The pump, this morning"], photos=1)
    await alice.press("✅ Done", alice.last)
    assert number in alice.last.text  # her card
    fake.assert_no_rejections()


async def test_what_a_customer_writes_after_cancelling_in_comment_mode_is_kept_and_passed_on(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5962, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    card = alice.last
    await alice.press("💬 Add comment or photos", card)
    await alice.press("Cancel this request", card)
    await alice.press("Yes, cancel it")
    dora_seen = len(dora.messages)
    await alice.send_text("Sorry, my colleague will call you instead")
    said = alice.last.text
    assert REFUSED not in said and number in said and "cancelled" in said and "Send more" in said
    told = [m for m in dora.messages[dora_seen:] if "my colleague will call you" in (m.text or "")]
    assert told and number in told[0].text and "cancelled" in told[0].text
    await alice.send_text("His name is Bo")
    assert REFUSED not in alice.last.text and "Send more" in alice.last.text
    await _kept(desk, number, ["Sorry, my colleague will call you instead", "His name is Bo"], photos=0)
    fake.assert_no_rejections()


async def test_a_reply_after_the_consultation_was_closed_as_answered_reaches_dispatchers_and_salespeople(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 6961, "Sam", "salesperson")
    alice = fake.add_user(user_id=5963, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    notice = next(m for m in sam.messages if number in (m.text or ""))
    await sam.press("💬 Answer the customer", notice)
    await sam.send_text("Use ISO VG 46 hydraulic oil.")
    await alice.press("↩️ Reply", alice.last)  # comment mode; she is still typing
    await dora.send_text(number)
    await dora.press("✔️ Close: answered")
    assert f"Your question {number} is closed as answered" in alice.last.text

    dora_seen, sam_seen = len(dora.messages), len(sam.messages)
    await alice.send_text("And how many litres?")
    said = alice.last.text
    assert REFUSED not in said and number in said and "Send more" in said
    for person, seen in ((dora, dora_seen), (sam, sam_seen)):
        told = [m for m in person.messages[seen:] if "And how many litres?" in (m.text or "")]
        assert told and number in told[0].text, person.first_name
    await _kept(desk, number, ["And how many litres?"], photos=0)
    fake.assert_no_rejections()


async def test_what_a_customer_writes_on_a_complaint_answered_meanwhile_is_kept_and_not_sent_back_to_complain(fake, desk):
    """Alice adds comments to her complaint; Qin sends the written answer (the complaint closes).
    What she writes next is kept on the complaint and reaches the supervisor, and she is not told
    to /complain about it: she is pointed to /new."""
    qin, alice, _, complaint_number = await complaint_ready_to_answer(fake, 7961, 5965)
    await alice.send_text(complaint_number)
    await alice.press("💬 Add comment or photos")
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, we are sorry we did not call back.")
    await qin.press("📤 Send to the customer", qin.last)
    qin_seen = len(qin.messages)
    await alice.send_text("Thank you, but nobody has called me yet")
    said = alice.last.text
    assert REFUSED not in said and "/complain" not in said
    assert complaint_number in said and "answered and closed" in said and "/new" in said
    assert any("nobody has called me yet" in (m.text or "") for m in qin.messages[qin_seen:])
    await _kept(desk, complaint_number, ["Thank you, but nobody has called me yet"], photos=0)
    fake.assert_no_rejections()
