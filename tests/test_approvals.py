"""The approval engine on SQLite and PostgreSQL: chains by policy, first decision wins, questions
and answers, self-approval, forged and late presses, and the step's deadline clock."""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services import approvals, dispatch, requests, sales, staff, users
from bot.services.errors import InvalidValue, NotAllowed, NotFound, WrongInput
from bot.services.reminders import Planner
from bot.services.clocks import ClockKeeper
from storage.models import OutboxMessage
from tests.conftest import SHANGHAI
from tests.test_dispatch import _request, _setup

POLICY = load_policy(DEFAULT_POLICY_FILE)


async def _role(uow, admin, telegram_id, name, role, clock):
    person = await users.touch(uow, telegram_id, name, None, "en", "en", clock.now())
    invite = await staff.create_invite(uow, admin, role, POLICY.staff, clock.now())
    await staff.redeem_invite(uow, person, invite.code, POLICY.staff, clock.now())
    return person


async def _desk(uow, clock):
    """Dispatcher 500, engineers 600-601, two marketing VPs, a production VP, a general manager, a service manager."""
    dispatcher, crew, user, customer = await _setup(uow, clock, engineers=2)
    people = {
        "mvp1": await _role(uow, dispatcher, 800, "Mia", "marketing_vp", clock),
        "mvp2": await _role(uow, dispatcher, 801, "Max", "marketing_vp", clock),
        "pvp": await _role(uow, dispatcher, 810, "Pavel", "production_vp", clock),
        "gm": await _role(uow, dispatcher, 820, "Gao", "general_manager", clock),
        "sm": await _role(uow, dispatcher, 830, "Sun", "service_manager", clock),
    }
    return dispatcher, crew, user, customer, people


def test_chains_follow_the_policy_at_the_waiver_threshold():
    assert POLICY.approvals.chain("waiver", Decimal("10000")) == ("marketing_vp",)
    assert POLICY.approvals.chain("waiver", Decimal("10000.01")) == ("general_manager",)
    assert POLICY.approvals.chain("waiver", Decimal("10001")) == ("general_manager",)
    assert POLICY.approvals.chain("sales_request", None) == ("marketing_vp", "production_vp")
    assert POLICY.approvals.chain("requisition", None) == ("service_manager",)
    assert POLICY.approvals.chain("return", None) == ("service_manager",)


@pytest.mark.parametrize("typed, fen", [
    ("12000", 1_200_000), ("12,000.50", 1_200_050), ("¥ 9 999", 999_900), ("10000元", 1_000_000),
    ("9999,50", 999_950), ("9999,5", 999_950), ("1,234,567", 123_456_700),  # a decimal comma; thousands commas
])
def test_typed_amounts_are_read_in_fen(typed, fen):
    assert approvals.parse_amount(typed) == fen


@pytest.mark.parametrize("typed", ["0", "-5", "12.345", "twelve", "1e9999", "NaN", "200000000", "1,2,3", "12,0000", "1,234,56.7"])
def test_amounts_that_cannot_be_meant_are_refused(typed):
    with pytest.raises(InvalidValue):
        approvals.parse_amount(typed)


async def test_waivers_of_10000_and_10001_go_to_different_approvers(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        small = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=1_000_000, reason="Loyal customer")
        large = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=1_000_100, reason="Loyal customer")
        assert [u.first_name for u in await approvals.approvers(uow, POLICY, small)] == ["Mia", "Max"]
        assert [u.first_name for u in await approvals.approvers(uow, POLICY, large)] == ["Gao"]
        with pytest.raises(NotAllowed):  # the marketing VP's authority ends at 10,000
            await approvals.decide(uow, POLICY, people["mvp1"], large.id, 0, approvals.APPROVE, None, clock.now())
        outcome = await approvals.decide(uow, POLICY, people["gm"], large.id, 0, approvals.APPROVE, None, clock.now())
        assert outcome.finished and large.status == approvals.APPROVED and large.decided_by_id == people["gm"].id


