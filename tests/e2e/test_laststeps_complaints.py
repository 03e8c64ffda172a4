"""Complaint supervisors over HTTP, paths a review found broken: the request number /complaint asks
for, typed on its own; the written answer interrupted by another dialog."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from storage.models import Complaint, ParkedDraft
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import complaint_ready_to_answer, enrol, file_request, onboard


def _number(text: str) -> str:
    return re.search(r"SR-\d{4}-\d{6}", text).group(0)


async def test_the_request_number_a_supervisor_sends_after_a_bare_complaint_command_starts_the_registration(fake, desk):
    """/complaint without a number asks for it; the supervisor sends it on its own, as asked. He
    was told "No request … was found among yours" (the customer's answer), nothing registered."""
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7481, "Qin", "complaint_supervisor")
    alice = fake.add_user(user_id=5481, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)

    await qin.send_text("/complaint")
    assert "Send the number of the request the complaint is about" in qin.last.text
    await qin.send_text("the pump one")
    assert "Send the number of the request the complaint is about" in qin.last.text
    await qin.send_text("SR-2026-999999")
    assert "There is no request SR-2026-999999" in qin.last.text
    await qin.send_text(number.lower())
    assert "among yours" not in qin.last.text
    assert f"Registering a complaint of Alice about request {number}. What is it about?" in qin.last.text
    await qin.press("🛎 The service")
    await qin.send_text("Phoned in: nobody called her back")
    await qin.press("✅ Register the complaint")
    complaint_number = _number(qin.last.text.split("\n")[0])
    assert f"Complaint {complaint_number} is registered for Alice." in qin.last.text

    # the number of a complaint where a request's is asked: its card, not "not among yours"
    await qin.send_text("/complaint")
    await qin.send_text(complaint_number)
    assert "among yours" not in qin.last.text
    assert f"A complaint cannot be registered about {complaint_number}" in qin.last.text
    assert f"Complaint {complaint_number}" in qin.last.text and "🙋 Take it" in qin.last.button_texts
    await qin.send_text(f"/complaint {complaint_number}")  # the same, typed with the command
    assert f"Complaint {complaint_number}" in qin.last.text and "🙋 Take it" in qin.last.button_texts
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Complaint)) == 1
    fake.assert_no_rejections()


async def test_a_bare_complaint_command_from_someone_without_the_role_opens_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5482, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    for outsider in (dora, alice):
        await outsider.send_text("/complaint")
        assert outsider.last.text == "This command is for the complaint supervisor."
    await alice.send_text(number)
    assert f"Request {number}" in alice.last.text or number in alice.last.text  # her card, as before
    fake.assert_no_rejections()


async def test_a_written_answer_interrupted_by_another_dialog_goes_on_with_its_text(fake, desk):
    """Qin wrote the answer and sees its preview; a note on the same complaint (a button of another
    message) started another dialog, and the answer was gone: "✍️ Write answer" started empty."""
    qin, alice, _number_, complaint_number = await complaint_ready_to_answer(fake, 7483, 5483)
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, we are sorry we did not call back.")
    assert "Preview" in qin.last.text
    card = next(m for m in reversed(qin.messages) if "📝 Add note" in m.button_texts)
    await qin.press("📝 Add note", card)
    await qin.send_text("Alice called again meanwhile")
    assert "Note added by Qin." in qin.last.text
    await qin.press("✍️ Write answer", qin.last)
    preview = qin.last
    assert "Preview" in preview.text and "we are sorry we did not call back" in preview.text
    await qin.press("📤 Send to the customer", preview)
    assert "Answer sent to the customer by Qin" in qin.last.text
    assert f"Answer to your complaint {complaint_number}" in alice.last.text and "we are sorry we did not call back" in alice.last.text
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ParkedDraft)) == 0
    fake.assert_no_rejections()


async def test_an_answer_being_rewritten_when_interrupted_comes_back_with_the_earlier_text(fake, desk):
    qin, alice, _number_, complaint_number = await complaint_ready_to_answer(fake, 7484, 5484)
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, sorry.")
    await qin.press("✏️ Rewrite")
    card = next(m for m in reversed(qin.messages) if "🔗 Link request" in m.button_texts)
    await qin.press("🔗 Link request", card)  # another dialog
    await qin.send_text("/cancel")
    await qin.press("✍️ Write answer", card)
    assert "Write the answer to the customer" in qin.last.text and "Dear Alice, sorry." in qin.last.text
    await qin.send_text("Dear Alice, we are sorry: callbacks are now on the board.")
    assert "Preview" in qin.last.text and "callbacks are now on the board" in qin.last.text
    fake.assert_no_rejections()


async def _supervisor_types_a_complaints_number(fake, desk) -> None:
    qin, alice, number, complaint_number = await complaint_ready_to_answer(fake, 7485, 5485)
    await qin.send_text(complaint_number)  # from a reminder, say: outside any dialog
    assert "among yours" not in qin.last.text
    assert f"Complaint {complaint_number}" in qin.last.text and "✍️ Write answer" in qin.last.button_texts
    await qin.send_text(number)  # a request of the customer's that is no complaint: not his to open
    assert "among yours" in qin.last.text
    await alice.send_text(complaint_number)  # the customer's own complaint: her card, as before
    assert f"Complaint {complaint_number}" not in alice.last.text and complaint_number in alice.last.text
    fake.assert_no_rejections()


async def test_a_complaints_number_typed_by_a_supervisor_opens_its_card(fake, desk):
    await _supervisor_types_a_complaints_number(fake, desk)
