"""Keeping outgoing HTML within Telegram's rules: at most 4096 characters per message.

Telegram counts characters in UTF-16 code units, so an emoji counts twice (`tg_len`).

Long texts are split between lines; a line that is itself too long is cut between
characters, never inside a tag or an entity, with open tags closed and reopened so every
piece is valid HTML on its own.
"""
from __future__ import annotations

import html
import re

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
ALERT_LIMIT = 200  # answerCallbackQuery's text
_TOKEN = re.compile(r"<[^>]*>|&[#a-zA-Z0-9]+;|.", re.S)
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z-]+)")


def tg_len(text: str) -> int:
    """The length Telegram measures: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def alert_text(text: str) -> str:
    """A callback alert: plain text (catalog output escapes names for HTML: "Mia &amp; Co" must
    read "Mia & Co"), cut to what Telegram shows instead of being refused whole."""
    text = html.unescape(text)
    if tg_len(text) <= ALERT_LIMIT:
        return text
    while tg_len(text) > ALERT_LIMIT - 1:  # room for the ellipsis
        text = text[:-1]
    return text.rstrip() + "…"


def split_html(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split into valid HTML pieces of at most `limit` characters as Telegram counts them
    (markup counted too, to be safe)."""
    if tg_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if tg_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        if tg_len(line) <= limit:
            current = line
        else:
            *full, current = _cut_line(line, limit)
            pieces.extend(full)
    if current:
        pieces.append(current)
    return pieces


def _cut_line(line: str, limit: int) -> list[str]:
    open_tags: list[str] = []  # the full opening tags, to reopen in the next piece
    pieces: list[str] = []
    current, size = "", 0
    for token in _TOKEN.findall(line):
        closing = "".join(f"</{_tag_name(t)}>" for t in reversed(open_tags))
        if size + tg_len(token) + len(closing) > limit:
            pieces.append(current + closing)
            current = "".join(open_tags)
            size = tg_len(current)
        current += token
        size += tg_len(token)
        match = _TAG.match(token) if token.startswith("<") else None
        if match:
            if match.group(1):
                if open_tags:
                    open_tags.pop()
            else:
                open_tags.append(token)
    pieces.append(current)
    return pieces


def _tag_name(opening: str) -> str:
    match = _TAG.match(opening)
    return match.group(2) if match else ""


def shorten(text: str, limit: int) -> str:
    """Plain text cut to `limit` characters with an ellipsis (for previews and button labels)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
