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
from tests.daemon_support import daemons_fixture  # noqa: F401 (fixture)


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
    res = project.run("snapshot", "test", "-o", str(out))
    assert res.exit_code == 0, res.stderr
    assert _mode(out) == 0o600 and _mode(out.parent) == 0o700
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


# -- alerts and the daemon's life ----------------------------------------------------------


def _alert_config(project: object, pgdb: object, url: str) -> None:
    from tests.conftest import PgDatabase, Project

    assert isinstance(project, Project) and isinstance(pgdb, PgDatabase)
    project.config.write_text(
        f"""
[driftd]
baselines_dir = "baselines"
state_url = "sqlite:///state.db"
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


def _claimed(project: object) -> tuple[int, str] | None:
    import sqlite3

    from tests.conftest import Project

    assert isinstance(project, Project)
    db = project.root / "state.db"
    if not db.exists():
        return None
    with sqlite3.connect(db, timeout=5) as conn:
        row = conn.execute(
            "SELECT id, idempotency_key FROM alert_deliveries "
            "WHERE state = 'pending' AND last_error LIKE 'sending: claimed by %'"
        ).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def _drift_in_flight(project: object, pgdb: object, alert_server: object, daemons: object) -> Any:
    from tests.alert_servers import AlertServer
    from tests.conftest import PgDatabase, Project
    from tests.daemon_support import Daemons, wait_for

    assert isinstance(project, Project) and isinstance(pgdb, PgDatabase)
    assert isinstance(alert_server, AlertServer) and isinstance(daemons, Daemons)
    pgdb.execute("CREATE TABLE public.t (id int)")
    _alert_config(project, pgdb, alert_server.url)
    assert project.run("baseline", "accept", "test").exit_code == 0
    alert_server.fail(1, status=200, body="ok", delay=45)  # the first send hangs
    daemon = daemons.start()
    daemon.wait_ready()
    pgdb.execute("GRANT SELECT ON public.t TO PUBLIC")
    claim = wait_for("a delivery in flight", lambda: _claimed(project), 30)
    # The hanging answer was taken: the request is at the sink, not just claimed.
    wait_for("the request at the sink", lambda: not alert_server._script or None, 30)
    return daemon, claim


def test_kill_9_mid_delivery_then_restart_delivers_within_5s_same_delivery(
    project: object, pgdb: object, alert_server: object, daemons: object
) -> None:
    from tests.daemon_support import wait_for

    first, (delivery_id, key) = _drift_in_flight(project, pgdb, alert_server, daemons)
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
    import sqlite3

    def recorded() -> bool | None:
        with sqlite3.connect(project.root / "state.db", timeout=5) as conn:  # type: ignore[attr-defined]
            row = conn.execute(
                "SELECT state FROM alert_deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
        return row == ("delivered",) or None

    wait_for("the same delivery row marked delivered", recorded, 5)


def test_sigterm_during_a_slow_delivery_stops_well_within_the_unit_timeout(
    project: object, pgdb: object, alert_server: object, daemons: object
) -> None:
    import signal

    daemon, _claim = _drift_in_flight(project, pgdb, alert_server, daemons)
    stop = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit(28) == 0
    took = time.monotonic() - stop
    assert took < 25.0, f"took {took:.1f}s to stop (TimeoutStopSec=30s)"
    assert "not sent yet" in daemon.log_text()
