"""`servicedesk doctor` against the fake Bot API and real databases: one line per check, exit code 0 only when all pass."""
from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from bot.ops.doctor import doctor, run_checks
from tests.fakebot import FakeTelegram
from tests.fakebot.webhook import WebhookTarget

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
OTHER_TOKEN = "654321:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"


@pytest.fixture
async def fake():
    server = FakeTelegram(token=TOKEN, bot_username="service_desk_bot")
    await server.start()
    yield server
    await server.stop()


def _env(fake: FakeTelegram, database_url: str, **changes: str) -> dict[str, str]:
    return {"BOT_TOKEN": TOKEN, "DATABASE_URL": database_url, "TELEGRAM_API_URL": fake.url, "ADMIN_TELEGRAM_IDS": "9001", **changes}


def _by_name(checks) -> dict[str, tuple[bool, str]]:
    return {check.name: (check.ok, check.detail) for check in checks}


async def test_a_sound_deployment_passes_every_check(fake, database_url):
    checks = _by_name(await run_checks(_env(fake, database_url)))
    assert list(checks) == ["settings", "policy", "database", "migrations", "admins", "token", "webhook"]
    assert all(ok for ok, _ in checks.values()), checks
    assert "@service_desk_bot" in checks["token"][1]
    assert "at head" in checks["migrations"][1]
    assert not fake.calls("setWebhook") and not fake.calls("deleteWebhook")  # the doctor only reads


async def test_a_token_telegram_rejects_fails_the_token_check(fake, database_url):
    checks = _by_name(await run_checks(_env(fake, database_url, BOT_TOKEN=OTHER_TOKEN)))
    assert checks["token"][0] is False and "rejected" in checks["token"][1]
    assert checks["database"][0] and checks["migrations"][0]


async def test_a_missing_sqlite_file_is_named_and_not_created(fake, tmp_path):
    missing = tmp_path / "missing.sqlite3"
    checks = _by_name(await run_checks(_env(fake, f"sqlite+aiosqlite:///{missing}")))
    assert checks["database"][0] is False and "does not exist yet" in checks["database"][1]
    assert not missing.exists()


async def test_an_unmigrated_database_fails_the_migration_check(fake, tmp_path):
    empty = tmp_path / "new.sqlite3"
    empty.touch()  # an SQLite database with no tables yet
    checks = _by_name(await run_checks(_env(fake, f"sqlite+aiosqlite:///{empty}")))
    assert checks["database"][0] is True
    assert checks["migrations"][0] is False and "nothing (empty)" in checks["migrations"][1]


