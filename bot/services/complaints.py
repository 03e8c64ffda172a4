"""Complaints: the customer's dialog, and the complaint supervisor's investigation and written answer.

A complaint is a request of kind "complaint" (created by `requests.create`, so it has a number,
a timeline, the customer's /my entry and the `complaint_answer` deadline clock) plus a
`complaints` row: what it is about (a request of the customer's, or nothing specific), the
subject (the service, the engineer, the product), where it was filed (a request card, /complain,
the survey after a low score, the intake's "Complaint" type) and the investigation.

The supervisor's side is a small state machine, each move a conditional UPDATE from the state
it expects: open → investigating (someone took it) → answered (the written answer was sent,
which stops the clock and closes the request). Only a complaint whose cause is recorded as the
service's fault counts in the complaint rate (`Complaint.service_fault`).

Who acts: any active complaint supervisor, not only the one who took it (`supervisor_id` names
who leads it). A complaint has a 72-hour promise; when the one who took it is away, a colleague
must be able to finish it, and every step is attributed on the timeline anyway. Service managers
and general managers (the clock's escalation chain) may read complaints but not act on them.
A person may hold several roles, so an engineer may be a complaint supervisor too: never on a
complaint about his own work (`own_work_ids`), whose verdict decides the complaint rate he is
measured by; he may read it, like a manager.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.policy import Policy
from bot.services import dialogs, requests
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, StaleAction
from bot.services.validation import COMMENT_MAX, DESCRIPTION_MAX, clean_text
from storage.db import UnitOfWork
from storage.models import Complaint, ComplaintLink, ComplaintNote, Customer, Draft, OutboxMessage, RequestEvent, ServiceRequest, SlaClock, User

KIND = "complaint"  # the request kind
SUPERVISOR = "complaint_supervisor"
READER_ROLES = frozenset({"service_manager", "general_manager"})  # the clock's escalation chain: read only

SERVICE, ENGINEER, PRODUCT = "service", "engineer", "product"
SUBJECTS = (SERVICE, ENGINEER, PRODUCT)
CARD, COMMAND, SURVEY, INTAKE = "card", "command", "survey", "intake"
STAFF = "staff"  # phoned or written in, registered by a complaint supervisor with /complaint
SOURCES = (CARD, COMMAND, SURVEY, INTAKE, STAFF)
OPEN, INVESTIGATING, ANSWERED = "open", "investigating", "answered"
ACTIVE_STATES = (OPEN, INVESTIGATING)

# The customer's dialog.
DIALOG = "complaint"
ABOUT, SUBJECT, DESCRIPTION, CONFIRM, EDIT = "about", "subject", "description", "confirm", "edit"
NOT_SPECIFIC = "none"  # "not about a specific request"
RECENT_SHOWN = 6
DESCRIPTION_LIMIT = DESCRIPTION_MAX

# The supervisor's typed inputs (one small dialog, its step says which text is awaited).
WORK_DIALOG = "complaint_work"
NOTE, LINK, CAUSE, ACTION, ANSWER, PREVIEW = "note", "link", "cause", "action", "answer", "preview"
WORK_STEPS = (NOTE, LINK, CAUSE, ACTION, ANSWER)
WORK_BUTTONS = {"note": NOTE, "link": LINK, "fault": CAUSE, "nofault": CAUSE, "action": ACTION, "answer": ANSWER}  # card button → step
REGISTER = "register"  # /complaint without a usable number: the number of the request the complaint is about is awaited
NOTE_LIMIT = COMMENT_MAX
ANSWER_LIMIT = 3000  # the answer goes out in one message with a header (Telegram: 4096)
LIST_SIZE = 30

OUTBOX_KIND = "complaint_answer"  # the written answer, when it waits for the customer's quiet hours to end
CLOCK = "complaint_answer"


# --- refusals ---------------------------------------------------------------------------------


class AlreadyTaken(DomainError):
    """Someone took the complaint first (or it is answered already)."""

    def __init__(self, complaint: Complaint) -> None:
        super().__init__(complaint.state)
        self.complaint = complaint


class AboutOwnWork(NotAllowed):
    """The complaint is about the actor's own work: another supervisor handles it."""


