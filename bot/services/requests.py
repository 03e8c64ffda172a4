"""Service requests: numbering, creation, the customer's list and card, comments, cancelling."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.policy import Policy
from bot.services import dialogs
from bot.services.errors import NotAllowed, NotFound
from bot.services.users import ROLE_DISPATCHER
from storage.db import UnitOfWork
from storage.models import Attachment, Customer, Product, Quote, RequestEvent, ServiceRequest, SlaClock, User

KINDS = ("repair", "consultation", "installation", "maintenance", "return", "complaint")

NEW, TRIAGED, ASSIGNED, IN_PROGRESS, RESOLVED, CLOSED, CANCELLED = (
    "new", "triaged", "assigned", "in_progress", "resolved", "closed", "cancelled",
)
OPEN_STATUSES = frozenset({NEW, TRIAGED, ASSIGNED, IN_PROGRESS})
AWAITING_APPROVAL = "awaiting_approval"  # filed by sales, not yet the service department's
SALES_REJECTED = "sales_rejected"  # the closing reason of a request the sales approval chain turned down
PAGE_SIZE = 5
NUMBER_PATTERN = re.compile(r"^SR-(\d{4})-(\d{6,})$")



def format_number(year: int, sequence: int) -> str:
    """Human-friendly, unique per year: SR-2026-000123."""
    return f"SR-{year:04d}-{sequence:06d}"


def parse_number(text: str) -> str | None:
    candidate = text.strip().upper()
    return candidate if NUMBER_PATTERN.match(candidate) else None


def shown_to_customer(request: ServiceRequest) -> bool:
    """A request a salesperson filed is the customer's to see once the service department has it
    (approved): not while its approval chain decides, nor after the chain turned it down."""
    return request.status != AWAITING_APPROVAL and request.closed_reason != SALES_REJECTED


def can_cancel(request: ServiceRequest) -> bool:
    """A customer may cancel until an engineer has started work on it."""
    return request.status in OPEN_STATUSES and not request.engineer_started


@dataclass(frozen=True)
class NewRequest:
    """Everything the intake dialog collected, validated."""

    kind: str
    description: str
    product_id: int | None = None
    serial: str | None = None
    photos: tuple[str, ...] = ()
    voices: tuple[str, ...] = ()
    site_address: str | None = None
    site_latitude: float | None = None
    site_longitude: float | None = None


async def create(
    uow: UnitOfWork, user: User, customer: Customer, new: NewRequest, policy: Policy, now: datetime, timezone: ZoneInfo,
    *, awaiting_approval: bool = False,
) -> ServiceRequest:
    """Number the request, store it with its photos, its first timeline event and first deadline.

    `awaiting_approval` (a request filed by sales): it waits for its approval chain before it is
    "created" for the service department, so no deadline runs and the queue does not show it."""
    if new.kind not in KINDS:
        raise ValueError(f"unknown request kind {new.kind!r}")
    year = now.astimezone(timezone).year
    sequence = await uow.counters.next_value(f"request_number:{year}")
    project = await uow.customers.first_project(customer.id)
    request = await uow.requests.add(ServiceRequest(
        number=format_number(year, sequence), kind=new.kind, status=AWAITING_APPROVAL if awaiting_approval else NEW, customer_id=customer.id,
        project_id=project.id if project else None, product_id=new.product_id, serial_text=new.serial,
        description=new.description, site_address=new.site_address, site_latitude=new.site_latitude,
        site_longitude=new.site_longitude, created_by_user_id=user.id, created_at=now, updated_at=now,
    ))
    for file_id in new.photos:
        await uow.requests.add_attachment(Attachment(request_id=request.id, kind="photo", file_id=file_id, added_by_user_id=user.id, created_at=now))
    for file_id in new.voices:
        await uow.requests.add_attachment(Attachment(request_id=request.id, kind="voice", file_id=file_id, added_by_user_id=user.id, created_at=now))
    if awaiting_approval:
        await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=user.id, action="filed_by_sales", details={}, created_at=now))
    else:
        await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=user.id, action="created", details={"status": NEW}, created_at=now))
    return request


async def dispatchers(uow: UnitOfWork) -> list[User]:
    return await uow.users.active_with_role(ROLE_DISPATCHER)


@dataclass(frozen=True)
class RequestPage:
    items: list[ServiceRequest]
    page: int
    pages: int
    total: int


async def page_of(uow: UnitOfWork, customer: Customer | None, page: int) -> RequestPage:
    """The customer's requests, newest first; an out-of-range page shows the last one."""
    if customer is None:
        return RequestPage([], 0, 0, 0)
    page = max(page, 0)
    items, total = await uow.requests.page_and_total_of_customer(customer.id, page * PAGE_SIZE, PAGE_SIZE)
    if total is None:  # no requests at all, or a page beyond the end (some were cancelled away, an old button)
        total = await uow.requests.count_of_customer(customer.id)
        page = max(1, math.ceil(total / PAGE_SIZE)) - 1
        items = await uow.requests.page_of_customer(customer.id, page * PAGE_SIZE, PAGE_SIZE) if total else []
    return RequestPage(items, page, max(1, math.ceil(total / PAGE_SIZE)), total)


