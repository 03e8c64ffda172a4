"""SQLAlchemy 2 typed models. Times are stored in UTC; money in integer minor units."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Always hands back timezone-aware UTC datetimes, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class User(Base):
    """Anyone who talks to the bot: customers and staff alike."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str] = mapped_column(String(128), default="")
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    language_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    full_name: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))
    is_reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    region: Mapped[str | None] = mapped_column(String(100))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    last_assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.role for r in self.roles)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[User] = relationship(back_populates="roles")

    # "Who are the dispatchers?" is asked on every new request; the primary key starts with user_id.
    __table_args__ = (Index("ix_user_roles_role", "role", "user_id"),)


class Customer(Base):
    """A party owed service; linked to a Telegram user when they talk to the bot themselves."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]  # personal data erased on request (bot/services/erasure.py); rows kept


class Project(Base):
    """A customer's site or project; the service archive is kept per project."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Product(Base):
    """A sold unit from the product registry, identified by its serial number."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    sale_date: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    commissioning_date: Mapped[date | None] = mapped_column(Date)
    warranty_months: Mapped[int | None] = mapped_column(Integer)
    maintenance_cycle_months: Mapped[int | None] = mapped_column(Integer)
    owner_name: Mapped[str | None] = mapped_column(String(200))  # customer/project as the registry file names it
    updated_at: Mapped[datetime | None]


class ProductClaim(Base):
    """A customer says a registered product is theirs; a dispatcher confirms or rejects it."""

    __tablename__ = "product_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # pending, confirmed, rejected
    created_at: Mapped[datetime]
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    # One waiting claim per product and customer, even when two presses arrive at once.
    __table_args__ = (
        Index(
            "uq_product_claims_pending", "product_id", "customer_id", unique=True,
            sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'"),
        ),
    )


class Part(Base):
    """The spare-parts catalog engineers pick from in their closing report."""

    __tablename__ = "parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(16))
    price: Mapped[int | None] = mapped_column(Integer)  # minor units (fen), CNY
    safety_level: Mapped[int | None] = mapped_column(Integer)  # the warehouse is alerted when total stock falls below it
    below_safety: Mapped[bool] = mapped_column(Boolean, default=False)  # alerted for the current crossing; re-armed above it


class ServiceRequest(Base):
    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    serial_text: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    site_address: Mapped[str | None] = mapped_column(String(400))
    site_latitude: Mapped[float | None] = mapped_column(Float)
    site_longitude: Mapped[float | None] = mapped_column(Float)
    assigned_engineer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    engineer_started: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    distance_band: Mapped[str | None] = mapped_column(String(16))
    warranty: Mapped[str | None] = mapped_column(String(16))
    warranty_reason: Mapped[str | None] = mapped_column(String(32))
    repeat_repair: Mapped[bool] = mapped_column(Boolean, default=False)
    waiting_for: Mapped[str | None] = mapped_column(String(16))  # parts, customer (clocks pause)
    closed_reason: Mapped[str | None] = mapped_column(String(16))  # confirmed, timeout
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_service_requests_customer_created", "customer_id", "created_at"),
        Index("ix_service_requests_product", "product_id", "id"),  # a product's earlier repairs (requests.earlier_repair)
    )


class Assignment(Base):
    """Who was given a request, by whom, and how it ended; reassignment keeps the history."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # accepted, declined, reassigned
    note: Mapped[str | None] = mapped_column(Text)


class Escalation(Base):
    """A hard case sent to a technical expert, answered with a cause analysis and a repair plan."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    question: Mapped[str] = mapped_column(Text)
    analysis: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class Visit(Base):
    """An engineer's visit: proposed time, the customer's answer, departure and arrival (with location)."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    planned_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16))  # proposed, accepted, countered, on_the_way, arrived; cancelled, over (a job that left its engineer: bot/services/jobs.py)
    counter_note: Mapped[str | None] = mapped_column(Text)
    departed_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]


