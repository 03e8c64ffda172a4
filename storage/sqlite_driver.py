"""SQLite through aiosqlite with one trip to the database thread per statement.

aiosqlite runs every call of its cursor (open, execute, fetch, close) as a separate trip to its
worker thread, and SQLAlchemy makes four such calls per statement. Each trip costs a queue put, a
thread switch and a wake-up of the event loop, which was the largest single cost of a simple
update (a /my list made ~58 trips). `OneTripConnection` keeps aiosqlite's thread and queue (so
waiting for SQLite's write lock never blocks the event loop) but its cursor executes, fetches
every row and closes in one trip; the rows are then handed to SQLAlchemy from memory. Our
statements return a page at most, and SQLAlchemy's aiosqlite adapter fetches everything at once
anyway, so nothing is held longer than before.

Two more trips are saved per transaction: storage.db marks the connection `begin_pending` instead
of sending BEGIN IMMEDIATE on its own, and the transaction's first statement takes it along; a
commit or rollback with no transaction open (the pool's reset after every commit) stays home.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url


class OneTripCursor:
    """The part of aiosqlite's Cursor that SQLAlchemy's adapter uses, one thread trip per statement."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> OneTripCursor:
        connection = self._connection
        self._take(await connection._execute(_run, connection._conn, connection.take_begin(), sql, parameters))
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]]) -> OneTripCursor:
        connection = self._connection
        self._take(await connection._execute(_run_many, connection._conn, connection.take_begin(), sql, seq_of_parameters))
        return self

    def _take(self, outcome: tuple[Any, list[Any], int, int | None]) -> None:
        self.description, self._rows, self.rowcount, self.lastrowid = outcome

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


def _run(conn: sqlite3.Connection, begin: str | None, sql: str, parameters: Sequence[Any] | None) -> tuple[Any, list[Any], int, int | None]:
    """In the database thread: begin the transaction if asked, execute, fetch everything, close."""
    if begin:
        conn.execute(begin)
    cursor = conn.execute(sql, parameters) if parameters is not None else conn.execute(sql)
    try:
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(conn: sqlite3.Connection, begin: str | None, sql: str, seq_of_parameters: Iterable[Sequence[Any]]) -> tuple[Any, list[Any], int, int | None]:
    if begin:
        conn.execute(begin)
    cursor = conn.executemany(sql, seq_of_parameters)
    try:
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection (thread, queue, close) with `OneTripCursor`s and a BEGIN that
    travels with the transaction's first statement."""

    begin_pending: str | None = None  # e.g. "BEGIN IMMEDIATE", sent before the next statement

    def cursor(self) -> OneTripCursor:  # type: ignore[override]  # SQLAlchemy enters it with `async with`
        return OneTripCursor(self)

    def begin_with_next_statement(self, begin: str) -> None:
        self.begin_pending = begin

    def take_begin(self) -> str | None:
        begin, self.begin_pending = self.begin_pending, None
        return begin

    async def commit(self) -> None:
        self.begin_pending = None  # a transaction that executed nothing has nothing to commit
        if self._conn.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        # `in_transaction` only reads SQLite's autocommit flag: safe from this thread while no
        # statement of this connection is running, which is so whenever SQLAlchemy ends a transaction.
        self.begin_pending = None
        if self._conn.in_transaction:
            await super().rollback()


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _unicode_upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _open(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    """sqlite3.connect, with a `lower()` and an `upper()` that know every script, as Python's do.
    SQLite's own change ASCII only: a search for a Russian or accented name never matched, and a
    part code compared as `upper(code) = 'ПН-6204'` (Python's upper on our side) never found
    "пн-6204", so its re-import inserted it again. (PostgreSQL's follow the database's locale.)"""
    connection = sqlite3.connect(*args, **kwargs)
    connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    connection.create_function("upper", 1, _unicode_upper, deterministic=True)
    return connection


def async_creator(url: str) -> Callable[[], OneTripConnection]:
    """For `create_async_engine(async_creator=...)`: connections to the database of an
    `sqlite+aiosqlite://` URL, opened with the arguments SQLAlchemy's own dialect would use."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    kwargs.pop("iter_chunk_size", None)

    def connect() -> OneTripConnection:
        connection = OneTripConnection(partial(_open, *args, **kwargs), iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy's dialect does: a forgotten connection never blocks exit
        return connection

    return connect
