"""Hard cases: a dispatcher asks a technical expert, who answers with a cause analysis and a repair plan.

Authority is checked here on every call: only active dispatchers escalate, only the chosen
(active) expert answers, and only once. Escalations are internal: the customer never sees them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services import dialogs, notices, requests
from bot.services.errors import DomainError, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.dispatch import is_dispatcher, open_request
from bot.services.validation import clean_text
from storage.db import UnitOfWork
from storage.models import Attachment, Draft, Escalation, Product, RequestEvent, ServiceRequest, User

ROLE_EXPERT = "technical_expert"
OPEN = tuple(sorted(requests.OPEN_STATUSES))
QUESTION_MAX = 1000
ANALYSIS_MAX = 1800  # analysis and plan together stay within one Telegram message
PLAN_MAX = 1800

# The dispatcher's one-step dialog: the question for the chosen expert.
QUESTION_DIALOG, QUESTION_STEP = "escalate", "question"
# The expert's dialog: cause analysis → repair plan → review (send, edit, cancel).
ANSWER_DIALOG = "expert_answer"
CAUSE, PLAN, REVIEW = "cause", "plan", "review"
# Outbox kind: the request of an expert's unanswered question closed ({"escalation_id"}), no answer is needed.
CASE_CLOSED = "case_closed"
# Outbox kind: the dispatcher put an expert's unanswered question to another expert ({"escalation_id"}).
CASE_REPLACED = "case_replaced"


class AlreadyEscalated(DomainError):
    """The request already waits for an expert's answer; `escalation` is that open case."""

    def __init__(self, escalation: Escalation) -> None:
        super().__init__("already escalated")
        self.escalation = escalation


class ExpertOffDuty(DomainError):
    """The chosen expert went off duty after the list was drawn: the dispatcher picks another."""

    def __init__(self, expert: User) -> None:
        super().__init__("off duty")
        self.expert = expert


class ExpertUnreachable(DomainError):
    """The chosen expert blocked the bot: the case would reach nobody, so the dispatcher picks another."""

    def __init__(self, expert: User) -> None:
        super().__init__("unreachable")
        self.expert = expert


def is_expert(user: User) -> bool:
    return user.is_active and ROLE_EXPERT in user.role_names


async def _active_expert(uow: UnitOfWork, expert_id: int) -> User:
    expert = await uow.users.get(expert_id)
    if expert is None or not is_expert(expert):
        raise NotFound()
    return expert


async def pending(uow: UnitOfWork, request_id: int) -> Escalation | None:
    """The unanswered escalation that blocks a new one. A case left with an expert who is off
    duty, deactivated or has blocked the bot (it never reached them) does not: the dispatcher may
    ask another, and that question replaces it (only the latest question on a request is open)."""
    for escalation in await uow.escalations.unanswered_of_request(request_id):
        expert = await uow.users.get(escalation.expert_id)
        if expert is not None and is_expert(expert) and expert.on_duty and expert.is_reachable:
            return escalation
    return None


@dataclass(frozen=True)
class ExpertChoice:
    expert: User
    open_cases: int


async def experts(uow: UnitOfWork, actor: User, request_id: int) -> list[ExpertChoice]:
    """Active, on-duty technical experts a dispatcher may ask about this request, least busy first;
    not one who blocked the bot (the case would not reach them)."""
    await open_request(uow, actor, request_id)
    counts = await uow.escalations.unanswered_count_by_expert(OPEN)
    choices = [
        ExpertChoice(expert, counts.get(expert.id, 0))
        for expert in await uow.users.active_with_role(ROLE_EXPERT)
        if expert.on_duty and expert.is_reachable
    ]
    return sorted(choices, key=lambda c: (c.open_cases, c.expert.id))


@dataclass(frozen=True)
class Asking:
    """What "Ask an expert" shows: the case already open with an expert, or the experts to choose from."""

    request: ServiceRequest
    open_case: Escalation | None
    open_expert: User | None
    choices: list[ExpertChoice]


