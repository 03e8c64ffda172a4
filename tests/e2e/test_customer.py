"""A customer's whole path over HTTP: onboarding, intake, status, cancel, restarts, bad input."""
from __future__ import annotations

from sqlalchemy import func, select
from telegram import Update

from bot.flood import TELEGRAM_LIMITS
from storage.models import AuditEntry, Draft, ServiceRequest
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, fill_request, onboard, report_by_phone, t


async def test_onboarding_in_chinese_speaks_chinese_and_registers_the_customer(fake, desk):
    li = fake.add_user(user_id=1001, first_name="李", language_code="zh-hans")
    await li.send_text("/start")
    assert t("zh_Hans", "Hello, {name}! I am the after-sales service desk.", name="李") in li.messages[0].text
    assert li.last.text == t("zh_Hans", "To register your requests I need a few details. What is your name?")
    await li.send_text("李明")
    assert li.reply_keyboard and li.reply_keyboard[0][0].get("request_contact") is True
    await li.share_contact(phone="+86 138 0013 8000", own=True)
    await li.press(t("zh_Hans", "Skip"))
    assert li.last.text == t("zh_Hans", "Thank you, {name}, you are registered. Report a problem any time with /new or the menu below.", name="李明")
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(1001)
        customer = await uow.customers.by_user_id(user.id)
        assert (user.language, customer.name, customer.phone, customer.company) == ("zh_Hans", "李明", "+8613800138000", None)
    fake.assert_no_rejections()


async def test_onboarding_in_english_validates_a_typed_phone(fake, desk):
    alice = fake.add_user(user_id=1002, first_name="Alice", language_code="en")
    await alice.send_text("/start")
    await alice.press("Alice")
    await alice.send_text("call me maybe")
    assert "does not look like a phone number" in alice.last.text
    await alice.share_contact(phone="+15550001111", own=False)
    assert "your own contact" in alice.last.text
    await alice.send_text("+86 (138) 0013-8000")
    assert "company or project" in alice.last.text
    await alice.send_text("Yellow River Farm")
    assert "you are registered" in alice.last.text
    fake.assert_no_rejections()


async def test_language_switch_is_remembered(fake, desk):
    ivan = fake.add_user(user_id=1003, first_name="Ivan", language_code="en")
    await ivan.send_text("/language")
    await ivan.press("Русский")
    assert ivan.last.text == t("ru", "Language saved: English.")
    await ivan.send_text("/help")
    assert t("ru", "<b>What I can do</b>") in ivan.last.text
    fake.assert_no_rejections()


async def test_full_intake_with_photos_and_location_reaches_every_dispatcher(fake, desk):
    alice = fake.add_user(user_id=1010, first_name="Alice", language_code="en")
    await fake.users[SECOND_DISPATCHER_ID].send_text("/start")  # until then the bot cannot know Wang reads Chinese
    await onboard(alice)
    number = await file_request(alice, photos=2)
    assert number == "SR-2026-000001"
    announcement = alice.last.text
    assert "We will contact you by: Mar 2, 2026, 1:30\u202fPM" in announcement  # 09:30 + 4 h in Shanghai
    dora, wang = fake.messages_to(DISPATCHER_ID), fake.messages_to(SECOND_DISPATCHER_ID)
    assert any(f"New request {number}" in (m.text or "") and "+8613800138000" in m.text and "Photos: 2" in m.text for m in dora)
    assert any(t("zh_Hans", "🆕 <b>New request {number}</b>", number=number) in (m.text or "") for m in wang)
    assert len([m for m in dora if m.photo_file_ids]) == 2  # the album, one message per photo
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.kind, request.site_latitude) == ("new", "repair", 34.7466)
        assert len(await uow.requests.attachments(request.id)) == 2
        assert [e.action for e in await uow.requests.events(request.id, include_internal=True)] == ["created"]
        assert await uow.drafts.of_user(request.created_by_user_id) is None
    fake.assert_no_rejections()


async def test_my_lists_newest_first_with_pages_and_opens_a_card(fake, desk):
    alice = fake.add_user(user_id=1020, first_name="Alice", language_code="en")
    await onboard(alice)
    numbers = [await file_request(alice, description=f"Fault number {i}") for i in range(6)]
    await alice.send_text("/my")
    page = alice.last
    assert "page 1 of 2" in page.text
    assert page.text.index(numbers[5]) < page.text.index(numbers[1])
    assert numbers[0] not in page.text
    await alice.press("Older ›")
    assert numbers[0] in alice.last.text and "page 2 of 2" in alice.last.text
    await alice.press(numbers[0])
    card = alice.last.text
    assert f"Request {numbers[0]}" in card and "Fault number 0" in card and "Request registered" in card
    assert "We will contact you by" in card
    fake.assert_no_rejections()


