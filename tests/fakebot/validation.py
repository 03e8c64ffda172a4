"""Telegram's rules for what a bot may send, and the errors it answers with.

Every check raises `ApiError` carrying the HTTP status and the description
worded as Telegram words it, so the bot under test sees the same failures it
would see in production.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .htmltext import HtmlParseError, parse_html, utf16_len

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
MAX_BUTTONS = 100
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile: bots download files of up to 20 MB

INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# What a KeyboardButton may request, in the order Telegram's server looks for them: it keeps
# the first one present and ignores the others (the reference allows one; nothing refuses two).
KEYBOARD_REQUESTS = (
    ("request_contact", "request_phone_number"),
    ("request_location",),
    ("request_poll",),
    ("web_app",),
    ("request_users", "request_user"),
    ("request_chat",),
    ("request_managed_bot",),
)
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE_CODE_RE = re.compile(r"[a-z]{2}")  # ISO 639-1, as TDLib's validate_bot_language_code
_URL_RE = re.compile(r"^(https?|tg)://[^\s]+$", re.IGNORECASE)


@dataclass
class ApiError(Exception):
    """A Bot API failure: becomes {"ok": false, "error_code", "description", "parameters"}."""

    error_code: int
    description: str
    parameters: dict | None = None

    def __str__(self) -> str:
        return f"{self.error_code} {self.description}"


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


# --- text and captions -------------------------------------------------------


@dataclass
class FormattedText:
    """What the recipient sees: the visible text and its entities, plus the raw input."""

    text: str
    raw: str
    entities: list[dict] = field(default_factory=list)


def format_text(raw: str, parse_mode: str | None, entities: list | None) -> FormattedText:
    """Apply parse_mode the way Telegram does; explicit entities win over parse_mode."""
    if entities:
        return FormattedText(raw, raw, list(entities))
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            text, found = parse_html(raw)
        except HtmlParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        return FormattedText(text, raw, found)
    if mode in ("", "markdown", "markdownv2"):
        return FormattedText(raw, raw)  # Markdown is accepted but not interpreted
    raise bad_request(f"unsupported parse_mode {parse_mode}")


def check_message_text(raw: Any, parse_mode: str | None, entities: list | None) -> FormattedText:
    if raw is None or not str(raw).strip():
        raise bad_request("message text is empty")
    formatted = format_text(str(raw), parse_mode, entities)
    if not formatted.text.strip():
        raise bad_request("message text is empty")
    if utf16_len(formatted.text) > MAX_TEXT:
        raise bad_request("message is too long")
    return formatted


def check_caption(raw: Any, parse_mode: str | None, entities: list | None) -> FormattedText | None:
    if raw is None or raw == "":
        return None
    formatted = format_text(str(raw), parse_mode, entities)
    if utf16_len(formatted.text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return formatted


# --- keyboards -------------------------------------------------------------------


def check_reply_markup(markup: Any) -> dict | None:
    """Validate any of the four markup kinds and return it normalised (or None)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return {"inline_keyboard": check_inline_keyboard(markup["inline_keyboard"])}
    if "keyboard" in markup:
        return {**markup, "keyboard": check_reply_keyboard(markup["keyboard"])}
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return dict(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")


def _rows(rows: Any, field_name: str) -> list[list]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'field "{field_name}" must be an Array of Array')
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    return rows


def check_inline_keyboard(rows: Any) -> list[list[dict]]:
    for row in _rows(rows, "inline_keyboard"):
        for button in row:
            check_inline_button(button)
    return rows


def check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not str(button.get("text", "")).strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in INLINE_ACTIONS if name in button]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request("BUTTON_TYPE_INVALID")
    if "callback_data" in button:
        size = len(str(button["callback_data"]).encode("utf-8"))
        if not 1 <= size <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not _URL_RE.match(str(button["url"])):
        raise bad_request(
            f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL"
        )


def check_reply_keyboard(rows: Any) -> list[list[dict]]:
    """Reply keyboards may list plain strings; store every button as a dict."""
    normalised = []
    for row in _rows(rows, "keyboard"):
        buttons = [b if isinstance(b, dict) else {"text": str(b)} for b in row]
        if any(not str(b.get("text", "")).strip() for b in buttons):
            raise bad_request("BUTTON_TEXT_INVALID")
        normalised.append([_first_request_only(b) for b in buttons])
    return normalised


def _first_request_only(button: dict) -> dict:
    """The button as the user's app gets it: one request at most (see KEYBOARD_REQUESTS)."""
    for position, names in enumerate(KEYBOARD_REQUESTS):
        # request_contact: false asks for nothing; request_poll: {} asks for a poll of any kind
        if any(button.get(name) not in (None, False) for name in names):
            ignored = {name for later in KEYBOARD_REQUESTS[position + 1 :] for name in later}
            return {key: value for key, value in button.items() if key not in ignored}
    return button


# --- other rules ----------------------------------------------------------------


def check_commands(commands: Any) -> list[dict]:
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_RE.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return commands


def check_language_code(code: Any) -> None:
    """Command menus are kept per language: empty (everybody else) or a two-letter code."""
    if code not in (None, "") and not _LANGUAGE_CODE_RE.fullmatch(str(code)):
        raise bad_request("invalid language code specified")


def check_location(latitude: Any, longitude: Any) -> tuple[float, float]:
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        raise bad_request("wrong location specified") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise bad_request("wrong location specified")
    return lat, lon


def check_callback_answer_text(text: Any) -> None:
    if text is not None and utf16_len(str(text)) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")


# --- the published method reference (shared/botapi/api.json) -----------------

SCALAR_TYPES = {"String", "Integer", "Boolean", "Float", "InputFile"}


class ApiSpec:
    """Required and known parameters per method, from the official reference if present."""

    def __init__(self, methods: dict[str, dict]):
        self._methods = {name.lower(): spec for name, spec in methods.items()}

    @classmethod
    def load(cls, path: Path) -> ApiSpec | None:
        if not path.is_file():
            return None
        return cls(json.loads(path.read_text(encoding="utf-8")).get("methods", {}))

    def fields(self, method: str) -> dict[str, dict] | None:
        spec = self._methods.get(method.lower())
        if spec is None:
            return None
        return {f["name"]: f for f in spec.get("fields", [])}

    def field_types(self, method: str, name: str) -> list[str] | None:
        fields = self.fields(method) or {}
        return fields[name]["types"] if name in fields else None

    def missing_required(self, method: str, params: dict) -> list[str]:
        fields = self.fields(method) or {}
        return [n for n, f in fields.items() if f.get("required") and n not in params]

    def unknown(self, method: str, params: dict) -> list[str]:
        fields = self.fields(method)
        if fields is None:
            return []
        return [name for name in params if name not in fields]
