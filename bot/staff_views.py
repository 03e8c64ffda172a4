"""What staff administration shows: invites, the staff list and a staff member's card."""
from __future__ import annotations

from bot.callbacks import InviteRoleButton, StaffButton
from bot.i18n import Translator
from bot.keyboards import button, inline
from bot.labels import ROLE_LABELS
from bot.services.users import STAFF_ROLES
from bot.telegram_text import shorten
from bot.views import View
from storage.models import Invite, User

ROLE_ORDER = tuple(role for role in ROLE_LABELS if role in STAFF_ROLES)


def display_name(user: User) -> str:
    return user.full_name or user.first_name or f"#{user.telegram_id}"


def invite_role_prompt(_: Translator) -> View:
    buttons = [button(_(ROLE_LABELS[role]), InviteRoleButton(role)) for role in ROLE_ORDER]
    return View(_("Which role is the invite for?"), inline([buttons[i:i + 2] for i in range(0, len(buttons), 2)]))


def invite_created(_: Translator, invite: Invite, link: str) -> View:
    return View("\n".join([
        _("Invite for the role <b>{role}</b>:", role=_(ROLE_LABELS[invite.role])),
        link,
        _("It works once, until {time}. Send it only to the person it is meant for.", time=_.datetime(invite.expires_at)),
    ]))


def invite_refused(_: Translator, reason: str) -> str:
    return {
        "used": _("This invite has already been used. Ask your admin for a new one."),
        "expired": _("This invite has expired. Ask your admin for a new one."),
    }.get(reason, _("This invite link is not valid. Check that you opened the whole link, or ask your admin for a new one."))


def welcome_staff(_: Translator, role: str) -> str:
    return _("Welcome to the team! You now have the role: {role}. Your commands are in the menu; /help explains them.", role=_(ROLE_LABELS[role]))


def staff_list(_: Translator, people: list[User]) -> View:
    lines = [_("<b>Staff</b> ({count})", count=len(people))]
    rows = []
    for person in people:
        roles = ", ".join(_(ROLE_LABELS[r]) for r in ROLE_ORDER if r in person.role_names)
        state = "" if person.is_active else " ⛔"
        lines.append(_("{name}{state} — {roles}", name=shorten(display_name(person), 40), state=state, roles=roles))
        rows.append([button(shorten(display_name(person), 40) + state, StaffButton(person.id, "open"))])
    return View("\n".join(lines), inline(rows))


def staff_card(_: Translator, person: User) -> View:
    lines = [
        _("<b>{name}</b>", name=display_name(person)),
        _("Status: {value}", value=_("active") if person.is_active else _("deactivated")),
        _("On duty: {value}", value=_("yes") if person.on_duty else _("no")),
    ]
    if person.phone:
        lines.append(_("Phone: {value}", value=person.phone))
    if person.region:
        lines.append(_("Region: {value}", value=person.region))
    lines.append(_("Roles: tap to grant ➕ or withdraw ✅."))
    role_buttons = [
        button(("✅ " if role in person.role_names else "➕ ") + _(ROLE_LABELS[role]), StaffButton(person.id, "role", role))
        for role in ROLE_ORDER
    ]
    rows = [role_buttons[i:i + 2] for i in range(0, len(role_buttons), 2)]
    toggle = ("deactivate", _("⛔ Deactivate")) if person.is_active else ("activate", _("✅ Reactivate"))
    rows.append([button(toggle[1], StaffButton(person.id, toggle[0])), button(_("‹ Back to staff"), StaffButton(0, "list"))])
    return View("\n".join(lines), inline(rows))
