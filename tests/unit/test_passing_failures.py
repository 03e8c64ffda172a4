"""Which failures are worth a second delivery of the update (webhook mode answers them 503)."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

import storage.db
from handlers.common import is_passing
from storage.db import Database, DatabaseUnavailable, create_engine, is_passing_failure


async def _failure(path, statement: str) -> BaseException:
    """The error SQLAlchemy raises for `statement` on a real SQLite database, through the desk's engine."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    event.listen(engine.sync_engine, "connect", _no_busy_wait)  # after the desk's own PRAGMAs
    try:
        with pytest.raises(Exception) as raised:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        return raised.value
    finally:
        await engine.dispose()


def _no_busy_wait(dbapi_connection, _record) -> None:
    """Fail at once on a lock instead of waiting the desk's 15 s for it."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def _table(path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
    connection.execute("INSERT OR IGNORE INTO t VALUES (1)")
    return connection


async def test_a_statement_of_ours_that_is_wrong_is_not_passing(tmp_path):
    path = tmp_path / "a.sqlite3"
    _table(path).close()
    no_column = await _failure(path, "SELECT nope FROM t")
    assert isinstance(no_column, OperationalError)  # SQLite's class for it, though it is no outage
    assert not is_passing_failure(no_column)
    duplicate = await _failure(path, "INSERT INTO t VALUES (1)")
    assert isinstance(duplicate, IntegrityError) and not is_passing_failure(duplicate)


async def test_a_database_locked_by_another_process_is_passing(tmp_path):
    path = tmp_path / "b.sqlite3"
    holder = _table(path)
    holder.execute("BEGIN EXCLUSIVE")  # e.g. a backup or the CLI holding it
    try:
        locked = await _failure(path, "INSERT INTO t VALUES (2)")
    finally:
        holder.rollback()
        holder.close()
    assert "locked" in str(locked) and is_passing_failure(locked)


async def test_a_database_file_that_cannot_be_opened_is_passing(tmp_path):
    gone = await _failure(tmp_path / "no" / "such" / "folder" / "c.sqlite3", "SELECT 1")
    assert is_passing_failure(gone)


@pytest.mark.parametrize("error, passing", [
    (DatabaseUnavailable("update 1 could not be claimed"), True),
    (TimeoutError("the database stayed busy for 15 s"), True),
    (ConnectionRefusedError(111, "Connection refused"), True),
    (ValueError("a handler's own mistake"), False),
    (KeyError("x"), False),
])
def test_errors_outside_the_database_driver(error, passing):
    assert is_passing_failure(error) is passing
    assert is_passing(error) is passing


@pytest.mark.parametrize("error, passing", [
    (NetworkError("Bad Gateway"), True),
    (TimedOut(), True),
    (RetryAfter(30), True),
    (BadRequest("Can't parse entities"), False),  # the same text fails the same way again
    (Forbidden("Forbidden: bot was blocked by the user"), False),
])
def test_telegram_errors(error, passing):
    assert is_passing(error) is passing


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_postgresql_statement_whose_answer_never_comes_fails_as_passing(database_url, monkeypatch):
    """A half-open connection would hold the update (and the webhook's queue behind it) for good."""
    monkeypatch.setattr(storage.db, "STATEMENT_TIMEOUT_SECONDS", 0.3)  # the desk's 60 s, shortened
    db = Database(database_url)
    try:
        async with db.uow() as uow:
            with pytest.raises(Exception) as raised:
                await uow.session.execute(text("SELECT pg_sleep(5)"))
        assert is_passing_failure(raised.value), repr(raised.value)
        async with db.uow() as uow:  # the pool goes on with a working connection
            assert await uow.session.scalar(text("SELECT 1")) == 1
    finally:
        await db.dispose()
