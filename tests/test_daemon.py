"""`driftd run` as a real subprocess against real PostgreSQL: detect, resolve, reload, stop.

Each test starts the daemon with a short schedule and polls (with deadlines)
the state store through the CLI, the daemon's JSON logs and its HTTP listener.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PgDatabase, Project
from tests.daemon_support import (  # noqa: F401 (fixtures)
    Daemons,
    StateDB,
    daemons_fixture,
    free_port,
    statedb_fixture,
    status_json,
    wait_for,
    waiting_on_lock,
)

PERIOD = 2.0  # the schedule of the environments under test


def config(
    project: Project,
    pgdb: PgDatabase,
    *,
    port: int,
    state_url: str = "sqlite:///state.db",
    envs: dict[str, str] | None = None,
    extra: str = "",
    env_extra: str = "",
) -> None:
    """Environments (name → schedule) all watching ``pgdb``."""
    envs = envs if envs is not None else {"test": "2s"}
    blocks = [
        f"""
[environments.{name}]
url = "{pgdb.url}"
roles = ["{pgdb.prefix}*"]
schedule = "{schedule}"
{env_extra}
"""
        for name, schedule in envs.items()
    ]
    project.config.write_text(
        f"""
[driftd]
baselines_dir = "baselines"
state_url = "{state_url}"
http_listen = "127.0.0.1:{port}"
{extra}
"""
        + "".join(blocks)
    )


def accept(project: Project, *envs: str) -> None:
    for env in envs:
        res = project.run("baseline", "accept", env)
        assert res.exit_code == 0, res.stderr


def runs(d: Any, env: str | None = None) -> list[dict[str, Any]]:
    """The daemon's 'checked' log lines (one per recorded run), optionally of one environment."""
    return [r for r in d.logs() if "run_id" in r and (env is None or r.get("environment") == env)]


# -- detect, show, acknowledge, resolve, accept ------------------------------------


def test_detects_drift_within_a_period_and_tracks_its_lifecycle(
    project: Project, pgdb: PgDatabase, statedb: StateDB, daemons: Daemons
) -> None:
    pgdb.execute("CREATE TABLE public.orders (id bigint PRIMARY KEY, qty int)")
    port = free_port()
    config(project, pgdb, port=port, state_url=statedb.url)
    accept(project, "test")
    d = daemons.start(port=port)
    d.wait_ready()
    wait_for("a first clean run", lambda: status_json(project)["test"]["status"] == "clean", 10)
    assert d.get("/healthz")[0] == 200

    # Out of band: a column and a grant to PUBLIC.
    pgdb.execute("ALTER TABLE public.orders ADD COLUMN note text")
    pgdb.execute("GRANT SELECT ON public.orders TO PUBLIC")
    changed = time.monotonic()
    st = wait_for(
        "the drift to show in `driftd status`",
        lambda: (s := status_json(project)["test"])["status"] == "drift" and s,
        PERIOD + 6,
    )
    took = time.monotonic() - changed
    # One period plus jitter (10%) plus the check itself and our polling.
    assert took <= PERIOD * 1.1 + 2.5, f"drift seen after {took:.1f}s"
    assert st["open_drift"] == 2
    assert st["last_run_at"].endswith("Z")
    assert set(st) == {"name", "status", "last_run_at", "open_drift"}  # design.md's shape
    res = project.run("status")
    assert res.exit_code == 1 and "drift" in res.stdout and "critical" in res.stdout

    # Metrics follow the store.
    wait_for(
        "open drift in /metrics",
        lambda: d.metric("driftd_drift_open", environment="test", severity="critical") == 1,
        5,
    )
    assert (d.metric("driftd_checks_total", environment="test", result="drift") or 0) >= 1
    assert (d.metric("driftd_check_last_success_timestamp_seconds", environment="test") or 0) > (
        time.time() - 30
    )
    assert d.metric("driftd_check_errors_total", environment="test", reason="check") == 0
    assert d.metric("driftd_build_info", version=__import__("driftd").__version__) == 1

    # History, explain and ack.
    hist = json.loads(project.run("history", "test", "--format", "json").stdout)["entries"]
    opened = {e["drift_id"]: e for e in hist if e["type"] == "drift" and e["event"] == "opened"}
    assert len(opened) == 2
    grant_id = next(i for i, e in opened.items() if e["path"] == ["grants", "PUBLIC"])
    column_id = next(i for i in opened if i != grant_id)
    res = project.run("ack", grant_id[:8], "--note", "ticket OPS-1", "--by", "alice")
    assert res.exit_code == 0, res.stderr
    explained = json.loads(project.run("explain", grant_id, "--format", "json").stdout)
    assert explained["state"] == "acknowledged"
    assert explained["acknowledged_by"] == "alice" and explained["note"] == "ticket OPS-1"
    assert explained["before"] is None and explained["after"] == ["SELECT"]
    assert [e["event"] for e in explained["events"]] == ["opened", "acknowledged"]
    text = project.run("explain", grant_id).stdout
    assert "grants.PUBLIC" in text and "acknowledged" in text
    # Still open drift: an acknowledgement does not make it go away.
    assert status_json(project)["test"]["open_drift"] == 2

    # Reverting resolves both.
    pgdb.execute("REVOKE SELECT ON public.orders FROM PUBLIC")
    pgdb.execute("ALTER TABLE public.orders DROP COLUMN note")
    wait_for(
        "the drift to resolve",
        lambda: (s := status_json(project)["test"])["status"] == "clean" and s["open_drift"] == 0,
        PERIOD + 6,
    )
    for drift_id in (grant_id, column_id):
        item = json.loads(project.run("explain", drift_id, "--format", "json").stdout)
        assert item["state"] == "resolved", item
    res = project.run("ack", grant_id)
    assert res.exit_code == 2 and "already resolved" in res.stderr
    wait_for(
        "metrics to drop to zero",
        lambda: d.metric("driftd_drift_open", environment="test", severity="critical") == 0,
        5,
    )

    # A change taken into the baseline is 'accepted', not 'resolved'.
    pgdb.execute("CREATE INDEX ix_orders_qty ON public.orders (qty)")
    wait_for("the index drift", lambda: status_json(project)["test"]["status"] == "drift", 8)
    accept(project, "test")
    wait_for(
        "the baseline to take it", lambda: status_json(project)["test"]["status"] == "clean", 8
    )
    hist = json.loads(project.run("history", "test", "--format", "json").stdout)["entries"]
    events = [e["event"] for e in hist if e["type"] == "drift"]
    assert events[0] == "accepted", events

    d.signal(signal.SIGTERM)
    assert d.wait_exit(25) == 0


