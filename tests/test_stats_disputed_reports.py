"""A report the customer disputed is kept (superseded), the repeat repair is reported anew, and the
month and the archive count both attempts: on SQLite and PostgreSQL, through the services."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from bot.services import archive, confirmation, dispatch, reports, staff, statistics
from bot.services.errors import NotAllowed
from bot.services.inputs import TextInput
from storage.models import JobReport, Part
from tests.conftest import SHANGHAI
from tests.test_dispatch import _request, _setup


async def _report_by_phone(uow, engineer, request, clock, *, cause: str, hours: str):
    """The engineer's report of a job solved by phone, every step answered, sent."""
    draft = await reports.start(uow, engineer, request.id, True, clock.now())
    for text in ("No water", cause):
        await reports.handle_input(uow, draft, TextInput(text), clock.now())
    await reports.handle_button(uow, draft, "fault", "misuse", clock.now())
    await reports.handle_input(uow, draft, TextInput("Told the customer what to do"), clock.now())
    if draft.data.get("parts"):  # pre-filled from a disputed report
        await reports.handle_button(uow, draft, "clear", "", clock.now())
    await reports.handle_button(uow, draft, "none", "", clock.now())
    await reports.handle_input(uow, draft, TextInput(hours), clock.now())
    await reports.handle_input(uow, draft, TextInput("Customer will try"), clock.now())
    return await reports.submit(uow, engineer, draft, clock.now())


async def _disputed_then_fixed_by_another(uow, clock):
    """Ed reports (3 h), the customer says "not resolved" after Ed left, Fay reports (2 h), the customer confirms."""
    dispatcher, (ed, fay), user, customer = await _setup(uow, clock, engineers=2)
    request = await _request(uow, user, customer, clock)
    await dispatch.assign(uow, dispatcher, request.id, ed.id, None, clock.now())
    await dispatch.respond(uow, ed, request.id, True, None, clock.now())
    await _report_by_phone(uow, ed, request, clock, cause="Valve closed", hours="3")
    await staff.set_active(uow, dispatcher, ed.id, False, clock.now())
    clock.advance(timedelta(hours=1))
    verdict = await confirmation.confirm(uow, user, customer, request.id, False, clock.now())
    disputed_at = clock.now()
    clock.advance(timedelta(hours=1))
    await dispatch.assign(uow, dispatcher, request.id, fay.id, None, clock.now())
    await dispatch.respond(uow, fay, request.id, True, None, clock.now())
    await _report_by_phone(uow, fay, request, clock, cause="Cracked impeller", hours="2")
    await confirmation.confirm(uow, user, customer, request.id, True, clock.now())
    return request, ed, fay, customer, verdict.report, disputed_at


async def test_the_disputed_report_is_kept_as_sent_and_the_repeat_repair_gets_its_own(database, clock):
    async with database.uow() as uow:
        request, ed, fay, customer, disputed, disputed_at = await _disputed_then_fixed_by_another(uow, clock)
        kept = await uow.jobs.reports_of(request.id)
        assert [(r.engineer_id, r.cause, r.labour_hours, r.outcome, r.superseded_at) for r in kept] == [
            (ed.id, "Valve closed", 3.0, "disputed", disputed_at), (fay.id, "Cracked impeller", 2.0, "confirmed", None)]
        assert disputed.id == kept[0].id
        assert (await uow.jobs.report_of(request.id)).id == kept[1].id  # the current report: what the customer confirmed
        assert (await uow.jobs.latest_report(request.id)).id == kept[1].id
        with pytest.raises(NotAllowed):  # the verdict is given once: a stale "Not resolved" changes nothing
            await confirmation.confirm(uow, await uow.users.get(customer.user_id), customer, request.id, False, clock.now())
        await uow.commit()


async def test_after_a_dispute_there_is_no_current_report_until_the_next_is_sent(database, clock):
    async with database.uow() as uow:
        dispatcher, (ed, _fay), user, customer = await _setup(uow, clock, engineers=2)
        request = await _request(uow, user, customer, clock)
        await dispatch.assign(uow, dispatcher, request.id, ed.id, None, clock.now())
        await dispatch.respond(uow, ed, request.id, True, None, clock.now())
        _, first, _ = await _report_by_phone(uow, ed, request, clock, cause="Valve closed", hours="3")
        await confirmation.confirm(uow, user, customer, request.id, False, clock.now())
        assert await uow.jobs.report_of(request.id) is None
        assert (await uow.jobs.latest_report(request.id)).id == first.id
        with pytest.raises(NotAllowed):  # nothing waits for the customer's verdict
            await confirmation.confirm(uow, user, customer, request.id, True, clock.now())
        with pytest.raises(NotAllowed):  # nor can the engineer edit the disputed report
            await reports.edit(uow, ed, request.id, clock.now())
        _, second, updated = await _report_by_phone(uow, ed, request, clock, cause="Check valve stuck", hours="1")
        assert (second.id != first.id, updated, first.cause, first.outcome) == (True, False, "Valve closed", "disputed")
        async with uow.session.begin_nested():  # one current report per request, whatever the code above does
            uow.session.add(JobReport(request_id=request.id, engineer_id=ed.id, symptom="s", cause="c", solution="s", labour_hours=1,
                                      customer_opinion="o", submitted_at=clock.now(), updated_at=clock.now(), parts=[]))
            with pytest.raises(IntegrityError):
                await uow.session.flush()


