"""A queued message that needs a role does not go to someone whose role was withdrawn before it
went out (the outbox used to check `is_active` only); where somebody must still act, it reaches
whoever holds the role now.

README: "withdraws roles ... their buttons stop working"; DESIGN.md: "staff see what their role needs".
"""
from __future__ import annotations

from sqlalchemy import select

from bot.services import notices, staff
from bot.views import View
from storage.models import OutboxMessage
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import enrol, file_request, onboard

PHONE = "+8613800138000"


async def _waiting_news(desk, telegram_id: int, count: int = 4) -> None:
    """Earlier notifications still queued for the person: what is queued next waits for the outbox round."""
    async with desk.db.uow() as uow:
        person = await uow.users.by_telegram_id(telegram_id)
        for n in range(count):
            await notices.queue(uow, person, notices.VIEW, View(f"Earlier news {n}").to_payload(), f"news:{telegram_id}:{n}", desk.clock.now())
        await uow.commit()


async def _set_role(desk, telegram_id: int, role: str, grant: bool) -> None:
    """The admin's /staff change, as its service does it."""
    async with desk.db.uow() as uow:
        admin = await uow.users.by_telegram_id(DISPATCHER_ID)
        person = await uow.users.by_telegram_id(telegram_id)
        await staff.set_role(uow, admin, person.id, role, grant, desk.clock.now())
        await uow.commit()


async def _ask_waiver(dora, number: str) -> None:
    await dora.press("Open to triage")
    await dora.press("Warranty…")
    await dora.press("warranty expired")
    await dora.press("🧮 Quote")
    await dora.press("Parts done ›")
    await dora.send_text("3000")
    await dora.send_text("0")
    await dora.press("📤 Send to the customer")
    await dora.send_text(number)
    await dora.press("💸 Ask for a fee waiver")
    await dora.send_text("3000")
    await dora.send_text("Old customer, borderline fault")


async def test_an_approval_card_waiting_for_a_vp_whose_role_was_withdrawn_goes_to_the_vp_now(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7701, "Mia", "marketing_vp")
    await _set_role(desk, mia.id, "finance", True)  # she keeps another role
    alice = fake.add_user(user_id=7702, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await _waiting_news(desk, mia.id)
    await _ask_waiver(dora, number)
    assert "sent for approval to: Marketing VP" in dora.last.text
    assert not any(number in (m.text or "") for m in mia.messages)  # the card waits behind her queue

    await _set_role(desk, mia.id, "marketing_vp", False)
    nina = await enrol(fake, dora, 7703, "Nina", "marketing_vp")
    await desk.sweep()
    await desk.sweep()

    assert any("Earlier news 3" in (m.text or "") for m in mia.messages)  # her other news went out
    assert not any(number in (m.text or "") or "borderline" in (m.text or "") for m in mia.messages)
    card = next(m for m in nina.messages if number in (m.text or ""))
    assert "borderline" in card.text and "✅ Approve" in card.button_texts
    await nina.press("✅ Approve", card)
    assert "Approved by Nina" in dora.last.text
    async with desk.db.uow() as uow:
        mia_id = (await uow.users.by_telegram_id(mia.id)).id
        rows = list(await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == mia_id, OutboxMessage.kind == notices.APPROVAL)))
        assert [row.failure for row in rows] == ["obsolete"]


async def test_the_block_alert_waiting_for_a_dispatcher_whose_role_was_withdrawn_is_not_sent_to_him(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    await _set_role(desk, wang.id, "engineer", True)
    alice = fake.add_user(user_id=7712, first_name="Alice", language_code="en")
    await onboard(alice)
    await file_request(alice)
    await desk.sweep()
    fake.block(alice.id)
    async with desk.db.uow() as uow:  # what the sender does when a message to her meets the 403
        assert await notices.blocked(uow, alice.id, desk.clock.now()) is not None
        await uow.commit()
    await _set_role(desk, wang.id, "dispatcher", False)
    wang_seen = len(wang.messages)
    await desk.sweep()

    assert any("Alice" in (m.text or "") and PHONE in (m.text or "") and "has blocked the bot" in (m.text or "") for m in dora.messages)
    assert not any(PHONE in (m.text or "") for m in wang.messages[wang_seen:])


async def test_a_new_request_notice_waiting_for_a_dispatcher_whose_role_was_withdrawn_is_not_sent_to_him(fake, desk):
    """Wang's new-request notice (the customer's name, phone and fault) waits behind his earlier news;
    his dispatcher role is withdrawn before it goes out: he does not get it, Dora does."""
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    await _set_role(desk, wang.id, "engineer", True)  # he stays on the staff
    await _waiting_news(desk, wang.id)
    alice = fake.add_user(user_id=7722, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    assert not any(number in (m.text or "") for m in wang.messages)  # queued behind his news
    await _set_role(desk, wang.id, "dispatcher", False)
    await desk.sweep()
    await desk.sweep()
    assert any("Earlier news 3" in (m.text or "") for m in wang.messages)  # his other news went out
    assert not any(number in (m.text or "") or PHONE in (m.text or "") for m in wang.messages)
    assert any(number in (m.text or "") for m in dora.messages)
    async with desk.db.uow() as uow:
        person = await uow.users.by_telegram_id(wang.id)  # and none is queued for him as a dispatcher any more
        assert not await notices.queue(uow, person, notices.VIEW, View("x").to_payload(), "role-test", desk.clock.now(), for_role="dispatcher")
