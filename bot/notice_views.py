"""Notices the outbox renders as it sends them: somebody blocked the bot (or an answer met the block), a report closed by timeout."""
from __future__ import annotations

import html

from bot.i18n import Translator
from bot.labels import ROLE_LABELS
from bot.services.notices import Unreachable
from bot.staff_views import ROLE_ORDER, display_name
from bot.views import View
from storage.models import Complaint, Customer, ServiceRequest


def unreachable_alert(_: Translator, found: Unreachable) -> View:
    """Told once per block: the desk can no longer write to this person, somebody must call them."""
    if found.customer is None:
        roles = ", ".join(_(ROLE_LABELS[role]) for role in ROLE_ORDER if role in found.person.role_names)
        text = _(
            "⚠️ {name} ({roles}) has blocked the bot: work notifications no longer reach them. Please get in touch with them another way.",
            name=display_name(found.person), roles=roles or "—",
        )
        if found.open_requests:
            text += "\n" + _("Their open jobs: {numbers}", numbers=", ".join(request.number for request in found.open_requests))
        return View(text)
    text = _(
        "⚠️ Customer {name} ({phone}) has blocked the bot: our messages no longer reach them. Please call them.",
        name=found.customer.name, phone=found.customer.phone,
    )
    if found.open_requests:
        text += "\n" + _("Open requests: {numbers}", numbers=", ".join(request.number for request in found.open_requests))
    return View(text)


def answer_undelivered(_: Translator, complaint: Complaint, request: ServiceRequest, customer: Customer) -> View:
    """To the supervisor who sent a complaint's written answer that waited for the customer's quiet
    hours and then met a block: it was promised as delivered, somebody must give it another way."""
    lines = [
        _("⚠️ The written answer to complaint {number} could not be delivered: customer {name} ({phone}) has blocked the bot. "
          "Please give them the answer by phone or in writing.", number=request.number, name=customer.name, phone=customer.phone),
        "",
        html.escape(complaint.answer or "", quote=False),
    ]
    return View("\n".join(lines))


def closed_by_timeout(_: Translator, number: str, hours: int) -> View:
    """To the customer who did not answer the work report."""
    return View(_(
        "Request {number} is closed: we did not hear back within {hours} hours after the work report, so we count it as resolved. If the problem comes back, report it with /new.",
        number=number, hours=hours,
    ))


def closed_by_timeout_for_staff(_: Translator, number: str, hours: int) -> View:
    """To the engineer whose report it was and the dispatchers: the job left their lists unanswered."""
    return View(_(
        "🕑 Request {number} is closed as confirmed by timeout: the customer did not answer the work report within {hours} hours.",
        number=number, hours=hours,
    ))
