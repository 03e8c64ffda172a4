"""Translations through Babel gettext catalogs, one `Translator` per user language.

Catalogs are read from `locales/<lang>/LC_MESSAGES/messages.po` and compiled in memory
at start-up, so a `.po` edit can never be shadowed by a stale `.mo` file.
Message ids are English; placeholders are named (`{number}`) and filled by the translator,
which HTML-escapes every value unless it is wrapped in `Html` (already-safe markup).
"""
from __future__ import annotations

import gettext
import html
from datetime import datetime, timezone as dt_timezone
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

SUPPORTED_LANGUAGES = ("en", "ru", "zh_Hans")
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "zh_Hans": "简体中文"}
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; it is translated where it is shown."""
    return message


class Html(str):
    """A string that is already valid Telegram HTML and must not be escaped again."""


def language_from_telegram(code: str | None, default: str) -> str:
    """Map a Telegram `language_code` (e.g. 'zh-hans', 'ru', 'en-US') to one we support."""
    if not code:
        return default
    primary = code.lower().replace("_", "-").split("-")[0]
    return {"zh": "zh_Hans", "ru": "ru", "en": "en"}.get(primary, default)


@lru_cache(maxsize=None)
def load_catalog(language: str) -> gettext.NullTranslations:
    """Compile the language's .po file in memory; English falls back to the message ids."""
    po_path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _escape(value: object) -> str:
    if isinstance(value, Html):
        return str(value)
    return html.escape(str(value), quote=False)


@lru_cache(maxsize=None)
def in_every_language(msgid: str) -> frozenset[str]:
    """`msgid` as each supported language says it. A reply keyboard stays on the person's screen
    until replaced: after their language changed (with /language or in the Telegram app) its keys
    still send the old language's labels, which must keep working."""
    return frozenset(load_catalog(language).gettext(msgid) for language in SUPPORTED_LANGUAGES)


class Translator:
    """Translates and formats for one language and time zone."""

    def __init__(self, language: str, timezone: ZoneInfo) -> None:
        if language not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        self.language = language
        self.timezone = timezone
        self.locale = Locale.parse(language)
        self._catalog = load_catalog(language)

    def __call__(self, message: str, **values: object) -> str:
        """Translate `message` and fill its named placeholders with escaped values."""
        text = self._catalog.gettext(message)
        return text.format(**{k: _escape(v) for k, v in values.items()}) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self._catalog.ngettext(singular, plural, n)
        return text.format(n=n, **{k: _escape(v) for k, v in values.items()})

    def datetime(self, moment: datetime) -> str:
        """A date and time in the user's locale and the desk's time zone, to the minute (the
        locale's medium date with its short time: "Mar 2, 2026, 9:30 AM"; deadlines never need seconds)."""
        local = (moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)).astimezone(self.timezone)  # naive is UTC, as Babel reads it
        return self.locale.datetime_formats["medium"].format(
            format_time(local, "short", tzinfo=self.timezone, locale=self.locale), format_date(local.date(), "medium", locale=self.locale))

    def money(self, minor_units: int, currency: str = "CNY") -> str:
        return format_currency(minor_units / 100, currency, locale=self.locale)