# -- reload ----------------------------------------------------------------------------------


def test_sighup_reschedules_and_a_broken_config_keeps_the_old_one(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    port = free_port()
    config(project, pgdb, port=port, envs={"a": "1h", "b": "2s"})
    accept(project, "a", "b")
    d = daemons.start(port=port)
    d.wait_ready()
    wait_for("b to be checked", lambda: runs(d, "b"), 10)
    assert d.metric("driftd_check_last_run_timestamp_seconds", environment="c") is None

    # b goes, c comes, a is rescheduled from hourly to every second.
    config(project, pgdb, port=port, envs={"a": "1s", "c": "2s"})
    accept(project, "c")
    d.signal(signal.SIGHUP)
    reloaded = d.wait_log("the reload", lambda r: r.get("msg") == "configuration reloaded", 10)
    assert (reloaded["added"], reloaded["removed"], reloaded["rescheduled"]) == (
        ["c"],
        ["b"],
        ["a"],
    )
    at = len(d.logs())
    wait_for("c to be checked", lambda: runs(d, "c"), 8)
    wait_for(
        "a to run every second",
        lambda: (
            len([r for r in d.logs()[at:] if r.get("environment") == "a" and "run_id" in r]) >= 3
        ),
        8,
    )
    assert not [r for r in d.logs()[at:] if r.get("environment") == "b" and "run_id" in r]
    assert d.metric("driftd_check_last_run_timestamp_seconds", environment="b") is None
    assert d.metric("driftd_drift_open", environment="c", severity="high") == 0
    assert d.metric("driftd_config_last_reload_successful") == 1

    # A broken config is reported and the running one stays.
    project.config.write_text(project.config.read_text() + "\n[environments.c\nurl = 1\n")
    at = len(d.logs())
    d.signal(signal.SIGHUP)
    failed = d.wait_log(
        "the failed reload", lambda r: str(r.get("msg", "")).startswith("reload failed"), 10
    )
    assert failed["level"] == "error" and "not valid TOML" in failed["msg"]
    assert d.metric("driftd_config_last_reload_successful") == 0
    wait_for(
        "checks to go on under the old config",
        lambda: {r.get("environment") for r in d.logs()[at:] if "run_id" in r} >= {"a", "c"},
        8,
    )
    assert d.get("/healthz")[0] == 200
    d.signal(signal.SIGTERM)
    assert d.wait_exit(25) == 0


# -- stopping -------------------------------------------------------------------------------------


def _integrity(statedb: StateDB) -> None:
    """Every environment's state points at its newest run; every event at a drift item."""
    rows = statedb.query(
        "SELECT s.name, s.last_run_id, max(r.id) FROM environment_state s"
        " JOIN runs r ON r.environment = s.name GROUP BY s.name, s.last_run_id"
    )
    assert rows and all(last == newest for _, last, newest in rows), rows
    orphans = statedb.query(
        "SELECT count(*) FROM drift_events e LEFT JOIN drift d ON d.id = e.drift_id"
        " WHERE d.id IS NULL"
    )
    assert orphans == [(0,)]


@pytest.fixture
def locked_table(pgdb: PgDatabase) -> Iterator[Any]:
    """A connection that can hold ACCESS EXCLUSIVE on public.orders (released at teardown)."""
    pgdb.execute(
        "CREATE TABLE public.orders (id bigint PRIMARY KEY, qty int DEFAULT 1 CHECK (qty > 0))"
    )
    conn = pgdb.connect()
    yield conn
    conn.close()


FULL_SNAPSHOTS = 'lock_timeout = "20s"\nfull_snapshot_every = "0s"'


def test_sigterm_mid_run_lets_the_check_finish_and_exits_0(
    project: Project, pgdb: PgDatabase, statedb: StateDB, daemons: Daemons, locked_table: Any
) -> None:
    port = free_port()
    # Every check takes the snapshot: the no-change fast path reads only the catalogs,
    # so it would never wait on the table locked below.
    config(project, pgdb, port=port, state_url=statedb.url, env_extra=FULL_SNAPSHOTS)
    accept(project, "test")
    d = daemons.start(port=port)
    d.wait_ready()
    wait_for("a first run", lambda: runs(d, "test"), 10)

    # Hold a lock the snapshot needs: the next check waits on it, mid-run.
    locked_table.execute("BEGIN")
    locked_table.execute("LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE")
    wait_for("a check to block on the lock", lambda: waiting_on_lock(pgdb.name), PERIOD + 5)
    before = len(runs(d))
    d.signal(signal.SIGTERM)
    d.wait_log("the stop to wait for the check", lambda r: "running" in r, 5)
    # Still letting the check finish: it must not exit while the lock is held.
    assert d.proc is not None
    with pytest.raises(subprocess.TimeoutExpired):
        d.proc.wait(1.0)
    locked_table.execute("COMMIT")
    assert d.wait_exit(20) == 0
    after = runs(d)
    assert len(after) == before + 1, "the check running at SIGTERM finished and was recorded"
    assert after[-1]["status"] == "clean"
    assert statedb.query("SELECT count(*) FROM runs") == [(len(after),)]
    assert statedb.query("SELECT count(*) FROM daemons") == [(0,)], "heartbeat removed at stop"
    assert statedb.query("SELECT count(*) FROM leases WHERE owner IS NOT NULL") == [(0,)]
    _integrity(statedb)


@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
def test_kill_9_mid_run_then_restart_loses_nothing(
    project: Project,
    pgdb: PgDatabase,
    statedb: StateDB,
    daemons: Daemons,
    locked_table: Any,
    store: str,
) -> None:
    port = free_port()
    state_url = statedb.url if store == "postgresql" else "sqlite:///state.db"
    # A short lease: the killed daemon's lease must run out before the restart may check.
    config(
        project,
        pgdb,
        port=port,
        state_url=state_url,
        extra='lease_duration = "3s"',
        env_extra=FULL_SNAPSHOTS,
    )
    accept(project, "test")
    d = daemons.start(port=port)
    d.wait_ready()
    pgdb.execute("GRANT SELECT ON public.orders TO PUBLIC")
    wait_for("the drift", lambda: status_json(project)["test"]["status"] == "drift", 10)
    drift_id = json.loads(project.run("history", "test", "--format", "json").stdout)["entries"]
    drift_id = next(e["drift_id"] for e in drift_id if e["type"] == "drift")
    assert project.run("ack", drift_id, "--by", "bob").exit_code == 0
    item_before = json.loads(project.run("explain", drift_id, "--format", "json").stdout)

    locked_table.execute("BEGIN")
    locked_table.execute("LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE")
    wait_for("a check to block on the lock", lambda: waiting_on_lock(pgdb.name), PERIOD + 5)
    history_before = json.loads(project.run("history", "test", "--format", "json").stdout)
    d.kill()  # SIGKILL mid-run
    locked_table.execute("COMMIT")
    history_killed = json.loads(project.run("history", "test", "--format", "json").stdout)
    assert history_killed == history_before, "the interrupted run left nothing half-written"

    d2 = daemons.start(port=port)
    d2.wait_ready()
    wait_for("a run after the restart", lambda: runs(d2, "test"), 10)
    d2.signal(signal.SIGTERM)
    assert d2.wait_exit(20) == 0
    history_after = json.loads(project.run("history", "test", "--format", "json").stdout)
    before_entries = history_before["entries"]
    assert all(e in history_after["entries"] for e in before_entries), "nothing recorded was lost"
    item_after = json.loads(project.run("explain", drift_id, "--format", "json").stdout)
    # The same item, still acknowledged: not reopened, not duplicated.
    assert item_after["state"] == "acknowledged" and item_after["acknowledged_by"] == "bob"
    assert item_after["first_seen_at"] == item_before["first_seen_at"]
    assert item_after["last_seen_at"] >= item_before["last_seen_at"]
    assert status_json(project)["test"]["open_drift"] == 1
    if store == "postgresql":
        _integrity(statedb)


# -- hanging databases, --once --------------------------------------------------------


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung database)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_a_hanging_database_does_not_hold_up_the_others(
    project: Project, pgdb: PgDatabase, daemons: Daemons, black_hole: int
) -> None:
    port = free_port()
    config(project, pgdb, port=port, extra="max_concurrent_checks = 1")
    accept(project, "test")
    with project.config.open("a") as fh:
        fh.write(
            f"""
[environments.hung]
url = "postgresql+psycopg://nobody@127.0.0.1:{black_hole}/x"
schedule = "1s"
connect_timeout = "1s"
statement_timeout = "1s"
"""
        )
    d = daemons.start(port=port)
    d.wait_ready()
    failed = d.wait_log(
        "the hung environment to be reported",
        lambda r: r.get("environment") == "hung" and r.get("status") == "error",
        20,
    )
    assert failed["level"] == "warning" and "run_id" in failed
    # One worker, a database that never answers: the other one is still checked on time.
    first = len(runs(d, "test"))
    wait_for(
        "test to keep being checked", lambda: len(runs(d, "test")) >= first + 2, 3 * PERIOD + 4
    )
    assert (d.metric("driftd_check_errors_total", environment="hung", reason="check") or 0) + (
        d.metric("driftd_check_errors_total", environment="hung", reason="timeout") or 0
    ) >= 1
    code, body = d.get("/healthz")
    assert code == 200 and "hung" in json.loads(body)["failing"]
    st = status_json(project)
    assert st["hung"]["status"] == "error" and st["test"]["status"] == "clean"
    d.signal(signal.SIGTERM)
    assert d.wait_exit(25) == 0


