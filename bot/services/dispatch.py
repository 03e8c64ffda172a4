"""The dispatcher's work: the queue, triage, fair assignment, and the engineer's answer.

Authority is checked here on every call (role, ownership, current state); buttons only
say which request and which action.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.services import dialogs, requests
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, StaleAction
from bot.services.users import OVERSEER_ROLES, ROLE_DISPATCHER
from bot.services.validation import normalize_serial
from storage.db import UnitOfWork
from storage.models import Approval, Assignment, Customer, Product, RequestEvent, ServiceRequest, SlaClock, User

if TYPE_CHECKING:
    from bot.services.clocks import ClockKeeper
    from bot.services.jobs import CalledOff

ROLE_ENGINEER = "engineer"
PRIORITIES = ("normal", "high", "urgent")
IN_WARRANTY, EXPIRED, UNKNOWN, PAID = "in_warranty", "expired", "unknown", "paid"
PAID_REASONS = ("misuse", "accident", "modification")
# A job in progress may be given to another engineer too (one who fell ill, a repeat repair).
ASSIGNABLE = (requests.NEW, requests.TRIAGED, requests.ASSIGNED, requests.IN_PROGRESS)
OPEN_JOB = (requests.ASSIGNED, requests.IN_PROGRESS)
# /jobs also lists a job whose report waits for the customer: the engineer may still edit it.
LISTED_JOB = (*OPEN_JOB, requests.RESOLVED)
QUEUE_SIZE = 30
NOT_QUEUED_KINDS = ("complaint",)  # the complaint supervisor's (bot/services/complaints.py), not an engineer's job


class AlreadyAssigned(DomainError):
    """Someone else changed the assignment first; `engineer` is who has it now (or None)."""

    def __init__(self, engineer: User | None) -> None:
        super().__init__("already assigned")
        self.engineer = engineer


def is_dispatcher(user: User) -> bool:
    return user.is_active and ROLE_DISPATCHER in user.role_names


def require_dispatcher(user: User) -> None:
    if not is_dispatcher(user):
        raise NotAllowed()


def require_overseer(user: User) -> None:
    """Dispatchers and managers may look at any request (managers are escalated to)."""
    if not (user.is_active and user.role_names & OVERSEER_ROLES):
        raise NotAllowed()


def warranty_from_registry(product: Product | None, today: date) -> str:
    """In warranty until the registry's end date (inclusive); unknown without a registered product."""
    if product is None or product.warranty_end is None:
        return UNKNOWN
    return IN_WARRANTY if today <= product.warranty_end else EXPIRED


@dataclass(frozen=True)
class QueueItem:
    request: ServiceRequest
    due_at: datetime | None


QUEUED = (requests.NEW, requests.TRIAGED)


async def queue(uow: UnitOfWork, actor: User, page: int = 0) -> list[QueueItem]:
    """One page (QUEUE_SIZE) of the requests without an engineer: the soonest deadline first, then
    the higher priority, then the oldest; one with no deadline running comes after those."""
    require_dispatcher(actor)
    rows = await uow.dispatch.queue(QUEUED, QUEUE_SIZE, exclude_kinds=NOT_QUEUED_KINDS, offset=max(page, 0) * QUEUE_SIZE,
                                    priorities=PRIORITIES[::-1])
    return [QueueItem(request, due_at) for request, due_at in rows]


async def queue_size(uow: UnitOfWork, actor: User) -> int:
    """How many requests wait for an engineer, all pages together."""
    require_dispatcher(actor)
    return await uow.dispatch.queue_count(QUEUED, exclude_kinds=NOT_QUEUED_KINDS)


