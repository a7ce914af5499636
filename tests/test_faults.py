"""Faults (issue 17): private files under umask 022, a full disk named as such,
leftover temp files, alerts on time after kill -9, a stop within the unit's timeout."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from driftd.config.load import parse
from tests.alert_servers import alert_server_fixture  # noqa: F401 (fixture)
from tests.daemon_support import daemons_fixture, statedb_fixture  # noqa: F401 (fixture)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _config(tmp_path: Path, state: str) -> object:
    return parse(
        f'[driftd]\nstate_url = "{state}"\n[environments.prod]\nurl = "sqlite:///x.db"\n',
        tmp_path / "driftd.toml",
    )


def test_sqlite_store_and_its_wal_shm_are_private_under_umask_022(
    tmp_path: Path, umask022: None
) -> None:
    from driftd.store import open_store

    store = open_store(_config(tmp_path, "sqlite:///state.db"), migrate=True, pool_size=1)  # type: ignore[arg-type]
    try:
        with store.engine.begin() as conn:
            conn.execute(text("SELECT 1"))
        files = sorted(tmp_path.glob("state.db*"))
        assert {f.name for f in files} >= {"state.db", "state.db-wal", "state.db-shm"}
        for f in files:
            assert _mode(f) == 0o600, f"{f.name} is {oct(_mode(f))}"
    finally:
        store.close()


def test_an_existing_world_readable_store_is_made_private(tmp_path: Path) -> None:
    from driftd.store import open_store

    db = tmp_path / "state.db"
    db.touch()
    os.chmod(db, 0o644)
    open_store(_config(tmp_path, "sqlite:///state.db"), migrate=True, pool_size=1).close()  # type: ignore[arg-type]
    assert _mode(db) == 0o640


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "full"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_says_disk_full_and_names_the_path(tiny_tmpfs: Path, tmp_path: Path) -> None:
    from driftd.store import StoreError, open_store

    db = tiny_tmpfs / "state.db"
    store = open_store(_config(tmp_path, f"sqlite:///{db}"), migrate=True, pool_size=1)  # type: ignore[arg-type]
    try:
        with store.engine.begin() as conn:
            conn.execute(text("CREATE TABLE filler (x BLOB)"))
        with pytest.raises(StoreError) as caught:
            for _ in range(1000):
                with store.engine.begin() as conn:
                    conn.execute(text("INSERT INTO filler VALUES (randomblob(32768))"))
        message = str(caught.value.message)
        assert "disk full" in message and str(db) in message, message
    finally:
        store.close()


def test_disk_io_error_maps_to_disk_full_only_when_the_disk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from driftd import store

    err = sqlite3.OperationalError("disk I/O error")
    assert store.disk_full_error(err, tmp_path / "s.db") is None  # plenty of space here

    class Full:
        f_bavail = 0
        f_frsize = 4096

    monkeypatch.setattr(os, "statvfs", lambda _p: Full())
    mapped = store.disk_full_error(err, tmp_path / "s.db")
    assert mapped is not None and "disk full" in mapped.message
    assert str(tmp_path / "s.db") in mapped.message


# -- files written by the CLI -----------------------------------------------------------


def test_snapshot_output_private_baseline_public_and_temp_files_cleaned(
    project: object, pgdb: object, umask022: None
) -> None:
    from tests.conftest import PgDatabase, Project

    assert isinstance(project, Project) and isinstance(pgdb, PgDatabase)
    pgdb.execute("CREATE TABLE public.t (id int)")
    out = project.root / "private" / "snap.json"
    out.parent.mkdir()  # `snapshot -o` writes into an existing directory only
    res = project.run("snapshot", "test", "-o", str(out))
    assert res.exit_code == 0, res.stderr
    assert _mode(out) == 0o600
    baselines = project.root / "baselines"
    baselines.mkdir()
    # What kills during earlier accepts left behind: old and new temp names, stale and fresh.
    stale_old = baselines / ".test.json.ab12cd34"
    stale_new = baselines / ".test.json.zz99yy88.tmp"
    fresh = baselines / ".test.json.fresh123.tmp"
    other = baselines / ".other-notes.txt"
    for f in (stale_old, stale_new, fresh, other):
        f.write_text("{}")
    old = time.time() - 3600
    for f in (stale_old, stale_new, other):
        os.utime(f, (old, old))
    res = project.run("baseline", "accept", "test")
    assert res.exit_code == 0, res.stderr
    assert not stale_old.exists() and not stale_new.exists()
    assert fresh.exists() and other.exists()  # a write in progress; not ours
    assert _mode(project.baseline("test")) == 0o644  # committed to git: public on purpose
    ignore = (baselines / ".gitignore").read_text()
    # git itself agrees the temp files are ignored.
    subprocess.run(["git", "init", "-q", str(project.root)], check=True)
    check = subprocess.run(
        ["git", "-C", str(project.root), "check-ignore", "-q", str(fresh)], check=False
    )
    assert check.returncode == 0, ignore
    tracked = subprocess.run(
        ["git", "-C", str(project.root), "check-ignore", "-q", str(project.baseline("test"))],
        check=False,
    )
    assert tracked.returncode == 1
    # `check` cleans up too.
    os.utime(fresh, (old, old))
    project.run("check", "test")
    assert not fresh.exists()


def test_kill_9_during_baseline_accept_never_leaves_a_broken_baseline(
    project: object, pgdb: object
) -> None:
    """SIGKILLs at random moments of `baseline accept` (a real process, a real
    database that changes between accepts; 15 killed, 5 let finish): the baseline
    is always a whole one, the old or the new, and `check` reads it."""
    import json
    import random
    import sys

    from tests.conftest import PgDatabase, Project

    assert isinstance(project, Project) and isinstance(pgdb, PgDatabase)
    for i in range(40):  # a baseline of some size: its write takes a while
        pgdb.execute(f"CREATE TABLE public.t{i} (id int, note text)")
    args = [sys.executable, "-m", "driftd", "--config", str(project.config)]
    started = time.monotonic()
    done = subprocess.run([*args, "baseline", "accept", "test"], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    whole = time.monotonic() - started
    rng = random.Random(17)
    baseline = project.baseline("test")
    seen = {baseline.read_bytes()}
    for n in range(20):
        pgdb.execute(f"ALTER TABLE public.t{n} ADD COLUMN c{n} int")  # the next one differs
        proc = subprocess.Popen([*args, "baseline", "accept", "test"], stderr=subprocess.DEVNULL)
        if n % 4 == 3:  # every fourth one finishes: kills land between real changes
            assert proc.wait(120) == 0
        try:
            proc.wait(timeout=rng.uniform(0.2, whole))  # the moment of the kill
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.wait(30)
        data = baseline.read_bytes()
        assert json.loads(data)["objects"], f"kill {n}: not a whole baseline"
        seen.add(data)
    assert len(seen) > 5  # the accepts that finished each wrote a new one
    res = project.run_subprocess("check", "test")
    assert res.exit_code in (0, 1), res.stderr


# -- alerts and the daemon's life ----------------------------------------------------------


def _alert_config(project: object, pgdb: object, url: str, state_url: str) -> None:
    from tests.conftest import PgDatabase, Project

    assert isinstance(project, Project) and isinstance(pgdb, PgDatabase)
    project.config.write_text(
        f"""
