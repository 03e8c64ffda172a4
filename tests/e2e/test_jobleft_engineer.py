"""What a job leaves behind when it changes engineer: his on-site attempt, his open report or
requisition dialog, and the customer the bot cannot reach who must hear the visit is off."""
from __future__ import annotations

from sqlalchemy import select

from bot.services import jobs, reports, stock
from storage.models import Customer, User, Visit
from tests.e2e.helpers import TRANSLATORS, arrive, t
from tests.e2e.test_reassign_cancel import assigned_job


async def _reassign(dora, number: str, engineer: str) -> None:
    await dora.send_text(number)
    await dora.press("👷 Reassign", dora.last)
    await dora.press(engineer)


async def _visits(desk, number: str) -> list[Visit]:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        visits = list(await uow.session.scalars(select(Visit).where(Visit.request_id == request.id).order_by(Visit.id)))
        uow.session.expunge_all()  # read after the unit of work ends
        return visits


async def _draft_of(desk, person) -> str | None:
    """The kind of the person's open dialog, if any."""
    async with desk.db.uow() as uow:
        draft = await uow.drafts.of_user((await uow.users.by_telegram_id(person.id)).id)
        return draft.kind if draft is not None else None


async def test_a_job_back_with_its_engineer_starts_a_new_attempt_after_his_arrival(fake, desk):
    """Ed arrived on site, the job went to Fay and came back to him: his old arrival is history
    (a person-trip of its own), and he starts afresh: by phone, or setting off and arriving again."""
    dora, ed, fay, alice, number = await assigned_job(fake, 8610)
    await ed.press("✅ Accept")
    await arrive(ed, number)
    for engineer in ("Fay", "Ed"):
        await _reassign(dora, number, engineer)
    await ed.press("✅ Accept")
    await ed.send_text("/jobs")
    await ed.press(number)
    card = ed.last
    assert "Visit:" not in card.text, "the arrival of before still shows as his current visit"
    assert "☎️ Solved by phone" in card.button_texts
    await ed.press("📍 Arrived", card)
    answer = ed.callback_answers[-1]
    assert not (answer[2] and "already recorded" in (answer[1] or "")), "a new arrival is refused"
    await ed.send_location(34.7467, 113.6254)
    assert any("Arrival at job" in (m.text or "") and "recorded" in (m.text or "") for m in ed.messages[-3:])
    arrivals = [v for v in await _visits(desk, number) if v.arrived_at is not None]
    assert len(arrivals) == 2, "each arrival is a person-trip of its own"
    assert arrivals[-1].state == jobs.ARRIVED
    fake.assert_no_rejections()


async def test_the_open_report_of_the_engineer_who_lost_the_job_is_ended(fake, desk):
    dora, ed, fay, alice, number = await assigned_job(fake, 8620)
    await ed.press("✅ Accept")
    await arrive(ed, number)
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("📝 Close with report")
    await ed.send_text("No water")  # the symptom; the report now asks for the cause
    assert await _draft_of(desk, ed) == reports.REPORT
    seen = len(ed.messages)
    await _reassign(dora, number, "Fay")
    assert await _draft_of(desk, ed) is None, "his report dialog is still open on a job no longer his"
    told = "\n".join(m.text or "" for m in ed.messages[seen:])
    assert t("en", "The report you were writing for job {number} is closed; nothing of it was sent.", number=number) in told
    seen = len(ed.messages)
    await ed.send_text("Valve closed")  # what he meant as the cause
    reply = "\n".join(m.text or "" for m in ed.messages[seen:])
    assert "fault type" not in reply.lower() and await _draft_of(desk, ed) is None
    fake.assert_no_rejections()


async def test_the_open_requisition_of_the_engineer_who_lost_the_job_is_ended(fake, desk):
    dora, ed, fay, alice, number = await assigned_job(fake, 8630)
    await ed.press("✅ Accept")
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("🔩 Request parts")
    assert await _draft_of(desk, ed) == stock.REQUISITION_DIALOG
    seen = len(ed.messages)
    await _reassign(dora, number, "Fay")
    assert await _draft_of(desk, ed) is None, "his requisition dialog is still open on a job no longer his"
    told = "\n".join(m.text or "" for m in ed.messages[seen:])
    assert t("en", "The parts requisition you were filling in for job {number} is closed; nothing of it was sent.", number=number) in told
    fake.assert_no_rejections()


async def _agreed_visit_then_unreachable(fake, desk, base: int):
    """Ed accepted Alice's job and she agreed his visit; then she blocked the bot (the outbox
    marked her unreachable). (dora, ed, fay, alice, number, the visit, her phone)"""
    dora, ed, fay, alice, number = await assigned_job(fake, base)
    await ed.press("✅ Accept")
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("📅 Propose a visit")
    await ed.press("Tomorrow 09:00")
    await alice.press("✅ That suits me", alice.last)
    [visit] = await _visits(desk, number)
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(alice.id)
        user.is_reachable = False
        phone = (await uow.session.scalar(select(Customer).where(Customer.user_id == user.id))).phone
        await uow.commit()
    return dora, ed, fay, alice, number, visit, phone


async def test_the_dispatcher_is_told_to_phone_a_customer_without_a_chat_about_the_visit_off(fake, desk):
    dora, ed, fay, alice, number, visit, phone = await _agreed_visit_then_unreachable(fake, desk, 8640)
    seen = len(dora.messages)
    await _reassign(dora, number, "Fay")
    told = "\n".join(m.text or "" for m in dora.messages[seen:])
    assert t("en", "The customer of request {number} cannot get messages from this bot and does not know the visit on {time} is off: "
                   "phone them on {phone}.", number=number, time=TRANSLATORS["en"].datetime(visit.planned_at), phone=phone) in told, \
        "the dispatcher is not told to phone the customer"
    fake.assert_no_rejections()


async def test_the_dispatchers_are_told_to_phone_a_customer_without_a_chat_when_the_engineer_is_deactivated(fake, desk):
    dora, ed, fay, alice, number, visit, phone = await _agreed_visit_then_unreachable(fake, desk, 8650)
    seen = len(dora.messages)
    await dora.send_text("/staff")
    await dora.press("Ed")
    await dora.press("⛔ Deactivate")
    told = "\n".join(m.text or "" for m in dora.messages[seen:])
    assert t("en", "The customer of request {number} cannot get messages from this bot and does not know the visit on {time} is off: "
                   "phone them on {phone}.", number=number, time=TRANSLATORS["en"].datetime(visit.planned_at), phone=phone) in told
    fake.assert_no_rejections()