async def test_an_unreachable_database_and_a_bad_policy_are_named(fake, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("[deadlines]\nfirst_contact_hours = -4\n")
    checks = _by_name(await run_checks(_env(fake, "postgresql+asyncpg://nobody@127.0.0.1:1/none", POLICY_FILE=str(policy))))
    assert checks["policy"][0] is False and "deadlines." in checks["policy"][1]
    assert checks["database"][0] is False and "cannot connect" in checks["database"][1]
    assert checks["migrations"][0] is False and "skipped" in checks["migrations"][1]


async def test_webhook_mode_reports_registration_and_the_last_delivery_error(fake, database_url):
    env = _env(fake, database_url, WEBHOOK_URL="http://127.0.0.1:1/tg", WEBHOOK_SECRET="s3cret")
    checks = _by_name(await run_checks(env))
    assert checks["settings"] == (True, "loaded (webhook mode)")
    # Run after the start (which registers WEBHOOK_URL): no webhook means Telegram posts the updates nowhere.
    assert checks["webhook"][0] is False and "not registered" in checks["webhook"][1]

    alice = fake.add_user(3001, "Alice")
    await fake.set_webhook(WebhookTarget("http://127.0.0.1:1/tg", "s3cret"))  # nobody listens on port 1
    await alice.send_text("/start", wait=False)
    for _ in range(500):
        if fake.webhook.last_error_message:
            break
        await asyncio.sleep(0.01)
    checks = _by_name(await run_checks(env))
    assert checks["webhook"][0] is False and "last delivery" in checks["webhook"][1]


async def test_doctor_fails_while_telegram_delivers_the_updates_to_another_url(fake, database_url):
    env = _env(fake, database_url, WEBHOOK_URL="http://desk.example.com/tg", WEBHOOK_SECRET="s3cret")
    await fake.set_webhook(WebhookTarget("http://staging.example.com/tg", "other"))  # a staging desk on the same token
    checks = _by_name(await run_checks(env))
    assert checks["webhook"][0] is False, checks["webhook"]
    assert "http://staging.example.com/tg" in checks["webhook"][1] and "WEBHOOK_URL http://desk.example.com/tg" in checks["webhook"][1]

    fake.webhook.last_error_message = "Connection refused"  # and Telegram cannot even reach it
    checks = _by_name(await run_checks(env))
    assert checks["webhook"][0] is False and "Connection refused" in checks["webhook"][1]


async def test_a_webhook_registered_while_the_desk_polls_fails_the_webhook_check(fake, database_url):
    # A polling desk deletes the webhook at start, so one registered afterwards takes its updates (getUpdates gets 409).
    await fake.set_webhook(WebhookTarget("http://staging.example.com/tg", "other"))
    checks = _by_name(await run_checks(_env(fake, database_url)))
    assert checks["webhook"][0] is False and "http://staging.example.com/tg" in checks["webhook"][1]
    assert not fake.calls("deleteWebhook")  # the doctor only reads

    await fake.set_webhook(None)
    assert _by_name(await run_checks(_env(fake, database_url)))["webhook"] == (True, "polling mode")


def test_bad_settings_fail_with_the_setting_named_and_exit_code_1():
    out = io.StringIO()
    code = doctor({"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://desk.example.com/tg"}, out=out)
    lines = out.getvalue().splitlines()
    assert code == 1
    assert lines[0].startswith("FAIL settings: WEBHOOK_SECRET")
    assert all(line.startswith(("OK", "FAIL")) for line in lines)


@pytest.mark.parametrize("changes, named", [
    ({"WEBHOOK_URL": "https://desk.example.com/tg"}, "WEBHOOK_SECRET"),
    ({"WEBHOOK_URL": "https://desk.example.com/tg", "WEBHOOK_SECRET": "has spaces"}, "WEBHOOK_SECRET"),
    ({"WEBHOOK_URL": "https://desk.example.com/tg", "WEBHOOK_SECRET": "x" * 257}, "WEBHOOK_SECRET"),
    ({"WEBHOOK_URL": "http://desk.example.com/tg", "WEBHOOK_SECRET": "ok"}, "WEBHOOK_URL"),  # Telegram calls https only
    ({"WEBHOOK_URL": "https://desk.example.com/tg", "WEBHOOK_SECRET": "ok", "WEBHOOK_PORT": "70000"}, "WEBHOOK_PORT"),
    ({"WEBHOOK_URL": "https://desk.example.com:8080/tg", "WEBHOOK_SECRET": "ok"}, "WEBHOOK_URL"),  # Telegram delivers to 443, 80, 88, 8443 only
    ({"WEBHOOK_URL": "https://desk.example.com:99999/tg", "WEBHOOK_SECRET": "ok"}, "WEBHOOK_URL"),
    ({"WEBHOOK_URL": "https://desk.example.com/tg", "WEBHOOK_SECRET": "ok", "WEBHOOK_PATH": "/healthz"}, "WEBHOOK_PATH"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"BOT_PROCESSES": "0"}, "BOT_PROCESSES"),
    ({"BOT_PROCESSES": "two"}, "BOT_PROCESSES"),
])
def test_webhook_and_log_settings_are_validated_naming_the_key(changes, named):
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as error:
        load_settings({"BOT_TOKEN": TOKEN, **changes})
    assert error.value.setting == named


async def test_doctor_fails_half_set_webhook_settings_naming_the_missing_url(fake, database_url):
    env = _env(fake, database_url, WEBHOOK_SECRET="s3cret", WEBHOOK_PORT="8081")  # WEBHOOK_URL forgotten: the desk would poll
    checks = _by_name(await run_checks(env))
    assert checks["settings"][0] is False, checks["settings"]
    assert checks["settings"][1].startswith("WEBHOOK_URL:") and "WEBHOOK_SECRET" in checks["settings"][1]


def test_the_webhook_defaults_of_env_example_do_not_count_as_half_set_webhook_settings():
    from dotenv import dotenv_values

    from bot.config import load_settings

    example = {name: value or "" for name, value in dotenv_values(Path(__file__).parents[1] / ".env.example").items()}
    assert example["WEBHOOK_PORT"] and not example["WEBHOOK_URL"]  # it writes the defaults out, and polls
    settings = load_settings({**example, "BOT_TOKEN": TOKEN})
    assert not settings.webhook_mode


