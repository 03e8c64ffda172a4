import os
import subprocess
import sys
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_POLICY_FILE, ConfigError, load_settings
from bot.policy import PolicyError, load_policy, parse_policy

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"


def test_default_policy_has_the_procedure_deadlines():
    policy = load_policy(DEFAULT_POLICY_FILE)
    deadlines = policy.deadlines
    assert deadlines.first_contact == timedelta(hours=4)
    assert deadlines.consultation_answer == timedelta(hours=8)
    assert deadlines.repair_completed == timedelta(days=7)
    assert deadlines.onsite_arrival == {"up_to_300_km": timedelta(hours=24), "up_to_1000_km": timedelta(hours=48), "over_1000_km": timedelta(hours=72)}
    assert deadlines.window("onsite_arrival", None) == timedelta(hours=24)  # no band yet: the shortest
    assert policy.reminders.before == (0.5, 0.8)
    assert policy.reminders.repeat_after_breach == timedelta(hours=2)
    assert policy.clocks.rule("first_contact").escalation == ("dispatcher", "service_manager", "general_manager")
    assert policy.calendar.mode == "continuous"


def _policy_data(**deadline_changes):
    """The default policy file as data, with some deadline keys changed."""
    with DEFAULT_POLICY_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    data["deadlines"].update(deadline_changes)
    return data


def test_the_province_table_replaces_the_distance_bands():
    data = _policy_data(onsite_arrival_table="province")
    deadlines = parse_policy(data).deadlines
    assert deadlines.arrival_bands == ("in_province", "out_of_province")
    assert deadlines.window("onsite_arrival", "out_of_province") == timedelta(hours=24)


@pytest.mark.parametrize("changes, key", [
    ({"first_contact_hours": -1}, "deadlines.first_contact_hours"),
    ({"first_contact_hours": "four"}, "deadlines.first_contact_hours"),
    ({"first_contcat_hours": 4}, "deadlines.first_contcat_hours"),
    ({"onsite_arrival_hours": {"up_to_300_km": 24, "up_to_1000_km": 48}}, "deadlines.onsite_arrival_hours.over_1000_km"),
    ({"onsite_arrival_table": "by_car"}, "deadlines.onsite_arrival_table"),
    ({"onsite_arrival_table": ["province"]}, "deadlines.onsite_arrival_table"),
    ({"first_contact_hours": float("nan")}, "deadlines.first_contact_hours"),
    ({"repair_completed_days": float("inf")}, "deadlines.repair_completed_days"),
    ({"first_contact_hours": 1e12}, "deadlines.first_contact_hours"),
    # shortest first: a request without a band gets the first window
    ({"onsite_arrival_hours": {"up_to_300_km": 72, "up_to_1000_km": 48, "over_1000_km": 24}}, "deadlines.onsite_arrival_hours.up_to_1000_km"),
])
def test_a_bad_policy_names_the_key(changes, key):
    with pytest.raises(PolicyError) as error:
        parse_policy(_policy_data(**changes))
    assert error.value.key == key


