"""Staff kinds the outbox renders (besides approval cards and role-addressed views) are not sent to
someone who no longer holds the role they are for; where somebody must still act, whoever holds
the role now gets it, once.

README: "withdraws roles ... their buttons stop working"; DESIGN.md: "staff see what their role needs".
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import notices
from storage.models import Complaint
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import assign, complaint_ready_to_answer, enrol, file_request, onboard, report_by_phone
from tests.e2e.test_outbox_roles import _set_role

PHONE = "+8613800138000"


async def test_an_undelivered_answer_alert_waiting_for_a_supervisor_whose_role_was_withdrawn_goes_to_the_supervisor_now(fake, desk):
    qin, alice, _, complaint_number = await complaint_ready_to_answer(fake, 7901, 7902)
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, we are sorry we did not call back.")
    await qin.press("📤 Send to the customer", qin.last)
    async with desk.db.uow() as uow:  # the alert, as queued when the answer met her block, held for staff hours
        qin_user = await uow.users.by_telegram_id(qin.id)
        complaint = (await uow.session.scalars(select(Complaint))).one()
        assert await notices.queue(uow, qin_user, notices.ANSWER_UNDELIVERED, {"complaint_id": complaint.id},
                                   f"{notices.ANSWER_UNDELIVERED}:{complaint.id}:{qin_user.id}", desk.clock.now(),
                                   not_before=desk.clock.now() + timedelta(hours=1))
        await uow.commit()
    await _set_role(desk, qin.id, "finance", True)  # she stays on the staff
    await _set_role(desk, qin.id, "complaint_supervisor", False)
    sue = await enrol(fake, fake.users[DISPATCHER_ID], 7903, "Sue", "complaint_supervisor")

    desk.clock.advance(timedelta(hours=2))
    await desk.sweep()
    await desk.sweep()
    await desk.sweep()

    assert not any("could not be delivered" in (m.text or "") for m in qin.messages)
    told = [m.text for m in sue.messages if "could not be delivered" in (m.text or "")]
    assert len(told) == 1 and complaint_number in told[0] and PHONE in told[0], [m.text for m in sue.messages[-3:]]


async def test_a_closed_by_timeout_note_held_overnight_for_a_dispatcher_whose_role_was_withdrawn_is_not_sent_to_him(fake, desk):
    """The sweep closes Alice's request at night; the note to the engineer and the dispatchers waits for
    staff hours; Wang stops being a dispatcher before the morning (he stays an engineer, not on this job)."""
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    await _set_role(desk, wang.id, "engineer", True)
    ed = await enrol(fake, dora, 7911, "Ed", "engineer")
    alice = fake.add_user(user_id=7912, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)
    desk.clock.advance(timedelta(hours=85))  # Thursday 22:30 in Shanghai: past the 72 h window, outside staff hours
    assert (await desk.sweep()).closed == 1
    assert not any("closed as confirmed by timeout" in (m.text or "") for m in dora.messages)  # held for the morning
    await _set_role(desk, wang.id, "dispatcher", False)
    desk.clock.advance(timedelta(hours=10))  # Friday 08:30
    await desk.sweep()
    await desk.sweep()
    for person in (dora, ed):
        assert len([m for m in person.messages if number in (m.text or "") and "closed as confirmed by timeout" in m.text]) == 1
    assert not any(number in (m.text or "") and "closed as confirmed by timeout" in m.text for m in wang.messages)
