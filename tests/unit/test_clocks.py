"""Deadline clocks worked out from a timeline: starts, stops, pauses, outcomes and reminder points."""
from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import PolicyError, load_policy, parse_policy
from bot.services import clocks, reminders
from bot.services.clocks import ClockKeeper
from storage.models import ServiceRequest, SlaClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
T = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai
H = timedelta(hours=1)
POLICY = load_policy(DEFAULT_POLICY_FILE)
KEEPER = ClockKeeper(POLICY, SHANGHAI)


def _request(kind: str = "repair", warranty: str | None = None, band: str | None = None) -> ServiceRequest:
    return ServiceRequest(kind=kind, warranty=warranty, distance_band=band)


def _rows(events, request=None, keeper=KEEPER, due_from=None) -> dict[str, SlaClock]:
    """Derive and apply the clocks as the keeper does, without a database."""
    rows = {}
    for derived in clocks.derive(keeper.policy, request or _request(), events, due_from):
        row = SlaClock(kind=derived.rule.name, alert_point=0)
        clocks.apply(keeper.policy, keeper.calendar, row, derived)
        rows[row.kind] = row
    return rows


def test_first_contact_runs_from_creation_and_is_met_when_contacted_in_time():
    row = _rows([("created", T), ("contacted", T + 3 * H)])["first_contact"]
    assert row.due_at == T + 4 * H
    assert (row.stopped_at, row.outcome, row.late_seconds) == (T + 3 * H, clocks.MET, 0)
    assert row.next_alert_at is None  # nothing left to remind of


def test_a_late_contact_is_breached_by_the_lateness():
    row = _rows([("created", T), ("call_logged", T + 5 * H + timedelta(minutes=30))])["first_contact"]
    assert (row.outcome, row.late_seconds) == (clocks.BREACHED, 90 * 60)


def test_a_consultation_gets_the_answer_clock_instead_of_first_contact():
    rows = _rows([("created", T)], _request("consultation"))
    assert set(rows) == {"consultation_answer"}
    assert rows["consultation_answer"].due_at == T + 8 * H


def test_the_assignment_starts_the_arrival_clock_by_the_band_and_the_repair_clock_runs_from_the_report():
    rows = _rows([("created", T), ("assigned", T + H), ("accepted", T + 2 * H)], _request(band="over_1000_km"))
    assert rows["onsite_arrival"].due_at == T + H + 72 * H  # a visit is needed once the desk sends an engineer
    assert rows["repair_completed"].due_at == T + timedelta(days=7)  # the 7-day promise runs from the report
    assert "solution_decided" not in rows  # only for in-warranty requests


def test_a_request_nobody_assigns_or_an_assignment_never_answered_still_has_a_deadline():
    contacted = _rows([("created", T), ("contacted", T + H)])
    assert contacted["repair_completed"].due_at == T + timedelta(days=7) and contacted["repair_completed"].stopped_at is None
    ignored = _rows([("created", T), ("contacted", T + H), ("assigned", T + 2 * H)])
    assert ignored["onsite_arrival"].due_at == T + 26 * H and ignored["onsite_arrival"].stopped_at is None
    declined = _rows([("created", T), ("assigned", T + H), ("declined", T + 2 * H), ("assigned", T + 5 * H)])
    assert declined["onsite_arrival"].due_at == T + 25 * H  # the customer's wait did not start over with the next engineer


def test_the_registry_warranty_runs_the_solution_clock_until_a_dispatcher_rules_otherwise():
    events = [("created", T), ("assigned", T + H)]
    assert "solution_decided" in [c.rule.name for c in clocks.derive(POLICY, _request(), events, warranty="in_warranty")]
    assert "solution_decided" not in [c.rule.name for c in clocks.derive(POLICY, _request(warranty="expired"), events, warranty="in_warranty")]
    assert "solution_decided" not in [c.rule.name for c in clocks.derive(POLICY, _request(), events, warranty="unknown")]


