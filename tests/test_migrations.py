"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from storage.db import Database
from storage.models import Base
from tests import pg_cluster
from tests.conftest import _admin

ROOT = Path(__file__).resolve().parents[1]


async def test_migrated_schema_matches_the_models(database):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == [], "a model changed without a migration (or the other way round)"


@pytest.mark.postgres
async def test_processes_migrating_a_fresh_postgresql_together_wait_for_each_other(postgres_server):
    """A fleet started at once: every process runs the migrations; they once raced and one exited."""
    if postgres_server is None:
        pytest.skip(f"POSTGRESQL NOT AVAILABLE: {pg_cluster.last_error}")
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _admin(postgres_server.url, f'CREATE DATABASE "{name}"')
    url = postgres_server.url.rsplit("/", 1)[0] + f"/{name}"
    try:
        # separate processes, as a fleet's are (Alembic's context is one per process)
        script = "import sys; from storage.db import upgrade_database; upgrade_database(sys.argv[1])"
        processes = [subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        errors = [process.communicate(timeout=120)[1] for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], errors
        database = Database(url)
        try:
            async with database.engine.connect() as connection:
                versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        finally:
            await database.dispose()
        assert len(versions) == 1
    finally:
        await _admin(postgres_server.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
