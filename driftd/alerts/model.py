"""The alert outbox table, on the state store's metadata (Alembic revision 0002).

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
    Deliveries of one sink and environment go out in ``id`` order.
    """

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sink: Mapped[str] = mapped_column(String(200))
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

    __table_args__ = (
        # Enqueuing one event twice for one sink is a no-op.
        UniqueConstraint("sink", "idempotency_key"),
        # The dispatcher's scan for due rows.
        Index(None, "state", "next_attempt_at"),
        # Order within (sink, environment); the lifecycle's "what did this sink last hear".
        Index(None, "sink", "environment", "kind", "id"),
    )
