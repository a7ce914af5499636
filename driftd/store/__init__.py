"""The state store: what the daemon has seen, in SQLite (default) or PostgreSQL.

``open_store`` builds the engine from ``[driftd] state_url`` and, for the
daemon and ``driftd db upgrade``, applies the Alembic migrations that ship in
this package. Read-only commands refuse a store that is missing or behind,
rather than creating or changing it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from driftd.config import Config
from driftd.errors import DriftdError, first_line
from driftd.store.errors import DriftNotFound, StoreError, StoreMissing

log = logging.getLogger(__name__)

__all__ = ["DriftNotFound", "Store", "StoreError", "StoreMissing", "first_line", "open_store"]

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
        raise StoreError(
            f"state store {shown}: {first_line(exc)}",
            "check [driftd] state_url, that the server is up and that driftd may write there",
        ) from None
    return store


def _engine(url: URL, pool_size: int) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=pool_size)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
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
