"""Two admins changing the same staff member at once, as two bot processes of a fleet would:
PostgreSQL only (SQLite runs one writing transaction at a time from its BEGIN IMMEDIATE).

The first admin's change stops right after it has read the person (their roles and state), the
second admin's runs to its commit in that window, then the first goes on. Whatever order a correct
implementation picks, the README's promises hold: nobody is left without a role ("deactivate them
instead"), and the same change made twice is made once (no crash, no second release)."""
from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.services import staff, users
from storage.models import AuditEntry, UserRole
from tests.test_races import OK, _pause, _postgresql_only, _race  # noqa: F401  (the fixture skips SQLite)
from tests.test_staff import POLICY


async def _two_admins_and_eve(database, clock, *eve_roles: str) -> tuple[int, int, int]:
    async with database.uow() as uow:
        await users.ensure_bootstrap_staff(uow, [500, 501], "en", clock.now())
        ann = await uow.users.by_telegram_id(500)
        bob = await uow.users.by_telegram_id(501)
        eve = await users.touch(uow, 600, "Eve", None, "en", "en", clock.now())
        invite = await staff.create_invite(uow, ann, eve_roles[0], POLICY, clock.now())
        await staff.redeem_invite(uow, eve, invite.code, POLICY, clock.now())
        for role in eve_roles[1:]:
            await uow.users.add_role(eve, role)
        await uow.commit()
        return ann.id, bob.id, eve.id


def _change(database, clock, actor_id, target_id, *, role=None, grant=None, active=None, paused=None):
    async def run():
        async with database.uow() as uow:
            actor = await uow.users.get(actor_id)
            if paused is not None:  # stop once the person has been read
                _pause(uow.users, "get", *paused)
            if role is not None:
                await staff.set_role(uow, actor, target_id, role, grant, clock.now())
            else:
                await staff.change_active(uow, actor, target_id, active, clock.now())
            await uow.commit()
    return run


async def _roles_of(database, user_id) -> set[str]:
    async with database.uow() as uow:
        return set(await uow.session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))


async def test_two_admins_withdrawing_a_persons_two_roles_at_once_leave_one(database, clock):
    ann_id, bob_id, eve_id = await _two_admins_and_eve(database, clock, "warehouse", "finance")
    reached, go = asyncio.Event(), asyncio.Event()
    results = await _race(
        _change(database, clock, ann_id, eve_id, role="warehouse", grant=False, paused=(reached, go)),
        _change(database, clock, bob_id, eve_id, role="finance", grant=False),
        reached, go,
    )
    assert not any(result.startswith("apology") for result in results), results
    left = await _roles_of(database, eve_id)
    assert len(left) == 1, (results, left)  # still on the staff list, where an admin can deactivate her
    assert results[1] == OK and results[0].startswith("refused"), results


async def test_two_admins_granting_the_same_role_at_once_grant_it_once(database, clock):
    ann_id, bob_id, eve_id = await _two_admins_and_eve(database, clock, "warehouse")
    reached, go = asyncio.Event(), asyncio.Event()
    results = await _race(
        _change(database, clock, ann_id, eve_id, role="finance", grant=True, paused=(reached, go)),
        _change(database, clock, bob_id, eve_id, role="finance", grant=True),
        reached, go,
    )
    assert results == [OK, OK], results  # the second press finds it done: no unique-key crash
    assert await _roles_of(database, eve_id) == {"warehouse", "finance"}
    async with database.uow() as uow:
        granted = await uow.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "role_granted"))
    assert granted == 1


async def test_two_admins_deactivating_the_same_person_at_once_deactivate_once(database, clock):
    ann_id, bob_id, eve_id = await _two_admins_and_eve(database, clock, "engineer")
    reached, go = asyncio.Event(), asyncio.Event()
    results = await _race(
        _change(database, clock, ann_id, eve_id, active=False, paused=(reached, go)),
        _change(database, clock, bob_id, eve_id, active=False),
        reached, go,
    )
    assert results == [OK, OK], results
    async with database.uow() as uow:
        deactivations = await uow.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "deactivated"))
        assert (await uow.users.get(eve_id)).is_active is False
    assert deactivations == 1  # one deactivation: its jobs released and people told once