@pytest.mark.parametrize("section, change, key", [
    ("clocks", {"first_contact": {"kinds": ["repair"], "starts_on": ["created"], "stops_on": ["contacted"], "pauses_for": [],
                                  "escalation": ["dispatcher", "chief"], "urgent": False}}, "clocks.first_contact.escalation"),
    ("clocks", {"first_contact": {"kinds": ["repair"], "starts_on": ["creatd"], "stops_on": ["contacted"], "pauses_for": [],
                                  "escalation": ["dispatcher"], "urgent": False}}, "clocks.first_contact.starts_on"),
    ("clocks", {"first_contact": {"kinds": ["repair"], "starts_on": ["created"], "stops_on": ["contacted"], "pauses_for": ["lunch"],
                                  "escalation": ["dispatcher"], "urgent": False}}, "clocks.first_contact.pauses_for"),
    ("clocks", {"coffee_break": {}}, "clocks.coffee_break"),
    ("clocks", {"repair_completed": {"kinds": ["repair"], "starts_on": ["accepted"], "stops_on": ["report_submitted"], "pauses_for": [],
                                     "escalation": ["assignee"], "urgent": False, "resumes_on": ["reopend"]}}, "clocks.repair_completed.resumes_on"),
    ("clocks", {"approval_decided": {"kinds": ["repair"], "starts_on": ["approval_requested"], "stops_on": ["approval_decided"], "pauses_for": [],
                                     "escalation": ["approver"], "urgent": False, "repeats": True, "resumes_on": ["disputed"]}},
     "clocks.approval_decided.resumes_on"),
    ("reminders", {"before": [0.8, 0.5]}, "reminders.before"),
    ("reminders", {"before": [1.5]}, "reminders.before"),
    ("hours", {"staff_reachable": "8-22"}, "hours.staff_reachable"),
    ("calendar", {"mode": "lunar"}, "calendar.mode"),
    ("calendar", {"working_days": ["mon", "funday"]}, "calendar.working_days"),
    ("calendar", {"holidays": ["October 1st"]}, "calendar.holidays"),
    ("calendar", {"working_hours": "18:00-09:00"}, "calendar.working_hours"),
    ("waits", {"approval": {"begins_on": ["approval_requested"], "ends_on": ["approval_decided"], "stacks": "yes"}}, "waits.approval.stacks"),
    ("reminders", {"repeat_after_breach_hours": 1e-10}, "reminders.repeat_after_breach_hours"),  # rounds to no time at all
    ("reminders", {"before": [share / 25 for share in range(1, 25)]}, "reminders.before"),  # more than anyone reads
    # day and month counts beyond a century would overflow a date at the first use
    ("follow_ups", {"first_by_days": 7_000_000}, "follow_ups.first_by_days"),
    ("follow_ups", {"second_after_days": 7_000_000}, "follow_ups.second_after_days"),
    ("follow_ups", {"second_window_days": 7_000_000}, "follow_ups.second_window_days"),
    ("returns", {"exchange_days": 7_000_000}, "returns.exchange_days"),
    ("returns", {"free_repair_months": 1_000_000}, "returns.free_repair_months"),
    ("maintenance", {"remind_days_before": 7_000_000}, "maintenance.remind_days_before"),
    ("closing", {"repeat_within_days": 1_000_000}, "closing.repeat_within_days"),
    ("deadlines", {"repair_completed_days": 1_000_000}, "deadlines.repair_completed_days"),
    ("dispatch", {"engineer_capacity": 10 ** 30}, "dispatch.engineer_capacity"),
    ("returns", {"unused_shipping": ["customer"]}, "returns.unused_shipping"),
    ("calendar", {"mode": ["working"]}, "calendar.mode"),
])
def test_a_bad_clock_setting_names_the_key(section, change, key):
    data = _policy_data()
    data[section].update(change)
    with pytest.raises(PolicyError) as error:
        parse_policy(data)
    assert error.value.key == key


def test_an_approval_kind_must_be_a_name():
    data = _policy_data()
    data["approvals"]["rules"][0]["kind"] = ["waiver"]
    with pytest.raises(PolicyError) as error:
        parse_policy(data)
    assert error.value.key == "approvals.rules[0].kind"


