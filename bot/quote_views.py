"""Quotes: the builder dialog for staff, the itemised offer the customer answers, the notices."""
from __future__ import annotations

from bot.callbacks import DispatchButton, QuoteButton
from bot.i18n import Translator
from bot.keyboards import button, dialog_button, dialog_nav, inline
from bot.services import approvals, quotes
from bot.services.validation import MAX_QUANTITY
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View
from storage.models import Approval, Customer, Draft, Part, Quote, QuoteLine, ServiceRequest, User


def _lines_so_far(_: Translator, draft: Draft) -> list[str]:
    return [_("• {code} {name} × {quantity} = {total}", code=line["code"], name=line["name"], quantity=line["quantity"],
              total=_.money(line["quantity"] * line["unit_minor"])) for line in draft.data.get("lines", [])]


def prompt(_: Translator, draft: Draft, matches: list[Part] | None = None) -> View:
    step = draft.step
    if step == quotes.PARTS:
        lines = [_("<b>Quote</b> — parts. Type a part code or a word of its name; only parts with a catalog price can be quoted.")]
        lines += _lines_so_far(_, draft)
        rows = [[dialog_button(shorten(f"{p.code} · {p.name} · {_.money(p.price)}", 60), draft, "part", str(p.id))] for p in matches or []]
        rows.append([dialog_button(_("Parts done ›"), draft, "done")])
        rows.append(dialog_nav(_, draft, back=False))
        return View("\n".join(lines), inline(rows))
    if step == quotes.PART_QTY:
        pending = draft.data["pending"]
        return View(_("How many of “{name}” at {price} each? Type a whole number from 1 to {max}.", name=pending["name"], price=_.money(pending["unit_minor"]), max=MAX_QUANTITY),
                    inline([dialog_nav(_, draft)]))
    if step == quotes.LABOUR:
        return View(_("Labour in CNY (0 if none), e.g. 600:"), inline([dialog_nav(_, draft)]))
    if step == quotes.TRAVEL:
        return View(_("Travel in CNY (0 if none), e.g. 350:"), inline([dialog_nav(_, draft)]))
    return review(_, draft)


def review(_: Translator, draft: Draft) -> View:
    sums = quotes.totals(draft.data)
    lines = [_("<b>Check the quote</b>"), *_lines_so_far(_, draft), *_sums(_, sums.parts, sums.labour, sums.travel, sums.total)]
    rows = [[dialog_button(_("📤 Send to the customer"), draft, "send")], dialog_nav(_, draft)]
    return View("\n".join(lines), inline(rows))


def _sums(_: Translator, parts: int, labour: int, travel: int, total: int) -> list[str]:
    return [
        _("Parts: {amount}", amount=_.money(parts)),
        _("Labour: {amount}", amount=_.money(labour)),
        _("Travel: {amount}", amount=_.money(travel)),
        _("<b>Total: {amount}</b>", amount=_.money(total)),
    ]


def reask(_: Translator, draft: Draft, *, typed: bool = True) -> str:
    """`typed` False: a photo, sticker or the like where text was asked for."""
    if draft.step == quotes.PARTS and not typed:
        return _("Please type a part code or a word of its name, or press “Parts done”.")
    if draft.step == quotes.PARTS:
        return _("No priced part matches that. Type another code or name, or press “Parts done”.")
    if draft.step == quotes.PART_QTY:
        return _("Please type the quantity as a whole number from 1 to {max}.", max=MAX_QUANTITY)
    if draft.step in (quotes.LABOUR, quotes.TRAVEL):
        return _("Please type an amount in CNY with at most two decimals, e.g. 600 or 0.")
    return _("Please use the buttons under the quote.")


def for_customer(_: Translator, quote: Quote, lines: list[QuoteLine], request: ServiceRequest) -> View:
    """The itemised offer with Accept / Decline."""
    text = [_("💰 <b>Quote for request {number}</b>", number=request.number),
            _("This work is not covered by warranty. It starts once you accept.")]
    text += _items(_, quote, lines)
    rows = [[button(_("✅ Accept"), QuoteButton(quote.id, "accept")), button(_("❌ Decline"), QuoteButton(quote.id, "decline"))]]
    return View("\n".join(text), inline(rows))


def _items(_: Translator, quote: Quote, lines: list[QuoteLine]) -> list[str]:
    """The quote's lines and sums, as the customer reads them."""
    return [*(_("• {code} {name} × {quantity} = {total}", code=line.code, name=line.name, quantity=line.quantity, total=_.money(line.total_minor))
              for line in lines), *_sums(_, quote.parts_minor, quote.labour_minor, quote.travel_minor, quote.total_minor)]


def phone_answer_row(_: Translator, quote_id: int, *, on_card: bool = False) -> list:
    """Staff record the answer the customer gave on the phone (`on_card`: under the dispatcher's request card)."""
    return [button(_("☎️ Accepted by phone"), QuoteButton(quote_id, "phone_yes", int(on_card))),
            button(_("☎️ Declined by phone"), QuoteButton(quote_id, "phone_no", int(on_card)))]


