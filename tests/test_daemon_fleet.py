"""Two `driftd run` processes sharing one PostgreSQL state store split ten environments.

No environment is checked twice in one period (not even while leases move),
each daemon holds about half, and when one is killed with SIGKILL the
survivor takes its environments over within one lease period.
"""

from __future__ import annotations

import itertools
import json
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import PgDatabase, Project, admin_connect
from tests.daemon_support import (  # noqa: F401 (fixtures)
    Daemons,
    StateDB,
    daemons_fixture,
    free_port,
    statedb_fixture,
    wait_for,
)
from tests.procnet import local_ports

ENVS = [f"env{i}" for i in range(10)]
PERIOD = 2.0
LEASE = 3.0


def write_config(path: Path, pgdb: PgDatabase, statedb: StateDB, port: int) -> None:
    text = f"""
[driftd]
baselines_dir = "baselines"
state_url = "{statedb.url}"
http_listen = "127.0.0.1:{port}"
max_concurrent_checks = 2
lease_duration = "{LEASE}s"
"""
    for env in ENVS:
        text += f"""
[environments.{env}]
url = "{pgdb.url}"
roles = ["{pgdb.prefix}*"]
schedule = "{PERIOD}s"
"""
    path.write_text(text)


def holders(statedb: StateDB) -> dict[str, str]:
    """Environment → owning daemon, for unexpired leases."""
    rows = statedb.query(
        "SELECT environment, owner FROM leases WHERE owner IS NOT NULL AND expires_at > now()"
    )
    return {env: owner for env, owner in rows}


def runs(statedb: StateDB) -> list[tuple[str, str, datetime, datetime]]:
    return [
        (env, daemon.split(":")[1], start, end)
        for env, daemon, start, end in statedb.query(
            "SELECT environment, daemon, started_at, finished_at FROM runs ORDER BY started_at"
        )
    ]


def assert_no_double_checks(statedb: StateDB) -> None:
    by_env: dict[str, list[tuple[str, datetime, datetime]]] = defaultdict(list)
    for env, pid, start, end in runs(statedb):
        by_env[env].append((pid, start, end))
    for env, seq in by_env.items():
        for (_, s1, e1), (_, s2, _) in itertools.pairwise(seq):
            assert s2 >= e1, f"{env}: two checks overlapped ({s1}..{e1} and {s2})"
            # Guard: half a period between check starts, whoever checks (a little
            # slack for the daemon stamping the lease just before it takes the time).
            gap = (s2 - s1).total_seconds()
            assert gap >= PERIOD / 2 - 0.3, f"{env}: checked twice within {gap:.2f}s"


def test_two_daemons_split_ten_environments_and_survive_a_kill(
    project: Project, pgdb: PgDatabase, statedb: StateDB, daemons: Daemons
) -> None:
    pgdb.execute("CREATE TABLE public.t (id int PRIMARY KEY)")
    # One config per daemon: they differ only in their HTTP port.
    ports = free_port(), free_port()
    config_b = project.root / "driftd-b.toml"
    write_config(project.config, pgdb, statedb, ports[0])
    write_config(config_b, pgdb, statedb, ports[1])
    res = project.run("baseline", "accept", "env0")
    assert res.exit_code == 0, res.stderr
    base = json.loads(project.baseline("env0").read_text())
    for env in ENVS[1:]:
        project.baseline(env).write_text(json.dumps({**base, "environment": env}))

    a = daemons.start(port=ports[0])
    a.wait_ready()
    wait_for("A to hold all ten", lambda: len(holders(statedb)) == 10, 10)
    b = daemons.start(config_b, port=ports[1])
    b.wait_ready()

    def split() -> bool:
        owners = holders(statedb)
        counts = sorted(
            sum(1 for o in owners.values() if o.split(":")[1] == str(d.pid)) for d in (a, b)
        )
        return len(owners) == 10 and counts == [5, 5]

    wait_for("the environments to split 5/5", split, 4 * LEASE)
    balanced = datetime.now().astimezone()

    def every_environment_checked_since() -> bool:
        return {env for env, _, start, _ in runs(statedb) if start > balanced} == set(ENVS)

    wait_for(
        "every environment to be checked once balanced",
        every_environment_checked_since,
        3 * PERIOD + 5,
    )
    owners = holders(statedb)
    steady = [r for r in runs(statedb) if r[2] > balanced]
    assert {env for env, *_ in steady} == set(ENVS), "every environment checked"
    for env, pid, *_ in steady:
        # Each environment stays with its holder once balanced.
        assert owners[env].split(":")[1] == pid, (env, pid, owners[env])
    per_daemon = defaultdict(set)
    for env, pid, *_ in steady:
        per_daemon[pid].add(env)
    assert sorted(len(v) for v in per_daemon.values()) == [5, 5]
    assert a.metric("driftd_environments_leased") == 5
    assert b.metric("driftd_environments_leased") == 5

    # SIGKILL B: A takes its environments over once B's leases run out.
    b_envs = {env for env, owner in owners.items() if owner.split(":")[1] == str(b.pid)}
    b.kill()
    killed = datetime.now().astimezone()
    t0 = time.monotonic()
    wait_for(
        "A to hold all ten again",
        lambda: (
            set(holders(statedb).values()) == {owners[min(set(ENVS) - b_envs)]}
            and len(holders(statedb)) == 10
        ),
        LEASE + LEASE / 3 + 3,
    )
    took_over = time.monotonic() - t0
    assert took_over <= LEASE + LEASE / 3 + 1.5, f"takeover took {took_over:.1f}s"

    def b_envs_checked_by_a() -> bool:
        checked = {
            env for env, pid, start, _ in runs(statedb) if start > killed and pid == str(a.pid)
        }
        return b_envs <= checked

    wait_for("A to check B's environments", b_envs_checked_by_a, 2 * PERIOD + 3)
    assert time.monotonic() - t0 <= LEASE + LEASE / 3 + PERIOD + 3
    assert_no_double_checks(statedb)
    assert statedb.query("SELECT count(*) FROM daemons WHERE expires_at > now()") == [(1,)]
    a.signal(signal.SIGTERM)
    assert a.wait_exit(25) == 0
    assert_no_double_checks(statedb)