@dataclass(frozen=True)
class StaffCard:
    request: ServiceRequest
    customer: Customer
    product: Product | None
    warranty: str
    clocks: list[SlaClock]
    engineer: User | None
    history: list[RequestEvent]
    can_act: bool = True  # False for a manager looking in: the card shows no dispatcher actions
    approvals: tuple[Approval, ...] = ()
    earlier_repair: ServiceRequest | None = None  # the same product repaired recently (requests.earlier_repair)
    typed_match: Product | None = None  # not linked, but the serial the customer typed is in the registry
    typed_owner: str | None = None  # whose it is there: the customer it is registered to, else the registry's owner


async def staff_card(uow: UnitOfWork, actor: User, request_id: int, tz: ZoneInfo, *, read_only: bool = False,
                     repeat_within: timedelta | None = None) -> StaffCard:
    """The dispatcher's card; with `read_only` a manager may look at it too. With `repeat_within`
    it names an earlier repair of the same product (policy `closing.repeat_within_days`).

    Until a dispatcher decides, the warranty is the registry's reading on the day the fault was
    reported (a report on the last day of warranty stays in warranty when read next morning)."""
    require_overseer(actor) if read_only else require_dispatcher(actor)
    request = await uow.requests.get(request_id)
    if request is None:
        raise NotFound()
    product = await uow.products.get(request.product_id) if request.product_id else None
    typed_match = await _registry_product(uow, request.serial_text) if product is None else None
    typed_owner = None
    if typed_match is not None:
        holder = await uow.customers.get(typed_match.customer_id) if typed_match.customer_id else None
        typed_owner = holder.name if holder is not None else typed_match.owner_name
    return StaffCard(
        request=request, customer=await uow.customers.get(request.customer_id), product=product,
        typed_match=typed_match, typed_owner=typed_owner,
        warranty=request.warranty or warranty_from_registry(product or typed_match, request.created_at.astimezone(tz).date()),
        clocks=[c for c in await uow.requests.clocks(request.id) if c.stopped_at is None],
        engineer=await uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None,
        history=await uow.requests.events(request.id, include_internal=True),
        can_act=ROLE_DISPATCHER in actor.role_names and request.kind not in NOT_QUEUED_KINDS,
        approvals=tuple(await uow.approvals.of_request(request.id)),
        earlier_repair=await requests.earlier_repair(uow, request, repeat_within) if repeat_within else None,
    )


async def _registry_product(uow: UnitOfWork, serial_text: str | None) -> Product | None:
    """The registry's product with the serial a customer typed (a product they have not claimed)."""
    try:
        return await uow.products.by_serial(normalize_serial(serial_text)) if serial_text else None
    except DomainError:  # not a serial number at all
        return None


async def effective_warranty(uow: UnitOfWork, request: ServiceRequest, tz: ZoneInfo) -> str:
    """The warranty the desk works with, as the staff card shows it: the dispatcher's ruling, else
    the registry's reading (the linked product, or the one whose serial the customer typed) on
    the day the fault was reported. The deadline clocks follow it (clocks.derive)."""
    if request.warranty:
        return request.warranty
    product = await uow.products.get(request.product_id) if request.product_id else await _registry_product(uow, request.serial_text)
    return warranty_from_registry(product, request.created_at.astimezone(tz).date())


async def open_request(uow: UnitOfWork, actor: User, request_id: int, *, lock: bool = True) -> ServiceRequest:
    """An open request a dispatcher acts on (NotFound / NotAllowed otherwise).

    Locked for the change (`uow.requests.lock`) and checked after the lock, so a change another
    process made meanwhile (the customer cancelled, the engineer declined) is seen and refused
    rather than written over; `lock=False` for a read-only look (the candidates list)."""
    require_dispatcher(actor)
    request = await (uow.requests.lock(request_id) if lock else uow.requests.get(request_id))
    if request is None:
        raise NotFound()
    if request.status not in requests.OPEN_STATUSES or request.kind in NOT_QUEUED_KINDS:
        raise NotAllowed()  # a complaint is worked on from /complaints, not triaged or assigned
    return request


