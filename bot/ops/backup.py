"""`servicedesk backup FILE` and `servicedesk restore FILE` for SQLite; pg_dump/pg_restore notes for PostgreSQL.

Backup uses SQLite's online backup API: a consistent copy even while the bot writes (WAL mode).
Restore refuses unless
- the backup passes `PRAGMA integrity_check` and carries a schema revision this code knows,
- no bot process is running on the database (each one holds a shared lock on `<db>.lock`
  while it runs; restore needs it exclusively),
and it first copies the current database aside (`<db>.before-restore-<UTC time>`). The bot
migrates a restored older backup to the current schema at its next start.
"""
from __future__ import annotations

import contextlib
import fcntl
import shlex
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, make_url

from storage.db import alembic_config


class BackupError(Exception):
    """A backup or restore that must not go ahead; the message says why and what to do."""


def sqlite_path(database_url: str) -> Path | None:
    """The file of an SQLite URL; None for PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("DATABASE_URL: an in-memory SQLite database cannot be backed up")
    return Path(url.database)


# The URL's query is asyncpg.connect()'s arguments (SQLAlchemy passes it on); these are the ones libpq
# knows, in libpq's spelling. The rest (timeouts, statement caches) mean nothing to pg_dump, which
# refuses a parameter it does not know.
LIBPQ_PARAMETERS = {"ssl": "sslmode", "host": "host", "passfile": "passfile", "target_session_attrs": "target_session_attrs",
                    "krbsrvname": "krbsrvname", "gsslib": "gsslib"}


def postgres_commands(database_url: str, file: Path) -> str:
    """What to run for PostgreSQL (the desk does not shell out to the client tools), ready to paste into a shell."""
    url = make_url(database_url)
    query = {LIBPQ_PARAMETERS[name]: value for name, value in url.query.items() if name in LIBPQ_PARAMETERS}
    libpq_url = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                           database=url.database, query=query).render_as_string(hide_password=False)
    quoted_file = shlex.quote(str(file))
    return (
        "PostgreSQL: use its own tools (give the password in PGPASSWORD or ~/.pgpass):\n"
        f"  backup:  pg_dump --format=custom --file={quoted_file} {shlex.quote(libpq_url)}\n"
        f"  restore: stop the bot, then pg_restore --clean --if-exists --no-owner --dbname={shlex.quote(libpq_url)} {quoted_file}"
    )


# --- the running-bot lock ------------------------------------------------------------


def _lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@contextlib.contextmanager
def running_lock(database_url: str) -> Iterator[None]:
    """Held by a running bot (shared, so several processes may run); restore needs it exclusively."""
    path = sqlite_path(database_url)
    if path is None:
        yield
        return
    with _locked(path, fcntl.LOCK_SH):
        yield


@contextlib.contextmanager
def _locked(db_path: Path, mode: int) -> Iterator[IO[str]]:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with open(_lock_path(db_path), "a") as handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"{db_path}: the bot is running on this database; stop it first") from None
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- backup and restore ------------------------------------------------------------------


def backup(database_url: str, target: Path) -> str:
    """Copy the live SQLite database to `target` (which must not exist); returns a summary line."""
    source = _existing_sqlite(database_url)
    if target.exists():
        raise BackupError(f"{target}: already exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy(source, target)
    problem = _integrity_problem(target)
    if problem:
        target.unlink()
        raise BackupError(f"the copy failed its integrity check ({problem}); nothing was kept")
    return f"backed up {source} to {target} ({_revision(target) or 'no schema'}, {target.stat().st_size} bytes)"


def restore(database_url: str, backup_file: Path, now: datetime) -> str:
    """Replace the live SQLite database with `backup_file`, keeping the current one aside."""
    live = sqlite_path(database_url)
    if live is None:
        raise BackupError("restore is for SQLite; for PostgreSQL see `servicedesk backup --help` and the README")
    if not backup_file.is_file():
        raise BackupError(f"{backup_file}: no such file")
    problem = _integrity_problem(backup_file)
    if problem:
        raise BackupError(f"{backup_file}: not a sound SQLite database ({problem}); nothing was changed")
    revision, known = _revision(backup_file), _known_revisions(database_url)
    if revision not in known:
        raise BackupError(f"{backup_file}: schema revision {revision or 'none'} is not one this version knows; nothing was changed")
    with _locked(live, fcntl.LOCK_EX):
        kept = None
        if live.exists():
            kept = live.with_name(f"{live.name}.before-restore-{now:%Y%m%dT%H%M%SZ}")
            _copy(live, kept)
        _copy(backup_file, live)
    problem = _integrity_problem(live)
    if problem:
        raise BackupError(f"{live}: integrity check failed after restore ({problem}); the previous database is {kept}")
    aside = f"; the previous database is kept as {kept}" if kept else ""
    return f"restored {live} from {backup_file} (revision {revision}){aside}"


def _existing_sqlite(database_url: str) -> Path:
    path = sqlite_path(database_url)
    if path is None:
        raise BackupError("not an SQLite database")
    if not path.is_file():
        raise BackupError(f"{path}: no such database file")
    return path


def _copy(source: Path, target: Path) -> None:
    """SQLite's backup API, page by page: consistent even while another process writes."""
    with contextlib.closing(sqlite3.connect(source)) as src, \
            contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _integrity_problem(path: Path) -> str | None:
    try:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = "; ".join(str(row[0]) for row in rows)
    return None if result == "ok" else result


def _revision(path: Path) -> str | None:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def _known_revisions(database_url: str) -> set[str]:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    return {revision.revision for revision in script.walk_revisions()}
