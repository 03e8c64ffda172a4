"""What approvals look like: the card an approver decides on, what everyone else is told.

Typed text (reasons, questions, answers) goes in through placeholders, which escape it.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.callbacks import ApprovalButton, DispatchButton
from bot.i18n import N_, Html, Translator
from bot.keyboards import button, dialog_nav, inline
from bot.labels import APPROVAL_KIND_LABELS, APPROVAL_STATUS_LABELS, KIND_LABELS, ROLE_LABELS
from bot.services import approvals
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View, request_description
from storage.models import Approval, ApprovalAction, Draft, ServiceRequest, User


def _summary(_: Translator, approval: Approval, request: ServiceRequest, requester: User | None, reason: str | None) -> list[str]:
    lines = [_("🧾 <b>{kind}</b> · {number} · {type}", kind=_(APPROVAL_KIND_LABELS[approval.kind]), number=request.number, type=_(KIND_LABELS[request.kind]))]
    if approval.amount_minor is not None:
        lines.append(_("Amount: {amount}", amount=_.money(approval.amount_minor, approval.currency)))
    lines.append(_("Asked by {name}, {time}", name=display_name(requester) if requester else "—", time=_.datetime(approval.created_at)))
    if reason or approval.reason:  # `reason`: built for this reader (a return's proposal); else the text typed
        lines.append(_("Reason: {text}", text=reason or approval.reason))
    lines.append(_("Request: {text}", text=shorten(request_description(_, request), 300)))
    roles = " → ".join(_(ROLE_LABELS[role]) for role in approval.chain)
    lines.append(_("Chain: {roles} (step {step} of {total})", roles=roles, step=min(approval.step + 1, len(approval.chain)), total=len(approval.chain)))
    return lines


def approver_card(_: Translator, approval: Approval, request: ServiceRequest, requester: User | None,
                  exchanges: Sequence[ApprovalAction] = (), *, reason: str | None = None) -> View:
    """The step to decide, with Approve / Reject / Ask for info, and what was asked and answered at it."""
    lines = _summary(_, approval, request, requester, reason)
    for exchange in exchanges:
        if exchange.action == approvals.ASK:
            lines.append(_("❓ Asked: {text}", text=shorten(exchange.comment or "", 500)))
        elif exchange.action == approvals.REQUESTER_LEFT:
            lines.append(_("⚠️ {name} can no longer answer (deactivated, or no longer in the role that asked): decide with what you have.",
                           name=display_name(requester) if requester else "—"))
        else:
            lines.append(_("✍️ Answered: {text}", text=shorten(exchange.comment or "", 500)))
    rows = [
        [button(_("✅ Approve"), ApprovalButton(approval.id, approval.step, approvals.APPROVE)),
         button(_("❌ Reject"), ApprovalButton(approval.id, approval.step, approvals.REJECT))],
        [button(_("❓ Ask for info"), ApprovalButton(approval.id, approval.step, approvals.ASK))],
    ]
    return View("\n".join(lines), inline(rows))


def state_card(_: Translator, approval: Approval, request: ServiceRequest, requester: User | None, note: str | None = None,
               *, reason: str | None = None) -> View:
    """The card without buttons, with what happened to it (for approvers who no longer decide it)."""
    lines = _summary(_, approval, request, requester, reason)
    lines.append(_("Status: {status}", status=_(APPROVAL_STATUS_LABELS[approval.status])))
    if note:
        lines.append(note)
    return View("\n".join(lines))


def action_note(_: Translator, outcome: approvals.Outcome) -> str:
    """One line: who did what at which step, and when."""
    name, time = display_name(outcome.actor), _.datetime(outcome.approval.updated_at)
    role = _(ROLE_LABELS[outcome.approval.chain[outcome.decided_step]])
    if outcome.action == approvals.APPROVE:
        return _("✅ Approved by {name} ({role}), {time}", name=name, role=role, time=time)
    if outcome.action == approvals.REJECT:
        return _("❌ Rejected by {name} ({role}), {time}: {reason}", name=name, role=role, time=time, reason=outcome.comment or "")
    if outcome.action == approvals.ASK:
        return _("❓ {name} ({role}) asked for more information, {time}: {question}", name=name, role=role, time=time, question=outcome.comment or "")
    return _("✍️ {name} answered, {time}: {text}", name=name, time=time, text=outcome.comment or "")


WITHDRAWN_BECAUSE = {
    approvals.SUBJECT_WITHDRAWN: N_("↩️ Withdrawn by the requester, {time}."),
    approvals.JOB_LEFT_ENGINEER: N_("↩️ Withdrawn, {time}: the job went to another engineer."),
    approvals.REQUEST_ENDED: N_("↩️ Withdrawn, {time}: the request was cancelled or closed."),
    approvals.QUOTE_ACCEPTED: N_("↩️ Withdrawn, {time}: the customer accepted the quote and pays it."),
    approvals.JOB_REPORTED: N_("↩️ Withdrawn, {time}: the job's report was sent, so these parts were not needed."),
    approvals.QUOTE_REPLACED: N_("↩️ Withdrawn, {time}: a new quote replaced the one it covered."),
    approvals.WORK_IN_WARRANTY: N_("↩️ Withdrawn, {time}: the work was ruled in warranty, so there is nothing to pay."),
}


def withdrawn_note(_: Translator, approval: Approval, why: str | None) -> str:
    """`why`: the withdraw action's comment (approvals.SUBJECT_WITHDRAWN, …)."""
    return _(WITHDRAWN_BECAUSE.get(why, WITHDRAWN_BECAUSE[approvals.SUBJECT_WITHDRAWN]), time=_.datetime(approval.updated_at))


