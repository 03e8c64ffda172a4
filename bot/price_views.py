"""The /price dialog's messages: the code question, the price question, the card and the outcome
(the rules are in bot/services/prices.py)."""
from __future__ import annotations

import html

from bot.i18n import Html, Translator
from bot.keyboards import back_label, cancel_label, dialog_button, inline
from bot.services import prices as service
from bot.telegram_text import shorten
from bot.views import View
from storage.models import Draft, Part

CHANGE, BACK, STOP = "change", "back", "stop"  # button actions
NAME_SHOWN = 80


def _part(part: Part) -> Html:
    return Html(f"<b>{html.escape(part.code, quote=False)}</b> · {html.escape(shorten(part.name, NAME_SHOWN), quote=False)}")


def _price(_: Translator, amount: int | None) -> str:
    return _.money(amount) if amount is not None else _("no price yet")


def _keys(_: Translator, draft: Draft, *, back: bool = True):
    row = [dialog_button(back_label(_), draft, BACK)] if back else []
    return inline([[*row, dialog_button(cancel_label(_), draft, STOP)]])


def not_allowed(_: Translator) -> str:
    return _("This command is for finance and admins.")


def refused(_: Translator) -> View:
    return View(not_allowed(_))


def code_prompt(_: Translator, draft: Draft) -> View:
    return View(_("💰 Send the code of the part whose price you want to change, e.g. BRG-6205. /stock lists the parts with their prices."),
                _keys(_, draft, back=False))


def code_not_found(_: Translator, draft: Draft, code: str) -> View:
    return View(_("No part with the code {code} is in the catalog. Check it (/stock searches the catalog) and send it again.",
                  code=shorten(code, 40)), _keys(_, draft, back=False))


def price_prompt(_: Translator, draft: Draft, part: Part) -> View:
    return View("\n".join([
        _part(part),
        _("Price now: {price}", price=_price(_, part.price)),
        _("Send the new price in CNY, e.g. 35.50."),
    ]), _keys(_, draft))


def bad_price(_: Translator, draft: Draft) -> View:
    return View(_("That is not a price: send an amount in CNY with at most 2 decimals, from 0 to {max}, e.g. 35.50.",
                  max=_.money(int(service.PRICE_MAX) * 100)), _keys(_, draft))


def text_please(_: Translator, draft: Draft) -> View:
    if draft.step == service.CODE_STEP:
        return View(_("Please type the part code as text."), _keys(_, draft, back=False))
    return View(_("Please type the price as text, e.g. 35.50."), _keys(_, draft))


def too_long(_: Translator, draft: Draft, limit: int) -> View:
    return View(_("That is too long: at most {max} characters.", max=limit), _keys(_, draft, back=draft.step != service.CODE_STEP))


def card(_: Translator, draft: Draft, proposal: service.PriceChange) -> View:
    return View("\n".join([
        _("Change the price of {part}?", part=_part(proposal.part)),
        _("From {old} to <b>{new}</b>.", old=_price(_, proposal.old), new=_.money(proposal.new)),
        _("Quotes already sent keep their amounts; reports written from now on cost the part at the new price."),
    ]), inline([[dialog_button(_("✅ Change the price"), draft, CHANGE, str(proposal.new))],
                [dialog_button(back_label(_), draft, BACK), dialog_button(cancel_label(_), draft, STOP)]]))


def changed(_: Translator, change: service.PriceChange) -> View:
    return View(_("✅ The price of {part} is now {new} (was {old}).", part=_part(change.part), new=_.money(change.new),
                  old=_price(_, change.old)))


def changed_meanwhile(_: Translator, refused: service.PriceChanged) -> View:
    return View(_("The price of {part} was changed meanwhile to {price}: yours was not applied. Send /price again if it still should be.",
                  part=_part(refused.part), price=_price(_, refused.part.price)))


def part_gone(_: Translator) -> View:
    return View(_("That part is no longer in the catalog; nothing was changed."))


def cancelled(_: Translator) -> View:
    return View(_("Cancelled. The price was not changed."))
