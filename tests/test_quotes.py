"""Quote rules on SQLite and PostgreSQL: totals, who answers, once, and the paid-work gate."""
from __future__ import annotations

import pytest

from bot.services import approvals, dispatch, quotes
from bot.services.errors import NotFound, StaleAction
from storage.models import Part
from tests.test_approvals import POLICY, _desk
from tests.test_dispatch import _request
from tests.test_services import _customer


async def _quote(uow, actor, request, clock, quantity="2", labour="600", travel="0"):
    draft = await quotes.start(uow, actor, request.id, clock.now())
    await quotes.type_text(uow, draft, "QJ-200", clock.now())
    await quotes.type_text(uow, draft, quantity, clock.now())
    quotes.parts_done(draft, clock.now())
    await quotes.type_text(uow, draft, labour, clock.now())
    await quotes.type_text(uow, draft, travel, clock.now())
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
