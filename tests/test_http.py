"""The HTTP listener: prometheus_client's exposition, HEAD, no version banner, and a
server that keeps answering /healthz with hundreds of idle connections open.

The last test runs a real `driftd run` and checks its /metrics with Prometheus'
own `promtool check metrics`, outbox gauges included.
"""

from __future__ import annotations

import gzip
import http.client
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from driftd.daemon.http import Listener, Metrics
from driftd.errors import DriftdError
from tests.conftest import PgDatabase, Project
from tests.daemon_support import Daemons, daemons_fixture, free_port, wait_for  # noqa: F401

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture
def listener() -> Iterator[Listener]:
    metrics = Metrics()
    metrics.track(["prod"])
    lst = Listener("127.0.0.1:0", metrics, lambda: (True, {"problems": []}))
    lst.start()
    yield lst
    lst.stop()


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, timeout: float = 5
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


# -- exposition -------------------------------------------------------------------------


def test_metrics_text_by_default(listener: Listener) -> None:
    status, headers, body = request(listener.port, "GET", "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert int(headers["Content-Length"]) == len(body)
    assert b'driftd_checks_total{environment="prod",result="clean"} 0.0' in body
    assert b"# EOF" not in body


def test_metrics_openmetrics_when_asked(listener: Listener) -> None:
    accept = f"{OPENMETRICS};q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"  # as Prometheus asks
    status, headers, body = request(listener.port, "GET", "/metrics", {"Accept": accept})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")
    assert b'driftd_checks_total{environment="prod",result="clean"} 0.0' in body
    assert "Accept" in headers["Vary"]


def test_metrics_gzip_when_accepted(listener: Listener) -> None:
    _, _, plain = request(listener.port, "GET", "/metrics")
    status, headers, body = request(listener.port, "GET", "/metrics", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body)
    unzipped = gzip.decompress(body)
    # Same families (process_* values move between the two scrapes).
    names = {line.split(b" ")[2] for line in plain.splitlines() if line.startswith(b"# TYPE")}
    assert names == {
        line.split(b" ")[2] for line in unzipped.splitlines() if line.startswith(b"# TYPE")
    }


def test_metrics_name_filter(listener: Listener) -> None:
    _, _, body = request(listener.port, "GET", "/metrics?name[]=driftd_build_info")
    families = [line for line in body.splitlines() if line.startswith(b"# TYPE")]
    assert families == [b"# TYPE driftd_build_info gauge"]


@pytest.mark.parametrize("path", ["/metrics", "/healthz"])
def test_head_has_the_headers_of_get_and_no_body(listener: Listener, path: str) -> None:
    get_status, get_headers, _ = request(listener.port, "GET", path)
    status, headers, body = request(listener.port, "HEAD", path)
    assert status == get_status == 200
    assert body == b""
    assert headers["Content-Type"] == get_headers["Content-Type"]
    assert int(headers["Content-Length"]) > 0


def test_other_methods_are_refused_with_allow(listener: Listener) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "BREW"):
        status, headers, _ = request(listener.port, method, "/metrics")
        assert status == 405, method
        assert headers["Allow"] == "GET, HEAD"


def test_healthz_and_not_found(listener: Listener) -> None:
    status, headers, body = request(listener.port, "GET", "/healthz")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert body.startswith(b'{"status": "ok"')
    status, _, body = request(listener.port, "GET", "/nope")
    assert status == 404 and b"/healthz" in body


def test_unhealthy_is_503() -> None:
    lst = Listener("127.0.0.1:0", Metrics(), lambda: (False, {"problems": ["x"]}))
    lst.start()
    try:
        status, _, body = request(lst.port, "GET", "/healthz")
        assert status == 503 and b'"unhealthy"' in body
    finally:
        lst.stop()


def test_no_version_in_the_server_header(listener: Listener) -> None:
    import platform

    from driftd import __version__

    for method, path in [("GET", "/metrics"), ("HEAD", "/healthz"), ("POST", "/"), ("GET", "/x")]:
        _, headers, _ = request(listener.port, method, path)
        assert headers["Server"] == "driftd", headers["Server"]
    # A request the parser refuses (101 headers) gets the same header.
    headers = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n" + headers + b"\r\n")
        raw = s.recv(4096).decode("latin-1")
    assert raw.startswith("HTTP/1.0 431") and "Server: driftd\r\n" in raw
    assert __version__ not in raw and platform.python_version() not in raw


