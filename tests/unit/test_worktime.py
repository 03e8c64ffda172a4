"""Working-time arithmetic, checked against hand-computed dates.

Most cases use Asia/Shanghai (UTC+8, no DST) with working hours 08:30-17:30
(9 h a day), Monday to Friday. September/October 2026: Fri 25, Sat 26, Sun 27,
Mon 28, Tue 29, Wed 30 Sep; Thu 1 Oct, ..., Fri 9, Sat 10, Mon 12 Oct.
"""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.worktime import DailyWindow, WorkCalendar

UTC = timezone.utc
SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = DailyWindow(time(8, 30), time(17, 30))
MON_FRI = frozenset(range(5))
NATIONAL_DAY = date(2026, 10, 1)  # a Thursday


def sh(month, day, hour=0, minute=0, second=0):
    return datetime(2026, month, day, hour, minute, second, tzinfo=SH)


def berlin(month, day, hour=0, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def office(holidays=frozenset({NATIONAL_DAY}), extra_workdays=frozenset()):
    return WorkCalendar.working(SH, OFFICE, MON_FRI, holidays, extra_workdays)


H = timedelta(hours=1)


# --- DailyWindow -----------------------------------------------------------

def test_parse_reads_start_and_end():
    window = DailyWindow.parse("08:00-22:00")
    assert (window.start, window.end) == (time(8, 0), time(22, 0))
    assert str(window) == "08:00-22:00"
    assert not window.crosses_midnight


def test_parse_tolerates_spaces_and_one_digit_hours():
    assert DailyWindow.parse(" 8:05 - 9:10 ") == DailyWindow(time(8, 5), time(9, 10))


def test_parse_accepts_a_window_crossing_midnight():
    window = DailyWindow.parse("21:00-08:00")
    assert (window.start, window.end) == (time(21), time(8))
    assert window.crosses_midnight


@pytest.mark.parametrize("text, message", [
    ("", "HH:MM-HH:MM"),
    ("08:00", "HH:MM-HH:MM"),
    ("8-22", "HH:MM-HH:MM"),
    ("08:00-22", "HH:MM-HH:MM"),
    ("08.00-22.00", "HH:MM-HH:MM"),
    ("morning", "HH:MM-HH:MM"),
    ("24:00-08:00", "impossible time 24:00"),
    ("08:00-08:60", "impossible time 08:60"),
    ("08:00-08:00", "empty"),
])
def test_parse_rejects_bad_text_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        DailyWindow.parse(text)


def test_direct_construction_rejects_an_empty_window():
    with pytest.raises(ValueError, match="empty"):
        DailyWindow(time(9), time(9))


def test_contains_start_inclusive_end_exclusive():
    window = DailyWindow.parse("08:00-22:00")
    assert window.contains(sh(9, 30, 8, 0), SH)
    assert window.contains(sh(9, 30, 21, 59, 59), SH)
    assert not window.contains(sh(9, 30, 22, 0), SH)
    assert not window.contains(sh(9, 30, 7, 59, 59), SH)


def test_contains_judges_in_the_local_time_of_the_zone():
    window = DailyWindow.parse("08:00-22:00")
    moment = datetime(2026, 9, 30, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert window.contains(moment, SH)
    assert not window.contains(moment, UTC)


def test_contains_across_midnight():
    quiet = DailyWindow.parse("21:00-08:00")
    assert quiet.contains(sh(9, 30, 21, 0), SH)
    assert quiet.contains(sh(9, 30, 23, 30), SH)
    assert quiet.contains(sh(10, 1, 0, 0), SH)
    assert quiet.contains(sh(10, 1, 7, 59), SH)
    assert not quiet.contains(sh(10, 1, 8, 0), SH)
    assert not quiet.contains(sh(9, 30, 12, 0), SH)
    assert not quiet.contains(sh(9, 30, 20, 59), SH)


def test_next_inside_across_midnight_returns_the_moment_when_inside():
    quiet = DailyWindow.parse("21:00-08:00")
    result = quiet.next_inside(sh(9, 30, 23, 30), SH)
    assert result == sh(9, 30, 23, 30)
    assert result.tzinfo is UTC
    assert quiet.next_inside(sh(10, 1, 7, 59), SH) == sh(10, 1, 7, 59)


def test_next_inside_across_midnight_waits_for_the_evening_start():
    quiet = DailyWindow.parse("21:00-08:00")
    assert quiet.next_inside(sh(9, 30, 12, 0), SH) == sh(9, 30, 21, 0)
    assert quiet.next_inside(sh(10, 1, 8, 0), SH) == sh(10, 1, 21, 0)
    assert quiet.next_inside(sh(9, 30, 12, 0), SH) == datetime(2026, 9, 30, 13, 0, tzinfo=UTC)


def test_next_inside_day_window_goes_to_the_next_morning_after_closing():
    day = DailyWindow.parse("08:00-22:00")
    result = day.next_inside(sh(9, 30, 23, 30), SH)
    assert result == sh(10, 1, 8, 0)
    assert result.tzinfo is UTC
    assert day.next_inside(sh(9, 30, 22, 0), SH) == sh(10, 1, 8, 0)
    assert day.next_inside(sh(9, 30, 6, 0), SH) == sh(9, 30, 8, 0)
    assert day.next_inside(sh(9, 30, 0, 0), SH) == sh(9, 30, 8, 0)
    assert day.next_inside(sh(9, 30, 12, 0), SH) == sh(9, 30, 12, 0)


def test_next_inside_uses_local_wall_time_across_a_dst_change():
    # Europe/Berlin switches to summer time in the night to Sun 2026-03-29.
    day = DailyWindow.parse("08:00-22:00")
    result = day.next_inside(berlin(3, 28, 23, 0), BERLIN)
    assert result == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        DailyWindow.parse("08:00-22:00").contains(datetime(2026, 9, 30, 9), SH)
    with pytest.raises(ValueError, match="timezone-aware"):
        office().add(datetime(2026, 9, 30, 9), H)
    with pytest.raises(ValueError, match="timezone-aware"):
        WorkCalendar.continuous().between(datetime(2026, 9, 30, 9), sh(9, 30, 10))


# --- WorkCalendar.add --------------------------------------------------------

def test_add_skips_a_holiday():
    # 1.5 h on Wed 30 Sep (16:00-17:30), Thu 1 Oct is a holiday,
    # 2.5 h on Fri 2 Oct (08:30-11:00).
    result = office().add(sh(9, 30, 16, 0), 4 * H)
    assert result - sh(10, 2, 11, 0) == timedelta(0)
    assert result == datetime(2026, 10, 2, 3, 0, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_add_without_the_holiday_finishes_on_thursday():
    assert office(holidays=frozenset()).add(sh(9, 30, 16, 0), 4 * H) == sh(10, 1, 11, 0)


def test_add_accepts_a_start_in_another_zone():
    start = datetime(2026, 9, 30, 8, 0, tzinfo=UTC)  # Wed 16:00 in Shanghai
    assert office().add(start, 4 * H) == sh(10, 2, 11, 0)


def test_add_inside_hours_on_the_same_day():
    assert office().add(sh(9, 30, 9, 0), 2 * H) == sh(9, 30, 11, 0)


def test_add_before_opening_counts_from_opening():
    assert office().add(sh(9, 28, 7, 0), H) == sh(9, 28, 9, 30)


def test_add_after_closing_counts_from_the_next_opening():
    assert office().add(sh(9, 28, 18, 0), H) == sh(9, 29, 9, 30)


def test_add_starting_on_a_weekend_counts_from_monday():
    assert office().add(sh(9, 26, 10, 0), 2 * H) == sh(9, 28, 10, 30)
    assert office().add(sh(9, 27, 23, 0), timedelta(minutes=30)) == sh(9, 28, 9, 0)


def test_add_ending_exactly_at_closing_returns_the_closing_instant():
    calendar = office()
    assert calendar.add(sh(9, 28, 13, 30), 4 * H) == sh(9, 28, 17, 30)
    assert calendar.add(sh(9, 28, 8, 30), 9 * H) == sh(9, 28, 17, 30)
    assert calendar.add(sh(9, 28, 8, 30), 18 * H) == sh(9, 29, 17, 30)
    # Friday closing stays Friday, not Monday morning.
    assert calendar.add(sh(9, 25, 16, 30), H) == sh(9, 25, 17, 30)


def test_add_one_second_past_closing_rolls_to_the_next_morning():
    assert office().add(sh(9, 28, 13, 30), 4 * H + timedelta(seconds=1)) == sh(9, 29, 8, 30, 1)


def test_add_zero_returns_start_even_outside_hours():
    result = office().add(sh(9, 26, 10, 0), timedelta(0))
    assert result == sh(9, 26, 10, 0)
    assert result.tzinfo is UTC


def test_add_rejects_a_negative_duration():
    with pytest.raises(ValueError, match="negative"):
        office().add(sh(9, 28, 10, 0), -H)


def test_add_works_on_an_extra_workday_saturday():
    # Golden week 1-7 Oct off, Saturday 10 Oct worked instead.
    golden_week = frozenset(date(2026, 10, d) for d in range(1, 8))
    with_makeup = office(holidays=golden_week, extra_workdays=frozenset({date(2026, 10, 10)}))
    without_makeup = office(holidays=golden_week)
    # 1.5 h on Fri 9 Oct, then 2.5 h on Sat 10 Oct.
    assert with_makeup.add(sh(10, 9, 16, 0), 4 * H) == sh(10, 10, 11, 0)
    assert without_makeup.add(sh(10, 9, 16, 0), 4 * H) == sh(10, 12, 11, 0)
    # A deadline started in the golden week waits for its end; 8 Oct is a Thursday.
    assert with_makeup.add(sh(9, 30, 17, 0), H) == sh(10, 8, 9, 0)


def test_add_on_a_dst_day_counts_real_elapsed_time():
    # Berlin springs forward 02:00 -> 03:00 on Sun 29 Mar 2026 and falls back
    # 03:00 -> 02:00 on Sun 25 Oct 2026; a 00:30-05:00 window lasts 3.5 h and 5.5 h.
    night = WorkCalendar.working(BERLIN, DailyWindow.parse("00:30-05:00"), frozenset(range(7)), frozenset())
    assert night.between(berlin(3, 29, 0, 30), berlin(3, 29, 5, 0)) == timedelta(hours=3, minutes=30)
    assert night.add(berlin(3, 29, 0, 30), 4 * H) == berlin(3, 30, 1, 0)
    assert night.between(berlin(10, 25, 0, 30), berlin(10, 25, 5, 0)) == timedelta(hours=5, minutes=30)
    assert night.add(berlin(10, 25, 0, 30), 5 * H) == datetime(2026, 10, 25, 3, 30, tzinfo=UTC)


def test_add_without_any_working_days_raises():
    calendar = WorkCalendar.working(SH, OFFICE, frozenset(), frozenset())
    with pytest.raises(ValueError, match="no working days"):
        calendar.add(sh(9, 28, 10, 0), H)


def test_add_with_only_past_extra_workdays_raises():
    calendar = WorkCalendar.working(SH, OFFICE, frozenset(), frozenset(), frozenset({date(2026, 1, 3)}))
    with pytest.raises(ValueError, match="no working days"):
        calendar.add(sh(9, 28, 10, 0), H)


def test_add_with_only_a_future_extra_workday_uses_it():
    calendar = WorkCalendar.working(SH, OFFICE, frozenset(), frozenset(), frozenset({date(2026, 10, 10)}))
    assert calendar.add(sh(9, 28, 10, 0), H) == sh(10, 10, 9, 30)


def test_add_gives_up_when_every_working_day_is_a_holiday():
    mondays = frozenset(date(2026, 9, 28) + timedelta(weeks=w) for w in range(7 * 53))
    calendar = WorkCalendar.working(SH, OFFICE, frozenset({0}), mondays)
    with pytest.raises(ValueError, match="check the working days and holidays"):
        calendar.add(sh(9, 28, 10, 0), H)


# --- WorkCalendar.between ----------------------------------------------------

def test_between_across_a_weekend():
    # Fri 17:00-17:30 and Mon 08:30-09:00.
    assert office().between(sh(9, 25, 17, 0), sh(9, 28, 9, 0)) == H


def test_between_across_a_holiday_and_a_weekend():
    # Wed 1.5 h, Thu holiday, Fri 9 h, weekend, Mon 1.5 h.
    assert office().between(sh(9, 30, 16, 0), sh(10, 5, 10, 0)) == 12 * H


def test_between_over_a_whole_week_with_a_holiday():
    assert office().between(sh(9, 28), sh(10, 5)) == 36 * H


def test_between_outside_working_time_is_zero():
    assert office().between(sh(9, 26, 9, 0), sh(9, 27, 18, 0)) == timedelta(0)
    assert office().between(sh(9, 28, 17, 30), sh(9, 29, 8, 30)) == timedelta(0)


def test_between_is_zero_when_b_is_not_after_a():
    assert office().between(sh(9, 29, 12, 0), sh(9, 28, 12, 0)) == timedelta(0)
    assert office().between(sh(9, 29, 12, 0), sh(9, 29, 12, 0)) == timedelta(0)


@pytest.mark.parametrize("start", [
    sh(9, 28, 7, 0), sh(9, 28, 8, 30), sh(9, 28, 12, 15, 7), sh(9, 28, 17, 30),
    sh(9, 30, 16, 0), sh(9, 26, 10, 0), sh(10, 1, 10, 0), sh(10, 2, 23, 59, 59),
])
@pytest.mark.parametrize("duration", [
    timedelta(seconds=1), timedelta(minutes=45), 4 * H, 9 * H, 9 * H + timedelta(seconds=1),
    timedelta(hours=27, minutes=13), 100 * H,
])
def test_add_and_between_round_trip(start, duration):
    calendar = office()
    end = calendar.add(start, duration)
    assert end > start
    assert calendar.between(start, end) == duration
    # Earliest such instant: one second less is not enough.
    assert calendar.between(start, end - timedelta(seconds=1)) < duration


# --- construction ------------------------------------------------------------

def test_working_hours_must_not_cross_midnight():
    with pytest.raises(ValueError, match="must not cross midnight"):
        WorkCalendar.working(SH, DailyWindow.parse("22:00-06:00"), MON_FRI, frozenset())


def test_weekdays_must_be_zero_to_six():
    with pytest.raises(ValueError, match="weekdays"):
        WorkCalendar.working(SH, OFFICE, frozenset({1, 7}), frozenset())


def test_a_day_cannot_be_both_holiday_and_extra_workday():
    with pytest.raises(ValueError, match="2026-10-10"):
        office(holidays=frozenset({date(2026, 10, 10)}), extra_workdays=frozenset({date(2026, 10, 10)}))


# --- continuous mode ---------------------------------------------------------

def test_continuous_add_is_plain_arithmetic():
    calendar = WorkCalendar.continuous()
    assert calendar.is_continuous
    result = calendar.add(sh(9, 26, 22, 0), 4 * H)  # a Saturday night
    assert result == sh(9, 27, 2, 0)
    assert result.tzinfo is UTC
    assert calendar.add(sh(9, 26, 22, 0), timedelta(days=7)) == sh(10, 3, 22, 0)


def test_continuous_between_is_plain_difference():
    calendar = WorkCalendar.continuous()
    assert calendar.between(sh(9, 30, 16, 0), sh(10, 2, 11, 30)) == timedelta(hours=43, minutes=30)
    assert calendar.between(sh(10, 2, 11, 30), sh(9, 30, 16, 0)) == timedelta(0)


def test_continuous_between_counts_real_time_across_dst():
    # 00:00 -> 04:00 on the spring-forward night is only 3 real hours.
    assert WorkCalendar.continuous().between(berlin(3, 29, 0, 0), berlin(3, 29, 4, 0)) == 3 * H