[driftd]
baselines_dir = "baselines"
state_url = "{state_url}"
http_listen = ""

[environments.test]
url = "{pgdb.url}"
roles = ["{pgdb.prefix}*"]
schedule = "2s"
alerts = ["hook"]

[alerts.hook]
type = "webhook"
url = "{url}/driftd"
min_severity = "low"
timeout = "60s"
retry_initial = "1s"
retry_max = "2s"
"""
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///state.db"
    return str(request.getfixturevalue("statedb").url)


def _query(project: object, state_url: str, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import create_engine

    from tests.conftest import Project

    assert isinstance(project, Project)
    if state_url.startswith("sqlite:///"):
        db = project.root / state_url.removeprefix("sqlite:///")
        if not db.exists():
            return []
        state_url = f"sqlite:///{db}"
    engine = create_engine(state_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    except Exception:  # not created or not migrated yet
        return []
    finally:
        engine.dispose()


def _in_flight(project: object, state_url: str) -> tuple[int, str, str | None] | None:
    """The pending delivery and its claim owner (SQLite: the claiming process;
    PostgreSQL claims by row lock, so none shows)."""
    rows = _query(
        project,
        state_url,
        "SELECT id, idempotency_key, claim_owner FROM alert_deliveries WHERE state = 'pending'",
    )
    if not rows:
        return None
    row = rows[0]
    if state_url.startswith("sqlite") and row[2] is None:
        return None  # queued, not yet claimed
    return int(row[0]), str(row[1]), row[2]


def _drift_in_flight(
    project: object, pgdb: object, alert_server: object, daemons: object, state_url: str
) -> Any:
    from tests.alert_servers import AlertServer
    from tests.conftest import PgDatabase, Project
    from tests.daemon_support import Daemons, wait_for

    assert isinstance(project, Project) and isinstance(pgdb, PgDatabase)
    assert isinstance(alert_server, AlertServer) and isinstance(daemons, Daemons)
    pgdb.execute("CREATE TABLE public.t (id int)")
    _alert_config(project, pgdb, alert_server.url, state_url)
    assert project.run("baseline", "accept", "test").exit_code == 0
    alert_server.fail(1, status=200, body="ok", delay=45)  # the first send hangs
    daemon = daemons.start()
    daemon.wait_ready()
    pgdb.execute("GRANT SELECT ON public.t TO PUBLIC")
    claim = wait_for("a delivery in flight", lambda: _in_flight(project, state_url), 30)
    # The hanging answer was taken: the request is at the sink, not just claimed.
    wait_for("the request at the sink", lambda: not alert_server._script or None, 30)
    return daemon, claim


def test_kill_9_mid_delivery_then_restart_delivers_within_5s_same_delivery(
    project: object, pgdb: object, alert_server: object, daemons: object, state_url: str
) -> None:
    from tests.daemon_support import wait_for

    first, (delivery_id, key, owner) = _drift_in_flight(
        project, pgdb, alert_server, daemons, state_url
    )
    if state_url.startswith("sqlite"):
        # The claim names the killed process in its own column, not in last_error.
        assert owner is not None and f":{first.pid}:" in owner
        assert _query(
            project,
            state_url,
            "SELECT last_error FROM alert_deliveries WHERE id = :i",
            i=delivery_id,
        ) == [(None,)]
    first.kill()  # SIGKILL: its claim (lease 3 × 60 s + 30 s) is left behind
    second = daemons.start()  # type: ignore[attr-defined]
    second.wait_ready()
    started = time.monotonic()

    def sent() -> Any:
        done = [
            r
            for r in alert_server.delivered("/driftd")  # type: ignore[attr-defined]
            if r.headers.get("idempotency-key") == key
        ]
        return done or None

    wait_for("the interrupted alert", sent, 5)
    assert time.monotonic() - started <= 5.0
    sql = "SELECT state, claim_owner FROM alert_deliveries WHERE id = :i"

    def recorded() -> bool | None:
        return _query(project, state_url, sql, i=delivery_id) == [("delivered", None)] or None

    wait_for("the same delivery row marked delivered, its claim cleared", recorded, 5)


def test_sigterm_during_a_slow_delivery_stops_well_within_the_unit_timeout(
    project: object, pgdb: object, alert_server: object, daemons: object
) -> None:
    import signal

    daemon, _claim = _drift_in_flight(project, pgdb, alert_server, daemons, "sqlite:///state.db")
    stop = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit(28) == 0
    took = time.monotonic() - stop
    assert took < 25.0, f"took {took:.1f}s to stop (TimeoutStopSec=30s)"
    assert "not sent yet" in daemon.log_text()


def test_a_read_only_state_store_turns_healthz_503_and_recovers_with_nothing_lost(
    project: object, pgdb: object, statedb: object, alert_server: object, daemons: object
) -> None:
    """The PostgreSQL state store refuses writes (read-only, as a full disk or a
    demoted primary would): /healthz says so with 503, checks go on, and once it
    takes writes again the drift found meanwhile is recorded and alerted, once."""
    import json

    from tests.alert_servers import AlertServer
    from tests.conftest import PgDatabase, Project
    from tests.daemon_support import (
        Daemons,
        StateDB,
        admin_connect,
        free_port,
        status_json,
        wait_for,
    )

    assert isinstance(project, Project) and isinstance(pgdb, PgDatabase)
    assert isinstance(statedb, StateDB) and isinstance(daemons, Daemons)
    assert isinstance(alert_server, AlertServer)
    pgdb.execute("CREATE TABLE public.t (id int)")
    _alert_config(project, pgdb, alert_server.url, statedb.url)
    port = free_port()
    text_ = project.config.read_text().replace(
        'http_listen = ""', f'http_listen = "127.0.0.1:{port}"'
    )
    project.config.write_text(text_.replace('schedule = "2s"', 'schedule = "1s"'))
    assert project.run("baseline", "accept", "test").exit_code == 0
    daemon = daemons.start(port=port)
    daemon.wait_ready()
    wait_for("/healthz 200", lambda: daemon.get("/healthz")[0] == 200 or None, 10)

    def read_only(on: bool) -> None:
        setting = "SET default_transaction_read_only = on" if on else "RESET ALL"
        with admin_connect() as conn:
            conn.execute(f'ALTER DATABASE "{statedb.name}" {setting}')  # type: ignore[arg-type]
            # Sessions pick the setting up when they connect: end the daemon's.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (statedb.name,),
            )

    read_only(True)
    pgdb.execute("GRANT SELECT ON public.t TO PUBLIC")  # drift the store cannot record yet

    def unhealthy() -> list[str] | None:
        code, body = daemon.get("/healthz")
        problems = json.loads(body).get("problems", [])
        return problems if code == 503 and any("state store" in p for p in problems) else None

    problems = wait_for("/healthz 503 naming the state store", unhealthy, 30)
    assert any("read-only" in p for p in problems), problems
    assert alert_server.delivered("/driftd") == []
    read_only(False)
    wait_for("/healthz 200 again", lambda: daemon.get("/healthz")[0] == 200 or None, 30)

    def alerted() -> list[Any] | None:
        return alert_server.delivered("/driftd") or None

    (alert,) = wait_for("the drift found meanwhile alerted", alerted, 30)
    assert "public.t" in json.dumps(alert.json)
    assert status_json(project)["test"]["status"] == "drift"
    daemon.assert_alive()


class _Gate:
    """A TCP forwarder to a real server that can start refusing connections (its
    port closed, as a server that went down) and come back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket

        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.listener: Any = None
        self.open()

    def open(self) -> None:
        import socket
        import threading

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def close(self) -> None:
        import socket

        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()

    def _accept(self, sock: Any) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = sock.accept()
            except OSError:
                return  # closed: connections are refused from now on
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: Any, dst: Any) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            src.close()
            dst.close()


