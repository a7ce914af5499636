"""Hostile input for every parser: nothing escapes, nothing hangs, bad input is counted.

Each example runs under hypothesis' deadline, so a parser that stalls on
some input fails the test.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftd.attribute.sources import source
from driftd.attribute.sources.base import PollResult
from driftd.attribute.sources.cloudtrail import CloudtrailSource
from driftd.attribute.sources.hoop import HoopSource
from driftd.attribute.sources.jsonl import JsonlSource
from driftd.attribute.sources.pgaudit import audit_statement
from driftd.attribute.sources.pglog import (
    DEBIAN_PREFIX,
    RDS_PREFIX,
    BadRecord,
    EventBuilder,
    LineParser,
    LogRecord,
    parse_log_time,
    prefix_regex,
    statement_message,
)
from driftd.attribute.sources.state import MemoryAuditState
from driftd.attribute.sources.tail import (
    csv_splitter,
    csvlog_resync,
    csvlog_splitter,
    lines_splitter,
    read_new,
)
from driftd.attribute.sqlrefs import analyze
from driftd.config import Config
from driftd.config.load import parse
from driftd.masking import mask
from tests.conftest import examples

FAST = settings(
    max_examples=examples(150),
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

# Text that looks like logs and SQL often enough to reach the deep paths.
FRAGMENTS = st.sampled_from(
    [
        "2026-11-22 16:44:11.996 UTC [6619] alice@app LOG:  ",
        "2026-11-22 16:44:11 UTC:10.0.0.1(5):bob@app:[7]:LOG:  ",
        "AUDIT: SESSION,1,1,DDL,ALTER TABLE,,,",
        "statement: ",
        "execute <unnamed>: ",
        "ERROR:  ",
        "STATEMENT:  ",
        "ALTER TABLE t ADD COLUMN c int",
        "GRANT SELECT ON s.t TO PUBLIC",
        "DO $$BEGIN EXECUTE '",
        "CREATE FUNCTION f() RETURNS int AS $x$",
        '"',
        "'",
        "$$",
        ",",
        "\n",
        "\t",
        "(",
        ")",
        ";",
        "\x00",
        "<REDACTED>",
        "<not logged>",
        "PASSWORD 'pw'",
        "\ufffd",
    ]
)
LOGISH = st.lists(FRAGMENTS | st.text(max_size=20), max_size=30).map("".join)
HOSTILE_SQL = st.one_of(
    LOGISH,
    st.text(max_size=400),
    st.integers(1, 3000).map(lambda n: "SELECT " + "(" * n + "1" + ")" * n),
    st.integers(1, 3000).map(lambda n: "DO $$BEGIN " + "IF true THEN " * n + "END$$"),
    st.integers(1, 200).map(lambda n: "ALTER TABLE t ADD c int;" * n),
    st.just("CREATE TABLE t (" + ", ".join(f"c{i} int" for i in range(3000)) + ")"),
    st.just("'" * 100_001),
)


@FAST
@given(HOSTILE_SQL, st.sampled_from(["postgres", "mysql", "tsql", "sqlite"]))
def test_sql_analysis_never_raises(sql: str, dialect: str) -> None:
    started = time.monotonic()
    statements, errors = analyze(sql, dialect)
    assert errors >= 0
    for s in statements:
        assert s.text == mask(s.text, dialect) or dialect != "postgres"
        assert len(s.text) <= 100_000 + 10
    # A hang guard, not a speed target (those live in bench/): hostile input must not
    # stall a check. Generous, so a loaded CI machine never fails it.
    assert time.monotonic() - started < 20


@FAST
@given(st.binary(max_size=2000) | LOGISH.map(str.encode))
def test_log_readers_never_raise_and_count(data: bytes) -> None:
    for fmt in ("stderr", "csvlog", "jsonlog"):
        for prefix in (DEBIAN_PREFIX, RDS_PREFIX):
            result = PollResult()
            builder = EventBuilder(audit_statement, result)
            parser = LineParser(fmt, prefix, UTC)  # type: ignore[arg-type]
            for record in parser.records(data, "f", 0):
                builder.add(record)
            assert result.bad_records >= 0
            assert all(e.statements for e in builder.events)


@FAST
@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=80), max_size=20)
)
def test_garbage_lines_are_each_counted(lines: list[str]) -> None:
    garbage = [ln for ln in lines if ln.strip() and not ln[:1].isdigit() and "\n" not in ln]
    data = "\n".join(garbage).encode()
    result = PollResult()
    builder = EventBuilder(audit_statement, result)
    for record in LineParser("stderr", DEBIAN_PREFIX, UTC).records(data, "f", 0):
        builder.add(record)
    expected = sum(1 for ln in data.decode().split("\n") if ln.strip() and ln.strip("\r"))
    assert result.bad_records == expected
    assert builder.events == []


@FAST
@given(LOGISH)
def test_message_extractors(message: str) -> None:
    for text in (message, "AUDIT: " + message):
        try:
            out = audit_statement(text)
        except BadRecord:
            continue
        assert out is None or isinstance(out, str)
    assert statement_message(message) is None or isinstance(statement_message(message), str)


@FAST
@given(st.text(max_size=60), st.text(max_size=300))
def test_any_log_line_prefix_compiles_and_matches_quickly(prefix: str, line: str) -> None:
    regex = prefix_regex(prefix)
    started = time.monotonic()
    LineParser("stderr", prefix, UTC).stderr_line(line * 3, "k")
    regex.match(line[:1024])
    assert time.monotonic() - started < 1


@FAST
@given(st.text(max_size=60))
def test_log_times(text: str) -> None:
    moment = parse_log_time(text, UTC)
    assert moment is None or moment.tzinfo is not None


@FAST
@given(st.binary(max_size=500))
def test_splitters_stay_in_bounds(data: bytes) -> None:
    for split in (csv_splitter, lines_splitter):
        used = split(data)
        assert 0 <= used <= len(data)
        assert used == 0 or data[used - 1 : used] == b"\n"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
SESSION_KEYS = [
    "id",
    "user",
    "verb",
    "start_date",
    "end_date",
    "script",
    "event_stream",
    "identity_type",
    "review",
    "exit_code",
    "connection_subtype",
    "machine_identity_id",
]
SESSIONS = st.fixed_dictionaries(
    {},
    optional={
        k: JSON
        | st.sampled_from(["exec", "connect", "2026-11-22T11:00:00Z", "postgres", "machine"])
        | st.just({"data": "ALTER TABLE t ADD c int; GRANT x TO y"})
        | st.just([[0.5, "i", "ALTER ROLE r SUPERUSER"], ["x", "i", 3], [1, "o"]])
        | st.just([[1e300, "i", "ALTER ROLE r SUPERUSER"], [-1e300, "i", "DROP ROLE r"]])
        for k in SESSION_KEYS
    },
)


def _config(tmp: Path, body: str) -> Config:
    return parse(
        '[environments.e]\nurl = "postgresql://u@h/app"\naudit = ["s"]\n[audit.s]\n' + body,
        tmp / "driftd.toml",
    )


@FAST
@given(st.lists(SESSIONS | JSON, max_size=8))
def test_hoop_sessions_never_raise(tmp_path: Path, sessions: list[Any]) -> None:
    path = tmp_path / "sessions.jsonl"
    path.write_text("\n".join(json.dumps(s) for s in sessions))
    config = _config(tmp_path, f'type = "hoop"\nfile = "{path}"\n')
    src = source(config, "s")
    assert isinstance(src, HoopSource)
    result = src.poll(NOW - timedelta(days=1), NOW, MemoryAuditState())
    assert result.bad_records >= 0


@FAST
@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "EventName": st.sampled_from(["ModifyDBParameterGroup", "ModifyDBInstance", "x"]),
                "EventId": st.text(max_size=5),
                "EventTime": st.just(NOW) | JSON,
                "CloudTrailEvent": JSON.map(json.dumps) | st.text(max_size=40) | JSON,
            },
        ),
        max_size=6,
    )
)
def test_cloudtrail_events_never_raise(tmp_path: Path, items: list[dict[str, Any]]) -> None:
    src = source(_config(tmp_path, 'type = "cloudtrail"\n'), "s")
    assert isinstance(src, CloudtrailSource)
    result = PollResult()
    for item in items:
        try:
            src._event(item, result)
        except (AttributeError, TypeError) as exc:  # pragma: no cover - shown on failure
            raise AssertionError(f"{item!r}: {exc}") from exc


@FAST
@given(st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_jsonl_lines_never_raise(tmp_path: Path, raw: bytes) -> None:
    src = source(_config(tmp_path, 'type = "jsonl"\npath = "x.jsonl"\n'), "s")
    assert isinstance(src, JsonlSource)
    result = PollResult()
    event = src.parse_line(raw, "k", result)
    assert event is not None or result.bad_records + result.unparsed_statements >= 0


# -- one bad record never hides the good ones (issue 17) ------------------------------------

GOOD_CSV = (
    (Path(__file__).with_name("corpus") / "pgaudit" / "good.csv").read_bytes().splitlines(True)
)
GOOD_LOG = (
    (Path(__file__).with_name("corpus") / "pgaudit" / "good.log").read_bytes().splitlines(True)
)
JUNK = st.binary(max_size=300) | LOGISH.map(str.encode) | st.sampled_from([b'"', b'x,"', b'""'])


def _messages(fmt: str, data: bytes) -> tuple[list[str], int]:
    """The messages of the records read from ``data`` and the records skipped."""
    result = PollResult()
    out = []
    for record in LineParser(fmt, DEBIAN_PREFIX, UTC).records(data, "f", 0):  # type: ignore[arg-type]
        if isinstance(record, LogRecord):
            out.append(record.message)
        else:
            result.skip(record.where, record.why)
    return out, result.bad_records


@FAST
@given(st.lists(JUNK.map(lambda b: b.replace(b"\n", b" ") + b"\n"), max_size=3), st.data())
def test_junk_lines_never_hide_good_csvlog_rows(junk: list[bytes], data: st.DataObject) -> None:
    rows = list(GOOD_CSV)
    for line in junk:  # each junk line somewhere between the real rows
        rows.insert(data.draw(st.integers(0, len(rows))), line)
    text = b"".join(rows)
    messages, skipped = _messages("csvlog", text)
    wanted, _ = _messages("csvlog", b"".join(GOOD_CSV))
    assert len(wanted) == len(GOOD_CSV)
    assert [m for m in messages if m in wanted] == wanted
    assert skipped <= len(junk)


@FAST
@given(st.lists(JUNK.map(lambda b: b.replace(b"\n", b" ") + b"\n"), max_size=3), st.data())
def test_junk_lines_never_hide_good_stderr_lines(junk: list[bytes], data: st.DataObject) -> None:
    rows = list(GOOD_LOG)
    for line in junk:
        if line[:1] in (b"\t", b" "):
            line = b"x" + line  # a tab starts a continuation line: part of the record before
        rows.insert(data.draw(st.integers(0, len(rows))), line)
    messages, _ = _messages("stderr", b"".join(rows))
    wanted, _ = _messages("stderr", b"".join(GOOD_LOG))
    assert len(wanted) == len(GOOD_LOG)
    assert all(w in messages for w in wanted)


@settings(
    max_examples=examples(60),
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.sampled_from(GOOD_CSV) | JUNK.map(lambda b: b.replace(b"\n", b" ") + b"\n"),
             max_size=8),
    st.lists(st.integers(1, 400), max_size=6),
)  # fmt: skip
def test_csvlog_read_in_pieces_as_it_is_written_equals_one_read(
    tmp_path: Path, rows: list[bytes], cuts: list[int]
) -> None:
    """A log written in arbitrary pieces (a row still being written at each read)
    gives the very records and skips of reading it whole: a row cut at the end is
    waited for, never skipped early."""
    text = b"".join(rows)
    log = tmp_path / f"pieces-{time.monotonic_ns()}.csv"
    log.write_bytes(b"")
    cursor: dict[str, Any] | None = {"files": {}}
    pieces: list[bytes] = []
    written = 0
    for cut in [*cuts, len(text)]:
        end = min(len(text), written + cut)
        with log.open("ab") as fh:
            fh.write(text[written:end])
        written = end
        read = read_new(str(log), cursor, 1 << 20, csvlog_splitter, csvlog_resync)
        cursor = read.cursor
        pieces += [c.data for c in read.chunks]
    whole = read_new(str(log), {"files": {}}, 1 << 20, csvlog_splitter, csvlog_resync)
    assert b"".join(pieces) == b"".join(c.data for c in whole.chunks)
    assert _read_all(pieces) == _read_all([c.data for c in whole.chunks])


def _read_all(chunks: list[bytes]) -> tuple[list[str], int]:
    messages: list[str] = []
    skipped = 0
    for chunk in chunks:
        got, n = _messages("csvlog", chunk)
        messages += got
        skipped += n
    return messages, skipped


@FAST
@given(st.binary(max_size=400) | LOGISH.map(str.encode))
def test_mariadb_lines_never_raise(data: bytes) -> None:
    from driftd.attribute.sources.mariadb_audit import BadLine, parse_line

    try:
        record = parse_line(data.decode("utf-8", errors="replace"), UTC)
    except BadLine:
        return  # counted by the source as a skipped record
    assert record is None or record.at.tzinfo is not None


@FAST
@given(st.lists(JSON | st.fixed_dictionaries({}, optional={
    "eventId": JSON, "timestamp": JSON | st.integers(), "logStreamName": JSON,
    "message": JSON | LOGISH,
}), max_size=6))  # fmt: skip
def test_cloudwatch_events_never_raise(tmp_path: Path, items: list[Any]) -> None:
    from driftd.attribute.sources.cloudwatch import CloudwatchSource, _extract

    src = source(_config(tmp_path, 'type = "cloudwatch"\ninstance = "db"\n'), "s")
    assert isinstance(src, CloudwatchSource)
    result = PollResult()
    builder = EventBuilder(_extract("auto"), result)
    parser = LineParser("stderr", RDS_PREFIX, UTC)
    for item in items:
        builder.add(src._record(parser, item))
    assert result.bad_records <= len(items)