async def _event(uow: UnitOfWork, request: ServiceRequest, actor: User, action: str, now: datetime, *, internal: bool = True, **details: object) -> None:
    await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=actor.id, action=action, details=details, internal=internal, created_at=now))
    request.updated_at = now


async def _triaged(request: ServiceRequest) -> None:
    if request.status == requests.NEW:
        request.status = requests.TRIAGED


def next_priority(current: str) -> str:
    """The card's priority button steps through PRIORITIES: normal → high → urgent → normal."""
    return PRIORITIES[(PRIORITIES.index(current) + 1) % len(PRIORITIES)]


async def set_priority(uow: UnitOfWork, actor: User, request_id: int, priority: str, now: datetime) -> ServiceRequest:
    """The next step from the priority the card showed; StaleAction when someone changed it since
    (an old card's "→ high" must not lower a request a colleague has just made urgent)."""
    if priority not in PRIORITIES:
        raise InvalidValue("priority")
    request = await open_request(uow, actor, request_id)
    if priority != next_priority(request.priority):
        raise StaleAction()
    before, request.priority = request.priority, priority
    await _triaged(request)
    await _event(uow, request, actor, "priority", now, before=before, after=priority)
    return request


async def set_distance(uow: UnitOfWork, actor: User, request_id: int, band: str, bands: tuple[str, ...], now: datetime) -> ServiceRequest:
    """The band sets the on-site arrival window; the clocks recompute from the timeline event."""
    if band not in bands:
        raise InvalidValue("distance")
    request = await open_request(uow, actor, request_id)
    before, request.distance_band = request.distance_band, band
    await _triaged(request)
    await _event(uow, request, actor, "distance", now, before=before, after=band)
    return request


@dataclass(frozen=True)
class Ruled:
    request: ServiceRequest
    withdrawn: list[Approval]  # fee waivers withdrawn because the work was ruled in warranty


async def set_warranty(uow: UnitOfWork, actor: User, request_id: int, decision: str, now: datetime) -> Ruled:
    """Confirm the registry's verdict, or overrule it: `paid_<reason>` makes the service paid."""
    request = await open_request(uow, actor, request_id)
    if decision in (IN_WARRANTY, EXPIRED):
        warranty, reason = decision, None
    elif decision.startswith("paid_") and decision[5:] in PAID_REASONS:
        warranty, reason = PAID, decision[5:]
    else:
        raise InvalidValue("warranty")
    before = request.warranty
    request.warranty, request.warranty_reason = warranty, reason
    await _triaged(request)
    await _event(uow, request, actor, "warranty", now, before=before, after=warranty, reason=reason)
    if warranty == IN_WARRANTY:
        from bot.services import approvals  # approvals → dispatch: imported here, not at the top
        if await uow.quotes.supersede(request.id):  # free work: a quote still waiting no longer applies,
            await _event(uow, request, actor, "quote_void", now)  # and the job's deadlines no longer wait for its answer
        # ...nor a fee waiver of it: left open, it would pause the job's deadlines for an approval
        # nobody needs, and an approver could still grant it, telling the customer the company pays.
        return Ruled(request, await approvals.withdraw_open(uow, request.id, actor, approvals.WORK_IN_WARRANTY, now, kind="waiver"))
    return Ruled(request, [])


async def log_contacted(uow: UnitOfWork, actor: User, request_id: int, note: str, now: datetime) -> ServiceRequest:
    """The customer was contacted: the first-contact clock stops here."""
    request = await open_request(uow, actor, request_id)
    await _triaged(request)
    await _event(uow, request, actor, "contacted", now, note=note)
    return request


@dataclass(frozen=True)
class Candidate:
    engineer: User
    region_match: bool
    skill_match: bool
    open_jobs: int