async def test_a_sales_request_passes_both_vps_in_order(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        approval = await approvals.request_approval(uow, POLICY, dispatcher, request, "sales_request", clock.now())
        with pytest.raises(NotAllowed):  # the production VP's step has not come yet
            await approvals.decide(uow, POLICY, people["pvp"], approval.id, 0, approvals.APPROVE, None, clock.now())
        first = await approvals.decide(uow, POLICY, people["mvp2"], approval.id, 0, approvals.APPROVE, None, clock.now())
        assert not first.finished and approval.step == 1 and approval.status == approvals.PENDING
        assert [u.first_name for u in await approvals.approvers(uow, POLICY, approval)] == ["Pavel"]
        second = await approvals.decide(uow, POLICY, people["pvp"], approval.id, 1, approvals.APPROVE, None, clock.now())
        assert second.finished and approval.status == approvals.APPROVED
        events = [e.action for e in await uow.requests.events(request.id, include_internal=True) if e.action.startswith("approval")]
        assert events == ["approval_requested", "approval_decided", "approval_requested", "approval_decided"]
        actions = [(a.step, a.action, a.user_id) for a in await uow.approvals.actions(approval.id)]
        assert actions == [(0, "approve", people["mvp2"].id), (1, "approve", people["pvp"].id)]


async def test_one_person_holding_both_vp_roles_signs_only_one_step(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        both = people["mvp1"]
        await staff.toggle_role(uow, dispatcher, both.id, "production_vp", clock.now())
        request = await _request(uow, user, customer, clock)
        approval = await approvals.request_approval(uow, POLICY, dispatcher, request, "sales_request", clock.now())
        await approvals.decide(uow, POLICY, both, approval.id, 0, approvals.APPROVE, None, clock.now())
        assert [u.first_name for u in await approvals.approvers(uow, POLICY, approval)] == ["Pavel"]  # not Mia again
        assert approval.id not in [a.id for a, _ in await approvals.waiting_for(uow, POLICY, both)]
        with pytest.raises(NotAllowed):
            await approvals.decide(uow, POLICY, both, approval.id, 1, approvals.APPROVE, None, clock.now())
        second = await approvals.decide(uow, POLICY, people["pvp"], approval.id, 1, approvals.APPROVE, None, clock.now())
        assert second.finished


async def test_reject_needs_a_reason_and_ask_waits_for_the_requesters_answer(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        approval = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=500_000, reason="Goodwill")
        with pytest.raises(WrongInput):
            await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.REJECT, "  ", clock.now())
        asked = await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.ASK, "Which invoice?", clock.now())
        assert asked.approval.status == approvals.INFO and approval.question == "Which invoice?"
        with pytest.raises(approvals.AlreadyDecided):  # nobody decides while the question is open
            await approvals.decide(uow, POLICY, people["mvp2"], approval.id, 0, approvals.APPROVE, None, clock.now())
        with pytest.raises(NotFound):  # only the requester answers
            await approvals.answer(uow, people["mvp2"], approval.id, "INV-1", clock.now())
        await approvals.answer(uow, dispatcher, approval.id, "Invoice INV-2026-0042", clock.now())
        assert approval.status == approvals.PENDING and approval.question is None
        rejected = await approvals.decide(uow, POLICY, people["mvp2"], approval.id, 0, approvals.REJECT, "Not covered", clock.now())
        assert rejected.finished and approval.status == approvals.REJECTED
        actions = [(a.action, a.comment) for a in await uow.approvals.actions(approval.id)]
        assert actions == [("ask", "Which invoice?"), ("answer", "Invoice INV-2026-0042"), ("reject", "Not covered")]


