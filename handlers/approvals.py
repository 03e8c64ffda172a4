"""Approvals in the chat: posting a step to its approvers, their buttons, questions and answers,
/approvals, and the dispatcher's fee-waiver request. The rules are in bot/services/approvals.py."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot import approval_views, return_views
from bot.i18n import Translator
from bot.callbacks import ApprovalButton, DialogButton
from bot.services import approvals, dialogs, notices, quotes, requests, users
from bot.services.errors import InvalidValue, NotAllowed, NotFound, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.views import input_error
from handlers.common import Turn, handler
from storage.db import UnitOfWork
from storage.models import Approval, ApprovalPost, Draft, ServiceRequest


# What to do in the chat once an approval of a kind is finished (approved or rejected), besides
# the messages every approval gets; registered by the handlers that own the kind.
FollowUp = Callable[[Turn, ServiceRequest, Approval], Awaitable[None]]  # after the last step is decided
FOLLOW_UPS: dict[str, FollowUp] = {}


async def post_to_approvers(turn: Turn, approval: Approval, request: ServiceRequest) -> int:
    """Put the pending step before everyone who may decide it; returns how many can be reached.

    The cards go through the outbox: rendered when sent (a step decided meanwhile is not sent),
    and where each card went is recorded then, so deciders' copies can be updated later."""
    reached = 0
    for user in await approvals.approvers(turn.uow, turn.deps.policy, approval):
        reached += await turn.queue_notice(user, notices.APPROVAL, {"approval_id": approval.id, "step": approval.step})
    return reached


async def _tell_after(turn: Turn, outcome: approvals.Outcome) -> None:
    """A step was acted on: tell the requester and the engineer, put the next step before its
    approvers, run the kind's follow-up. Outbox rows only, queued before the decision's commit."""
    approval, request = outcome.approval, outcome.request
    for person in await approvals.people_to_tell(turn.uow, approval, request, turn.user):
        if outcome.finished and approval.kind in FOLLOW_UPS and not users.is_staff(person):
            continue  # a customer who asked (a return) gets the kind's own message below, not the staff's
        await turn.notify_view(person, approval_views.result_for_requester(turn.translator_for(person), outcome))
    if approval.status == approvals.PENDING and outcome.action == approvals.APPROVE:
        await post_to_approvers(turn, approval, request)
    if outcome.finished and approval.kind in FOLLOW_UPS:
        await FOLLOW_UPS[approval.kind](turn, request, approval)


async def reason_for(uow: UnitOfWork, _: Translator, approval: Approval) -> str | None:
    """The approval's reason in the reader's language where it is built from data (a return's
    proposal: reason, days, outcome, who pays shipping); None: the text its requester typed."""
    if approval.kind != "return" or approval.subject_id is None:
        return None
    case = await uow.returns.get(approval.subject_id)
    if case is None:
        return None
    return return_views.case_reason(_, case, await uow.products.get(case.product_id))


async def _redraw_copies(turn: Turn, outcome: approvals.Outcome) -> None:
    """After the decision's commit: every approver's copy of the decided step shows what happened."""
    approval, request = outcome.approval, outcome.request
    requester = await turn.uow.users.get(approval.requested_by_id)
    for post in await turn.uow.approvals.posts(approval.id, outcome.decided_step):
        reader = await turn.uow.users.get(post.user_id)
        _ = turn.translator_for(reader)
        view = approval_views.state_card(_, approval, request, requester, approval_views.action_note(_, outcome),
                                         reason=await reason_for(turn.uow, _, approval))
        await turn.edit_elsewhere(post.chat_id, post.message_id, view)


async def show_withdrawn(turn: Turn, withdrawn: list[Approval]) -> None:
    """After the withdrawal's commit: the approvers' copies of the open step say it was withdrawn
    (their buttons would only answer so)."""
    for approval in withdrawn:
        request = await turn.uow.requests.get(approval.request_id)
        requester = await turn.uow.users.get(approval.requested_by_id)
        why = next((a.comment for a in reversed(await turn.uow.approvals.actions(approval.id)) if a.action == approvals.WITHDRAW), None)
        for post in await turn.uow.approvals.posts(approval.id, approval.step):
            _ = turn.translator_for(await turn.uow.users.get(post.user_id))
            view = approval_views.state_card(_, approval, request, requester, approval_views.withdrawn_note(_, approval, why),
                                             reason=await reason_for(turn.uow, _, approval))
            await turn.edit_elsewhere(post.chat_id, post.message_id, view)


async def tell_requesters_withdrawn(turn: Turn, withdrawn: list[Approval]) -> None:
    """Before the withdrawal's commit: whoever asked for an approval learns it was withdrawn,
    unless they withdrew it themselves (an outbox row, like every notice)."""
    for approval in withdrawn:
        requester = await turn.uow.users.get(approval.requested_by_id)
        if requester is None or requester.id == turn.user.id:
            continue
        request = await turn.uow.requests.get(approval.request_id)
        customer = await requests.customer_user(turn.uow, request)
        if not (requester.is_active or (customer is not None and requester.id == customer.id)):  # staff who left; a customer is told
            continue
        why = next((a.comment for a in reversed(await turn.uow.approvals.actions(approval.id)) if a.action == approvals.WITHDRAW), None)
        await turn.notify(requester, approval_views.withdrawn_for_requester(turn.translator_for(requester), approval, request, why))


