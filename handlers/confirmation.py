"""The customer's side of a job: answering a proposed visit, confirming the report, the survey."""
from __future__ import annotations

from bot import complaint_views, job_views, views
from bot.callbacks import DialogButton, DispatchButton, JobButton, ReportAnswerButton, SurveyButton, VisitButton
from bot.keyboards import button, inline
from bot.services import confirmation, dialogs, followups, jobs, requests, users
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.users import ROLE_DISPATCHER
from bot.services.validation import COMMENT_MAX, clean_text
from bot.staff_views import display_name
from handlers import approvals as approval_handlers
from handlers import returns as return_handlers
from handlers.common import Turn
from storage.models import Draft, ServiceRequest

VISIT_COUNTER, COUNTER_STEP = "visit_counter", "counter"


async def _refuse(turn: Turn, data: str) -> None:
    await turn.audit("stale_customer_button", data=data)
    await turn.answer(turn._("This button is no longer valid."), alert=True)


async def on_visit_answer(turn: Turn, payload: VisitButton) -> None:
    """'That suits me' answers at once; 'another time' asks the customer for their words first."""
    customer = await users.customer_of(turn.uow, turn.user)
    if payload.action == "other":
        visit = await turn.uow.jobs.visit(payload.visit_id)
        try:
            request = await requests.own_request(turn.uow, customer, visit.request_id if visit else 0)
        except NotFound:
            await _refuse(turn, payload.pack())
            return
        if visit.state == jobs.CANCELLED or visit.engineer_id != request.assigned_engineer_id:
            await _visit_called_off(turn)
            return
        if visit.state != jobs.PROPOSED:
            await _refuse(turn, payload.pack())
            return
        if jobs.proposal_mark(visit) != payload.at:
            await _proposal_changed(turn)
            return
        draft = await dialogs.begin(turn.uow, turn.user.id, VISIT_COUNTER, COUNTER_STEP, {"visit_id": visit.id, "at": payload.at}, turn.now)
        # the proposal keeps its buttons: a customer who cancels this prompt (or leaves it for
        # another dialog) can still agree, or suggest again; once answered, the server refuses them
        await turn.reply(job_views.counter_prompt(turn._, request, draft))
        return
    if payload.action != "ok":
        await _refuse(turn, payload.pack())
        return
    try:
        answer = await jobs.answer_visit(turn.uow, turn.user, customer, payload.visit_id, True, None, turn.now, proposed=payload.at)
    except jobs.VisitCalledOff:
        await _visit_called_off(turn)
        return
    except jobs.ProposalChanged:
        await _proposal_changed(turn)
        return
    except (NotAllowed, NotFound):
        await _refuse(turn, payload.pack())
        return
    when = answer.visit.planned_at
    engineer = await turn.uow.users.get(answer.visit.engineer_id)
    _ = turn.translator_for(engineer)
    await turn.notify(engineer, _("✅ The customer agreed to the visit on {time} for job {number}.", time=_.datetime(when), number=answer.request.number))
    await turn.uow.commit()
    await turn.edit_off()
    await turn.reply(turn._("Thank you: the visit on {time} is agreed (request {number}).", time=turn._.datetime(when), number=answer.request.number))


async def _visit_called_off(turn: Turn) -> None:
    """A proposal of an engineer the job has left since (reassigned, released): it books nothing."""
    await turn.answer(turn._("This visit was called off: the job has another engineer, who will propose a time."), alert=True)
    await turn.edit_off()


async def _proposal_changed(turn: Turn) -> None:
    """A button of an earlier proposal: the engineer has proposed another time since."""
    await turn.answer(turn._("The engineer has changed the proposal meanwhile; please look at their latest message."), alert=True)
    await turn.edit_off()


