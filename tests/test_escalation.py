"""Escalation to technical experts and written answers to customers: the rules on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.callbacks import CaseButton, ConsultationButton, EscalationButton, ExpertPickButton, parse
from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services import cancellation, consultation, dialogs, dispatch, escalation, intake, requests, staff, users
from bot.services.errors import NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from bot.services.inputs import PhotoInput, TextInput
from storage.models import Escalation, OutboxMessage
from storage.repositories import EscalationRepository
from tests.test_services import _customer, _filled_draft

POLICY = load_policy(DEFAULT_POLICY_FILE)
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _staff(uow, admin, telegram_id, name, role, clock):
    person = await users.touch(uow, telegram_id, name, None, "en", "en", clock.now())
    invite = await staff.create_invite(uow, admin, role, POLICY.staff, clock.now())
    await staff.redeem_invite(uow, person, invite.code, POLICY.staff, clock.now())
    return person


async def _setup(uow, clock, kind="repair"):
    """Two dispatchers, two experts, an engineer, a customer and one request of `kind`."""
    await users.ensure_bootstrap_staff(uow, [500, 501], "en", clock.now())
    dora, wang = await uow.users.by_telegram_id(500), await uow.users.by_telegram_id(501)
    xena = await _staff(uow, dora, 700, "Xena", "technical_expert", clock)
    yuri = await _staff(uow, dora, 701, "Yuri", "technical_expert", clock)
    ed = await _staff(uow, dora, 600, "Ed", "engineer", clock)
    user, customer = await _customer(uow, clock)
    draft = await _filled_draft(uow, user, customer, clock, kind=kind)
    request = await intake.submit(uow, user, customer, draft, POLICY, clock.now(), SHANGHAI)
    return dict(dora=dora, wang=wang, xena=xena, yuri=yuri, ed=ed, user=user, customer=customer, request=request)


async def test_only_an_active_dispatcher_escalates_to_an_active_expert(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        for outsider in (s["ed"], s["xena"], s["user"]):
            with pytest.raises(NotAllowed):
                await escalation.escalate(uow, outsider, s["request"].id, s["xena"].id, "Why does it trip?", clock.now())
        with pytest.raises(NotFound):  # an engineer is not an expert
            await escalation.escalate(uow, s["dora"], s["request"].id, s["ed"].id, "Why does it trip?", clock.now())
        await staff.set_active(uow, s["dora"], s["xena"].id, False, clock.now())
        with pytest.raises(NotFound):
            await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why does it trip?", clock.now())
        assert [c.expert.first_name for c in await escalation.experts(uow, s["dora"], s["request"].id)] == ["Yuri"]
        await staff.set_active(uow, s["dora"], s["wang"].id, False, clock.now())
        with pytest.raises(NotAllowed):
            await escalation.escalate(uow, s["wang"], s["request"].id, s["yuri"].id, "Why does it trip?", clock.now())
        assert await uow.session.scalar(select(func.count()).select_from(Escalation)) == 0


async def test_experts_on_duty_are_offered_least_busy_first(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        other = await intake.submit(uow, s["user"], s["customer"], await _filled_draft(uow, s["user"], s["customer"], clock), POLICY, clock.now(), SHANGHAI)
        await escalation.escalate(uow, s["dora"], other.id, s["xena"].id, "Noise at start", clock.now())
        offered = await escalation.experts(uow, s["dora"], s["request"].id)
        assert [(c.expert.first_name, c.open_cases) for c in offered] == [("Yuri", 0), ("Xena", 1)]
        staff.toggle_duty(s["yuri"])
        assert [c.expert.first_name for c in await escalation.experts(uow, s["dora"], s["request"].id)] == ["Xena"]


async def test_a_request_has_at_most_one_unanswered_escalation(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        first, request, _ = await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why does it trip?", clock.now())
        with pytest.raises(escalation.AlreadyEscalated) as raised:
            await escalation.escalate(uow, s["wang"], request.id, s["yuri"].id, "Also: the noise?", clock.now())
        assert raised.value.escalation.id == first.id
        asking = await escalation.asking(uow, s["wang"], request.id)
        assert asking.open_case.id == first.id and asking.open_expert.id == s["xena"].id
        await escalation.answer(uow, s["xena"], first.id, "Worn bearing", "Replace the bearing", clock.now())
        second, _, _ = await escalation.escalate(uow, s["wang"], request.id, s["yuri"].id, "Also: the noise?", clock.now())
        assert second.id != first.id


async def test_a_case_left_with_a_deactivated_expert_can_go_to_another(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        stuck, request, _ = await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why?", clock.now())
        await staff.set_active(uow, s["dora"], s["xena"].id, False, clock.now())
        with pytest.raises(NotFound):
            await escalation.answer(uow, s["xena"], stuck.id, "Cause", "Plan", clock.now())
        moved, _, _ = await escalation.escalate(uow, s["dora"], request.id, s["yuri"].id, "Why?", clock.now())
        assert moved.expert_id == s["yuri"].id


async def test_two_dispatchers_escalating_at_once_make_one_case(database, clock, monkeypatch):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        ids = (s["dora"].id, s["wang"].id, s["request"].id, s["xena"].id, s["yuri"].id)
        await uow.commit()
    both_looked = asyncio.Barrier(2)
    look = EscalationRepository.unanswered_of_request

    async def look_together(self, request_id):
        """Each waits (briefly) for the other to look too: without the row lock both would see no case."""
        found = await look(self, request_id)
        try:
            await asyncio.wait_for(both_looked.wait(), 1)
        except (TimeoutError, asyncio.BrokenBarrierError):
            pass
        return found

    monkeypatch.setattr(EscalationRepository, "unanswered_of_request", look_together)

    async def attempt(dispatcher_id, expert_id):
        async with database.uow() as uow:
            actor = await uow.users.get(dispatcher_id)
            try:
                await escalation.escalate(uow, actor, ids[2], expert_id, "Why does it trip?", clock.now())
                await uow.commit()
                return "sent"
            except escalation.AlreadyEscalated:
                return "refused"

    results = await asyncio.gather(attempt(ids[0], ids[3]), attempt(ids[1], ids[4]))
    assert sorted(results) == ["refused", "sent"]
    async with database.uow() as uow:
        assert len(await uow.escalations.unanswered_of_request(ids[2])) == 1


async def test_only_the_chosen_expert_answers_and_only_once(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        await dispatch.assign(uow, s["dora"], s["request"].id, s["ed"].id, None, clock.now())
        case, request, _ = await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why does it trip?", clock.now())
        assert [e.id for e, _ in await escalation.open_cases(uow, s["xena"])] == [case.id]
        assert await escalation.open_cases(uow, s["yuri"]) == []
        for stranger in (s["yuri"], s["dora"], s["ed"]):
            with pytest.raises(NotFound):
                await escalation.answer(uow, stranger, case.id, "Guess", "Guess", clock.now())
            with pytest.raises(NotFound):
                await escalation.start_answer(uow, stranger, case.id, clock.now())
        clock.advance(timedelta(hours=1))
        answered = await escalation.answer(uow, s["xena"], case.id, "Worn bearing", "Replace the bearing", clock.now())
        assert {u.id for u in answered.readers} == {s["dora"].id, s["ed"].id}
        assert (answered.escalation.analysis, answered.escalation.plan, answered.escalation.answered_at) == ("Worn bearing", "Replace the bearing", clock.now())
        with pytest.raises(StaleAction):
            await escalation.answer(uow, s["xena"], case.id, "Second thoughts", "Other plan", clock.now())
        assert await escalation.open_cases(uow, s["xena"]) == []
        latest = await escalation.latest_answer(uow, s["ed"], request.id)
        assert latest.analysis == "Worn bearing"
        assert await escalation.latest_answer(uow, s["yuri"], request.id) is None
        assert await escalation.latest_answer(uow, s["user"], request.id) is None
        actions = [(e.action, e.internal) for e in await uow.requests.events(request.id, include_internal=True)]
        assert ("escalated", True) in actions and ("expert_answer", True) in actions


async def test_a_second_process_cannot_answer_a_case_already_answered(database, clock, monkeypatch):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        case, _, _ = await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why?", clock.now())
        await uow.commit()
        ids = (s["xena"].id, case.id)
    both_read = asyncio.Barrier(2)
    read = EscalationRepository.get

    async def read_together(self, escalation_id):
        """Both processes read the case as unanswered before either writes its answer."""
        found = await read(self, escalation_id)
        try:
            await asyncio.wait_for(both_read.wait(), 1)
        except (TimeoutError, asyncio.BrokenBarrierError):
            pass
        return found

    monkeypatch.setattr(EscalationRepository, "get", read_together)

    async def attempt(text):
        async with database.uow() as uow:
            expert = await uow.users.get(ids[0])
            try:
                await escalation.answer(uow, expert, ids[1], text, "Plan " + text, clock.now())
                await uow.commit()
                return "answered"
            except StaleAction:
                return "refused"

    assert sorted(await asyncio.gather(attempt("A"), attempt("B"))) == ["answered", "refused"]


async def test_the_answer_dialog_checks_each_step(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        case, _, _ = await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why?", clock.now())
        draft, _ = await escalation.start_answer(uow, s["xena"], case.id, clock.now())
        with pytest.raises(WrongInput):
            escalation.answer_input(draft, PhotoInput("file"), clock.now())
        with pytest.raises(TooLong) as too_long:
            escalation.answer_input(draft, TextInput("x" * (escalation.ANALYSIS_MAX + 1)), clock.now())
        assert too_long.value.limit == escalation.ANALYSIS_MAX
        with pytest.raises(NotAllowed):  # nothing written yet to keep
            escalation.answer_button(draft, "keep", clock.now())
        escalation.answer_input(draft, TextInput("Worn bearing"), clock.now())
        assert draft.step == escalation.PLAN
        escalation.answer_button(draft, "back", clock.now())
        escalation.answer_button(draft, "keep", clock.now())
        escalation.answer_input(draft, TextInput("Replace the bearing"), clock.now())
        assert (draft.step, draft.data["analysis"], draft.data["plan"]) == (escalation.REVIEW, "Worn bearing", "Replace the bearing")
        with pytest.raises(WrongInput):
            escalation.answer_input(draft, TextInput("more"), clock.now())
        escalation.answer_button(draft, "edit", clock.now())
        assert draft.step == escalation.CAUSE


async def test_escalating_a_closed_request_or_with_an_empty_question_is_refused(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        with pytest.raises(WrongInput):
            await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "   ", clock.now())
        with pytest.raises(TooLong):
            await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "q" * (escalation.QUESTION_MAX + 1), clock.now())
        case, _, _ = await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why?", clock.now())
        await requests.cancel(uow, s["user"], s["request"], clock.now())
        assert await escalation.open_cases(uow, s["xena"]) == []  # withdrawn
        with pytest.raises(NotAllowed):
            await escalation.answer(uow, s["xena"], case.id, "Cause", "Plan", clock.now())
        with pytest.raises(NotAllowed):
            await escalation.escalate(uow, s["dora"], s["request"].id, s["yuri"].id, "Why?", clock.now())



async def _told_case_closed(uow) -> list[tuple[int, int]]:
    """(expert's user id, escalation id) of every "no answer needed" notice queued."""
    rows = await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == escalation.CASE_CLOSED).order_by(OutboxMessage.id))
    return [(row.user_id, row.payload["escalation_id"]) for row in rows]


