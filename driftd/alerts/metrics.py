"""Alert metrics, on prometheus_client's default registry.

- ``driftd_alerts_sent_total{sink,outcome}``: delivery attempts by outcome
  (``delivered``, ``retry``, ``failed``).
- ``driftd_alerts_pending{sink}``: deliveries waiting in the outbox.

A daemon serving its own registry adds them with ``registry.register(SENT)``
and ``registry.register(PENDING)``; :func:`init` creates every sink's series
up front so that ``rate()`` and ``absent()`` behave from the first scrape.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge

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


def init(sinks: Iterable[str]) -> None:
    for sink in sinks:
        for outcome in OUTCOMES:
            SENT.labels(sink, outcome)
        PENDING.labels(sink)