class NotTaken(DomainError):
    """The investigation has not started: "Take it" comes first."""


class AlreadyAnswered(DomainError):
    def __init__(self, complaint: Complaint) -> None:
        super().__init__(complaint.state)
        self.complaint = complaint


class Withdrawn(DomainError):
    """The customer cancelled the complaint's request: nothing is left to investigate."""


class UnknownRequest(DomainError):
    """No request has that number."""

    def __init__(self, number: str) -> None:
        super().__init__(number)
        self.number = number


class NotComplainable(DomainError):
    """That request cannot be complained about: a complaint itself, or sales' one not accepted yet."""

    def __init__(self, number: str) -> None:
        super().__init__(number)
        self.number = number


class AlreadyLinked(DomainError):
    def __init__(self, number: str) -> None:
        super().__init__(number)
        self.number = number


class AnswerNotReady(DomainError):
    """The answer may go only once the cause and the corrective action are recorded."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


# --- pure rules -------------------------------------------------------------------------------


def subjects_for(about: ServiceRequest | None) -> tuple[str, ...]:
    """"The engineer" is offered only when the request complained about had one."""
    if about is not None and about.assigned_engineer_id is not None:
        return SUBJECTS
    return (SERVICE, PRODUCT)


def missing_for_answer(complaint: Complaint) -> tuple[str, ...]:
    """What must be recorded before the written answer may be sent."""
    missing = []
    if complaint.service_fault is None:
        missing.append("cause")
    if not complaint.corrective_action:
        missing.append("corrective_action")
    return tuple(missing)


def may_handle(user: User) -> bool:
    return user.is_active and SUPERVISOR in user.role_names


def may_read(user: User) -> bool:
    return user.is_active and bool(user.role_names & (READER_ROLES | {SUPERVISOR}))


def registered_by_staff(draft: Draft) -> bool:
    """A complaint dialog a supervisor runs for a customer (/complaint), not the customer's own."""
    return draft.data.get("source") == STAFF


def can_complain_about(request: ServiceRequest) -> bool:
    """Any of the customer's requests except a complaint itself and one sales filed that the
    service never accepted (its approval chain still deciding, or turned it down): the customer
    does not see those, so no complaint dialog could show it."""
    return request.kind != KIND and requests.shown_to_customer(request)


def previous_step(draft: Draft) -> str | None:
    """Where Back leads in the customer's dialog (None: nowhere, it is the first step)."""
    data = draft.data
    chooses_request = data.get("source") in (COMMAND, INTAKE)
    if draft.step == EDIT or (data.get("editing") and draft.step == ABOUT):
        return CONFIRM
    if data.get("editing") and draft.step in (SUBJECT, DESCRIPTION) and data.get("subject"):
        return CONFIRM  # an edit left half-way keeps what the summary had
    return {SUBJECT: ABOUT if chooses_request else None, DESCRIPTION: SUBJECT, CONFIRM: DESCRIPTION}.get(draft.step)


# --- the customer's dialog --------------------------------------------------------------------


async def _about(uow: UnitOfWork, customer: Customer | None, request_id: int | None) -> ServiceRequest | None:
    if request_id is None:
        return None
    request = await requests.own_request(uow, customer, request_id)
    if not can_complain_about(request):
        raise NotAllowed()
    return request


async def about_request(uow: UnitOfWork, customer: Customer | None, draft: Draft) -> ServiceRequest | None:
    return await _about(uow, customer, draft.data.get("about_request_id"))


