"""Keyboard builders. Inline buttons carry packed `bot.callbacks` payloads only."""
from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.callbacks import DialogButton, LanguageButton, _Payload
from bot.i18n import LANGUAGE_NAMES, N_, SUPPORTED_LANGUAGES, Translator, in_every_language
from bot.labels import MENU_HELP, MENU_LANGUAGE, MENU_MY, MENU_NEW, MENU_PRODUCTS
from storage.models import Draft

BACK = "⬅️"
CANCEL = "✖️"


def button(text: str, payload: _Payload) -> InlineKeyboardButton:
    """A button label is plain text, while the translator escapes values for HTML messages: undo
    that, or a warehouse "R&D" reads "R&amp;D" on its button."""
    return InlineKeyboardButton(html.unescape(text), callback_data=payload.pack())


def pager(_: Translator, page: int, pages: int, to_page: Callable[[int], _Payload]) -> list[InlineKeyboardButton]:
    """‹ Previous / Next › under a list shown a page at a time (page counted from 0); empty on one page."""
    row = []
    if page > 0:
        row.append(button(_("‹ Previous"), to_page(page - 1)))
    if page < pages - 1:
        row.append(button(_("Next ›"), to_page(page + 1)))
    return row


def inline(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(r) for r in rows if r])


def main_menu(_: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[_(MENU_NEW), _(MENU_MY)], [_(MENU_PRODUCTS), _(MENU_HELP), _(MENU_LANGUAGE)]], resize_keyboard=True, is_persistent=True,
    )


BACK, CANCEL = N_("⬅️ Back"), N_("✖️ Cancel")  # also keys of the reply keyboard shown during a dialog


def back_label(_: Translator) -> str:
    return _(BACK)


def cancel_label(_: Translator) -> str:
    return _(CANCEL)


def is_key(text: str, label: str) -> bool:
    """The text a reply-keyboard key with `label` sends, in whichever language the keyboard was shown."""
    return text.strip() in in_every_language(label)


def share_keyboard(_: Translator, share: KeyboardButton, *, back: bool) -> ReplyKeyboardMarkup:
    """A reply keyboard with a share button plus Back/Cancel as text buttons (read by the router)."""
    nav = [back_label(_), cancel_label(_)] if back else [cancel_label(_)]
    return ReplyKeyboardMarkup([[share], nav], resize_keyboard=True, one_time_keyboard=True)


def dialog_nav(_: Translator, draft: Draft, *, back: bool = True) -> list[InlineKeyboardButton]:
    row = []
    if back:
        row.append(button(back_label(_), DialogButton(draft.id, draft.step, "back")))
    row.append(button(cancel_label(_), DialogButton(draft.id, draft.step, "cancel")))
    return row


def dialog_button(text: str, draft: Draft, action: str, value: str = "") -> InlineKeyboardButton:
    return button(text, DialogButton(draft.id, draft.step, action, value))


def languages() -> InlineKeyboardMarkup:
    return inline([[button(LANGUAGE_NAMES[code], LanguageButton(code)) for code in SUPPORTED_LANGUAGES]])
