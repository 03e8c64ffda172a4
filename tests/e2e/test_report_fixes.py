"""The engineer's closing report over HTTP: each attempt after "❌ Not resolved" documents its own
visit, and the dialog names the job it reports on."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import Draft
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import accepted_job, arrive, assign, enrol, file_request, onboard, t


async def _on_site_report(ed, photos: int) -> None:
    """Every step of an on-site report up to the photos, and `photos` photos sent."""
    await ed.press("📝 Close with report")
    await ed.send_text("Breaker trips")
    await ed.send_text("Worn bearing")
    await ed.press("Mechanical (bearings, impeller, gears)")
    await ed.send_text("Replaced the bearing")
    await ed.press("No parts were used")
    await ed.send_text("2")
    await ed.send_text("40")
    await ed.send_text("60")
    for _ in range(photos):
        await ed.send_photo()


async def _disputed_visit(fake, desk, engineer_id: int, customer_id: int, *, photos: int) -> tuple:
    """A first visit reported with `photos` photos, which the customer says did not solve it:
    (engineer, customer, number), a day later."""
    dora, ed, alice, number = await accepted_job(fake, engineer_id, customer_id)
    await arrive(ed, number)
    await _on_site_report(ed, photos=photos)
    await ed.press("✅ Done")
    await ed.send_text("Runs quietly")
    await ed.press("📤 Send the report")
    desk.clock.advance(timedelta(hours=3))
    await alice.press("❌ Not resolved")
    desk.clock.advance(timedelta(days=1))
    return ed, alice, number


async def _draft(desk, telegram_id: int) -> tuple[str, dict] | None:
    """The engineer's open dialog: (step, data)."""
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(telegram_id)
        draft = await uow.session.scalar(select(Draft).where(Draft.user_id == user.id))
        return None if draft is None else (draft.step, dict(draft.data))


async def _reports_and_photos(desk, number: str) -> tuple[list, list[str]]:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        reports = [(r.travel_km, r.superseded_at is not None) for r in await uow.jobs.reports_of(request.id)]
        photos = [a.file_id for a in await uow.requests.attachments(request.id) if a.kind == "report_photo"]
        return reports, photos


async def test_the_second_visit_after_not_resolved_can_and_must_document_its_own_work(fake, desk):
    ed, alice, number = await _disputed_visit(fake, desk, 7801, 7802, photos=10)
    _, first_photos = await _reports_and_photos(desk, number)
    await arrive(ed, number)
    await _on_site_report(ed, photos=1)
    assert "the maximum" not in ed.last.text
    assert len((await _draft(desk, ed.id))[1]["photos"]) == 1  # only this visit's photo
    await ed.press("✅ Done")
    await ed.send_text("Runs quietly now")
    assert t("en", "Photos: {count}", count=1) in ed.last.text
    await ed.press("📤 Send the report")
    reports, photos = await _reports_and_photos(desk, number)
    assert reports == [(40.0, True), (40.0, False)]  # both trips, the disputed one kept
    assert len(photos) == 11 and photos[:10] == first_photos  # the first visit's photos stay with the request
    fake.assert_no_rejections()


async def test_the_second_visit_needs_a_photo_of_its_own(fake, desk):
    ed, alice, number = await _disputed_visit(fake, desk, 7811, 7812, photos=1)
    await arrive(ed, number)
    await _on_site_report(ed, photos=0)
    await ed.press("✅ Done")
    assert ed.callback_answers[-1][1] == "On-site work needs at least one photo. Send a photo, then press “Done”."
    assert (await _draft(desk, ed.id))[0] == "photos"


async def test_the_second_on_site_report_needs_a_second_arrival(fake, desk):
    ed, alice, number = await _disputed_visit(fake, desk, 7821, 7822, photos=1)
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("📝 Close with report")
    assert ed.callback_answers[-1][1] == f"Mark “Arrived” on site first, or choose “Solved by phone” for {number}."
    assert await _draft(desk, ed.id) is None


async def test_editing_the_second_report_shows_only_its_own_photos(fake, desk):
    ed, alice, number = await _disputed_visit(fake, desk, 7831, 7832, photos=3)
    await arrive(ed, number)
    await _on_site_report(ed, photos=1)
    await ed.press("✅ Done")
    await ed.send_text("Runs quietly now")
    await ed.press("📤 Send the report")
    desk.clock.advance(timedelta(minutes=20))
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("✏️ Edit report")
    assert t("en", "Photos: {count}", count=1) in ed.last.text
    await ed.press("✏️ Change something")
    await ed.press("Photos")
    await ed.send_photo()
    await ed.press("✅ Done")
    assert t("en", "Photos: {count}", count=2) in ed.last.text
    await ed.press("📤 Send the report")
    _, photos = await _reports_and_photos(desk, number)
    assert len(photos) == 5  # three of the first visit, two of the second
    fake.assert_no_rejections()


async def _two_accepted_jobs(fake, engineer_id: int, customer_id: int) -> tuple:
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, engineer_id, "Ed", "engineer")
    alice = fake.add_user(user_id=customer_id, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice, description="Pump A trips")
    second = await file_request(alice, description="Pump B leaks")
    for number in (first, second):
        await assign(dora, number, "Ed")
        await ed.press("Accept")
    return ed, first, second


async def test_a_typed_job_number_is_not_saved_as_report_text(fake, desk):
    ed, first, second = await _two_accepted_jobs(fake, 7951, 7952)
    await arrive(ed, first)
    await ed.press("📝 Close with report")
    await ed.send_text("Breaker trips")
    await ed.send_text(second)
    assert "Which type of fault" not in ed.last.text
    assert second in ed.last.text and "/jobs" in ed.last.text  # says how to open that job
    step, data = await _draft(desk, ed.id)
    assert (step, "cause" in data) == ("cause", False)
    await ed.send_text("Worn bearing")  # the report goes on where it stopped
    assert "Which type of fault" in ed.last.text


async def test_a_report_prompt_names_its_job(fake, desk):
    ed, first, second = await _two_accepted_jobs(fake, 7961, 7962)
    await arrive(ed, first)
    await ed.press("📝 Close with report")
    assert ed.last.text.startswith(t("en", "📝 Report for {number}, step {index} of {total}", number=first, index=1, total=10))
    await ed.send_text("Breaker trips")
    assert first in ed.last.text and second not in ed.last.text


async def test_the_report_summary_names_the_job(fake, desk):
    ed, first, second = await _two_accepted_jobs(fake, 7971, 7972)
    await ed.send_text("/jobs")
    await ed.press(second)
    await ed.press("☎️ Solved by phone")
    await ed.send_text("No water")
    await ed.send_text("Valve closed")
    await ed.press("Misuse or operating error")
    await ed.send_text("Told the customer to open the valve")
    await ed.press("No parts were used")
    await ed.send_text("0.5")
    await ed.send_text("Customer will try")
    assert ed.last.text.startswith(t("en", "<b>Check the report for {number} before sending</b>", number=second))
    assert first not in ed.last.text