async def test_the_month_and_the_archive_count_both_attempts_each_for_its_engineer(database, clock):
    async with database.uow() as uow:
        request, ed, fay, customer, _, _ = await _disputed_then_fixed_by_another(uow, clock)
        await uow.commit()
    async with database.uow() as uow:
        rows = await statistics.load_month(uow, statistics.Month.of(clock.now(), SHANGHAI), SHANGHAI)
        kept = await archive.load(uow, archive.CUSTOMER, customer.id)
        assert [(r.cause, r.outcome) for r in kept.reports] == [("Valve closed", "disputed"), ("Cracked impeller", "confirmed")]
        assert [c.labour_hours for c in kept.costs()] == [5.0]
    [job] = rows.jobs
    assert (job.hours, job.engineer_id, job.has_report) == (Decimal(5), fay.id, True)
    assert [(a.engineer_id, a.hours) for a in job.attempts] == [(ed.id, Decimal(3)), (fay.id, Decimal(2))]
    lines = {line.engineer_id: line for line in statistics.engineer_lines(rows.jobs, rows.trips)}
    assert {(e, line.jobs, line.hours, line.repeat_repairs) for e, line in lines.items()} == {(ed.id, 0, 3, 1), (fay.id, 1, 2, 0)}


async def test_a_price_change_after_the_report_leaves_the_months_material_cost_as_it_was(database, clock):
    """The parts are costed at the catalog price of the day the report was written, also after an
    edit of that report; a part added by the edit takes the price of the day of the edit."""
    async with database.uow() as uow:
        dispatcher, (ed,), user, customer = await _setup(uow, clock, engineers=1)
        impeller, seal = Part(code="IMP-1", name="Impeller", unit="pcs", price=10_000), Part(code="SEAL-1", name="Seal", unit="pcs", price=500)
        uow.session.add_all([impeller, seal])
        request = await _request(uow, user, customer, clock)
        await dispatch.assign(uow, dispatcher, request.id, ed.id, None, clock.now())
        await dispatch.respond(uow, ed, request.id, True, None, clock.now())
        draft = await reports.start(uow, ed, request.id, True, clock.now())
        for text in ("No water", "Cracked impeller"):
            await reports.handle_input(uow, draft, TextInput(text), clock.now())
        await reports.handle_button(uow, draft, "fault", "misuse", clock.now())
        await reports.handle_input(uow, draft, TextInput("Replaced the impeller"), clock.now())
        await reports.handle_input(uow, draft, TextInput("IMP-1"), clock.now())  # an exact code: straight to its quantity
        await reports.handle_input(uow, draft, TextInput("2"), clock.now())
        await reports.handle_button(uow, draft, "done", "", clock.now())
        await reports.handle_input(uow, draft, TextInput("1"), clock.now())
        await reports.handle_input(uow, draft, TextInput("Works again"), clock.now())
        await reports.submit(uow, ed, draft, clock.now())
        impeller.price, seal.price = 30_000, 700  # the catalog's prices go up afterwards
        clock.advance(timedelta(minutes=30))
        draft = await reports.edit(uow, ed, request.id, clock.now())  # the engineer adds the seal he forgot
        await reports.handle_button(uow, draft, "edit", "", clock.now())
        await reports.handle_button(uow, draft, "field", reports.PARTS, clock.now())
        await reports.handle_input(uow, draft, TextInput("SEAL-1"), clock.now())
        await reports.handle_input(uow, draft, TextInput("1"), clock.now())
        await reports.handle_button(uow, draft, "done", "", clock.now())
        await reports.submit(uow, ed, draft, clock.now())
        await confirmation.confirm(uow, user, customer, request.id, True, clock.now())
        await uow.commit()
    async with database.uow() as uow:
        (await uow.parts.by_code("IMP-1")).price = 90_000  # and again, before the month is counted
        await uow.commit()
    async with database.uow() as uow:
        rows = await statistics.load_month(uow, statistics.Month.of(clock.now(), SHANGHAI), SHANGHAI)
        kept = await archive.load(uow, archive.CUSTOMER, customer.id)
    [job] = rows.jobs
    assert [a.parts_cost for a in job.attempts] == [2 * 10_000 + 700]
    assert sorted((line.quantity, line.unit_price) for line in kept.parts) == [(1, 700), (2, 10_000)]
