"""The dispatcher's follow-through: what an engineer who gets a job is reminded of, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from bot.services import dispatch
from tests.test_deadlines import RecordingBot, Scheduler, _desk
from tests.test_dispatch import _request


def _deadline_digests(bot, chat_id, number, since, until):
    return [m for m in bot.sent if m.chat_id == chat_id and number in m.text and "deadline" in m.text and since <= m.at < until]


async def test_the_engineer_a_job_goes_to_overnight_gets_the_reminder_held_for_the_one_it_was_taken_from(database, database_url, clock):
    """Mon 09:30 the job goes to E0 (24 h to arrive: due Tue 09:30). Its 80 % reminder falls at 04:42
    and waits for 08:00; at 06:30 the dispatcher gives the job to E1. E0's reminder is dropped at
    08:00 (not his job any more); E1, who answers for the deadline now, must hear of it before it is missed."""
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        await dispatch.log_contacted(uow, dispatcher, request.id, "Called", clock.now())
        await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        await dispatch.respond(uow, crew[0], request.id, True, None, clock.now())
        await uow.commit()
    start = clock.now()
    due = start + timedelta(hours=24)
    bot = RecordingBot(clock)
    scheduler = Scheduler(database_url, clock, bot)
    reassign_at = start + timedelta(hours=21)
    while clock.now() < due:
        if clock.now() == reassign_at:
            async with database.uow() as uow:
                await dispatch.assign(uow, await uow.users.get(dispatcher.id), request.id, crew[1].id, crew[0].id, clock.now(),
                                      keeper=scheduler.keeper)
                await uow.commit()
        await scheduler.sweep()
        clock.advance(timedelta(minutes=10))
    await scheduler.close()
    assert not _deadline_digests(bot, crew[0].telegram_id, request.number, reassign_at, due)
    assert _deadline_digests(bot, crew[1].telegram_id, request.number, reassign_at, due)
    assert not [m for m in bot.sent if m.chat_id in (500, 501) and reassign_at <= m.at < due]  # the dispatchers hear nothing twice
