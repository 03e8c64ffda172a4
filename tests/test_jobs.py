"""An engineer's job from acceptance to the customer's verdict, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services import confirmation, dialogs, dispatch, jobs, quotes, reports, staff
from bot.services.errors import InvalidValue, NotAllowed, NotFound, StaleAction
from bot.services.inputs import PhotoInput, TextInput
from storage.models import Part
from tests.test_dispatch import POLICY, _request, _setup
from tests.test_quotes import _quote


async def _accepted_job(uow, clock):
    dispatcher, crew, user, customer = await _setup(uow, clock, engineers=2)
    request = await _request(uow, user, customer, clock)
    await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
    await dispatch.respond(uow, crew[0], request.id, True, None, clock.now())
    return dispatcher, crew, user, customer, request


async def _on_site(uow, engineer, request, clock):
    await jobs.arrived(uow, engineer, request.id, 34.75, 113.62, clock.now())


async def _fill_report(uow, draft, clock, *, photos=1):
    for text in ("Breaker trips", "Worn bearing"):
        await reports.handle_input(uow, draft, TextInput(text), clock.now())
    assert draft.step == reports.FAULT_TYPE
    with pytest.raises(StaleAction):  # only the classification's own types
        await reports.handle_button(uow, draft, "fault", "gremlins", clock.now())
    await reports.handle_button(uow, draft, "fault", "mechanical", clock.now())
    await reports.handle_input(uow, draft, TextInput("Replaced the bearing"), clock.now())
    assert draft.step == reports.PARTS
    await reports.handle_input(uow, draft, TextInput("Bearing 6204"), clock.now())  # not in the catalog
    await reports.handle_button(uow, draft, "free", "", clock.now())
    await reports.handle_input(uow, draft, TextInput("2"), clock.now())
    await reports.handle_button(uow, draft, "done", "", clock.now())
    await reports.handle_input(uow, draft, TextInput("2,5"), clock.now())
    if not draft.data["by_phone"]:
        await reports.handle_input(uow, draft, TextInput("40"), clock.now())
        await reports.handle_input(uow, draft, TextInput("60.5"), clock.now())
        for i in range(photos):
            await reports.handle_input(uow, draft, PhotoInput(f"report-photo-{i}"), clock.now())
        await reports.handle_button(uow, draft, "done", "", clock.now())
    await reports.handle_input(uow, draft, TextInput("Customer is happy"), clock.now())


async def test_visit_proposal_answered_once_and_arrival_recorded(database, clock):
    async with database.uow() as uow:
        _, crew, user, customer, request = await _accepted_job(uow, clock)
        engineer = crew[0]
        _, visit = await jobs.propose_visit(uow, engineer, request.id, clock.now() + timedelta(days=1), clock.now())
        answer = await jobs.answer_visit(uow, user, customer, visit.id, True, None, clock.now())
        assert answer.visit.state == jobs.ACCEPTED
        with pytest.raises(NotAllowed):  # the same button pressed again
            await jobs.answer_visit(uow, user, customer, visit.id, False, "later", clock.now())
        await jobs.on_the_way(uow, engineer, request.id, clock.now())
        with pytest.raises(NotAllowed):
            await jobs.on_the_way(uow, engineer, request.id, clock.now())
        await _on_site(uow, engineer, request, clock)
        visit = await jobs.current_visit(uow, request)
        assert (visit.state, visit.latitude, visit.longitude) == (jobs.ARRIVED, 34.75, 113.62)
        actions = [e.action for e in await uow.requests.events(request.id, include_internal=False)]
        assert actions[-4:] == ["visit_proposed", "visit_accepted", "on_the_way", "arrived"]


async def test_only_the_jobs_own_engineer_acts_on_it(database, clock):
    async with database.uow() as uow:
        _, crew, user, customer, request = await _accepted_job(uow, clock)
        with pytest.raises(NotFound):
            await jobs.log_call(uow, crew[1], request.id, "Called", clock.now())
        with pytest.raises(NotFound):
            await reports.start(uow, crew[1], request.id, True, clock.now())
        _, visit = await jobs.propose_visit(uow, crew[0], request.id, clock.now() + timedelta(hours=3), clock.now())
        stranger, stranger_customer = await _other_customer(uow, clock)
        with pytest.raises(NotFound):
            await jobs.answer_visit(uow, stranger, stranger_customer, visit.id, True, None, clock.now())


async def _other_customer(uow, clock):
    from tests.test_services import _customer
    return await _customer(uow, clock, telegram_id=1999, name="Bob")


async def test_a_call_stops_the_first_contact_clock_and_parts_wait_pauses(database, clock):
    async with database.uow() as uow:
        _, crew, _, _, request = await _accepted_job(uow, clock)
        await jobs.log_call(uow, crew[0], request.id, "Agreed to come tomorrow", clock.now())
        assert all(c.stopped_at is not None for c in await uow.requests.clocks(request.id) if c.kind == "first_contact")
        await jobs.wait_for(uow, crew[0], request.id, jobs.WAITING_PARTS, "Bearing ordered", clock.now())
        assert request.waiting_for == "parts"
        with pytest.raises(NotAllowed):
            await jobs.wait_for(uow, crew[0], request.id, jobs.WAITING_PARTS, "again", clock.now())
        await jobs.resume(uow, crew[0], request.id, clock.now())
        assert request.waiting_for is None


async def test_on_site_report_needs_arrival_and_a_photo(database, clock):
    async with database.uow() as uow:
        _, crew, _, _, request = await _accepted_job(uow, clock)
        with pytest.raises(NotAllowed):
            await reports.start(uow, crew[0], request.id, False, clock.now())
        await _on_site(uow, crew[0], request, clock)
        draft = await reports.start(uow, crew[0], request.id, False, clock.now())
        with pytest.raises(InvalidValue) as error:
            await _fill_report(uow, draft, clock, photos=0)
        assert error.value.field == "report_photo_required"


async def test_an_incomplete_report_cannot_be_submitted(database, clock):
    async with database.uow() as uow:
        _, crew, _, _, request = await _accepted_job(uow, clock)
        draft = await reports.start(uow, crew[0], request.id, True, clock.now())
        await _fill_report(uow, draft, clock)
        assert draft.step == reports.SUMMARY
        draft.data = {**draft.data, "cause": ""}  # as if a field had been lost
        with pytest.raises(InvalidValue) as error:
            await reports.submit(uow, crew[0], draft, clock.now())
        assert error.value.field == "report_incomplete"
        assert await uow.jobs.report_of(request.id) is None


async def test_work_ruled_paid_on_site_cannot_be_reported_before_the_customer_accepts(database, clock):
    async with database.uow() as uow:
        uow.session.add(Part(code="QJ-200", name="Impeller", unit="pcs", price=120_000))
        dispatcher, crew, user, customer, request = await _accepted_job(uow, clock)
        engineer = crew[0]
        await _on_site(uow, engineer, request, clock)
        draft = await reports.start(uow, engineer, request.id, False, clock.now())
        await _fill_report(uow, draft, clock)
        # on site, the dispatcher finds misuse: the work is paid and the customer is sent a quote
        await dispatch.set_warranty(uow, dispatcher, request.id, "paid_misuse", clock.now())
        quote = await _quote(uow, dispatcher, request, clock)
        with pytest.raises(quotes.PaymentPending):
            await reports.submit(uow, engineer, draft, clock.now())
        with pytest.raises(quotes.PaymentPending):  # nor started again
            await reports.start(uow, engineer, request.id, False, clock.now())
        assert (request.status, await uow.jobs.report_of(request.id)) == ("in_progress", None)
        kept = await dialogs.current(uow, engineer.id)  # what the engineer typed is not lost
        assert (kept.id, kept.step, kept.data["cause"]) == (draft.id, reports.SUMMARY, "Worn bearing")

        await quotes.answer(uow, user, quote.id, True, clock.now())
        request, report, _ = await reports.submit(uow, engineer, kept, clock.now())
        assert (request.status, report.cause) == ("resolved", "Worn bearing")


async def test_a_revised_quote_must_be_accepted_before_the_job_is_reported(database, clock):
    async with database.uow() as uow:
        uow.session.add(Part(code="QJ-200", name="Impeller", unit="pcs", price=120_000))
        dispatcher, crew, user, customer, request = await _accepted_job(uow, clock)
        engineer = crew[0]
        await dispatch.set_warranty(uow, dispatcher, request.id, "expired", clock.now())
        first = await _quote(uow, dispatcher, request, clock, quantity="1")
        await quotes.answer(uow, user, first.id, True, clock.now())
        await _on_site(uow, engineer, request, clock)
        revised = await _quote(uow, engineer, request, clock, quantity="8")  # a new price on site
        with pytest.raises(quotes.PaymentPending):
            await reports.start(uow, engineer, request.id, False, clock.now())

        await quotes.answer(uow, user, revised.id, True, clock.now())
        draft = await reports.start(uow, engineer, request.id, False, clock.now())
        await _fill_report(uow, draft, clock)
        again = await _quote(uow, dispatcher, request, clock, quantity="9")  # revised once more while the report was written
        with pytest.raises(quotes.PaymentPending):
            await reports.submit(uow, engineer, draft, clock.now())
        assert (request.status, await uow.jobs.report_of(request.id)) == ("in_progress", None)
        await quotes.answer(uow, user, again.id, True, clock.now())
        request, _, _ = await reports.submit(uow, engineer, draft, clock.now())
        assert request.status == "resolved"


async def test_report_confirmed_then_survey_with_a_low_score(database, clock):
    async with database.uow() as uow:
        _, crew, user, customer, request = await _accepted_job(uow, clock)
        await _on_site(uow, crew[0], request, clock)
        draft = await reports.start(uow, crew[0], request.id, False, clock.now())
        await _fill_report(uow, draft, clock, photos=2)
        request, report, updated = await reports.submit(uow, crew[0], draft, clock.now())
        assert (request.status, updated, report.travel_cost, report.labour_hours) == ("resolved", False, 6050, 2.5)
        assert [(p.name, p.quantity) for p in report.parts] == [("Bearing 6204", 2)]
        assert report.fault_type == "mechanical"
        assert len([a for a in await uow.requests.attachments(request.id) if a.kind == "report_photo"]) == 2

        verdict = await confirmation.confirm(uow, user, customer, request.id, True, clock.now())
        assert (request.status, request.closed_reason, verdict.report.outcome) == ("closed", "confirmed", "confirmed")
        with pytest.raises(NotAllowed):  # pressed twice, or "Not resolved" after "Resolved"
            await confirmation.confirm(uow, user, customer, request.id, False, clock.now())
        with pytest.raises(NotAllowed):  # no editing after the customer confirmed
            await reports.edit(uow, crew[0], request.id, clock.now())

        step = await confirmation.survey_answer(uow, user, customer, request.id, "stars", "2", POLICY.closing.low_score_alert, clock.now())
        assert step.low_score and step.step == "on_time"
        with pytest.raises(StaleAction):  # the stars pressed twice
            await confirmation.survey_answer(uow, user, customer, request.id, "stars", "5", POLICY.closing.low_score_alert, clock.now())
        await confirmation.survey_answer(uow, user, customer, request.id, "on_time", "no", POLICY.closing.low_score_alert, clock.now())
        survey_draft = await dialogs.current(uow, user.id)
        done = await confirmation.survey_input(uow, user, customer, survey_draft, TextInput("Came a day late"), clock.now())
        assert done.step is None and await dialogs.current(uow, user.id) is None
        survey = await uow.jobs.survey_of(request.id)
        assert (survey.stars, survey.on_time, survey.comment, survey.completed_at is not None) == (2, False, "Came a day late", True)


async def test_not_resolved_after_the_engineer_left_puts_the_repeat_repair_in_the_queue(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request = await _accepted_job(uow, clock)
        draft = await reports.start(uow, crew[0], request.id, True, clock.now())
        await _fill_report(uow, draft, clock)
        await reports.submit(uow, crew[0], draft, clock.now())
        await staff.set_active(uow, dispatcher, crew[0].id, False, clock.now())  # leaves while the report waits
        await confirmation.confirm(uow, user, customer, request.id, False, clock.now())
        assert (request.status, request.assigned_engineer_id, request.repeat_repair) == ("triaged", None, True)
        assert request.id in [item.request.id for item in await dispatch.queue(uow, dispatcher)]
        assert [(a.engineer_id, a.outcome, a.ended_at is not None) for a in await uow.dispatch.assignments(request.id)] == [(crew[0].id, "released", True)]


async def test_not_resolved_reopens_flags_and_the_report_can_be_resent(database, clock):
    async with database.uow() as uow:
        _, crew, user, customer, request = await _accepted_job(uow, clock)
        draft = await reports.start(uow, crew[0], request.id, True, clock.now())
        await _fill_report(uow, draft, clock)
        await reports.submit(uow, crew[0], draft, clock.now())
        verdict = await confirmation.confirm(uow, user, customer, request.id, False, clock.now())
        assert (request.status, request.repeat_repair, verdict.report.outcome) == ("in_progress", True, "disputed")

        again = await reports.start(uow, crew[0], request.id, True, clock.now())
        assert again.data["cause"] == "Worn bearing"  # what was written before is kept
        assert again.data["parts"] == [] and not again.data["no_parts"]  # but this attempt lists the parts it used
        again.step = reports.PARTS
        await reports.handle_button(uow, again, "none", "", clock.now())
        again.step = reports.SUMMARY
        _, report, updated = await reports.submit(uow, crew[0], again, clock.now())
        # the work is reported done again (the customer had said it was not), not an edit of a waiting report
        assert (updated, report.outcome, request.status) == (False, None, "resolved")
        assert report.id != verdict.report.id and verdict.report.cause == "Worn bearing"  # a new report; the disputed one is kept


async def test_report_editable_until_confirmed(database, clock):
    async with database.uow() as uow:
        _, crew, _, _, request = await _accepted_job(uow, clock)
        draft = await reports.start(uow, crew[0], request.id, True, clock.now())
        await _fill_report(uow, draft, clock)
        await reports.submit(uow, crew[0], draft, clock.now())
        editing = await reports.edit(uow, crew[0], request.id, clock.now())
        await reports.handle_button(uow, editing, "edit", "", clock.now())
        await reports.handle_button(uow, editing, "field", "solution", clock.now())
        await reports.handle_input(uow, editing, TextInput("Replaced bearing and seal"), clock.now())
        assert editing.step == reports.SUMMARY
        _, report, updated = await reports.submit(uow, crew[0], editing, clock.now())
        assert (updated, report.solution) == (True, "Replaced bearing and seal")


async def test_editing_the_parts_list_returns_to_the_summary_even_after_a_back_and_can_drop_the_last_part(database, clock):
    async with database.uow() as uow:
        _, crew, _, _, request = await _accepted_job(uow, clock)
        draft = await reports.start(uow, crew[0], request.id, True, clock.now())
        await _fill_report(uow, draft, clock)
        await reports.handle_button(uow, draft, "edit", "", clock.now())
        await reports.handle_button(uow, draft, "field", reports.PARTS, clock.now())
        await reports.handle_input(uow, draft, TextInput("O-ring"), clock.now())
        await reports.handle_button(uow, draft, "free", "", clock.now())
        assert draft.step == reports.PART_QTY
        await reports.handle_button(uow, draft, "back", "", clock.now())  # changed their mind about the O-ring
        assert draft.step == reports.PARTS
        await reports.handle_input(uow, draft, TextInput("Gasket"), clock.now())
        await reports.handle_button(uow, draft, "free", "", clock.now())
        await reports.handle_input(uow, draft, TextInput("2"), clock.now())
        before = [p["name"] for p in draft.data["parts"]]
        await reports.handle_button(uow, draft, "undo", "", clock.now())  # the gasket was a mistake after all
        assert [p["name"] for p in draft.data["parts"]] == before[:-1] and before[-1] == "Gasket"
        await reports.handle_button(uow, draft, "done", "", clock.now())
        assert draft.step == reports.SUMMARY  # an edit goes back to the summary, not on to the hours


async def test_silence_closes_by_timeout_once(database, clock):
    async with database.uow() as uow:
        _, crew, _, _, request = await _accepted_job(uow, clock)
        draft = await reports.start(uow, crew[0], request.id, True, clock.now())
        await _fill_report(uow, draft, clock)
        await reports.submit(uow, crew[0], draft, clock.now())
        window = POLICY.closing.confirmation_timeout
        clock.advance(window - timedelta(minutes=1))
        assert await confirmation.close_unconfirmed(uow, clock.now(), window) == []
        clock.advance(timedelta(minutes=2))
        closed = await confirmation.close_unconfirmed(uow, clock.now(), window)
        assert [(r.id, r.status, r.closed_reason) for r in closed] == [(request.id, "closed", "timeout")]
        assert await confirmation.close_unconfirmed(uow, clock.now(), window) == []
        assert (await uow.jobs.report_of(request.id)).outcome == "timeout"


async def test_the_repeat_repair_after_a_dispute_may_be_solved_by_phone_but_not_after_a_new_arrival(database, clock):
    async with database.uow() as uow:
        _, crew, user, customer, request = await _accepted_job(uow, clock)
        engineer = crew[0]
        await _on_site(uow, engineer, request, clock)
        with pytest.raises(reports.VisitedOnSite):  # this attempt's trip belongs in an on-site report
            await reports.start(uow, engineer, request.id, True, clock.now())
        draft = await reports.start(uow, engineer, request.id, False, clock.now())
        await _fill_report(uow, draft, clock)
        await reports.submit(uow, engineer, draft, clock.now())
        clock.advance(timedelta(hours=2))
        await confirmation.confirm(uow, user, customer, request.id, False, clock.now())  # "Not resolved"
        clock.advance(timedelta(hours=1))
        card = await jobs.job_card(uow, engineer, request.id)
        assert not card.on_site  # the first trip is kept with the disputed report
        draft = await reports.start(uow, engineer, request.id, True, clock.now())  # the repeat solved by phone
        assert draft.data["by_phone"] is True
        await dialogs.end(uow, draft)
        await _on_site(uow, engineer, request, clock)  # or a second trip
        with pytest.raises(reports.VisitedOnSite):
            await reports.start(uow, engineer, request.id, True, clock.now())
