"""Staff enrolment and administration rules on real databases."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services import staff, users
from bot.services.errors import InvalidValue, NotAllowed, TooLong, WrongInput
from storage.models import AuditEntry, User, UserRole

POLICY = load_policy(DEFAULT_POLICY_FILE).staff


async def _people(uow, clock):
    await users.ensure_bootstrap_staff(uow, [500], "en", clock.now())
    admin = await uow.users.by_telegram_id(500)
    newcomer = await users.touch(uow, 600, "Eve", None, "en", "en", clock.now())
    stranger = await users.touch(uow, 700, "Sam", None, "en", "en", clock.now())
    return admin, newcomer, stranger


async def test_an_invite_gives_its_role_once(database, clock):
    async with database.uow() as uow:
        admin, newcomer, stranger = await _people(uow, clock)
        invite = await staff.create_invite(uow, admin, "engineer", POLICY, clock.now())
        assert await staff.redeem_invite(uow, newcomer, invite.code, POLICY, clock.now()) == "engineer"
        assert "engineer" in newcomer.role_names and users.is_staff(newcomer)
        with pytest.raises(staff.InviteRefused) as refused:
            await staff.redeem_invite(uow, stranger, invite.code, POLICY, clock.now())
        assert refused.value.reason == "used" and not users.is_staff(stranger)


async def test_an_invite_expires_after_72_hours(database, clock):
    async with database.uow() as uow:
        admin, newcomer, _ = await _people(uow, clock)
        invite = await staff.create_invite(uow, admin, "dispatcher", POLICY, clock.now())
        clock.advance(timedelta(hours=72))
        with pytest.raises(staff.InviteRefused) as refused:
            await staff.redeem_invite(uow, newcomer, invite.code, POLICY, clock.now())
        assert refused.value.reason == "expired"


async def test_repeated_wrong_codes_are_throttled_for_an_hour(database, clock):
    async with database.uow() as uow:
        admin, newcomer, _ = await _people(uow, clock)
        invite = await staff.create_invite(uow, admin, "engineer", POLICY, clock.now())
        for attempt in range(POLICY.invite_attempts_per_hour):
            with pytest.raises(staff.InviteRefused):
                await staff.redeem_invite(uow, newcomer, f"guess{attempt}", POLICY, clock.now())
        with pytest.raises(staff.Throttled):
            await staff.redeem_invite(uow, newcomer, invite.code, POLICY, clock.now())
        clock.advance(timedelta(hours=1, seconds=1))
        assert await staff.redeem_invite(uow, newcomer, invite.code, POLICY, clock.now()) == "engineer"


async def test_only_admins_invite_and_manage_staff(database, clock):
    async with database.uow() as uow:
        admin, newcomer, stranger = await _people(uow, clock)
        with pytest.raises(NotAllowed):
            await staff.create_invite(uow, stranger, "admin", POLICY, clock.now())
        with pytest.raises(InvalidValue):
            await staff.create_invite(uow, admin, "emperor", POLICY, clock.now())
        with pytest.raises(NotAllowed):
            await staff.toggle_role(uow, stranger, admin.id, "admin", clock.now())
        with pytest.raises(NotAllowed):
            await staff.list_staff(uow, stranger)


async def test_the_last_admin_cannot_be_removed_or_deactivate_themselves(database, clock):
    async with database.uow() as uow:
        admin, _, _ = await _people(uow, clock)
        with pytest.raises(NotAllowed):
            await staff.toggle_role(uow, admin, admin.id, "admin", clock.now())
        with pytest.raises(NotAllowed):
            await staff.set_active(uow, admin, admin.id, False, clock.now())


async def test_a_deactivated_member_loses_staff_rights_at_once(database, clock):
    async with database.uow() as uow:
        admin, newcomer, _ = await _people(uow, clock)
        invite = await staff.create_invite(uow, admin, "engineer", POLICY, clock.now())
        await staff.redeem_invite(uow, newcomer, invite.code, POLICY, clock.now())
        await staff.set_active(uow, admin, newcomer.id, False, clock.now())
        assert not users.is_staff(newcomer)
        with pytest.raises(NotAllowed):
            staff.toggle_duty(newcomer)
        assert await uow.users.active_with_role("engineer") == []
        granted, _ = await staff.toggle_role(uow, admin, newcomer.id, "technical_expert", clock.now())
        assert granted and newcomer.role_names == {"engineer", "technical_expert"}



async def test_an_invite_brings_a_deactivated_member_back_with_the_invited_role_only(database, clock):
    async with database.uow() as uow:
        admin, newcomer, _ = await _people(uow, clock)
        for role in ("admin", "finance"):
            await staff.redeem_invite(uow, newcomer, (await staff.create_invite(uow, admin, role, POLICY, clock.now())).code, POLICY, clock.now())
        await staff.set_active(uow, admin, newcomer.id, False, clock.now())
        invite = await staff.create_invite(uow, admin, "engineer", POLICY, clock.now())
        assert await staff.redeem_invite(uow, newcomer, invite.code, POLICY, clock.now()) == "engineer"
        assert newcomer.is_active and newcomer.role_names == {"engineer"}  # not admin again
        # an active member keeps what they have and gains the invited role
        second = await staff.create_invite(uow, admin, "technical_expert", POLICY, clock.now())
        await staff.redeem_invite(uow, newcomer, second.code, POLICY, clock.now())
        assert newcomer.role_names == {"engineer", "technical_expert"}


async def test_an_invite_is_refused_once_its_creator_is_no_longer_an_active_admin(database, clock):
    async with database.uow() as uow:
        admin, newcomer, stranger = await _people(uow, clock)
        await staff.redeem_invite(uow, newcomer, (await staff.create_invite(uow, admin, "admin", POLICY, clock.now())).code, POLICY, clock.now())
        own = await staff.create_invite(uow, newcomer, "admin", POLICY, clock.now())  # made while an admin
        handed_out = await staff.create_invite(uow, newcomer, "engineer", POLICY, clock.now())
        await staff.set_active(uow, admin, newcomer.id, False, clock.now())
        with pytest.raises(staff.InviteRefused) as refused:  # the dismissed admin cannot restore themselves
            await staff.redeem_invite(uow, newcomer, own.code, POLICY, clock.now())
        assert refused.value.reason == "revoked" and not newcomer.is_active
        with pytest.raises(staff.InviteRefused) as refused:  # nor enrol anyone else
            await staff.redeem_invite(uow, stranger, handed_out.code, POLICY, clock.now())
        assert refused.value.reason == "revoked" and not users.is_staff(stranger)
        assert (own.used_at, handed_out.used_at) == (None, None)

        await staff.set_active(uow, admin, newcomer.id, True, clock.now())
        await staff.toggle_role(uow, admin, newcomer.id, "dispatcher", clock.now())
        await staff.toggle_role(uow, admin, newcomer.id, "admin", clock.now())  # demoted: active, no longer an admin
        with pytest.raises(staff.InviteRefused):
            await staff.redeem_invite(uow, stranger, handed_out.code, POLICY, clock.now())
        await staff.toggle_role(uow, admin, newcomer.id, "admin", clock.now())  # an admin again: the link works again
        assert await staff.redeem_invite(uow, stranger, handed_out.code, POLICY, clock.now()) == "engineer"


def test_skills_are_split_on_commas_in_either_script_and_deduplicated():
    assert staff.parse_skills("pumps， Switch cabinets; PUMPS,printers") == ["pumps", "Switch cabinets", "printers"]
    with pytest.raises(WrongInput):
        staff.parse_skills(" , ;")
    with pytest.raises(TooLong):
        staff.parse_skills("x" * 41)
    with pytest.raises(InvalidValue):
        staff.parse_skills(",".join(f"line {i}" for i in range(13)))


def test_only_active_staff_edit_a_profile_and_values_are_checked():
    engineer = User(id=1, telegram_id=1, first_name="Ed", language="en", is_active=True, roles=[UserRole(role="engineer")])
    staff.set_profile_field(engineer, "region", "  Kaifeng ")
    staff.set_profile_field(engineer, "phone", "+86 138-0013-8000")
    assert (engineer.region, engineer.phone) == ("Kaifeng", "+8613800138000")
    with pytest.raises(InvalidValue):
        staff.set_profile_field(engineer, "phone", "call me")
    with pytest.raises(InvalidValue):
        staff.set_profile_field(engineer, "is_active", "yes")
    customer = User(id=2, telegram_id=2, first_name="Al", language="en", is_active=True, roles=[])
    with pytest.raises(NotAllowed):
        staff.set_profile_field(customer, "region", "Kaifeng")


async def test_a_deactivated_admins_admin_role_can_be_withdrawn(database, clock):
    """He is not counted among the active admins, so withdrawing it leaves them as they are; he
    need not be reactivated first (which would revive his old invite links)."""
    async with database.uow() as uow:
        admin, bob, _ = await _people(uow, clock)
        for role in ("admin", "engineer"):
            await staff.redeem_invite(uow, bob, (await staff.create_invite(uow, admin, role, POLICY, clock.now())).code, POLICY, clock.now())
        await staff.set_active(uow, admin, bob.id, False, clock.now())
        assert (await staff.set_role(uow, admin, bob.id, "admin", False, clock.now())).changed
        await uow.commit()
    async with database.uow() as uow:
        bob = await uow.users.by_telegram_id(600)
        assert (bob.is_active, bob.role_names) == (False, frozenset({"engineer"}))
        with pytest.raises(NotAllowed):  # the one active admin still cannot withdraw his own
            await staff.set_role(uow, await uow.users.by_telegram_id(500), admin.id, "admin", False, clock.now())


async def test_a_second_deactivation_changes_nothing(database, clock):
    """An older card's ⛔ Deactivate, pressed after the person was already deactivated: no second
    audit entry, and nobody is told twice that the person left."""
    async with database.uow() as uow:
        admin, newcomer, _ = await _people(uow, clock)
        await staff.redeem_invite(uow, newcomer, (await staff.create_invite(uow, admin, "engineer", POLICY, clock.now())).code, POLICY, clock.now())
        assert (await staff.change_active(uow, admin, newcomer.id, False, clock.now())).changed
        assert not (await staff.change_active(uow, admin, newcomer.id, False, clock.now())).changed
        entries = [e for e in await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "deactivated"))]
        assert len(entries) == 1