def test_healthz_fails_when_every_check_fails(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    port = free_port()
    config(project, pgdb, port=port)  # no baseline: every check is an error
    d = daemons.start(port=port)
    d.wait_ready()
    wait_for("/healthz to fail", lambda: d.get("/healthz")[0] == 503, 10)
    body = json.loads(d.get("/healthz")[1])
    assert body["status"] == "unhealthy" and body["problems"] == ["every check is failing"]
    accept(project, "test")
    wait_for("/healthz to recover", lambda: d.get("/healthz")[0] == 200, PERIOD + 5)
    d.signal(signal.SIGINT)
    assert d.wait_exit(25) == 0


def test_run_once_exit_codes(project: Project, pgdb: PgDatabase) -> None:
    config(project, pgdb, port=free_port())
    accept(project, "test")
    res = project.run_subprocess("run", "--once")
    assert res.exit_code == 0, res.stderr
    assert "test: clean" in res.stdout
    pgdb.execute(f'CREATE ROLE "{pgdb.role("intruder")}"')
    res = project.run_subprocess("run", "--once")
    assert res.exit_code == 1 and "test: drift" in res.stdout
    assert status_json(project)["test"]["open_drift"] == 1
    with project.config.open("a") as fh:
        fh.write(
            f"""
[environments.gone]
url = "postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x"
connect_timeout = "1s"
"""
        )
    res = project.run_subprocess("run", "--once")
    assert res.exit_code == 2 and "gone: error" in res.stdout
    assert status_json(project)["gone"]["status"] == "error"
    assert project.run("status").exit_code == 2


def test_a_second_daemon_on_one_sqlite_store_is_refused(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    port = free_port()
    config(project, pgdb, port=port)
    accept(project, "test")
    d = daemons.start(port=port)
    d.wait_ready()
    res = project.run_subprocess("run")
    assert res.exit_code == 2
    assert f"another driftd daemon (pid {d.pid})" in res.stderr
    assert "Traceback" not in res.stderr
    d.signal(signal.SIGTERM)
    assert d.wait_exit(25) == 0
