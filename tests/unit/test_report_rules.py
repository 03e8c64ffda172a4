"""Rules of the closing report and of visit times, without a database."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.services import approvals, jobs, reports
from bot.services.errors import InvalidValue

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)  # 09:30 in Shanghai


def _complete(**changes):
    data = {
        "kind": "repair", "by_phone": False, "symptom": "Trips", "cause": "Worn bearing", "solution": "Replaced bearing",
        "parts": [{"part_id": None, "name": "Bearing 6204", "quantity": 2}], "hours": "2.5", "travel_km": "40",
        "travel_cost": "60", "photos": ["p1"], "opinion": "Works fine now", "fault_type": "mechanical",
    }
    data.update(changes)
    return data


def test_a_complete_on_site_report_misses_nothing():
    assert reports.missing_fields(_complete(), "repair") == []


@pytest.mark.parametrize("changes, missing", [
    ({"cause": ""}, ["cause"]),
    ({"solution": "   "}, ["solution"]),
    ({"parts": []}, ["parts"]),
    ({"opinion": None}, ["opinion"]),
    ({"photos": []}, ["photos"]),
    ({"hours": None, "travel_km": None}, ["hours", "travel_km"]),
])
def test_an_incomplete_report_names_what_is_missing(changes, missing):
    assert reports.missing_fields(_complete(**changes), "repair") == missing


@pytest.mark.parametrize("fault_type", [None, "", "gremlins"])
def test_the_fault_type_must_be_one_of_the_classification(fault_type):
    assert reports.missing_fields(_complete(fault_type=fault_type), "repair") == ["fault_type"]


def test_the_fault_type_is_asked_right_after_the_cause_for_every_job():
    for kind, by_phone in (("repair", False), ("installation", False), ("maintenance", True)):
        steps = reports.steps_for(kind, by_phone)
        assert steps[steps.index(reports.CAUSE) + 1] == reports.FAULT_TYPE


def test_no_parts_must_be_said_explicitly():
    assert reports.missing_fields(_complete(parts=[], no_parts=True), "repair") == []


def test_by_phone_needs_no_travel_or_photos_but_still_cause_and_opinion():
    data = _complete(by_phone=True, travel_km=None, travel_cost=None, photos=[])
    assert reports.missing_fields(data, "repair") == []
    assert reports.missing_fields({**data, "cause": "", "opinion": ""}, "repair") == ["cause", "opinion"]


def test_commissioning_needs_the_certificate_answer():
    assert reports.missing_fields(_complete(), "installation") == ["certificate"]
    assert reports.missing_fields(_complete(certificate=False), "installation") == []


def test_steps_depend_on_the_job():
    assert reports.PHOTOS in reports.steps_for("repair", False)
    assert reports.PHOTOS not in reports.steps_for("repair", True)
    assert reports.CERTIFICATE in reports.steps_for("installation", False)
    assert reports.steps_for("repair", True)[-1] == reports.SUMMARY


@pytest.mark.parametrize("text, value", [("2", Decimal(2)), ("1,5", Decimal("1.5")), (" 0.25 ", Decimal("0.25")), ("２．５", Decimal("2.5"))])
def test_amounts_accept_decimal_point_or_comma(text, value):
    assert reports.parse_amount(text, maximum=Decimal(200), allow_zero=False, field="hours") == value


@pytest.mark.parametrize("text", ["0", "-1", "201", "two", "1.234", ""])
def test_bad_hours_are_refused(text):
    with pytest.raises(InvalidValue):
        reports.parse_amount(text, maximum=Decimal(200), allow_zero=False, field="hours")


def test_zero_travel_is_allowed():
    assert reports.parse_amount("0", maximum=Decimal(100), allow_zero=True, field="travel_km") == 0


@pytest.mark.parametrize("text", ["0", "1000", "1.5", "x", "１．５"])
def test_quantities_are_whole_numbers_from_1_to_999(text):
    with pytest.raises(InvalidValue):
        reports.parse_quantity(text)


def test_full_width_digits_from_a_chinese_keyboard_are_numbers():
    assert reports.parse_quantity("１０") == 10
    assert approvals.parse_amount("￥１２，０００") == 1_200_000


@pytest.mark.parametrize("text, local", [
    ("2026-03-05 14:00", datetime(2026, 3, 5, 14, 0)),
    ("05.03 14:30", datetime(2026, 3, 5, 14, 30)),
    ("5.3.2026 9:00", datetime(2026, 3, 5, 9, 0)),
    ("03-05 14:00", datetime(2026, 3, 5, 14, 0)),
    ("3/5 8.15", datetime(2026, 3, 5, 8, 15)),
    ("2026/03/05 14:00", datetime(2026, 3, 5, 14, 0)),
    ("05.03 14：00", datetime(2026, 3, 5, 14, 0)),  # a Chinese keyboard's full-width colon
    ("２０２６-０３-０５ １４:００", datetime(2026, 3, 5, 14, 0)),
    ("3月5日 14:00", datetime(2026, 3, 5, 14, 0)),
    ("2026年3月5日14点30", datetime(2026, 3, 5, 14, 30)),
])
def test_visit_times_are_read_in_the_desk_time_zone(text, local):
    assert jobs.parse_visit_time(text, NOW, SHANGHAI) == local.replace(tzinfo=SHANGHAI).astimezone(timezone.utc)


@pytest.mark.parametrize("text, field", [
    ("2026-03-02 09:00", "visit_in_past"),
    ("2026-06-01 09:00", "visit_too_far"),
    ("31.02 10:00", "visit_time"),
    ("tomorrow", "visit_time"),
])
def test_bad_visit_times_say_why(text, field):
    with pytest.raises(InvalidValue) as error:
        jobs.parse_visit_time(text, NOW, SHANGHAI)
    assert error.value.field == field


def test_quick_visit_choices_are_local_times_on_later_days():
    assert jobs.quick_visit_time("d1_1400", NOW, SHANGHAI) == datetime(2026, 3, 3, 14, tzinfo=SHANGHAI).astimezone(timezone.utc)
    with pytest.raises(InvalidValue):
        jobs.quick_visit_time("d9_0000", NOW, SHANGHAI)