def rank(engineers: list[User], open_jobs: dict[int, int], site: str, product_text: str, capacity: int,
         current_id: int | None = None) -> list[Candidate]:
    """Engineers to propose, best first: region, then skills, then whoever got a job least recently.

    Off-duty, deactivated and at-capacity engineers are left out, and so is one who blocked the
    bot (the job card could not reach them) and `current_id`, who has the job already. A region matches when it is
    named in the site address; a skill (product line) when it is named in the product or description.
    """
    site, product_text = site.lower(), product_text.lower()
    candidates = [
        Candidate(
            engineer=e,
            region_match=bool(e.region) and e.region.lower() in site,
            skill_match=any(skill.lower() in product_text for skill in e.skills or [] if skill),
            open_jobs=open_jobs.get(e.id, 0),
        )
        for e in engineers
        if e.is_active and e.is_reachable and e.on_duty and ROLE_ENGINEER in e.role_names and open_jobs.get(e.id, 0) < capacity
        and e.id != current_id
    ]
    never = datetime.min.replace(tzinfo=None)

    def order(c: Candidate) -> tuple:
        last = c.engineer.last_assigned_at.replace(tzinfo=None) if c.engineer.last_assigned_at else never
        return (not c.region_match, not c.skill_match, last, c.engineer.id)

    return sorted(candidates, key=order)


async def candidates(uow: UnitOfWork, actor: User, request_id: int, capacity: int) -> list[Candidate]:
    request = await open_request(uow, actor, request_id, lock=False)
    product = await uow.products.get(request.product_id) if request.product_id else None
    engineers = await uow.users.active_with_role(ROLE_ENGINEER)
    open_jobs = await uow.dispatch.open_jobs_by_engineer(OPEN_JOB)
    product_text = " ".join(filter(None, [product.model if product else None, request.serial_text, request.description]))
    return rank(engineers, open_jobs, request.site_address or "", product_text, capacity, request.assigned_engineer_id)


class EngineerUnreachable(DomainError):
    """The engineer blocked the bot: a job given to them would reach nobody."""

    def __init__(self, engineer: User) -> None:
        super().__init__(engineer.id)
        self.engineer = engineer


class EngineerUnavailable(DomainError):
    """The engineer may not get this job now (a list drawn before they went off duty, say)."""

    OFF_DUTY, AT_CAPACITY, HAS_IT = "off_duty", "at_capacity", "has_it"

    def __init__(self, engineer: User, reason: str) -> None:
        super().__init__(reason)
        self.engineer, self.reason = engineer, reason


@dataclass(frozen=True)
class Assigned:
    request: ServiceRequest
    engineer: User
    previous: User | None  # who had the job before, if anyone
    withdrawn: list[Approval]  # approvals of the previous engineer's requisitions, withdrawn
    called_off: CalledOff | None = None  # the previous engineer's visit not made yet, now off (the customer is told)
    dialog_ended: str | None = None  # the kind of the previous engineer's open report or requisition of the job, ended (he is told)