async def _reopen(uow: UnitOfWork, user: User, customer: Customer | None, now: datetime,
                  belongs: Callable[[dict], bool] | None = None) -> Draft | None:
    """The customer's complaint where it stopped: open now, or kept aside when another dialog
    interrupted it (`dialogs.reopen`). One whose request can no longer be complained about is
    dropped (None), so its summary never fails to show."""
    def own(data: dict) -> bool:  # a registration for another customer is never resumed as the user's own
        return data.get("source") != STAFF and (belongs is None or belongs(data))

    draft = await dialogs.reopen(uow, user.id, DIALOG, now, own)
    if draft is None:
        return None
    try:
        await about_request(uow, customer, draft)
    except (NotFound, NotAllowed):
        await dialogs.end(uow, draft)
        return None
    return draft


def _about_same(request: ServiceRequest) -> Callable[[dict], bool]:
    return lambda data: data.get("about_request_id") == request.id


async def start_from_card(uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, now: datetime) -> tuple[Draft, bool]:
    """From the customer's request card: about that request, straight to the subject. A complaint
    about this same request (however it began) goes on where it stopped (returns `resumed=True`);
    one about another request or none stays aside for its own card or /complain."""
    about = await _about(uow, customer, request_id)
    resumed = await _reopen(uow, user, customer, now, _about_same(about))
    if resumed is not None:
        return resumed, True
    return await dialogs.begin(uow, user.id, DIALOG, SUBJECT, {"source": CARD, "about_request_id": about.id}, now), False


async def start_from_survey(
    uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, low_score_at: int, now: datetime,
) -> tuple[Draft, bool]:
    """"File a complaint" after a survey score at or below the policy's low score. As from the
    card, a complaint about this request already written goes on (`resumed=True`), keeping the
    source it began from."""
    about = await _about(uow, customer, request_id)
    survey = await uow.jobs.survey_of(about.id)
    if survey is None or survey.stars is None or survey.stars > low_score_at:
        raise NotAllowed()
    if await uow.complaints.about(about.id, SURVEY) is not None:
        raise NotAllowed()  # the offer was taken already; /complain stays open for another complaint
    resumed = await _reopen(uow, user, customer, now, _about_same(about))
    if resumed is not None:
        return resumed, True
    return await dialogs.begin(uow, user.id, DIALOG, SUBJECT, {"source": SURVEY, "about_request_id": about.id}, now), False


async def start(uow: UnitOfWork, user: User, customer: Customer | None, source: str, now: datetime) -> tuple[Draft, bool]:
    """/complain or the intake's "Complaint" type: choose the request first. They name no request,
    so the complaint the customer has open, or kept aside, whatever it is about, goes on where it
    stopped (returns `resumed=True`)."""
    if source not in (COMMAND, INTAKE):
        raise ValueError(f"a complaint from {source!r} names its request")
    resumed = await _reopen(uow, user, customer, now)
    if resumed is not None:
        return resumed, True
    return await dialogs.begin(uow, user.id, DIALOG, ABOUT, {"source": source}, now), False


async def start_for_customer(uow: UnitOfWork, actor: User, typed: str | None, now: datetime) -> tuple[Draft, bool]:
    """/complaint SR-…: a supervisor registers a complaint phoned or written in, about that request,
    for its customer; the same dialog as the customer's from a card (subject, description,
    summary), so it gets the same submit, number and clock. A registration about that request
    interrupted by another dialog goes on where it stopped (returns `resumed=True`)."""
    if not may_handle(actor):
        raise NotAllowed()
    number = requests.parse_number(typed or "")
    if number is None:
        raise InvalidValue("request_number")
    about = await uow.requests.by_number(number)
    if about is None:
        raise UnknownRequest(number)
    if not can_complain_about(about):
        raise NotComplainable(number)
    resumed = await dialogs.reopen(uow, actor.id, DIALOG, now, lambda data: data.get("source") == STAFF and data.get("about_request_id") == about.id)
    if resumed is not None:
        return resumed, True
    return await dialogs.begin(uow, actor.id, DIALOG, SUBJECT, {"source": STAFF, "about_request_id": about.id, "customer_id": about.customer_id}, now), False


