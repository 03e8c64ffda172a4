"""What follow-up calls look like: /calls, a call's card with its script, the feedback step, the
daily message to the callback role and the dispatchers' alert. Rules: bot/services/followups.py."""
from __future__ import annotations

from datetime import date

from babel.dates import format_date

from bot.callbacks import DispatchButton, FollowUpButton
from bot.i18n import Translator
from bot.keyboards import button, dialog_button, dialog_nav, inline
from bot.labels import FOLLOW_UP_OUTCOME_LABELS, KIND_LABELS
from bot.policy import FollowUpPolicy
from bot.services import followups
from bot.services.validation import COMMENT_MAX
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View
from storage.models import Draft, FollowUpCall, Product, User

ROUNDS = 2


def _day(_: Translator, day: date) -> str:
    return format_date(day, "medium", locale=_.locale)


def _product(_: Translator, product: Product | None, serial_text: str | None) -> str:
    if product is not None:
        return shorten(f"{product.model} · {product.serial}", 120)
    return serial_text or _("unknown")


def _item_label(_: Translator, item: followups.DueCall) -> str:
    mark = "⚠️ " if item.overdue else ""
    return shorten(_("{mark}{number} · {name} · round {round}", mark=mark, number=item.request.number,
                     name=item.customer.name, round=item.call.round), 60)


def _item_line(_: Translator, item: followups.DueCall) -> str:
    if item.overdue:
        return _("⚠️ {number} · {name} · round {round} · late since {date}", number=item.request.number, name=item.customer.name,
                 round=item.call.round, date=_day(_, item.call.due_by))
    return _("• {number} · {name} · round {round} · by {date}", number=item.request.number, name=item.customer.name,
             round=item.call.round, date=_day(_, item.call.due_by))


# --- /calls ---------------------------------------------------------------------------------------


def call_list(_: Translator, due: followups.DueList) -> View:
    """Calls due today and overdue (overdue first), each a button opening its card."""
    if not due.total:
        return View(_("📞 No follow-up calls are due. New ones appear here a few days after a job is closed."))
    lines = [_("📞 <b>Follow-up calls due: {total}</b> (overdue: {overdue})", total=due.total, overdue=due.overdue)]
    if len(due.items) < due.total:
        lines.append(_("The {shown} with the earliest deadline are shown; record them to see the rest.", shown=len(due.items)))
    if not due.can_record:
        lines.append(_("You can read the calls; the follow-up callers record them."))
    rows = [[button(_item_label(_, item), FollowUpButton(item.call.id, "open"))] for item in due.items]
    return View("\n".join(lines), inline(rows))


def _script(_: Translator, card: followups.CallCard) -> list[str]:
    """What to say: short, translated, the second round only checks again."""
    name, number = card.customer.name, card.request.number
    if card.call.round == 1:
        return [
            _("<b>Script</b>"),
            _("1. Greet {name} and say you are calling from the service department about request {number}.", name=name, number=number),
            _("2. Ask whether the equipment works properly since the work was done."),
            _("3. Ask whether they were satisfied with the engineer {engineer}: on time, polite, the site left clean.",
              engineer=display_name(card.engineer) if card.engineer else _("unknown")),
            _("4. Ask whether there is anything else we can help with, and thank them."),
        ]
    return [
        _("<b>Script (second call)</b>"),
        _("1. Greet {name} and say this is the last check on request {number}.", name=name, number=number),
        _("2. Ask whether the equipment still works properly, and whether there is anything else; thank them."),
    ]


def call_card(_: Translator, card: followups.CallCard, policy: FollowUpPolicy, note: str | None = None) -> View:
    """Everything the caller needs for one call, and the outcome buttons."""
    call, request, report = card.call, card.request, card.report
    lines = [note] if note else []
    lines += [
        _("📞 <b>Follow-up call {round} of {rounds} · {number}</b>", round=call.round, rounds=ROUNDS, number=request.number),
        _("Customer: {name}, {phone}", name=card.customer.name, phone=card.customer.phone),
        _("Type: {value}", value=_(KIND_LABELS[request.kind])),
        _("Product: {value}", value=_product(_, card.product, request.serial_text)),
    ]
    if report is not None:
        lines.append(_("Fault cause: {value}", value=shorten(report.cause, 300)))
        lines.append(_("Solution: {value}", value=shorten(report.solution, 300)))
    lines.append(_("Engineer: {name}", name=display_name(card.engineer) if card.engineer else _("unknown")))
    if call.state == followups.DUE:
        lines.append(_("Due from {start} to {end}", start=_day(_, call.due_on), end=_day(_, call.due_by)))
        if card.own_job:
            lines.append(_("👷 This call checks your own work, so a colleague makes it."))
        elif card.overdue:
            lines.append(_("⚠️ Overdue: please call today."))
        if call.attempts:
            lines.append(_("Unanswered tries: {count} of {limit}", count=call.attempts, limit=policy.max_attempts))
        lines += ["", *_script(_, card)]
    else:
        lines.append(_("Recorded: {outcome}, by {name}, {time}", outcome=_(FOLLOW_UP_OUTCOME_LABELS[call.outcome]),
                       name=display_name(card.caller) if card.caller else "—", time=_.datetime(call.done_at) if call.done_at else "—"))
        if call.feedback:
            lines.append(_("Feedback: {text}", text=call.feedback))
    rows = []
    if card.can_record:
        rows += [
            [button(_("🙂 Reached: satisfied"), FollowUpButton(call.id, "sat"))],
            [button(_("🙁 Reached: not satisfied"), FollowUpButton(call.id, "unsat"))],
            [button(_("📵 No answer"), FollowUpButton(call.id, "noans", call.attempts))],
        ]
    rows.append([button(_("⬅️ Back"), FollowUpButton(0, "list"))])
    return View("\n".join(lines), inline(rows))


