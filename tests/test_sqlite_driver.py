"""storage/sqlite_driver.py: one trip to SQLite's thread per statement, with everything SQLAlchemy reads."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, exc, func, insert, select, text, update

from storage import sqlite_driver
from storage.db import READ_ONLY, create_engine

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True), Column("name", String(20), unique=True))


class Trips(list):
    """The functions sent to the database thread, in order."""


@pytest.fixture
def trips() -> Trips:
    return Trips()


@pytest.fixture
async def engine(tmp_path, monkeypatch, trips):
    real = sqlite_driver.OneTripConnection._execute

    async def counted(self, fn, *args, **kwargs):
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_driver.OneTripConnection, "_execute", counted)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.sqlite3'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_a_select_is_one_trip_and_returns_every_row(engine, trips):
    async with engine.begin() as conn:
        await conn.execute(insert(things), [{"name": f"n{i}"} for i in range(150)])  # more than one fetch chunk
        trips.clear()
        rows = (await conn.execute(select(things.c.name).order_by(things.c.id))).scalars().all()
        assert trips == ["_run"]
    assert rows == [f"n{i}" for i in range(150)]


async def test_inserts_and_updates_report_their_ids_and_counts(engine):
    async with engine.begin() as conn:
        first = await conn.execute(insert(things).values(name="pump"))
        second = await conn.execute(insert(things).values(name="cabinet"))
        assert (first.inserted_primary_key[0], second.inserted_primary_key[0]) == (1, 2)
        changed = await conn.execute(update(things).where(things.c.id >= 1).values(name=things.c.name + "!"))
        assert changed.rowcount == 2
        returned = await conn.execute(text("UPDATE things SET name = 'x' WHERE id = 2 RETURNING id"))
        assert returned.scalar_one() == 2


async def test_a_constraint_error_is_sqlalchemys_and_the_connection_goes_on(engine):
    async with engine.begin() as conn:
        await conn.execute(insert(things).values(name="pump"))
    with pytest.raises(exc.IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(things).values(name="pump"))
    async with engine.connect() as conn:
        assert (await conn.execute(select(things.c.name))).scalars().all() == ["pump"]


async def test_a_transaction_is_a_trip_per_statement_plus_its_commit(engine, trips):
    """BEGIN IMMEDIATE travels with the first statement; the pool's reset after the commit stays home."""
    trips.clear()  # the schema's creation
    async with engine.begin() as conn:
        await conn.execute(insert(things).values(name="pump"))
        await conn.execute(select(things.c.name))
    assert trips == ["_run", "_run", "commit"]
    trips.clear()
    async with engine.begin():
        pass  # began, executed nothing: there is nothing to send
    assert trips == []


async def test_the_first_statement_takes_the_write_lock(engine, tmp_path):
    """The deferred BEGIN is still IMMEDIATE: once a transaction has run a read, another
    connection cannot write until it ends (a plain deferred BEGIN would let the read share)."""
    import sqlite3

    async with engine.begin() as conn:
        await conn.execute(select(things.c.name))
        other = sqlite3.connect(tmp_path / "driver.sqlite3", timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO things (name) VALUES ('other')")
        finally:
            other.close()


async def test_a_failed_transaction_is_rolled_back(engine, trips):
    with pytest.raises(exc.IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(things).values(name="pump"))
            trips.clear()
            await conn.execute(insert(things).values(name="pump"))
    assert trips == ["_run", "rollback"]
    async with engine.connect() as conn:
        assert (await conn.execute(select(things.c.name))).scalars().all() == []


async def test_upper_and_lower_change_every_script_as_python_does(engine):
    """SQLite's own upper() and lower() change ASCII only; a part code compared as
    upper(code) = 'ПН-6204' must find "пн-6204"."""
    async with engine.begin() as conn:
        await conn.execute(insert(things), [{"name": "пн-6204"}, {"name": "Straße Ä"}, {"name": "brg-6204"}])
        upper = (await conn.execute(select(func.upper(things.c.name)).order_by(things.c.id))).scalars().all()
        assert upper == ["ПН-6204", "STRASSE Ä", "BRG-6204"]
        assert (await conn.execute(select(things.c.name).where(func.upper(things.c.name) == "ПН-6204"))).scalar_one() == "пн-6204"
        assert (await conn.execute(select(func.lower("ПН-6204"), func.upper(None)))).one() == ("пн-6204", None)


async def test_a_read_only_connection_reads_past_a_transaction_that_holds_the_write_lock(engine):
    """The health probe's connection (storage.db.READ_ONLY) takes no writer turn and sends no
    BEGIN IMMEDIATE: it sees the last commit at once instead of queueing behind the writer."""
    async with engine.begin() as writer:
        await writer.execute(insert(things).values(name="pump"))
        async with engine.connect() as reader:
            await reader.execution_options(**{READ_ONLY: True})
            counted = await asyncio.wait_for(reader.execute(select(func.count()).select_from(things)), 2)
            assert counted.scalar_one() == 0  # the writer has not committed yet
