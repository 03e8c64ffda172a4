"""The salesperson's dialog for filing a request on a customer's behalf, and what people read."""
from __future__ import annotations

from bot.i18n import Translator
from bot.keyboards import dialog_button, dialog_nav, inline
from bot.labels import CLOCK_LABELS, KIND_LABELS
from bot.services import sales, validation
from bot.services.validation import DESCRIPTION_MAX
from bot.views import View
from storage.models import Customer, Draft, ServiceRequest, SlaClock


def prompt(_: Translator, draft: Draft, known: Customer | None = None) -> View:
    """The question of the current step, with its buttons (Back and Cancel on every step);
    `known`: the customer record that already has the form's phone (`sales.known_customer`)."""
    step = draft.step
    if step == sales.KIND:
        rows = [[dialog_button(_(KIND_LABELS[kind]), draft, "kind", kind)] for kind in sales.KINDS]
        return View(_("<b>Request for a customer</b>\nWhat does the customer need?"), inline([*rows, dialog_nav(_, draft, back=False)]))
    if step == sales.NAME:
        return View(_("The customer's name (a person or a company):"), inline([dialog_nav(_, draft)]))
    if step == sales.PHONE:
        return View(_("The customer's phone number, e.g. +86 138 0013 8000:"), inline([dialog_nav(_, draft)]))
    if step == sales.PRODUCT:
        return View(_("The product's serial number, if you know it:"), inline([[dialog_button(_("I don't know it"), draft, "skip")], dialog_nav(_, draft)]))
    if step == sales.DESCRIPTION:
        return View(_("What is wrong, or what is to be done? (up to {limit} characters)", limit=DESCRIPTION_MAX), inline([dialog_nav(_, draft)]))
    return summary(_, draft, known)


def resumed(_: Translator) -> str:
    return _("You have an unfinished request for a customer; let's continue where you stopped.")


def summary(_: Translator, draft: Draft, known: Customer | None = None) -> View:
    data = draft.data
    kind = KIND_LABELS[data["kind"]]
    lines = [
        _("<b>Check the request</b>"),
        _("Type: {value}", value=_(kind)),
        _("Customer: {name}, {phone}", name=data["name"], phone=data["phone"]),
    ]
    if sales.files_under_another_name(draft, known):
        lines.append(_("⚠️ This phone is already in our records as the customer {name}: the request is filed for that customer, "
                       "not under the name typed. If that is someone else, go back to the phone step and correct it.", name=known.name))
    lines += [
        _("Product: {value}", value=data.get("serial") or _("unknown")),
        _("Description: {value}", value=data["description"]),
        _("It goes to the marketing VP and then the production VP for approval before the service department takes it on."),
    ]
    rows = [[dialog_button(_("📤 Send for approval"), draft, "send")], dialog_nav(_, draft)]
    return View("\n".join(lines), inline(rows))


def reask(_: Translator, draft: Draft) -> str:
    texts = {
        sales.KIND: _("Please choose with one of the buttons what the customer needs."),
        sales.NAME: _("Please type the customer's name as text."),
        sales.PHONE: _("That is not a phone number I can use. Please type it with the country code, e.g. +86 138 0013 8000."),
        sales.PRODUCT: _("That is not a serial number (letters, digits, spaces and . / _ -, 3–{max} characters). Type it again or press “I don't know it”.",
                         max=validation.SERIAL_MAX),
        sales.DESCRIPTION: _("Please describe it as text."),
        sales.REVIEW: _("Please use the buttons under the summary."),
    }
    return texts[draft.step]


def filed(_: Translator, request: ServiceRequest, reached: int) -> View:
    text = _("📤 Request <b>{number}</b> is registered and sent for approval. You will be told when it is decided.", number=request.number)
    if not reached:
        text += "\n" + _("⚠️ Nobody with that role could be reached yet; it waits in /approvals and its deadline reminders escalate it.")
    return View(text)


def for_customer(_: Translator, request: ServiceRequest, promise: SlaClock | None) -> View:
    """The customer (if they use the bot) learns about the request once the service department has it."""
    lines = [_("✅ Our sales team registered request <b>{number}</b> for you; the service department now takes it on.", number=request.number)]
    if promise is not None and promise.due_at is not None:
        # the promise of the clock that runs (a consultation's is its answer), as the intake words it
        lines.append(_("{label}: {time}", label=_(CLOCK_LABELS.get(promise.kind, CLOCK_LABELS["first_contact"])), time=_.datetime(promise.due_at)))
    lines.append(_("Follow it any time with /my."))
    return View("\n".join(lines))


def not_sales(_: Translator) -> str:
    return _("This command is for the sales team.")