async def on_counter_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    try:
        if not isinstance(message, TextInput):
            raise WrongInput("note")
        note = clean_text(message.text, limit=COMMENT_MAX, expected="note")
    except DomainError as error:
        await turn.reply(views.input_error(turn._, error))
        return
    await dialogs.end(turn.uow, draft)
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        answer = await jobs.answer_visit(turn.uow, turn.user, customer, draft.data["visit_id"], False, note, turn.now, proposed=draft.data.get("at"))
    except (NotAllowed, NotFound):
        await turn.reply(turn._("The engineer has changed the proposal meanwhile; please look at their latest message."))
        return
    engineer = await turn.uow.users.get(answer.visit.engineer_id)
    _ = turn.translator_for(engineer)
    markup = inline([[button(_("📅 Propose a visit"), JobButton(answer.request.id, "visit"))]])
    await turn.notify(engineer, _("🕑 The customer of job {number} asks for another time: {note}", number=answer.request.number, note=note), markup=markup)
    await turn.uow.commit()
    await turn.reply(turn._("Thank you, the engineer will propose another time (request {number}).", number=answer.request.number))


async def on_counter_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    raise StaleAction()  # only Cancel, which the router handles


# --- the verdict on the report --------------------------------------------------------------


async def on_report_answer(turn: Turn, payload: ReportAnswerButton) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    before = await turn.uow.requests.get(payload.request_id)
    awaited = await return_handlers.awaited_product(turn, before) if before is not None else None  # an approved return: the warehouse expects it
    try:
        if payload.action not in ("yes", "no"):
            raise NotFound()
        verdict = await confirmation.confirm(turn.uow, turn.user, customer, payload.request_id, payload.action == "yes", turn.now,
                                             seen=payload.seen)
    except confirmation.ReportChanged:
        await turn.audit("stale_customer_button", data=payload.pack())
        await turn.answer(turn._("The engineer has changed this report since: please answer the latest version, sent after it."), alert=True)
        await turn.edit_off()
        return
    except (NotAllowed, NotFound):
        if await _closed_by_timeout(turn, customer, payload.request_id):
            return
        await _refuse(turn, payload.pack())
        return
    # A closed job owes the customer follow-up calls (bot/services/followups.py), in the same transaction.
    await followups.schedule_after_close(turn.uow, turn.deps.policy.follow_ups, turn.deps.settings.timezone, verdict.request, turn.now)
    request = verdict.request
    engineer = await turn.uow.users.get(verdict.report.engineer_id)
    if verdict.resolved:
        if engineer is not None and engineer.is_active:  # staff news: not for someone who has left (who may be a customer too)
            _ = turn.translator_for(engineer)
            await turn.notify(engineer, _("✅ The customer confirmed job {number} as resolved.", number=request.number))
        await return_handlers.tell_trackers_not_coming(turn, awaited)
        await approval_handlers.tell_requesters_withdrawn(turn, list(verdict.withdrawn))  # a fee waiver, a requisition: over with it
        await turn.uow.commit()  # the verdict and its notices stand before anyone is told
        await turn.edit_off()
        await turn.reply(job_views.survey_prompt(turn._, await confirmation.current_survey_step(turn.uow, request)))
        await approval_handlers.show_withdrawn(turn, list(verdict.withdrawn))  # the approvers' cards say it ended
        return
    await _reopened(turn, request, engineer)


