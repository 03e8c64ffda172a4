"""Money fixes over HTTP: what the other people around a paid job or a return hear."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol
from tests.e2e.test_returns import _quoted_paid_return


async def test_the_warehouse_hears_a_fee_waiver_approved_for_a_declined_paid_repair_return(fake, desk):
    """The warehouse's card said "send it back unrepaired, unless a fee waiver is approved": when
    the waiver is approved it must hear it, and that the product is to be repaired."""
    dora, alice, sun, wen, number, tracking = await _quoted_paid_return(fake, desk, 5931)
    mia = await enrol(fake, dora, 7931, "Mia", "marketing_vp")
    await alice.press("❌ Decline", alice.last)
    declined = next(m for m in reversed(wen.messages) if number in (m.text or "") and "declined" in (m.text or ""))
    assert "unless a fee waiver is approved" in declined.text
    await dora.press("💸 Ask for a fee waiver", dora.last)
    await dora.send_text("Long-standing customer")
    wen_seen, sun_seen = len(wen.messages), len(sun.messages)
    await mia.press("✅ Approve", mia.last)

    told = [m for m in wen.messages[wen_seen:] if number in (m.text or "")]
    assert len(told) == 1 and "fee waiver" in told[0].text and "Repair the product" in told[0].text
    assert "🔧 Repaired" in told[0].button_texts
    assert any(number in (m.text or "") and "fee waiver" in (m.text or "") for m in sun.messages[sun_seen:])  # the manager tracks returns too
    await wen.press("🔧 Repaired", told[0])
    assert f"🔧 {number}: the product is repaired" in alice.last.text
    fake.assert_no_rejections()


async def test_the_warehouse_hears_a_fee_waiver_rejected_for_a_declined_paid_repair_return(fake, desk):
    """Rejected: the product goes back unrepaired, and the warehouse waiting on the decision is told so."""
    dora, alice, sun, wen, number, tracking = await _quoted_paid_return(fake, desk, 5932)
    mia = await enrol(fake, dora, 7932, "Mia", "marketing_vp")
    await alice.press("❌ Decline", alice.last)
    await dora.press("💸 Ask for a fee waiver", dora.last)
    await dora.send_text("Long-standing customer")
    wen_seen = len(wen.messages)
    await mia.press("❌ Reject", mia.last)
    await mia.send_text("The damage is the customer's own")

    told = [m for m in wen.messages[wen_seen:] if number in (m.text or "")]
    assert len(told) == 1 and "fee waiver" in told[0].text and "send the product back unrepaired" in told[0].text
    assert "📤 Sent back unrepaired" in told[0].button_texts
    fake.assert_no_rejections()


async def _approved_return_solved_by_phone(fake, desk, alice_id: int, base: int):
    """An approved return (the warehouse waits for the product) that the engineer then solved by
    phone: the report waits for the customer. (wen, sun, alice, number, tracking card)"""
    from tests.e2e.helpers import assign, onboard, report_by_phone
    from tests.e2e.test_returns import _approval_card, _ask_return, _sold_to

    dora = fake.users[DISPATCHER_ID]
    sun = await enrol(fake, dora, base + 1, "Sun", "service_manager")
    wen = await enrol(fake, dora, base + 2, "Wen", "warehouse")
    ed = await enrol(fake, dora, base + 3, "Ed", "engineer")
    alice = fake.add_user(user_id=alice_id, first_name="Alice", language_code="en")
    await onboard(alice)
    await _sold_to(desk, alice_id, "QJ-9501", days_ago=40)  # free repair
    number = await _ask_return(alice, "QJ-9501")
    await assign(dora, number, "Ed")
    await sun.press("✅ Approve", _approval_card(sun, number))
    tracking = wen.last
    assert "📦 Product received" in tracking.button_texts
    await ed.press("Accept")
    await report_by_phone(ed, solution="Reset the thermal cut-out with the customer", opinion="Works again")
    return wen, sun, alice, number, tracking


async def test_the_warehouse_is_told_when_the_customers_confirmation_ends_an_approved_return(fake, desk):
    wen, sun, alice, number, tracking = await _approved_return_solved_by_phone(fake, desk, 5941, 7940)
    seen = len(wen.messages)
    await alice.press("Resolved")
    async with desk.db.uow() as uow:
        case = await uow.returns.of_request((await uow.requests.by_number(number)).id)
        assert case.state == "cancelled"
    told = [m for m in wen.messages[seen:] if number in (m.text or "")]
    assert len(told) == 1 and f"❌ Return {number} is cancelled: the product is not coming." in told[0].text


async def test_the_warehouse_is_told_when_the_confirmation_timeout_ends_an_approved_return(fake, desk):
    wen, sun, alice, number, tracking = await _approved_return_solved_by_phone(fake, desk, 5942, 7945)
    seen = len(wen.messages)
    desk.clock.advance(desk.policy.closing.confirmation_timeout + timedelta(minutes=1))
    await desk.sweep()
    desk.clock.advance(timedelta(hours=14))  # past the night: staff news waits for reachable hours
    await desk.sweep()
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        case = await uow.returns.of_request(request.id)
        assert (request.closed_reason, case.state) == ("timeout", "cancelled")
    told = [m for m in wen.messages[seen:] if number in (m.text or "") and "📦 Product received" not in m.button_texts]
    assert any(f"❌ Return {number} is cancelled: the product is not coming." in m.text for m in told)


async def test_a_return_finished_at_the_warehouse_withdraws_the_fee_waiver_still_open_on_it(fake, desk):
    """README: closing a request ends what hangs on it, its open approvals withdrawn (the approvers'
    cards say so). The warehouse sent the product back while the waiver was with the marketing VP:
    the waiver must not stay pending on a closed request, with live buttons that only refuse."""
    from sqlalchemy import select

    from storage.models import Approval

    dora, alice, sun, wen, number, tracking = await _quoted_paid_return(fake, desk, 5951)
    mia = await enrol(fake, dora, 7951, "Mia", "marketing_vp")
    await alice.press("❌ Decline", alice.last)
    await dora.press("💸 Ask for a fee waiver", dora.last)
    await dora.send_text("Long-standing customer")
    card = mia.last
    assert "✅ Approve" in card.button_texts
    dora_seen = len(dora.messages)
    await wen.press("📤 Sent back unrepaired", tracking)
    assert "sent back to you as it came" in alice.last.text

    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.status == "closed"
        waiver = (await uow.session.scalars(select(Approval).where(Approval.request_id == request.id, Approval.kind == "waiver"))).one()
        assert waiver.status == "withdrawn"
    redrawn = mia.message(card.message_id)
    assert "the request was cancelled or closed" in redrawn.text and not redrawn.buttons
    assert any(number in (m.text or "") and "the request was cancelled or closed" in (m.text or "") for m in dora.messages[dora_seen:])
    fake.assert_no_rejections()