def test_solution_clock_runs_only_in_warranty_and_stops_with_the_expert_plan():
    events = [("created", T), ("assigned", T + H), ("expert_answer", T + 6 * H)]
    row = _rows(events, _request(warranty="in_warranty"))["solution_decided"]
    assert (row.due_at, row.outcome) == (T + 9 * H, clocks.MET)
    assert "solution_decided" not in _rows(events, _request(warranty="expired"))


def test_a_plan_recorded_before_the_assignment_meets_the_solution_clock_as_it_starts():
    events = [("created", T), ("expert_answer", T + 2 * H), ("assigned", T + 3 * H)]
    rows = _rows(events, _request(warranty="in_warranty"))
    assert (rows["solution_decided"].stopped_at, rows["solution_decided"].outcome) == (T + 3 * H, clocks.MET)
    assert rows["onsite_arrival"].stopped_at is None  # a plan says nothing of the visit: that clock runs


def test_waiting_for_the_customer_pauses_and_resuming_moves_the_due_time_by_the_pause():
    events = [("created", T), ("assigned", T), ("accepted", T), ("waiting_customer", T + 2 * H), ("work_resumed", T + 6 * H)]
    rows = _rows(events)
    assert rows["onsite_arrival"].due_at == T + 28 * H
    assert rows["repair_completed"].due_at == T + timedelta(days=7) + 4 * H
    assert rows["onsite_arrival"].pauses == [[(T + 2 * H).isoformat(), (T + 6 * H).isoformat(), "customer"]]


def test_waiting_for_parts_pauses_only_the_clocks_that_pause_for_parts():
    rows = _rows([("created", T), ("assigned", T), ("accepted", T), ("waiting_parts", T + 2 * H), ("work_resumed", T + 12 * H)])
    assert rows["onsite_arrival"].due_at == T + 24 * H  # arrival does not wait for parts
    assert rows["repair_completed"].due_at == T + timedelta(days=7) + 10 * H


def test_an_open_pause_has_no_due_time_and_keeps_what_is_left():
    row = _rows([("created", T), ("assigned", T), ("accepted", T), ("waiting_customer", T + 2 * H)])["onsite_arrival"]
    assert row.due_at is None and row.next_alert_at is None
    assert (row.paused_since, row.pause_reason, row.remaining_seconds) == (T + 2 * H, "customer", 22 * 3600)


def test_a_pause_after_the_deadline_does_not_undo_the_breach():
    rows = _rows([("created", T), ("assigned", T), ("accepted", T), ("waiting_customer", T + 30 * H), ("work_resumed", T + 40 * H), ("arrived", T + 41 * H)])
    row = rows["onsite_arrival"]
    assert (row.due_at, row.outcome, row.late_seconds) == (T + 24 * H, clocks.BREACHED, 17 * 3600)


def test_two_waits_overlapping_make_one_pause_until_both_end():
    rows = _rows([
        ("created", T), ("assigned", T), ("accepted", T), ("waiting_parts", T + H), ("waiting_customer", T + 2 * H), ("work_resumed", T + 5 * H),
    ])
    # one event ends both waits (the policy lists work_resumed for both): paused from 1 h to 5 h
    assert rows["repair_completed"].due_at == T + timedelta(days=7) + 4 * H


def test_cancelling_stops_every_running_clock():
    rows = _rows([("created", T), ("assigned", T + H), ("accepted", T + H), ("cancelled", T + 2 * H)])
    assert all(row.stopped_at == T + 2 * H for row in rows.values())
    assert rows["first_contact"].outcome == clocks.MET


