"""The daemon's HTTP listener: ``/healthz`` for probes, ``/metrics`` for Prometheus.

Metric names follow Prometheus' conventions: base units, ``_total`` counters,
timestamps rather than ages, labelled by environment (never by object name),
and every environment's series exists from the start so that absent() and
rate() behave.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from driftd import __version__
from driftd.config import SEVERITIES
from driftd.errors import DriftdError

if TYPE_CHECKING:
    from driftd.audit.state import PollOutcome, SourceHealth

log = logging.getLogger(__name__)

RESULTS = ("clean", "drift", "error")
# Why a check did not give a result: the check itself failed (database
# unreachable, no baseline), it overran its deadline, it crashed, its result
# could not be stored, or the scheduler skipped it (missed / still running).
ERROR_REASONS = ("check", "timeout", "crash", "store", "missed", "overlap")
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self) -> None:
        # `_created` series only add noise to every scrape.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        env = ["environment"]
        self.build_info = Gauge(
            "driftd_build_info",
            "Always 1; the version label says which driftd runs.",
            ["version"],
            registry=r,
        )
        self.build_info.labels(__version__).set(1)
        self.last_run = Gauge(
            "driftd_check_last_run_timestamp_seconds",
            "When the last check of the environment finished (any result).",
            env,
            registry=r,
        )
        self.last_success = Gauge(
            "driftd_check_last_success_timestamp_seconds",
            "When the environment was last read successfully (clean or drift).",
            env,
            registry=r,
        )
        self.duration = Histogram(
            "driftd_check_duration_seconds",
            "How long checks take, snapshot and diff.",
            env,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.checks = Counter(
            "driftd_checks_total",
            "Checks finished, by result.",
            ["environment", "result"],
            registry=r,
        )
        self.errors = Counter(
            "driftd_check_errors_total",
            "Checks that gave no result, by reason: check, timeout, crash, store, missed, overlap.",
            ["environment", "reason"],
            registry=r,
        )
        self.drift_open = Gauge(
            "driftd_drift_open",
            "Drift items open (or acknowledged) now, by severity.",
            ["environment", "severity"],
            registry=r,
        )
        self.leased = Gauge(
            "driftd_environments_leased",
            "Environments this daemon holds (all of them unless daemons share a PostgreSQL store).",
            registry=r,
        )
        self.reload_ok = Gauge(
            "driftd_config_last_reload_successful",
            "1 if the last configuration (re)load succeeded, else 0.",
            registry=r,
        )
        self.reload_time = Gauge(
            "driftd_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully.",
            registry=r,
        )
        src = ["source"]
        self.audit_up = Gauge(
            "driftd_audit_source_up",
            "1 if the last read of the audit source worked, else 0.",
            src,
            registry=r,
        )
        self.audit_last_success = Gauge(
            "driftd_audit_last_success_timestamp_seconds",
            "When the audit source was last read successfully; "
            "time() minus this is how far behind it is.",
            src,
            registry=r,
        )
        self.audit_last_event = Gauge(
            "driftd_audit_last_event_timestamp_seconds",
            "Time of the newest schema-changing audit event read from the source.",
            src,
            registry=r,
        )
        self.audit_events = Counter(
            "driftd_audit_events_total",
            "Schema-changing audit events read from the source.",
            src,
            registry=r,
        )
        self.audit_parse_errors = Counter(
            "driftd_audit_parse_errors_total",
            "Audit records that could not be parsed (skipped, counted, never fatal).",
            src,
            registry=r,
        )
        self._envs: set[str] = set()
        self._sources: set[str] = set()

    def track(self, environments: Iterable[str]) -> None:
        """Create the series of new environments and drop those of removed ones."""
        wanted = set(environments)
        for name in wanted - self._envs:
            self.last_run.labels(name)
            self.last_success.labels(name)
            self.duration.labels(name)
            for result in RESULTS:
                self.checks.labels(name, result)
            for reason in ERROR_REASONS:
                self.errors.labels(name, reason)
            for severity in SEVERITIES:
                self.drift_open.labels(name, severity).set(0)
        for name in self._envs - wanted:
            for metric in (self.last_run, self.last_success, self.duration):
                _remove(metric, name)
            for result in RESULTS:
                _remove(self.checks, name, result)
            for reason in ERROR_REASONS:
                _remove(self.errors, name, reason)
            for severity in SEVERITIES:
                _remove(self.drift_open, name, severity)
        self._envs = wanted

    def track_sources(self, sources: Iterable[str]) -> None:
        """Create the series of new audit sources and drop those of removed ones."""
        wanted = set(sources)
        per_source = (
            self.audit_up,
            self.audit_last_success,
            self.audit_last_event,
            self.audit_events,
            self.audit_parse_errors,
        )
        for name in wanted - self._sources:
            for metric in per_source:
                metric.labels(name)
        for name in self._sources - wanted:
            for metric in per_source:
                _remove(metric, name)
        self._sources = wanted

    def audit_polled(self, health: SourceHealth, poll: PollOutcome) -> None:
        """A :data:`driftd.audit.state.HealthListener`: one read of one source."""
        if health.name not in self._sources:
            return
        self.audit_up.labels(health.name).set(1 if health.up else 0)
        if health.last_success_at is not None:
            self.audit_last_success.labels(health.name).set(health.last_success_at.timestamp())
        if health.last_event_at is not None:
            self.audit_last_event.labels(health.name).set(health.last_event_at.timestamp())
        self.audit_events.labels(health.name).inc(poll.new_events)
        self.audit_parse_errors.labels(health.name).inc(poll.parse_errors)

    def set_open(self, environment: str, counts: dict[str, int]) -> None:
        if environment not in self._envs:
            return
        for severity in SEVERITIES:
            self.drift_open.labels(environment, severity).set(counts.get(severity, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _remove(metric: Any, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


Health = Callable[[], tuple[bool, dict[str, Any]]]


class Listener:
    """A small threaded HTTP server; ``port`` is the one bound (``:0`` picks a free one)."""

    def __init__(self, listen: str, metrics: Metrics, health: Health) -> None:
        host, sep, port = listen.rpartition(":")
        if not sep or not port.isdigit():
            raise DriftdError(
                f"[driftd] http_listen = {listen!r} is not HOST:PORT",
                'use e.g. "127.0.0.1:9187" (loopback) or "0.0.0.0:9187"',
            )
        host = host.strip("[]") or "127.0.0.1"
        handler = _handler(metrics, health)
        try:
            self.server = _Server((host, int(port)), handler)
        except OSError as exc:
            raise DriftdError(
                f"cannot listen on {listen}: {exc.strerror}",
                "is another driftd running? change [driftd] http_listen",
            ) from None
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="driftd-http", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        import socket

        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


def _handler(metrics: Metrics, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"driftd/{__version__}"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics.render())
            elif path == "/healthz":
                ok, detail = health()
                body = json.dumps({"status": "ok" if ok else "unhealthy", **detail}).encode()
                self._send(200 if ok else 503, "application/json", body + b"\n")
            else:
                self._send(404, "text/plain", b"not found: try /healthz or /metrics\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler
