"""The managers' monthly report: every figure and KPI, each defined once, here.

The definitions (the README section "Monthly report and KPIs" says the same in prose):

- **Month**: a calendar month in the desk's time zone (`TIMEZONE`); a moment belongs to the
  month its local date falls in.
- **Job**: a request of kind repair, installation or maintenance that is closed, counted in the
  month of its closing: the customer's confirmation, the confirmation timeout, or the
  dispatcher closing it (the latest of those timeline events).
- **On time**: a closed job none of whose deadline clocks ended "breached".
  On-time rate = on-time jobs / closed jobs.
- **Satisfied**: a rated survey with at least `satisfied_from_stars` stars. A rating belongs to
  the request it rates and counts in the month that request was closed (for a job, the month it
  counts in), whenever the stars were given (the next morning, in the next month) and whether or
  not the customer answered the optional on-time question and comment after them: the month's
  satisfaction is that of the month's work, over the same surveys as the engineers' and regions'
  average stars, and the trend counts it the same way.
  Satisfaction = satisfied surveys / rated surveys of the requests closed in the month.
- **Complaint rate**: complaints registered in the month that were decided to be the service's
  fault (`service_fault` true; undecided and not-our-fault ones do not count) / jobs closed in it.
- **Complaint hot spots**: the complaints registered in the month, whatever their decision (one
  the customer withdrew does not count), by subject (service, engineer, product), by decision (the
  service's fault, not, not decided yet) and by the model of the registered product of the request
  each is about (none: "no registered product"). The message shows the top models, the workbook all.
- A KPI with a denominator of 0 has **no data** (neither met nor missed). Rates are shown in
  percent rounded half-up to 0.1; met/missed compares the exact fraction with the target.
- **Person-trips**: engineer arrivals on site in the month (`visits.arrived_at`), installation
  requests vs. all other kinds ("service dispatches").
- **Other work**: the reports on a request of another kind (a return an engineer went to) closed
  in the month (as a job; for a return also when the warehouse finished it): not a job (no KPI,
  fault type or job count), but its hours are service dispatch person-days and labour cost, its
  parts material, its travel transport, for its engineer and region like a job's.
- **Reports of a job**: every report sent on it, the ones the customer disputed too (each attempt's
  work was done; the repeat repair is reported anew). The job's *last* report (the confirmed one,
  or a disputed one the dispatcher closed the job after) gives its fault type, certificate and
  engineer.
- **Person-days**: labour hours on the reports of the month's jobs / `hours_per_person_day`,
  split the same way; **labour cost** = those hours × `labour_cost_per_hour`.
- **Material cost**: parts on those reports × their catalog price when the report was written (the
  current price for reports from before that was kept), so re-running an old month after a price
  change gives the same figure; parts without a price (or not from the catalog) are counted and
  reported as unpriced, not costed.
- **Transport cost**: the travel cost on those reports. **Total** = both labour costs + material
  + transport. Money is in fen.
- **Fault types**: the last report's fault type on repair and maintenance jobs (no type on older
  reports: "not classified"); share = jobs of the type / those jobs.
- **Top products**: the registered product's model by number of repair jobs (requests without a
  registered product are left out).
- **Per engineer**: a job is of the engineer who wrote its last report (else the one assigned);
  average stars over their jobs with a rated survey; labour hours = those of the reports they
  wrote themselves, a disputed one too; repeat repairs = repairs of theirs the customer said were
  not resolved (the engineer whose report was disputed, though another may have finished the job;
  a job disputed again after another engineer took it over counts for each of them, once);
  certificates = their installation reports with the acceptance certificate signed.
- **Per region**: the region of that engineer (`User.region`, none: "no region"); the cost of each
  report goes to the region of the engineer who wrote it; a service-fault complaint goes to the
  region of the engineer it names, else of the engineer of the request it is about.
- **Follow-up calls**: calls done in the month by outcome.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from bot.policy import ReportPolicy
from bot.services.clocks import BREACHED
from bot.services.complaints import SUBJECTS as COMPLAINT_SUBJECTS
from bot.services.users import COST_READERS
from storage.db import UnitOfWork
from storage.models import (
    Complaint,
    FollowUpCall,
    JobReport,
    Part,
    Product,
    RequestEvent,
    ServiceRequest,
    SlaClock,
    Survey,
    User,
    Visit,
)

JOB_KINDS = ("repair", "installation", "maintenance")
INSTALLATION = "installation"
FAULT_KINDS = ("repair", "maintenance")
CLOSED, CANCELLED = "closed", "cancelled"
CLOSING_ACTIONS = ("confirmed", "confirmed_by_timeout", "closed_by_dispatcher")
# a return the warehouse finished (returns.track): its request's closing, the engineer's report confirmed or not
RETURN_CLOSINGS = ("return_refunded", "return_exchanged", "return_repaired", "return_sent_back")
NOT_CLASSIFIED = "not_classified"
TOP_PRODUCTS = 5
ON_TIME, SATISFACTION, COMPLAINT_RATE = "on_time", "satisfaction", "complaint_rate"
SERVICE_FAULT, NOT_SERVICE_FAULT, UNDECIDED = "service_fault", "not_service_fault", "undecided"
COMPLAINT_DECISIONS = (SERVICE_FAULT, NOT_SERVICE_FAULT, UNDECIDED)
FOLLOW_UP_OUTCOMES = ("satisfied", "not_satisfied", "unreachable")
PICKER_MONTHS = 12  # the month picker offers the current month and the 11 before it
OUTBOX_KIND = "monthly_report"  # the automatic send to a manager: {"month": YYYYMM}, built when sent


def may_read(user: User) -> bool:
    """Who reads the report: active managers and finance, checked again when a queued report is
    sent (a manager who changed roles meanwhile no longer gets the figures)."""
    return user.is_active and bool(user.role_names & COST_READERS)
_TENTH = Decimal("0.1")


# --- months ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    """A local calendar month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 2000 <= self.year <= 9999):
            raise ValueError(f"no such month: {self.year}-{self.month}")

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> Month:
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    @classmethod
    def from_code(cls, code: int) -> Month:
        """From `YYYYMM` (the month buttons' payload); ValueError when it names no month."""
        return cls(code // 100, code % 100)

    @property
    def code(self) -> int:
        return self.year * 100 + self.month

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def start(self, tz: ZoneInfo) -> datetime:
        """The month's first local midnight, in UTC."""
        return datetime(self.year, self.month, 1, tzinfo=tz).astimezone(timezone.utc)

    def end(self, tz: ZoneInfo) -> datetime:
        """The next month's first local midnight, in UTC (exclusive)."""
        return self.shift(1).start(tz)


def picker_months(now: datetime, tz: ZoneInfo) -> list[Month]:
    """The months a manager may pick: the current one (to date) and the 11 before, newest first."""
    current = Month.of(now, tz)
    return [current.shift(-i) for i in range(PICKER_MONTHS)]


def due_report_month(now: datetime, tz: ZoneInfo, policy: ReportPolicy) -> Month | None:
    """The month whose report is due to the managers by now: the previous month, from the send
    day and time of the current month on (a desk that was down then catches up within the month)."""
    local = now.astimezone(tz)
    send_moment = datetime.combine(date(local.year, local.month, policy.send_day), policy.send_at, tzinfo=tz)
    return Month.of(now, tz).shift(-1) if local >= send_moment else None


# --- rates and KPIs ------------------------------------------------------------------------


def percent(count: int, total: int) -> Decimal | None:
    """count / total in percent, rounded half-up to 0.1; None (no data) when total is 0."""
    if total == 0:
        return None
    return (Decimal(count * 100) / Decimal(total)).quantize(_TENTH, rounding=ROUND_HALF_UP)


def average(values: Sequence[int]) -> Decimal | None:
    if not values:
        return None
    return (Decimal(sum(values)) / Decimal(len(values))).quantize(_TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Kpi:
    """A rate against its target: `at_least` targets are met at or above, the others below."""

    name: str
    count: int
    total: int
    target: Decimal
    at_least: bool

    @property
    def rate(self) -> Decimal | None:
        return percent(self.count, self.total)

    @property
    def met(self) -> bool | None:
        """True met, False missed, None no data. Compares the exact fraction, not the rounded rate."""
        if self.total == 0:
            return None
        scaled, bound = Decimal(self.count * 100), self.target * self.total
        return scaled >= bound if self.at_least else scaled < bound


def kpis(closed_jobs: int, on_time_jobs: int, survey_stars: Iterable[int], service_fault_complaints: int, policy: ReportPolicy) -> tuple[Kpi, Kpi, Kpi]:
    stars = list(survey_stars)
    satisfied = sum(1 for s in stars if s >= policy.satisfied_from_stars)
    return (
        Kpi(ON_TIME, on_time_jobs, closed_jobs, policy.on_time_target, True),
        Kpi(SATISFACTION, satisfied, len(stars), policy.satisfaction_target, True),
        Kpi(COMPLAINT_RATE, service_fault_complaints, closed_jobs, policy.complaint_rate_limit, False),
    )


# --- the rows a month is computed from -----------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One report on a job, a disputed one too: that engineer's own hours, parts and travel."""

    engineer_id: int | None
    engineer: str | None
    region: str | None
    hours: Decimal
    parts_cost: int  # fen, priced parts only
    unpriced_parts: int
    travel_cost: int  # fen


@dataclass(frozen=True)
class JobRow:
    """One job closed in the month, with what its reports, survey and clocks say. Hours, parts and
    travel add up every report on it (`attempts`); the engineer is the one of the last report."""

    request_id: int
    number: str
    kind: str
    product: str | None
    engineer_id: int | None
    engineer: str | None
    region: str | None
    closed_at: datetime
    on_time: bool
    stars: int | None  # of its survey, once rated
    has_report: bool
    hours: Decimal
    parts_cost: int  # fen, priced parts only
    unpriced_parts: int  # report lines without a catalog price
    travel_cost: int  # fen
    fault_type: str | None
    certificate: bool
    repeat_repair: bool
    # whose repairs the customer disputed, when known (id, name, region), each once; else the job's engineer
    disputed_engineers: tuple[tuple[int, str, str | None], ...] = ()
    attempts: tuple[Attempt, ...] = ()  # every report on the job, oldest first

    def costed_attempts(self) -> tuple[Attempt, ...]:
        """Whose hours and costs these are: its attempts; a job without them as one of its engineer."""
        return self.attempts or (Attempt(self.engineer_id, self.engineer, self.region, self.hours, self.parts_cost, self.unpriced_parts, self.travel_cost),)


@dataclass(frozen=True)
class TripRow:
    """One engineer arrival on site in the month."""

    engineer_id: int
    engineer: str
    region: str | None
    kind: str


@dataclass(frozen=True)
class ComplaintRow:
    """One complaint registered in the month."""

    subject: str  # a COMPLAINT_SUBJECTS value
    model: str | None  # of the registered product of the request it is about
    service_fault: bool | None  # None: not decided yet


@dataclass(frozen=True)
class MonthRows:
    month: Month
    jobs: tuple[JobRow, ...]
    trips: tuple[TripRow, ...]
    survey_stars: tuple[int, ...]  # rated surveys of the requests closed in the month
    complaint_regions: tuple[str | None, ...]  # one per service-fault complaint registered in the month
    follow_ups: dict[str, int]  # follow-up calls done in the month, by outcome
    complaints: tuple[ComplaintRow, ...] = ()  # every complaint registered in the month
    other_work: tuple[JobRow, ...] = ()  # requests of other kinds closed in the month with reports (a return's visit)


# --- figures (pure functions over the rows) -----------------------------------------------


@dataclass(frozen=True)
class Effort:
    """One cost line: installation & commissioning, or service dispatches."""

    trips: int
    hours: Decimal
    person_days: Decimal
    cost: int  # fen


def labour_cost(hours: Decimal, policy: ReportPolicy) -> int:
    """Hours × the hourly labour cost, in fen (rounded half-up)."""
    return int((hours * policy.labour_cost_per_hour * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def effort(jobs: Iterable[JobRow], trips: Iterable[TripRow], installation: bool, policy: ReportPolicy) -> Effort:
    hours = sum((j.hours for j in jobs if (j.kind == INSTALLATION) == installation), Decimal(0))
    count = sum(1 for t in trips if (t.kind == INSTALLATION) == installation)
    days = (hours / policy.hours_per_person_day).quantize(_TENTH, rounding=ROUND_HALF_UP)
    return Effort(count, hours, days, labour_cost(hours, policy))


@dataclass(frozen=True)
class FaultShare:
    fault_type: str  # a FAULT_TYPE_LABELS key, or NOT_CLASSIFIED
    jobs: int
    share: Decimal


def fault_shares(jobs: Iterable[JobRow]) -> list[FaultShare]:
    """Fault types of repair and maintenance reports, most frequent first."""
    counts = Counter(j.fault_type or NOT_CLASSIFIED for j in jobs if j.kind in FAULT_KINDS and j.has_report)
    total = sum(counts.values())
    return [FaultShare(kind, n, percent(n, total)) for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


@dataclass(frozen=True)
class ProductCount:
    model: str
    jobs: int


def top_products(jobs: Iterable[JobRow], limit: int = TOP_PRODUCTS) -> list[ProductCount]:
    counts = Counter(j.product for j in jobs if j.kind == "repair" and j.product)
    return [ProductCount(model, n) for model, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]]


@dataclass(frozen=True)
class ModelComplaints:
    model: str
    complaints: int


@dataclass(frozen=True)
class ComplaintSpots:
    """Where the month's complaints cluster (the message shows the top models, the workbook all)."""

    total: int
    by_subject: dict[str, int]  # every subject, in COMPLAINT_SUBJECTS order
    by_decision: dict[str, int]  # every decision, in COMPLAINT_DECISIONS order
    by_model: list[ModelComplaints]  # most complained about first
    no_product: int  # about no request, or one without a registered product


def complaint_spots(complaints: Sequence[ComplaintRow]) -> ComplaintSpots:
    decisions = Counter({True: SERVICE_FAULT, False: NOT_SERVICE_FAULT, None: UNDECIDED}[c.service_fault] for c in complaints)
    subjects = Counter(c.subject for c in complaints)
    models = Counter(c.model for c in complaints if c.model)
    return ComplaintSpots(
        total=len(complaints),
        by_subject={subject: subjects[subject] for subject in COMPLAINT_SUBJECTS},
        by_decision={decision: decisions[decision] for decision in COMPLAINT_DECISIONS},
        by_model=[ModelComplaints(model, n) for model, n in sorted(models.items(), key=lambda item: (-item[1], item[0]))],
        no_product=sum(1 for c in complaints if not c.model),
    )


@dataclass(frozen=True)
class EngineerLine:
    engineer_id: int
    name: str
    region: str | None
    jobs: int
    trips: int
    on_time: Decimal | None
    average_stars: Decimal | None
    repeat_repairs: int
    certificates: int
    hours: Decimal = Decimal(0)  # labour hours of their own reports on the month's jobs


def engineer_lines(jobs: Sequence[JobRow], trips: Sequence[TripRow], other_work: Sequence[JobRow] = ()) -> list[EngineerLine]:
    """Everyone who closed a job, reported on one or arrived on site in the month, most jobs first.
    Each one's labour hours are those of their own reports (a disputed attempt stays its engineer's),
    the ones on `other_work` too."""
    names: dict[int, tuple[str, str | None]] = {}
    by_engineer: dict[int, list[JobRow]] = defaultdict(list)
    for job in jobs:
        if job.engineer_id is not None:
            by_engineer[job.engineer_id].append(job)
            names[job.engineer_id] = (job.engineer or "", job.region)
    hours: dict[int, Decimal] = defaultdict(Decimal)
    for attempt in (a for job in (*jobs, *other_work) for a in job.costed_attempts() if a.engineer_id is not None):
        hours[attempt.engineer_id] += attempt.hours
        names.setdefault(attempt.engineer_id, (attempt.engineer or "", attempt.region))
    trip_counts = Counter(t.engineer_id for t in trips)
    for trip in trips:
        names.setdefault(trip.engineer_id, (trip.engineer, trip.region))
    repeats: Counter[int] = Counter()
    for job in jobs:
        if job.repeat_repair and job.disputed_engineers:
            for engineer_id, name, region in job.disputed_engineers:  # a job disputed twice: both engineers
                repeats[engineer_id] += 1
                names.setdefault(engineer_id, (name, region))
        elif job.repeat_repair and job.engineer_id is not None:
            repeats[job.engineer_id] += 1
    lines = []
    for engineer_id, (name, region) in names.items():
        own = by_engineer.get(engineer_id, [])
        lines.append(EngineerLine(
            engineer_id, name, region, len(own), trip_counts[engineer_id],
            percent(sum(1 for j in own if j.on_time), len(own)),
            average([j.stars for j in own if j.stars is not None]),
            repeats[engineer_id],
            sum(1 for j in own if j.kind == INSTALLATION and j.certificate),
            hours.get(engineer_id, Decimal(0)),
        ))
    return sorted(lines, key=lambda line: (-line.jobs, -line.trips, line.name))


@dataclass(frozen=True)
class RegionLine:
    region: str | None  # None: engineers without a region (and jobs without an engineer)
    jobs: int
    trips: int
    on_time: Decimal | None
    average_stars: Decimal | None
    cost: int  # fen: labour + material + transport of the reports its engineers wrote on the month's jobs
    complaints: int  # service-fault complaints


def region_lines(jobs: Sequence[JobRow], trips: Sequence[TripRow], complaint_regions: Sequence[str | None], policy: ReportPolicy,
                 other_work: Sequence[JobRow] = ()) -> list[RegionLine]:
    """Jobs by the region of their engineer; costs by the region of the engineer of each report
    (the reports on `other_work` too)."""
    hours: dict[str | None, Decimal] = defaultdict(Decimal)
    money: Counter[str | None] = Counter()
    for attempt in (a for job in (*jobs, *other_work) for a in job.costed_attempts()):
        hours[attempt.region] += attempt.hours
        money[attempt.region] += attempt.parts_cost + attempt.travel_cost
    regions = {j.region for j in jobs} | set(hours) | {t.region for t in trips} | set(complaint_regions)
    lines = []
    for region in regions:
        own = [j for j in jobs if j.region == region]
        lines.append(RegionLine(
            region, len(own), sum(1 for t in trips if t.region == region),
            percent(sum(1 for j in own if j.on_time), len(own)),
            average([j.stars for j in own if j.stars is not None]),
            labour_cost(hours[region], policy) + money[region],
            sum(1 for r in complaint_regions if r == region),
        ))
    return sorted(lines, key=lambda line: (line.region is None, -line.jobs, line.region or ""))


@dataclass(frozen=True)
class TrendPoint:
    month: Month
    on_time: Kpi
    satisfaction: Kpi
    complaint_rate: Kpi


@dataclass(frozen=True)
class MonthlyReport:
    month: Month
    to_date: bool  # the current month, so far
    installation: Effort
    service: Effort
    material: int
    unpriced_parts: int
    transport: int
    total: int
    kpis: tuple[Kpi, Kpi, Kpi]
    faults: list[FaultShare]
    top_products: list[ProductCount]
    engineers: list[EngineerLine]
    regions: list[RegionLine]
    follow_ups: dict[str, int]
    complaints: ComplaintSpots
    jobs: tuple[JobRow, ...]
    trend: tuple[TrendPoint, ...]
    other_work: tuple[JobRow, ...] = ()  # costed with the service dispatches, not jobs


def build(rows: MonthRows, trend: Sequence[TrendPoint], policy: ReportPolicy, *, to_date: bool) -> MonthlyReport:
    jobs, trips, other = list(rows.jobs), list(rows.trips), list(rows.other_work)
    costed = jobs + other  # every report's hours, parts and travel; other work is never an installation
    installation = effort(costed, trips, True, policy)
    service = effort(costed, trips, False, policy)
    material = sum(j.parts_cost for j in costed)
    transport = sum(j.travel_cost for j in costed)
    return MonthlyReport(
        month=rows.month, to_date=to_date, installation=installation, service=service,
        material=material, unpriced_parts=sum(j.unpriced_parts for j in costed), transport=transport,
        total=installation.cost + service.cost + material + transport,
        kpis=kpis(len(jobs), sum(1 for j in jobs if j.on_time), rows.survey_stars, len(rows.complaint_regions), policy),
        faults=fault_shares(jobs), top_products=top_products(jobs),
        engineers=engineer_lines(jobs, trips, other), regions=region_lines(jobs, trips, rows.complaint_regions, policy, other),
        follow_ups={outcome: rows.follow_ups.get(outcome, 0) for outcome in FOLLOW_UP_OUTCOMES},
        complaints=complaint_spots(rows.complaints), jobs=rows.jobs, trend=tuple(trend), other_work=rows.other_work,
    )


def is_empty(report: MonthlyReport) -> bool:
    """Nothing happened in the month (e.g. before the desk was in use): the automatic send skips it."""
    on_time, satisfaction, complaints = report.kpis
    return not (report.jobs or report.other_work or report.installation.trips or report.service.trips or satisfaction.total
                or report.complaints.total or any(report.follow_ups.values()))


def trend_points(months: Sequence[Month], jobs: Iterable[tuple[Month, bool]], surveys: Iterable[tuple[Month, int]],
                 complaints: Iterable[Month], policy: ReportPolicy) -> list[TrendPoint]:
    """The three KPIs per month from (month, on time) of closed jobs, (month, stars) of rated
    surveys (the month their request was closed) and the months of service-fault complaints."""
    closed, on_time, stars, complained = Counter(), Counter(), defaultdict(list), Counter(complaints)
    for month, punctual in jobs:
        closed[month] += 1
        on_time[month] += punctual
    for month, value in surveys:
        stars[month].append(value)
    return [TrendPoint(m, *kpis(closed[m], on_time[m], stars[m], complained[m], policy)) for m in months]


# --- loading a month from the database ------------------------------------------------------


def _closing_times(since: datetime):
    """Per request, when it was closed: the latest closing event on its timeline. Only events from
    `since` on are read: a request whose latest closing is later has them all, one whose latest
    closing is earlier has none and drops out, which is what the callers want anyway."""
    return (
        select(RequestEvent.request_id.label("request_id"), func.max(RequestEvent.created_at).label("closed_at"))
        .where(RequestEvent.action.in_(CLOSING_ACTIONS + RETURN_CLOSINGS), RequestEvent.created_at >= since)
        .group_by(RequestEvent.request_id)
        .subquery()
    )


def _breached():
    """Some deadline clock of the request ended breached (for an approval clock: any of its steps)."""
    return exists().where(SlaClock.request_id == ServiceRequest.id, or_(SlaClock.outcome == BREACHED, SlaClock.earlier_breach.is_(True)))


def _rated_surveys(closing, start: datetime, end: datetime):
    """(when its request was closed, stars) of every rated survey of a request closed in [start, end):
    a rating counts in the month of the request it rates, for the month and the trend alike."""
    return (
        select(closing.c.closed_at, Survey.stars).select_from(Survey)
        .join(ServiceRequest, ServiceRequest.id == Survey.request_id).join(closing, closing.c.request_id == ServiceRequest.id)
        .where(Survey.stars.is_not(None), ServiceRequest.status == CLOSED, closing.c.closed_at >= start, closing.c.closed_at < end)
    )


def _display_name(user: User) -> str:
    return user.full_name or user.first_name or f"#{user.telegram_id}"


async def load_month(uow: UnitOfWork, month: Month, tz: ZoneInfo) -> MonthRows:
    """Every row the month's report is computed from (a handful of queries, whatever the size)."""
    start, end = month.start(tz), month.end(tz)
    session = uow.session
    closing = _closing_times(start)
    engineer = aliased(User)
    completed = aliased(Survey)
    closed_any_kind = (ServiceRequest.status == CLOSED, closing.c.closed_at >= start, closing.c.closed_at < end)
    closed_in_month = (ServiceRequest.kind.in_(JOB_KINDS), *closed_any_kind)
    result = await session.execute(
        select(ServiceRequest, closing.c.closed_at, _breached().label("breached"), Product.model, completed.stars, engineer)
        .join(closing, closing.c.request_id == ServiceRequest.id)
        .outerjoin(Product, Product.id == ServiceRequest.product_id)
        .outerjoin(completed, and_(completed.request_id == ServiceRequest.id, completed.stars.is_not(None)))
        .outerjoin(engineer, engineer.id == ServiceRequest.assigned_engineer_id)
        .where(*closed_in_month)
        .order_by(closing.c.closed_at, ServiceRequest.id)
    )
    found = result.all()
    reports: dict[int, list[tuple[JobReport, User]]] = defaultdict(list)  # every report of each job, disputed ones too
    other: dict[int, ServiceRequest] = {}  # the other work: closed requests of other kinds with reports
    for report, author, request in (await session.execute(
        select(JobReport, User, ServiceRequest).join(User, User.id == JobReport.engineer_id)
        .join(ServiceRequest, ServiceRequest.id == JobReport.request_id).join(closing, closing.c.request_id == ServiceRequest.id)
        .where(*closed_any_kind).order_by(JobReport.id)
    )).all():
        reports[report.request_id].append((report, author))
        if request.kind not in JOB_KINDS:
            other[request.id] = request
    closed_at_of = dict((await session.execute(
        select(closing.c.request_id, closing.c.closed_at).where(closing.c.request_id.in_(other)))).all()) if other else {}
    part_ids = {p.part_id for written in reports.values() for report, _ in written for p in report.parts if p.part_id}
    prices = dict((await session.execute(select(Part.id, Part.price).where(Part.id.in_(part_ids)))).all()) if part_ids else {}
    disputed = await _disputed_engineers(uow, [row[0].id for row in found if row[0].repeat_repair])
    jobs = tuple(_job_row(request, closed_at, bool(breached), reports.get(request.id, []), model, stars, assigned, prices, disputed.get(request.id, ()))
                 for request, closed_at, breached, model, stars, assigned in found)
    other_work = tuple(_job_row(request, closed_at_of[request.id], False, reports[request.id], None, None, None, prices)
                       for request in sorted(other.values(), key=lambda r: (closed_at_of[r.id], r.id)))

    trips = tuple(
        TripRow(user.id, _display_name(user), user.region, kind)
        for user, kind in (await session.execute(
            select(User, ServiceRequest.kind).select_from(Visit)
            .join(ServiceRequest, ServiceRequest.id == Visit.request_id).join(User, User.id == Visit.engineer_id)
            .where(Visit.arrived_at >= start, Visit.arrived_at < end).order_by(Visit.arrived_at, Visit.id)
        )).all()
    )
    stars = tuple(value for _closed, value in (await session.execute(_rated_surveys(closing, start, end).order_by(Survey.id))).all())
    about, concerned = aliased(ServiceRequest), aliased(User)
    complaint_regions = tuple(await session.scalars(
        select(concerned.region).select_from(Complaint)
        .outerjoin(about, about.id == Complaint.about_request_id)
        .outerjoin(concerned, concerned.id == func.coalesce(Complaint.engineer_id, about.assigned_engineer_id))
        .where(_counted_complaint(), Complaint.created_at >= start, Complaint.created_at < end)
        .order_by(Complaint.id)
    ))
    complaints = tuple(
        ComplaintRow(subject, model, service_fault)
        for subject, model, service_fault in (await session.execute(
            select(Complaint.subject, Product.model, Complaint.service_fault).select_from(Complaint)
            .outerjoin(about, about.id == Complaint.about_request_id).outerjoin(Product, Product.id == about.product_id)
            .where(~_withdrawn(), Complaint.created_at >= start, Complaint.created_at < end)
            .order_by(Complaint.id)
        )).all()
    )
    follow_ups = dict((await session.execute(
        select(FollowUpCall.outcome, func.count()).where(FollowUpCall.done_at >= start, FollowUpCall.done_at < end, FollowUpCall.outcome.is_not(None))
        .group_by(FollowUpCall.outcome)
    )).all())
    return MonthRows(month, jobs, trips, stars, complaint_regions, follow_ups, complaints, other_work)


def _withdrawn():
    """The customer withdrew the complaint (cancelled its request) before the answer."""
    return exists(select(ServiceRequest.id).where(ServiceRequest.id == Complaint.request_id, ServiceRequest.status == CANCELLED))


def _counted_complaint():
    """A complaint found to be the service's fault, unless the customer withdrew it before the
    answer: its cause was never final."""
    return and_(Complaint.service_fault.is_(True), ~_withdrawn())


async def _disputed_engineers(uow: UnitOfWork, request_ids: list[int]) -> dict[int, tuple[tuple[int, str, str | None], ...]]:
    """Per repeat repair, every engineer whose report the customer disputed, each once, in order
    (recorded on the "disputed" event since it names them; older events do not): a job disputed
    again after another engineer took it over is a repeat repair of both."""
    if not request_ids:
        return {}
    events = await uow.session.execute(
        select(RequestEvent.request_id, RequestEvent.details).where(RequestEvent.request_id.in_(request_ids), RequestEvent.action == "disputed")
        .order_by(RequestEvent.id))
    engineers_of: dict[int, list[int]] = defaultdict(list)
    for request_id, details in events.all():
        engineer_id = (details or {}).get("engineer_id")
        if engineer_id and engineer_id not in engineers_of[request_id]:
            engineers_of[request_id].append(engineer_id)
    wanted = {engineer_id for ids in engineers_of.values() for engineer_id in ids}
    people = {u.id: u for u in await uow.session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    found = {request_id: tuple((engineer_id, _display_name(people[engineer_id]), people[engineer_id].region)
                               for engineer_id in ids if engineer_id in people)
             for request_id, ids in engineers_of.items()}
    return {request_id: engineers for request_id, engineers in found.items() if engineers}


def _attempt(report: JobReport, author: User, prices: dict[int, int | None]) -> Attempt:
    parts_cost = unpriced = 0
    for part in report.parts:
        price = part.unit_price if part.unit_price is not None else prices.get(part.part_id) if part.part_id else None
        if price is None:
            unpriced += 1
        else:
            parts_cost += price * part.quantity
    return Attempt(author.id, _display_name(author), author.region, Decimal(str(report.labour_hours)), parts_cost, unpriced, report.travel_cost)


def _job_row(request: ServiceRequest, closed_at: datetime, breached: bool, reports: Sequence[tuple[JobReport, User]], model: str | None,
             stars: int | None, assigned: User | None, prices: dict[int, int | None],
             disputed_engineers: tuple[tuple[int, str, str | None], ...] = ()) -> JobRow:
    """`reports`: every report of the job, oldest first; the last one (the confirmed one, or the
    disputed one of a job the dispatcher closed) names its engineer, fault type and certificate."""
    attempts = tuple(_attempt(report, author, prices) for report, author in reports)
    last, engineer = reports[-1] if reports else (None, assigned)
    return JobRow(
        request_id=request.id, number=request.number, kind=request.kind, product=model,
        engineer_id=engineer.id if engineer else None, engineer=_display_name(engineer) if engineer else None,
        region=engineer.region if engineer else None, closed_at=closed_at, on_time=not breached, stars=stars,
        has_report=last is not None, hours=sum((a.hours for a in attempts), Decimal(0)),
        parts_cost=sum(a.parts_cost for a in attempts), unpriced_parts=sum(a.unpriced_parts for a in attempts),
        travel_cost=sum(a.travel_cost for a in attempts), fault_type=last.fault_type if last else None,
        certificate=bool(last and last.certificate), repeat_repair=request.repeat_repair, disputed_engineers=disputed_engineers,
        attempts=attempts,
    )


async def load_trend(uow: UnitOfWork, last: Month, months: int, tz: ZoneInfo, policy: ReportPolicy) -> list[TrendPoint]:
    """The three KPIs for `months` months ending with `last`: one query per figure for the whole span."""
    span = [last.shift(-i) for i in reversed(range(months))]
    start, end = span[0].start(tz), last.end(tz)
    session = uow.session
    closing = _closing_times(start)
    jobs = (await session.execute(
        select(closing.c.closed_at, _breached()).select_from(ServiceRequest)
        .join(closing, closing.c.request_id == ServiceRequest.id)
        .where(ServiceRequest.kind.in_(JOB_KINDS), ServiceRequest.status == CLOSED, closing.c.closed_at >= start, closing.c.closed_at < end)
    )).all()
    surveys = (await session.execute(_rated_surveys(closing, start, end))).all()
    complaints = await session.scalars(
        select(Complaint.created_at).where(_counted_complaint(), Complaint.created_at >= start, Complaint.created_at < end)
    )
    return trend_points(
        span,
        [(Month.of(at, tz), not bool(breached)) for at, breached in jobs],
        [(Month.of(at, tz), stars) for at, stars in surveys],
        [Month.of(at, tz) for at in complaints],
        policy,
    )


async def monthly_report(uow: UnitOfWork, month: Month, now: datetime, tz: ZoneInfo, policy: ReportPolicy) -> MonthlyReport:
    """The month's report with its KPI trend (the `trend_months` months ending with it)."""
    rows = await load_month(uow, month, tz)
    trend = await load_trend(uow, month, policy.trend_months, tz, policy)
    return build(rows, trend, policy, to_date=month == Month.of(now, tz))