async def begin_registration(uow: UnitOfWork, actor: User, now: datetime) -> Draft:
    """/complaint without a usable number: the supervisor is asked for it and sends it on its own
    (`start_for_customer` takes it), rather than have it read as a customer's request number."""
    if not may_handle(actor):
        raise NotAllowed()
    return await dialogs.begin(uow, actor.id, WORK_DIALOG, REGISTER, {}, now)


async def complaint_by_number(uow: UnitOfWork, actor: User, typed: str | None) -> int | None:
    """The complaint whose request has the number typed, for someone who may read complaints
    (None: not a number, no such request, not a complaint, or not his to read)."""
    number = requests.parse_number(typed or "")
    if number is None or not may_read(actor):
        return None
    request = await uow.requests.by_number(number)
    complaint = await uow.complaints.of_request(request.id) if request is not None and request.kind == KIND else None
    return complaint.id if complaint is not None else None


async def customer_of_draft(uow: UnitOfWork, actor: User, draft: Draft) -> Customer:
    """Whose complaint a supervisor is registering; the role is checked again at every step."""
    if not registered_by_staff(draft) or not may_handle(actor):
        raise NotAllowed()
    customer = await uow.customers.get(draft.data["customer_id"])
    if customer is None:
        raise NotFound()
    return customer


async def reachable_user(uow: UnitOfWork, customer: Customer) -> User | None:
    """The customer's chat with the bot, when there is one to write to (None: phone or letter)."""
    person = await uow.users.get(customer.user_id) if customer.user_id else None
    return person if person is not None and person.is_reachable else None


async def recent_requests(uow: UnitOfWork, customer: Customer | None) -> list[ServiceRequest]:
    """The customer's latest requests that can be complained about, newest first."""
    if customer is None:
        return []
    recent = await uow.requests.page_of_customer(customer.id, 0, RECENT_SHOWN * 2)
    return [r for r in recent if can_complain_about(r)][:RECENT_SHOWN]


async def choose_about(uow: UnitOfWork, customer: Customer | None, draft: Draft, value: str, now: datetime) -> None:
    """A request of theirs, or "not about a specific request"; the subject is asked next (again
    when editing, since "the engineer" depends on the request)."""
    if draft.step != ABOUT:
        raise StaleAction()
    if value == NOT_SPECIFIC:
        about = None
    elif value.isdigit():
        about = await _about(uow, customer, int(value))
    else:
        raise StaleAction()
    subject = draft.data.get("subject")
    dialogs.move(draft, SUBJECT, now, about_request_id=about.id if about else None,
                 subject=subject if subject in subjects_for(about) else None)


async def choose_subject(uow: UnitOfWork, customer: Customer | None, draft: Draft, value: str, now: datetime) -> None:
    if draft.step != SUBJECT or value not in subjects_for(await about_request(uow, customer, draft)):
        raise StaleAction()
    if draft.data.get("editing") and draft.data.get("description"):
        dialogs.move(draft, CONFIRM, now, subject=value, editing=False)
    else:
        dialogs.move(draft, DESCRIPTION, now, subject=value)


def describe(draft: Draft, text: str | None, now: datetime) -> None:
    """The customer's own words; WrongInput (empty) and TooLong re-ask."""
    if draft.step != DESCRIPTION:
        raise StaleAction()
    dialogs.move(draft, CONFIRM, now, editing=False, description=clean_text(text, limit=DESCRIPTION_LIMIT, expected=DESCRIPTION))


def editable_fields(draft: Draft) -> tuple[str, ...]:
    """Which parts the summary's Edit offers (the request only when the customer chose it)."""
    if draft.data.get("source") in (COMMAND, INTAKE):
        return (ABOUT, SUBJECT, DESCRIPTION)
    return (SUBJECT, DESCRIPTION)


