"""Matching drift items to statements: what a statement touches, confidence, ordering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftd.attribute.match import attribute, match
from driftd.attribute.sources.events import AuditEvent, statements_of
from driftd.attribute.sources.state import MemoryAuditState
from driftd.attribute.sqlrefs import Ref, analyze
from driftd.config.load import parse
from driftd.drift import DriftItem
from tests.conftest import PgDatabase, Project

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def refs(sql: str) -> list[tuple[str, str, tuple[str, ...], str]]:
    statements, errors = analyze(sql)
    assert errors == 0
    return [(r.kind, r.name, r.path, r.action) for s in statements for r in s.refs]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("ALTER TABLE s.t ADD COLUMN c int", [("relation", "s.t", ("columns", "c"), "create")]),
        ("ALTER TABLE s.t DROP COLUMN c", [("relation", "s.t", ("columns", "c"), "drop")]),
        (
            "ALTER TABLE s.t ALTER COLUMN c TYPE bigint",
            [("relation", "s.t", ("columns", "c"), "alter")],
        ),
        (
            "ALTER TABLE s.t ENABLE ROW LEVEL SECURITY",
            [("relation", "s.t", ("rls", "enabled"), "alter")],
        ),
        ("ALTER TABLE s.t OWNER TO x", [("relation", "s.t", ("owner",), "alter")]),
        ("GRANT SELECT ON s.t TO PUBLIC", [("relation", "s.t", ("grants", "PUBLIC"), "grant")]),
        ("REVOKE ALL ON s.t FROM bob", [("relation", "s.t", ("grants", "bob"), "revoke")]),
        ("GRANT SELECT (a) ON s.t TO bob", [("relation", "s.t", ("column_grants",), "grant")]),
        (
            "GRANT EXECUTE ON FUNCTION s.f(int) TO bob",
            [("function", "s.f", ("grants", "bob"), "grant")],
        ),
        ("GRANT USAGE ON SCHEMA s TO bob", [("schema", "s", ("grants", "bob"), "grant")]),
        ("GRANT admins TO alice", [("role", "alice", ("member_of", "admins"), "grant")]),
        ("REVOKE admins FROM alice", [("role", "alice", ("member_of", "admins"), "revoke")]),
        ("ALTER ROLE bob SUPERUSER", [("role", "bob", ("superuser",), "alter")]),
        ("ALTER ROLE bob SET work_mem = '1GB'", [("role", "bob", ("config", "work_mem"), "alter")]),
        ("DROP ROLE bob", [("role", "bob", (), "drop")]),
        ("CREATE INDEX ix ON s.t (a)", [("relation", "s.t", ("indexes", "ix"), "create")]),
        ("DROP INDEX s.ix", [("index", "s.ix", (), "drop")]),
        ("CREATE POLICY p ON s.t USING (true)", [("relation", "s.t", ("policies", "p"), "create")]),
        ("DROP TRIGGER trg ON s.t", [("relation", "s.t", ("triggers", "trg"), "drop")]),
        (
            "ALTER FUNCTION s.f(integer) SECURITY DEFINER",
            [("function", "s.f", ("security_definer",), "alter")],
        ),
        (
            "COMMENT ON COLUMN s.t.c IS 'x'",
            [("relation", "s.t", ("columns", "c", "comment"), "alter")],
        ),
        ("ALTER SYSTEM SET work_mem = '64MB'", [("setting", "work_mem", (), "alter")]),
        (
            "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO r",
            [("schema", "s", ("default_privileges",), "grant")],
        ),
        (
            "CREATE SCHEMA s CREATE TABLE t (a int)",
            [("schema", "s", (), "create"), ("relation", "t", (), "create")],
        ),
        ("ALTER EXTENSION hstore UPDATE", [("extension", "hstore", ("version",), "alter")]),
        (
            "ALTER TABLE s.t RENAME COLUMN a TO b",
            [
                ("relation", "s.t", ("columns", "a"), "drop"),
                ("relation", "s.t", ("columns", "b"), "create"),
            ],
        ),
        (
            "GRANT SELECT ON ALL TABLES IN SCHEMA s TO r",
            [("relation", "s.*", ("grants", "r"), "grant")],
        ),
        # Scripts, and the SQL inside DO blocks (EXECUTE of a literal too).
        (
            "BEGIN; ALTER TABLE a ADD x int; SELECT 1; DROP TABLE b; COMMIT",
            [("relation", "a", ("columns", "x"), "create"), ("relation", "b", (), "drop")],
        ),
        (
            "DO $$BEGIN ALTER TABLE a ADD x int; "
            "IF true THEN EXECUTE 'GRANT SELECT ON a TO r'; END IF; END$$",
            [
                ("relation", "a", ("columns", "x"), "create"),
                ("relation", "a", ("grants", "r"), "grant"),
            ],
        ),
    ],
)
def test_statement_refs(sql: str, expected: list[tuple[str, str, tuple[str, ...], str]]) -> None:
    assert refs(sql) == expected


def test_function_signature_and_dynamic_sql() -> None:
    (st,), _ = analyze(
        "CREATE OR REPLACE FUNCTION s.f(a int, b varchar, OUT c text) "
        "RETURNS text AS 'x' LANGUAGE sql"
    )
    assert st.refs == [
        Ref("function", "s.f", (), "replace", True, ("integer", "character varying"))
    ]
    (st,), _ = analyze("DO $$BEGIN EXECUTE format('DROP TABLE %I', x); END$$")
    assert st.dynamic and st.unknown
    statements, errors = analyze("SELECT 1; UPDATE t SET a = 2")
    assert statements == [] and errors == 0  # queries never explain drift
    statements, errors = analyze("ALTER TABLE oops oops oops 'secret'")
    assert errors == 1 and statements[0].parsed is False
    assert statements[0].text == "ALTER TABLE oops oops oops ?"


def test_other_dialects_use_sqlglot() -> None:
    statements, _ = analyze("ALTER TABLE shop.orders ADD COLUMN note TEXT", "mysql")
    assert statements[0].refs == [Ref("relation", "shop.orders", ("columns", "note"), "create")]
    statements, _ = analyze("DROP TABLE shop.a, b", "mysql")
    assert [r.name for r in statements[0].refs] == ["shop.a", "b"]


def _event(sql: str, key: str, at: datetime, user: str, **kw: object) -> AuditEvent:
    return AuditEvent(key, at, statements_of(sql).statements, db_user=user, session=key, **kw)  # type: ignore[arg-type]


def _pool(
    *events: AuditEvent, name: str = "pga", kind: str = "pgaudit"
) -> tuple[str, str, list[AuditEvent]]:
    return (name, kind, list(events))


def test_confidence_levels_and_order() -> None:
    item = DriftItem("table:public.orders", "modified", ["columns", "note"], None, {"type": "text"})
    events = [
        _event("ALTER TABLE public.orders ADD COLUMN note text", "1", NOW, "alice"),
        _event("ALTER TABLE orders ADD COLUMN note text", "2", NOW - timedelta(minutes=1), "bob"),
        _event("ALTER TABLE public.orders ADD COLUMN other int", "3", NOW, "carol"),
        _event("ALTER TABLE public.customers ADD COLUMN note text", "4", NOW, "dave"),
        _event("ALTER TABLE public.orders DROP COLUMN note", "5", NOW, "erin"),
        _event("DO $$BEGIN EXECUTE x; END$$", "6", NOW, "frank"),
    ]
    got = [c.entry() for c in match(item, [_pool(*events)], None)]
    assert [(e["db_user"], e["confidence"], e["reason"]) for e in got] == [
        ("alice", 0.95, "exact object + path"),
        ("bob", 0.9, "exact object + path"),  # schema not named
        ("erin", 0.75, "exact object + path"),  # a DROP cannot have added it
        ("carol", 0.6, "object only"),
    ]
    assert "did not name the schema" in got[1]["notes"][0]
    # Only when nothing matched by object does a statement of unknown objects count.
    lone = match(item, [_pool(events[5], events[3])], None)
    assert [(c.entry()["db_user"], c.entry()["reason"], c.entry()["confidence"]) for c in lone] == [
        ("frank", "time only", 0.2)
    ]
    assert match(item, [_pool(events[3])], None) == []


def test_grant_direction_and_function_overloads() -> None:
    revoked = DriftItem(
        "table:s.t", "modified", ["grants", "bob"], ["INSERT", "SELECT"], ["SELECT"]
    )
    events = [
        _event("GRANT INSERT ON s.t TO bob", "1", NOW, "a"),
        _event("REVOKE INSERT ON s.t FROM bob", "2", NOW - timedelta(seconds=5), "b"),
    ]
    assert [c.entry()["db_user"] for c in match(revoked, [_pool(*events)], None)] == ["b", "a"]
    fn = DriftItem("function:s.f(integer)", "modified", ["security_definer"], False, True)
    events = [
        _event("ALTER FUNCTION s.f(text) SECURITY DEFINER", "1", NOW, "wrong-overload"),
        _event("ALTER FUNCTION s.f(int4) SECURITY DEFINER", "2", NOW, "right"),
        _event("ALTER FUNCTION s.f SECURITY DEFINER", "3", NOW, "unspecified"),
    ]
    got = [
        (c.entry()["db_user"], c.entry()["confidence"]) for c in match(fn, [_pool(*events)], None)
    ]
    assert got == [("right", 0.95), ("unspecified", 0.9)]


def test_indexes_roles_settings_and_other_databases() -> None:
    ix = DriftItem("table:s.t", "modified", ["indexes", "ix"], {"def": "x"}, None)
    assert match(ix, [_pool(_event("DROP INDEX s.ix", "1", NOW, "a"))], "app")[0].level == "exact"
    assert match(ix, [_pool(_event("DROP INDEX other.ix", "1", NOW, "a"))], "app") == []
    role = DriftItem("role:bob", "modified", ["superuser"], False, True)
    other_db = _event("ALTER ROLE bob SUPERUSER", "1", NOW, "a", database="postgres")
    assert match(role, [_pool(other_db)], "app")[0].level == "exact"  # roles are cluster-wide
    table = DriftItem("table:s.t", "modified", ["owner"], "a", "b")
    moved = _event("ALTER TABLE s.t OWNER TO b", "1", NOW, "a", database="other")
    assert match(table, [_pool(moved)], "app") == []
    setting = DriftItem("setting:work_mem", "modified", ["value"], "4MB", "64MB")
    alter = _event("ALTER SYSTEM SET work_mem = '64MB'", "1", NOW, "dba")
    assert match(setting, [_pool(alter)], "app")[0].entry()["reason"] == "exact object + path"


def test_proxy_and_database_log_merge() -> None:
    item = DriftItem("table:s.t", "modified", ["grants", "PUBLIC"], None, ["SELECT"])
    hoop = AuditEvent(
        "h1",
        NOW - timedelta(seconds=30),
        statements_of("GRANT SELECT ON s.t TO PUBLIC;").statements,
        actor="alice@example.com",
        identity_type="user",
        session="hoop-123",
        end=NOW,
    )
    db = _event("GRANT SELECT ON s.t TO PUBLIC", "9", NOW - timedelta(seconds=10), "hoop_svc")
    (only,) = match(item, [_pool(hoop, name="hoop", kind="hoop"), _pool(db)], None)
    entry = only.entry()
    assert entry["actor"] == "alice@example.com" and entry["db_user"] == "hoop_svc"
    assert entry["session"] == "hoop-123" and entry["db_session"] == "9"
    assert entry["sources"] == ["hoop", "pga"] and entry["confidence"] == 0.98
    assert entry["at"] == "2026-11-22T11:59:50Z"  # the database's own time


def test_duplicates_and_failed_statements_are_not_candidates() -> None:
    item = DriftItem("role:bob", "modified", ["superuser"], False, True)
    a = _event("ALTER ROLE bob SUPERUSER", "1", NOW - timedelta(minutes=2), "x")
    b = _event("ALTER ROLE bob SUPERUSER", "1b", NOW, "x")
    b.session = a.session
    assert len(match(item, [_pool(a, b)], None)) == 1
    state = MemoryAuditState()
    failed = _event("ALTER ROLE bob SUPERUSER", "2", NOW, "y")
    failed.failed = True
    state.add_events("pga", [failed])
    config = parse(
        '[environments.e]\nurl = "postgresql://u@h/app"\naudit = ["pga"]\n'
        '[audit.pga]\ntype = "pgaudit"\npath = "/nonexistent/pg.log"\n',
        Path("/tmp/driftd.toml"),
    )
    problems = attribute(config.resolve("e"), [item], NOW - timedelta(hours=1), NOW, state=state)
    assert problems == ["audit.pga: log file /nonexistent/pg.log does not exist"]
    assert item.attribution == []


def test_window_lookback_and_clean_checks(tmp_path: Path) -> None:
    config = parse(
        '[environments.e]\nurl = "postgresql://u@h/app"\naudit = ["j"]\n'
        'attribution_lookback = "1h"\n'
        f'[audit.j]\ntype = "jsonl"\npath = "{tmp_path}/a.jsonl"\nwindow_slack = "0s"\n',
        tmp_path / "driftd.toml",
    )
    assert config.environments["e"].attribution_lookback == 3600.0
    rows = [
        {
            "time": (NOW - timedelta(hours=2)).isoformat(),
            "statement": "ALTER ROLE r SUPERUSER",
            "user": "old",
        },
        {
            "time": (NOW - timedelta(minutes=30)).isoformat(),
            "statement": "ALTER ROLE r SUPERUSER",
            "user": "mid",
            "session": "s2",
        },
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    state = MemoryAuditState()
    item = DriftItem("role:r", "modified", ["superuser"], False, True)
    assert attribute(config.resolve("e"), [item], None, NOW, state=state) == []
    assert [a["actor"] for a in item.attribution] == ["mid"]  # 2h ago is outside the 1h lookback
    # A clean check is remembered: the next window starts there.
    assert attribute(config.resolve("e"), [], None, NOW - timedelta(minutes=10), state=state) == []
    item = DriftItem("role:r", "modified", ["superuser"], False, True)
    attribute(config.resolve("e"), [item], None, NOW, state=state)
    assert item.attribution == []


def test_check_survives_a_broken_source(
    project: Project, pgdb: PgDatabase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        audit = ["pga"]

        [audit.pga]
        type = "pgaudit"
        path = "{tmp_path}/missing.log"
        """
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute("CREATE TABLE t (a int)")
    res = project.run("check", "test", "--format", "json")
    assert res.exit_code == 1
    assert "attribution: audit.pga: log file" in caplog.text
    drift = json.loads(res.stdout)["environments"][0]["drift"]
    assert drift and all(d["attribution"] == [] for d in drift)
