"""Expert escalation: the dispatcher asks, the expert answers (/cases), both sides are told."""
from __future__ import annotations

from bot import escalation_views
from bot.callbacks import CaseButton, DialogButton, EscalationButton, ExpertPickButton
from bot.services import dialogs, escalation
from bot.services.errors import NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.views import input_error
from handlers.common import Turn, handler
from handlers.dispatch import show_card
from storage.models import Draft


async def _refuse(turn: Turn, data: str) -> None:
    await turn.audit("not_allowed_button", data=data)
    await turn.answer(turn._("This button is no longer valid."), alert=True)


# --- the dispatcher ----------------------------------------------------------------------


async def on_escalation_button(turn: Turn, payload: EscalationButton) -> None:
    """"Ask an expert": the case already open, or the on-duty experts to choose from."""
    try:
        if payload.action != "ask":
            raise NotAllowed()
        asking = await escalation.asking(turn.uow, turn.user, payload.request_id)
    except (NotAllowed, NotFound):
        await _refuse(turn, payload.pack())
        return
    await turn.edit(escalation_views.asking_view(turn._, asking))


async def on_expert_pick(turn: Turn, payload: ExpertPickButton) -> None:
    """An expert was chosen: ask the dispatcher for the question (re-checked when it is sent)."""
    try:
        draft, request, expert = await escalation.start_question(turn.uow, turn.user, payload.request_id, payload.expert_id, turn.now)
    except escalation.AlreadyEscalated as already:
        await turn.edit(await _already_view(turn, already))
        return
    except (escalation.ExpertOffDuty, escalation.ExpertUnreachable) as gone:
        await turn.answer(escalation_views.expert_unavailable(turn._, gone), alert=True)
        await turn.edit(escalation_views.asking_view(turn._, await escalation.asking(turn.uow, turn.user, payload.request_id)))
        return
    except (NotAllowed, NotFound):
        await _refuse(turn, payload.pack())
        return
    await turn.edit_off()
    await turn.reply(escalation_views.question_prompt(turn._, request, expert, draft))


async def _already_view(turn: Turn, already: escalation.AlreadyEscalated):
    request = await turn.uow.requests.get(already.escalation.request_id)
    expert = await turn.uow.users.get(already.escalation.expert_id)
    return escalation_views.already_with_expert(turn._, request, already.escalation, expert)


async def on_question_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The dispatcher's question: the case goes to the expert with the request's photos."""
    if not isinstance(message, TextInput):
        await turn.reply(escalation_views.reask(turn._, draft.step))
        return
    try:
        case, request, expert = await escalation.escalate(turn.uow, turn.user, draft.data["request_id"], draft.data["expert_id"], message.text, turn.now)
    except (TooLong, WrongInput) as error:
        await turn.reply(input_error(turn._, error) if isinstance(error, TooLong) else escalation_views.reask(turn._, draft.step))
        return
    except escalation.AlreadyEscalated as already:
        await dialogs.end(turn.uow, draft)
        await turn.reply(await _already_view(turn, already))
        return
    except (escalation.ExpertOffDuty, escalation.ExpertUnreachable) as gone:  # went off duty (or blocked the bot) while the question was typed
        await dialogs.end(turn.uow, draft)
        await turn.reply(escalation_views.expert_unavailable(turn._, gone))
        await turn.reply(escalation_views.asking_view(turn._, await escalation.asking(turn.uow, turn.user, draft.data["request_id"])))
        return
    except (NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.reply(turn._("This request has changed meanwhile; nothing was recorded."))
        return
    await dialogs.end(turn.uow, draft)
    await _tell_expert(turn, await escalation.case_of(turn.uow, case, request), expert)
    await turn.uow.commit()  # the case, and the expert's notice, exist before anyone is told
    await turn.reply(escalation_views.escalation_sent(turn._, request, expert))
    await show_card(turn, request.id, edit=False)


async def _tell_expert(turn: Turn, case: escalation.Case, expert) -> None:
    view = escalation_views.case_view(turn.translator_for(expert), case)
    await turn.notify(expert, view.text, markup=view.markup, photos=case.photos, voices=case.voices)


async def on_question_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    raise NotAllowed()  # only Cancel exists here, and the router handles it


# --- the expert --------------------------------------------------------------------------


@handler
async def cmd_cases(turn: Turn) -> None:
    """/cases: the expert's unanswered cases, oldest first."""
    try:
        cases = await escalation.open_cases(turn.uow, turn.user)
    except NotAllowed:
        await turn.reply(escalation_views.not_expert(turn._))
        return
    await turn.reply(escalation_views.cases_view(turn._, cases))


async def on_case_button(turn: Turn, payload: CaseButton) -> None:
    """Open a case or start the answer; only the case's own expert gets past the service."""
    try:
        if payload.action == "open":
            case = await escalation.case(turn.uow, turn.user, payload.escalation_id)
            await _tell_expert(turn, case, turn.user)
        elif payload.action == "write":
            draft, _request = await escalation.start_answer(turn.uow, turn.user, payload.escalation_id, turn.now)
            await turn.reply(escalation_views.answer_prompt(turn._, draft))
        else:
            raise NotFound()
    except NotFound:
        await _refuse(turn, payload.pack())
    except StaleAction:
        await turn.audit("stale_button", data=payload.pack())
        await turn.answer(escalation_views.case_answered(turn._), alert=True)
    except NotAllowed:
        await turn.answer(escalation_views.case_withdrawn(turn._), alert=True)


async def on_answer_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The cause analysis, then the repair plan; each step re-asks on the wrong kind of input."""
    try:
        escalation.answer_input(draft, message, turn.now)
    except WrongInput:
        await turn.reply(escalation_views.reask(turn._, draft.step))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    await turn.reply(escalation_views.answer_prompt(turn._, draft))


async def on_answer_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """Send from the review; Back, Keep and Edit move between the steps."""
    if payload.action != "send":
        escalation.answer_button(draft, payload.action, turn.now)
        await turn.edit_off()
        await turn.reply(escalation_views.answer_prompt(turn._, draft))
        return
    if draft.step != escalation.REVIEW:
        raise NotAllowed()
    await turn.edit_off()
    await dialogs.end(turn.uow, draft)
    try:
        answered = await escalation.answer(turn.uow, turn.user, draft.data["escalation_id"], draft.data["analysis"], draft.data["plan"], turn.now)
    except StaleAction:
        await turn.reply(escalation_views.case_answered(turn._))
        return
    except (NotAllowed, NotFound):
        await turn.reply(escalation_views.case_withdrawn(turn._))
        return
    for reader in answered.readers:
        _ = turn.translator_for(reader)
        await turn.notify_view(reader, escalation_views.expert_answer_view(_, answered.escalation, answered.request, turn.user, reader))
    await turn.uow.commit()  # the answer, and its notices, are recorded before anyone is told
    await turn.reply(escalation_views.answer_sent(turn._, answered.escalation, answered.request))


async def go_back(turn: Turn, draft: Draft) -> None:
    """A typed "⬅️ Back" inside the answer dialog: the same as the Back button."""
    escalation.answer_button(draft, "back", turn.now)
    await turn.reply(escalation_views.answer_prompt(turn._, draft))