def test_working_calendar_due_times_skip_nights_weekends_and_holidays():
    with DEFAULT_POLICY_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    data["calendar"].update(mode="working", holidays=[date(2026, 10, 1)])
    keeper = ClockKeeper(parse_policy(data), SHANGHAI)
    wednesday_4pm = datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI)
    # 1.5 h on Wednesday (to 17:30), Thursday is a holiday, 2.5 h on Friday from 08:30
    row = _rows([("created", wednesday_4pm)], keeper=keeper)["first_contact"]
    assert row.due_at == datetime(2026, 10, 2, 11, 0, tzinfo=SHANGHAI)
    # a customer wait over the weekend costs no working time: paused Fri 10:00 to Mon 09:00
    events = [("created", wednesday_4pm), ("assigned", wednesday_4pm), ("accepted", wednesday_4pm), ("waiting_customer", datetime(2026, 10, 2, 10, 0, tzinfo=SHANGHAI)),
              ("work_resumed", datetime(2026, 10, 5, 9, 0, tzinfo=SHANGHAI))]
    arrival = _rows(events, keeper=keeper)["onsite_arrival"]
    # 24 working hours: Wed 1.5 + Fri 1.5 (08:30-10:00) + Mon 8.5 (09:00-17:30) + Tue 9 + Wed 3.5 → Wed 12:00
    assert arrival.due_at == datetime(2026, 10, 7, 12, 0, tzinfo=SHANGHAI)
    # lateness in working time: due Friday 11:00, contacted Monday 09:30 = 6.5 h on Friday + 1 h on Monday
    late = _rows([("created", wednesday_4pm), ("contacted", datetime(2026, 10, 5, 9, 30, tzinfo=SHANGHAI))], keeper=keeper)["first_contact"]
    assert (late.outcome, late.late_seconds) == (clocks.BREACHED, 7.5 * 3600)


def test_reminder_points_fall_at_the_shares_then_at_the_deadline_then_every_repeat():
    row = _rows([("created", T)])["first_contact"]
    points = [clocks.reminder_point(POLICY, KEEPER.calendar, row, n) for n in range(5)]
    assert points == [T + 2 * H, T + 3.2 * H, T + 4 * H, T + 6 * H, T + 8 * H]
    assert row.next_alert_at == T + 2 * H


def test_the_escalation_chain_climbs_one_step_per_repeat_and_stays_at_the_top():
    rule = POLICY.clocks.rule("onsite_arrival")
    steps = [reminders.chain_steps(rule, point, before_points=2) for point in range(7)]
    assert steps == [
        ("assignee",), ("assignee",),
        ("assignee", "dispatcher"), ("assignee", "service_manager"), ("assignee", "general_manager"),
        ("assignee", "general_manager"), ("assignee", "general_manager"),
    ]


@pytest.mark.parametrize("hours_later, expected", [(1, None), (2, 0), (3.5, 1), (4, 2), (7, 3), (14, 7)])
def test_after_downtime_the_latest_point_due_is_found_in_one_step(hours_later, expected):
    row = _rows([("created", T)])["first_contact"]
    assert reminders.latest_point_due(POLICY, KEEPER, row, T + hours_later * H) == expected


def test_the_approval_clock_runs_once_per_step_and_shows_the_latest_cycle():
    events = [("created", T), ("contacted", T + H),
              ("approval_requested", T + 2 * H), ("approval_decided", T + 3 * H),  # step 1 decided in 1 h
              ("approval_requested", T + 3 * H)]  # step 2 pending since
    row = _rows(events)["approval_decided"]
    assert (row.started_at, row.due_at, row.stopped_at, row.outcome) == (T + 3 * H, T + 11 * H, None, None)
    row = _rows(events + [("approval_decided", T + 13 * H)])["approval_decided"]
    assert (row.outcome, row.late_seconds) == (clocks.BREACHED, 2 * 3600)


def test_a_question_to_the_requester_stops_the_approval_clock_until_the_answer():
    events = [("created", T), ("approval_requested", T), ("approval_info_requested", T + H)]
    asked = _rows(events)["approval_decided"]
    assert (asked.stopped_at, asked.outcome) == (T + H, clocks.MET)
    answered = _rows(events + [("approval_info_given", T + 5 * H)])["approval_decided"]
    assert (answered.started_at, answered.due_at, answered.stopped_at) == (T + 5 * H, T + 13 * H, None)


