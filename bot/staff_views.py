"""What staff administration shows: invites, the staff list and a staff member's card."""
from __future__ import annotations

from bot.callbacks import InviteRoleButton, ProfileButton, StaffButton
from bot.i18n import N_, Translator
from bot.keyboards import button, dialog_nav, inline, pager
from bot.labels import ROLE_LABELS
from bot.services.users import SHOW_DETAILS, STAFF_ROLES
from bot.telegram_text import shorten
from bot.views import View
from storage.models import Draft, Invite, User

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
        "joined": _("You have already joined with this invite. Your commands are in the menu; /help explains them."),
        "expired": _("This invite has expired. Ask your admin for a new one."),
        "revoked": _("This invite is no longer valid: the admin who made it can no longer invite. Ask your admin for a new one."),
    }.get(reason, _("This invite link is not valid. Check that you opened the whole link, or ask your admin for a new one."))


def welcome_staff(_: Translator, role: str) -> str:
    return _("Welcome to the team! You now have the role: {role}. Your commands are in the menu; /help explains them.", role=_(ROLE_LABELS[role]))


STAFF_PAGE_SIZE = 20  # Telegram takes at most 100 buttons per message


def staff_list(_: Translator, people: list[User], page: int = 0, *, showing: int | None = None) -> View:
    """One page of the staff (active people first, as `all_staff` orders them); `showing` is
    a person's id: the page they are on (the card's "Back to staff")."""
    pages = max(1, -(-len(people) // STAFF_PAGE_SIZE))
    if showing is not None:
        page = next((i // STAFF_PAGE_SIZE for i, person in enumerate(people) if person.id == showing), 0)
    page = min(max(page, 0), pages - 1)  # the list may have shrunk since the button was sent
    if pages == 1:
        lines = [_("<b>Staff</b> ({count})", count=len(people))]
    else:
        lines = [_("<b>Staff</b> ({count}), page {page} of {pages}", count=len(people), page=page + 1, pages=pages)]
    rows = []
    for person in people[page * STAFF_PAGE_SIZE:(page + 1) * STAFF_PAGE_SIZE]:
        roles = ", ".join(_(ROLE_LABELS[r]) for r in ROLE_ORDER if r in person.role_names)
        state = "" if person.is_active else " ⛔"
        lines.append(_("{name}{state} — {roles}", name=shorten(display_name(person), 40), state=state, roles=roles))
        rows.append([button(shorten(display_name(person), 40) + state, StaffButton(person.id, "open"))])
    nav = pager(_, page, pages, lambda to: StaffButton(to, "list"))  # for "list" the id field holds the page
    return View("\n".join(lines), inline([*rows, nav]))


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
        button(("✅ " if role in person.role_names else "➕ ") + _(ROLE_LABELS[role]),
               StaffButton(person.id, "withdraw" if role in person.role_names else "grant", role))
        for role in ROLE_ORDER
    ]
    rows = [role_buttons[i:i + 2] for i in range(0, len(role_buttons), 2)]
    toggle = ("deactivate", _("⛔ Deactivate")) if person.is_active else ("activate", _("✅ Reactivate"))
    rows.append([button(toggle[1], StaffButton(person.id, toggle[0])), button(_("‹ Back to staff"), StaffButton(person.id, "back"))])
    return View("\n".join(lines), inline(rows))


def profile_view(_: Translator, person: User, *, also_customer: bool = False) -> View:
    """The staff member's own card: what dispatch uses to propose them (region, skills, duty).
    Someone who is also a customer reaches their customer details from it (another name and phone)."""
    lines = [
        _("<b>Your profile</b>"),
        _("Name: {value}", value=person.full_name or person.first_name),
        _("Phone: {value}", value=person.phone or "—"),
        _("Region: {value}", value=person.region or "—"),
        _("Skills (product lines): {value}", value=", ".join(person.skills or []) or "—"),
        _("On duty: {value}", value=_("yes") if person.on_duty else _("no")),
        _("Dispatchers see your region and skills when they choose an engineer for a job."),
    ]
    rows = [
        [button(_("✏️ Name"), ProfileButton("name")), button(_("✏️ Phone"), ProfileButton("phone"))],
        [button(_("✏️ Region"), ProfileButton("region")), button(_("✏️ Skills"), ProfileButton("skills"))],
        [button(_("Go off duty"), ProfileButton("duty_off")) if person.on_duty else button(_("Go on duty"), ProfileButton("duty_on"))],
    ]
    if also_customer:
        rows.append([button(_("👤 My details as a customer"), ProfileButton(SHOW_DETAILS))])
    return View("\n".join(lines), inline(rows))


PROFILE_PROMPTS = {
    "name": N_("Type your full name as customers should see it."),
    "phone": N_("Type your work phone number with the country code, e.g. +86 138 0013 8000."),
    "region": N_("Type the region or city you work in, as it appears in addresses, e.g. Kaifeng."),
    "skills": N_("Type the product lines you service, separated by commas, e.g. pumps, switch cabinets, printers."),
}


def profile_prompt(_: Translator, field: str, draft: Draft) -> View:
    return View(_(PROFILE_PROMPTS[field]), inline([dialog_nav(_, draft, back=False)]))
