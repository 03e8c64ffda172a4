"""What the fake remembers, in the shape tests assert on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiCall:
    """One request the bot made; `error_code` is None when it succeeded."""

    method: str
    params: dict[str, Any]
    time: float
    error_code: int | None = None


@dataclass
class Rejection:
    """A request Telegram would have refused; tests assert there are none."""

    method: str
    params: dict[str, Any]
    error_code: int
    description: str
    parameters: dict | None = None
    time: float = 0.0

    def __str__(self) -> str:
        return f"{self.method} -> {self.error_code} {self.description} (params={self.params!r})"


@dataclass
class SentMessage:
    """A message the bot sent to a chat, as the user currently sees it."""

    message_id: int
    chat_id: int
    method: str
    date: int
    text: str | None = None
    raw_text: str | None = None
    parse_mode: str | None = None
    entities: list[dict] = field(default_factory=list)
    caption: str | None = None
    raw_caption: str | None = None
    photo_file_ids: list[str] = field(default_factory=list)
    document: dict | None = None
    voice: dict | None = None
    location: dict | None = None
    reply_markup: dict | None = None
    edits: int = 0
    deleted: bool = False
    media_group_id: str | None = None
    message: dict = field(default_factory=dict, repr=False)  # the Message JSON as last returned
    seq: int = field(default=0, repr=False)  # fake-wide change counter, for "new since"

    @property
    def buttons(self) -> list[dict]:
        """Inline buttons, flattened row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    @property
    def button_texts(self) -> list[str]:
        return [button["text"] for button in self.buttons]

    @property
    def content(self) -> str:
        """Visible text or caption: what substring matching looks at."""
        return self.text if self.text is not None else (self.caption or "")