class JobReport(Base):
    """The engineer's closing report; editable until the customer confirms (or the timeout does).

    One per attempt at the job: a report the customer disputed is kept as it was, superseded, and
    the repeat repair is reported in a new row, so the archive and the month's hours and costs
    keep every attempt. A request has at most one current (not superseded) report."""

    __tablename__ = "job_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    by_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    symptom: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(Text)
    solution: Mapped[str] = mapped_column(Text)
    labour_hours: Mapped[float] = mapped_column(Float)
    travel_km: Mapped[float] = mapped_column(Float, default=0)
    travel_cost: Mapped[int] = mapped_column(Integer, default=0)  # minor units (fen)
    customer_opinion: Mapped[str] = mapped_column(Text)
    certificate: Mapped[bool | None] = mapped_column(Boolean)  # commissioning acceptance certificate obtained
    fault_type: Mapped[str | None] = mapped_column(String(32))  # bot/labels.py FAULT_TYPE_LABELS; None on old reports
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # confirmed, disputed, timeout
    superseded_at: Mapped[datetime | None]  # when the customer disputed it
    parts: Mapped[list[ReportPart]] = relationship(lazy="selectin", cascade="all, delete-orphan", order_by="ReportPart.id")

    __table_args__ = (
        Index("uq_job_reports_current", "request_id", unique=True,
              sqlite_where=text("superseded_at IS NULL"), postgresql_where=text("superseded_at IS NULL")),
    )


class ReportPart(Base):
    """A part used on a job: from the catalog, or free text for an unknown part."""

    __tablename__ = "report_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("job_reports.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int | None] = mapped_column(ForeignKey("parts.id"))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    # The catalog price (fen) when the report was first written, so a later price change does not
    # rewrite an old month's material cost; None when the part had no price then (or the report
    # predates migration 0020): the current price stands in.
    unit_price: Mapped[int | None] = mapped_column(Integer)


class Survey(Base):
    """The customer's satisfaction survey after confirming a repair."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), unique=True)
    stars: Mapped[int | None] = mapped_column(Integer)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class RequestEvent(Base):
    """Append-only timeline and audit trail of a request."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(48))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Attachment(Base):
    """A file the user sent, kept as its Telegram file id."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(String(256))
    added_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class SlaClock(Base):
    """A deadline running on a request, derived from its timeline and the policy (bot/services/clocks.py).

    `due_at` is empty while the clock is paused; `next_alert_at` is when the sweep next has
    something to say about it (indexed, so a sweep reads only the clocks that are due).
    """

    __tablename__ = "sla_clocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    window_seconds: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    pauses: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[start, end or null, wait], ...] ISO times
    paused_since: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(String(16))
    remaining_seconds: Mapped[int | None] = mapped_column(Integer)  # counted time left, kept while paused
    stopped_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(8))  # met, breached
    late_seconds: Mapped[int | None] = mapped_column(Integer)
    # a repeating clock (one cycle per approval step): an earlier cycle ended breached
    earlier_breach: Mapped[bool] = mapped_column(Boolean, default=False)
    alert_point: Mapped[int] = mapped_column(Integer, default=0)  # reminder points already handled
    next_alert_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (UniqueConstraint("request_id", "kind", name="uq_sla_clock_request_kind"),)


class OutboxMessage(Base):
    """A message to a person, recorded before it is sent; `key` makes each one exist once.

    Senders claim due rows by setting `claimed_until` (a lease), so two processes never send the
    same row, and a row whose sender died is sent again after the lease.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    failure: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_outbox_pending", "not_before", sqlite_where=text("sent_at IS NULL"), postgresql_where=text("sent_at IS NULL")),
    )


class ChatPace(Base):
    """When Telegram last accepted a notification to a person, on the flood limiter's wall clock
    (not the desk's injectable one): whichever process sends them the next one keeps the pace per
    chat from it (handlers/outbox.py). Written with each message the outbox sends."""

    __tablename__ = "chat_paces"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    notified_at: Mapped[datetime]


