"""A field engineer's work on an accepted job: calls, visits, waiting for parts.

Every step is allowed only to the job's own, active engineer and only in the job's current
state; the customer answers a proposed visit only for their own request.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.services import escalation, quotes, requests
from bot.services.errors import InvalidValue, NotAllowed, NotFound
from storage.db import UnitOfWork
from storage.models import Customer, Escalation, JobReport, RequestEvent, ServiceRequest, SlaClock, User, Visit

ROLE_ENGINEER = "engineer"
PROPOSED, ACCEPTED, COUNTERED, ON_THE_WAY, ARRIVED = "proposed", "accepted", "countered", "on_the_way", "arrived"
# Called off: the job left its engineer before the visit was made (reassigned, released). Such a
# visit is history only: nobody is coming, its proposal books nothing, and it is nobody's current visit.
CANCELLED = "cancelled"
# Over: the engineer had arrived when the job left him. The trip was made and counts (its
# `arrived_at` is a person-trip of the month), but his on-site attempt ended with the job: should
# it come back, he starts afresh (by phone, or setting off and arriving again). Nobody's current visit.
OVER = "over"
NOT_MADE_YET = (PROPOSED, ACCEPTED, COUNTERED, ON_THE_WAY)
WAITING_PARTS, WAITING_CUSTOMER = "parts", "customer"
VISIT_HORIZON = timedelta(days=60)
# Quick choices offered when proposing a visit: (days ahead, local time).
QUICK_VISIT_TIMES = {"d1_0900": (1, time(9)), "d1_1400": (1, time(14)), "d2_0900": (2, time(9))}

_DATE_TIME = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\s+(?P<H>\d{1,2})[:.](?P<M>\d{2})$"),
    re.compile(r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})(?:\.(?P<y>\d{4}))?\s+(?P<H>\d{1,2})[:.](?P<M>\d{2})$"),
    re.compile(r"^(?P<m>\d{1,2})-(?P<d>\d{1,2})\s+(?P<H>\d{1,2})[:.](?P<M>\d{2})$"),
    re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})\s+(?P<H>\d{1,2})[:.](?P<M>\d{2})$"),
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})\s+(?P<H>\d{1,2})[:.](?P<M>\d{2})$"),
    re.compile(r"^(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]\s*(?P<H>\d{1,2})[:.点](?P<M>\d{2})分?$"),
)


def parse_visit_time(text: str, now: datetime, timezone: ZoneInfo) -> datetime:
    """A local date and time typed by the engineer, as UTC; must lie in the next 60 days.

    Accepted: `2026-03-05 14:00`, `05.03 14:00`, `05.03.2026 14:00`, `03-05 14:00`, `3/5 14:00`,
    `2026/03/05 14:00`, `3月5日 14:00`, `2026年3月5日14点00`. Without a year, the next such date from
    today is meant. Full-width characters (a Chinese keyboard's `：` and digits) count as their ASCII twins.
    """
    value = " ".join(unicodedata.normalize("NFKC", text).split())
    local_now = now.astimezone(timezone)
    for pattern in _DATE_TIME:
        match = pattern.match(value)
        if match is None:
            continue
        parts = match.groupdict()
        year = int(parts["y"]) if parts.get("y") else local_now.year
        try:
            local = datetime(year, int(parts["m"]), int(parts["d"]), int(parts["H"]), int(parts["M"]), tzinfo=timezone)
            if not parts.get("y") and local < local_now - timedelta(days=1):
                local = local.replace(year=year + 1)
        except ValueError:
            raise InvalidValue("visit_time") from None
        return _check_visit_time(local.astimezone(now.tzinfo), now)
    raise InvalidValue("visit_time")


def quick_visit_time(choice: str, now: datetime, timezone: ZoneInfo) -> datetime:
    if choice not in QUICK_VISIT_TIMES:
        raise InvalidValue("visit_time")
    days, at = QUICK_VISIT_TIMES[choice]
    day = now.astimezone(timezone).date() + timedelta(days=days)
    return datetime.combine(day, at, tzinfo=timezone).astimezone(now.tzinfo)


def _check_visit_time(when: datetime, now: datetime) -> datetime:
    if when <= now:
        raise InvalidValue("visit_in_past")
    if when > now + VISIT_HORIZON:
        raise InvalidValue("visit_too_far")
    return when


async def own_job(uow: UnitOfWork, engineer: User, request_id: int, statuses: tuple[str, ...] = (requests.IN_PROGRESS,),
                  *, lock: bool = True) -> ServiceRequest:
    """The engineer's own job in one of `statuses`; someone else's job is simply not found.
    Locked for the change and checked after the lock (`uow.requests.lock`): a reassignment, a
    close or the customer's verdict committed meanwhile is seen; `lock=False` to only show it."""
    request = await (uow.requests.lock(request_id) if lock else uow.requests.get(request_id))
    if (
        request is None or request.assigned_engineer_id != engineer.id
        or not engineer.is_active or ROLE_ENGINEER not in engineer.role_names
    ):
        raise NotFound()
    if request.status not in statuses:
        raise NotAllowed()
    return request


async def record(uow: UnitOfWork, request: ServiceRequest, actor: User | None, action: str, now: datetime, *, internal: bool = False, **details: object) -> None:
    """One timeline entry; `note` details are for staff, `text` details are shown to the customer."""
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=actor.id if actor else None, action=action,
        details=details, internal=internal, created_at=now,
    ))
    request.updated_at = now


