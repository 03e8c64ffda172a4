"""Maintenance reminders as the customer and the dispatchers see them, and the booking replies."""
from __future__ import annotations

from datetime import date

from babel.dates import format_date

from bot.callbacks import MaintenanceButton
from bot.i18n import Html, Translator
from bot.keyboards import button, inline
from bot.services.maintenance import ReminderCard
from bot.views import View
from storage.models import Product, ServiceRequest


def _day(_: Translator, day: date) -> str:
    return format_date(day, "medium", locale=_.locale)


def _product(product: Product) -> str:
    return f"{product.model} · {product.serial}"


def customer_reminder(_: Translator, card: ReminderCard) -> View:
    text = "\n".join([
        _("🔧 <b>Maintenance due</b>"),
        _("Periodic maintenance of your {product} is due on {date}.", product=_product(card.product), date=_day(_, card.reminder.due_on)),
        _("Press “Book maintenance” and we will arrange an engineer's visit."),
    ])
    return View(text, _book_button(_, card))


def not_booked_reminder(_: Translator, card: ReminderCard) -> View:
    """The second reminder, on the due date, when nothing was booked from the first."""
    text = "\n".join([
        _("🔧 <b>Maintenance not booked yet</b>"),
        _("The periodic maintenance of your {product}, due on {date}, is not booked yet.", product=_product(card.product), date=_day(_, card.reminder.due_on)),
        _("Press “Book maintenance” and we will arrange an engineer's visit."),
    ])
    return View(text, _book_button(_, card))


def _book_button(_: Translator, card: ReminderCard):
    return inline([[button(_("🔧 Book maintenance"), MaintenanceButton(card.reminder.id, "book"))]])


def dispatcher_list(_: Translator, cards: list[ReminderCard], due_day: bool = False) -> View | None:
    """The reminders of the day, or (`due_day`) the maintenance falling due with nothing booked."""
    if not cards:
        return None
    if due_day:
        lines = [_.ngettext("🔧 <b>Maintenance due and not booked: {n} product</b>", "🔧 <b>Maintenance due and not booked: {n} products</b>", len(cards))]
    else:
        lines = [_.ngettext("🔧 <b>Maintenance falls due for {n} product</b>", "🔧 <b>Maintenance falls due for {n} products</b>", len(cards))]
    for card in cards:
        line = _line(_, card)
        if card.booked is not None:
            line += " " + _("(booked: {number})", number=card.booked.number)
        lines.append(line if due_day or card.reached or card.booked is not None else "📞 " + line)
    if due_day:
        lines.append(_("Their due date has come and nobody booked the visit: please phone the customers."))
    else:
        lines.append(_("📞 marks those to call: they are not on this bot or cannot be reached on it. The others got a “Book maintenance” button."))
    return View("\n".join(lines))


def _line(_: Translator, card: ReminderCard) -> str:
    """Product — owner (with the phone to call, when there is a customer) — due date."""
    product, day = _product(card.product), _day(_, card.reminder.due_on)
    if card.customer is not None and card.customer.erased_at is not None:
        return _("{product} — {owner} — due on {date}", product=product, owner=_("customer's data erased"), date=day)
    if card.customer is not None:
        return _("{product} — {owner}, {phone} — due on {date}", product=product, owner=card.customer.name, phone=card.customer.phone, date=day)
    return _("{product} — {owner} — due on {date}", product=product, owner=card.product.owner_name or _("no customer registered"), date=day)


def default_description(_: Translator, product: Product, due_on: date) -> str:
    """What the maintenance request says unless the customer changes it (plain text, stored as typed)."""
    return _("Periodic maintenance of {product}, due on {date}.", product=Html(_product(product)), date=Html(_day(_, due_on)))


def booking_started(_: Translator, product: Product, due_on: date) -> str:
    return _("Booking maintenance of {product} (due on {date}). Check the details below; you can change the description.", product=_product(product), date=_day(_, due_on))


def already_booked(_: Translator, request: ServiceRequest) -> str:
    return _("This maintenance is already booked: request {number}. Follow it with /my.", number=request.number)


def no_longer_yours(_: Translator) -> str:
    return _("This product is no longer registered to you, so maintenance cannot be booked from this reminder. If that is a mistake, please contact us.")
