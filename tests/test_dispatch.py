"""Dispatch rules: ranking and fair rotation, first assignment wins, decline, authority."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services import dispatch, intake, staff, users
from bot.services.errors import InvalidValue, NotAllowed, NotFound, StaleAction
from storage.models import User, UserRole
from tests.test_services import _customer, _filled_draft

POLICY = load_policy(DEFAULT_POLICY_FILE)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _engineer(id_: int, *, region=None, skills=(), on_duty=True, active=True, reachable=True, last=None) -> User:
    user = User(id=id_, telegram_id=id_, first_name=f"E{id_}", language="en", region=region, skills=list(skills),
                on_duty=on_duty, is_active=active, is_reachable=reachable, last_assigned_at=last, roles=[UserRole(role="engineer")])
    return user


def test_ranking_prefers_region_then_skill_then_longest_waiting():
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    engineers = [
        _engineer(1, last=t),
        _engineer(2, region="Kaifeng", last=t + timedelta(hours=1)),
        _engineer(3, skills=["pump"], last=t - timedelta(days=1)),
        _engineer(4, region="Kaifeng", skills=["pump"], last=t + timedelta(hours=2)),
        _engineer(5),  # never had a job
        _engineer(6, on_duty=False), _engineer(7, active=False), _engineer(8),
        _engineer(9, region="Kaifeng", reachable=False),  # blocked the bot: a job card would not reach them
    ]
    ranked = dispatch.rank(engineers, {8: 5}, "Farm road 3, Kaifeng", "QJ submersible pump", capacity=5)
    assert [c.engineer.id for c in ranked] == [4, 2, 3, 5, 1]


async def _setup(uow, clock, engineers=3):
    await users.ensure_bootstrap_staff(uow, [500, 501], "en", clock.now())
    dispatcher = await uow.users.by_telegram_id(500)
    crew = []
    for i in range(engineers):
        engineer = await users.touch(uow, 600 + i, f"Eng{i}", None, "en", "en", clock.now())
        invite = await staff.create_invite(uow, dispatcher, "engineer", POLICY.staff, clock.now())
        await staff.redeem_invite(uow, engineer, invite.code, POLICY.staff, clock.now())
        crew.append(engineer)
    user, customer = await _customer(uow, clock)
    return dispatcher, crew, user, customer


async def _request(uow, user, customer, clock):
    return await intake.submit(uow, user, customer, await _filled_draft(uow, user, customer, clock), POLICY, clock.now(), SHANGHAI)


async def test_fair_rotation_skips_an_off_duty_engineer(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock)
        crew[1].on_duty = False
        order = []
        for _ in range(4):
            request = await _request(uow, user, customer, clock)
            best = (await dispatch.candidates(uow, dispatcher, request.id, POLICY.dispatch.engineer_capacity))[0]
            await dispatch.assign(uow, dispatcher, request.id, best.engineer.id, None, clock.now())
            order.append(best.engineer.first_name)
            clock.advance(timedelta(minutes=5))
        assert order == ["Eng0", "Eng2", "Eng0", "Eng2"]


async def test_at_capacity_engineers_are_not_proposed(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock, engineers=2)
        for _ in range(POLICY.dispatch.engineer_capacity):
            request = await _request(uow, user, customer, clock)
            await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        request = await _request(uow, user, customer, clock)
        proposed = await dispatch.candidates(uow, dispatcher, request.id, POLICY.dispatch.engineer_capacity)
        assert [c.engineer.id for c in proposed] == [crew[1].id]


async def test_two_dispatchers_assigning_at_once_one_wins(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock)
        request = await _request(uow, user, customer, clock)
        await uow.commit()
        ids = (dispatcher.id, (await uow.users.by_telegram_id(501)).id, request.id, crew[0].id, crew[1].id)

    async def attempt(dispatcher_id, engineer_id):
        async with database.uow() as uow:
            actor = await uow.users.get(dispatcher_id)
            try:
                await dispatch.assign(uow, actor, ids[2], engineer_id, None, clock.now())
                await uow.commit()
                return "won"
            except dispatch.AlreadyAssigned as lost:
                return f"lost to {lost.engineer.first_name}"

    results = await asyncio.gather(attempt(ids[0], ids[3]), attempt(ids[1], ids[4]))
    assert sorted(r.split()[0] for r in results) == ["lost", "won"]
    async with database.uow() as uow:
        stored = await uow.requests.get(ids[2])
        assert len(await uow.dispatch.assignments(ids[2])) == 1
        winner = "Eng0" if stored.assigned_engineer_id == ids[3] else "Eng1"
        assert f"lost to {winner}" in results


async def test_decline_returns_the_job_and_reassignment_keeps_history(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock)
        request = await _request(uow, user, customer, clock)
        await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        with pytest.raises(InvalidValue):
            await dispatch.respond(uow, crew[0], request.id, False, "", clock.now())
        await dispatch.respond(uow, crew[0], request.id, False, "Too far this week", clock.now())
        assert (request.status, request.assigned_engineer_id) == ("triaged", None)
        await dispatch.assign(uow, dispatcher, request.id, crew[1].id, None, clock.now())
        await dispatch.respond(uow, crew[1], request.id, True, None, clock.now())
        history = await uow.dispatch.assignments(request.id)
        assert [(a.engineer_id, a.outcome) for a in history] == [(crew[0].id, "declined"), (crew[1].id, "accepted")]
        assert request.status == "in_progress" and request.engineer_started


async def test_only_dispatchers_assign_and_only_the_assignee_responds(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock)
        request = await _request(uow, user, customer, clock)
        with pytest.raises(NotAllowed):
            await dispatch.assign(uow, crew[0], request.id, crew[0].id, None, clock.now())
        with pytest.raises(NotAllowed):
            await dispatch.queue(uow, user)
        await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        with pytest.raises(NotFound):
            await dispatch.respond(uow, crew[1], request.id, True, None, clock.now())
        _, released = await staff.set_active(uow, dispatcher, crew[0].id, False, clock.now())
        assert [r.id for r in released.requests] == [request.id]
        assert (request.status, request.assigned_engineer_id) == ("triaged", None)
        assert request.id in [i.request.id for i in await dispatch.queue(uow, dispatcher)]
        history = await uow.dispatch.assignments(request.id)
        assert [(a.engineer_id, a.outcome) for a in history] == [(crew[0].id, "released")]
        with pytest.raises(NotFound):
            await dispatch.respond(uow, crew[0], request.id, True, None, clock.now())


async def test_contact_stops_the_first_contact_clock_and_queue_orders_by_deadline(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock)
        first = await _request(uow, user, customer, clock)
        clock.advance(timedelta(minutes=10))
        second = await _request(uow, user, customer, clock)
        assert [i.request.id for i in await dispatch.queue(uow, dispatcher)] == [first.id, second.id]
        await dispatch.log_contacted(uow, dispatcher, first.id, "Called, pump is off", clock.now())
        # the 7-day repair promise still runs: a contacted request nobody assigns keeps a deadline
        assert [c.kind for c in await uow.requests.clocks(first.id) if c.stopped_at is None] == ["repair_completed"]
        assert [i.request.id for i in await dispatch.queue(uow, dispatcher)] == [second.id, first.id]
        await dispatch.set_warranty(uow, dispatcher, second.id, "paid_misuse", clock.now())
        assert (second.warranty, second.warranty_reason, second.status) == ("paid", "misuse", "triaged")


def test_ranking_leaves_out_the_engineer_who_has_the_job():
    ranked = dispatch.rank([_engineer(1), _engineer(2)], {}, "", "", capacity=5, current_id=1)
    assert [c.engineer.id for c in ranked] == [2]


async def test_assign_rechecks_duty_capacity_and_the_current_engineer(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock)
        request = await _request(uow, user, customer, clock)
        crew[0].on_duty = False  # went off duty after the list was drawn
        with pytest.raises(dispatch.EngineerUnavailable) as refused:
            await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now(), capacity=5)
        assert (refused.value.engineer.id, refused.value.reason) == (crew[0].id, "off_duty")
        for _ in range(2):
            await dispatch.assign(uow, dispatcher, (await _request(uow, user, customer, clock)).id, crew[1].id, None, clock.now())
        with pytest.raises(dispatch.EngineerUnavailable) as refused:
            await dispatch.assign(uow, dispatcher, request.id, crew[1].id, None, clock.now(), capacity=2)
        assert refused.value.reason == "at_capacity"
        assert (request.status, request.assigned_engineer_id) == ("new", None)
        await dispatch.assign(uow, dispatcher, request.id, crew[2].id, None, clock.now(), capacity=2)
        await dispatch.respond(uow, crew[2], request.id, True, None, clock.now())
        with pytest.raises(dispatch.EngineerUnavailable) as refused:  # "Reassign" to the one who has it
            await dispatch.assign(uow, dispatcher, request.id, crew[2].id, crew[2].id, clock.now(), capacity=2)
        assert refused.value.reason == "has_it"
        assert (request.status, [a.outcome for a in await uow.dispatch.assignments(request.id)]) == ("in_progress", ["accepted"])


async def test_the_queue_counts_every_request_and_pages_by_deadline_priority_and_age(database, clock, monkeypatch):
    monkeypatch.setattr(dispatch, "QUEUE_SIZE", 2)
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock)
        made = []
        for _ in range(3):
            made.append(await _request(uow, user, customer, clock))  # created at the same moment: equal deadlines
        for step in ("high", "urgent"):  # the card's button steps normal → high → urgent
            await dispatch.set_priority(uow, dispatcher, made[2].id, step, clock.now())
        await dispatch.set_priority(uow, dispatcher, made[1].id, "high", clock.now())
        assert await dispatch.queue_size(uow, dispatcher) == 3
        pages = [[i.request.id for i in await dispatch.queue(uow, dispatcher, page)] for page in (0, 1)]
        assert pages == [[made[2].id, made[1].id], [made[0].id]]


async def test_an_old_cards_priority_button_does_not_undo_a_colleagues_change(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock)
        request = await _request(uow, user, customer, clock)
        # Both dispatchers' cards say "Priority → high"; one presses it, then → urgent.
        await dispatch.set_priority(uow, dispatcher, request.id, "high", clock.now())
        await dispatch.set_priority(uow, dispatcher, request.id, "urgent", clock.now())
        with pytest.raises(StaleAction):  # the other card's "→ high" would lower it
            await dispatch.set_priority(uow, dispatcher, request.id, "high", clock.now())
        assert request.priority == "urgent"
        await dispatch.set_priority(uow, dispatcher, request.id, "normal", clock.now())  # the fresh card's "→ normal"
        assert request.priority == "normal"
