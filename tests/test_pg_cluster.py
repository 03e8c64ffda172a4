"""The throwaway PostgreSQL server (tests/pg_cluster.py) really works."""

from __future__ import annotations

import os
import socket

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

try:  # tests is a package (same module object as conftest.py uses)
    from tests import pg_cluster
except ImportError:  # tests/ itself on sys.path (no tests/__init__.py)
    import pg_cluster


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


@pytest.mark.postgres
async def test_temp_postgres_roundtrip() -> None:
    pg = pg_cluster.start_temp_postgres()
    if pg is None:
        pytest.skip(f"POSTGRESQL NOT AVAILABLE: {pg_cluster.last_error}")
    try:
        if not pg.external:
            assert pg.url == f"postgresql+asyncpg://postgres@127.0.0.1:{pg.port}/servicedesk_test"
            assert _port_open(pg.host, pg.port)
        engine = create_async_engine(pg.url)
        try:
            async with engine.begin() as conn:
                version = (await conn.execute(text("select version()"))).scalar_one()
                assert version.startswith("PostgreSQL"), version
                assert (await conn.execute(text("select current_database()"))).scalar_one() == (
                    pg.database
                )
                await conn.execute(text("drop table if exists pg_cluster_probe"))
                await conn.execute(
                    text("create table pg_cluster_probe (id serial primary key, name text not null)")
                )
                await conn.execute(
                    text("insert into pg_cluster_probe (name) values (:a), (:b)"),
                    {"a": "héllo", "b": "world"},
                )
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(text("select id, name from pg_cluster_probe order by id"))
                ).all()
                assert [tuple(r) for r in rows] == [(1, "héllo"), (2, "world")]
                await conn.execute(text("drop table pg_cluster_probe"))
                await conn.commit()
        finally:
            await engine.dispose()
    finally:
        pg.stop()
        pg.stop()  # idempotent

    if not pg.external:
        print(f"\n{pg!r}: stopped")
        assert not _port_open("127.0.0.1", pg.port)
        assert not os.path.exists(pg.base_dir)


def test_missing_binaries_gives_none_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    monkeypatch.setattr(pg_cluster, "find_pg_bindir", lambda: None)
    assert pg_cluster.start_temp_postgres() is None
    assert "initdb/pg_ctl not found" in pg_cluster.last_error


def test_external_url_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+asyncpg://user:pw@db.example:5433/somedb"
    monkeypatch.setenv("TEST_POSTGRES_URL", url)
    pg = pg_cluster.start_temp_postgres()
    assert pg is not None and pg.external
    assert (pg.url, pg.port, pg.database, pg.user) == (url, 5433, "somedb", "user")
    pg.stop()
    pg.stop()