def test_a_target_refusing_connections_shows_fast_and_recovers_fast(
    project: object, pgdb: object, daemons: object
) -> None:
    """A database that refuses connections is reported failing within ~4 s (schedule
    1 s) and clean again within ~2 s of coming back; the other environment is
    checked all along."""
    import json

    from sqlalchemy.engine import make_url

    from tests.conftest import PgDatabase, Project
    from tests.daemon_support import Daemons, free_port, wait_for

    assert isinstance(project, Project) and isinstance(pgdb, PgDatabase)
    assert isinstance(daemons, Daemons)
    real = make_url(pgdb.url)
    gate = _Gate((real.host or "127.0.0.1", real.port or 5432))
    flaky = real.set(port=gate.port).render_as_string(hide_password=False)
    port = free_port()
    envs = "".join(
        f'\n[environments.{name}]\nurl = "{url}"\nroles = ["{pgdb.prefix}*"]\nschedule = "1s"\n'
        f'connect_timeout = "1s"\n'
        for name, url in (("steady", pgdb.url), ("flaky", flaky))
    )
    project.config.write_text(
        f'[driftd]\nbaselines_dir = "baselines"\nstate_url = "sqlite:///state.db"\n'
        f'http_listen = "127.0.0.1:{port}"\n{envs}'
    )
    for env in ("steady", "flaky"):
        assert project.run("baseline", "accept", env).exit_code == 0
    daemon = daemons.start(port=port)
    daemon.wait_ready()

    def failing() -> list[str]:
        return list(json.loads(daemon.get("/healthz")[1]).get("failing", []))

    def checked(env: str) -> int:
        return sum(1 for r in daemon.logs() if "run_id" in r and r.get("environment") == env)

    wait_for("both checked", lambda: (checked("flaky") and checked("steady")) or None, 20)
    gate.close()
    down_at = time.monotonic()
    before = checked("steady")
    wait_for("flaky reported failing", lambda: failing() == ["flaky"] or None, 4 + 1)
    shown = time.monotonic() - down_at
    wait_for("steady checked meanwhile", lambda: checked("steady") >= before + 2 or None, 5)
    gate.open()
    up_at = time.monotonic()
    wait_for("flaky clean again", lambda: failing() == [] or None, 2 + 1)
    recovered = time.monotonic() - up_at
    assert shown <= 5 and recovered <= 3, (shown, recovered)
    daemon.assert_alive()
