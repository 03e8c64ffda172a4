"""Structured logs without personal data.

Every record carries the update being handled (`update`), the Telegram user who sent it (`user`)
and the request numbers it touched (`request`), taken from context variables that
`handlers.common.handler` binds at the start of each update. Lines are `key=value` text
(default) or one JSON object per line (`LOG_FORMAT=json`).

Our own log calls never pass phone numbers, addresses or message texts. As a safety net a log
record factory scrubs every record when it is made, before any handler or formatter sees it:
- structured arguments (dicts, lists, Telegram objects, as python-telegram-bot logs them at
  DEBUG) lose the values of keys that hold what people typed or who they are (text, caption,
  names, phone_number, address, coordinates…);
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

# Keys whose values are what a person typed or who they are (Telegram's and ours).
SENSITIVE_KEYS = frozenset({
    "text", "caption", "first_name", "last_name", "username", "full_name", "name", "phone", "phone_number",
    "address", "site_address", "latitude", "longitude", "vcard", "title", "description", "question",
    "answer", "comment", "note", "feedback", "reason", "query", "bio", "email", "company",
    "horizontal_accuracy", "emoji", "data",
})
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


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of structured data with the sensitive keys' values replaced."""
    if depth > 12:
        return REDACTED
    if isinstance(value, TelegramObject):
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {
            key: (_mask(item) if str(key).lower() in SENSITIVE_KEYS else redact_value(item, depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(item, depth + 1) for item in value]
    return value


def _mask(value: Any) -> str:
    if value is None or isinstance(value, (bool, int, float)):
        return REDACTED
    return f"<redacted {len(str(value))} chars>" if isinstance(value, str) else REDACTED


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
