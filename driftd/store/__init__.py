"""The state store: what the daemon has seen, in SQLite (default) or PostgreSQL.

``open_store`` builds the engine from ``[driftd] state_url`` and, for the
daemon and ``driftd db upgrade``, applies the Alembic migrations that ship in
this package. Read-only commands refuse a store that is missing or behind,
rather than creating or changing it.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from driftd.config import Config
from driftd.errors import DriftdError, first_line
from driftd.store.errors import DriftNotFound, StoreError, StoreMissing, StoreUnavailable

log = logging.getLogger(__name__)

__all__ = [
    "DiskFull",
    "DriftNotFound",
    "Store",
    "StoreError",
    "StoreMissing",
    "StoreUnavailable",
    "first_line",
    "open_store",
]

SUPPORTED = ("sqlite", "postgresql")


@dataclass
class Store:
    engine: Engine
    display_url: str
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def close(self) -> None:
        self.engine.dispose()

    def insert(self, table: Any) -> Any:
        """``INSERT`` with ``ON CONFLICT`` (upserts), in this store's dialect."""
        return upsert_insert(self.dialect, table)


def upsert_insert(dialect: str, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support: PostgreSQL's or SQLite's."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def store_url(config: Config) -> URL:
    """``state_url`` with its password filled in and a relative SQLite path resolved."""
    section = config.driftd
    try:
        url = make_url(section.state_url)
    except Exception:
        raise StoreError(
            "[driftd] state_url cannot be parsed",
            "use sqlite:///driftd-state.db or postgresql+psycopg://driftd@host/driftd",
        ) from None
    backend = url.get_backend_name()
    if backend not in SUPPORTED:
        raise StoreError(
            f"[driftd] state_url: {backend} is not supported as a state store",
            "use SQLite (one daemon) or PostgreSQL (one or several daemons)",
        )
    if backend == "postgresql" and url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # the driver driftd ships with
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise StoreError(
                "[driftd] state_url: an in-memory SQLite store forgets everything on exit",
                'give it a file: state_url = "sqlite:///driftd-state.db"',
            )
        url = url.set(database=str(config.resolve_path(url.database)))
    password = config.secret(
        "driftd.state_password", section.state_password_env, section.state_password_file
    )
    if password is not None:
        url = url.set(password=password)
    return url


def display(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def open_store(config: Config, *, migrate: bool, pool_size: int = 5) -> Store:
    """Open the store; ``migrate`` applies pending migrations, else a stale store is an error."""
    from driftd.store import migrate as migrations

    url = store_url(config)
    shown = display(url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not migrate and not path.exists():
            raise StoreMissing(
                f"state store {path} does not exist yet",
                "start the daemon (`driftd run`) or create it with `driftd db upgrade`",
            )
        if migrate and not path.parent.is_dir():
            raise StoreError(
                f"state store directory {path.parent} does not exist",
                "create it, or point [driftd] state_url elsewhere "
                "(under systemd: sqlite:///${STATE_DIRECTORY}/state.db)",
            )
        if migrate:
            _private_file(path)
    engine = _engine(url, pool_size)
    store = Store(engine, shown, sessionmaker(engine, expire_on_commit=False))
    try:
        if migrate:
            migrations.upgrade(store)
        else:
            migrations.require_current(store)
    except DriftdError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        error = StoreUnavailable if _unreachable(url, exc) else StoreError
        raise error(
            f"state store {shown}: {first_line(exc)}",
            "check [driftd] state_url, that the server is up and that driftd may write there",
        ) from None
    return store


def _unreachable(url: URL, exc: Exception) -> bool:
    """A server store that refused or dropped the connection (not a refused login or
    a missing database, which waiting does not fix)."""
    from sqlalchemy.exc import OperationalError

    if url.get_backend_name() == "sqlite" or not isinstance(exc, OperationalError):
        return False
    text = str(exc.orig).lower()
    permanent = ("password authentication", "does not exist", "no pg_hba.conf", "permission")
    return not any(p in text for p in permanent)


def _private_file(path: Path) -> None:
    """Create the SQLite file 0600 whatever the umask (its outbox holds alert bodies,
    its audit state masked statements); SQLite gives its -wal and -shm files the
    database file's mode. An existing file readable by everyone loses that bit;
    a group bit (e.g. a ``driftd`` group for `driftd status`) is the admin's choice."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        for candidate in (path, *(Path(f"{path}{s}") for s in ("-wal", "-shm", "-journal"))):
            try:
                mode = candidate.stat().st_mode
                if mode & 0o007:
                    os.chmod(candidate, stat.S_IMODE(mode) & ~0o007)
                    log.warning(
                        "state store file %s was readable by everyone: made private", candidate
                    )
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("cannot tighten the mode of %s: %s", candidate, exc.strerror)
        return
    except OSError:
        return  # open_store reports what is wrong with the path
    os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask; fchmod is not
    os.close(fd)


def _engine(url: URL, pool_size: int) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=pool_size)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _sqlite_disk_full(Path(url.database or "")))
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=2,
        pool_recycle=3600,
        connect_args={
            "connect_timeout": 10,
            "application_name": "driftd",
            # A store that hangs must not hang the daemon's loop.
            "options": "-c statement_timeout=30s -c lock_timeout=10s",
        },
    )


SQLITE_FULL = 13
SQLITE_IOERR = 10
LOW_SPACE = 1 << 20  # "disk I/O error" with less than this free is a full disk


class DiskFull(StoreError):
    """The state store's filesystem has no space left (ENOSPC)."""


def disk_full_error(exc: BaseException, path: Path) -> DiskFull | None:
    """A :class:`DiskFull` naming ``path`` when SQLite's error ``exc`` means the disk is
    full: SQLITE_FULL, or an I/O error (SQLite reports ENOSPC in a WAL or -shm write
    as "disk I/O error") while the filesystem holding ``path`` has no space left."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc).lower()
    full = (code is not None and code & 0xFF == SQLITE_FULL) or "disk is full" in text
    if not full and ((code is not None and code & 0xFF == SQLITE_IOERR) or "disk i/o" in text):
        try:
            st = os.statvfs(path.parent if str(path.parent) else Path("."))
        except OSError:
            return None
        full = st.f_bavail * st.f_frsize < LOW_SPACE
    if not full:
        return None
    return DiskFull(
        f"state store {path}: disk full ({os.strerror(errno.ENOSPC)} on the filesystem "
        f"holding {path.parent})",
        "free space there (or move state_url to a larger disk); nothing is lost: the "
        "daemon retries and /healthz recovers once writes succeed",
    )


def _sqlite_disk_full(path: Path) -> Any:
    def handle(context: Any) -> BaseException | None:
        return disk_full_error(context.original_exception, path)

    return handle


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: writers from the
    # daemon's threads and the CLI then queue on the lock (busy timeout)
    # instead of failing when a read transaction tries to upgrade to a write.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (driftd status) never block the daemon
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
