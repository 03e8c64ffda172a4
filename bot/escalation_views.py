"""What expert escalations and written answers to customers look like, for each side.

Experts see the request without the customer's contacts; customers see only the answer
addressed to them, never the escalation. User-typed text is escaped (placeholders or html.escape).
"""
from __future__ import annotations

import html
from datetime import datetime

from telegram import InlineKeyboardButton

from bot.callbacks import CaseButton, ConsultationButton, DispatchButton, EscalationButton, ExpertPickButton, JobButton, RequestButton
from bot.i18n import Translator
from bot.keyboards import button, dialog_button, dialog_nav, inline
from bot.labels import KIND_LABELS
from bot.services import consultation, escalation, requests
from bot.services.escalation import Asking, Case, ExpertChoice
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View, request_site
from storage.models import Draft, Escalation, RequestEvent, ServiceRequest, User


def _text(value: str) -> str:
    """User-typed text on its own lines, escaped for Telegram HTML."""
    return html.escape(value, quote=False)


def _back_to_card(_: Translator, request_id: int) -> list[InlineKeyboardButton]:
    return [button(_("‹ Back"), DispatchButton(request_id, "open"))]


# --- the dispatcher's card row and the expert choice ------------------------------------------


def card_row(_: Translator, request: ServiceRequest, history: list[RequestEvent]) -> list[InlineKeyboardButton]:
    """The row on the dispatcher's card of an open request: ask an expert, answer, close answered."""
    row = [button(_("🧠 Ask an expert"), EscalationButton(request.id, "ask"))]
    if consultation.may_be_answered(request, history):
        row.append(button(_("💬 Answer the customer"), ConsultationButton(request.id, "answer")))
    if request.kind == consultation.CONSULTATION and consultation.was_answered(history):
        row.append(button(_("✔️ Close: answered"), ConsultationButton(request.id, "close")))
    return row


def asking_view(_: Translator, asking: Asking) -> View:
    if asking.open_case is not None:
        return already_with_expert(_, asking.request, asking.open_case, asking.open_expert)
    return expert_choices(_, asking.request, asking.choices)


def expert_choices(_: Translator, request: ServiceRequest, choices: list[ExpertChoice]) -> View:
    if not choices:
        return View(
            _("No technical expert is on duty now. Try again later, or ask an admin to enrol one with /invite."),
            inline([_back_to_card(_, request.id)]),
        )
    rows = [
        [button(shorten(_("{name} · {count} open cases", name=display_name(c.expert), count=c.open_cases), 60), ExpertPickButton(request.id, c.expert.id))]
        for c in choices[:8]
    ]
    rows.append(_back_to_card(_, request.id))
    return View(_("Which technical expert should look at {number}? Least busy first:", number=request.number), inline(rows))


def expert_off_duty(_: Translator, expert: User) -> str:
    return _("{name} is off duty now. Please choose another expert.", name=display_name(expert))


def expert_unavailable(_: Translator, error: escalation.ExpertOffDuty | escalation.ExpertUnreachable) -> str:
    """Why the chosen expert was refused: off duty, or blocked the bot (the case would reach nobody)."""
    if isinstance(error, escalation.ExpertUnreachable):
        return _("{name} has blocked the bot, so the question would not reach them. Please choose another expert.", name=display_name(error.expert))
    return expert_off_duty(_, error.expert)


def already_with_expert(_: Translator, request: ServiceRequest, open_case: Escalation, expert: User | None) -> View:
    lines = [
        _("{number} already waits for the answer of {name} (asked {time}).", number=request.number, name=display_name(expert) if expert else "—", time=_.datetime(open_case.created_at)),
        _("Question:"),
        _text(open_case.question),
        _("Their analysis and repair plan will come to you here."),
    ]
    return View("\n".join(lines), inline([_back_to_card(_, request.id)]))


def question_prompt(_: Translator, request: ServiceRequest, expert: User, draft: Draft) -> View:
    return View(
        _("What should {name} look at in {number}? Write your question in one message, up to {limit} characters.", name=display_name(expert), number=request.number, limit=escalation.QUESTION_MAX),
        inline([dialog_nav(_, draft, back=False)]),
    )


def escalation_sent(_: Translator, request: ServiceRequest, expert: User) -> str:
    return _("🧠 {number} is sent to {name}. Their analysis and repair plan will come to you here.", number=request.number, name=display_name(expert))


# --- the expert's side -----------------------------------------------------------------------