async def log_call(uow: UnitOfWork, engineer: User, request_id: int, note: str, now: datetime) -> ServiceRequest:
    """A call to the customer: counts as contacting them, so the first-contact clock stops."""
    request = await own_job(uow, engineer, request_id)
    await record(uow, request, engineer, "call_logged", now, internal=True, note=note)
    return request


async def current_visit(uow: UnitOfWork, request: ServiceRequest) -> Visit | None:
    """The latest visit of the job's own engineer: one the job had before it was reassigned is
    not theirs to continue (nor an arrival they can report on)."""
    if request.assigned_engineer_id is None:
        return None
    visit = await uow.jobs.latest_visit(request.id, request.assigned_engineer_id)
    # called off (or over, once arrived) when the job left them: should it come back, they start afresh
    return None if visit is None or visit.state in (CANCELLED, OVER) else visit


@dataclass(frozen=True)
class CalledOff:
    visit: Visit
    time: datetime | None  # the time the customer expected (proposed, agreed, on the way); None after they asked for another


async def call_off_visit(uow: UnitOfWork, request: ServiceRequest, engineer_id: int) -> CalledOff | None:
    """The job leaves `engineer_id` (the request is locked by the caller): their visit not made yet
    (proposed, agreed, countered, on the way) is off, and returned so the customer can be told.
    Its proposal's buttons then book nothing (`answer_visit`), and it is no current visit.
    A visit they had arrived at is over (OVER): made, nothing to tell the customer, no current visit."""
    visit = await uow.jobs.latest_visit(request.id, engineer_id)
    if visit is not None and visit.state == ARRIVED:
        visit.state = OVER
        return None
    if visit is None or visit.state not in NOT_MADE_YET:
        return None
    expected = visit.planned_at if visit.state != COUNTERED else None
    visit.state = CANCELLED
    return CalledOff(visit, expected)


async def propose_visit(uow: UnitOfWork, engineer: User, request_id: int, when: datetime, now: datetime) -> tuple[ServiceRequest, Visit]:
    """Propose (or re-propose) a visit time; the customer accepts it or asks for another."""
    request = await own_job(uow, engineer, request_id)
    _check_visit_time(when, now)
    visit = await current_visit(uow, request)
    if visit is None or visit.state in (ON_THE_WAY, ARRIVED):
        visit = await uow.jobs.add_visit(Visit(request_id=request.id, engineer_id=engineer.id, state=PROPOSED, created_at=now))
    before = visit.planned_at
    visit.planned_at, visit.state, visit.counter_note = when, PROPOSED, None
    await record(uow, request, engineer, "visit_proposed", now, at=when.isoformat(), before=before.isoformat() if before else None)
    return request, visit


@dataclass(frozen=True)
class VisitAnswer:
    request: ServiceRequest
    visit: Visit


def proposal_mark(visit: Visit) -> int:
    """The proposed time in whole minutes since the epoch: which proposal a customer's button answers."""
    planned = visit.planned_at if visit.planned_at.tzinfo else visit.planned_at.replace(tzinfo=timezone.utc)
    return int(planned.timestamp()) // 60


class ProposalChanged(NotAllowed):
    """The engineer proposed another time after the message the customer answered."""


class VisitCalledOff(ProposalChanged):
    """The proposal answered was called off: the job went to another engineer, who proposes anew."""


async def answer_visit(uow: UnitOfWork, user: User, customer: Customer | None, visit_id: int, accept: bool, note: str | None, now: datetime,
                       *, proposed: int | None = None) -> VisitAnswer:
    """The customer accepts the proposed time, or counters with their own words. Once per proposal,
    and only the proposal they saw (`proposed`: its `proposal_mark`)."""
    visit = await uow.jobs.visit(visit_id)
    if visit is None:
        raise NotFound()
    request = await requests.own_request(uow, customer, visit.request_id, lock=True)
    if uow.requests.takes_row_locks:
        await uow.session.refresh(visit)  # as the engineer left it: a time proposed meanwhile is another proposal
    if visit.state == CANCELLED or visit.engineer_id != request.assigned_engineer_id:
        raise VisitCalledOff()  # the job left that engineer since: the customer was told the visit is off
    if request.status != requests.IN_PROGRESS:
        raise NotAllowed()
    if proposed is not None and (visit.planned_at is None or proposal_mark(visit) != proposed):
        raise ProposalChanged()
    new_state = ACCEPTED if accept else COUNTERED
    if not await uow.jobs.answer_visit(visit.id, new_state, note):
        raise NotAllowed()  # already answered (a second press) or re-proposed meanwhile
    await uow.session.refresh(visit)
    action = "visit_accepted" if accept else "visit_countered"
    await record(uow, request, user, action, now, **({"text": note} if note else {}))
    return VisitAnswer(request, visit)


