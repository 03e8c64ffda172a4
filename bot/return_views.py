"""What returns look like: the customer's dialog and messages, and the staff's tracking card.
The rules are in bot/services/returns.py; typed text goes in through escaping placeholders."""
from __future__ import annotations

import html
from datetime import date

from babel.dates import format_date
from telegram import InlineKeyboardButton

from bot.callbacks import DispatchButton, ReturnButton
from bot.i18n import Translator
from bot.keyboards import button, dialog_button, dialog_nav, inline
from bot.labels import RETURN_OUTCOME_LABELS, RETURN_REASON_LABELS, RETURN_STATE_LABELS, SHIPPING_PAYER_LABELS
from bot.policy import ReturnPolicy
from bot.services import returns
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View, request_description
from storage.models import Draft, Product, ReturnCase, ServiceRequest


def _day(_: Translator, day: date) -> str:
    return format_date(day, "medium", locale=_.locale)


def _product(product: Product | None) -> str:
    return shorten(f"{product.model} · {product.serial}", 120) if product is not None else "—"


def _since(_: Translator, product: Product, day: date) -> str:
    if product.sale_date == day:
        return _("Sold on {date}", date=_day(_, day))
    return _("Commissioned on {date} (no sale date in the registry)", date=_day(_, day))


def proposal_lines(_: Translator, proposal: returns.Proposal, product: Product) -> list[str]:
    """The outcome the windows give, why, and who pays the shipping to us."""
    since, end = _since(_, product, proposal.counted_from), _day(_, proposal.window_end) if proposal.window_end else ""
    why = {
        returns.REFUND_UNUSED: _("{since}: an unused, intact product can be returned without giving a reason until {end}.", since=since, end=end),
        returns.REFUND: _("{since}: a product with a quality fault is refunded until {end}.", since=since, end=end),
        returns.EXCHANGE: _("{since}: the refund period is over; a product with a quality fault is exchanged for a new one until {end}.", since=since, end=end),
        returns.FREE_REPAIR: _("{since}: the exchange period is over; a quality fault is repaired free of charge until {end}.", since=since, end=end),
        returns.PAID_REPAIR: _("{since}: the free-repair period ended on {end}; the repair is paid, and you are told the cost before any work.", since=since, end=end),
        returns.NOT_RETURNABLE: _("{since}: an unused product can be returned without a reason only until {end}. If it has a quality fault, choose “Quality fault”.", since=since, end=end),
    }[proposal.outcome]
    lines = [_("Proposed: <b>{outcome}</b>", outcome=_(RETURN_OUTCOME_LABELS[proposal.outcome])), why]
    if proposal.shipping_paid_by is not None:
        lines.append(shipping_line(_, proposal.shipping_paid_by))
    return lines


def shipping_line(_: Translator, payer: str) -> str:
    if payer == "company":
        return _("Shipping to us is at the company's cost.")
    return _("Shipping to us is at your cost.")


# --- the customer's dialog --------------------------------------------------------------------


def prompt(_: Translator, draft: Draft, *, products: list[Product] = (), product: Product | None = None, proposal: returns.Proposal | None = None) -> View:
    """The current step of the dialog."""
    step = draft.step
    if step == returns.PRODUCT:
        rows = [[dialog_button(_product(p), draft, "product", str(p.id))] for p in products]
        from_intake = returns.back_to_intake(draft)
        if from_intake:  # begun in /new: a product the registry does not know goes on there
            rows.append([dialog_button(_("📝 Another product, not in this list"), draft, "unlisted")])
        rows.append(dialog_nav(_, draft, back=from_intake))
        return View(_("↩️ Which product do you want to return or exchange?"), inline(rows))
    if step == returns.REASON:
        rows = [
            [dialog_button(_("📦 Unused and intact"), draft, "reason", returns.UNUSED)],
            [dialog_button(_("🔧 Quality fault"), draft, "reason", returns.QUALITY)],
            dialog_nav(_, draft, back=bool(draft.data.get("asked_product"))),
        ]
        return View(_("↩️ Return or exchange of {product}. Is the product unused and intact, or does it have a quality fault?", product=_product(product)), inline(rows))
    if step == returns.DESCRIPTION:
        if returns.description_optional(draft):  # unused and intact: no reason needed (DESIGN.md §1)
            return View(
                _("Anything to add, such as the state of the packaging? Write it in one message (up to {limit} characters), or press “Skip”.", limit=returns.DESCRIPTION_LIMIT),
                inline([[dialog_button(_("Skip"), draft, "skip")], dialog_nav(_, draft)]),
            )
        return View(
            _("Describe it briefly in one message (up to {limit} characters): what happens, and since when.", limit=returns.DESCRIPTION_LIMIT),
            inline([dialog_nav(_, draft)]),
        )
    reason = RETURN_REASON_LABELS[draft.data["reason"]]
    lines = [
        _("<b>Your return request</b>"),
        _("Product: {value}", value=_product(product)),
        _("Reason: {value}", value=_(reason)),
        _("Description: {value}", value=shorten(draft.data.get("description") or "—", 500)),
        "",
        *proposal_lines(_, proposal, product),
        _("The service manager decides; then you get the shipping instructions here."),
    ]
    return View("\n".join(lines), inline([[dialog_button(_("✅ Send the request"), draft, "send")], dialog_nav(_, draft)]))




