"""The monthly report: which month a rating counts in, a return's on-site work in the costs, and
the KPI targets' wording (SQLite and PostgreSQL)."""
from __future__ import annotations

import io

from datetime import datetime, timedelta
from decimal import Decimal

from bot.config import DEFAULT_POLICY_FILE
from bot.i18n import Translator
from bot.policy import load_policy
from bot.report_files import workbook_xlsx
from bot.report_views import report_message
from bot.services import confirmation, dispatch, statistics
from bot.services.statistics import Month
from storage.models import Customer, JobReport, RequestEvent, ServiceRequest, User, Visit
from tests.conftest import SHANGHAI
from tests.test_dispatch import _request, _setup
from tests.test_stats_disputed_reports import _report_by_phone

POLICY = load_policy(DEFAULT_POLICY_FILE).reports
MARCH, APRIL = Month(2026, 3), Month(2026, 4)


async def _confirmed(uow, clock, dispatcher, engineer, user, customer):
    """A repair reported by phone and confirmed by the customer now; the survey is opened."""
    request = await _request(uow, user, customer, clock)
    await dispatch.assign(uow, dispatcher, request.id, engineer.id, None, clock.now())
    await dispatch.respond(uow, engineer, request.id, True, None, clock.now())
    await _report_by_phone(uow, engineer, request, clock, cause="Valve closed", hours="1")
    await confirmation.confirm(uow, user, customer, request.id, True, clock.now())
    return request


async def test_a_rating_given_after_the_month_turned_counts_with_its_job_whether_or_not_the_survey_was_finished(database, clock):
    """Two jobs confirmed on 31 March in the evening; both customers rate them the next morning (1 April):
    one finishes the survey, the other stops after the stars. Each rating counts in the month of the
    job it rates, March, like that job's on-time and the engineer's average stars: the KPI, the trend
    and the engineer's line agree, and April has no satisfaction data."""
    async with database.uow() as uow:
        dispatcher, (ed,), user, customer = await _setup(uow, clock, engineers=1)
        clock.set(datetime(2026, 3, 31, 21, 0, tzinfo=SHANGHAI))
        finished = await _confirmed(uow, clock, dispatcher, ed, user, customer)
        clock.advance(timedelta(minutes=30))
        stopped = await _confirmed(uow, clock, dispatcher, ed, user, customer)
        clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
        for request, stars in ((finished, "5"), (stopped, "2")):
            await confirmation.survey_answer(uow, user, customer, request.id, confirmation.STARS, stars, 2, clock.now())
        await confirmation.survey_answer(uow, user, customer, finished.id, confirmation.ON_TIME, "yes", 2, clock.now())
        await confirmation.survey_answer(uow, user, customer, finished.id, confirmation.SURVEY_COMMENT, "skip", 2, clock.now())
        await uow.commit()
    async with database.uow() as uow:
        march = await statistics.monthly_report(uow, MARCH, clock.now(), SHANGHAI, POLICY)
        april = await statistics.monthly_report(uow, APRIL, clock.now(), SHANGHAI, POLICY)
    satisfaction = march.kpis[1]
    assert (satisfaction.count, satisfaction.total) == (1, 2)  # 5 stars satisfied, 2 not
    assert (march.trend[-1].satisfaction.count, march.trend[-1].satisfaction.total) == (1, 2)
    assert [line.average_stars for line in march.engineers] == [Decimal("3.5")]
    assert april.kpis[1].total == 0 and april.trend[-1].satisfaction.total == 0
    assert [(p.month, p.satisfaction.total) for p in april.trend[-2:]] == [(MARCH, 2), (APRIL, 0)]


async def _seed_return(database, arrived: datetime, closed: datetime) -> None:
    """A return request an engineer went to on site (6 h, 50 CNY travel), then closed."""
    async with database.uow() as uow:
        session = uow.session
        engineer = User(telegram_id=300, first_name="Ed", full_name="Ed", region="North", language="en", created_at=arrived, roles=[])
        customer = Customer(name="Farm", phone="+8613800138000", created_at=arrived)
        session.add_all([engineer, customer])
        await session.flush()
        request = ServiceRequest(number="SR-2026-000077", kind="return", status="closed", customer_id=customer.id, description="x",
                                 assigned_engineer_id=engineer.id, created_by_user_id=engineer.id, created_at=arrived, updated_at=closed)
        session.add(request)
        await session.flush()
        session.add(Visit(request_id=request.id, engineer_id=engineer.id, state="arrived", arrived_at=arrived, created_at=arrived))
        session.add(JobReport(request_id=request.id, engineer_id=engineer.id, symptom="s", cause="c", solution="s", labour_hours=6.0,
                              travel_cost=5000, customer_opinion="ok", fault_type="mechanical", submitted_at=closed, updated_at=closed, parts=[]))
        session.add(RequestEvent(request_id=request.id, action="confirmed", details={}, created_at=closed))
        await uow.commit()


async def test_a_returns_on_site_hours_and_travel_are_in_the_service_dispatch_costs(database):
    """An engineer went on site for a return (one person-trip, 6 h, 50 CNY travel): the service
    dispatch line has the trip and its person-days and labour cost, transport the travel, the total
    both, the engineer and the region their hours and cost; it is not a job (KPIs unchanged)."""
    await _seed_return(database, datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI), datetime(2026, 3, 11, 9, 0, tzinfo=SHANGHAI))
    async with database.uow() as uow:
        report = await statistics.monthly_report(uow, MARCH, datetime(2026, 4, 2, tzinfo=SHANGHAI), SHANGHAI, POLICY)
    labour = int(Decimal(6) * POLICY.labour_cost_per_hour * 100)
    assert (report.service.trips, report.service.hours) == (1, Decimal(6))
    assert report.service.person_days == (Decimal(6) / POLICY.hours_per_person_day).quantize(Decimal("0.1"))
    assert report.service.cost == labour and report.transport == 5000
    assert report.total == labour + 5000
    assert [(line.name, line.trips, line.hours) for line in report.engineers] == [("Ed", 1, Decimal(6))]
    assert [(line.region, line.cost) for line in report.regions] == [("North", labour + 5000)]
    assert report.kpis[0].total == 0 and report.jobs == ()
    assert not statistics.is_empty(report)
    # the managers' workbook shows where those hours and that travel come from: the return in the job list
    from openpyxl import load_workbook

    listed = list(load_workbook(io.BytesIO(workbook_xlsx(Translator("en", SHANGHAI), report)))["Job list"].iter_rows(min_row=2, values_only=True))
    assert [(row[1], row[3], row[6], row[8], row[10]) for row in listed] == [("Return / exchange", "Ed", None, 6, 50)]


async def test_each_kpi_target_on_an_empty_month_says_which_way_it_is_met(database):
    """A month without jobs or surveys: no data, and each KPI's target worded as on a month with data
    (on time and satisfaction: at least; complaint rate: below)."""
    async with database.uow() as uow:
        report = await statistics.monthly_report(uow, MARCH, datetime(2026, 4, 2, tzinfo=SHANGHAI), SHANGHAI, POLICY)
    text = report_message(Translator("en", SHANGHAI), report).text
    lines = {name: next(line for line in text.split("\n") if name in line) for name in ("On-time rate", "Satisfaction", "Complaint rate")}
    assert "no data" in lines["On-time rate"] and "target at least 90%" in lines["On-time rate"]
    assert "target at least 85%" in lines["Satisfaction"]
    assert "no data" in lines["Complaint rate"] and "target below 3%" in lines["Complaint rate"]
