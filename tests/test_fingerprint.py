"""The no-change fast path never misses a change (issue 15).

Every PostgreSQL golden scenario runs on a private cluster: ``before.sql``,
fingerprint, ``after.sql``, fingerprint. A scenario whose change driftd
reports (its expected.json is not empty) must change the fingerprint; the
data-only controls (inserts, ``nextval``, ANALYZE, ...) must not, or the fast
path would rarely apply. A private cluster, because the fingerprint reads
cluster-wide catalogs (roles) that concurrent tests on the shared server
change all the time.

Then the daemon's use of it, end to end through ``check_environment``: the
second check of an unchanged database reuses the first, and a change, a new
baseline file, or ``full_snapshot_every`` passing each force a full check.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from driftd.check import FastPath, check_environment
from driftd.collect import Target
from driftd.collect.postgres import fingerprint as fp
from driftd.collect.postgres import queries
from driftd.collect.postgres.fingerprint import (
    MAINTENANCE_COLUMNS,
    NOT_SNAPSHOT,
    catalog_names,
    fingerprint,
)
from driftd.config.load import parse
from tests.private_pg import PrivateCluster, private_cluster
from tests.test_scenarios import Run, Scenario, discover, split_sql

pytestmark = pytest.mark.server
SQL_DIR = Path(__file__).resolve().parent.parent / "driftd" / "collect" / "postgres" / "sql"

PG_SCENARIOS = [s for s in discover() if s.engine == "postgresql"]
# Changes driftd rightly does not report that still move the fingerprint: each costs one
# full snapshot, never a missed change.
MOVES_WITHOUT_DRIFT = {
    "pg_role_password": "pg_roles says that a role has a password (******** for NULL)",
    "pg_view_whitespace": "CREATE OR REPLACE VIEW writes pg_rewrite when the text reads the same",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as c:
        yield c


def _fingerprint(cluster: PrivateCluster, run: Run, connections: int = 1) -> str:
    # The scenarios' environment watches the roles named {{prefix}}*, as in test_scenarios.
    target = Target(
        environment="t",
        url=cluster.url(run.db),
        roles=(run.prefix + "*",),
        read_connections=connections,
    )
    return fingerprint(target)


@pytest.fixture
def two_connections(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every catalog counts as large: with read_connections = 2 the fingerprint is read
    over two connections. Lists each second connection made."""
    made: list[bool] = []
    real = fp._second_connection

    def second(*args: Any) -> Any:
        conn = real(*args)
        made.append(conn is not None)
        return conn

    monkeypatch.setattr(fp, "PARALLEL_MIN_PG_CLASS_BYTES", 0)
    monkeypatch.setattr(fp, "_second_connection", second)
    return made


def _execute(cluster: PrivateCluster, run: Run, script: str) -> None:
    with cluster.connect(run.db) as conn:
        for statement in split_sql(run.fill(script)):
            conn.execute(statement)  # type: ignore[arg-type]


@pytest.mark.parametrize("scenario", PG_SCENARIOS, ids=[s.name for s in PG_SCENARIOS])
def test_a_change_changes_the_fingerprint(
    cluster: PrivateCluster, scenario: Scenario, two_connections: list[bool]
) -> None:
    """Before on one connection, after on two: the way it was read never shows."""
    run = Run(scenario)
    with cluster.connect() as admin:
        admin.execute(f'CREATE DATABASE "{run.db}"')  # type: ignore[arg-type]
    try:
        _execute(cluster, run, scenario.read("before.sql") or "")
        before = _fingerprint(cluster, run)
        assert _fingerprint(cluster, run, 2) == before, "the fingerprint of an idle database moved"
        _execute(cluster, run, scenario.read("after.sql") or "")
        after = _fingerprint(cluster, run, 2)
        assert two_connections == [False, True, True]  # one, then two and two
    finally:
        with cluster.connect() as admin:
            admin.execute(f'DROP DATABASE "{run.db}" WITH (FORCE)')  # type: ignore[arg-type]
    reported = json.loads(scenario.read("expected.json") or "[]")
    if reported and not scenario.xfail:
        assert after != before, f"{scenario.name}: driftd reports a change the fingerprint missed"
    elif not reported and scenario.name not in MOVES_WITHOUT_DRIFT:
        assert after == before, f"{scenario.name}: a data-only change moved the fingerprint"


