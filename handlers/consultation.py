"""Answering the customer in writing; the customer confirms the answer or replies to it."""
from __future__ import annotations

from bot import escalation_views
from bot.callbacks import ConsultationButton, DialogButton
from bot.services import consultation, dialogs, requests, users
from bot.services.errors import NotAllowed, NotFound, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.users import ROLE_DISPATCHER
from bot.views import input_error
from handlers import approvals as approval_handlers
from handlers.common import Turn
from handlers.dispatch import show_card
from storage.models import Draft, ServiceRequest


async def on_consultation_button(turn: Turn, payload: ConsultationButton) -> None:
    """Dispatchers: answer or close as answered. Customers: "That answers my question"."""
    if payload.action == "resolved":
        await _customer_resolved(turn, payload)
        return
    try:
        if payload.action == "answer":
            start = await consultation.start_answer(turn.uow, turn.user, payload.request_id, turn.now)
            await turn.reply(escalation_views.customer_answer_prompt(turn._, start.request, start.question, start.draft))
        elif payload.action == "close":
            delivery = await consultation.close_as_answered(turn.uow, turn.user, payload.request_id, turn.now)
            if delivery.customer_user is not None:
                _ = turn.translator_for(delivery.customer_user)
                await turn.notify(delivery.customer_user, escalation_views.closed_for_customer(_, delivery.request))
            await _tell_engineer(turn, delivery.request, consultation.CLOSED_AS_ANSWERED)
            await approval_handlers.tell_requesters_withdrawn(turn, list(delivery.withdrawn))
            await turn.uow.commit()  # closed, and the customer's notice queued, before anyone is told
            await show_card(turn, delivery.request.id)
            await approval_handlers.show_withdrawn(turn, list(delivery.withdrawn))
        else:
            raise NotFound()
    except consultation.AskedAgain:
        await turn.answer(turn._("The customer has asked again since the last answer: answer that first. Nothing was closed."), alert=True)
    except (NotAllowed, NotFound):
        await turn.audit("not_allowed_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)


async def _customer_resolved(turn: Turn, payload: ConsultationButton) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        closed = await consultation.confirm_answered(turn.uow, turn.user, customer, payload.request_id, turn.now)
    except NotFound:
        await turn.audit("foreign_request_button", request_id=payload.request_id, action=payload.action)
        await turn.answer(turn._("Request not found."), alert=True)
        return
    except NotAllowed:
        await turn.audit("stale_button", data=payload.pack())
        await turn.answer(escalation_views.already_closed(turn._), alert=True)
        return
    request = closed.request
    await _tell_dispatchers(turn, request)
    await _tell_engineer(turn, request, consultation.CONFIRMED)
    await approval_handlers.tell_requesters_withdrawn(turn, list(closed.withdrawn))
    await turn.uow.commit()
    await turn.edit_off()
    await turn.reply(escalation_views.customer_closed_it(turn._, request))
    await approval_handlers.show_withdrawn(turn, list(closed.withdrawn))


async def _tell_dispatchers(turn: Turn, request: ServiceRequest) -> None:
    for dispatcher in await requests.dispatchers(turn.uow):
        await turn.notify(dispatcher, escalation_views.confirmed_for_staff(turn.translator_for(dispatcher), request), for_role=ROLE_DISPATCHER)


async def _tell_engineer(turn: Turn, request: ServiceRequest, how: str) -> None:
    """Closing a request tells its engineer (a question can need a visit): they may be on their way."""
    engineer = await turn.uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None
    if engineer is None or not engineer.is_active or engineer.id == turn.user.id:
        return
    _ = turn.translator_for(engineer)
    if how == consultation.CONFIRMED:
        text = _("Job {number} is closed: the customer confirmed that the answer resolves their question. Nothing more to do on it.",
                 number=request.number)
    else:
        text = _("Job {number} is closed by the service department as answered; nothing more to do on it.", number=request.number)
    await turn.notify(engineer, text)


async def on_answer_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The dispatcher's answer: it goes to the customer with "That answers my question" and "Reply"."""
    if not isinstance(message, TextInput) or draft.step != consultation.ANSWER_STEP:
        await turn.reply(escalation_views.reask(turn._, draft.step))
        return
    await _send_answer(turn, draft, message.text, draft.data.get("seen_answer"))


async def _send_answer(turn: Turn, draft: Draft, text: str, seen_answer: int | None) -> None:
    try:
        delivery = await consultation.answer_consultation(turn.uow, turn.user, draft.data["request_id"], text, turn.now, seen_answer=seen_answer)
    except consultation.AnsweredMeanwhile as meanwhile:  # both would reach the customer: ask first
        dialogs.move(draft, consultation.ALSO_STEP, turn.now, pending=text, seen_answer=meanwhile.answer.id)
        author = await turn.uow.users.get(meanwhile.answer.actor_user_id) if meanwhile.answer.actor_user_id else None
        await turn.reply(escalation_views.answered_meanwhile(turn._, meanwhile.answer, author, draft))
        return
    except WrongInput:
        await turn.reply(escalation_views.reask(turn._, draft.step))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    except (NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.reply(turn._("This request has changed meanwhile; nothing was recorded."))
        return
    await dialogs.end(turn.uow, draft)
    reached = False
    if delivery.customer_user is not None:
        _ = turn.translator_for(delivery.customer_user)
        view = escalation_views.answer_for_customer(_, delivery.request, delivery.text, delivery.closable)
        reached = await turn.notify_view(delivery.customer_user, view)
    await turn.uow.commit()  # the answer is on the timeline, and queued for the customer, before they read it
    held_until = turn.deps.planner.customer_time(turn.now)  # the outbox holds it over the customer's quiet hours
    await turn.reply(escalation_views.answer_delivered(turn._, delivery.request, reached, held_until if held_until > turn.now else None))
    if turn.user.role_names & users.OVERSEER_ROLES:  # a salesperson has no staff card to see
        await show_card(turn, delivery.request.id, edit=False)


async def on_answer_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """“Send mine too” after a colleague answered meanwhile (Cancel is the router's)."""
    if draft.step != consultation.ALSO_STEP or payload.action != "send" or not draft.data.get("pending"):
        raise NotAllowed()
    await turn.edit_off()
    await _send_answer(turn, draft, draft.data["pending"], draft.data.get("seen_answer"))
