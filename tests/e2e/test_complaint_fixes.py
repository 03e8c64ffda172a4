"""Complaints over HTTP, the paths a review found broken: a phoned-in complaint about a request the
sales approval chain turned down; the customer of a complaint registered for them by phone."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.i18n import Translator
from bot.services import staff
from storage.models import Complaint, Draft
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard


def _number(text: str) -> str:
    return re.search(r"SR-\d{4}-\d{6}", text).group(0)


async def _sell(sam, text: str) -> str:
    """The salesperson files a repair for Alice (+8613800138000); the request number."""
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Alice")
    await sam.send_text("+86 138 0013 8000")
    await sam.press("I don't know it")
    await sam.send_text(text)
    await sam.press("📤 Send for approval")
    return _number(sam.last.text)


async def test_a_complaint_cannot_be_registered_about_a_sales_request_the_chain_turned_down(fake, desk):
    """README: a sales request not accepted (by the service) is refused by /complaint. One the
    approval chain rejected never was: the supervisor is told so, not met with an apology."""
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    alice = fake.add_user(user_id=5003, first_name="Alice", language_code="en")
    await onboard(alice)  # +8613800138000
    turned_down = await _sell(sam, "The irrigation pump stops after an hour")
    card = next(m for m in reversed(mia.messages) if turned_down in (m.text or "") and "❌ Reject" in m.button_texts)
    await mia.press("❌ Reject", card)
    await mia.send_text("Customer has unpaid invoices; sales must collect first")

    await qin.send_text(f"/complaint {turned_down}")
    assert f"A complaint cannot be registered about {turned_down}" in qin.last.text
    assert "Sorry, something went wrong" not in qin.last.text
    async with desk.db.uow() as uow:
        qin_id = (await uow.users.by_telegram_id(qin.id)).id
        assert await uow.session.scalar(select(func.count()).select_from(Draft).where(Draft.user_id == qin_id)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(Complaint)) == 0


async def test_a_customer_whose_phoned_in_complaint_is_registered_is_told_its_number_and_answer_time(fake, desk):
    """README: a complaint registered by a supervisor gets the same number, clock and /my entry as
    one the customer files, and the customer is told when the written answer is due. Sales filing
    a request for a customer tells them too; a complaint taken down on the phone must not appear
    in their /my unannounced, with a promise they never heard of."""
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    await enrol(fake, dora, 7403, "Ed", "engineer")
    alice = fake.add_user(user_id=5105, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    seen = len(alice.messages)

    await qin.send_text(f"/complaint {number}")
    await qin.press("🛎 The service")
    await qin.send_text("Phoned in: nobody told her the visit was moved")
    await qin.press("✅ Register the complaint")
    complaint_number = _number(qin.last.text)
    assert f"Complaint {complaint_number} is registered for Alice." in qin.last.text
    assert "cannot be reached" not in qin.last.text

    told = [m for m in alice.messages[seen:] if complaint_number in (m.text or "")]
    assert len(told) == 1
    assert f"Your complaint {complaint_number} is registered." in told[0].text and number in told[0].text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(complaint_number)
        clock = next(c for c in await uow.requests.clocks(request.id) if c.kind == "complaint_answer")
        assert clock.due_at is not None and clock.stopped_at is None
        promised = Translator("en", desk.settings.timezone).datetime(clock.due_at)
    assert f"Written answer promised by: {promised}" in told[0].text
    fake.assert_no_rejections()


async def test_a_supervisor_deactivated_while_he_types_a_phoned_in_complaint_is_told_not_met_with_an_apology(fake, desk):
    """The role is checked again at every step (README: anyone without the role is refused). The
    buttons of the dialog say so and end it; the typed description must too, instead of failing
    with "something went wrong" on every try while the dialog stays open."""
    dora = fake.users[DISPATCHER_ID]
    qin = await enrol(fake, dora, 7401, "Qin", "complaint_supervisor")
    alice = fake.add_user(user_id=5106, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)

    await qin.send_text(f"/complaint {number}")
    await qin.press("🛎 The service")
    assert "Write the customer's complaint as they told it" in qin.last.text
    async with desk.db.uow() as uow:  # meanwhile an admin deactivates him (he leaves the company)
        admin = await uow.users.by_telegram_id(dora.id)
        qin_id = (await uow.users.by_telegram_id(qin.id)).id
        await staff.set_active(uow, admin, qin_id, False, desk.clock.now())
        await uow.commit()

    await qin.send_text("Phoned in: nobody told her the visit was moved")
    assert qin.last.text == "Only a complaint supervisor can register a complaint for a customer; nothing was registered."
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Draft).where(Draft.user_id == qin_id)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(Complaint)) == 0
    await qin.send_text("Phoned in: nobody told her the visit was moved")  # the dialog is over: no apology either
    assert "Sorry, something went wrong" not in qin.last.text
    fake.assert_no_rejections()
