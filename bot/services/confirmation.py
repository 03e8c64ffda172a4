"""After the report: the customer confirms or disputes it, rates the service, or stays silent.

"Not resolved" reopens the job and flags a repeat repair; the disputed report is kept as it was
(superseded) and the repeat repair gets a report of its own. "Resolved" closes the request and
opens the survey; no answer within the policy window closes it as "confirmed by timeout",
which the figures count separately.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services import cancellation, dialogs, jobs, requests
from bot.services.errors import InvalidValue, NotAllowed, StaleAction, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.validation import COMMENT_MAX, clean_text
from storage.db import UnitOfWork
from storage.models import Approval, Customer, Draft, JobReport, ServiceRequest, Survey, User

CONFIRMED, DISPUTED, TIMEOUT = "confirmed", "disputed", "timeout"
SURVEY = "survey"
STARS, ON_TIME, SURVEY_COMMENT = "stars", "on_time", "survey_comment"
TIMEOUT_BATCH = 200


@dataclass(frozen=True)
class Verdict:
    request: ServiceRequest
    report: JobReport
    resolved: bool
    withdrawn: tuple[Approval, ...] = ()  # open approvals that ended with the request (handlers tell and redraw)


def report_mark(report: JobReport) -> int:
    """When the report was last written, in whole seconds: which version a customer's button answers."""
    return int(report.updated_at.timestamp())


async def waiting_report(uow: UnitOfWork, request: ServiceRequest) -> JobReport | None:
    """The report on the customer's request that waits for their answer, or None. The card and
    comment mode answer it too: the report's own message may have scrolled away or be long gone."""
    if request.status != requests.RESOLVED:
        return None
    report = await uow.jobs.report_of(request.id)
    return report if report is not None and report.outcome is None else None


class ReportChanged(StaleAction):
    """The engineer changed the report after the message the customer answered."""


async def confirm(uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, resolved: bool, now: datetime,
                  *, seen: int = 0) -> Verdict:
    """The customer's answer to the report, accepted once (a second press or a stale button is
    refused), and only to the version they were shown (`seen`: its `report_mark`; 0, a message
    sent before marks, is not checked)."""
    request = await requests.own_request(uow, customer, request_id, lock=True)  # an edit of the report waits, or is refused
    report = await uow.jobs.report_of(request.id)
    if request.status != requests.RESOLVED or report is None or report.outcome is not None:
        raise NotAllowed()
    if seen and report_mark(report) != seen:
        raise ReportChanged()
    # a disputed report stays as sent (the archive and the month count every attempt): superseded
    if not await uow.jobs.decide_report(report.id, CONFIRMED if resolved else DISPUTED, now, supersede=not resolved):
        raise NotAllowed()
    await uow.session.refresh(report)
    before = request.status
    if resolved:
        request.status, request.closed_reason = requests.CLOSED, CONFIRMED
        await jobs.record(uow, request, user, "confirmed", now, before=before, after=request.status)
        survey = await uow.jobs.survey_of(request.id) or await uow.jobs.add_survey(Survey(request_id=request.id, created_at=now))
        await dialogs.begin(uow, user.id, SURVEY, STARS, {"request_id": request.id, "survey_id": survey.id}, now)
        # a return, a fee waiver, a requisition, an expert's question still open on it: over with it
        return Verdict(request, report, True, tuple(await cancellation.end_what_hangs_on(uow, request, user, now)))
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
    return Verdict(request, report, False)


async def close_unconfirmed(uow: UnitOfWork, now: datetime, window: timedelta, *, staff_time: datetime | None = None,
                            withdrawn: dict[int, list[Approval]] | None = None) -> list[ServiceRequest]:
    """Close requests whose report has waited `window` for the customer: "confirmed by timeout".
    Staff told of it as a result (an expert whose question ends) hear from `staff_time` (the sweep
    runs at night too; nobody acted, so nobody needs to know before staff hours). `withdrawn`,
    when given, receives per request id the open approvals that ended with it (the sweep queues
    the notices about them)."""
    closed, cutoff = [], now - window
    due = await uow.jobs.unconfirmed_before(cutoff, requests.RESOLVED, TIMEOUT_BATCH)
    for report, request in sorted(due, key=lambda pair: pair[1].id):  # locked in id order, as everywhere
        if await uow.requests.lock(request.id) is None or request.status != requests.RESOLVED:
            continue  # answered or closed meanwhile by another process
        if uow.requests.takes_row_locks:  # the report as the lock's previous holder left it
            await uow.session.refresh(report)
            if report.updated_at > cutoff:
                continue  # the engineer edited it meanwhile: its window starts again
        if not await uow.jobs.decide_report(report.id, TIMEOUT, now):
            continue  # the customer answered at this very moment, or another process closed it
        before = request.status
        request.status, request.closed_reason = requests.CLOSED, TIMEOUT
        ended = await cancellation.end_what_hangs_on(uow, request, None, now, experts_from=staff_time)
        if withdrawn is not None and ended:
            withdrawn[request.id] = ended
        await jobs.record(uow, request, None, "confirmed_by_timeout", now, before=before, after=request.status)
        closed.append(request)
    return closed