async def _closed_by_timeout(turn: Turn, customer, request_id: int) -> bool:
    """An answer to a report the confirmation timeout closed meanwhile (perhaps at night, its notice
    still held for the morning): the customer learns that their answer was not taken, and how to
    go on if the problem is still there, rather than only that the button is no longer valid."""
    try:
        request = await requests.own_request(turn.uow, customer, request_id)
    except NotFound:
        return False
    if request.status != requests.CLOSED or request.closed_reason != confirmation.TIMEOUT:
        return False
    await turn.audit("late_report_answer", request_id=request.id)
    await turn.answer()
    await turn.edit_off()
    hours = int(turn.deps.policy.closing.confirmation_timeout.total_seconds() // 3600)
    await turn.reply(turn._("Request {number} was already closed as confirmed by timeout: we did not hear back within {hours} hours "
                            "after the work report, so your answer could not be taken. If the problem is still there, please report it with /new.",
                            number=request.number, hours=hours))
    return True


async def _reopened(turn: Turn, request: ServiceRequest, engineer) -> None:
    """Not resolved: the dispatchers and the engineer are told; the customer can say what is wrong."""
    _, draft = await requests.start_comment(turn.uow, turn.user, await users.customer_of(turn.uow, turn.user), request.id, turn.now)
    for dispatcher in await requests.dispatchers(turn.uow):
        await turn.notify_view(dispatcher, job_views.dispute_for_staff(turn.translator_for(dispatcher), request, dispatcher=True), for_role=ROLE_DISPATCHER)
    if engineer is not None and engineer.is_active and request.assigned_engineer_id == engineer.id:  # still theirs
        await turn.notify_view(engineer, job_views.dispute_for_staff(turn.translator_for(engineer), request, dispatcher=False))
    await turn.uow.commit()  # the verdict and its notices stand before anyone is told
    await turn.edit_off()
    await turn.reply(views.View(turn._("We are sorry. Request {number} is reopened and the dispatcher is told. What is still wrong? Send a comment or photos, then press “Done”.", number=request.number),
                                views.comment_prompt(turn._, request, draft).markup))


# --- the survey ----------------------------------------------------------------------------


async def on_survey_answer(turn: Turn, payload: SurveyButton) -> None:
    await _survey_answer(turn, payload.request_id, payload.step, payload.value, payload.pack())


async def on_survey_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """A survey button of the earlier kind, tied to the dialog (messages sent before SurveyButton)."""
    value = "skip" if payload.action == "skip" else payload.value
    await _survey_answer(turn, draft.data["request_id"], payload.step, value, payload.pack())


async def _survey_answer(turn: Turn, request_id: int, step: str, value: str, data: str) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        answered = await confirmation.survey_answer(turn.uow, turn.user, customer, request_id, step, value,
                                                    turn.deps.policy.closing.low_score_alert, turn.now)
    except (StaleAction, NotAllowed, NotFound):
        await _refuse(turn, data)
        return
    await turn.edit_off()
    await _after_survey_step(turn, answered)


async def on_survey_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        answered = await confirmation.survey_input(turn.uow, turn.user, customer, draft, message, turn.now)
    except (StaleAction, NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)  # its survey was finished or erased meanwhile
        await turn.reply(turn._("This survey is already closed. Thank you!"))
        return
    except DomainError as error:
        # InvalidValue: a question with buttons is still open; otherwise the comment was refused
        await turn.reply(turn._("Please answer with the buttons above.") if isinstance(error, InvalidValue) else views.input_error(turn._, error))
        return
    await _after_survey_step(turn, answered)


async def _after_survey_step(turn: Turn, answered: confirmation.SurveyStep) -> None:
    if answered.low_score:
        await _alert_low_score(turn, answered.request, answered.survey.stars)
    if answered.step is None:
        await turn.reply(views.main_menu_view(turn._, turn._("Thank you for your feedback! It helps us serve you better.")))
        if answered.survey.stars is not None and answered.survey.stars <= turn.deps.policy.closing.low_score_alert:
            await turn.reply(complaint_views.offer(turn._, answered.request))  # a low score may become a complaint
    else:
        await turn.reply(job_views.survey_prompt(turn._, answered))


async def _alert_low_score(turn: Turn, request: ServiceRequest, stars: int) -> None:
    engineer = await turn.uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None
    for manager in await confirmation.managers_to_alert(turn.uow):
        _ = turn.translator_for(manager)
        text = _("⚠️ Low satisfaction score {stars}/5 for request {number} (engineer {name}).", stars=stars, number=request.number, name=display_name(engineer) if engineer else "—")
        await turn.notify(manager, text, markup=inline([[button(_("Open"), DispatchButton(request.id, "open"))]]) if "dispatcher" in manager.role_names else None)
