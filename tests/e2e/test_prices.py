"""/price over HTTP: finance changes a part's price after a card; wrong input is asked again, Back
and Cancel work, a second press and a restart in the middle change nothing twice or lose nothing,
and people without the role are refused."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import AuditEntry, Part
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol, onboard, t

CHANGE, BACK, CANCEL = "✅ Change the price", "⬅️ Back", "✖️ Cancel"
STALE = "This button is no longer valid."


def en(message: str, **values) -> str:
    return t("en", message, **values)


async def _catalog(desk) -> None:
    async with desk.db.uow() as uow:
        uow.session.add(Part(code="BRG-6205", name="Bearing 6205", unit="pcs", price=3_000))
        await uow.commit()


async def _price(desk) -> int | None:
    async with desk.db.uow() as uow:
        return (await uow.parts.by_code("BRG-6205")).price


async def test_finance_changes_a_price_step_by_step_and_a_second_press_changes_nothing(fake, desk):
    await _catalog(desk)
    fei = await enrol(fake, fake.users[DISPATCHER_ID], 7801, "Fei", "finance")
    await fei.send_text("/price")
    assert fei.last.text.startswith("💰 Send the code of the part")
    await fei.send_photo()
    assert fei.last.text == en("Please type the part code as text.")
    await fei.send_text("BRG-9999")
    assert fei.last.text.startswith("No part with the code BRG-9999 is in the catalog.")
    await fei.send_text("brg-6205")
    assert "BRG-6205 · Bearing 6205" in fei.last.text and "Price now: CN¥30.00" in fei.last.text
    await fei.send_text("thirty")
    assert fei.last.text.startswith("That is not a price")
    await fei.send_text("35.50")
    card = fei.last
    assert "From CN¥30.00 to CN¥35.50." in card.text
    first = card
    await fei.send_text("36")  # a corrected price at the card: a new card
    card = fei.last
    assert "From CN¥30.00 to CN¥36.00." in card.text and await _price(desk) == 3_000
    await fei.press(CHANGE, first)  # the first card's ✅ says 35.50: it applies nothing
    assert fei.callback_answers[-1][1] == STALE and await _price(desk) == 3_000

    change = card.buttons[0]["callback_data"]
    await fei.press(CHANGE, card)
    assert fei.message(card.message_id).text == en("✅ The price of {part} is now {new} (was {old}).",
                                                    part="BRG-6205 · Bearing 6205", new="CN¥36.00", old="CN¥30.00")
    assert not fei.message(card.message_id).buttons
    assert await _price(desk) == 3_600
    await fei.press_data(change, card)  # pressed again (a slow network): nothing more
    assert fei.callback_answers[-1][1] == STALE and await _price(desk) == 3_600
    async with desk.db.uow() as uow:
        audited = (await uow.session.scalars(select(AuditEntry.details).where(AuditEntry.action == "part_price_changed"))).all()
    assert [(d["old"], d["new"]) for d in audited] == [(3_000, 3_600)]
    fake.assert_no_rejections()


async def test_back_cancel_and_a_restart_in_the_middle(fake, desk):
    await _catalog(desk)
    fei = await enrol(fake, fake.users[DISPATCHER_ID], 7802, "Fei", "finance")
    await fei.send_text("/price BRG-6205 40")  # everything at once: straight to the card
    card = fei.last
    assert "From CN¥30.00 to CN¥40.00." in card.text
    await fei.press(BACK, card)
    assert "Send the new price in CNY" in fei.last.text
    await desk.restart()  # the bot restarts while the question waits
    await fei.send_text("41")
    assert "From CN¥30.00 to CN¥41.00." in fei.last.text
    await fei.press(CANCEL, fei.last)
    assert fei.last.text == en("Cancelled. The price was not changed.") and await _price(desk) == 3_000
    fake.assert_no_rejections()


async def test_customers_and_other_staff_are_refused(fake, desk):
    await _catalog(desk)
    ed = await enrol(fake, fake.users[DISPATCHER_ID], 7803, "Ed", "engineer")
    await ed.send_text("/price BRG-6205 1")
    assert ed.last.text == en("This command is for finance and admins.")
    alice = fake.add_user(user_id=7804, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/price BRG-6205 1")
    assert alice.last.text == en("This command is for finance and admins.")
    assert await _price(desk) == 3_000
