"""Spare parts and stock on SQLite and PostgreSQL: requisitions, issue, receipt, the ledger,
the safety-level alert, stock imports and two warehouse users racing for the last unit."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.services import dispatch, jobs, quotes, registry, reports, requests, staff, stock
from bot.services.errors import InvalidValue, NotAllowed, NotFound
from bot.services.inputs import TextInput
from storage.models import OutboxMessage, Part, PartRequisition, PartStock, Warehouse
from tests.test_dispatch import POLICY
from tests.test_jobs import _accepted_job, _on_site
from tests.test_quotes import _quote


async def _warehouse_people(uow, dispatcher, clock, count=1):
    from bot.services import users

    people = []
    for i in range(count):
        person = await users.touch(uow, 700 + i, f"Wu{i}", None, "en", "en", clock.now())
        invite = await staff.create_invite(uow, dispatcher, stock.ROLE_WAREHOUSE, POLICY.staff, clock.now())
        await staff.redeem_invite(uow, person, invite.code, POLICY.staff, clock.now())
        people.append(person)
    return people


async def _import(uow, admin, clock, text: str) -> registry.ImportResult:
    parsed = registry.parse_file("stock.csv", text.encode())
    assert parsed.errors == ()
    return await registry.import_file(uow, admin, parsed, clock.now())


STOCK_FILE = "code,name,unit,price,safety level,warehouse,quantity\n" \
             "BRG-6204,Bearing 6204,pc,35.50,3,MAIN,5\n" \
             "BRG-6204,Bearing 6204,pc,35.50,3,EAST,1\n" \
             "SEAL-1,Shaft seal,pc,12,,MAIN,10\n"


async def _world(database, clock, warehouse_people=1):
    """A job in progress, a warehouse person, and the stock of STOCK_FILE; committed."""
    async with database.uow() as uow:
        dispatcher, crew, user, customer, request = await _accepted_job(uow, clock)
        keepers = await _warehouse_people(uow, dispatcher, clock, warehouse_people)
        await _import(uow, dispatcher, clock, STOCK_FILE)
        await uow.commit()
    async with database.uow() as uow:
        parts = {p.code: p for p in await uow.session.scalars(select(Part))}
        warehouses = {w.code: w for w in await uow.stock.warehouses()}
        uow.session.expunge_all()  # plain snapshots for the test to read
    return dispatcher, crew, request, keepers, parts, warehouses


async def _quantities(database) -> dict[tuple[str, str], int]:
    async with database.uow() as uow:
        rows = await uow.session.execute(
            select(Part.code, Warehouse.code, PartStock.quantity).join(Part, Part.id == PartStock.part_id).join(Warehouse, Warehouse.id == PartStock.warehouse_id)
        )
        return {(part, warehouse): quantity for part, warehouse, quantity in rows.all()}


async def _approved(database, clock, engineer, request, lines) -> int:
    async with database.uow() as uow:
        requisition = await stock.request_parts(uow, engineer, request.id, lines, clock.now())
        await stock.mark_approved(uow, requisition.id, clock.now())
        await uow.commit()
        return requisition.id


async def test_importing_stock_sets_quantities_prices_and_writes_the_difference_to_the_ledger(database, clock):
    dispatcher, _, _, _, parts, warehouses = await _world(database, clock)
    bearing = parts["BRG-6204"]
    assert (bearing.price, bearing.safety_level, bearing.below_safety) == (3550, 3, False)
    assert (parts["SEAL-1"].price, parts["SEAL-1"].safety_level) == (1200, None)
    assert {code: w.name for code, w in warehouses.items()} == {"EAST": "EAST", "MAIN": "MAIN"}
    assert await _quantities(database) == {("BRG-6204", "MAIN"): 5, ("BRG-6204", "EAST"): 1, ("SEAL-1", "MAIN"): 10}

    async with database.uow() as uow:  # a stock count: one quantity changed, one the same, warehouse case ignored
        result = await _import(uow, dispatcher, clock, "Code,Name,Warehouse,Quantity\nbrg-6204,Bearing 6204,main,2\nSEAL-1,Shaft seal,MAIN,10\n")
        await uow.commit()
    assert (result.added, result.updated, result.unchanged, result.stock_changed, result.warehouses_added) == (0, 0, 2, 1, 0)
    assert (await _quantities(database))[("BRG-6204", "MAIN")] == 2
    async with database.uow() as uow:
        moves = await uow.stock.moves(part_id=bearing.id)
        assert [(m.warehouse_id, m.change, m.quantity_after, m.reason, m.user_id) for m in moves] == [
            (warehouses["MAIN"].id, 5, 5, "import", dispatcher.id),
            (warehouses["EAST"].id, 1, 1, "import", dispatcher.id),
            (warehouses["MAIN"].id, -3, 2, "import", dispatcher.id),
        ]
        assert len(await uow.stock.moves(part_id=parts["SEAL-1"].id)) == 1


async def test_a_requisition_goes_through_approval_issue_and_receipt_with_the_ledger(database, clock):
    dispatcher, crew, request, (keeper,), parts, warehouses = await _world(database, clock)
    engineer, bearing, seal = crew[0], parts["BRG-6204"], parts["SEAL-1"]
    async with database.uow() as uow:
        requisition = await stock.request_parts(uow, engineer, request.id, [(bearing.id, 1), (seal.id, 2), (bearing.id, 1)], clock.now())
        assert requisition.status == stock.REQUESTED
        assert [(line.part_id, line.quantity) for line in requisition.lines] == [(bearing.id, 2), (seal.id, 2)]
        with pytest.raises(stock.WrongState):  # approval first
            await stock.issue(uow, keeper, requisition.id, warehouses["MAIN"].id, clock.now())
        approved = await stock.mark_approved(uow, requisition.id, clock.now())
        assert (approved.status, approved.decided_at) == (stock.APPROVED, clock.now())
        with pytest.raises(stock.WrongState):
            await stock.mark_rejected(uow, requisition.id, clock.now(), note="too late")
        await uow.commit()

    async with database.uow() as uow:
        queue = await stock.issue_queue(uow, keeper)
        assert [(item.requisition.id, [w.code for w in item.warehouses]) for item in queue.items] == [(requisition.id, ["MAIN"])]  # EAST has 1 bearing
        with pytest.raises(NotAllowed):  # the engineer is not the warehouse
            await stock.issue(uow, engineer, requisition.id, warehouses["MAIN"].id, clock.now())
        issued = await stock.issue(uow, keeper, requisition.id, warehouses["MAIN"].id, clock.now())
        assert (issued.requisition.status, issued.requisition.warehouse_id, issued.requisition.issued_by_user_id) == (stock.ISSUED, warehouses["MAIN"].id, keeper.id)
        await uow.commit()
    assert await _quantities(database) == {("BRG-6204", "MAIN"): 3, ("BRG-6204", "EAST"): 1, ("SEAL-1", "MAIN"): 8}

    async with database.uow() as uow:
        with pytest.raises(stock.WrongState):  # pressed again
            await stock.issue(uow, keeper, requisition.id, warehouses["MAIN"].id, clock.now())
        with pytest.raises(NotFound):  # another engineer's requisition
            await stock.confirm_receipt(uow, crew[1], requisition.id, clock.now())
        received = (await stock.confirm_receipt(uow, engineer, requisition.id, clock.now())).requisition
        assert (received.status, received.received_at) == (stock.RECEIVED, clock.now())
        with pytest.raises(stock.WrongState):
            await stock.confirm_receipt(uow, engineer, requisition.id, clock.now())
        await uow.commit()

    async with database.uow() as uow:
        moves = await uow.stock.moves(requisition_id=requisition.id)
        assert [(m.part_id, m.warehouse_id, m.change, m.quantity_after, m.reason, m.user_id, m.request_id, m.created_at) for m in moves] == [
            (bearing.id, warehouses["MAIN"].id, -2, 3, "issue", keeper.id, request.id, clock.now()),
            (seal.id, warehouses["MAIN"].id, -2, 8, "issue", keeper.id, request.id, clock.now()),
        ]
        events = [(e.action, e.internal) for e in await uow.requests.events(request.id, include_internal=True)]
        assert [a for a, _ in events if a.startswith("parts_")] == ["parts_requested", "parts_approved", "parts_issued", "parts_received"]
        assert all(internal for a, internal in events if a.startswith("parts_"))


async def test_the_last_parts_received_end_a_wait_for_parts_and_nothing_else(database, clock):
    dispatcher, crew, request, (keeper,), parts, warehouses = await _world(database, clock)
    engineer, seal = crew[0], parts["SEAL-1"]
    first, second = [await _approved(database, clock, engineer, request, [(seal.id, 1)]) for _ in range(2)]
    async with database.uow() as uow:
        for requisition_id in (first, second):
            await stock.issue(uow, keeper, requisition_id, warehouses["MAIN"].id, clock.now())
        await jobs.wait_for(uow, engineer, request.id, jobs.WAITING_CUSTOMER, "Away until Monday", clock.now())
        received = await stock.confirm_receipt(uow, engineer, first, clock.now())
        assert (received.wait_over, received.request.waiting_for) == (False, jobs.WAITING_CUSTOMER)  # not a wait for parts
        await jobs.resume(uow, engineer, request.id, clock.now())
        await jobs.wait_for(uow, engineer, request.id, jobs.WAITING_PARTS, "The second seal", clock.now())
        received = await stock.confirm_receipt(uow, engineer, second, clock.now())
        assert (received.wait_over, received.request.waiting_for) == (True, None)
        await uow.commit()
    async with database.uow() as uow:
        events = [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        assert events[-2:] == ["parts_received", "work_resumed"]


async def test_only_the_assigned_engineer_of_a_job_in_progress_requests_parts(database, clock):
    _, crew, request, _, parts, _ = await _world(database, clock)
    bearing = parts["BRG-6204"]
    async with database.uow() as uow:
        with pytest.raises(NotFound):
            await stock.request_parts(uow, crew[1], request.id, [(bearing.id, 1)], clock.now())
        with pytest.raises(NotFound):  # a part that is not in the catalog
            await stock.request_parts(uow, crew[0], request.id, [(bearing.id, 1), (999_999, 1)], clock.now())
        with pytest.raises(InvalidValue):
            await stock.request_parts(uow, crew[0], request.id, [(bearing.id, 0)], clock.now())
        with pytest.raises(InvalidValue):
            await stock.request_parts(uow, crew[0], request.id, [], clock.now())
        request_row = await uow.requests.get(request.id)
        request_row.status = "resolved"
        with pytest.raises(NotAllowed):
            await stock.request_parts(uow, crew[0], request.id, [(bearing.id, 1)], clock.now())
        assert await uow.session.scalar(select(func.count()).select_from(PartRequisition)) == 0


async def test_paid_work_gets_no_parts_before_the_customer_accepts_the_quote(database, clock):
    dispatcher, crew, request, (keeper,), parts, warehouses = await _world(database, clock)
    engineer, bearing = crew[0], parts["BRG-6204"]
    early = await _approved(database, clock, engineer, request, [(bearing.id, 1)])  # while the work was still free
    async with database.uow() as uow:
        uow.session.add(Part(code="QJ-200", name="Impeller", unit="pcs", price=120_000))
        await dispatch.set_warranty(uow, dispatcher, request.id, "expired", clock.now())
        quote = await _quote(uow, dispatcher, request, clock)
        with pytest.raises(quotes.PaymentPending):  # "🔩 Request parts" on the job card
            await stock.start_requisition(uow, engineer, request.id, clock.now())
        with pytest.raises(quotes.PaymentPending):
            await stock.request_parts(uow, engineer, request.id, [(bearing.id, 1)], clock.now())
        with pytest.raises(quotes.PaymentPending):  # approved before the quote went out: not issued either
            await stock.issue(uow, keeper, early, warehouses["MAIN"].id, clock.now())
        await uow.commit()
    assert await _quantities(database) == {("BRG-6204", "MAIN"): 5, ("BRG-6204", "EAST"): 1, ("SEAL-1", "MAIN"): 10}
    async with database.uow() as uow:
        assert [(r.id, r.status) for r in await stock.requisitions_of(uow, request.id)] == [(early, stock.APPROVED)]
        customer = await requests.customer_user(uow, await uow.requests.get(request.id))
        await quotes.answer(uow, customer, quote.id, True, clock.now())
        await stock.issue(uow, keeper, early, warehouses["MAIN"].id, clock.now())
        await stock.request_parts(uow, engineer, request.id, [(bearing.id, 1)], clock.now())
        await uow.commit()
    assert (await _quantities(database))[("BRG-6204", "MAIN")] == 4


async def test_a_short_line_issues_nothing_at_all(database, clock):
    _, crew, request, (keeper,), parts, warehouses = await _world(database, clock)
    requisition_id = await _approved(database, clock, crew[0], request, [(parts["SEAL-1"].id, 3), (parts["BRG-6204"].id, 2)])
    async with database.uow() as uow:
        with pytest.raises(stock.OutOfStock) as short:
            await stock.issue(uow, keeper, requisition_id, warehouses["EAST"].id, clock.now())
        assert (short.value.part.code, short.value.wanted, short.value.available) == ("BRG-6204", 2, 1)
        await uow.commit()  # what the handler does after answering: the savepoint already undid the issue
    assert await _quantities(database) == {("BRG-6204", "MAIN"): 5, ("BRG-6204", "EAST"): 1, ("SEAL-1", "MAIN"): 10}
    async with database.uow() as uow:
        assert (await uow.stock.requisition(requisition_id)).status == stock.APPROVED
        assert await uow.stock.moves(requisition_id=requisition_id) == []


async def test_two_warehouse_users_issuing_the_last_unit_at_once_one_wins(database, clock):
    dispatcher, crew, request, keepers, parts, warehouses = await _world(database, clock, warehouse_people=2)
    bearing, east = parts["BRG-6204"], warehouses["EAST"]  # EAST holds the last single bearing
    first = await _approved(database, clock, crew[0], request, [(bearing.id, 1)])
    second = await _approved(database, clock, crew[0], request, [(bearing.id, 1)])

    async def issue(keeper, requisition_id):
        async with database.uow() as uow:
            try:
                await stock.issue(uow, keeper, requisition_id, east.id, clock.now())
            except stock.OutOfStock:
                await uow.commit()
                return "short"
            await asyncio.sleep(0.05)  # hold the transaction open a moment: the other one must wait or lose
            await uow.commit()
            return "issued"

    outcomes = await asyncio.gather(issue(keepers[0], first), issue(keepers[1], second))
    assert sorted(outcomes) == ["issued", "short"]
    assert (await _quantities(database))[("BRG-6204", "EAST")] == 0
    async with database.uow() as uow:
        moves = [m for m in await uow.stock.moves(part_id=bearing.id) if m.reason == "issue"]
        assert [(m.warehouse_id, m.change, m.quantity_after) for m in moves] == [(east.id, -1, 0)]
        statuses = sorted([(await uow.stock.requisition(first)).status, (await uow.stock.requisition(second)).status])
        assert statuses == [stock.APPROVED, stock.ISSUED]


async def test_the_same_requisition_pressed_by_two_warehouse_users_is_issued_once(database, clock):
    _, crew, request, keepers, parts, warehouses = await _world(database, clock, warehouse_people=2)
    requisition_id = await _approved(database, clock, crew[0], request, [(parts["SEAL-1"].id, 4)])

    async def issue(keeper):
        async with database.uow() as uow:
            try:
                await stock.issue(uow, keeper, requisition_id, warehouses["MAIN"].id, clock.now())
            except stock.WrongState:
                return "refused"
            await asyncio.sleep(0.05)
            await uow.commit()
            return "issued"

    assert sorted(await asyncio.gather(issue(keepers[0]), issue(keepers[1]))) == ["issued", "refused"]
    assert (await _quantities(database))[("SEAL-1", "MAIN")] == 6
    async with database.uow() as uow:
        assert len(await uow.stock.moves(requisition_id=requisition_id)) == 1


async def _alerts(database) -> list[tuple[int, dict]]:
    async with database.uow() as uow:
        rows = await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == stock.STOCK_LOW).order_by(OutboxMessage.id))
        return [(m.user_id, m.payload) for m in rows]


async def test_falling_below_the_safety_level_alerts_the_warehouse_once_per_crossing(database, clock):
    dispatcher, crew, request, keepers, parts, warehouses = await _world(database, clock, warehouse_people=2)
    bearing, main = parts["BRG-6204"], warehouses["MAIN"]  # safety level 3; 5 in MAIN + 1 in EAST = 6

    async def issue(quantity):
        requisition_id = await _approved(database, clock, crew[0], request, [(bearing.id, quantity)])
        async with database.uow() as uow:
            issued = await stock.issue(uow, keepers[0], requisition_id, main.id, clock.now())
            await uow.commit()
            return issued.alerts

    assert await issue(3) == 0  # 3 left: at the level, not below it
    assert await _alerts(database) == []
    assert await issue(1) == 2  # 2 left: below, both warehouse people told
    alerts = await _alerts(database)
    assert sorted(user for user, _ in alerts) == sorted(k.id for k in keepers)
    assert alerts[0][1] == {"part_id": bearing.id, "code": "BRG-6204", "name": "Bearing 6204", "total": 2, "safety_level": 3}
    assert await issue(1) == 0  # still below: no second alert
    assert len(await _alerts(database)) == 2

    async with database.uow() as uow:  # restocked: back above the level re-arms the alert
        await _import(uow, dispatcher, clock, "code,name,warehouse,quantity\nBRG-6204,Bearing 6204,MAIN,4\n")
        await uow.commit()
    async with database.uow() as uow:
        assert (await uow.parts.by_code("BRG-6204")).below_safety is False
    assert await issue(1) == 0  # 4 in MAIN + 1 EAST = 5 → 4 left
    assert await issue(2) == 2  # 2 left: a new crossing, a new alert
    assert len(await _alerts(database)) == 4


async def test_an_import_that_leaves_a_part_below_its_level_alerts_too(database, clock):
    dispatcher, _, _, (keeper,), parts, _ = await _world(database, clock)
    async with database.uow() as uow:
        await _import(uow, dispatcher, clock, "code,name,safety level\nSEAL-1,Shaft seal,20\n")
        await uow.commit()
    assert await _alerts(database) == [(keeper.id, {"part_id": parts["SEAL-1"].id, "code": "SEAL-1", "name": "Shaft seal", "total": 10, "safety_level": 20})]


async def test_a_drop_below_the_level_with_nobody_in_the_warehouse_role_alerts_once_someone_is(database, clock):
    dispatcher, _, _, (keeper,), parts, _ = await _world(database, clock)
    async with database.uow() as uow:
        await staff.set_active(uow, dispatcher, keeper.id, False, clock.now())
        await _import(uow, dispatcher, clock, "code,name,warehouse,quantity\nBRG-6204,Bearing 6204,MAIN,1\n")  # 2 < 3
        await uow.commit()
    assert await _alerts(database) == []
    async with database.uow() as uow:
        await staff.set_active(uow, dispatcher, keeper.id, True, clock.now())
        await _import(uow, dispatcher, clock, "code,name,warehouse,quantity\nBRG-6204,Bearing 6204,MAIN,0\n")
        await uow.commit()
    assert [(user, payload["total"]) for user, payload in await _alerts(database)] == [(keeper.id, 1)]


async def test_the_issue_list_puts_what_can_go_out_first_and_counts_the_rest(database, clock):
    dispatcher, crew, request, (keeper,), parts, _ = await _world(database, clock)
    stuck = [await _approved(database, clock, crew[0], request, [(parts["BRG-6204"].id, 999)]) for _ in range(stock.ISSUE_LIST_SHOWN)]
    clock.advance(timedelta(minutes=1))
    seal = await _approved(database, clock, crew[0], request, [(parts["SEAL-1"].id, 1)])
    async with database.uow() as uow:
        queue = await stock.issue_queue(uow, keeper)
        assert [item.requisition.id for item in queue.items] == [seal] + stuck[:-1]  # oldest first within each group
        assert queue.total == stock.ISSUE_LIST_SHOWN + 1


async def test_cancel_rejected_and_reconcile(database, clock):
    _, crew, request, (keeper,), parts, warehouses = await _world(database, clock)
    engineer, bearing, seal = crew[0], parts["BRG-6204"], parts["SEAL-1"]
    async with database.uow() as uow:
        withdrawn = await stock.request_parts(uow, engineer, request.id, [(seal.id, 1)], clock.now())
        assert (await stock.cancel(uow, engineer, withdrawn.id, clock.now())).requisition.status == stock.CANCELLED
        with pytest.raises(stock.WrongState):
            await stock.mark_approved(uow, withdrawn.id, clock.now())
        refused = await stock.request_parts(uow, engineer, request.id, [(seal.id, 9)], clock.now())
        rejected = await stock.mark_rejected(uow, refused.id, clock.now(), note="Use the spare on site")
        assert (rejected.status, rejected.note) == (stock.REJECTED, "Use the spare on site")
        await uow.commit()
    requisition_id = await _approved(database, clock, engineer, request, [(bearing.id, 2), (seal.id, 1)])
    async with database.uow() as uow:
        await stock.issue(uow, keeper, requisition_id, warehouses["MAIN"].id, clock.now())
        await _on_site(uow, engineer, request, clock)
        draft = await reports.start(uow, engineer, request.id, False, clock.now())
        for text in ("Noise", "Worn bearing"):
            await reports.handle_input(uow, draft, TextInput(text), clock.now())
        await reports.handle_button(uow, draft, "fault", "wear", clock.now())
        await reports.handle_input(uow, draft, TextInput("Replaced it"), clock.now())
        await reports.handle_input(uow, draft, TextInput("BRG-6204"), clock.now())  # an exact code: straight to the quantity
        await reports.handle_input(uow, draft, TextInput("1"), clock.now())
        await reports.handle_input(uow, draft, TextInput("Grease"), clock.now())
        await reports.handle_button(uow, draft, "free", "", clock.now())
        await reports.handle_input(uow, draft, TextInput("1"), clock.now())
        await reports.handle_button(uow, draft, "done", "", clock.now())
        for text in ("1", "10", "0"):
            await reports.handle_input(uow, draft, TextInput(text), clock.now())
        from bot.services.inputs import PhotoInput
        await reports.handle_input(uow, draft, PhotoInput("p1"), clock.now())
        await reports.handle_button(uow, draft, "done", "", clock.now())
        await reports.handle_input(uow, draft, TextInput("Fine"), clock.now())
        await reports.submit(uow, engineer, draft, clock.now())
        differences = await stock.reconcile(uow, request.id)
    assert differences == [
        stock.Difference(bearing.id, "Bearing 6204", 2, 1),
        stock.Difference(seal.id, "Shaft seal", 1, 0),
        stock.Difference(None, "Grease", 0, 1),
    ]


@pytest.mark.parametrize("decision, status", [("approve", stock.APPROVED), ("reject", stock.REJECTED)])
async def test_the_service_managers_decision_on_the_approval_decides_the_requisition(database, clock, decision, status):
    from bot.services import approvals, dialogs, users

    dispatcher, crew, request, keepers, parts, warehouses = await _world(database, clock)
    async with database.uow() as uow:
        manager = await users.touch(uow, 830, "Sun", None, "en", "en", clock.now())
        invite = await staff.create_invite(uow, dispatcher, "service_manager", POLICY.staff, clock.now())
        await staff.redeem_invite(uow, manager, invite.code, POLICY.staff, clock.now())
        engineer = await uow.users.get(crew[0].id)
        draft = await dialogs.begin(uow, engineer.id, stock.REQUISITION_DIALOG, stock.SEARCH_STEP, {
            "request_id": request.id, "lines": [{"part_id": parts["BRG-6204"].id, "code": "BRG-6204", "name": "Bearing 6204", "quantity": 2}],
        }, clock.now())
        requisition, approval = await stock.send_requisition(uow, POLICY, engineer, draft, clock.now())
        assert approval.chain == ["service_manager"] and approval.subject_id == requisition.id and requisition.status == stock.REQUESTED
        await approvals.decide(uow, POLICY, manager, approval.id, 0, decision, "Use the refurbished one", clock.now())
        await uow.commit()
        stored = await uow.stock.requisition(requisition.id)
        assert stored.status == status
        assert (stored.note == "Use the refurbished one") == (status == stock.REJECTED)


async def test_a_requisition_no_single_warehouse_covers_is_issued_from_several_as_planned(database, clock):
    dispatcher, crew, request, keepers, parts, warehouses = await _world(database, clock, warehouse_people=2)
    async with database.uow() as uow:  # a fuse only EAST holds
        await _import(uow, dispatcher, clock, "code,name,warehouse,quantity\nFUSE-2,Fuse 2 A,EAST,4\n")
        await uow.commit()
        fuse_id = (await uow.parts.by_code("FUSE-2")).id
    bearing, seal, main, east = parts["BRG-6204"], parts["SEAL-1"], warehouses["MAIN"], warehouses["EAST"]
    requisition_id = await _approved(database, clock, crew[0], request, [(seal.id, 2), (fuse_id, 1), (bearing.id, 6)])

    async with database.uow() as uow:
        item = await stock.issue_item(uow, keepers[0], requisition_id)
        assert (item.warehouses, item.short) == ([], [])
        assert [(p.warehouse.code, p.part_id, p.quantity) for p in item.split] == [
            ("MAIN", seal.id, 2), ("MAIN", bearing.id, 5), ("EAST", fuse_id, 1), ("EAST", bearing.id, 1),
        ]
        shown = stock.plan_key(item.split)
        with pytest.raises(NotAllowed):  # the engineer is not the warehouse
            await stock.issue_split(uow, crew[0], requisition_id, shown, clock.now())

    async with database.uow() as uow:  # a stock count moves bearings between the warehouses after the plan was shown
        await _import(uow, dispatcher, clock, "code,name,warehouse,quantity\nBRG-6204,Bearing 6204,MAIN,4\nBRG-6204,Bearing 6204,EAST,2\n")
        await uow.commit()
    async with database.uow() as uow:
        with pytest.raises(stock.PlanChanged):
            await stock.issue_split(uow, keepers[0], requisition_id, shown, clock.now())
        await uow.commit()
        assert (await uow.stock.requisition(requisition_id)).status == stock.APPROVED
        assert await uow.stock.moves(requisition_id=requisition_id) == []
        item = await stock.issue_item(uow, keepers[0], requisition_id)
        shown = stock.plan_key(item.split)
        issued = await stock.issue_split(uow, keepers[0], requisition_id, shown, clock.now())
        assert (issued.requisition.status, issued.requisition.warehouse_id, issued.requisition.issued_by_user_id) == (stock.ISSUED, None, keepers[0].id)
        assert [w.code for w in issued.warehouses] == ["MAIN", "EAST"]
        assert issued.alerts == 2  # no bearing left anywhere: below its safety level, both keepers told
        await uow.commit()
    assert await _quantities(database) == {
        ("BRG-6204", "MAIN"): 0, ("BRG-6204", "EAST"): 0, ("SEAL-1", "MAIN"): 8, ("FUSE-2", "EAST"): 3,
    }
    async with database.uow() as uow:
        moves = await uow.stock.moves(requisition_id=requisition_id)
        assert sorted((m.part_id, m.warehouse_id, m.change, m.quantity_after, m.reason, m.user_id, m.request_id) for m in moves) == sorted([
            (bearing.id, main.id, -4, 0, "issue", keepers[0].id, request.id), (bearing.id, east.id, -2, 0, "issue", keepers[0].id, request.id),
            (seal.id, main.id, -2, 8, "issue", keepers[0].id, request.id), (fuse_id, east.id, -1, 3, "issue", keepers[0].id, request.id),
        ])
        with pytest.raises(stock.WrongState):  # confirmed twice
            await stock.issue_split(uow, keepers[1], requisition_id, shown, clock.now())
        events = [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        assert events.count("parts_issued") == 1
    assert len(await _alerts(database)) == 2


async def test_a_requisition_all_warehouses_together_cannot_cover_says_what_is_short(database, clock):
    _, crew, request, (keeper,), parts, _ = await _world(database, clock)
    bearing, seal = parts["BRG-6204"], parts["SEAL-1"]
    requisition_id = await _approved(database, clock, crew[0], request, [(seal.id, 2), (bearing.id, 8)])
    async with database.uow() as uow:
        item = await stock.issue_item(uow, keeper, requisition_id)
        assert (item.warehouses, item.split) == ([], None)
        assert [(s.part_id, s.wanted, s.available, s.missing) for s in item.short] == [(bearing.id, 8, 6, 2)]
        with pytest.raises(stock.PlanChanged):  # a plan pressed from an old card: nothing to plan now
            await stock.issue_split(uow, keeper, requisition_id, "0" * stock.PLAN_KEY_LENGTH, clock.now())
        assert await stock.tell_waiting_for_stock(uow, item, {"text": "waits", "markup": None}, clock.now())
        assert not await stock.tell_waiting_for_stock(uow, item, {"text": "waits", "markup": None}, clock.now())  # once
        await uow.commit()
    async with database.uow() as uow:
        told = list(await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == crew[0].id, OutboxMessage.key.like("waiting_for_stock:%"))))
        assert [m.payload["text"] for m in told] == ["waits"]
    assert (await _quantities(database))[("SEAL-1", "MAIN")] == 10