def reask_description(_: Translator, draft: Draft) -> View:
    return View(_("Please describe it as text, or press Cancel."), inline([dialog_nav(_, draft)]))


def reask_buttons(_: Translator) -> str:
    return _("Please use the buttons above, or press Cancel.")


def resumed(_: Translator) -> str:
    return _("You have an unfinished return request; let's continue where you stopped.")


def not_returnable(_: Translator, proposal: returns.Proposal, product: Product) -> str:
    return "\n".join(proposal_lines(_, proposal, product))


def no_products(_: Translator) -> str:
    return _("Returns are for registered products, and you have none yet. Claim yours in /products first, or report a problem with /new.")


def unknown_date(_: Translator, product: Product) -> str:
    return _("The registry has no sale date for {product}, so the return periods cannot be applied here. Please report it with /new; the service department will look into it.", product=_product(product))


def already_open(_: Translator, request: ServiceRequest) -> str:
    return _("A return of this product is already under way: {number}. See /my.", number=request.number)


def not_from_this_request(_: Translator) -> str:
    return _("A return or exchange cannot be asked from this request.")


def filed(_: Translator, request: ServiceRequest, proposal: returns.Proposal, reached: int) -> str:
    text = _("↩️ Your return request {number} is registered. Proposed: {outcome}. The service manager decides; you get the shipping instructions here.",
             number=request.number, outcome=_(RETURN_OUTCOME_LABELS[proposal.outcome]))
    if not reached:
        text += "\n" + _("It waits for a service manager; you will get a message when it is decided.")
    return text


# --- the customer is told ---------------------------------------------------------------------


def shipping_instructions(_: Translator, case: ReturnCase, request: ServiceRequest, product: Product | None, policy: ReturnPolicy) -> str:
    """After approval: what to send, where, and who pays the shipping."""
    lines = [
        _("✅ Your return {number} is approved: {outcome}.", number=request.number, outcome=_(RETURN_OUTCOME_LABELS[case.proposed_outcome])),
        _("Please send {product} with its accessories, well packed, to:", product=_product(product)),
        html.escape(policy.return_address, quote=False),
        _("Write the request number {number} on the parcel.", number=request.number),
    ]
    if case.shipping_paid_by == "company":
        lines.append(_("Shipping is at the company's cost: keep the shipping receipt, it is reimbursed."))
    else:
        lines.append(_("Shipping is at your cost."))
    lines.append(_("You will get a message when we receive it."))
    return "\n".join(lines)


def rejected_for_customer(_: Translator, case: ReturnCase, request: ServiceRequest) -> str:
    text = _("❌ Your return {number} was not approved.", number=request.number)
    if case.note:
        text += "\n" + _("Reason: {text}", text=case.note)
    return text + "\n" + _("If the product has a fault, you can report it with /new.")


def step_for_customer(_: Translator, case: ReturnCase, request: ServiceRequest) -> str:
    """Told at each tracking step."""
    number = request.number
    return {
        returns.RECEIVED: _("📦 We have received the product for {number}. It is inspected next.", number=number),
        returns.INSPECTED: _("🔍 The product for {number} has been inspected.", number=number),
        returns.REFUNDED: _("💰 {number}: your refund has been made. The request is closed.", number=number),
        returns.EXCHANGED: _("🔁 {number}: a new product is on its way to you in exchange. The request is closed.", number=number),
        returns.REPAIRED: _("🔧 {number}: the product is repaired and is sent back to you. The request is closed.", number=number),
        returns.SENT_BACK: _("📤 {number}: the product is sent back to you as it came, without repair. The request is closed.", number=number),
    }[case.state]


# --- staff: the tracking card -----------------------------------------------------------------


def tracking_rows(_: Translator, case: ReturnCase | None) -> list[list[InlineKeyboardButton]]:
    """The next step's buttons (also on the request's staff card)."""
    if case is None:
        return []
    if case.state == returns.APPROVED:
        return [[button(_("📦 Product received"), ReturnButton(case.id, returns.RECEIVED))]]
    if case.state == returns.RECEIVED:
        return [[button(_("🔍 Inspected"), ReturnButton(case.id, returns.INSPECTED))]]
    if case.state == returns.INSPECTED:
        return [[button(_("💰 Refunded"), ReturnButton(case.id, returns.REFUNDED)),
                 button(_("🔁 Exchanged"), ReturnButton(case.id, returns.EXCHANGED)),
                 button(_("🔧 Repaired"), ReturnButton(case.id, returns.REPAIRED))],
                [button(_("📤 Sent back unrepaired"), ReturnButton(case.id, returns.SENT_BACK))]]
    return []


