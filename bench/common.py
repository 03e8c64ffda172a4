"""What the benchmarks share: fresh databases on SQLite and a throwaway PostgreSQL server, fast
bulk seeding, the machine's description and a check that survives `python -O`.

Seeding goes through Core `executemany` in chunks, with explicit ids (no RETURNING), on the app's
own engine factory (same SQLite pragmas); `finish_seed` then moves PostgreSQL's sequences past
those ids and vacuums/analyses the tables, as autovacuum would have done on a live desk.
"""
from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.db import upgrade_database

CHUNK = 5_000  # rows per executemany


def check(condition: bool, message: str) -> None:
    """Verify that a benchmark did the work it claims (not `assert`: must hold under `python -O`)."""
    if not condition:
        raise AssertionError(message)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
    except OSError:
        pass
    return (f"{platform.platform()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs ({model})")


# --------------------------------------------------------------------------- seeding


def chunks(rows: list[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


async def bulk_insert(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT many rows of a Core table (e.g. `ServiceRequest.__table__`) in chunks."""
    for part in chunks(rows):
        await conn.execute(insert(table), part)


def user_row(id: int, telegram_id: int, first_name: str, created: datetime, **values: Any) -> dict[str, Any]:
    """A `users` row with every column given (executemany needs the same keys in every row)."""
    row = dict(id=id, telegram_id=telegram_id, first_name=first_name, username=None, language="en",
               language_chosen=True, full_name=None, phone=None, is_reachable=True, is_active=True, region=None,
               skills=[], on_duty=True, last_assigned_at=None, created_at=created)
    row.update(values)
    return row


def request_row(id: int, number: str, customer_id: int, created: datetime, **values: Any) -> dict[str, Any]:
    """A `service_requests` row with every column given; a new, unassigned repair unless told otherwise."""
    row = dict(id=id, number=number, kind="repair", status="new", customer_id=customer_id, project_id=None,
               product_id=None, serial_text=None, description="Benchmark request: the unit does not start.",
               site_address=None, site_latitude=None, site_longitude=None, assigned_engineer_id=None,
               engineer_started=False, priority="normal", distance_band=None, warranty=None, warranty_reason=None,
               repeat_repair=False, waiting_for=None, closed_reason=None, created_by_user_id=1,
               created_at=created, updated_at=created)
    row.update(values)
    return row


async def finish_seed(engine: AsyncEngine, tables: Iterable[str], sequences: Iterable[str]) -> None:
    """After a seed with explicit ids: PostgreSQL's sequences moved past them, tables analysed.

    Production tables are vacuumed and analysed by autovacuum; without this the planner would
    guess on a table it has never seen, and autovacuum might start mid-measurement. SQLite gets
    no ANALYZE: the app never runs one, so a benchmark must not either."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        for table in sequences:
            await conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await conn.execute(text(f"VACUUM ANALYZE {table}"))


# --------------------------------------------------------------------------- databases


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")  # CREATE/DROP DATABASE refuse a transaction
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


class Backend:
    """Hands out fresh, migrated, empty databases of one kind."""

    name: str
    label: str

    async def fresh(self) -> str:
        raise NotImplementedError

    async def drop(self, url: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SqliteBackend(Backend):
    name, label = "sqlite", "SQLite"

    def __init__(self, prefix: str = "bench-") -> None:
        self.dir = tempfile.TemporaryDirectory(prefix=prefix)

    async def fresh(self) -> str:
        url = f"sqlite+aiosqlite:///{Path(self.dir.name) / f'{uuid.uuid4().hex[:12]}.sqlite3'}"
        await asyncio.to_thread(upgrade_database, url)  # Alembic runs its own event loop
        return url

    async def drop(self, url: str) -> None:
        path = url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        self.dir.cleanup()


class PostgresBackend(Backend):
    name, label = "postgresql", "PostgreSQL"

    def __init__(self, server: Any) -> None:
        self.server = server

    async def fresh(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:12]}"
        await _admin(self.server.url, f'CREATE DATABASE "{name}"')
        url = self.server.url.rsplit("/", 1)[0] + f"/{name}"
        await asyncio.to_thread(upgrade_database, url)
        return url

    async def drop(self, url: str) -> None:
        await _admin(self.server.url, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    async def version(self) -> str:
        engine = create_async_engine(self.server.url)
        try:
            async with engine.connect() as conn:
                return str(await conn.scalar(text("SHOW server_version")))
        finally:
            await engine.dispose()

    def close(self) -> None:
        self.server.stop()


def backends_for(choice: str, prefix: str) -> list[Backend]:
    """The databases a benchmark runs on: `choice` is sqlite, postgresql or both (PostgreSQL is
    left out, with the reason printed, when no server can be started)."""
    backends: list[Backend] = []
    if choice in ("sqlite", "both"):
        backends.append(SqliteBackend(prefix=prefix))
    if choice in ("postgresql", "both") and (postgres := start_postgres()) is not None:
        backends.append(postgres)
    return backends


def start_postgres() -> PostgresBackend | None:
    """A throwaway local server (tests/pg_cluster.py), or None after saying why there is none."""
    from tests import pg_cluster

    try:
        server = pg_cluster.start_temp_postgres()
    except pg_cluster.PostgresStartError as exc:
        print(f"PostgreSQL skipped: the server could not be started: {str(exc).splitlines()[0]}")
        return None
    if server is None:
        print(f"PostgreSQL skipped: {pg_cluster.last_error}")
        return None
    return PostgresBackend(server)
