"""Extracting messages from the code and keeping the .po catalogs in step with it.

Used by `scripts/update_catalogs.py` (writes files) and by the catalog test (only reads).
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LOCALES_DIR, SUPPORTED_LANGUAGES

ROOT = LOCALES_DIR.parent
SOURCE_DIRS = ("bot", "handlers")
SOURCE_LANGUAGE = "en"
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def extract() -> Catalog:
    """Every translatable string in the source, as a template catalog."""
    template = Catalog(project="servicedesk", charset="utf-8")
    for directory in SOURCE_DIRS:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / directory, method_map=[("**.py", "python")], keywords=DEFAULT_KEYWORDS, strip_comment_tags=True,
        ):
            template.add(message, locations=[(f"{directory}/{filename}", lineno)], auto_comments=comments, context=context)
    return template


def po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as fh:
        return read_po(fh, locale=language)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def update_catalogs() -> dict[str, int]:
    """Write the template and merge it into each language; English is filled from the ids.

    Returns how many messages each language still lacks a translation for.
    """
    template = extract()
    with (LOCALES_DIR / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, template, omit_header=False, sort_output=True, width=100)
    missing: dict[str, int] = {}
    for language in SUPPORTED_LANGUAGES:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read_catalog(language) if path.exists() else Catalog(locale=language, charset="utf-8")
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)  # update() shares message objects
        catalog.obsolete.clear()
        for message in catalog:
            if not message.id:
                continue
            if language == SOURCE_LANGUAGE and not _translated(message):
                message.string = message.id if isinstance(message.id, str) else tuple(message.id)
            elif isinstance(message.id, (list, tuple)) and len(message.string) != catalog.num_plurals:
                message.string = tuple((list(message.string) + [""] * catalog.num_plurals)[: catalog.num_plurals])
        missing[language] = sum(1 for m in catalog if m.id and not _translated(m))
        with path.open("wb") as fh:
            write_po(fh, catalog, sort_output=True, width=100, include_previous=False)
    return missing


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return bool(strings) and all(strings) and not message.fuzzy