def closed_by_timeout(request: ServiceRequest) -> bool:
    """Closed as "confirmed by timeout": nobody answered the report within the window."""
    return request.status == requests.CLOSED and request.closed_reason == TIMEOUT


async def told_of_timeout(uow: UnitOfWork, request: ServiceRequest) -> list[User]:
    """Who hears, besides the customer, that a request closed by timeout: the engineer whose report
    it was (as when the customer confirms) and the dispatchers, since nobody acted and the job
    just leaves their lists."""
    report = await uow.jobs.report_of(request.id)
    engineer = await uow.users.get(report.engineer_id) if report is not None else None
    people = [engineer] if engineer is not None else []
    return people + [d for d in await requests.dispatchers(uow) if d not in people]


# --- the survey (stars → on time → optional comment) ----------------------------------------
#
# The answers live on the survey row and its buttons name the request, so a survey interrupted by
# another (two reports confirmed one after the other) or by any other dialog is still answered
# from its own message. The dialog draft only routes a typed comment to the right survey.


@dataclass(frozen=True)
class SurveyStep:
    request: ServiceRequest
    survey: Survey
    step: str | None  # the question to ask next; None once the survey is finished
    by_phone: bool = False  # the job was solved by phone: "on time" is not about a visit
    low_score: bool = False


def survey_step(survey: Survey) -> str:
    if survey.stars is None:
        return STARS
    if survey.on_time is None:
        return ON_TIME
    return SURVEY_COMMENT


async def _open_survey(uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, now: datetime) -> tuple[ServiceRequest, Survey, Draft]:
    """The customer's unfinished survey of their request, with its dialog as the current one."""
    request = await requests.own_request(uow, customer, request_id)
    survey = await uow.jobs.survey_of(request.id)
    if survey is None or survey.completed_at is not None:
        raise StaleAction()
    draft = await dialogs.current(uow, user.id)
    if draft is None or draft.kind != SURVEY or draft.data.get("request_id") != request.id:
        draft = await dialogs.begin(uow, user.id, SURVEY, survey_step(survey), {"request_id": request.id, "survey_id": survey.id}, now)
    return request, survey, draft


async def survey_answer(uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, step: str, value: str,
                        low_score_at: int, now: datetime) -> SurveyStep:
    """A survey button: accepted only at the question it was shown with (a second press is stale)."""
    request, survey, draft = await _open_survey(uow, user, customer, request_id, now)
    if step != survey_step(survey):
        raise StaleAction()
    by_phone = await _by_phone(uow, request)
    if step == STARS and value in ("1", "2", "3", "4", "5"):
        survey.stars = int(value)
        dialogs.move(draft, ON_TIME, now)
        return SurveyStep(request, survey, ON_TIME, by_phone, low_score=survey.stars <= low_score_at)
    if step == ON_TIME and value in ("yes", "no"):
        survey.on_time = value == "yes"
        dialogs.move(draft, SURVEY_COMMENT, now)
        return SurveyStep(request, survey, SURVEY_COMMENT, by_phone)
    if step == SURVEY_COMMENT and value == "skip":
        return await _finish(uow, request, draft, survey, now)
    raise StaleAction()


async def survey_input(uow: UnitOfWork, user: User, customer: Customer | None, draft: Draft, message: UserInput, now: datetime) -> SurveyStep:
    """Text typed while a survey is the current dialog: its comment, once the buttons are answered."""
    request, survey, draft = await _open_survey(uow, user, customer, draft.data["request_id"], now)
    if survey_step(survey) != SURVEY_COMMENT:
        raise InvalidValue(f"survey_{survey_step(survey)}")
    if not isinstance(message, TextInput):
        raise WrongInput(SURVEY_COMMENT)
    survey.comment = clean_text(message.text, limit=COMMENT_MAX, expected=SURVEY_COMMENT)
    return await _finish(uow, request, draft, survey, now)


async def current_survey_step(uow: UnitOfWork, request: ServiceRequest) -> SurveyStep:
    """Where the survey of a just-confirmed request starts (for its first question)."""
    survey = await uow.jobs.survey_of(request.id)
    return SurveyStep(request, survey, survey_step(survey), await _by_phone(uow, request))


async def _by_phone(uow: UnitOfWork, request: ServiceRequest) -> bool:
    report = await uow.jobs.report_of(request.id)
    return bool(report and report.by_phone)


async def _finish(uow: UnitOfWork, request: ServiceRequest, draft: Draft, survey: Survey, now: datetime) -> SurveyStep:
    survey.completed_at = now
    await dialogs.end(uow, draft)
    return SurveyStep(request, survey, None)


async def managers_to_alert(uow: UnitOfWork) -> list[User]:
    """Who hears of a low score: the service managers, or the dispatchers when there is none."""
    managers = await uow.users.active_with_role("service_manager")
    return managers or await requests.dispatchers(uow)