def withdrawn_for_requester(_: Translator, approval: Approval, request: ServiceRequest, why: str | None) -> str:
    """The requester's notice that their approval was withdrawn, and why."""
    head = _("🧾 {kind} for {number}:", kind=_(APPROVAL_KIND_LABELS[approval.kind]), number=request.number)
    return "\n".join([head, withdrawn_note(_, approval, why)])


def requester_cannot_answer(_: Translator, requester: User | None) -> str:
    return _("{name} can no longer answer questions (deactivated, or no longer in the role that asked): approve or reject with what you have.",
             name=display_name(requester) if requester else "—")


def already_decided(_: Translator, approval: Approval, decider: User | None) -> str:
    if approval.status == approvals.INFO:
        return _("This step is waiting for an answer to a question; nothing was changed.")
    if approval.status == approvals.WITHDRAWN:
        return _("This approval was withdrawn: there is nothing left to decide.")
    if approval.status in (approvals.APPROVED, approvals.REJECTED) and decider is not None:
        return _("Already decided ({status}) by {name}, {time}; nothing was changed.",
                 status=_(APPROVAL_STATUS_LABELS[approval.status]), name=display_name(decider), time=_.datetime(approval.decided_at))
    return _("This step was already decided; nothing was changed.")


def result_for_requester(_: Translator, outcome: approvals.Outcome) -> View:
    """What the requester (and the request's engineer) read after an action."""
    approval, request = outcome.approval, outcome.request
    head = _("🧾 {kind} for {number}:", kind=_(APPROVAL_KIND_LABELS[approval.kind]), number=request.number)
    lines = [head, action_note(_, outcome)]
    rows = []
    if approval.status == approvals.PENDING and not outcome.finished and outcome.action == approvals.APPROVE:
        lines.append(_("Next: {role}.", role=_(ROLE_LABELS[approval.current_role])))
    elif approval.status == approvals.APPROVED:
        lines.append(_("The approval is complete."))
    if outcome.action == approvals.ASK and approval.status == approvals.INFO:
        rows.append([button(_("✍️ Answer"), ApprovalButton(approval.id, approval.step, approvals.ANSWER))])
    return View("\n".join(lines), inline(rows) if rows else None)


# Kinds whose requester is the customer: the reason of a rejection and a question reach them as typed.
CUSTOMER_READS = frozenset({"return"})


def comment_prompt(_: Translator, approval: Approval, request: ServiceRequest, draft: Draft) -> View:
    if draft.step == approvals.REJECT:
        text = _("Why do you reject the {kind} for {number}? Write the reason in one message (up to {limit} characters).",
                 kind=_(APPROVAL_KIND_LABELS[approval.kind]), number=request.number, limit=approvals.COMMENT_LIMIT)
    else:
        text = _("What do you need to know about the {kind} for {number}? Write your question (up to {limit} characters); the requester answers here.",
                 kind=_(APPROVAL_KIND_LABELS[approval.kind]), number=request.number, limit=approvals.COMMENT_LIMIT)
    if approval.kind in CUSTOMER_READS:
        text += " " + _("The customer reads this.")
    return View(text, inline([dialog_nav(_, draft, back=False)]))


