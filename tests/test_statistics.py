"""The monthly report against a month of seeded rows, on SQLite and PostgreSQL.

The rows are described once (JOBS, COMPLAINTS, …) and written straight into the tables; every
expected figure is computed here from those descriptions, independently of the implementation.
Rows just outside the month (in local time) check the boundaries.
"""
from __future__ import annotations

import asyncio
import dataclasses
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import DEFAULT_POLICY_FILE
from bot.i18n import Translator
from bot.policy import load_policy
from bot.report_files import SharedRenders, chart_png, font_for, workbook_xlsx
from bot.report_views import report_message
from bot.services import statistics
from bot.services.statistics import Month
from storage.models import (
    Complaint, Customer, FollowUpCall, JobReport, Part, Product, ReportPart, RequestEvent, ServiceRequest, SlaClock, Survey, User, Visit,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_policy(DEFAULT_POLICY_FILE).reports
MONTH = Month(2026, 3)
NOW = datetime(2026, 4, 2, 10, 0, tzinfo=SHANGHAI)
ENGINEERS = {"ed": ("Ed", "North"), "li": ("Li", "South"), "wu": ("Wu", None)}
PRICES = {"brg": 3550, "seal": None}  # fen; the seal has no catalog price
PRODUCTS = {"p100": "Pump P-100", "p200": "Pump P-200"}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class AttemptSeed:
    """A report on the job the customer disputed: kept, written before the job's last report."""

    engineer: str
    hours: str
    parts: tuple[tuple[str | None, int], ...] = ()
    travel: int = 0
    fault: str | None = None


@dataclass(frozen=True)
class JobSeed:
    kind: str
    engineer: str | None
    closed: datetime | None  # when the closing event happened (None: not closed)
    action: str = "confirmed"
    status: str = "closed"
    breached: bool = False
    stars: int | None = None  # a completed survey, at `survey_done` (default: when closed)
    survey_done: datetime | None = None
    report: bool = True
    hours: str = "1"
    parts: tuple[tuple[str | None, int], ...] = ()  # (part key, or None for a free-text part; quantity)
    travel: int = 0  # fen
    fault: str | None = None
    certificate: bool | None = None
    repeat: bool = False
    product: str | None = None
    arrivals: tuple[datetime, ...] = ()
    disputed: tuple[AttemptSeed, ...] = ()

    def attempts(self) -> list[AttemptSeed]:
        """Every report on the job, its last one included."""
        last = [AttemptSeed(self.engineer, self.hours, self.parts, self.travel, self.fault)] if self.report else []
        return [*self.disputed, *last]


JOBS = (
    JobSeed("repair", "ed", local(2026, 3, 1, 0, 5), stars=5, hours="2.5", parts=(("brg", 2),), travel=6000, fault="electrical",
            product="p100", arrivals=(local(2026, 2, 28, 22, 0),)),  # closed just inside; the arrival was in February
    JobSeed("repair", "ed", local(2026, 3, 10, 12), action="confirmed_by_timeout", breached=True, hours="1.5", parts=(("seal", 1),),
            travel=2000, fault="electrical", repeat=True, product="p100", arrivals=(local(2026, 3, 5, 9), local(2026, 3, 9, 9)),
            disputed=(AttemptSeed("li", "2", (("brg", 1),), 800, "mechanical"),)),  # Li's first attempt, disputed; Ed finished it
    JobSeed("installation", "li", local(2026, 3, 15, 18), stars=4, hours="8", travel=15000, fault="installation", certificate=True,
            arrivals=(local(2026, 3, 14, 9),)),
    JobSeed("maintenance", "li", local(2026, 3, 20, 11), stars=3, hours="1", parts=(("brg", 1), (None, 1)), fault="wear",
            product="p200", arrivals=(local(2026, 3, 19, 15),)),
    JobSeed("repair", "wu", local(2026, 3, 31, 23, 50), action="closed_by_dispatcher", report=False, product="p200",
            arrivals=(local(2026, 3, 30, 10),)),  # closed just inside, without a report
    JobSeed("repair", "ed", local(2026, 3, 25, 16), breached=True, stars=2, hours="3", parts=(("brg", 1),), travel=3050,
            fault=None, product="p200", arrivals=(local(2026, 3, 24, 9),)),  # a report from before fault types
    JobSeed("installation", "ed", local(2026, 3, 28, 10), stars=5, hours="4", travel=1000, fault="installation", certificate=False,
            arrivals=(local(2026, 3, 27, 14),)),
    JobSeed("repair", "ed", local(2026, 2, 28, 23, 55), stars=4, survey_done=local(2026, 3, 1, 10), hours="2", fault="mechanical",
            product="p100"),  # closed just before the month; its survey, done on 1 March, counts with it in February
    JobSeed("repair", "li", local(2026, 4, 1, 0, 5), breached=True, stars=1, hours="5", fault="sealing", product="p100",
            arrivals=(local(2026, 4, 1, 0, 1),)),  # just after the month
    JobSeed("consultation", "li", local(2026, 3, 12, 9), report=False),  # not a job
    JobSeed("repair", "li", local(2026, 3, 22, 9), status="resolved", action="report_submitted", hours="2", fault="control"),  # not closed
    JobSeed("repair", "ed", local(2026, 1, 20, 9), breached=True, stars=5, hours="1", fault="wear"),  # January, for the trend
)


@dataclass(frozen=True)
class ComplaintSeed:
    about: int | None  # index into JOBS
    engineer: str | None
    service_fault: bool | None
    created: datetime
    withdrawn: bool = False  # the customer cancelled it before the answer: not counted
    subject: str = "service"


COMPLAINTS = (
    ComplaintSeed(1, "ed", True, local(2026, 3, 12, 10), subject="engineer"),
    ComplaintSeed(4, None, True, local(2026, 3, 31, 23, 0)),  # the region of the engineer of the request it is about
    ComplaintSeed(2, None, False, local(2026, 3, 18, 10), subject="product"),  # about an installation without a registered product
    ComplaintSeed(None, None, None, local(2026, 3, 19, 10), subject="product"),  # not decided yet, about no request
    ComplaintSeed(0, None, False, local(2026, 3, 26, 10), subject="product"),  # the product, not the service's fault
    ComplaintSeed(5, None, False, local(2026, 3, 27, 10), subject="product"),
    ComplaintSeed(0, "ed", True, local(2026, 2, 28, 23, 59)),  # February
    ComplaintSeed(8, "li", True, local(2026, 4, 1, 0, 30)),  # April
    ComplaintSeed(3, "li", True, local(2026, 3, 21, 10), withdrawn=True),
)
FOLLOW_UPS = (  # (index into JOBS, outcome, done at)
    (0, "satisfied", local(2026, 3, 5, 10)), (1, "unreachable", local(2026, 3, 16, 10)), (2, "satisfied", local(2026, 3, 20, 10)),
    (3, "not_satisfied", local(2026, 4, 1, 9)),
)


async def _seed(database) -> dict[int, str]:
    """Write the rows; returns the request number of each JOBS entry."""
    t0 = local(2025, 12, 1)
    async with database.uow() as uow:
        session = uow.session
        boss = User(telegram_id=100, first_name="Dora", language="en", created_at=t0, roles=[])
        engineers = {key: User(telegram_id=200 + i, first_name=name, full_name=name, region=region, language="en", created_at=t0, roles=[])
                     for i, (key, (name, region)) in enumerate(ENGINEERS.items())}
        session.add_all([boss, *engineers.values()])
        await session.flush()
        customer = Customer(name="Farm", phone="+8613800138000", created_at=t0)
        parts = {key: Part(code=key.upper(), name=f"Part {key}", price=price) for key, price in PRICES.items()}
        products = {key: Product(serial=key.upper(), model=model) for key, model in PRODUCTS.items()}
        session.add_all([customer, *parts.values(), *products.values()])
        await session.flush()

        def request(number: int, kind: str, status: str, **values) -> ServiceRequest:
            return ServiceRequest(number=f"SR-2026-{number:06d}", kind=kind, status=status, customer_id=customer.id, description="x",
                                  created_by_user_id=boss.id, created_at=t0, updated_at=t0, **values)

        requests = []
        for index, job in enumerate(JOBS):
            engineer = engineers[job.engineer] if job.engineer else None
            row = request(index + 1, job.kind, job.status, assigned_engineer_id=engineer.id if engineer else None,
                          product_id=products[job.product].id if job.product else None, repeat_repair=job.repeat)
            session.add(row)
            requests.append(row)
        await session.flush()
        for job, row in zip(JOBS, requests):
            session.add(RequestEvent(request_id=row.id, action="created", details={}, created_at=t0))
            session.add(RequestEvent(request_id=row.id, action=job.action, details={}, created_at=job.closed))
            session.add(SlaClock(request_id=row.id, kind="first_contact", started_at=t0, stopped_at=t0, outcome="met", pauses=[]))
            session.add(SlaClock(request_id=row.id, kind="repair_completed", started_at=t0, stopped_at=job.closed,
                                 outcome="breached" if job.breached else "met", pauses=[]))
            for attempt in job.disputed:  # kept as the customer disputed them, before the last report
                earlier = job.closed - timedelta(days=2)
                session.add(JobReport(
                    request_id=row.id, engineer_id=engineers[attempt.engineer].id, symptom="s", cause="first try", solution="s",
                    labour_hours=float(attempt.hours), travel_cost=attempt.travel, customer_opinion="ok", fault_type=attempt.fault,
                    submitted_at=earlier, updated_at=earlier, confirmed_at=earlier, outcome="disputed", superseded_at=earlier,
                    parts=[ReportPart(part_id=parts[key].id if key else None, name=key or "Grease", quantity=qty) for key, qty in attempt.parts],
                ))
                await session.flush()
            if job.report:
                session.add(JobReport(
                    request_id=row.id, engineer_id=engineers[job.engineer].id, symptom="s", cause="c", solution="s",
                    labour_hours=float(job.hours), travel_cost=job.travel, customer_opinion="ok", certificate=job.certificate,
                    fault_type=job.fault, submitted_at=job.closed, updated_at=job.closed,
                    parts=[ReportPart(part_id=parts[key].id if key else None, name=key or "Grease", quantity=qty) for key, qty in job.parts],
                ))
            if job.stars is not None:
                done = job.survey_done or job.closed
                session.add(Survey(request_id=row.id, stars=job.stars, created_at=done, completed_at=done))
            for arrived in job.arrivals:
                session.add(Visit(request_id=row.id, engineer_id=engineers[job.engineer].id, state="arrived", arrived_at=arrived, created_at=arrived))
        # A survey started but never finished counts nowhere.
        session.add(Survey(request_id=requests[4].id, stars=None, created_at=local(2026, 3, 31, 23, 55)))
        for index, seed in enumerate(COMPLAINTS):
            own = request(500 + index, "complaint", "cancelled" if seed.withdrawn else "new")
            session.add(own)
            await session.flush()
            session.add(Complaint(
                request_id=own.id, about_request_id=requests[seed.about].id if seed.about is not None else None, subject=seed.subject,
                engineer_id=engineers[seed.engineer].id if seed.engineer else None, source="command", state="open",
                service_fault=seed.service_fault, created_at=seed.created, updated_at=seed.created,
            ))
        for index, outcome, done in FOLLOW_UPS:
            session.add(FollowUpCall(request_id=requests[index].id, round=1, due_on=date(2026, 3, 1), due_by=date(2026, 3, 5), state="done",
                                     outcome=outcome, done_at=done, created_at=t0))
        await uow.commit()
        return {index: row.number for index, row in enumerate(requests)}


# --- what the seeded rows say, computed here -------------------------------------------------


def _in(month: Month, moment: datetime) -> bool:
    local_moment = moment.astimezone(SHANGHAI)
    return (local_moment.year, local_moment.month) == (month.year, month.month)


def _closed_jobs(month: Month) -> list[tuple[int, JobSeed]]:
    return [(i, j) for i, j in enumerate(JOBS)
            if j.kind in ("repair", "installation", "maintenance") and j.status == "closed" and _in(month, j.closed)]


def _pct(count: int, total: int) -> Decimal | None:
    return None if total == 0 else (Decimal(100 * count) / total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _stars(month: Month) -> list[int]:
    """A rating counts in the month its request was closed, whenever it was given."""
    return [j.stars for j in JOBS if j.stars is not None and j.status == "closed" and _in(month, j.closed)]


def _fault_complaints(month: Month) -> list[ComplaintSeed]:
    return [c for c in COMPLAINTS if c.service_fault is True and not c.withdrawn and _in(month, c.created)]


def _parts_cost(attempt: AttemptSeed | JobSeed) -> int:
    return sum(PRICES[key] * qty for key, qty in attempt.parts if key and PRICES[key] is not None)


def _job_hours(job: JobSeed) -> Decimal:
    return sum((Decimal(a.hours) for a in job.attempts()), Decimal(0))


def _job_costs(job: JobSeed) -> int:
    """Parts and travel of every report on the job."""
    return sum(_parts_cost(a) + a.travel for a in job.attempts())


def _labour(hours: Decimal) -> int:
    return int((hours * POLICY.labour_cost_per_hour * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def test_every_figure_of_the_month_matches_the_rows(database):
    numbers = await _seed(database)
    async with database.uow() as uow:
        report = await statistics.monthly_report(uow, MONTH, NOW, SHANGHAI, POLICY)
    jobs = _closed_jobs(MONTH)
    assert sorted(j.number for j in report.jobs) == sorted(numbers[i] for i, _ in jobs)
    assert report.to_date is False

    for installation, effort in ((True, report.installation), (False, report.service)):
        own = [j for _, j in jobs if (j.kind == "installation") == installation]
        hours = sum((_job_hours(j) for j in own), Decimal(0))
        trips = [a for j in JOBS for a in j.arrivals if _in(MONTH, a) and (j.kind == "installation") == installation]
        assert (effort.trips, effort.hours, effort.cost) == (len(trips), hours, _labour(hours))
        assert effort.person_days == (hours / POLICY.hours_per_person_day).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    material = sum(_parts_cost(a) for _, j in jobs for a in j.attempts())
    unpriced = sum(1 for _, j in jobs for a in j.attempts() for key, _q in a.parts if key is None or PRICES[key] is None)
    transport = sum(a.travel for _, j in jobs for a in j.attempts())
    assert (report.material, report.unpriced_parts, report.transport) == (material, unpriced, transport)
    assert report.total == report.installation.cost + report.service.cost + material + transport
    assert unpriced == 2 and material > 0  # the seed has both kinds of parts

    on_time, satisfaction, complaints = report.kpis
    punctual = sum(1 for _, j in jobs if not j.breached)
    stars = _stars(MONTH)
    satisfied = sum(1 for s in stars if s >= POLICY.satisfied_from_stars)
    fault_complaints = _fault_complaints(MONTH)
    assert (on_time.count, on_time.total, on_time.rate) == (punctual, len(jobs), _pct(punctual, len(jobs)))
    assert (satisfaction.count, satisfaction.total) == (satisfied, len(stars))
    assert (complaints.count, complaints.total) == (len(fault_complaints), len(jobs))
    assert on_time.met is (Decimal(100 * punctual) >= POLICY.on_time_target * len(jobs))
    assert satisfaction.met is (Decimal(100 * satisfied) >= POLICY.satisfaction_target * len(stars))
    assert complaints.met is (Decimal(100 * len(fault_complaints)) < POLICY.complaint_rate_limit * len(jobs))

    faults = defaultdict(int)
    for _, j in jobs:
        if j.kind in ("repair", "maintenance") and j.report:
            faults[j.fault or statistics.NOT_CLASSIFIED] += 1
    assert {f.fault_type: (f.jobs, f.share) for f in report.faults} == {k: (n, _pct(n, sum(faults.values()))) for k, n in faults.items()}
    assert [f.jobs for f in report.faults] == sorted(faults.values(), reverse=True)

    products = defaultdict(int)
    for _, j in jobs:
        if j.kind == "repair" and j.product:
            products[PRODUCTS[j.product]] += 1
    assert {p.model: p.jobs for p in report.top_products} == products
    assert report.top_products[0].jobs == max(products.values())

    for line in report.engineers:
        key = next(k for k, (name, _r) in ENGINEERS.items() if name == line.name)
        own = [j for _, j in jobs if j.engineer == key]
        own_stars = [j.stars for j in own if j.stars is not None]
        assert line.region == ENGINEERS[key][1]
        assert (line.jobs, line.trips) == (len(own), sum(1 for j in JOBS if j.engineer == key for a in j.arrivals if _in(MONTH, a)))
        assert line.on_time == _pct(sum(1 for j in own if not j.breached), len(own))
        assert line.average_stars == (None if not own_stars else (Decimal(sum(own_stars)) / len(own_stars)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
        assert (line.repeat_repairs, line.certificates) == (sum(j.repeat for j in own), sum(1 for j in own if j.kind == "installation" and j.certificate))
        assert line.hours == sum((Decimal(a.hours) for _, j in jobs for a in j.attempts() if a.engineer == key), Decimal(0))  # their own reports
    assert {line.name for line in report.engineers} == {ENGINEERS[j.engineer][0] for _, j in jobs}

    region_of = {key: region for key, (_n, region) in ENGINEERS.items()}
    for line in report.regions:
        own = [j for _, j in jobs if region_of[j.engineer] == line.region]
        written = [a for _, j in jobs for a in j.attempts() if region_of[a.engineer] == line.region]  # each report by its writer's region
        concerned = [c.engineer or JOBS[c.about].engineer for c in fault_complaints]
        assert line.jobs == len(own)
        assert line.cost == _labour(sum((Decimal(a.hours) for a in written), Decimal(0))) + sum(_parts_cost(a) + a.travel for a in written)
        assert line.complaints == sum(1 for e in concerned if region_of[e] == line.region)
    assert {line.region for line in report.regions} == {"North", "South", None}
    assert sum(line.cost for line in report.regions) == report.total  # every report's cost in exactly one region

    assert report.follow_ups == {outcome: sum(1 for _i, o, done in FOLLOW_UPS if o == outcome and _in(MONTH, done))
                                 for outcome in ("satisfied", "not_satisfied", "unreachable")}

    expected_trend = []
    for back in reversed(range(POLICY.trend_months)):
        month = MONTH.shift(-back)
        closed = _closed_jobs(month)
        month_stars = _stars(month)
        expected_trend.append((month, _pct(sum(1 for _, j in closed if not j.breached), len(closed)),
                               _pct(sum(1 for s in month_stars if s >= POLICY.satisfied_from_stars), len(month_stars)),
                               _pct(len(_fault_complaints(month)), len(closed))))
    assert [(p.month, p.on_time.rate, p.satisfaction.rate, p.complaint_rate.rate) for p in report.trend] == expected_trend
    assert report.trend[-1].on_time.rate == on_time.rate and report.trend[-2].on_time.total == len(_closed_jobs(MONTH.shift(-1)))


async def test_the_workbook_reads_back_and_the_chart_decodes(database):
    from matplotlib.image import imread
    from openpyxl import load_workbook

    numbers = await _seed(database)
    async with database.uow() as uow:
        report = await statistics.monthly_report(uow, MONTH, NOW, SHANGHAI, POLICY)
    _ = Translator("en", SHANGHAI)
    book = load_workbook(io.BytesIO(workbook_xlsx(_, report)))
    assert book.sheetnames == ["Summary", "Engineers", "Regions", "Faults", "Complaints", "Job list"]
    russian = Translator("ru", SHANGHAI)  # the tabs are in the reader's language too, not only the headers
    assert load_workbook(io.BytesIO(workbook_xlsx(russian, report))).sheetnames == [
        russian(title) for title in ("Summary", "Engineers", "Regions", "Faults", "Complaints", "Job list")]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert Decimal(str(summary["Total cost, CNY"])) == Decimal(report.total) / 100
    assert summary["Installation & commissioning: person-trips"] == report.installation.trips
    assert summary["Part lines without a catalog price (not costed)"] == 2
    kpi_rows = {row[0]: row for row in book["Summary"].iter_rows(values_only=True) if row and row[0] in ("On-time rate", "Satisfaction")}
    assert Decimal(str(kpi_rows["On-time rate"][1])) == report.kpis[0].rate and kpi_rows["On-time rate"][5] in ("met", "missed")
    jobs = list(book["Job list"].iter_rows(values_only=True))
    assert jobs[0][0] == "Number" and sorted(r[0] for r in jobs[1:]) == sorted(numbers[i] for i, _ in _closed_jobs(MONTH))
    first = next(r for r in jobs[1:] if r[0] == numbers[0])
    assert first[5] == datetime(2026, 3, 1, 0, 5)  # closed at, local time
    assert Decimal(str(first[9])) == Decimal(_parts_cost(JOBS[0])) / 100 and first[11] == "Electrical (motor, wiring, power)"
    engineers = {r[0]: r for r in book["Engineers"].iter_rows(min_row=2, values_only=True)}
    assert engineers["Ed"][2] == len([1 for _, j in _closed_jobs(MONTH) if j.engineer == "ed"])
    li_hours = sum((Decimal(a.hours) for _, j in _closed_jobs(MONTH) for a in j.attempts() if a.engineer == "li"), Decimal(0))
    assert Decimal(str(engineers["Li"][8])) == li_hours  # labour hours of her own reports, the disputed one too
    # a name typed as a formula (an engineer's /profile) stays text in the managers' workbook
    typed = dataclasses.replace(report, engineers=[dataclasses.replace(report.engineers[0], name='=HYPERLINK("http://x.example","Ed")')])
    cell = load_workbook(io.BytesIO(workbook_xlsx(_, typed)))["Engineers"]["A2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x.example","Ed")', "s")

    for language in ("en", "ru", "zh_Hans"):
        png = chart_png(Translator(language, SHANGHAI), report)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        pixels = imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    assert font_for("ru") is not None  # DejaVu covers Cyrillic

    text = report_message(Translator("ru", SHANGHAI), report).text
    assert "2026" in text and len(text) > 200


def _registered_complaints(month: Month) -> list[ComplaintSeed]:
    """Complaints registered in the month, whatever their decision; withdrawn ones are no complaint."""
    return [c for c in COMPLAINTS if not c.withdrawn and _in(month, c.created)]


def _decision(seed: ComplaintSeed) -> str:
    return {True: "service_fault", False: "not_service_fault", None: "undecided"}[seed.service_fault]


def _complained_model(seed: ComplaintSeed) -> str | None:
    product = JOBS[seed.about].product if seed.about is not None else None
    return PRODUCTS[product] if product else None


async def test_complaint_hot_spots_by_subject_product_and_decision_in_the_message_and_the_workbook(database):
    from openpyxl import load_workbook

    await _seed(database)
    async with database.uow() as uow:
        report = await statistics.monthly_report(uow, MONTH, NOW, SHANGHAI, POLICY)
    registered = _registered_complaints(MONTH)
    spots = report.complaints
    assert spots.total == len(registered) == 6
    assert spots.by_subject == {s: sum(1 for c in registered if c.subject == s) for s in ("service", "engineer", "product")}
    assert spots.by_decision == {d: sum(1 for c in registered if _decision(c) == d) for d in ("service_fault", "not_service_fault", "undecided")}
    models = defaultdict(int)
    for seed in registered:
        if _complained_model(seed):
            models[_complained_model(seed)] += 1
    assert {m.model: m.complaints for m in spots.by_model} == models
    assert [m.complaints for m in spots.by_model] == sorted(models.values(), reverse=True)
    assert spots.no_product == sum(1 for c in registered if _complained_model(c) is None) > 0
    assert report.kpis[2].count == len(_fault_complaints(MONTH))  # the rate counts only the service's fault, as before

    _ = Translator("en", SHANGHAI)
    lines = report_message(_, report).text.split("\n")
    block = lines[lines.index(_("<b>Complaint hot spots</b>")):]
    block = block[:block.index("")] if "" in block else block
    assert _("Complaints registered: {count}", count=len(registered)) in block
    assert _("By subject: {summary}", summary=f"the service {spots.by_subject['service']}, the engineer {spots.by_subject['engineer']}, "
                                               f"the product {spots.by_subject['product']}") in block
    assert _("By decision: {summary}", summary=f"service fault {spots.by_decision['service_fault']}, "
                                                f"not a service fault {spots.by_decision['not_service_fault']}, "
                                                f"not decided yet {spots.by_decision['undecided']}") in block
    for model, count in models.items():
        assert _("• {model}: {count}", model=model, count=count) in block
    assert _("• {model}: {count}", model="no registered product", count=spots.no_product) in block

    book = load_workbook(io.BytesIO(workbook_xlsx(_, report)))
    rows = list(book["Complaints"].iter_rows(values_only=True))
    assert rows[0] == ("Grouped by", "Group", "Complaints")
    assert ("Subject", "the product", spots.by_subject["product"]) in rows
    assert ("Decision", "not decided yet", spots.by_decision["undecided"]) in rows
    assert {(r[1], r[2]) for r in rows if r[0] == "Product model"} == {*models.items(), ("no registered product", spots.no_product)}


async def test_the_message_shows_at_most_the_top_products_complained_about(database):
    await _seed(database)
    async with database.uow() as uow:
        report = await statistics.monthly_report(uow, MONTH, NOW, SHANGHAI, POLICY)
    many = [statistics.ModelComplaints(f"Model {i:02d}", 40 - i) for i in range(40)]
    long = dataclasses.replace(report, complaints=dataclasses.replace(report.complaints, by_model=many))
    _ = Translator("en", SHANGHAI)
    text = report_message(_, long).text
    assert _("• {model}: {count}", model="Model 04", count=36) in text
    assert "Model 05" not in text  # the rest are in the workbook's Complaints sheet


async def test_an_empty_month_has_no_data_instead_of_zero_rates(database):
    await _seed(database)
    async with database.uow() as uow:
        report = await statistics.monthly_report(uow, Month(2025, 6), NOW, SHANGHAI, POLICY)
    assert statistics.is_empty(report)
    assert [(k.rate, k.met) for k in report.kpis] == [(None, None)] * 3
    assert (report.total, report.faults, report.engineers) == (0, [], [])
    text = report_message(Translator("en", SHANGHAI), report).text
    assert "no data" in text and "0.0%" not in text


async def test_the_current_month_is_reported_to_date(database):
    await _seed(database)
    async with database.uow() as uow:
        report = await statistics.monthly_report(uow, Month(2026, 4), NOW, SHANGHAI, POLICY)
    assert report.to_date and [j.number for j in report.jobs] == ["SR-2026-000009"]


async def test_a_month_is_claimed_once(database):
    async with database.uow() as uow:
        assert await uow.app_state.claim("monthly_report:2026-03", "a")
        await uow.commit()
    async with database.uow() as uow:
        assert not await uow.app_state.claim("monthly_report:2026-03", "b")
        assert await uow.app_state.get("monthly_report:2026-03") == "a"


async def test_shared_renders_make_once_per_language_and_again_after_a_failure_or_max_age():
    made = []
    outcomes = iter([RuntimeError("database gone"), "en files", "ru files", "en files again"])

    def make_for(language):
        async def make():
            await asyncio.sleep(0)  # the other readers arrive while it is being made
            made.append(language)
            outcome = next(outcomes)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        return make

    renders = SharedRenders()
    now = datetime(2026, 4, 1, 9, 0)
    failed = await asyncio.gather(renders.get(202603, "en", now, make_for("en")), return_exceptions=True)
    assert isinstance(failed[0], RuntimeError)
    got = await asyncio.gather(*(renders.get(202603, language, now, make_for(language)) for language in ("en", "en", "ru", "en")))
    assert got == ["en files", "en files", "ru files", "en files"] and made == ["en", "en", "ru"]
    later = now + SharedRenders.MAX_AGE + timedelta(seconds=1)
    assert await renders.get(202603, "en", later, make_for("en")) == "en files again"


async def test_a_late_first_approval_step_makes_the_job_late_even_when_the_second_is_on_time(database):
    t0 = local(2026, 3, 1)
    async with database.uow() as uow:
        boss = User(telegram_id=100, first_name="Dora", language="en", created_at=t0, roles=[])
        customer = Customer(name="Farm", phone="+8613800138000", created_at=t0)
        uow.session.add_all([boss, customer])
        await uow.session.flush()
        request = ServiceRequest(number="SR-2026-000001", kind="repair", status="closed", customer_id=customer.id, description="x",
                                 created_by_user_id=boss.id, created_at=t0, updated_at=t0)
        uow.session.add(request)
        await uow.session.flush()
        for action, at in (  # a sales-filed repair: two approval steps, the first 12 h (8 allowed), the second 1 h
            ("created", local(2026, 3, 2, 9)), ("contacted", local(2026, 3, 2, 9, 30)),
            ("approval_requested", local(2026, 3, 2, 9, 45)), ("approval_decided", local(2026, 3, 2, 21, 45)),
            ("approval_requested", local(2026, 3, 2, 21, 45)), ("approval_decided", local(2026, 3, 2, 22, 45)),
            ("accepted", local(2026, 3, 3, 8)), ("arrived", local(2026, 3, 3, 10)),
            ("report_submitted", local(2026, 3, 3, 12)), ("confirmed", local(2026, 3, 3, 13)),
        ):
            await uow.requests.add_event(RequestEvent(request_id=request.id, action=action, details={}, created_at=at))
        await uow.commit()
    async with database.uow() as uow:
        approval = (await uow.session.scalars(select(SlaClock).where(SlaClock.kind == "approval_decided"))).one()
        assert (approval.outcome, approval.earlier_breach) == ("met", True)  # the row shows the last step
        report = await statistics.monthly_report(uow, Month(2026, 3), local(2026, 4, 2), SHANGHAI, POLICY)
    assert (report.kpis[0].count, report.kpis[0].total) == (0, 1)
