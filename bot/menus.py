"""Command menus: the default one for customers, and one per staff member by their roles."""
from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.i18n import N_, Translator
from storage.models import User

log = logging.getLogger(__name__)

CUSTOMER_COMMANDS = (
    ("new", N_("Report a problem or ask a question")),
    ("my", N_("My requests")),
    ("products", N_("My products and warranty")),
    ("complain", N_("Complain about the service, an engineer or a product")),
    ("profile", N_("My name and phone")),
    ("help", N_("What this bot can do")),
    ("language", N_("Change language")),
    ("cancel", N_("Stop the current step")),
)
ROLE_COMMANDS = {
    "admin": (("invite", N_("Invite a staff member")), ("staff", N_("Staff and their roles")),
              ("import", N_("Import the product registry or parts catalog"))),
    "dispatcher": (("queue", N_("Requests waiting for an engineer")), ("overdue", N_("Deadlines missed or at risk"))),
    "service_manager": (("approvals", N_("Approvals waiting for me")), ("overdue", N_("Deadlines missed or at risk"))),
    "marketing_vp": (("approvals", N_("Approvals waiting for me")), ("overdue", N_("Deadlines missed or at risk"))),
    "production_vp": (("approvals", N_("Approvals waiting for me")), ("overdue", N_("Deadlines missed or at risk"))),
    "general_manager": (("approvals", N_("Approvals waiting for me")), ("overdue", N_("Deadlines missed or at risk"))),
    "salesperson": (("sell", N_("File a request for a customer")),),
    "engineer": (("jobs", N_("My jobs")), ("duty", N_("Go on or off duty")), ("profile", N_("My region, skills and phone"))),
    "technical_expert": (("cases", N_("Cases waiting for my analysis")), ("duty", N_("Go on or off duty")), ("profile", N_("My region, skills and phone"))),
}
TELEGRAM_LANGUAGE_CODES = {"en": "en", "ru": "ru", "zh_Hans": "zh"}


def commands_for(_: Translator, roles: frozenset[str]) -> list[BotCommand]:
    names = dict(CUSTOMER_COMMANDS)
    for role in sorted(roles):
        names.update(dict(ROLE_COMMANDS.get(role, ())))
    return [BotCommand(name, _(description)) for name, description in names.items()]


async def apply_for(bot: Any, user: User, _: Translator) -> None:
    """Give this person's chat the menu of their roles in their language. Without roles, a
    customer who chose a language gets the customer menu in it; the others the default menu
    of their Telegram app's language (set at start-up), which is the one they read."""
    scope = BotCommandScopeChat(user.telegram_id)
    try:
        if user.is_active and user.role_names & set(ROLE_COMMANDS):
            await bot.set_my_commands(commands_for(_, user.role_names), scope=scope)
        elif user.language_chosen:
            await bot.set_my_commands(commands_for(_, frozenset()), scope=scope)
        else:
            await bot.delete_my_commands(scope=scope)
    except TelegramError as exc:  # a menu is a convenience; never fail the action for it
        log.warning("could not set the command menu of user %s: %s", user.id, exc)

# Spare parts and stock: the warehouse issues requisitions; managers and admins look at the stock.
ROLE_COMMANDS["warehouse"] = ROLE_COMMANDS.get("warehouse", ()) + (
    ("issue", N_("Approved parts requisitions to issue")), ("stock", N_("Spare parts in stock")),
)
for _role in ("service_manager", "marketing_vp", "production_vp", "general_manager", "finance", "admin"):
    ROLE_COMMANDS[_role] = ROLE_COMMANDS.get(_role, ()) + (("stock", N_("Spare parts in stock")),)
del _role

# Returns on their way back (handlers/returns.py): whoever tracks them (bot/services/returns.py TRACKER_ROLES).
for _role in ("warehouse", "service_manager"):
    ROLE_COMMANDS[_role] = ROLE_COMMANDS.get(_role, ()) + (("returns", N_("Returns waiting on the warehouse")),)
del _role

# Follow-up calls after closed jobs (handlers/followups.py): the callers record, dispatchers may read.
ROLE_COMMANDS["callback"] = ROLE_COMMANDS.get("callback", ()) + (("calls", N_("Follow-up calls due")),)

# The service archive (handlers/archive.py): dispatchers and managers export a customer's or project's file.
for _role in ("dispatcher", "service_manager", "marketing_vp", "production_vp", "general_manager"):
    ROLE_COMMANDS[_role] = ROLE_COMMANDS.get(_role, ()) + (("archive", N_("Service archive of a customer or project")),)
del _role

# Complaints (handlers/complaints.py): the supervisor acts; service and general managers read along.
ROLE_COMMANDS["complaint_supervisor"] = ROLE_COMMANDS.get("complaint_supervisor", ()) + (
    ("complaints", N_("Complaints waiting for an answer")), ("complaint", N_("Register a complaint phoned or written in")),
)
for _role in ("service_manager", "general_manager"):
    ROLE_COMMANDS[_role] = ROLE_COMMANDS.get(_role, ()) + (("complaints", N_("Complaints waiting for an answer")),)
del _role

# The monthly report (handlers/reports.py): managers and finance.
for _role in ("service_manager", "marketing_vp", "production_vp", "general_manager", "finance"):
    ROLE_COMMANDS[_role] = ROLE_COMMANDS.get(_role, ()) + (("report", N_("Monthly report with KPIs")),)
del _role

# Part prices (handlers/prices.py): finance prices parts (DESIGN), admins too.
for _role in ("finance", "admin"):
    ROLE_COMMANDS[_role] = ROLE_COMMANDS.get(_role, ()) + (("price", N_("Change a spare part's price")),)
del _role

# Personal-data erasure on a customer's request (handlers/erasure.py): admins only.
ROLE_COMMANDS["admin"] = ROLE_COMMANDS.get("admin", ()) + (("erase", N_("Erase a customer's personal data")),)
