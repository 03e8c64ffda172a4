"""The Bot API methods the fake implements, one small function each.

Each function receives a `Call` (the typed parameters plus the fake's state),
enforces Telegram's rules through `validation`, and returns the `result` value
Telegram would return. Raising ApiError produces Telegram's error reply.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .objects import FileRecord, compact
from .params import UploadedFile
from .polling import DEFAULT_UPDATE_TYPES
from .records import SentMessage
from .validation import (
    CHAT_ACTIONS,
    MAX_DOWNLOAD,
    ApiError,
    FormattedText,
    bad_request,
    check_callback_answer_text,
    check_caption,
    check_commands,
    check_language_code,
    check_location,
    check_message_text,
    check_reply_markup,
)
from .webhook import DEFAULT_MAX_CONNECTIONS, WEBHOOK_ACTIVE, WebhookTarget, check_webhook_params

if TYPE_CHECKING:
    from .server import FakeTelegram
    from .users import FakeUser

BLOCKED = ApiError(403, "Forbidden: bot was blocked by the user")
WRONG_FILE = "wrong file identifier/HTTP URL specified"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

Handler = Callable[["Call"], Awaitable[Any]]
METHODS: dict[str, tuple[str, Handler]] = {}  # lower-case name -> (canonical name, handler)
# Calls that put or change a message in a chat: what the 30/s limit counts.
SEND_METHODS = {
    "sendMessage",
    "sendPhoto",
    "sendMediaGroup",
    "sendLocation",
    "sendDocument",
    "sendVoice",
    "copyMessage",
    "editMessageText",
    "editMessageReplyMarkup",
}
# What inject_flood(method=None) may hit: everything that acts on a chat.
FLOODABLE = SEND_METHODS | {"deleteMessage", "sendChatAction", "answerCallbackQuery"}


def api(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = (name, handler)
        return handler

    return register


@dataclass
class Call:
    """One incoming method call: typed parameters and access to the fake's state."""

    fake: FakeTelegram
    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    request: web.Request | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def require(self, name: str) -> Any:
        if self.params.get(name) in (None, ""):
            raise bad_request(f"{name} is required")
        return self.params[name]

    def chat(self, name: str = "chat_id") -> FakeUser:
        """The private chat named by the parameter `name`."""
        return self.private_chat(self.require(name))

    def private_chat(self, chat_id: Any) -> FakeUser:
        """Telegram knows a private chat once its user has opened the bot (add_user's `started`):
        a user who never wrote to it, or one the fake does not know at all, is "chat not found"."""
        user = self.fake.users.get(chat_id) if isinstance(chat_id, int) else None
        if user is None or not user.started:
            raise bad_request("chat not found")
        return user

    def target(self) -> FakeUser:
        """The chat the bot wants to write to; a user who blocked the bot refuses it."""
        user = self.chat()
        if user.blocked:
            raise BLOCKED
        return user


# --- publishing messages ---------------------------------------------------------


def _reply_to(call: Call, chat: FakeUser) -> dict | None:
    reply = call.get("reply_parameters") or {}
    message_id = reply.get("message_id") or call.get("reply_to_message_id")
    if not message_id:
        return None
    original = chat.chat_messages.get(message_id)
    if original is None:
        if reply.get("allow_sending_without_reply") or call.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return {k: v for k, v in original.items() if k != "reply_to_message"}


def _publish(
    call: Call,
    chat: FakeUser,
    content: dict,
    markup: dict | None = None,
    **fields: Any,
) -> SentMessage:
    """Create a bot message in the chat, record it for the test side, return its record."""
    fake = call.fake
    reply = _reply_to(call, chat)  # may refuse: check before taking a message id
    message = {
        "message_id": chat.next_message_id(),
        "from": fake.bot_user,
        "chat": chat.chat_object,
        "date": fake.now(),
        **compact(**content),
    }
    if reply:
        message["reply_to_message"] = reply
    inline = markup if markup and "inline_keyboard" in markup else None
    if inline:
        message["reply_markup"] = inline
    _apply_keyboard(chat, markup)
    sent = SentMessage(
        message_id=message["message_id"],
        chat_id=chat.id,
        method=call.method,
        date=message["date"],
        reply_markup=inline,
        message=message,
        **fields,
    )
    chat.chat_messages[sent.message_id] = message
    chat.messages.append(sent)
    sent.seq = fake.next_seq()
    return sent


