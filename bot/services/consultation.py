"""A dispatcher answers the customer's question in writing; the customer confirms or replies.

Salespeople answer consultations too (DESIGN: they answer simple consultations); a customer's
comment on a repair, and closing a consultation as answered, stay the dispatchers'.

Who may be answered this way: consultations, and any open request where the customer has
written a comment (their question about a repair deserves an answer too). Only a consultation
can be closed by its answer: it stays open after an answer until the customer presses
"That answers my question" or a dispatcher closes it as answered; other kinds go on as before.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services import cancellation, dialogs, requests
from bot.services.errors import DomainError, NotAllowed, NotFound
from bot.services.dispatch import NOT_QUEUED_KINDS, is_dispatcher
from bot.services.escalation import OPEN
from bot.services.validation import clean_text
from storage.db import UnitOfWork
from storage.models import Approval, Customer, Draft, RequestEvent, ServiceRequest, User

CONSULTATION = "consultation"
ANSWER_MAX = 3000
ANSWER_DIALOG, ANSWER_STEP = "consult_answer", "answer"
ALSO_STEP = "also"  # a colleague answered while this one was typing: send this one too?
ANSWERED, CONFIRMED, CLOSED_AS_ANSWERED = "answered", "answer_confirmed", "answer_closed"


def may_be_answered(request: ServiceRequest, events: list[RequestEvent]) -> bool:
    """An open consultation, or an open request the customer has commented on."""
    if request.status not in requests.OPEN_STATUSES or request.kind in NOT_QUEUED_KINDS:  # complaints: the supervisor answers
        return False
    return request.kind == CONSULTATION or any(e.action == "comment" for e in events)


def was_answered(events: list[RequestEvent]) -> bool:
    return any(e.action == ANSWERED for e in events)


def asked_again(events: list[RequestEvent]) -> bool:
    """The customer wrote after the latest answer: a further question is waiting for one."""
    answers = [e.id for e in events if e.action == ANSWERED]
    return bool(answers) and any(e.action == "comment" and e.id > answers[-1] for e in events)


# Internal timeline event: the customer's first comment after an answer on a consultation, a new
# question received. The answer clock starts a new cycle on it (policy `consultation_answer`); the
# comment itself cannot start it, as comments before the first answer would stack a second start.
FOLLOW_UP = "asked_again"


async def add_comment(uow: UnitOfWork, user: User, request: ServiceRequest, text: str, now: datetime) -> None:
    """The customer's comment (`requests.add_comment`); on an answered consultation the first one
    since the latest answer is a new question, due within the answer window like the first."""
    await requests.add_comment(uow, user, request, text, now)
    if request.kind != CONSULTATION:
        return
    await uow.requests.lock(request.id)  # two comments at once record one new question
    events = await uow.requests.events(request.id, include_internal=True)
    answers = [e.id for e in events if e.action == ANSWERED]
    if answers and not any(e.action == FOLLOW_UP and e.id > answers[-1] for e in events):
        await uow.requests.add_event(RequestEvent(
            request_id=request.id, actor_user_id=user.id, action=FOLLOW_UP, internal=True, details={}, created_at=now,
        ))


class AskedAgain(NotAllowed):
    """A dispatcher's "close: answered" while the customer's newer question has no answer yet."""


ROLE_SALES = "salesperson"


def may_answer(user: User, request: ServiceRequest) -> bool:
    """Dispatchers answer anything answerable; salespeople the consultations."""
    if is_dispatcher(user):
        return True
    return user.is_active and ROLE_SALES in user.role_names and request.kind == CONSULTATION


async def _answerable(uow: UnitOfWork, actor: User, request_id: int) -> ServiceRequest:
    request = await uow.requests.lock(request_id)
    if request is None:
        raise NotFound()
    if not may_answer(actor, request) or not may_be_answered(request, await uow.requests.events(request.id, include_internal=False)):
        raise NotAllowed()
    return request


async def salespeople(uow: UnitOfWork) -> list[User]:
    """Who besides the dispatchers hears of a new consultation (to answer it if it is simple)."""
    return await uow.users.active_with_role(ROLE_SALES)


@dataclass(frozen=True)
class AnswerStart:
    draft: Draft
    request: ServiceRequest
    question: str  # the customer's latest comment, or the request's description


async def start_answer(uow: UnitOfWork, dispatcher: User, request_id: int, now: datetime) -> AnswerStart:
    """The checks of `answer_consultation`, then the one-step dialog for the answer."""
    request = await _answerable(uow, dispatcher, request_id)
    comments = [e for e in await uow.requests.events(request.id, include_internal=False) if e.action == "comment"]
    question = str(comments[-1].details.get("text") or request.description) if comments else request.description
    draft = await dialogs.begin(uow, dispatcher.id, ANSWER_DIALOG, ANSWER_STEP,
                                {"request_id": request.id, "seen_answer": await _answer_before_question(uow, request.id)}, now)
    return AnswerStart(draft, request, question)


async def _answer_before_question(uow: UnitOfWork, request_id: int) -> int:
    """The latest answer given before the customer's latest question (their latest comment, else
    the request itself): an answer after it, given before this button was pressed (a colleague's,
    from another copy of the notice) or while typing, is shown before a second one goes out."""
    events = await uow.requests.events(request_id, include_internal=False)
    question = max((e.id for e in events if e.action == "comment"), default=0)
    answers = [e.id for e in events if e.action == ANSWERED and e.id < question]
    return answers[-1] if answers else 0


class AnsweredMeanwhile(DomainError):
    """Someone else answered after this answer was started: the customer would get both."""

    def __init__(self, answer: RequestEvent) -> None:
        super().__init__(answer.id)
        self.answer = answer


@dataclass(frozen=True)
class Delivery:
    """What the customer is to be told, and whether they may close the request with it."""

    request: ServiceRequest
    customer_user: User | None
    closable: bool
    text: str = ""
    withdrawn: tuple[Approval, ...] = ()  # closed: the approvals that ended with it (`_close`)


@dataclass(frozen=True)
class Closed:
    """A consultation the customer closed, and the approvals that ended with it."""

    request: ServiceRequest
    withdrawn: tuple[Approval, ...]


async def answer_consultation(uow: UnitOfWork, dispatcher: User, request_id: int, text: str, now: datetime,
                              *, seen_answer: int | None = None) -> Delivery:
    """Record the answer on the customer's timeline and stop the consultation clock. With
    `seen_answer` (the latest answer when the writer started) a newer one stops it: AnsweredMeanwhile."""
    text = clean_text(text, limit=ANSWER_MAX, expected=ANSWER_STEP)
    request = await _answerable(uow, dispatcher, request_id)
    if seen_answer is not None:
        newer = [e for e in await uow.requests.events(request.id, include_internal=False) if e.action == ANSWERED and e.id > seen_answer]
        if newer:
            raise AnsweredMeanwhile(newer[-1])
    before = request.status
    if request.status == requests.NEW:
        request.status = requests.TRIAGED
    request.updated_at = now
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=dispatcher.id, action=ANSWERED, internal=False, created_at=now,
        details={"text": text, "before": before, "after": request.status},
    ))
    return Delivery(request, await requests.customer_user(uow, request), request.kind == CONSULTATION, text)


async def _close(uow: UnitOfWork, actor: User, request: ServiceRequest, action: str, reason: str, now: datetime) -> tuple[Approval, ...]:
    """Close an answered consultation once (the open check is in the UPDATE) and stop its clocks;
    what still hangs on it ends as with any closed request: parts not issued yet (a question can
    need a visit) and open approvals are withdrawn (returned, for their approvers' copies)."""
    if request.kind != CONSULTATION or not was_answered(await uow.requests.events(request.id, include_internal=False)):
        raise NotAllowed()
    before = request.status
    if not await uow.consultations.close_if_open(request.id, OPEN, requests.CLOSED, reason, now):
        raise NotAllowed()
    await uow.session.refresh(request)
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=actor.id, action=action, internal=False, created_at=now,
        details={"before": before, "after": requests.CLOSED},
    ))
    return tuple(await cancellation.end_what_hangs_on(uow, request, actor, now))  # an expert's question too


async def confirm_answered(uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, now: datetime) -> Closed:
    """The customer says the answer resolves their question: the consultation is closed."""
    request = await requests.own_request(uow, customer, request_id, lock=True)
    withdrawn = await _close(uow, user, request, CONFIRMED, "confirmed", now)
    draft = await dialogs.current(uow, user.id)
    if draft is not None and draft.kind == requests.COMMENT_DIALOG and draft.data.get("request_id") == request.id:
        await dialogs.end(uow, draft)  # "Reply" was pressed earlier; nothing is left to reply to
    return Closed(request, withdrawn)


async def close_as_answered(uow: UnitOfWork, dispatcher: User, request_id: int, now: datetime) -> Delivery:
    """A dispatcher closes an answered consultation the customer did not confirm."""
    if not is_dispatcher(dispatcher):
        raise NotAllowed()
    request = await uow.requests.lock(request_id)
    if request is None:
        raise NotFound()
    if asked_again(await uow.requests.events(request.id, include_internal=False)):
        raise AskedAgain()
    withdrawn = await _close(uow, dispatcher, request, CLOSED_AS_ANSWERED, "answered", now)
    return Delivery(request, await requests.customer_user(uow, request), False, withdrawn=withdrawn)
