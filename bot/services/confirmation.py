"""After the report: the customer confirms or disputes it, rates the service, or stays silent.

"Not resolved" reopens the job and flags a repeat repair; "Resolved" closes the request and
opens the survey; no answer within the policy window closes it as "confirmed by timeout",
which the figures count separately.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services import dialogs, jobs, requests
from bot.services.errors import InvalidValue, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.validation import COMMENT_MAX, clean_text
from storage.db import UnitOfWork
from storage.models import Customer, Draft, JobReport, ServiceRequest, Survey, User

CONFIRMED, DISPUTED, TIMEOUT = "confirmed", "disputed", "timeout"
SURVEY = "survey"
STARS, ON_TIME, SURVEY_COMMENT = "stars", "on_time", "survey_comment"
TIMEOUT_BATCH = 200


@dataclass(frozen=True)
class Verdict:
    request: ServiceRequest
    report: JobReport
    resolved: bool
    survey_draft: Draft | None


async def confirm(uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, resolved: bool, now: datetime) -> Verdict:
    """The customer's answer to the report, accepted once (a second press or a stale button is refused)."""
    request = await requests.own_request(uow, customer, request_id)
    report = await uow.jobs.report_of(request.id)
    if request.status != requests.RESOLVED or report is None or report.outcome is not None:
        raise NotAllowed()
    if not await uow.jobs.decide_report(report.id, CONFIRMED if resolved else DISPUTED, now):
        raise NotAllowed()
    await uow.session.refresh(report)
    before = request.status
    if resolved:
        request.status, request.closed_reason = requests.CLOSED, CONFIRMED
        await jobs.record(uow, request, user, "confirmed", now, before=before, after=request.status)
        survey = await uow.jobs.survey_of(request.id) or await uow.jobs.add_survey(Survey(request_id=request.id, created_at=now))
        draft = await dialogs.begin(uow, user.id, SURVEY, STARS, {"request_id": request.id, "survey_id": survey.id}, now)
        return Verdict(request, report, True, draft)
    request.status, request.repeat_repair = requests.IN_PROGRESS, True
    engineer = await uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None
    if engineer is None or not engineer.is_active or jobs.ROLE_ENGINEER not in engineer.role_names:
        # their engineer has left since the report: the repeat repair waits in the queue for another
        request.status, request.assigned_engineer_id = requests.TRIAGED, None
        assignment = await uow.dispatch.current_assignment(request.id)
        if assignment is not None:
            assignment.ended_at, assignment.outcome = now, "released"
    await jobs.record(uow, request, user, "disputed", now, before=before, after=request.status, repeat_repair=True,
                      engineer_id=report.engineer_id)  # whose repair failed, for the per-engineer repeat repairs
    return Verdict(request, report, False, None)


async def close_unconfirmed(uow: UnitOfWork, now: datetime, window: timedelta) -> list[ServiceRequest]:
    """Close requests whose report has waited `window` for the customer: "confirmed by timeout"."""
    closed = []
    for report, request in await uow.jobs.unconfirmed_before(now - window, requests.RESOLVED, TIMEOUT_BATCH):
        if not await uow.jobs.decide_report(report.id, TIMEOUT, now):
            continue  # the customer answered at this very moment, or another process closed it
        before = request.status
        request.status, request.closed_reason = requests.CLOSED, TIMEOUT
        await jobs.record(uow, request, None, "confirmed_by_timeout", now, before=before, after=request.status)
        closed.append(request)
    return closed


# --- the survey (a dialog: stars → on time → optional comment) ---------------------------


@dataclass(frozen=True)
class SurveyStep:
    draft: Draft | None  # None once the survey is finished
    survey: Survey
    low_score: bool = False


async def _survey(uow: UnitOfWork, draft: Draft) -> Survey:
    survey = await uow.jobs.survey_of(draft.data["request_id"])
    if survey is None or survey.completed_at is not None:
        raise StaleAction()
    return survey


async def survey_button(uow: UnitOfWork, draft: Draft, action: str, value: str, low_score_at: int, now: datetime) -> SurveyStep:
    survey = await _survey(uow, draft)
    if draft.step == STARS and action == "stars" and value in ("1", "2", "3", "4", "5"):
        survey.stars = int(value)
        dialogs.move(draft, ON_TIME, now)
        return SurveyStep(draft, survey, low_score=survey.stars <= low_score_at)
    if draft.step == ON_TIME and action == "on_time" and value in ("yes", "no"):
        survey.on_time = value == "yes"
        dialogs.move(draft, SURVEY_COMMENT, now)
        return SurveyStep(draft, survey)
    if draft.step == SURVEY_COMMENT and action == "skip":
        return await _finish(uow, draft, survey, now)
    raise StaleAction()


async def survey_input(uow: UnitOfWork, draft: Draft, message: UserInput, now: datetime) -> SurveyStep:
    survey = await _survey(uow, draft)
    if draft.step != SURVEY_COMMENT:
        raise InvalidValue(f"survey_{draft.step}")
    if not isinstance(message, TextInput):
        raise WrongInput(SURVEY_COMMENT)
    survey.comment = clean_text(message.text, limit=COMMENT_MAX, expected=SURVEY_COMMENT)
    return await _finish(uow, draft, survey, now)


async def _finish(uow: UnitOfWork, draft: Draft, survey: Survey, now: datetime) -> SurveyStep:
    survey.completed_at = now
    await dialogs.end(uow, draft)
    return SurveyStep(None, survey)


async def survey_request(uow: UnitOfWork, draft: Draft) -> ServiceRequest:
    request = await uow.requests.get(draft.data["request_id"])
    if request is None:
        raise NotFound()
    return request


async def managers_to_alert(uow: UnitOfWork) -> list[User]:
    """Who hears of a low score: the service managers, or the dispatchers when there is none."""
    managers = await uow.users.active_with_role("service_manager")
    return managers or await requests.dispatchers(uow)

