"""The state store on real SQLite and real PostgreSQL: migrations, lifecycle, reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from driftd.config import load as cfg
from driftd.drift import DriftItem, EnvironmentReport, drift_id
from driftd.store import Store, StoreError, display, migrate, open_store, repo, store_url
from driftd.store.models import full_metadata
from tests.daemon_support import StateDB, statedb_fixture  # noqa: F401 (fixture)

ENV = "prod"


def make_config(tmp_path: Path, state_url: str, extra: str = "") -> cfg.Config:
    path = tmp_path / "driftd.toml"
    return cfg.parse(f'[driftd]\nstate_url = "{state_url}"\n{extra}\n', path)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = "sqlite:///state.db"
    else:
        url = request.getfixturevalue("statedb").url
    s = open_store(make_config(tmp_path, url), migrate=True)
    yield s
    s.close()


def item(obj: str, path: list[Any], before: Any, after: Any, severity: str = "medium") -> DriftItem:
    change = "added" if before is None else "removed" if after is None else "modified"
    it = DriftItem(object=obj, change=change, path=path, before=before, after=after)  # type: ignore[arg-type]
    it.id = drift_id(ENV, obj, path, after)
    it.severity = severity
    it.rules = ["test-rule"]
    return it


def report(items: list[DriftItem], live: dict[str, Any] | None = None) -> EnvironmentReport:
    return EnvironmentReport(
        name=ENV,
        status="drift" if items else "clean",
        drift=items,
        snapshot_hash="h-" + str(len(items)),
        snapshot={"objects": live or {}},
    )


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def tick(self) -> tuple[datetime, datetime]:
        start = self.now
        self.now += timedelta(minutes=5)
        return start, start + timedelta(seconds=2)


def record(
    store: Store, clock: Clock, rep: EnvironmentReport, baseline: str | None = "b1"
) -> repo.RunOutcome:
    start, end = clock.tick()
    return repo.record_run(
        store, rep, started_at=start, finished_at=end, daemon="test", baseline_hash=baseline
    )


# -- migrations ------------------------------------------------------------------------


def test_migrations_create_exactly_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
        diff = compare_metadata(MigrationContext.configure(conn), full_metadata())
    assert diff == [], "models and migrations disagree: add an Alembic revision"
    migrate.upgrade(store)  # again: a no-op


def test_daemons_starting_together_migrate_once(tmp_path: Path, statedb: StateDB) -> None:
    config = make_config(tmp_path, statedb.url)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_store(config, migrate=True).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert statedb.query("SELECT version_num FROM alembic_version") == [(migrate.head(),)]


def test_read_commands_never_create_or_migrate(tmp_path: Path, statedb: StateDB) -> None:
    with pytest.raises(StoreError, match="does not exist yet"):
        open_store(make_config(tmp_path, "sqlite:///nothing.db"), migrate=False)
    assert not (tmp_path / "nothing.db").exists()
    with pytest.raises(StoreError, match="has no driftd tables yet") as exc:
        open_store(make_config(tmp_path, statedb.url), migrate=False)
    assert exc.value.hint and "driftd db upgrade" in exc.value.hint
    s = open_store(make_config(tmp_path, statedb.url), migrate=True)
    with s.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    s.close()
    with pytest.raises(StoreError, match="is at revision 0000"):
        open_store(make_config(tmp_path, statedb.url), migrate=False)


def test_store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store_url(make_config(tmp_path, "sqlite:///sub/state.db"))
    assert url.database == str(tmp_path / "sub" / "state.db"), "relative to the config file"
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/driftd")
    url = store_url(make_config(tmp_path, "sqlite:///${STATE_DIRECTORY}/state.db"))
    assert url.database == "/var/lib/driftd/state.db"
    monkeypatch.setenv("DRIFTD_STATE_PW", "s3cret")
    config = make_config(
        tmp_path,
        "postgresql://driftd@db.internal/driftd",
        'state_password_env = "DRIFTD_STATE_PW"',
    )
    url = store_url(config)
    assert url.drivername == "postgresql+psycopg" and url.password == "s3cret"
    assert "s3cret" not in display(url)
    with pytest.raises(StoreError, match="not supported"):
        store_url(make_config(tmp_path, "mysql+pymysql://u@h/d"))
    with pytest.raises(StoreError, match="in-memory"):
        store_url(make_config(tmp_path, "sqlite://"))
    with pytest.raises(StoreError, match="does not exist"):
        open_store(make_config(tmp_path, "sqlite:///no/such/dir/state.db"), migrate=True)


# -- the lifecycle ----------------------------------------------------------------------


def events_of(store: Store, drift: str) -> list[str]:
    return [e.event for e in repo.get_drift(store, drift)[1]]


def test_drift_lifecycle(store: Store) -> None:
    clock = Clock()
    grant = item("table:public.t", ["grants", "PUBLIC"], None, ["SELECT"], "critical")
    column = item("table:public.t", ["columns", "note"], None, {"type": "text"})

    out = record(store, clock, report([grant, column]))
    assert sorted(out.opened) == sorted([grant.id, column.id])
    assert out.open_by_severity["critical"] == 1 and out.open_by_severity["medium"] == 1
    first_seen = repo.get_drift(store, grant.id)[0].first_seen_at

    # Seen again: no event, last seen and severity move on.
    column.severity = "high"
    out = record(store, clock, report([grant, column]))
    assert out.opened == out.resolved == out.reopened == []
    row = repo.get_drift(store, column.id)[0]
    assert row.severity == "high" and row.last_seen_at > row.first_seen_at

    # A failed run says nothing about drift.
    failed = EnvironmentReport(name=ENV, status="error", error="connection refused")
    out = record(store, clock, failed)
    (st,) = repo.environment_status(store, [ENV])
    assert st.status == "error" and st.error == "connection refused" and st.open_drift == 2
    assert st.last_success_at is not None and st.last_success_at < st.last_run_at  # type: ignore[operator]

    # Gone while the baseline is unchanged: resolved.
    out = record(store, clock, report([grant]))
    assert out.resolved == [column.id]
    assert repo.get_drift(store, column.id)[0].state == "resolved"

    # Back again: the same row reopens.
    out = record(store, clock, report([grant, column]))
    assert out.reopened == [column.id]
    assert events_of(store, column.id) == ["opened", "resolved", "reopened"]

    # A person acknowledges the grant; it still counts as open drift.
    acked = repo.acknowledge(store, grant.id[:6], "alice", "OPS-1")
    assert acked.state == "acknowledged" and acked.acknowledged_by == "alice"
    (st,) = repo.environment_status(store, [ENV])
    assert st.open_drift == 2 and st.acknowledged == 1

    # The baseline changes; the live grant is still there (taken in: accepted),
    # the column is gone from the database (resolved).
    live = {"table:public.t": {"grants": {"PUBLIC": ["SELECT"]}, "columns": {}}}
    out = record(store, clock, report([], live), baseline="b2")
    assert out.accepted == [grant.id] and out.resolved == [column.id]
    assert events_of(store, grant.id) == ["opened", "acknowledged", "accepted"]
    row = repo.get_drift(store, grant.id)[0]
    assert row.state == "accepted" and row.first_seen_at == first_seen and row.closed_at
    (st,) = repo.environment_status(store, [ENV])
    assert st.status == "clean" and st.open_drift == 0

    with pytest.raises(StoreError, match="already accepted"):
        repo.acknowledge(store, grant.id, "bob", None)

    entries = repo.history(store, ENV, limit=100)
    assert entries[0]["type"] == "drift" and entries[0]["event"] in ("accepted", "resolved")
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    assert sum(e["type"] == "run" for e in entries) == 6


def test_removed_objects_are_accepted_when_the_baseline_drops_them(store: Store) -> None:
    clock = Clock()
    gone = item("role:old", [], {"login": True}, None)
    record(store, clock, report([gone]))
    out = record(
        store, clock, report([], {}), baseline="b2"
    )  # object absent live: after=None holds
    assert out.accepted == [gone.id]


def test_concurrent_writers_of_one_environment_take_turns(store: Store) -> None:
    items = [item(f"table:public.t{i}", [], None, {"n": i}) for i in range(100)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)
    now = datetime.now(UTC)
    record(store, Clock(), report([]))  # the environment's row exists: only a lock serialises

    def write() -> None:
        barrier.wait()
        try:
            repo.record_run(
                store, report(items), started_at=now, finished_at=now, daemon="x", baseline_hash="b"
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for it in items:
        assert events_of(store, it.id) == ["opened"], "opened exactly once"


def test_drift_ids_by_prefix(store: Store) -> None:
    clock = Clock()
    a, b, c = (item(f"table:public.t{i}", [], None, {"n": i}) for i in range(3))
    a.id, b.id, c.id = "abcd111100000000", "abcd222200000000", "ef01000000000000"
    record(store, clock, report([a, b, c]))
    assert repo.get_drift(store, "abcd1")[0].id == a.id
    assert repo.get_drift(store, "EF01")[0].id == c.id
    with pytest.raises(StoreError, match="ambiguous"):
        repo.get_drift(store, "abcd")
    with pytest.raises(StoreError, match="no drift item"):
        repo.get_drift(store, "ef0")  # too short to be a prefix
    with pytest.raises(StoreError, match="no drift item"):
        repo.get_drift(store, "ffffffffffffffff")


def test_a_recorded_item_shows_what_the_latest_run_saw(store: Store) -> None:
    """Same id (same object, path and after), another baseline: explain shows the
    latest run's before, severity and rules, not the first run's."""
    clock = Clock()
    first = item("table:public.t", ["columns", "c", "type"], "integer", "text")
    record(store, clock, report([first]))
    later = item("table:public.t", ["columns", "c", "type"], "bigint", "text", "high")
    later.rules = ["other-rule"]
    assert later.id == first.id
    record(store, clock, report([later]), baseline="b2")
    row = repo.get_drift(store, first.id)[0]
    assert (row.before, row.severity, row.rules) == ("bigint", "high", ["other-rule"])


def test_prune_forgets_old_runs_only(store: Store) -> None:
    clock = Clock()
    it = item("table:public.t", [], None, {})
    record(store, clock, report([it]))
    record(store, clock, report([it]))
    gone = repo.prune_runs(store, clock.now - timedelta(minutes=6))
    assert gone == 1
    assert [e["type"] for e in repo.history(store, ENV)].count("run") == 1
    assert repo.get_drift(store, it.id)[0].state == "open"


def test_holds_a_rename_while_the_new_name_exists() -> None:
    live = {"table:public.b": {"columns": {"mail": {"type": "text"}}}}
    assert repo.holds(live, "table:public.b", ["name"], "public.b")
    assert not repo.holds(live, "table:public.c", ["name"], "public.c")
    assert repo.holds(live, "table:public.b", ["columns", "mail", "name"], "mail")
    assert not repo.holds(live, "table:public.b", ["columns", "email", "name"], "email")


def test_holds() -> None:
    objects = {"table:t": {"grants": {"PUBLIC": ["SELECT"]}, "owner": "app"}}
    assert repo.holds(objects, "table:t", ["grants", "PUBLIC"], ["SELECT"])
    assert not repo.holds(objects, "table:t", ["grants", "PUBLIC"], ["INSERT"])
    assert repo.holds(objects, "table:t", ["grants", "app"], None), "absent reads as None"
    assert repo.holds(objects, "table:gone", [], None)
    assert repo.holds(objects, "table:t", [], objects["table:t"])


def test_a_run_commits_with_its_hooks_or_not_at_all(store: Store) -> None:
    clock = Clock()
    it = item("table:public.t", [], None, {})
    seen: list[list[str]] = []

    def failing(s: Any, rep: EnvironmentReport, out: repo.RunOutcome) -> None:
        seen.append(out.opened)
        raise RuntimeError("outbox unavailable")

    with pytest.raises(RuntimeError):
        repo.record_run(
            store,
            report([it]),
            started_at=clock.now,
            finished_at=clock.now,
            daemon="t",
            baseline_hash="b",
            hooks=[failing],
        )
    assert seen == [[it.id]]
    assert repo.environment_status(store, [ENV])[0].status == "unknown", "run rolled back"
    with pytest.raises(StoreError):
        repo.get_drift(store, it.id)
    out = record(store, clock, report([it]))
    assert out.opened == [it.id]