def case_view(_: Translator, case: Case) -> View:
    """The case as the expert reads it: no customer name or phone, just the technical facts."""
    request, escalation_ = case.request, case.escalation
    product = f"{case.product.model} · {case.product.serial}" if case.product else request.serial_text
    lines = [
        _("🧠 <b>Case {number}</b> · {kind}", number=request.number, kind=_(KIND_LABELS[request.kind])),
        _("Asked by {name}, {time}", name=display_name(case.asked_by) if case.asked_by else "—", time=_.datetime(escalation_.created_at)),
        _("Product: {value}", value=product or _("unknown")),
        _("Description: {value}", value=request.description),  # whole, with its lines: the expert works from it
        _("Site: {value}", value=request_site(_, request)),
        _("Photos: {count}", count=len(case.photos)),
        _("<b>Question</b>"),
        _text(escalation_.question),
    ]
    return View("\n".join(lines), inline([[button(_("✍️ Write analysis"), CaseButton(escalation_.id, "write"))]]))


def cases_view(_: Translator, cases: list[tuple[Escalation, ServiceRequest]]) -> View:
    if not cases:
        return View(_("You have no open cases."))
    rows = [
        [button(shorten(f"{request.number} · {_(KIND_LABELS[request.kind])} · {shorten(case.question, 30)}", 60), CaseButton(case.id, "open"))]
        for case, request in cases
    ]
    return View(_("<b>Your open cases</b> ({count}), oldest first:", count=len(cases)), inline(rows))


def case_closed(_: Translator, escalation_: Escalation, request: ServiceRequest) -> View:
    """To the expert: the request of their unanswered question is over, so is the question."""
    if request.status == requests.CANCELLED:
        head = _("🧠 Case {number} is withdrawn: the request was cancelled, so no answer is needed.", number=request.number)
    else:
        head = _("🧠 Case {number} is withdrawn: the request is closed, so no answer is needed.", number=request.number)
    return View("\n".join([head, _("Question:"), _text(shorten(escalation_.question, 300))]))


def case_replaced(_: Translator, escalation_: Escalation, request: ServiceRequest) -> View:
    """To the expert: while they were off duty, the dispatcher asked another expert instead."""
    return View("\n".join([
        _("🧠 Case {number} went to another expert while you were off duty, so no answer is needed from you.", number=request.number),
        _("Question:"), _text(shorten(escalation_.question, 300)),
    ]))


def answer_prompt(_: Translator, draft: Draft) -> View:
    """One step of the expert's answer: cause analysis, repair plan, then the review."""
    number, data = draft.data.get("number", ""), draft.data
    if draft.step == escalation.REVIEW:
        return answer_review(_, draft)
    if draft.step == escalation.CAUSE:
        lines = [_("Step 1 of 2 · <b>Cause analysis</b> for {number}: what causes the fault, and what points to it? Up to {limit} characters.", number=number, limit=escalation.ANALYSIS_MAX)]
        current, back = data.get("analysis"), False
    else:
        lines = [_("Step 2 of 2 · <b>Repair plan</b> for {number}: what should the engineer do, with which parts? Up to {limit} characters.", number=number, limit=escalation.PLAN_MAX)]
        current, back = data.get("plan"), True
    rows = []
    if current:
        lines += [_("Now written:"), _text(shorten(current, 1500))]
        rows.append([dialog_button(_("➡️ Keep this text"), draft, "keep")])
    rows.append(dialog_nav(_, draft, back=back))
    return View("\n".join(lines), inline(rows))


def answer_review(_: Translator, draft: Draft) -> View:
    lines = [
        _("Your answer on {number}:", number=draft.data.get("number", "")),
        _("<b>Cause analysis</b>"),
        _text(draft.data.get("analysis", "")),
        _("<b>Repair plan</b>"),
        _text(draft.data.get("plan", "")),
        "",
        _("Send it to the dispatcher and the assigned engineer?"),
    ]
    rows = [
        [dialog_button(_("📤 Send"), draft, "send")],
        [dialog_button(_("✏️ Edit"), draft, "edit"), *dialog_nav(_, draft, back=False)],
    ]
    return View("\n".join(lines), inline(rows))


def answer_sent(_: Translator, escalation_: Escalation, request: ServiceRequest) -> str:
    return _("✅ Your analysis and repair plan for {number} are sent. Thank you!", number=request.number)


def expert_answer_lines(_: Translator, escalation_: Escalation) -> list[str]:
    """The expert's answer as lines of a card (the engineer's job card shows the latest one)."""
    return [
        _("<b>Cause analysis</b>"),
        _text(escalation_.analysis or ""),
        _("<b>Repair plan</b>"),
        _text(escalation_.plan or ""),
    ]


