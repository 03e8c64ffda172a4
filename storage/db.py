"""Engine creation, Alembic upgrades and the unit of work (one transaction per update)."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util.concurrency import await_, in_greenlet

from storage.repositories import (
    AppStateRepository,
    ApprovalRepository,
    ArchiveRepository,
    AuditRepository,
    ClaimRepository,
    ClockRepository,
    ComplaintRepository,
    ConsultationRepository,
    CounterRepository,
    CustomerRepository,
    DispatchRepository,
    DraftRepository,
    EscalationRepository,
    FollowUpRepository,
    InviteRepository,
    JobRepository,
    MaintenanceRepository,
    OutboxRepository,
    PartRepository,
    ProductRepository,
    QuoteRepository,
    RequestRepository,
    ReturnRepository,
    StaffRepository,
    StockRepository,
    UpdateRepository,
    UserRepository,
)
from storage import sqlite_driver
from storage.personal_data import PersonalDataRepository

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Execution option of a connection that only reads (`Database.ping`): on SQLite it takes no writer
# turn and no write lock, so it never queues behind a unit of work that holds them.
READ_ONLY = "desk_read_only"
# PostgreSQL: the longest any one statement may wait for its answer (the monthly statistics over
# a year of requests take a few seconds). DATABASE_URL's own `?command_timeout=` wins.
STATEMENT_TIMEOUT_SECONDS = 60.0


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if make_url(url).drivername == "sqlite+aiosqlite":
        kwargs.setdefault("async_creator", sqlite_driver.async_creator(url))  # one thread trip per statement
    if make_url(url).drivername == "postgresql+asyncpg" and "command_timeout" not in make_url(url).query:
        # Without it a statement whose answer never comes (a half-open connection after a network
        # fault) would hold its update, and the one-at-a-time webhook behind it, for good. Failed
        # with a TimeoutError instead, the update is delivered again (a passing failure).
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("command_timeout", STATEMENT_TIMEOUT_SECONDS)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "postgresql":
        # A PostgreSQL restart, a failover or idle_session_timeout ends the server side of the
        # pooled connections, and asyncpg sees each socket close while it waits in the pool. Handed
        # out, such a connection would fail the next unit of work: an update lost (the webhook has
        # answered 200 by then), the health probe saying "error" of a database that is up. The pool
        # opens a fresh one instead. This reads a local flag; pool_pre_ping would cost every
        # update a round trip to the server.
        @event.listens_for(engine.sync_engine, "checkout")
        def _replace_closed(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
            if record.driver_connection.is_closed():
                raise DisconnectionError("the server closed this pooled connection")

    if engine.dialect.name == "sqlite":
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cursor.execute("PRAGMA busy_timeout=15000")  # wait for the write lock rather than fail
            cursor.close()
            dbapi_conn.isolation_level = None  # the driver's own BEGIN would be deferred; see _sqlite_begin

        # BEGIN IMMEDIATE takes the write lock at the start. With the default deferred BEGIN two
        # transactions that both read and then write deadlock on the upgrade, and SQLite fails one
        # at once ("database is locked") without honouring busy_timeout. Nearly every unit of work
        # writes (the update id comes first), so waiting for the lock up front costs nothing.
        turns = WriterTurns()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                return  # no BEGIN: each read on its own, past the writer (WAL)
            entry = conn.connection.record_info  # one dict per pooled connection, for its whole life
            turns.take(entry)
            driver = conn.connection.driver_connection
            if isinstance(driver, sqlite_driver.OneTripConnection):
                driver.begin_with_next_statement("BEGIN IMMEDIATE")  # saves a trip to the database thread
                return
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                turns.give_back(entry)
                raise

        @event.listens_for(engine.sync_engine, "checkin")  # after the commit or rollback, back in the pool
        def _sqlite_checkin(_dbapi_conn: Any, record: Any) -> None:
            turns.give_back(record.record_info)
    return engine


class DatabaseUnavailable(Exception):
    """An update could not even be claimed: the database refused, dropped or timed out the
    connection, or stayed busy. Nothing of the update was done; it may well work in a moment."""


# SQLSTATE classes of PostgreSQL failures that say nothing about the statement: connection
# exceptions, insufficient resources (too many connections), operator intervention (shutdown,
# cannot connect now), transaction rollback (serialization failure, deadlock).
PASSING_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "40"})
# SQLite's primary result codes of the same kind: busy, locked, out of memory, I/O error, disk
# full, cannot open the file.
PASSING_SQLITE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM,
                                  sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN})


def is_passing_failure(exc: BaseException) -> bool:
    """The database could not be reached, dropped the connection, was too busy or rolled the
    transaction back to break a conflict: the same work may well succeed in a moment. Anything
    else (a constraint, a bug in a statement) would fail the same way again."""
    if isinstance(exc, (DatabaseUnavailable, TimeoutError, PoolTimeout, OSError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlite_code = getattr(exc.orig, "sqlite_errorcode", None)
    if sqlite_code is not None:  # SQLite calls "no such column" an OperationalError too: go by its code
        return sqlite_code & 0xFF in PASSING_SQLITE_CODES
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in PASSING_SQLSTATE_CLASSES


SQLITE_WRITER_WAIT = 15.0  # seconds a unit of work waits for its turn, as PRAGMA busy_timeout


class WriterTurns:
    """One SQLite transaction at a time within this process, in the order they asked (FIFO).

    SQLite lets one writer in at a time anyway; a second BEGIN IMMEDIATE waits in SQLite's busy
    handler, which polls with sleeps up to 100 ms. A loop that commits and begins again at once
    (the sweep's batches, the outbox round) slips into every gap before a sleeping waiter wakes,
    so an update could wait past the busy timeout and fail. Here each transaction first takes its
    turn on an asyncio lock (first come, first served; no polling); the busy timeout still covers
    other processes (backup, the CLI). The turn is given back when the connection returns to the
    pool, right after its commit or rollback."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: dict | None = None  # the pool entry's record_info of the connection holding the turn

    def take(self, entry: dict) -> None:
        if not in_greenlet():  # a synchronous use of the engine (none in the desk): SQLite's own wait
            return
        try:
            await_(asyncio.wait_for(self._lock.acquire(), SQLITE_WRITER_WAIT))
        except TimeoutError:
            raise TimeoutError(f"the database stayed busy for {SQLITE_WRITER_WAIT:.0f} s") from None
        self._holder = entry

    def give_back(self, entry: dict) -> None:
        if self._holder is not None and self._holder is entry:
            self._holder = None
            self._lock.release()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Apply all migrations. Synchronous (Alembic runs its own event loop): call it off the bot's loop."""
    command.upgrade(alembic_config(url), "head")


BeforeCommit = Callable[["UnitOfWork", set[int]], Awaitable[None]]


class UnitOfWork:
    """One session and transaction; rolls back unless `commit()` was called.

    Repositories never commit; the service (or the handler wrapper) commits once.
    `touched_requests` collects requests that got a timeline event; the database's
    `before_commit` hook (the deadline clocks) brings them up to date in the same transaction,
    and also when a touched request's clocks are read before the commit. `locked_requests` are
    the request rows `requests.lock` holds for this transaction (PostgreSQL), so each is locked once.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], before_commit: BeforeCommit | None = None) -> None:
        self._session_factory = session_factory
        self._before_commit = before_commit
        self.touched_requests: set[int] = set()
        self.locked_requests: set[int] = set()  # request rows this transaction holds locked (PostgreSQL)
        self.committed = False  # a commit went through: what was done so far stands

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.users = UserRepository(self.session)
        self.customers = CustomerRepository(self.session)
        self.products = ProductRepository(self.session)
        self.parts = PartRepository(self.session)
        self.claims = ClaimRepository(self.session)
        self.requests = RequestRepository(self.session, self.touched_requests, self._before_commit and self._refresh,
                                          self.locked_requests)
        self.drafts = DraftRepository(self.session)
        self.updates = UpdateRepository(self.session)
        self.counters = CounterRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.invites = InviteRepository(self.session)
        self.staff = StaffRepository(self.session)
        self.dispatch = DispatchRepository(self.session, self._before_commit and self._refresh_touched)
        self.escalations = EscalationRepository(self.session)
        self.consultations = ConsultationRepository(self.session)
        self.jobs = JobRepository(self.session)
        self.clocks = ClockRepository(self.session, self._before_commit and self._refresh_touched)
        self.outbox = OutboxRepository(self.session)
        self.app_state = AppStateRepository(self.session)
        self.approvals = ApprovalRepository(self.session)
        self.quotes = QuoteRepository(self.session)
        self.stock = StockRepository(self.session)
        self.returns = ReturnRepository(self.session)
        self.personal_data = PersonalDataRepository(self.session)
        self.archive = ArchiveRepository(self.session)
        self.maintenance = MaintenanceRepository(self.session)
        self.complaints = ComplaintRepository(self.session)
        self.follow_ups = FollowUpRepository(self.session)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def claim_update(self, update_id: int, now: datetime) -> bool:
        """`updates.claim` as the first statement of the update's transaction; False for a
        duplicate delivery. When the server closed the pooled connection an instant before (a
        restart, failover or idle_session_timeout; `create_engine` replaces the ones already
        seen closed), nothing has been done yet: the claim runs once more on a fresh connection,
        so the update is handled rather than lost. Any other failure of the claim is the
        database's, not the update's: it is raised as DatabaseUnavailable."""
        first = not self.session.in_transaction()
        try:
            try:
                return await self.updates.claim(update_id, now)
            except DBAPIError as exc:
                if not (first and exc.connection_invalidated):
                    raise
                log.warning("the database dropped the connection (restarted?); update %s claimed again on a new one", update_id)
                await self.session.rollback()
                return await self.updates.claim(update_id, now)
        except (DBAPIError, OSError, TimeoutError, PoolTimeout) as exc:
            raise DatabaseUnavailable(f"update {update_id} could not be claimed: {type(exc).__name__}") from exc

    async def _refresh(self, request_ids: set[int]) -> None:
        await self._before_commit(self, request_ids)

    async def _refresh_touched(self) -> None:
        if self.touched_requests:
            await self._before_commit(self, set(self.touched_requests))

    async def commit(self) -> None:
        if self._before_commit is not None and self.touched_requests:
            await self._before_commit(self, set(self.touched_requests))
        self.touched_requests.clear()
        try:
            await self.session.commit()
        finally:
            self.locked_requests.clear()  # the commit (or its failure) ended the transaction and its locks
        self.committed = True

    async def rollback(self) -> None:
        self.touched_requests.clear()
        self.locked_requests.clear()
        await self.session.rollback()


class Database:
    """The engine plus a factory of units of work."""

    def __init__(self, url: str, *, before_commit: BeforeCommit | None = None, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.session_factory = async_sessionmaker(self.engine, expire_on_commit=False)
        self.before_commit = before_commit

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.before_commit)

    async def ping(self) -> None:
        """SELECT 1, for the health probe; raises when the database does not answer. It only
        reads, so an update holding SQLite's write lock (a reply waiting out a 429 inside its
        transaction) does not make the probe wait and call the database down. Like an update's
        claim, it tries once more when its pooled connection was dropped an instant before."""
        for last_try in (False, True):
            try:
                async with self.engine.connect() as connection:
                    await connection.execution_options(**{READ_ONLY: True})
                    await connection.execute(text("SELECT 1"))
                return
            except DBAPIError as exc:
                if last_try or not exc.connection_invalidated:
                    raise

    async def dispose(self) -> None:
        await self.engine.dispose()