def test_a_policy_value_of_the_wrong_type_stops_start_up_with_one_line_naming_the_key(tmp_path, capsys):
    from bot.__main__ import EXIT_BAD_SETTINGS, run

    policy = tmp_path / "policy.toml"
    policy.write_text(DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace(
        'onsite_arrival_table = "distance"', 'onsite_arrival_table = ["province"]'), encoding="utf-8")
    settings = load_settings({"BOT_TOKEN": TOKEN, "POLICY_FILE": str(policy), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}"})
    assert run(settings) == EXIT_BAD_SETTINGS  # what `python -m bot` does first
    assert capsys.readouterr().err.strip().splitlines() == [
        "servicedesk: policy key deadlines.onsite_arrival_table: must be one of distance, province, got ['province']"]


def test_an_approval_amount_must_be_a_finite_number():
    data = _policy_data()
    data["approvals"]["rules"][0]["max_amount"] = float("nan")
    with pytest.raises(PolicyError) as error:
        parse_policy(data)
    assert error.value.key.startswith("approvals.rules")


def test_the_working_calendar_counts_only_working_hours():
    data = _policy_data()
    data["calendar"].update(mode="working", holidays=[date(2026, 10, 1)])
    calendar = parse_policy(data).calendar.calendar(ZoneInfo("Asia/Shanghai"))
    start = datetime(2026, 9, 30, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # Wednesday; Thursday is the holiday
    assert calendar.add(start, timedelta(hours=4)) == datetime(2026, 10, 2, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_invite_attempts_must_be_a_whole_number():
    data = _policy_data()
    data["staff"]["invite_attempts_per_hour"] = 2.5
    with pytest.raises(PolicyError) as error:
        parse_policy(data)
    assert error.value.key == "staff.invite_attempts_per_hour"


def test_low_score_alert_must_be_a_score():
    data = _policy_data()
    data["closing"]["low_score_alert"] = 7
    with pytest.raises(PolicyError) as error:
        parse_policy(data)
    assert error.value.key == "closing.low_score_alert"


def test_settings_have_documented_defaults():
    settings = load_settings({"BOT_TOKEN": TOKEN})
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.timezone == ZoneInfo("Asia/Shanghai")
    assert settings.bot_api_base_url == "https://api.telegram.org/bot"
    assert settings.admin_telegram_ids == frozenset()


@pytest.mark.parametrize("env, setting", [
    ({}, "BOT_TOKEN"),
    ({"BOT_TOKEN": "nonsense"}, "BOT_TOKEN"),
    ({"BOT_TOKEN": TOKEN, "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"BOT_TOKEN": TOKEN, "TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
    ({"BOT_TOKEN": TOKEN, "DEFAULT_LANGUAGE": "de"}, "DEFAULT_LANGUAGE"),
    ({"BOT_TOKEN": TOKEN, "ADMIN_TELEGRAM_IDS": "12, bob"}, "ADMIN_TELEGRAM_IDS"),
    ({"BOT_TOKEN": TOKEN, "POLICY_FILE": "/nonexistent.toml"}, "POLICY_FILE"),
    ({"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "ftp://x"}, "TELEGRAM_API_URL"),
])
def test_a_bad_setting_is_named(env, setting):
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    assert error.value.setting == setting


def test_a_band_from_the_table_not_in_use_keeps_its_window():
    """Requests given a band before the admin switched tables keep their window; new triage offers
    only the table in use, and a request without a band gets that table's shortest window."""
    province = parse_policy(_policy_data(onsite_arrival_table="province")).deadlines
    assert province.window("onsite_arrival", "over_1000_km") == timedelta(hours=72)
    assert province.window("onsite_arrival", "up_to_300_km") == timedelta(hours=24)
    assert province.window("onsite_arrival", None) == timedelta(hours=8)
    distance = parse_policy(_policy_data()).deadlines
    assert distance.window("onsite_arrival", "in_province") == timedelta(hours=8)
    assert distance.arrival_bands == ("up_to_300_km", "up_to_1000_km", "over_1000_km")


def _fingerprint_in_a_new_process(hash_seed: str) -> str:
    code = ("from zoneinfo import ZoneInfo; from bot.config import DEFAULT_POLICY_FILE; from bot.policy import load_policy; "
            "from bot.services.clocks import ClockKeeper; "
            "print(ClockKeeper(load_policy(DEFAULT_POLICY_FILE), ZoneInfo('Asia/Shanghai')).fingerprint)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONHASHSEED": hash_seed})
    return done.stdout.strip()


def test_the_same_policy_file_has_the_same_fingerprint_in_every_process():
    """Every process (each restart, each webhook worker) must agree, or each start recomputes every open clock."""
    first, second = _fingerprint_in_a_new_process("1"), _fingerprint_in_a_new_process("2")
    assert first and first == second
