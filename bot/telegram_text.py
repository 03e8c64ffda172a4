"""Keeping outgoing HTML within Telegram's rules: at most 4096 characters per message.

Telegram counts the visible text (tags removed, entities unescaped) in UTF-16 code units, so
an emoji counts twice (`tg_len`) and "&amp;" once (`visible_len`).

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
_TAGS = re.compile(r"<[^>]*>")


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


def visible_len(text: str) -> int:
    """What Telegram counts of an HTML text: the visible text (tags removed, entities read as
    their character), in UTF-16 units. "&amp;" is one character, "<b>" none."""
    return tg_len(html.unescape(_TAGS.sub("", text)))


def _blank(text: str) -> bool:
    """Telegram refuses a message that shows nothing ("message text is empty")."""
    return not html.unescape(_TAGS.sub("", text)).strip()


def split_html(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split into valid HTML pieces of at most `limit` visible characters as Telegram counts them.
    A piece that would show nothing (blank lines at a cut) is dropped: Telegram refuses it."""
    if visible_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    lines: list[str] = []  # the piece being filled
    size = 0
    for line in text.split("\n"):
        width = visible_len(line)
        if lines and size + 1 + width <= limit:  # the line break counts too
            lines.append(line)
            size += 1 + width
            continue
        if lines:
            pieces.append("\n".join(lines))
        if width <= limit:
            lines, size = [line], width
        else:
            *full, last = _cut_line(line, limit)
            pieces.extend(full)
            lines, size = [last], visible_len(last)
    if lines:
        pieces.append("\n".join(lines))
    shown = [piece for piece in pieces if not _blank(piece)]
    return shown or pieces[:1]


def fit_html(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """The text cut to fit one message (for an edit, which cannot be split): the longest lines
    are shortened, ending in "…", so every line (a card's title, its outcome) still shows."""
    lines = text.split("\n")
    while (excess := visible_len("\n".join(lines)) - limit) > 0:
        index = max(range(len(lines)), key=lambda i: visible_len(lines[i]))
        width = visible_len(lines[index])
        if width < 2:  # only tiny lines left: keep the first piece
            return split_html("\n".join(lines), limit)[0]
        lines[index] = _cut_line(lines[index], max(width - excess - 1, width // 2))[0] + "…"
    return "\n".join(lines)


def _token_len(token: str) -> int:
    if token.startswith("<"):
        return 0
    if token.startswith("&") and len(token) > 1:
        return tg_len(html.unescape(token))
    return tg_len(token)


def _cut_line(line: str, limit: int) -> list[str]:
    """Pieces of at most `limit` visible characters, never cutting a tag or an entity."""
    open_tags: list[str] = []  # the full opening tags, to reopen in the next piece
    pieces: list[str] = []
    current, size = "", 0
    for token in _TOKEN.findall(line):
        width = _token_len(token)
        if width and size + width > limit:
            closing = "".join(f"</{_tag_name(t)}>" for t in reversed(open_tags))
            pieces.append(current + closing)
            current, size = "".join(open_tags), 0
        current += token
        size += width
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