def test_two_open_approvals_keep_the_clock_running_until_both_are_decided():
    events = [("created", T), ("approval_requested", T), ("approval_requested", T + H), ("approval_decided", T + 2 * H)]
    row = _rows(events)["approval_decided"]
    assert (row.started_at, row.stopped_at) == (T, None)  # one is still pending: runs from the oldest
    row = _rows(events + [("approval_decided", T + 3 * H)])["approval_decided"]
    assert (row.stopped_at, row.outcome) == (T + 3 * H, clocks.MET)


def test_a_late_approval_step_is_remembered_when_the_next_step_is_on_time():
    events = [("created", T), ("approval_requested", T), ("approval_decided", T + 12 * H),  # 8 h allowed
              ("approval_requested", T + 12 * H), ("approval_decided", T + 13 * H)]
    row = _rows(events)["approval_decided"]
    assert (row.outcome, row.earlier_breach) == (clocks.MET, True)
    on_time = _rows([("created", T), ("approval_requested", T), ("approval_decided", T + H),
                     ("approval_requested", T + H), ("approval_decided", T + 2 * H)])["approval_decided"]
    assert (on_time.outcome, on_time.earlier_breach) == (clocks.MET, False)


def test_a_pending_approval_pauses_the_repair_clock():
    events = [("created", T), ("assigned", T), ("accepted", T), ("approval_requested", T + H), ("approval_decided", T + 4 * H)]
    row = _rows(events)["repair_completed"]
    assert row.pause_reason is None and row.due_at == T + POLICY.deadlines.repair_completed + 3 * H
    assert _rows(events[:4])["repair_completed"].pause_reason == "approval"



def test_the_repair_clock_stays_paused_until_every_open_approval_is_decided():
    events = [("created", T), ("assigned", T), ("accepted", T), ("approval_requested", T + H), ("approval_requested", T + 2 * H),
              ("approval_decided", T + 3 * H)]
    assert _rows(events)["repair_completed"].pause_reason == "approval"  # the second requisition still waits
    row = _rows(events + [("approval_decided", T + 5 * H)])["repair_completed"]
    assert row.pause_reason is None and row.due_at == T + POLICY.deadlines.repair_completed + 4 * H
    withdrawn = _rows(events + [("approval_withdrawn", T + 5 * H)])["repair_completed"]  # withdrawn while asked a question
    assert withdrawn.due_at == row.due_at


def test_a_quote_awaiting_the_customer_pauses_the_job_clocks_until_answered():
    events = [("created", T), ("assigned", T), ("accepted", T), ("quote_sent", T + H)]
    assert {name: row.pause_reason for name, row in _rows(events).items() if name != "first_contact"} == {
        "onsite_arrival": "quote", "repair_completed": "quote"}
    for answer in ("quote_accepted", "quote_declined"):
        row = _rows(events + [(answer, T + 31 * H)])["onsite_arrival"]
        assert row.pause_reason is None and row.due_at == T + 24 * H + 30 * H
    # the dispatcher asks for a fee waiver instead of waiting: the approval's wait takes over
    row = _rows(events + [("approval_requested", T + 5 * H), ("approval_decided", T + 7 * H)])["onsite_arrival"]
    assert row.pause_reason is None and row.due_at == T + 24 * H + 6 * H


D = timedelta(days=1)
REPORTED_THEN_DISPUTED = [("created", T), ("assigned", T), ("accepted", T), ("report_submitted", T + 2 * D), ("disputed", T + 4 * D)]


def test_a_disputed_repair_runs_its_repair_clock_again_without_the_days_the_report_waited():
    rows = _rows(REPORTED_THEN_DISPUTED[:4])
    assert (rows["repair_completed"].stopped_at, rows["repair_completed"].outcome) == (T + 2 * D, clocks.MET)
    rows = _rows(REPORTED_THEN_DISPUTED)
    row = rows["repair_completed"]
    assert (row.started_at, row.stopped_at, row.outcome) == (T, None, None)
    assert row.due_at == T + 7 * D + 2 * D  # the two days with the customer do not count
    assert row.pauses == [[(T + 2 * D).isoformat(), (T + 4 * D).isoformat(), "customer"]]
    assert row.next_alert_at is not None  # the engineer is chased again
    assert rows["onsite_arrival"].stopped_at == T + 2 * D  # the engineer was on site; that clock stays met


