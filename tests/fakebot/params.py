"""Reading a Bot API request the way Telegram does.

PTB sends form fields (every value a string; objects and arrays JSON-encoded),
multipart bodies when it uploads, and other clients send JSON. Handlers in the
fake want typed values, so each parameter is coerced by its declared type: from
the official reference when present, else from a small built-in table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .validation import SCALAR_TYPES, ApiSpec, bad_request

_INT_RE = re.compile(r"^-?\d+$")
_ATTACH_RE = re.compile(r"attach://([A-Za-z0-9_.-]+)")

# Fallback when the reference is absent: parameter name -> declared types.
BUILTIN_TYPES: dict[str, list[str]] = {
    **{n: ["Integer", "String"] for n in ("chat_id", "from_chat_id")},
    **{
        n: ["Integer"]
        for n in (
            "message_id",
            "offset",
            "limit",
            "timeout",
            "reply_to_message_id",
            "message_thread_id",
            "duration",
            "cache_time",
            "user_id",
            "width",
            "height",
            "live_period",
            "heading",
            "proximity_alert_radius",
        )
    },
    **{n: ["Float"] for n in ("latitude", "longitude", "horizontal_accuracy")},
    **{
        n: ["Boolean"]
        for n in (
            "disable_notification",
            "protect_content",
            "show_alert",
            "drop_pending_updates",
            "has_spoiler",
            "show_caption_above_media",
            "allow_sending_without_reply",
            "disable_content_type_detection",
            "allow_paid_broadcast",
        )
    },
    **{
        n: ["Object"]
        for n in (
            "reply_markup",
            "media",
            "allowed_updates",
            "entities",
            "caption_entities",
            "commands",
            "scope",
            "menu_button",
            "link_preview_options",
            "reply_parameters",
        )
    },
}


@dataclass
class UploadedFile:
    """One multipart file part."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


async def read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Merge query string and body into raw parameters; file parts go to the second dict."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.content_type == "application/json" and request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an Object")
        raw.update(body)
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[name] = UploadedFile(
                    name, value.filename, value.content_type, value.file.read()
                )
            else:
                raw[name] = value
    return raw, files


def coerce_params(
    method: str, raw: dict[str, Any], files: dict[str, UploadedFile], spec: ApiSpec | None
) -> dict[str, Any]:
    """Typed parameters; file parts that are not referenced by attach:// become parameters."""
    params = {name: coerce(name, value, _types(method, name, spec)) for name, value in raw.items()}
    attached = set(_ATTACH_RE.findall(json.dumps(params, default=str)))
    params.update({name: f for name, f in files.items() if name not in attached})
    return params


def _types(method: str, name: str, spec: ApiSpec | None) -> list[str]:
    declared = spec.field_types(method, name) if spec else None
    return declared or BUILTIN_TYPES.get(name, ["String"])


def coerce(name: str, value: Any, types: list[str]) -> Any:
    if not isinstance(value, str):
        return value
    if "Integer" in types and _INT_RE.match(value.strip()):
        return int(value)
    if types == ["Integer"]:
        raise bad_request(f'field "{name}" must be of type Integer')
    if "Float" in types:
        try:
            return float(value)
        except ValueError:
            raise bad_request(f'field "{name}" must be a Number') from None
    if "Boolean" in types:
        return value.strip().lower() in ("true", "1")
    if any(t not in SCALAR_TYPES for t in types) and "String" not in types:
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value
