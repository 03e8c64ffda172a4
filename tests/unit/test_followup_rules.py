"""The follow-up calls' date rules: local days, across month ends, a leap day and the year end."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services import followups
from storage.models import FollowUpCall

POLICY = load_policy(DEFAULT_POLICY_FILE).follow_ups
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_default_policy_is_the_procedures_numbers():
    assert (POLICY.first_from_days, POLICY.first_by_days, POLICY.second_after_days, POLICY.second_window_days) == (3, 7, 7, 3)
    assert (POLICY.max_attempts, POLICY.remind_at) == (3, time(10, 0))


@pytest.mark.parametrize("closed_on, due_on, due_by", [
    (date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 9)),
    (date(2026, 4, 28), date(2026, 5, 1), date(2026, 5, 5)),  # 30-day month
    (date(2026, 1, 31), date(2026, 2, 3), date(2026, 2, 7)),
    (date(2026, 2, 28), date(2026, 3, 3), date(2026, 3, 7)),  # not a leap year
    (date(2028, 2, 28), date(2028, 3, 2), date(2028, 3, 6)),  # 2028 has 29 February
    (date(2028, 2, 29), date(2028, 3, 3), date(2028, 3, 7)),
    (date(2026, 12, 29), date(2027, 1, 1), date(2027, 1, 5)),  # across the year end
    (date(2026, 12, 31), date(2027, 1, 3), date(2027, 1, 7)),
])
def test_the_first_call_is_due_3_days_after_closing_and_late_after_7(closed_on, due_on, due_by):
    assert followups.first_round_window(closed_on, POLICY) == (due_on, due_by)


@pytest.mark.parametrize("first_call_on, due_on, due_by", [
    (date(2026, 3, 5), date(2026, 3, 12), date(2026, 3, 15)),
    (date(2026, 3, 28), date(2026, 4, 4), date(2026, 4, 7)),
    (date(2028, 2, 23), date(2028, 3, 1), date(2028, 3, 4)),  # passes 29 February
    (date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 7)),
])
def test_the_second_call_is_due_a_week_after_the_first_and_late_3_days_later(first_call_on, due_on, due_by):
    assert followups.second_round_window(first_call_on, POLICY) == (due_on, due_by)


def test_the_windows_follow_the_policy():
    custom = replace(POLICY, first_from_days=1, first_by_days=2, second_after_days=14, second_window_days=0)
    assert followups.first_round_window(date(2026, 1, 31), custom) == (date(2026, 2, 1), date(2026, 2, 2))
    assert followups.second_round_window(date(2026, 2, 20), custom) == (date(2026, 3, 6), date(2026, 3, 6))


def test_the_closing_day_is_the_local_one():
    late_evening_utc = datetime(2026, 1, 31, 17, 30, tzinfo=timezone.utc)  # 1 February 01:30 in Shanghai
    assert followups.local_day(late_evening_utc, SHANGHAI) == date(2026, 2, 1)
    assert followups.first_round_window(followups.local_day(late_evening_utc, SHANGHAI), POLICY)[0] == date(2026, 2, 4)


@pytest.mark.parametrize("kind, has_report, reason", [
    ("repair", True, None),
    ("installation", True, None),
    ("maintenance", True, None),
    ("repair", False, followups.NO_REPORT),  # closed without the work (declined quote, duplicate)
    ("consultation", False, "no_work_on_site"),
    ("return", True, "return_tracked"),
    ("complaint", False, "answered_in_writing"),
])
def test_which_closed_requests_get_calls(kind, has_report, reason):
    assert followups.skip_reason(kind, has_report) == reason


def test_a_call_is_overdue_only_after_its_last_day_and_while_due():
    call = FollowUpCall(state=followups.DUE, due_on=date(2026, 3, 5), due_by=date(2026, 3, 9))
    assert not followups.is_overdue(call, date(2026, 3, 9))
    assert followups.is_overdue(call, date(2026, 3, 10))
    call.state = followups.DONE
    assert not followups.is_overdue(call, date(2026, 3, 10))


def test_the_daily_list_waits_for_remind_at_local_time():
    at = lambda hh, mm: datetime(2026, 3, 5, hh, mm, tzinfo=SHANGHAI).astimezone(timezone.utc)  # noqa: E731
    assert not followups.digest_time(at(9, 59), SHANGHAI, POLICY)
    assert followups.digest_time(at(10, 0), SHANGHAI, POLICY)
    assert followups.digest_time(at(23, 59), SHANGHAI, POLICY)
    assert not followups.digest_time(at(0, 0), SHANGHAI, POLICY)


def test_the_daily_list_asks_callers_to_record_and_tells_dispatchers_what_is_overdue():
    from bot import followup_views
    from bot.i18n import Translator

    _ = Translator("en", ZoneInfo("Asia/Shanghai"))
    caller = followup_views.digest(_, followups.Digest(date(2026, 3, 10), total=3, overdue=2, oldest=[])).text
    assert caller.startswith("📞 3 follow-up calls are due today (overdue: 2).") and "record the outcomes" in caller
    dispatcher = followup_views.digest(_, followups.Digest(date(2026, 3, 10), total=3, overdue=2, oldest=[], for_caller=False)).text
    assert dispatcher.startswith("⚠️ 2 follow-up calls are overdue") and "/invite callback" in dispatcher