async def on_the_way(uow: UnitOfWork, engineer: User, request_id: int, now: datetime) -> ServiceRequest:
    request = await own_job(uow, engineer, request_id)
    await quotes.require_cleared(uow, request)
    visit = await current_visit(uow, request)
    if visit is None or visit.state in (ON_THE_WAY, ARRIVED):
        if visit is not None and visit.state == ON_THE_WAY:
            raise NotAllowed()  # pressed twice
        visit = await uow.jobs.add_visit(Visit(request_id=request.id, engineer_id=engineer.id, state=ON_THE_WAY, created_at=now))
    visit.state, visit.departed_at = ON_THE_WAY, now
    request.waiting_for = None
    await record(uow, request, engineer, "on_the_way", now)
    return request


class AlreadyOnSite(NotAllowed):
    """The arrival of this trip is recorded: "Arrived" again without setting off ("On my way") is
    the same trip, not another person-trip (nor news for the customer)."""


async def check_not_on_site(uow: UnitOfWork, request: ServiceRequest) -> None:
    """Refuse a second arrival on the trip the engineer is on; after "On my way", or after the
    customer's "not resolved" (a new attempt), an arrival is a trip of its own."""
    visit = await current_visit(uow, request)
    if visit is not None and visit.state == ARRIVED and await on_site_this_attempt(uow, request):
        raise AlreadyOnSite()


async def arrived(uow: UnitOfWork, engineer: User, request_id: int, latitude: float, longitude: float, now: datetime) -> ServiceRequest:
    """On site, with the location the engineer shared; the on-site arrival clock stops."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidValue("location")
    request = await own_job(uow, engineer, request_id)
    await quotes.require_cleared(uow, request)
    await check_not_on_site(uow, request)
    visit = await current_visit(uow, request)
    if visit is None or visit.state == ARRIVED:
        visit = await uow.jobs.add_visit(Visit(request_id=request.id, engineer_id=engineer.id, state=ARRIVED, created_at=now))
    visit.state, visit.arrived_at, visit.latitude, visit.longitude = ARRIVED, now, latitude, longitude
    request.waiting_for = None
    await record(uow, request, engineer, "arrived", now, latitude=latitude, longitude=longitude)
    return request


async def on_site_this_attempt(uow: UnitOfWork, request: ServiceRequest) -> bool:
    """Arrived on site since the customer last said "not resolved" (that attempt's report, with
    its trip, is kept): the work of this attempt is then reported as on-site, never by phone."""
    visit = await current_visit(uow, request)
    if visit is None or visit.arrived_at is None:
        return False
    disputed = await uow.jobs.latest_report(request.id)
    return disputed is None or disputed.superseded_at is None or visit.arrived_at > disputed.superseded_at


WAIT_EVENTS = {WAITING_PARTS: "waiting_parts", WAITING_CUSTOMER: "waiting_customer"}


async def wait_for(uow: UnitOfWork, engineer: User, request_id: int, reason: str, note: str, now: datetime) -> ServiceRequest:
    """The job waits for parts or for the customer; the policy pauses clocks on these events."""
    if reason not in WAIT_EVENTS:
        raise InvalidValue("wait")
    request = await own_job(uow, engineer, request_id)
    if request.waiting_for is not None:
        raise NotAllowed()  # already waiting: resume first
    request.waiting_for = reason
    await record(uow, request, engineer, WAIT_EVENTS[reason], now, note=note)
    return request


async def resume(uow: UnitOfWork, engineer: User, request_id: int, now: datetime) -> ServiceRequest:
    request = await own_job(uow, engineer, request_id)
    if request.waiting_for is None:
        raise NotAllowed()
    request.waiting_for = None
    await record(uow, request, engineer, "work_resumed", now)
    return request


@dataclass(frozen=True)
class JobCard:
    request: ServiceRequest
    customer: Customer
    visit: Visit | None
    report: JobReport | None
    expert_answer: Escalation | None = None
    clocks: tuple[SlaClock, ...] = ()
    earlier_repair: ServiceRequest | None = None  # the same product repaired recently (requests.earlier_repair)
    on_site: bool = False  # arrived in this attempt (`on_site_this_attempt`): no "Solved by phone"


async def job_card(uow: UnitOfWork, engineer: User, request_id: int, *, repeat_within: timedelta | None = None) -> JobCard:
    request = await own_job(uow, engineer, request_id, (requests.ASSIGNED, requests.IN_PROGRESS, requests.RESOLVED), lock=False)
    return JobCard(
        request=request, customer=await uow.customers.get(request.customer_id),
        visit=await current_visit(uow, request), report=await uow.jobs.report_of(request.id),
        expert_answer=await escalation.latest_answer(uow, engineer, request.id),
        clocks=tuple(await uow.requests.clocks(request.id)),
        earlier_repair=await requests.earlier_repair(uow, request, repeat_within) if repeat_within else None,
        on_site=await on_site_this_attempt(uow, request),
    )