def edit(draft: Draft, field: str | None, now: datetime) -> None:
    """Edit on the summary (field None), then the field to change."""
    if field is None and draft.step == CONFIRM:
        dialogs.move(draft, EDIT, now)
    elif field is not None and draft.step == EDIT and field in editable_fields(draft):
        dialogs.move(draft, field, now, editing=True)
    else:
        raise StaleAction()


def back(draft: Draft, now: datetime) -> None:
    target = previous_step(draft)
    if target is None:
        raise NotAllowed()
    dialogs.move(draft, target, now, editing=False)


@dataclass(frozen=True)
class Filed:
    request: ServiceRequest
    complaint: Complaint
    about: ServiceRequest | None


async def submit(uow: UnitOfWork, policy: Policy, user: User, customer: Customer | None, draft: Draft, now: datetime, timezone: ZoneInfo) -> Filed:
    """Create the complaint's request and row; the dialog ends, so a second press finds nothing."""
    data = draft.data
    if draft.step != CONFIRM or customer is None or not data.get("subject") or not data.get("description"):
        raise StaleAction()
    about = await about_request(uow, customer, draft)
    subject = data["subject"]
    if subject not in subjects_for(about):
        raise StaleAction()
    new = requests.NewRequest(kind=KIND, description=data["description"],
                              product_id=about.product_id if about else None, serial=about.serial_text if about else None)
    request = await requests.create(uow, user, customer, new, policy, now, timezone)
    complaint = await uow.complaints.add(Complaint(
        request_id=request.id, about_request_id=about.id if about else None, subject=subject,
        engineer_id=about.assigned_engineer_id if about and subject == ENGINEER else None,
        source=data.get("source", COMMAND), state=OPEN, created_at=now, updated_at=now,
    ))
    await dialogs.end(uow, draft)
    return Filed(request, complaint, about)


async def due_at(uow: UnitOfWork, request: ServiceRequest) -> datetime | None:
    """When the written answer is promised (the running complaint clock's due time)."""
    clock = await answer_clock(uow, request)
    return clock.due_at if clock is not None and clock.stopped_at is None else None


async def answer_clock(uow: UnitOfWork, request: ServiceRequest) -> SlaClock | None:
    return next((c for c in await uow.requests.clocks(request.id) if c.kind == CLOCK), None)


async def supervisors(uow: UnitOfWork, complaint: Complaint | None = None) -> list[User]:
    """Who is told of a new complaint (or the customer's news on it): every active complaint
    supervisor but those it is about; with none, the service managers, so a complaint never
    waits unseen for its first escalation."""
    excluded = await own_work_ids(uow, complaint) if complaint is not None else frozenset()
    return ([user for user in await uow.users.active_with_role(SUPERVISOR) if user.id not in excluded]
            or await uow.users.active_with_role("service_manager"))


async def own_work_ids(uow: UnitOfWork, complaint: Complaint) -> frozenset[int]:
    """The people whose work the complaint is about, who may not decide it: the engineer it names,
    and the engineer on the request it is about and everyone who reported on that job."""
    ids = {complaint.engineer_id}
    if complaint.about_request_id is not None:
        about = await uow.requests.get(complaint.about_request_id)
        ids.add(about.assigned_engineer_id)
        ids.update(report.engineer_id for report in await uow.jobs.reports_of(about.id))
    return frozenset(ids - {None})


async def own_work_ids_of_request(uow: UnitOfWork, request: ServiceRequest) -> frozenset[int]:
    """`own_work_ids` for a complaint's request (nobody for any other request): who the
    complaint clock's reminders leave out, as they may not act on it."""
    complaint = await uow.complaints.of_request(request.id) if request.kind == KIND else None
    return await own_work_ids(uow, complaint) if complaint is not None else frozenset()


