"""sd_notify against a real AF_UNIX datagram socket, as systemd would listen on it."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftd.daemon import sdnotify
from tests.conftest import PgDatabase, Project
from tests.daemon_support import Daemons, daemons_fixture, free_port  # noqa: F401 (fixtures)


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def next(self, timeout: float) -> dict[str, str]:
        """The next message, as its KEY=VALUE fields."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except TimeoutError:
            pytest.fail(f"no sd_notify message within {timeout}s")
        return dict(line.split("=", 1) for line in data.splitlines())

    def until(self, key: str, timeout: float) -> tuple[dict[str, str], list[dict[str, str]]]:
        """Read until a message holding ``key``; returns it and what came before."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.05, deadline - time.monotonic()))
            if key in msg:
                return msg, seen
            seen.append(msg)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    ns = NotifySocket(tmp_path / "notify.sock")
    yield ns
    ns.sock.close()


def _config(project: Project, pgdb: PgDatabase, schedule: str) -> int:
    """One environment watching ``pgdb``, a SQLite store and a free HTTP port (returned)."""
    port = free_port()
    project.write_config(
        f"""
        [driftd]
        state_url = "sqlite:///state.db"
        http_listen = "127.0.0.1:{port}"

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        schedule = "{schedule}"
        """
    )
    return port


def test_ready_watchdog_reload_stopping(
    project: Project, pgdb: PgDatabase, daemons: Daemons, notify_socket: NotifySocket
) -> None:
    port = _config(project, pgdb, schedule="2s")
    assert project.run("baseline", "accept", "test").exit_code == 0
    d = daemons.start(
        port=port,
        env={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "1000000"},
    )
    ready = notify_socket.next(20)
    # READY=1 comes first, and only when everything it promises is true.
    assert ready.get("READY") == "1", ready
    assert ready["STATUS"] == "watching 1 environment(s)"
    assert d.get("/healthz")[0] == 200, "HTTP bound before READY=1"
    assert (project.root / "state.db").exists(), "store migrated before READY=1"
    assert project.run("db", "upgrade").exit_code == 0  # already at the newest revision

    # The watchdog is pinged every WATCHDOG_USEC/2 (0.5 s here).
    pings = [notify_socket.next(2) for _ in range(4)]
    assert all(p == {"WATCHDOG": "1"} for p in pings), pings

    before = time.monotonic_ns() // 1000
    d.signal(signal.SIGHUP)
    reloading, _ = notify_socket.until("RELOADING", 5)
    after = time.monotonic_ns() // 1000
    # MONOTONIC_USEC is CLOCK_MONOTONIC, the same clock in every process.
    assert before <= int(reloading["MONOTONIC_USEC"]) <= after
    ready_again, between = notify_socket.until("READY", 5)
    assert all(m == {"WATCHDOG": "1"} for m in between)
    assert ready_again["READY"] == "1"

    d.signal(signal.SIGTERM)
    stopping, _ = notify_socket.until("STOPPING", 5)
    assert stopping == {"STOPPING": "1"}
    assert d.wait_exit(25) == 0


def test_no_watchdog_pings_without_watchdog_usec(
    project: Project, pgdb: PgDatabase, daemons: Daemons, notify_socket: NotifySocket
) -> None:
    port = _config(project, pgdb, schedule="1h")
    d = daemons.start(port=port, env={"NOTIFY_SOCKET": str(notify_socket.path)})
    assert notify_socket.next(20).get("READY") == "1"
    notify_socket.sock.settimeout(1.5)
    with pytest.raises(TimeoutError):
        notify_socket.sock.recv(4096)
    d.signal(signal.SIGTERM)
    assert notify_socket.next(5) == {"STOPPING": "1"}
    assert d.wait_exit(25) == 0


def test_notify_to_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"driftd-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("READY=1", "STATUS=hi")
        assert sock.recv(100) == b"READY=1\nSTATUS=hi"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert sdnotify.notify("READY=1") is False


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    assert sdnotify.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert sdnotify.watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert sdnotify.watchdog_interval() is None
