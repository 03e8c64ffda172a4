"""Stats area fixes over HTTP: /archive finds a phone typed on a Chinese keyboard."""
from __future__ import annotations

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import file_request, onboard


async def test_a_phone_typed_in_full_width_digits_finds_the_customers_archive(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    bob = fake.add_user(user_id=7302, first_name="Bob", language_code="en")
    await onboard(bob, phone="+8613900139000", company="Bob's Mill")
    await file_request(bob, description="Leaking seal")

    await dora.send_text("/archive")
    await dora.send_text("１３９　００１３")  # an input method in full-width mode: digits and space
    assert dora.last.button_texts[0].startswith("👤 Bob")
    await dora.send_text("/archive ０086 139 0013 9000")
    assert dora.last.button_texts[0].startswith("👤 Bob")
    await dora.press(dora.last.button_texts[0])
    [sent] = [m for m in dora.messages if m.document is not None]
    assert sent.document["file_name"] == "archive-Bob-2026-03-02.xlsx"
    fake.assert_no_rejections()
