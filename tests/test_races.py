"""Two units of work on one request overlapping, as two bot processes of a fleet would: PostgreSQL only.

On PostgreSQL (READ COMMITTED) a transaction reads what others committed up to each statement, so a
service that reads a request and writes it back later could write over a change committed in
between; every change therefore locks the request row first (`uow.requests.lock`, the one lock
order: the request, then what hangs on it). SQLite runs one writing transaction at a time from its
BEGIN IMMEDIATE, so the second actor could not even start inside the first one's window: nothing to test there.

Each test stops the first actor right after a real read the service does once it has started (a
repository call between loading the request and writing it back), lets the second actor run in
that window for half a second, then lets the first go on. The assertions are invariants that hold
whichever way a correct implementation serialises the two (one of them refused, or both in a valid
order); a crash (a deadlock, a unique violation) would be the apology, and fails every test."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.services import approvals, cancellation, complaints, confirmation, dialogs, dispatch, reports, requests, staff, stock, users
from bot.services.errors import DomainError
from bot.services.inputs import TextInput
from tests.test_complaints import _complain_from_card, _team
from tests.test_dispatch import POLICY, _request, _setup
from tests.test_jobs import _fill_report, _on_site
from tests.test_stock import _world

OK = "ok"


@pytest.fixture(autouse=True)
def _postgresql_only(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a race between two database connections: PostgreSQL only (SQLite serialises whole transactions)")


def _pause(repo, name, reached: asyncio.Event, go: asyncio.Event, *, before: bool = False):
    """Make `repo.name` wait for `go` (after, or `before`, the real call)."""
    original = getattr(repo, name)

    async def paused(*args, **kwargs):
        if before:
            reached.set()
            await go.wait()
            return await original(*args, **kwargs)
        result = await original(*args, **kwargs)
        reached.set()
        await go.wait()
        return result

    setattr(repo, name, paused)


async def _race(first, second, reached: asyncio.Event, go: asyncio.Event) -> list[str]:
    """Run `first` until it pauses, `second` in the window, then let `first` finish."""

    async def outcome(actor):
        try:
            await actor()
            return OK
        except DomainError as refused:  # the handler tells the person "changed meanwhile" or similar
            return f"refused ({type(refused).__name__})"
        except Exception as crash:  # the handler would roll back and send the apology
            return f"apology ({type(crash).__name__}: {str(crash).splitlines()[0][:100]})"

    async def later():
        await reached.wait()
        return await outcome(second)

    async def release():
        await reached.wait()
        await asyncio.sleep(0.5)
        go.set()

    first_result, second_result, _ = await asyncio.gather(outcome(first), later(), release())
    return [first_result, second_result]


class _Snapshot:
    """A row's column values, readable after its unit of work has closed."""

    def __init__(self, row) -> None:
        self.__dict__.update({column.key: getattr(row, column.key) for column in row.__table__.columns})


def _no_edit_after_verdict(actions: list[str]) -> bool:
    """The report is editable only until it is confirmed (by the customer or the timeout)."""
    verdicts = [i for i, action in enumerate(actions) if action in ("confirmed", "confirmed_by_timeout")]
    return not verdicts or "report_updated" not in actions[verdicts[-1]:]


async def _assigned(database, clock, *, accepted=False):
    async with database.uow() as uow:
        dispatcher, crew, user, customer = await _setup(uow, clock, engineers=2)
        request = await _request(uow, user, customer, clock)
        await dispatch.assign(uow, dispatcher, request.id, crew[0].id, None, clock.now())
        if accepted:
            await dispatch.respond(uow, crew[0], request.id, True, None, clock.now())
        await uow.commit()
        return dispatcher.id, crew[0].id, crew[1].id, user.id, customer.id, request.id


async def _reported(database, clock):
    ids = await _assigned(database, clock, accepted=True)
    async with database.uow() as uow:
        engineer = await uow.users.get(ids[1])
        await _on_site(uow, engineer, await uow.requests.get(ids[5]), clock)
        draft = await reports.start(uow, engineer, ids[5], False, clock.now())
        await _fill_report(uow, draft, clock)
        await uow.commit()
    return ids


