"""Follow-up calls on SQLite and PostgreSQL: scheduled once from every close path, round 2 after
round 1 is done (reached or unreachable), outcomes stored once, only the callback role records,
and the daily list planned once per person and day through the real sweep."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from bot.services import confirmation, dialogs, dispatch, followups, reports, requests
from bot.services.errors import NotAllowed, StaleAction
from storage.models import Draft, FollowUpCall
from tests.conftest import SHANGHAI
from tests.test_deadlines import RecordingBot, Scheduler, _grant
from tests.test_dispatch import POLICY, _request
from tests.test_jobs import _accepted_job, _fill_report
from tests.test_services import _customer

RULES = POLICY.follow_ups
CLOSED_ON = date(2026, 3, 2)  # the test clock's local day (Monday 09:30 in Shanghai)


async def _reported_job(uow, clock):
    """An accepted job whose report waits for the customer; returns the cast and the request."""
    dispatcher, crew, user, customer, request = await _accepted_job(uow, clock)
    draft = await reports.start(uow, crew[0], request.id, True, clock.now())
    await _fill_report(uow, draft, clock)
    await reports.submit(uow, crew[0], draft, clock.now())
    return dispatcher, crew, user, customer, request


async def _callers(uow, dispatcher, clock, count=1):
    people = []
    for i in range(count):
        person, _ = await _customer(uow, clock, telegram_id=800 + i, name=f"Cai{i}")
        await _grant(uow, dispatcher, person, "callback", clock)
        people.append(person)
    return people


async def _confirmed_job(uow, clock):
    dispatcher, crew, user, customer, request = await _reported_job(uow, clock)
    await confirmation.confirm(uow, user, customer, request.id, True, clock.now())
    first = await followups.schedule_after_close(uow, RULES, SHANGHAI, request, clock.now())
    return dispatcher, crew, user, customer, request, first


async def test_a_confirmed_repair_gets_its_first_call_once(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request, first = await _confirmed_job(uow, clock)
        assert (first.round, first.state, first.attempts) == (1, "due", 0)
        assert (first.due_on, first.due_by) == (CLOSED_ON + timedelta(days=3), CLOSED_ON + timedelta(days=7))
        clock.advance(timedelta(days=1))  # a replay, or a second close path, a day later
        again = await followups.schedule_after_close(uow, RULES, SHANGHAI, request, clock.now())
        assert again.id == first.id and again.due_on == first.due_on
        assert [(c.round, c.due_on) for c in await uow.follow_ups.of_request(request.id)] == [(1, date(2026, 3, 5))]
        await uow.commit()


async def test_the_unique_key_refuses_a_second_first_call(database, clock):
    async with database.uow() as uow:
        _, _, _, _, request, first = await _confirmed_job(uow, clock)
        added = await uow.follow_ups.add_once(FollowUpCall(request_id=request.id, round=1, due_on=CLOSED_ON, due_by=CLOSED_ON,
                                                           state="due", attempts=0, created_at=clock.now()))
        assert not added
        assert [c.id for c in await uow.follow_ups.of_request(request.id)] == [first.id]


async def test_a_disputed_report_then_closed_by_the_dispatcher_gets_calls_a_close_without_work_does_not(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request = await _reported_job(uow, clock)
        await confirmation.confirm(uow, user, customer, request.id, False, clock.now())  # reopened
        assert await followups.schedule_after_close(uow, RULES, SHANGHAI, request, clock.now()) is None  # not closed
        clock.advance(timedelta(days=2))
        await dispatch.close_request(uow, dispatcher, request.id, "Customer replaced the pump themselves", clock.now())
        call = await followups.schedule_after_close(uow, RULES, SHANGHAI, request, clock.now())
        assert (call.round, call.due_on, call.due_by) == (1, date(2026, 3, 7), date(2026, 3, 11))

        untouched = await _request(uow, user, customer, clock)  # nobody worked on it: a duplicate, say
        await dispatch.close_request(uow, dispatcher, untouched.id, "Duplicate", clock.now())
        assert await followups.schedule_after_close(uow, RULES, SHANGHAI, untouched, clock.now()) is None
        assert await uow.follow_ups.of_request(untouched.id) == []


@pytest.mark.parametrize("kind", ["consultation", "return", "complaint"])
async def test_consultations_returns_and_complaints_get_no_calls(database, clock, kind):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        request = await requests.create(uow, user, customer, requests.NewRequest(kind=kind, description="Question"), POLICY, clock.now(), SHANGHAI)
        request.status = requests.CLOSED
        assert await followups.schedule_after_close(uow, RULES, SHANGHAI, request, clock.now()) is None
        assert await uow.follow_ups.of_request(request.id) == []


async def test_reached_and_satisfied_stores_the_feedback_and_schedules_round_2(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request, first = await _confirmed_job(uow, clock)
        (caller,) = await _callers(uow, dispatcher, clock)
        clock.advance(timedelta(days=4))  # Friday 6 March: within the window
        draft = await followups.choose_outcome(uow, caller, first.id, followups.SATISFIED, clock.now())
        assert (await uow.follow_ups.get(first.id)).state == "due"  # nothing recorded before the feedback step
        recorded = await followups.record_reached(uow, RULES, SHANGHAI, caller, draft, "Runs quietly now", clock.now())
        call = recorded.call
        assert (call.state, call.outcome, call.feedback, call.caller_id, call.done_at) == ("done", "satisfied", "Runs quietly now", caller.id, clock.now())
        second = recorded.next_call
        assert (second.round, second.state, second.due_on, second.due_by) == (2, "due", date(2026, 3, 13), date(2026, 3, 16))
        assert await dialogs.current(uow, caller.id) is None
        events = [e for e in await uow.requests.events(request.id, include_internal=True) if e.action == followups.EVENT]
        assert [(e.internal, e.details["round"], e.details["outcome"]) for e in events] == [(True, 1, "satisfied")]
        assert followups.EVENT not in [e.action for e in await uow.requests.events(request.id, include_internal=False)]

        # Round 2, reached and not satisfied: stored, and no third round.
        draft = await followups.choose_outcome(uow, caller, second.id, followups.NOT_SATISFIED, clock.now())
        last = await followups.record_reached(uow, RULES, SHANGHAI, caller, draft, None, clock.now())
        assert (last.call.outcome, last.call.feedback, last.next_call) == ("not_satisfied", None, None)
        assert [(c.round, c.state) for c in await uow.follow_ups.of_request(request.id)] == [(1, "done"), (2, "done")]
        await uow.commit()


async def test_three_unanswered_tries_make_the_customer_unreachable_and_round_2_follows(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request, first = await _confirmed_job(uow, clock)
        (caller,) = await _callers(uow, dispatcher, clock)
        clock.advance(timedelta(days=3))
        tried = await followups.no_answer(uow, RULES, SHANGHAI, caller, first.id, 0, clock.now())
        assert (tried.call.attempts, tried.call.state, tried.next_call) == (1, "due", None)
        with pytest.raises(followups.AlreadyRecorded):  # the same button pressed twice counts once
            await followups.no_answer(uow, RULES, SHANGHAI, caller, first.id, 0, clock.now())
        clock.advance(timedelta(days=1))
        await followups.no_answer(uow, RULES, SHANGHAI, caller, first.id, 1, clock.now())
        clock.advance(timedelta(days=1))  # Saturday 7 March: the third try
        last = await followups.no_answer(uow, RULES, SHANGHAI, caller, first.id, 2, clock.now())
        assert (last.call.attempts, last.call.state, last.call.outcome) == (3, "done", "unreachable")
        assert (last.next_call.round, last.next_call.due_on, last.next_call.due_by) == (2, date(2026, 3, 14), date(2026, 3, 17))
        with pytest.raises(followups.AlreadyRecorded):
            await followups.no_answer(uow, RULES, SHANGHAI, caller, first.id, 3, clock.now())

        second = last.next_call
        for seen in range(RULES.max_attempts):
            final = await followups.no_answer(uow, RULES, SHANGHAI, caller, second.id, seen, clock.now())
        assert (final.call.outcome, final.next_call) == ("unreachable", None)
        assert len(await uow.follow_ups.of_request(request.id)) == 2


async def test_only_the_callback_role_records_and_dispatchers_read(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request, first = await _confirmed_job(uow, clock)
        (caller,) = await _callers(uow, dispatcher, clock)
        clock.advance(timedelta(days=3))
        today = followups.local_day(clock.now(), SHANGHAI)
        for outsider in (user, crew[0]):  # the customer, the engineer
            with pytest.raises(NotAllowed):
                await followups.due_list(uow, outsider, today)
            with pytest.raises(NotAllowed):
                await followups.card(uow, outsider, first.id, today)
        for outsider in (user, crew[0], dispatcher):
            with pytest.raises(NotAllowed):
                await followups.no_answer(uow, RULES, SHANGHAI, outsider, first.id, 0, clock.now())
            with pytest.raises(NotAllowed):
                await followups.choose_outcome(uow, outsider, first.id, followups.SATISFIED, clock.now())
        read = await followups.due_list(uow, dispatcher, today)
        assert ([i.call.id for i in read.items], read.can_record) == ([first.id], False)
        assert not (await followups.card(uow, dispatcher, first.id, today)).can_record
        card = await followups.card(uow, caller, first.id, today)
        assert (card.can_record, card.customer.phone, card.report.cause, card.engineer.id) == (True, customer.phone, "Worn bearing", crew[0].id)

        # A caller whose role is taken away mid-dialog records nothing.
        draft = await followups.choose_outcome(uow, caller, first.id, followups.SATISFIED, clock.now())
        caller.is_active = False
        with pytest.raises(NotAllowed):
            await followups.record_reached(uow, RULES, SHANGHAI, caller, draft, "ok", clock.now())
        assert (await uow.follow_ups.get(first.id)).state == "due"


async def test_two_callers_on_one_call_record_it_once(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request, first = await _confirmed_job(uow, clock)
        ann, bo = await _callers(uow, dispatcher, clock, count=2)
        clock.advance(timedelta(days=3))
        ann_draft = await followups.choose_outcome(uow, ann, first.id, followups.SATISFIED, clock.now())
        bo_draft = await followups.choose_outcome(uow, bo, first.id, followups.NOT_SATISFIED, clock.now())
        await followups.record_reached(uow, RULES, SHANGHAI, ann, ann_draft, "All good", clock.now())
        with pytest.raises(followups.AlreadyRecorded) as late:
            await followups.record_reached(uow, RULES, SHANGHAI, bo, bo_draft, "Unhappy", clock.now())
        assert (late.value.call.outcome, late.value.call.caller_id) == ("satisfied", ann.id)
        with pytest.raises(StaleAction):  # another dialog's draft is not a feedback step
            await followups.record_reached(uow, RULES, SHANGHAI, ann, Draft(kind="intake", step="type", data={}), None, clock.now())
        assert [c.round for c in await uow.follow_ups.of_request(request.id)] == [1, 2]  # round 2 created once


async def test_the_list_puts_overdue_calls_first(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request, first = await _confirmed_job(uow, clock)
        (caller,) = await _callers(uow, dispatcher, clock)
        clock.advance(timedelta(days=3))
        later = await _reported_job_for(uow, crew, user, customer, clock)
        await confirmation.confirm(uow, user, customer, later.id, True, clock.now())
        newer = await followups.schedule_after_close(uow, RULES, SHANGHAI, later, clock.now())  # due 8 March
        assert (await followups.due_list(uow, caller, date(2026, 3, 7))).total == 1  # the newer one is not due yet
        due = await followups.due_list(uow, caller, date(2026, 3, 10))
        assert [(i.call.id, i.overdue) for i in due.items] == [(first.id, True), (newer.id, False)]
        assert (due.total, due.overdue) == (2, 1)


async def _reported_job_for(uow, crew, user, customer, clock):
    dispatcher = await uow.users.by_telegram_id(500)
    request = await _request(uow, user, customer, clock)
    await dispatch.assign(uow, dispatcher, request.id, crew[1].id, None, clock.now())
    await dispatch.respond(uow, crew[1], request.id, True, None, clock.now())
    draft = await reports.start(uow, crew[1], request.id, True, clock.now())
    await _fill_report(uow, draft, clock)
    await reports.submit(uow, crew[1], draft, clock.now())
    return request


# --- through the real sweep ---------------------------------------------------------------------


async def test_a_timeout_close_schedules_the_first_call_and_the_daily_list_goes_once_at_10(database, database_url, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request = await _reported_job(uow, clock)
        caller, other_caller = await _callers(uow, dispatcher, clock, count=2)
        await uow.commit()
    bot = RecordingBot(clock)
    first, second = Scheduler(database_url, clock, bot), Scheduler(database_url, clock, bot)  # two bot processes
    try:
        clock.advance(POLICY.closing.confirmation_timeout + timedelta(minutes=1))  # closed by timeout
        await first.sweep()
        async with database.uow() as uow:
            (call,) = await uow.follow_ups.of_request(request.id)
            closed_on = followups.local_day(clock.now(), SHANGHAI)
            assert (call.round, call.due_on) == (1, closed_on + timedelta(days=3))
            call_id, due_morning = call.id, call.due_on
        await first.sweep()  # the request is closed once; no second call
        async with database.uow() as uow:
            assert len(await uow.follow_ups.of_request(request.id)) == 1

        # Move to 09:59 local on the due day: nothing; 10:00: one list per caller, from either process.
        clock.set(datetime.combine(due_morning, time(9, 59), SHANGHAI))
        digests_before = len(bot.sent)
        await first.sweep()
        await second.sweep()
        assert len(bot.sent) == digests_before
        clock.advance(timedelta(minutes=1))
        await first.sweep()
        await second.sweep()
        clock.advance(timedelta(minutes=1))
        await second.sweep()
        lists = [m for m in bot.sent[digests_before:] if "follow-up call" in m.text]
        assert sorted(m.chat_id for m in lists) == sorted([caller.telegram_id, other_caller.telegram_id])
        assert request.number in lists[0].text and "/calls" in lists[0].text
        async with database.uow() as uow:
            keys = sorted(m.key for m in await uow.outbox.of_user(caller.id) if m.kind == followups.DIGEST)
            assert keys == [f"{followups.DIGEST}:{caller.id}:{due_morning.isoformat()}"]

        # Recorded before the next morning: nothing more is sent.
        async with database.uow() as uow:
            caller_row = await uow.users.get(caller.id)
            draft = await followups.choose_outcome(uow, caller_row, call_id, followups.SATISFIED, clock.now())
            await followups.record_reached(uow, RULES, SHANGHAI, caller_row, draft, None, clock.now())
            await uow.commit()
        sent = len(bot.sent)
        clock.advance(timedelta(days=1))
        await first.sweep()
        assert len(bot.sent) == sent
    finally:
        await first.close()
        await second.close()


async def test_an_overdue_call_is_listed_again_the_next_day_and_a_done_one_is_not(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request, first = await _confirmed_job(uow, clock)
        (caller,) = await _callers(uow, dispatcher, clock)
        at = lambda day, hh=10, mm=0: datetime.combine(day, time(hh, mm), SHANGHAI)  # noqa: E731
        assert await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 4)), at(date(2026, 3, 4))) == 0  # not due yet
        assert await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 5), 9, 59), at(date(2026, 3, 5))) == 0
        assert await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 5)), at(date(2026, 3, 5))) == 1
        assert await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 5), 10, 1), at(date(2026, 3, 5))) == 0
        assert await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 9)), at(date(2026, 3, 9))) == 1  # the last day
        assert await followups.digest(uow, dispatcher, date(2026, 3, 9)) is None  # due, not overdue: the caller's
        # overdue: the dispatcher (the deadline's next level) is told too, every day until it is done
        dispatchers = len(await uow.users.active_with_role("dispatcher"))
        assert await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 10)), at(date(2026, 3, 10))) == 1 + dispatchers
        summary = await followups.digest(uow, caller, date(2026, 3, 10))
        assert (summary.total, summary.overdue, [i.call.id for i in summary.oldest], summary.for_caller) == (1, 1, [first.id], True)
        overseen = await followups.digest(uow, dispatcher, date(2026, 3, 10))
        assert (overseen.overdue, overseen.for_caller) == (1, False)

        draft = await followups.choose_outcome(uow, caller, first.id, followups.SATISFIED, at(date(2026, 3, 10), 11))
        await followups.record_reached(uow, RULES, SHANGHAI, caller, draft, None, at(date(2026, 3, 10), 11))
        assert await followups.digest(uow, caller, date(2026, 3, 10)) is None  # a list still queued says nothing
        assert await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 11)), at(date(2026, 3, 11))) == 0
        rows = [m for m in await uow.outbox.of_user(caller.id) if m.kind == followups.DIGEST]
        assert [m.payload["day"] for m in rows] == ["2026-03-05", "2026-03-09", "2026-03-10"]
        assert [m.payload["day"] for m in await uow.outbox.of_user(dispatcher.id) if m.kind == followups.DIGEST] == ["2026-03-10"]


async def test_with_nobody_in_the_callback_role_the_dispatchers_hear_of_overdue_calls(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request, first = await _confirmed_job(uow, clock)
        at = lambda day: datetime.combine(day, time(10, 0), SHANGHAI)  # noqa: E731
        assert await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 5)), at(date(2026, 3, 5))) == 0  # due: nobody to tell yet
        dispatchers = len(await uow.users.active_with_role("dispatcher"))
        assert dispatchers >= 1 and await followups.plan_digests(uow, RULES, SHANGHAI, at(date(2026, 3, 10)), at(date(2026, 3, 10))) == dispatchers
        overseen = await followups.digest(uow, dispatcher, date(2026, 3, 10))
        assert (overseen.overdue, overseen.for_caller, [i.call.id for i in overseen.oldest]) == (1, False, [first.id])