async def assign(uow: UnitOfWork, actor: User, request_id: int, engineer_id: int, expected_engineer_id: int | None, now: datetime,
                 *, capacity: int | None = None, keeper: ClockKeeper | None = None) -> Assigned:
    """Give the request to an engineer, also one already accepted by another (who then hands it
    back: `_hand_back`). `expected_engineer_id` is who had it when the dispatcher looked; if that
    changed meanwhile, the first dispatcher won and `AlreadyAssigned` says to whom.
    What the list checked is checked again here (`EngineerUnavailable`): the engineer is on duty,
    below `capacity` open jobs (counted in this transaction), and not the one who has it.
    With the `keeper`, the new engineer is reminded of a deadline point already passed
    (`reminders.hand_over`)."""
    request = await open_request(uow, actor, request_id)
    if request.status not in ASSIGNABLE:
        raise NotAllowed()  # resolved: waiting for the customer's verdict
    engineer = await uow.users.get(engineer_id)
    if engineer is None or not engineer.is_active or ROLE_ENGINEER not in engineer.role_names:
        raise NotFound()
    if not engineer.is_reachable:
        raise EngineerUnreachable(engineer)
    if engineer.id == request.assigned_engineer_id == expected_engineer_id:
        raise EngineerUnavailable(engineer, EngineerUnavailable.HAS_IT)  # a new assignment would reset his job
    # The engineer's row is locked (PostgreSQL) and read afresh: two dispatchers giving them a job
    # at once take turns, so the second counts the first's job; /duty meanwhile is seen too.
    await uow.session.flush()  # nothing pending on the engineer is lost to the refresh
    # Only the row's own columns: refreshed whole, an engineer loaded with their roles (the
    # dispatcher who is an engineer too, giving the job to herself) would be locked through an
    # outer join, which PostgreSQL refuses.
    await uow.session.refresh(engineer, ["on_duty", "is_active", "is_reachable"], with_for_update={"key_share": True})
    if not engineer.on_duty:
        raise EngineerUnavailable(engineer, EngineerUnavailable.OFF_DUTY)
    if capacity is not None and (await uow.dispatch.open_jobs_by_engineer(OPEN_JOB)).get(engineer.id, 0) >= capacity:
        raise EngineerUnavailable(engineer, EngineerUnavailable.AT_CAPACITY)
    if not await uow.dispatch.claim_assignment(request.id, engineer.id, expected_engineer_id, ASSIGNABLE, requests.ASSIGNED, now):
        await uow.session.refresh(request)
        current = await uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None
        raise AlreadyAssigned(current)
    await uow.session.refresh(request)
    previous = await uow.users.get(expected_engineer_id) if expected_engineer_id else None
    withdrawn, called_off, dialog_ended = (await _hand_back(uow, request, expected_engineer_id, actor, now, "reassigned")
                                           if expected_engineer_id else ([], None, None))
    await uow.dispatch.add_assignment(Assignment(request_id=request.id, engineer_id=engineer.id, assigned_by_user_id=actor.id, assigned_at=now))
    engineer.last_assigned_at = now
    request.engineer_started = False
    await _event(uow, request, actor, "assigned", now, internal=False, engineer_id=engineer.id, before=expected_engineer_id, after=engineer.id,
                 **({"visit_called_off": called_off.visit.id} if called_off is not None else {}))
    if keeper is not None:
        from bot.services import reminders  # reminders → dispatch: imported here, not at the top
        await reminders.hand_over(uow, keeper, request)
    return Assigned(request, engineer, previous if previous is not None and previous.id != engineer.id else None, withdrawn, called_off,
                    dialog_ended)


async def _hand_back(uow: UnitOfWork, request: ServiceRequest, engineer_id: int, actor: User, now: datetime,
                     outcome: str) -> tuple[list[Approval], CalledOff | None, str | None]:
    """What a job leaves behind when it leaves its engineer: the assignment ends, a wait they
    recorded ends with it (the next engineer starts afresh), their visit not made yet is off
    (returned, for the customer to be told; the next engineer proposes their own), a visit they
    had arrived at is over (should the job come back, they start a new attempt), and their
    requisitions not issued yet are cancelled with their approvals, which are returned. Their
    report or requisition of the job, open or kept aside, ends too: what they type next must not
    go on writing for a job no longer theirs (the kind of the open one ended is returned, for
    them to be told)."""
    from bot.services import jobs, stock  # stock → approvals → dispatch: imported here, not at the top

    assignment = await uow.dispatch.current_assignment(request.id)
    if assignment is not None and assignment.engineer_id == engineer_id:
        assignment.ended_at, assignment.outcome = now, outcome  # how it ended; the timeline keeps "accepted"
    request.waiting_for = None
    # a report of theirs kept aside is outdated: should the job come back, it starts afresh
    await dialogs.drop_parked(uow, engineer_id, "report", lambda kept: kept.get("request_id") == request.id)
    open_dialog, dialog_ended = await dialogs.current(uow, engineer_id), None
    if open_dialog is not None and open_dialog.kind in ("report", stock.REQUISITION_DIALOG) \
            and open_dialog.data.get("request_id") == request.id:
        dialog_ended = open_dialog.kind
        await dialogs.end(uow, open_dialog)
    called_off = await jobs.call_off_visit(uow, request, engineer_id)
    return await stock.cancel_for_job_left(uow, request.id, engineer_id, actor, now), called_off, dialog_ended


