"""The state store's tables: runs, drift items and their events, leases.

Times are stored in UTC; ``UTCDateTime`` hands back aware datetimes on every
dialect (SQLite keeps naive strings). JSON columns are JSONB on PostgreSQL.
A change here needs a new Alembic revision (tests compare the two).
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the dialect stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store")
        value = value.astimezone(UTC)
        # SQLite compares the stored text: keep one naive UTC form there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Run(Base):
    """One check of one environment, written once, when it has finished."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))  # clean | drift | error
    error: Mapped[str | None] = mapped_column(Text)
    snapshot_hash: Mapped[str | None] = mapped_column(String(64))
    drift_count: Mapped[int] = mapped_column(Integer, default=0)
    daemon: Mapped[str | None] = mapped_column(String(200))  # who ran it (host:pid:token)

    __table_args__ = (Index(None, "environment", "started_at"),)


class EnvironmentState(Base):
    """The latest known state of one environment: what `driftd status` shows."""

    __tablename__ = "environment_state"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_duration_seconds: Mapped[float | None] = mapped_column(Float)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Of the last successful run: the live content and the baseline it was diffed against.
    snapshot_hash: Mapped[str | None] = mapped_column(String(64))
    baseline_hash: Mapped[str | None] = mapped_column(String(64))


class Drift(Base):
    """One drift item over its life: open → resolved | accepted, or acknowledged by a person.

    Keyed by the drift id, a fingerprint of (environment, object, path, after):
    the same change seen again reopens the same row.
    """

    __tablename__ = "drift"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    environment: Mapped[str] = mapped_column(String(200))
    object: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64))
    change: Mapped[str] = mapped_column(String(16))
    path: Mapped[list[Any]] = mapped_column(JSONDoc)
    before: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    after: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    severity: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[str]] = mapped_column(JSONDoc)
    attribution: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    state: Mapped[str] = mapped_column(String(16))  # open | acknowledged | resolved | accepted
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    first_run_id: Mapped[int | None] = mapped_column(Integer)
    last_run_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index(None, "environment", "state"),)


class DriftEvent(Base):
    """A step in a drift item's life, for `driftd history` and `driftd explain`."""

    __tablename__ = "drift_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    drift_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("drift.id", ondelete="CASCADE"), index=True
    )
    environment: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # opened | reopened | attributed | resolved | accepted | acknowledged
    event: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "environment", "at"),)


class Lease(Base):
    """Which daemon checks an environment, until when (PostgreSQL fleets only).

    Times come from the database clock, so daemons on different machines agree.
    """

    __tablename__ = "leases"
    environment: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the last check of this environment started, by any daemon: the
    # guard against checking it twice in one period when the lease moves.
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Daemon(Base):
    """A live `driftd run` process (heartbeat): how many share the environments."""

    __tablename__ = "daemons"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Tables owned by other packages, on this metadata (imported on use: no cycle).
OTHER_MODELS = ("driftd.alerts.model", "driftd.attribute.sources.model")


def full_metadata() -> MetaData:
    """``Base.metadata`` with every driftd table on it, for migrations and their tests."""
    for name in OTHER_MODELS:
        importlib.import_module(name)
    return Base.metadata
