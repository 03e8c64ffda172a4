"""A throwaway PostgreSQL server for the test session.

Usage (e.g. from a session-scoped fixture in conftest.py)::

    from tests import pg_cluster

    pg = pg_cluster.start_temp_postgres()
    if pg is None:
        pytest.skip("POSTGRESQL NOT AVAILABLE: " + pg_cluster.last_error)
    try:
        ...  # use pg.url  (postgresql+asyncpg://postgres@127.0.0.1:PORT/servicedesk_test)
    finally:
        pg.stop()

API
---
``start_temp_postgres() -> TempPostgres | None``
    * If ``TEST_POSTGRES_URL`` is set, returns a ``TempPostgres`` wrapping that
      URL (``external=True``; ``stop()`` does nothing). No server is started.
    * Otherwise looks for ``initdb``/``pg_ctl`` (``TEST_POSTGRES_BINDIR`` if set,
      then PATH, then ``/usr/lib/postgresql/*/bin`` highest version first).
      If they cannot be found it returns ``None`` and sets the module attribute
      ``last_error`` to a human-readable reason.
    * If the binaries exist but the server cannot be started it raises
      ``PostgresStartError`` (with the tail of the server log in the message):
      that is a real failure, not something to skip silently.

``TempPostgres``
    ``.url`` (SQLAlchemy URL, asyncpg driver), ``.host``, ``.port``,
    ``.database``, ``.user``, ``.external``, ``.base_dir`` (None if external),
    ``.stop()`` (idempotent; ``pg_ctl stop -m immediate`` + remove the temp dir),
    usable as a context manager. ``stop()`` is also registered with atexit, and
    a small watchdog process stops the server and removes the directory if the
    test process dies without running atexit (SIGKILL, SIGTERM).

Running as root: PostgreSQL refuses to run as root, so when ``os.geteuid() == 0``
initdb/pg_ctl/postgres run as the ``postgres`` system user (or ``nobody`` when
there is none); the temp dir is created under /tmp and chowned to that user.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "DATABASE",
    "PostgresStartError",
    "TempPostgres",
    "find_pg_bindir",
    "last_error",
    "start_temp_postgres",
]

DATABASE = "servicedesk_test"
SUPERUSER = "postgres"
HOST = "127.0.0.1"

#: Why the last ``start_temp_postgres()`` call returned None (None otherwise).
last_error: str | None = None


class PostgresStartError(RuntimeError):
    """The PostgreSQL binaries exist but the server could not be set up."""


# --------------------------------------------------------------------------
# Finding the binaries
# --------------------------------------------------------------------------

def _version_key(path: str) -> tuple:
    """Sort key for /usr/lib/postgresql/<version>/bin: numeric, highest last."""
    m = re.search(r"postgresql/([0-9.]+)/bin", path) or re.search(r"pgsql-([0-9.]+)/bin", path)
    if not m:
        return (0,)
    return tuple(int(p) for p in m.group(1).split(".") if p.isdigit())


def find_pg_bindir() -> str | None:
    """Directory holding both ``initdb`` and ``pg_ctl``, or None."""
    candidates: list[str] = []
    env_dir = os.environ.get("TEST_POSTGRES_BINDIR")
    if env_dir:
        candidates.append(env_dir)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(initdb))
    versioned = glob.glob("/usr/lib/postgresql/*/bin") + glob.glob("/usr/pgsql-*/bin")
    candidates += sorted(versioned, key=_version_key, reverse=True)
    candidates.append("/usr/local/pgsql/bin")
    for d in candidates:
        if all(os.access(os.path.join(d, exe), os.X_OK) for exe in ("initdb", "pg_ctl")):
            return d
    return None


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"<no log: {e}>"


def _service_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run PostgreSQL as (only when we are root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresStartError(
        "running as root and neither a 'postgres' nor a 'nobody' user exists; "
        "PostgreSQL refuses to run as root"
    )


def _clean_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, PGHOST...) from the caller must not leak
    # into initdb/pg_ctl; a fixed locale keeps initdb quiet and deterministic.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C", TZ=os.environ.get("TZ", "UTC"))
    return env


# Runs in a separate process: waits for the test process to go away, then
# makes sure the server is gone and the directory removed. Needed because
# atexit does not run on SIGKILL/SIGTERM.
_WATCHDOG = r"""
import os, shutil, signal, sys, time
parent, data_dir, base_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
# We are a direct child of the test process: once it dies we are re-parented
# (immune to pid reuse, unlike polling the parent's pid).
while os.getppid() == parent:
    time.sleep(0.5)
