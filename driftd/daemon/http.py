"""The daemon's HTTP listener: ``/healthz`` for probes, ``/metrics`` for Prometheus.

Metric names follow Prometheus' conventions: base units, ``_total`` counters,
timestamps rather than ages, labelled by environment (never by object name),
and every environment's series exists from the start so that absent() and
rate() behave.

``/metrics`` is prometheus_client's own WSGI exposition: the text format, or
OpenMetrics when the scraper asks for it (``Accept``), gzip when it accepts it,
``?name[]=`` filters. GET and HEAD only.

The server is built to stay answering under load: a real listen backlog, one
selector thread that holds idle connections (an fd each, no thread), a small
fixed pool of workers that only ever sees connections with a request waiting,
and timeouts on both idle and slow clients. Its ``Server`` header says
``driftd``, never a version.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from driftd import __version__
from driftd.drift import SEVERITIES
from driftd.errors import DriftdError, first_line

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from driftd.attribute.sources.state import PollOutcome, SourceHealth

log = logging.getLogger(__name__)

RESULTS = ("clean", "drift", "error")
# Why a check did not give a result: the check itself failed (database
# unreachable, no baseline), it overran its deadline, it crashed, its result
# could not be stored, or the scheduler skipped it (missed / still running).
ERROR_REASONS = ("check", "timeout", "crash", "store", "missed", "overlap")
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class _Reused(Collector):
    """``driftd_checks_reused_total``: checks the no-change fast path answered."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self, value: float | None = None) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "driftd_checks_reused",
            "Checks answered by the no-change fast path (catalog fingerprint and baseline "
            "unchanged): no snapshot was taken.",
            value=self.metrics.reused_count() if value is None else value,
        )

    def describe(self) -> Iterable[Metric]:
        """Its name, so that ``/metrics?name[]=`` finds it."""
        return self.collect(0)


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
        self.checks, self.errors = (
            Counter(name, doc, ["environment", label], registry=r)
            for name, doc, label in (
                ("driftd_checks_total", "Checks finished, by result.", "result"),
                (
                    "driftd_check_errors_total",
                    "Checks that gave no result, by reason: "
                    "check, timeout, crash, store, missed, overlap.",
                    "reason",
                ),
            )
        )
        # The fast path's own count (driftd.check.FastPath.reused), read at each scrape.
        self.reused_count: Callable[[], float] = lambda: 0
        r.register(_Reused(self))
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
        """A :data:`driftd.attribute.sources.state.HealthListener`: one read of one source."""
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

# Connections parked waiting for their request line, at most (then the oldest go).
MAX_CONNECTIONS = 1024
# Seconds an accepted connection may stay silent before it is closed.
IDLE_TIMEOUT = 10.0
# Seconds a worker waits on one read or write of a slow client.
IO_TIMEOUT = 10.0
# Requests handled at once: scrapes and probes are cheap, and idle clients never
# take one.
WORKERS = 4
# listen(2) backlog (the kernel caps it at net.core.somaxconn).
BACKLOG = 1024


class Listener:
    """The HTTP listener; ``port`` is the one bound (``:0`` picks a free one)."""

    def __init__(
        self,
        listen: str,
        metrics: Metrics,
        health: Health,
        *,
        max_check_age: Callable[[], float] | None = None,
        page: Callable[[], str] | None = None,
        workers: int = WORKERS,
        idle_timeout: float = IDLE_TIMEOUT,
        io_timeout: float = IO_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        host, sep, port = listen.rpartition(":")
        if not sep or not port.isdigit():
            raise DriftdError(
                f"[driftd] http_listen = {listen!r} is not HOST:PORT",
                'use e.g. "127.0.0.1:29187" (loopback) or "0.0.0.0:29187"',
            )
        host = host.strip("[]") or "127.0.0.1"
        try:
            self.server = _Server(
                (host, int(port)),
                app(metrics, health, max_check_age, page),
                workers=workers,
                idle_timeout=idle_timeout,
                io_timeout=io_timeout,
                max_connections=max_connections,
            )
        except OSError as exc:
            raise DriftdError(
                f"cannot listen on {listen}: {exc.strerror}",
                "is another driftd running? change [driftd] http_listen",
            ) from None
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve, name="driftd-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.close(self._thread)


# -- the WSGI application ------------------------------------------------------------

# The page holds names from databases and audit logs: it is escaped, and the browser is
# told to run nothing and load nothing but the page's own inline style.
PAGE_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]