async def test_nobody_approves_their_own_request_unless_the_policy_allows_it(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        manager = people["mvp1"]  # a marketing VP asking for a waiver only a marketing VP may approve
        approval = await approvals.request_approval(uow, POLICY, manager, request, "waiver", clock.now(), amount_minor=50_000)
        with pytest.raises(NotAllowed):
            await approvals.decide(uow, POLICY, manager, approval.id, 0, approvals.APPROVE, None, clock.now())
        assert await approvals.waiting_for(uow, POLICY, manager) == []
        lenient = dataclasses.replace(POLICY, approvals=dataclasses.replace(POLICY.approvals, self_approval=True))
        assert (await approvals.decide(uow, lenient, manager, approval.id, 0, approvals.APPROVE, None, clock.now())).finished


async def test_forged_and_late_presses_change_nothing(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        approval = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=100_000)
        for outsider in (user, crew[0], dispatcher, people["gm"]):  # customer, engineer, the requester, wrong role
            with pytest.raises(NotAllowed):
                await approvals.decide(uow, POLICY, outsider, approval.id, 0, approvals.APPROVE, None, clock.now())
        with pytest.raises(NotFound):
            await approvals.decide(uow, POLICY, people["mvp1"], 999_999, 0, approvals.APPROVE, None, clock.now())
        await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.APPROVE, None, clock.now())
        for late in (people["mvp1"], people["mvp2"]):  # a replayed press and the other approver's press
            with pytest.raises(approvals.AlreadyDecided):
                await approvals.decide(uow, POLICY, late, approval.id, 0, approvals.REJECT, "Too late", clock.now())
        assert len(await uow.approvals.actions(approval.id)) == 1 and approval.status == approvals.APPROVED


async def test_two_approvers_pressing_at_once_make_exactly_one_decision(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        approval = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=900_000)
        await uow.commit()
        ids = (approval.id, people["mvp1"].id, people["mvp2"].id)

    async def press(user_id, action):
        async with database.uow() as uow:
            actor = await uow.users.get(user_id)
            try:
                await approvals.decide(uow, POLICY, actor, ids[0], 0, action, "No budget", clock.now())
                await uow.commit()
                return action
            except approvals.AlreadyDecided:
                return "late"

    results = await asyncio.gather(press(ids[1], approvals.APPROVE), press(ids[2], approvals.REJECT))
    assert sorted(results) in (["approve", "late"], ["late", "reject"])
    async with database.uow() as uow:
        stored = await uow.approvals.get(ids[0])
        assert stored.status == ("approved" if "approve" in results else "rejected")
        assert len(await uow.approvals.actions(ids[0])) == 1


async def test_a_pending_approval_has_its_own_clock_and_pauses_the_jobs_clocks(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        await dispatch.respond(uow, crew[0], request.id, True, None, clock.now())
        clock.advance(timedelta(hours=1))
        approval = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=300_000)
        await uow.commit()
        clocks = {c.kind: c for c in await uow.requests.clocks(request.id)}
        assert clocks["approval_decided"].due_at == clock.now() + timedelta(hours=8)
        assert clocks["onsite_arrival"].pause_reason == "approval" and clocks["onsite_arrival"].due_at is None

        clock.advance(timedelta(hours=3))
        await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.APPROVE, None, clock.now())
        await uow.commit()
        clocks = {c.kind: c for c in await uow.requests.clocks(request.id)}
        assert clocks["approval_decided"].outcome == "met" and clocks["approval_decided"].late_seconds == 0
        arrival = clocks["onsite_arrival"]
        assert arrival.pause_reason is None
        window = POLICY.deadlines.window("onsite_arrival", request.distance_band)
        assert arrival.due_at == arrival.started_at + window + timedelta(hours=3)  # the 3 h of waiting do not count


async def _approval_clock(uow, request):
    return {c.kind: c for c in await uow.requests.clocks(request.id)}["approval_decided"]


async def _waiver(uow, dispatcher, request, clock):
    """An approval with nothing hanging on it (a requisition's would need its requisition)."""
    return await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=100_000)


