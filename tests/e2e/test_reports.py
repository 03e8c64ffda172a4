"""The managers' monthly report over HTTP: /report with its month picker, refusals of everyone
else and of forged buttons, and the automatic send on the 1st at 09:00 through the outbox (once,
across restarts; held and sent later when Telegram refuses it)."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import select

from bot import report_files
from bot.flood import TELEGRAM_LIMITS
from bot.services import staff
from storage.models import AppState, AuditEntry, OutboxMessage
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, move_to_warehouse, onboard, report_by_phone, t

SHANGHAI = ZoneInfo("Asia/Shanghai")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def en(message: str, **values) -> str:
    return t("en", message, **values)


async def _closed_job(fake, dora, engineer, customer_id: int) -> str:
    """A repair solved by phone, confirmed and rated 5 stars by the customer; returns its number."""
    customer = fake.add_user(user_id=customer_id, first_name="Alice", language_code="en")
    await onboard(customer)
    number = await file_request(customer)
    await assign(dora, number, engineer.first_name, "en")
    await engineer.press("Accept")
    await report_by_phone(engineer, opinion="Water runs")
    await customer.press("Resolved")
    await customer.press("⭐⭐⭐⭐⭐")
    await customer.press("Yes")
    await customer.press("Skip")
    return number


def _documents(user) -> list:
    return [m for m in user.messages if m.document]


def _bytes(fake, file_id: str) -> bytes:
    return fake.files.get(file_id).data


async def test_a_manager_picks_a_month_and_gets_message_chart_and_workbook(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mona = await enrol(fake, dora, 6101, "Mona", "service_manager")
    ed = await enrol(fake, dora, 6102, "Ed", "engineer")
    number = await _closed_job(fake, dora, ed, 6103)

    await mona.send_text("/report")
    picker = mona.last
    labels = [b["text"] for b in picker.buttons]
    assert labels[0] == en("{month} (to date)", month="March 2026") and labels[1] == "February 2026"
    assert labels[11] == "April 2025" and labels[-1] == en("✖️ Close") and len(labels) == 13

    await mona.press(labels[0])
    assert mona.chat_actions == ["upload_document"]
    text, photo, document = mona.messages[-3:]
    assert en("📊 <b>Monthly report: {month} (to date)</b>", month="March 2026") in text.text
    assert en("{mark} {name}: {rate} ({count} of {total}), target at least {target}: {verdict}", mark="✅", name="Satisfaction",
              rate="100.0%", count=1, total=1, target="85%", verdict="met") in text.text
    assert en("• {fault}: {count} ({share})", fault="Misuse or operating error", count=1, share="100.0%") in text.text
    assert _bytes(fake, photo.photo_file_ids[-1]).startswith(PNG_SIGNATURE)
    assert document.document["file_name"] == "report-2026-03.xlsx"
    book = load_workbook(io.BytesIO(_bytes(fake, document.document["file_id"])))
    jobs = list(book["Job list"].iter_rows(values_only=True))
    assert [row[0] for row in jobs[1:]] == [number]
    assert (jobs[1][3], jobs[1][7], jobs[1][11]) == ("Ed", 5, "Misuse or operating error")

    await mona.press(en("✖️ Close"), picker)
    assert mona.message(picker.message_id).text == en("Closed. Send /report to open the monthly report again.")
    fake.assert_no_rejections()


async def test_others_are_refused_and_forged_months_change_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]  # admin and dispatcher, not a manager
    mona = await enrol(fake, dora, 6201, "Mona", "general_manager")
    ed = await enrol(fake, dora, 6202, "Ed", "engineer")
    alice = fake.add_user(user_id=6203, first_name="Alice", language_code="en")
    await onboard(alice)
    for person in (ed, alice, dora):
        await person.send_text("/report")
        assert person.last.text == en("This command is for managers.")

    await mona.send_text("/report")
    await ed.press_data("1:rpm:202603:show")  # a manager's button, pressed by an engineer
    await mona.press_data("1:rpm:202401:show")  # older than the picker offers
    await mona.press_data("1:rpm:202605:show")  # a month still to come
    await mona.press_data("1:rpm:202613:show")  # no such month
    await mona.press_data("1:rpm:202603:print")  # no such action
    for person in (ed, mona):
        assert person.callback_answers[-1][1] == en("This button is no longer valid.")
        assert not _documents(person) and not person.chat_actions
    async with desk.db.uow() as uow:
        audited = (await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "not_allowed_button"))).all()
    assert sorted(audited) == [6201, 6201, 6201, 6201, 6202]
    fake.assert_no_rejections()


async def test_the_report_goes_to_each_manager_once_on_the_first_at_nine(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mona = await enrol(fake, dora, 6301, "Mona", "service_manager")
    gao = await enrol(fake, dora, 6302, "Gao", "general_manager", "zh-hans")
    bob = await enrol(fake, dora, 6303, "Bob", "marketing_vp")
    ed = await enrol(fake, dora, 6304, "Ed", "engineer")
    number = await _closed_job(fake, dora, ed, 6305)
    await desk.sweep()  # March 2: February's report is due but nothing happened then, so nobody gets it
    assert not any(_documents(p) for p in (mona, gao, bob, dora, ed))
    fake.block(6303)

    desk.clock.set(datetime(2026, 4, 1, 8, 59, tzinfo=SHANGHAI))
    await desk.sweep()
    assert not any(_documents(p) for p in (mona, gao, bob))

    desk.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
    await desk.sweep()
    for manager in (mona, gao):
        (document,) = _documents(manager)
        assert document.document["file_name"] == "report-2026-03.xlsx"
        assert [r[0] for r in load_workbook(io.BytesIO(_bytes(fake, document.document["file_id"]))).worksheets[-1].iter_rows(min_row=2, values_only=True)] == [number]  # the job list, its tab named in the reader's language
        assert any(m.photo_file_ids for m in manager.messages)
    assert "March 2026" in mona.messages[-3].text and "2026年3月" in gao.messages[-3].text
    assert not _documents(bob) and not _documents(dora) and not _documents(ed)
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(6303)).is_reachable is False
        assert (await uow.session.get(AppState, "monthly_report:2026-03")) is not None

    await desk.sweep()
    desk.clock.set(datetime(2026, 4, 3, 9, 0, tzinfo=SHANGHAI))
    await desk.restart()
    await desk.sweep()
    assert [len(_documents(m)) for m in (mona, gao)] == [1, 1]
    blocked = [r for r in fake.rejections if r.error_code == 403]
    assert [r.params["chat_id"] for r in blocked] == [6303]  # tried once, then no more
    fake.assert_no_rejections(allow=lambda r: r.error_code == 403)


async def test_a_report_telegram_refuses_is_sent_later_and_each_language_is_rendered_once(fake, desk, monkeypatch):
    renders, render = [], report_files.render

    def counted(_, report):
        renders.append(_.language)
        return render(_, report)

    monkeypatch.setattr(report_files, "render", counted)
    dora = fake.users[DISPATCHER_ID]
    mona = await enrol(fake, dora, 6401, "Mona", "service_manager")
    max_ = await enrol(fake, dora, 6402, "Max", "production_vp")
    gao = await enrol(fake, dora, 6403, "Gao", "general_manager", "zh-hans")
    ed = await enrol(fake, dora, 6404, "Ed", "engineer")
    await _closed_job(fake, dora, ed, 6405)
    # Telegram keeps answering 429 to Mona's report beyond the bot's own retries
    fake.inject_flood(retry_after=1, times=TELEGRAM_LIMITS.max_retries + 1, method="sendMessage", chat_id=mona.id)

    desk.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
    await desk.sweep()
    assert [len(_documents(m)) for m in (mona, max_, gao)] == [0, 1, 1]
    assert sorted(renders) == ["en", "zh_Hans"]  # Max's and Gao's; Mona's waits for the next round

    desk.clock.set(datetime(2026, 4, 1, 9, 1, tzinfo=SHANGHAI))
    await desk.restart()  # nothing is lost when the bot stops meanwhile
    await desk.sweep()
    await desk.sweep()
    assert [len(_documents(m)) for m in (mona, max_, gao)] == [1, 1, 1]
    assert "March 2026" in mona.messages[-3].text
    async with desk.db.uow() as uow:
        rows = await uow.outbox.of_user((await uow.users.by_telegram_id(mona.id)).id)
        assert [(row.sent_at is not None, row.failure) for row in rows if row.kind == "monthly_report"] == [(True, None)]
    fake.assert_no_rejections(allow=lambda r: r.error_code == 429)


async def test_a_report_whose_workbook_is_refused_is_not_sent_again(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mona = await enrol(fake, dora, 6411, "Mona", "service_manager")
    ed = await enrol(fake, dora, 6414, "Ed", "engineer")
    await _closed_job(fake, dora, ed, 6415)
    fake.inject_flood(retry_after=1, times=TELEGRAM_LIMITS.max_retries + 1, method="sendDocument", chat_id=mona.id)
    seen = len(mona.messages)
    desk.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
    await desk.sweep()
    desk.clock.set(datetime(2026, 4, 1, 9, 5, tzinfo=SHANGHAI))
    await desk.sweep()  # a later round: the report once went out again whole, text and chart twice
    new = mona.messages[seen:]
    assert len([m for m in new if m.text and "March 2026" in m.text]) == 1
    assert len([m for m in new if m.photo_file_ids]) == 1 and _documents(mona) == []
    async with desk.db.uow() as uow:
        rows = await uow.outbox.of_user((await uow.users.by_telegram_id(mona.id)).id)
        assert [(row.sent_at is not None, row.failure) for row in rows if row.kind == "monthly_report"] == [(True, None)]


async def test_a_queued_report_is_not_sent_to_someone_who_is_no_longer_a_manager(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mona = await enrol(fake, dora, 7101, "Mona", "service_manager")
    ed = await enrol(fake, dora, 7102, "Ed", "engineer")
    await _closed_job(fake, dora, ed, 7103)
    fake.inject_flood(retry_after=1, times=TELEGRAM_LIMITS.max_retries + 1, method="sendMessage", chat_id=mona.id)
    desk.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
    await desk.sweep()  # queued for her; Telegram holds the delivery back
    assert not _documents(mona)

    async with desk.db.uow() as uow:  # meanwhile she moves to field work
        admin = await uow.users.by_telegram_id(DISPATCHER_ID)
        target = await uow.users.by_telegram_id(mona.id)
        await staff.toggle_role(uow, admin, target.id, "engineer", desk.clock.now())
        await staff.toggle_role(uow, admin, target.id, "service_manager", desk.clock.now())
        await uow.commit()
    desk.clock.set(datetime(2026, 4, 1, 9, 5, tzinfo=SHANGHAI))
    await desk.sweep()
    await desk.sweep()
    assert not _documents(mona) and not any("report" in (m.text or "").lower() for m in mona.messages)
    async with desk.db.uow() as uow:  # her row is finished, not retried forever
        target = await uow.users.by_telegram_id(mona.id)
        row = await uow.session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == target.id, OutboxMessage.kind == "monthly_report"))
        assert row.sent_at is not None


async def test_a_rating_given_before_the_customer_stopped_counts(fake, desk):
    from bot.services import statistics

    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5701, "Ed", "engineer")
    alice = fake.add_user(user_id=5702, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed)
    await alice.press("Resolved")
    await alice.press("⭐⭐")
    await alice.press("No")
    await alice.send_text("/cancel")  # the comment is optional; an unhappy customer often stops here
    assert "What you already sent is kept" in alice.last.text
    async with desk.db.uow() as uow:
        rows = await statistics.load_month(uow, statistics.Month.of(desk.clock.now(), SHANGHAI), SHANGHAI)
    assert rows.survey_stars == (2,) and [j.stars for j in rows.jobs] == [2]


async def test_a_repeat_repair_counts_against_the_engineer_whose_repair_was_disputed(fake, desk):
    from bot.services import statistics

    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5761, "Ed", "engineer")
    fay = await enrol(fake, dora, 5763, "Fay", "engineer")
    alice = fake.add_user(user_id=5762, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed)
    await move_to_warehouse(dora, "Ed")  # Ed moves to the warehouse while his report waits
    await alice.press("❌ Not resolved")
    await alice.press("Done")
    await assign(dora, number, "Fay")
    await fay.press("Accept")
    await report_by_phone(fay)
    await alice.press("✅ Resolved")
    async with desk.db.uow() as uow:
        rows = await statistics.load_month(uow, statistics.Month.of(desk.clock.now(), SHANGHAI), SHANGHAI)
    repeats = {line.name: line.repeat_repairs for line in statistics.engineer_lines(rows.jobs, rows.trips)}
    assert repeats == {"Fay": 0, "Ed": 1}


async def test_the_report_shows_where_the_months_complaints_cluster(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mona = await enrol(fake, dora, 6501, "Mona", "service_manager")
    await enrol(fake, dora, 6502, "Qin", "complaint_supervisor")
    alice = fake.add_user(user_id=6503, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    for subject in ("📦 The product", "🛎 The service"):
        await alice.send_text(number)
        await alice.press("📣 Complain")
        await alice.press(subject)
        await alice.send_text("The pump stops every hour")
        await alice.press("✅ Send the complaint")

    await mona.send_text("/report")
    await mona.press(mona.last.buttons[0]["text"])
    text = next(m.text for m in reversed(mona.messages) if m.text and "Monthly report" in m.text)
    assert en("<b>Complaint hot spots</b>") in text and en("Complaints registered: {count}", count=2) in text
    assert en("By subject: {summary}", summary="the service 1, the engineer 0, the product 1") in text
    assert en("By decision: {summary}", summary="service fault 0, not a service fault 0, not decided yet 2") in text
    assert en("• {model}: {count}", model="no registered product", count=2) in text  # the request names no registered product
    [document] = _documents(mona)
    book = load_workbook(io.BytesIO(_bytes(fake, document.document["file_id"])))
    assert ("Subject", "the product", 1) in list(book[en("Complaints")].iter_rows(values_only=True))
    fake.assert_no_rejections()


async def test_the_disputed_first_report_survives_in_the_archive_and_the_month(fake, desk):
    from bot.services import archive, statistics

    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5861, "Ed", "engineer")
    fay = await enrol(fake, dora, 5863, "Fay", "engineer")
    alice = fake.add_user(user_id=5862, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await report_by_phone(ed, cause="Valve closed", hours="3")
    await move_to_warehouse(dora, "Ed")
    await alice.press("❌ Not resolved")
    await alice.press("Done")
    await assign(dora, number, "Fay")
    await fay.press("Accept")
    await report_by_phone(fay, cause="Cracked impeller", hours="2")
    await alice.press("✅ Resolved")
    async with desk.db.uow() as uow:
        rows = await statistics.load_month(uow, statistics.Month.of(desk.clock.now(), SHANGHAI), SHANGHAI)
        customer_id = (await uow.customers.by_user_id((await uow.users.by_telegram_id(5862)).id)).id
        kept = await archive.load(uow, archive.CUSTOMER, customer_id)
        causes = [(kept.people[r.engineer_id].first_name, r.cause, r.outcome, r.labour_hours) for r in kept.reports]
    assert causes == [("Ed", "Valve closed", "disputed", 3.0), ("Fay", "Cracked impeller", "confirmed", 2.0)]
    assert sum(j.hours for j in rows.jobs) == 5
    hours = {line.name: line.hours for line in statistics.engineer_lines(rows.jobs, rows.trips)}
    assert hours == {"Ed": 3, "Fay": 2}  # each engineer's own attempt

    await dora.send_text("/archive")  # the workbook lists both reports with their outcome, and the costs add up
    await dora.send_text("Alice")
    await dora.press(dora.last.button_texts[0])
    [sent] = [m for m in dora.messages if m.document is not None]
    assert en("Requests: {requests} · visits: {visits} · reports: {reports}", requests=1, visits=0, reports=2) in sent.caption
    book = load_workbook(io.BytesIO(_bytes(fake, sent.document["file_id"])))
    reports = [(r[0], r[1], r[3], r[9]) for r in book["Reports"].iter_rows(min_row=2, values_only=True)]
    assert reports == [(number, "Ed", "Valve closed", en("disputed by the customer")), (number, "Fay", "Cracked impeller", en("confirmed by the customer"))]
    assert [r[2] for r in book["Costs"].iter_rows(min_row=2, values_only=True)] == [5, 5]  # the request's labour hours, the total
    fake.assert_no_rejections()


async def test_a_report_caught_up_at_night_waits_for_staff_hours(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mona = await enrol(fake, dora, 6501, "Mona", "service_manager")
    ed = await enrol(fake, dora, 6502, "Ed", "engineer")
    await _closed_job(fake, dora, ed, 6503)
    desk.clock.set(datetime(2026, 4, 1, 23, 30, tzinfo=SHANGHAI))  # the desk was down from before 09:00 until 23:30
    await desk.restart()
    await desk.sweep()
    assert not _documents(mona)  # staff are reachable 08:00–22:00
    desk.clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=SHANGHAI))
    await desk.sweep()
    assert len(_documents(mona)) == 1


async def test_a_month_due_while_no_manager_could_receive_it_goes_to_the_first_one_enrolled(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 6602, "Ed", "engineer")
    await _closed_job(fake, dora, ed, 6603)
    desk.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
    await desk.sweep()  # due, and nobody holds a manager role yet
    async with desk.db.uow() as uow:
        assert (await uow.session.get(AppState, "monthly_report:2026-03")) is None
    mona = await enrol(fake, dora, 6601, "Mona", "service_manager")
    for hour in (10, 11):
        desk.clock.set(datetime(2026, 4, 2, hour, 0, tzinfo=SHANGHAI))
        await desk.sweep()
    assert len(_documents(mona)) == 1
