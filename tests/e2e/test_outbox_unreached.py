"""A reminder that cannot reach its staff recipient (they blocked the bot) is not dropped: the
next level of the clock's chain gets it instead, once, saying who could not be reached.

DESIGN.md: "Before a deadline the responsible person is reminded; at breach the next level is told".
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import OutboxMessage
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import accepted_job, enrol, file_request, onboard

MISSED = "could not reach Ed"


def _passed_on(person, number: str) -> list[str]:
    return [m.text for m in person.messages if MISSED in (m.text or "") and number in m.text]


async def test_an_engineers_reminder_goes_to_the_dispatchers_when_he_has_blocked_the_bot(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 7601, 7602)
    wang = fake.users[SECOND_DISPATCHER_ID]
    fake.block(ed.id)

    desk.clock.advance(timedelta(hours=12))  # half the 24 h arrival window: Ed's reminder meets the 403
    await desk.sweep()
    await desk.sweep()
    for dispatcher in (dora, wang):
        told = _passed_on(dispatcher, number)
        assert len(told) == 1, [m.text for m in dispatcher.messages[-4:]]  # told, and once
        assert "Ed (Field engineer)" in told[0] and "arrival" in told[0]
    assert any("Ed" in (m.text or "") and "has blocked the bot" in (m.text or "") for m in dora.messages)  # the block itself too

    desk.clock.advance(timedelta(hours=7, minutes=12))  # 80 % (04:42): Ed is known unreachable; held for staff hours
    seen = len(dora.messages)
    await desk.sweep()
    assert len(dora.messages) == seen
    desk.clock.advance(timedelta(hours=3, minutes=30))  # 08:12: his reminder is passed on again
    await desk.sweep()
    await desk.sweep()
    again = [m.text for m in dora.messages[seen:] if MISSED in (m.text or "")]
    assert len(again) == 1 and number in again[0], [m.text for m in dora.messages[seen:]]
    async with desk.db.uow() as uow:
        rows = list(await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "deadline_unreached")))
        assert rows and all(row.sent_at is not None and row.failure is None for row in rows)


async def test_a_blocked_dispatchers_reminder_goes_up_to_the_service_manager_even_when_both_dispatchers_block_at_once(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    sam = await enrol(fake, dora, 7621, "Sam", "service_manager")
    alice = fake.add_user(user_id=7622, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    fake.block(dora.id)
    fake.block(wang.id)
    desk.clock.advance(timedelta(hours=2))  # half the 4 h first-contact window: both dispatchers meet the 403
    await desk.sweep()
    await desk.sweep()
    told = [m.text for m in sam.messages if "could not reach" in (m.text or "") and number in m.text]
    assert len(told) == 2 and all("Dispatcher)" in text for text in told), [m.text for m in sam.messages]  # one per dispatcher missed
