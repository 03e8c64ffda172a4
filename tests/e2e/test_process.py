"""The real console script as a separate process: start-up errors, and kill -9 mid-dialog and mid-update."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import tests.fakebot.methods as fake_methods
from tests.e2e.helpers import onboard
from tests.fakebot import FakeTelegram
from tests.fakebot.validation import bad_request

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
SERVICEDESK = [sys.executable, "-m", "bot"]


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "POLICY_FILE"}}
    env.update({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}", **settings})
    return env


@pytest.mark.parametrize("settings, named", [
    ({}, "BOT_TOKEN"),
    ({"BOT_TOKEN": "12:bad"}, "BOT_TOKEN"),
    ({"BOT_TOKEN": TOKEN, "TIMEZONE": "Nowhere/Land"}, "TIMEZONE"),
    ({"BOT_TOKEN": TOKEN, "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}, "DATABASE_URL"),
    ({"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:1"}, "TELEGRAM_API_URL"),
])
def test_a_bad_setting_stops_start_up_with_one_line_and_exit_code_2(tmp_path, settings, named):
    result = subprocess.run(SERVICEDESK, env=_env(tmp_path, **settings), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("servicedesk:")]
    assert len(errors) == 1 and named in errors[0]
    assert "Traceback" not in result.stderr


def test_a_bad_policy_file_names_the_key(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("[deadlines]\nfirst_contact_hours = -4\n")
    result = subprocess.run(SERVICEDESK, env=_env(tmp_path, BOT_TOKEN=TOKEN, POLICY_FILE=str(policy)), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "deadlines." in result.stderr


async def _start(fake, tmp_path: Path) -> subprocess.Popen:
    env = _env(tmp_path, BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url)
    process = subprocess.Popen(SERVICEDESK, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):  # until it polls: migrations and getMe done
        if any(call.method == "getUpdates" for call in fake.all_calls[-5:]) and process.poll() is None:
            return process
        await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError(f"the bot did not start polling: {process.stderr.read().decode()[-2000:]}")


@pytest.fixture
async def fake():
    """A fake Bot API whose token passes the bot's own format check."""
    server = FakeTelegram(token=TOKEN, bot_username="service_desk_bot")
    server.quiet_seconds = 0.5  # a separate process cannot be watched; allow for slow first replies
    await server.start()
    yield server
    await server.stop()


async def test_killed_mid_dialog_the_customer_continues_where_they_were(fake, tmp_path):
    alice = fake.add_user(user_id=3001, first_name="Alice", language_code="en")
    process = await _start(fake, tmp_path)
    try:
        await onboard(alice)
        await alice.send_text("/new")
        await alice.press("Fault repair")
        await alice.send_text("SN-77-1234")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        fake.all_calls.clear()
        process = await _start(fake, tmp_path)
        await alice.send_text("Motor hums but does not start")
        assert "Send photos" in alice.last.text
        await alice.press("Skip, no photos")
        await alice.send_text("Farm road 3, Kaifeng")
        summary = alice.last.text
        assert "SN-77-1234" in summary and "Motor hums but does not start" in summary
        await alice.press("Confirm and send")
        assert re.search(r"Request SR-\d{4}-000001 is registered", alice.last.text)
    finally:
        process.kill()
        process.wait(timeout=10)
    tables = {row[0] for row in sqlite3.connect(tmp_path / "desk.sqlite3").execute("select name from sqlite_master")}
    assert {"alembic_version", "service_requests", "drafts"} <= tables


async def _start_webhook(fake, tmp_path: Path, port: int) -> subprocess.Popen:
    env = _env(tmp_path, BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url, WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
               WEBHOOK_SECRET="process-secret", WEBHOOK_LISTEN="127.0.0.1", WEBHOOK_PORT=str(port))
    fake.all_calls.clear()
    process = subprocess.Popen(SERVICEDESK, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):  # until it has told Telegram where to deliver: its server is up by then
        if any(call.method == "setWebhook" for call in fake.all_calls) and process.poll() is None:
            return process
        await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError(f"the bot did not set its webhook: {process.stderr.read().decode()[-2000:]}")


async def test_killed_in_the_middle_of_an_update_in_webhook_mode_the_update_comes_again_and_is_handled_once(fake, tmp_path):
    """The webhook answers only once an update is handled, so Telegram still holds the update a
    killed process was working on and delivers it again to the restarted one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    alice = fake.add_user(user_id=3002, first_name="Alice", language_code="en")
    process = await _start_webhook(fake, tmp_path, port)
    try:
        slow_reply = fake.stall_next("sendMessage", chat_id=alice.id)
        await alice.send_text("/start", wait=False)
        update_id = alice.update_ids[-1]
        await asyncio.wait_for(slow_reply.reached.wait(), 30)  # the bot is answering /start
        process.send_signal(signal.SIGKILL)  # the reply never goes out (the held call stays held)
        process.wait(timeout=10)
        assert alice.messages == [] and fake.updates.pending_count == 1  # unanswered: still at Telegram

        process = await _start_webhook(fake, tmp_path, port)
        await fake.wait_handled(update_id, timeout=30)
        assert fake.updates.pending_count == 0
        assert "Hello, Alice" in alice.messages[0].text  # the greeting, once
        assert sum("Hello, Alice" in m.text for m in alice.messages) == 1, [m.text[:80] for m in alice.messages]
    finally:
        process.kill()
        process.wait(timeout=10)
    handled = sqlite3.connect(tmp_path / "desk.sqlite3").execute(
        "select count(*) from processed_updates where update_id = ?", (update_id,)).fetchone()[0]
    assert handled == 1


def _webhook_env(fake, tmp_path: Path, port: int) -> dict[str, str]:
    return _env(tmp_path, BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url, WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
                WEBHOOK_SECRET="process-secret", WEBHOOK_LISTEN="127.0.0.1", WEBHOOK_PORT=str(port))


async def _run_to_the_end(env: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    """Run the console script until it exits by itself; the fake Bot API keeps answering meanwhile."""
    process = subprocess.Popen(SERVICEDESK, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(1200):
            if process.poll() is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
    return process.wait(timeout=10), process.stderr.read().decode()


def _one_line_naming(stderr: str, named: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("servicedesk:")]
    assert len(errors) == 1 and named in errors[0], stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    return errors[0]


async def test_a_webhook_url_telegram_refuses_stops_start_up_with_one_line_and_exit_code_2(fake, tmp_path, monkeypatch):
    """E.g. a port Telegram does not deliver to: exit code 1 and a traceback would have systemd
    (Restart=on-failure) start it again and again."""
    def as_telegram_answers(url, secret):  # api.telegram.org delivers to these ports only
        if urlsplit(url).port not in (None, 80, 88, 443, 8443):
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")

    monkeypatch.setattr(fake_methods, "check_webhook_params", as_telegram_answers)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, stderr = await _run_to_the_end(_webhook_env(fake, tmp_path, port), tmp_path)
    line = _one_line_naming(stderr, "WEBHOOK_URL")
    assert code == 2 and "ports 80, 88, 443 or 8443" in line
    assert fake.webhook is None


async def test_a_webhook_port_already_in_use_stops_start_up_with_one_line_and_exit_code_2(fake, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()  # another program listens there
        code, stderr = await _run_to_the_end(_webhook_env(fake, tmp_path, taken.getsockname()[1]), tmp_path)
    _one_line_naming(stderr, "WEBHOOK_PORT")
    assert code == 2
    assert fake.webhook is None  # Telegram was not told to deliver to a server that is not up
