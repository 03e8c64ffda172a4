"""Quote rules on SQLite and PostgreSQL: totals, who answers, once, and the paid-work gate."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services import approvals, dispatch, quotes
from bot.services.errors import NotFound, StaleAction
from storage.models import Part
from tests.test_approvals import POLICY, _desk, _role
from tests.test_dispatch import _request
from tests.test_services import _customer


async def _quote_draft(uow, actor, request, clock, quantity="2", labour="600", travel="0"):
    """A quote built up to its review (2 × 1,200 + 600 = 3,000 CNY by default), not sent yet."""
    draft = await quotes.start(uow, actor, request.id, clock.now())
    await quotes.type_text(uow, draft, "QJ-200", clock.now())
    await quotes.type_text(uow, draft, quantity, clock.now())
    quotes.parts_done(draft, clock.now())
    await quotes.type_text(uow, draft, labour, clock.now())
    await quotes.type_text(uow, draft, travel, clock.now())
    return draft


async def _quote(uow, actor, request, clock, quantity="2", labour="600", travel="0"):
    draft = await _quote_draft(uow, actor, request, clock, quantity, labour, travel)
    return (await quotes.send(uow, actor, draft, clock.now())).quote


async def _paid_request(uow, clock):
    uow.session.add(Part(code="QJ-200", name="Impeller", unit="pcs", price=120_000))
    dispatcher, crew, user, customer, people = await _desk(uow, clock)
    request = await _request(uow, user, customer, clock)
    await dispatch.set_warranty(uow, dispatcher, request.id, "expired", clock.now())
    return dispatcher, user, request, people


async def test_a_quote_adds_catalog_prices_labour_and_travel(database, clock):
    async with database.uow() as uow:
        dispatcher, user, request, _ = await _paid_request(uow, clock)
        quote = await _quote(uow, dispatcher, request, clock, quantity="3", labour="600.50", travel="350")
        assert (quote.parts_minor, quote.labour_minor, quote.travel_minor, quote.total_minor) == (360_000, 60_050, 35_000, 455_050)
        assert [(line.code, line.quantity, line.total_minor) for line in await uow.quotes.lines(quote.id)] == [("QJ-200", 3, 360_000)]


async def test_only_the_requests_customer_answers_once_and_only_the_latest_quote(database, clock):
    async with database.uow() as uow:
        dispatcher, user, request, _ = await _paid_request(uow, clock)
        first = await _quote(uow, dispatcher, request, clock)
        second = await _quote(uow, dispatcher, request, clock, labour="500")
        stranger, _ = await _customer(uow, clock, telegram_id=1002, name="Bob")
        with pytest.raises(NotFound):
            await quotes.answer(uow, stranger, second.id, True, clock.now())
        with pytest.raises(StaleAction):  # superseded by the second quote
            await quotes.answer(uow, user, first.id, True, clock.now())
        await quotes.answer(uow, user, second.id, False, clock.now())
        with pytest.raises(StaleAction):
            await quotes.answer(uow, user, second.id, True, clock.now())
        assert (first.status, second.status) == ("superseded", "declined")
        assert await quotes.declined_total(uow, request.id) == second.total_minor


async def test_paid_work_waits_for_an_accepted_quote_or_an_approved_waiver(database, clock):
    async with database.uow() as uow:
        dispatcher, user, request, people = await _paid_request(uow, clock)
        with pytest.raises(quotes.PaymentPending):
            await quotes.require_cleared(uow, request)
        quote = await _quote(uow, dispatcher, request, clock)
        await quotes.answer(uow, user, quote.id, False, clock.now())
        waiver = await approvals.request_approval(uow, POLICY, dispatcher, request, "waiver", clock.now(), amount_minor=quote.total_minor)
        with pytest.raises(quotes.PaymentPending):  # asked, not yet approved
            await quotes.require_cleared(uow, request)
        await approvals.decide(uow, POLICY, people["mvp1"], waiver.id, 0, approvals.APPROVE, None, clock.now())
        await quotes.require_cleared(uow, request)  # no exception: the company carries the cost

        other = await _request(uow, user, (await uow.customers.by_user_id(user.id)), clock)
        await quotes.require_cleared(uow, other)  # warranty not decided as paid: nothing blocks
        await dispatch.set_warranty(uow, dispatcher, other.id, "expired", clock.now())
        accepted = await _quote(uow, dispatcher, other, clock)
        await quotes.answer(uow, user, accepted.id, True, clock.now())
        await quotes.require_cleared(uow, other)
        revised = await _quote(uow, dispatcher, other, clock)  # a new price after acceptance replaces the agreement
        await uow.session.refresh(accepted)
        assert accepted.status == "superseded"
        with pytest.raises(quotes.PaymentPending):  # the customer has not agreed to the new price yet
            await quotes.require_cleared(uow, other)
        await quotes.answer(uow, user, revised.id, True, clock.now())
        await quotes.require_cleared(uow, other)


async def _waiver(uow, dispatcher, request, clock, amount="3000"):
    draft = await approvals.start_waiver(uow, dispatcher, request.id, clock.now())
    await approvals.waiver_amount(uow, draft, amount, clock.now())
    return await approvals.file_waiver(uow, POLICY, dispatcher, draft, "Long-standing customer", clock.now())


async def test_a_second_waiver_for_the_same_quote_is_refused(database, clock):
    async with database.uow() as uow:
        dispatcher, user, request, people = await _paid_request(uow, clock)
        colleague = await _role(uow, dispatcher, 502, "Dan", "dispatcher", clock)
        quote = await _quote(uow, dispatcher, request, clock)
        await quotes.answer(uow, user, quote.id, False, clock.now())
        mine = await approvals.start_waiver(uow, dispatcher, request.id, clock.now(), amount_minor=quote.total_minor)
        theirs = await approvals.start_waiver(uow, colleague, request.id, clock.now(), amount_minor=quote.total_minor)  # a second chat
        first = await approvals.file_waiver(uow, POLICY, dispatcher, mine, "Long-standing customer", clock.now())
        with pytest.raises(approvals.WaiverAlreadyAsked) as asked:  # typed in the dialog opened before the first was filed
            await approvals.file_waiver(uow, POLICY, colleague, theirs, "Keep the customer", clock.now())
        assert asked.value.approval.id == first.id
        with pytest.raises(approvals.WaiverAlreadyAsked):  # the button pressed again
            await approvals.start_waiver(uow, dispatcher, request.id, clock.now())
        await approvals.decide(uow, POLICY, people["mvp1"], first.id, 0, approvals.APPROVE, None, clock.now())
        with pytest.raises(approvals.WaiverAlreadyAsked):  # approved, and it covers the quote: nothing left to waive
            await approvals.start_waiver(uow, colleague, request.id, clock.now())
        waivers = [(a.id, a.status) for a in await uow.approvals.of_request(request.id) if a.kind == "waiver"]
        assert waivers == [(first.id, approvals.APPROVED)]

        larger = await _quote(uow, dispatcher, request, clock, quantity="10")  # more work found: beyond what was waived
        await quotes.answer(uow, user, larger.id, False, clock.now())
        await approvals.start_waiver(uow, dispatcher, request.id, clock.now())  # a waiver of the new total may be asked


async def test_an_approved_waiver_ends_the_quote_the_customer_was_still_asked_to_answer(database, clock):
    async with database.uow() as uow:
        dispatcher, user, request, people = await _paid_request(uow, clock)
        quote = await _quote(uow, dispatcher, request, clock)
        waiver = await _waiver(uow, dispatcher, request, clock)  # asked while the customer had not answered
        await approvals.decide(uow, POLICY, people["mvp1"], waiver.id, 0, approvals.APPROVE, None, clock.now())
        for accept in (True, False):
            with pytest.raises(quotes.Waived):  # the company carries it: nothing to accept, nor a waiver to decline into
                await quotes.answer(uow, user, quote.id, accept, clock.now())
        assert quote.status == quotes.SENT
        assert "quote_accepted" not in [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        assert await quotes.waiting_quote(uow, request.id) is None  # the customer's card no longer asks for an answer
        await quotes.require_cleared(uow, request)


async def test_after_an_approved_waiver_a_quote_it_covers_is_not_sent_and_a_larger_one_asks_the_customer(database, clock):
    async with database.uow() as uow:
        dispatcher, user, request, people = await _paid_request(uow, clock)
        quote = await _quote(uow, dispatcher, request, clock)
        await quotes.answer(uow, user, quote.id, False, clock.now())
        waiver = await _waiver(uow, dispatcher, request, clock)
        await approvals.decide(uow, POLICY, people["mvp1"], waiver.id, 0, approvals.APPROVE, None, clock.now())
        covered = await _quote_draft(uow, dispatcher, request, clock, quantity="1")  # 1,800: within the 3,000 waived
        with pytest.raises(quotes.CoveredByWaiver) as error:
            await quotes.send(uow, dispatcher, covered, clock.now())
        assert error.value.approval.id == waiver.id
        assert (await uow.quotes.latest(request.id)).id == quote.id  # nothing was sent to the customer
        await quotes.require_cleared(uow, request)

        larger = await _quote(uow, dispatcher, request, clock, quantity="5")  # 6,600: more than was waived
        with pytest.raises(quotes.PaymentPending):  # the customer's yes is needed for the new price
            await quotes.require_cleared(uow, request)
        answered = await quotes.answer(uow, user, larger.id, True, clock.now())
        assert answered.quote.status == quotes.ACCEPTED
        await quotes.require_cleared(uow, request)


async def test_ruling_in_warranty_after_a_quote_lets_the_deadlines_run_again(database, clock):
    """The quote nobody can answer any more no longer holds the job's clocks paused."""
    async with database.uow() as uow:
        dispatcher, user, request, people = await _paid_request(uow, clock)
        await _quote(uow, dispatcher, request, clock)
        await uow.commit()
    async with database.uow() as uow:
        repair = {row.kind: row for row in await uow.requests.clock_rows(request.id)}["repair_completed"]
        assert repair.pause_reason == "quote"  # waiting for the customer's answer
    clock.advance(timedelta(hours=1))
    async with database.uow() as uow:
        await dispatch.set_warranty(uow, await uow.users.get(dispatcher.id), request.id, "in_warranty", clock.now())
        await uow.commit()
    async with database.uow() as uow:
        repair = {row.kind: row for row in await uow.requests.clock_rows(request.id)}["repair_completed"]
        assert (repair.paused_since, repair.pause_reason) == (None, None) and repair.due_at is not None
        events = [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        assert events[-2:] == ["warranty", "quote_void"]