async def own_request(uow: UnitOfWork, customer: Customer | None, request_id: int, *, lock: bool = False) -> ServiceRequest:
    """A customer's own request; anybody else's is reported as not found, never as forbidden.
    `lock`: the customer changes it (see `uow.requests.lock`); the card and the list only read."""
    request = await (uow.requests.lock(request_id) if lock else uow.requests.get(request_id))
    if request is None or customer is None or request.customer_id != customer.id or not shown_to_customer(request):
        raise NotFound()
    return request


async def own_request_by_number(uow: UnitOfWork, customer: Customer | None, number: str) -> ServiceRequest:
    request = await uow.requests.by_number(number)
    if request is None:
        raise NotFound()
    return await own_request(uow, customer, request.id)


@dataclass(frozen=True)
class RequestCard:
    request: ServiceRequest
    product: Product | None
    events: list[RequestEvent]
    clocks: list[SlaClock]
    engineer: User | None
    photo_count: int
    visit_at: datetime | None = None  # an agreed or proposed visit not yet made
    quote: Quote | None = None  # a quote waiting for the customer's answer (its offer may have scrolled away, or never arrived)

    @property
    def can_cancel(self) -> bool:
        return can_cancel(self.request)

    @property
    def is_open(self) -> bool:
        return self.request.status in OPEN_STATUSES


async def card(uow: UnitOfWork, request: ServiceRequest) -> RequestCard:
    """What the customer may see about their request (internal events are left out)."""
    product = await uow.products.get(request.product_id) if request.product_id else None
    engineer = await uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None
    attachments = await uow.requests.attachments(request.id)
    return RequestCard(
        request=request, product=product,
        events=await uow.requests.events(request.id, include_internal=False),
        clocks=[c for c in await uow.requests.clocks(request.id) if c.stopped_at is None],
        engineer=engineer, photo_count=sum(1 for a in attachments if a.kind == "photo"),
        visit_at=await _upcoming_visit(uow, request),
        quote=await _waiting_quote(uow, request),
    )


async def _waiting_quote(uow: UnitOfWork, request: ServiceRequest) -> Quote | None:
    from bot.services import quotes  # quotes builds on this module

    return await quotes.waiting_quote(uow, request.id) if request.status in OPEN_STATUSES else None


async def _upcoming_visit(uow: UnitOfWork, request: ServiceRequest) -> datetime | None:
    if request.assigned_engineer_id is None:
        return None
    visit = await uow.jobs.latest_visit(request.id, request.assigned_engineer_id)  # not one of an engineer since replaced
    if visit is None or request.status != IN_PROGRESS or visit.state not in ("proposed", "accepted", "on_the_way"):
        return None
    return visit.planned_at


def takes_comments(request: ServiceRequest, *, report_waiting: bool = False) -> bool:
    """Comments and photos go to an open request; `report_waiting`: also to one whose report waits
    for the customer's answer, from a customer who was already writing in comment mode (what they
    send then is kept, and they are asked about the report after it)."""
    return request.status in OPEN_STATUSES or (report_waiting and request.status == RESOLVED)


