"""Builders for the Bot API objects the fake hands out (users, chats, files, messages).

Objects are plain dicts shaped exactly like Telegram's JSON, so PTB parses them
with its normal `de_json` path and the bot under test sees realistic data.
"""

from __future__ import annotations

import itertools
import mimetypes
import secrets
from dataclasses import dataclass
from typing import Any

# Telegram's file_id prefixes differ per kind; mimicking them keeps ids plausible.
_FILE_ID_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
}
_FOLDER = {"photo": "photos", "document": "documents", "voice": "voice", "sticker": "stickers"}
_EXTENSION = {"photo": "jpg", "voice": "oga", "sticker": "webp"}
PHOTO_SIZES = ((90, 67), (320, 240), (1280, 960))


def compact(**fields: Any) -> dict:
    """Telegram omits absent optional fields rather than sending null."""
    return {key: value for key, value in fields.items() if value is not None}


def user_object(
    user_id: int,
    first_name: str,
    *,
    is_bot: bool = False,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
) -> dict:
    return compact(
        id=user_id,
        is_bot=is_bot,
        first_name=first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
    )


def private_chat_object(user: dict) -> dict:
    return compact(
        id=user["id"],
        type="private",
        first_name=user["first_name"],
        last_name=user.get("last_name"),
        username=user.get("username"),
    )


def command_entities(text: str) -> list[dict] | None:
    """A leading '/word' is a bot_command entity; PTB's CommandHandler relies on it."""
    if not text.startswith("/") or len(text) < 2 or text[1].isspace():
        return None
    word = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": len(word.encode("utf-16-le")) // 2}]


@dataclass
class FileRecord:
    """A file the fake has issued an id for; only such ids may be re-sent."""

    file_id: str
    file_unique_id: str
    kind: str
    file_size: int
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def file_object(self) -> dict:
        """The File object getFile returns."""
        return compact(
            file_id=self.file_id,
            file_unique_id=self.file_unique_id,
            file_size=self.file_size,
            file_path=self.file_path,
        )


class FileStore:
    """Issues file ids and remembers what each one is, for re-sending and download."""

    def __init__(self) -> None:
        self._by_id: dict[str, FileRecord] = {}
        self._by_path: dict[str, FileRecord] = {}
        self._photo_sets: dict[str, list[dict]] = {}
        self._counter = itertools.count(1)

    def get(self, file_id: str) -> FileRecord | None:
        return self._by_id.get(file_id)

    def photo_set(self, file_id: str) -> list[dict] | None:
        """All sizes of the photo one of whose file_ids is given."""
        return self._photo_sets.get(file_id)

    def by_path(self, path: str) -> FileRecord | None:
        return self._by_path.get(path)

    def issue(
        self,
        kind: str,
        data: bytes | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FileRecord:
        number = next(self._counter)
        content = data if data is not None else f"fake {kind} #{number}".encode()
        if file_name and not mime_type:
            mime_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        extension = _EXTENSION.get(kind) or (
            file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else "bin"
        )
        record = FileRecord(
            file_id=_FILE_ID_PREFIX.get(kind, "BQACAgIAAxkBAAI") + secrets.token_urlsafe(33),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            kind=kind,
            file_size=len(content),
            file_path=f"{_FOLDER.get(kind, kind + 's')}/file_{number}.{extension}",
            data=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._by_id[record.file_id] = record
        self._by_path[record.file_path] = record
        return record

    def issue_photo(self, data: bytes | None = None) -> list[dict]:
        """Telegram stores a photo in several sizes, each with its own file_id."""
        sizes = []
        for width, height in PHOTO_SIZES:
            record = self.issue("photo", data)
            sizes.append(
                {
                    "file_id": record.file_id,
                    "file_unique_id": record.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": record.file_size,
                }
            )
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return sizes

    def issue_document(
        self, file_name: str, data: bytes | None = None, mime_type: str | None = None
    ) -> dict:
        record = self.issue("document", data, file_name=file_name, mime_type=mime_type)
        return compact(
            file_id=record.file_id,
            file_unique_id=record.file_unique_id,
            file_name=file_name,
            mime_type=record.mime_type,
            file_size=record.file_size,
        )

    def issue_voice(self, duration: int = 3, data: bytes | None = None) -> dict:
        record = self.issue("voice", data, mime_type="audio/ogg")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": record.file_size,
        }

    def issue_sticker(self, emoji: str = "\U0001f44d") -> dict:
        record = self.issue("sticker")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": record.file_size,
        }

    def describe(self, record: FileRecord) -> dict:
        """The media object for re-sending an existing file (document/voice/sticker)."""
        if record.kind == "voice":
            return {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "duration": 3,
                "mime_type": "audio/ogg",
                "file_size": record.file_size,
            }
        return compact(
            file_id=record.file_id,
            file_unique_id=record.file_unique_id,
            file_name=record.file_name,
            mime_type=record.mime_type,
            file_size=record.file_size,
        )
