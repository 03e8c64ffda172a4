"""A complaint's written answer queued as the customer was being marked unreachable (another
sender met her 403 and closed the rows it could see, before the answer's commit) is not closed
"unreachable" in silence: the supervisor who sent it is told, as when the answer itself meets the 403.

README: "a complaint's written answer that meets the 403 goes back to the supervisor who sent it".
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import notices
from storage.models import OutboxMessage
from tests.e2e.helpers import complaint_ready_to_answer
from tests.e2e.test_reach_fixes import PHONE


async def test_an_answer_queued_while_another_sender_marks_the_customer_unreachable_goes_back_to_the_supervisor(fake, desk):
    qin, alice, _, complaint_number = await complaint_ready_to_answer(fake, 7801, 7802)
    desk.clock.advance(timedelta(hours=12))  # Monday 21:30 in Shanghai: the answer waits for the customer's morning
    fake.block(alice.id)
    async with desk.db.uow() as uow:  # the sender that met her 403 reads her unsent rows...
        alice_id = (await uow.users.by_telegram_id(alice.id)).id
        seen = await uow.outbox.unsent_ids_of(alice_id)
    await qin.press("✍️ Write answer")  # ...as Qin's answer is being committed (she was reachable for it)
    await qin.send_text("Dear Alice, we are sorry we did not call back.")
    await qin.press("📤 Send to the customer", qin.last)
    assert "the customer receives it when their quiet hours end" in qin.last.text
    async with desk.db.uow() as uow:  # ...then marks her unreachable and closes what it had seen
        assert await notices.blocked(uow, alice.id, desk.clock.now()) is not None
        await uow.outbox.finish(seen, desk.clock.now(), "blocked")
        await uow.commit()

    desk.clock.advance(timedelta(hours=11))  # Tuesday 08:30: the answer is due
    await desk.sweep()
    await desk.sweep()

    assert not any("we are sorry" in (m.text or "") for m in alice.messages)
    told = [m.text for m in qin.messages if complaint_number in (m.text or "") and "could not be delivered" in m.text]
    assert len(told) == 1, [m.text for m in qin.messages[-3:]]
    assert PHONE in told[0] and "we are sorry we did not call back" in told[0]
    async with desk.db.uow() as uow:
        held = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "complaint_answer"))).one()
        assert held.failure == "unreachable"
