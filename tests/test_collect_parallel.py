"""A large PostgreSQL catalog is read over two connections sharing one snapshot.

The second connection imports the snapshot the first one exports and reads the steps
of ``SECOND_LANE``. Here, on real servers: both ways give the same objects (and the
second connection is really used), the second connection sees the first one's
snapshot and not a later one, a server that refuses the second connection still gets
read, and a lock or a failure on either side ends both cleanly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from driftd.collect import Target
from driftd.collect import postgres as pg
from driftd.collect.postgres import build, connect, read
from driftd.collect.postgres.connect import _connect_params
from driftd.config.url import parse
from tests.conftest import PgDatabase
from tests.test_collect_postgres_fast import target as target  # the CASES catalog

pytestmark = pytest.mark.server


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Every catalog counts as large; yields what each second connection's start gave."""
    started: list[bool] = []
    real = read._SecondLane.start

    def start(self: read._SecondLane, snapshot: str, version_num: int, nsp: list[int]) -> bool:
        started.append(real(self, snapshot, version_num, nsp))
        return started[-1]

    monkeypatch.setattr(read, "PARALLEL_MIN_RELATIONS", 0)
    monkeypatch.setattr(read._SecondLane, "start", start)
    yield started


def collect(target: Target, **kw: Any) -> dict[str, Any]:
    return pg.collect(Target(**{**target.__dict__, **kw})).objects


def no_sessions_left(pgdb: PgDatabase) -> bool:
    """Whether every connection driftd made to the test database is gone (a backend
    leaves pg_stat_activity shortly after its client closes: polled, with a deadline)."""
    deadline = time.monotonic() + 10
    # Autocommit: a transaction sees the first pg_stat_activity it read until it ends.
    with pgdb.connect() as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = 'driftd'",
                (pgdb.name,),
            ).fetchone()
            if row == (0,) or time.monotonic() > deadline:
                return row == (0,)
            time.sleep(0.02)  # the polling interval, not a wait for a result


EXTRA = """
CREATE SEQUENCE s2.seq INCREMENT 5;
CREATE FUNCTION s2.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER touch BEFORE UPDATE ON s2.child FOR EACH ROW EXECUTE FUNCTION s2.touch();
CREATE INDEX child_note ON s2.child (lower(note)) WHERE plain > 0;
"""


def test_two_connections_read_what_one_reads(
    target: Target, lanes: list[bool], pgdb: PgDatabase
) -> None:
    pgdb.execute(EXTRA)
    one = collect(target, read_connections=1)
    assert lanes == []
    two = collect(target, read_connections=2)
    assert lanes == [True]
    assert two == one
    # Something of every step the second connection reads:
    child = two["table:s2.child"]
    assert two["sequence:s2.seq"]["increment"] == 5
    assert set(child["triggers"]) == {"touch"}
    assert child["constraints"]["chk"]["definition"] == "CHECK (((note)::text <> 'x'::text))"
    assert child["indexes"]["child_note"]["definition"] == (
        "CREATE INDEX child_note ON s2.child USING btree (lower((note)::text)) WHERE (plain > 0)"
    )