# --- the supervisor's investigation -----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A complaint with everything its card shows."""

    complaint: Complaint
    request: ServiceRequest
    customer: Customer
    about: ServiceRequest | None
    about_engineer: User | None
    engineer: User | None  # the engineer complained about
    supervisor: User | None
    notes: list[tuple[ComplaintNote, User | None]]
    links: list[ServiceRequest]
    clock: SlaClock | None
    can_act: bool
    no_supervisor: bool = False  # nobody holds the role: the managers reading it should have one enrolled
    own_work: bool = False  # a supervisor reading a complaint about his own work: another one handles it
    only_concerned: bool = False  # every supervisor there is is one it is about: nobody may handle it
    registered_by: User | None = None  # the supervisor who registered a complaint phoned or written in


async def _get(uow: UnitOfWork, complaint_id: int) -> Complaint:
    complaint = await uow.complaints.get(complaint_id)
    if complaint is None:
        raise NotFound()
    return complaint


async def case(uow: UnitOfWork, actor: User, complaint_id: int) -> Case:
    """The complaint card, for supervisors (who act) and the managers who read along."""
    if not may_read(actor):
        raise NotAllowed()
    complaint = await _get(uow, complaint_id)
    request = await uow.requests.get(complaint.request_id)
    about = await uow.requests.get(complaint.about_request_id) if complaint.about_request_id else None
    notes = [(note, await uow.users.get(note.author_id)) for note in await uow.complaints.notes(complaint.id)]
    concerned = await own_work_ids(uow, complaint)
    own_work = may_handle(actor) and actor.id in concerned
    enrolled = await uow.users.active_with_role(SUPERVISOR)
    return Case(
        complaint=complaint, request=request, customer=await uow.customers.get(request.customer_id), about=about,
        about_engineer=await uow.users.get(about.assigned_engineer_id) if about and about.assigned_engineer_id else None,
        engineer=await uow.users.get(complaint.engineer_id) if complaint.engineer_id else None,
        supervisor=await uow.users.get(complaint.supervisor_id) if complaint.supervisor_id else None,
        notes=notes, links=await uow.complaints.linked_requests(complaint.id), clock=await answer_clock(uow, request),
        can_act=may_handle(actor) and not own_work,
        no_supervisor=not enrolled,
        own_work=own_work,
        only_concerned=bool(enrolled) and all(user.id in concerned for user in enrolled),
        registered_by=await uow.users.get(request.created_by_user_id) if complaint.source == STAFF else None,
    )


async def complaint_id_of(uow: UnitOfWork, actor: User, request_id: int) -> int:
    """The complaint behind a complaint request (a deadline reminder names only the request)."""
    if not may_read(actor):
        raise NotAllowed()
    complaint = await uow.complaints.of_request(request_id)
    if complaint is None:
        raise NotFound()
    return complaint.id


@dataclass(frozen=True)
class ListItem:
    complaint: Complaint
    request: ServiceRequest
    due_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class OpenList:
    items: list[ListItem]  # the oldest LIST_SIZE
    total: int  # all complaints waiting for an answer, shown or not
    overdue: int  # of all of them


async def open_list(uow: UnitOfWork, actor: User, now: datetime) -> OpenList:
    """Complaints not answered yet (withdrawn ones left out), oldest first, overdue marked; the
    counts cover those beyond the first LIST_SIZE too."""
    if not may_read(actor):
        raise NotAllowed()
    statuses = tuple(requests.OPEN_STATUSES)
    items = []
    for complaint, request in await uow.complaints.active(ACTIVE_STATES, statuses, LIST_SIZE):
        due = await due_at(uow, request)
        items.append(ListItem(complaint, request, due, due is not None and due <= now))
    total, overdue = await uow.complaints.count_active(ACTIVE_STATES, statuses, CLOCK, now)
    return OpenList(items, total, overdue)