@pytest.mark.parametrize("changes, why", [
    ({}, "webhook mode"),  # polling: each process would take the others' updates (409 Conflict)
    ({"WEBHOOK_URL": "https://desk.example.com/tg", "WEBHOOK_SECRET": "s3cret"}, "SQLite"),
])
async def test_doctor_fails_several_processes_in_polling_mode_or_on_sqlite(fake, tmp_path, changes, why):
    env = _env(fake, f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}", BOT_PROCESSES="3", **changes)
    checks = _by_name(await run_checks(env))
    assert checks["settings"][0] is False, checks["settings"]
    assert checks["settings"][1].startswith("BOT_PROCESSES:") and why in checks["settings"][1]


def test_the_desk_refuses_to_start_with_several_polling_processes_and_names_the_setting(monkeypatch, tmp_path, capsys):
    from bot.__main__ import EXIT_BAD_SETTINGS, main

    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("WEBHOOK_URL", "WEBHOOK_SECRET", "WEBHOOK_LISTEN", "WEBHOOK_PORT", "WEBHOOK_PATH", "POLICY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")  # were it to get that far: nothing there
    monkeypatch.setenv("BOT_PROCESSES", "2")
    assert main([]) == EXIT_BAD_SETTINGS
    assert capsys.readouterr().err.startswith("servicedesk: BOT_PROCESSES:")
    assert not (tmp_path / "desk.sqlite3").exists()  # refused before touching the database


def test_each_of_several_processes_keeps_to_its_share_of_the_overall_limit():
    from bot.config import load_settings
    from bot.flood import TELEGRAM_LIMITS

    settings = load_settings({"BOT_TOKEN": TOKEN, "BOT_PROCESSES": "3", "DATABASE_URL": "postgresql+asyncpg://desk@db/servicedesk",
                              "WEBHOOK_URL": "https://desk.example.com/tg", "WEBHOOK_SECRET": "s3cret"})
    share = TELEGRAM_LIMITS.shared_by(settings.bot_processes)
    assert (share.overall_per_second, share.private_chat_interval) == (10, TELEGRAM_LIMITS.private_chat_interval)
    assert load_settings({"BOT_TOKEN": TOKEN}).bot_processes == 1


def test_webhook_settings_default_to_the_url_path_on_localhost_8080():
    from bot.config import load_settings

    polling = load_settings({"BOT_TOKEN": TOKEN})
    assert not polling.webhook_mode and polling.log_format == "text"
    settings = load_settings({"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://desk.example.com/tg/hook", "WEBHOOK_SECRET": "A-z_09"})
    assert settings.webhook_mode
    assert (settings.webhook_listen, settings.webhook_port, settings.webhook_path) == ("127.0.0.1", 8080, "/tg/hook")


async def test_a_desk_with_no_admin_fails_the_admin_check_until_one_exists(fake, database, database_url, clock):
    from bot.services import users

    checks = _by_name(await run_checks(_env(fake, database_url, ADMIN_TELEGRAM_IDS="")))
    assert checks["admins"] == (False, "no admin: nobody can invite staff; put your Telegram id in ADMIN_TELEGRAM_IDS")
    async with database.uow() as uow:  # the admin of an earlier start, no longer in the settings
        await users.ensure_bootstrap_staff(uow, [9001], "en", clock.now())
        await uow.commit()
    checks = _by_name(await run_checks(_env(fake, database_url, ADMIN_TELEGRAM_IDS="")))
    assert checks["admins"] == (True, "1 active in the database (ADMIN_TELEGRAM_IDS is empty)")


def test_a_webhook_url_on_a_telegram_port_or_behind_a_local_bot_api_server_is_accepted():
    from bot.config import load_settings

    assert load_settings({"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://desk.example.com:8443/tg", "WEBHOOK_SECRET": "ok"}).webhook_mode
    local = {"TELEGRAM_API_URL": "http://127.0.0.1:8081", "WEBHOOK_URL": "http://desk.internal:8080/tg", "WEBHOOK_SECRET": "ok"}
    assert load_settings({"BOT_TOKEN": TOKEN, **local}).webhook_mode  # a local Bot API server delivers to any port