# -- one database per environment: once per period, no connection kept -------------------

OWN_DBS = 6


@pytest.fixture(name="own_dbs")
def own_dbs_fixture(pgdb: PgDatabase) -> Iterator[list[str]]:
    names = [f"{pgdb.name}_e{i}" for i in range(OWN_DBS)]
    try:
        for name in names:
            with admin_connect() as conn:
                conn.execute(f'CREATE DATABASE "{name}"'.encode())
            with admin_connect(name) as conn:
                conn.execute("CREATE TABLE public.t (id int PRIMARY KEY)")
        yield names
    finally:
        with admin_connect() as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def test_each_database_once_per_period_and_no_connection_between_checks(
    project: Project, pgdb: PgDatabase, statedb: StateDB, daemons: Daemons, own_dbs: list[str]
) -> None:
    """Two daemons, six databases: every environment is checked once per period
    (never twice, never skipped) and a daemon holds a connection to a watched
    database only while it checks that database."""
    envs = {f"db{i}": name for i, name in enumerate(own_dbs)}
    ports = free_port(), free_port()
    configs = project.config, project.root / "driftd-b.toml"
    for path, port in zip(configs, ports, strict=True):
        text = (
            f'[driftd]\nbaselines_dir = "baselines"\nstate_url = "{statedb.url}"\n'
            f'http_listen = "127.0.0.1:{port}"\nmax_concurrent_checks = 2\n'
            f'lease_duration = "{LEASE}s"\n'
        )
        for env, db in envs.items():
            url = pgdb.url.rsplit("/", 1)[0] + "/" + db
            text += (
                f'\n[environments.{env}]\nurl = "{url}"\nroles = ["{pgdb.prefix}*"]\n'
                f'schedule = "{PERIOD}s"\ncluster_objects = false\n'
            )
        path.write_text(text)
    for env in envs:
        assert project.run("baseline", "accept", env).exit_code == 0
    a = daemons.start(port=ports[0])
    a.wait_ready()
    b = daemons.start(configs[1], port=ports[1])
    b.wait_ready()
    by_pid = {str(d.pid): d for d in (a, b)}

    def split() -> bool:
        owners = [o.split(":")[1] for o in holders(statedb).values()]
        return len(owners) == OWN_DBS and sorted(owners.count(p) for p in by_pid) == [3, 3]

    wait_for("the databases to split 3/3", split, 4 * LEASE)
    balanced = datetime.now().astimezone()
    # Sample each daemon's connections to the watched databases for three periods.
    seen: list[tuple[float, str, str]] = []  # (time, database, daemon pid)
    until = time.monotonic() + 3 * PERIOD + 1
    with admin_connect() as conn:
        while time.monotonic() < until:
            mine = {pid: local_ports(int(pid)) for pid in by_pid}
            rows = conn.execute(
                "SELECT client_port, datname FROM pg_stat_activity WHERE datname = ANY(%s)",
                (own_dbs,),
            ).fetchall()
            now = time.time()
            seen += [(now, db, pid) for port, db in rows for pid, ps in mine.items() if port in ps]
            time.sleep(0.02)
    done = datetime.now().astimezone()

    def all_checked_again() -> bool:  # so a check in flight at the end is recorded
        return {env for env, _, start, _ in runs(statedb) if start > done} == set(envs)

    wait_for("every environment to be checked once more", all_checked_again, 2 * PERIOD + 5)
    everything = runs(statedb)
    recorded = [r for r in everything if balanced <= r[2] and r[3] <= done]
    assert seen, "no check was ever seen connected: the sampling is broken"
    spans = defaultdict(list)
    for env, pid, start, end in everything:
        spans[(envs[env], pid)].append((start.timestamp() - 0.3, end.timestamp() + 0.3))
    held = [
        (db, pid, t) for t, db, pid in seen if not any(s <= t <= e for s, e in spans[(db, pid)])
    ]
    assert held == [], f"connections held between checks: {held[:5]}"
    # Once per period: consecutive starts of an environment are a period apart
    # (the interval schedule keeps its phase; no jitter piles up).
    starts: dict[str, list[datetime]] = defaultdict(list)
    for env, _, start, _ in recorded:
        starts[env].append(start)
    assert set(starts) == set(envs), f"not checked: {set(envs) - set(starts)}"
    for env, seq in starts.items():
        assert len(seq) >= 2, (env, seq)
        for s1, s2 in itertools.pairwise(seq):
            gap = (s2 - s1).total_seconds()
            assert PERIOD / 2 < gap < PERIOD * 1.5, f"{env}: checks {gap:.2f}s apart"
    assert_no_double_checks(statedb)
