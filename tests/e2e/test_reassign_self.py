"""A dispatcher who is a field engineer too gives a job to herself (a person may hold several roles)."""
from __future__ import annotations

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard


async def test_a_dispatcher_who_is_also_an_engineer_takes_a_job_herself_and_hands_it_on(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/staff")
    await dora.press("Dora")
    await dora.press("➕ Field engineer")
    assert "✅ Field engineer" in dora.last.button_texts
    ed = await enrol(fake, dora, 8511, "Ed", "engineer")
    alice = fake.add_user(user_id=8513, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Dora")
    assert any("Engineer: Dora" in (m.text or "") for m in dora.messages)  # her staff card (her job card follows it)
    assert any("✅ Accept" in m.button_texts for m in dora.messages)  # and the job reached her as an engineer
    assert "Engineer Dora is assigned" in alice.last.text
    await dora.send_text(number)
    await dora.press("👷 Reassign", dora.last)
    await dora.press("Ed")
    assert any("Engineer: Ed" in (m.text or "") for m in dora.messages)
    assert any("✅ Accept" in m.button_texts for m in ed.messages)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (await uow.users.get(request.assigned_engineer_id)).first_name == "Ed"
    fake.assert_no_rejections()
