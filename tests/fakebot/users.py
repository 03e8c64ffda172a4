"""The human side of a private chat: what a test does with its thumbs.

Every action queues the update Telegram would produce and, unless `wait=False`,
returns only after the bot has handled it (see FakeTelegram.wait_handled), so a
test can act and then assert on `user.last` / `user.new_messages` directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .objects import command_entities, compact, private_chat_object, user_object
from .records import SentMessage

if TYPE_CHECKING:
    from .server import FakeTelegram

Matcher = Callable[[SentMessage], bool] | str


class FakeUser:
    """A Telegram user in a private chat with the bot; the chat's id is the user's id."""

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = "en",
        username: str | None = None,
        last_name: str | None = None,
        started: bool = True,
    ) -> None:
        self._fake = fake
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.blocked = False
        # Has opened the bot: until then Telegram knows no chat with them (see methods.Call.private_chat).
        self.started = started
        self.messages: list[SentMessage] = []
        self.callback_answers: list[tuple[str, str | None, bool]] = []
        self.chat_actions: list[str] = []
        self.reply_keyboard: list[list[dict]] | None = None
        self.reply_markup: dict | None = (
            None  # the latest non-inline markup (keyboard, remove, force_reply)
        )
        self.update_ids: list[int] = []
        self.chat_messages: dict[int, dict] = {}  # every message in the chat, both sides, by id
        self._next_message_id = 1
        self._action_mark = 0

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    # --- identity -------------------------------------------------------------

    @property
    def user_object(self) -> dict:
        return user_object(
            self.id,
            self.first_name,
            last_name=self.last_name,
            username=self.username,
            language_code=self.language_code,
        )

    @property
    def chat_object(self) -> dict:
        return private_chat_object(self.user_object)

    @property
    def chat_instance(self) -> str:
        """Stable per chat, as Telegram's is."""
        return str(-(self.id * 7919 + 104729))

    def next_message_id(self) -> int:
        """Both sides of a private chat share one message id sequence."""
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    # --- what the bot sent ----------------------------------------------------

    @property
    def last(self) -> SentMessage | None:
        """The newest bot message still visible in the chat."""
        visible = [m for m in self.messages if not m.deleted]
        return visible[-1] if visible else None

    @property
    def new_messages(self) -> list[SentMessage]:
        """Bot messages sent or edited since the latest action started (deleted ones left out)."""
        return [m for m in self.messages if m.seq > self._action_mark and not m.deleted]

    def message(self, message_id: int) -> SentMessage:
        for sent in self.messages:
            if sent.message_id == message_id:
                return sent
        raise AssertionError(f"the bot sent no message {message_id} to {self!r}")

    async def wait_for(self, match: Matcher, timeout: float = 5.0) -> SentMessage:
        """Wait until a message sent or edited since the latest action matches.

        `match` is a substring of the visible text/caption or a predicate. Use it
        for output that comes later than the action (scheduled reminders, jobs).
        """
        predicate = match if callable(match) else (lambda m: match in m.content)
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.new_messages if predicate(m)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                seen = [m.content for m in self.new_messages]
                raise AssertionError(
                    f"no message to {self!r} matched {match!r} within {timeout:g}s; new: {seen!r}"
                )
            await asyncio.sleep(0.01)

    # --- actions --------------------------------------------------------------

    async def _act(self, kind: str, payload: dict, wait: bool) -> int | None:
        self._action_mark = self._fake.current_seq
        self.started = True  # writing, a command or a button press opens the chat
        update_id = self._fake.updates.push(kind, payload)
        if update_id is not None:
            self.update_ids.append(update_id)
            if wait:
                await self._fake.wait_handled(update_id)
        return update_id

    def _new_message(self, **content: Any) -> dict:
        message = {
            "message_id": self.next_message_id(),
            "from": self.user_object,
            "chat": self.chat_object,
            "date": self._fake.now(),
            **compact(**content),
        }
        self.chat_messages[message["message_id"]] = message
        return message

    async def _send_message(self, wait: bool, **content: Any) -> dict:
        message = self._new_message(**content)
        await self._act("message", dict(message), wait)  # a snapshot: later edits must not leak
        return message

    async def send_text(self, text: str, *, reply_to: int | None = None, wait: bool = True) -> dict:
        """A typed message; '/word ...' carries the bot_command entity a real client adds.

        reply_to=message_id answers that message (what a ForceReply prompt asks for).
        """
        replied = None
        if reply_to is not None:
            if reply_to not in self.chat_messages:
                raise AssertionError(f"{self!r} cannot reply to unknown message {reply_to}")
            replied = {
                k: v for k, v in self.chat_messages[reply_to].items() if k != "reply_to_message"
            }
        return await self._send_message(
            wait, text=text, entities=command_entities(text), reply_to_message=replied
        )

    async def send_command(
        self, command: str, args: str | None = None, *, wait: bool = True
    ) -> dict:
        text = f"/{command.lstrip('/')}" + (f" {args}" if args else "")
        return await self.send_text(text, wait=wait)

    async def send_photo(self, caption: str | None = None, *, wait: bool = True) -> str:
        """Returns the file_id of the largest size, which the bot may re-send."""
        sizes = self._fake.files.issue_photo()
        await self._send_message(wait, photo=sizes, caption=caption)
        return sizes[-1]["file_id"]

    async def send_voice(
        self, caption: str | None = None, duration: int = 3, *, wait: bool = True
    ) -> str:
        voice = self._fake.files.issue_voice(duration)
        await self._send_message(wait, voice=voice, caption=caption)
        return voice["file_id"]

    async def send_sticker(self, emoji: str = "\U0001f44d", *, wait: bool = True) -> str:
        sticker = self._fake.files.issue_sticker(emoji)
        await self._send_message(wait, sticker=sticker)
        return sticker["file_id"]

    async def send_document(
        self,
        file_name: str = "a.pdf",
        caption: str | None = None,
        data: bytes | None = None,
        *,
        wait: bool = True,
    ) -> str:
        document = self._fake.files.issue_document(file_name, data)
        await self._send_message(wait, document=document, caption=caption)
        return document["file_id"]

    async def send_location(self, latitude: float, longitude: float, *, wait: bool = True) -> dict:
        location = {"latitude": latitude, "longitude": longitude}
        return await self._send_message(wait, location=location)

    async def share_contact(
        self,
        phone: str = "+8613800138000",
        own: bool = True,
        first_name: str | None = None,
        *,
        wait: bool = True,
    ) -> dict:
        """own=True is what a request_contact button sends: the contact carries our user_id."""
        contact = compact(
            phone_number=phone,
            first_name=first_name or (self.first_name if own else "Contact"),
            last_name=self.last_name if own else None,
            user_id=self.id if own else None,
        )
        return await self._send_message(wait, contact=contact)

    async def edit_text(self, message_id: int, text: str, *, wait: bool = True) -> dict:
        """Edit one of our own earlier text messages: the bot gets an edited_message update."""
        original = self.chat_messages.get(message_id)
        if original is None or original["from"]["id"] != self.id or "text" not in original:
            raise AssertionError(f"{self!r} has no text message {message_id} to edit")
        edited = {k: v for k, v in original.items() if k != "entities"}
        edited.update(
            text=text, edit_date=self._fake.now(), **compact(entities=command_entities(text))
        )
        self.chat_messages[message_id] = edited
        await self._act("edited_message", dict(edited), wait)
        return edited

    async def tap_reply_button(self, text: str, *, wait: bool = True) -> dict:
        """Tap a button of the current reply keyboard: its text is sent as a message."""
        button = _pick(
            [b for row in self.reply_keyboard or [] for b in row],
            text,
            what="reply keyboard button",
        )
        for special, use in (
            ("request_contact", "share_contact"),
            ("request_location", "send_location"),
        ):
            if button.get(special):
                raise AssertionError(
                    f"button {button['text']!r} is a {special} button: use {use}()"
                )
        return await self.send_text(button["text"], wait=wait)

    # --- inline buttons ---------------------------------------------------------

    async def press(
        self, button_text: str, message: SentMessage | int | None = None, *, wait: bool = True
    ) -> str:
        """Press an inline button found by its text; returns the callback query id."""
        candidates = [self._resolve(message)] if message is not None else self._keyboards()
        if candidates and candidates[0].deleted:
            raise AssertionError(
                f"message {candidates[0].message_id} was deleted: nothing to press"
            )
        for sent in candidates:
            button = _pick(sent.buttons, button_text, what="inline button", missing_ok=True)
            if button is not None:
                break
        else:
            shown = [m.button_texts for m in candidates][:3]  # the newest few
            raise AssertionError(
                f"no inline button {button_text!r} for {self!r}; buttons: {shown!r}"
            )
        if "callback_data" not in button:
            raise AssertionError(f"button {button['text']!r} sends no callback (it is {button!r})")
        return await self._callback(sent.message, button["callback_data"], wait)

    async def press_data(
        self, data: str, message: SentMessage | int | None = None, *, wait: bool = True
    ) -> str:
        """Send arbitrary callback data, as a forged or stale button would."""
        if message is None:
            keyboards = self._keyboards()
            sent = keyboards[0] if keyboards else None
        else:
            sent = self._resolve(message)
        if sent is None or sent.deleted:
            attached = {
                "chat": self.chat_object,
                "message_id": getattr(sent, "message_id", 0),
                "date": 0,
            }
        else:
            attached = sent.message
        return await self._callback(attached, data, wait)

    async def _callback(self, message: dict, data: str, wait: bool) -> str:
        query_id = self._fake.new_callback_query(self)
        payload = {
            "id": query_id,
            "from": self.user_object,
            "message": dict(message),  # a snapshot of what the user saw when pressing
            "chat_instance": self.chat_instance,
            "data": data,
        }
        await self._act("callback_query", payload, wait)
        return query_id

    def _keyboards(self) -> list[SentMessage]:
        """Visible bot messages with inline buttons, newest first."""
        return [m for m in reversed(self.messages) if not m.deleted and m.buttons]

    def _resolve(self, message: SentMessage | int) -> SentMessage:
        return self.message(message) if isinstance(message, int) else message


def _pick(buttons: list[dict], text: str, *, what: str, missing_ok: bool = False) -> dict | None:
    """Exact text match first, then a unique substring match."""
    exact = [b for b in buttons if b.get("text") == text]
    if exact:
        return exact[0]
    partial = [b for b in buttons if text in b.get("text", "")]
    if len(partial) > 1:
        raise AssertionError(f"{text!r} matches several {what}s: {[b['text'] for b in partial]!r}")
    if partial:
        return partial[0]
    if missing_ok:
        return None
    raise AssertionError(f"no {what} {text!r}; available: {[b.get('text') for b in buttons]!r}")