async def _late(turn: Turn, already: approvals.AlreadyDecided, data: str) -> None:
    """A press on a step that has moved on: say who decided, change nothing, keep a trace."""
    await turn.audit("approval_late_press", data=data, status=already.approval.status)
    if isinstance(already, approvals.RequestEnded):  # still pending, but its request is over
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    decider = await turn.uow.users.get(already.approval.decided_by_id) if already.approval.decided_by_id else None
    await turn.answer(approval_views.already_decided(turn._, already.approval, decider), alert=True)


async def _refuse(turn: Turn, data: str) -> None:
    await turn.audit("approval_not_allowed", data=data)
    await turn.answer(turn._("This button is no longer valid."), alert=True)


async def on_approval_button(turn: Turn, payload: ApprovalButton) -> None:
    data = payload.pack()
    try:
        if payload.action == "open":
            await _open(turn, payload.approval_id)
        elif payload.action == approvals.APPROVE:
            outcome = await approvals.decide(turn.uow, turn.deps.policy, turn.user, payload.approval_id, payload.step, approvals.APPROVE, None, turn.now)
            await _tell_after(turn, outcome)
            await turn.uow.commit()  # decided, with its notices, before anyone is told
            await turn.answer(approval_views.action_note(turn._, outcome))
            await _redraw_copies(turn, outcome)
        elif payload.action in (approvals.REJECT, approvals.ASK):
            draft, approval = await approvals.start_comment(turn.uow, turn.deps.policy, turn.user, payload.approval_id, payload.step, payload.action, turn.now)
            request = await turn.uow.requests.get(approval.request_id)
            await turn.reply(approval_views.comment_prompt(turn._, approval, request, draft))
        elif payload.action == approvals.ANSWER:
            draft, approval = await approvals.start_answer(turn.uow, turn.user, payload.approval_id, turn.now)
            request = await turn.uow.requests.get(approval.request_id)
            await turn.reply(approval_views.answer_prompt(turn._, approval, request, draft))
        else:
            raise NotAllowed()
    except approvals.AlreadyDecided as already:
        await _late(turn, already, data)
    except approvals.RequesterCannotAnswer as cannot:
        await turn.answer(approval_views.requester_cannot_answer(turn._, cannot.requester), alert=True)
    except (NotAllowed, NotFound):
        await _refuse(turn, data)


async def _open(turn: Turn, approval_id: int) -> None:
    approval, request = await approvals.get_for_approver(turn.uow, turn.deps.policy, turn.user, approval_id)
    requester = await turn.uow.users.get(approval.requested_by_id)
    if (approval.status == approvals.PENDING and approvals.may_decide(turn.deps.policy, turn.user, approval)
            and not approvals.request_ended(request)):
        message = await turn.reply(approval_views.approver_card(turn._, approval, request, requester,
                                                                await approvals.questions_and_answers(turn.uow, approval),
                                                                reason=await reason_for(turn.uow, turn._, approval)))
        await turn.uow.approvals.add_post(ApprovalPost(
            approval_id=approval.id, step=approval.step, user_id=turn.user.id, chat_id=message.chat_id, message_id=message.message_id,
        ))
    else:
        await turn.reply(approval_views.state_card(turn._, approval, request, requester, reason=await reason_for(turn.uow, turn._, approval)))