def for_salesperson(_: Translator, quote: Quote, lines: list[QuoteLine], request: ServiceRequest, customer: Customer, reached: bool) -> View:
    """The quote of a request the salesperson filed: they are in touch with the customer."""
    text = [_("💰 <b>Quote for request {number}</b>, which you filed for {name} ({phone})", number=request.number, name=customer.name, phone=customer.phone)]
    if reached:
        text.append(_("They have it in the chat and may answer there. If they answer you by phone, record it here."))
    else:
        text.append(_("They have no chat with us: please call them with this quote, then record their answer here. The work starts once they accept."))
    return View("\n".join(text + _items(_, quote, lines)), inline([phone_answer_row(_, quote.id)]))


def unreached_for_dispatcher(_: Translator, quote: Quote, lines: list[QuoteLine], request: ServiceRequest, customer: Customer) -> View:
    """Nobody could give the customer the quote in a chat: a dispatcher calls them."""
    text = [_("☎️ <b>Quote for request {number}</b>: the customer could not be reached in the chat. Call {name} ({phone}) with it and record their answer.",
              number=request.number, name=customer.name, phone=customer.phone)]
    return View("\n".join(text + _items(_, quote, lines)), inline([phone_answer_row(_, quote.id)]))


def sent(_: Translator, quote: Quote, request: ServiceRequest, reached: bool, salesperson: User | None = None) -> str:
    """`salesperson`: the one who filed the request and was given the quote too."""
    if reached:
        return _("💰 Quote of {amount} sent for {number}; you will be told when the customer answers.", amount=_.money(quote.total_minor), number=request.number)
    text = _("💰 Quote of {amount} sent for {number}.", amount=_.money(quote.total_minor), number=request.number) + "\n"
    if salesperson is not None:
        return text + _("⚠️ The customer could not be reached in this chat. {name}, the salesperson who filed the request, has the quote: "
                        "they or a dispatcher call the customer and record the answer; you will be told then.", name=display_name(salesperson))
    return text + _("⚠️ The customer could not be reached in this chat. A dispatcher calls them and records the answer; you will be told then.")


def answered_for_customer(_: Translator, quote: Quote, request: ServiceRequest) -> str:
    if quote.status == quotes.ACCEPTED:
        return _("✅ You accepted the quote of {amount} for {number}. We will arrange the work with you.", amount=_.money(quote.total_minor), number=request.number)
    return _("You declined the quote for {number}. The service department will get back to you.", number=request.number)


def answered_for_staff(_: Translator, quote: Quote, request: ServiceRequest, *, dispatcher: bool, recorded_by: User | None = None) -> View:
    """`recorded_by`: the staff member who recorded an answer the customer gave on the phone."""
    phone = "\n" + _("☎️ Given by phone; recorded by {name}.", name=display_name(recorded_by)) if recorded_by is not None else ""
    if quote.status == quotes.ACCEPTED:
        return View(_("✅ The customer accepted the quote of {amount} for {number}: the work can start.", amount=_.money(quote.total_minor), number=request.number) + phone)
    text = _("❌ The customer declined the quote of {amount} for {number}.", amount=_.money(quote.total_minor), number=request.number) + phone
    if not dispatcher:
        return View(text)
    rows = [[button(_("💸 Ask for a fee waiver"), DispatchButton(request.id, "waiver", "quote"))],
            [button(_("🗂 Close the request"), DispatchButton(request.id, "close"))]]
    return View(text + "\n" + _("Close the request, or ask the approvers to waive the fee."), inline(rows))


def already_answered(_: Translator) -> str:
    return _("This quote was already answered or replaced by a newer one.")


def no_longer_paid(_: Translator) -> str:
    """To staff recording a phone answer: the work was ruled in warranty meanwhile."""
    return _("The work was ruled in warranty meanwhile: the quote no longer applies and the customer pays nothing.")


def waived_for_staff(_: Translator) -> str:
    return _("An approved fee waiver covers this quote: the customer pays nothing, so there is no answer to record.")


def answered_for_trackers(_: Translator, quote: Quote, request: ServiceRequest) -> str:
    """The note on a paid-repair return's tracking card: what the warehouse does with the product now."""
    if quote.status == quotes.ACCEPTED:
        return _("✅ The customer accepted the quote of {amount} for {number}: repair the product, then press “🔧 Repaired”.",
                 amount=_.money(quote.total_minor), number=request.number)
    return _("❌ The customer declined the quote of {amount} for {number}: send the product back unrepaired (“📤 Sent back unrepaired”), "
             "unless a fee waiver is approved.", amount=_.money(quote.total_minor), number=request.number)


def waiver_for_trackers(_: Translator, approval: Approval, request: ServiceRequest) -> str:
    """The note on a paid-repair return's tracking card once the fee waiver asked for it is decided."""
    if approval.status == approvals.APPROVED:
        return _("✅ A fee waiver of {amount} for {number} is approved: the company carries the cost. Repair the product, then press “🔧 Repaired”.",
                 amount=_.money(approval.amount_minor or 0), number=request.number)
    return _("❌ The fee waiver for {number} was rejected and the customer declined the quote: send the product back unrepaired (“📤 Sent back unrepaired”).",
             number=request.number)
