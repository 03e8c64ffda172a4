"""Staff enrolment over HTTP: invite links, the staff card, deactivation, forged admin buttons."""
from __future__ import annotations

import json
import re

from sqlalchemy import select

from storage.models import AuditEntry
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard


async def test_admin_invites_an_engineer_who_joins_once_and_can_be_deactivated(fake, desk):
    admin = fake.users[DISPATCHER_ID]
    eve = fake.add_user(user_id=4001, first_name="Eve", language_code="en")
    sam = fake.add_user(user_id=4002, first_name="Sam", language_code="en")
    await admin.send_text("/invite")
    await admin.press("Field engineer")
    link = re.search(r"https://t\.me/service_desk_bot\?start=(inv_[\w-]+)", admin.last.text)
    assert link and "It works once" in admin.last.text

    await eve.send_text(f"/start {link.group(1)}")
    assert "You now have the role: Field engineer" in eve.last.text
    scoped = [c for c in fake.calls("setMyCommands") if '"chat_id": 4001' in json.dumps(c.params.get("scope"))]
    assert scoped and "duty" in json.dumps(scoped[-1].params["commands"])
    await eve.send_text("/duty")
    assert "off duty" in eve.last.text

    await sam.send_text(f"/start {link.group(1)}")
    assert "already been used" in sam.last.text

    await admin.send_text("/staff")
    assert "Eve" in admin.last.text and "Field engineer" in admin.last.text
    await admin.press("Eve")
    await admin.press("Deactivate")
    assert "deactivated" in admin.last.text
    await eve.send_text("/duty")
    assert "for service staff" in eve.last.text
    fake.assert_no_rejections()


async def test_a_customer_pressing_admin_buttons_changes_nothing_and_is_audited(fake, desk):
    mallory = fake.add_user(user_id=4003, first_name="Mallory", language_code="en")
    await mallory.send_text("/invite engineer")
    assert "Only an admin" in mallory.last.text
    async with desk.db.uow() as uow:
        admin_id = (await uow.users.by_telegram_id(DISPATCHER_ID)).id
    await mallory.press_data(f"1:st:{admin_id}:deactivate:")
    assert mallory.callback_answers[-1][1] == "Only an admin can do that."
    await mallory.press_data("1:inv:admin")
    assert mallory.callback_answers[-1][1] == "Only an admin can do that."
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(DISPATCHER_ID)).is_active is True
        assert (await uow.users.by_telegram_id(4003)).role_names == frozenset()
        audited = list(await uow.session.scalars(select(AuditEntry.action).where(AuditEntry.actor_telegram_id == 4003).order_by(AuditEntry.id)))
        assert audited == ["not_admin", "not_admin"]
    fake.assert_no_rejections()


async def test_wrong_invite_codes_are_throttled(fake, desk):
    guesser = fake.add_user(user_id=4004, first_name="Gus", language_code="en")
    for attempt in range(5):
        await guesser.send_text(f"/start inv_guess{attempt}")
        assert "not valid" in guesser.last.text
    await guesser.send_text("/start inv_guess6")
    assert "Too many wrong invite codes" in guesser.last.text
    fake.assert_no_rejections()


async def test_taking_the_engineer_role_away_returns_his_jobs_to_the_queue(fake, desk):
    admin = fake.users[DISPATCHER_ID]  # admin and dispatcher
    ed = await enrol(fake, admin, 4101, "Ed", "engineer")
    alice = fake.add_user(user_id=4103, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(admin, number, "Ed")
    await ed.press("✅ Accept")

    await admin.send_text("/staff")
    await admin.press("Ed")
    await admin.press("➕ Warehouse")
    await admin.press("✅ Field engineer")  # Ed moves to the warehouse
    assert any(f"Ed is no longer a field engineer; their open jobs are back in the /queue: {number}" in (m.text or "")
               for m in admin.messages[-3:])
    assert f"Your request {number} will get another engineer" in alice.last.text
    await admin.send_text("/queue")
    assert number in " ".join(admin.last.button_texts)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.assigned_engineer_id) == ("triaged", None)
    fake.assert_no_rejections()


async def test_an_invite_dies_with_its_admins_authority_but_a_rehire_by_an_active_admin_works(fake, desk):
    root = fake.users[DISPATCHER_ID]
    bob = await enrol(fake, root, 4201, "Bob", "admin")
    carl = await enrol(fake, root, 4202, "Carl", "admin")
    eve = fake.add_user(user_id=4203, first_name="Eve", language_code="en")
    await bob.send_text("/invite admin")  # Bob keeps a link in his pocket
    bobs_code = re.search(r"start=(inv_[\w-]+)", bob.last.text).group(1)
    await carl.send_text("/invite dispatcher")
    carls_code = re.search(r"start=(inv_[\w-]+)", carl.last.text).group(1)

    await root.send_text("/staff")
    await root.press("Bob")
    await root.press("Deactivate")  # Bob is let go...
    await bob.send_text(f"/start {bobs_code}")  # ...and opens his own link
    assert "the admin who made it can no longer invite" in bob.last.text
    await root.send_text("/staff")
    await root.press("Carl")
    await root.press("➕ Dispatcher")
    await root.press("✅ Admin")  # Carl is no longer an admin: his links are not either
    await eve.send_text(f"/start {carls_code}")
    assert "the admin who made it can no longer invite" in eve.last.text
    async with desk.db.uow() as uow:
        bob_user, eve_user = await uow.users.by_telegram_id(4201), await uow.users.by_telegram_id(4203)
        assert (bob_user.is_active, eve_user.role_names) == (False, frozenset())

    await root.send_text("/invite engineer")  # a re-hire: an active admin's link given to Bob
    code = re.search(r"start=(inv_[\w-]+)", root.last.text).group(1)
    await bob.send_text(f"/start {code}")
    assert "You now have the role: Field engineer" in bob.last.text
    async with desk.db.uow() as uow:
        bob_user = await uow.users.by_telegram_id(4201)
        assert (bob_user.is_active, bob_user.role_names) == (True, frozenset({"engineer"}))
    fake.assert_no_rejections()


