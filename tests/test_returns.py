"""Returns on SQLite and PostgreSQL: the dialog's rules, the request and approval it creates, what
the service manager's decision does, and the staff's tracking steps (one press wins)."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services import approvals, dialogs, returns
from bot.services.errors import NotAllowed, NotFound, StaleAction
from storage.models import Product
from tests.conftest import SHANGHAI
from tests.test_approvals import _desk, _role
from tests.test_dispatch import _request

POLICY = load_policy(DEFAULT_POLICY_FILE)
TODAY = date(2026, 3, 2)  # the test clock's local date (09:30 in Shanghai)


def _reason(proposal, product) -> str:
    return f"{proposal.reason}/{proposal.outcome}/{product.serial}"


async def _product(uow, customer, serial="QJ-2001", sold=TODAY - timedelta(days=10), **fields):
    return await uow.products.add(Product(serial=serial, model="QJ 50-120", customer_id=customer.id if customer else None, sale_date=sold, **fields))


async def _file(uow, user, customer, product, clock, reason=returns.QUALITY, text="Pump trips the breaker"):
    draft, _ = await returns.start_from_product(uow, user, customer, product.id, clock.now())
    await returns.choose_reason(uow, POLICY, customer, draft, reason, TODAY, clock.now())
    returns.describe(draft, text, clock.now())
    return await returns.submit(uow, POLICY, user, customer, draft, clock.now(), SHANGHAI, _reason)


async def test_a_fault_10_days_after_sale_asks_the_service_manager_for_a_refund_at_the_companys_cost(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        product = await _product(uow, customer)
        filed = await _file(uow, user, customer, product, clock)
        request, case, approval = filed.request, filed.case, filed.approval
        assert (request.kind, request.status, request.product_id, request.description) == ("return", "new", product.id, "Pump trips the breaker")
        assert (case.state, case.reason_kind, case.proposed_outcome, case.shipping_paid_by, case.days_since) == ("pending", "quality", "refund", "company", 10)
        assert (approval.kind, approval.chain, approval.subject_id, approval.reason) == ("return", ["service_manager"], case.id, "quality/refund/QJ-2001")
        assert [u.first_name for u in await approvals.approvers(uow, POLICY, approval)] == ["Sun"]
        assert await dialogs.current(uow, user.id) is None  # the dialog ended
        assert [e.action for e in await uow.requests.events(request.id, include_internal=True)] == ["created", "approval_requested"]


async def test_approval_then_received_inspected_refunded_closes_the_request_and_its_clocks(database, clock):
    async with database.uow() as uow:
        dispatcher, crew, user, customer, people = await _desk(uow, clock)
        keeper = await _role(uow, dispatcher, 840, "Wen", "warehouse", clock)
        filed = await _file(uow, user, customer, await _product(uow, customer), clock)
        outcome = await approvals.decide(uow, POLICY, people["sm"], filed.approval.id, 0, approvals.APPROVE, None, clock.now())
        assert outcome.finished
        case, request = filed.case, filed.request
        await uow.session.refresh(case)
        assert (case.state, request.status) == ("approved", "in_progress")

        for outsider in (user, crew[0], dispatcher):  # customer, engineer, dispatcher: not trackers
            with pytest.raises(NotAllowed):
                await returns.advance(uow, outsider, case.id, returns.RECEIVED, clock.now())
        with pytest.raises(returns.AlreadyMoved):  # not received yet: nothing to refund
            await returns.advance(uow, keeper, case.id, returns.REFUNDED, clock.now())
        for step, actor in ((returns.RECEIVED, keeper), (returns.INSPECTED, people["sm"]), (returns.REFUNDED, keeper)):
            clock.advance(timedelta(days=1))
            tracked = await returns.advance(uow, actor, case.id, step, clock.now())
            assert tracked.case.state == step
        with pytest.raises(returns.AlreadyMoved):  # a double press on the last step
            await returns.advance(uow, keeper, case.id, returns.REFUNDED, clock.now())
        assert (request.status, request.closed_reason) == ("closed", "refunded")
        assert case.received_at and case.inspected_at and case.finished_at
        visible = [e.action for e in await uow.requests.events(request.id, include_internal=False)]
        assert visible == ["created", "return_approved", "return_received", "return_inspected", "return_refunded"]
        product = await uow.products.get(case.product_id)
        assert product.customer_id is None  # refunded: the unit is the company's, not the customer's to return again
        with pytest.raises(NotFound):
            await _file(uow, user, customer, product, clock)
        await uow.commit()
    async with database.uow() as uow:
        assert all(c.stopped_at is not None for c in await uow.requests.clocks(filed.request.id))


async def test_a_rejection_closes_the_request_with_the_managers_reason(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        filed = await _file(uow, user, customer, await _product(uow, customer), clock)
        await approvals.decide(uow, POLICY, people["sm"], filed.approval.id, 0, approvals.REJECT, "The seal is broken by a hammer", clock.now())
        await uow.session.refresh(filed.case)
        assert (filed.case.state, filed.case.note) == ("rejected", "The seal is broken by a hammer")
        assert (filed.request.status, filed.request.closed_reason) == ("closed", "return_rejected")
        last = (await uow.requests.events(filed.request.id, include_internal=False))[-1]
        assert (last.action, last.details["text"]) == ("return_rejected", "The seal is broken by a hammer")
        keeper = await _role(uow, dispatcher, 840, "Wen", "warehouse", clock)
        with pytest.raises(returns.AlreadyMoved):
            await returns.advance(uow, keeper, filed.case.id, returns.RECEIVED, clock.now())


async def test_an_unused_product_past_day_7_is_refused_and_the_dialog_stays_at_the_reason(database, clock):
    async with database.uow() as uow:
        _, _, user, customer, _ = await _desk(uow, clock)
        product = await _product(uow, customer, sold=TODAY - timedelta(days=8))
        draft, _ = await returns.start_from_product(uow, user, customer, product.id, clock.now())
        with pytest.raises(returns.NotReturnable) as refused:
            await returns.choose_reason(uow, POLICY, customer, draft, returns.UNUSED, TODAY, clock.now())
        assert refused.value.proposal.window_end == TODAY - timedelta(days=1)
        assert draft.step == returns.REASON
        proposal = await returns.choose_reason(uow, POLICY, customer, draft, returns.QUALITY, TODAY, clock.now())
        assert (proposal.outcome, draft.step) == (returns.REFUND, returns.DESCRIPTION)
        with pytest.raises(StaleAction):  # a second press of a reason button from the old prompt
            await returns.choose_reason(uow, POLICY, customer, draft, returns.UNUSED, TODAY, clock.now())


async def test_the_windows_are_applied_again_on_sending(database, clock):
    async with database.uow() as uow:
        _, _, user, customer, _ = await _desk(uow, clock)
        product = await _product(uow, customer, sold=TODAY - timedelta(days=15))
        draft, _ = await returns.start_from_product(uow, user, customer, product.id, clock.now())
        assert (await returns.choose_reason(uow, POLICY, customer, draft, returns.QUALITY, TODAY, clock.now())).outcome == returns.REFUND
        returns.describe(draft, "Leaks", clock.now())
        clock.advance(timedelta(days=1))  # the customer confirms the next morning: day 16
        filed = await returns.submit(uow, POLICY, user, customer, draft, clock.now(), SHANGHAI, _reason)
        assert (filed.case.proposed_outcome, filed.case.days_since) == (returns.EXCHANGE, 16)


async def test_one_open_return_per_product_and_only_the_customers_own_dated_products(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, _ = await _desk(uow, clock)
        product = await _product(uow, customer)
        filed = await _file(uow, user, customer, product, clock)
        with pytest.raises(returns.AlreadyOpen) as already:
            await returns.start_from_product(uow, user, customer, product.id, clock.now())
        assert already.value.request.number == filed.request.number
        stranger = await _product(uow, None, serial="QJ-9999")
        with pytest.raises(NotFound):
            await returns.start_from_product(uow, user, customer, stranger.id, clock.now())
        undated = await _product(uow, customer, serial="QJ-3001", sold=None)
        with pytest.raises(returns.UnknownSaleDate):
            await returns.start_from_product(uow, user, customer, undated.id, clock.now())
        commissioned = await _product(uow, customer, serial="QJ-3002", sold=None, commissioning_date=TODAY - timedelta(days=20))
        draft, _ = await returns.start_from_product(uow, user, customer, commissioned.id, clock.now())
        assert (await returns.choose_reason(uow, POLICY, customer, draft, returns.QUALITY, TODAY, clock.now())).outcome == returns.EXCHANGE


async def test_from_a_request_without_a_product_the_customer_picks_one(database, clock):
    async with database.uow() as uow:
        _, _, user, customer, _ = await _desk(uow, clock)
        request = await _request(uow, user, customer, clock)  # filed with "I don't know the serial"
        with pytest.raises(returns.NoProducts):
            await returns.start_from_request(uow, user, customer, request.id, clock.now())
        product = await _product(uow, customer)
        draft, _ = await returns.start_from_request(uow, user, customer, request.id, clock.now())
        assert draft.step == returns.PRODUCT and [p.id for p in await returns.products_offered(uow, customer)] == [product.id]
        await returns.choose_product(uow, customer, draft, str(product.id), clock.now())
        assert (draft.step, draft.data["product_id"]) == (returns.REASON, product.id)
        returns.back(draft, clock.now())
        assert draft.step == returns.PRODUCT
        filed = await _file(uow, user, customer, product, clock)
        with pytest.raises(NotAllowed):  # a return is not returned again from its own card
            await returns.start_from_request(uow, user, customer, filed.request.id, clock.now())


async def test_two_trackers_pressing_at_once_record_one_step(database, clock):
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        keeper = await _role(uow, dispatcher, 840, "Wen", "warehouse", clock)
        filed = await _file(uow, user, customer, await _product(uow, customer), clock)
        await approvals.decide(uow, POLICY, people["sm"], filed.approval.id, 0, approvals.APPROVE, None, clock.now())
        await uow.commit()
        ids = (filed.case.id, filed.request.id, keeper.id, people["sm"].id)

    async def press(user_id):
        async with database.uow() as uow:
            try:
                await returns.advance(uow, await uow.users.get(user_id), ids[0], returns.RECEIVED, clock.now())
                await uow.commit()
                return "recorded"
            except returns.AlreadyMoved:
                return "late"

    assert sorted(await asyncio.gather(press(ids[2]), press(ids[3]))) == ["late", "recorded"]
    async with database.uow() as uow:
        assert (await uow.returns.get(ids[0])).state == returns.RECEIVED
        events = [e.action for e in await uow.requests.events(ids[1], include_internal=False)]
        assert events.count("return_received") == 1


async def test_a_return_ends_with_its_request_unless_the_warehouse_has_the_product(database, clock):
    """Closed any way (here the sweep's "no answer" close, with nobody acting): a return still
    waiting for approval or for the product is cancelled and its approval withdrawn; a product
    already with us stays listed, and the warehouse still finishes it."""
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        keeper = await _role(uow, dispatcher, 840, "Wen", "warehouse", clock)
        waiting = await _file(uow, user, customer, await _product(uow, customer, serial="QJ-4001"), clock)
        approved = await _file(uow, user, customer, await _product(uow, customer, serial="QJ-4002"), clock)
        held = await _file(uow, user, customer, await _product(uow, customer, serial="QJ-4003"), clock)
        for filed in (approved, held):
            await approvals.decide(uow, POLICY, people["sm"], filed.approval.id, 0, approvals.APPROVE, None, clock.now())
        await returns.advance(uow, keeper, held.case.id, returns.RECEIVED, clock.now())
        for filed in (waiting, approved, held):
            filed.request.status = "closed"
        withdrawn = await returns.end_with_request(uow, waiting.request, None, clock.now())
        assert [a.id for a in withdrawn] == [waiting.approval.id]
        assert (await uow.approvals.actions(waiting.approval.id))[-1].user_id == user.id  # in the name of who asked
        assert await returns.end_with_request(uow, approved.request, None, clock.now()) == []
        assert await returns.end_with_request(uow, held.request, people["sm"], clock.now()) == []
        states = [(await uow.returns.get(f.case.id)).state for f in (waiting, approved, held)]
        assert states == [returns.CANCELLED, returns.CANCELLED, returns.RECEIVED]
        assert (await uow.approvals.get(waiting.approval.id)).status == approvals.WITHDRAWN

        draft, _ = await returns.start_from_product(uow, user, customer, waiting.product.id, clock.now())  # returnable again
        assert draft.step == returns.REASON
        with pytest.raises(returns.AlreadyOpen):  # it is at our warehouse
            await returns.start_from_product(uow, user, customer, held.product.id, clock.now())
        listed, total = await returns.in_hand(uow, keeper)
        assert ([t.case.id for t in listed], total) == ([held.case.id], 1)
        await returns.advance(uow, keeper, held.case.id, returns.INSPECTED, clock.now())
        await returns.advance(uow, keeper, held.case.id, returns.EXCHANGED, clock.now())
        assert (held.request.status, (await uow.returns.get(held.case.id)).state) == ("closed", returns.EXCHANGED)
        assert await returns.in_hand(uow, keeper) == ([], 0)


async def test_a_return_left_open_by_a_request_that_ended_earlier_no_longer_counts_as_under_way(database, clock):
    """Rows left by the earlier code (the request closed, the return still "approved") neither
    block the next return of the product nor wait in the warehouse's list."""
    async with database.uow() as uow:
        dispatcher, _, user, customer, people = await _desk(uow, clock)
        keeper = await _role(uow, dispatcher, 840, "Wen", "warehouse", clock)
        filed = await _file(uow, user, customer, await _product(uow, customer), clock)
        await approvals.decide(uow, POLICY, people["sm"], filed.approval.id, 0, approvals.APPROVE, None, clock.now())
        filed.request.status, filed.request.closed_reason = "closed", "confirmed"
        await uow.session.flush()
        assert (await uow.returns.get(filed.case.id)).state == returns.APPROVED
        assert await returns.in_hand(uow, keeper) == ([], 0)
        assert (await returns.start_from_product(uow, user, customer, filed.product.id, clock.now()))[0].step == returns.REASON


async def test_an_unused_return_may_skip_its_description_and_a_fault_may_not(database, clock):
    async with database.uow() as uow:
        _, _, user, customer, _ = await _desk(uow, clock)
        product = await _product(uow, customer, sold=TODAY - timedelta(days=3))
        draft, _ = await returns.start_from_product(uow, user, customer, product.id, clock.now())
        await returns.choose_reason(uow, POLICY, customer, draft, returns.QUALITY, TODAY, clock.now())
        with pytest.raises(StaleAction):
            returns.skip_description(draft, clock.now())
        returns.back(draft, clock.now())
        await returns.choose_reason(uow, POLICY, customer, draft, returns.UNUSED, TODAY, clock.now())
        returns.skip_description(draft, clock.now())
        assert draft.step == returns.CONFIRM
        filed = await returns.submit(uow, POLICY, user, customer, draft, clock.now(), SHANGHAI, _reason)
        assert (filed.request.description, filed.case.proposed_outcome) == ("", returns.REFUND_UNUSED)


async def test_a_fault_in_the_registry_warranty_is_a_free_repair_and_never_forced_expired(database, clock):
    async with database.uow() as uow:
        _, _, user, customer, _ = await _desk(uow, clock)
        in_warranty = await _product(uow, customer, serial="QJ-5001", sold=TODAY - timedelta(days=200), warranty_end=TODAY + timedelta(days=530))
        out = await _product(uow, customer, serial="QJ-5002", sold=TODAY - timedelta(days=200), warranty_end=TODAY - timedelta(days=1))
        free = await _file(uow, user, customer, in_warranty, clock)
        paid = await _file(uow, user, customer, out, clock)
        assert (free.case.proposed_outcome, free.case.shipping_paid_by, free.request.warranty) == (returns.FREE_REPAIR, "company", None)
        assert (paid.case.proposed_outcome, paid.case.shipping_paid_by, paid.request.warranty) == (returns.PAID_REPAIR, "customer", "expired")


async def _interrupt(uow, user, clock):
    """Another dialog takes over (the customer pressed "Add comment or photos" on a request card)."""
    await dialogs.begin(uow, user.id, "comment", "collect", {}, clock.now())


async def _described(uow, user, customer, product, clock, text="Leaks at the seal"):
    draft, _ = await returns.start_from_product(uow, user, customer, product.id, clock.now())
    await returns.choose_reason(uow, POLICY, customer, draft, returns.QUALITY, TODAY, clock.now())
    returns.describe(draft, text, clock.now())
    return draft


async def test_a_written_return_kept_aside_goes_on_from_its_product_or_a_card_of_it_only(database, clock):
    async with database.uow() as uow:
        _, _, user, customer, _ = await _desk(uow, clock)
        product = await _product(uow, customer)
        other = await _product(uow, customer, serial="QJ-2002")
        draft = await _described(uow, user, customer, product, clock)
        again, resumed = await returns.start_from_product(uow, user, customer, product.id, clock.now())
        assert (again.id, resumed) == (draft.id, True)  # pressed again mid-return: it goes on
        await _interrupt(uow, user, clock)

        fresh, resumed = await returns.start_from_product(uow, user, customer, other.id, clock.now())
        assert (fresh.step, fresh.data["product_id"], resumed) == (returns.REASON, other.id, False)
        unlinked = await _request(uow, user, customer, clock)  # filed without a product: not a card of this return
        fresh, resumed = await returns.start_from_request(uow, user, customer, unlinked.id, clock.now())
        assert (fresh.step, resumed) == (returns.PRODUCT, False)
        linked = await _request(uow, user, customer, clock)
        linked.product_id = product.id
        resumed_draft, resumed = await returns.start_from_request(uow, user, customer, linked.id, clock.now())
        assert (resumed_draft.step, resumed_draft.data["description"], resumed) == (returns.CONFIRM, "Leaks at the seal", True)

        await _interrupt(uow, user, clock)
        resumed_draft, resumed = await returns.start_from_intake(uow, user, customer, clock.now())  # /new names no product
        assert (resumed_draft.data["product_id"], resumed) == (product.id, True)
        filed = await returns.submit(uow, POLICY, user, customer, resumed_draft, clock.now(), SHANGHAI, _reason)
        assert (filed.request.description, filed.product.id) == ("Leaks at the seal", product.id)


async def test_a_return_kept_aside_whose_product_came_back_to_us_is_dropped_without_failing(database, clock):
    async with database.uow() as uow:
        _, _, user, customer, _ = await _desk(uow, clock)
        product = await _product(uow, customer)
        await _product(uow, customer, serial="QJ-2002")
        await _described(uow, user, customer, product, clock)
        await _interrupt(uow, user, clock)
        product.customer_id = None  # refunded through another channel: ours again
        fresh, resumed = await returns.start_from_intake(uow, user, customer, clock.now())
        assert (fresh.step, resumed) == (returns.PRODUCT, False)
        assert await uow.drafts.kept_aside(user.id, returns.DIALOG) == []
