"""Telegram's HTML parse mode, re-implemented for the fake Bot API.

Telegram rejects a message whose HTML it cannot parse, with
"Bad Request: can't parse entities: <detail>". The bot under test must escape
every piece of user text, so the fake is deliberately as strict as Telegram
(stricter for a bare '&', which the spec asks us to reject).

`parse_html` returns the visible text plus MessageEntity dicts whose offsets
and lengths are counted in UTF-16 code units, as the Bot API does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# tag name -> entity type it produces
TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{0,15});")
_ATTR_NAME_RE = re.compile(r"[a-zA-Z0-9_-]+")


class HtmlParseError(ValueError):
    """The markup is invalid; str(exc) is Telegram's detail text."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit Telegram counts offsets and limits in."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the visible text


@dataclass
class _Parser:
    raw: str
    pos: int = 0
    out: list[str] = field(default_factory=list)
    offset: int = 0  # UTF-16 length of the visible text so far
    stack: list[_OpenTag] = field(default_factory=list)
    entities: list[dict] = field(default_factory=list)

    def byte_offset(self, index: int) -> int:
        """tdlib reports positions as UTF-8 byte offsets into the raw text."""
        return len(self.raw[:index].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.offset += utf16_len(text)

    def run(self) -> tuple[str, list[dict]]:
        raw = self.raw
        while self.pos < len(raw):
            char = raw[self.pos]
            if char == "&":
                self.emit(self.read_entity())
            elif char == "<" and raw.startswith("</", self.pos):
                self.close_tag()
            elif char == "<":
                self.open_tag()
            else:
                self.emit(char)
                self.pos += 1
        if self.stack:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def read_entity(self) -> str:
        """Decode one '&...;' reference; anything Telegram does not know is an error."""
        match = _ENTITY_RE.match(self.raw, self.pos)
        if not match:
            raise HtmlParseError(
                f"Can't find end of the entity starting at byte offset {self.byte_offset(self.pos)}"
            )
        self.pos = match.end()
        char = decode_entity(match.group(1))
        if char is None:
            raise HtmlParseError(
                f'Unsupported HTML entity "{match.group(0)}" '
                f"at byte offset {self.byte_offset(match.start())}"
            )
        return char

    def open_tag(self) -> None:
        begin = self.pos
        end = begin + 1
        while end < len(self.raw) and not self.raw[end].isspace() and self.raw[end] != ">":
            end += 1
        if end >= len(self.raw):
            raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        name = self.raw[begin + 1 : end].lower()
        if name not in TAG_ENTITY:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(begin)}'
            )
        self.pos = end
        attrs = self.read_attributes(name, begin)
        check_tag_attributes(name, attrs)
        self.stack.append(_OpenTag(name, attrs, self.offset))

    def read_attributes(self, tag: str, begin: int) -> dict[str, str]:
        """Parse `name="v"`, `name='v'`, `name=v` and bare `name` up to the closing '>'."""
        raw, attrs = self.raw, {}
        while True:
            while self.pos < len(raw) and raw[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(raw):
                raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            if raw[self.pos] == ">":
                self.pos += 1
                return attrs
            match = _ATTR_NAME_RE.match(raw, self.pos)
            if not match:
                offset = self.byte_offset(self.pos)
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {offset}'
                )
            name = match.group(0).lower()
            self.pos = match.end()
            if self.pos < len(raw) and raw[self.pos] == "=":
                self.pos += 1
                attrs[name] = self.read_attribute_value(tag)
            elif tag == "blockquote" and name == "expandable":
                attrs[name] = ""
            else:
                raise HtmlParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {self.byte_offset(begin)}"
                )

    def read_attribute_value(self, tag: str) -> str:
        raw = self.raw
        if self.pos < len(raw) and raw[self.pos] in "'\"":
            quote = raw[self.pos]
            end = raw.find(quote, self.pos + 1)
            if end < 0:
                raise HtmlParseError(f'Unclosed end of attribute value in the tag "{tag}"')
            value = raw[self.pos + 1 : end]
            self.pos = end + 1
        else:
            start = self.pos
            while self.pos < len(raw) and not raw[self.pos].isspace() and raw[self.pos] != ">":
                self.pos += 1
            value = raw[start : self.pos]
        return unescape_attribute(value)

    def close_tag(self) -> None:
        begin = self.pos
        end = self.raw.find(">", begin)
        if end < 0:
            raise HtmlParseError(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        name = self.raw[begin + 2 : end].strip().lower()
        if not self.stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        top = self.stack[-1]
        if name != top.name:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{top.name}>", found "</{name}>"'
            )
        self.pos = end + 1
        self.stack.pop()
        self.add_entity(top)

    def add_entity(self, tag: _OpenTag) -> None:
        length = self.offset - tag.start
        if length <= 0:
            return  # Telegram drops empty entities
        entity = {"type": TAG_ENTITY[tag.name], "offset": tag.start, "length": length}
        if tag.name == "a":
            if "href" not in tag.attrs:
                return  # a link without href is plain text
            entity["url"] = tag.attrs["href"]
        elif tag.name == "pre" and "_language" in tag.attrs:
            entity["language"] = tag.attrs["_language"]
        elif tag.name == "blockquote" and "expandable" in tag.attrs:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attrs["emoji-id"]
        elif tag.name == "code" and self.merge_pre_language(tag, entity):
            return
        self.entities.append(entity)

    def merge_pre_language(self, tag: _OpenTag, entity: dict) -> bool:
        """`<pre><code class="language-x">` gives the pre entity a language, not a code entity."""
        css = tag.attrs.get("class", "")
        enclosing = self.stack[-1] if self.stack else None
        if not css.startswith("language-") or not enclosing or enclosing.name != "pre":
            return False
        enclosing.attrs["_language"] = css[len("language-") :]
        return True


def check_tag_attributes(name: str, attrs: dict[str, str]) -> None:
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlParseError('Tag "span" must have class "tg-spoiler"')
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise HtmlParseError('Custom emoji entity must contain a tag "emoji-id"')


def decode_entity(body: str) -> str | None:
    """The character for `&body;`, or None when Telegram would not accept it."""
    if not body.startswith("#"):
        return NAMED_ENTITIES.get(body)
    code = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return None


def unescape_attribute(value: str) -> str:
    """Attribute values use the same entity rules as text (but may contain '<')."""

    def replace(match: re.Match) -> str:
        char = decode_entity(match.group(1))
        if char is None:
            raise HtmlParseError(f'Unsupported HTML entity "{match.group(0)}" in an attribute')
        return char

    decoded = _ENTITY_RE.sub(replace, value)
    if "&" in _ENTITY_RE.sub("", value):
        raise HtmlParseError("Can't find end of the entity in an attribute value")
    return decoded


def parse_html(raw: str) -> tuple[str, list[dict]]:
    """Return (visible text, entities) or raise HtmlParseError with Telegram's detail."""
    text, entities = _Parser(raw).run()
    return text, entities
