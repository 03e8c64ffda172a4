from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_POLICY_FILE, ConfigError, load_settings
from bot.policy import PolicyError, load_policy, parse_policy

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"


def test_default_policy_has_the_procedure_deadlines():
    deadlines = load_policy(DEFAULT_POLICY_FILE).deadlines
    assert deadlines.first_contact == timedelta(hours=4)
    assert deadlines.consultation_answer == timedelta(hours=8)
    assert deadlines.repair_completed == timedelta(days=7)
    assert deadlines.onsite_arrival_over_1000_km == timedelta(hours=72)


def _policy_data(**deadline_changes):
    deadlines = {
        "forward_to_service_hours": 4, "first_contact_hours": 4, "consultation_answer_hours": 8,
        "solution_decided_hours": 8, "repair_completed_days": 7, "approval_hours": 8,
        "onsite_arrival_hours": {"up_to_300_km": 24, "up_to_1000_km": 48, "over_1000_km": 72},
    }
    deadlines.update(deadline_changes)
    return {"deadlines": deadlines, "staff": {"invite_valid_hours": 72, "invite_attempts_per_hour": 5}, "dispatch": {"engineer_capacity": 5},
            "closing": {"confirmation_timeout_hours": 72, "low_score_alert": 2}}


@pytest.mark.parametrize("changes, key", [
    ({"first_contact_hours": -1}, "deadlines.first_contact_hours"),
    ({"first_contact_hours": "four"}, "deadlines.first_contact_hours"),
    ({"first_contcat_hours": 4}, "deadlines.first_contcat_hours"),
    ({"onsite_arrival_hours": {"up_to_300_km": 24, "up_to_1000_km": 48}}, "deadlines.onsite_arrival_hours.over_1000_km"),
])
def test_a_bad_policy_names_the_key(changes, key):
    with pytest.raises(PolicyError) as error:
        parse_policy(_policy_data(**changes))
    assert error.value.key == key


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
