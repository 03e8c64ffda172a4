"""Alerts the outbox sender raises on its own: somebody blocked the bot."""
from __future__ import annotations

from bot.i18n import Translator
from bot.labels import ROLE_LABELS
from bot.services.notices import Unreachable
from bot.staff_views import ROLE_ORDER, display_name
from bot.views import View


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
