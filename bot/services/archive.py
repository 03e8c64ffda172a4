"""The service archive: every request, visit, report, part and cost of one customer or project.

Every report is kept: one the customer disputed stays beside the repeat repair's (with its outcome),
and a request's costs add up all of them.

Dispatchers and managers find the customer or project by part of a name, company, phone or
project name (a `drafts` row keeps the dialog, so a restart loses nothing), pick one of the
matches, and get the archive as a workbook. Customer data is confidential: each export is
recorded in `audit_log` (who, which customer or project, how many requests).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.services import dialogs, users
from bot.services.errors import NotAllowed, StaleAction, WrongInput
from bot.services.validation import clean_text, typed_number
from storage.db import UnitOfWork
from storage.models import AuditEntry, Customer, Draft, JobReport, Part, Product, Project, Quote, ServiceRequest, User, Visit

DIALOG = "archive"
SEARCH = "search"
MATCHES_SHOWN = 8
QUERY_MIN, QUERY_MAX = 2, 100
EXPORT_AUDIT = "archive_exported"
CUSTOMER, PROJECT = "customer", "project"
# Timeline actions that end a request; the latest one's time is its "closed" time.
CLOSING_ACTIONS = (
    "confirmed", "confirmed_by_timeout", "answer_confirmed", "answer_closed", "closed_by_dispatcher", "cancelled",
    "sales_rejected", "return_rejected", "return_refunded", "return_exchanged", "return_repaired", "return_sent_back",
    "complaint_answered",
)
CLOSED_STATUSES = ("closed", "cancelled")


def may_export(user: User) -> bool:
    return users.is_staff(user) and bool(user.role_names & (users.MANAGER_ROLES | {users.ROLE_DISPATCHER}))


def require_archivist(user: User) -> None:
    if not may_export(user):
        raise NotAllowed()


# --- finding the customer or project -------------------------------------------------------


@dataclass(frozen=True)
class Match:
    kind: str  # customer or project
    id: int
    name: str
    detail: str  # the company and phone of a customer, the customer of a project


@dataclass(frozen=True)
class SearchResult:
    query: str
    matches: list[Match]
    too_many: bool


async def start(uow: UnitOfWork, user: User, now: datetime) -> Draft:
    require_archivist(user)
    return await dialogs.begin(uow, user.id, DIALOG, SEARCH, {"customers": [], "projects": []}, now)


async def search(uow: UnitOfWork, user: User, draft: Draft, text: str, now: datetime) -> SearchResult:
    """Customers by name, company or phone and projects by name; the ids shown are kept in the
    draft, so only a button of the latest list can be picked."""
    require_archivist(user)
    query = clean_text(text, limit=QUERY_MAX, expected=SEARCH)
    if len(query) < QUERY_MIN:
        raise WrongInput(SEARCH)
    # the digits of a phone as stored (ASCII): a Chinese keyboard's full-width "１３９" is "139", and
    # an international "0086 …" is stored as "+86 …" (dropping the "00" only widens the match)
    digits = re.sub(r"[^0-9]", "", typed_number(query))
    if digits.startswith("00") and len(digits) >= 5:
        digits = digits[2:]
    customers = await uow.archive.customers_matching(query, digits if len(digits) >= 3 else None, MATCHES_SHOWN + 1)
    projects = await uow.archive.projects_matching(query, MATCHES_SHOWN + 1)
    matches = [Match(CUSTOMER, c.id, c.name, " · ".join(filter(None, [c.company, c.phone]))) for c in customers]
    matches += [Match(PROJECT, p.id, p.name, c.name) for p, c in projects]
    too_many = len(matches) > MATCHES_SHOWN
    shown = [] if too_many else matches
    dialogs.move(draft, SEARCH, now, query=query,
                 customers=[m.id for m in shown if m.kind == CUSTOMER], projects=[m.id for m in shown if m.kind == PROJECT])
    return SearchResult(query, shown, too_many)


# --- the archive's content ----------------------------------------------------------------


@dataclass(frozen=True)
class PartLine:
    request: ServiceRequest
    code: str | None
    name: str
    quantity: int
    unit_price: int | None  # minor units: the catalog price when the report was written; None for a part not in it

    @property
    def cost(self) -> int:
        return self.quantity * (self.unit_price or 0)


@dataclass(frozen=True)
class RequestCost:
    request: ServiceRequest
    parts: int  # minor units
    labour_hours: float
    travel: int
    quotes_accepted: int


@dataclass
class Archive:
    kind: str
    subject_id: int
    title: str  # the customer's or project's name
    customer: Customer
    requests: list[ServiceRequest] = field(default_factory=list)
    products: dict[int, Product] = field(default_factory=dict)
    people: dict[int, User] = field(default_factory=dict)
    closed_at: dict[int, datetime] = field(default_factory=dict)
    visits: list[Visit] = field(default_factory=list)
    reports: list[JobReport] = field(default_factory=list)
    parts: list[PartLine] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)

    @property
    def by_id(self) -> dict[int, ServiceRequest]:
        return {r.id: r for r in self.requests}

    def costs(self) -> list[RequestCost]:
        """Per request: parts at catalog price, labour hours and travel of every report on it (a
        disputed attempt's work was done too), accepted quotes."""
        result = []
        for request in self.requests:
            reports = [r for r in self.reports if r.request_id == request.id]
            result.append(RequestCost(
                request,
                parts=sum(line.cost for line in self.parts if line.request.id == request.id),
                labour_hours=round(sum((r.labour_hours for r in reports), 0.0), 2),  # hours are typed to 0.01
                travel=sum(r.travel_cost for r in reports),
                quotes_accepted=sum(q.total_minor for q in self.quotes if q.request_id == request.id),
            ))
        return result


async def pick(uow: UnitOfWork, user: User, draft: Draft, kind: str, value: str) -> tuple[str, int]:
    """The customer or project chosen from the latest list (anything else is a stale or forged press)."""
    require_archivist(user)
    listed = draft.data.get("customers" if kind == CUSTOMER else "projects" if kind == PROJECT else "", [])
    if not value.isdigit() or int(value) not in listed:
        raise StaleAction()
    return kind, int(value)


async def load(uow: UnitOfWork, kind: str, subject_id: int) -> Archive:
    """Read everything about the customer (all their requests) or the project (its requests)."""
    if kind == PROJECT:
        project: Project | None = await uow.archive.project(subject_id)
        if project is None:
            raise StaleAction()
        customer = await uow.customers.get(project.customer_id)
        archive = Archive(kind, subject_id, project.name, customer)
        archive.requests = await uow.archive.requests_of(project_id=project.id)
    else:
        customer = await uow.customers.get(subject_id)
        if customer is None:
            raise StaleAction()
        archive = Archive(kind, subject_id, customer.name, customer)
        archive.requests = await uow.archive.requests_of(customer_id=customer.id)
    ids = [r.id for r in archive.requests]
    archive.visits = await uow.archive.visits(ids)
    archive.reports = await uow.archive.reports(ids)
    archive.quotes = await uow.archive.accepted_quotes(ids)
    archive.closed_at = await uow.archive.last_event_times([r.id for r in archive.requests if r.status in CLOSED_STATUSES], CLOSING_ACTIONS)
    archive.products = await uow.archive.products([r.product_id for r in archive.requests if r.product_id])
    people = {r.assigned_engineer_id for r in archive.requests} | {v.engineer_id for v in archive.visits} | {r.engineer_id for r in archive.reports}
    archive.people = await uow.archive.users([i for i in people if i])
    catalog: dict[int, Part] = await uow.archive.parts([p.part_id for r in archive.reports for p in r.parts if p.part_id])
    by_id = archive.by_id
    for report in archive.reports:
        for used in report.parts:
            part = catalog.get(used.part_id) if used.part_id else None
            archive.parts.append(PartLine(by_id[report.request_id], part.code if part else None, part.name if part else used.name,
                                          used.quantity, used.unit_price if used.unit_price is not None else part.price if part else None))
    return archive


async def export(uow: UnitOfWork, user: User, draft: Draft, kind: str, value: str, now: datetime) -> Archive:
    """The picked archive, read in full; the export is audited and the dialog closed."""
    kind, subject_id = await pick(uow, user, draft, kind, value)
    archive = await load(uow, kind, subject_id)
    await uow.audit.add(AuditEntry(
        actor_telegram_id=user.telegram_id, action=EXPORT_AUDIT,
        details={"kind": kind, "id": subject_id, "customer_id": archive.customer.id, "requests": len(archive.requests)}, created_at=now,
    ))
    await dialogs.end(uow, draft)
    return archive


def file_name(archive: Archive, today: date) -> str:
    """archive-<name>-<date>.xlsx with only ASCII letters, digits and dashes (names in other
    scripts fall back to the kind and id, e.g. archive-customer-12-2026-03-02.xlsx)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", archive.title).strip("-")[:40].strip("-")
    return f"archive-{slug or f'{archive.kind}-{archive.subject_id}'}-{today.isoformat()}.xlsx"
