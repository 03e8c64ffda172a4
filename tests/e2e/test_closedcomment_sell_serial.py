"""/sell's refusal of a serial number that is not one states the limit the check applies
(validation.SERIAL_MAX), not a number written into its text that would go stale with the policy."""
from __future__ import annotations

from bot.services import validation
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol


async def test_the_sell_forms_invalid_serial_answer_names_the_limit_the_check_uses(fake, desk, monkeypatch):
    monkeypatch.setattr(validation, "SERIAL_MAX", 24)  # the limit changed: the message follows it
    sam = await enrol(fake, fake.users[DISPATCHER_ID], 7361, "Sam", "salesperson")
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Alice")
    await sam.send_text("+86 138 0013 8000")
    await sam.send_text("#??")  # not a serial number
    refusal = sam.last.text
    assert "That is not a serial number" in refusal
    assert f"3–{validation.SERIAL_MAX} characters" in refusal and "3–40" not in refusal
    await sam.send_text("QJ-" + "7" * 22)  # 25 characters: over the limit the message named
    assert f"at most {validation.SERIAL_MAX} characters" in sam.last.text
    await sam.press("I don't know it")  # the way on the refusal names is there
    assert "What is wrong, or what is to be done?" in sam.last.text
    fake.assert_no_rejections()
