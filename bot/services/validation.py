"""Validation of what customers type. Limits are product decisions, kept here in one place."""
from __future__ import annotations

import re
import unicodedata

from bot.services.errors import InvalidValue, TooLong, WrongInput

NAME_MAX = 100
COMPANY_MAX = 200
SERIAL_MAX = 40
DESCRIPTION_MAX = 2000
ADDRESS_MAX = 300
COMMENT_MAX = 1000
MAX_PHOTOS = 10
MAX_VOICES = 5  # voice notes on one fault report: the dispatcher has to listen to each
MAX_QUANTITY = 999  # parts of one kind on a report, requisition or quote

_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_-]{2,}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")


# Characters that show nothing: Telegram users send them as "empty" messages (a Hangul filler,
# a Braille blank), and copy and paste leaves format characters (zero-width spaces, marks).
_BLANKS = frozenset("\u3164\u2800\u115f\u1160\uffa0")


def _shows_nothing(value: str) -> bool:
    """Only spaces, blanks, format characters and marks with nothing to sit on (a lone variation
    selector or combining mark)."""
    return all(char.isspace() or char in _BLANKS or unicodedata.category(char) in ("Cf", "Mn", "Me") for char in value)


def clean_text(text: str | None, *, limit: int, expected: str) -> str:
    """Trimmed text, refusing empty (re-ask) and over-long (state the limit) input; a text of
    invisible characters only is empty."""
    value = (text or "").strip()
    if not value or _shows_nothing(value):
        raise WrongInput(expected)
    if len(value) > limit:
        raise TooLong(limit)
    return value


def normalize_phone(text: str) -> str:
    """An international-style number: optional '+', 7 to 15 digits; separators are dropped.
    Full-width digits and '＋' (a Chinese keyboard) become ASCII; other scripts' digits are refused."""
    raw = _PHONE_SEPARATORS.sub("", typed_number(text))
    digits = raw[1:] if raw.startswith("+") else raw
    if not (digits.isascii() and digits.isdigit()) or not 7 <= len(digits) <= 15:
        raise InvalidValue("phone")
    return ("+" if raw.startswith("+") else "") + digits


def international_phone(text: str) -> str:
    """A typed number with its country code ("+86 …" or "0086 …"). Without one the same phone
    typed by someone else, or shared from Telegram, would not match it."""
    raw = _PHONE_SEPARATORS.sub("", typed_number(text))  # "(+86) 138…" starts with its code too
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not raw.startswith("+"):
        raise InvalidValue("phone")
    return normalize_phone(raw)


def contact_phone(text: str) -> str:
    """The number of a shared Telegram contact. It is always international, but Telegram apps
    send it with or without the '+'; stored with it, it matches the same number typed by staff."""
    value = text.strip()
    return normalize_phone(value if value.startswith("+") else "+" + value)


_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))  # left by copy and paste


def normalize_serial(text: str) -> str:
    """A serial as the registry keys it: upper case ASCII. A Chinese keyboard's full-width
    "ＱＪ－５００２" is "QJ-5002" (NFKC, as typed_number); zero-width characters are dropped.
    Spaces stay part of the serial: "QJ 5002" and "QJ-5002" are different serials."""
    value = unicodedata.normalize("NFKC", text.translate(_ZERO_WIDTH)).strip()
    if len(value) > SERIAL_MAX:
        raise TooLong(SERIAL_MAX)
    if not _SERIAL.match(value):
        raise InvalidValue("serial")
    return value.upper()


def typed_number(text: str) -> str:
    """A typed number as ASCII: a Chinese keyboard's full-width "１０" or "２，５" is "10" and "2,5"."""
    return unicodedata.normalize("NFKC", text).strip()


def parse_quantity(text: str) -> int:
    """A whole number of parts from 1 to MAX_QUANTITY (digits only, full-width ones too)."""
    value = typed_number(text)
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_QUANTITY:
        raise InvalidValue("quantity")
    return int(value)
