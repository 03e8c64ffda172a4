"""How deadlines look to staff: clock lines on cards, the reminder digest and /overdue."""
from __future__ import annotations

import html
from datetime import datetime, timedelta

from bot.callbacks import ComplaintButton, DispatchButton, JobButton
from bot.i18n import Translator
from bot.keyboards import button, inline
from bot.labels import KIND_LABELS, ROLE_LABELS, STAFF_CLOCK_LABELS, WAIT_LABELS
from bot.services.reminders import DeadlineItem, OverdueList
from bot.staff_views import ROLE_ORDER, display_name
from bot.telegram_text import shorten
from bot.views import View
from storage.models import SlaClock, User

DIGEST_ITEMS_SHOWN = 10  # one message stays readable (and far below 4096 characters)
DIGEST_BUTTONS = 5


def duration(_: Translator, span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    if days:
        return _("{days} d {hours} h", days=days, hours=minutes // 60)
    return _("{hours} h {minutes} min", hours=minutes // 60, minutes=minutes % 60)


def clock_state(_: Translator, clock: SlaClock, now: datetime) -> str:
    """Time left, overdue, paused (with why) or the outcome of a stopped clock."""
    if clock.stopped_at is not None:
        if clock.outcome == "breached":
            return _("missed by {span}", span=duration(_, timedelta(seconds=clock.late_seconds or 0)))
        return _("met")
    if clock.due_at is None:
        wait = _(WAIT_LABELS[clock.pause_reason]) if clock.pause_reason in WAIT_LABELS else clock.pause_reason
        return _("paused ({wait}), {span} left", wait=wait, span=duration(_, timedelta(seconds=clock.remaining_seconds or 0)))
    if clock.due_at <= now:
        return _("overdue by {span}", span=duration(_, now - clock.due_at))
    return _("{span} left", span=duration(_, clock.due_at - now))


def clock_name(_: Translator, kind: str) -> str:
    return _(STAFF_CLOCK_LABELS[kind]) if kind in STAFF_CLOCK_LABELS else kind


def clock_lines(_: Translator, clocks: list[SlaClock], now: datetime) -> list[str]:
    """Running clocks on a staff card: name, due time and what is left."""
    lines = []
    for clock in clocks:
        if clock.stopped_at is not None:
            continue
        due = _.datetime(clock.due_at) if clock.due_at else "—"
        lines.append(_("⏱ {name}: {due} ({state})", name=clock_name(_, clock.kind), due=due, state=clock_state(_, clock, now)))
    return lines


def digest(_: Translator, items: list[DeadlineItem], now: datetime, *, dispatcher: bool = True, missed: list[User] = ()) -> View:
    """One message for everything a person is reminded of at once (after downtime, too). Only a
    dispatcher gets the dispatcher's actions; a manager told of a breach opens the card and reads.
    `missed`: staff the same reminders could not reach (they blocked the bot), named once here."""
    overdue = sum(item.overdue for item in items)
    lines = [
        _.ngettext("⏰ <b>{n} deadline needs your attention</b>", "⏰ <b>{n} deadlines need your attention</b>", len(items))
        + (" " + _.ngettext("({n} overdue)", "({n} overdue)", overdue) if overdue else ""),
    ]
    if missed:
        lines.append(_(
            "⚠️ This reminder could not reach {names} as well: they have blocked the bot. Please get in touch with them another way.",
            names=", ".join(_person_with_roles(_, person) for person in missed),
        ))
    rows = []
    for item in items[:DIGEST_ITEMS_SHOWN]:
        request = item.request
        lines.append(_(
            "{mark} {number} · {kind} · {name}: {state}", mark="🔴" if item.overdue else "🟡", number=request.number,
            kind=_(KIND_LABELS[request.kind]), name=clock_name(_, item.clock.kind), state=clock_state(_, item.clock, now),
        ))
        lines.append("    " + html.escape(shorten(request.description, 80), quote=False))  # customer's text: escaped for HTML
    for item in items[:DIGEST_BUTTONS]:
        rows.append(_item_buttons(_, item, dispatcher))
    if len(items) > DIGEST_ITEMS_SHOWN:
        lines.append(_("… and {count} more: see /overdue", count=len(items) - DIGEST_ITEMS_SHOWN))
    return View("\n".join(lines), inline(rows) if rows else None)


def unreached_digest(_: Translator, person: User, items: list[DeadlineItem], now: datetime, *, dispatcher: bool = True) -> View:
    """A reminder meant for someone who blocked the bot, to who stands in for them: whom it could
    not reach, then the deadlines as the digest shows them."""
    shown = digest(_, items, now, dispatcher=dispatcher)
    header = _(
        "⚠️ This deadline reminder could not reach {name} ({roles}): they have blocked the bot. Please act on it or get in touch with them another way.",
        name=display_name(person), roles=_roles_of(_, person),
    )
    return View(header + "\n\n" + shown.text, shown.markup)


def _person_with_roles(_: Translator, person: User) -> str:
    """“Ed (Field engineer)”, as the passed-on reminder names whom it missed."""
    return f"{display_name(person)} ({_roles_of(_, person)})"


def _roles_of(_: Translator, person: User) -> str:
    return ", ".join(_(ROLE_LABELS[role]) for role in ROLE_ORDER if role in person.role_names) or "—"


def _item_buttons(_: Translator, item: DeadlineItem, dispatcher: bool) -> list:
    request = item.request
    if item.for_assignee:
        return [button(_("Open job {number}", number=request.number), JobButton(request.id, "open"))]
    if item.clock.kind == "complaint_answer":  # the supervisor and the managers read it on the complaint card
        return [button(_("Open complaint {number}", number=request.number), ComplaintButton(request.id, "req"))]
    row = [button(_("Open {number}", number=request.number), DispatchButton(request.id, "open"))]
    if not dispatcher:
        return row
    if item.clock.kind == "first_contact":
        row.append(button(_("📞 Contacted"), DispatchButton(request.id, "contacted")))
    elif request.assigned_engineer_id is not None:
        row.append(button(_("👷 Reassign"), DispatchButton(request.id, "assign")))
    return row


def overdue_view(_: Translator, found: OverdueList, now: datetime) -> View:
    if not found.entries:
        return View(_("No deadline is overdue or at risk. 👍"))
    lines = [_("<b>Deadlines</b>: {breached} overdue, {risk} at risk (most overdue first)", breached=found.overdue, risk=found.at_risk)]
    if found.overdue + found.at_risk > len(found.entries):
        lines.append(_("The {shown} most overdue are shown.", shown=len(found.entries)))
    rows = []
    for entry in found.entries:
        request = entry.request
        lines.append(_(
            "{mark} {number} · {kind} · {name}: {state}", mark="🔴" if entry.overdue else "🟡", number=request.number,
            kind=_(KIND_LABELS[request.kind]), name=clock_name(_, entry.clock.kind), state=clock_state(_, entry.clock, now),
        ))
        if len(rows) < 10:
            rows.append([button(shorten(f"{request.number} · {clock_state(_, entry.clock, now)}", 60), DispatchButton(request.id, "open"))])
    return View("\n".join(lines), inline(rows))