def test_other_roles_count_by_name_only(cluster: PrivateCluster) -> None:
    """A role the environment does not watch: its attributes are not in the snapshot,
    but its name is, wherever it owns or was granted something."""
    run = Run(PG_SCENARIOS[0])
    other = f"other_{run.token}"
    with cluster.connect() as admin:
        admin.execute(f'CREATE DATABASE "{run.db}"')  # type: ignore[arg-type]
        admin.execute(f"CREATE ROLE {other}")  # type: ignore[arg-type]
    try:
        _execute(cluster, run, f"CREATE TABLE t (id int); ALTER TABLE t OWNER TO {other};")
        before = _fingerprint(cluster, run)
        with cluster.connect() as admin:
            admin.execute(f"ALTER ROLE {other} SUPERUSER PASSWORD 'x' CONNECTION LIMIT 3")  # type: ignore[arg-type]
        assert _fingerprint(cluster, run) == before
        with cluster.connect() as admin:
            admin.execute(f"ALTER ROLE {other} RENAME TO {other}_b")  # type: ignore[arg-type]
        assert _fingerprint(cluster, run) != before  # the table's owner reads differently
    finally:
        with cluster.connect() as admin:
            admin.execute(f'DROP DATABASE "{run.db}" WITH (FORCE)')  # type: ignore[arg-type]
            admin.execute(f"DROP ROLE {other}_b")  # type: ignore[arg-type]


def test_the_fingerprint_covers_the_catalogs_of_every_query() -> None:
    # Derived from the SQL files: a kind added with its file is covered without more code.
    names = set(catalog_names())
    for needed in ("pg_class", "pg_attribute", "pg_proc", "pg_roles", "pg_settings"):
        assert needed in names


def test_no_query_reads_a_column_the_fingerprint_leaves_out() -> None:
    # As the server gets them: fragments expanded.
    sql = "\n".join(
        queries.sql(p.stem) for p in SQL_DIR.glob("*.sql") if p.stem not in NOT_SNAPSHOT
    ).lower()
    for relation, columns in MAINTENANCE_COLUMNS.items():
        for column in columns:
            assert column not in sql, f"{column} of {relation} is read: hash it in the fingerprint"


@pytest.fixture
def environment(cluster: PrivateCluster, tmp_path: Path) -> Iterator[tuple[Run, Path]]:
    run = Run(PG_SCENARIOS[0])
    with cluster.connect() as admin:
        admin.execute(f'CREATE DATABASE "{run.db}"')  # type: ignore[arg-type]
    with cluster.connect(run.db) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    config = tmp_path / "driftd.toml"
    config.write_text(
        f'[environments.e]\nurl = "{cluster.url(run.db)}"\nroles = ["{run.prefix}*"]\n'
        'full_snapshot_every = "1h"\n'
    )
    try:
        yield run, config
    finally:
        with cluster.connect() as admin:
            admin.execute(f'DROP DATABASE "{run.db}" WITH (FORCE)')  # type: ignore[arg-type]


def test_the_daemon_reuses_an_unchanged_check(
    cluster: PrivateCluster, environment: tuple[Run, Path]
) -> None:
    from driftd import snapshot

    run, path = environment
    env = parse(path.read_text(), path).resolve("e")
    snapshot.write_baseline(env, snapshot.to_bytes(snapshot.stable(snapshot.take(env))))
    now = [0.0]
    fast = FastPath(clock=lambda: now[0])

    def check() -> list[str]:
        report = check_environment(env, for_store=True, fast=fast)
        assert report.status in ("clean", "drift"), report.error
        return [f"{i.object}#{'.'.join(map(str, i.path))}" for i in report.drift]

    assert check() == [] and fast.reused == 0  # nothing remembered yet: a full check
    assert check() == [] and fast.reused == 1
    with cluster.connect(run.db) as conn:
        conn.execute("ALTER TABLE t ADD COLUMN note text")
    assert check() == ["table:public.t#columns.note"] and fast.reused == 1
    assert check() == ["table:public.t#columns.note"] and fast.reused == 2  # reused with its drift
    # A new baseline (accepted or pulled from git) is read at once.
    snapshot.write_baseline(env, snapshot.to_bytes(snapshot.stable(snapshot.take(env))))
    assert check() == [] and fast.reused == 2
    assert check() == [] and fast.reused == 3
    now[0] += 3600  # full_snapshot_every: a full check however quiet the database
    assert check() == [] and fast.reused == 3
    fast.forget()  # a config reload
    assert check() == [] and fast.reused == 3