async def test_customer_adds_a_comment_and_cancels_from_the_card(fake, desk):
    alice = fake.add_user(user_id=1030, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(f"/status {number}")
    await alice.press("Add comment or photos")
    await alice.send_text("It also smells of burnt <insulation> & smoke")
    assert f"Comment added to {number}" in alice.last.text
    await alice.send_photo()
    assert f"Photo added to {number}" in alice.last.text
    await alice.press("Done")
    assert "burnt <insulation> & smoke" in alice.last.text
    await alice.press("Cancel this request")
    await alice.press("Yes, cancel it")
    assert "Status: Cancelled" in alice.last.text
    assert any(f"cancelled request {number}" in (m.text or "") for m in fake.messages_to(DISPATCHER_ID))
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        actions = [e.action for e in await uow.requests.events(request.id, include_internal=True)]
        assert actions == ["created", "comment", "photo_added", "cancelled"]
    fake.assert_no_rejections()


async def test_cancel_mid_dialog_discards_the_draft(fake, desk):
    alice = fake.add_user(user_id=1040, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Maintenance")
    await alice.send_text("/cancel")
    assert "Nothing was sent" in alice.last.text
    await alice.send_text("hello?")
    assert "use the menu" in alice.last.text
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Draft)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(ServiceRequest)) == 0
    fake.assert_no_rejections()


async def test_restart_mid_dialog_continues_with_nothing_lost(fake, desk):
    alice = fake.add_user(user_id=1050, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Installation & commissioning")
    await alice.send_text("qj-2024-0042")
    await desk.restart()
    await alice.send_text("New cabinet needs commissioning")
    assert "Send photos" in alice.last.text
    await desk.restart()
    await alice.press("Skip, no photos")
    await alice.send_text("Zhengzhou, Jinshui district, 12 Garden Road")
    assert "QJ-2024-0042" in alice.last.text and "New cabinet needs commissioning" in alice.last.text
    await alice.press("Confirm and send")
    assert "SR-2026-000001" in alice.last.text
    fake.assert_no_rejections()


async def test_wrong_input_is_explained_and_the_draft_is_kept(fake, desk):
    alice = fake.add_user(user_id=1060, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.send_sticker()
    assert "choose the type of request" in alice.last.text
    await alice.press("Fault repair")
    await alice.press("I don't know the serial number")
    await alice.send_text("x" * 2001)
    assert "at most 2000 characters" in alice.last.text
    await alice.send_text("/my")  # a command mid-dialog
    assert "You have no requests yet" in alice.messages[-1].text or "You have no requests yet" in alice.messages[-2].text
    await alice.send_text("   ")
    assert "describe the problem" in alice.last.text
    await alice.send_text("Display shows E07")
    assert "Send photos" in alice.last.text
    fake.assert_no_rejections()


async def test_a_button_pressed_twice_acts_once(fake, desk):
    alice = fake.add_user(user_id=1070, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    type_prompt = alice.last
    repair_button = next(b["callback_data"] for b in type_prompt.buttons if b["text"] == "Fault repair")
    await alice.press("Fault repair", message=type_prompt)
    assert type_prompt.buttons == []  # the answered prompt loses its buttons
    await alice.press_data(repair_button, message=type_prompt)  # a second tap that raced the edit
    assert alice.callback_answers[-1][1] == "This button is no longer valid."
    async with desk.db.uow() as uow:
        user = await uow.users.by_telegram_id(1070)
        draft = await uow.drafts.of_user(user.id)
        assert draft.step == "product"
    fake.assert_no_rejections()


async def test_forged_buttons_and_other_customers_requests_are_refused_and_audited(fake, desk):
    alice = fake.add_user(user_id=1080, first_name="Alice", language_code="en")
    mallory = fake.add_user(user_id=1081, first_name="Mallory", language_code="en")
    await onboard(alice)
    await onboard(mallory, company=None)
    number = await file_request(alice)
    async with desk.db.uow() as uow:
        request_id = (await uow.requests.by_number(number)).id
    await mallory.send_text(f"/status {number}")
    assert f"No request {number} was found" in mallory.last.text
    await mallory.send_text(number)
    assert f"No request {number} was found" in mallory.last.text
    await mallory.press_data(f"1:rq:{request_id}:cancel_yes")
    assert mallory.callback_answers[-1][1] == "Request not found."
    await mallory.press_data("1:admin:grant:everything")
    assert mallory.callback_answers[-1][1] == "This button is no longer valid."
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == "new"
        actions = [a.action for a in await uow.session.scalars(select(AuditEntry).where(AuditEntry.actor_telegram_id == 1081).order_by(AuditEntry.id))]
        assert actions == ["request_not_found", "request_not_found", "foreign_request_button", "forged_button"]
    fake.assert_no_rejections()


async def test_a_dispatcher_who_blocked_the_bot_is_marked_unreachable_and_others_still_hear(fake, desk):
    alice = fake.add_user(user_id=1090, first_name="Alice", language_code="en")
    fake.block(DISPATCHER_ID)
    await onboard(alice)
    number = await file_request(alice)
    assert f"Request {number} is registered" in alice.last.text
    assert any(number in (m.text or "") for m in fake.messages_to(SECOND_DISPATCHER_ID))
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(DISPATCHER_ID)).is_reachable is False
        assert (await uow.users.by_telegram_id(SECOND_DISPATCHER_ID)).is_reachable is True
    fake.assert_no_rejections(allow=lambda r: r.error_code == 403)


async def test_the_dispatchers_hear_of_a_request_whose_confirmation_telegram_refused(fake, desk):
    """Telegram keeps refusing the customer's "registered" message (429 beyond the retries): the
    request stands, its announcement went into the outbox with it and reaches both dispatchers,
    and the customer gets no apology asking to try again (that would file it twice)."""
    alice = fake.add_user(user_id=1095, first_name="Alice", language_code="en")
    await onboard(alice)
    await fill_request(alice)
    fake.inject_flood(retry_after=1, times=TELEGRAM_LIMITS.max_retries + 1, method="sendMessage", chat_id=alice.id)
    await alice.press("✅ Confirm and send")
    assert not any("Sorry, something went wrong" in (m.text or "") for m in alice.messages)
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(alice.id)).id)
        number = (await uow.requests.page_of_customer(customer.id, 0, 5))[0].number
        assert await uow.drafts.of_user(customer.user_id) is None  # the dialog ended with the request
    for dispatcher in (DISPATCHER_ID, SECOND_DISPATCHER_ID):
        assert any(number in (m.text or "") for m in fake.messages_to(dispatcher))
    # the injected 429s, and the button's answer, which came after the retries had outlived the press
    fake.assert_no_rejections(allow=lambda r: r.error_code == 429 or r.method == "answerCallbackQuery")


