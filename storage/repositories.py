"""Repositories: queries in one place. They add and flush, never commit."""
from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, case, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload

from storage.models import (
    AppState,
    ParkedDraft,
    Approval,
    ApprovalAction,
    ApprovalPost,
    Quote,
    QuoteLine,
    Assignment,
    Attachment,
    AuditEntry,
    ChatPace,
    Complaint,
    ComplaintLink,
    ComplaintNote,
    Counter,
    Customer,
    Draft,
    Escalation,
    FollowUpCall,
    Invite,
    JobReport,
    MaintenanceReminder,
    OutboxMessage,
    Part,
    PartRequisition,
    PartStock,
    ProcessedUpdate,
    Product,
    ProductClaim,
    Project,
    RequestEvent,
    ReturnCase,
    ServiceRequest,
    SlaClock,
    StockMove,
    Survey,
    User,
    UserRole,
    Visit,
    Warehouse,
)


def _dialect_insert(session: AsyncSession, table: Any) -> Any:
    """INSERT with the dialect's ON CONFLICT support (both SQLite and PostgreSQL have it)."""
    return _insert_of(session.get_bind().dialect.name)(table)


def _insert_of(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# Statements every update runs are built once, with their values as bound parameters: building a
# SQLAlchemy statement costs more than running it (about 70 % of a lookup on SQLite in the
# benchmark), and SQLAlchemy reuses a statement's compiled form as long as it is the same object.

_PERSON = (  # the person behind an update, with roles, customer record and open dialog
    select(User, Customer, Draft)
    .outerjoin(Customer, Customer.user_id == User.id)
    .outerjoin(Draft, Draft.user_id == User.id)
    .options(joinedload(User.roles))
    .where(User.telegram_id == bindparam("telegram_id"))
)

# A request a salesperson filed reaches the customer's list once the service department has it:
# not while its approval chain decides, nor after the chain turned it down (see bot/services/sales.py).
_SHOWN_TO_CUSTOMER = (ServiceRequest.status != "awaiting_approval") & ServiceRequest.closed_reason.is_distinct_from("sales_rejected")

_CUSTOMER_PAGE = (  # newest first; `total` is computed before OFFSET/LIMIT cut the rows
    select(ServiceRequest, func.count().over().label("total"))
    .where(ServiceRequest.customer_id == bindparam("customer_id"), _SHOWN_TO_CUSTOMER)
    .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)


@functools.cache
def _claim_update(dialect: str) -> Any:
    table = ProcessedUpdate.__table__
    return (
        _insert_of(dialect)(table)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(table.c.update_id)
    )


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _add(self, obj: Any) -> Any:
        self.session.add(obj)
        await self.session.flush()
        return obj


class UserRepository(_Repository):
    async def by_telegram_id(self, telegram_id: int) -> User | None:
        rows = await self.session.scalars(
            select(User).options(joinedload(User.roles)).where(User.telegram_id == telegram_id)
        )
        return rows.unique().one_or_none()

    async def with_customer_and_draft(self, telegram_id: int) -> tuple[User | None, Customer | None, Draft | None]:
        """The person behind an update with their roles, customer record and open dialog, in one
        statement: every update needs the first two, most of them the others."""
        rows = await self.session.execute(_PERSON, {"telegram_id": telegram_id})
        row = rows.unique().one_or_none()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def add(self, user: User) -> User:
        """Insert a new person; if another process inserted the same Telegram id meanwhile (a
        webhook fleet handling two of a newcomer's updates at once, or starting up twice on an
        empty database), that row is returned instead of failing on the unique key."""
        values = {c.name: getattr(user, c.name) for c in User.__table__.columns if c.name != "id" and getattr(user, c.name) is not None}
        user_id = await self.session.scalar(
            _dialect_insert(self.session, User).values(**values)
            .on_conflict_do_nothing(index_elements=["telegram_id"]).returning(User.id)
        )
        if user_id is None:  # the other insert won (PostgreSQL waited for it to commit): take its row
            return await self.by_telegram_id(user.telegram_id)
        added = await self.session.get(User, user_id)
        for role in user.roles:  # the INSERT above carries columns only
            await self.add_role(added, role.role)
        return added

    async def add_role(self, user: User, role: str) -> None:
        if role not in user.role_names:
            user.roles.append(UserRole(role=role))
            await self.session.flush()

    async def mark_unreachable(self, telegram_id: int) -> User | None:
        """Set is_reachable off in one conditional statement; the user only when this call changed
        it (two senders meeting the same block both get a 403, only one may tell the staff)."""
        user_id = await self.session.scalar(
            update(User).where(User.telegram_id == telegram_id, User.is_reachable.is_(True))
            .values(is_reachable=False).returning(User.id).execution_options(synchronize_session=False)
        )
        if user_id is None:
            return None
        return await self.session.get(User, user_id, populate_existing=True)

    async def active_with_role(self, role: str) -> list[User]:
        """With their roles in the same statement (the relationship's own loading costs a second
        one; every new request asks for its dispatchers)."""
        rows = await self.session.scalars(
            select(User)
            .join(UserRole)
            .options(joinedload(User.roles))
            .where(UserRole.role == role, User.is_active.is_(True))
            .order_by(User.id)
        )
        return list(rows.unique())


class CustomerRepository(_Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._of_user: dict[int, Customer] = {}  # customers already loaded with their user in this unit of work

    def remember(self, customer: Customer) -> None:
        """A customer loaded with its user (`UserRepository.with_customer_and_draft`): `by_user_id` needs no query."""
        if customer.user_id is not None:
            self._of_user[customer.user_id] = customer

    async def by_phone(self, phone: str) -> Customer | None:
        """The oldest customer with this (normalised) phone number. Not the bot user who typed it
        later: a typed number proves nothing (NOTES.md), so sales keep filing for their own record."""
        return await self.session.scalar(select(Customer).where(Customer.phone == phone).order_by(Customer.id).limit(1))

    async def by_user_id(self, user_id: int) -> Customer | None:
        known = self._of_user.get(user_id)
        if known is not None and known.user_id == user_id:  # still linked to them (the session tracks changes)
            return known
        return await self.session.scalar(select(Customer).where(Customer.user_id == user_id))

    async def get(self, customer_id: int) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    async def add(self, customer: Customer) -> Customer:
        return await self._add(customer)

    async def add_project(self, project: Project) -> Project:
        return await self._add(project)

    async def first_project(self, customer_id: int) -> Project | None:
        return await self.session.scalar(
            select(Project).where(Project.customer_id == customer_id).order_by(Project.id).limit(1)
        )

    async def chatless_with_phone(self, phone: str, limit: int) -> list[Customer]:
        """Customers with this phone and no Telegram user (filed by sales), not erased; oldest first."""
        return list(await self.session.scalars(
            select(Customer).where(Customer.phone == phone, Customer.user_id.is_(None), Customer.erased_at.is_(None))
            .order_by(Customer.id).limit(limit)
        ))


class ProductRepository(_Repository):
    async def get(self, product_id: int) -> Product | None:
        return await self.session.get(Product, product_id)

    async def by_serial(self, serial: str) -> Product | None:
        return await self.session.scalar(select(Product).where(func.upper(Product.serial) == serial.upper()))

    async def of_customer(self, customer_id: int, limit: int) -> list[Product]:
        rows = await self.session.scalars(
            select(Product).where(Product.customer_id == customer_id).order_by(Product.serial).limit(limit)
        )
        return list(rows)

    async def add(self, product: Product) -> Product:
        return await self._add(product)

    async def add_all(self, products: list[Product]) -> None:
        """Many at once (a registry import), flushed together."""
        self.session.add_all(products)
        await self.session.flush()

    async def by_serials(self, serials: list[str]) -> dict[str, Product]:
        """Products by upper-cased serial, looked up in chunks (bound-parameter limits)."""
        found: dict[str, Product] = {}
        wanted = sorted({s.upper() for s in serials})
        for start in range(0, len(wanted), 500):
            rows = await self.session.scalars(select(Product).where(func.upper(Product.serial).in_(wanted[start:start + 500])))
            found.update({p.serial.upper(): p for p in rows})
        return found

    async def by_ids(self, product_ids: list[int]) -> list[Product]:
        if not product_ids:
            return []
        return list(await self.session.scalars(select(Product).where(Product.id.in_(product_ids)).order_by(Product.serial)))

    async def count_of_customer(self, customer_id: int) -> int:
        return await self.session.scalar(select(func.count()).select_from(Product).where(Product.customer_id == customer_id)) or 0


_LOCK_REQUEST = (  # the request row, locked until the transaction ends, its copy in the session refreshed
    select(ServiceRequest)
    .where(ServiceRequest.id == bindparam("request_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


class RequestRepository(_Repository):
    def __init__(self, session: AsyncSession, touched: set[int] | None = None, refresh: Any = None,
                 locked: set[int] | None = None) -> None:
        super().__init__(session)
        self._touched = touched if touched is not None else set()
        self._refresh = refresh  # brings a touched request's clocks up to date before they are read
        self._locked = locked if locked is not None else set()  # emptied by the unit of work when its transaction ends
        self._row_locks: bool | None = None

    async def add(self, request: ServiceRequest) -> ServiceRequest:
        return await self._add(request)

    async def get(self, request_id: int) -> ServiceRequest | None:
        return await self.session.get(ServiceRequest, request_id)

    @property
    def takes_row_locks(self) -> bool:
        """True on PostgreSQL, where `lock` waits for other transactions' changes and a copy read
        before it may be stale; SQLite's transactions already take turns from their BEGIN IMMEDIATE."""
        if self._row_locks is None:
            self._row_locks = self.session.get_bind().dialect.name == "postgresql"
        return self._row_locks

    async def lock(self, request_id: int) -> ServiceRequest | None:
        """The request, to be changed: every change to a request or to what hangs on it (its
        assignment, report, approvals, requisitions, complaint) takes this first, so two
        transactions on one request take turns and the second one sees what the first did.

        PostgreSQL: SELECT … FOR UPDATE, refreshing the session's copy (the row as committed by
        whoever held it before); once per transaction per request. SQLite serialises whole
        transactions (BEGIN IMMEDIATE), so there it is `get`: no statement beyond the usual one."""
        if request_id in self._locked or not self.takes_row_locks:
            return await self.session.get(ServiceRequest, request_id)
        request = await self.session.scalar(_LOCK_REQUEST, {"request_id": request_id})
        if request is not None:
            self._locked.add(request_id)
        return request

    async def by_number(self, number: str) -> ServiceRequest | None:
        return await self.session.scalar(select(ServiceRequest).where(ServiceRequest.number == number))

    async def latest_reported_repair(self, request: ServiceRequest) -> ServiceRequest | None:
        """The latest closed repair before `request` of the same product, with a work report (a
        repair closed without work says nothing about the product). "The same product": the
        registered one linked, or, for the same customer, the same serial typed."""
        same = [ServiceRequest.product_id == request.product_id] if request.product_id is not None else []
        if request.serial_text:
            same.append((ServiceRequest.customer_id == request.customer_id) & (ServiceRequest.serial_text == request.serial_text))
        if not same:
            return None
        return await self.session.scalar(
            select(ServiceRequest).where(or_(*same), ServiceRequest.id < request.id,
                                         ServiceRequest.kind == "repair", ServiceRequest.status == "closed",
                                         exists().where(JobReport.request_id == ServiceRequest.id))
            .order_by(ServiceRequest.id.desc()).limit(1)
        )

    async def page_of_customer(self, customer_id: int, offset: int, limit: int) -> list[ServiceRequest]:
        return (await self.page_and_total_of_customer(customer_id, offset, limit))[0]

    async def page_and_total_of_customer(self, customer_id: int, offset: int, limit: int) -> tuple[list[ServiceRequest], int | None]:
        """A page of the customer's requests, newest first, and their number in all, in one
        statement; the number is None when the page is empty (beyond the end: ask `count_of_customer`)."""
        rows = (await self.session.execute(_CUSTOMER_PAGE, {"customer_id": customer_id, "offset": offset, "limit": limit})).all()
        return [row[0] for row in rows], (rows[0].total if rows else None)

    async def count_of_customer(self, customer_id: int) -> int:
        return await self.session.scalar(
            select(func.count()).select_from(ServiceRequest).where(ServiceRequest.customer_id == customer_id, _SHOWN_TO_CUSTOMER)
        ) or 0

    async def add_event(self, event: RequestEvent) -> RequestEvent:
        self._touched.add(event.request_id)  # its clocks are brought up to date before commit
        return await self._add(event)

    async def events(self, request_id: int, *, include_internal: bool) -> list[RequestEvent]:
        query = select(RequestEvent).where(RequestEvent.request_id == request_id)
        if not include_internal:
            query = query.where(RequestEvent.internal.is_(False))
        return list(await self.session.scalars(query.order_by(RequestEvent.created_at, RequestEvent.id)))

    async def add_attachment(self, attachment: Attachment) -> Attachment:
        return await self._add(attachment)

    async def attachments(self, request_id: int) -> list[Attachment]:
        rows = await self.session.scalars(
            select(Attachment).where(Attachment.request_id == request_id).order_by(Attachment.id)
        )
        return list(rows)

    async def add_clock(self, clock: SlaClock) -> SlaClock:
        return await self._add(clock)

    async def clocks(self, request_id: int) -> list[SlaClock]:
        """The request's clocks as of now, including events recorded earlier in this transaction."""
        if self._refresh is not None and request_id in self._touched:
            await self._refresh({request_id})
        return await self.clock_rows(request_id)

    async def clock_rows(self, request_id: int) -> list[SlaClock]:
        rows = await self.session.scalars(
            select(SlaClock).where(SlaClock.request_id == request_id).order_by(SlaClock.due_at.asc().nulls_last(), SlaClock.id)
        )
        return list(rows)


class DraftRepository(_Repository):
    """A user's open dialog. Every change to drafts goes through here, so what this unit of work
    has loaded, added or deleted is remembered per user and asked for only once."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._of_user: dict[int, Draft | None] = {}

    def remember(self, user_id: int, draft: Draft | None) -> None:
        """The draft loaded with its user (`UserRepository.with_customer_and_draft`)."""
        self._of_user[user_id] = draft

    async def of_user(self, user_id: int) -> Draft | None:
        if user_id not in self._of_user:
            self._of_user[user_id] = await self.session.scalar(select(Draft).where(Draft.user_id == user_id))
        return self._of_user[user_id]

    async def add(self, draft: Draft) -> Draft:
        self._of_user[draft.user_id] = await self._add(draft)
        return draft

    async def delete(self, draft: Draft) -> None:
        await self.session.delete(draft)
        await self.session.flush()
        self._of_user[draft.user_id] = None

    async def park(self, draft: Draft, subject: str, now: datetime) -> None:
        """Keep `draft`'s dialog aside for its user (replacing the one of its kind and subject kept before)."""
        insert = _dialect_insert(self.session, ParkedDraft).values(
            user_id=draft.user_id, kind=draft.kind, subject=subject, step=draft.step, data=draft.data, parked_at=now,
        )
        await self.session.execute(insert.on_conflict_do_update(
            index_elements=["user_id", "kind", "subject"], set_={"step": insert.excluded.step,
                                                                  "data": insert.excluded.data, "parked_at": insert.excluded.parked_at},
        ))

    async def kept_aside(self, user_id: int, kind: str) -> list[ParkedDraft]:
        """The user's dialogs of `kind` kept aside, the latest first."""
        return list(await self.session.scalars(
            select(ParkedDraft).where(ParkedDraft.user_id == user_id, ParkedDraft.kind == kind)
            .order_by(ParkedDraft.parked_at.desc(), ParkedDraft.subject.desc())
        ))

    async def unpark(self, parked: ParkedDraft) -> None:
        """No longer keep this dialog aside."""
        await self.session.delete(parked)
        await self.session.flush()

    async def drop_parked(self, user_id: int) -> bool:
        result = await self.session.execute(delete(ParkedDraft).where(ParkedDraft.user_id == user_id))
        return result.rowcount > 0


class UpdateRepository(_Repository):
    async def claim(self, update_id: int, now: datetime) -> bool:
        """Record the update id; False when it was already processed (a duplicate delivery)."""
        statement = _claim_update(self.session.get_bind().dialect.name)
        return (await self.session.execute(statement, {"update_id": update_id, "processed_at": now})).first() is not None

    async def forget_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` ids processed before `cutoff`; returns how many went."""
        oldest = select(ProcessedUpdate.update_id).where(ProcessedUpdate.processed_at < cutoff).limit(limit)
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.update_id.in_(oldest))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount


class CounterRepository(_Repository):
    async def next_value(self, name: str) -> int:
        """Atomically increment and return the named counter (starting at 1)."""
        insert = _dialect_insert(self.session, Counter).values(name=name, value=1)
        statement = insert.on_conflict_do_update(
            index_elements=["name"], set_={"value": Counter.value + 1}
        ).returning(Counter.value)
        return (await self.session.execute(statement)).scalar_one()


class AuditRepository(_Repository):
    async def add(self, entry: AuditEntry) -> AuditEntry:
        return await self._add(entry)

    async def by_action(self, action: str) -> list[AuditEntry]:
        return list(await self.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))

    async def count_since(self, telegram_id: int, action: str, since: datetime) -> int:
        return await self.session.scalar(
            select(func.count()).select_from(AuditEntry).where(
                AuditEntry.actor_telegram_id == telegram_id, AuditEntry.action == action, AuditEntry.created_at >= since,
            )
        ) or 0


class InviteRepository(_Repository):
    async def add(self, invite: Invite) -> Invite:
        return await self._add(invite)

    async def by_code(self, code: str) -> Invite | None:
        return await self.session.scalar(select(Invite).where(Invite.code == code))

    async def mark_used(self, invite_id: int, user_id: int, now: datetime) -> bool:
        """Use the invite only if nobody has yet (one conditional UPDATE, so two taps cannot both win)."""
        result = await self.session.execute(
            update(Invite)
            .where(Invite.id == invite_id, Invite.used_at.is_(None))
            .values(used_by_user_id=user_id, used_at=now)
        )
        return result.rowcount == 1


class StaffRepository(_Repository):
    async def all_staff(self) -> list[User]:
        has_role = select(UserRole.user_id)  # a subquery: DISTINCT cannot compare the JSON column on PostgreSQL
        shown_name = func.coalesce(func.nullif(User.full_name, ""), User.first_name, "")  # the name shown; no NULL: it sorts alike on both databases
        rows = await self.session.scalars(  # active people first: the list is paged (bot/staff_views.py)
            select(User).where(User.id.in_(has_role)).order_by(User.is_active.desc(), shown_name, User.id)
        )
        return list(rows)

    async def count_active_with_role(self, role: str) -> int:
        return await self.session.scalar(
            select(func.count()).select_from(User).join(UserRole).where(UserRole.role == role, User.is_active.is_(True))
        ) or 0

    async def lock_active_with_role(self, role: str) -> list[int]:
        """The ids of the active holders of `role`, their rows (user and role) locked in id order until
        the transaction ends (PostgreSQL; SQLite has one writer anyway): whoever changes who holds it
        next waits, and then reads what this transaction left."""
        rows = await self.session.scalars(
            select(User.id).join(UserRole).where(UserRole.role == role, User.is_active.is_(True)).order_by(User.id).with_for_update()
        )
        return list(rows)


class _ClockReader(_Repository):
    """Reads clocks across requests: first brings this transaction's touched requests up to date."""

    def __init__(self, session: AsyncSession, refresh_all: Any = None) -> None:
        super().__init__(session)
        self._refresh_all = refresh_all

    async def _fresh(self) -> None:
        if self._refresh_all is not None:
            await self._refresh_all()


class DispatchRepository(_ClockReader):
    async def queue(self, statuses: tuple[str, ...], limit: int, exclude_kinds: tuple[str, ...] = (), *, offset: int = 0,
                    priorities: tuple[str, ...] = ()) -> list[tuple[ServiceRequest, datetime | None]]:
        """Unassigned requests with the due time of their earliest running clock, most urgent first:
        soonest due (none last), then by `priorities` (most urgent first), then the oldest."""
        await self._fresh()
        due = (
            select(func.min(SlaClock.due_at))
            .where(SlaClock.request_id == ServiceRequest.id, SlaClock.stopped_at.is_(None))
            .scalar_subquery()
        )
        rank = case({p: i for i, p in enumerate(priorities)}, value=ServiceRequest.priority, else_=len(priorities)) if priorities else None
        rows = await self.session.execute(
            select(ServiceRequest, due.label("due"))
            .where(*self._queued(statuses, exclude_kinds))
            .order_by(due.asc().nulls_last(), *([rank] if rank is not None else []), ServiceRequest.created_at, ServiceRequest.id)
            .offset(offset)
            .limit(limit)
        )
        return [(request, due_at) for request, due_at in rows.all()]

    async def queue_count(self, statuses: tuple[str, ...], exclude_kinds: tuple[str, ...] = ()) -> int:
        return await self.session.scalar(select(func.count()).select_from(ServiceRequest).where(*self._queued(statuses, exclude_kinds))) or 0

    @staticmethod
    def _queued(statuses: tuple[str, ...], exclude_kinds: tuple[str, ...]) -> tuple:
        return ServiceRequest.status.in_(statuses), ServiceRequest.assigned_engineer_id.is_(None), ServiceRequest.kind.not_in(exclude_kinds)

    async def open_jobs_by_engineer(self, statuses: tuple[str, ...]) -> dict[int, int]:
        rows = await self.session.execute(
            select(ServiceRequest.assigned_engineer_id, func.count())
            .where(ServiceRequest.status.in_(statuses), ServiceRequest.assigned_engineer_id.is_not(None))
            .group_by(ServiceRequest.assigned_engineer_id)
        )
        return {engineer_id: count for engineer_id, count in rows.all()}

    async def claim_assignment(self, request_id: int, engineer_id: int, expected_engineer_id: int | None, statuses: tuple[str, ...], status: str, now: datetime) -> bool:
        """Assign only if nobody changed the assignee since the dispatcher looked (first press wins)."""
        result = await self.session.execute(
            update(ServiceRequest)
            .where(
                ServiceRequest.id == request_id,
                ServiceRequest.status.in_(statuses),
                ServiceRequest.assigned_engineer_id.is_not_distinct_from(expected_engineer_id),
            )
            .values(assigned_engineer_id=engineer_id, status=status, updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    async def add_assignment(self, assignment: Assignment) -> Assignment:
        return await self._add(assignment)

    async def current_assignment(self, request_id: int) -> Assignment | None:
        return await self.session.scalar(
            select(Assignment).where(Assignment.request_id == request_id, Assignment.ended_at.is_(None)).order_by(Assignment.id.desc()).limit(1)
        )

    async def assignments(self, request_id: int) -> list[Assignment]:
        return list(await self.session.scalars(select(Assignment).where(Assignment.request_id == request_id).order_by(Assignment.id)))

    async def jobs_of(self, engineer_id: int, statuses: tuple[str, ...]) -> list[ServiceRequest]:
        rows = await self.session.scalars(
            select(ServiceRequest)
            .where(ServiceRequest.assigned_engineer_id == engineer_id, ServiceRequest.status.in_(statuses))
            .order_by(ServiceRequest.created_at)
        )
        return list(rows)


class JobRepository(_Repository):
    """Visits, closing reports and surveys of engineers' jobs."""

    async def latest_visit(self, request_id: int, engineer_id: int | None = None) -> Visit | None:
        query = select(Visit).where(Visit.request_id == request_id)
        if engineer_id is not None:
            query = query.where(Visit.engineer_id == engineer_id)
        return await self.session.scalar(query.order_by(Visit.id.desc()).limit(1))

    async def visit(self, visit_id: int) -> Visit | None:
        return await self.session.get(Visit, visit_id)

    async def add_visit(self, visit: Visit) -> Visit:
        return await self._add(visit)

    async def answer_visit(self, visit_id: int, state: str, note: str | None) -> bool:
        """Answer a proposed visit once: the state check is inside the UPDATE."""
        result = await self.session.execute(
            update(Visit).where(Visit.id == visit_id, Visit.state == "proposed")
            .values(state=state, counter_note=note).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def report_of(self, request_id: int) -> JobReport | None:
        """The request's current report: waiting for the customer, or accepted. None before the
        first one and after a dispute, until the repeat repair is reported."""
        return await self.session.scalar(select(JobReport).where(JobReport.request_id == request_id, JobReport.superseded_at.is_(None)))

    async def latest_report(self, request_id: int) -> JobReport | None:
        """The last report sent on the request, current or disputed (what a repeat attempt starts from)."""
        return await self.session.scalar(select(JobReport).where(JobReport.request_id == request_id).order_by(JobReport.id.desc()).limit(1))

    async def reports_of(self, request_id: int) -> list[JobReport]:
        """Every report sent on the request, the disputed ones too, oldest first."""
        return list(await self.session.scalars(select(JobReport).where(JobReport.request_id == request_id).order_by(JobReport.id)))

    async def add_report(self, report: JobReport) -> JobReport:
        return await self._add(report)

    async def part(self, part_id: int) -> Part | None:
        return await self.session.get(Part, part_id)

    async def decide_report(self, report_id: int, outcome: str, now: datetime, *, supersede: bool = False) -> bool:
        """The customer's (or the timeout's) verdict, recorded once. A superseded report (disputed)
        is kept as it was; the next report on the request is a new row."""
        result = await self.session.execute(
            update(JobReport).where(JobReport.id == report_id, JobReport.outcome.is_(None))
            .values(outcome=outcome, confirmed_at=now, superseded_at=now if supersede else None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def unconfirmed_before(self, cutoff: datetime, status: str, limit: int) -> list[tuple[JobReport, ServiceRequest]]:
        rows = await self.session.execute(
            select(JobReport, ServiceRequest)
            .join(ServiceRequest, ServiceRequest.id == JobReport.request_id)
            .where(JobReport.outcome.is_(None), JobReport.updated_at <= cutoff, ServiceRequest.status == status)
            .order_by(JobReport.updated_at).limit(limit)
        )
        return [(report, request) for report, request in rows.all()]

    async def survey_of(self, request_id: int) -> Survey | None:
        return await self.session.scalar(select(Survey).where(Survey.request_id == request_id))

    async def add_survey(self, survey: Survey) -> Survey:
        return await self._add(survey)


_LATER_QUESTION = aliased(Escalation)
# An unanswered question stays open until a later one on the same request replaces it (the
# dispatcher asked another expert, say while the first was off duty): only the latest is open.
_NOT_SUPERSEDED = ~exists().where(_LATER_QUESTION.request_id == Escalation.request_id, _LATER_QUESTION.id > Escalation.id)


class EscalationRepository(_Repository):
    """Hard cases sent to technical experts and their answers."""

    async def add(self, escalation: Escalation) -> Escalation:
        return await self._add(escalation)

    async def get(self, escalation_id: int) -> Escalation | None:
        return await self.session.get(Escalation, escalation_id)

    async def hold_request(self, request_id: int, statuses: tuple[str, ...], now: datetime) -> bool:
        """Touch the request while it is open: the row lock makes two escalations of it take turns."""
        result = await self.session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id == request_id, ServiceRequest.status.in_(statuses))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def unanswered_of_request(self, request_id: int) -> list[Escalation]:
        rows = await self.session.scalars(
            select(Escalation).where(Escalation.request_id == request_id, Escalation.answered_at.is_(None), _NOT_SUPERSEDED)
            .order_by(Escalation.id)
        )
        return list(rows)

    async def superseded(self, escalation: Escalation) -> bool:
        """A later question on the same request exists: the dispatcher put it to another expert."""
        return bool(await self.session.scalar(
            select(exists().where(Escalation.request_id == escalation.request_id, Escalation.id > escalation.id))
        ))

    async def unanswered_of_expert(self, expert_id: int, statuses: tuple[str, ...]) -> list[tuple[Escalation, ServiceRequest]]:
        """An expert's open cases on requests that are still open, oldest first."""
        rows = await self.session.execute(
            select(Escalation, ServiceRequest)
            .join(ServiceRequest, ServiceRequest.id == Escalation.request_id)
            .where(Escalation.expert_id == expert_id, Escalation.answered_at.is_(None), ServiceRequest.status.in_(statuses), _NOT_SUPERSEDED)
            .order_by(Escalation.created_at, Escalation.id)
        )
        return [(escalation, request) for escalation, request in rows.all()]

    async def unanswered_count_by_expert(self, statuses: tuple[str, ...]) -> dict[int, int]:
        rows = await self.session.execute(
            select(Escalation.expert_id, func.count())
            .join(ServiceRequest, ServiceRequest.id == Escalation.request_id)
            .where(Escalation.answered_at.is_(None), ServiceRequest.status.in_(statuses), _NOT_SUPERSEDED)
            .group_by(Escalation.expert_id)
        )
        return {expert_id: count for expert_id, count in rows.all()}

    async def record_answer(self, escalation_id: int, expert_id: int, analysis: str, plan: str, now: datetime) -> bool:
        """Answer once: the unanswered check is inside the UPDATE, so a second press or process loses."""
        result = await self.session.execute(
            update(Escalation)
            .where(Escalation.id == escalation_id, Escalation.expert_id == expert_id, Escalation.answered_at.is_(None))
            .values(analysis=analysis, plan=plan, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def latest_answered(self, request_id: int) -> Escalation | None:
        return await self.session.scalar(
            select(Escalation)
            .where(Escalation.request_id == request_id, Escalation.answered_at.is_not(None))
            .order_by(Escalation.answered_at.desc(), Escalation.id.desc())
            .limit(1)
        )


class ConsultationRepository(_Repository):
    """Closing a request when the customer's question is answered."""

    async def close_if_open(self, request_id: int, statuses: tuple[str, ...], status: str, reason: str, now: datetime) -> bool:
        """Close only if still open (one UPDATE), so a double press or two dispatchers close it once."""
        result = await self.session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id == request_id, ServiceRequest.status.in_(statuses))
            .values(status=status, closed_reason=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


class PartRepository(_Repository):
    """The spare-parts catalog; codes are compared without regard to case."""

    async def by_code(self, code: str) -> Part | None:
        """The exact code is matched too, as in `by_codes` (PostgreSQL with a C locale upper-cases ASCII only)."""
        typed = code.strip()
        return await self.session.scalar(select(Part).where((func.upper(Part.code) == typed.upper()) | (Part.code == typed)).limit(1))

    async def by_codes(self, codes: list[str]) -> dict[str, Part]:
        """Parts by case-folded code, looked up in chunks. The exact code is matched too: a
        PostgreSQL database with a C locale upper-cases ASCII only (a Cyrillic code would not be
        found again and its re-import would break the unique key)."""
        found: dict[str, Part] = {}
        typed = sorted(set(codes))
        for start in range(0, len(typed), 250):
            chunk = typed[start:start + 250]
            rows = await self.session.scalars(select(Part).where(
                func.upper(Part.code).in_(sorted({c.upper() for c in chunk})) | Part.code.in_(chunk)))
            found.update({p.code.casefold(): p for p in rows})
        return found

    async def search(self, text: str, limit: int) -> list[Part]:
        """Parts whose code or name contains the text; an exact code first, then by code."""
        text = text.strip()
        if not text:
            return []
        exact = func.upper(Part.code) == text.upper()
        rows = await self.session.scalars(
            select(Part)
            .where(Part.code.icontains(text, autoescape=True) | Part.name.icontains(text, autoescape=True))
            .order_by(exact.desc(), Part.code)
            .limit(limit)
        )
        return list(rows)

    async def add_all(self, parts: list[Part]) -> None:
        self.session.add_all(parts)
        await self.session.flush()


class ClaimRepository(_Repository):
    """Customers' claims of registered products, decided once by a dispatcher."""

    async def add_pending(self, claim: ProductClaim) -> ProductClaim | None:
        """Insert a pending claim; None when the same customer's claim on it is already waiting."""
        try:
            async with self.session.begin_nested():
                self.session.add(claim)
                await self.session.flush()
        except IntegrityError:
            return None
        return claim

    async def get(self, claim_id: int) -> ProductClaim | None:
        return await self.session.get(ProductClaim, claim_id)

    async def pending_of(self, product_id: int, customer_id: int) -> ProductClaim | None:
        return await self.session.scalar(
            select(ProductClaim)
            .where(ProductClaim.product_id == product_id, ProductClaim.customer_id == customer_id, ProductClaim.status == "pending")
            .limit(1)
        )

    async def pending_of_customer(self, customer_id: int) -> list[ProductClaim]:
        rows = await self.session.scalars(
            select(ProductClaim).where(ProductClaim.customer_id == customer_id, ProductClaim.status == "pending").order_by(ProductClaim.id)
        )
        return list(rows)

    async def pending_of_product(self, product_id: int, exclude_claim_id: int) -> list[ProductClaim]:
        rows = await self.session.scalars(
            select(ProductClaim).where(
                ProductClaim.product_id == product_id, ProductClaim.status == "pending", ProductClaim.id != exclude_claim_id,
            ).order_by(ProductClaim.id)
        )
        return list(rows)

    async def count_pending_of_product(self, product_id: int, exclude_claim_id: int) -> int:
        return await self.session.scalar(
            select(func.count()).select_from(ProductClaim).where(
                ProductClaim.product_id == product_id, ProductClaim.status == "pending", ProductClaim.id != exclude_claim_id,
            )
        ) or 0

    async def decide(self, claim_id: int, status: str, user_id: int, now: datetime) -> bool:
        """Decide only a pending claim (the state check is inside the UPDATE: the first press wins)."""
        result = await self.session.execute(
            update(ProductClaim)
            .where(ProductClaim.id == claim_id, ProductClaim.status == "pending")
            .values(status=status, decided_by_user_id=user_id, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


class ClockRepository(_ClockReader):
    async def delete(self, clock: SlaClock) -> None:
        await self.session.delete(clock)
        await self.session.flush()

    async def claim_alerts_due(self, now: datetime, limit: int) -> list[SlaClock]:
        """Clocks with a reminder due, locked for this transaction; other processes skip them
        (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer at a time anyway)."""
        rows = await self.session.scalars(
            select(SlaClock)
            .where(SlaClock.next_alert_at <= now)
            .order_by(SlaClock.next_alert_at, SlaClock.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def running_due_before(self, moment: datetime, limit: int) -> list[tuple[SlaClock, ServiceRequest]]:
        """Running clocks due before `moment`, soonest (most overdue) first, with their requests."""
        await self._fresh()
        rows = await self.session.execute(
            select(SlaClock, ServiceRequest)
            .join(ServiceRequest, ServiceRequest.id == SlaClock.request_id)
            .where(SlaClock.stopped_at.is_(None), SlaClock.due_at <= moment)
            .order_by(SlaClock.due_at, SlaClock.id)
            .limit(limit)
        )
        return [(clock, request) for clock, request in rows.all()]

    async def get(self, clock_id: int) -> SlaClock | None:
        return await self.session.get(SlaClock, clock_id)

    async def open_request_ids(self, closed_statuses: tuple[str, ...], after_id: int, limit: int) -> list[int]:
        rows = await self.session.scalars(
            select(ServiceRequest.id)
            .where(ServiceRequest.status.not_in(closed_statuses), ServiceRequest.id > after_id)
            .order_by(ServiceRequest.id)
            .limit(limit)
        )
        return list(rows)


class ApprovalRepository(_Repository):
    async def add(self, approval: Approval) -> Approval:
        return await self._add(approval)

    async def get(self, approval_id: int) -> Approval | None:
        return await self.session.get(Approval, approval_id, populate_existing=True)

    async def transition(self, approval: Approval, expected_status: str, expected_step: int, **values: Any) -> bool:
        """Change the approval only if it is still in `expected_status` at `expected_step`: the
        first decision wins. Refreshes `approval` either way, so the caller sees what won."""
        result = await self.session.execute(
            update(Approval)
            .where(Approval.id == approval.id, Approval.status == expected_status, Approval.step == expected_step)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        await self.session.refresh(approval)
        return result.rowcount == 1

    async def add_action(self, action: ApprovalAction) -> ApprovalAction:
        return await self._add(action)

    async def actions(self, approval_id: int) -> list[ApprovalAction]:
        return list(await self.session.scalars(
            select(ApprovalAction).where(ApprovalAction.approval_id == approval_id).order_by(ApprovalAction.id)
        ))

    async def open(self) -> list[Approval]:
        """Pending or waiting for information, oldest first."""
        return list(await self.session.scalars(
            select(Approval).where(Approval.status.in_(("pending", "info"))).order_by(Approval.created_at, Approval.id)
        ))

    async def awaiting_answer_from(self, user_id: int) -> list[Approval]:
        """Approvals `user_id` asked for whose approvers asked them a question, oldest first."""
        return list(await self.session.scalars(
            select(Approval).where(Approval.requested_by_id == user_id, Approval.status == "info").order_by(Approval.id)
        ))

    async def pending_of_request(self, request_id: int) -> list[Approval]:
        return list(await self.session.scalars(
            select(Approval).where(Approval.request_id == request_id, Approval.status == "pending").order_by(Approval.id)
        ))

    async def of_request(self, request_id: int) -> list[Approval]:
        return list(await self.session.scalars(
            select(Approval).where(Approval.request_id == request_id).order_by(Approval.id)
        ))

    async def add_post(self, post: ApprovalPost) -> ApprovalPost:
        return await self._add(post)

    async def posts(self, approval_id: int, step: int) -> list[ApprovalPost]:
        return list(await self.session.scalars(
            select(ApprovalPost).where(ApprovalPost.approval_id == approval_id, ApprovalPost.step == step).order_by(ApprovalPost.id)
        ))


class QuoteRepository(_Repository):
    async def add(self, quote: Quote, lines: list[QuoteLine]) -> Quote:
        await self._add(quote)
        for line in lines:
            line.quote_id = quote.id
            self.session.add(line)
        await self.session.flush()
        return quote

    async def get(self, quote_id: int) -> Quote | None:
        return await self.session.get(Quote, quote_id, populate_existing=True)

    async def lines(self, quote_id: int) -> list[QuoteLine]:
        return list(await self.session.scalars(select(QuoteLine).where(QuoteLine.quote_id == quote_id).order_by(QuoteLine.id)))

    async def latest(self, request_id: int) -> Quote | None:
        return await self.session.scalar(
            select(Quote).where(Quote.request_id == request_id, Quote.status != "superseded").order_by(Quote.id.desc()).limit(1)
        )

    async def any_superseded(self, request_id: int) -> bool:
        return bool(await self.session.scalar(
            select(exists().where(Quote.request_id == request_id, Quote.status == "superseded"))
        ))

    async def supersede(self, request_id: int) -> bool:
        """The request's quote in force (waiting, or accepted) gives way to a new one, or to free work;
        True when there was one."""
        result = await self.session.execute(
            update(Quote).where(Quote.request_id == request_id, Quote.status.in_(["sent", "accepted"])).values(status="superseded")
            .execution_options(synchronize_session=False)
        )
        return result.rowcount > 0

    async def answer(self, quote: Quote, status: str, now: datetime) -> bool:
        """Accept or decline, only while the quote is still the one waiting for an answer."""
        result = await self.session.execute(
            update(Quote).where(Quote.id == quote.id, Quote.status == "sent").values(status=status, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.session.refresh(quote)
        return result.rowcount == 1


PIECES_SENT = "pieces_sent"  # outbox payload: pieces of a long message Telegram has already accepted


class OutboxRepository(_Repository):
    async def add_once(self, message: OutboxMessage) -> bool:
        """Record a message unless one with its key exists; True when this call recorded it."""
        values = {column.name: getattr(message, column.name) for column in OutboxMessage.__table__.columns if column.name != "id"}
        values["payload"] = values["payload"] or {}
        values["attempts"] = values["attempts"] or 0
        result = await self.session.execute(
            _dialect_insert(self.session, OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["key"])
        )
        return result.rowcount == 1

    async def claim_people(
        self, now: datetime, lease: timedelta, max_people: int, user_ids: Collection[int] | None = None,
        max_waiting: int | None = None, per_person: int | None = None, digest_kind: str | None = None,
    ) -> list[OutboxMessage]:
        """Claim the due, unsent messages of up to `max_people` people (only of `user_ids` when
        given, only people with at most `max_waiting` due messages when given), oldest first, by
        setting a lease; skips anybody a live sender is serving.

        `per_person`: only each person's oldest so many, plus (when one of those is of
        `digest_kind`) all their rows of that kind, which go out as one digest. A long queue then
        costs a round no more than a short one: claiming a few hundred rows of one person took
        ~40 ms, holding SQLite's writer, every few seconds while the queue lasted.

        A person's claimed messages are held by one sender only, and no other sender claims any
        of that person's messages meanwhile, so they go out in order: the person's user row is
        locked (FOR NO KEY UPDATE SKIP LOCKED on PostgreSQL; SQLite runs one writer at a time), and
        the UPDATE re-checks that no live lease exists for them, which it sees even when another
        sender committed a claim a moment ago."""
        live = (
            select(OutboxMessage.id).where(
                OutboxMessage.user_id == User.id, OutboxMessage.sent_at.is_(None), OutboxMessage.claimed_until >= now,
            ).exists()
        )
        due = (
            OutboxMessage.sent_at.is_(None), OutboxMessage.not_before <= now,
            (OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until < now),
        )
        waiting = select(OutboxMessage.user_id).where(*due)
        if user_ids is not None:
            waiting = waiting.where(OutboxMessage.user_id.in_(list(user_ids)))
        if max_waiting is not None:
            waiting = waiting.group_by(OutboxMessage.user_id).having(func.count() <= max_waiting)
        people = list(await self.session.scalars(
            select(User.id).where(User.id.in_(waiting.scalar_subquery()), ~live)
            .order_by(User.id).limit(max_people)
            .with_for_update(skip_locked=True, key_share=True)
        ))
        if not people:
            return []
        other = aliased(OutboxMessage)
        held = select(other.id).where(other.user_id == OutboxMessage.user_id, other.sent_at.is_(None), other.claimed_until >= now).exists()
        scope = [OutboxMessage.user_id.in_(people), *due]
        if per_person is not None:
            scope.append(OutboxMessage.id.in_(self._oldest_of_each(people, due, per_person, digest_kind)))
        result = await self.session.execute(
            update(OutboxMessage)
            .where(*scope, ~held)
            .values(claimed_until=now + lease, attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        ids = [row[0] for row in result.all()]
        if not ids:
            return []
        rows = await self.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.not_before, OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
        return list(rows)

    @staticmethod
    def _oldest_of_each(people: list[int], due: tuple[Any, ...], count: int, digest_kind: str | None) -> Any:
        """Ids of each person's `count` oldest due rows, plus all their rows of `digest_kind` when
        one of those is among them."""
        rank = func.row_number().over(partition_by=OutboxMessage.user_id, order_by=(OutboxMessage.not_before, OutboxMessage.id))
        ranked = (
            select(OutboxMessage.id, OutboxMessage.user_id, OutboxMessage.kind, rank.label("rank"))
            .where(OutboxMessage.user_id.in_(people), *due)
            .subquery()
        )
        oldest = ranked.c.rank <= count
        if digest_kind is None:
            return select(ranked.c.id).where(oldest)
        with_digest = select(ranked.c.user_id).where(oldest, ranked.c.kind == digest_kind)
        return select(ranked.c.id).where(oldest | ((ranked.c.kind == digest_kind) & ranked.c.user_id.in_(with_digest)))

    async def finish(self, ids: list[int], now: datetime, failure: str | None = None) -> None:
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids))
            .values(sent_at=now, failure=failure, claimed_until=None)
            .execution_options(synchronize_session=False)
        )

    async def forget_texts(self, ids: list[int], kind: str) -> None:
        """Drop the payload of finished rows of `kind` (rendered texts): the outbox is a queue, not
        an archive of what people were told, and must not keep names and phones once done."""
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.kind == kind).values(payload={})
            .execution_options(synchronize_session=False)
        )

    async def release(self, ids: list[int], until: datetime | None, lease: datetime) -> None:
        """Give claimed messages back: at once, or keep them held `until` then (Telegram asked to
        wait), which also holds the person's later messages back, keeping them in order.

        Only rows still under this sender's `lease` (the `claimed_until` its claim set): once the
        lease ran out another sender may have claimed them, and they are that one's now."""
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_until == lease).values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )

    async def note_pieces_sent(self, ids: list[int], pieces: int, lease: datetime) -> None:
        """Telegram accepted the first `pieces` pieces of the long message these rows make (then a
        piece failed): whoever tries again starts after them (payload `pieces_sent`)."""
        rows = await self.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_until == lease)
            .execution_options(populate_existing=True)
        )
        for row in rows:
            row.payload = row.payload | {PIECES_SENT: pieces}
        await self.session.flush()

    async def note_notified(self, user_id: int, at: datetime) -> None:
        """Telegram accepted a notification to this person at `at` (see ChatPace)."""
        insert = _dialect_insert(self.session, ChatPace).values(user_id=user_id, notified_at=at)
        await self.session.execute(
            insert.on_conflict_do_update(index_elements=["user_id"], set_={"notified_at": insert.excluded.notified_at})
            .execution_options(synchronize_session=False)
        )

    async def notified_at(self, user_id: int) -> datetime | None:
        return await self.session.scalar(select(ChatPace.notified_at).where(ChatPace.user_id == user_id))

    async def unsent_ids_of(self, user_id: int) -> list[int]:
        return list(await self.session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.user_id == user_id, OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)
        ))

    async def pending_count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))) or 0

    async def of_user(self, user_id: int) -> list[OutboxMessage]:
        rows = await self.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == user_id).order_by(OutboxMessage.id))
        return list(rows)


class AppStateRepository(_Repository):
    async def get(self, name: str) -> str | None:
        row = await self.session.get(AppState, name)
        return row.value if row else None

    async def set(self, name: str, value: str) -> None:
        """Insert or overwrite in one statement: two processes setting a new name at once must not
        collide on the primary key (a read-then-insert does on PostgreSQL)."""
        insert = _dialect_insert(self.session, AppState).values(name=name, value=value)
        await self.session.execute(
            insert.on_conflict_do_update(index_elements=["name"], set_={"value": insert.excluded.value})
            .execution_options(synchronize_session=False)
        )
        loaded = self.session.identity_map.get(self.session.identity_key(AppState, name))
        if loaded is not None:  # a row read earlier in this session shows the new value too
            loaded.value = value

    async def claim(self, name: str, value: str) -> bool:
        """Insert `name` unless it exists; True only for the one caller whose insert made it
        (a once-only job claimed across processes, e.g. the monthly report)."""
        result = await self.session.execute(
            _dialect_insert(self.session, AppState).values(name=name, value=value).on_conflict_do_nothing(index_elements=["name"])
        )
        return result.rowcount == 1


class StockRepository(_Repository):
    """Warehouses, stock per warehouse, the stock ledger and parts requisitions.

    Stock only ever changes through `take` (a conditional UPDATE that cannot go below zero)
    or `put` (an import or adjustment that sets it), each followed by a ledger row.
    """

    async def warehouses(self) -> list[Warehouse]:
        return list(await self.session.scalars(select(Warehouse).order_by(Warehouse.code)))

    async def warehouse(self, warehouse_id: int) -> Warehouse | None:
        return await self.session.get(Warehouse, warehouse_id)

    async def warehouses_by_codes(self, codes: list[str]) -> dict[str, Warehouse]:
        """Warehouses by case-folded code (and the exact code, as `PartRepository.by_codes`)."""
        wanted = sorted({c.upper() for c in codes})
        if not wanted:
            return {}
        rows = await self.session.scalars(select(Warehouse).where(func.upper(Warehouse.code).in_(wanted) | Warehouse.code.in_(sorted(set(codes)))))
        return {w.code.casefold(): w for w in rows}

    async def add_warehouse(self, warehouse: Warehouse) -> Warehouse:
        return await self._add(warehouse)

    async def lock_parts(self, part_ids: Collection[int]) -> dict[int, Part]:
        """The parts, row-locked in id order for this transaction (PostgreSQL; SQLite has one writer anyway),
        so two transactions changing a part's stock take turns deciding whether it crossed its safety level."""
        if not part_ids:
            return {}
        rows = await self.session.scalars(
            select(Part).where(Part.id.in_(sorted(set(part_ids)))).order_by(Part.id)
            .with_for_update().execution_options(populate_existing=True)
        )
        return {p.id: p for p in rows}

    async def stock_of(self, part_ids: Collection[int]) -> list[PartStock]:
        if not part_ids:
            return []
        rows = await self.session.scalars(
            select(PartStock).where(PartStock.part_id.in_(sorted(set(part_ids)))).order_by(PartStock.part_id, PartStock.warehouse_id)
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def total(self, part_id: int) -> int:
        return await self.session.scalar(select(func.coalesce(func.sum(PartStock.quantity), 0)).where(PartStock.part_id == part_id)) or 0

    async def take(self, part_id: int, warehouse_id: int, quantity: int) -> int | None:
        """Take `quantity` only if that many are there (one UPDATE); the quantity left, or None when short."""
        result = await self.session.execute(
            update(PartStock)
            .where(PartStock.part_id == part_id, PartStock.warehouse_id == warehouse_id, PartStock.quantity >= quantity)
            .values(quantity=PartStock.quantity - quantity)
            .returning(PartStock.quantity)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        return None if row is None else row[0]

    async def put(self, part_id: int, warehouse_id: int, quantity: int) -> int:
        """Set the quantity (an import or a count); returns what it was before (0 when there was no row)."""
        row = await self.session.scalar(
            select(PartStock).where(PartStock.part_id == part_id, PartStock.warehouse_id == warehouse_id)
            .with_for_update().execution_options(populate_existing=True)
        )
        if row is None:
            self.session.add(PartStock(part_id=part_id, warehouse_id=warehouse_id, quantity=quantity))
            await self.session.flush()
            return 0
        before, row.quantity = row.quantity, quantity
        await self.session.flush()
        return before

    async def set_below_safety(self, part_id: int, below: bool) -> bool:
        """Flip the part's below-safety state; True only for the transaction that flipped it."""
        result = await self.session.execute(
            update(Part).where(Part.id == part_id, Part.below_safety.is_(not below))
            .values(below_safety=below).execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    async def add_move(self, move: StockMove) -> StockMove:
        return await self._add(move)

    async def moves(self, *, part_id: int | None = None, requisition_id: int | None = None) -> list[StockMove]:
        query = select(StockMove)
        if part_id is not None:
            query = query.where(StockMove.part_id == part_id)
        if requisition_id is not None:
            query = query.where(StockMove.requisition_id == requisition_id)
        return list(await self.session.scalars(query.order_by(StockMove.id)))

    async def catalog_page(self, text: str | None, limit: int) -> tuple[list[Part], int]:
        """Parts below their safety level first, then by code; optionally those matching `text`."""
        query = select(Part)
        if text:
            query = query.where(Part.code.icontains(text, autoescape=True) | Part.name.icontains(text, autoescape=True))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = await self.session.scalars(query.order_by(Part.below_safety.desc(), Part.code).limit(limit))
        return list(rows), total

    async def add_requisition(self, requisition: PartRequisition) -> PartRequisition:
        return await self._add(requisition)

    async def requisition(self, requisition_id: int) -> PartRequisition | None:
        return await self.session.get(PartRequisition, requisition_id, populate_existing=True)

    async def requisitions_of_request(self, request_id: int) -> list[PartRequisition]:
        rows = await self.session.scalars(
            select(PartRequisition).where(PartRequisition.request_id == request_id).order_by(PartRequisition.id)
        )
        return list(rows)

    async def requisitions_with_status(self, status: str, limit: int, *, request_statuses: Collection[str] | None = None) -> list[PartRequisition]:
        rows = await self.session.scalars(
            self._with_status(select(PartRequisition), status, request_statuses)
            .order_by(PartRequisition.decided_at, PartRequisition.id).limit(limit)
        )
        return list(rows)

    async def count_with_status(self, status: str, *, request_statuses: Collection[str] | None = None) -> int:
        return await self.session.scalar(self._with_status(select(func.count(PartRequisition.id)), status, request_statuses))

    @staticmethod
    def _with_status(query: Select, status: str, request_statuses: Collection[str] | None) -> Select:
        query = query.where(PartRequisition.status == status)
        if request_statuses is not None:
            query = query.join(ServiceRequest, ServiceRequest.id == PartRequisition.request_id).where(ServiceRequest.status.in_(list(request_statuses)))
        return query

    async def move_requisition(self, requisition_id: int, from_statuses: Collection[str], status: str, **values: Any) -> bool:
        """Change the status only from one of `from_statuses` (the check is in the UPDATE: one press wins)."""
        result = await self.session.execute(
            update(PartRequisition)
            .where(PartRequisition.id == requisition_id, PartRequisition.status.in_(list(from_statuses)))
            .values(status=status, **values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


# --- returns and exchanges (bot/services/returns.py) -----------------------------------------


class ReturnRepository(_Repository):
    async def add(self, case: ReturnCase) -> ReturnCase:
        return await self._add(case)

    async def get(self, return_id: int) -> ReturnCase | None:
        return await self.session.get(ReturnCase, return_id, populate_existing=True)

    async def of_request(self, request_id: int) -> ReturnCase | None:
        return await self.session.scalar(select(ReturnCase).where(ReturnCase.request_id == request_id))

    @staticmethod
    def _going_on(states: Collection[str], held: Collection[str], ended: Collection[str]):
        """In one of `states`, and either in one of `held` (whatever became of its request) or
        with its request not `ended`."""
        request_going_on = exists().where(ServiceRequest.id == ReturnCase.request_id, ServiceRequest.status.not_in(list(ended)))
        return ReturnCase.state.in_(list(states)) & (ReturnCase.state.in_(list(held)) | request_going_on)

    async def open_for_product(self, product_id: int, open_states: Collection[str], *, held: Collection[str] = (),
                               ended: Collection[str] = ()) -> ReturnCase | None:
        """The product's return under way: see `_going_on`."""
        return await self.session.scalar(
            select(ReturnCase).where(ReturnCase.product_id == product_id, self._going_on(open_states, held, ended)).order_by(ReturnCase.id)
        )

    async def in_states(self, states: Collection[str], limit: int, *, held: Collection[str] = (),
                        ended: Collection[str] = ()) -> tuple[list[ReturnCase], int]:
        """The oldest `limit` returns in these states (by when they last moved), and how many there
        are; see `_going_on` for `held` and `ended`."""
        where = self._going_on(states, held, ended)
        cases = await self.session.scalars(select(ReturnCase).where(where).order_by(ReturnCase.updated_at, ReturnCase.id).limit(limit))
        total = await self.session.scalar(select(func.count()).select_from(ReturnCase).where(where))
        return list(cases), total or 0

    async def move(self, case: ReturnCase, from_state: str, to_state: str, **values: Any) -> bool:
        """Change the state only if it is still `from_state` (the check is in the UPDATE: one
        press wins). Refreshes `case` either way, so the caller sees what won."""
        result = await self.session.execute(
            update(ReturnCase).where(ReturnCase.id == case.id, ReturnCase.state == from_state)
            .values(state=to_state, **values).execution_options(synchronize_session=False)
        )
        await self.session.refresh(case)
        return result.rowcount == 1


# --- follow-up calls after closed jobs (bot/services/followups.py) ---------------------------


class FollowUpRepository(_Repository):
    async def add_once(self, call: FollowUpCall) -> bool:
        """Record the call unless its (request, round) exists; True when this call recorded it."""
        values = {column.name: getattr(call, column.name) for column in FollowUpCall.__table__.columns if column.name != "id"}
        values["attempts"] = values["attempts"] or 0
        result = await self.session.execute(
            _dialect_insert(self.session, FollowUpCall).values(**values).on_conflict_do_nothing(index_elements=["request_id", "round"])
        )
        return result.rowcount == 1

    async def get(self, call_id: int) -> FollowUpCall | None:
        return await self.session.get(FollowUpCall, call_id, populate_existing=True)

    async def of_request(self, request_id: int) -> list[FollowUpCall]:
        rows = await self.session.scalars(select(FollowUpCall).where(FollowUpCall.request_id == request_id).order_by(FollowUpCall.round))
        return list(rows)

    async def due_by_day(self, today: Any, limit: int | None) -> list[FollowUpCall]:
        """Calls due on or before `today`, the latest-deadline-passed first (overdue ones lead)."""
        rows = await self.session.scalars(
            select(FollowUpCall).where(FollowUpCall.state == "due", FollowUpCall.due_on <= today)
            .order_by(FollowUpCall.due_by, FollowUpCall.due_on, FollowUpCall.id).limit(limit)
        )
        return list(rows)

    async def count_due(self, today: Any) -> tuple[int, int]:
        """(calls due by `today`, of which overdue: past their `due_by`)."""
        overdue = func.count().filter(FollowUpCall.due_by < today)
        row = (await self.session.execute(
            select(func.count(), overdue).select_from(FollowUpCall).where(FollowUpCall.state == "due", FollowUpCall.due_on <= today)
        )).one()
        return int(row[0] or 0), int(row[1] or 0)

    async def unannounced(self, today: Any) -> bool:
        """Is any call due by `today` that the callback role has not been told of today?"""
        found = await self.session.scalar(
            select(FollowUpCall.id).where(
                FollowUpCall.state == "due", FollowUpCall.due_on <= today,
                (FollowUpCall.reminded_on.is_(None)) | (FollowUpCall.reminded_on < today),
            ).limit(1)
        )
        return found is not None

    async def mark_announced(self, today: Any) -> None:
        await self.session.execute(
            update(FollowUpCall).where(FollowUpCall.state == "due", FollowUpCall.due_on <= today)
            .values(reminded_on=today).execution_options(synchronize_session=False)
        )

    async def record(self, call: FollowUpCall, expected_attempts: int | None, **values: Any) -> bool:
        """Write an outcome or a try only if the call is still due (and has `expected_attempts`
        unless None); the check is in the UPDATE, so a double press or a second caller changes
        nothing. Refreshes `call` either way."""
        still = [FollowUpCall.id == call.id, FollowUpCall.state == "due"]
        if expected_attempts is not None:
            still.append(FollowUpCall.attempts == expected_attempts)
        result = await self.session.execute(update(FollowUpCall).where(*still).values(**values).execution_options(synchronize_session=False))
        await self.session.refresh(call)
        return result.rowcount == 1


# --- complaints (bot/services/complaints.py) --------------------------------------------------


class ComplaintRepository(_Repository):
    async def add(self, complaint: Complaint) -> Complaint:
        return await self._add(complaint)

    async def get(self, complaint_id: int) -> Complaint | None:
        return await self.session.get(Complaint, complaint_id, populate_existing=True)

    async def about(self, request_id: int, source: str) -> Complaint | None:
        """A complaint about `request_id` filed from `source` (e.g. the survey's offer)."""
        return await self.session.scalar(
            select(Complaint).where(Complaint.about_request_id == request_id, Complaint.source == source).order_by(Complaint.id).limit(1)
        )

    async def of_request(self, request_id: int) -> Complaint | None:
        return await self.session.scalar(select(Complaint).where(Complaint.request_id == request_id))

    async def active(self, states: Collection[str], request_statuses: Collection[str], limit: int) -> list[tuple[Complaint, ServiceRequest]]:
        """Complaints in `states` whose request is in `request_statuses`, oldest first."""
        rows = await self.session.execute(
            select(Complaint, ServiceRequest).join(ServiceRequest, ServiceRequest.id == Complaint.request_id)
            .where(Complaint.state.in_(list(states)), ServiceRequest.status.in_(list(request_statuses)))
            .order_by(Complaint.created_at, Complaint.id).limit(limit)
        )
        return [(complaint, request) for complaint, request in rows.all()]

    async def count_active(self, states: Collection[str], request_statuses: Collection[str], clock_kind: str,
                           now: datetime) -> tuple[int, int]:
        """How many complaints `active` would list without its limit, and how many of them are
        overdue (their running `clock_kind` clock due by `now`)."""
        overdue = exists().where(SlaClock.request_id == ServiceRequest.id, SlaClock.kind == clock_kind,
                                 SlaClock.stopped_at.is_(None), SlaClock.due_at <= now)
        total, late = (await self.session.execute(
            select(func.count(), func.count(case((overdue, 1))))
            .select_from(Complaint).join(ServiceRequest, ServiceRequest.id == Complaint.request_id)
            .where(Complaint.state.in_(list(states)), ServiceRequest.status.in_(list(request_statuses)))
        )).one()
        return total, late

    async def move(self, complaint: Complaint, from_state: str, to_state: str, **values: Any) -> bool:
        """Change the state only if it is still `from_state` (one press wins); refreshes `complaint`."""
        result = await self.session.execute(
            update(Complaint).where(Complaint.id == complaint.id, Complaint.state == from_state)
            .values(state=to_state, **values).execution_options(synchronize_session=False)
        )
        await self.session.refresh(complaint)
        return result.rowcount == 1

    async def add_note(self, note: ComplaintNote) -> ComplaintNote:
        return await self._add(note)

    async def notes(self, complaint_id: int) -> list[ComplaintNote]:
        rows = await self.session.scalars(select(ComplaintNote).where(ComplaintNote.complaint_id == complaint_id).order_by(ComplaintNote.id))
        return list(rows)

    async def add_link(self, link: ComplaintLink) -> bool:
        """Link once; False when the pair exists (the unique constraint decides, also under a race)."""
        result = await self.session.execute(
            _dialect_insert(self.session, ComplaintLink)
            .values(complaint_id=link.complaint_id, request_id=link.request_id, created_at=link.created_at)
            .on_conflict_do_nothing(index_elements=["complaint_id", "request_id"])
        )
        return result.rowcount == 1

    async def linked_requests(self, complaint_id: int) -> list[ServiceRequest]:
        rows = await self.session.scalars(
            select(ServiceRequest).join(ComplaintLink, ComplaintLink.request_id == ServiceRequest.id)
            .where(ComplaintLink.complaint_id == complaint_id).order_by(ComplaintLink.id)
        )
        return list(rows)


# --- the service archive and maintenance reminders (bot/services/archive.py, maintenance.py) --


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with LIKE's own wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _chunks(ids: Collection[int], size: int = 500) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[start:start + size] for start in range(0, len(ordered), size)]


class ArchiveRepository(_Repository):
    """Everything recorded about one customer's (or one project's) service, read in bulk."""

    async def customers_matching(self, text: str, digits: str | None, limit: int) -> list[Customer]:
        pattern = _like(text)
        condition = (func.lower(Customer.name).like(pattern, escape="\\")) | (func.lower(Customer.company).like(pattern, escape="\\"))
        if digits:
            condition = condition | Customer.phone.like(_like(digits), escape="\\")
        return list(await self.session.scalars(select(Customer).where(condition).order_by(Customer.name, Customer.id).limit(limit)))

    async def projects_matching(self, text: str, limit: int) -> list[tuple[Project, Customer]]:
        rows = await self.session.execute(
            select(Project, Customer).join(Customer, Customer.id == Project.customer_id)
            .where(func.lower(Project.name).like(_like(text), escape="\\"))
            .order_by(Project.name, Project.id).limit(limit)
        )
        return [(project, customer) for project, customer in rows.all()]

    async def project(self, project_id: int) -> Project | None:
        return await self.session.get(Project, project_id)

    async def requests_of(self, *, customer_id: int | None = None, project_id: int | None = None) -> list[ServiceRequest]:
        query = select(ServiceRequest).order_by(ServiceRequest.created_at, ServiceRequest.id)
        query = query.where(ServiceRequest.project_id == project_id) if project_id is not None else query.where(ServiceRequest.customer_id == customer_id)
        return list(await self.session.scalars(query))

    async def _by_request(self, model: Any, request_ids: Collection[int], *order: Any) -> list[Any]:
        found: list[Any] = []
        for chunk in _chunks(request_ids):
            found += list(await self.session.scalars(select(model).where(model.request_id.in_(chunk)).order_by(*order)))
        return found

    async def visits(self, request_ids: Collection[int]) -> list[Visit]:
        return await self._by_request(Visit, request_ids, Visit.created_at, Visit.id)

    async def reports(self, request_ids: Collection[int]) -> list[JobReport]:
        return await self._by_request(JobReport, request_ids, JobReport.submitted_at, JobReport.id)

    async def accepted_quotes(self, request_ids: Collection[int]) -> list[Quote]:
        return [q for q in await self._by_request(Quote, request_ids, Quote.id) if q.status == "accepted"]

    async def last_event_times(self, request_ids: Collection[int], actions: Collection[str]) -> dict[int, datetime]:
        """The time of each request's latest event among `actions` (e.g. the ones that close it)."""
        found: dict[int, datetime] = {}
        for chunk in _chunks(request_ids):
            rows = await self.session.execute(
                select(RequestEvent.request_id, func.max(RequestEvent.created_at))
                .where(RequestEvent.request_id.in_(chunk), RequestEvent.action.in_(list(actions)))
                .group_by(RequestEvent.request_id)
            )
            found.update((request_id, moment) for request_id, moment in rows.all())
        return found

    async def _by_id(self, model: Any, ids: Collection[int]) -> dict[int, Any]:
        found: dict[int, Any] = {}
        for chunk in _chunks(i for i in ids if i is not None):
            found.update((row.id, row) for row in await self.session.scalars(select(model).where(model.id.in_(chunk))))
        return found

    async def users(self, ids: Collection[int]) -> dict[int, User]:
        return await self._by_id(User, ids)

    async def products(self, ids: Collection[int]) -> dict[int, Product]:
        return await self._by_id(Product, ids)

    async def parts(self, ids: Collection[int]) -> dict[int, Part]:
        return await self._by_id(Part, ids)


class MaintenanceRepository(_Repository):
    async def products_with_cycle(self, after_id: int, limit: int) -> list[Product]:
        """Products with a maintenance cycle and a known service start, by id after `after_id`;
        not a unit that came back refunded or exchanged and is nobody's yet (it is in our
        warehouse; once resold and claimed it is reminded of again)."""
        return list(await self.session.scalars(
            select(Product).where(Product.id > after_id, *self._reminded_of()).order_by(Product.id).limit(limit)
        ))

    @staticmethod
    def _reminded_of() -> tuple[Any, ...]:
        """The products whose maintenance we remind of (see `products_with_cycle`)."""
        came_back = exists().where(ReturnCase.product_id == Product.id, ReturnCase.state.in_(("refunded", "exchanged")))
        return (
            Product.maintenance_cycle_months > 0,
            (Product.commissioning_date.is_not(None)) | (Product.sale_date.is_not(None)),
            Product.customer_id.is_not(None) | ~came_back,
        )

    async def recorded(self, product_ids: Collection[int], since: Any) -> set[tuple[int, Any]]:
        """(product, due date) pairs already reminded of, for due dates on or after `since`."""
        found: set[tuple[int, Any]] = set()
        for chunk in _chunks(product_ids):
            rows = await self.session.execute(
                select(MaintenanceReminder.product_id, MaintenanceReminder.due_on)
                .where(MaintenanceReminder.product_id.in_(chunk), MaintenanceReminder.due_on >= since)
            )
            found.update((product_id, due_on) for product_id, due_on in rows.all())
        return found

    async def add_once(self, product_id: int, due_on: Any, now: datetime) -> MaintenanceReminder | None:
        """Record the reminder unless (product, due date) exists; the new row, or None if it existed."""
        result = await self.session.execute(
            _dialect_insert(self.session, MaintenanceReminder)
            .values(product_id=product_id, due_on=due_on, created_at=now)
            .on_conflict_do_nothing(index_elements=["product_id", "due_on"])
            .returning(MaintenanceReminder.id)
        )
        new_id = result.scalar()
        return await self.session.get(MaintenanceReminder, new_id) if new_id is not None else None

    async def get(self, reminder_id: int) -> MaintenanceReminder | None:
        return await self.session.get(MaintenanceReminder, reminder_id, populate_existing=True)

    async def created_between(self, since: datetime, until: datetime) -> list[tuple[MaintenanceReminder, Product, Customer | None]]:
        return await self._listed(MaintenanceReminder.created_at, since, until)

    async def chased_between(self, since: datetime, until: datetime) -> list[tuple[MaintenanceReminder, Product, Customer | None]]:
        return await self._listed(MaintenanceReminder.due_day_chased_at, since, until)

    async def _listed(self, moment: Any, since: datetime, until: datetime) -> list[tuple[MaintenanceReminder, Product, Customer | None]]:
        """Reminders whose `moment` column falls in [since, until), with their product and its customer now."""
        rows = await self.session.execute(
            select(MaintenanceReminder, Product, Customer)
            .join(Product, Product.id == MaintenanceReminder.product_id)
            .outerjoin(Customer, Customer.id == Product.customer_id)
            .where(moment >= since, moment < until)
            .order_by(MaintenanceReminder.due_on, Product.serial)
        )
        return [(reminder, product, customer) for reminder, product, customer in rows.all()]

    async def unchased_due(self, first_day: Any, last_day: Any) -> list[MaintenanceReminder]:
        """Reminders falling due from `first_day` to `last_day` (both included) not chased yet, of
        products still reminded of (not a refunded unit back in our warehouse, nor one whose cycle
        was removed since)."""
        return list(await self.session.scalars(
            select(MaintenanceReminder).join(Product, Product.id == MaintenanceReminder.product_id).where(
                MaintenanceReminder.due_on >= first_day, MaintenanceReminder.due_on <= last_day,
                MaintenanceReminder.due_day_chased_at.is_(None), *self._reminded_of(),
            ).order_by(MaintenanceReminder.id)
        ))

    async def claim_chase(self, reminder_id: int, now: datetime) -> bool:
        """Mark the reminder chased unless someone did; True when this call did (a second process
        waits on the row and then finds it taken)."""
        result = await self.session.execute(
            update(MaintenanceReminder).where(MaintenanceReminder.id == reminder_id, MaintenanceReminder.due_day_chased_at.is_(None))
            .values(due_day_chased_at=now).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def was_sent_to(self, outbox_keys: Collection[str], user_id: int) -> bool:
        found = await self.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key.in_(outbox_keys), OutboxMessage.user_id == user_id).limit(1))
        return found is not None

    async def last_site(self, product_id: int, customer_id: int) -> ServiceRequest | None:
        """The customer's latest request about this product that says where it stands."""
        return await self.session.scalar(
            select(ServiceRequest).where(
                ServiceRequest.product_id == product_id, ServiceRequest.customer_id == customer_id,
                (ServiceRequest.site_address.is_not(None)) | (ServiceRequest.site_latitude.is_not(None)),
            ).order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()).limit(1)
        )

    async def due_on_booked_by(self, request_id: int) -> Any:
        """The due date of the maintenance this request was booked for (None: not booked from a reminder)."""
        return await self.session.scalar(select(MaintenanceReminder.due_on).where(MaintenanceReminder.booked_request_id == request_id).limit(1))

    async def link_booking(self, reminder_id: int, product_id: int, request_id: int) -> bool:
        result = await self.session.execute(
            update(MaintenanceReminder).where(MaintenanceReminder.id == reminder_id, MaintenanceReminder.product_id == product_id)
            .values(booked_request_id=request_id).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1