def test_small_catalogs_use_one_connection(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = read._SecondLane.start
    monkeypatch.setattr(
        read._SecondLane, "start", lambda self, *a: seen.append("started") or real(self, *a)
    )
    collect(target)  # a few relations: far below PARALLEL_MIN_RELATIONS
    assert seen == []


def test_the_second_connection_reads_the_first_ones_snapshot(pgdb: PgDatabase) -> None:
    """An index created after the export is not seen by the second connection."""
    pgdb.execute(
        "CREATE SCHEMA app; CREATE TABLE app.t (a int, b int); CREATE INDEX i_a ON app.t (a)"
    )
    tgt = Target(environment="test", url=pgdb.url)
    params = _connect_params(parse(pgdb.url), 5)
    first = psycopg.connect(**params)
    try:
        read._begin(first, tgt)
        nsp = [first.execute("SELECT 'app'::regnamespace::oid").fetchall()[0][0]]
        snapshot = first.execute("SELECT pg_export_snapshot()").fetchall()[0][0]
        pgdb.execute("CREATE INDEX i_b ON app.t (b)")  # committed after the export
        lane = read._SecondLane(params, tgt)
        assert lane.start(snapshot, 150000, nsp)
        try:
            for step in read.SECOND_LANE[:-1]:
                lane.take(step).fetchall()  # type: ignore[union-attr]
            indexes = lane.take("indexes").fetchall()  # type: ignore[union-attr]
        finally:
            lane.close()
    finally:
        first.close()
    assert [r.name for r in indexes] == ["i_a"]


def test_a_refused_second_connection_reads_on_one(pgdb: PgDatabase, lanes: list[bool]) -> None:
    """A role allowed one connection (CONNECTION LIMIT 1) is read all the same."""
    user = pgdb.role("one")
    pgdb.execute(
        f"CREATE ROLE {user} LOGIN CONNECTION LIMIT 1; CREATE SCHEMA app;"
        "CREATE TABLE app.t (a int PRIMARY KEY, b int CHECK (b > 0)); CREATE INDEX ON app.t (b)"
    )
    url = pgdb.url.replace("postgres@", f"{user}@", 1)
    assert f"{user}@" in url
    objects = pg.collect(Target(environment="test", url=url, roles=(pgdb.prefix + "*",))).objects
    assert lanes == [False]
    table = objects["table:app.t"]
    assert table["indexes"]["t_b_idx"]["definition"].startswith("CREATE INDEX t_b_idx ON app.t")
    assert set(table["constraints"]) == {"t_pkey", "t_b_check"}
    assert no_sessions_left(pgdb)


def test_a_lock_on_the_second_connection_names_the_blocker(
    pgdb: PgDatabase, lanes: list[bool]
) -> None:
    """pg_get_indexdef waits behind ACCESS EXCLUSIVE on the second connection only."""
    pgdb.execute(
        "CREATE SCHEMA app; CREATE TABLE app.orders (id int); CREATE INDEX ON app.orders (id)"
    )
    blocker = pgdb.connect()
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE app.orders IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(pg.CollectError) as err:
            pg.collect(Target(environment="test", url=pgdb.url, lock_timeout=0.2))
    finally:
        blocker.execute("ROLLBACK")
    assert lanes == [True]
    assert "lock_timeout (200ms) reading the catalog: table app.orders is locked" in str(err.value)
    assert no_sessions_left(pgdb)


def test_a_failure_while_building_stops_both_connections(
    target: Target, lanes: list[bool], monkeypatch: pytest.MonkeyPatch, pgdb: PgDatabase
) -> None:
    def broken(self: build.Builder, rows: list[Any]) -> None:
        raise RuntimeError("a bug while building")

    monkeypatch.setattr(build.Builder, "_tables", broken)
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(RuntimeError, match="a bug while building"):
        pg.collect(target)
    assert lanes == [True]
    assert {t.name for t in threading.enumerate()} == before
    assert no_sessions_left(pgdb)


def test_an_error_on_the_second_connection_is_raised(
    target: Target, lanes: list[bool], monkeypatch: pytest.MonkeyPatch, pgdb: PgDatabase
) -> None:
    real = read._step_query

    def broken(step: str, version_num: int, nsp: list[int]) -> tuple[str, dict[str, Any]]:
        return ("SELECT 1/0", {}) if step == "constraints" else real(step, version_num, nsp)

    monkeypatch.setattr(read, "_step_query", broken)
    with pytest.raises(pg.CollectError, match="division by zero"):
        pg.collect(target)
    assert lanes == [True]
    assert no_sessions_left(pgdb)


def test_read_connections_is_a_setting() -> None:
    from driftd.config.model import Environment

    assert Environment(url="postgresql://h/db").read_connections == 2
    assert Environment(url="postgresql://h/db", read_connections=1).read_connections == 1
    with pytest.raises(ValueError):
        Environment(url="postgresql://h/db", read_connections=3)


def test_a_slow_second_connection_is_not_waited_for(
    target: Target, lanes: list[bool], monkeypatch: pytest.MonkeyPatch, pgdb: PgDatabase
) -> None:
    """Past SECOND_DEADLINE the first connection reads everything (it would otherwise sit
    idle in its transaction, and a pooler may hold a BEGIN for minutes); the late
    connection is closed, and the environment is read on one for a while."""
    monkeypatch.setattr(connect, "SECOND_DEADLINE", 0.0)
    one = collect(target, read_connections=1)
    assert collect(target) == one
    assert lanes == [False]
    assert no_sessions_left(pgdb)
    monkeypatch.setattr(connect, "SECOND_DEADLINE", 10.0)
    assert collect(target) == one
    assert lanes == [False, False]  # remembered: not tried again within the hour
    connect._refused.clear()
    assert collect(target) == one
    assert lanes == [False, False, True]


def test_a_refused_snapshot_export_reads_on_one(pgdb: PgDatabase, lanes: list[bool]) -> None:
    """A role that may not call pg_export_snapshot(): the transaction it aborted is begun
    again, and the first connection reads everything."""
    user = pgdb.role("noexport")
    pgdb.execute(
        f"CREATE ROLE {user} LOGIN; CREATE SCHEMA app; GRANT USAGE ON SCHEMA app TO {user};"
        "CREATE TABLE app.t (a int PRIMARY KEY, b int CHECK (b > 0)); CREATE INDEX ON app.t (b);"
        "REVOKE EXECUTE ON FUNCTION pg_export_snapshot() FROM PUBLIC"
    )
    url = pgdb.url.replace("postgres@", f"{user}@", 1)
    as_user = Target(environment="test", url=url, roles=(pgdb.prefix + "*",))
    objects = pg.collect(as_user).objects
    assert lanes == []  # no snapshot to share: no second connection tried
    assert objects == collect(as_user, read_connections=1)
    assert set(objects["table:app.t"]["indexes"]) == {"t_b_idx"}
    assert no_sessions_left(pgdb)
