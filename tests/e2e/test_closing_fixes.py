"""Closing over HTTP: what ends with a request the customer's verdict or the confirmation timeout
closes, and what a customer writes while the report waits for their answer."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import approvals, notices
from storage.models import Approval, RequestEvent
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import accepted_job, enrol, report_by_phone


async def _reported_with_a_waiver_open(fake, desk, engineer_id: int, customer_id: int, vp_id: int):
    """Alice's job reported done (the report waits for her answer) while a fee waiver the
    dispatcher asked for is still with the marketing VP, whose card has live buttons.
    (dora, ed, alice, mia, number, mia's card)"""
    dora, ed, alice, number = await accepted_job(fake, engineer_id, customer_id)
    mia = await enrol(fake, dora, vp_id, "Mia", "marketing_vp")
    await report_by_phone(ed)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.status == "resolved"
        asker = await uow.users.by_telegram_id(DISPATCHER_ID)
        waiver = await approvals.request_approval(uow, desk.policy, asker, request, "waiver", desk.clock.now(),
                                                  amount_minor=80_000, reason="Long-standing customer")
        for approver in await approvals.approvers(uow, desk.policy, waiver):
            await notices.queue(uow, approver, notices.APPROVAL, {"approval_id": waiver.id, "step": waiver.step},
                                f"test_card:{waiver.id}:{approver.id}", desk.clock.now())
        await uow.commit()
    await desk.sweep()  # the card goes out
    card = mia.last
    assert number in card.text and "✅ Approve" in card.button_texts
    return dora, ed, alice, mia, number, card


async def _waiver_status(desk, number: str) -> str:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        return (await uow.session.scalars(select(Approval).where(Approval.request_id == request.id, Approval.kind == "waiver"))).one().status


async def test_resolved_withdraws_a_fee_waiver_still_with_the_approvers(fake, desk):
    """README: closing a request withdraws its open approvals, and the approvers' cards say so.
    The customer's "Resolved" closed the request but left the waiver pending, its card's buttons
    only refusing, and the dispatcher who asked for it never told."""
    dora, ed, alice, mia, number, card = await _reported_with_a_waiver_open(fake, desk, 7961, 5961, 7962)
    dora_seen = len(dora.messages)
    await alice.press("✅ Resolved")
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == "closed"
    assert await _waiver_status(desk, number) == "withdrawn"
    redrawn = mia.message(card.message_id)
    assert "the request was cancelled or closed" in redrawn.text and not redrawn.buttons
    assert any(number in (m.text or "") and "the request was cancelled or closed" in (m.text or "") for m in dora.messages[dora_seen:])
    fake.assert_no_rejections()


async def test_the_confirmation_timeout_withdraws_a_fee_waiver_and_tells_who_asked_and_the_approvers(fake, desk):
    """The sweep closes the request "confirmed by timeout": the open waiver ends with it, the
    dispatcher who asked hears it, and so does the approver whose card still had buttons (in staff hours)."""
    dora, ed, alice, mia, number, card = await _reported_with_a_waiver_open(fake, desk, 7963, 5963, 7964)
    dora_seen, mia_seen = len(dora.messages), len(mia.messages)
    desk.clock.advance(desk.policy.closing.confirmation_timeout + timedelta(minutes=1))
    await desk.sweep()
    desk.clock.advance(timedelta(hours=14))  # past the night: staff news waits for reachable hours
    await desk.sweep()
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.closed_reason) == ("closed", "timeout")
        events = (await uow.session.scalars(select(RequestEvent).where(RequestEvent.request_id == request.id))).all()
        assert any(e.action == "approval_decided" and e.details.get("decision") == approvals.WITHDRAW for e in events)
    assert await _waiver_status(desk, number) == "withdrawn"
    withdrawn = "the request was cancelled or closed"
    assert any(number in (m.text or "") and withdrawn in (m.text or "") for m in dora.messages[dora_seen:])
    told = [m for m in mia.messages[mia_seen:] if number in (m.text or "") and withdrawn in (m.text or "")]
    assert len(told) == 1 and not told[0].buttons
    await desk.sweep()  # a second sweep adds nothing
    assert len([m for m in mia.messages[mia_seen:] if withdrawn in (m.text or "")]) == 1
    fake.assert_no_rejections()