async def respond(uow: UnitOfWork, engineer: User, request_id: int, accept: bool, reason: str | None, now: datetime) -> ServiceRequest:
    """The assigned engineer accepts, or declines with a reason (the job returns to the queue).
    Checked on the locked request: a dispatcher who gave the job to someone else meanwhile wins."""
    request = await uow.requests.lock(request_id)
    if request is None or request.assigned_engineer_id != engineer.id or not engineer.is_active:
        raise NotFound()
    if request.status != requests.ASSIGNED:
        raise NotAllowed()
    assignment = await uow.dispatch.current_assignment(request.id)
    if accept:
        request.status, request.engineer_started = requests.IN_PROGRESS, True
        if assignment is not None:
            assignment.outcome = "accepted"
        await _event(uow, request, engineer, "accepted", now, internal=False)
        return request
    if not reason:
        raise InvalidValue("reason")
    request.status, request.assigned_engineer_id = requests.TRIAGED, None
    if assignment is not None:
        assignment.ended_at, assignment.outcome, assignment.note = now, "declined", reason
    await _event(uow, request, engineer, "declined", now, reason=reason)
    return request


@dataclass(frozen=True)
class Released:
    requests: list[ServiceRequest]
    withdrawn: list[Approval]  # approvals of the engineer's requisitions, withdrawn with them
    called_off: dict[int, CalledOff] = field(default_factory=dict)  # request id → its visit not made yet, now off


async def release_jobs(uow: UnitOfWork, actor: User, engineer: User, now: datetime) -> Released:
    """The open jobs of an engineer who was deactivated or is no longer an engineer go back to
    the queue at once, their history kept. Each job is locked (in id order, as everywhere) and
    checked again: one reassigned or declined meanwhile is no longer theirs to release."""
    released, withdrawn, visits_off = [], [], {}
    for job_id in sorted(job.id for job in await uow.dispatch.jobs_of(engineer.id, OPEN_JOB)):
        request = await uow.requests.lock(job_id)
        if request is None or request.assigned_engineer_id != engineer.id or request.status not in OPEN_JOB:
            continue
        left, called_off, _dialog = await _hand_back(uow, request, engineer.id, actor, now, "released")  # not told: no longer an engineer
        withdrawn += left
        if called_off is not None:
            visits_off[request.id] = called_off
        before = request.status
        request.status, request.assigned_engineer_id = requests.TRIAGED, None
        await _event(uow, request, actor, "released", now, engineer_id=engineer.id, before=before, after=request.status)
        released.append(request)
    return Released(released, withdrawn, visits_off)


async def jobs(uow: UnitOfWork, engineer: User) -> list[ServiceRequest]:
    if not (engineer.is_active and ROLE_ENGINEER in engineer.role_names):
        raise NotAllowed()
    return await uow.dispatch.jobs_of(engineer.id, LISTED_JOB)


async def close_request(uow: UnitOfWork, actor: User, request_id: int, note: str, now: datetime) -> ServiceRequest:
    """A dispatcher closes an open request without the work (quote declined, duplicate, …)."""
    request = await open_request(uow, actor, request_id)
    request.status, request.closed_reason, request.updated_at = requests.CLOSED, "by_dispatcher", now  # closed_reason is 16 characters at most
    await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=actor.id, action="closed_by_dispatcher",
                                              details={"note": note}, created_at=now))
    return request