@contextlib.contextmanager
def _database(cluster: PrivateCluster, run: Run, *roles: str) -> Iterator[None]:
    """The run's database (and ``roles``: CREATE ROLE clauses) for one test, dropped after."""
    with cluster.connect() as admin:
        admin.execute(f'CREATE DATABASE "{run.db}"')  # type: ignore[arg-type]
        for role in roles:
            admin.execute(f"CREATE ROLE {role}")  # type: ignore[arg-type]
    try:
        yield
    finally:
        with cluster.connect() as admin:
            admin.execute(f'DROP DATABASE "{run.db}" WITH (FORCE)')  # type: ignore[arg-type]
            for role in roles:
                admin.execute(f"DROP ROLE {role.split()[0]}")  # type: ignore[arg-type]


def test_a_refused_second_connection_gives_the_same_fingerprint(
    cluster: PrivateCluster, two_connections: list[bool]
) -> None:
    """A role allowed one connection: the first connection sums everything."""
    run = Run(PG_SCENARIOS[0])
    user = f"{run.prefix}one"
    with _database(cluster, run, f"{user} LOGIN CONNECTION LIMIT 1"):
        _execute(cluster, run, "CREATE TABLE t (id int PRIMARY KEY); CREATE INDEX ON t (id)")
        url = cluster.url(run.db, user)
        one = fingerprint(Target(environment="t", url=url, read_connections=1))
        # Its backend may outlive the client a moment, and count against the limit.
        assert _no_sessions_left(cluster, run.db)
        refused = fingerprint(Target(environment="t", url=url))
        _fingerprint(cluster, run, 2)  # a control: as postgres, who may open two
    assert two_connections == [False, False, True]
    assert refused == one


def test_an_error_on_the_second_connection_is_raised(
    cluster: PrivateCluster, two_connections: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run(PG_SCENARIOS[0])
    real = fp._lane

    def broken(sums: Any, scoped: Any, second: bool) -> Any:
        got = real(sums, scoped, second)
        if second:  # the second connection's part: a query that fails
            got[0]["pg_class"] = fp.pgsql.SQL("(SELECT (1/0)::text)")
        return got

    monkeypatch.setattr(fp, "_lane", broken)
    with _database(cluster, run):
        before = {t.name for t in threading.enumerate()}
        with pytest.raises(psycopg.errors.DivisionByZero):
            _fingerprint(cluster, run, 2)
        assert {t.name for t in threading.enumerate()} == before
        assert two_connections == [True]
        assert _no_sessions_left(cluster, run.db)


def _no_sessions_left(cluster: PrivateCluster, db: str) -> bool:
    """Whether driftd's connections to ``db`` are all gone (polled with a deadline: a
    backend leaves pg_stat_activity shortly after its client closes)."""
    deadline = time.monotonic() + 10
    with cluster.connect() as conn:  # autocommit: each poll sees pg_stat_activity anew
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = 'driftd'",
                (db,),
            ).fetchone()
            if row == (0,) or time.monotonic() > deadline:
                return row == (0,)
            time.sleep(0.02)  # the polling interval, not a wait for a result


def test_the_second_connection_sums_the_first_ones_snapshot(
    cluster: PrivateCluster, two_connections: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table created between the export and the import is in neither connection's
    sums (pg_class is summed on the second): the digest is the one from before it."""
    run = Run(PG_SCENARIOS[0])
    real = fp.second_connection

    def late(*args: Any) -> Any:
        with cluster.connect(run.db) as other:
            other.execute("CREATE TABLE created_meanwhile (id int)")
        return real(*args)

    with _database(cluster, run):
        _execute(cluster, run, "CREATE TABLE t (id int PRIMARY KEY)")
        before = _fingerprint(cluster, run)
        monkeypatch.setattr(fp, "second_connection", late)
        during = _fingerprint(cluster, run, 2)
        monkeypatch.undo()
        after = _fingerprint(cluster, run)
    assert during == before != after


def test_a_refused_snapshot_export_gives_the_same_fingerprint(
    cluster: PrivateCluster, two_connections: list[bool]
) -> None:
    run = Run(PG_SCENARIOS[0])
    user = f"{run.prefix}noexport"
    with _database(cluster, run, f"{user} LOGIN"):
        _execute(cluster, run, "REVOKE EXECUTE ON FUNCTION pg_export_snapshot() FROM PUBLIC")
        url = cluster.url(run.db, user)
        refused = fingerprint(Target(environment="t", url=url))
        one = fingerprint(Target(environment="t", url=url, read_connections=1))
    assert two_connections == [False, False]
    assert refused == one
