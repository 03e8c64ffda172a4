"""What a user sent, reduced to plain values the dialog rules understand."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextInput:
    text: str


@dataclass(frozen=True)
class PhotoInput:
    file_id: str
    caption: str | None = None


@dataclass(frozen=True)
class VoiceInput:
    file_id: str
    caption: str | None = None


@dataclass(frozen=True)
class LocationInput:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class ContactInput:
    phone: str
    contact_user_id: int | None
    sender_user_id: int


@dataclass(frozen=True)
class DocumentInput:
    """A file sent as a document (not compressed as a photo); only its reference and metadata."""

    file_id: str
    file_name: str | None
    file_size: int | None
    mime_type: str | None


@dataclass(frozen=True)
class OtherInput:
    """Anything else: a sticker, a video, a file…; `kind` is for logs only."""

    kind: str


UserInput = TextInput | PhotoInput | VoiceInput | LocationInput | ContactInput | DocumentInput | OtherInput
