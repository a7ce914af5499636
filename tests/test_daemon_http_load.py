"""Idle HTTP connections never stop the schedule (issue 17).

A real daemon with a 2 s schedule: 200 connections are opened to its HTTP
port and left idle (as a port scanner or a stuck load balancer would). The
checks must go on being run and recorded, and /healthz must still answer.
tests/test_http.py covers the listener alone; this covers the daemon around it.
"""

from __future__ import annotations

import signal
import socket

from tests.conftest import PgDatabase, Project
from tests.daemon_support import Daemons, daemons_fixture, free_port, wait_for  # noqa: F401
from tests.test_daemon import accept, config, runs


def test_200_idle_connections_do_not_stop_the_schedule(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    port = free_port()
    config(project, pgdb, port=port)
    accept(project, "test")
    d = daemons.start(port=port)
    d.wait_ready()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(200)]
    try:
        first = len(runs(d, "test"))
        # Three more periods' worth of runs while every connection stays open.
        wait_for("checks to go on", lambda: len(runs(d, "test")) >= first + 3, 20)
        code, _ = d.get("/healthz")
        assert code == 200
    finally:
        for s in idle:
            s.close()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(25) == 0