async def test_a_second_approval_gets_its_own_8_hours(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        first = await _waiver(uow, dispatcher, request, clock)
        await uow.commit()
        clock.advance(timedelta(hours=6))
        second_asked = clock.now()
        second = await _waiver(uow, dispatcher, request, clock)
        await uow.commit()
        clock.advance(timedelta(hours=1))
        await approvals.decide(uow, POLICY, people["mvp1"], first.id, 0, approvals.APPROVE, None, clock.now())
        await uow.commit()
        running = await _approval_clock(uow, request)
        assert (running.started_at, running.due_at, running.stopped_at) == (second_asked, second_asked + timedelta(hours=8), None)
        assert running.next_alert_at == second_asked + timedelta(hours=4)  # its reminders run from its own start too
        clock.advance(timedelta(hours=2))  # 9 h after the first was asked, 3 h after the second
        await approvals.decide(uow, POLICY, people["mvp1"], second.id, 0, approvals.APPROVE, None, clock.now())
        await uow.commit()
        decided = await _approval_clock(uow, request)
        assert (decided.outcome, decided.earlier_breach) == ("met", False)


async def test_two_open_approvals_decided_out_of_order_each_keep_their_own_deadline(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        first_asked = clock.now()
        first = await _waiver(uow, dispatcher, request, clock)
        clock.advance(timedelta(hours=6))
        second = await _waiver(uow, dispatcher, request, clock)
        await uow.commit()
        clock.advance(timedelta(hours=1))
        await approvals.decide(uow, POLICY, people["mvp1"], second.id, 0, approvals.APPROVE, None, clock.now())  # the newer one first
        await uow.commit()
        assert (await _approval_clock(uow, request)).due_at == first_asked + timedelta(hours=8)  # the older one still runs from its own start
        clock.advance(timedelta(hours=2))
        await approvals.decide(uow, POLICY, people["mvp1"], first.id, 0, approvals.APPROVE, None, clock.now())  # 9 h: late
        await uow.commit()
        decided = await _approval_clock(uow, request)
        assert (decided.outcome, decided.late_seconds) == ("breached", 3600)


async def test_a_late_first_approval_is_remembered_when_the_second_is_decided_in_time(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        first = await _waiver(uow, dispatcher, request, clock)
        clock.advance(timedelta(hours=6))
        second = await _waiver(uow, dispatcher, request, clock)
        clock.advance(timedelta(hours=3))
        await approvals.decide(uow, POLICY, people["mvp1"], first.id, 0, approvals.APPROVE, None, clock.now())  # 9 h: late
        clock.advance(timedelta(hours=1))
        await approvals.decide(uow, POLICY, people["mvp1"], second.id, 0, approvals.APPROVE, None, clock.now())  # 4 h: in time
        await uow.commit()
        decided = await _approval_clock(uow, request)
        assert (decided.outcome, decided.earlier_breach) == ("met", True)


async def test_an_overdue_approval_escalates_past_its_approver(database, clock):
    planner = Planner(POLICY, ClockKeeper(POLICY, SHANGHAI), SHANGHAI)
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        approval = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=100_000)
        await uow.commit()
        clock_id = next(c.id for c in await uow.requests.clocks(request.id) if c.kind == "approval_decided")
        ids = {name: person.id for name, person in people.items()}
        approval_id = approval.id

    async def reminded_at(point):
        async with database.uow() as uow:
            await planner.plan(uow, clock.now())
            await uow.commit()
            return {r.user_id for r in await _outbox(uow) if r.payload.get("clock_id") == clock_id and r.payload.get("point") == point}

    clock.advance(timedelta(hours=4))  # 50 % of the 8 h window: the approvers
    assert await reminded_at(0) == {ids["mvp1"], ids["mvp2"]}
    clock.advance(timedelta(hours=4))  # breach: the approvers and the next level, the service manager
    assert await reminded_at(2) == {ids["mvp1"], ids["mvp2"], ids["sm"]}
    async with database.uow() as uow:
        assert (await uow.approvals.get(approval_id)).status == approvals.PENDING  # reminders nag; they never decide


async def _outbox(uow):
    return list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.mark.parametrize("decision, status", [(approvals.APPROVE, "new"), (approvals.REJECT, "closed")])
async def test_a_sales_request_reaches_the_queue_only_when_approved(database, clock, decision, status):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        seller = await _role(uow, dispatcher, 840, "Sam", sales.ROLE_SALES, clock)
        new = requests.NewRequest(kind="repair", description="Pump stops after an hour")
        request = await requests.create(uow, seller, customer, new, POLICY, clock.now(), SHANGHAI, awaiting_approval=True)
        approval = await approvals.request_approval(uow, POLICY, seller, request, "sales_request", clock.now())
        await uow.commit()
        assert {c.kind for c in await uow.requests.clocks(request.id)} == {"approval_decided"}  # no first-contact promise yet
        assert request.id not in [item.request.id for item in await dispatch.queue(uow, dispatcher)]

        clock.advance(timedelta(hours=2))
        await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.APPROVE, None, clock.now())
        await approvals.decide(uow, POLICY, people["pvp"], approval.id, 1, decision, "Not our customer", clock.now())
        await uow.commit()
        assert request.status == status
        clocks = {c.kind: c for c in await uow.requests.clocks(request.id)}
        queued = request.id in [item.request.id for item in await dispatch.queue(uow, dispatcher)]
        if status == "new":
            assert clocks["first_contact"].started_at == clock.now() and queued
        else:
            assert "first_contact" not in clocks and not queued


async def test_nothing_is_decided_or_answered_on_a_closed_or_cancelled_request(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)
        waiver = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=300_000)
        asked = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=300_000)
        await approvals.decide(uow, POLICY, people["mvp1"], asked.id, 0, approvals.ASK, "Which contract?", clock.now())
        for status in (requests.CLOSED, requests.CANCELLED):
            request.status = status  # e.g. closed as resolved while the waiver still waited
            with pytest.raises(approvals.RequestEnded):  # an approval would tell the customer the company pays
                await approvals.decide(uow, POLICY, people["mvp2"], waiver.id, 0, approvals.APPROVE, None, clock.now())
            with pytest.raises(approvals.RequestEnded):
                await approvals.start_comment(uow, POLICY, people["mvp2"], waiver.id, 0, approvals.REJECT, clock.now())
            with pytest.raises(approvals.RequestEnded):
                await approvals.answer(uow, dispatcher, asked.id, "FC-7", clock.now())
            assert await approvals.waiting_for(uow, POLICY, people["mvp2"]) == []
        assert (waiver.status, asked.status) == (approvals.PENDING, approvals.INFO)
        request.status = requests.TRIAGED
        assert (await approvals.decide(uow, POLICY, people["mvp2"], waiver.id, 0, approvals.APPROVE, None, clock.now())).finished


