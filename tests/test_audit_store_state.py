"""The audit state in the state store, on real SQLite and real PostgreSQL.

Cursors, the event cache and source health are rows every daemon and the CLI
share; the JSON file of driftd 0.1 is imported once; late attribution moves a
drift item along once, never for weaker evidence, never after its window.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftd.attribute.sources.events import AuditEvent, statements_of
from driftd.attribute.sources.state import MemoryAuditState, PollOutcome
from driftd.attribute.sources.store_state import StoreAuditState, import_json_state
from driftd.store import Store, open_store
from tests.conftest import PgDatabase, Project
from tests.daemon_support import StateDB, statedb_fixture  # noqa: F401 (fixture)
from tests.test_store import Clock, item, make_config, record, report

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = "sqlite:///state.db" if request.param == "sqlite" else None
    if url is None:
        url = request.getfixturevalue("statedb").url
    s = open_store(make_config(tmp_path, url), migrate=True)
    yield s
    s.close()


def event(key: str, at: datetime, sql: str, end: datetime | None = None) -> AuditEvent:
    return AuditEvent(
        key=key, at=at, end=end, statements=statements_of(sql).statements, actor="alice"
    )


def test_cursors_and_events_are_shared_by_every_state_object(store: Store) -> None:
    one, two = StoreAuditState(store), StoreAuditState(store)  # two daemons, one store
    assert one.cursor("pg") is None
    one.save_cursor("pg", {"inode": 7, "offset": 120})
    assert two.cursor("pg") == {"inode": 7, "offset": 120}
    two.save_cursor("pg", {"inode": 7, "offset": 300})
    assert one.cursor("pg") == {"inode": 7, "offset": 300}

    a = event("f:1", NOW - timedelta(minutes=10), "ALTER TABLE t ADD c int")
    b = event("f:2", NOW - timedelta(minutes=5), "GRANT SELECT ON t TO PUBLIC")
    one.add_events("pg", [a, b])
    two.add_events("pg", [b])  # read twice (crash before the cursor, or a second daemon)
    got = two.events("pg", NOW - timedelta(hours=1), NOW)
    assert [e.key for e in got] == ["f:1", "f:2"]
    assert got[1].statements[0].text == "GRANT SELECT ON t TO PUBLIC"
    assert [e.key for e in one.events("pg", NOW - timedelta(minutes=7), NOW)] == ["f:2"]
    assert one.events("other", NOW - timedelta(hours=1), NOW) == []


def test_a_session_that_began_before_the_window_and_ended_in_it_counts(store: Store) -> None:
    state = StoreAuditState(store)
    long = event("s", NOW - timedelta(hours=5), "DROP TABLE t", end=NOW - timedelta(minutes=1))
    state.add_events("hoop", [long])
    assert [e.key for e in state.events("hoop", NOW - timedelta(minutes=30), NOW)] == ["s"]
    assert state.events("hoop", NOW - timedelta(seconds=10), NOW) == []


def test_events_are_pruned_by_count_and_age(store: Store) -> None:
    state = StoreAuditState(store, max_events=5, max_age=timedelta(days=1))
    old = event("old", NOW - timedelta(days=2), "DROP TABLE t")
    fresh = [
        event(f"k{i:03}", NOW - timedelta(minutes=300 - i), "DROP TABLE t") for i in range(200)
    ]
    state.add_events("pg", [old, *fresh])  # 201 additions: one prune pass
    keys = [e.key for e in state.events("pg", NOW - timedelta(days=3), NOW)]
    assert keys == [f"k{i:03}" for i in range(195, 200)]


def test_long_keys_fit(store: Store) -> None:
    state = StoreAuditState(store)
    key = "/var/log/" + "x" * 900 + ":1:2"
    state.add_events("pg", [event(key, NOW, "DROP TABLE t")])
    state.add_events("pg", [event(key, NOW, "DROP TABLE t")])
    assert len(state.events("pg", NOW - timedelta(minutes=1), NOW)) == 1


def test_health_accumulates_across_daemons(store: Store) -> None:
    heard: list[tuple[str, bool]] = []
    one = StoreAuditState(store, on_poll=lambda h, p: heard.append((h.name, h.up)))
    two = StoreAuditState(store)
    t1, t2 = NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)
    one.note_poll(PollOutcome("hoop", "hoop", t1, None, 3, 1, NOW - timedelta(minutes=3)))
    h = two.note_poll(PollOutcome("hoop", "hoop", t2, "cannot reach https://hoop", 0, 0, None))
    assert (h.up, h.events_read, h.parse_errors, h.last_error) == (
        False,
        3,
        1,
        "cannot reach https://hoop",
    )
    assert h.last_success_at == t1 and h.last_poll_at == t2
    assert h.last_event_at == NOW - timedelta(minutes=3)
    assert [x.name for x in one.health()] == ["hoop"]
    assert heard == [("hoop", True)]


def test_concurrent_writers_never_fail(store: Store) -> None:
    state = StoreAuditState(store)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                state.add_events("pg", [event(f"{n}:{i}", NOW, "DROP TABLE t")])
                state.save_cursor("pg", {"offset": i})
                state.note_poll(PollOutcome("pg", "pgaudit", NOW, None, 1, 0, NOW))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(state.events("pg", NOW - timedelta(minutes=1), NOW)) == 80
    assert state.health()[0].events_read == 80


def test_the_json_state_of_driftd_0_1_is_imported_once(store: Store, tmp_path: Path) -> None:
    old = MemoryAuditState()
    old.save_cursor("pg", {"offset": 42})
    old.save_cursor("clean-check:prod", {"at": NOW.isoformat()})
    old.add_events("pg", [event("f:1", NOW - timedelta(minutes=1), "DROP TABLE t")])
    path = tmp_path / "state-audit.json"
    path.write_text(json.dumps(old.to_json()))
    state = StoreAuditState(store)
    state.save_cursor("hoop", {"done": ["a"]})

    note = import_json_state(state, path)
    assert note is not None and "1 events" in note
    assert state.cursor("pg") == {"offset": 42}
    assert state.cursor("clean-check:prod") == {"at": NOW.isoformat()}
    assert [e.key for e in state.events("pg", NOW - timedelta(hours=1), NOW)] == ["f:1"]
    assert not path.exists() and path.with_name("state-audit.json.imported").exists()
    assert import_json_state(state, path) is None  # once


def test_a_broken_json_state_is_reported_not_imported(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "state-audit.json"
    path.write_text("{not json")
    note = import_json_state(StoreAuditState(store), path)
    assert note is not None and "not imported" in note
    assert path.exists()


# -- late attribution in the drift lifecycle ---------------------------------------------


def entry(actor: str, confidence: float, statement: str = "ALTER TABLE t ADD c int") -> dict:
    return {
        "source": "jsonl",
        "actor": actor,
        "at": NOW.isoformat(),
        "statement": statement,
        "session": actor,
        "confidence": confidence,
    }


def test_late_author_is_recorded_once_and_never_for_weaker_evidence(store: Store) -> None:
    clock = Clock()
    it = item("table:public.t", ["columns", "c"], None, {"type": "int"})
    assert record(store, clock, report([it])).opened == [it.id]
    again = record(store, clock, report([it]))
    assert again.attributed == []  # still nobody
    it.attribution = [entry("alice", 0.6, "ALTER TABLE t ADD other int")]
    assert record(store, clock, report([it])).attributed == [it.id]  # a first author
    assert record(store, clock, report([it])).attributed == []  # the same again
    it.attribution = [entry("bob", 0.95)]
    assert record(store, clock, report([it])).attributed == [it.id]  # a better match
    it.attribution = [entry("carol", 0.2)]
    assert record(store, clock, report([it])).attributed == []  # weaker: kept bob
    it.attribution = []
    assert record(store, clock, report([it])).attributed == []  # the record aged out
    from driftd.store import repo

    row, events = repo.get_drift(store, it.id)
    assert row.attribution[0]["actor"] == "bob"
    assert [e.event for e in events].count("attributed") == 2


def test_after_the_late_window_attribution_no_longer_changes(store: Store) -> None:
    clock = Clock()  # 5 minutes a run
    it = item("table:public.t", ["columns", "c"], None, {"type": "int"})
    record(store, clock, report([it]))
    it.attribution = [entry("alice", 0.95)]
    from driftd.store import repo

    start, end = clock.tick()
    out = repo.record_run(
        store,
        report([it]),
        started_at=start,
        finished_at=end,
        daemon="t",
        baseline_hash="b1",
        late_attribution=60,
    )
    assert out.attributed == []
    assert repo.get_drift(store, it.id)[0].attribution == []


# -- the CLI: `driftd check` keeps the state in the store, `driftd status` shows it -------


def test_check_keeps_audit_state_in_the_store_and_status_shows_each_source(
    project: Project, pgdb: PgDatabase
) -> None:
    audit = project.root / "proxy.jsonl"
    audit.write_text("")
    with socket.socket() as s:  # a port nothing listens on: the gateway is down
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"
        state_url = "sqlite:///state.db"

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        audit = ["proxy", "gateway"]

        [audit.proxy]
        type = "jsonl"
        path = "{audit}"

        [audit.gateway]
        type = "hoop"
        url = "http://127.0.0.1:{dead}"
        token_env = "DRIFTD_TEST_HOOP_TOKEN"
        connection = "pg-test"
        timeout = "2s"
        """
    )
    pgdb.execute("CREATE TABLE public.t (id int)")
    assert project.run("baseline", "accept", "test").exit_code == 0
    at = datetime.now(UTC)
    pgdb.execute("ALTER TABLE public.t ADD COLUMN c int")
    line = {"time": at.isoformat(), "statement": "ALTER TABLE t ADD c int", "user": "dana"}
    audit.write_text(json.dumps(line) + "\n")
    env = {"DRIFTD_TEST_HOOP_TOKEN": "hpk_x"}

    res = project.run("check", "--format", "json", env=env)
    assert res.exit_code == 1, res.stderr
    item = json.loads(res.stdout)["environments"][0]["drift"][0]
    assert item["attribution"][0]["actor"] == "dana"
    assert not (project.root / "state-audit.json").exists()  # no JSON file any more
    res = project.run("check", "--format", "json", env=env)  # reads on from its cursor
    assert json.loads(res.stdout)["environments"][0]["drift"][0]["attribution"][0]["actor"]

    res = project.run("status", "--format", "json")
    sources = {s["name"]: s for s in json.loads(res.stdout)["audit_sources"]}
    assert sources["proxy"]["status"] == "up"
    assert sources["proxy"]["events_read"] == 1  # read once, not once per check
    assert sources["gateway"]["status"] == "down"
    assert "cannot reach" in sources["gateway"]["error"]
    assert "hpk_x" not in res.stdout
    text = project.run("status").stdout
    assert "gateway" in text and "down" in text and "proxy" in text
