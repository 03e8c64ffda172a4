"""Reassignment and the visit the customer agreed with the engineer who had the job before."""
from __future__ import annotations

from sqlalchemy import select

from bot.services import jobs
from storage.models import Visit
from tests.e2e.helpers import TRANSLATORS, t
from tests.e2e.test_reassign_cancel import assigned_job


async def _job_with_a_proposal(fake, base: int, *, agreed: bool):
    """Ed accepted Alice's request and proposed a visit tomorrow at 09:00 (agreed by her, or pending)."""
    dora, ed, fay, alice, number = await assigned_job(fake, base)
    await ed.press("✅ Accept")
    await ed.press("📅 Propose a visit")
    await ed.press("Tomorrow 09:00")
    proposal = alice.last
    assert "✅ That suits me" in proposal.button_texts
    if agreed:
        await alice.press("✅ That suits me", proposal)
        assert "agreed" in alice.last.text
    return dora, ed, fay, alice, number, proposal


async def _reassign(dora, number: str, engineer: str) -> None:
    await dora.send_text(number)
    await dora.press("👷 Reassign", dora.last)
    await dora.press(engineer)


async def _visits(desk, number: str) -> list[tuple[str, object]]:
    """(state, planned_at) of the request's visits, oldest first."""
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        visits = await uow.session.scalars(select(Visit).where(Visit.request_id == request.id).order_by(Visit.id))
        return [(v.state, v.planned_at) for v in visits]


async def test_the_customer_is_told_the_agreed_visit_is_off_when_the_job_is_reassigned(fake, desk):
    dora, ed, fay, alice, number, _ = await _job_with_a_proposal(fake, 8310, agreed=True)
    [(_, planned_at)] = await _visits(desk, number)
    seen = len(alice.messages)
    await _reassign(dora, number, "Fay")
    told = "\n".join(m.text or "" for m in alice.messages[seen:])
    en = TRANSLATORS["en"]
    assert t("en", "📅 The visit on {time} for request {number} is off: engineer {name} now has the job and will propose a new time.",
             time=en.datetime(planned_at), number=number, name="Fay") in told
    await alice.send_text(f"/status {number}")
    assert "Visit planned" not in alice.last.text
    fake.assert_no_rejections()


async def test_a_pending_proposal_is_off_too_and_its_button_books_nothing(fake, desk):
    dora, ed, fay, alice, number, proposal = await _job_with_a_proposal(fake, 8320, agreed=False)
    seen = len(alice.messages)
    await _reassign(dora, number, "Fay")
    assert any("is off: engineer Fay now has the job" in (m.text or "") for m in alice.messages[seen:])
    await fay.press("✅ Accept")
    told_ed = len(ed.messages)
    data = {b["text"]: b["callback_data"] for b in proposal.buttons}  # Ed's proposal, answered late: both its buttons
    await alice.press_data(data["🕑 Suggest another time"], proposal)  # no counter-offer to a visit that is off
    answer = alice.callback_answers[-1]
    assert answer[2] and "called off" in (answer[1] or "")
    await alice.press_data(data["✅ That suits me"], proposal)
    answer = alice.callback_answers[-1]
    assert answer[2] and "called off" in (answer[1] or "") and "agreed" not in (answer[1] or "")
    async with desk.db.uow() as uow:
        assert await uow.drafts.of_user((await uow.users.by_telegram_id(alice.id)).id) is None  # no counter-offer dialog
    assert not any("agreed to the visit" in (m.text or "") for m in ed.messages[told_ed:] + fay.messages)
    [(state, _)] = await _visits(desk, number)
    assert state != jobs.ACCEPTED
    fake.assert_no_rejections(allow=lambda r: "not modified" in r.description)  # the second stale press: its buttons were already gone


async def test_an_old_proposal_does_not_book_a_visit_when_the_job_comes_back_to_its_engineer(fake, desk):
    dora, ed, fay, alice, number, proposal = await _job_with_a_proposal(fake, 8330, agreed=False)
    for engineer in ("Fay", "Ed"):  # reassigned, then given back
        await _reassign(dora, number, engineer)
    await ed.press("✅ Accept")
    told_ed = len(ed.messages)
    await alice.press("✅ That suits me", proposal)  # the proposal of before the reassignment
    assert not any("agreed to the visit" in (m.text or "") for m in ed.messages[told_ed:])
    assert all(state != jobs.ACCEPTED for state, _ in await _visits(desk, number))
    await ed.send_text("/jobs")
    await ed.press(number)
    assert "Visit:" not in ed.last.text  # he proposes afresh
    await alice.send_text(f"/status {number}")
    assert "Visit planned" not in alice.last.text
    fake.assert_no_rejections()


async def test_an_agreed_visit_does_not_look_agreed_when_the_job_comes_back_to_its_engineer(fake, desk):
    dora, ed, fay, alice, number, _ = await _job_with_a_proposal(fake, 8340, agreed=True)
    for engineer in ("Fay", "Ed"):
        await _reassign(dora, number, engineer)
    await ed.press("✅ Accept")
    await ed.send_text("/jobs")
    await ed.press(number)
    assert "Visit:" not in ed.last.text, "the visit called off at the reassignment looks agreed"
    await alice.send_text(f"/status {number}")
    assert "Visit planned" not in alice.last.text
    await ed.press("📅 Propose a visit")  # a new proposal reaches the customer as one of its own
    await ed.press("In 2 days 09:00")
    await alice.press("✅ That suits me", alice.last)
    assert "agreed" in alice.last.text
    states = [state for state, _ in await _visits(desk, number)]
    assert states[-1] == jobs.ACCEPTED and states[0] != jobs.ACCEPTED
    fake.assert_no_rejections()


async def test_the_customer_is_told_the_agreed_visit_is_off_when_the_engineer_is_deactivated(fake, desk):
    """Ed leaves the company with Alice's visit agreed: his job goes back to the queue, and Alice
    learns both that another engineer will come and that the visit she agreed is off."""
    dora, ed, fay, alice, number, _ = await _job_with_a_proposal(fake, 8350, agreed=True)
    [(_, planned)] = await _visits(desk, number)
    seen = len(alice.messages)
    await dora.send_text("/staff")
    await dora.press("Ed")
    await dora.press("⛔ Deactivate")
    told = "\n".join(m.text or "" for m in alice.messages[seen:])
    assert "will get another engineer" in told
    assert "is off: the new engineer will propose a new time" in told
    assert TRANSLATORS["en"].datetime(planned) in told
    assert [state for state, _ in await _visits(desk, number)] == [jobs.CANCELLED]
    fake.assert_no_rejections()
