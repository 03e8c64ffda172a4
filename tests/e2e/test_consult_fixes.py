"""Over HTTP: a customer's follow-up question on an answered consultation is due like the first one
and reaches the salespeople who may answer it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol, file_request, onboard


async def _answered_consultation(fake, sam):
    alice = fake.add_user(user_id=6024, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    notice = next(m for m in sam.messages if number in (m.text or ""))
    await sam.press("💬 Answer the customer", notice)
    await sam.send_text("Use ISO VG 46 hydraulic oil.")
    return alice, number


@dataclass(frozen=True)
class Clock:
    kind: str
    due_at: datetime | None
    stopped_at: datetime | None
    outcome: str | None


async def _clocks(desk, number: str) -> list[Clock]:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        return [Clock(c.kind, c.due_at, c.stopped_at, c.outcome) for c in await uow.requests.clocks(request.id)]


async def test_a_follow_up_question_on_a_consultation_has_an_answer_deadline_and_reaches_the_salespeople(fake, desk):
    """DESIGN §1: a consultation is answered within 8 h of being received; the customer's reply to
    the answer is a question received now. The salesperson who answered hears of it, with the button."""
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 6905, "Sam", "salesperson")
    alice, number = await _answered_consultation(fake, sam)
    await alice.press("Reply")
    seen = len(sam.messages)
    asked_at = desk.clock.now()
    await alice.send_text("And how many litres does it take?")
    told = [m for m in sam.messages[seen:] if "how many litres" in (m.text or "")]
    assert len(told) == 1 and "💬 Answer the customer" in told[0].button_texts
    await alice.send_text("It is the 50-120 model.")  # more of the same question: no second deadline
    (clock,) = await _clocks(desk, number)
    assert clock.stopped_at is None and clock.due_at == asked_at + timedelta(hours=8)

    desk.clock.advance(timedelta(hours=9))
    await desk.sweep()
    await dora.send_text("/overdue")
    assert number in dora.last.text

    await sam.press("💬 Answer the customer", told[0])
    await sam.send_text("About 2 litres.")
    assert "About 2 litres." in alice.last.text
    (clock,) = await _clocks(desk, number)
    assert clock.stopped_at == desk.clock.now() and clock.outcome == "breached"
    fake.assert_no_rejections()


async def test_comments_before_the_first_answer_do_not_hold_the_answer_clock_open(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 6905, "Sam", "salesperson")
    alice = fake.add_user(user_id=6024, first_name="Alice", language_code="en")
    await onboard(alice)
    filed_at = desk.clock.now()
    number = await file_request(alice, kind_label="Consultation", description="Which oil grade does the QJ pump need?")
    await alice.send_text(number)
    await alice.press("💬 Add comment or photos")
    desk.clock.advance(timedelta(hours=1))
    await alice.send_text("It is the 50-120 model.")
    await alice.send_text("Installed last spring.")
    (clock,) = await _clocks(desk, number)
    assert clock.due_at == filed_at + timedelta(hours=8)  # still the question's own deadline
    notice = next(m for m in reversed(sam.messages) if "Installed last spring." in (m.text or ""))
    await sam.press("💬 Answer the customer", notice)
    await sam.send_text("Use ISO VG 46 hydraulic oil.")
    (clock,) = await _clocks(desk, number)
    assert clock.stopped_at is not None and clock.outcome == "met"


async def test_a_comment_on_a_repair_starts_no_answer_clock_and_the_salespeople_do_not_hear_of_it(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 6905, "Sam", "salesperson")
    alice = fake.add_user(user_id=6024, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    await alice.press("💬 Add comment or photos")
    await alice.send_text("It trips after 5 minutes, not 10.")
    assert "consultation_answer" not in {c.kind for c in await _clocks(desk, number)}
    assert not any("not 10" in (m.text or "") for m in sam.messages)
