"""Reaching people who blocked the bot: who is told, so that somebody phones them.

- the engineer whose open job the customer is on is told (he is the one who phones them to agree
  the visit), once, with the job named;
- a complaint's written answer held for the customer's quiet hours that then meets a 403 is not
  silently dropped: the supervisor who sent it (told it would be delivered) is told to give it
  another way.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import notices
from bot.views import View
from storage.models import OutboxMessage, ServiceRequest
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, complaint_ready_to_answer, enrol, file_request, onboard

PHONE = "+8613800138000"


def _texts(person) -> list[str]:
    return [m.text or "" for m in person.messages]


def _blocked_alerts(person) -> list[str]:
    return [text for text in _texts(person) if "has blocked the bot" in text]


async def test_the_engineer_of_the_customers_open_job_is_told_once_when_the_customer_blocks_the_bot(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7501, "Ed", "engineer")
    fay = await enrol(fake, dora, 7502, "Fay", "engineer")
    alice = fake.add_user(user_id=5201, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice)
    second = await file_request(alice, description="Second pump hums")
    await assign(dora, first, "Ed")
    await ed.press("Accept")
    fake.block(alice.id)
    await assign(dora, second, "Fay")  # the notice to Alice gets 403: she is marked unreachable
    await desk.sweep()
    await desk.sweep()

    for engineer, number in ((ed, first), (fay, second)):
        alerts = _blocked_alerts(engineer)
        assert len(alerts) == 1, alerts  # told, and once
        assert "Alice" in alerts[0] and PHONE in alerts[0] and number in alerts[0]
    assert len(_blocked_alerts(dora)) == 1  # the dispatchers are still told
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(alice.id)).is_reachable is False


async def test_the_alert_names_an_open_job_older_than_the_customers_twenty_latest_requests(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7501, "Ed", "engineer")
    alice = fake.add_user(user_id=5201, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    async with desk.db.uow() as uow:  # a fleet customer: many later requests, all done
        job = (await uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number))).one()
        for n in range(25):
            later = desk.clock.now() + timedelta(minutes=n + 1)
            uow.session.add(ServiceRequest(
                number=f"SR-2026-9{n:05d}", kind="repair", status="closed", customer_id=job.customer_id, description="Done",
                created_by_user_id=job.created_by_user_id, created_at=later, updated_at=later,
            ))
        await uow.commit()
    fake.block(alice.id)
    desk.clock.advance(timedelta(hours=1))
    async with desk.db.uow() as uow:  # any notice to her now meets the block
        person = await uow.users.by_telegram_id(alice.id)
        await notices.queue(uow, person, notices.VIEW, View("ping").to_payload(), "reach-test-ping", desk.clock.now())
        await uow.commit()
    await desk.sweep()
    for reader in (dora, ed):  # the dispatchers too: the job is not among her twenty latest requests
        alerts = _blocked_alerts(reader)
        assert len(alerts) == 1 and number in alerts[0], alerts


async def test_a_held_complaint_answer_that_meets_a_block_is_handed_back_to_the_supervisor_who_sent_it(fake, desk):
    qin, alice, _, complaint_number = await complaint_ready_to_answer(fake, 7401, 5101)
    desk.clock.advance(timedelta(hours=12))  # Monday 21:30 in Shanghai: the customer's quiet hours
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, we are sorry we did not call back.")
    await qin.press("📤 Send to the customer", qin.last)
    assert "the customer receives it when their quiet hours end" in qin.last.text  # promised as delivered
    async with desk.db.uow() as uow:
        held = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "complaint_answer"))).one()
        assert held.sent_at is None

    fake.block(alice.id)  # overnight she blocks the bot
    desk.clock.advance(timedelta(hours=11))  # Tuesday 08:30: the answer goes out, and meets the 403
    await desk.sweep()
    await desk.sweep()

    assert not any("we are sorry" in text for text in _texts(alice))
    told = [text for text in _texts(qin) if complaint_number in text and "could not be delivered" in text]
    assert len(told) == 1, _texts(qin)[-3:]
    assert "Alice" in told[0] and PHONE in told[0] and "we are sorry we did not call back" in told[0]  # the answer, to read out
    async with desk.db.uow() as uow:
        held = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "complaint_answer"))).one()
        assert held.failure == "blocked"
    fake.assert_no_rejections(allow=lambda rejection: rejection.error_code == 403 and rejection.params["chat_id"] == alice.id)


async def test_a_complaint_answer_sent_at_once_that_meets_a_block_is_handed_back_to_the_supervisor(fake, desk):
    """The daytime twin of the test above: the supervisor read "sent", Telegram then refused it."""
    qin, alice, _, complaint_number = await complaint_ready_to_answer(fake, 7402, 5102)
    fake.block(alice.id)  # the bot does not know yet
    await qin.press("✍️ Write answer")
    await qin.send_text("Dear Alice, we are sorry we did not call back.")
    await qin.press("📤 Send to the customer", qin.last)
    await desk.sweep()

    assert not any("we are sorry" in text for text in _texts(alice))
    told = [text for text in _texts(qin) if complaint_number in text and "could not be delivered" in text]
    assert len(told) == 1, _texts(qin)[-3:]
    assert PHONE in told[0] and "we are sorry we did not call back" in told[0]
    fake.assert_no_rejections(allow=lambda rejection: rejection.error_code == 403 and rejection.params["chat_id"] == alice.id)