async def add_comment(uow: UnitOfWork, user: User, request: ServiceRequest, text: str, now: datetime, *, report_waiting: bool = False) -> None:
    if not takes_comments(request, report_waiting=report_waiting):
        raise NotAllowed()
    await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=user.id, action="comment", details={"text": text}, created_at=now))
    request.updated_at = now


async def add_photo(uow: UnitOfWork, user: User, request: ServiceRequest, file_id: str, now: datetime, *, report_waiting: bool = False) -> None:
    if not takes_comments(request, report_waiting=report_waiting):
        raise NotAllowed()
    await uow.requests.add_attachment(Attachment(request_id=request.id, kind="photo", file_id=file_id, added_by_user_id=user.id, created_at=now))
    await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=user.id, action="photo_added", details={}, created_at=now))
    request.updated_at = now


def closed_to_comments(request: ServiceRequest) -> bool:
    """Closed (whoever or whatever closed it) or cancelled: it takes no comments any more, though
    what a customer still in comment mode sends is kept on it (`keep_after_close`)."""
    return request.status in (CLOSED, CANCELLED)


async def keep_after_close(uow: UnitOfWork, user: User, request: ServiceRequest, now: datetime,
                           *, text: str | None = None, photo: str | None = None) -> None:
    """What the customer sent in comment mode after their request was closed or cancelled while
    comment mode was open (by the confirmation timeout, a dispatcher, an answer, the warehouse,
    or their own cancel): kept on its timeline (marked `after_close`), as comments and photos are,
    though the request takes none any more; it stays closed, as it was."""
    if not closed_to_comments(request):
        raise NotAllowed()
    if photo is not None:
        await uow.requests.add_attachment(Attachment(request_id=request.id, kind="photo", file_id=photo, added_by_user_id=user.id, created_at=now))
        await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=user.id, action="photo_added",
                                                  details={"after_close": True}, created_at=now))
    if text is not None:
        await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=user.id, action="comment",
                                                  details={"text": text, "after_close": True}, created_at=now))
    # request.updated_at stays when it closed (the staff read it as such, e.g. "closed …" of a repeat repair)


async def cancel(uow: UnitOfWork, user: User, request: ServiceRequest, now: datetime) -> None:
    if not can_cancel(request):
        raise NotAllowed()
    before = request.status
    request.status, request.updated_at = CANCELLED, now
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=user.id, action="cancelled",
        details={"before": before, "after": CANCELLED}, created_at=now,
    ))


# --- adding comments and photos to an open request (a small dialog) ----------------------

COMMENT_DIALOG = "comment"
COMMENT_STEP = "collect"


async def start_comment(uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, now: datetime) -> tuple[ServiceRequest, Any]:
    request = await own_request(uow, customer, request_id)
    if request.status not in OPEN_STATUSES:
        raise NotAllowed()
    draft = await dialogs.begin(uow, user.id, COMMENT_DIALOG, COMMENT_STEP, {"request_id": request.id}, now)
    return request, draft


async def customer_user(uow: UnitOfWork, request: ServiceRequest) -> User | None:
    """The request's customer's Telegram user (None when they have none, e.g. filed by sales)."""
    customer = await uow.customers.get(request.customer_id)
    return await uow.users.get(customer.user_id) if customer is not None and customer.user_id else None


async def earlier_repair(uow: UnitOfWork, request: ServiceRequest, within: timedelta) -> ServiceRequest | None:
    """DESIGN: "a repeat repair of the same problem is flagged". The latest repair of the same
    product (`latest_reported_repair`) that closed with a work report less than `within` before
    this request came in, if any. Read when a card is shown, so it needs no stored link."""
    if request.kind != "repair":
        return None
    earlier = await uow.requests.latest_reported_repair(request)
    report = await uow.jobs.latest_report(earlier.id) if earlier is not None else None
    if report is None or report.updated_at < request.created_at - within:
        return None
    return earlier


async def engineer_on_job(uow: UnitOfWork, request: ServiceRequest) -> User | None:
    """The active engineer the request is assigned to while the work is open, if any."""
    if request.assigned_engineer_id is None or request.status not in (ASSIGNED, IN_PROGRESS):
        return None
    engineer = await uow.users.get(request.assigned_engineer_id)
    return engineer if engineer is not None and engineer.is_active else None
