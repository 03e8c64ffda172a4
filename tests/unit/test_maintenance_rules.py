"""When maintenance falls due and when its reminder goes out (bot/services/maintenance.py)."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import MaintenancePolicy, load_policy
from bot.services.maintenance import chase_days, due_to_remind, latest_scan_moment, reminder_moment, told_on_due_day
from bot.services.registry import next_maintenance
from storage.models import MaintenanceReminder, Product

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = MaintenancePolicy(remind_days_before=14, remind_at=time(10, 0))
SAME_DAY = MaintenancePolicy(remind_days_before=0, remind_at=time(10, 0))


def product(*, sale: date | None = None, commissioned: date | None = None, cycle: int | None = 6) -> Product:
    return Product(serial="QJ-1", model="QJ", sale_date=sale, commissioning_date=commissioned, maintenance_cycle_months=cycle)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def test_the_default_policy_reminds_two_weeks_ahead_at_ten():
    assert load_policy(DEFAULT_POLICY_FILE).maintenance == POLICY


def test_the_cycle_counts_from_commissioning_when_known_else_from_the_sale():
    assert next_maintenance(product(sale=date(2025, 1, 10), commissioned=date(2025, 2, 20)), date(2025, 3, 1)) == date(2025, 8, 20)
    assert next_maintenance(product(sale=date(2025, 1, 10)), date(2025, 3, 1)) == date(2025, 7, 10)
    assert next_maintenance(product(sale=date(2025, 1, 10)), date(2025, 7, 10)) == date(2025, 7, 10)  # due today still counts
    assert next_maintenance(product(sale=date(2025, 1, 10)), date(2025, 7, 11)) == date(2026, 1, 10)


def test_no_cycle_or_no_start_means_no_maintenance():
    assert next_maintenance(product(sale=date(2025, 1, 10), cycle=None), date(2025, 3, 1)) is None
    assert next_maintenance(product(), date(2025, 3, 1)) is None


def test_month_ends_fall_on_the_last_day_of_shorter_months_and_come_back():
    start = product(commissioned=date(2025, 8, 31))
    assert next_maintenance(start, date(2025, 9, 1)) == date(2026, 2, 28)
    assert next_maintenance(start, date(2026, 3, 1)) == date(2026, 8, 31)  # counted from the start, not from Feb 28
    leap = product(commissioned=date(2023, 8, 31))
    assert next_maintenance(leap, date(2024, 1, 1)) == date(2024, 2, 29)
    monthly = product(sale=date(2026, 1, 31), cycle=1)
    assert next_maintenance(monthly, date(2026, 2, 1)) == date(2026, 2, 28)
    assert next_maintenance(monthly, date(2026, 3, 1)) == date(2026, 3, 31)


def test_the_reminder_goes_out_at_ten_local_two_weeks_before():
    moment = reminder_moment(date(2026, 3, 16), POLICY, SHANGHAI)
    assert moment == local(date(2026, 3, 2), 10)
    assert moment.astimezone(timezone.utc) == datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


def test_a_reminder_is_due_from_its_moment_until_the_due_date_passes():
    unit = product(commissioned=date(2025, 9, 16))  # due 2026-03-16, reminded 2026-03-02 10:00
    assert due_to_remind(unit, POLICY, SHANGHAI, local(date(2026, 3, 2), 9, 59)) is None
    assert due_to_remind(unit, POLICY, SHANGHAI, local(date(2026, 3, 2), 10)) == date(2026, 3, 16)
    assert due_to_remind(unit, POLICY, SHANGHAI, local(date(2026, 3, 10), 3)) == date(2026, 3, 16)  # the bot was down: still told
    assert due_to_remind(unit, POLICY, SHANGHAI, local(date(2026, 3, 16), 23, 59)) == date(2026, 3, 16)
    assert due_to_remind(unit, POLICY, SHANGHAI, local(date(2026, 3, 17), 10)) is None  # passed; the next one is in September
    assert due_to_remind(unit, POLICY, SHANGHAI, local(date(2026, 9, 2), 10)) == date(2026, 9, 16)


def test_with_zero_days_before_the_reminder_is_on_the_due_day_itself():
    unit = product(commissioned=date(2025, 9, 16))
    assert due_to_remind(unit, SAME_DAY, SHANGHAI, local(date(2026, 3, 15), 10)) is None
    assert due_to_remind(unit, SAME_DAY, SHANGHAI, local(date(2026, 3, 16), 9, 59)) is None
    assert due_to_remind(unit, SAME_DAY, SHANGHAI, local(date(2026, 3, 16), 10)) == date(2026, 3, 16)


def test_the_local_day_decides_not_the_utc_one():
    unit = product(commissioned=date(2025, 9, 16))
    late_utc = datetime(2026, 3, 16, 17, 0, tzinfo=timezone.utc)  # already 2026-03-17 01:00 in Shanghai
    assert due_to_remind(unit, POLICY, SHANGHAI, late_utc) is None


def test_the_scan_moment_is_the_latest_ten_oclock():
    assert latest_scan_moment(local(date(2026, 3, 2), 10), POLICY, SHANGHAI) == local(date(2026, 3, 2), 10)
    assert latest_scan_moment(local(date(2026, 3, 2), 23), POLICY, SHANGHAI) == local(date(2026, 3, 2), 10)
    assert latest_scan_moment(local(date(2026, 3, 2), 9, 59), POLICY, SHANGHAI) == local(date(2026, 3, 1), 10)
    # Every reminder moment is a scan moment, so the first sweep at or after it scans.
    moment = reminder_moment(date(2026, 3, 16), POLICY, SHANGHAI)
    for delay in (timedelta(0), timedelta(minutes=1), timedelta(hours=23, minutes=59)):
        assert latest_scan_moment(moment + delay, POLICY, SHANGHAI) == moment


@pytest.mark.parametrize("language", ["en", "ru", "zh_Hans"])
def test_the_reminder_names_the_button_the_customer_sees(language):
    from bot import maintenance_views
    from bot.i18n import Translator
    from bot.services.maintenance import ReminderCard
    from storage.models import MaintenanceReminder

    _ = Translator(language, SHANGHAI)
    card = ReminderCard(MaintenanceReminder(id=1, due_on=date(2026, 3, 20)), product(sale=date(2025, 9, 1)), None, None)
    view = maintenance_views.customer_reminder(_, card)
    [[button]] = view.markup.inline_keyboard
    quoted = re.findall(r"[“«\"]([^”»\"]+)[”»\"]", view.text)
    assert button.text.removeprefix("🔧 ").strip() in quoted


def test_the_due_date_chase_covers_its_day_and_the_days_no_scan_covered():
    today = local(date(2026, 3, 16), 10)
    assert chase_days(None, today, SHANGHAI) == (date(2026, 3, 16), date(2026, 3, 16))  # a new desk: nothing from before
    assert chase_days(local(date(2026, 3, 15), 10), today, SHANGHAI) == (date(2026, 3, 16), date(2026, 3, 16))
    assert chase_days(local(date(2026, 3, 11), 10), today, SHANGHAI) == (date(2026, 3, 12), date(2026, 3, 16))  # down 03-12..03-15


def test_a_reminder_first_sent_on_its_due_date_is_not_chased_the_same_day():
    due = date(2026, 3, 16)
    assert not told_on_due_day(MaintenanceReminder(due_on=due, created_at=local(date(2026, 3, 2), 10).astimezone(timezone.utc)), SHANGHAI)
    assert told_on_due_day(MaintenanceReminder(due_on=due, created_at=local(due, 0, 30).astimezone(timezone.utc)), SHANGHAI)
