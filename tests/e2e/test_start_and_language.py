"""/start, edits, the command menu's language and joining the staff mid-registration, over HTTP."""
from __future__ import annotations

import re

from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID, Desk
from tests.e2e.helpers import accepted_job, assign, enrol, file_request, onboard, t


def _chat_menu(fake, telegram_id: int) -> list[dict] | None:
    """The commands last set for this person's own chat (Telegram took them), or None when none was."""
    calls = [c for c in fake.calls("setMyCommands")
             if c.error_code is None and (c.params.get("scope") or {}).get("chat_id") == telegram_id]
    return calls[-1].params["commands"] if calls else None


async def test_start_in_comment_mode_ends_it_so_the_next_message_is_not_a_comment(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6103, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(f"/status {number}")
    await alice.press("Add comment or photos")
    await alice.send_text("/start")  # starting over
    await alice.send_text("Hello, I want to ask about my other pump")
    assert not any("my other pump" in m.content for m in dora.messages)
    assert "Please use the menu below" in alice.last.text


async def test_start_in_another_dialog_says_where_the_next_message_goes(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=6109, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await dora.send_text(f"/status {number}")
    await dora.press("📞 Customer contacted")
    await dora.send_text("/start")
    assert "You are in the middle of a step" in dora.last.text and "/cancel" in dora.last.text


async def test_the_greeting_promises_new_requests_only_to_dispatchers(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    eve = await enrol(fake, dora, 6106, "Eve", "engineer")
    await eve.send_text("/start")
    assert "New service requests from customers will arrive here." not in eve.last.text
    assert "/help" in eve.last.text
    await dora.send_text("/start")
    assert "New service requests from customers will arrive here." in dora.last.text


async def test_an_edit_of_a_sent_comment_is_answered_not_ignored(fake, desk):
    alice = fake.add_user(user_id=6107, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(f"/status {number}")
    await alice.press("Add comment or photos")
    sent = await alice.send_text("Call me on +86 139 0000 0000")
    await alice.press("Done")
    await alice.edit_text(sent["message_id"], "Call me on +86 138 0000 0000")  # fixing a typo
    assert "your change was not passed on" in alice.last.text


async def test_the_command_menu_follows_the_chosen_language(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    eve = await enrol(fake, dora, 6101, "Eve", "engineer")
    assert {"command": "jobs", "description": "My jobs"} in _chat_menu(fake, 6101)
    await eve.send_text("/language")
    await eve.press("Русский")
    assert {"command": "jobs", "description": t("ru", "My jobs")} in _chat_menu(fake, 6101)

    ivan = fake.add_user(user_id=6108, first_name="Ivan", language_code="en")  # an English phone, a Russian reader
    await ivan.send_text("/language")
    await ivan.press("Русский")
    assert {"command": "my", "description": t("ru", "My requests")} in _chat_menu(fake, 6108)


async def test_a_bootstrap_admins_menu_follows_their_telegram_language_once_they_write(fake, desk):
    wang = fake.users[SECOND_DISPATCHER_ID]  # zh-hans; his menu was set at start-up in the default language
    await wang.send_text("/start")
    assert {"command": "queue", "description": t("zh_Hans", "Requests waiting for an engineer")} in _chat_menu(fake, SECOND_DISPATCHER_ID)
    calls = len(fake.calls("setMyCommands"))
    await wang.send_text("/help")
    assert len(fake.calls("setMyCommands")) == calls  # set once, not on every update


async def test_a_bootstrap_admin_gets_the_staff_menu_once_they_write(fake, database_url, clock):
    """At the first start Telegram refuses the menu of an admin who never wrote to the bot (no chat
    yet); their Telegram speaks the default language, so no language change sets it later: /start does."""
    dora = fake.add_user(user_id=DISPATCHER_ID, first_name="Dora", language_code="en", started=False)
    desk = Desk(fake, database_url, clock, frozenset({DISPATCHER_ID}))
    await desk.start()
    try:
        assert any(r.method == "setMyCommands" and "chat not found" in r.description for r in fake.rejections)
        await dora.send_text("/start")
        calls = len(fake.calls("setMyCommands"))
        await dora.send_text("/help")
        assert len(fake.calls("setMyCommands")) == calls  # set by /start, not on every update
        assert {"invite", "staff", "queue"} <= {c["command"] for c in _chat_menu(fake, DISPATCHER_ID) or []}
    finally:
        await desk.stop()
        await desk.db.dispose()


async def test_a_phone_typed_with_full_width_digits_is_stored_as_ascii(fake, desk):
    li = fake.add_user(user_id=6102, first_name="李", language_code="zh-hans")
    await li.send_text("/start")
    await li.send_text("李明")
    await li.send_text("＋８６ １３８ ００１３ ８０００")  # a Chinese keyboard in full-width mode
    await li.press(t("zh_Hans", "Skip"))
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(6102)).id)
        assert customer.phone == "+8613800138000"


async def test_joining_the_staff_mid_registration_ends_the_registration(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/invite dispatcher")
    code = re.search(r"start=(inv_[\w-]+)", dora.last.text).group(1)
    quinn = fake.add_user(user_id=6105, first_name="Quinn", language_code="en")
    await quinn.send_text("/start")  # opened the bot before the admin's link arrived
    await quinn.press("Use “Quinn”")
    await quinn.send_text(f"/start {code}")
    assert "You now have the role: Dispatcher" in quinn.last.text
    await quinn.send_text("hello")
    assert "does not look like a phone number" not in quinn.last.text
    await quinn.send_text("/start")
    assert "What phone number can our engineers call?" not in quinn.last.text
    fake.assert_no_rejections()


async def test_a_live_location_moving_is_not_answered_at_every_move(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 9751, "Ed", "engineer")
    alice = fake.add_user(user_id=9752, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("🚗 On my way")
    await ed.press("📍 Arrived")
    live = await ed._send_message(True, location={"latitude": 34.7467, "longitude": 113.6254, "live_period": 28800})
    seen = len(ed.messages)
    for step in range(1, 4):  # Telegram sends each move of a live location as an edited message
        moved = dict(live, edit_date=fake.now(), location={"latitude": 34.7467 + step * 0.0001, "longitude": 113.6254, "live_period": 28800})
        await ed._act("edited_message", moved, True)
    assert ed.messages[seen:] == []


async def test_the_keys_of_a_keyboard_shown_in_the_old_language_still_work(fake, desk):
    """The reply keyboard stays on screen until replaced: after the Telegram app's language changed
    (the desk follows it), its old labels once read as a description or "use the menu below"."""
    alice = fake.add_user(user_id=5951, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    alice.language_code = "ru"  # she switches her Telegram app to Russian
    await alice.send_text("📋 My requests")  # the key her keyboard still shows
    assert number in alice.last.text
    await alice.send_text("/new")
    await alice.send_text("✖️ Cancel")  # the intake's keyboard, shown before in English... or now in Russian
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(alice.id)
        assert user.language == "ru" and await uow.drafts.of_user(user.id) is None


async def test_changing_the_language_at_the_arrival_step_keeps_the_location_button(fake, desk):
    dora, ed, alice, number = await accepted_job(fake, 6181, 6182)
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("🚗 On my way")
    await ed.press("📍 Arrived")
    assert any(b.get("request_location") for row in ed.reply_keyboard for b in row)
    await ed.send_text("/language")
    await ed.press("Русский")
    assert t("ru", "Language saved: English.") in [m.text for m in ed.messages[-2:]]
    assert any(b.get("request_location") for row in ed.reply_keyboard for b in row)  # not replaced by the main menu
    await ed.send_location(34.7467, 113.6254)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert "arrived" in [e.action for e in await uow.requests.events(request.id, include_internal=True)]
    fake.assert_no_rejections()