class Approval(Base):
    """A decision asked of a chain of roles about a request: a fee waiver, a requisition, a return…

    `step` indexes `chain` (role names, fixed when asked, so a policy change never moves a
    pending approval). The state changes only by a conditional UPDATE on (status, step), so two
    approvers pressing at once produce exactly one decision.
    """

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)  # fen, when money is involved
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    reason: Mapped[str] = mapped_column(Text, default="")
    subject_id: Mapped[int | None] = mapped_column(Integer)  # e.g. the requisition, for kinds that have one
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    chain: Mapped[list[str]] = mapped_column(JSON, default=list)
    step: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending, info, approved, rejected
    question: Mapped[str | None] = mapped_column(Text)  # the approver's open question while status is "info"
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def current_role(self) -> str:
        return self.chain[min(self.step, len(self.chain) - 1)]


class ApprovalAction(Base):
    """Every decision, question and answer on an approval, with who and when (the audit trail)."""

    __tablename__ = "approval_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))  # approve, reject, ask, answer, requester_left
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Quote(Base):
    """A priced offer for paid work, as sent to the customer. A newer quote supersedes an older one."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16))  # sent, accepted, declined, superseded
    parts_minor: Mapped[int] = mapped_column(BigInteger)  # fen
    labour_minor: Mapped[int] = mapped_column(BigInteger)
    travel_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class QuoteLine(Base):
    """One catalog part on a quote, at the price it had when quoted."""

    __tablename__ = "quote_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)


class ApprovalPost(Base):
    """A message that put an approval step before one approver, kept to edit it once decided."""

    __tablename__ = "approval_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)


class AppState(Base):
    """Small named values the whole desk shares, e.g. the fingerprint of the clock policy in use."""

    __tablename__ = "app_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class Draft(Base):
    """The one dialog a user is in the middle of: its kind, current step and what they typed.

    A row, not process memory, so a restart or another bot process continues the dialog.
    `id` changes with every new dialog, which makes buttons from an abandoned one stale.
    """

    __tablename__ = "drafts"
    # Without AUTOINCREMENT SQLite gives a new row the id of a just-deleted newest one, and a
    # button of the abandoned dialog would pass for one of the new dialog.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class ParkedDraft(Base):
    """An unfinished dialog put aside when another interrupted it (bot/services/dialogs.py
    KEPT_ASIDE): a request, an engineer's report, an expert's answer, a complaint, a return, a
    salesperson's /sell form; its own start opens it again, so nothing typed is lost. One per
    user, kind and subject (the job of a report, say: two jobs' reports are both kept); a later
    interruption of the same one replaces it."""

    __tablename__ = "parked_drafts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(32), primary_key=True, default="", server_default="")  # dialogs.subject_of
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parked_at: Mapped[datetime]


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a second delivery is ignored. Kept for a few days
    only (handlers/sweeps.py `forget_old_updates`)."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(index=True)


class Counter(Base):
    """Named sequences, e.g. the yearly request number."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Invite(Base):
    """A one-time enrolment link for a staff role."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Security-relevant events not tied to a request the actor may see (forged buttons etc.)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(48))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_audit_log_actor_action_time", "actor_telegram_id", "action", "created_at"),)


class Warehouse(Base):
    """A place spare parts are kept and issued from."""

    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class PartStock(Base):
    """How many of a part one warehouse holds; never negative (the CHECK backs the conditional UPDATEs)."""

    __tablename__ = "part_stock"

    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("quantity >= 0", name="ck_part_stock_quantity_not_negative"),)


class StockMove(Base):
    """The stock ledger: every change of a part's quantity in a warehouse, who made it and why."""

    __tablename__ = "stock_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    change: Mapped[int] = mapped_column(Integer)  # + received, - issued
    quantity_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))  # issue, receipt, import, adjust
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"), index=True)
    requisition_id: Mapped[int | None] = mapped_column(ForeignKey("part_requisitions.id"))
    created_at: Mapped[datetime]