async def test_only_a_requester_still_active_in_the_asking_role_answers_a_question(database, clock):
    async with database.uow() as uow:
        admin, _, user, customer, people = await _desk(uow, clock)
        dan = await _role(uow, admin, 505, "Dan", "dispatcher", clock)
        request = await _request(uow, user, customer, clock)
        approval = await approvals.request_approval(uow, POLICY, dan, request, "waiver", clock.now(), amount_minor=300_000)
        await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.ASK, "How long a customer?", clock.now())
        draft, _ = await approvals.start_answer(uow, dan, approval.id, clock.now())  # the dialog is open...
        await staff.set_active(uow, admin, dan.id, False, clock.now())  # ...when Dan leaves
        with pytest.raises(NotFound):
            await approvals.answer(uow, dan, approval.id, "Ten years, trust me", clock.now())
        with pytest.raises(NotFound):
            await approvals.start_answer(uow, dan, approval.id, clock.now())
        await staff.set_active(uow, admin, dan.id, True, clock.now())
        await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.ASK, "Welcome back: how long?", clock.now())
        await staff.toggle_role(uow, admin, dan.id, "warehouse", clock.now())
        await staff.toggle_role(uow, admin, dan.id, "dispatcher", clock.now())  # moved to the warehouse
        with pytest.raises(NotFound):
            await approvals.answer(uow, dan, approval.id, "Ten years", clock.now())
        await staff.toggle_role(uow, admin, dan.id, "dispatcher", clock.now())  # back: the step went to the approvers meanwhile
        with pytest.raises(approvals.AlreadyDecided):
            await approvals.answer(uow, dan, approval.id, "Ten years", clock.now())
        await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.ASK, "How long, then?", clock.now())
        assert (await approvals.answer(uow, dan, approval.id, "Ten years", clock.now())).approval.status == approvals.PENDING