# --- the feedback step ----------------------------------------------------------------------------


def feedback_prompt(_: Translator, draft: Draft, number: str) -> View:
    if draft.data["outcome"] == followups.NOT_SATISFIED:
        text = _("🙁 {number}: what is the customer not satisfied with? Type their words (up to {limit} characters); the dispatchers are told. Or press Skip.",
                 number=number, limit=COMMENT_MAX)
    else:
        text = _("🙂 {number}: anything the customer said? Type their feedback (up to {limit} characters), or press Skip.",
                 number=number, limit=COMMENT_MAX)
    return View(text, inline([[dialog_button(_("Skip"), draft, "skip")], dialog_nav(_, draft)]))


def feedback_reask(_: Translator, draft: Draft) -> View:
    return View(_("Please type the feedback as text, or press Skip."), inline([[dialog_button(_("Skip"), draft, "skip")], dialog_nav(_, draft)]))


# --- what the caller is told after a press ----------------------------------------------------------


def recorded_note(_: Translator, recorded: followups.Recorded, policy: FollowUpPolicy) -> str:
    call, number = recorded.call, recorded.request.number
    if call.state != followups.DONE:
        return _("📵 No answer recorded for {number} (try {count} of {limit}). Call again later.", number=number, count=call.attempts, limit=policy.max_attempts)
    text = _("✅ Recorded for {number}: {outcome}.", number=number, outcome=_(FOLLOW_UP_OUTCOME_LABELS[call.outcome]))
    if recorded.next_call is not None:
        text += " " + _("The second call is due from {date}.", date=_day(_, recorded.next_call.due_on))
    return text


def already_recorded(_: Translator, call: FollowUpCall) -> str:
    if call.state == followups.DONE:
        return _("This call is already recorded ({outcome}); nothing was changed.", outcome=_(FOLLOW_UP_OUTCOME_LABELS[call.outcome]))
    return _("Someone recorded a try on this call meanwhile; nothing was changed. Here is the card as it is now.")


def not_for_you(_: Translator) -> str:
    return _("This command is for the follow-up callers and the dispatchers.")


# --- others are told --------------------------------------------------------------------------------


def unhappy_customer(_: Translator, recorded: followups.Recorded, customer_name: str, customer_phone: str, caller: User) -> View:
    """To each dispatcher: a customer not satisfied after closing needs someone to act."""
    lines = [
        _("🙁 <b>Customer not satisfied after closing: {number}</b>", number=recorded.request.number),
        _("Customer: {name}, {phone}", name=customer_name, phone=customer_phone),
        _("Follow-up call {round} by {name}.", round=recorded.call.round, name=display_name(caller)),
        _("Feedback: {text}", text=recorded.call.feedback) if recorded.call.feedback else _("No feedback was written down."),
        _("Please contact the customer and decide what to do."),
    ]
    return View("\n".join(lines), inline([[button(_("📂 Open the request"), DispatchButton(recorded.request.id, "open"))]]))


def digest(_: Translator, summary: followups.Digest) -> View:
    """The daily message to each caller: how many, the oldest few, and where to record them."""
    if summary.for_caller:
        lines = [_.ngettext("📞 {n} follow-up call is due today (overdue: {overdue}).", "📞 {n} follow-up calls are due today (overdue: {overdue}).",
                            summary.total, overdue=summary.overdue)]
    else:
        lines = [_.ngettext("⚠️ {n} follow-up call is overdue: no outcome recorded by its last day.", "⚠️ {n} follow-up calls are overdue: no outcome recorded by their last day.",
                            summary.overdue)]
    lines += [_item_line(_, item) for item in summary.oldest]
    if summary.total > len(summary.oldest):
        lines.append(_("…and {count} more.", count=summary.total - len(summary.oldest)))
    lines.append(_("Open /calls to see them and record the outcomes.") if summary.for_caller
                 else _("See them in /calls; the callback staff record the outcomes (/invite callback if nobody has that role)."))
    return View("\n".join(lines))
