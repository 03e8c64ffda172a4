"""Follow-up calls over HTTP: a job closed by the customer, the desk clock moved day by day, the
callback person's daily list at 10:00, recording both rounds, and the dispatchers told of an
unhappy customer."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage.models import AuditEntry
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, report_by_phone, t

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIGEST_MARK = "follow-up call"  # in the daily list's first line (English)


def _digests(person) -> list:
    return [m for m in person.messages if DIGEST_MARK in (m.text or "") and "/calls" in (m.text or "")]


async def _closed_job(fake, dora, desk) -> tuple[str, object, object]:
    """A repair solved by phone and confirmed by the customer on Monday 2 March; returns the number,
    the customer and the engineer."""
    ed = await enrol(fake, dora, 5601, "Ed", "engineer")
    alice = fake.add_user(user_id=5602, first_name="Alice", language_code="en")
    await onboard(alice, phone="+8613900139000")
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed, solution="Opened the inlet valve with the customer", opinion="Water flows again")
    await alice.press("Resolved")
    return number, alice, ed


async def _sweep_at(desk, day: date, hh: int, mm: int) -> None:
    desk.clock.set(datetime.combine(day, time(hh, mm), SHANGHAI))
    await desk.sweep()


async def test_follow_up_calls_fall_due_are_listed_at_10_and_recorded_in_two_rounds(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    cai = await enrol(fake, dora, 5610, "Cai", "callback")
    number, alice, ed = await _closed_job(fake, dora, desk)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        (first,) = await uow.follow_ups.of_request(request.id)
        assert (request.status, first.round, first.due_on, first.due_by) == ("closed", 1, date(2026, 3, 5), date(2026, 3, 9))
        request_id = request.id
    customer_messages = len(alice.messages)

    # Nothing before the due day's 10:00, however often the sweep runs.
    for day in (date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)):
        for hh, mm in ((10, 0), (15, 30)):
            await _sweep_at(desk, day, hh, mm)
    await _sweep_at(desk, date(2026, 3, 5), 9, 59)
    assert _digests(cai) == []
    await _sweep_at(desk, date(2026, 3, 5), 10, 0)
    (digest,) = _digests(cai)
    assert t("en", "📞 {n} follow-up call is due today (overdue: {overdue}).", n=1, overdue=0) in digest.text
    assert number in digest.text and "Alice" in digest.text
    await _sweep_at(desk, date(2026, 3, 5), 10, 1)
    await desk.restart()  # a restart does not send it again either
    await _sweep_at(desk, date(2026, 3, 5), 10, 2)
    assert len(_digests(cai)) == 1
    assert _digests(dora) == [] and _digests(ed) == []

    # /calls → the card: who to call, what was done, the script.
    await cai.send_text("/calls")
    assert t("en", "📞 <b>Follow-up calls due: {total}</b> (overdue: {overdue})", total=1, overdue=0) in cai.last.text
    await cai.press(number)
    card = cai.last.text
    for shown in ("Alice", "+8613900139000", "Valve closed", "Opened the inlet valve with the customer", "Engineer: Ed",
                  t("en", "2. Ask whether the equipment works properly since the work was done.")):
        assert shown in card
    sat_data = next(b["callback_data"] for b in cai.last.buttons if "satisfied" in b["text"] and "not" not in b["text"])

    # A forged press by the engineer changes nothing and is audited.
    await ed.press_data(sat_data)
    assert ed.callback_answers[-1][1] == "This button is no longer valid."

    # Reached, satisfied, with the customer's words; Back from the feedback step keeps it due.
    await cai.press("🙂 Reached: satisfied")
    assert "anything the customer said?" in cai.last.text
    await cai.press("⬅️ Back")
    assert "Follow-up call 1 of 2" in cai.last.text
    await cai.press("🙂 Reached: satisfied")
    await cai.send_text("Works fine, engineer was very helpful")
    assert t("en", "✅ Recorded for {number}: {outcome}.", number=number, outcome="reached, satisfied") in cai.last.text
    assert "The second call is due from Mar 12, 2026." in cai.last.text
    await cai.press_data(sat_data)  # the first card's button again: recorded once
    assert cai.callback_answers[-1][1] == "This call is already recorded (reached, satisfied); nothing was changed."
    async with desk.db.uow() as uow:
        first, second = await uow.follow_ups.of_request(request_id)
        assert (first.state, first.outcome, first.feedback) == ("done", "satisfied", "Works fine, engineer was very helpful")
        assert (second.round, second.due_on, second.due_by) == (2, date(2026, 3, 12), date(2026, 3, 15))
        refused = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "follow_up_not_allowed"))).all()
        assert [e.actor_telegram_id for e in refused] == [ed.id]

    # Round 2 appears seven days later, at 10:00 again.
    for day in (date(2026, 3, 6), date(2026, 3, 9), date(2026, 3, 11)):
        await _sweep_at(desk, day, 10, 0)
    await _sweep_at(desk, date(2026, 3, 12), 9, 59)
    assert len(_digests(cai)) == 1
    await _sweep_at(desk, date(2026, 3, 12), 10, 0)
    assert len(_digests(cai)) == 2 and number in _digests(cai)[-1].text

    # One unanswered try, then reached and not satisfied: each dispatcher gets one message.
    await cai.send_text("/calls")
    await cai.press(number)
    assert t("en", "<b>Script (second call)</b>") in cai.last.text
    await cai.press("📵 No answer")
    assert "try 1 of 3" in cai.callback_answers[-1][1]
    await cai.press("🙁 Reached: not satisfied")
    await cai.send_text("The pump is noisy again")
    for dispatcher in (dora, wang):
        alerts = [m for m in dispatcher.messages if number in (m.text or "") and "The pump is noisy again" in (m.text or "")]
        assert len(alerts) == 1
    assert "Customer not satisfied after closing" in [m for m in dora.messages if "noisy" in (m.text or "")][0].text
    async with desk.db.uow() as uow:
        first, second = await uow.follow_ups.of_request(request_id)
        assert (second.state, second.outcome, second.attempts, second.feedback) == ("done", "not_satisfied", 1, "The pump is noisy again")

    # Nothing left: later sweeps send no list, and the customer heard nothing from all this.
    for day in (date(2026, 3, 13), date(2026, 3, 20)):
        await _sweep_at(desk, day, 10, 0)
    assert len(_digests(cai)) == 2
    assert len(alice.messages) == customer_messages
    fake.assert_no_rejections()


async def test_calls_is_for_callers_and_dispatchers_read_without_buttons(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    number, alice, ed = await _closed_job(fake, dora, desk)
    await _sweep_at(desk, date(2026, 3, 10), 10, 0)  # the call is overdue now; nobody has the role
    await alice.send_text("/calls")
    assert alice.last.text == "This command is for the follow-up callers and the dispatchers."
    await dora.send_text("/calls")
    assert t("en", "📞 <b>Follow-up calls due: {total}</b> (overdue: {overdue})", total=1, overdue=1) in dora.last.text
    await dora.press(number)
    assert "⚠️ Overdue: please call today." in dora.last.text
    assert [b["text"] for b in dora.last.buttons] == ["⬅️ Back"]
    fake.assert_no_rejections()


async def test_a_disputed_job_closed_by_the_dispatcher_gets_its_calls_too(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5621, "Ed", "engineer")
    alice = fake.add_user(user_id=5622, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed, symptom="Noise", cause="Loose cover", fault_type="Other", solution="Tightened the cover screws", opinion="Quiet now")
    await alice.press("Not resolved")
    await alice.send_text("Still noisy")
    await alice.press("Done")
    desk.clock.advance(timedelta(days=1))  # Tuesday 3 March
    dispute = next(m for m in reversed(dora.messages) if "is NOT resolved" in (m.text or ""))
    await dora.press("Open", dispute)
    await dora.press("🗂 Close the request")
    await dora.send_text("The customer replaced the cover with their own")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        calls = await uow.follow_ups.of_request(request.id)
        assert request.status == "closed"
        assert [(c.round, c.due_on, c.due_by) for c in calls] == [(1, date(2026, 3, 6), date(2026, 3, 10))]
    fake.assert_no_rejections()


APOLOGY = "Sorry, something went wrong on our side"


async def _erased_while_the_caller_types(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    cai = await enrol(fake, dora, 5710, "Cai", "callback")
    ed = await enrol(fake, dora, 5701, "Ed", "engineer")
    alice = fake.add_user(user_id=5702, first_name="Alice", language_code="en")
    await onboard(alice, phone="+8613900139000")
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed)
    await alice.press("Resolved")
    desk.clock.set(datetime.combine(date(2026, 3, 5), time(10, 0), SHANGHAI))
    await desk.sweep()
    await cai.send_text("/calls")
    await cai.press(number)
    await cai.press("🙂 Reached: satisfied")
    await dora.send_text("/erase +8613900139000")
    await dora.press("🗑 Erase")
    assert "Personal data erased" in dora.last.text
    return cai, number


async def test_feedback_for_a_call_erased_meanwhile_is_answered(fake, desk):
    cai, number = await _erased_while_the_caller_types(fake, desk)
    await cai.send_text("Works fine")
    assert APOLOGY not in cai.last.text and "the customer's data was erased" in cai.last.text
    await cai.send_text("/calls")
    assert number not in cai.last.text


async def test_back_to_the_card_of_a_call_erased_meanwhile_shows_it(fake, desk):
    cai, number = await _erased_while_the_caller_types(fake, desk)
    await cai.press("⬅️ Back")
    assert APOLOGY not in cai.last.text


async def test_a_report_of_a_customer_erased_while_it_waited_gets_no_calls_and_no_notice(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5731, "Ed", "engineer")
    alice = fake.add_user(user_id=5732, first_name="Alice", language_code="en")
    await onboard(alice, phone="+8613900139000")
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed)
    await dora.send_text("/erase +8613900139000")
    await dora.press("🗑 Erase")
    desk.clock.advance(timedelta(hours=73))
    assert (await desk.sweep()).closed == 1
    async with desk.db.uow() as uow:
        assert await uow.follow_ups.of_request((await uow.requests.by_number(number)).id) == []
    fake.assert_no_rejections()  # nothing went to the unlinked account


async def test_an_engineer_with_the_callback_role_may_not_record_the_call_on_his_own_job(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    cai = await enrol(fake, dora, 5610, "Cai", "callback")
    number, alice, ed = await _closed_job(fake, dora, desk)
    await dora.send_text("/staff")  # a small desk: Ed makes the follow-up calls too
    await dora.press("Ed")
    await dora.press("➕ Follow-up calls")
    await _sweep_at(desk, date(2026, 3, 5), 10, 0)
    await cai.send_text("/calls")
    await cai.press(number)
    sat_data = next(b["callback_data"] for b in cai.last.buttons if "satisfied" in b["text"] and "not" not in b["text"])

    await ed.send_text("/calls")
    await ed.press(number)
    assert "👷 This call checks your own work, so a colleague makes it." in ed.last.text
    assert [b["text"] for b in ed.last.buttons] == ["⬅️ Back"]
    await ed.press_data(sat_data, ed.last)  # his own job's outcome button, replayed
    async with desk.db.uow() as uow:
        request_id = (await uow.requests.by_number(number)).id
        (call,) = [c for c in await uow.follow_ups.of_request(request_id) if c.round == 1]
        assert call.state == "due"
        refused = await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "follow_up_not_allowed"))
        assert [entry.actor_telegram_id for entry in refused] == [ed.id]

    await cai.press("🙂 Reached: satisfied")  # a colleague records it
    await cai.press("Skip")
    async with desk.db.uow() as uow:
        (call,) = [c for c in await uow.follow_ups.of_request(request_id) if c.round == 1]
        assert (call.state, call.outcome) == ("done", "satisfied")
