"""Turn a Telegram message into the plain input the dialog rules understand."""
from __future__ import annotations

from telegram import Message

from bot.services.inputs import (
    ContactInput,
    DocumentInput,
    LocationInput,
    OtherInput,
    PhotoInput,
    TextInput,
    UserInput,
    VoiceInput,
)


def to_input(message: Message) -> UserInput:
    if message.text is not None:
        return TextInput(message.text)
    if message.photo:
        return PhotoInput(message.photo[-1].file_id, message.caption)
    if message.voice is not None:
        return VoiceInput(message.voice.file_id, message.caption)
    if message.location is not None:
        return LocationInput(message.location.latitude, message.location.longitude)
    if message.contact is not None:
        sender = message.from_user.id if message.from_user else 0
        return ContactInput(message.contact.phone_number, message.contact.user_id, sender)
    if message.document is not None and message.animation is None:  # a GIF carries a document too
        document = message.document
        return DocumentInput(document.file_id, document.file_name, document.file_size, document.mime_type)
    kind = next((k for k in ("sticker", "video", "document", "audio", "animation", "video_note", "poll", "dice") if getattr(message, k, None)), "other")
    return OtherInput(kind)
