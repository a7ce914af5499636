"""Alembic, driven from code: no alembic.ini, the scripts ship inside the package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

if TYPE_CHECKING:
    from driftd.store import Store

MIGRATIONS = Path(__file__).with_name("migrations")
# Serialises migrations of daemons starting at once against one PostgreSQL store.
ADVISORY_KEY = 0x647269667464  # "driftd"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None
    return rev


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(store: Store) -> str:
    """Bring the store to the newest revision, in one transaction; returns it."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '120s'"))
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
        if current(conn) != head():
            command.upgrade(alembic_config(conn), "head")
        rev = current(conn)
    assert rev is not None
    return rev


def require_current(store: Store) -> None:
    from driftd.store.errors import StoreError

    with store.engine.connect() as conn:
        rev = current(conn)
    if rev is None:
        raise StoreError(
            f"state store {store.display_url} has no driftd tables yet",
            "start the daemon (`driftd run`) or run `driftd db upgrade`",
        )
    if rev != head():
        raise StoreError(
            f"state store {store.display_url} is at revision {rev}, this driftd needs {head()}",
            "run `driftd db upgrade` (or restart the daemon, which migrates at start)",
        )
