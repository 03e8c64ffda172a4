"""Finance changes a part's price (bot/services/prices.py), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import dialogs, prices
from bot.services.errors import InvalidValue, NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from storage.models import AuditEntry, Part, User, UserRole


async def _people(uow, clock) -> tuple[User, User, Part]:
    finance = User(telegram_id=801, first_name="Fei", language="en", created_at=clock.now(), roles=[UserRole(role="finance")])
    engineer = User(telegram_id=802, first_name="Ed", language="en", created_at=clock.now(), roles=[UserRole(role="engineer")])
    part = Part(code="BRG-6205", name="Bearing 6205", unit="pcs", price=3_000)
    uow.session.add_all([finance, engineer, part])
    await uow.session.flush()
    return finance, engineer, part


async def test_finance_changes_a_price_after_the_card_and_the_change_is_audited(database, clock):
    async with database.uow() as uow:
        finance, _, part = await _people(uow, clock)
        draft = await prices.start(uow, finance, clock.now())
        assert (await prices.pick_part(uow, finance, draft, " brg-6205 ", clock.now())).id == part.id  # any case, trimmed
        proposal = await prices.propose(uow, finance, draft, "35,5", clock.now())
        assert (proposal.old, proposal.new, draft.step) == (3_000, 3_550, prices.CONFIRM_STEP)
        assert part.price == 3_000  # nothing changes before the card's ✅
        change = await prices.confirm(uow, finance, draft, 3_550, clock.now())
        assert (change.old, change.new) == (3_000, 3_550)
        await uow.commit()
    async with database.uow() as uow:
        assert (await uow.parts.by_code("BRG-6205")).price == 3_550
        assert await dialogs.current(uow, finance.id) is None
        [entry] = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == prices.AUDIT_ACTION))).all()
        assert (entry.actor_telegram_id, entry.details) == (801, {"part_id": part.id, "code": "BRG-6205", "old": 3_000, "new": 3_550})


async def test_only_finance_and_admins_may_price_and_a_role_lost_mid_dialog_changes_nothing(database, clock):
    async with database.uow() as uow:
        finance, engineer, part = await _people(uow, clock)
        with pytest.raises(NotAllowed):
            await prices.start(uow, engineer, clock.now())
        draft = await prices.start(uow, finance, clock.now())
        await prices.pick_part(uow, finance, draft, "BRG-6205", clock.now())
        await prices.propose(uow, finance, draft, "40", clock.now())
        finance.is_active = False  # deactivated while the card was shown
        with pytest.raises(NotAllowed):
            await prices.confirm(uow, finance, draft, 4_000, clock.now())
        assert part.price == 3_000


@pytest.mark.parametrize("typed", ["abc", "-1", "1.234", "10000000.01", "1e3"])
async def test_anything_but_an_amount_up_to_ten_million_is_not_a_price(database, clock, typed):
    async with database.uow() as uow:
        finance, _, _ = await _people(uow, clock)
        draft = await prices.start(uow, finance, clock.now())
        await prices.pick_part(uow, finance, draft, "BRG-6205", clock.now())
        with pytest.raises(InvalidValue):
            await prices.propose(uow, finance, draft, typed, clock.now())
        assert draft.step == prices.PRICE_STEP
        assert (await prices.propose(uow, finance, draft, "0", clock.now())).new == 0  # free of charge is a price


async def test_an_unknown_code_empty_or_too_long_text_is_asked_again(database, clock):
    async with database.uow() as uow:
        finance, _, _ = await _people(uow, clock)
        draft = await prices.start(uow, finance, clock.now())
        with pytest.raises(NotFound):
            await prices.pick_part(uow, finance, draft, "NO-SUCH", clock.now())
        with pytest.raises(WrongInput):
            await prices.pick_part(uow, finance, draft, "   ", clock.now())
        with pytest.raises(TooLong):
            await prices.pick_part(uow, finance, draft, "X" * (prices.CODE_MAX + 1), clock.now())
        assert draft.step == prices.CODE_STEP


async def test_a_price_changed_by_someone_else_after_the_card_is_not_overwritten(database, clock):
    async with database.uow() as uow:
        finance, _, part = await _people(uow, clock)
        draft = await prices.start(uow, finance, clock.now())
        await prices.pick_part(uow, finance, draft, "BRG-6205", clock.now())
        await prices.propose(uow, finance, draft, "35", clock.now())
        await uow.commit()
    async with database.uow() as uow:  # a colleague (or a catalog import) sets another price meanwhile
        (await uow.parts.by_code("BRG-6205")).price = 4_200
        await uow.commit()
    async with database.uow() as uow:
        draft = await dialogs.current(uow, finance.id)
        with pytest.raises(prices.PriceChanged) as refused:
            await prices.confirm(uow, await uow.users.get(finance.id), draft, 3_500, clock.now())
        assert refused.value.part.price == 4_200
        await uow.commit()
    async with database.uow() as uow:
        assert (await uow.parts.by_code("BRG-6205")).price == 4_200
        assert await dialogs.current(uow, finance.id) is None  # the dialog ended: the card was stale


async def test_back_goes_from_the_card_to_the_price_and_from_the_price_to_the_code(database, clock):
    async with database.uow() as uow:
        finance, _, _ = await _people(uow, clock)
        draft = await prices.start(uow, finance, clock.now())
        with pytest.raises(NotAllowed):  # nothing before the first question
            prices.back(draft, clock.now())
        await prices.pick_part(uow, finance, draft, "BRG-6205", clock.now())
        await prices.propose(uow, finance, draft, "35", clock.now())
        assert prices.back(draft, clock.now()) == prices.PRICE_STEP
        with pytest.raises(InvalidValue):  # a confirmation of a card no longer shown
            await prices.confirm(uow, finance, draft, 3_500, clock.now())
        assert prices.back(draft, clock.now()) == prices.CODE_STEP


async def test_the_card_a_corrected_price_replaced_cannot_apply_it(database, clock):
    async with database.uow() as uow:
        finance, _, part = await _people(uow, clock)
        draft = await prices.start(uow, finance, clock.now())
        await prices.pick_part(uow, finance, draft, "BRG-6205", clock.now())
        await prices.propose(uow, finance, draft, "35.50", clock.now())
        await prices.propose(uow, finance, draft, "3550", clock.now())  # typed at the card: a second card
        with pytest.raises(StaleAction):  # the ✅ of the first card, which said 35.50
            await prices.confirm(uow, finance, draft, 3_550, clock.now())
        assert (part.price, draft.step) == (3_000, prices.CONFIRM_STEP)
        assert (await prices.confirm(uow, finance, draft, 355_000, clock.now())).new == 355_000  # the second card's


async def test_a_code_is_found_as_typed_in_any_script(database, clock):
    async with database.uow() as uow:
        finance, _, _ = await _people(uow, clock)
        part = Part(code="подш-6205", name="Подшипник 6205", unit="шт", price=3_000)
        uow.session.add(part)
        await uow.session.flush()
        draft = await prices.start(uow, finance, clock.now())
        assert (await prices.pick_part(uow, finance, draft, "подш-6205", clock.now())).id == part.id