try:
    with open(os.path.join(data_dir, "postmaster.pid")) as f:
        pm = int(f.readline().strip())
    os.kill(pm, signal.SIGQUIT)          # immediate shutdown
    for _ in range(100):
        if not alive(pm):
            break
        time.sleep(0.1)
    else:
        os.kill(pm, signal.SIGKILL)
except (OSError, ValueError):
    pass
shutil.rmtree(base_dir, ignore_errors=True)
"""


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------

@dataclass(eq=False)
class TempPostgres:
    url: str
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    external: bool = False
    base_dir: str | None = None
    data_dir: str | None = None
    log_file: str | None = None
    bindir: str | None = None
    _run_as: pwd.struct_passwd | None = None
    _watchdog: subprocess.Popen | None = None
    _stopped: bool = False

    # -- construction -----------------------------------------------------

    @classmethod
    def from_url(cls, url: str) -> "TempPostgres":
        parts = urlsplit(url)
        return cls(
            url=url,
            host=parts.hostname,
            port=parts.port,
            database=parts.path.lstrip("/") or None,
            user=parts.username,
            external=True,
        )

    @classmethod
    def start(cls, bindir: str, *, attempts: int = 3, timeout: int = 60) -> "TempPostgres":
        """initdb + pg_ctl start + createdb. Raises PostgresStartError."""
        run_as = _service_user()
        # Under /tmp (not $TMPDIR, which could be below /root) so that the
        # unprivileged user can traverse the whole path.
        base = tempfile.mkdtemp(prefix="pgtest-", dir="/tmp" if run_as else None)
        self = cls(
            url="",
            host=HOST,
            database=DATABASE,
            user=SUPERUSER,
            base_dir=base,
            data_dir=os.path.join(base, "data"),
            log_file=os.path.join(base, "postgres.log"),
            bindir=bindir,
            _run_as=run_as,
        )
        try:
            if run_as:
                os.chown(base, run_as.pw_uid, run_as.pw_gid)
            self._initdb(timeout)
            for attempt in range(attempts):
                self.port = _free_port()
                try:
                    self._pg_ctl_start(timeout)
                    break
                except PostgresStartError as e:
                    # Lost the race for the port? Try another one.
                    if attempt + 1 < attempts and "already in use" in str(e):
                        continue
                    raise
            self._start_watchdog()
            atexit.register(self.stop)
            self._createdb(timeout)
        except BaseException:
            self.stop()
            raise
        self.url = f"postgresql+asyncpg://{SUPERUSER}@{HOST}:{self.port}/{DATABASE}"
        return self

    # -- subprocess plumbing ----------------------------------------------

    def _run(self, args: list[str], *, as_service: bool, timeout: int, what: str,
             new_session: bool = False) -> subprocess.CompletedProcess:
        kwargs: dict = dict(
            cwd=self.base_dir,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=new_session,
        )
        if as_service and self._run_as:
            kwargs.update(user=self._run_as.pw_uid, group=self._run_as.pw_gid, extra_groups=[])
            kwargs["env"].update(HOME=self.base_dir, USER=self._run_as.pw_name,
                                 LOGNAME=self._run_as.pw_name)
        try:
            proc = subprocess.run(args, **kwargs)
        except subprocess.TimeoutExpired as e:
            raise PostgresStartError(
                f"{what} timed out after {timeout}s\n--- server log ---\n{_tail(self.log_file)}"
            ) from e
        except OSError as e:
            raise PostgresStartError(f"{what} could not run: {e}") from e
        if proc.returncode != 0:
            raise PostgresStartError(
                f"{what} failed (exit {proc.returncode}): {' '.join(args)}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}\n"
                f"--- server log ({self.log_file}) ---\n{_tail(self.log_file)}"
            )
        return proc

    def _bin(self, name: str) -> str:
        return os.path.join(self.bindir, name)

    def _initdb(self, timeout: int) -> None:
        self._run(
            [self._bin("initdb"), "-D", self.data_dir, "-U", SUPERUSER,
             "--auth=trust",          # local + 127.0.0.1/::1: no passwords
             "--encoding=UTF8", "--locale=C",
             "--no-sync",             # throwaway cluster: skip fsync of the new files
             "--no-instructions"],
            as_service=True, timeout=timeout, what="initdb",
        )
        # Test-only speed settings; port/host are passed on the command line.
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a", encoding="utf-8") as f:
            f.write(
                "\n# --- tests/pg_cluster.py: throwaway test server ---\n"
                f"listen_addresses = '{HOST}'\n"
                f"unix_socket_directories = '{self.base_dir}'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "max_connections = 100\n"
                "logging_collector = off\n"
            )

    def _pg_ctl_start(self, timeout: int) -> None:
        # start_new_session: a Ctrl-C on the terminal must not reach the
        # postmaster before the test session has torn down.
        self._run(
            [self._bin("pg_ctl"), "start", "-D", self.data_dir, "-l", self.log_file,
             "-w", "-t", str(timeout), "-o", f"-p {self.port}"],
            as_service=True, timeout=timeout + 10, what="pg_ctl start", new_session=True,
        )

    def _createdb(self, timeout: int) -> None:
        createdb = self._bin("createdb")
        if not os.access(createdb, os.X_OK):
            createdb = shutil.which("createdb") or ""
        if createdb:
            self._run([createdb, "-h", HOST, "-p", str(self.port), "-U", SUPERUSER, DATABASE],
                      as_service=False, timeout=timeout, what="createdb")
            return
        # No client binaries: go through asyncpg instead (in a thread, as the
        # caller may be inside a running event loop).
        import asyncio
        import threading

        import asyncpg

        errors: list[BaseException] = []

        async def create() -> None:
            conn = await asyncpg.connect(host=HOST, port=self.port, user=SUPERUSER,
                                         database="postgres")
            try:
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
            finally:
                await conn.close()

        def worker() -> None:
            try:
                asyncio.run(create())
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append(e)

        t = threading.Thread(target=worker)
        t.start()
        t.join(timeout)
        if errors or t.is_alive():
            raise PostgresStartError(f"creating database {DATABASE} failed: {errors or 'timeout'}")

    def _start_watchdog(self) -> None:
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(os.getpid()), self.data_dir, self.base_dir],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
            )
        except OSError:
            self._watchdog = None  # atexit still covers the ordinary cases

    # -- teardown ---------------------------------------------------------

    def stop(self) -> None:
        """Stop the server (immediate mode) and remove its directory. Idempotent."""
        if self._stopped or self.external:
            self._stopped = True
            return
        self._stopped = True
        try:
            atexit.unregister(self.stop)
        except Exception:  # pragma: no cover
            pass
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        if self.data_dir and os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
            try:
                self._run([self._bin("pg_ctl"), "stop", "-D", self.data_dir,
                           "-m", "immediate", "-w", "-t", "30"],
                          as_service=True, timeout=40, what="pg_ctl stop")
            except PostgresStartError:
                self._kill_postmaster()
        if self.base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as f:
                pid = int(f.readline().strip())
            os.kill(pid, signal.SIGKILL)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (OSError, ValueError):
            pass

    def __enter__(self) -> "TempPostgres":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        kind = "external" if self.external else f"temp at {self.base_dir}"
        return f"<TempPostgres {self.url!r} ({kind})>"


def start_temp_postgres() -> TempPostgres | None:
    """See the module docstring. None (with ``last_error`` set) if no PostgreSQL."""
    global last_error
    last_error = None
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return TempPostgres.from_url(url)
    bindir = find_pg_bindir()
    if bindir is None:
        last_error = (
            "initdb/pg_ctl not found (looked in $TEST_POSTGRES_BINDIR, PATH and "
            "/usr/lib/postgresql/*/bin); install PostgreSQL (Debian: apt-get install "
            "postgresql) or set TEST_POSTGRES_URL"
        )
        return None
    return TempPostgres.start(bindir)
