"""Engine creation, Alembic upgrades and the unit of work (one transaction per update)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage.repositories import (
    AuditRepository,
    ClaimRepository,
    ConsultationRepository,
    CounterRepository,
    CustomerRepository,
    DispatchRepository,
    DraftRepository,
    EscalationRepository,
    InviteRepository,
    JobRepository,
    PartRepository,
    ProductRepository,
    RequestRepository,
    StaffRepository,
    UpdateRepository,
    UserRepository,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()
    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Apply all migrations. Synchronous (Alembic runs its own event loop): call it off the bot's loop."""
    command.upgrade(alembic_config(url), "head")


class UnitOfWork:
    """One session and transaction; rolls back unless `commit()` was called.

    Repositories never commit; the service (or the handler wrapper) commits once.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.users = UserRepository(self.session)
        self.customers = CustomerRepository(self.session)
        self.products = ProductRepository(self.session)
        self.parts = PartRepository(self.session)
        self.claims = ClaimRepository(self.session)
        self.requests = RequestRepository(self.session)
        self.drafts = DraftRepository(self.session)
        self.updates = UpdateRepository(self.session)
        self.counters = CounterRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.invites = InviteRepository(self.session)
        self.staff = StaffRepository(self.session)
        self.dispatch = DispatchRepository(self.session)
        self.escalations = EscalationRepository(self.session)
        self.consultations = ConsultationRepository(self.session)
        self.jobs = JobRepository(self.session)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()


class Database:
    """The engine plus a factory of units of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.session_factory = async_sessionmaker(self.engine, expire_on_commit=False)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    async def dispose(self) -> None:
        await self.engine.dispose()