async def asking(uow: UnitOfWork, dispatcher: User, request_id: int) -> Asking:
    choices = await experts(uow, dispatcher, request_id)
    request = await open_request(uow, dispatcher, request_id)
    open_case = await pending(uow, request.id)
    open_expert = await uow.users.get(open_case.expert_id) if open_case else None
    return Asking(request, open_case, open_expert, choices)


async def start_question(uow: UnitOfWork, dispatcher: User, request_id: int, expert_id: int, now: datetime) -> tuple[Draft, ServiceRequest, User]:
    """The dispatcher picked an expert: open the one-step dialog for the question."""
    request, expert = await check_escalation(uow, dispatcher, request_id, expert_id)
    draft = await dialogs.begin(uow, dispatcher.id, QUESTION_DIALOG, QUESTION_STEP, {"request_id": request.id, "expert_id": expert.id}, now)
    return draft, request, expert


async def check_escalation(uow: UnitOfWork, dispatcher: User, request_id: int, expert_id: int) -> tuple[ServiceRequest, User]:
    """Everything `escalate` will check, before the dispatcher types the question. An expert off
    duty is refused (`ExpertOffDuty`) as `experts` leaves them out: a case left with them would
    not even stop the dispatcher asking another (`pending`); so is one who blocked the bot
    (`ExpertUnreachable`)."""
    request = await open_request(uow, dispatcher, request_id)
    expert = await _active_expert(uow, expert_id)
    if not expert.on_duty:
        raise ExpertOffDuty(expert)
    if not expert.is_reachable:
        raise ExpertUnreachable(expert)
    open_case = await pending(uow, request.id)
    if open_case is not None:
        raise AlreadyEscalated(open_case)
    return request, expert


async def escalate(uow: UnitOfWork, dispatcher: User, request_id: int, expert_id: int, question: str, now: datetime) -> tuple[Escalation, ServiceRequest, User]:
    """Send the case to an expert; at most one unanswered escalation per request."""
    question = clean_text(question, limit=QUESTION_MAX, expected=QUESTION_STEP)
    request = await open_request(uow, dispatcher, request_id)
    if not await uow.escalations.hold_request(request.id, OPEN, now):  # also serialises two dispatchers
        raise NotAllowed()
    request, expert = await check_escalation(uow, dispatcher, request_id, expert_id)
    replaced = await uow.escalations.unanswered_of_request(request.id)  # left with an expert off duty or gone
    escalation = await uow.escalations.add(Escalation(
        request_id=request.id, expert_id=expert.id, requested_by_user_id=dispatcher.id, question=question, created_at=now,
    ))
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=dispatcher.id, action="escalated", internal=True, created_at=now,
        details={"escalation_id": escalation.id, "expert_id": expert.id, "text": question},
    ))
    request.updated_at = now
    for old in replaced:  # its expert would otherwise find it gone from /cases without a word
        earlier = await uow.users.get(old.expert_id)
        if earlier is not None and is_expert(earlier):
            await notices.queue(uow, earlier, CASE_REPLACED, {"escalation_id": old.id}, f"{CASE_REPLACED}:{old.id}", now)
    return escalation, request, expert


async def left_without_expert(uow: UnitOfWork, person: User) -> list[tuple[Escalation, ServiceRequest]]:
    """The unanswered cases of someone who can no longer answer them (deactivated, or no longer a
    technical expert): whoever asked must ask another expert, or nobody answers at all."""
    if is_expert(person):
        return []
    return await uow.escalations.unanswered_of_expert(person.id, OPEN)


async def open_cases(uow: UnitOfWork, expert: User) -> list[tuple[Escalation, ServiceRequest]]:
    """/cases: the expert's unanswered cases. Cases of closed or cancelled requests are withdrawn."""
    if not is_expert(expert):
        raise NotAllowed()
    return await uow.escalations.unanswered_of_expert(expert.id, OPEN)


