"""Tests of the fake Telegram Bot API itself.

The fake is only useful if it refuses what Telegram refuses, with the same
codes and words, and if its synchronisation lets end-to-end tests assert
right after an action. These tests drive it with PTB's own `telegram.Bot` and a
tiny PTB `Application`, exactly as the bot under test will.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakebot import FakeTelegram, FakeUser

TOKEN = "123456:TEST-TOKEN"
# PTB 22 warns about its own int/timedelta transition when building RetryAfter.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(token=TOKEN, bot_username="service_desk_bot")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot"
    ) as client:
        yield client


@pytest.fixture
def alice(fake: FakeTelegram) -> FakeUser:
    return fake.add_user(user_id=1001, first_name="Alice", language_code="en")


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(buttons)])


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    buttons = keyboard(
        InlineKeyboardButton("Approve", callback_data="approve:1"),
        InlineKeyboardButton("Reject", callback_data="reject:1"),
    )
    await update.message.reply_text(f"args={' '.join(context.args)}", reply_markup=buttons)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer(f"got {query.data}")
    if query.message and query.message.is_accessible:
        await query.edit_message_text(f"you chose {query.data}")


@contextlib.asynccontextmanager
async def running_app(
    fake: FakeTelegram, *handlers, watch: bool = True
) -> AsyncIterator[Application]:
    """A real PTB Application long-polling the fake; stopped gracefully on exit."""
    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(f"{fake.url}/bot")
        .base_file_url(f"{fake.url}/file/bot")
        .build()
    )
    for handler in handlers or default_handlers():
        app.add_handler(handler)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(timeout=5, poll_interval=0)
    if watch:
        fake.watch(app)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def default_handlers() -> list:
    return [
        CommandHandler("start", start),
        CallbackQueryHandler(pressed),
        MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
    ]


async def rejected(call) -> tuple[type, str]:
    """Run a bot call that must fail; return the PTB exception type and message."""
    with pytest.raises(Exception) as info:
        await call
    return type(info.value), str(info.value)


# --- basic objects ------------------------------------------------------------------


async def test_get_me_describes_the_bot(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (fake.bot_id, True, "service_desk_bot")


async def test_send_message_returns_a_complete_message(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    first = await bot.send_message(alice.id, "one")
    second = await bot.send_message(alice.id, "two")
    assert second.message_id == first.message_id + 1
    assert second.from_user.id == fake.bot_id and second.from_user.is_bot
    assert second.chat.type == "private" and second.chat.first_name == "Alice"
    assert [m.text for m in alice.messages] == ["one", "two"]
    assert fake.messages_to(alice.id)[-1].method == "sendMessage"


async def test_html_is_stored_as_visible_text_with_entities(bot: Bot, alice: FakeUser) -> None:
    raw = '<b>Request</b> &lt;SR-1&gt; <a href="https://x.test/?a=1&amp;b=2">open</a>'
    message = await bot.send_message(alice.id, raw, parse_mode="HTML")
    assert message.text == "Request <SR-1> open"
    assert alice.last.text == "Request <SR-1> open" and alice.last.raw_text == raw
    types = [(e.type, e.offset, e.length) for e in message.entities]
    assert types == [("bold", 0, 7), ("text_link", 15, 4)]
    assert message.entities[1].url == "https://x.test/?a=1&b=2"


@pytest.mark.parametrize(
    "markup",
    [
        "a < b",
        "<b>bold",
        "<b><i>x</b></i>",
        "line<br>break",
        "x &nbsp; y",
        "Tom & Jerry",
        "</b>",
        "<span>s</span>",
    ],
)
async def test_bad_html_is_rejected_like_telegram(
    bot: Bot, alice: FakeUser, fake: FakeTelegram, markup: str
) -> None:
    kind, message = await rejected(bot.send_message(alice.id, markup, parse_mode="HTML"))
    assert kind is BadRequest and message.startswith("Can't parse entities: ")
    assert fake.rejections[-1].description.startswith("Bad Request: can't parse entities: ")
    assert alice.messages == []


async def test_text_limits_count_visible_characters(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    await bot.send_message(alice.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert len(alice.last.text) == 4096
    await rejected(bot.send_message(alice.id, "x" * 4097))
    await rejected(bot.send_message(alice.id, "   "))
    assert [r.description for r in fake.rejections] == [
        "Bad Request: message is too long",
        "Bad Request: message text is empty",
    ]


async def test_inline_keyboard_rules(bot: Bot, alice: FakeUser, fake: FakeTelegram) -> None:
    await bot.send_message(
        alice.id, "ok", reply_markup=keyboard(InlineKeyboardButton("A", callback_data="x" * 64))
    )
    too_long = keyboard(InlineKeyboardButton("A", callback_data="é" * 33))  # 66 bytes
    no_action = {"inline_keyboard": [[{"text": "A"}]]}
    two_actions = {
        "inline_keyboard": [[{"text": "A", "callback_data": "a", "url": "https://x.test"}]]
    }
    empty_text = {"inline_keyboard": [[{"text": "", "callback_data": "a"}]]}
    for markup in (too_long, no_action, two_actions, empty_text):
        assert (await rejected(bot.send_message(alice.id, "t", reply_markup=markup)))[
            0
        ] is BadRequest
    assert [r.description for r in fake.rejections] == [
        "Bad Request: BUTTON_DATA_INVALID",
        "Bad Request: text buttons are unallowed in the inline keyboard",
        "Bad Request: BUTTON_TYPE_INVALID",
        "Bad Request: BUTTON_TEXT_INVALID",
    ]
    assert len(alice.messages) == 1


async def test_unknown_chat_and_blocked_user(bot: Bot, alice: FakeUser, fake: FakeTelegram) -> None:
    assert await rejected(bot.send_message(999, "hi")) == (BadRequest, "Chat not found")
    sent = await bot.send_message(alice.id, "before")
    fake.block(alice.id)
    for call in (
        bot.send_message(alice.id, "after"),
        bot.edit_message_text("changed", chat_id=alice.id, message_id=sent.message_id),
        bot.send_chat_action(alice.id, "typing"),
    ):
        assert await rejected(call) == (Forbidden, "Forbidden: bot was blocked by the user")
    fake.unblock(alice.id)
    await bot.send_message(alice.id, "again")
    assert [m.text for m in alice.messages] == ["before", "again"]
    fake.assert_no_rejections(allow=lambda r: r.error_code == 403 or r.params.get("chat_id") == 999)


async def test_a_user_who_never_opened_the_bot_is_no_chat_until_they_write(
    bot: Bot, fake: FakeTelegram
) -> None:
    """Telegram knows a private chat only once its user has written to the bot (or pressed /start,
    or a button): before that every call aimed at it, a command menu for it too, is "chat not found"."""
    bob = fake.add_user(2002, "Bob", started=False)
    menu = [("jobs", "My jobs")]
    for call in (
        bot.send_message(bob.id, "hi"),
        bot.send_chat_action(bob.id, "typing"),
        bot.get_chat(bob.id),
        bot.set_chat_menu_button(bob.id),
        bot.set_my_commands(menu, scope=BotCommandScopeChat(bob.id)),
        bot.get_my_commands(scope=BotCommandScopeChat(bob.id)),
        bot.delete_my_commands(scope=BotCommandScopeChat(bob.id)),
    ):
        assert await rejected(call) == (BadRequest, "Chat not found")
    assert bob.messages == [] and fake.commands == {}

    await bob.send_text("/start", wait=False)  # opening the bot makes the chat
    await bot.send_message(bob.id, "welcome")
    assert await bot.set_my_commands(menu, scope=BotCommandScopeChat(bob.id))
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(bob.id))] == ["jobs"]
    assert [m.text for m in bob.messages] == ["welcome"]


async def test_a_button_press_also_opens_the_chat(bot: Bot, fake: FakeTelegram) -> None:
    carol = fake.add_user(2003, "Carol", started=False)
    await carol.press_data("stale:1", wait=False)  # e.g. a button of a message forwarded to her
    assert await bot.send_message(carol.id, "hello")


async def test_edit_rules(bot: Bot, alice: FakeUser, fake: FakeTelegram) -> None:
    markup = keyboard(InlineKeyboardButton("A", callback_data="a"))
    sent = await bot.send_message(alice.id, "<b>v1</b>", parse_mode="HTML", reply_markup=markup)
    kind, message = await rejected(
        bot.edit_message_text(
            "<b>v1</b>",
            chat_id=alice.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=markup,
        )
    )
    assert message.startswith("Message is not modified: specified new message content")
    assert await rejected(bot.edit_message_text("x", chat_id=alice.id, message_id=777)) == (
        BadRequest,
        "Message to edit not found",
    )
    await bot.edit_message_text("v2", chat_id=alice.id, message_id=sent.message_id)
    assert (alice.last.text, alice.last.edits, alice.last.buttons) == (
        "v2",
        1,
        [],
    )  # no markup given: removed
    await bot.edit_message_reply_markup(
        chat_id=alice.id, message_id=sent.message_id, reply_markup=markup
    )
    assert alice.last.button_texts == ["A"] and len(alice.messages) == 1
    await rejected(
        bot.edit_message_reply_markup(
            chat_id=alice.id, message_id=sent.message_id, reply_markup=markup
        )
    )
    assert fake.rejections[-1].description.startswith("Bad Request: message is not modified")


async def test_replies_must_point_at_an_existing_message(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    asked = await alice.send_text("question", wait=False)
    answer = await bot.send_message(alice.id, "answer", reply_to_message_id=asked["message_id"])
    assert answer.reply_to_message.text == "question"
    assert await rejected(bot.send_message(alice.id, "x", reply_to_message_id=99)) == (
        BadRequest,
        "Message to be replied not found",
    )
    later = await bot.send_message(alice.id, "later")
    assert later.message_id == answer.message_id + 1  # the refused send took no id
    assert [c.error_code for c in fake.calls("sendMessage")] == [None, 400, None]


async def test_delete_message_flags_it(bot: Bot, alice: FakeUser) -> None:
    first = await bot.send_message(alice.id, "first")
    second = await bot.send_message(alice.id, "second")
    assert await bot.delete_message(alice.id, second.message_id)
    assert alice.messages[-1].deleted and alice.last.message_id == first.message_id
    assert await rejected(bot.delete_message(alice.id, second.message_id)) == (
        BadRequest,
        "Message to delete not found",
    )


async def test_answer_callback_query_rules(bot: Bot, alice: FakeUser, fake: FakeTelegram) -> None:
    await bot.send_message(
        alice.id, "pick", reply_markup=keyboard(InlineKeyboardButton("Yes", callback_data="y"))
    )
    query_id = await alice.press("Yes", wait=False)
    too_old = "Query is too old and response timeout expired or query id is invalid"
    assert await rejected(bot.answer_callback_query("12345")) == (BadRequest, too_old)
    assert await rejected(bot.answer_callback_query(query_id, "x" * 201)) == (
        BadRequest,
        "Message_too_long",
    )
    assert await bot.answer_callback_query(query_id, "Saved", show_alert=True)
    assert await rejected(bot.answer_callback_query(query_id)) == (BadRequest, too_old)
    assert alice.callback_answers == [(query_id, "Saved", True)]
    assert fake.rejections[1].description == "Bad Request: MESSAGE_TOO_LONG"


# --- files ----------------------------------------------------------------------------


async def test_photo_file_ids_must_be_issued_by_the_fake(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    assert await rejected(bot.send_photo(alice.id, "AgACnotarealid")) == (
        BadRequest,
        "Wrong file identifier/http url specified",
    )
    file_id = await alice.send_photo(caption="broken pump", wait=False)
    resent = await bot.send_photo(alice.id, file_id, caption="<i>your photo</i>", parse_mode="HTML")
    assert resent.photo[-1].file_id == file_id and resent.caption == "your photo"
    assert (
        alice.last.photo_file_ids[-1] == file_id and alice.last.raw_caption == "<i>your photo</i>"
    )
    await rejected(bot.send_photo(alice.id, file_id, caption="c" * 1025))
    assert fake.rejections[-1].description == "Bad Request: message caption is too long"


async def test_uploaded_files_can_be_fetched_back(bot: Bot, alice: FakeUser) -> None:
    message = await bot.send_document(
        alice.id, b"%PDF-1.4 report", filename="report.pdf", caption="Report"
    )
    assert message.document.file_name == "report.pdf" and alice.last.caption == "Report"
    tg_file = await bot.get_file(message.document.file_id)
    assert bytes(await tg_file.download_as_bytearray()) == b"%PDF-1.4 report"
    voice = await bot.send_voice(alice.id, b"OggS...", duration=4)
    assert alice.last.voice == {**alice.last.voice, "file_id": voice.voice.file_id, "duration": 4}
    assert await rejected(bot.get_file("nope")) == (BadRequest, "Invalid file_id")


async def test_bots_download_files_of_up_to_20_mb(bot: Bot, alice: FakeUser) -> None:
    limit = 20 * 1024 * 1024
    fits = await alice.send_document("scan.pdf", data=b"x" * limit, wait=False)
    too_big = await alice.send_document("video.zip", data=b"x" * (limit + 1), wait=False)
    assert (await bot.get_file(fits)).file_size == limit
    assert await rejected(bot.get_file(too_big)) == (BadRequest, "File is too big")


async def test_media_group_rules(bot: Bot, alice: FakeUser, fake: FakeTelegram) -> None:
    photo_id = await alice.send_photo(wait=False)
    album = [
        InputMediaPhoto(photo_id, caption="one"),
        InputMediaPhoto(b"jpeg-bytes", caption="two"),
    ]
    messages = await bot.send_media_group(alice.id, album)
    assert len({m.media_group_id for m in messages}) == 1 and [m.caption for m in messages] == [
        "one",
        "two",
    ]
    assert [m.media_group_id for m in alice.messages] == [messages[0].media_group_id] * 2
    await rejected(bot.send_media_group(alice.id, [InputMediaPhoto(photo_id)]))
    await rejected(
        bot.send_media_group(alice.id, [InputMediaPhoto(photo_id, caption="c" * 1025)] * 2)
    )
    await rejected(bot.send_media_group(alice.id, [InputMediaPhoto("AgACforged")] * 2))
    assert [r.description for r in fake.rejections] == [
        "Bad Request: wrong number of media in the album: must include 2-10 items",
        "Bad Request: message caption is too long",
        "Bad Request: wrong file identifier/HTTP URL specified",
    ]
    assert len(alice.messages) == 2
    assert fake.unknown_params == []  # attach:// file parts are not parameters


async def test_copy_message_between_chats(bot: Bot, alice: FakeUser, fake: FakeTelegram) -> None:
    engineer = fake.add_user(2002, "Bob")
    await alice.send_photo(caption="leak", wait=False)
    source_id = max(alice.chat_messages)
    copied = await bot.copy_message(engineer.id, alice.id, source_id, caption="From Alice: leak")
    assert engineer.last.message_id == copied.message_id
    assert engineer.last.caption == "From Alice: leak" and len(engineer.last.photo_file_ids) == 3
    assert await rejected(bot.copy_message(engineer.id, alice.id, 999)) == (
        BadRequest,
        "Message to copy not found",
    )


async def test_location_chat_action_and_reply_keyboards(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    await bot.send_location(alice.id, 31.23, 121.47)
    assert alice.last.location == {"latitude": 31.23, "longitude": 121.47}
    await bot.send_chat_action(alice.id, "typing")
    await rejected(bot.send_chat_action(alice.id, "dancing"))
    assert alice.chat_actions == ["typing"]
    share = ReplyKeyboardMarkup([[KeyboardButton("Share phone", request_contact=True)], ["Cancel"]])
    await bot.send_message(alice.id, "Your phone?", reply_markup=share)
    assert [[b["text"] for b in row] for row in alice.reply_keyboard] == [
        ["Share phone"],
        ["Cancel"],
    ]
    assert alice.last.reply_markup is None  # reply keyboards are not echoed on the message
    await bot.send_message(alice.id, "Reply please", reply_markup=ForceReply())
    assert alice.reply_keyboard is not None and alice.reply_markup["force_reply"] is True
    await bot.send_message(alice.id, "Thanks", reply_markup=ReplyKeyboardRemove())
    assert alice.reply_keyboard is None
    assert fake.rejections[-1].description == "Bad Request: wrong parameter action in request"


async def test_a_reply_button_asking_for_two_things_asks_for_the_first_only(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    """A KeyboardButton may request one thing. Telegram's server does not refuse a second one: it
    keeps the first in its own order (contact, location, poll, web app, users, chat) and the user's
    app shows that button, so a bot asking for a location that way gets a phone number."""
    asks_both = KeyboardButton("📍 Send my location", request_contact=True, request_location=True)
    web_and_location = {"text": "Map", "web_app": {"url": "https://x.test"}, "request_location": True}
    await bot.send_message(
        alice.id, "Where are you?", reply_markup=ReplyKeyboardMarkup([[asks_both], [web_and_location]])
    )
    assert alice.reply_keyboard == [
        [{"text": "📍 Send my location", "request_contact": True}],
        [{"text": "Map", "request_location": True}],
    ]
    one_thing = KeyboardButton("📍 Send my location", request_contact=False, request_location=True)
    any_poll = {"text": "Vote", "request_poll": {}, "request_chat": {"request_id": 1}}
    await bot.send_message(
        alice.id, "Where are you?", reply_markup=ReplyKeyboardMarkup([[one_thing], [any_poll]])
    )
    assert alice.reply_keyboard == [
        [{"text": "📍 Send my location", "request_contact": False, "request_location": True}],
        [{"text": "Vote", "request_poll": {}}],
    ]
    fake.assert_no_rejections()


async def test_commands_menu_chat_and_lifecycle_methods(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    await bot.set_my_commands([("start", "Start"), ("my", "My requests")])
    await bot.set_my_commands([("start", "Начать")], language_code="ru")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "my"]
    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == ["Начать"]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    await rejected(bot.set_my_commands([("Bad Command", "x")]))
    assert fake.rejections[-1].description == "Bad Request: BOT_COMMAND_INVALID"
    assert await bot.set_chat_menu_button()
    chat = await bot.get_chat(alice.id)
    assert (chat.id, chat.first_name) == (alice.id, "Alice")
    assert await bot.delete_webhook() and (await bot.get_webhook_info()).url == ""
    assert await bot.log_out() and await bot.close()


async def test_command_menus_are_per_two_letter_language_and_known_chat(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    assert await bot.set_my_commands([("my", "我的请求")], language_code="zh")
    for code in ("zh-hans", "zh_Hans", "ZH", "eng", "e"):
        assert await rejected(bot.set_my_commands([("my", "x")], language_code=code)) == (
            BadRequest,
            "Invalid language code specified",
        )
    await rejected(bot.get_my_commands(language_code="zh-hans"))
    await rejected(bot.delete_my_commands(language_code="zh-hans"))
    assert fake.rejections[-1].description == "Bad Request: invalid language code specified"
    assert [c.description for c in await bot.get_my_commands(language_code="zh")] == ["我的请求"]

    assert await bot.set_my_commands([("my", "Mine")], scope=BotCommandScopeChat(alice.id))
    for call in (
        bot.set_my_commands([("my", "Mine")], scope=BotCommandScopeChat(999)),
        bot.delete_my_commands(scope=BotCommandScopeChat(999)),
    ):
        assert await rejected(call) == (BadRequest, "Chat not found")


# --- HTTP-level behaviour ------------------------------------------------------------


async def test_unknown_method_is_404_and_recorded(bot: Bot, fake: FakeTelegram) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendHologram", api_kwargs={"chat_id": 1})
    assert fake.unknown_methods == ["sendHologram"]
    assert (fake.rejections[-1].error_code, fake.rejections[-1].description) == (404, "Not Found")


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        await Bot("999:OTHER", base_url=f"{fake.url}/bot").get_me()
    assert (fake.rejections[-1].error_code, fake.rejections[-1].description) == (
        401,
        "Unauthorized",
    )


async def raw_call(fake: FakeTelegram, method: str, **body) -> tuple[int, dict]:
    """POST without PTB: json=... for a JSON body, data=... for a form, nothing for GET."""
    url = f"{fake.url}/bot{TOKEN}/{method}"
    async with aiohttp.ClientSession() as http:
        request = http.post(url, **body) if body else http.get(url)
        async with request as response:
            return response.status, await response.json()


async def test_json_and_form_bodies_and_spec_checks(fake: FakeTelegram, alice: FakeUser) -> None:
    json_body = {"chat_id": alice.id, "text": "json", "colour": "red"}
    status, body = await raw_call(fake, "sendMessage", json=json_body)
    assert status == 200 and body["result"]["text"] == "json"
    assert (await raw_call(fake, "getMe"))[1]["result"]["username"] == "service_desk_bot"
    assert await raw_call(fake, "sendMessage", data={"text": "no chat"}) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is required"},
    )
    if fake.spec is not None:  # shared/botapi/api.json present: unknown parameters are noted
        assert fake.unknown_params == [("sendMessage", "colour")]


async def test_missing_text_is_reported_as_telegram_does(
    fake: FakeTelegram, alice: FakeUser
) -> None:
    status, body = await raw_call(fake, "sendMessage", data={"chat_id": str(alice.id)})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")


async def test_without_the_reference_file_spec_checks_are_skipped(tmp_path) -> None:
    async with FakeTelegram(token=TOKEN, spec_path=tmp_path / "absent.json") as server:
        user = server.add_user(1, "U")
        async with Bot(TOKEN, base_url=f"{server.url}/bot") as client:
            await client.send_message(user.id, "hi", api_kwargs={"colour": "red"})
        assert server.spec is None and server.unknown_params == [] and user.last.text == "hi"


# --- flood control ----------------------------------------------------------------------


async def test_injected_flood_returns_429_with_retry_after(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    fake.inject_flood(retry_after=2, times=1, method="sendMessage", chat_id=alice.id)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "first try")
    assert "Retry in 2 seconds" in str(info.value)
    await bot.send_message(alice.id, "second try")
    rejection = fake.rejections[-1]
    assert (rejection.error_code, rejection.description, rejection.parameters) == (
        429,
        "Too Many Requests: retry after 2",
        {"retry_after": 2},
    )
    assert [m.text for m in alice.messages] == ["second try"]


async def test_flood_filters_by_method_and_chat(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    bob = fake.add_user(2002, "Bob")
    fake.inject_flood(retry_after=5, times=2, chat_id=bob.id)
    await bot.send_message(alice.id, "to alice")
    await bot.send_chat_action(alice.id, "typing")
    for _ in range(2):
        with pytest.raises(RetryAfter):
            await bot.send_message(bob.id, "to bob")
    await bot.send_message(bob.id, "to bob")
    assert len(fake.rejections) == 2 and len(bob.messages) == 1


async def test_an_injected_error_fails_only_the_matching_calls_and_leaves_no_trace(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    fake.inject_error(500, "Internal Server Error", method="sendMessage", when=lambda params: params["text"].startswith("second"))
    fake.inject_error(400, "Bad Request: something the fake accepts", times=2, chat_id=alice.id)
    await rejected(bot.send_chat_action(alice.id, "typing"))
    await rejected(bot.send_message(alice.id, "first"))
    await bot.send_message(alice.id, "first")
    with pytest.raises(NetworkError):  # PTB's name for a 5xx
        await bot.send_message(alice.id, "second")
    await bot.send_message(alice.id, "second")
    assert [m.text for m in alice.messages] == ["first", "second"]
    assert [(r.method, r.error_code) for r in fake.rejections] == [("sendChatAction", 400), ("sendMessage", 400), ("sendMessage", 500)]


async def test_global_rate_limit(bot: Bot, alice: FakeUser, fake: FakeTelegram) -> None:
    fake.global_rate_limit = 3
    for i in range(3):
        await bot.send_message(alice.id, f"m{i}")
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "m3")
    assert fake.rejections[-1].error_code == 429 and len(alice.messages) == 3


async def test_default_rate_limit_allows_a_normal_burst(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    for i in range(20):
        await bot.send_message(alice.id, f"m{i}")
    fake.assert_no_rejections()


async def test_assert_no_rejections_lists_them_and_allows_filtering(
    bot: Bot, alice: FakeUser, fake: FakeTelegram
) -> None:
    fake.assert_no_rejections()
    await rejected(bot.send_message(alice.id, ""))
    with pytest.raises(AssertionError, match="message text is empty"):
        fake.assert_no_rejections()
    fake.assert_no_rejections(allow=lambda r: "empty" in r.description)


# --- long polling ------------------------------------------------------------------------


async def test_get_updates_offsets_confirm_like_telegram(bot: Bot, alice: FakeUser) -> None:
    for text in ("a", "b", "c"):
        await alice.send_text(text, wait=False)
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates] == ["a", "b", "c"]
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [u.update_id for u in updates]
    limited = await bot.get_updates(offset=updates[1].update_id, limit=1, timeout=0)
    assert [u.message.text for u in limited] == ["b"]
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert await bot.get_updates(timeout=0) == ()


async def test_long_poll_wakes_on_new_update_and_times_out(bot: Bot, alice: FakeUser) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    await alice.send_text("wake up", wait=False)
    updates = await poll
    assert [u.message.text for u in updates] == ["wake up"] and time.monotonic() - started < 1
    started = time.monotonic()
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 2


async def test_newer_poll_ends_older_one_with_conflict(bot: Bot, fake: FakeTelegram) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    async with Bot(TOKEN, base_url=f"{fake.url}/bot") as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict):
        await older
    assert fake.rejections[-1].error_code == 409


async def test_stop_releases_pending_long_polls(bot: Bot, fake: FakeTelegram) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    while not any(call.method == "getUpdates" for call in fake.all_calls):  # the poll has reached the fake
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # and is waiting for updates
    started = time.monotonic()
    await fake.stop()
    # Released by the stop, not by the 30 s poll timeout (a wide margin: a loaded machine is slow).
    assert await asyncio.wait_for(poll, 15) == ()
    assert time.monotonic() - started < 15


async def test_allowed_updates_filters_new_updates(bot: Bot, alice: FakeUser) -> None:
    await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert await alice.send_text("ignored") is not None  # returns at once: nothing to wait for
    await bot.send_message(
        alice.id, "pick", reply_markup=keyboard(InlineKeyboardButton("Go", callback_data="go"))
    )
    await alice.press("Go", wait=False)
    assert [u.callback_query.data for u in await bot.get_updates(timeout=0)] == ["go"]


async def test_drop_pending_updates(bot: Bot, alice: FakeUser, fake: FakeTelegram) -> None:
    await alice.send_text("stale", wait=False)
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == ()
    with pytest.raises(AssertionError, match="dropped"):
        await fake.wait_handled(alice.update_ids[-1])


# --- the human side against a real Application ------------------------------------------


async def test_actions_return_after_the_bot_replied(fake: FakeTelegram, alice: FakeUser) -> None:
    async with running_app(fake):
        await alice.send_text("hello")
        assert alice.last.text == "echo: hello"
        await alice.send_command("start", "SR-2026")
        assert alice.last.text == "args=SR-2026" and alice.last.button_texts == [
            "Approve",
            "Reject",
        ]
        query_id = await alice.press("Reject")
        assert alice.callback_answers == [(query_id, "got reject:1", False)]
        assert [m.text for m in alice.new_messages] == ["you chose reject:1"]
        assert alice.last.edits == 1 and len(alice.messages) == 2
    fake.assert_no_rejections()


async def test_quiet_period_alone_synchronises_an_unwatched_application(
    fake: FakeTelegram, alice: FakeUser
) -> None:
    async with running_app(fake, watch=False):
        for text in ("one", "two", "three"):
            await alice.send_text(text)
            assert alice.last.text == f"echo: {text}"
            assert [m.text for m in alice.new_messages] == [f"echo: {text}"]


async def test_press_finds_newest_matching_button(fake: FakeTelegram, alice: FakeUser) -> None:
    async with running_app(fake):
        await alice.send_command("start", "old")
        await alice.send_command("start", "new")
        await alice.press("Appr")  # substring, on the newest message
        assert [m.text for m in alice.messages] == ["args=old", "you chose approve:1"]
        with pytest.raises(AssertionError, match="no inline button"):
            await alice.press("Nonexistent")
        await alice.press("Approve", message=alice.messages[0])
        assert alice.messages[0].text == "you chose approve:1"


async def test_press_data_sends_forged_and_stale_callbacks(
    fake: FakeTelegram, alice: FakeUser
) -> None:
    seen: list[tuple[str, bool]] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append((update.callback_query.data, update.callback_query.message.is_accessible))
        await update.callback_query.answer("stale")

    async with running_app(fake, CallbackQueryHandler(record)):
        await alice.press_data("v1:forged")
        assert seen == [("v1:forged", False)]  # no message: Telegram sends an inaccessible one
        assert alice.callback_answers[-1][1] == "stale"


async def test_user_media_contact_location_and_edits_reach_the_bot(
    fake: FakeTelegram, alice: FakeUser
) -> None:
    seen: list[str] = []

    async def describe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        kind = next(
            k
            for k in ("photo", "voice", "sticker", "document", "location", "contact")
            if getattr(message, k)
        )
        extra = message.contact.user_id if kind == "contact" else ""
        seen.append(f"{kind}{extra}")
        await message.reply_text(f"got {kind}")

    async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(f"edited:{update.edited_message.text}")

    async def replied(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(f"reply to:{update.message.reply_to_message.text}")

    handlers = [
        MessageHandler(filters.UpdateType.EDITED_MESSAGE, edited),
        MessageHandler(filters.REPLY, replied),
        MessageHandler(filters.ALL & ~filters.TEXT, describe),
        MessageHandler(filters.TEXT, echo),
    ]
    async with running_app(fake, *handlers):
        await alice.send_photo(caption="pump")
        await alice.send_voice()
        await alice.send_sticker()
        await alice.send_document("manual.pdf")
        await alice.send_location(31.2, 121.5)
        await alice.share_contact()
        sent = await alice.send_text("typo")
        await alice.edit_text(sent["message_id"], "fixed")
        await alice.send_text("yes", reply_to=alice.last.message_id)
    assert seen == [
        "photo",
        "voice",
        "sticker",
        "document",
        "location",
        f"contact{alice.id}",
        "edited:fixed",
        "reply to:echo: typo",
    ]


async def test_tap_reply_button(fake: FakeTelegram, alice: FakeUser) -> None:
    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        buttons = [[KeyboardButton("Share phone", request_contact=True)], ["Cancel"]]
        await update.message.reply_text("Phone?", reply_markup=ReplyKeyboardMarkup(buttons))

    async with running_app(fake, CommandHandler("phone", ask), MessageHandler(filters.TEXT, echo)):
        await alice.send_command("phone")
        await alice.tap_reply_button("Cancel")
        assert alice.last.text == "echo: Cancel"
        with pytest.raises(AssertionError, match="share_contact"):
            await alice.tap_reply_button("Share phone")


async def test_slow_handler_is_waited_for_when_watched(fake: FakeTelegram, alice: FakeUser) -> None:
    async def slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await asyncio.sleep(0.4)  # e.g. database work before the first API call
        await update.message.reply_text("done")

    async with running_app(fake, MessageHandler(filters.TEXT, slow)):
        await alice.send_text("go")
        assert alice.last.text == "done"


async def test_wait_for_later_message(fake: FakeTelegram, alice: FakeUser) -> None:
    async def later(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        async def remind() -> None:
            await asyncio.sleep(0.3)
            await context.bot.send_message(update.effective_chat.id, "Reminder: SR-7 is due")

        context.application.create_task(remind())
        await update.message.reply_text("noted")

    async with running_app(fake, MessageHandler(filters.TEXT, later)):
        await alice.send_text("remind me")
        assert alice.last.text == "noted"
        reminder = await alice.wait_for("SR-7", timeout=3)
        assert reminder.text.startswith("Reminder") and alice.last is reminder
        with pytest.raises(AssertionError, match="matched"):
            await alice.wait_for(lambda m: "never" in m.content, timeout=0.1)


async def test_action_without_a_running_bot_times_out_clearly(
    fake: FakeTelegram, alice: FakeUser
) -> None:
    fake.action_timeout = 0.3
    with pytest.raises(AssertionError, match=r"bot did not pick up update \d+ within 0.3s"):
        await alice.send_text("anyone there?")


async def test_settle_waits_for_quiet(fake: FakeTelegram, alice: FakeUser) -> None:
    async with running_app(fake):
        await alice.send_text("one", wait=False)
        await alice.send_text("two", wait=False)
        await fake.settle()
        assert [m.text for m in alice.messages] == ["echo: one", "echo: two"]


async def test_unconfirmed_updates_are_redelivered_after_a_crash(
    bot: Bot, fake: FakeTelegram, alice: FakeUser
) -> None:
    await alice.send_text("lost in the crash", wait=False)
    fetched = await bot.get_updates(timeout=0)  # a bot process fetched it, then died
    assert len(fetched) == 1
    async with running_app(fake):
        await fake.settle()
        assert [m.text for m in alice.messages] == ["echo: lost in the crash"]


async def test_restarted_application_continues_without_duplicates(
    fake: FakeTelegram, alice: FakeUser
) -> None:
    async with running_app(fake):
        await alice.send_text("before restart")
    async with running_app(fake):
        await alice.send_text("after restart")
    async with running_app(fake):
        await alice.send_text("third run")
    assert [m.text for m in alice.messages] == [
        "echo: before restart",
        "echo: after restart",
        "echo: third run",
    ]
    fake.assert_no_rejections()
    assert fake.unknown_params == []


# --- webhook delivery through a load balancer ------------------------------------------


@contextlib.asynccontextmanager
async def webhook_backend(
    status: int = 200, answer_when: dict[int, asyncio.Event] | None = None
) -> AsyncIterator[tuple[str, list[tuple[int, str]]]]:
    """A bare HTTP endpoint standing for one bot process: records (update id, secret) and answers
    `status`; with `answer_when`, only once the update's event is set (a process busy with it)."""
    from aiohttp import web

    received: list[tuple[int, str]] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((body["update_id"], request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")))
        if answer_when is not None:
            await answer_when.setdefault(body["update_id"], asyncio.Event()).wait()
        return web.Response(status=status)

    server = web.Application()
    server.router.add_post("/hook", receive)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received
    finally:
        await runner.cleanup()


async def _until_confirmed(fake: FakeTelegram, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while fake.updates.pending_count:
        assert time.monotonic() < deadline, "the balancer did not deliver every update"
        await asyncio.sleep(0.01)


async def test_a_load_balancer_spreads_updates_round_robin_and_can_deliver_one_to_both(
    bot: Bot, fake: FakeTelegram, alice: FakeUser
) -> None:
    async with webhook_backend() as (first_url, first), webhook_backend() as (second_url, second):
        await fake.balance([first_url, second_url])
        assert await bot.set_webhook("https://desk.example/hook", secret_token="s3cret")
        for text in ("a", "b", "c", "d"):
            await alice.send_text(text, wait=False)
        await _until_confirmed(fake)
        ids = alice.update_ids
        assert first == [(ids[0], "s3cret"), (ids[2], "s3cret")]
        assert second == [(ids[1], "s3cret"), (ids[3], "s3cret")]
        assert (await bot.get_webhook_info()).url == "https://desk.example/hook"  # the public address

        # A route naming both backends: the same update reaches both (a balancer's retry after a timeout).
        fake.balancer.route = lambda update: [0, 1] if update["update_id"] % 2 == 0 else [0]
        await alice.send_text("e", wait=False)
        await alice.send_text("f", wait=False)
        await _until_confirmed(fake)
        both = next(i for i in ids[4:] if i % 2 == 0)
        single = next(i for i in ids[4:] if i % 2 == 1)
        assert [u for u, _ in first[2:]] == ids[4:] and [u for u, _ in second[2:]] == [both]
        assert fake.balancer.received[both] == [0, 1] and fake.balancer.received[single] == [0]


async def test_a_failing_backend_leaves_its_update_to_the_next_one(
    bot: Bot, fake: FakeTelegram, alice: FakeUser
) -> None:
    async with webhook_backend(status=503) as (down_url, down), webhook_backend() as (up_url, up):
        await fake.balance([down_url, up_url])
        await bot.set_webhook("https://desk.example/hook")
        await alice.send_text("first try fails", wait=False)
        await _until_confirmed(fake)
        update_id = alice.update_ids[-1]
        assert down == [(update_id, "")] and up == [(update_id, "")]  # retried on the other backend
        assert fake.balancer.received[update_id] == [1]
        assert "503" in (await bot.get_webhook_info()).last_error_message


async def test_without_a_balancer_the_webhook_url_itself_gets_every_update(
    bot: Bot, fake: FakeTelegram, alice: FakeUser
) -> None:
    async with webhook_backend() as (url, received):
        await bot.set_webhook(url, secret_token="s3cret")
        await alice.send_text("one", wait=False)
        await alice.send_text("two", wait=False)
        await _until_confirmed(fake)
        assert received == [(alice.update_ids[0], "s3cret"), (alice.update_ids[1], "s3cret")]
        assert fake.balancer is None


async def test_webhook_delivery_keeps_each_chat_in_order_and_serves_chats_at_once(
    bot: Bot, fake: FakeTelegram, alice: FakeUser
) -> None:
    """As Telegram: a chat's next update only after the previous one was answered; other chats
    meanwhile, up to max_connections requests open."""
    bob, carol = fake.add_user(user_id=2002, first_name="Bob"), fake.add_user(user_id=2003, first_name="Carol")
    answer: dict[int, asyncio.Event] = {}

    def let_answer(update_id: int) -> None:
        answer.setdefault(update_id, asyncio.Event()).set()

    async with webhook_backend(answer_when=answer) as (url, received):
        try:
            assert await bot.set_webhook(url, max_connections=2)
            assert (await bot.get_webhook_info()).max_connections == 2
            await alice.send_text("a1", wait=False)
            await alice.send_text("a2", wait=False)
            await bob.send_text("b1", wait=False)
            await carol.send_text("c1", wait=False)
            a1, a2 = alice.update_ids
            b1, c1 = bob.update_ids[0], carol.update_ids[0]

            async def posted_are(expected: list[int]) -> None:
                deadline = time.monotonic() + 5
                while [update_id for update_id, _ in received] != expected:
                    assert time.monotonic() < deadline, f"posted {received}, expected {expected}"
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.1)  # and nothing more comes meanwhile
                assert [update_id for update_id, _ in received] == expected

            await posted_are([a1, b1])  # two connections: Alice's first and Bob's; her second waits for her first
            let_answer(b1)
            await posted_are([a1, b1, c1])  # Bob's connection freed: Carol's goes, Alice's second still waits
            let_answer(a1)
            await posted_are([a1, b1, c1, a2])
            let_answer(c1)
            let_answer(a2)
            await _until_confirmed(fake)
        finally:
            for update_id in alice.update_ids + bob.update_ids + carol.update_ids:  # never leave a request hanging
                let_answer(update_id)
            await bot.delete_webhook()


async def test_a_stalled_call_takes_effect_only_when_released(bot: Bot, fake: FakeTelegram, alice: FakeUser) -> None:
    stall = fake.stall_next("sendMessage", chat_id=alice.id)
    sending = asyncio.create_task(bot.send_message(alice.id, "slow"))
    await asyncio.wait_for(stall.reached.wait(), 5)
    await asyncio.sleep(0.05)
    assert alice.messages == [] and not sending.done()
    stall.release()
    assert (await sending).text == "slow"
    assert [m.text for m in alice.messages] == ["slow"]
    await bot.send_message(alice.id, "next one is not held")
    assert len(alice.messages) == 2
