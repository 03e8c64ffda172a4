"""Over HTTP: the /sell form's serial number check and what the customer is told of a consultation sales filed."""
from __future__ import annotations

import re

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol, onboard


async def _to_serial_step(sam, kind_label: str = "Fault repair") -> None:
    await sam.send_text("/sell")
    await sam.press(kind_label)
    await sam.send_text("Alice")
    await sam.send_text("+86 138 0013 8000")


async def test_a_serial_on_the_sales_form_has_the_intakes_limit_and_message(fake, desk):
    """Sam types an over-long serial: like a customer at /new, he is told the one limit (40), whatever
    the length; a 41-character serial is refused as one of 65 is, and a 40-character one is taken."""
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7301, "Sam", "salesperson")
    await _to_serial_step(sam)
    await sam.send_text("QJ-" + "7" * 62)  # 65 characters
    too_long = sam.last.text
    assert "at most 40 characters" in too_long
    await sam.send_text("QJ-" + "7" * 38)  # 41 characters
    assert sam.last.text == too_long
    alice = fake.add_user(user_id=7302, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.send_text("QJ-" + "7" * 62)
    assert alice.last.text == too_long  # the customer's intake says the same
    await sam.send_text("QJ-" + "7" * 37)  # 40 characters: accepted
    assert "What is wrong, or what is to be done?" in sam.last.text
    fake.assert_no_rejections()


async def test_a_customer_told_of_a_consultation_sales_filed_is_promised_an_answer_not_a_call(fake, desk):
    """Sam files a consultation for Alice, who uses the bot; once approved she is told when the
    answer is due (DESIGN: consultation answered within 8 h), not that someone will contact her."""
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7311, "Sam", "salesperson")
    mia = await enrol(fake, dora, 7312, "Mia", "marketing_vp")
    pavel = await enrol(fake, dora, 7313, "Pavel", "production_vp")
    alice = fake.add_user(user_id=7314, first_name="Alice", language_code="en")
    await onboard(alice)  # +8613800138000, her own contact
    await _to_serial_step(sam, "Consultation")
    await sam.press("I don't know it")
    await sam.send_text("Which oil grade does the QJ pump need?")
    await sam.press("📤 Send for approval")
    number = re.search(r"SR-\d{4}-\d{6}", sam.last.text).group(0)
    for approver in (mia, pavel):
        card = next(m for m in reversed(approver.messages) if number in (m.text or "") and "✅ Approve" in m.button_texts)
        await approver.press("✅ Approve", card)
    told = next(m.text for m in reversed(alice.messages) if number in (m.text or ""))
    assert "Our sales team registered request" in told
    assert "We will contact you by" not in told
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        clocks = {c.kind: c for c in await uow.requests.clocks(request.id) if c.stopped_at is None}
    assert "consultation_answer" in clocks
    assert "Answer promised by" in told
    fake.assert_no_rejections()
