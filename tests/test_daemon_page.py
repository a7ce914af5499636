"""The daemon's `/` page (issue 16): the drift of the last 24 hours, from the store.

A real daemon checks a real database with a drifted table whose name holds markup;
the page lists it escaped, is one self-contained HTML document that the browser may
run nothing in (Content-Security-Policy), answers HEAD, and a page that cannot be
built (the store down) is a 503 that leaves /healthz and /metrics serving.
"""

from __future__ import annotations

import signal
import urllib.request
from typing import Any

from driftd.daemon.http import Metrics, app
from tests.conftest import PgDatabase, Project
from tests.daemon_support import Daemons, daemons_fixture, free_port, wait_for  # noqa: F401
from tests.test_daemon import accept, config, runs


def _get(port: int, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_the_page_lists_the_drift_escaped(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    port = free_port()
    config(project, pgdb, port=port)
    accept(project, "test")
    pgdb.execute('CREATE TABLE public."<script>alert(1)</script>" (id int)')
    d = daemons.start(port=port)
    d.wait_ready()
    wait_for("a run with drift", lambda: any(r.get("drift") for r in runs(d, "test")), 20)
    status, headers, body = _get(port)
    page = body.decode()
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Drift of the last 24 hours" in page and "test" in page
    assert "<link" not in page and "src=" not in page  # nothing loaded from elsewhere
    head_status, head_headers, head_body = _get(port, "HEAD")
    assert (head_status, head_body) == (200, b"")
    assert head_headers["Content-Length"] == headers["Content-Length"]
    d.signal(signal.SIGTERM)
    assert d.wait_exit(25) == 0


def test_a_page_that_cannot_be_built_is_a_503() -> None:
    def broken() -> str:
        raise OSError("database is locked")

    application = app(Metrics(), lambda: (True, {}), page=broken)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    body = b"".join(application({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, start_response))
    assert seen["status"].startswith("503") and b"state store" in body