async def test_an_unexpected_error_gets_an_apology_not_silence(fake, desk):
    alice = fake.add_user(user_id=1100, first_name="Alice", language_code="en")
    await onboard(alice)
    async with desk.db.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE drafts")
    await alice.send_text("/new")
    assert "Sorry, something went wrong on our side" in alice.last.text


async def test_a_voice_description_reaches_the_dispatcher_with_the_request(fake, desk):
    alice = fake.add_user(user_id=1110, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Consultation")
    await alice.press("I don't know the serial number")
    await alice.send_voice(caption="How often should the seals be changed?")
    await alice.press("Skip, no photos")
    await alice.send_text("Office, 5 Lotus Street")
    assert "Voice messages: 1" in alice.last.text
    await alice.press("Confirm and send")
    assert "Answer promised by" in alice.last.text
    assert [m.method for m in fake.messages_to(DISPATCHER_ID)][-2:] == ["sendMessage", "sendVoice"]
    # The card says so too: Telegram refuses voice messages to a Premium user who forbids them.
    assert "Voice messages: 1" in fake.messages_to(DISPATCHER_ID)[-2].text
    assert "Photos:" not in fake.messages_to(DISPATCHER_ID)[-2].text
    fake.assert_no_rejections()


async def test_a_voice_message_sent_by_mistake_can_be_removed_before_sending(fake, desk):
    alice = fake.add_user(user_id=1111, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.press("I don't know the serial number")
    await alice.send_voice()
    assert "1 voice message attached." in alice.last.text
    await alice.press("🗑 Remove voice messages")
    assert alice.messages[-2].text == "Voice messages removed."
    assert "voice message attached" not in alice.last.text and "🗑 Remove voice messages" not in alice.last.button_texts
    for _ in range(5):
        await alice.send_voice()
    assert "5 voice messages attached." in alice.last.text
    await alice.send_voice()
    assert alice.last.text == "You have already added 5 voice messages, the maximum. Please describe the rest in text."
    await alice.press("🗑 Remove voice messages", alice.messages[-2])
    await alice.send_text("The pump hums but does not start")
    await alice.press("Skip, no photos")
    await alice.send_text("Office, 5 Lotus Street")
    assert "Voice messages" not in alice.last.text
    await alice.press("Confirm and send")
    assert "sendVoice" not in [m.method for m in fake.messages_to(DISPATCHER_ID)]
    fake.assert_no_rejections()


async def test_the_same_update_delivered_twice_is_handled_once(fake, desk):
    alice = fake.add_user(user_id=1120, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.press("I don't know the serial number")
    before = len(alice.messages)
    raw = {
        "update_id": 10**9, "message": {
            "message_id": 10**6, "date": 1_772_400_000, "text": "Line 1 is flooded",
            "chat": {"id": 1120, "type": "private", "first_name": "Alice"},
            "from": {"id": 1120, "is_bot": False, "first_name": "Alice", "language_code": "en"},
        },
    }
    for _ in range(2):  # as Telegram may do after a timeout
        await desk.app.process_update(Update.de_json(raw, desk.app.bot))
    await fake.settle()
    assert len(alice.messages) == before + 1 and "Send photos" in alice.last.text
    fake.assert_no_rejections()


async def test_a_shared_contact_without_the_plus_is_stored_as_the_international_number(fake, desk):
    alice = fake.add_user(user_id=1091, first_name="Alice", language_code="en")
    await onboard(alice, phone="8613800138000")  # as Telegram apps share it
    number = await file_request(alice)
    notice = next(m for m in fake.messages_to(DISPATCHER_ID) if number in m.content)
    assert "+8613800138000" in notice.content  # a number the dispatcher can dial as shown
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(1091)).id)
        assert customer.phone == "+8613800138000"
        assert await uow.customers.by_phone("+8613800138000") is not None  # what staff typing it will find
    fake.assert_no_rejections()


async def test_the_words_under_a_photo_added_to_a_request_reach_the_dispatchers(fake, desk):
    alice = fake.add_user(user_id=1092, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    await alice.press("Add comment or photos")
    await alice.send_photo(caption="Water is now leaking onto the <floor>")
    told = [m for m in fake.messages_to(DISPATCHER_ID) if number in m.content and "added a photo" in m.content]
    assert told and "Water is now leaking onto the <floor>" in told[-1].content
    fake.assert_no_rejections()


async def test_comment_mode_opens_a_typed_request_number_and_cancelling_keeps_what_was_sent(fake, desk):
    alice = fake.add_user(user_id=1093, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice)
    second = await file_request(alice, description="The second pump hums but does not start")
    await alice.send_text(first)
    await alice.press("Add comment or photos")
    await alice.send_text("The noise got louder overnight")
    await alice.send_text(second.lower())  # only a number: open that request, not a comment on the first
    assert second in alice.last.text and "hums but does not start" in alice.last.text
    await alice.send_text("/cancel")
    assert alice.last.text == "There is nothing to cancel."

    await alice.press("Add comment or photos")  # on the second request's card
    await alice.send_text("It is in the basement")
    await alice.send_text("/cancel")
    assert alice.last.text == "Closed. What you already sent is kept."
    told = [m.content for m in fake.messages_to(DISPATCHER_ID)]
    assert any("The noise got louder overnight" in text for text in told) and any("It is in the basement" in text for text in told)
    assert not any(second.lower() in text for text in told)  # the typed number was not passed on as a comment
    fake.assert_no_rejections()


async def test_changing_the_language_during_onboarding_asks_the_question_again(fake, desk):
    bob = fake.add_user(user_id=1094, first_name="Bob", language_code="en")
    await bob.send_text("/start")
    await bob.press("Use “Bob”")
    await bob.send_text("/language")
    await bob.press("Русский")
    assert bob.last.text == t("ru", "Thank you, {name}. What phone number can our engineers call? Press the button below to share it, or type it with the country code, e.g. +86 138 0013 8000.", name="Bob")
    assert bob.reply_keyboard and bob.reply_keyboard[0][0].get("request_contact") is True
    await bob.share_contact(phone="+7 916 555 01 02", own=True)
    assert t("ru", "Which company or project is the equipment for? Type its name, or press “Skip”.") in bob.last.text
    fake.assert_no_rejections()


async def test_changing_the_language_during_the_intake_asks_its_question_again(fake, desk):
    bob = fake.add_user(user_id=1096, first_name="Bob", language_code="en")
    await onboard(bob)
    await bob.send_text("/new")
    await bob.press("Fault repair")
    await bob.send_text("/language")
    await bob.press("Русский")
    question = bob.last
    assert question.text.startswith(t("ru", "Which product is it about? Type the serial number from the nameplate."))
    await bob.press(t("ru", "I don't know the serial number"), question)
    assert bob.last.text.startswith(t("ru", "Describe the problem: what happens, since when, any error codes shown. Up to {limit} characters. You may also send a photo or a voice message with a caption.", limit=2000))
    fake.assert_no_rejections()


async def test_a_half_filled_request_is_kept_aside_while_another_dialog_runs_and_new_resumes_it(fake, desk):
    alice = fake.add_user(user_id=1095, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice)
    await alice.send_text(first)
    card = alice.last
    await fill_request(alice, description="Second problem: the valve leaks badly")  # up to the summary, not sent
    await alice.press("Add comment or photos", card)  # a button of an earlier message: another dialog takes over
    await alice.send_text("The first pump is quieter today")
    await alice.press("Done")

    await alice.send_text("/new")
    assert "You have an unfinished request; let's continue where you stopped." in alice.messages[-2].text
    assert "Second problem: the valve leaks badly" in alice.last.text  # the summary as it was
    await alice.press("✅ Confirm and send")
    async with desk.db.uow() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(ServiceRequest).where(ServiceRequest.description == "Second problem: the valve leaks badly"))
        assert count == 1
    await alice.send_text("/new")  # nothing kept aside any more: a fresh request
    assert "What do you need?" in alice.last.text
    fake.assert_no_rejections()


async def test_a_name_with_an_ampersand_reads_the_same_on_its_button(fake, desk):
    tom = fake.add_user(user_id=5391, first_name="Tom & Jerry <Ltd>", language_code="en")
    await tom.send_text("/start")
    assert "Use “Tom & Jerry <Ltd>”" in tom.last.button_texts  # plain text on a button, not "&amp;"
    await tom.press("Use “Tom & Jerry <Ltd>”")
    assert "Thank you, Tom & Jerry <Ltd>." in tom.last.text
    fake.assert_no_rejections()


async def test_a_description_of_emoji_reaches_the_dispatchers_in_pieces_telegram_accepts(fake, desk):
    alice = fake.add_user(user_id=5393, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, description="🔥" * 1990)  # within 2,000 characters; twice that for Telegram
    told = "".join(m.text or "" for m in fake.messages_to(DISPATCHER_ID))
    assert number in told and told.count("🔥") == 1990
    fake.assert_no_rejections()


async def test_a_filled_request_sent_back_to_its_first_step_is_still_kept_aside(fake, desk):
    alice = fake.add_user(user_id=5394, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice)
    await alice.send_text(first)
    card = alice.last
    await fill_request(alice, photos=1, description="Second problem: the valve leaks badly")
    await alice.press("✏️ Edit")
    await alice.press("Type")  # the form is filled, but the draft is on its first step again
    await alice.press("Add comment or photos", card)  # another dialog takes over
    await alice.press("Done")
    await alice.send_text("/new")
    assert any(m.text == t("en", "You have an unfinished request; let's continue where you stopped.") for m in alice.messages[-2:])
    await alice.press("Fault repair")  # the type being edited: back to the summary, nothing lost
    assert "Second problem: the valve leaks badly" in alice.last.text and "✅ Confirm and send" in alice.last.button_texts
    fake.assert_no_rejections()


async def test_cancelling_tells_the_assigned_engineer_and_a_closed_request_says_it_is_closed(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5401, "Ed", "engineer")
    alice = fake.add_user(user_id=5402, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")  # not accepted yet: the customer may still cancel
    await alice.send_text(number)
    await alice.press("Cancel this request")
    await alice.press("Yes, cancel it")
    assert ed.last.text == t("en", "✖️ The customer cancelled request {number}.", number=number)

    second = await file_request(alice)
    await alice.send_text(second)
    card = alice.last
    await dora.send_text(second)
    await dora.press("🗂 Close the request")
    await dora.send_text("Duplicate of a phone call")
    await alice.press("Cancel this request", card)
    assert alice.callback_answers[-1][1] == t("en", "This request is already closed; there is nothing left to cancel. If the problem is back, report it with /new.")
    fake.assert_no_rejections()


async def test_new_typed_during_registration_keeps_what_was_given_and_opens_the_intake_after(fake, desk):
    bob = fake.add_user(user_id=5403, first_name="Bob", language_code="en")
    await bob.send_text("/start")
    await bob.send_text("Bob Smith")
    await bob.share_contact(phone="+8613800138001", own=True)
    await bob.send_text("/new")  # impatient: the company question is still open
    assert t("en", "Which company or project is the equipment for? Type its name, or press “Skip”.") in bob.last.text
    await bob.send_text("Smith Farm")
    assert t("en", "What do you need? Choose the type of request.") in bob.last.text
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(5403)).id)
        assert (customer.name, customer.phone) == ("Bob Smith", "+8613800138001")
    fake.assert_no_rejections()