async def end_with_request(uow: UnitOfWork, request: ServiceRequest, now: datetime, *, not_before: datetime | None = None) -> list[User]:
    """Called wherever a request closes or is cancelled, in that transaction: the expert whose
    question on it is still unanswered is told, once per question, that no answer is needed.
    The question ends with the request by itself (/cases, the counts and a late answer all go by
    the request's status), but without this the expert would only find out by answering.
    Returns the experts told."""
    told = []
    for open_case in await uow.escalations.unanswered_of_request(request.id):  # the latest question only
        expert = await uow.users.get(open_case.expert_id)
        if expert is not None and is_expert(expert) and await notices.queue(
            uow, expert, CASE_CLOSED, {"escalation_id": open_case.id}, f"{CASE_CLOSED}:{open_case.id}", now, not_before=not_before,
        ):
            told.append(expert)
    return told


async def replaced_case(uow: UnitOfWork, escalation_id: int) -> tuple[Escalation, ServiceRequest] | None:
    """A CASE_REPLACED notice as it is sent: None once there is nothing to say (answered after all)."""
    escalation = await uow.escalations.get(escalation_id)
    if escalation is None or escalation.answered_at is not None:
        return None
    return escalation, await uow.requests.get(escalation.request_id)


async def closed_case(uow: UnitOfWork, escalation_id: int) -> tuple[Escalation, ServiceRequest] | None:
    """A CASE_CLOSED notice as it is sent: None when there is nothing to say any more."""
    escalation = await uow.escalations.get(escalation_id)
    request = await uow.requests.get(escalation.request_id) if escalation is not None else None
    if request is None or request.status not in (requests.CLOSED, requests.CANCELLED) or escalation.answered_at is not None:
        return None
    return escalation, request


@dataclass(frozen=True)
class Case:
    """What an expert needs to diagnose: the request without the customer's contacts."""

    escalation: Escalation
    request: ServiceRequest
    product: Product | None
    asked_by: User | None
    attachments: list[Attachment]

    @property
    def photos(self) -> tuple[str, ...]:
        return tuple(a.file_id for a in self.attachments if a.kind == "photo")

    @property
    def voices(self) -> tuple[str, ...]:
        return tuple(a.file_id for a in self.attachments if a.kind == "voice")


async def _own_open_case(uow: UnitOfWork, expert: User, escalation_id: int) -> tuple[Escalation, ServiceRequest]:
    """The expert's own unanswered case on an open request; anyone else's is 'not found'."""
    if not is_expert(expert):
        raise NotFound()
    escalation = await uow.escalations.get(escalation_id)
    if escalation is None or escalation.expert_id != expert.id:
        raise NotFound()
    request = await uow.requests.lock(escalation.request_id)  # the request first, as everywhere; then the case as left
    if uow.requests.takes_row_locks:
        await uow.session.refresh(escalation)
    if escalation.answered_at is not None:
        raise StaleAction()
    if request is None or request.status not in requests.OPEN_STATUSES:
        raise NotAllowed()
    if await uow.escalations.superseded(escalation):
        raise NotAllowed()  # put to another expert meanwhile: a late answer would replace theirs on the job card
    return escalation, request


async def case(uow: UnitOfWork, expert: User, escalation_id: int) -> Case:
    escalation, request = await _own_open_case(uow, expert, escalation_id)
    return await case_of(uow, escalation, request)


async def case_of(uow: UnitOfWork, escalation: Escalation, request: ServiceRequest) -> Case:
    """The case as shown to its expert (the caller has just checked who that is)."""
    return Case(
        escalation=escalation, request=request,
        product=await uow.products.get(request.product_id) if request.product_id else None,
        asked_by=await uow.users.get(escalation.requested_by_user_id),
        attachments=await uow.requests.attachments(request.id),
    )


# --- the expert's answer dialog -------------------------------------------------------------


async def start_answer(uow: UnitOfWork, expert: User, escalation_id: int, now: datetime) -> tuple[Draft, ServiceRequest]:
    """Open the answer dialog, or resume it where the expert stopped if it is for the same case."""
    _, request = await _own_open_case(uow, expert, escalation_id)
    current = await dialogs.current(uow, expert.id)
    if current is not None and current.kind == ANSWER_DIALOG and current.data.get("escalation_id") == escalation_id:
        return current, request
    resumed = await dialogs.resume_parked(uow, expert.id, ANSWER_DIALOG, now, lambda data: data.get("escalation_id") == escalation_id)
    if resumed is not None:  # kept aside while the expert looked at another case
        return resumed, request
    draft = await dialogs.begin(uow, expert.id, ANSWER_DIALOG, CAUSE, {"escalation_id": escalation_id, "number": request.number}, now)
    return draft, request


