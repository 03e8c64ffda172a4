"""The customer's everyday flows, where a step used to leave them stuck or mistold."""
from __future__ import annotations

from storage.models import Draft
from tests.e2e.helpers import accepted_job, onboard, report_by_phone, t


async def test_a_customer_who_drops_suggesting_another_time_can_still_agree_to_the_visit(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5601, 5602)
    await ed.press("Propose a visit")
    await ed.press("Tomorrow 09:00")
    proposal = alice.last
    await alice.press("🕑 Suggest another time", proposal)
    assert "Which day and time would suit you" in alice.last.text
    await alice.press("✖️ Cancel")  # she thinks again: tomorrow is fine after all
    await alice.press("✅ That suits me", proposal)
    assert "the visit on" in alice.last.text and "is agreed" in alice.last.text
    assert "The customer agreed to the visit" in ed.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        visit = await uow.jobs.latest_visit(request.id, request.assigned_engineer_id)
        assert visit.state == "accepted"
    fake.assert_no_rejections()


async def test_a_visit_proposal_answered_with_another_time_refuses_its_agree_button(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5603, 5604)
    await ed.press("Propose a visit")
    await ed.press("Tomorrow 09:00")
    proposal = alice.last
    await alice.press("🕑 Suggest another time", proposal)
    await alice.send_text("Friday afternoon please")
    assert "the engineer will propose another time" in alice.last.text
    await alice.press("✅ That suits me", proposal)  # the buttons stayed: the server refuses
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        visit = await uow.jobs.latest_visit(request.id, request.assigned_engineer_id)
        assert (visit.state, visit.counter_note) == ("countered", "Friday afternoon please")
    assert not any("is agreed" in (m.text or "") for m in alice.new_messages)
    fake.assert_no_rejections()


async def test_the_card_of_a_reported_request_answers_the_report(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5611, 5612)
    await report_by_phone(ed)
    await alice.send_text("/my")  # the report's own message has scrolled away
    await alice.press(number)
    assert "Is the problem solved?" in alice.last.text
    await alice.press("❌ Not resolved", alice.last)
    assert "is reopened" in alice.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.repeat_repair) == ("in_progress", True)
        report = await uow.jobs.latest_report(request.id)
        assert report.outcome == "disputed"
    fake.assert_no_rejections()


async def test_a_comment_typed_while_the_report_waits_is_not_told_the_request_is_closed(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5613, 5614)
    await alice.send_text(number)
    await alice.press("💬 Add comment or photos")
    await ed.send_text("/jobs")
    await ed.press(number)
    await report_by_phone(ed)
    await alice.send_text("The pump still leaks")
    answer = alice.last
    assert "closed" not in answer.text
    assert "Is the problem solved?" in answer.text and "❌ Not resolved" in answer.button_texts
    await alice.press("✅ Resolved", answer)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.closed_reason) == ("closed", "confirmed")
    fake.assert_no_rejections()


async def _at_description_with_ten_photos(alice) -> None:
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.press("I don't know the serial number")
    for _ in range(10):
        await alice.send_photo()  # "Photo saved. Now please describe the problem in words (or send the photo again with a caption)."


async def test_a_caption_sent_with_one_photo_too_many_still_describes_the_problem(fake, desk):
    alice = fake.add_user(user_id=5621, first_name="Alice", language_code="en")
    await _at_description_with_ten_photos(alice)
    await alice.send_photo(caption="Pump trips the breaker after 5 minutes")
    said = "\n".join(m.text or "" for m in alice.new_messages)
    assert "the maximum. Press “Done” to continue." not in said and "Description saved, but not the photo" in said
    assert "Send photos of the equipment" in alice.last.text  # the next step: the description is taken
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(5621)
        draft = await uow.drafts.of_user(user.id)
        assert (draft.step, draft.data["description"], len(draft.data["photos"])) == ("photos", "Pump trips the breaker after 5 minutes", 10)
    fake.assert_no_rejections()


async def test_a_bare_photo_too_many_at_the_description_asks_for_words_not_for_done(fake, desk):
    alice = fake.add_user(user_id=5622, first_name="Alice", language_code="en")
    await _at_description_with_ten_photos(alice)
    await alice.send_photo()
    answer = alice.new_messages[0].text
    assert "Done" not in answer and "10 photos" in answer and "describe" in answer
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(5622)
        draft = await uow.drafts.of_user(user.id)
        assert (draft.step, len(draft.data["photos"])) == ("description", 10)
    fake.assert_no_rejections()


async def test_a_caption_on_a_voice_message_too_many_still_describes_the_problem(fake, desk):
    alice = fake.add_user(user_id=5623, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.press("I don't know the serial number")
    for _ in range(5):
        await alice.send_voice()
    await alice.send_voice(caption="Pump hums and trips the breaker")
    said = "\n".join(m.text or "" for m in alice.new_messages)
    assert "Description saved, but not the voice message" in said and "Send photos of the equipment" in alice.last.text
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(5623)
        draft = await uow.drafts.of_user(user.id)
        assert (draft.step, draft.data["description"], len(draft.data["voices"])) == ("photos", "Pump hums and trips the breaker", 5)
    fake.assert_no_rejections()