async def _report_sent_and_reopened_for_an_edit(database, clock):
    """The report was sent; the engineer reopened it and changed the solution, not sent yet."""
    ids = await _reported(database, clock)
    engineer_id, request_id = ids[1], ids[5]
    async with database.uow() as uow:
        engineer = await uow.users.get(engineer_id)
        await reports.submit(uow, engineer, await uow.drafts.of_user(engineer.id), clock.now())
        draft = await reports.edit(uow, engineer, request_id, clock.now())
        await reports.handle_button(uow, draft, "edit", "", clock.now())
        await reports.handle_button(uow, draft, "field", reports.SOLUTION, clock.now())
        await reports.handle_input(uow, draft, TextInput("Replaced the whole pump"), clock.now())
        await uow.commit()
    return ids


async def _send_the_edit(database, engineer_id, clock, pause=None):
    async with database.uow() as uow:
        engineer = await uow.users.get(engineer_id)
        if pause:
            pause(uow)
        await reports.submit(uow, engineer, await uow.drafts.of_user(engineer.id), clock.now())
        await uow.commit()


async def _cancel(database, user_id, customer_id, request_id, clock, pause=None):
    async with database.uow() as uow:
        if pause:
            pause(uow)
        customer = await uow.customers.get(customer_id)
        request = await requests.own_request(uow, customer, request_id)
        await cancellation.cancel_by_customer(uow, await uow.users.get(user_id), request, clock.now())
        await uow.commit()


async def _reassign(database, dispatcher_id, request_id, to_id, from_id, clock):
    async with database.uow() as uow:
        await dispatch.assign(uow, await uow.users.get(dispatcher_id), request_id, to_id, from_id, clock.now())
        await uow.commit()


async def _whose(database, request_id):
    """(assignee, status, started, engineer of the open assignment)."""
    async with database.uow() as uow:
        stored = await uow.requests.get(request_id)
        current = await uow.dispatch.current_assignment(request_id)
        return stored.assigned_engineer_id, stored.status, stored.engineer_started, current.engineer_id if current else None


# --- the engineer's answer against the dispatcher's reassignment -------------------------------


