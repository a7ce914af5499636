"""Helpers for the daemon tests: real `driftd run` subprocesses, a real state store.

Every process started here is killed at teardown (the ``daemons`` fixture),
and every throwaway state database is dropped.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_URL, Project, _conninfo, admin_connect

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy, or fail saying ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- a PostgreSQL state store ------------------------------------------------------


@dataclass
class StateDB:
    name: str

    @property
    def url(self) -> str:
        u = make_url(ADMIN_URL)
        return u.set(drivername="postgresql+psycopg", database=self.name).render_as_string(
            hide_password=False
        )

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(_conninfo(ADMIN_URL) + f" dbname={self.name}", autocommit=True) as c:
            return list(c.execute(sql, params).fetchall())  # type: ignore[arg-type]


@pytest.fixture(name="statedb")
def statedb_fixture(postgres_server: None) -> Iterator[StateDB]:
    db = StateDB(f"driftd_s_{secrets.token_hex(4)}")
    with admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{db.name}"')  # type: ignore[arg-type]
    try:
        yield db
    finally:
        with admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')  # type: ignore[arg-type]


# -- a daemon subprocess ---------------------------------------------------------------


@dataclass
class Daemon:
    config: Path
    log_path: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        self._log = self.log_path.open("ab")
        args = ["--config", str(self.config), "run", "--log-format", "json"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "driftd", *args],
            stdout=self._log,
            stderr=self._log,
            env={**os.environ, **self.env},
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def logs(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"level": "raw", "msg": line})
        return out

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, what: str, match: Callable[[dict[str, Any]], bool], timeout: float) -> Any:
        def probe() -> dict[str, Any] | None:
            self.assert_alive()
            return next((r for r in self.logs() if match(r)), None)

        return wait_for(what, probe, timeout)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample from /metrics, or None when the series is absent."""
        _, body = self.get("/metrics")
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in body.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            sample, _, rest = key.partition("{")
            if sample != name:
                continue
            have = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
            if have == want:
                return float(value)
        return None

    def wait_ready(self, timeout: float = 20) -> None:
        self.wait_log("the daemon to start", lambda r: r.get("msg") == "driftd running", timeout)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def assert_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"daemon exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"daemon still running {timeout}s later:\n{self.log_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if hasattr(self, "_log"):
            self._log.close()


class Daemons:
    """Starts daemons for one test and kills whatever is left at teardown."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.started: list[Daemon] = []

    def start(
        self, config: Path | None = None, env: dict[str, str] | None = None, port: int | None = None
    ) -> Daemon:
        n = len(self.started)
        d = Daemon(
            config=config or self.project.config,
            log_path=self.project.root / f"daemon-{n}.log",
            port=port or 0,
            env=env or {},
        )
        self.started.append(d)
        return d.start()

    def close(self) -> None:
        for d in self.started:
            d.kill()


@pytest.fixture(name="daemons")
def daemons_fixture(project: Project) -> Iterator[Daemons]:
    ds = Daemons(project)
    try:
        yield ds
    finally:
        ds.close()


def status_json(project: Project) -> dict[str, dict[str, Any]]:
    res = project.run("status", "--format", "json")
    assert res.exit_code in (0, 1, 2), res.stderr
    return {e["name"]: e for e in json.loads(res.stdout)["environments"]}


def waiting_on_lock(dbname: str) -> int | None:
    """The pid of a backend in ``dbname`` waiting for a lock (a check stuck mid-run)."""
    with admin_connect() as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (dbname,),
        ).fetchone()
    return int(row[0]) if row else None
