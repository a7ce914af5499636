"""The audit state's tables, on the state store's metadata (Alembic revision 0003).

Source cursors, the cache of parsed audit events and each source's health
live in the state store, so every daemon of a fleet (and the CLI) continues
from the same read position: when an environment's lease moves, its new
owner reads on from where the old one stopped. Kept free of source code so
the store's migrations can import it cheaply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftd.store.models import Base, JSONDoc, UTCDateTime


class AuditCursor(Base):
    """A source's read position (file offset and inode, a time, the sessions read),
    or ``clean-check:<environment>``: when the environment was last seen clean."""

    __tablename__ = "audit_cursors"
    source: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEventRow(Base):
    """One parsed (masked) audit event, keyed by source and the record's own key:
    reading a record twice, by one daemon or two, replaces the same row."""

    __tablename__ = "audit_events"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)

    __table_args__ = (Index(None, "source", "at"),)


class AuditSourceHealth(Base):
    """How the last read of a source went: `driftd status` shows it per source."""

    __tablename__ = "audit_sources"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    up: Mapped[int] = mapped_column(Integer)  # 1: the last read worked, 0: it did not
    last_poll_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    events_read: Mapped[int] = mapped_column(Integer, default=0)
    parse_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
