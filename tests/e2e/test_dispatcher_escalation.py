"""Over HTTP: the dispatcher's questions to technical experts when an expert cannot be reached."""
from __future__ import annotations

from bot.callbacks import ExpertPickButton
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol, file_request, onboard


async def _ask(dora, number: str) -> None:
    await dora.send_text(number)  # the staff card
    await dora.press("Ask an expert")


async def test_a_case_left_with_an_expert_who_blocked_the_bot_can_go_to_another_who_reads_it(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6031, first_name="Alice", language_code="en")
    xena = await enrol(fake, dora, 6231, "Xena", "technical_expert")
    yuri = await enrol(fake, dora, 6232, "Yuri", "technical_expert")
    await onboard(alice)
    number = await file_request(alice)
    fake.block(xena.id)  # Xena blocked the bot; nobody knows yet
    await _ask(dora, number)
    await dora.press("Xena")  # the least busy: first in the list
    await dora.send_text("Cause of the tripping?")  # her case notice gets 403: she is marked unreachable
    await desk.sweep()
    assert any("Xena" in (m.text or "") and "blocked the bot" in (m.text or "") for m in dora.messages)

    await _ask(dora, number)  # the question reaches nobody: the dispatcher must be able to ask another expert
    assert "Yuri" in " ".join(dora.last.button_texts) and "Xena" not in " ".join(dora.last.button_texts)
    await dora.press("Yuri")
    await dora.send_text("Cause of the tripping? Xena cannot be reached.")
    assert "Cause of the tripping? Xena cannot be reached." in yuri.last.text

    second = await file_request(alice, description="Second pump hums")
    await _ask(dora, second)  # a new question is not offered to someone it cannot reach
    assert "Xena" not in " ".join(dora.last.button_texts)
    async with desk.db.uow() as uow:
        request_id = (await uow.requests.by_number(second)).id
        xena_id = (await uow.users.by_telegram_id(xena.id)).id
    await dora.press_data(ExpertPickButton(request_id, xena_id).pack())  # a list drawn before she blocked the bot
    assert "Xena has blocked the bot" in dora.callback_answers[-1][1]
    async with desk.db.uow() as uow:
        assert not await uow.escalations.unanswered_of_request(request_id)