def test_a_resumed_repair_clock_is_judged_by_the_second_report():
    in_time = _rows(REPORTED_THEN_DISPUTED + [("report_submitted", T + 8 * D)])["repair_completed"]
    assert (in_time.stopped_at, in_time.outcome) == (T + 8 * D, clocks.MET)
    late = _rows(REPORTED_THEN_DISPUTED + [("report_submitted", T + 10 * D)])["repair_completed"]
    assert (late.outcome, late.late_seconds) == (clocks.BREACHED, 24 * 3600)


def test_a_confirmed_repair_stays_stopped_at_the_report_and_a_closed_request_never_resumes():
    confirmed = REPORTED_THEN_DISPUTED[:4] + [("confirmed", T + 3 * D), ("disputed", T + 4 * D)]
    row = _rows(confirmed)["repair_completed"]
    assert (row.stopped_at, row.outcome, row.pauses) == (T + 2 * D, clocks.MET, [])


def test_a_wait_begun_after_the_resume_pauses_only_from_its_start():
    events = REPORTED_THEN_DISPUTED + [("waiting_parts", T + 5 * D), ("work_resumed", T + 6 * D)]
    row = _rows(events)["repair_completed"]
    assert row.due_at == T + 7 * D + 2 * D + D
    assert [p[2] for p in row.pauses] == ["customer", "parts"]


def test_a_wait_open_when_the_repair_was_reported_does_not_count_twice():
    # waiting on the customer, then the report (which ends the wait), then the dispute
    events = [("created", T), ("assigned", T), ("accepted", T), ("waiting_customer", T + D), ("report_submitted", T + 2 * D), ("disputed", T + 4 * D)]
    row = _rows(events)["repair_completed"]
    assert row.due_at == T + 7 * D + D + 2 * D


DUE_DAY = datetime(2026, 3, 20, tzinfo=SHANGHAI)  # a maintenance due on Friday 2026-03-20, booked two weeks before


def test_a_maintenance_booked_for_its_due_date_is_awaited_from_that_date():
    events = [("created", T), ("assigned", T + H), ("accepted", T + 2 * H)]
    rows = _rows(events, _request("maintenance", warranty="in_warranty"), due_from=DUE_DAY)
    assert rows["onsite_arrival"].due_at == DUE_DAY + 24 * H  # not the day after it was accepted
    assert rows["solution_decided"].due_at == DUE_DAY + 8 * H
    unbooked = _rows(events, _request("maintenance", warranty="in_warranty"))
    assert unbooked["onsite_arrival"].due_at == T + H + 24 * H  # asked for without a reminder: as any visit


def test_a_booked_maintenance_visited_early_is_met_and_a_wait_before_the_due_date_does_not_count():
    early = _rows([("created", T), ("assigned", T + H), ("accepted", T + H), ("arrived", T + 50 * H)], _request("maintenance"), due_from=DUE_DAY)
    assert (early["onsite_arrival"].outcome, early["onsite_arrival"].late_seconds) == (clocks.MET, 0)
    waited = _rows([("created", T), ("assigned", T + H), ("accepted", T + H), ("waiting_customer", T + 2 * H), ("work_resumed", DUE_DAY + 2 * H)],
                   _request("maintenance"), due_from=DUE_DAY)
    assert waited["onsite_arrival"].due_at == DUE_DAY + 26 * H  # only the two hours of waiting after the due date count


def test_from_due_date_must_be_true_or_false():
    raw = tomllib.loads(DEFAULT_POLICY_FILE.read_text())
    raw["clocks"]["onsite_arrival"]["from_due_date"] = "yes"
    with pytest.raises(PolicyError, match="onsite_arrival.from_due_date"):
        parse_policy(raw)