async def test_a_question_its_requester_can_no_longer_answer_goes_back_to_the_approvers(database, clock):
    """Deactivation, or losing the role that asked, ends what the person had open: a step waiting
    for their answer is the approvers' again (its clock running), and nobody asks them again."""
    async with database.uow() as uow:
        admin, _, user, customer, people = await _desk(uow, clock)
        dan = await _role(uow, admin, 505, "Dan", "dispatcher", clock)
        request = await _request(uow, user, customer, clock)
        approval = await approvals.request_approval(uow, POLICY, dan, request, "waiver", clock.now(), amount_minor=300_000)
        await approvals.decide(uow, POLICY, people["mvp1"], approval.id, 0, approvals.ASK, "How long a customer?", clock.now())
        await approvals.start_answer(uow, dan, approval.id, clock.now())  # the dialog is open...
        await staff.toggle_role(uow, admin, dan.id, "warehouse", clock.now())
        change = await staff.set_role(uow, admin, dan.id, "dispatcher", False, clock.now())  # ...when Dan moves to the warehouse
        assert [a.id for a in change.back_to_approvers] == [approval.id]
        assert (approval.status, approval.question) == (approvals.PENDING, None)
        assert approval.id in [a.id for a, _ in await approvals.waiting_for(uow, POLICY, people["mvp1"])]
        events = [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        assert events[-2:] == ["approval_info_requested", "approval_requester_left"]
        decided = [c for c in await uow.requests.clocks(request.id) if c.kind == "approval_decided"]
        assert decided[-1].stopped_at is None and decided[-1].started_at == clock.now()  # the approvers' deadline runs again
        with pytest.raises(NotFound):
            await approvals.answer(uow, dan, approval.id, "Ten years", clock.now())
        with pytest.raises(approvals.RequesterCannotAnswer):  # a question nobody would read
            await approvals.start_comment(uow, POLICY, people["mvp2"], approval.id, 0, approvals.ASK, clock.now())
        with pytest.raises(approvals.RequesterCannotAnswer):
            await approvals.decide(uow, POLICY, people["mvp2"], approval.id, 0, approvals.ASK, "And now?", clock.now())
        assert (await approvals.decide(uow, POLICY, people["mvp2"], approval.id, 0, approvals.APPROVE, None, clock.now())).finished
        await uow.commit()


async def test_a_question_to_a_deactivated_requester_is_put_back_once_and_reactivation_changes_nothing(database, clock):
    async with database.uow() as uow:
        admin, _, user, customer, people = await _desk(uow, clock)
        dan = await _role(uow, admin, 505, "Dan", "dispatcher", clock)
        request = await _request(uow, user, customer, clock)
        asked = await approvals.request_approval(uow, POLICY, dan, request, "waiver", clock.now(), amount_minor=300_000)
        pending = await approvals.request_approval(uow, POLICY, dan, request, "waiver", clock.now(), amount_minor=300_000)
        await approvals.decide(uow, POLICY, people["mvp1"], asked.id, 0, approvals.ASK, "How long a customer?", clock.now())
        change = await staff.change_active(uow, admin, dan.id, False, clock.now())
        assert [a.id for a in change.back_to_approvers] == [asked.id]
        assert (asked.status, pending.status) == (approvals.PENDING, approvals.PENDING)
        assert (await staff.change_active(uow, admin, dan.id, True, clock.now())).back_to_approvers == []
        assert asked.status == approvals.PENDING  # the answer is not his to give any more
        await approvals.decide(uow, POLICY, people["mvp1"], asked.id, 0, approvals.ASK, "Welcome back: how long?", clock.now())
        assert asked.status == approvals.INFO  # he is a dispatcher again: he may be asked
        await uow.commit()