def _page(page: Callable[[], str]) -> tuple[str, list[tuple[str, str]], bytes]:
    try:
        return "200 OK", list(PAGE_HEADERS), page().encode()
    except Exception as exc:  # the store is down: say so, keep serving /healthz
        log.warning("the / page could not be built: %s", first_line(exc))
        return (
            "503 Service Unavailable",
            [("Content-Type", "text/plain; charset=utf-8")],
            b"the state store cannot be read now; see /healthz\n",
        )


def app(
    metrics: Metrics,
    health: Health,
    max_check_age: Callable[[], float] | None = None,
    page: Callable[[], str] | None = None,
) -> WSGIApplication:
    """``/metrics`` (prometheus_client's exposition), ``/healthz``, and with ``page``
    the drift open now at ``/`` (HTML), GET and HEAD only.

    ``max_check_age`` gives ``[driftd] healthz_max_check_age`` (read on each probe, so
    a reload applies); without it, it is read from the config of the daemon whose
    ``health`` this is.
    """
    exposition = make_wsgi_app(metrics.registry)
    started = time.time()
    limit = max_check_age or (lambda: 0.0)

    def healthz() -> tuple[bool, dict[str, Any]]:
        ok, detail = health()
        stale = _stale_checks(metrics, limit(), started)
        if stale:
            detail = {**detail, "problems": [*detail.get("problems", []), stale]}
        return ok and not stale, detail

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        if method not in ("GET", "HEAD"):
            status, headers, body = (
                "405 Method Not Allowed",
                [("Content-Type", "text/plain; charset=utf-8"), ("Allow", "GET, HEAD")],
                b"only GET and HEAD\n",
            )
        elif path == "/metrics":
            # prometheus_client answers GET only: ask for GET, drop the body for HEAD.
            status, headers, body = _call(exposition, {**environ, "REQUEST_METHOD": "GET"})
            headers.append(("Vary", "Accept, Accept-Encoding"))
        elif path == "/healthz":
            ok, detail = healthz()
            body = json.dumps({"status": "ok" if ok else "unhealthy", **detail}).encode() + b"\n"
            status = "200 OK" if ok else "503 Service Unavailable"
            headers = [("Content-Type", "application/json")]
        elif path == "/" and page is not None:
            status, headers, body = _page(page)
        else:
            status, headers, body = (
                "404 Not Found",
                [("Content-Type", "text/plain; charset=utf-8")],
                b"not found: try /healthz or /metrics\n",
            )
        headers += [("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
        start_response(status, headers)
        return [b"" if method == "HEAD" else body]

    return application


def _stale_checks(metrics: Metrics, limit: float, started: float) -> str | None:
    """The problem when no check succeeded within ``limit`` seconds (0: never one)."""
    if limit <= 0:
        return None
    newest = max(
        (s.value for m in metrics.last_success.collect() for s in m.samples if s.value > 0),
        default=0.0,
    )
    age = time.time() - (newest or started)
    if age <= limit:
        return None
    what = (
        f"the last successful check was {age:.0f}s ago"
        if newest
        else f"no check has succeeded in the {age:.0f}s since start"
    )
    return f"{what} (healthz_max_check_age = {limit:g}s)"


def _call(
    wsgi: WSGIApplication, environ: WSGIEnvironment
) -> tuple[str, list[tuple[str, str]], bytes]:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got["status"], got["headers"] = status, list(headers)
        return lambda data: None

    chunks = wsgi(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return got["status"], got["headers"], body


# -- the server ------------------------------------------------------------------------


class _ServerHandler(ServerHandler):
    server_software = "driftd"  # no driftd or Python version on the wire

    def log_exception(self, exc_info: Any) -> None:
        log.error("http: the request failed", exc_info=exc_info)


class _RequestHandler(WSGIRequestHandler):
    server_version = "driftd"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.io_timeout)  # type: ignore[attr-defined]

    def version_string(self) -> str:
        return "driftd"

    def handle(self) -> None:
        """One request per connection (HTTP/1.0 style), like wsgiref's, minus its banner."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.raw_requestline or not self.parse_request():
            return
        handler = _ServerHandler(
            cast(IO[bytes], self.rfile),
            cast(IO[bytes], self.wfile),
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


class _Server(WSGIServer):
    """Accepts on one thread, parks connections until they are readable, serves on a pool."""

    request_queue_size = BACKLOG
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        application: WSGIApplication,
        *,
        workers: int,
        idle_timeout: float,
        io_timeout: float,
        max_connections: int,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)
        self.set_app(application)
        self.idle_timeout = idle_timeout
        self.io_timeout = io_timeout
        self.max_connections = max_connections
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="driftd-http")
        self._selector = selectors.DefaultSelector()
        self._parked: dict[socket.socket, float] = {}  # connection -> deadline, oldest first
        self._busy = 0  # connections handed to the pool, not yet closed
        self._busy_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._closing = threading.Event()

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN (a DNS query): not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    # -- the selector thread -------------------------------------------------------------

    def serve(self) -> None:
        sel = self._selector
        self.socket.setblocking(False)
        self._wake_r.setblocking(False)
        sel.register(self.socket, selectors.EVENT_READ, None)
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._closing.is_set():
                wait = 1.0
                if self._parked:
                    first = next(iter(self._parked.values()))
                    wait = min(wait, max(0.0, first - time.monotonic()))
                for key, _ in sel.select(wait):
                    sock = key.fileobj
                    if sock is self.socket:
                        self._accept()
                    elif sock is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)
                    else:
                        assert isinstance(sock, socket.socket)
                        self._dispatch(sock, key.data)
                self._expire()
        except Exception:
            log.exception("http: the listener failed")
        finally:
            for conn in list(self._parked):
                self._drop(conn)
            sel.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: the fds come back as connections close
                log.warning("http: accept failed: %s", exc.strerror or exc)
                return
            if len(self._parked) + self._busy >= self.max_connections:
                if not self._parked:
                    conn.close()  # everything is busy: refuse rather than queue forever
                    continue
                self._drop(next(iter(self._parked)))  # the one idle longest
            conn.setblocking(False)
            self._parked[conn] = time.monotonic() + self.idle_timeout
            self._selector.register(conn, selectors.EVENT_READ, address)

    def _dispatch(self, conn: socket.socket, address: Any) -> None:
        self._selector.unregister(conn)
        del self._parked[conn]
        with self._busy_lock:
            self._busy += 1
        try:
            self._pool.submit(self._serve_one, conn, address)
        except RuntimeError:  # the pool is shut down: we are closing
            self._done(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._parked:
            conn, deadline = next(iter(self._parked.items()))
            if deadline > now:
                return
            self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn)
        self._parked.pop(conn, None)
        conn.close()

    # -- a worker ----------------------------------------------------------------------

    def _serve_one(self, conn: socket.socket, address: Any) -> None:
        try:
            conn.setblocking(True)
            self.finish_request(conn, address)
        except (TimeoutError, ConnectionError) as exc:
            log.debug("http: %s: %s", address, exc)
        except Exception:
            log.exception("http: handling a request from %s failed", address)
        finally:
            self._done(conn)

    def _done(self, conn: socket.socket) -> None:
        self.shutdown_request(conn)
        with self._busy_lock:
            self._busy -= 1

    # -- stopping ----------------------------------------------------------------------

    def close(self, serving: threading.Thread | None = None) -> None:
        """Stop accepting, close idle connections, let requests in flight finish."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if serving is not None and serving.is_alive():
            serving.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.server_close()
        for s in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                s.close()