def _apply_keyboard(chat: FakeUser, markup: dict | None) -> None:
    """Reply keyboards live on the chat until replaced or removed; ForceReply keeps them."""
    if not markup or "inline_keyboard" in markup:
        return
    chat.reply_markup = markup
    if "keyboard" in markup:
        chat.reply_keyboard = markup["keyboard"]
    elif markup.get("remove_keyboard"):
        chat.reply_keyboard = None


def _text_fields(formatted: FormattedText, parse_mode: str | None) -> dict:
    return {
        "text": formatted.text,
        "raw_text": formatted.raw,
        "parse_mode": parse_mode,
        "entities": formatted.entities,
    }


def _caption(call: Call) -> tuple[dict, dict]:
    """(message JSON fields, SentMessage fields) for an optional caption."""
    formatted = check_caption(
        call.get("caption"), call.get("parse_mode"), call.get("caption_entities")
    )
    if formatted is None:
        return {}, {}
    content = {"caption": formatted.text, "caption_entities": formatted.entities or None}
    return content, {
        "caption": formatted.text,
        "raw_caption": formatted.raw,
        "parse_mode": call.get("parse_mode"),
    }


# --- files -----------------------------------------------------------------------


def _media_source(call: Call, value: Any, kind: str) -> UploadedFile | FileRecord | str:
    """An upload, a known file of the right kind, or an HTTP URL."""
    if isinstance(value, str) and value.startswith("attach://"):
        value = call.files.get(value[len("attach://") :])
        if value is None:
            raise bad_request(WRONG_FILE)
    if isinstance(value, UploadedFile):
        return value
    if not value:
        raise bad_request(f"there is no {kind} in the request")
    if not isinstance(value, str):
        raise bad_request(WRONG_FILE)
    if value.startswith(("http://", "https://")):
        return value
    record = call.fake.files.get(value)
    if record is None:
        raise bad_request(WRONG_FILE)
    if record.kind != kind:
        raise bad_request(
            f"can't use file of type {record.kind.capitalize()} as {kind.capitalize()}"
        )
    return record


def _photo_sizes(call: Call, value: Any) -> list[dict]:
    source = _media_source(call, value, "photo")
    if isinstance(source, FileRecord):
        return call.fake.files.photo_set(source.file_id) or []
    data = source.data if isinstance(source, UploadedFile) else None
    return call.fake.files.issue_photo(data)


def _file_object(call: Call, value: Any, kind: str) -> dict:
    """The Document/Voice/Video/Audio object for a send of that kind."""
    files = call.fake.files
    source = _media_source(call, value, kind)
    if isinstance(source, FileRecord):
        return files.describe(source)
    if isinstance(source, UploadedFile):
        name, data, mime = source.filename or "file", source.data, source.content_type
    else:  # an HTTP URL: Telegram downloads it; the fake invents the content
        name, data, mime = source.rsplit("/", 1)[-1] or "file", None, None
    if kind == "voice":
        return files.issue_voice(data=data)
    record = files.issue(kind, data, file_name=name, mime_type=mime)
    return files.describe(record)


# --- methods: bot and updates ------------------------------------------------------