def test_bad_listen_addresses() -> None:
    with pytest.raises(DriftdError, match="is not HOST:PORT"):
        Listener("localhost", Metrics(), lambda: (True, {}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DriftdError, match=f"cannot listen on 127.0.0.1:{port}"):
            Listener(f"127.0.0.1:{port}", Metrics(), lambda: (True, {}))


# -- under load -----------------------------------------------------------------------


def test_health_answers_within_1s_with_200_idle_connections_and_a_burst(
    listener: Listener,
) -> None:
    threads_before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", listener.port), timeout=5) for _ in range(200)]
    try:
        # A burst on top: 300 more connections opened at once, each sending a request.
        burst = [socket.create_connection(("127.0.0.1", listener.port)) for _ in range(300)]
        for s in burst:
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        for _ in range(10):
            t0 = time.monotonic()
            status, _, _ = request(listener.port, "GET", "/healthz", timeout=1)
            assert status == 200
            assert time.monotonic() - t0 < 1.0
        # Every burst connection was answered, none refused or dropped.
        for s in burst:
            s.settimeout(5)
            assert s.recv(12) == b"HTTP/1.0 200"
            s.close()
        # Idle connections cost no thread: the pool is fixed (4 workers).
        assert threading.active_count() - threads_before <= 4
    finally:
        for s in idle:
            s.close()


def test_idle_connections_are_closed() -> None:
    lst = Listener("127.0.0.1:0", Metrics(), lambda: (True, {}), idle_timeout=0.3)
    lst.start()
    try:
        with socket.create_connection(("127.0.0.1", lst.port), timeout=5) as s:
            t0 = time.monotonic()
            assert s.recv(1) == b""  # closed by the server
            assert 0.2 < time.monotonic() - t0 < 3
    finally:
        lst.stop()


def test_a_slow_client_does_not_hold_a_worker_for_long() -> None:
    lst = Listener("127.0.0.1:0", Metrics(), lambda: (True, {}), workers=1, io_timeout=0.3)
    lst.start()
    try:
        with socket.create_connection(("127.0.0.1", lst.port), timeout=5) as slow:
            slow.sendall(b"GET /healthz HTT")  # and never the rest: the only worker waits
            time.sleep(0.1)
            t0 = time.monotonic()
            status, _, _ = request(lst.port, "GET", "/healthz", timeout=3)
            assert status == 200 and time.monotonic() - t0 < 2
    finally:
        lst.stop()


def test_too_many_connections_drop_the_oldest_idle_one() -> None:
    lst = Listener("127.0.0.1:0", Metrics(), lambda: (True, {}), max_connections=10)
    lst.start()
    try:
        first = socket.create_connection(("127.0.0.1", lst.port), timeout=5)
        time.sleep(0.05)
        rest = [socket.create_connection(("127.0.0.1", lst.port)) for _ in range(10)]
        assert first.recv(1) == b""  # the oldest idle connection made room
        status, _, _ = request(lst.port, "GET", "/healthz", timeout=1)
        assert status == 200
        for s in [first, *rest]:
            s.close()
    finally:
        lst.stop()


# -- a real daemon, checked by promtool ---------------------------------------------------


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run `bash .ci/install-system.sh` (Debian: prometheus)")
    return path


def test_a_real_daemons_metrics_pass_promtool_and_show_the_outbox(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    port, dead = free_port(), free_port()  # nothing listens on `dead`: alerts stay pending
    project.write_config(
        f"""
        [driftd]
        state_url = "sqlite:///state.db"
        http_listen = "127.0.0.1:{port}"

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        schedule = "1s"
        alerts = ["hook"]

        [alerts.hook]
        type = "webhook"
        url = "http://127.0.0.1:{dead}/hook"
        min_severity = "info"
        timeout = "2s"
        """
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute(f'CREATE ROLE "{pgdb.role("intruder")}"')
    d = daemons.start(port=port)
    d.wait_ready()
    t_start = time.time()

    def queued() -> float | None:
        value = d.metric("driftd_alerts_pending", sink="hook")
        return value if value else None

    wait_for("an alert waiting in the outbox", queued, timeout=30)
    oldest = d.metric("driftd_alerts_oldest_pending_timestamp_seconds", sink="hook")
    assert oldest is not None and t_start - 60 < oldest <= time.time()
    assert d.metric("driftd_alerts_failed", sink="hook") == 0
    assert (d.metric("driftd_alerts_sent_total", sink="hook", outcome="retry") or 0) >= 1

    # promtool lints the text format (it reads OpenMetrics' counter families,
    # named without _total, as counters without help).
    status, _, text = request(port, "GET", "/metrics")
    assert status == 200
    res = subprocess.run(
        [promtool(), "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert (res.returncode, res.stdout + res.stderr) == (0, b"")
    # OpenMetrics: prometheus_client's strict parser reads back the same families.
    status, _, om = request(port, "GET", "/metrics", {"Accept": OPENMETRICS})
    assert status == 200 and om.endswith(b"# EOF\n")
    parsed = {f.name: f for f in text_string_to_metric_families(om.decode())}
    assert parsed["driftd_alerts_sent"].type == "counter"
    assert {"driftd_alerts_pending", "driftd_alerts_oldest_pending_timestamp_seconds"} <= set(
        parsed
    )


# -- the outbox gauges ----------------------------------------------------------------


def test_outbox_gauges_depth_oldest_and_failed(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.orm import Session

    from driftd.alerts import metrics as alert_metrics
    from driftd.alerts.model import Delivery
    from driftd.config.load import parse
    from driftd.store import open_store

    config = parse(
        f"""
        [driftd]
        state_url = "sqlite:///{tmp_path}/state.db"
        [alerts.a]
        type = "webhook"
        url = "http://127.0.0.1:9/"
        [alerts.quiet]
        type = "webhook"
        url = "http://127.0.0.1:9/"
        """.replace("\n        ", "\n"),
        tmp_path / "driftd.toml",
    )
    store = open_store(config, migrate=True)
    t0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    rows = [("pending", 0), ("pending", 5), ("failed", 1), ("delivered", -60)]
    try:
        with Session(store.engine) as s, s.begin():
            for i, (state, minutes) in enumerate(rows):
                s.add(
                    Delivery(
                        sink="a",
                        environment="prod",
                        kind="opened",
                        idempotency_key=f"k{i}",
                        payload={},
                        state=state,
                        attempts=0,
                        next_attempt_at=t0,
                        created_at=t0 + timedelta(minutes=minutes),
                    )
                )
        alert_metrics.observe_outbox(store.engine, config.alerts)
    finally:
        store.close()
    assert alert_metrics.PENDING.labels("a")._value.get() == 2
    assert alert_metrics.OLDEST.labels("a")._value.get() == t0.timestamp()
    assert alert_metrics.FAILED.labels("a")._value.get() == 1
    for gauge in (alert_metrics.PENDING, alert_metrics.OLDEST, alert_metrics.FAILED):
        assert gauge.labels("quiet")._value.get() == 0  # none waiting: 0, not absent
