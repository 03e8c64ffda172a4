"""The /erase dialog's messages: the question, the confirmation card and the outcome.

The card shows just enough for the admin to recognise the customer (name, company, a masked
phone, how many requests); the rules are in bot/services/erasure.py.
"""
from __future__ import annotations

import re

from bot.i18n import Translator
from bot.keyboards import back_label, cancel_label, dialog_button, inline
from bot.services import erasure as service
from bot.telegram_text import shorten
from bot.views import View
from storage.models import Draft

ERASE, STOP, BACK = "erase", "stop", "back"  # button actions
NAME_SHOWN = 80
REFERENCE_SHOWN = 40
CHINA_PREFIX = "+86"


def masked_phone(phone: str | None) -> str:
    """A phone with its middle digits hidden: +86 138****5678; short numbers show the last two."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits or phone == service.ERASED:
        return "—"
    prefix = ""
    if phone.strip().startswith(CHINA_PREFIX) and len(digits) > 2:
        prefix, digits = CHINA_PREFIX + " ", digits[2:]
    elif phone.strip().startswith("+"):
        prefix = "+"
    if len(digits) < 8:
        return prefix + "*" * max(len(digits) - 2, 1) + digits[-2:]
    return prefix + digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def not_allowed(_: Translator) -> str:
    return _("Only an admin can do that.")


def _cancel_only(_: Translator, draft: Draft):
    return inline([[dialog_button(cancel_label(_), draft, STOP)]])


def prompt(_: Translator, draft: Draft) -> View:
    return View("\n".join([
        _("🗑 <b>Erase a customer's personal data</b> (on the customer's request)"),
        _("Their name, phone, company, Telegram account, site addresses, descriptions, comments and files are replaced with “[erased]”."),
        _("Request numbers and statistics are kept. This cannot be undone."),
        "",
        _("Send the customer's phone number (with the country code, e.g. +86 138 0013 8000) or one of their request numbers (SR-…)."),
    ]), _cancel_only(_, draft))


def text_please(_: Translator, draft: Draft) -> View:
    return View(_("Please type the customer's phone number or a request number (SR-…) as text."), _cancel_only(_, draft))


def too_long(_: Translator, draft: Draft) -> View:
    return View(
        _("That is too long for a phone or request number (at most {n} characters). Please send it again.", n=service.REFERENCE_MAX),
        _cancel_only(_, draft),
    )


def not_found(_: Translator, draft: Draft, reference: str) -> View:
    return View(
        _("No customer found for “{reference}”. Check the phone or request number and send it again.", reference=shorten(reference, REFERENCE_SHOWN)),
        _cancel_only(_, draft),
    )


def staff_refused(_: Translator, draft: Draft | None) -> View:
    text = _("This is a staff member's account: staff are not erased this way. Withdraw their roles in /staff first.")
    return View(text, _cancel_only(_, draft) if draft is not None else None)


def refused(_: Translator, reason: str) -> View:
    """The Erase press was refused on the server: a staff account, or the presser is no admin."""
    return staff_refused(_, None) if reason == "staff" else View(not_allowed(_))


def already_erased(_: Translator, draft: Draft, candidate: service.Candidate) -> View:
    return View(
        _("This customer's personal data was already erased on {date}. Nothing to do; send another phone or request number, or cancel.",
          date=_.datetime(candidate.erased_at)),
        _cancel_only(_, draft),
    )


def card(_: Translator, draft: Draft, candidate: service.Candidate) -> View:
    """What will be erased, and the two buttons."""
    lines = [
        _("🗑 <b>Erase this customer's personal data?</b>"),
        _("Customer: {name}", name=shorten(candidate.name, NAME_SHOWN)),
    ]
    if candidate.company:
        lines.append(_("Company: {company}", company=shorten(candidate.company, NAME_SHOWN)))
    lines += [
        _("Phone: {phone}", phone=masked_phone(candidate.phone)),
        _.ngettext("Requests: {n} (the number stays, statistics are unchanged)",
                   "Requests: {n} (the numbers stay, statistics are unchanged)", candidate.requests),
        "",
        _("Their name, phone, company, Telegram account, site addresses, descriptions, comments and files will be replaced with “[erased]”. This cannot be undone."),
    ]
    buttons = [
        [dialog_button(_("🗑 Erase"), draft, ERASE, str(candidate.customer_id))],
        [dialog_button(back_label(_), draft, BACK), dialog_button(cancel_label(_), draft, STOP)],
    ]
    return View("\n".join(lines), inline(buttons))


def done(_: Translator, result: service.ErasureResult) -> View:
    if result.already_erased:
        return View(_("This customer was already erased; nothing changed."))
    return View("\n".join([
        _.ngettext("✅ Personal data erased: {n} value replaced with “[erased]”.",
                   "✅ Personal data erased: {n} values replaced with “[erased]”.", result.fields),
        _.ngettext("{n} request kept with its number; statistics are unchanged.",
                   "{n} requests kept with their numbers; statistics are unchanged.", result.requests),
    ]))


def cancelled(_: Translator) -> View:
    return View(_("Cancelled. Nothing was erased."))