def answer_input(draft: Draft, message: UserInput, now: datetime) -> None:
    """A text for the current step: the cause analysis, then the repair plan, then the review."""
    if draft.step not in (CAUSE, PLAN) or not isinstance(message, TextInput):
        raise WrongInput(draft.step)
    if draft.step == CAUSE:
        dialogs.move(draft, PLAN, now, analysis=clean_text(message.text, limit=ANALYSIS_MAX, expected=CAUSE))
    else:
        dialogs.move(draft, REVIEW, now, plan=clean_text(message.text, limit=PLAN_MAX, expected=PLAN))


def answer_button(draft: Draft, action: str, now: datetime) -> None:
    """Back one step, keep the text already written, or edit from the review."""
    if action == "back" and draft.step in (PLAN, REVIEW):
        dialogs.move(draft, CAUSE if draft.step == PLAN else PLAN, now)
    elif action == "keep" and draft.step == CAUSE and draft.data.get("analysis"):
        dialogs.move(draft, PLAN, now)
    elif action == "keep" and draft.step == PLAN and draft.data.get("plan"):
        dialogs.move(draft, REVIEW, now)
    elif action == "edit" and draft.step == REVIEW:
        dialogs.move(draft, CAUSE, now)
    else:
        raise NotAllowed()


@dataclass(frozen=True)
class Answered:
    """A recorded answer and who is to read it."""

    escalation: Escalation
    request: ServiceRequest
    readers: list[User]


async def answer(uow: UnitOfWork, expert: User, escalation_id: int, analysis: str, plan: str, now: datetime) -> Answered:
    """Record the expert's answer once; the asking dispatcher and the assigned engineer read it."""
    analysis = clean_text(analysis, limit=ANALYSIS_MAX, expected=CAUSE)
    plan = clean_text(plan, limit=PLAN_MAX, expected=PLAN)
    escalation, request = await _own_open_case(uow, expert, escalation_id)
    if not await uow.escalations.record_answer(escalation.id, expert.id, analysis, plan, now):
        raise StaleAction()  # answered meanwhile (a double press, or another process)
    await uow.session.refresh(escalation)
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=expert.id, action="expert_answer", internal=True, created_at=now,
        details={"escalation_id": escalation.id, "text": analysis},
    ))
    request.updated_at = now
    return Answered(escalation, request, await _readers(uow, escalation, request))


async def askers(uow: UnitOfWork, escalation: Escalation) -> list[User]:
    """Who follows a question for the desk: the dispatcher who asked, or every dispatcher once
    that one has left (or is no longer a dispatcher)."""
    asked_by = await uow.users.get(escalation.requested_by_user_id)
    return [asked_by] if asked_by is not None and is_dispatcher(asked_by) else await requests.dispatchers(uow)


async def _readers(uow: UnitOfWork, escalation: Escalation, request: ServiceRequest) -> list[User]:
    """The dispatcher who asked (all dispatchers if they have left) and the assigned engineer."""
    readers = await askers(uow, escalation)
    if request.assigned_engineer_id is not None:
        engineer = await uow.users.get(request.assigned_engineer_id)
        if engineer is not None and engineer.is_active and engineer not in readers:
            readers.append(engineer)
    return readers


async def latest_answer(uow: UnitOfWork, actor: User, request_id: int) -> Escalation | None:
    """The newest expert answer on a request, for its assigned engineer or a dispatcher (else None)."""
    request = await uow.requests.get(request_id)
    if request is None or not actor.is_active:
        return None
    if not (is_dispatcher(actor) or request.assigned_engineer_id == actor.id):
        return None
    return await uow.escalations.latest_answered(request.id)
