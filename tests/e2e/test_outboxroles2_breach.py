"""At a breach the dispatcher is reminded of the deadline on their own, and the engineer's reminder
that could not reach him (he blocked the bot) is passed on to the dispatcher too: one message about
that deadline, not two, saying whom the reminder missed.

DESIGN.md: "at breach the next level is told"; README: reminders that miss a blocked staff member.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import OutboxMessage
from tests.e2e.conftest import SECOND_DISPATCHER_ID
from tests.e2e.helpers import accepted_job


async def test_at_a_breach_the_dispatcher_gets_one_reminder_that_names_the_engineer_it_missed(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 7931, 7932)
    wang = fake.users[SECOND_DISPATCHER_ID]
    fake.block(ed.id)
    seen = {person: len(person.messages) for person in (dora, wang)}

    desk.clock.advance(timedelta(hours=30))  # Tuesday 15:30: the 24 h arrival deadline is breached
    for _ in range(3):
        await desk.sweep()

    for dispatcher in (dora, wang):
        reminders = _reminders(dispatcher, number, seen[dispatcher])
        assert len(reminders) == 1, reminders
        assert "on-site arrival: overdue" in reminders[0]
        # whom it missed: in it, or (their own went out before his 403 was met) in the block alert
        assert "Ed (Field engineer)" in reminders[0] or any(
            "Ed" in (m.text or "") and "has blocked the bot" in m.text for m in dispatcher.messages[seen[dispatcher]:])


async def test_reminders_for_an_engineer_known_to_be_unreachable_go_straight_to_the_dispatchers_once_per_point(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 7941, 7942)
    wang = fake.users[SECOND_DISPATCHER_ID]
    fake.block(ed.id)
    desk.clock.advance(timedelta(hours=12))  # half the arrival window: his reminder meets the 403, the bot learns it
    for _ in range(2):
        await desk.sweep()
    seen = {person: len(person.messages) for person in (dora, wang)}

    desk.clock.advance(timedelta(hours=18))  # Tuesday 15:30: breached; Ed is known to be unreachable
    for _ in range(3):
        await desk.sweep()

    for dispatcher in (dora, wang):
        reminders = _reminders(dispatcher, number, seen[dispatcher])
        assert len(reminders) == 1, reminders  # their own breach reminder, naming whom it missed
        assert "on-site arrival: overdue" in reminders[0] and "Ed (Field engineer)" in reminders[0], reminders[0]
    async with desk.db.uow() as uow:  # nothing was planned for Ed himself once he was known to be unreachable
        ed_id = (await uow.users.by_telegram_id(ed.id)).id
        rows = list(await uow.session.scalars(select(OutboxMessage).where(
            OutboxMessage.user_id == ed_id, OutboxMessage.kind == "deadline", OutboxMessage.created_at > desk.clock.now() - timedelta(hours=17))))
        assert rows == []


def _reminders(person, number: str, start: int) -> list[str]:
    """Deadline reminders about the request (the block alert itself aside)."""
    return [m.text for m in person.messages[start:] if number in (m.text or "") and "has blocked the bot" not in m.text]