async def test_engineer_accepts_while_the_dispatcher_reassigns(database, clock):
    dispatcher_id, a_id, b_id, _, _, request_id = await _assigned(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def engineer_a_accepts():
        async with database.uow() as uow:
            _pause(uow.dispatch, "current_assignment", reached, go)
            await dispatch.respond(uow, await uow.users.get(a_id), request_id, True, None, clock.now())
            await uow.commit()

    results = await _race(engineer_a_accepts, lambda: _reassign(database, dispatcher_id, request_id, b_id, a_id, clock), reached, go)
    state = await _whose(database, request_id)
    assert state[0] == state[3], (results, state)  # the request and its open assignment name the same engineer
    if results[1] == OK:  # B was just given the job: it waits for B's own Accept (B's card has the buttons)
        assert state == (b_id, requests.ASSIGNED, False, b_id), (results, state)


async def test_engineer_declines_while_the_dispatcher_reassigns(database, clock):
    dispatcher_id, a_id, b_id, _, _, request_id = await _assigned(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def engineer_a_declines():
        async with database.uow() as uow:
            _pause(uow.dispatch, "current_assignment", reached, go)
            await dispatch.respond(uow, await uow.users.get(a_id), request_id, False, "Too far away", clock.now())
            await uow.commit()

    results = await _race(engineer_a_declines, lambda: _reassign(database, dispatcher_id, request_id, b_id, a_id, clock), reached, go)
    state = await _whose(database, request_id)
    assert state[0] == state[3], (results, state)  # never a job that belongs to nobody while B holds it
    if results[1] == OK:  # B was sent the job card: the job is B's
        assert state[:2] == (b_id, requests.ASSIGNED), (results, state)
    else:
        assert state[:2] == (None, requests.TRIAGED), (results, state)


async def test_engineer_deactivated_while_the_dispatcher_reassigns_the_job(database, clock):
    """`release_jobs` read the engineer's jobs, then wrote each back from that copy."""
    dispatcher_id, a_id, b_id, _, _, request_id = await _assigned(database, clock, accepted=True)
    reached, go = asyncio.Event(), asyncio.Event()

    async def admin_deactivates_a():
        async with database.uow() as uow:
            _pause(uow.dispatch, "jobs_of", reached, go)
            await staff.set_active(uow, await uow.users.get(dispatcher_id), a_id, False, clock.now())
            await uow.commit()

    results = await _race(admin_deactivates_a, lambda: _reassign(database, dispatcher_id, request_id, b_id, a_id, clock), reached, go)
    state = await _whose(database, request_id)
    assert state[0] == state[3], (results, state)
    if results[1] == OK:
        assert state[:2] == (b_id, requests.ASSIGNED), (results, state)


# --- the customer's cancellation -------------------------------------------------------------


async def test_customer_cancels_while_the_engineer_accepts(database, clock):
    _, a_id, _, user_id, customer_id, request_id = await _assigned(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def engineer_accepts():
        async with database.uow() as uow:
            _pause(uow.dispatch, "current_assignment", reached, go)
            await dispatch.respond(uow, await uow.users.get(a_id), request_id, True, None, clock.now())
            await uow.commit()

    results = await _race(engineer_accepts, lambda: _cancel(database, user_id, customer_id, request_id, clock), reached, go)
    async with database.uow() as uow:
        stored = await uow.requests.get(request_id)
        # the customer was told "cancelled" exactly when the request is cancelled
        assert (stored.status == requests.CANCELLED) == (results[1] == OK), (results, stored.status)
        assert results.count(OK) == 1, (results, stored.status)  # accepted and cancelled cannot both stand


async def test_dispatcher_triages_while_the_customer_cancels(database, clock):
    async with database.uow() as uow:
        dispatcher, _crew, user, customer = await _setup(uow, clock, engineers=1)
        request = await _request(uow, user, customer, clock)
        await uow.commit()
        dispatcher_id, user_id, customer_id, request_id = dispatcher.id, user.id, customer.id, request.id
    reached, go = asyncio.Event(), asyncio.Event()

    async def dispatcher_logs_contact():
        async with database.uow() as uow:
            _pause(uow.requests, "add_event", reached, go, before=True)
            await dispatch.log_contacted(uow, await uow.users.get(dispatcher_id), request_id, "Called, will send photos", clock.now())
            await uow.commit()

    results = await _race(dispatcher_logs_contact, lambda: _cancel(database, user_id, customer_id, request_id, clock), reached, go)
    async with database.uow() as uow:
        stored = await uow.requests.get(request_id)
        actions = [e.action for e in await uow.requests.events(request_id, include_internal=True)]
        assert (stored.status == requests.CANCELLED) == (results[1] == OK), (results, stored.status, actions)


# --- the closing report ------------------------------------------------------------------------


async def test_dispatcher_closes_while_the_engineer_submits_the_report(database, clock):
    dispatcher_id, a_id, _, _, _, request_id = await _reported(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def engineer_submits():
        async with database.uow() as uow:
            engineer = await uow.users.get(a_id)
            draft = await uow.drafts.of_user(engineer.id)
            _pause(uow.jobs, "report_of", reached, go)
            await reports.submit(uow, engineer, draft, clock.now())
            await uow.commit()

    async def dispatcher_closes():
        async with database.uow() as uow:
            await cancellation.close_by_dispatcher(uow, await uow.users.get(dispatcher_id), request_id, "duplicate", clock.now())
            await uow.commit()

    results = await _race(engineer_submits, dispatcher_closes, reached, go)
    async with database.uow() as uow:
        stored = await uow.requests.get(request_id)
        # "report sent, please confirm" and "closed by the service department" cannot both stand
        assert results.count(OK) == 1, (results, stored.status, stored.closed_reason)
        assert stored.status == (requests.CLOSED if results[1] == OK else requests.RESOLVED), (results, stored.status)


async def test_engineer_sends_a_report_edit_while_the_customer_confirms(database, clock):
    """The edit holds the request: the customer's verdict waits for it and confirms the edited report."""
    _, a_id, _, user_id, customer_id, request_id = await _report_sent_and_reopened_for_an_edit(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def customer_confirms():
        async with database.uow() as uow:
            customer = await uow.customers.get(customer_id)
            await confirmation.confirm(uow, await uow.users.get(user_id), customer, request_id, True, clock.now())
            await uow.commit()

    pause = lambda uow: _pause(uow.jobs, "report_of", reached, go)  # noqa: E731
    results = await _race(lambda: _send_the_edit(database, a_id, clock, pause), customer_confirms, reached, go)
    async with database.uow() as uow:
        report, stored = await uow.jobs.report_of(request_id), await uow.requests.get(request_id)
        report, stored = _Snapshot(report), _Snapshot(stored)
        actions = [e.action for e in await uow.requests.events(request_id, include_internal=True)]
    assert _no_edit_after_verdict(actions), (results, actions[-3:])
    if results[1] == OK:  # the customer confirmed: that report is the one on record, the request closed
        assert (report.outcome, stored.status) == ("confirmed", requests.CLOSED), (results, report.outcome, stored.status)


async def test_customer_confirms_while_the_engineer_sends_a_report_edit(database, clock):
    """The verdict holds the request: the edit that comes after it is refused."""
    _, a_id, _, user_id, customer_id, request_id = await _report_sent_and_reopened_for_an_edit(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def customer_confirms():
        async with database.uow() as uow:
            _pause(uow.jobs, "decide_report", reached, go)
            customer = await uow.customers.get(customer_id)
            await confirmation.confirm(uow, await uow.users.get(user_id), customer, request_id, True, clock.now())
            await uow.commit()

    results = await _race(customer_confirms, lambda: _send_the_edit(database, a_id, clock), reached, go)
    async with database.uow() as uow:
        report, stored = await uow.jobs.report_of(request_id), await uow.requests.get(request_id)
        report, stored = _Snapshot(report), _Snapshot(stored)
        actions = [e.action for e in await uow.requests.events(request_id, include_internal=True)]
    assert _no_edit_after_verdict(actions), (results, actions[-3:])
    if results[0] == OK:
        assert (report.outcome, stored.status) == ("confirmed", requests.CLOSED), (results, report.outcome, stored.status)
        assert report.solution != "Replaced the whole pump", results  # what the customer confirmed stays on record


async def test_timeout_sweep_runs_while_the_engineer_sends_a_report_edit(database, clock):
    _, a_id, _, _, _, request_id = await _report_sent_and_reopened_for_an_edit(database, clock)
    window = POLICY.closing.confirmation_timeout
    clock.advance(window + timedelta(hours=1))
    reached, go = asyncio.Event(), asyncio.Event()

    async def sweep():
        async with database.uow() as uow:
            await confirmation.close_unconfirmed(uow, clock.now(), window)
            await uow.commit()

    pause = lambda uow: _pause(uow.jobs, "report_of", reached, go)  # noqa: E731
    results = await _race(lambda: _send_the_edit(database, a_id, clock, pause), sweep, reached, go)
    async with database.uow() as uow:
        stored = _Snapshot(await uow.requests.get(request_id))
        actions = [e.action for e in await uow.requests.events(request_id, include_internal=True)]
    assert _no_edit_after_verdict(actions), (results, stored.status, actions[-3:])
    assert results == [OK, OK], results
    assert stored.status == requests.RESOLVED, (stored.status, actions[-3:])  # edited just now: its window starts again


# --- approvals, requisitions and the clocks ----------------------------------------------------


async def test_two_approvals_requested_at_once_on_one_request(database, clock):
    """The engineer sends a parts requisition while the dispatcher files a fee waiver for the same
    job: both clock keepers used to insert the request's `approval_decided` clock row."""
    dispatcher_id, a_id, _, _, _, request_id = await _assigned(database, clock, accepted=True)
    reached, go = asyncio.Event(), asyncio.Event()

    async def engineer_requests_parts():
        async with database.uow() as uow:
            request = await uow.requests.get(request_id)
            await approvals.request_approval(uow, POLICY, await uow.users.get(a_id), request, "requisition", clock.now(), reason="BRG-6204 × 1")
            await uow.requests.clocks(request_id)  # the clock keeper runs, as it does at the commit
            reached.set()
            await go.wait()
            await uow.commit()

    async def dispatcher_files_waiver():
        async with database.uow() as uow:
            request = await uow.requests.get(request_id)
            await approvals.request_approval(uow, POLICY, await uow.users.get(dispatcher_id), request, "waiver", clock.now(),
                                             amount_minor=50000, reason="goodwill")
            await uow.commit()

    results = await _race(engineer_requests_parts, dispatcher_files_waiver, reached, go)
    assert results == [OK, OK], results
    async with database.uow() as uow:
        assert len(await uow.approvals.pending_of_request(request_id)) == 2


async def _parts_awaiting_the_manager(database, clock):
    dispatcher, crew, request, _keepers, parts, _warehouses = await _world(database, clock)
    async with database.uow() as uow:
        manager = await users.touch(uow, 830, "Sun", None, "en", "en", clock.now())
        invite = await staff.create_invite(uow, dispatcher, "service_manager", POLICY.staff, clock.now())
        await staff.redeem_invite(uow, manager, invite.code, POLICY.staff, clock.now())
        engineer = await uow.users.get(crew[0].id)
        draft = await dialogs.begin(uow, engineer.id, stock.REQUISITION_DIALOG, stock.SEARCH_STEP, {
            "request_id": request.id, "lines": [{"part_id": parts["BRG-6204"].id, "code": "BRG-6204", "name": "Bearing 6204", "quantity": 2}],
        }, clock.now())
        requisition, approval = await stock.send_requisition(uow, POLICY, engineer, draft, clock.now())
        await uow.commit()
    clock.advance(timedelta(minutes=5))  # decided a little later (so the request's updated_at changes)
    return dispatcher.id, crew, request.id, manager.id, approval.id, requisition.id


def _manager_approves(database, clock, manager_id, approval_id, reached, go):
    async def approve():
        async with database.uow() as uow:
            _pause(uow.stock, "move_requisition", reached, go)
            await approvals.decide(uow, POLICY, await uow.users.get(manager_id), approval_id, 0, approvals.APPROVE, None, clock.now())
            await uow.commit()

    return approve


async def test_manager_approves_parts_while_the_dispatcher_closes_the_request(database, clock):
    """The approver locked approval → requisition → request, the dispatcher's close request →
    requisition: PostgreSQL aborted one as a deadlock."""
    dispatcher_id, _crew, request_id, manager_id, approval_id, requisition_id = await _parts_awaiting_the_manager(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def dispatcher_closes():
        async with database.uow() as uow:
            await cancellation.close_by_dispatcher(uow, await uow.users.get(dispatcher_id), request_id, "customer bought a new pump", clock.now())
            await uow.commit()

    results = await _race(_manager_approves(database, clock, manager_id, approval_id, reached, go), dispatcher_closes, reached, go)
    assert not any(r.startswith("apology") for r in results), results
    async with database.uow() as uow:
        requisition = _Snapshot(await uow.stock.requisition(requisition_id))
        stored = _Snapshot(await uow.requests.get(request_id))
    if results[1] == OK:  # closed: nothing is issued to it
        assert (stored.status, requisition.status) == (requests.CLOSED, stock.CANCELLED), (results, requisition.status)


async def test_manager_approves_parts_while_the_dispatcher_reassigns_the_job(database, clock):
    """The reassignment cancels the first engineer's requisitions (request → requisition)."""
    dispatcher_id, crew, request_id, manager_id, approval_id, requisition_id = await _parts_awaiting_the_manager(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    reassign = lambda: _reassign(database, dispatcher_id, request_id, crew[1].id, crew[0].id, clock)  # noqa: E731
    results = await _race(_manager_approves(database, clock, manager_id, approval_id, reached, go), reassign, reached, go)
    assert not any(r.startswith("apology") for r in results), results
    async with database.uow() as uow:
        requisition = _Snapshot(await uow.stock.requisition(requisition_id))
    if results[1] == OK:  # no part goes to the engineer who left the job
        assert requisition.status == stock.CANCELLED, (results, requisition.status)


# --- a complaint's answer against its withdrawal -----------------------------------------------


async def _complaint_ready_to_answer(database, clock):
    """A complaint taken, with cause and corrective action, its answer previewed; committed."""
    async with database.uow() as uow:
        _dispatcher, _crew, user, customer, people = await _team(uow, clock)
        filed = await _complain_from_card(uow, user, customer, await _request(uow, user, customer, clock), clock)
        qin, complaint_id = people["cs1"], filed.complaint.id
        await complaints.take(uow, qin, complaint_id, clock.now())
        await complaints.record_cause(uow, qin, complaint_id, True, "Nobody was on call that weekend", clock.now())
        await complaints.record_action(uow, qin, complaint_id, "A weekend rota", clock.now())
        draft = await complaints.begin_work(uow, qin, complaint_id, complaints.ANSWER, clock.now())
        await complaints.write_answer(uow, qin, draft, "We are sorry: from now on somebody is on call at weekends.", clock.now())
        await uow.commit()
        return qin.id, user.id, customer.id, filed.request.id, complaint_id


async def _send_answer(database, supervisor_id, clock, pause=None):
    async with database.uow() as uow:
        if pause:
            pause(uow)
        supervisor = await uow.users.get(supervisor_id)
        await complaints.send_answer(uow, supervisor, await uow.drafts.of_user(supervisor.id), clock.now(), deliver_from=clock.now())
        await uow.commit()


async def _answered_or_withdrawn(database, request_id, complaint_id, results, answer_first: bool):
    answer, cancel = (results[0], results[1]) if answer_first else (results[1], results[0])
    async with database.uow() as uow:
        stored = _Snapshot(await uow.requests.get(request_id))
        complaint = _Snapshot(await uow.complaints.get(complaint_id))
    # "your complaint is withdrawn" and the written answer cannot both reach the customer
    assert results.count(OK) == 1, (results, stored.status, complaint.state)
    assert (stored.status == requests.CANCELLED) == (cancel == OK), (results, stored.status)
    assert (complaint.state == complaints.ANSWERED) == (answer == OK), (results, complaint.state)


async def test_complaint_answered_while_the_customer_withdraws_it(database, clock):
    qin_id, user_id, customer_id, request_id, complaint_id = await _complaint_ready_to_answer(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()
    pause = lambda uow: _pause(uow.complaints, "move", reached, go, before=True)  # noqa: E731
    results = await _race(lambda: _send_answer(database, qin_id, clock, pause),
                          lambda: _cancel(database, user_id, customer_id, request_id, clock), reached, go)
    await _answered_or_withdrawn(database, request_id, complaint_id, results, answer_first=True)


async def test_customer_withdraws_a_complaint_while_it_is_answered(database, clock):
    qin_id, user_id, customer_id, request_id, complaint_id = await _complaint_ready_to_answer(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()
    pause = lambda uow: _pause(uow.returns, "of_request", reached, go)  # noqa: E731  (the cancel's first check)
    results = await _race(lambda: _cancel(database, user_id, customer_id, request_id, clock, pause),
                          lambda: _send_answer(database, qin_id, clock), reached, go)
    await _answered_or_withdrawn(database, request_id, complaint_id, results, answer_first=False)


async def test_warehouse_receives_the_product_while_the_customer_cancels_the_return(database, clock):
    """The warehouse's "received" moved the return row, then wrote the request; the customer's cancel
    locks the request, then moves the return row: each waited for the other (a deadlock, the apology)."""
    from bot.services import returns
    from tests.test_approvals import _desk, _role
    from tests.test_returns import POLICY as RETURN_POLICY, _file, _product

    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        keeper = await _role(uow, dispatcher, 840, "Wen", "warehouse", clock)
        filed = await _file(uow, user, customer, await _product(uow, customer, serial="QJ-4101"), clock)
        await approvals.decide(uow, RETURN_POLICY, people["sm"], filed.approval.id, 0, approvals.APPROVE, None, clock.now())
        await uow.commit()
        user_id, customer_id, request_id, case_id, keeper_id = user.id, customer.id, filed.request.id, filed.case.id, keeper.id
    reached, go = asyncio.Event(), asyncio.Event()

    async def customer_cancels():
        async with database.uow() as uow:
            _pause(uow.returns, "of_request", reached, go)
            request = await requests.own_request(uow, await uow.customers.get(customer_id), request_id)
            await cancellation.cancel_by_customer(uow, await uow.users.get(user_id), request, clock.now())
            await uow.commit()

    async def warehouse_receives():
        async with database.uow() as uow:
            await returns.advance(uow, await uow.users.get(keeper_id), case_id, returns.RECEIVED, clock.now())
            await uow.commit()

    results = await _race(customer_cancels, warehouse_receives, reached, go)
    assert not any(result.startswith("apology") for result in results), results
    async with database.uow() as uow:
        state = (await uow.returns.get(case_id)).state, (await uow.requests.get(request_id)).status
    # one of the two stands: cancelled before the product arrived, or received and no longer cancellable
    assert state in {(returns.CANCELLED, requests.CANCELLED), (returns.RECEIVED, requests.NEW)}, (results, state)


async def _two_admins(database, clock) -> tuple[int, int]:
    from tests.test_staff import POLICY as STAFF_POLICY

    async with database.uow() as uow:
        await users.ensure_bootstrap_staff(uow, [500], "en", clock.now())
        ann = await uow.users.by_telegram_id(500)
        bob = await users.touch(uow, 600, "Bob", None, "en", "en", clock.now())
        invite = await staff.create_invite(uow, ann, "admin", STAFF_POLICY, clock.now())
        await staff.redeem_invite(uow, bob, invite.code, STAFF_POLICY, clock.now())
        await uow.users.add_role(bob, "dispatcher")  # not left without a role once the admin one goes
        await uow.commit()
        return ann.id, bob.id


async def test_two_admins_demoting_each_other_at_once_leave_an_admin(database, clock):
    ann_id, bob_id = await _two_admins(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def ann_demotes_bob():
        async with database.uow() as uow:
            _pause(uow.staff, "lock_active_with_role", reached, go)
            await staff.set_role(uow, await uow.users.get(ann_id), bob_id, "admin", False, clock.now())
            await uow.commit()

    async def bob_demotes_ann():
        async with database.uow() as uow:
            await staff.set_role(uow, await uow.users.get(bob_id), ann_id, "admin", False, clock.now())
            await uow.commit()

    results = await _race(ann_demotes_bob, bob_demotes_ann, reached, go)
    assert not any(result.startswith("apology") for result in results), results
    async with database.uow() as uow:
        left = await uow.staff.count_active_with_role("admin")
    assert left == 1 and results[1].startswith("refused"), (results, left)


async def test_two_admins_deactivating_each_other_at_once_leave_an_admin(database, clock):
    ann_id, bob_id = await _two_admins(database, clock)
    reached, go = asyncio.Event(), asyncio.Event()

    async def ann_deactivates_bob():
        async with database.uow() as uow:
            _pause(uow.audit, "add", reached, go)
            await staff.set_active(uow, await uow.users.get(ann_id), bob_id, False, clock.now())
            await uow.commit()

    async def bob_deactivates_ann():
        async with database.uow() as uow:
            await staff.set_active(uow, await uow.users.get(bob_id), ann_id, False, clock.now())
            await uow.commit()

    results = await _race(ann_deactivates_bob, bob_deactivates_ann, reached, go)
    assert not any(result.startswith("apology") for result in results), results
    async with database.uow() as uow:
        left = await uow.staff.count_active_with_role("admin")
    assert left == 1 and results[1].startswith("refused"), (results, left)
