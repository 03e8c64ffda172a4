"""Structured logs without personal data.

Every record carries the update being handled (`update`), the Telegram user who sent it (`user`)
and the request numbers it touched (`request`), taken from context variables that
`handlers.common.handler` binds at the start of each update. Lines are `key=value` text
(default) or one JSON object per line (`LOG_FORMAT=json`).

Our own log calls never pass phone numbers, addresses or message texts. As a safety net a log
record factory scrubs every record when it is made, before any handler or formatter sees it:
- structured arguments (dicts, lists, Telegram objects, as python-telegram-bot logs them at
  DEBUG) keep only the values of keys known to say nothing about a person (ids, types, dates,
  sizes, positions) and booleans; every other value (text, names, file names, links,
  coordinates, and whatever field the Bot API adds next) is replaced (a text by its length);
- phone-number-like digit runs and bot tokens are replaced in the final message and traceback;
- SQLAlchemy's "[parameters: …]" block in exception texts is dropped.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from telegram import TelegramObject

# What the current update is; values are plain ids and request numbers, never personal data.
_CONTEXT: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("servicedesk_log_context", default={})
FIELDS = ("update", "user", "request")

# Keys of structured data whose values are kept: they say what happened, never who or what was said.
# An allow-list, so a field the Bot API adds later is redacted until somebody decides otherwise.
SAFE_KEYS = frozenset({
    "id", "date", "type", "status", "offset", "length", "width", "height", "duration", "parse_mode",
    "language_code", "allowed_updates", "limit", "timeout", "retry_after",
})
SAFE_KEY_SUFFIXES = ("_id", "_ids", "_date", "_type", "_count", "_size")  # chat_id, edit_date, mime_type, file_size…
PLACE_IDS = frozenset({"foursquare_id", "google_place_id"})  # ids, but of a venue: a customer's site
REDACTED = "<redacted>"
# Database drivers log statements' values and result rows at DEBUG (aiosqlite even the call with
# its parameters): from these loggers only plain strings and numbers (the SQL text) are kept.
DATA_LOGGERS = ("sqlalchemy", "aiosqlite", "asyncpg")
# Optional +, then 7 or more digits with the separators people type between them.
_PHONE_LIKE = re.compile(r"(?<![\w])\+?\d(?:[ ().\-]{0,2}\d){6,}")
_NOT_A_PHONE = (
    re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?$"),  # ISO dates (with an hour)
    re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$"),  # IPv4 addresses
    re.compile(r"^\d+\.\d+$"),  # decimals, durations
)
_BOT_TOKEN = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,64}")
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)


# --- context ---------------------------------------------------------------------


def bind_update(update_id: int | None, user_id: int | None) -> None:
    """Start the log context of a new update (replaces whatever the previous one left)."""
    _CONTEXT.set({"update": update_id, "user": user_id})


def bind(**values: Any) -> None:
    """Add fields to the current log context (e.g. request="SR-2026-000001")."""
    _CONTEXT.set({**_CONTEXT.get(), **values})


def clear_context() -> None:
    """Work that is not an update (a sweep) logs without update/user fields."""
    _CONTEXT.set({})


def current_context() -> dict[str, Any]:
    return dict(_CONTEXT.get())


# --- redaction -------------------------------------------------------------------


def redact_text(text: str) -> str:
    """Phone-like digit runs, bot tokens and SQL parameters replaced."""
    text = _SQL_PARAMETERS.sub("[parameters: <redacted>]", text)
    text = _BOT_TOKEN.sub("<bot-token>", text)
    return _PHONE_LIKE.sub(_phone_replacement, text)


def _phone_replacement(match: re.Match[str]) -> str:
    value = match.group(0)
    if any(pattern.match(value) for pattern in _NOT_A_PHONE):
        return value
    return "<phone>"


def redact_value(value: Any, key: str | None = None, depth: int = 0) -> Any:
    """A copy of structured data keeping only the values of safe keys (and booleans); `key` holds `value`."""
    if depth > 12:
        return REDACTED
    if isinstance(value, TelegramObject):
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {name: redact_value(item, str(name).lower(), depth + 1) for name, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(item, key, depth + 1) for item in value]
    if key is None or value is None or isinstance(value, bool) or _is_safe_key(key):
        return value  # key None: a log call's own argument, not a field of structured data
    return _mask(value)


def _is_safe_key(key: str) -> bool:
    return key in SAFE_KEYS or (key.endswith(SAFE_KEY_SUFFIXES) and key not in PLACE_IDS)


def _mask(value: Any) -> str:
    return f"<redacted {len(value)} chars>" if isinstance(value, str) else REDACTED


def _plain_only(args: Any) -> Any:
    if isinstance(args, Mapping):
        return {key: _plain_only((value,))[0] for key, value in args.items()}
    return tuple(arg if isinstance(arg, (str, int, float)) else "<data>" for arg in args)


def _scrub(record: logging.LogRecord) -> None:
    """Format the message now, from scrubbed arguments, and redact the result and traceback."""
    try:
        if record.args:
            args = record.args
            if record.name.startswith(DATA_LOGGERS):
                record.args = _plain_only(args)
            elif isinstance(args, Mapping):
                record.args = redact_value(args)
            else:
                record.args = tuple(redact_value(arg) for arg in args)
        message = record.getMessage()
    except Exception:  # a malformed call must not lose the record; keep its template only
        message = str(record.msg)
    record.msg, record.args = redact_text(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    for name, value in current_context().items():
        setattr(record, name, value)


_installed_factory: Any = None


def install_redaction() -> None:
    """Scrub every log record of the process when it is created (idempotent)."""
    global _installed_factory
    current = logging.getLogRecordFactory()
    if current is _installed_factory:
        return
    base = current

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        _scrub(record)
        return record

    _installed_factory = factory
    logging.setLogRecordFactory(factory)


# --- formatting ------------------------------------------------------------------


class KeyValueFormatter(logging.Formatter):
    """`time level logger update=… user=… request=… message` on one line (tracebacks follow)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name]
        parts += [f"{name}={_plain(getattr(record, name))}" for name in FIELDS if getattr(record, name, None) is not None]
        parts.append(f"msg={json.dumps(record.getMessage(), ensure_ascii=False)}")
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(self.formatException(record.exc_info))
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, the context fields, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": _timestamp(record), "level": record.levelname, "logger": record.name}
        entry.update({name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None})
        entry["message"] = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def configure_logging(log_format: str = "text", level: str = "INFO", stream: Any = None) -> None:
    """Root logging for the process: one stream handler, our formatter, redaction on."""
    install_redaction()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # One INFO line per API call drowns the log; at DEBUG they are wanted.
    for noisy in _NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


_NOISY_LOGGERS: Iterable[str] = ("httpx", "httpcore", "apscheduler.executors.default", "aiohttp.access")
