"""Alert metrics, on prometheus_client's default registry.

- ``driftd_alerts_sent_total{sink,outcome}``: delivery attempts by outcome
  (``delivered``, ``retry``: this try failed and another is due, ``failed``:
  given up).
- ``driftd_alerts_pending{sink}``: deliveries waiting in the outbox (its depth).
- ``driftd_alerts_oldest_pending_timestamp_seconds{sink}``: when the oldest of
  them was queued, ``0`` when none waits. A timestamp, not an age (Prometheus'
  convention): ``time() - driftd_alerts_oldest_pending_timestamp_seconds`` is
  how long it has waited. Alert on it as
  ``time() - (driftd_alerts_oldest_pending_timestamp_seconds > 0) > 600``.
- ``driftd_alerts_failed{sink}``: deliveries that gave up and wait in the
  outbox for ``driftd alerts requeue`` (``driftd alerts pending`` lists them).

The three gauges are read from the outbox itself (:func:`observe_outbox`, after
every dispatch pass), so they hold for the whole fleet sharing a store, and a
restart does not reset them. A daemon serving its own registry adds them all
with :func:`register`; :func:`init` creates every sink's series up front so that
``rate()`` and ``absent()`` behave from the first scrape.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from driftd.alerts import model
from driftd.alerts.model import Delivery

OUTCOMES = ("delivered", "retry", "failed")

SENT = Counter(
    "driftd_alerts_sent_total",
    "Alert delivery attempts, by sink and outcome (delivered, retry, failed).",
    ["sink", "outcome"],
)
PENDING = Gauge(
    "driftd_alerts_pending",
    "Alert deliveries waiting in the outbox, by sink.",
    ["sink"],
)
OLDEST = Gauge(
    "driftd_alerts_oldest_pending_timestamp_seconds",
    "When the oldest delivery waiting in the outbox was queued, by sink; 0 when none waits.",
    ["sink"],
)
FAILED = Gauge(
    "driftd_alerts_failed",
    "Alert deliveries that gave up and wait for `driftd alerts requeue`, by sink.",
    ["sink"],
)
COLLECTORS = (SENT, PENDING, OLDEST, FAILED)


def register(registry: CollectorRegistry) -> None:
    """Serve every alert metric from ``registry`` too (the daemon's own)."""
    for collector in COLLECTORS:
        registry.register(collector)


def init(sinks: Iterable[str]) -> None:
    for sink in sinks:
        for outcome in OUTCOMES:
            SENT.labels(sink, outcome)
        for gauge in (PENDING, OLDEST, FAILED):
            gauge.labels(sink)


def observe_outbox(engine: Engine, sinks: Iterable[str]) -> None:
    """Set the outbox gauges of ``sinks`` (and of any sink with rows) from one query."""
    query = (
        select(Delivery.sink, Delivery.state, func.count(), func.min(Delivery.created_at))
        .where(Delivery.state.in_([model.PENDING, model.FAILED]))
        .group_by(Delivery.sink, Delivery.state)
    )
    pending: dict[str, int] = {}
    oldest: dict[str, datetime] = {}
    failed: dict[str, int] = {}
    with Session(engine) as s:
        for sink, state, count, first in s.execute(query):
            if state == model.PENDING:
                pending[sink] = int(count)
                if first is not None:
                    oldest[sink] = first if first.tzinfo else first.replace(tzinfo=UTC)
            else:
                failed[sink] = int(count)
    for sink in {*sinks, *pending, *failed}:
        PENDING.labels(sink).set(pending.get(sink, 0))
        at = oldest.get(sink)
        OLDEST.labels(sink).set(at.timestamp() if at is not None else 0)
        FAILED.labels(sink).set(failed.get(sink, 0))
