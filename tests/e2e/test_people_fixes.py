"""People over HTTP: what the admin's staff management leads to for the person and the others."""
from __future__ import annotations

import re

from sqlalchemy import select

from storage.models import AuditEntry, Customer, User, UserRole
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import file_request, onboard

ALICE_ID, ALICE_PHONE = 7611, "+8613812345611"
NO_ROLE_LEFT = "Not possible: there must always be an active admin, and nobody can be left without a role (deactivate them instead)."


async def _join_staff(admin, person, role: str) -> None:
    await admin.send_text(f"/invite {role}")
    code = re.search(r"start=(inv_[\w-]+)", admin.last.text).group(1)
    await person.send_text(f"/start {code}")


async def _roles(desk, telegram_id: int) -> set[str]:
    async with desk.db.uow() as uow:
        return set(await uow.session.scalars(
            select(UserRole.role).join(User, User.id == UserRole.user_id).where(User.telegram_id == telegram_id)))


async def test_a_former_staff_member_who_is_a_customer_can_have_the_last_role_withdrawn_and_be_erased(fake, desk):
    """/erase says "Withdraw their roles in /staff first": once the person is deactivated, /staff
    lets the admin do so, also the last role, and the customer record can then be erased."""
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=ALICE_ID, first_name="Alice", language_code="en")
    await onboard(alice, phone=ALICE_PHONE)
    await file_request(alice)
    await _join_staff(dora, alice, "engineer")

    await dora.send_text("/staff")
    await dora.press("Alice")
    await dora.press("✅ Field engineer")  # still active: deactivate her instead
    assert dora.callback_answers[-1][1] == NO_ROLE_LEFT
    assert await _roles(desk, ALICE_ID) == {"engineer"}

    await dora.press("⛔ Deactivate")
    await dora.send_text(f"/erase {ALICE_PHONE}")
    assert dora.last.text == "This is a staff member's account: staff are not erased this way. Withdraw their roles in /staff first."
    await dora.press("✖️ Cancel")

    await dora.send_text("/staff")
    await dora.press("Alice ⛔")
    await dora.press("✅ Field engineer")
    assert dora.callback_answers[-1][1] != NO_ROLE_LEFT
    assert await _roles(desk, ALICE_ID) == set()
    assert "Alice" not in dora.last.text  # no longer on the staff list: the card gave way to it

    await dora.send_text(f"/erase {ALICE_PHONE}")
    assert "staff member's account" not in dora.last.text and "🗑 Erase" in dora.last.button_texts
    await dora.press("🗑 Erase")
    async with desk.db.uow() as uow:
        names = list(await uow.session.scalars(select(Customer.name)))
    assert "Alice" not in names

    await alice.send_text("/duty")  # a customer again, as deactivation made her
    assert "for service staff" in alice.last.text
    fake.assert_no_rejections()


async def test_opening_ones_own_invite_link_again_does_not_send_one_to_the_admin_for_a_new_one(fake, desk):
    """People tap the admin's link again to find the bot: the one who joined with it is told they
    already have, not that the invite is used up and they should ask for a new one; nothing is
    counted against them as a wrong code. Once deactivated, the link does not bring them back."""
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/invite engineer")
    code = re.search(r"start=(inv_[\w-]+)", dora.last.text).group(1)
    eve = fake.add_user(user_id=7621, first_name="Eve", language_code="en")
    await eve.send_text(f"/start {code}")
    assert "You now have the role: Field engineer" in eve.last.text

    for _ in range(5):
        await eve.send_text(f"/start {code}")
        assert "already been used" not in eve.last.text and "Ask your admin" not in eve.last.text
        assert "You have already joined with this invite" in eve.last.text
    await eve.send_text("/start inv_wrong")  # the throttle still has room: her own link was no wrong code
    assert "Too many wrong invite codes" not in eve.last.text
    async with desk.db.uow() as uow:
        failed = list(await uow.session.scalars(
            select(AuditEntry.details).where(AuditEntry.actor_telegram_id == 7621, AuditEntry.action == "invite_failed")))
    assert failed == [{"reason": "unknown"}]

    await dora.send_text("/staff")
    await dora.press("Eve")
    await dora.press("⛔ Deactivate")
    await eve.send_text(f"/start {code}")
    assert "This invite has already been used. Ask your admin for a new one." in eve.last.text
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(7621)).is_active is False
    fake.assert_no_rejections()