async def on_comment_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The reason for Reject, or the question for Ask; the step is re-checked now."""
    if not isinstance(message, TextInput):
        await turn.reply(approval_views.reask_text(turn._))
        return
    try:
        outcome = await approvals.decide(
            turn.uow, turn.deps.policy, turn.user, draft.data["approval_id"], draft.data["step"], draft.step, message.text, turn.now,
        )
    except WrongInput:
        await turn.reply(approval_views.reask_text(turn._))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    except approvals.AlreadyDecided as already:
        await dialogs.end(turn.uow, draft)
        if isinstance(already, approvals.RequestEnded):
            await turn.reply(approval_views.changed_meanwhile(turn._))
            return
        decider = await turn.uow.users.get(already.approval.decided_by_id) if already.approval.decided_by_id else None
        await turn.reply(approval_views.already_decided(turn._, already.approval, decider))
        return
    except approvals.RequesterCannotAnswer as cannot:  # left while the question was typed
        await dialogs.end(turn.uow, draft)
        await turn.reply(approval_views.requester_cannot_answer(turn._, cannot.requester))
        return
    except (NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.reply(approval_views.changed_meanwhile(turn._))
        return
    await dialogs.end(turn.uow, draft)
    await _tell_after(turn, outcome)
    await turn.uow.commit()  # decided, with its notices, before anyone is told
    await turn.reply(approval_views.decision_recorded(turn._, outcome))
    await _redraw_copies(turn, outcome)


async def on_answer_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The requester's answer: the step is pending again and goes back before its approvers."""
    if not isinstance(message, TextInput):
        await turn.reply(approval_views.reask_text(turn._))
        return
    try:
        outcome = await approvals.answer(turn.uow, turn.user, draft.data["approval_id"], message.text, turn.now)
    except WrongInput:
        await turn.reply(approval_views.reask_text(turn._))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    except (approvals.AlreadyDecided, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.reply(approval_views.changed_meanwhile(turn._))
        return
    await dialogs.end(turn.uow, draft)
    await post_to_approvers(turn, outcome.approval, outcome.request)
    await turn.uow.commit()  # the answer and the approvers' cards in one transaction
    await turn.reply(approval_views.answer_sent(turn._, outcome.request))


async def on_dialog_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """Comment and answer dialogs only have Cancel, which the router handles; the waiver has Back."""
    if payload.action != "back":
        raise NotAllowed()
    await go_back(turn, draft)
    await turn.edit_off()


async def go_back(turn: Turn, draft: Draft) -> None:
    """From the waiver's reason back to its amount; other steps have nothing before them."""
    if draft.kind != approvals.WAIVER_DIALOG or draft.step != "reason":
        raise NotAllowed()
    dialogs.move(draft, "amount", turn.now)
    request = await turn.uow.requests.get(draft.data["request_id"])
    await turn.reply(approval_views.waiver_amount_prompt(turn._, request, draft))


@handler
async def cmd_approvals(turn: Turn) -> None:
    """/approvals: the steps waiting for my decision, oldest first."""
    if not any(role in turn.user.role_names for rule in turn.deps.policy.approvals.rules for role in rule.chain):
        await turn.reply(approval_views.not_an_approver(turn._))
        return
    items = await approvals.waiting_for(turn.uow, turn.deps.policy, turn.user)
    await turn.reply(approval_views.waiting_list(turn._, items, turn.now))


# --- the dispatcher asks for a fee waiver -----------------------------------------------------


async def start_waiver(turn: Turn, request_id: int, *, from_quote: bool = False) -> None:
    """From the staff card: the amount first, then the reason. After a declined quote the
    amount is the quote's total, so only the reason is asked."""
    amount = await quotes.declined_total(turn.uow, request_id) if from_quote else None
    try:
        draft = await approvals.start_waiver(turn.uow, turn.user, request_id, turn.now, amount_minor=amount)
    except approvals.QuoteAccepted:
        await turn.answer(_quote_accepted(turn), alert=True)
        return
    except approvals.WaiverAlreadyAsked as asked:
        await turn.answer(_waiver_already_asked(turn, asked), alert=True)
        return
    except approvals.NoQuoteYet:
        await turn.answer(turn._("A fee waiver covers a quote: send the customer the quote first (🧮 Quote). If they decline, the waiver is asked for its amount."), alert=True)
        return
    request = await turn.uow.requests.get(request_id)
    if amount is not None:
        await turn.reply(approval_views.waiver_reason_prompt(turn._, amount, draft))
    else:
        await turn.reply(approval_views.waiver_amount_prompt(turn._, request, draft))


def _quote_accepted(turn: Turn) -> str:
    return turn._("The customer has accepted the quote and pays it: there is no fee to waive. Nothing was sent for approval.")


def _waiver_already_asked(turn: Turn, asked: approvals.WaiverAlreadyAsked) -> str:
    if asked.approval.status == approvals.APPROVED:
        return turn._("A fee waiver for this request is already approved and covers its quote: the customer pays nothing.")
    return turn._("A fee waiver for this request is already with the approvers.")


async def on_waiver_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    if not isinstance(message, TextInput):
        await turn.reply(approval_views.bad_amount(turn._) if draft.step == "amount" else approval_views.reask_text(turn._))
        return
    try:
        if draft.step == "amount":
            amount = await approvals.waiver_amount(turn.uow, draft, message.text, turn.now)
            await turn.reply(approval_views.waiver_reason_prompt(turn._, amount, draft))
            return
        approval = await approvals.file_waiver(turn.uow, turn.deps.policy, turn.user, draft, message.text, turn.now)
    except approvals.QuoteAccepted:
        await dialogs.end(turn.uow, draft)
        await turn.reply(_quote_accepted(turn))
        return
    except approvals.WaiverAlreadyAsked as asked:  # someone filed one while this reason was typed
        await dialogs.end(turn.uow, draft)
        await turn.reply(_waiver_already_asked(turn, asked))
        return
    except approvals.WaiverBelowQuote as below:
        await turn.reply(turn._("A fee waiver must cover the quote the customer was given: at least {amount}. A smaller share is a new quote.", amount=turn._.money(below.quote_total_minor)))
        return
    except (InvalidValue, WrongInput):
        await turn.reply(approval_views.bad_amount(turn._) if draft.step == "amount" else approval_views.reask_text(turn._))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    except (NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.reply(turn._("This request has changed meanwhile; nothing was recorded."))
        return
    request = await turn.uow.requests.get(approval.request_id)
    reached = await post_to_approvers(turn, approval, request)
    await turn.uow.commit()  # the waiver request and its approvers' cards in one transaction
    await turn.reply(approval_views.waiver_filed(turn._, approval, request, reached))
