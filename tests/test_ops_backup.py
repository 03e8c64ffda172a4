"""Backup and restore of the SQLite database: a real round trip, and every refusal that protects the data."""
from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select

from bot.ops import backup as backups
from storage.db import Database, alembic_config, upgrade_database
from storage.models import Customer, ServiceRequest, User
from tests.conftest import START

RESTORED_AT = datetime(2026, 3, 3, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}"
    upgrade_database(url)
    return url


async def _seed(url: str, names: list[str]) -> None:
    db = Database(url)
    try:
        async with db.uow() as uow:
            user = await uow.users.add(User(telegram_id=5001, first_name="Ann", language="en", created_at=START, roles=[]))
            for index, name in enumerate(names, start=1):
                customer = await uow.customers.add(Customer(name=name, phone=f"+86138000000{index:02d}", created_at=START))
                await uow.requests.add(ServiceRequest(number=f"SR-2026-{index:06d}", kind="repair", status="new", customer_id=customer.id,
                                                      description=f"fault {index}", created_by_user_id=user.id, created_at=START, updated_at=START))
            await uow.commit()
    finally:
        await db.dispose()


async def _names(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.uow() as uow:
            return list((await uow.session.execute(select(Customer.name).order_by(Customer.id))).scalars())
    finally:
        await db.dispose()


async def _change(url: str) -> None:
    """What happens after the backup: a customer renamed, a request gone, a new customer."""
    db = Database(url)
    try:
        async with db.uow() as uow:
            first = await uow.customers.get(1)
            first.name = "Renamed"
            second = await uow.requests.by_number("SR-2026-000002")
            if second is not None:
                await uow.session.delete(second)
            await uow.customers.add(Customer(name="Newcomer", phone="+8613900000000", created_at=START))
            await uow.commit()
    finally:
        await db.dispose()


async def test_backup_then_changes_then_restore_brings_the_rows_back_and_keeps_the_changed_database_aside(sqlite_url, tmp_path):
    await _seed(sqlite_url, ["Chen", "Li", "Zhou"])
    db = Database(sqlite_url)  # a connection open, as a running bot has (WAL mode): the backup is still consistent
    async with db.uow() as uow:
        assert await uow.customers.get(1) is not None
        summary = backups.backup(sqlite_url, tmp_path / "saved" / "desk-backup.sqlite3")
    await db.dispose()
    head = ScriptDirectory.from_config(alembic_config(sqlite_url)).get_current_head()
    assert "backed up" in summary and f"({head}," in summary  # the schema version is named

    await _change(sqlite_url)
    assert await _names(sqlite_url) == ["Renamed", "Li", "Zhou", "Newcomer"]

    message = backups.restore(sqlite_url, tmp_path / "saved" / "desk-backup.sqlite3", RESTORED_AT)
    assert await _names(sqlite_url) == ["Chen", "Li", "Zhou"]
    restored = sqlite3.connect(tmp_path / "desk.sqlite3")
    assert [row[0] for row in restored.execute("select number from service_requests order by id")] == ["SR-2026-000001", "SR-2026-000002", "SR-2026-000003"]
    assert restored.execute("pragma integrity_check").fetchone()[0] == "ok"
    restored.close()

    aside = tmp_path / "desk.sqlite3.before-restore-20260303T020000Z"
    assert str(aside) in message
    kept = sqlite3.connect(aside)
    assert [row[0] for row in kept.execute("select name from customers order by id")] == ["Renamed", "Li", "Zhou", "Newcomer"]
    kept.close()


async def test_restore_is_refused_while_the_bot_runs_and_nothing_changes(sqlite_url, tmp_path):
    await _seed(sqlite_url, ["Chen"])
    backups.backup(sqlite_url, tmp_path / "b.sqlite3")
    await _change(sqlite_url)
    with backups.running_lock(sqlite_url):  # what `servicedesk` holds while it runs
        with pytest.raises(backups.BackupError, match="running"):
            backups.restore(sqlite_url, tmp_path / "b.sqlite3", RESTORED_AT)
    assert await _names(sqlite_url) == ["Renamed", "Newcomer"]
    backups.restore(sqlite_url, tmp_path / "b.sqlite3", RESTORED_AT)  # stopped: now it may
    assert await _names(sqlite_url) == ["Chen"]


async def test_a_damaged_or_foreign_backup_is_refused_and_nothing_changes(sqlite_url, tmp_path):
    await _seed(sqlite_url, ["Chen"])
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(backups.BackupError, match="not a sound SQLite database"):
        backups.restore(sqlite_url, garbage, RESTORED_AT)
    foreign = tmp_path / "foreign.sqlite3"
    connection = sqlite3.connect(foreign)
    connection.execute("create table notes (text varchar)")
    connection.commit()
    connection.close()
    with pytest.raises(backups.BackupError, match="schema revision none"):
        backups.restore(sqlite_url, foreign, RESTORED_AT)
    with pytest.raises(backups.BackupError, match="no such file"):
        backups.restore(sqlite_url, tmp_path / "missing.sqlite3", RESTORED_AT)
    assert await _names(sqlite_url) == ["Chen"]
    assert not list(tmp_path.glob("*.before-restore-*"))


def test_backup_never_overwrites_a_file(sqlite_url, tmp_path):
    target = tmp_path / "exists.sqlite3"
    target.write_text("keep me")
    with pytest.raises(backups.BackupError, match="already exists"):
        backups.backup(sqlite_url, target)
    assert target.read_text() == "keep me"


def test_postgresql_gets_the_pg_dump_and_pg_restore_commands_without_the_password():
    text = backups.postgres_commands("postgresql+asyncpg://desk:s3cret@db.internal:5432/servicedesk", Path("/backups/desk.dump"))
    assert "pg_dump --format=custom --file=/backups/desk.dump postgresql://desk@db.internal:5432/servicedesk" in text
    assert "pg_restore" in text and "s3cret" not in text
    assert backups.sqlite_path("postgresql+asyncpg://desk@db/servicedesk") is None


ASYNCPG_URL = "postgresql+asyncpg://desk:s3cret@127.0.0.1:1/servicedesk?ssl=require&command_timeout=30&prepared_statement_cache_size=0"


def _commands(text: str) -> dict[str, list[str]]:
    """The printed command lines, split as the shell splits them."""
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1] for line in text.splitlines() if line.startswith("  ")}
    return {"backup": shlex.split(lines["backup"]), "restore": shlex.split(lines["restore"].split(", then ", 1)[1])}


def test_the_printed_postgresql_commands_speak_libpq_and_survive_the_shell():
    text = backups.postgres_commands(ASYNCPG_URL, Path("/srv/my backups/desk $(date).dump"))
    commands = _commands(text)
    assert commands["backup"][:3] == ["pg_dump", "--format=custom", "--file=/srv/my backups/desk $(date).dump"]
    url = commands["backup"][3]
    assert url == "postgresql://desk@127.0.0.1:1/servicedesk?sslmode=require"  # asyncpg's ssl= is libpq's sslmode=
    assert commands["restore"][-1] == "/srv/my backups/desk $(date).dump" and commands["restore"][-2] == f"--dbname={url}"
    assert "s3cret" not in text


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not on PATH")
def test_pg_dump_accepts_the_printed_url(tmp_path):
    command = _commands(backups.postgres_commands(ASYNCPG_URL, tmp_path / "desk.dump"))["backup"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"], "PGCONNECT_TIMEOUT": "5"})
    assert result.returncode != 0  # nothing listens on port 1…
    assert "invalid" not in result.stderr and "connection to server" in result.stderr, result.stderr  # …but the URL was understood
