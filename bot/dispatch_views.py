"""What dispatchers and engineers see: the queue, the staff card of a request, jobs."""
from __future__ import annotations

import html
from datetime import datetime

from bot import approval_views, escalation_views, quote_views
from bot.clock_views import clock_lines
from bot.callbacks import AssignButton, DispatchButton
from bot.i18n import Translator
from bot.keyboards import button, inline, pager
from bot.labels import (
    DISTANCE_LABELS,
    EVENT_LABELS,
    KIND_LABELS,
    PAID_REASON_LABELS,
    PRIORITY_LABELS,
    STAFF_EVENT_LABELS,
    STATUS_LABELS,
    WARRANTY_LABELS,
)
from bot.services import dispatch, quotes
from bot.services.dispatch import Candidate, QueueItem, StaffCard
from bot.services.jobs import CalledOff
from bot.services.quotes import PAID_WARRANTIES
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View, repeat_repair_line, request_description, request_site
from storage.models import Customer, Product, ServiceRequest, User

HISTORY_SHOWN = 8


def time_left(_: Translator, due_at: datetime | None, now: datetime) -> str:
    if due_at is None:
        return _("no deadline running")
    minutes = int((due_at - now).total_seconds() // 60)
    if minutes < 0:
        return _("overdue by {hours} h {minutes} min", hours=-minutes // 60, minutes=-minutes % 60)
    return _("{hours} h {minutes} min left", hours=minutes // 60, minutes=minutes % 60)


def queue_view(_: Translator, items: list[QueueItem], now: datetime, *, total: int | None = None, page: int = 0) -> View:
    """One page of the queue; `total` counts every page (the items alone when not given)."""
    total = len(items) if total is None else total
    if not items:
        return View(_("The queue is empty: every request has an engineer."))
    pages = max(1, -(-total // dispatch.QUEUE_SIZE))
    if pages == 1:
        lines = [_("<b>Queue</b>: {count} without an engineer, most urgent first", count=total)]
    else:
        lines = [_("<b>Queue</b>: {count} without an engineer, most urgent first · page {page} of {pages}", count=total, page=page + 1, pages=pages)]
    rows = []
    for item in items:
        request = item.request
        left = time_left(_, item.due_at, now)
        lines.append(_("{number} · {kind} · {left}", number=request.number, kind=_(KIND_LABELS[request.kind]), left=left))
        rows.append([button(shorten(f"{request.number} · {left}", 60), DispatchButton(request.id, "open"))])
    nav = pager(_, page, pages, lambda to: DispatchButton(to, "queue"))  # for "queue" the request field holds the page
    return View("\n".join(lines), inline([*rows, nav]))


def typed_match_line(_: Translator, product: Product, owner: str | None) -> str:
    """A serial the customer typed that the registry knows: staff see whose it is there."""
    return _("In the registry: {product}, registered to {owner}; not linked to this customer.",
             product=f"{product.model} · {product.serial}", owner=owner or _("nobody yet"))


def staff_card_view(_: Translator, card: StaffCard, now: datetime, extra_rows: list | None = None) -> View:
    """`extra_rows`: buttons other flows add to the card (a return's tracking step)."""
    request, customer = card.request, card.customer
    warranty = _(WARRANTY_LABELS[card.warranty])
    if request.warranty_reason:
        warranty += f" ({_(PAID_REASON_LABELS[request.warranty_reason])})"
    lines = [
        _("<b>{number}</b> · {kind} · {status}", number=request.number, kind=_(KIND_LABELS[request.kind]), status=_(STATUS_LABELS[request.status])),
        _("Customer: {name}, {phone}", name=customer.name, phone=customer.phone),
        _("Product: {value}", value=(f"{card.product.model} · {card.product.serial}" if card.product else request.serial_text) or _("unknown")),
        *([typed_match_line(_, card.typed_match, card.typed_owner)] if card.typed_match else []),
        _("Description: {value}", value=shorten(request_description(_, request), 600)),
        _("Site: {value}", value=request_site(_, request)),
        _("Priority: {value}", value=_(PRIORITY_LABELS[request.priority])),
        _("Distance: {value}", value=_(DISTANCE_LABELS[request.distance_band]) if request.distance_band else "—"),
        _("Warranty: {value}", value=warranty),
        _("Engineer: {name}", name=display_name(card.engineer) if card.engineer else "—"),
    ]
    if card.earlier_repair is not None:
        lines.append(repeat_repair_line(_, card.earlier_repair))
    lines.extend(clock_lines(_, card.clocks, now))
    lines.extend(approval_views.request_lines(_, card.approvals))
    lines.append(_("<b>History</b>"))
    for event in card.history[-HISTORY_SHOWN:]:
        label = EVENT_LABELS.get(event.action) or STAFF_EVENT_LABELS.get(event.action)
        note = event.details.get("note") or event.details.get("reason") or event.details.get("text") or event.details.get("comment")
        entry = _("{time} — {label}", time=_.datetime(event.created_at), label=_(label) if label else event.action)
        lines.append(entry + (": " + html.escape(shorten(str(note), 150), quote=False) if note else ""))
    rows = []
    if request.status in dispatch.requests.OPEN_STATUSES and card.can_act:
        row = [button(_("📞 Customer contacted"), DispatchButton(request.id, "contacted"))]
        if request.status in dispatch.ASSIGNABLE:
            row.append(button(_("👷 Reassign") if request.assigned_engineer_id else _("👷 Assign"), DispatchButton(request.id, "assign")))
        rows.append(row)
        next_priority = dispatch.next_priority(request.priority)
        rows.append([
            button(_("Priority → {value}", value=_(PRIORITY_LABELS[next_priority])), DispatchButton(request.id, "priority", next_priority)),
            button(_("Distance…"), DispatchButton(request.id, "distance")),
            button(_("Warranty…"), DispatchButton(request.id, "warranty")),
        ])
        if request.warranty in PAID_WARRANTIES:  # decided paid: quote it, or the company may carry the cost
            rows.append([button(_("🧮 Quote"), DispatchButton(request.id, "quote")),
                         button(_("💸 Ask for a fee waiver"), DispatchButton(request.id, "waiver"))])
            waiting = quotes.unanswered_in(card.history, card.approvals)
            if waiting is not None:  # the customer may give their answer on the phone: the dispatcher records it
                rows.append(quote_views.phone_answer_row(_, waiting, on_card=True))
        rows.append([button(_("🗂 Close the request"), DispatchButton(request.id, "close"))])
        rows.append(escalation_views.card_row(_, request, card.history))
    rows.extend(extra_rows or [])
    rows.append([button(_("🔄 Refresh"), DispatchButton(request.id, "open"))])
    return View("\n".join(lines), inline(rows))


def distance_choices(_: Translator, request: ServiceRequest, bands: tuple[str, ...]) -> View:
    """The bands of the policy's arrival table in use (by distance, or in/out of province)."""
    buttons = [button(_(DISTANCE_LABELS[b]), DispatchButton(request.id, "distance", b)) for b in bands]
    return View(_("How far is the site of {number} from the service base?", number=request.number), inline([buttons, [button(_("‹ Back"), DispatchButton(request.id, "open"))]]))


def warranty_choices(_: Translator, request: ServiceRequest) -> View:
    rows = [
        [button(_(WARRANTY_LABELS[w]), DispatchButton(request.id, "warranty", w)) for w in (dispatch.IN_WARRANTY, dispatch.EXPIRED)],
        [button(_("Paid: {reason}", reason=_(PAID_REASON_LABELS[r])), DispatchButton(request.id, "warranty", f"paid_{r}")) for r in dispatch.PAID_REASONS],
        [button(_("‹ Back"), DispatchButton(request.id, "open"))],
    ]
    return View(_("Warranty decision for {number}:", number=request.number), inline(rows))


def assign_choices(_: Translator, request: ServiceRequest, candidates: list[Candidate]) -> View:
    expected = request.assigned_engineer_id or 0
    if not candidates:
        return View(_("No engineer is available: all are off duty, deactivated or at capacity."), inline([[button(_("‹ Back"), DispatchButton(request.id, "open"))]]))
    lines = [_("Engineers for {number}, best match first:", number=request.number)]
    rows = []
    for candidate in candidates[:8]:
        marks = ("📍" if candidate.region_match else "") + ("🔧" if candidate.skill_match else "")
        label = _("{name} {marks} · {jobs} open jobs", name=display_name(candidate.engineer), marks=marks, jobs=candidate.open_jobs)
        rows.append([button(shorten(label, 60), AssignButton(request.id, candidate.engineer.id, expected))])
    lines.append(_("📍 region matches · 🔧 skills match"))
    rows.append([button(_("‹ Back"), DispatchButton(request.id, "open"))])
    return View("\n".join(lines), inline(rows))


def engineer_unavailable(_: Translator, engineer: User, reason: str) -> str:
    """Why a stale list's engineer was refused (dispatch.EngineerUnavailable)."""
    name = display_name(engineer)
    if reason == dispatch.EngineerUnavailable.OFF_DUTY:
        return _("{name} is off duty now, so no new jobs go to them. Please choose another engineer.", name=name)
    if reason == dispatch.EngineerUnavailable.AT_CAPACITY:
        return _("{name} has as many open jobs as one engineer may have. Please choose another engineer.", name=name)
    return _("{name} already has this job. Please choose another engineer.", name=name)


def assigned_to_customer(_: Translator, request: ServiceRequest, engineer: User, called_off: CalledOff | None = None) -> str:
    """`called_off`: the visit agreed (or proposed) with the engineer who had the job is off."""
    text = _("👷 Engineer {name} is assigned to your request {number}.", name=display_name(engineer), number=request.number)
    if called_off is None:
        return text
    if called_off.time is not None:
        off = _("📅 The visit on {time} for request {number} is off: engineer {name} now has the job and will propose a new time.",
                time=_.datetime(called_off.time), number=request.number, name=display_name(engineer))
    else:
        off = _("📅 The visit being arranged for request {number} is off: engineer {name} now has the job and will propose a time.",
                number=request.number, name=display_name(engineer))
    return f"{text}\n{off}"


def dialog_ended(_: Translator, kind: str, request: ServiceRequest) -> str:
    """The engineer who lost the job: his report or requisition of it, open when it left him, is closed."""
    if kind == "report":
        return _("The report you were writing for job {number} is closed; nothing of it was sent.", number=request.number)
    return _("The parts requisition you were filling in for job {number} is closed; nothing of it was sent.", number=request.number)


def phone_about_visit_off(_: Translator, request: ServiceRequest, customer: Customer, called_off: CalledOff) -> str:
    """The dispatcher who reassigned a job whose customer the bot cannot reach: they must hear the visit is off."""
    if called_off.time is not None:
        return _("The customer of request {number} cannot get messages from this bot and does not know the visit on {time} is off: "
                 "phone them on {phone}.", number=request.number, time=_.datetime(called_off.time), phone=customer.phone)
    return _("The customer of request {number} cannot get messages from this bot and does not know the visit being arranged is off: "
             "phone them on {phone}.", number=request.number, phone=customer.phone)


def already_assigned(_: Translator, engineer: User | None) -> str:
    if engineer is None:
        return _("Someone else changed this request first. Refresh the card to see its state.")
    return _("Another dispatcher was first: the request is already assigned to {name}.", name=display_name(engineer))