async def test_a_desk_with_more_than_100_staff_pages_its_list(fake, desk):
    """One button per person made /staff fail at 101 staff ("reply markup is too long")."""
    from storage.models import User, UserRole

    admin = fake.users[DISPATCHER_ID]
    await admin.send_text("/start")
    now = desk.clock.now()
    async with desk.db.uow() as uow:
        for i in range(105):
            fake.add_user(user_id=70000 + i, first_name=f"Eng{i:03d}")  # staff have written to the bot (their invite)
            await uow.users.add(User(telegram_id=70000 + i, first_name=f"Eng{i:03d}", language="en", created_at=now,
                                     is_active=i >= 3, roles=[UserRole(role="engineer")]))  # Eng000–002 deactivated
        await uow.commit()
    await admin.send_text("/staff")
    first = admin.last
    assert "page 1 of 6" in first.text  # 105 engineers and the desk's admins
    assert len(first.buttons) == 21 and "Eng003" in first.text and "Eng000" not in first.text  # active people first
    await admin.press("Next ›")
    assert "page 2 of 6" in admin.last.text and "Eng023" in admin.last.text
    await admin.press("Eng030")
    await admin.press("‹ Back to staff")
    assert "page 2 of 6" in admin.last.text and "Eng030" in admin.last.text  # back to the page the person is on
    await admin.press("‹ Previous")
    assert "page 1 of 6" in admin.last.text
    for page in range(2, 7):
        await admin.press("Next ›")
    last = admin.last
    assert "page 6 of 6" in last.text and "Eng000 ⛔" in last.text and "Next ›" not in last.button_texts
    await admin.press("Eng001")
    await admin.press("✅ Reactivate")
    await admin.press("‹ Back to staff")
    assert "page 1 of 6" in admin.last.text and "Eng001" in admin.last.text  # active again: among the first
    fake.assert_no_rejections()


async def test_a_stale_grant_button_does_not_withdraw_the_role_nor_release_the_jobs(fake, desk):
    """A card's "➕" means grant: pressed on an old card after someone else granted the role, it
    changes nothing (it used to toggle, taking the role and the engineer's jobs away)."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 4101, "Ed", "warehouse")
    alice = fake.add_user(user_id=4103, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await dora.send_text("/staff")
    await dora.press("Ed")
    old_card = dora.last
    assert "➕ Field engineer" in old_card.button_texts
    await dora.send_text("/staff")
    await dora.press("Ed")
    await dora.press("➕ Field engineer")
    await assign(dora, number, "Ed")
    await ed.press("✅ Accept")
    alice_seen, dora_seen = len(alice.messages), len(dora.messages)

    await dora.press("➕ Field engineer", old_card)
    assert dora.callback_answers[-1][1] == "Ed already has this role."
    assert "✅ Field engineer" in old_card.button_texts  # the old card shows what is true now
    async with desk.db.uow() as uow:
        ed_user = await uow.users.by_telegram_id(4101)
        request = await uow.requests.by_number(number)
        assert "engineer" in ed_user.role_names, "a '➕ grant' button withdrew the role"
        assert request.assigned_engineer_id == ed_user.id, "the job went back to the queue"
        audited = list(await uow.session.scalars(select(AuditEntry.action).where(AuditEntry.action.in_(("role_granted", "role_withdrawn")))))
        assert audited == ["role_granted"]
    assert len(alice.messages) == alice_seen and len(dora.messages) == dora_seen  # nobody told of a change that did not happen

    await dora.press("✅ Warehouse", old_card)  # the redrawn card's own buttons work
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(4101)).role_names == frozenset({"engineer"})
    fake.assert_no_rejections()


async def test_a_role_button_sent_before_grant_and_withdraw_were_told_apart_changes_nothing(fake, desk):
    """Cards sent by the previous version carry "role" (toggle): they only show the card again."""
    dora = fake.users[DISPATCHER_ID]
    await enrol(fake, dora, 4104, "Ed", "engineer")
    async with desk.db.uow() as uow:
        ed_id = (await uow.users.by_telegram_id(4104)).id
    await dora.send_text("/staff")
    await dora.press_data(f"1:st:{ed_id}:role:engineer", dora.last)  # as if the list message were that old card
    assert "✅ Field engineer" in dora.last.button_texts and "Roles: tap" in dora.last.text
    assert dora.callback_answers[-1][1] == "That card was out of date: here it is as it is now."
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(4104)).role_names == frozenset({"engineer"})
    fake.assert_no_rejections()


async def test_a_stale_go_off_duty_button_does_not_put_someone_back_on_duty(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    bo = await enrol(fake, dora, 4105, "Bo", "engineer")
    await bo.send_text("/profile")
    old_profile = bo.last
    await bo.send_text("/profile")
    await bo.press("Go off duty")
    assert "On duty: no" in bo.last.text
    await bo.press("Go off duty", old_profile)
    assert "On duty: no" in old_profile.text and "Go on duty" in old_profile.button_texts
    assert bo.callback_answers[-1][1] == "You are already off duty."
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(4105)).on_duty is False
    await bo.send_text("/duty")
    assert "You are now on duty." in bo.last.text
    await bo.press_data("1:pf:duty", old_profile)  # a profile card of the previous version: shown again, unchanged
    assert "On duty: yes" in old_profile.text
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(4105)).on_duty is True
    fake.assert_no_rejections()
