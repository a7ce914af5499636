"""Server log sources: stderr/csvlog/jsonlog, log_line_prefix, incremental reads, rotation."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftd.audit import source
from driftd.audit.base import PollResult
from driftd.audit.pgaudit import audit_statement
from driftd.audit.pglog import DEBIAN_PREFIX, EventBuilder, LineParser, parse_log_time
from driftd.audit.state import JsonFileAuditState, MemoryAuditState
from driftd.audit.tail import csv_splitter
from driftd.config import Config, parse

T0 = datetime(2026, 11, 22, 16, 44, 11, 996000, tzinfo=UTC)
SINCE, UNTIL = T0 - timedelta(hours=1), T0 + timedelta(hours=1)

# Lines as a real PG 15 + pgaudit 1.7 cluster writes them (field notes).
STDERR = """\
2026-11-22 16:44:11.985 UTC [6618] postgres@app LOG:  AUDIT: SESSION,2,1,DDL,CREATE TABLE,,,"CREATE TABLE app.customers (id bigserial PRIMARY KEY,
\temail text);",<not logged>
2026-11-22 16:44:11.985 UTC [6618] postgres@app LOG:  AUDIT: SESSION,2,1,DDL,CREATE INDEX,,,"CREATE TABLE app.customers (id bigserial PRIMARY KEY,
\temail text);",<not logged>
2026-11-22 16:44:11.996 UTC [6619] alice@app LOG:  AUDIT: SESSION,1,1,DDL,ALTER TABLE,,,ALTER TABLE app.orders ADD COLUMN note text;,<not logged>
2026-11-22 16:44:12.003 UTC [6620] bob@app LOG:  AUDIT: SESSION,1,1,ROLE,GRANT,,,GRANT SELECT ON app.customers TO PUBLIC;,<not logged>
2026-11-22 16:44:12.010 UTC [6620] bob@app LOG:  AUDIT: SESSION,2,1,ROLE,ALTER ROLE,,,ALTER ROLE carol PASSWORD <REDACTED>;,<not logged>
2026-11-22 16:44:12.011 UTC [6620] bob@app ERROR:  role "carol" does not exist
2026-11-22 16:44:12.011 UTC [6620] bob@app STATEMENT:  ALTER ROLE carol PASSWORD 'x';
2026-11-22 16:44:12.020 UTC [6621] postgres@postgres LOG:  checkpoint starting: time
some line from another program
"""  # noqa: E501


def _config(tmp_path: Path, body: str) -> Config:
    text = (
        '[environments.app]\nurl = "postgresql+psycopg://driftd@localhost/app"\n'
        'audit = ["src"]\n\n[audit.src]\n' + body
    )
    return parse(text, tmp_path / "driftd.toml")


def _poll(config: Config, state: MemoryAuditState) -> PollResult:
    return source(config, "src").poll(SINCE, UNTIL, state)


def test_stderr_pgaudit(tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    log.write_text(STDERR)
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n')
    state = MemoryAuditState()
    result = _poll(config, state)
    assert result.bad_records == 1  # "some line from another program"
    events = state.events("src", SINCE, UNTIL)
    # One CREATE TABLE (its CREATE INDEX line is the same statement), one ALTER,
    # one GRANT, and the refused ALTER ROLE (kept, marked failed).
    assert [(e.db_user, e.statements[0].text, e.failed) for e in events] == [
        ("postgres", "CREATE TABLE app.customers (id bigserial PRIMARY KEY,\nemail text)", False),
        ("alice", "ALTER TABLE app.orders ADD COLUMN note text", False),
        ("bob", "GRANT SELECT ON app.customers TO PUBLIC", False),
        ("bob", "ALTER ROLE carol PASSWORD ?", True),
    ]
    alice = events[1]
    assert alice.at == T0 and alice.session == "6619" and alice.database == "app"


def test_incremental_reads_follow_appends_rotation_and_truncation(tmp_path: Path) -> None:
    lines = STDERR.splitlines(keepends=True)
    log = tmp_path / "pg.log"
    log.write_text("".join(lines[:4]))
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n')
    state = MemoryAuditState()
    _poll(config, state)
    assert len(state.events("src", SINCE, UNTIL)) == 1
    # A half-written line is left for the next run.
    with log.open("a") as fh:
        fh.write(lines[4] + lines[5][:30])
    _poll(config, state)
    assert len(state.events("src", SINCE, UNTIL)) == 2
    offset = state.cursor("src")["files"]  # type: ignore[index]
    with log.open("a") as fh:
        fh.write(lines[5][30:])
    _poll(config, state)
    assert len(state.events("src", SINCE, UNTIL)) == 3
    assert state.cursor("src")["files"] != offset  # type: ignore[index]

    # logrotate: the old file moves to .1 after one more line, a new file starts.
    with log.open("a") as fh:
        fh.write(lines[6])
    os.rename(log, tmp_path / "pg.log.1")
    log.write_text(
        "2026-11-22 16:50:00.000 UTC [7000] dave@app LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,,,"
        "DROP TABLE app.old;,<not logged>\n"
    )
    result = _poll(config, state)
    assert result.problems == []
    texts = [e.statements[0].text for e in state.events("src", SINCE, UNTIL)]
    assert texts[-2:] == ["ALTER ROLE carol PASSWORD ?", "DROP TABLE app.old"]

    # copytruncate: same inode, shorter content: read from the start again.
    log.write_text(
        "2026-11-22 16:55:00.000 UTC [7001] erin@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE SCHEMA,,,"
        "CREATE SCHEMA s,<not logged>\n"
    )
    _poll(config, state)
    users = [e.db_user for e in state.events("src", SINCE, UNTIL)]
    assert users[-1] == "erin"
    # Nothing is read twice: a run with nothing new adds nothing.
    before = len(state.events("src", SINCE, UNTIL))
    assert _poll(config, state).new_events == 0
    assert len(state.events("src", SINCE, UNTIL)) == before


def test_first_run_reads_only_the_tail_of_a_big_file(tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    filler = "2026-11-22 10:00:00.000 UTC [1] postgres@app LOG:  checkpoint complete\n" * 200
    log.write_text(filler + STDERR)
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\nmax_read_bytes = 4096\n')
    state = MemoryAuditState()
    _poll(config, state)
    assert len(state.events("src", SINCE, UNTIL)) == 4
    assert state.cursor("src")["files"][next(iter(state.cursor("src")["files"]))]["offset"] == (  # type: ignore[index]
        log.stat().st_size
    )


def test_glob_of_collector_files(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    a = tmp_path / "log" / "postgresql-2026-11-22_000000.log"
    b = tmp_path / "log" / "postgresql-2026-11-22_120000.log"
    lines = STDERR.splitlines(keepends=True)
    a.write_text("".join(lines[4:5]))
    b.write_text("".join(lines[5:6]))
    os.utime(a, (1, 1))
    config = _config(tmp_path, 'type = "pgaudit"\npath = "log/postgresql-*.log"\n')
    state = MemoryAuditState()
    _poll(config, state)
    assert [e.db_user for e in state.events("src", SINCE, UNTIL)] == ["alice", "bob"]


def _csv_row(at: str, user: str, pid: int, severity: str, message: str, query: str = "") -> str:
    row = [
        at,
        user,
        "app",
        str(pid),
        "10.0.0.5:5000",
        "65a1.1",
        "1",
        "idle",
        at,
        "3/7",
        "0",
        severity,
        "00000",
        message,
        "",
        "",
        "",
        "",
        "",
        query,
        "",
        "",
        "psql",
        "client backend",
        "",
        "0",
    ]
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue()


def test_csvlog(tmp_path: Path) -> None:
    log = tmp_path / "pg.csv"
    log.write_text(
        _csv_row(
            "2026-11-22 16:44:11.996 UTC",
            "alice",
            1,
            "LOG",
            'AUDIT: SESSION,1,1,DDL,ALTER TABLE,,,"ALTER TABLE app.orders\n  ADD COLUMN '
            "note text DEFAULT 'a,b'\",<not logged>",
        )
        + _csv_row(
            "2026-11-22 16:44:12.000 UTC",
            "bob",
            2,
            "LOG",
            "AUDIT: SESSION,1,1,DDL,DROP TABLE,,,DROP TABLE app.nope,<not logged>",
        )
        + _csv_row(
            "2026-11-22 16:44:12.001 UTC",
            "bob",
            2,
            "ERROR",
            'table "nope" does not exist',
            query="DROP TABLE app.nope",
        )
        + '2026-11-22 16:44:13.000 UTC,"carol","app",3,"partial record without end'
    )
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n')
    state = MemoryAuditState()
    _poll(config, state)
    events = state.events("src", SINCE, UNTIL)
    assert [(e.db_user, e.failed) for e in events] == [("alice", False), ("bob", True)]
    assert (
        events[0].statements[0].text == "ALTER TABLE app.orders\n  ADD COLUMN note text DEFAULT ?"
    )
    # The unterminated last record waits for its end.
    cursor = next(iter(state.cursor("src")["files"].values()))  # type: ignore[union-attr]
    assert cursor["offset"] < log.stat().st_size


def test_csv_splitter_keeps_quoted_newlines() -> None:
    assert csv_splitter(b'a,"x\ny"\nb,"open\n') == len(b'a,"x\ny"\n')
    assert csv_splitter(b"no newline") == 0


def test_jsonlog_and_pglog(tmp_path: Path) -> None:
    log = tmp_path / "pg.json"
    records = [
        {
            "timestamp": "2026-11-22 16:44:11.996 UTC",
            "user": "alice",
            "dbname": "app",
            "pid": 11,
            "error_severity": "LOG",
            "message": "statement: GRANT admins TO bob",
            "backend_type": "client backend",
        },
        {
            "timestamp": "2026-11-22 16:44:12.500 UTC",
            "user": "alice",
            "dbname": "app",
            "pid": 11,
            "error_severity": "LOG",
            "message": "execute <unnamed>: ALTER ROLE bob PASSWORD 'hunter2'",
        },
        {
            "timestamp": "2026-11-22 16:44:13.000 UTC",
            "user": "alice",
            "dbname": "app",
            "pid": 11,
            "error_severity": "LOG",
            "message": "duration: 0.5 ms  statement: SELECT 1",
        },
    ]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\n{broken\n")
    config = _config(tmp_path, f'type = "pglog"\npath = "{log}"\n')
    state = MemoryAuditState()
    result = _poll(config, state)
    assert result.bad_records == 1
    texts = [e.statements[0].text for e in state.events("src", SINCE, UNTIL)]
    assert texts == ["GRANT admins TO bob", "ALTER ROLE bob PASSWORD ?"]
    assert "hunter2" not in json.dumps(state.to_json())


@pytest.mark.parametrize(
    ("prefix", "line", "user", "pid"),
    [
        (DEBIAN_PREFIX, "2026-11-22 16:44:11.996 UTC [6619] alice@app LOG:  x", "alice", "6619"),
        (
            "%t:%r:%u@%d:[%p]:",
            "2026-11-22 16:44:11 UTC:10.0.0.1(5432):alice@app:[42]:LOG:  x",
            "alice",
            "42",
        ),
        ("%m [%p] %q%u@%d ", "2026-11-22 16:44:11.996 UTC [99] LOG:  x", None, "99"),
        ("%n|%c|%a|%-10u|", "1795365851.996|65a1.2|psql|alice     |LOG:  x", "alice", None),
        (
            "< %m %e %x %v %l %% >",
            "< 2026-11-22 16:44:11.996 CET 00000 0 3/4 7 % >LOG:  x",
            None,
            None,
        ),
    ],
)
def test_log_line_prefixes(prefix: str, line: str, user: str | None, pid: str | None) -> None:
    record = LineParser("stderr", prefix, UTC).stderr_line(line, "k")
    assert record is not None
    assert record.message == "x" and record.severity == "LOG"
    assert ((record.user or "").strip() or None) == user
    assert record.pid == pid
    assert record.at is not None


def test_parse_log_time_zones() -> None:
    assert parse_log_time("2026-11-22 16:44:11.996 UTC", UTC) == T0
    assert parse_log_time("2026-11-22 17:44:11.996 +01", UTC) == T0
    assert parse_log_time("2026-11-22 22:14:11.996 +05:30", UTC) == T0
    assert parse_log_time("2026-11-22 99:00:00 UTC", UTC) is None
    assert parse_log_time("garbage", UTC) is None


def test_audit_statement_fields() -> None:
    assert audit_statement("AUDIT: SESSION,1,1,ROLE,GRANT,,,GRANT a TO b,<none>") == "GRANT a TO b"
    assert audit_statement('AUDIT: OBJECT,1,1,DDL,X,,,"a ""b"", c",<none>') == 'a "b", c'
    assert audit_statement("checkpoint starting") is None


def test_error_without_matching_statement_does_not_cancel(tmp_path: Path) -> None:
    builder = EventBuilder(audit_statement, PollResult())
    parser = LineParser("stderr", DEBIAN_PREFIX, UTC)
    text = (
        "2026-11-22 16:44:11.996 UTC [1] a@app LOG:  AUDIT: SESSION,1,1,DDL,ALTER TABLE,,,"
        "ALTER TABLE t ADD COLUMN c int,<not logged>\n"
        '2026-11-22 16:44:12.000 UTC [1] a@app ERROR:  relation "x" does not exist\n'
        "2026-11-22 16:44:12.000 UTC [1] a@app STATEMENT:  SELECT * FROM x\n"
    )
    for record in parser.records(text.encode(), "f", 0):
        builder.add(record)
    assert [e.failed for e in builder.events] == [False]


def test_jsonl_source(tmp_path: Path) -> None:
    log = tmp_path / "proxy.jsonl"
    rows = [
        {
            "ts": int(T0.timestamp() * 1000),
            "query": "ALTER TABLE public.t ADD COLUMN c int DEFAULT 42",
            "who": {"email": "alice@example.com"},
            "login": "svc",
            "conn": "c-1",
        },
        {"ts": "2026-11-22T16:45:00Z", "query": "SELECT 1", "who": {"email": "bob@example.com"}},
        {"ts": "not a time", "query": "DROP TABLE x"},
        [1, 2],
    ]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = _config(
        tmp_path,
        f'type = "jsonl"\npath = "{log}"\n[audit.src.fields]\ntime = "ts"\nstatement = "query"\n'
        'actor = "who.email"\ndb_user = "login"\nsession = "conn"\n',
    )
    state = MemoryAuditState()
    result = _poll(config, state)
    assert result.bad_records == 2
    (event,) = state.events("src", SINCE, UNTIL)
    assert (event.actor, event.db_user, event.session) == ("alice@example.com", "svc", "c-1")
    assert event.statements[0].text == "ALTER TABLE public.t ADD COLUMN c int DEFAULT ?"
    assert event.at == T0


def test_json_file_state_round_trip(tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    log.write_text(STDERR)
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n')
    state = JsonFileAuditState(tmp_path / "state" / "audit.json")
    _poll(config, state)
    state.save()
    assert oct((tmp_path / "state" / "audit.json").stat().st_mode & 0o777) == "0o600"
    again = JsonFileAuditState(tmp_path / "state" / "audit.json")
    assert again.load_error is None
    assert again.cursor("src") == state.cursor("src")
    assert [e.to_json() for e in again.events("src", SINCE, UNTIL)] == [
        e.to_json() for e in state.events("src", SINCE, UNTIL)
    ]
    (tmp_path / "state" / "audit.json").write_text("{not json")
    broken = JsonFileAuditState(tmp_path / "state" / "audit.json")
    assert broken.load_error and "starting afresh" in broken.load_error


def test_memory_state_is_bounded_and_dedupes() -> None:
    from driftd.audit.events import AuditEvent

    state = MemoryAuditState(max_events=3)
    now = datetime.now(UTC)
    events = [AuditEvent(f"k{i}", now - timedelta(minutes=10 - i), []) for i in range(5)]
    state.add_events("s", events)
    state.add_events("s", events[-1:])
    kept = state.events("s", now - timedelta(hours=1), now)
    assert [e.key for e in kept] == ["k2", "k3", "k4"]
    state.add_events("s", [AuditEvent("old", now - timedelta(days=400), [])])
    assert "old" not in [e.key for e in state.events("s", now - timedelta(days=500), now)]


def test_log_source_config_errors(tmp_path: Path) -> None:
    from driftd.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'type = "pgaudit"\npath = "x"\nformat = "xml"\n')
    assert "audit.src.format" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'type = "pgaudit"\npath = "x"\ntimezone = "Mars/Olympus"\n')
    assert "unknown time zone" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'type = "splunk"\n')
    assert "audit.src.type" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'type = "pglog"\n')
    assert "audit.src.path" in str(info.value) and "missing" in str(info.value)


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{tmp_path}/nope.log"\n')
    result = _poll(config, MemoryAuditState())
    assert result.summary("src") == [f"audit.src: log file {tmp_path}/nope.log does not exist"]