async def _for_action(uow: UnitOfWork, actor: User, complaint_id: int, *, taken: bool = True) -> tuple[Complaint, ServiceRequest]:
    """A complaint a supervisor may act on now: not about his own work, not answered, not
    withdrawn, and taken first. Its request is locked first and the complaint read again after it,
    so a withdrawal (the customer cancelling) or a colleague's answer committed meanwhile is seen,
    not written over."""
    if not may_handle(actor):
        raise NotAllowed()
    complaint = await _get(uow, complaint_id)
    if actor.id in await own_work_ids(uow, complaint):
        raise AboutOwnWork()
    request = await uow.requests.lock(complaint.request_id)
    if uow.requests.takes_row_locks:
        complaint = await _get(uow, complaint_id)
    if complaint.state == ANSWERED:
        raise AlreadyAnswered(complaint)
    if request.status not in requests.OPEN_STATUSES:
        raise Withdrawn()
    if taken and complaint.state != INVESTIGATING:
        raise NotTaken()
    return complaint, request


async def _event(uow: UnitOfWork, request: ServiceRequest, actor: User, action: str, now: datetime, *, internal: bool = True, **details: object) -> None:
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=actor.id, action=action, internal=internal, created_at=now,
        details={k: v for k, v in details.items() if v is not None},
    ))
    request.updated_at = now


async def take(uow: UnitOfWork, actor: User, complaint_id: int, now: datetime) -> Complaint:
    """open → investigating; the first press wins, the customer sees the investigation start."""
    complaint, request = await _for_action(uow, actor, complaint_id, taken=False)
    if not await uow.complaints.move(complaint, OPEN, INVESTIGATING, supervisor_id=actor.id, updated_at=now):
        raise AlreadyTaken(complaint)
    if request.status in (requests.NEW, requests.TRIAGED):
        request.status = requests.IN_PROGRESS
    await _event(uow, request, actor, "complaint_taken", now, internal=False)
    return complaint


async def begin_work(uow: UnitOfWork, actor: User, complaint_id: int, step: str, now: datetime, **data: object) -> Draft:
    """Ask the supervisor for a text (note, linked number, cause note, corrective action, answer);
    the rights and the state are checked now and again when the text arrives. An answer of his to
    this complaint already written (open now, or kept aside when another dialog interrupted it)
    goes on where it stopped, with its text: its preview, or its rewriting."""
    if step not in WORK_STEPS:
        raise NotAllowed()
    complaint, _request = await _for_action(uow, actor, complaint_id)
    if step == ANSWER:
        missing = missing_for_answer(complaint)
        if missing:
            raise AnswerNotReady(missing)
        written = await dialogs.reopen(uow, actor.id, WORK_DIALOG, now,
                                       lambda data: data.get("complaint_id") == complaint.id and bool(data.get("answer")))
        if written is not None:
            return written
    return await dialogs.begin(uow, actor.id, WORK_DIALOG, step, {"complaint_id": complaint.id, **data}, now)


async def add_note(uow: UnitOfWork, actor: User, complaint_id: int, text: str | None, now: datetime) -> ComplaintNote:
    complaint, request = await _for_action(uow, actor, complaint_id)
    note = await uow.complaints.add_note(ComplaintNote(
        complaint_id=complaint.id, author_id=actor.id, text=clean_text(text, limit=NOTE_LIMIT, expected="note"), created_at=now,
    ))
    complaint.updated_at = now
    await _event(uow, request, actor, "complaint_note", now, text=note.text)
    return note


async def link(uow: UnitOfWork, actor: User, complaint_id: int, typed: str | None, now: datetime) -> ServiceRequest:
    """Link a request by its number; unknown numbers, the complaint itself and duplicates are refused."""
    complaint, request = await _for_action(uow, actor, complaint_id)
    number = requests.parse_number(typed or "")
    if number is None:
        raise InvalidValue("request_number")
    linked = await uow.requests.by_number(number)
    if linked is None or linked.id == request.id:
        raise UnknownRequest(number)
    if not await uow.complaints.add_link(ComplaintLink(complaint_id=complaint.id, request_id=linked.id, created_at=now)):
        raise AlreadyLinked(number)
    complaint.updated_at = now
    await _event(uow, request, actor, "complaint_linked", now, number=linked.number)
    return linked


