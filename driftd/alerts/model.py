"""The alert outbox table, on the state store's metadata (Alembic revisions 0002, 0004, 0005).

Kept free of sink code so the store's migrations can import it cheaply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftd.store.models import Base, JSONDoc, UTCDateTime

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class Delivery(Base):
    """One alert event for one sink: enqueued with the run that caused it, then sent.

    ``payload`` is the event as routed to this sink (never the rendered request:
    that holds secrets such as a routing key or a webhook URL, and is rebuilt at
    send time). ``environment`` is ``""`` for events of no environment (tests).
    ``target`` is the one instance of a sink that posts to several (each
    Alertmanager of an HA pair gets its own row, so one that is down never
    holds up the other); ``""`` for every other sink, and for a row that goes
    to all of a sink's instances. Deliveries of one (sink, target, environment)
    go out in ``id`` order.
    """

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sink: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(500), default="", server_default="")
    environment: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SQLite: the process sending the row now (``HOST:PID:TOKEN``) and since when;
    # NULL when no send is in flight. PostgreSQL's row lock needs neither.
    claim_owner: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Enqueuing one event twice for one sink is a no-op.
        UniqueConstraint("sink", "idempotency_key"),
        # The dispatcher's scan for due rows.
        Index(None, "state", "next_attempt_at"),
        # Order within (sink, environment); the lifecycle's "what did this sink last hear".
        Index(None, "sink", "environment", "kind", "id"),
        # Order within (sink, target, environment).
        Index(None, "sink", "target", "environment", "id"),
    )
