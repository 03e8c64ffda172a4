"""The monthly report's rules without a database: KPIs against targets, rates, months, costs."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services import statistics
from bot.services.statistics import JobRow, Kpi, Month, TripRow

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_policy(DEFAULT_POLICY_FILE).reports


def _job(number: int, **changes) -> JobRow:
    row = JobRow(
        request_id=number, number=f"SR-2026-{number:06d}", kind="repair", product=None, engineer_id=1, engineer="Ed",
        region="North", closed_at=datetime(2026, 3, 10, tzinfo=timezone.utc), on_time=True, stars=None, has_report=True,
        hours=Decimal(1), parts_cost=0, unpriced_parts=0, travel_cost=0, fault_type=None, certificate=False, repeat_repair=False,
    )
    return replace(row, **changes)


@pytest.mark.parametrize("count, total, rate", [
    (1, 8, Decimal("12.5")), (1, 3, Decimal("33.3")), (2, 3, Decimal("66.7")),
    (1, 16, Decimal("6.3")),  # 6.25: half-up, not to even
    (0, 5, Decimal("0.0")), (5, 5, Decimal("100.0")),
])
def test_rates_are_percent_rounded_half_up_to_a_tenth(count, total, rate):
    assert statistics.percent(count, total) == rate


def test_a_rate_without_a_denominator_is_no_data_not_zero():
    kpi = Kpi(statistics.ON_TIME, 0, 0, Decimal(90), True)
    assert (kpi.rate, kpi.met) == (None, None)


@pytest.mark.parametrize("count, total, met", [(9, 10, True), (10, 10, True), (8, 10, False), (8999, 10000, False)])
def test_at_least_targets_are_met_at_or_above_the_exact_fraction(count, total, met):
    kpi = Kpi(statistics.ON_TIME, count, total, Decimal(90), True)
    assert kpi.met is met


def test_a_rate_rounded_up_to_the_target_is_still_missed():
    kpi = Kpi(statistics.ON_TIME, 8999, 10000, Decimal(90), True)
    assert kpi.rate == Decimal("90.0") and kpi.met is False


@pytest.mark.parametrize("count, total, met", [(2, 100, True), (3, 100, False), (1, 34, True), (1, 33, False), (0, 1, True)])
def test_the_complaint_rate_must_stay_below_its_limit(count, total, met):
    assert Kpi(statistics.COMPLAINT_RATE, count, total, Decimal(3), False).met is met


def test_kpis_follow_the_policy_definitions():
    on_time, satisfaction, complaints = statistics.kpis(20, 18, [5, 4, 3, 4, 1], 1, POLICY)
    satisfied = sum(1 for s in [5, 4, 3, 4, 1] if s >= POLICY.satisfied_from_stars)
    assert (on_time.count, on_time.total, on_time.target) == (18, 20, POLICY.on_time_target)
    assert (satisfaction.count, satisfaction.total) == (satisfied, 5)
    assert (complaints.count, complaints.total, complaints.at_least) == (1, 20, False)


def test_months_are_local_calendar_months():
    # 00:30 on 1 April in Shanghai is still 31 March in UTC.
    assert Month.of(datetime(2026, 3, 31, 16, 30, tzinfo=timezone.utc), SHANGHAI) == Month(2026, 4)
    assert Month.of(datetime(2026, 3, 31, 15, 59, tzinfo=timezone.utc), SHANGHAI) == Month(2026, 3)
    assert Month(2026, 4).start(SHANGHAI) == datetime(2026, 3, 31, 16, 0, tzinfo=timezone.utc)
    assert Month(2026, 12).end(SHANGHAI) == datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)
    assert Month(2026, 1).shift(-1) == Month(2025, 12) and Month(2025, 12).shift(13) == Month(2027, 1)


@pytest.mark.parametrize("code", [202613, 202600, 0, 99, 12345678])
def test_month_codes_that_name_no_month_are_refused(code):
    with pytest.raises(ValueError):
        Month.from_code(code)


def test_the_picker_offers_twelve_months_newest_first_across_the_year():
    months = statistics.picker_months(datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc), SHANGHAI)
    assert months[0] == Month(2026, 3) and months[-1] == Month(2025, 4) and len(months) == 12
    assert months == sorted(months, reverse=True)


def test_the_report_is_due_from_the_send_time_until_the_month_ends():
    policy = replace(POLICY, send_day=1, send_at=time(9, 0))
    local = lambda *args: datetime(*args, tzinfo=SHANGHAI)  # noqa: E731
    assert statistics.due_report_month(local(2026, 4, 1, 8, 59), SHANGHAI, policy) is None
    assert statistics.due_report_month(local(2026, 4, 1, 9, 0), SHANGHAI, policy) == Month(2026, 3)
    assert statistics.due_report_month(local(2026, 4, 30, 23, 59), SHANGHAI, policy) == Month(2026, 3)  # caught up after downtime
    assert statistics.due_report_month(local(2027, 1, 1, 9, 0), SHANGHAI, policy) == Month(2026, 12)
    later = replace(policy, send_day=3)
    assert statistics.due_report_month(local(2026, 4, 2, 12, 0), SHANGHAI, later) is None


def test_person_days_and_labour_cost_split_installation_from_service():
    jobs = [_job(1, kind="installation", hours=Decimal("6")), _job(2, hours=Decimal("2.5")), _job(3, kind="maintenance", hours=Decimal("1.25"))]
    trips = [TripRow(1, "Ed", "North", "installation"), TripRow(1, "Ed", "North", "repair"), TripRow(2, "Li", None, "return")]
    installation = statistics.effort(jobs, trips, True, POLICY)
    service = statistics.effort(jobs, trips, False, POLICY)
    assert (installation.trips, installation.hours) == (1, Decimal(6))
    assert (service.trips, service.hours) == (2, Decimal("3.75"))
    assert service.person_days == (Decimal("3.75") / POLICY.hours_per_person_day).quantize(Decimal("0.1"))
    assert service.cost == int(Decimal("3.75") * POLICY.labour_cost_per_hour * 100)


def test_fault_shares_count_repair_and_maintenance_reports_most_frequent_first():
    jobs = [
        _job(1, fault_type="electrical"), _job(2, fault_type="electrical"), _job(3, kind="maintenance", fault_type="wear"),
        _job(4, fault_type=None), _job(5, kind="installation", fault_type="installation"), _job(6, has_report=False),
    ]
    shares = statistics.fault_shares(jobs)
    assert [(s.fault_type, s.jobs, s.share) for s in shares] == [
        ("electrical", 2, Decimal("50.0")), (statistics.NOT_CLASSIFIED, 1, Decimal("25.0")), ("wear", 1, Decimal("25.0")),
    ]


def test_engineer_lines_average_the_stars_of_surveyed_jobs_only():
    jobs = [_job(1, stars=5), _job(2, stars=4, on_time=False, repeat_repair=True), _job(3),
            _job(4, kind="installation", certificate=True, engineer_id=2, engineer="Li", region=None)]
    lines = {line.name: line for line in statistics.engineer_lines(jobs, [TripRow(3, "Wu", "East", "repair")])}
    ed = lines["Ed"]
    assert (ed.jobs, ed.on_time, ed.average_stars, ed.repeat_repairs, ed.certificates) == (3, Decimal("66.7"), Decimal("4.5"), 1, 0)
    assert (lines["Li"].certificates, lines["Li"].average_stars) == (1, None)
    assert (lines["Wu"].jobs, lines["Wu"].trips, lines["Wu"].on_time) == (0, 1, None)