def tracking_card(_: Translator, tracked: returns.Tracked, note: str | None = None) -> View:
    case, request, customer = tracked.case, tracked.request, tracked.customer
    lines = []
    if note:
        lines.append(note)
    lines += [
        _("↩️ <b>Return {number}</b> · {state}", number=request.number, state=_(RETURN_STATE_LABELS[case.state])),
        _("Customer: {name}, {phone}", name=customer.name, phone=customer.phone),
        _("Product: {value}", value=_product(tracked.product)),
        _("Reason: {value}", value=_(RETURN_REASON_LABELS[case.reason_kind])),
        _("Description: {value}", value=shorten(request_description(_, request), 300)),
        _("Proposed: {outcome} (suggested finish: {finish})", outcome=_(RETURN_OUTCOME_LABELS[case.proposed_outcome]),
          finish=_(RETURN_STATE_LABELS[returns.FINISH_FOR[case.proposed_outcome]])),
        _("Shipping paid by: {payer}", payer=_(SHIPPING_PAYER_LABELS[case.shipping_paid_by])),
    ]
    for label, moment in ((_("Received"), case.received_at), (_("Inspected"), case.inspected_at), (_("Finished"), case.finished_at)):
        if moment is not None:
            lines.append(_("{label}: {time}", label=label, time=_.datetime(moment)))
    rows = tracking_rows(_, case) + [[button(_("🔄 Refresh"), ReturnButton(case.id, "open"))]]
    return View("\n".join(lines), inline(rows))


def in_hand_empty(_: Translator) -> str:
    return _("No returns are waiting on the warehouse.")


def in_hand_more(_: Translator, shown: int, total: int) -> str:
    return _("Returns waiting on the warehouse: {total}. Shown above: the {shown} that waited longest.", shown=shown, total=total)


def payment_pending(_: Translator) -> str:
    return _("This repair is paid: mark it repaired once the customer has accepted the quote or a fee waiver is approved. The dispatchers quote it from the request card.")


def quote_needed(_: Translator, request: ServiceRequest) -> View:
    text = _("🧮 Return {number} is inspected and is a paid repair: send the customer a quote before the repair.", number=request.number)
    return View(text, inline([[button(_("📂 Open the request"), DispatchButton(request.id, "open"))]]))


def approved_note(_: Translator) -> str:
    return _("✅ Return approved: the customer has the shipping instructions. Press “Product received” when it arrives.")


def not_coming_note(_: Translator, request: ServiceRequest) -> str:
    """The request ended (the customer cancelled it, a dispatcher closed it) before the product was sent."""
    return _("❌ Return {number} is cancelled: the product is not coming.", number=request.number)


def step_note(_: Translator, case: ReturnCase, actor_name: str) -> str:
    return _("Marked “{state}” by {name}.", state=_(RETURN_STATE_LABELS[case.state]), name=actor_name)


def already_moved(_: Translator, case: ReturnCase) -> str:
    return _("This return is already “{state}”; nothing was changed.", state=_(RETURN_STATE_LABELS[case.state]))


def approval_reason(_: Translator, proposal: returns.Proposal, product: Product) -> str:
    """The approval's stored reason: plain text in the desk's default language, kept for the
    record; approvers read `case_reason`, in their own language."""
    return html.unescape(_reason_text(_, proposal.reason, proposal.days_since, proposal.counted_from, product,
                                      proposal.outcome, proposal.shipping_paid_by))


def case_reason(_: Translator, case: ReturnCase, product: Product | None) -> str:
    """A return approval's reason as the approver's card shows it, in the reader's language."""
    return html.unescape(_reason_text(_, case.reason_kind, case.days_since, case.counted_from, product,
                                      case.proposed_outcome, case.shipping_paid_by))


def _reason_text(_: Translator, reason: str, days: int, counted_from: date, product: Product | None, outcome: str, payer: str | None) -> str:
    return _("{reason}, day {days} after {date} ({product}). Proposed: {outcome}. Shipping paid by {payer}.",
             reason=_(RETURN_REASON_LABELS[reason]), days=days, date=_day(_, counted_from), product=_product(product),
             outcome=_(RETURN_OUTCOME_LABELS[outcome]), payer=_(SHIPPING_PAYER_LABELS[payer]))


def actor_name(user) -> str:
    return display_name(user)