def expert_answer_view(_: Translator, escalation_: Escalation, request: ServiceRequest, expert: User, reader: User) -> View:
    """The answer as it reaches the dispatcher (with the card) or the engineer (with the job)."""
    lines = [_("🧠 <b>{name} answered on {number}</b>", name=display_name(expert), number=request.number), *expert_answer_lines(_, escalation_)]
    if reader.id == request.assigned_engineer_id:
        target = button(_("Open job {number}", number=request.number), JobButton(request.id, "open"))
    else:
        target = button(_("Open {number}", number=request.number), DispatchButton(request.id, "open"))
    return View("\n".join(lines), inline([[target]]))


def not_expert(_: Translator) -> str:
    return _("This command is for technical experts.")


def case_answered(_: Translator) -> str:
    return _("This case is already answered.")


def case_withdrawn(_: Translator) -> str:
    return _("This request is closed or cancelled; the case is withdrawn.")


# --- answering the customer ----------------------------------------------------------------


def customer_answer_prompt(_: Translator, request: ServiceRequest, question: str, draft: Draft) -> View:
    lines = [
        _("Answer the customer on {number}. Their question:", number=request.number),
        _text(shorten(question, 800)),
        _("Write the answer in one message, up to {limit} characters. It goes to the customer as you write it.", limit=consultation.ANSWER_MAX),
    ]
    return View("\n".join(lines), inline([dialog_nav(_, draft, back=False)]))


def answered_meanwhile(_: Translator, answer: RequestEvent, author: User | None, draft: Draft) -> View:
    """A colleague's answer arrived while this one was being written; nothing was sent yet."""
    lines = [
        _("{name} answered this customer meanwhile ({time}):", name=display_name(author) if author else "—", time=_.datetime(answer.created_at)),
        _text(shorten(str(answer.details.get("text") or ""), 800)),
        _("Your answer is not sent yet. Send it as well, or cancel it?"),
    ]
    return View("\n".join(lines), inline([[dialog_button(_("📤 Send mine too"), draft, "send")], dialog_nav(_, draft, back=False)]))


def answer_markup_for_staff(_: Translator, request: ServiceRequest) -> object:
    """Under a customer's comment: a button to answer them in writing."""
    return inline([[button(_("💬 Answer the customer"), ConsultationButton(request.id, "answer"))]])


def answer_for_customer(_: Translator, request: ServiceRequest, text: str, closable: bool) -> View:
    lines = [_("💬 <b>Answer on your request {number}</b>", number=request.number), _text(text), ""]
    reply = button(_("↩️ Reply"), RequestButton(request.id, "comment"))
    if closable:
        lines.append(_("If this answers your question, press “That answers my question”. If not, reply and we will continue."))
        rows = [[button(_("✅ That answers my question"), ConsultationButton(request.id, "resolved"))], [reply]]
    else:
        lines.append(_("If something is unclear, reply here."))
        rows = [[reply]]
    return View("\n".join(lines), inline(rows))


def answer_delivered(_: Translator, request: ServiceRequest, reached: bool, held_until: datetime | None = None) -> str:
    """`held_until`: the customer's quiet hours hold the answer until then."""
    if reached and held_until is not None:
        return _("✅ Your answer to {number} is saved; the customer receives it when their quiet hours end ({time}).", number=request.number, time=_.datetime(held_until))
    if reached:
        return _("✅ Your answer is sent to the customer of {number}.", number=request.number)
    return _("The answer on {number} is saved in the request's history, but the customer could not be reached in Telegram. Please call them.", number=request.number)


def customer_closed_it(_: Translator, request: ServiceRequest) -> str:
    return _("✅ Thank you! Request {number} is closed. If you need anything else, send a new request with /new.", number=request.number)


def closed_for_customer(_: Translator, request: ServiceRequest) -> str:
    return _("Your question {number} is closed as answered. If you need more help, send a new request with /new.", number=request.number)


def confirmed_for_staff(_: Translator, request: ServiceRequest) -> str:
    return _("✅ The customer confirmed that the answer on {number} resolves their question; the request is closed.", number=request.number)


def already_closed(_: Translator) -> str:
    return _("This request is already closed.")


# --- re-asking for the right input in these dialogs ------------------------------------------


def reask(_: Translator, step: str) -> str:
    texts = {
        escalation.QUESTION_STEP: _("Please write your question for the expert as text, or press Cancel."),
        escalation.CAUSE: _("Please write the cause analysis as text, or press Cancel."),
        escalation.PLAN: _("Please write the repair plan as text, or use Back or Cancel."),
        escalation.REVIEW: _("Please use the buttons under the summary: Send, Edit or Cancel."),
        consultation.ANSWER_STEP: _("Please write the answer as text, or press Cancel."),
        consultation.ALSO_STEP: _("Please press “Send mine too” or Cancel."),
    }
    return texts.get(step, _("Please use the buttons or send text."))