async def test_the_expert_of_a_question_still_open_is_told_once_when_the_customer_cancels(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        request = s["request"]
        await escalation.escalate(uow, s["dora"], request.id, s["xena"].id, "Why does it trip?", clock.now())
        staff.toggle_duty(s["xena"])  # her shift ends: the dispatcher asks Yuri instead, whose question replaces hers
        asked, _, _ = await escalation.escalate(uow, s["dora"], request.id, s["yuri"].id, "Why does it trip?", clock.now())
        assert [c.open_cases for c in await escalation.experts(uow, s["dora"], request.id)] == [1]
        other = await intake.submit(uow, s["user"], s["customer"], await _filled_draft(uow, s["user"], s["customer"], clock), POLICY, clock.now(), SHANGHAI)
        await cancellation.cancel_by_customer(uow, s["user"], request, clock.now())
        assert await _told_case_closed(uow) == [(s["yuri"].id, asked.id)]  # not Xena: her question had already ended
        assert await escalation.open_cases(uow, s["yuri"]) == []
        assert [c.open_cases for c in await escalation.experts(uow, s["dora"], other.id)] == [0]
        with pytest.raises(NotAllowed):  # a late answer is refused
            await escalation.answer(uow, s["yuri"], asked.id, "Cause", "Plan", clock.now())
        await escalation.end_with_request(uow, request, clock.now())  # ended again (a retried close): still one notice
        assert await _told_case_closed(uow) == [(s["yuri"].id, asked.id)]


async def test_the_expert_is_told_when_the_dispatcher_closes_but_not_after_answering(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        answered, request, _ = await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why?", clock.now())
        await escalation.answer(uow, s["xena"], answered.id, "Worn bearing", "Replace it", clock.now())
        open_case, _, _ = await escalation.escalate(uow, s["dora"], request.id, s["yuri"].id, "Still trips. Next?", clock.now())
        await cancellation.close_by_dispatcher(uow, s["dora"], request.id, "Customer bought a new pump", clock.now())
        assert await _told_case_closed(uow) == [(s["yuri"].id, open_case.id)]


async def test_the_expert_is_told_when_the_customer_confirms_a_consultation_answered_without_them(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock, kind="consultation")
        request = s["request"]
        open_case, _, _ = await escalation.escalate(uow, s["dora"], request.id, s["xena"].id, "Which oil grade?", clock.now())
        await consultation.answer_consultation(uow, s["dora"], request.id, "Use ISO VG 46 oil.", clock.now())  # found it herself
        assert await _told_case_closed(uow) == []  # answered is not closed: the expert may still add to it
        await consultation.confirm_answered(uow, s["user"], s["customer"], request.id, clock.now())
        assert await _told_case_closed(uow) == [(s["xena"].id, open_case.id)]

# --- answering the customer -----------------------------------------------------------------


async def test_a_consultation_answer_stops_the_clock_and_the_customer_sees_it_but_not_the_escalation(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock, kind="consultation")
        request = s["request"]
        await escalation.escalate(uow, s["dora"], request.id, s["xena"].id, "Which oil grade?", clock.now())
        with pytest.raises(NotAllowed):
            await consultation.answer_consultation(uow, s["ed"], request.id, "Use ISO VG 46", clock.now())
        clock.advance(timedelta(hours=2))
        delivery = await consultation.answer_consultation(uow, s["dora"], request.id, "  Use ISO VG 46 oil.  ", clock.now())
        assert (delivery.customer_user.id, delivery.closable, delivery.text) == (s["user"].id, True, "Use ISO VG 46 oil.")
        clock_row = next(c for c in await uow.requests.clocks(request.id) if c.kind == "consultation_answer")
        assert clock_row.stopped_at == clock.now()
        assert request.status == requests.TRIAGED  # still open until the customer confirms
        card = await requests.card(uow, request)
        assert [e.action for e in card.events] == ["created", "answered"]
        assert card.events[-1].details["text"] == "Use ISO VG 46 oil."
        assert card.clocks == []


async def test_the_customer_closes_an_answered_consultation_once(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock, kind="consultation")
        request, user, customer = s["request"], s["user"], s["customer"]
        with pytest.raises(NotAllowed):  # nothing answered yet
            await consultation.confirm_answered(uow, user, customer, request.id, clock.now())
        await consultation.answer_consultation(uow, s["dora"], request.id, "Use ISO VG 46 oil.", clock.now())
        stranger, other_customer = await _customer(uow, clock, telegram_id=1002, name="Bob")
        with pytest.raises(NotFound):
            await consultation.confirm_answered(uow, stranger, other_customer, request.id, clock.now())
        await consultation.confirm_answered(uow, user, customer, request.id, clock.now())
        assert (request.status, request.closed_reason) == ("closed", "confirmed")
        with pytest.raises(NotAllowed):
            await consultation.confirm_answered(uow, user, customer, request.id, clock.now())
        with pytest.raises(NotAllowed):
            await consultation.answer_consultation(uow, s["dora"], request.id, "More", clock.now())
        events = await uow.requests.events(request.id, include_internal=False)
        assert events[-1].action == "answer_confirmed" and events[-1].details == {"before": "triaged", "after": "closed"}


async def test_a_dispatcher_may_close_an_answered_consultation(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock, kind="consultation")
        with pytest.raises(NotAllowed):
            await consultation.close_as_answered(uow, s["dora"], s["request"].id, clock.now())
        await consultation.answer_consultation(uow, s["dora"], s["request"].id, "Use ISO VG 46 oil.", clock.now())
        with pytest.raises(NotAllowed):
            await consultation.close_as_answered(uow, s["ed"], s["request"].id, clock.now())
        delivery = await consultation.close_as_answered(uow, s["dora"], s["request"].id, clock.now())
        assert (delivery.request.status, delivery.request.closed_reason) == ("closed", "answered")


async def test_other_requests_are_answered_only_after_a_customer_comment_and_never_closed_by_it(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock, kind="repair")
        request = s["request"]
        with pytest.raises(NotAllowed):
            await consultation.answer_consultation(uow, s["dora"], request.id, "Hello", clock.now())
        await requests.add_comment(uow, s["user"], request, "When will the engineer come?", clock.now())
        start = await consultation.start_answer(uow, s["dora"], request.id, clock.now())
        assert start.question == "When will the engineer come?" and (await dialogs.current(uow, s["dora"].id)).kind == consultation.ANSWER_DIALOG
        delivery = await consultation.answer_consultation(uow, s["dora"], request.id, "Tomorrow morning.", clock.now())
        assert delivery.closable is False
        with pytest.raises(NotAllowed):
            await consultation.confirm_answered(uow, s["user"], s["customer"], request.id, clock.now())
        first_contact = next(c for c in await uow.requests.clocks(request.id) if c.kind == "first_contact")
        assert first_contact.stopped_at is None  # a written answer is not the logged first contact


@pytest.mark.parametrize("payload", [
    EscalationButton(123456789012, "ask"),
    ExpertPickButton(123456789012, 123456789012),
    CaseButton(123456789012, "write"),
    ConsultationButton(123456789012, "resolved"),
])
def test_the_new_buttons_round_trip_within_64_bytes(payload):
    assert len(payload.pack().encode()) <= 64 and parse(payload.pack()) == payload


async def test_an_analysis_interrupted_by_another_case_is_kept_and_continued(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        other = await intake.submit(uow, s["user"], s["customer"], await _filled_draft(uow, s["user"], s["customer"], clock), POLICY, clock.now(), SHANGHAI)
        first, _, _ = await escalation.escalate(uow, s["dora"], s["request"].id, s["xena"].id, "Why?", clock.now())
        second, _, _ = await escalation.escalate(uow, s["dora"], other.id, s["xena"].id, "And this one?", clock.now())
        draft, _ = await escalation.start_answer(uow, s["xena"], first.id, clock.now())
        escalation.answer_input(draft, TextInput("Worn bearing, long analysis"), clock.now())
        await escalation.start_answer(uow, s["xena"], second.id, clock.now())  # opens the other case
        resumed, _ = await escalation.start_answer(uow, s["xena"], first.id, clock.now())
        assert (resumed.step, resumed.data["analysis"]) == (escalation.PLAN, "Worn bearing, long analysis")


async def test_an_expert_who_went_off_duty_is_refused_before_the_question(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        expert = s["xena"]
        expert.on_duty = False
        with pytest.raises(escalation.ExpertOffDuty):
            await escalation.start_question(uow, s["dora"], s["request"].id, expert.id, clock.now())
        with pytest.raises(escalation.ExpertOffDuty):
            await escalation.escalate(uow, s["dora"], s["request"].id, expert.id, "Cause?", clock.now())
        assert await uow.escalations.unanswered_of_request(s["request"].id) == []


async def test_a_plan_recorded_before_the_assignment_meets_the_solution_clock(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        request = s["request"]
        await dispatch.set_warranty(uow, s["dora"], request.id, "in_warranty", clock.now())
        case, _, _ = await escalation.escalate(uow, s["dora"], request.id, s["xena"].id, "Why does it trip?", clock.now())
        clock.advance(timedelta(hours=2))
        await escalation.answer(uow, s["xena"], case.id, "Worn bearing", "Replace the bearing", clock.now())  # the plan
        await uow.commit()
    async with database.uow() as uow:
        clock.advance(timedelta(hours=1))
        await dispatch.assign(uow, await uow.users.get(s["dora"].id), request.id, s["ed"].id, None, clock.now())
        await uow.commit()
    async with database.uow() as uow:
        solution = {row.kind: row for row in await uow.requests.clock_rows(request.id)}["solution_decided"]
        assert (solution.stopped_at, solution.outcome) == (clock.now(), "met")


async def test_a_question_put_to_another_expert_meanwhile_neither_blocks_nor_overrides(database, clock):
    async with database.uow() as uow:
        s = await _setup(uow, clock)
        request = s["request"]
        stale, _, _ = await escalation.escalate(uow, s["dora"], request.id, s["xena"].id, "Why does it trip?", clock.now())
        staff.toggle_duty(s["xena"])  # Xena's shift ends: the dispatcher asks Yuri instead
        moved, _, _ = await escalation.escalate(uow, s["dora"], request.id, s["yuri"].id, "Why does it trip?", clock.now())
        replaced = await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == escalation.CASE_REPLACED))
        assert [(row.user_id, row.payload) for row in replaced] == [(s["xena"].id, {"escalation_id": stale.id})]  # Xena is told
        clock.advance(timedelta(hours=1))
        await escalation.answer(uow, s["yuri"], moved.id, "Worn bearing", "Replace the bearing", clock.now())
        clock.advance(timedelta(hours=12))
        staff.toggle_duty(s["xena"])  # back on duty next morning: her question was replaced by Yuri's
        assert await escalation.pending(uow, request.id) is None
        assert [case.id for case, _ in await uow.escalations.unanswered_of_expert(s["xena"].id, escalation.OPEN)] == []
        with pytest.raises(NotAllowed):  # a late answer would replace Yuri's plan on the job card
            await escalation.answer(uow, s["xena"], stale.id, "Dry run", "Check the float switch", clock.now())
        again, _, _ = await escalation.escalate(uow, s["dora"], request.id, s["yuri"].id, "Bearing replaced, still trips. Next?", clock.now())
        assert again.expert_id == s["yuri"].id
