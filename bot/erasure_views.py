"""The /erase dialog's messages: the question, the confirmation card and the outcome.

The card shows just enough for the admin to recognise the customer (name, company, a masked
phone, how many requests), or to judge several records with one phone; the rules are in
bot/services/erasure.py.
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


def card(_: Translator, draft: Draft, found: service.Found) -> View:
    """What will be erased, and the buttons: one record by name, or every record with the phone
    listed for the admin to judge; one that was erased before is offered for what came since."""
    first = found.candidates[0]
    if len(found.candidates) > 1:
        lines = _several(_, found.candidates)
        label = _.ngettext("🗑 Erase {n} record", "🗑 Erase all {n} records", len(found.candidates))
    elif first.erased_at is not None:
        lines = [
            _("This customer's personal data was already erased on {date}.", date=_.datetime(first.erased_at)),
            _("Erase what staff recorded about them since (an opinion typed into a report, an answer to a complaint…)?"),
        ]
        label = _("🗑 Erase")
    else:
        lines = _one(_, first)
        label = _("🗑 Erase")
    if found.others_with_phone:
        lines.append(_.ngettext(
            "⚠️ {n} other customer record has the same phone and is not erased; to erase them all, send the phone number instead.",
            "⚠️ {n} other customer records have the same phone and are not erased; to erase them all, send the phone number instead.",
            found.others_with_phone))
    if first.erased_at is None:
        if found.open_requests:
            lines.append(_.ngettext(
                "⚠️ {n} open request goes on: the customer is no longer told about it, and their details on it become “[erased]”.",
                "⚠️ {n} open requests go on: the customer is no longer told about them, and their details on them become “[erased]”.",
                found.open_requests))
        lines += ["", _("Their name, phone, company, Telegram account, site addresses, descriptions, comments and files will be replaced with “[erased]”. This cannot be undone.")]
    buttons = [
        [dialog_button(label, draft, ERASE, found.offer)],
        [dialog_button(back_label(_), draft, BACK), dialog_button(cancel_label(_), draft, STOP)],
    ]
    return View("\n".join(lines), inline(buttons))


def _one(_: Translator, candidate: service.Candidate) -> list[str]:
    lines = [
        _("🗑 <b>Erase this customer's personal data?</b>"),
        _("Customer: {name}", name=shorten(candidate.name, NAME_SHOWN)),
    ]
    if candidate.company:
        lines.append(_("Company: {company}", company=shorten(candidate.company, NAME_SHOWN)))
    return lines + [
        _("Phone: {phone}", phone=masked_phone(candidate.phone)),
        _.ngettext("Requests: {n} (the number stays, statistics are unchanged)",
                   "Requests: {n} (the numbers stay, statistics are unchanged)", candidate.requests),
    ]


def _several(_: Translator, candidates: tuple[service.Candidate, ...]) -> list[str]:
    """Records with one phone: perhaps one person filed twice (by a salesperson, then herself),
    perhaps two sharing an office phone. Only the admin can tell."""
    lines = [
        _.ngettext("🗑 <b>{n} customer record has this phone.</b> Erase its personal data?",
                   "🗑 <b>{n} customer records have this phone.</b> Erase the personal data of all of them?", len(candidates)),
        _("They may be one person (filed by a salesperson, then registered) or people who share a phone: check before erasing."),
    ]
    for candidate in candidates:
        name, phone = shorten(candidate.name, NAME_SHOWN), masked_phone(candidate.phone)
        if candidate.newest_request is None:
            lines.append(_("• {name}, {phone}: no requests", name=name, phone=phone))
        else:
            lines.append(_.ngettext("• {name}, {phone}: {n} request, the newest {number}",
                                    "• {name}, {phone}: {n} requests, the newest {number}",
                                    candidate.requests, name=name, phone=phone, number=candidate.newest_request))
    lines.append(_("To erase only one of them, send one of its request numbers instead."))
    return lines


def done(_: Translator, results: list[service.ErasureResult]) -> View:
    fields, requests = sum(r.fields for r in results), sum(r.requests for r in results)
    if all(r.already_erased for r in results):
        if not fields:
            return View(_("This customer was already erased; nothing changed."))
        return View(_.ngettext("✅ This customer was already erased; {n} value recorded since was replaced with “[erased]”.",
                               "✅ This customer was already erased; {n} values recorded since were replaced with “[erased]”.", fields))
    lines = [_.ngettext("✅ Personal data erased: {n} value replaced with “[erased]”.",
                        "✅ Personal data erased: {n} values replaced with “[erased]”.", fields)]
    if len(results) > 1:
        lines.append(_.ngettext("{n} customer record erased.", "{n} customer records erased.", len(results)))
    lines.append(_.ngettext("{n} request kept with its number; statistics are unchanged.",
                            "{n} requests kept with their numbers; statistics are unchanged.", requests))
    return View("\n".join(lines))


def cancelled(_: Translator) -> View:
    return View(_("Cancelled. Nothing was erased."))
