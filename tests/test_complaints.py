"""Complaints on SQLite and PostgreSQL: filing from a card, /complain and the survey, the dialog's
validation, and the supervisor's investigation (take, notes, links, cause, corrective action) up to
the written answer, which closes the request and stops its clock. Authority and double presses too."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot import complaint_views
from bot.config import DEFAULT_POLICY_FILE
from bot.i18n import Translator
from bot.policy import load_policy
from bot.services import complaints, dialogs, dispatch, requests, staff
from bot.services.errors import InvalidValue, NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from handlers import complaints as complaint_handlers
from storage.models import Complaint, JobReport, OutboxMessage, Survey
from tests.conftest import SHANGHAI
from tests.test_approvals import _desk, _role
from tests.test_dispatch import _request
from tests.test_services import _customer

POLICY = load_policy(DEFAULT_POLICY_FILE)


async def _team(uow, clock):
    """The approvals desk (dispatcher, engineers, managers, customer Alice) plus two complaint supervisors."""
    dispatcher, crew, user, customer, people = await _desk(uow, clock)
    people["cs1"] = await _role(uow, dispatcher, 850, "Qin", "complaint_supervisor", clock)
    people["cs2"] = await _role(uow, dispatcher, 851, "Qiu", "complaint_supervisor", clock)
    return dispatcher, crew, user, customer, people


async def _assigned_request(uow, dispatcher, crew, user, customer, clock):
    request = await _request(uow, user, customer, clock)
    await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
    return request


async def _complain_from_card(uow, user, customer, request, clock, subject=complaints.SERVICE, text="Nobody called me back for three days"):
    draft, _ = await complaints.start_from_card(uow, user, customer, request.id, clock.now())
    await complaints.choose_subject(uow, customer, draft, subject, clock.now())
    complaints.describe(draft, text, clock.now())
    return await complaints.submit(uow, POLICY, user, customer, draft, clock.now(), SHANGHAI)


async def test_a_complaint_from_a_card_is_its_own_numbered_request_with_the_answer_clock(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        about = await _assigned_request(uow, dispatcher, crew, user, customer, clock)
        draft, _ = await complaints.start_from_card(uow, user, customer, about.id, clock.now())
        assert (draft.kind, draft.step) == (complaints.DIALOG, complaints.SUBJECT)
        await complaints.choose_subject(uow, customer, draft, complaints.ENGINEER, clock.now())
        complaints.describe(draft, "  The engineer was rude and left a mess  ", clock.now())
        filed = await complaints.submit(uow, POLICY, user, customer, draft, clock.now(), SHANGHAI)
        request, complaint = filed.request, filed.complaint
        assert (request.kind, request.status, request.description) == ("complaint", "new", "The engineer was rude and left a mess")
        assert request.number != about.number and request.customer_id == customer.id
        assert (complaint.subject, complaint.engineer_id, complaint.source, complaint.state) == ("engineer", crew[0].id, "card", "open")
        assert (complaint.about_request_id, complaint.service_fault) == (about.id, None)
        assert await dialogs.current(uow, user.id) is None
        with pytest.raises(StaleAction):  # the same Send pressed again finds no dialog
            dialogs.check_button(await dialogs.current(uow, user.id), draft.id, complaints.CONFIRM)
        assert await complaints.due_at(uow, request) == clock.now() + timedelta(hours=72)
        # It is the supervisor's: the dispatchers' queue leaves it out; it is in the customer's /my.
        assert request.id not in [item.request.id for item in await dispatch.queue(uow, dispatcher)]
        card = await dispatch.staff_card(uow, dispatcher, request.id, ZoneInfo("Asia/Shanghai"), read_only=True)
        assert not card.can_act  # the dispatcher reads it, but triage and assignment are refused on the server
        with pytest.raises(NotAllowed):
            await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        with pytest.raises(NotAllowed):
            await dispatch.set_priority(uow, dispatcher, request.id, "high", clock.now())
        assert request.id in [r.id for r in (await requests.page_of(uow, customer, 0)).items]
        assert [s.first_name for s in await complaints.supervisors(uow)] == ["Qin", "Qiu"]
        await uow.commit()
    async with database.uow() as uow:
        assert len(list(await uow.session.scalars(select(Complaint)))) == 1


async def test_the_engineer_is_offered_only_when_the_request_had_one(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        unassigned = await _request(uow, user, customer, clock)
        draft, _ = await complaints.start_from_card(uow, user, customer, unassigned.id, clock.now())
        assert complaints.subjects_for(unassigned) == ("service", "product")
        with pytest.raises(StaleAction):
            await complaints.choose_subject(uow, customer, draft, complaints.ENGINEER, clock.now())
        with pytest.raises(StaleAction):
            await complaints.choose_subject(uow, customer, draft, "weather", clock.now())
        await complaints.choose_subject(uow, customer, draft, complaints.PRODUCT, clock.now())
        assert draft.step == complaints.DESCRIPTION


async def test_complain_command_chooses_a_request_or_none_with_back_edit_and_validation(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        older = await _request(uow, user, customer, clock)
        clock.advance(timedelta(minutes=5))
        newer = await _assigned_request(uow, dispatcher, crew, user, customer, clock)
        draft, resumed = await complaints.start(uow, user, customer, complaints.COMMAND, clock.now())
        assert (draft.step, resumed) == (complaints.ABOUT, False)
        assert [r.id for r in await complaints.recent_requests(uow, customer)] == [newer.id, older.id]
        assert (await complaints.start(uow, user, customer, complaints.COMMAND, clock.now()))[1] is True  # a restart resumes it

        await complaints.choose_about(uow, customer, draft, complaints.NOT_SPECIFIC, clock.now())
        assert (draft.step, draft.data["about_request_id"]) == (complaints.SUBJECT, None)
        complaints.back(draft, clock.now())
        assert draft.step == complaints.ABOUT
        with pytest.raises(NotAllowed):  # nothing before the first step
            complaints.back(draft, clock.now())
        await complaints.choose_about(uow, customer, draft, str(newer.id), clock.now())
        await complaints.choose_subject(uow, customer, draft, complaints.ENGINEER, clock.now())
        for bad, error in (("   ", WrongInput), ("x" * (complaints.DESCRIPTION_LIMIT + 1), TooLong), (None, WrongInput)):
            with pytest.raises(error):
                complaints.describe(draft, bad, clock.now())
        assert draft.step == complaints.DESCRIPTION
        complaints.describe(draft, "The repair took two weeks", clock.now())
        assert draft.step == complaints.CONFIRM

        # Edit: choose another request; "the engineer" does not apply to it, so the subject is asked again.
        complaints.edit(draft, None, clock.now())
        assert complaints.editable_fields(draft) == (complaints.ABOUT, complaints.SUBJECT, complaints.DESCRIPTION)
        complaints.edit(draft, complaints.ABOUT, clock.now())
        await complaints.choose_about(uow, customer, draft, str(older.id), clock.now())
        assert (draft.step, draft.data["subject"]) == (complaints.SUBJECT, None)
        await complaints.choose_subject(uow, customer, draft, complaints.SERVICE, clock.now())
        assert (draft.step, draft.data["description"]) == (complaints.CONFIRM, "The repair took two weeks")
        complaints.edit(draft, None, clock.now())
        complaints.edit(draft, complaints.DESCRIPTION, clock.now())
        assert complaints.previous_step(draft) == complaints.CONFIRM  # Back while editing returns to the summary
        complaints.describe(draft, "The repair took two weeks and nobody told me why", clock.now())
        filed = await complaints.submit(uow, POLICY, user, customer, draft, clock.now(), SHANGHAI)
        assert (filed.complaint.about_request_id, filed.complaint.subject, filed.complaint.source) == (older.id, "service", "command")
        assert filed.request.description == "The repair took two weeks and nobody told me why"


async def test_only_your_own_requests_and_never_a_complaint_itself(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        request = await _request(uow, user, customer, clock)
        bob, bobs = await _customer(uow, clock, telegram_id=1002, name="Bob")
        with pytest.raises(NotFound):
            await complaints.start_from_card(uow, bob, bobs, request.id, clock.now())
        draft, _ = await complaints.start(uow, bob, bobs, complaints.COMMAND, clock.now())
        with pytest.raises(NotFound):  # a forged "about" button naming Alice's request
            await complaints.choose_about(uow, bobs, draft, str(request.id), clock.now())
        assert await complaints.recent_requests(uow, bobs) == []
        filed = await _complain_from_card(uow, user, customer, request, clock)
        with pytest.raises(NotAllowed):
            await complaints.start_from_card(uow, user, customer, filed.request.id, clock.now())
        assert filed.request.id not in [r.id for r in await complaints.recent_requests(uow, customer)]


async def test_the_survey_offers_a_complaint_only_after_a_low_score(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        request = await _assigned_request(uow, dispatcher, crew, user, customer, clock)
        low = POLICY.closing.low_score_alert
        with pytest.raises(NotAllowed):  # no survey yet
            await complaints.start_from_survey(uow, user, customer, request.id, low, clock.now())
        survey = await uow.jobs.add_survey(Survey(request_id=request.id, created_at=clock.now(), stars=low + 1))
        with pytest.raises(NotAllowed):
            await complaints.start_from_survey(uow, user, customer, request.id, low, clock.now())
        survey.stars = low
        draft, _ = await complaints.start_from_survey(uow, user, customer, request.id, low, clock.now())
        await complaints.choose_subject(uow, customer, draft, complaints.ENGINEER, clock.now())
        complaints.describe(draft, "Two stars: he came late twice", clock.now())
        filed = await complaints.submit(uow, POLICY, user, customer, draft, clock.now(), SHANGHAI)
        assert (filed.complaint.source, filed.complaint.about_request_id, filed.complaint.engineer_id) == ("survey", request.id, crew[0].id)


async def test_investigation_then_answer_closes_the_request_and_stops_the_clock(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        about = await _assigned_request(uow, dispatcher, crew, user, customer, clock)
        other = await _request(uow, user, customer, clock)
        filed = await _complain_from_card(uow, user, customer, about, clock)
        complaint_id, qin, qiu = filed.complaint.id, people["cs1"], people["cs2"]

        for outsider in (user, dispatcher, crew[0], people["sm"], people["gm"]):  # customer, dispatcher, engineer, managers
            with pytest.raises(NotAllowed):
                await complaints.take(uow, outsider, complaint_id, clock.now())
        with pytest.raises(complaints.NotTaken):
            await complaints.add_note(uow, qin, complaint_id, "Called the customer", clock.now())
        clock.advance(timedelta(hours=1))
        taken = await complaints.take(uow, qin, complaint_id, clock.now())
        assert (taken.state, taken.supervisor_id, filed.request.status) == ("investigating", qin.id, "in_progress")
        with pytest.raises(complaints.AlreadyTaken):  # a second supervisor, or a double press
            await complaints.take(uow, qiu, complaint_id, clock.now())

        await complaints.add_note(uow, qin, complaint_id, "Called the customer: the visit was 2 days late", clock.now())
        with pytest.raises(WrongInput):
            await complaints.add_note(uow, qin, complaint_id, "   ", clock.now())
        with pytest.raises(InvalidValue):
            await complaints.link(uow, qin, complaint_id, "last week's one", clock.now())
        with pytest.raises(complaints.UnknownRequest):
            await complaints.link(uow, qin, complaint_id, "SR-2026-999999", clock.now())
        with pytest.raises(complaints.UnknownRequest):  # the complaint's own request
            await complaints.link(uow, qin, complaint_id, filed.request.number, clock.now())
        assert (await complaints.link(uow, qiu, complaint_id, other.number.lower(), clock.now())).id == other.id  # any supervisor may act
        with pytest.raises(complaints.AlreadyLinked):
            await complaints.link(uow, qin, complaint_id, other.number, clock.now())

        with pytest.raises(complaints.AnswerNotReady) as refused:
            await complaints.begin_work(uow, qin, complaint_id, complaints.ANSWER, clock.now())
        assert refused.value.missing == ("cause", "corrective_action")
        await complaints.record_cause(uow, qin, complaint_id, True, "Visit planned without checking the engineer's load", clock.now())
        with pytest.raises(complaints.AnswerNotReady) as refused:
            await complaints.begin_work(uow, qin, complaint_id, complaints.ANSWER, clock.now())
        assert refused.value.missing == ("corrective_action",)
        await complaints.record_action(uow, qin, complaint_id, "Dispatch checks engineer capacity before promising a day", clock.now())

        draft = await complaints.begin_work(uow, qin, complaint_id, complaints.ANSWER, clock.now())
        with pytest.raises(TooLong):
            await complaints.write_answer(uow, qin, draft, "x" * (complaints.ANSWER_LIMIT + 1), clock.now())
        await complaints.write_answer(uow, qin, draft, "We apologise: the visit was late because of our planning.", clock.now())
        assert draft.step == complaints.PREVIEW
        answered = await complaints.send_answer(uow, qin, draft, clock.now(), deliver_from=clock.now())
        complaint, request = answered.complaint, answered.request
        assert (complaint.state, complaint.service_fault, complaint.answered_at) == ("answered", True, clock.now())
        assert complaint.answer == "We apologise: the visit was late because of our planning."
        assert (request.status, request.closed_reason) == ("closed", "answered")
        assert (answered.customer_user.id, answered.queued) == (user.id, False)
        with pytest.raises(complaints.AlreadyAnswered):
            await complaints.take(uow, qiu, complaint_id, clock.now())
        with pytest.raises(complaints.AlreadyAnswered):
            await complaints.add_note(uow, qiu, complaint_id, "late note", clock.now())

        case = await complaints.case(uow, people["sm"], complaint_id)  # a manager reads, without buttons
        assert case.can_act is False and [r.number for r in case.links] == [other.number]
        assert [(note.text, author.first_name) for note, author in case.notes] == [("Called the customer: the visit was 2 days late", "Qin")]
        with pytest.raises(NotAllowed):
            await complaints.case(uow, crew[0], complaint_id)
        visible = [e.action for e in await uow.requests.events(request.id, include_internal=False)]
        assert visible == ["created", "complaint_taken", "complaint_answered"]
        internal = [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        for action in ("complaint_note", "complaint_linked", "complaint_cause", "complaint_action"):
            assert action in internal
        await uow.commit()
    async with database.uow() as uow:
        clock_row = next(c for c in await uow.requests.clocks(filed.request.id) if c.kind == "complaint_answer")
        assert (clock_row.stopped_at is not None, clock_row.outcome) == (True, "met")


async def test_an_answer_sent_in_the_customers_quiet_hours_waits_in_the_outbox(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        filed = await _complain_from_card(uow, user, customer, await _request(uow, user, customer, clock), clock)
        qin = people["cs1"]
        await complaints.take(uow, qin, filed.complaint.id, clock.now())
        await complaints.record_cause(uow, qin, filed.complaint.id, False, "The pump was run dry, against the manual", clock.now())
        await complaints.record_action(uow, qin, filed.complaint.id, "None needed; manual page sent", clock.now())
        draft = await complaints.begin_work(uow, qin, filed.complaint.id, complaints.ANSWER, clock.now())
        await complaints.write_answer(uow, qin, draft, "Our finding: the pump ran dry.", clock.now())
        morning = clock.now() + timedelta(hours=10)
        answered = await complaints.send_answer(uow, qin, draft, clock.now(), deliver_from=morning)
        assert answered.queued and answered.complaint.service_fault is False
        rows = list(await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == complaints.OUTBOX_KIND)))
        assert [(r.user_id, r.payload, r.not_before) for r in rows] == [(user.id, {"complaint_id": filed.complaint.id}, morning)]
        found = await complaints.for_delivery(uow, filed.complaint.id)
        assert found is not None and found[0].answer == "Our finding: the pump ran dry."
        view = await complaint_handlers.compose(uow, user, rows[0], Translator("en", SHANGHAI))  # what the outbox sender sends
        assert f"Answer to your complaint {filed.request.number}" in view.text and "Our finding: the pump ran dry." in view.text


async def test_open_list_is_oldest_first_marks_overdue_and_leaves_out_withdrawn(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        request = await _request(uow, user, customer, clock)
        first = await _complain_from_card(uow, user, customer, request, clock, text="First")
        clock.advance(timedelta(hours=50))
        second = await _complain_from_card(uow, user, customer, request, clock, text="Second")
        third = await _complain_from_card(uow, user, customer, request, clock, text="Third")
        await requests.cancel(uow, user, third.request, clock.now())  # the customer withdrew it
        clock.advance(timedelta(hours=23))
        waiting = await complaints.open_list(uow, people["gm"], clock.now())
        assert [(i.request.id, i.overdue) for i in waiting.items] == [(first.request.id, True), (second.request.id, False)]
        assert (waiting.total, waiting.overdue) == (2, 1)
        with pytest.raises(complaints.Withdrawn):
            await complaints.take(uow, people["cs1"], third.complaint.id, clock.now())
        with pytest.raises(NotAllowed):
            await complaints.open_list(uow, dispatcher, clock.now())


async def test_the_open_list_counts_the_complaints_beyond_those_it_shows(database, clock, monkeypatch):
    monkeypatch.setattr(complaints, "LIST_SIZE", 1)
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        request = await _request(uow, user, customer, clock)
        first = await _complain_from_card(uow, user, customer, request, clock, text="First")
        clock.advance(timedelta(hours=50))
        await _complain_from_card(uow, user, customer, request, clock, text="Second")
        await _complain_from_card(uow, user, customer, request, clock, text="Third")
        await uow.commit()  # their answer clocks are written with the commit, as after the customers' updates
        clock.advance(timedelta(hours=23))  # the first is overdue, the other two not yet
        waiting = await complaints.open_list(uow, people["gm"], clock.now())
        assert [i.request.id for i in waiting.items] == [first.request.id]
        assert (waiting.total, waiting.overdue) == (3, 1)
        clock.advance(timedelta(hours=60))  # now all three are
        waiting = await complaints.open_list(uow, people["gm"], clock.now())
        assert (waiting.total, waiting.overdue) == (3, 3)
        text = complaint_views.list_view(Translator("en", SHANGHAI), waiting, clock.now()).text
        assert "3, 3 overdue" in text and "The oldest 1 are shown" in text


async def test_two_supervisors_taking_at_once_one_wins(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        filed = await _complain_from_card(uow, user, customer, await _request(uow, user, customer, clock), clock)
        ids = (people["cs1"].id, people["cs2"].id)
        await uow.commit()

    async def press(user_id):
        async with database.uow() as uow:
            try:
                await complaints.take(uow, await uow.users.get(user_id), filed.complaint.id, clock.now())
            except complaints.AlreadyTaken:
                return False
            await uow.commit()
            return True

    assert sorted(await asyncio.gather(*(press(i) for i in ids))) == [False, True]
    async with database.uow() as uow:
        complaint = await uow.complaints.get(filed.complaint.id)
        assert complaint.state == "investigating" and complaint.supervisor_id in ids
        taken = [e for e in await uow.requests.events(filed.request.id, include_internal=True) if e.action == "complaint_taken"]
        assert len(taken) == 1


async def _interrupt(uow, user, request, clock):
    """Another dialog takes over (the customer pressed "Add comment or photos" on a request card)."""
    await dialogs.begin(uow, user.id, requests.COMMENT_DIALOG, requests.COMMENT_STEP, {"request_id": request.id}, clock.now())


async def test_a_written_complaint_kept_aside_goes_on_from_an_entry_about_its_request_only(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        first = await _assigned_request(uow, dispatcher, crew, user, customer, clock)
        second = await _request(uow, user, customer, clock)
        draft, resumed = await complaints.start_from_card(uow, user, customer, first.id, clock.now())
        assert resumed is False
        await complaints.choose_subject(uow, customer, draft, complaints.ENGINEER, clock.now())
        complaints.describe(draft, "He came two days late", clock.now())
        again, resumed = await complaints.start_from_card(uow, user, customer, first.id, clock.now())
        assert (again.id, resumed) == (draft.id, True)  # pressed again mid-complaint: it goes on
        await _interrupt(uow, user, second, clock)

        other, resumed = await complaints.start_from_card(uow, user, customer, second.id, clock.now())
        assert (other.step, other.data["about_request_id"], resumed) == (complaints.SUBJECT, second.id, False)
        await uow.jobs.add_survey(Survey(request_id=first.id, created_at=clock.now(), stars=POLICY.closing.low_score_alert))
        resumed_draft, resumed = await complaints.start_from_survey(uow, user, customer, first.id, POLICY.closing.low_score_alert, clock.now())
        assert resumed is True and resumed_draft.step == complaints.CONFIRM
        assert (resumed_draft.data["description"], resumed_draft.data["source"]) == ("He came two days late", complaints.CARD)
        assert await uow.drafts.kept_aside(user.id, complaints.DIALOG) == []  # the empty one about `second` was not worth keeping

        await _interrupt(uow, user, second, clock)
        resumed_draft, resumed = await complaints.start(uow, user, customer, complaints.COMMAND, clock.now())  # names no request
        assert resumed is True and resumed_draft.data["about_request_id"] == first.id
        filed = await complaints.submit(uow, POLICY, user, customer, resumed_draft, clock.now(), SHANGHAI)
        assert (filed.request.description, filed.complaint.engineer_id) == ("He came two days late", crew[0].id)


async def test_a_complaint_kept_aside_about_a_request_no_longer_the_customers_is_dropped_without_failing(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        about = await _request(uow, user, customer, clock)
        draft, _ = await complaints.start_from_card(uow, user, customer, about.id, clock.now())
        await complaints.choose_subject(uow, customer, draft, complaints.SERVICE, clock.now())
        complaints.describe(draft, "Nobody called me back", clock.now())
        await _interrupt(uow, user, about, clock)
        _bob, bobs = await _customer(uow, clock, telegram_id=1002, name="Bob")
        about.customer_id = bobs.id  # no longer hers: its summary could not be shown
        fresh, resumed = await complaints.start(uow, user, customer, complaints.COMMAND, clock.now())
        assert (fresh.step, fresh.data, resumed) == (complaints.ABOUT, {"source": complaints.COMMAND}, False)
        assert await uow.drafts.kept_aside(user.id, complaints.DIALOG) == []


async def test_no_supervisor_decides_a_complaint_about_his_own_work(database, clock):
    """"A person may hold several roles": the engineer a complaint names, on the job or in its
    report, may also be a complaint supervisor, but not the one who takes, judges or answers it."""
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        ed, fay, qin = crew[0], crew[1], people["cs1"]
        about = await _assigned_request(uow, dispatcher, crew, user, customer, clock)  # Ed's job
        uow.session.add(JobReport(request_id=about.id, engineer_id=fay.id, symptom="Trips", cause="Worn bearing", solution="Replaced",
                                  labour_hours=2, customer_opinion="Fine", submitted_at=clock.now(), updated_at=clock.now()))  # Fay reported on it
        for engineer in (ed, fay):
            await staff.toggle_role(uow, dispatcher, engineer.id, complaints.SUPERVISOR, clock.now())
        filed = await _complain_from_card(uow, user, customer, about, clock, subject=complaints.SERVICE)
        complaint_id = filed.complaint.id

        assert [s.first_name for s in await complaints.supervisors(uow, filed.complaint)] == ["Qin", "Qiu"]
        for engineer in (ed, fay):
            assert complaints.may_handle(engineer)  # a supervisor all the same, for other complaints
            with pytest.raises(complaints.AboutOwnWork):
                await complaints.take(uow, engineer, complaint_id, clock.now())
            case = await complaints.case(uow, engineer, complaint_id)
            assert (case.can_act, case.own_work) == (False, True)
        assert (filed.complaint.state, filed.complaint.supervisor_id) == ("open", None)
        await complaints.take(uow, qin, complaint_id, clock.now())
        for engineer in (ed, fay):
            with pytest.raises(complaints.AboutOwnWork):
                await complaints.begin_work(uow, engineer, complaint_id, complaints.CAUSE, clock.now(), service_fault=False)
            with pytest.raises(complaints.AboutOwnWork):
                await complaints.record_cause(uow, engineer, complaint_id, False, "Customer was not at home", clock.now())
        assert filed.complaint.service_fault is None
        await complaints.record_cause(uow, qin, complaint_id, True, "Late twice", clock.now())
        await complaints.record_action(uow, qin, complaint_id, "Engineers call when late", clock.now())
        draft = await complaints.begin_work(uow, qin, complaint_id, complaints.ANSWER, clock.now())
        await complaints.write_answer(uow, qin, draft, "We are sorry.", clock.now())
        with pytest.raises(complaints.AboutOwnWork):  # the preview's Send in Ed's hands
            await complaints.send_answer(uow, ed, draft, clock.now(), deliver_from=clock.now())
        assert filed.complaint.state == "investigating"
        # A complaint about someone else's work is his to handle like any supervisor's.
        other = await _complain_from_card(uow, user, customer, await _request(uow, user, customer, clock), clock)
        assert ed.id in [s.id for s in await complaints.supervisors(uow, other.complaint)]
        assert (await complaints.take(uow, ed, other.complaint.id, clock.now())).supervisor_id == ed.id


async def test_when_every_supervisor_is_concerned_the_service_managers_are_told(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        for supervisor in (people["cs1"], people["cs2"]):
            await staff.set_active(uow, dispatcher, supervisor.id, False, clock.now())
        await staff.toggle_role(uow, dispatcher, crew[0].id, complaints.SUPERVISOR, clock.now())
        filed = await _complain_from_card(uow, user, customer, await _assigned_request(uow, dispatcher, crew, user, customer, clock), clock)
        assert [s.first_name for s in await complaints.supervisors(uow, filed.complaint)] == ["Sun"]
        assert await complaints.own_work_ids(uow, filed.complaint) == frozenset({crew[0].id})


async def test_a_supervisor_registers_a_complaint_for_the_customer_of_a_request(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _team(uow, clock)
        qin = people["cs1"]
        about = await _assigned_request(uow, dispatcher, crew, user, customer, clock)
        for outsider in (user, dispatcher, crew[0], people["sm"]):
            with pytest.raises(NotAllowed):
                await complaints.start_for_customer(uow, outsider, about.number, clock.now())
        for typed, error in ((None, InvalidValue), ("last week's", InvalidValue), ("SR-2026-999999", complaints.UnknownRequest)):
            with pytest.raises(error):
                await complaints.start_for_customer(uow, qin, typed, clock.now())

        draft, resumed = await complaints.start_for_customer(uow, qin, about.number.lower(), clock.now())
        assert not resumed and (draft.user_id, draft.step, complaints.registered_by_staff(draft)) == (qin.id, complaints.SUBJECT, True)
        assert complaints.previous_step(draft) is None and complaints.editable_fields(draft) == (complaints.SUBJECT, complaints.DESCRIPTION)
        for_whom = await complaints.customer_of_draft(uow, qin, draft)
        assert for_whom.id == customer.id
        with pytest.raises(NotAllowed):  # the role is checked again at each step
            await complaints.customer_of_draft(uow, dispatcher, draft)
        await complaints.choose_subject(uow, for_whom, draft, complaints.ENGINEER, clock.now())
        with pytest.raises(TooLong):
            complaints.describe(draft, "x" * (complaints.DESCRIPTION_LIMIT + 1), clock.now())
        complaints.describe(draft, "Phoned in: the engineer came two days late", clock.now())
        await dialogs.begin(uow, qin.id, complaints.WORK_DIALOG, "note", {"complaint_id": 0}, clock.now())  # another dialog interrupts
        draft, resumed = await complaints.start_for_customer(uow, qin, about.number, clock.now())  # and /complaint SR-… goes on
        assert resumed and (draft.step, draft.data["description"]) == (complaints.CONFIRM, "Phoned in: the engineer came two days late")
        filed = await complaints.submit(uow, POLICY, qin, for_whom, draft, clock.now(), SHANGHAI)
        request, complaint = filed.request, filed.complaint
        assert (request.kind, request.customer_id, request.created_by_user_id) == ("complaint", customer.id, qin.id)
        assert (complaint.source, complaint.subject, complaint.engineer_id, complaint.about_request_id) == ("staff", "engineer", crew[0].id, about.id)
        assert await complaints.due_at(uow, request) == clock.now() + timedelta(hours=72)
        assert await dialogs.current(uow, qin.id) is None
        assert request.id in [r.id for r in (await requests.page_of(uow, customer, 0)).items]  # the customer follows it in /my
        assert (await complaints.case(uow, people["cs2"], complaint.id)).registered_by.id == qin.id
        assert (await complaints.reachable_user(uow, customer)).id == user.id
        with pytest.raises(complaints.NotComplainable):
            await complaints.start_for_customer(uow, qin, request.number, clock.now())

        # Qin's own parked complaint as a customer is never his registration for Alice, and back.
        await complaints.start_for_customer(uow, qin, about.number, clock.now())
        qins_own, resumed = await complaints.start(uow, qin, None, complaints.COMMAND, clock.now())
        assert (resumed, qins_own.data) == (False, {"source": complaints.COMMAND})