class PartRequisition(Base):
    """An engineer's request for spare parts for a job: requested → approved → issued → received
    (or rejected / cancelled). The warehouse is chosen when the parts are issued."""

    __tablename__ = "part_requisitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)  # why it was rejected or cancelled
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]  # approved or rejected
    issued_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    lines: Mapped[list[RequisitionLine]] = relationship(lazy="selectin", cascade="all, delete-orphan", order_by="RequisitionLine.id")


class RequisitionLine(Base):
    """One part and quantity of a requisition."""

    __tablename__ = "part_requisition_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    requisition_id: Mapped[int] = mapped_column(ForeignKey("part_requisitions.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("quantity > 0", name="ck_part_requisition_lines_quantity_positive"),)


class ReturnCase(Base):
    """A customer's return or exchange of a product, on its request of kind "return": the outcome
    the return windows proposed, who pays shipping, and where it stands: pending (approval) →
    approved → received → inspected → refunded / exchanged / repaired, or rejected / cancelled.
    The state moves only by a conditional UPDATE from the expected state, so one press wins."""

    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), unique=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    reason_kind: Mapped[str] = mapped_column(String(16))  # unused, quality
    proposed_outcome: Mapped[str] = mapped_column(String(16))  # refund_unused, refund, exchange, free_repair, paid_repair
    shipping_paid_by: Mapped[str] = mapped_column(String(16))  # customer, company
    counted_from: Mapped[date | None] = mapped_column(Date)  # the sale (or commissioning) date the windows ran from
    days_since: Mapped[int | None] = mapped_column(Integer)  # days from that date to the day it was asked
    state: Mapped[str] = mapped_column(String(16), index=True)
    note: Mapped[str | None] = mapped_column(Text)  # why it was not approved
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    inspected_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class Complaint(Base):
    """A customer's complaint, on its own request of kind "complaint" (number, timeline, deadline clock).

    The complaint supervisor investigates (notes, linked requests), decides whether it was the
    service's fault (`service_fault`: only those count in the complaint rate), records the
    corrective action and answers the customer in writing: open → investigating → answered.
    """

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), unique=True)
    about_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"), index=True)
    subject: Mapped[str] = mapped_column(String(16))  # service, engineer, product
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)  # the engineer complained about
    source: Mapped[str] = mapped_column(String(16))  # card, command, survey, intake
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)  # open, investigating, answered
    service_fault: Mapped[bool | None] = mapped_column(Boolean)  # None until the cause is decided
    cause_note: Mapped[str | None] = mapped_column(Text)
    corrective_action: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)  # the written answer sent to the customer
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ComplaintNote(Base):
    """One investigation note of the complaint supervisor."""

    __tablename__ = "complaint_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ComplaintLink(Base):
    """A request the supervisor linked to a complaint while investigating it."""

    __tablename__ = "complaint_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("complaint_id", "request_id", name="uq_complaint_links_pair"),)


class FollowUpCall(Base):
    """A follow-up call the callback role owes the customer of a closed job (round 1, then 2).

    Due from `due_on` and late after `due_by` (local dates); state: due → done. The outcome and
    the customer's feedback are kept for the monthly report.
    """

    __tablename__ = "follow_up_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    due_by: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), index=True)  # due, done
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls tried without reaching the customer
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(16))  # satisfied, not_satisfied, unreachable
    feedback: Mapped[str | None] = mapped_column(Text)
    reminded_on: Mapped[date | None] = mapped_column(Date)  # the callback role was last told on this day
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("request_id", "round", name="uq_follow_up_calls_round"),)


class MaintenanceReminder(Base):
    """A product's maintenance falling due on `due_on`, announced once to its customer and the dispatchers."""

    __tablename__ = "maintenance_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    booked_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    created_at: Mapped[datetime]
    # When the due date came with nothing booked and the customer and dispatchers were told again
    # (bot/services/maintenance.py); set once, by the sweep that claimed it.
    due_day_chased_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("product_id", "due_on", name="uq_maintenance_reminders_due"),)