async def test_the_apology_for_an_error_is_in_the_language_the_customer_chose(fake, desk):
    ivan = fake.add_user(user_id=5404, first_name="Ivan", language_code="en")
    await onboard(ivan)
    await ivan.send_text("/language")
    await ivan.press("Русский")
    async with desk.db.engine.begin() as connection:  # a fault on our side while handling the next update
        await connection.exec_driver_sql("DROP TABLE drafts")
    await ivan.send_text("/new")
    assert ivan.last.text == t("ru", "Sorry, something went wrong on our side. What you sent before is saved; please try again in a moment.")


async def test_a_caption_that_does_not_fit_the_description_is_not_cut_silently(fake, desk):
    alice = fake.add_user(user_id=5405, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.press("I don't know the serial number")
    await alice.send_text("d" * 1990)
    await alice.send_photo(caption="ALSO: the power cable is burnt")
    assert any("Photo saved, but not its caption" in (m.text or "") for m in alice.messages[-2:])
    await alice.press("✅ Done")
    await alice.send_text("5 Lotus Street")
    assert "ALSO: the" not in alice.last.text  # nothing half-kept
    fake.assert_no_rejections()


async def test_the_list_or_another_card_ends_comment_mode_so_nothing_lands_on_the_wrong_request(fake, desk):
    alice = fake.add_user(user_id=5101, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice)
    second = await file_request(alice, description="The second pump hums but does not start")
    await alice.send_text(first)
    await alice.press("Add comment or photos")
    await alice.send_text("/my")  # she leaves the first request
    await alice.press(second)  # and opens the second one's card
    assert second in alice.last.text
    await alice.send_text("This one is in the basement")  # not a comment on either: she is not in comment mode
    async with desk.db.uow() as uow:
        for number in (first, second):
            request = await uow.requests.by_number(number)
            assert not [e for e in await uow.requests.events(request.id, include_internal=True) if e.action == "comment"]
    await alice.press("Add comment or photos")  # on the second card: its own comment mode
    await alice.send_text("It is in the basement")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(second)
        assert [e.details["text"] for e in await uow.requests.events(request.id, include_internal=True) if e.action == "comment"] == ["It is in the basement"]


async def test_a_photo_caption_too_long_for_a_comment_is_left_out_and_said_so(fake, desk):
    alice = fake.add_user(user_id=5102, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    await alice.press("Add comment or photos")
    await alice.send_photo(caption="x" * 1010 + " END")  # Telegram allows 1024; a comment 1000
    assert alice.last.text.startswith(f"Photo added to {number}, but not its caption")
    await alice.send_photo(caption="\u200b")  # a caption that shows nothing is no comment
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        comments = [e for e in await uow.requests.events(request.id, include_internal=True) if e.action == "comment"]
        photos = [a for a in await uow.requests.attachments(request.id) if a.added_by_user_id is not None]
    assert comments == [] and len(photos) == 2


async def test_a_request_number_typed_at_the_survey_opens_that_request(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5201, "Ed", "engineer")
    alice = fake.add_user(user_id=5202, first_name="Alice", language_code="en")
    await onboard(alice)
    other = await file_request(alice, description="The second pump hums but does not start")
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    await report_by_phone(ed)
    await alice.press("Resolved")
    await alice.press("⭐⭐⭐⭐")
    await alice.press("Yes")
    await alice.send_text(other)  # later she checks her other request by its number
    assert other in alice.last.text and "The second pump hums" in alice.last.text  # its card
    async with desk.db.uow() as uow:
        survey = await uow.jobs.survey_of((await uow.requests.by_number(number)).id)
        assert (survey.stars, survey.comment) == (4, None)
    fake.assert_no_rejections()