async def test_a_comment_typed_after_the_report_is_kept_and_passed_on_before_the_question(fake, desk):
    """Alice was in comment mode when the engineer reported the job done; what she then typed was
    dropped (comments are refused once the request is not open) and only the question came back.
    Nothing the customer types may be lost: it is the customer's comment on the request, the
    dispatcher and the engineer whose report waits read it, and then she is asked."""
    dora, ed, alice, number = await accepted_job(fake, 7971, 5971)
    await alice.send_text(number)
    await alice.press("💬 Add comment or photos")
    await ed.send_text("/jobs")
    await ed.press(number)
    await report_by_phone(ed)
    dora_seen, ed_seen = len(dora.messages), len(ed.messages)
    await alice.send_text("It works, but the pump is louder than before")

    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.status == "resolved"  # her answer to the report is still hers to give
        comments = [e.details.get("text") for e in await uow.requests.events(request.id, include_internal=False) if e.action == "comment"]
        assert comments == ["It works, but the pump is louder than before"]
    for staff, seen in ((dora, dora_seen), (ed, ed_seen)):
        assert any(number in (m.text or "") and "It works, but the pump is louder than before" in (m.text or "") for m in staff.messages[seen:])
    assert alice.messages[-2].text == f"Thank you: what you sent is added to {number} and our staff are told."
    question = alice.last
    assert "Is the problem solved?" in question.text and "✅ Resolved" in question.button_texts
    await alice.press("✅ Resolved", question)
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == "closed"
    fake.assert_no_rejections()


async def test_a_photo_sent_after_the_report_is_kept_and_passed_on(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 7973, 5973)
    await alice.send_text(number)
    await alice.press("💬 Add comment or photos")
    await ed.send_text("/jobs")
    await ed.press(number)
    await report_by_phone(ed)
    dora_seen = len(dora.messages)
    await alice.send_photo(caption="The leak is still there")

    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        photos = [a for a in await uow.requests.attachments(request.id) if a.kind == "photo"]
        assert len(photos) == 1
        comments = [e.details.get("text") for e in await uow.requests.events(request.id, include_internal=False) if e.action == "comment"]
        assert comments == ["The leak is still there"]
    assert any(number in (m.text or m.caption or "") for m in dora.messages[dora_seen:])
    assert "Is the problem solved?" in alice.last.text
    fake.assert_no_rejections()


async def test_not_resolved_pressed_after_the_timeout_closed_the_request_says_so_and_what_to_do(fake, desk):
    """The sweep closed Alice's request as confirmed by timeout at night (her notice waits for the
    morning). Pressing "Not resolved" on the report then only said "This button is no longer
    valid.": she did not learn that her answer was not taken, that the request is closed, nor how
    to go on while the problem is still there."""
    dora, ed, alice, number = await accepted_job(fake, 7975, 5975)
    await ed.send_text("/jobs")
    await ed.press(number)
    await report_by_phone(ed)
    report = alice.last
    assert "❌ Not resolved" in report.button_texts
    desk.clock.advance(desk.policy.closing.confirmation_timeout + timedelta(minutes=1))
    await desk.sweep()
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).closed_reason == "timeout"
    seen = len(alice.messages)
    await alice.press("❌ Not resolved", report)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.closed_reason, request.repeat_repair) == ("closed", "timeout", False)
    said = [m.text for m in alice.messages[seen:]] + [text or "" for _, text, _ in alice.callback_answers[-1:]]
    assert any(number in text and "confirmed by timeout" in text and "/new" in text for text in said)
    assert not alice.message(report.message_id).buttons  # its buttons would only refuse
    fake.assert_no_rejections()
