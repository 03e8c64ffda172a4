"""Every user-visible message exists, translated, in every catalog, with the same placeholders."""
from __future__ import annotations

import pytest

from bot.catalogs import extract, placeholders, read_catalog
from bot.i18n import SUPPORTED_LANGUAGES, Translator
from zoneinfo import ZoneInfo

TEMPLATE = extract()
MESSAGE_IDS = [m.id for m in TEMPLATE if m.id]


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def test_the_code_has_messages_to_translate():
    assert len(MESSAGE_IDS) > 50


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_message_is_translated(language):
    catalog = read_catalog(language)
    missing = []
    for message_id in MESSAGE_IDS:
        key = message_id[0] if isinstance(message_id, (list, tuple)) else message_id
        entry = catalog.get(key)
        if entry is None or entry.fuzzy or not all(_strings(entry)):
            missing.append(key)
    assert not missing, f"{language}: {len(missing)} untranslated (run scripts/update_catalogs.py and translate): {missing[:10]}"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_translations_keep_the_placeholders(language):
    catalog = read_catalog(language)
    wrong = []
    for message_id in MESSAGE_IDS:
        ids = list(message_id) if isinstance(message_id, (list, tuple)) else [message_id]
        entry = catalog.get(ids[0])
        if entry is None:
            continue
        expected = placeholders(ids[-1]) | placeholders(ids[0])
        for text in _strings(entry):
            if text and placeholders(text) != expected and not (len(ids) > 1 and placeholders(text) == expected - {"n"}):
                wrong.append((ids[0], text))
    assert not wrong, f"{language}: placeholders differ: {wrong[:5]}"


@pytest.mark.parametrize("language", ["ru", "zh_Hans"])
def test_the_translator_really_uses_the_catalog(language):
    _ = Translator(language, ZoneInfo("Asia/Shanghai"))
    assert _("What do you need? Choose the type of request.") != "What do you need? Choose the type of request."