def answer_prompt(_: Translator, approval: Approval, request: ServiceRequest, draft: Draft) -> View:
    return View(
        _("Your answer to the question about the {kind} for {number} (up to {limit} characters):\n{question}",
          kind=_(APPROVAL_KIND_LABELS[approval.kind]), number=request.number, limit=approvals.COMMENT_LIMIT, question=approval.question or ""),
        inline([dialog_nav(_, draft, back=False)]),
    )


def answer_sent(_: Translator, request: ServiceRequest) -> str:
    return _("✍️ Your answer is sent; the approval for {number} is waiting for a decision again.", number=request.number)


def reask_text(_: Translator) -> str:
    return _("Please write it as text, or press Cancel.")


def changed_meanwhile(_: Translator) -> str:
    return _("This approval has changed meanwhile; nothing was recorded.")


def decision_recorded(_: Translator, outcome: approvals.Outcome) -> str:
    # action_note is translated HTML already (its reason or question escaped once): not escaped again
    return _("Recorded for {number}. {note}", number=outcome.request.number, note=Html(action_note(_, outcome)))


def waiting_list(_: Translator, items: list[tuple[Approval, ServiceRequest]], now: datetime) -> View:
    """/approvals: the steps waiting for me, oldest first."""
    if not items:
        return View(_("Nothing is waiting for your approval. 👍"))
    lines = [_.ngettext("<b>{n} approval waits for you</b> (oldest first):", "<b>{n} approvals wait for you</b> (oldest first):", len(items))]
    rows = []
    for approval, request in items[:30]:
        amount = f" · {_.money(approval.amount_minor, approval.currency)}" if approval.amount_minor is not None else ""
        label = f"{request.number} · {_(APPROVAL_KIND_LABELS[approval.kind])}{amount}"
        lines.append(_("• {label}, asked {time}", label=label, time=_.datetime(approval.created_at)))
        rows.append([button(shorten(label, 60), ApprovalButton(approval.id, approval.step, "open"))])
    return View("\n".join(lines), inline(rows))


def request_lines(_: Translator, items: tuple[Approval, ...] | list[Approval]) -> list[str]:
    """The request's approvals on a staff card: kind, amount and where each stands."""
    lines = []
    for approval in items:
        amount = f" {_.money(approval.amount_minor, approval.currency)}" if approval.amount_minor is not None else ""
        state = _(APPROVAL_STATUS_LABELS[approval.status])
        if approval.status == approvals.PENDING:
            state = _("{state}: {role}", state=state, role=_(ROLE_LABELS[approval.current_role]))
        lines.append(_("🧾 {kind}{amount}: {state}", kind=_(APPROVAL_KIND_LABELS[approval.kind]), amount=amount, state=state))
    return lines


def not_an_approver(_: Translator) -> str:
    return _("This command is for approvers (managers and the service department).")


# --- the dispatcher's fee-waiver request ------------------------------------------------------


def waiver_amount_prompt(_: Translator, request: ServiceRequest, draft: Draft) -> View:
    return View(
        _("Fee waiver for {number}: how much should the customer not pay? Write the amount in CNY, e.g. 12000 or 8500.50.", number=request.number),
        inline([dialog_nav(_, draft, back=False)]),
    )


def waiver_reason_prompt(_: Translator, amount_minor: int, draft: Draft) -> View:
    return View(
        _("Waive {amount}. Why should the company carry the cost? Write the reason for the approvers (up to {limit} characters).",
          amount=_.money(amount_minor), limit=approvals.COMMENT_LIMIT),
        inline([dialog_nav(_, draft)]),
    )


def bad_amount(_: Translator) -> str:
    return _("That is not an amount I can use. Write a positive number of CNY with at most two decimals, e.g. 12000 or 8500.50.")


def waiver_filed(_: Translator, approval: Approval, request: ServiceRequest, reached: int) -> View:
    role = _(ROLE_LABELS[approval.current_role])
    text = _("🧾 Fee waiver of {amount} for {number} sent for approval to: {role}.", amount=_.money(approval.amount_minor or 0), number=request.number, role=role)
    if not reached:
        text += "\n" + _("⚠️ Nobody with that role could be reached yet; it waits in /approvals and its deadline reminders escalate it.")
    return View(text, inline([[button(_("Back to the request"), DispatchButton(request.id, "open"))]]))
