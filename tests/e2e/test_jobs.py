"""A job's whole life over HTTP: assignment, visit, arrival, report, the customer's verdict and survey."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import AuditEntry, Part, Product
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import accepted_job, arrive, assign, enrol, file_request, move_to_warehouse, onboard, report_by_phone, t




async def _report_on_site(engineer, language: str, *, part_search: str, part_button: str, send: bool = True) -> None:
    L = lambda text, **v: t(language, text, **v)  # noqa: E731
    await engineer.press(L("📝 Close with report"))
    await engineer.send_text("Breaker trips after 5 minutes")
    await engineer.send_text("Worn motor bearing")
    await engineer.send_text("Electrical")  # the fault type is a button step
    assert engineer.last.text == L("Please answer with the buttons above.")
    await engineer.press(L("Mechanical (bearings, impeller, gears)"))
    await engineer.send_text("Replaced the bearing, tested 30 minutes")
    await engineer.send_text(part_search)
    await engineer.press(part_button)
    await engineer.send_text("2")
    await engineer.press(L("✅ Done with parts"))
    await engineer.send_text("2,5")
    await engineer.send_text("40")
    await engineer.send_text("60")
    await engineer.press(L("✅ Done"))  # no photo yet: refused
    assert engineer.callback_answers[-1][1] == L("On-site work needs at least one photo. Send a photo, then press “Done”.")
    await engineer.send_photo()
    await engineer.press(L("✅ Done"))
    await engineer.send_text("Customer says it runs quietly now")
    if send:
        await engineer.press(L("📤 Send the report"))


@pytest.mark.parametrize("language, code, dispatcher_id", [("en", "en", DISPATCHER_ID), ("zh_Hans", "zh-hans", SECOND_DISPATCHER_ID)])
async def test_full_life_cycle_from_intake_to_survey(fake, desk, language, code, dispatcher_id):
    L = lambda text, **v: t(language, text, **v)  # noqa: E731
    admin = fake.users[DISPATCHER_ID]
    dispatcher = fake.users[dispatcher_id]
    manager = await enrol(fake, admin, 5290, "Mona", "service_manager", code)
    engineer = await enrol(fake, admin, 5201, "Ed", "engineer", code)
    customer = fake.add_user(user_id=5202, first_name="Li", language_code=code)
    async with desk.db.uow() as uow:
        await uow.session.merge(Part(code="BRG-6204", name="Bearing 6204-2RS", unit="pc"))
        await uow.commit()
    await onboard(customer, language=language)
    number = await file_request(customer, language=language)

    await assign(dispatcher, number, "Ed", language)
    assert L("👷 Engineer {name} is assigned to your request {number}.", name="Ed", number=number) in customer.last.text
    await engineer.press(L("✅ Accept"))
    assert L("You accepted job {number}. Contact the customer to agree a visit.", number=number) in engineer.last.text

    await engineer.press(L("📅 Propose a visit"))
    await engineer.press(L("Tomorrow 09:00"))
    assert number in customer.last.text and "Ed" in customer.last.text
    await customer.press(L("✅ That suits me"))
    assert number in engineer.last.text  # "the customer agreed to the visit…"
    await customer.send_text(f"/status {number}")
    assert L("Visit planned: {time}", time="") in customer.last.text

    await engineer.send_text("/jobs")
    await engineer.press(number)
    await engineer.press(L("🚗 On my way"))
    assert L("🚗 Engineer {name} is on the way to you (request {number}).", name="Ed", number=number) in customer.last.text
    await engineer.press(L("📍 Arrived"))
    await engineer.send_location(34.7467, 113.6254)
    assert L("📍 Engineer {name} has arrived (request {number}).", name="Ed", number=number) in customer.last.text

    await _report_on_site(engineer, language, part_search="6204", part_button="BRG-6204")
    report = customer.last
    assert L("Fault cause: {value}", value="Worn motor bearing") in report.text
    assert L("{name} × {quantity}", name="Bearing 6204-2RS", quantity=2) in report.text
    assert "60" not in report.text.replace(number, "")  # the travel cost stays internal
    assert any(number in (m.text or "") for m in dispatcher.messages[-2:])

    await customer.press(L("✅ Resolved"))
    await customer.press("⭐⭐⭐⭐⭐")
    await customer.press(L("Yes"))
    await customer.send_text("Fast and friendly")
    assert L("Thank you for your feedback! It helps us serve you better.") in customer.last.text
    assert not any("Low satisfaction" in (m.text or "") for m in manager.messages)

    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        report_row = await uow.jobs.report_of(request.id)
        survey = await uow.jobs.survey_of(request.id)
        visit = await uow.jobs.latest_visit(request.id)
        assert (request.status, request.closed_reason, report_row.outcome) == ("closed", "confirmed", "confirmed")
        assert [(p.name, p.quantity, p.part_id is not None) for p in report_row.parts] == [("Bearing 6204-2RS", 2, True)]
        assert (report_row.labour_hours, report_row.travel_km, report_row.travel_cost) == (2.5, 40.0, 6000)
        assert report_row.fault_type == "mechanical"
        assert (survey.stars, survey.on_time, survey.comment) == (5, True, "Fast and friendly")
        assert (visit.state, round(visit.latitude, 4)) == ("arrived", 34.7467)
        actions = [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        for step in ("assigned", "accepted", "visit_proposed", "visit_accepted", "on_the_way", "arrived", "report_submitted", "confirmed"):
            assert step in actions
    fake.assert_no_rejections()


async def test_not_resolved_reopens_flags_and_tells_the_dispatcher(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    manager = await enrol(fake, dora, 5390, "Mona", "service_manager")
    ed = await enrol(fake, dora, 5301, "Ed", "engineer")
    alice = fake.add_user(user_id=5302, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)
    assert "Is the problem solved?" in alice.last.text
    resolved_data = alice.last.buttons[0]["callback_data"]

    await alice.press("Not resolved")
    assert f"Request {number} is reopened" in alice.last.text
    await alice.send_text("Still no water after opening the valve")
    await alice.press("Done")
    assert any(f"request {number} is NOT resolved" in (m.text or "") for m in dora.messages)
    assert any("Still no water" in (m.text or "") for m in dora.messages)
    assert "Repeat repair" in (await _job_text(ed, number))

    # The old verdict buttons are stale now; the report goes out again after a fix.
    await alice.press_data(resolved_data)
    assert alice.callback_answers[-1][1] == "This button is no longer valid."
    await ed.press("Solved by phone")
    for _ in range(2):
        await ed.send_text("kept")  # every step answered again
    await ed.press("Sealing or leakage")
    await ed.send_text("kept")
    await ed.press("No parts were used")
    await ed.send_text("1")
    await ed.send_text("Works now")
    await ed.press("Send the report")
    # the work is reported done again, not "updated": the customer had said it was not done
    assert f"Engineer Ed reports the work on request {number} as done" in alice.last.text
    await alice.press("Resolved")
    await alice.press("⭐")  # one star: the service manager hears of it
    assert any(f"Low satisfaction score 1/5 for request {number}" in (m.text or "") for m in manager.messages)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.repeat_repair, request.status) == (True, "closed")
    fake.assert_no_rejections()


async def test_a_disputed_repair_puts_the_engineer_back_on_the_repair_deadline(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5311, 5312)
    desk.clock.advance(timedelta(days=1))
    await report_by_phone(ed)
    assert await _repair_clock(desk, number) == (desk.clock.now(), "met")

    desk.clock.advance(timedelta(days=2))  # the report waits two days for Alice's verdict
    await alice.press("Not resolved")
    await alice.send_text("Still no water after opening the valve")
    await alice.press("Done")
    told = next(m for m in ed.messages if "Still no water after opening the valve" in (m.text or ""))  # what is still wrong
    assert t("en", "Open job {number}", number=number) in told.button_texts
    # 7 days from acceptance, the two days with Alice not counted: 6 days are left
    assert "⏱ repair completed" in (card := await _job_text(ed, number)) and "(6 d 0 h left)" in card

    ed_seen = len(ed.messages)
    desk.clock.advance(timedelta(days=2, hours=12))  # half the window counted: Ed is reminded
    await desk.sweep()
    reminder = next(m.text for m in ed.messages[ed_seen:] if "deadline needs your attention" in (m.text or ""))
    assert number in reminder and "repair completed: 3 d 12 h left" in reminder
    assert await _repair_clock(desk, number) == (None, None)

    desk.clock.advance(timedelta(days=1))  # the repeat repair is reported with 2 d 12 h left
    fixed_at = desk.clock.now()
    await report_by_phone(ed, cause="Check valve stuck", solution="Freed the check valve")
    assert await _repair_clock(desk, number) == (fixed_at, "met")  # the second report stops it again
    ed_seen = len(ed.messages)
    desk.clock.advance(timedelta(days=2, hours=20))  # past the window, the report still with Alice
    await desk.sweep()
    assert not any("repair completed" in (m.text or "") for m in ed.messages[ed_seen:])
    await alice.press("Resolved")
    assert await _repair_clock(desk, number) == (fixed_at, "met")
    fake.assert_no_rejections()


async def _repair_clock(desk, number: str) -> tuple:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        repair = next(row for row in await uow.requests.clock_rows(request.id) if row.kind == "repair_completed")
        return repair.stopped_at, repair.outcome


async def test_a_photo_at_the_survey_comment_is_answered_with_what_to_do(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5321, "Ed", "engineer")
    alice = fake.add_user(user_id=5322, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)
    await alice.press("Resolved")
    await alice.press("⭐⭐⭐⭐")
    await alice.press("Yes")
    await alice.send_photo()
    assert alice.last.text == "Please write your comment as text, or press “Skip”."
    await alice.press("Skip")
    assert "Thank you for your feedback" in alice.last.text
    fake.assert_no_rejections()


async def test_two_surveys_asked_one_after_the_other_are_both_answered_from_their_own_messages(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5323, "Ed", "engineer")
    alice = fake.add_user(user_id=5324, first_name="Alice", language_code="en")
    await onboard(alice)
    numbers = []
    for _ in range(2):
        number = await file_request(alice)
        await assign(dora, number, "Ed", "en")
        await ed.press("Accept")
        await report_by_phone(ed)
        numbers.append(number)
    first_report, second_report = [m for m in alice.messages if "Is the problem solved?" in (m.text or "")][-2:]
    await alice.press("Resolved", first_report)
    first_survey = alice.last
    assert numbers[0] in first_survey.text
    await alice.press("Resolved", second_report)  # before rating the first: it once lost the first survey
    second_survey = alice.last
    assert numbers[1] in second_survey.text

    five_stars = first_survey.buttons[-1]["callback_data"]
    await alice.press("⭐⭐⭐⭐⭐", first_survey)
    assert alice.last.text == f"Request {numbers[0]}: was your problem solved on time?"  # solved by phone: no visit to ask about
    await alice.press("Yes")
    await alice.send_text("Quick fix")
    assert "Thank you for your feedback" in alice.last.text
    await alice.press_data(five_stars, first_survey)  # pressed again: it is answered already
    assert alice.callback_answers[-1][1] == "This button is no longer valid."

    await alice.press("⭐⭐⭐", second_survey)
    await alice.press("No")
    await alice.press("Skip")
    async with desk.db.uow() as uow:
        surveys = [await uow.jobs.survey_of((await uow.requests.by_number(n)).id) for n in numbers]
        assert [(s.stars, s.on_time, s.comment, s.completed_at is not None) for s in surveys] == [(5, True, "Quick fix", True), (3, False, None, True)]
    fake.assert_no_rejections()


async def _job_text(engineer, number: str) -> str:
    await engineer.send_text("/jobs")
    await engineer.press(number)
    return engineer.last.text


async def test_unanswered_report_closes_by_timeout(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5401, "Ed", "engineer")
    alice = fake.add_user(user_id=5402, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed, symptom="Noise", cause="Loose cover", fault_type="Other", solution="Tightened the cover screws", opinion="Quiet now")
    resolved_data = alice.last.buttons[0]["callback_data"]
    desk.clock.advance(timedelta(hours=71))
    assert (await desk.sweep()).closed == 0
    desk.clock.advance(timedelta(hours=2))
    assert (await desk.sweep()).closed == 1
    assert f"Request {number} is closed: we did not hear back within 72 hours" in alice.last.text
    await alice.press_data(resolved_data)  # too late: told so, and what to do if the fault is still there
    assert f"Request {number} was already closed as confirmed by timeout" in alice.last.text and "/new" in alice.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.closed_reason) == ("closed", "timeout")
    fake.assert_no_rejections()


async def test_a_report_closed_by_timeout_tells_its_engineer_and_the_dispatchers_once(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    ed = await enrol(fake, dora, 5411, "Ed", "engineer")
    alice = fake.add_user(user_id=5412, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)
    await ed.send_text("/jobs")
    assert number in ed.last.button_texts[0]  # the job waits for Alice's verdict on Ed's list
    seen = {person: len(person.messages) for person in (dora, wang, ed)}
    desk.clock.advance(timedelta(hours=73))
    assert (await desk.sweep()).closed == 1
    for person, language in ((ed, "en"), (dora, "en"), (wang, "en")):  # Wang never wrote: the default language
        told = [m.text for m in person.messages[seen[person]:] if number in (m.text or "")]
        assert told == [t(language, "🕑 Request {number} is closed as confirmed by timeout: the customer did not answer the work report within {hours} hours.",
                          number=number, hours=72)], (person.first_name, told)
    seen = {person: len(person.messages) for person in (dora, wang, ed)}
    await desk.sweep()  # a second sweep (or a second process) tells nobody again
    assert all(len(person.messages) == seen[person] for person in seen)
    await ed.send_text("/jobs")
    assert ed.last.text == "You have no open jobs."
    fake.assert_no_rejections()


async def test_forged_job_and_verdict_buttons_are_refused_and_audited(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5501, "Ed", "engineer")
    mallory = await enrol(fake, dora, 5502, "Mallory", "engineer")
    alice = fake.add_user(user_id=5503, first_name="Alice", language_code="en")
    bob = fake.add_user(user_id=5504, first_name="Bob", language_code="en")
    await onboard(alice)
    await onboard(bob)
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    async with desk.db.uow() as uow:
        request_id = (await uow.requests.by_number(number)).id
    await mallory.press_data(f"1:jb:{request_id}:way")  # another engineer's job
    await ed.press_data(f"1:jb:{request_id}:edit")  # no report to edit yet
    await bob.press_data(f"1:cf:{request_id}:yes")  # someone else's request
    await alice.press_data(f"1:cf:{request_id}:yes")  # no report yet
    await ed.press_data(f"1:jb:{request_id}:fly")  # an action no button has
    assert mallory.callback_answers[-1][1] == "This button is no longer valid."
    assert bob.callback_answers[-1][1] == "This button is no longer valid."
    async with desk.db.uow() as uow:
        request = await uow.requests.get(request_id)
        assert request.status == "in_progress" and await uow.jobs.latest_visit(request_id) is None
        audited = {a for a, in await uow.session.execute(select(AuditEntry.actor_telegram_id).where(AuditEntry.action.in_(("not_allowed_button", "stale_job_button", "stale_customer_button"))))}
        assert audited == {5501, 5502, 5503, 5504}
    fake.assert_no_rejections()


async def test_deactivated_engineers_jobs_return_to_the_queue(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5601, 5602)
    await dora.send_text("/staff")
    await dora.press("Ed")
    await dora.press("Deactivate")
    assert any(f"their open jobs are back in the /queue: {number}" in (m.text or "") for m in dora.messages)
    assert f"Your request {number} will get another engineer" in alice.last.text
    await ed.press("On my way")  # the job card he still has
    assert ed.callback_answers[-1][1] == "This button is no longer valid."
    await dora.send_text("/queue")
    assert number in dora.last.text
    fake.assert_no_rejections()


async def test_a_customer_told_of_an_engineer_is_told_when_he_declines_without_his_reason(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5611, "Ed", "engineer")
    alice = fake.add_user(user_id=5612, first_name="Alice", language_code="ru")
    await onboard(alice, language="ru")
    number = await file_request(alice, language="ru")
    await assign(dora, number, "Ed")
    assert number in alice.last.text and "Ed" in alice.last.text  # "engineer Ed is assigned"
    told = len(alice.messages)
    await ed.press("Decline")
    await ed.send_text("I am on another site all week")
    assert "back with the dispatcher" in ed.last.text
    notices = [m.text for m in alice.messages[told:]]
    assert notices == [t("ru", "Your request {number} will get another engineer; we will tell you who.", number=number)]
    fake.assert_no_rejections()


async def test_an_engineer_typing_the_number_of_a_finished_job_is_told_it_is_over(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5391, 5392)
    await report_by_phone(ed)
    await alice.press("Resolved")
    await ed.send_text(number)
    assert ed.last.text == t("en", "Job {number} is over ({status}): there is nothing more to do on it.", number=number, status="Closed")
    fake.assert_no_rejections()


async def test_once_the_customer_agrees_a_visit_their_card_no_longer_promises_a_first_contact(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5391, 5392)
    await alice.send_text(f"/status {number}")
    assert "We will contact you by" in alice.last.text  # nobody logged a contact
    await ed.press("Propose a visit")
    await ed.press("Tomorrow 09:00")
    await alice.press("That suits me")
    await alice.send_text(f"/status {number}")
    assert "We will contact you by" not in alice.last.text and "Visit planned:" in alice.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        first_contact = next(c for c in await uow.requests.clocks(request.id) if c.kind == "first_contact")
        assert (first_contact.stopped_at is not None, first_contact.outcome) == (True, "met")
    fake.assert_no_rejections()


async def test_a_button_of_an_earlier_visit_proposal_does_not_agree_to_the_newer_time(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 5395, 5396)
    await ed.press("Propose a visit")
    await ed.press("Tomorrow 09:00")
    first = alice.last
    await ed.send_text(number)
    await ed.press("Propose a visit")
    await ed.press("In 2 days 09:00")
    second = alice.last

    await alice.press("That suits me", first)  # the message about tomorrow
    assert alice.callback_answers[-1][1] == t("en", "The engineer has changed the proposal meanwhile; please look at their latest message.")
    assert not alice.message(first.message_id).buttons
    async with desk.db.uow() as uow:
        visit = await uow.jobs.latest_visit((await uow.requests.by_number(number)).id)
        assert visit.state == "proposed"  # nothing agreed from the old message
    await alice.press("That suits me", second)
    assert "is agreed" in alice.last.text and "The customer agreed to the visit" in ed.last.text
    fake.assert_no_rejections()


async def test_a_new_repair_of_a_product_repaired_recently_names_the_earlier_request_to_the_staff(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5397, "Ed", "engineer")
    alice = fake.add_user(user_id=5398, first_name="Alice", language_code="en")
    await onboard(alice)
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(5398)).id)
        await uow.products.add(Product(serial="QJ-7001", model="QJ 50-120", customer_id=customer.id))
        await uow.commit()

    def report_fault():
        return _report_fault(alice, serial_button="QJ-7001")

    first = await report_fault()
    await assign(dora, first, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)
    await alice.press("Resolved")
    desk.clock.advance(timedelta(days=5))  # the same fault comes back
    second = await report_fault()
    assert f"Repeat repair? The same product was repaired in {first}" in _new_request_notice(dora, second)
    await dora.send_text(second)
    assert f"repaired in {first}" in dora.last.text
    await assign(dora, second, "Ed", "en")
    await ed.send_text(second)
    assert f"repaired in {first}" in ed.last.text

    desk.clock.advance(timedelta(days=100))  # long after: a new fault, not a repeat
    third = await report_fault()
    assert "Repeat repair?" not in _new_request_notice(dora, third)
    fake.assert_no_rejections()


async def test_not_resolved_after_the_engineer_left_tells_the_dispatchers_it_needs_an_engineer_and_not_him(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5751, "Ed", "engineer")
    alice = fake.add_user(user_id=5752, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed)
    await move_to_warehouse(dora, "Ed")
    ed_before = len(ed.messages)
    await alice.press("❌ Not resolved")
    assert [m for m in ed.messages[ed_before:] if number in (m.text or "")] == []
    told = next(m.text for m in reversed(dora.messages) if "is NOT resolved" in (m.text or ""))
    assert "back in /queue and needs an engineer" in told


async def _arrived(fake, engineer_id: int, customer_id: int) -> tuple:
    dora, ed, alice, number = await accepted_job(fake, engineer_id, customer_id)
    await arrive(ed, number)
    return dora, ed, alice, number


async def _report_draft(desk, telegram_id: int) -> tuple[str, str, dict] | None:
    from storage.models import Draft

    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(telegram_id)
        draft = await uow.session.scalar(select(Draft).where(Draft.user_id == user.id))
        return None if draft is None else (draft.kind, draft.step, dict(draft.data))


async def test_a_report_interrupted_by_another_job_button_is_kept_and_continued(fake, desk):
    dora, ed, alice, number = await _arrived(fake, 8201, 8202)
    card = next(m for m in reversed(ed.messages) if "📞 Log a call" in m.button_texts)
    await ed.press("📝 Close with report", card)
    await ed.send_text("Breaker trips after 5 minutes")
    await ed.send_text("Worn motor bearing")
    await ed.press("Mechanical (bearings, impeller, gears)")
    await ed.send_text("Replaced the bearing, tested 30 minutes")
    await ed.press("📞 Log a call", card)  # phones the customer mid-report
    await ed.send_text("Customer confirms it runs quietly")
    await ed.press("📝 Close with report", card)  # and goes on with the report where it stopped
    kind, step, data = await _report_draft(desk, ed.id)
    assert (kind, step) == ("report", "parts") and data["solution"] == "Replaced the bearing, tested 30 minutes"


async def test_pressing_close_with_report_again_goes_on_with_the_report(fake, desk):
    dora, ed, alice, number = await _arrived(fake, 8301, 8302)
    card = next(m for m in reversed(ed.messages) if "📝 Close with report" in m.button_texts)
    await ed.press("📝 Close with report", card)
    await ed.send_text("Breaker trips after 5 minutes")
    await ed.send_text("Worn motor bearing")
    await ed.press("📝 Close with report", card)
    kind, step, data = await _report_draft(desk, ed.id)
    assert (kind, step) == ("report", "fault_type") and data["symptom"] == "Breaker trips after 5 minutes"


async def test_a_photo_caption_at_the_report_photo_step_is_not_dropped_silently(fake, desk):
    dora, ed, alice, number = await _arrived(fake, 8501, 8502)
    await ed.press("📝 Close with report")
    await ed.send_text("Breaker trips after 5 minutes")
    await ed.send_text("Worn motor bearing")
    await ed.press("Mechanical (bearings, impeller, gears)")
    await ed.send_text("Replaced the bearing")
    await ed.press("No parts were used")
    await ed.send_text("2.5")
    await ed.send_text("40")
    await ed.send_text("60")
    await ed.send_photo(caption="Burnt winding on phase B")
    assert any("not its caption" in (m.text or "") for m in ed.messages[-2:])


async def test_invisible_text_is_not_a_report_answer(fake, desk):
    dora, ed, alice, number = await _arrived(fake, 8601, 8602)
    await ed.press("📝 Close with report")
    await ed.send_text("\u3164")  # a Hangul filler: Telegram's "empty" message
    kind, step, data = await _report_draft(desk, ed.id)
    assert step == "symptom" and "symptom" not in data


async def test_a_report_edited_before_the_customer_answers_is_announced_as_an_update(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 9711, 9712)
    await report_by_phone(ed)
    assert f"Engineer Ed reports the work on request {number} as done" in alice.last.text
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("✏️ Edit report")
    await ed.press("Send the report")
    assert f"Engineer Ed updated the report on request {number}" in alice.last.text
    fake.assert_no_rejections()


async def test_editing_a_sent_report_does_not_push_out_the_report_kept_aside(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 9701, "Ed", "engineer")
    alice = fake.add_user(user_id=9702, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice, description="Pump trips the breaker")
    second = await file_request(alice, description="Second pump leaks")
    await assign(dora, first, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed)  # the first job's report waits for the customer
    await assign(dora, second, "Ed")
    await ed.press("Accept")
    await arrive(ed, second)
    card = next(m for m in reversed(ed.messages) if "📞 Log a call" in m.button_texts)
    await ed.press("📝 Close with report", card)  # the second job's report, half written
    await ed.send_text("Seal worn out")
    await ed.send_text("Sand in the water")
    await ed.press("Mechanical (bearings, impeller, gears)")
    await ed.send_text("/jobs")
    await ed.press(first)
    await ed.press("✏️ Edit report")  # the half-written report is kept aside
    await ed.press("📞 Log a call", card)  # the edit is dropped, not kept in its place
    await ed.send_text("Customer of the other pump called")
    await ed.press("📝 Close with report", card)
    kind, step, data = await _report_draft(desk, ed.id)
    assert (kind, step) == ("report", "solution") and data["symptom"] == "Seal worn out"


async def test_a_report_attempt_kept_aside_before_the_report_was_sent_is_not_resumed_after_a_dispute(fake, desk):
    async with desk.db.uow() as uow:
        await uow.session.merge(Part(code="BRG-6204", name="Bearing 6204-2RS", unit="pc"))
        await uow.commit()
    dora, ed, alice, number = await accepted_job(fake, 9721, 9722)
    card = next(m for m in reversed(ed.messages) if "☎️ Solved by phone" in m.button_texts)
    await ed.press("☎️ Solved by phone", card)  # tried by phone first
    await ed.send_text("No water")
    await ed.send_text("Valve closed")
    await ed.press("📞 Log a call", card)  # that attempt is kept aside
    await ed.send_text("Customer will test it tonight")
    await arrive(ed, number)  # it needed a visit after all
    await _report_on_site(ed, "en", part_search="6204", part_button="BRG-6204")
    async with desk.db.uow() as uow:  # the attempt by phone is outdated by the report sent
        assert await uow.drafts.kept_aside((await uow.users.by_telegram_id(9721)).id, "report") == []
    await alice.press("❌ Not resolved")
    desk.clock.advance(timedelta(hours=2))
    await arrive(ed, number)  # the repeat repair's own visit
    await ed.press("📝 Close with report")  # starts again from what was sent, not the old attempt
    kind, step, data = await _report_draft(desk, ed.id)
    assert (data["symptom"], data["cause"]) == ("Breaker trips after 5 minutes", "Worn motor bearing")


async def test_a_report_kept_aside_is_dropped_when_the_job_leaves_the_engineer(fake, desk):
    dora, ed, alice, number = await _arrived(fake, 9801, 9802)
    await enrol(fake, dora, 9803, "Fay", "engineer")
    card = next(m for m in reversed(ed.messages) if "📞 Log a call" in m.button_texts)
    await ed.press("📝 Close with report", card)
    await ed.send_text("Seal worn out")
    await ed.press("📞 Log a call", card)  # the report is kept aside
    await ed.send_text("Customer will test it tonight")
    for engineer in ("Fay", "Ed"):  # reassigned, then given back
        await dora.send_text(number)
        await dora.press("👷 Reassign", dora.last)
        await dora.press(engineer)
    await ed.press("Accept")
    await arrive(ed, number)
    await ed.press("📝 Close with report")
    kind, step, data = await _report_draft(desk, ed.id)
    assert (kind, step) == ("report", "symptom") and "symptom" not in data


async def test_a_report_of_work_quoted_meanwhile_waits_for_the_customers_yes_and_is_kept(fake, desk):
    async with desk.db.uow() as uow:
        await uow.session.merge(Part(code="BRG-6204", name="Bearing 6204-2RS", unit="pc"))
        await uow.commit()
    dora, ed, alice, number = await _arrived(fake, 8701, 8702)
    await _report_on_site(ed, "en", part_search="6204", part_button="BRG-6204", send=False)
    summary = ed.last
    await dora.send_text(number)  # on site it turns out to be paid work: the dispatcher rules so and quotes
    await dora.press("Warranty…")
    await dora.press("warranty expired")
    await dora.press("🧮 Quote")
    await dora.press("Parts done ›")
    await dora.send_text("800")
    await dora.send_text("0")
    await dora.press("📤 Send to the customer")
    offer = alice.last

    await ed.press("📤 Send the report", summary)
    assert ed.callback_answers[-1][1] == t("en", "This is paid work: it starts after the customer accepts the quote or a fee waiver is approved.")
    assert ed.last.text == t("en", "Your report is kept: press “{button}” again once the customer accepts the quote or a fee waiver is approved.",
                             button=t("en", "📤 Send the report"))
    assert not any("sent the report" in (m.text or "") for m in dora.messages)
    kind, step, data = await _report_draft(desk, ed.id)
    assert (kind, step, data["cause"]) == ("report", "summary", "Worn motor bearing")

    await alice.press("✅ Accept", offer)
    await ed.press("📤 Send the report", summary)
    assert ed.last.text == t("en", "Report for job {number} sent. The customer is asked to confirm; you can still edit it until then.", number=number)
    fake.assert_no_rejections()


async def test_after_the_arrival_on_site_the_job_is_not_closed_as_solved_by_phone(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 8301, 8302)
    await ed.send_text("/jobs")
    await ed.press(number)
    phone = next(b["callback_data"] for b in ed.last.buttons if b["text"] == "☎️ Solved by phone")
    await arrive(ed, number)
    await ed.send_text("/jobs")
    await ed.press(number)
    assert "☎️ Solved by phone" not in ed.last.button_texts and "📝 Close with report" in ed.last.button_texts
    await ed.press_data(phone, ed.last)  # the card from before the arrival
    assert ed.callback_answers[-1][1] == f"You arrived on site for {number}: close it with “📝 Close with report” (photos and travel)."
    assert await _report_draft(desk, ed.id) is None


async def test_a_forged_quick_visit_time_is_refused_not_apologised_for(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 8311, 8312)
    await ed.press("📅 Propose a visit")
    prompt = ed.last
    data = next(b["callback_data"] for b in prompt.buttons if b["text"] == "Tomorrow 09:00")
    seen = len(ed.messages)
    await ed.press_data(data.rsplit(":", 1)[0] + ":d9_2359", prompt)  # a value no button of that step carries
    assert ed.callback_answers[-1][1] == "This button is no longer valid."
    assert not any("Sorry, something went wrong" in (m.text or "") for m in ed.messages[seen:])
    async with desk.db.uow() as uow:
        refused = await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "stale_button"))
        assert [entry.actor_telegram_id for entry in refused] == [ed.id]


async def test_resolved_on_a_report_the_engineer_changed_since_is_refused(fake, desk):
    from storage.models import JobReport

    dora, ed, alice, number = await accepted_job(fake, 8321, 8322)
    await report_by_phone(ed, solution="Replaced the pressure switch", opinion="Works now")
    first = alice.last
    desk.clock.advance(timedelta(minutes=10))
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("✏️ Edit report")
    await ed.press("✏️ Change something")
    await ed.press("Solution")
    await ed.send_text("Told the customer to reset the switch")  # no part replaced after all
    await ed.press("Send the report")
    latest = alice.last
    assert f"Engineer Ed updated the report on request {number}" in latest.text

    await alice.press("✅ Resolved", first)  # the message she read: "Replaced the pressure switch"
    assert alice.callback_answers[-1][1] == "The engineer has changed this report since: please answer the latest version, sent after it."
    assert alice.message(first.message_id).buttons == []  # the old version's buttons are gone
    async with desk.db.uow() as uow:
        assert (await uow.session.scalars(select(JobReport))).one().outcome is None
    await alice.press("✅ Resolved", latest)
    async with desk.db.uow() as uow:
        report = (await uow.session.scalars(select(JobReport))).one()
        assert (report.outcome, report.solution) == ("confirmed", "Told the customer to reset the switch")


async def _report_fault(customer, *, serial_button: str | None = None, typed_serial: str | None = None) -> str:
    await customer.send_text("/new")
    await customer.press("Fault repair")
    if serial_button:
        await customer.press(serial_button)
    else:
        await customer.send_text(typed_serial)
    await customer.send_text("Pump trips the breaker after 5 minutes")
    await customer.press("Skip, no photos")
    await customer.send_location(34.7466, 113.6253)
    await customer.press("✅ Confirm and send")
    return re.search(r"SR-\d{4}-\d{6}", customer.last.text).group(0)


def _new_request_notice(dispatcher, number: str) -> str:
    return next(m.text for m in reversed(dispatcher.messages) if number in (m.text or "") and "New request" in m.text)


async def test_a_repeat_repair_is_flagged_past_a_later_repair_closed_without_work(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5391, "Ed", "engineer")
    alice = fake.add_user(user_id=5392, first_name="Alice", language_code="en")
    await onboard(alice)
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(5392)).id)
        await uow.products.add(Product(serial="QJ-7001", model="QJ 50-120", customer_id=customer.id))
        await uow.commit()
    first = await _report_fault(alice, serial_button="QJ-7001")
    await assign(dora, first, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)
    await alice.press("Resolved")
    desk.clock.advance(timedelta(days=3))
    second = await _report_fault(alice, serial_button="QJ-7001")
    await dora.send_text(second)
    await dora.press("🗂 Close the request")
    await dora.send_text("Customer restarted it on the phone, nothing to do")
    desk.clock.advance(timedelta(days=2))  # the same fault comes back a third time
    third = await _report_fault(alice, serial_button="QJ-7001")
    assert f"Repeat repair? The same product was repaired in {first}" in _new_request_notice(dora, third)


async def test_a_repeat_repair_is_flagged_by_the_same_serial_typed_again(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5393, "Ed", "engineer")
    alice = fake.add_user(user_id=5394, first_name="Alice", language_code="en")
    bob = fake.add_user(user_id=5395, first_name="Bob", language_code="en")
    await onboard(alice)
    await onboard(bob, phone="+8613900139001")
    async with desk.db.uow() as uow:  # in the registry, sold through a dealer: claimed by nobody
        await uow.products.add(Product(serial="QJ-7002", model="QJ 50-120", customer_id=None, owner_name="Dealer"))
        await uow.commit()
    first = await _report_fault(alice, typed_serial="QJ-7002")
    await assign(dora, first, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)
    await alice.press("Resolved")
    desk.clock.advance(timedelta(days=5))
    second = await _report_fault(alice, typed_serial="QJ-7002")
    assert f"Repeat repair? The same product was repaired in {first}" in _new_request_notice(dora, second)
    someone_else = await _report_fault(bob, typed_serial="QJ-7002")  # a serial typed by another customer proves nothing
    assert "Repeat repair?" not in _new_request_notice(dora, someone_else)


async def test_two_jobs_reports_half_written_are_both_kept_when_a_third_dialog_interrupts(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 8331, "Ed", "engineer")
    alice = fake.add_user(user_id=8332, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice, description="Pump trips the breaker")
    second = await file_request(alice, description="Second pump leaks")
    cards = {}
    for number in (first, second):
        await assign(dora, number, "Ed")
        await ed.press("Accept")
        cards[number] = next(m for m in reversed(ed.messages) if number in (m.text or "") and "☎️ Solved by phone" in m.button_texts)

    await ed.press("☎️ Solved by phone", cards[first])  # report A
    await ed.send_text("First pump: no water")
    await ed.send_text("First pump: valve closed")
    await ed.press("☎️ Solved by phone", cards[second])  # report B; A is kept aside
    await ed.send_text("Second pump: seal worn")
    await ed.press("📞 Log a call", cards[first])  # B is kept aside too, beside A
    await ed.send_text("Called the first customer")
    await ed.press("☎️ Solved by phone", cards[first])  # back to report A, where it stopped
    kind, step, data = await _report_draft(desk, ed.id)
    assert (data.get("symptom"), data.get("cause")) == ("First pump: no water", "First pump: valve closed")
    await ed.press("☎️ Solved by phone", cards[second])  # and to report B
    kind, step, data = await _report_draft(desk, ed.id)
    assert data.get("symptom") == "Second pump: seal worn"
