"""Stats area fixes: the archive search, the per-engineer repeat repairs (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import timedelta

from bot.services import archive, confirmation, dispatch, staff, statistics
from tests.conftest import SHANGHAI
from tests.test_archive import _seed as _seed_archive
from tests.test_dispatch import _request, _setup
from tests.test_stats_disputed_reports import _report_by_phone


async def test_a_phone_typed_on_a_chinese_keyboard_finds_the_customer(database, clock):
    """A dispatcher whose input method is in full-width mode types Bob's phone in full-width digits
    (the same digits as "139 0013"), or with the "0086" prefix: Bob is found, and only him."""
    ids = await _seed_archive(database, clock)
    async with database.uow() as uow:
        user = await uow.users.get(ids["dispatcher"])
        draft = await archive.start(uow, user, clock.now())
        for typed in ("１３９ ００１３", "１３９００１３９０００", "+８６ １３９ ００１３ ９０００", "0086 139 0013 9000"):
            result = await archive.search(uow, user, draft, typed, clock.now())
            assert [(m.kind, m.id) for m in result.matches] == [("customer", ids["bob"])], typed
        picked = await archive.export(uow, user, draft, archive.CUSTOMER, str(ids["bob"]), clock.now())
        assert picked.customer.id == ids["bob"]


async def test_each_engineer_whose_repair_the_customer_disputed_has_a_repeat_repair(database, clock):
    """Ed's repair is disputed, then Fay's (each left before the dispute, so the job went to the
    next engineer), Gus's is confirmed: the month counts a repeat repair for Ed and for Fay."""
    async with database.uow() as uow:
        dispatcher, (ed, fay, gus), user, customer = await _setup(uow, clock, engineers=3)
        request = await _request(uow, user, customer, clock)
        for engineer, resolved in ((ed, False), (fay, False), (gus, True)):
            await dispatch.assign(uow, dispatcher, request.id, engineer.id, None, clock.now())
            await dispatch.respond(uow, engineer, request.id, True, None, clock.now())
            await _report_by_phone(uow, engineer, request, clock, cause=f"Try of {engineer.first_name}", hours="1")
            if not resolved:
                await staff.set_active(uow, dispatcher, engineer.id, False, clock.now())
            clock.advance(timedelta(hours=1))
            await confirmation.confirm(uow, user, customer, request.id, resolved, clock.now())
            clock.advance(timedelta(hours=1))
        await uow.commit()
    async with database.uow() as uow:
        rows = await statistics.load_month(uow, statistics.Month.of(clock.now(), SHANGHAI), SHANGHAI)
    lines = {line.engineer_id: line for line in statistics.engineer_lines(rows.jobs, rows.trips)}
    assert {e: (line.jobs, line.repeat_repairs) for e, line in lines.items()} == {ed.id: (0, 1), fay.id: (0, 1), gus.id: (1, 0)}