@api("getMe")
async def get_me(call: Call) -> dict:
    return {
        **call.fake.bot_user,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@api("getUpdates")
async def get_updates(call: Call) -> list[dict]:
    if call.fake.webhook is not None:
        raise WEBHOOK_ACTIVE

    def abandoned() -> bool:
        transport = call.request.transport if call.request else None
        return transport is None or transport.is_closing()

    return await call.fake.updates.poll(
        offset=call.get("offset"),
        limit=call.get("limit"),
        timeout=call.get("timeout"),
        allowed=call.get("allowed_updates"),
        abandoned=abandoned,
    )


@api("setWebhook")
async def set_webhook(call: Call) -> bool:
    url = call.require("url")
    secret = call.get("secret_token")
    check_webhook_params(url, secret)
    if call.get("allowed_updates") is not None:
        call.fake.updates.allowed = frozenset(call.get("allowed_updates")) or DEFAULT_UPDATE_TYPES
    if call.get("drop_pending_updates"):
        call.fake.updates.drop_pending()
    connections = min(max(int(call.get("max_connections") or DEFAULT_MAX_CONNECTIONS), 1), 100)
    await call.fake.set_webhook(WebhookTarget(url, secret, connections))
    return True


@api("deleteWebhook")
async def delete_webhook(call: Call) -> bool:
    await call.fake.set_webhook(None)
    if call.get("drop_pending_updates"):
        call.fake.updates.drop_pending()
    return True


@api("getWebhookInfo")
async def get_webhook_info(call: Call) -> dict:
    target = call.fake.webhook
    info = {
        "url": target.url if target else "",
        "has_custom_certificate": False,
        "pending_update_count": call.fake.updates.pending_count,
    }
    if target:
        info["max_connections"] = target.max_connections
    if target and target.last_error_message:
        info.update(last_error_date=target.last_error_date, last_error_message=target.last_error_message)
    return info


def _commands_key(call: Call) -> tuple[str, str]:
    """Which menu a *MyCommands call is about: its scope's chat must exist, its language be valid."""
    scope = call.get("scope") or {"type": "default"}
    if isinstance(scope, dict) and "chat_id" in scope:  # chat, chat_administrators, chat_member
        call.private_chat(scope["chat_id"])
    check_language_code(call.get("language_code"))
    return json.dumps(scope, sort_keys=True), call.get("language_code") or ""


@api("setMyCommands")
async def set_my_commands(call: Call) -> bool:
    call.fake.commands[_commands_key(call)] = check_commands(call.require("commands"))
    return True


@api("getMyCommands")
async def get_my_commands(call: Call) -> list[dict]:
    return call.fake.commands.get(_commands_key(call), [])


@api("deleteMyCommands")
async def delete_my_commands(call: Call) -> bool:
    call.fake.commands.pop(_commands_key(call), None)
    return True


@api("setChatMenuButton")
async def set_chat_menu_button(call: Call) -> bool:
    chat_id = call.chat().id if call.get("chat_id") is not None else None
    button = call.get("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
        raise bad_request("can't parse menu button JSON object")
    call.fake.menu_buttons[chat_id] = button
    return True


@api("close")
async def close(call: Call) -> bool:
    return True


@api("logOut")
async def log_out(call: Call) -> bool:
    return True


@api("getChat")
async def get_chat(call: Call) -> dict:
    return {
        **call.chat().chat_object,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": True,
            "limited_gifts": True,
            "unique_gifts": True,
            "premium_subscription": True,
            "gifts_from_channels": True,
        },
    }


@api("getFile")
async def get_file(call: Call) -> dict:
    record = call.fake.files.get(call.require("file_id"))
    if record is None:
        raise bad_request("invalid file_id")
    if record.file_size > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return record.file_object()


# --- methods: sending ---------------------------------------------------------------


@api("sendMessage")
async def send_message(call: Call) -> dict:
    chat = call.target()
    parse_mode = call.get("parse_mode")
    formatted = check_message_text(call.get("text"), parse_mode, call.get("entities"))
    markup = check_reply_markup(call.get("reply_markup"))
    content = {"text": formatted.text, "entities": formatted.entities or None}
    return _publish(call, chat, content, markup, **_text_fields(formatted, parse_mode)).message


@api("sendPhoto")
async def send_photo(call: Call) -> dict:
    chat = call.target()
    sizes = _photo_sizes(call, call.get("photo"))
    caption, fields = _caption(call)
    markup = check_reply_markup(call.get("reply_markup"))
    content = {"photo": sizes, **caption, "has_media_spoiler": call.get("has_spoiler") or None}
    photo_ids = [size["file_id"] for size in sizes]
    return _publish(call, chat, content, markup, photo_file_ids=photo_ids, **fields).message


@api("sendDocument")
async def send_document(call: Call) -> dict:
    chat = call.target()
    document = _file_object(call, call.get("document"), "document")
    caption, fields = _caption(call)
    markup = check_reply_markup(call.get("reply_markup"))
    content = {"document": document, **caption}
    return _publish(call, chat, content, markup, document=document, **fields).message


@api("sendVoice")
async def send_voice(call: Call) -> dict:
    chat = call.target()
    voice = _file_object(call, call.get("voice"), "voice")
    if call.get("duration"):
        voice["duration"] = call.get("duration")
    caption, fields = _caption(call)
    markup = check_reply_markup(call.get("reply_markup"))
    return _publish(call, chat, {"voice": voice, **caption}, markup, voice=voice, **fields).message


@api("sendLocation")
async def send_location(call: Call) -> dict:
    chat = call.target()
    latitude, longitude = check_location(call.require("latitude"), call.require("longitude"))
    location = {"latitude": latitude, "longitude": longitude}
    markup = check_reply_markup(call.get("reply_markup"))
    return _publish(call, chat, {"location": location}, markup, location=location).message


@api("sendChatAction")
async def send_chat_action(call: Call) -> bool:
    chat = call.target()
    action = call.require("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.chat_actions.append(action)
    return True


@api("sendMediaGroup")
async def send_media_group(call: Call) -> list[dict]:
    chat = call.target()
    items = call.require("media")
    if not isinstance(items, list) or not 2 <= len(items) <= 10:
        raise bad_request("wrong number of media in the album: must include 2-10 items")
    kinds = {item.get("type") for item in items if isinstance(item, dict)}
    if len(kinds) > 1 and kinds & {"document", "audio"}:
        raise bad_request("document can't be mixed with other media types")
    prepared = [_album_item(call, item) for item in items]  # validate all before sending any
    group_id = str(secrets.randbelow(10**18) + 10**17)
    return [
        _publish(
            call, chat, {**content, "media_group_id": group_id}, media_group_id=group_id, **fields
        ).message
        for content, fields in prepared
    ]


def _album_item(call: Call, item: Any) -> tuple[dict, dict]:
    if not isinstance(item, dict) or item.get("type") not in (
        "photo",
        "video",
        "document",
        "audio",
    ):
        raise bad_request("can't parse InputMedia JSON object")
    kind = item["type"]
    caption = check_caption(
        item.get("caption"), item.get("parse_mode"), item.get("caption_entities")
    )
    content: dict = {}
    fields: dict = {}
    if caption:
        content = {"caption": caption.text, "caption_entities": caption.entities or None}
        fields = {
            "caption": caption.text,
            "raw_caption": caption.raw,
            "parse_mode": item.get("parse_mode"),
        }
    if kind == "photo":
        sizes = _photo_sizes(call, item.get("media"))
        content["photo"] = sizes
        fields["photo_file_ids"] = [size["file_id"] for size in sizes]
    else:
        media = _file_object(call, item.get("media"), kind)
        content[kind] = media
        if kind == "document":
            fields["document"] = media
    return content, fields


_COPYABLE = (
    "text",
    "entities",
    "photo",
    "caption",
    "caption_entities",
    "document",
    "voice",
    "sticker",
    "location",
    "contact",
    "video",
    "audio",
)


@api("copyMessage")
async def copy_message(call: Call) -> dict:
    source_chat = call.chat("from_chat_id")
    original = source_chat.chat_messages.get(call.require("message_id"))
    if original is None:
        raise bad_request("message to copy not found")
    chat = call.target()
    content = {key: original[key] for key in _COPYABLE if key in original}
    fields: dict = {}
    if "caption" in call.params:
        content.pop("caption", None)
        content.pop("caption_entities", None)
        caption, fields = _caption(call)
        content.update(caption)
    markup = check_reply_markup(call.get("reply_markup"))
    sent = _publish(call, chat, content, markup, **{**_copied_fields(content), **fields})
    return {"message_id": sent.message_id}


def _copied_fields(content: dict) -> dict:
    return compact(
        text=content.get("text"),
        raw_text=content.get("text"),
        caption=content.get("caption"),
        photo_file_ids=[p["file_id"] for p in content.get("photo", [])] or None,
        document=content.get("document"),
        voice=content.get("voice"),
        location=content.get("location"),
    )


# --- methods: changing messages ---------------------------------------------------


def _bot_message_to_edit(call: Call) -> tuple[FakeUser, SentMessage]:
    if call.get("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = call.target()
    message_id = call.require("message_id")
    for sent in chat.messages:
        if sent.message_id == message_id and not sent.deleted:
            return chat, sent
    if message_id in chat.chat_messages:
        raise bad_request("message can't be edited")
    raise bad_request("message to edit not found")


def _inline_markup(call: Call) -> dict | None:
    markup = check_reply_markup(call.get("reply_markup"))
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    if markup is not None and not markup["inline_keyboard"]:
        return None  # an empty keyboard removes the buttons
    return markup


def _record_edit(call: Call, chat: FakeUser, sent: SentMessage, markup: dict | None) -> dict:
    sent.reply_markup = markup
    sent.edits += 1
    sent.message["edit_date"] = call.fake.now()
    if markup:
        sent.message["reply_markup"] = markup
    else:
        sent.message.pop("reply_markup", None)
    chat.chat_messages[sent.message_id] = sent.message
    sent.seq = call.fake.next_seq()
    return sent.message


@api("editMessageText")
async def edit_message_text(call: Call) -> dict:
    chat, sent = _bot_message_to_edit(call)
    if sent.text is None:
        raise bad_request("there is no text in the message to edit")
    parse_mode = call.get("parse_mode")
    formatted = check_message_text(call.get("text"), parse_mode, call.get("entities"))
    markup = _inline_markup(call)
    if (formatted.text, formatted.entities, markup) == (
        sent.text,
        sent.entities,
        sent.reply_markup,
    ):
        raise bad_request(NOT_MODIFIED)
    for name, value in _text_fields(formatted, parse_mode).items():
        setattr(sent, name, value)
    sent.message["text"] = formatted.text
    sent.message.pop("entities", None)
    if formatted.entities:
        sent.message["entities"] = formatted.entities
    return _record_edit(call, chat, sent, markup)


@api("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> dict:
    chat, sent = _bot_message_to_edit(call)
    markup = _inline_markup(call)
    if markup == sent.reply_markup:
        raise bad_request(NOT_MODIFIED)
    return _record_edit(call, chat, sent, markup)


@api("deleteMessage")
async def delete_message(call: Call) -> bool:
    chat = call.chat()
    message_id = call.require("message_id")
    if chat.chat_messages.pop(message_id, None) is None:
        raise bad_request("message to delete not found")
    for sent in chat.messages:
        if sent.message_id == message_id:
            sent.deleted = True
            sent.seq = call.fake.next_seq()
    return True


@api("answerCallbackQuery")
async def answer_callback_query(call: Call) -> bool:
    query_id = str(call.require("callback_query_id"))
    query = call.fake.callback_queries.get(query_id)
    if query is None or query.answered or query.expired(call.fake.callback_query_ttl):
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = call.get("text")
    check_callback_answer_text(text)
    query.answered = True
    user = call.fake.users[query.user_id]
    user.callback_answers.append((query_id, text, bool(call.get("show_alert"))))
    return True
