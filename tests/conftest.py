"""Shared fixtures: real databases (SQLite always, PostgreSQL when a server can be started)."""
from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.clock import ManualClock
from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services.clocks import ClockKeeper
from storage.db import Database, upgrade_database
from tests import pg_cluster

START = datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)  # Monday 09:30 in Asia/Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg_cluster.TempPostgres | None]:
    server = pg_cluster.start_temp_postgres()
    if server is None:
        print(f"\n\n*** POSTGRESQL NOT AVAILABLE: {pg_cluster.last_error} — PostgreSQL tests are SKIPPED ***\n")
    yield server
    if server is not None:
        server.stop()


# Running every migration takes about half a second per test; a copy of one migrated database
# takes a millisecond (SQLite) or a twentieth of a second (PostgreSQL), so each worker migrates once.
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of an empty SQLite database migrated to head, to be copied by each test."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: pg_cluster.TempPostgres | None) -> str | None:
    """Name of an empty PostgreSQL database migrated to head, for CREATE DATABASE ... TEMPLATE."""
    if postgres_server is None:
        return None
    name = f"template_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server.url, f'CREATE DATABASE "{name}"'))
    upgrade_database(postgres_server.url.rsplit("/", 1)[0] + f"/{name}")
    return name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A freshly migrated, empty database of each kind; one per test (a copy of the worker's template)."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip(f"POSTGRESQL NOT AVAILABLE: {pg_cluster.last_error}")
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server.url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    asyncio.run(_admin(server.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, before_commit=ClockKeeper(load_policy(DEFAULT_POLICY_FILE), SHANGHAI))
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)
