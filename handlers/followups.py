"""Follow-up calls in the chat: /calls, a call's card, the outcome buttons and the feedback step,
the dispatchers' alert when a customer is not satisfied, and the daily message composed by the
outbox sender. Every press is re-checked by `bot.services.followups`; the customer is never messaged."""
from __future__ import annotations

from datetime import date, datetime

from bot import followup_views
from bot.callbacks import DialogButton, FollowUpButton
from bot.i18n import Translator
from bot.services import dialogs, followups, requests
from bot.services.errors import NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.users import ROLE_DISPATCHER
from bot.services.validation import COMMENT_MAX, clean_text
from bot.views import View, input_error
from handlers.common import Deps, Turn, handler
from storage.db import UnitOfWork
from storage.models import Draft, OutboxMessage, User

OUTCOME_OF_ACTION = {"sat": followups.SATISFIED, "unsat": followups.NOT_SATISFIED}


def _today(turn: Turn) -> date:
    return followups.local_day(turn.now, turn.deps.settings.timezone)


async def _refuse(turn: Turn, data: str) -> None:
    await turn.audit("follow_up_not_allowed", data=data)
    await turn.answer(turn._("This button is no longer valid."), alert=True)


async def _card_view(turn: Turn, call_id: int, note: str | None = None) -> View:
    card = await followups.card(turn.uow, turn.user, call_id, _today(turn))
    return followup_views.call_card(turn._, card, turn.deps.policy.follow_ups, note)


@handler
async def cmd_calls(turn: Turn) -> None:
    """/calls: the follow-up calls due today and overdue, overdue first."""
    try:
        due = await followups.due_list(turn.uow, turn.user, _today(turn))
    except NotAllowed:
        await turn.reply(followup_views.not_for_you(turn._))
        return
    await turn.reply(followup_views.call_list(turn._, due))


async def on_follow_up_button(turn: Turn, payload: FollowUpButton) -> None:
    """Open the list or a card, choose a reached outcome (feedback comes next), or record a try."""
    policy, timezone = turn.deps.policy.follow_ups, turn.deps.settings.timezone
    try:
        if payload.action == "list":
            await turn.edit(followup_views.call_list(turn._, await followups.due_list(turn.uow, turn.user, _today(turn))))
        elif payload.action == "open":
            await turn.edit(await _card_view(turn, payload.call_id))
        elif payload.action in OUTCOME_OF_ACTION:
            draft = await followups.choose_outcome(turn.uow, turn.user, payload.call_id, OUTCOME_OF_ACTION[payload.action], turn.now)
            request = (await followups.card(turn.uow, turn.user, payload.call_id, _today(turn))).request
            await turn.edit(followup_views.feedback_prompt(turn._, draft, request.number))
        elif payload.action == "noans":
            recorded = await followups.no_answer(turn.uow, policy, timezone, turn.user, payload.call_id, payload.seen, turn.now)
            await turn.uow.commit()  # the try counts before the card says so
            note = followup_views.recorded_note(turn._, recorded, policy)
            await turn.answer(note)
            await turn.edit(await _card_view(turn, recorded.call.id, note))
        else:
            raise NotFound()
    except followups.AlreadyRecorded as late:
        await turn.audit("follow_up_late_press", data=payload.pack(), state=late.call.state, attempts=late.call.attempts)
        await turn.answer(followup_views.already_recorded(turn._, late.call), alert=True)
        await turn.edit(await _card_view(turn, late.call.id))
    except (NotAllowed, NotFound):
        await _refuse(turn, payload.pack())


# --- the feedback step (a dialog: a draft row, so a restart keeps it) -------------------------------


async def on_feedback_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The customer's words, typed by the caller."""
    try:
        if not isinstance(message, TextInput):
            raise WrongInput("feedback")
        feedback = clean_text(message.text, limit=COMMENT_MAX, expected="feedback")
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    except WrongInput:
        await turn.reply(followup_views.feedback_reask(turn._, draft))
        return
    await _record(turn, draft, feedback)


async def on_feedback_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """Skip (record without feedback) or Back (to the card, nothing recorded)."""
    if payload.action == "skip":
        await turn.edit_off()
        await _record(turn, draft, None)
    elif payload.action == "back":
        await go_back(turn, draft, edit=True)
    else:
        raise StaleAction()


async def go_back(turn: Turn, draft: Draft, *, edit: bool = False) -> None:
    """Leave the feedback step: the call stays due, its card is shown again."""
    call_id = draft.data["call_id"]
    await dialogs.end(turn.uow, draft)
    try:
        view = await _card_view(turn, call_id)
    except (NotAllowed, NotFound):
        await turn.reply(followup_views.not_for_you(turn._))
        return
    await (turn.edit(view) if edit else turn.reply(view))


async def _record(turn: Turn, draft: Draft, feedback: str | None) -> None:
    policy = turn.deps.policy.follow_ups
    try:
        recorded = await followups.record_reached(turn.uow, policy, turn.deps.settings.timezone, turn.user, draft, feedback, turn.now)
    except followups.AlreadyRecorded as late:  # another caller finished it while this one typed
        await turn.audit("follow_up_late_press", data=f"feedback:{late.call.id}", state=late.call.state)
        await turn.reply(followup_views.already_recorded(turn._, late.call))
        return
    except (NotAllowed, NotFound):
        await turn.audit("follow_up_not_allowed", data=f"feedback:{draft.data.get('call_id')}")
        await turn.reply(turn._("This button is no longer valid."))
        return
    if recorded.call.outcome == followups.NOT_SATISFIED:
        await _tell_dispatchers(turn, recorded)
    await turn.uow.commit()  # stored, with the dispatchers' notices, before anyone is told
    await turn.reply(await _card_view(turn, recorded.call.id, followup_views.recorded_note(turn._, recorded, policy)))


async def _tell_dispatchers(turn: Turn, recorded: followups.Recorded) -> None:
    """One message per dispatcher (the caller is not told twice when they are one)."""
    customer = await turn.uow.customers.get(recorded.request.customer_id)
    for dispatcher in await requests.dispatchers(turn.uow):
        if dispatcher.id == turn.user.id:
            continue
        _ = turn.translator_for(dispatcher)
        await turn.notify_view(dispatcher, followup_views.unhappy_customer(_, recorded, customer.name, customer.phone, turn.user), for_role=ROLE_DISPATCHER)


# --- the daily message (rendered by the outbox sender, handlers/sweeps.py) ----------------------------


async def digest_view(uow: UnitOfWork, user: User, message: OutboxMessage, _: Translator) -> View | None:
    """Today's list for one caller, read when it is sent (None: nothing left to call)."""
    summary = await followups.digest(uow, user, date.fromisoformat(message.payload["day"]))
    return followup_views.digest(_, summary) if summary is not None else None


async def plan_digests(deps: Deps, now: datetime) -> int:
    """From the sweep: from remind_at on, once a day, one outbox row per callback person with calls due."""
    policy = deps.policy.follow_ups
    if not followups.digest_time(now, deps.settings.timezone, policy):
        return 0  # before remind_at not even a transaction is opened
    async with deps.db.uow() as uow:
        planned = await followups.plan_digests(uow, policy, deps.settings.timezone, now, deps.planner.staff_time(now, urgent=False))
        await uow.commit()
    return planned