async def record_cause(uow: UnitOfWork, actor: User, complaint_id: int, service_fault: bool, text: str | None, now: datetime) -> Complaint:
    """Service fault or not, with a short note; may be corrected until the answer is sent."""
    complaint, request = await _for_action(uow, actor, complaint_id)
    complaint.cause_note = clean_text(text, limit=NOTE_LIMIT, expected="note")
    complaint.service_fault, complaint.updated_at = service_fault, now
    await _event(uow, request, actor, "complaint_cause", now, service_fault=service_fault, text=complaint.cause_note)
    return complaint


async def record_action(uow: UnitOfWork, actor: User, complaint_id: int, text: str | None, now: datetime) -> Complaint:
    complaint, request = await _for_action(uow, actor, complaint_id)
    complaint.corrective_action = clean_text(text, limit=NOTE_LIMIT, expected="note")
    complaint.updated_at = now
    await _event(uow, request, actor, "complaint_action", now, text=complaint.corrective_action)
    return complaint


async def write_answer(uow: UnitOfWork, actor: User, draft: Draft, text: str | None, now: datetime) -> None:
    """The answer's text goes to the preview; nothing is sent yet."""
    if draft.kind != WORK_DIALOG or draft.step != ANSWER:
        raise StaleAction()
    await _for_action(uow, actor, draft.data["complaint_id"])
    dialogs.move(draft, PREVIEW, now, answer=clean_text(text, limit=ANSWER_LIMIT, expected="note"))


def rewrite_answer(draft: Draft, now: datetime) -> None:
    if draft.kind != WORK_DIALOG or draft.step != PREVIEW:
        raise StaleAction()
    dialogs.move(draft, ANSWER, now)


@dataclass(frozen=True)
class Answered:
    complaint: Complaint
    request: ServiceRequest
    customer_user: User | None
    queued: bool  # True: the customer's quiet hours; the outbox sends it when they end


async def send_answer(uow: UnitOfWork, actor: User, draft: Draft, now: datetime, deliver_from: datetime) -> Answered:
    """Send the previewed answer: recorded, the request closed and its clock stopped (the
    "complaint_answered" event), the dialog ended. `deliver_from` is the earliest time the
    customer may be messaged; when that is later than now the answer waits in the outbox
    (written in this transaction, so it cannot be lost), otherwise the caller sends it after commit."""
    if draft.kind != WORK_DIALOG or draft.step != PREVIEW:
        raise StaleAction()
    complaint, request = await _for_action(uow, actor, draft.data["complaint_id"])
    missing = missing_for_answer(complaint)
    if missing:
        raise AnswerNotReady(missing)
    text = draft.data["answer"]
    if not await uow.complaints.move(complaint, INVESTIGATING, ANSWERED, answer=text, answered_at=now, updated_at=now):
        raise AlreadyAnswered(complaint)
    request.status, request.closed_reason = requests.CLOSED, "answered"
    await _event(uow, request, actor, "complaint_answered", now, internal=False)
    await dialogs.end(uow, draft)
    customer = await uow.customers.get(request.customer_id)
    person = await uow.users.get(customer.user_id) if customer.user_id else None
    queued = person is not None and person.is_reachable and deliver_from > now
    if queued:
        await uow.outbox.add_once(OutboxMessage(
            key=f"{OUTBOX_KIND}:{complaint.id}", user_id=person.id, kind=OUTBOX_KIND,
            payload={"complaint_id": complaint.id}, not_before=deliver_from, created_at=now,
        ))
    return Answered(complaint, request, person, queued)


async def for_delivery(uow: UnitOfWork, complaint_id: int) -> tuple[Complaint, ServiceRequest] | None:
    """An answered complaint and its request, for the outbox sender (None: nothing to send)."""
    complaint = await uow.complaints.get(complaint_id)
    if complaint is None or complaint.state != ANSWERED or not complaint.answer:
        return None
    return complaint, await uow.requests.get(complaint.request_id)
