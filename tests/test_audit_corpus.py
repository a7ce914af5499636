"""Malformed input for every audit source (issue 17): one bad record is skipped,
counted and named by position in a warning, and the good records before and after
it are still read.

The corpus lives in tests/corpus/<source>/: real records (from the servers and
services of tests/test_audit_*.py) with one bad record between good ones. The
10 MB line is made here, not committed. The pgaudit csvlog torn row is also
tested against a real PostgreSQL csvlog (a private cluster with pgaudit).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftd.attribute.match import attribute
from driftd.attribute.sources import source
from driftd.attribute.sources.state import MemoryAuditState
from driftd.config import Config
from driftd.config.load import parse
from driftd.daemon.http import Metrics
from driftd.drift import DriftItem
from tests import test_audit_aws as aws_tests
from tests import test_audit_hoop as hoop_tests
from tests.hoop_gateway import Gateway, pg_query
from tests.test_audit_aws import aws  # noqa: F401 (fixture)
from tests.test_audit_hoop import gateway  # noqa: F401 (fixture)
from tests.test_pgaudit_cluster import Cluster, start_cluster  # noqa: F401 (fixture)

CORPUS = Path(__file__).with_name("corpus")
WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _config(tmp: Path, body: str) -> Config:
    return parse(
        '[environments.e]\nurl = "postgresql://u@h/app"\naudit = ["s"]\n[audit.s]\n' + body,
        tmp / "driftd.toml",
    )


def _texts(state: MemoryAuditState) -> list[str]:
    return [e.statements[0].text for e in state.events("s", *WIDE)]


TORN = "a row that is not a csvlog record (torn, or unbalanced quotes)"


# -- pgaudit csvlog: a torn row on a real server's log -------------------------------------


def test_real_csvlog_torn_row_skipped_after_more_rows_follow(
    start_cluster: Callable[[dict[str, str]], Cluster],  # noqa: F811 (fixture)
    tmp_path: Path,
) -> None:
    cluster = start_cluster({})
    with cluster.connect("postgres") as admin:
        admin.execute("CREATE DATABASE app")
        admin.execute("CREATE ROLE alice LOGIN SUPERUSER")
    log = cluster.log("csvlog")
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\nwindow_slack = "0s"\n')
    state = MemoryAuditState()
    src = source(config, "s")
    cluster.flush_log()
    src.poll(*WIDE, state)  # the start-up lines: the cursor is at the end

    with cluster.connect("app", "alice") as alice:
        alice.execute("CREATE TABLE before_torn (id int)")
    cluster.flush_log()
    rows = log.read_bytes()
    good = rows[rows.rindex(b"\n20", 0, rows.rindex(b"CREATE TABLE before_torn")) + 1 :]
    good = good[: good.index(b"\n") + 1]
    # A write cut short inside the quoted message: its quotes never balance.
    torn = good[: good.index(b"CREATE TABLE before_torn") + 10] + b"\n"
    torn_at = log.stat().st_size
    with log.open("ab") as fh:  # O_APPEND, as the logging collector writes
        fh.write(torn)

    first = src.poll(*WIDE, state)
    # The torn row is last: it may still be being written, so it waits.
    assert first.bad_records == 0, first.summary("s")
    assert "CREATE TABLE before_torn (id int)" in _texts(state)

    with cluster.connect("app", "alice") as alice:
        alice.execute("CREATE TABLE after_torn (id int)")
    cluster.flush_log()
    second = src.poll(*WIDE, state)
    assert second.bad_records == 1
    assert second.skipped == [f"{TORN} at {log} byte {torn_at}"]
    assert second.problems == []  # a bad record never marks the source down
    assert "CREATE TABLE after_torn (id int)" in _texts(state)
    # The cursor moved past it: the next read skips it no more.
    with cluster.connect("app", "alice") as alice:
        alice.execute("CREATE TABLE later (id int)")
    cluster.flush_log()
    third = src.poll(*WIDE, state)
    assert third.bad_records == 0
    assert "CREATE TABLE later (id int)" in _texts(state)


def test_real_csvlog_torn_last_row_of_a_rotated_file_is_skipped(
    start_cluster: Callable[[dict[str, str]], Cluster],  # noqa: F811 (fixture)
    tmp_path: Path,
) -> None:
    """A file that no longer grows (rotated away) is final: its torn last row is
    skipped at once, and the new file is read."""
    cluster = start_cluster({})
    with cluster.connect("postgres") as admin:
        admin.execute("CREATE DATABASE app")
        admin.execute("CREATE ROLE alice LOGIN SUPERUSER")
    log = cluster.log("csvlog")
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n')
    state = MemoryAuditState()
    src = source(config, "s")
    cluster.flush_log()
    src.poll(*WIDE, state)
    with cluster.connect("app", "alice") as alice:
        alice.execute("CREATE TABLE before_rotation (id int)")
    cluster.flush_log()
    torn_at = log.stat().st_size
    with log.open("ab") as fh:
        fh.write(b'2026-12-05 11:45:02.554 UTC,"alice","app",1,"x",1.1,1,"CREATE TABLE","AUDIT: ')
    # logrotate's move, then the server's own rotation to a new file of that name.
    log.rename(log.with_name(log.name + ".1"))
    with cluster.connect("postgres") as admin:
        admin.execute("SELECT pg_rotate_logfile()")
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while not log.exists():
        assert datetime.now(UTC) < deadline, "the server did not start a new csvlog"
        time.sleep(0.05)  # polling interval of the deadline loop, not a fixed wait
    with cluster.connect("app", "alice") as alice:
        alice.execute("CREATE TABLE after_rotation (id int)")
    cluster.flush_log()
    result = src.poll(*WIDE, state)
    assert result.bad_records == 1, result.summary("s")
    rotated = log.with_name(log.name + ".1")
    assert result.skipped == [f"{TORN} at {rotated} byte {torn_at}"]
    assert {"CREATE TABLE before_rotation (id int)", "CREATE TABLE after_rotation (id int)"} <= set(
        _texts(state)
    )


@pytest.mark.parametrize("where", ["middle", "end"])
def test_csvlog_torn_row_in_a_file(tmp_path: Path, where: str) -> None:
    """The same without a server, from the committed corpus (real csvlog rows)."""
    good = (CORPUS / "pgaudit" / "good.csv").read_bytes()
    torn = (CORPUS / "pgaudit" / "bad-torn-row.csv").read_bytes()
    lines = good.splitlines(keepends=True)
    body = lines[0] + torn + b"".join(lines[1:]) if where == "middle" else good + torn
    log = tmp_path / "pg.csv"
    log.write_bytes(body)
    state = MemoryAuditState()
    result = source(_config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n'), "s").poll(
        *WIDE, state
    )
    assert len(_texts(state)) == len(lines)
    if where == "middle":
        assert result.bad_records == 1
        assert result.skipped == [f"{TORN} at {log} byte {len(lines[0])}"]
    else:
        assert result.bad_records == 0  # may still be being written


# -- every line-based source: one bad record between two good ones -------------------------

PG_ITEMS = [
    DriftItem("table:shop.orders", "modified", ["columns", "note"], None, {"type": "text"}),
    DriftItem("table:shop.customers", "modified", ["grants", "PUBLIC"], None, ["SELECT"]),
]
MY_ITEMS = [
    DriftItem("table:app.t1", "modified", ["columns", "extra"], None, {"type": "text"}),
    DriftItem("table:app.t1", "modified", ["indexes", "ix_note"], None, {"columns": ["note"]}),
]
JSONL_FIELDS = '[audit.s.fields]\ntime = "ts"\nstatement = "query"\nactor = "who.email"\n'


@dataclass(frozen=True)
class LineSource:
    """A source reading a file: its corpus, settings, the drift its good records explain."""

    directory: str
    ext: str
    body: str  # the [audit.s] table; {path} is the file
    url: str
    items: list[DriftItem]
    expected: list[str]  # the statement each item is attributed to


LINE_SOURCES = {
    "pgaudit-stderr": LineSource(
        "pgaudit",
        "log",
        'type = "pgaudit"\npath = "{path}"\n',
        "postgresql://u@h/app",
        PG_ITEMS,
        [
            "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?",
            "GRANT SELECT ON shop.customers TO PUBLIC",
        ],
    ),
    "pgaudit-csvlog": LineSource(
        "pgaudit",
        "csv",
        'type = "pgaudit"\npath = "{path}"\n',
        "postgresql://u@h/app",
        PG_ITEMS,
        [
            "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?",
            "GRANT SELECT ON shop.customers TO PUBLIC",
        ],
    ),
    "pgaudit-jsonlog": LineSource(
        "pgaudit",
        "json",
        'type = "pgaudit"\npath = "{path}"\n',
        "postgresql://u@h/app",
        PG_ITEMS,
        [
            "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?",
            "GRANT SELECT ON shop.customers TO PUBLIC",
        ],
    ),
    "pglog": LineSource(
        "pglog",
        "log",
        'type = "pglog"\npath = "{path}"\n',
        "postgresql://u@h/app",
        PG_ITEMS,
        [
            "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?",
            "GRANT SELECT ON shop.customers TO PUBLIC",
        ],
    ),
    "jsonl": LineSource(
        "jsonl",
        "jsonl",
        'type = "jsonl"\npath = "{path}"\n' + JSONL_FIELDS,
        "postgresql://u@h/app",
        PG_ITEMS,
        [
            "ALTER TABLE shop.orders ADD COLUMN note text",
            "GRANT SELECT ON shop.customers TO PUBLIC",
        ],
    ),
    "mariadb_audit": LineSource(
        "mariadb_audit",
        "log",
        'type = "mariadb_audit"\npath = "{path}"\n',
        "mysql+pymysql://u@h/app",
        MY_ITEMS,
        ["ALTER TABLE t1 ADD COLUMN extra text", "CREATE INDEX ix_note ON t1 (note)"],
    ),
}
TEN_MB = 10 * 1024 * 1024


def _cases() -> list[tuple[str, str]]:
    out = []
    for name, src in LINE_SOURCES.items():
        bad = sorted(p.name for p in (CORPUS / src.directory).glob(f"bad-*.{src.ext}"))
        out += [(name, b) for b in [*bad, "10mb-line"]]
    return out


def _ten_mb_line(ext: str) -> bytes:
    """A 10 MB record that is not one: made here, never committed."""
    if ext == "csv":  # starts like a record, and its quote never closes
        return b'2026-12-05 11:45:02.570 UTC,"' + b"x" * TEN_MB + b"\n"
    return b"2026-12-05 11:45:02.570 " + b"\x01" * TEN_MB + b"\n"


def _fresh_items(items: list[DriftItem]) -> list[DriftItem]:
    return [DriftItem(i.object, i.change, list(i.path), i.before, i.after) for i in items]


@pytest.mark.parametrize(("name", "bad"), _cases())
def test_one_bad_record_between_good_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, bad: str
) -> None:
    src = LINE_SOURCES[name]
    good = (CORPUS / src.directory / f"good.{src.ext}").read_bytes().splitlines(keepends=True)
    assert len(good) == 2
    record = (
        _ten_mb_line(src.ext) if bad == "10mb-line" else (CORPUS / src.directory / bad).read_bytes()
    )
    log = tmp_path / f"audit.{src.ext}"
    log.write_bytes(good[0] + record + good[1])
    config = parse(
        f'[environments.e]\nurl = "{src.url}"\naudit = ["s"]\n[audit.s]\n'
        + src.body.format(path=log),
        tmp_path / "driftd.toml",
    )
    items = _fresh_items(src.items)
    caplog.set_level(logging.WARNING, logger="driftd.attribute.sources")
    metrics = Metrics()
    metrics.track_sources(["s"])
    state = MemoryAuditState(on_poll=metrics.audit_polled)
    problems = attribute(config.resolve("e"), items, *WIDE, state=state)
    # Both good records are read and attributed: the one before and the one after.
    assert [i.attribution[0]["statement"] for i in items] == src.expected
    # The bad one is counted (the metric too) and named by position, never fatal.
    assert problems == ["audit.s: 1 unparseable record(s) skipped"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("audit.s: skipped ")
    assert warnings[0].endswith(f" at {log} byte {len(good[0])}")
    assert _sample(metrics, "driftd_audit_parse_errors_total", source="s") == 1
    assert _sample(metrics, "driftd_audit_source_up", source="s") == 1


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


# -- hoop: an export file and the gateway's HTTP answers -----------------------------------


def _alice(gw: Gateway) -> None:
    gw.exec_session(
        "a1-exec-alice",
        "alice@example.com",
        "pg-prod",
        "ALTER TABLE public.orders ADD COLUMN note text",
        hoop_tests.NOW - timedelta(minutes=30),
    )


def _hoop_items() -> list[DriftItem]:
    return [
        DriftItem("table:public.orders", "modified", ["columns", "note"], None, {"t": 1}),
        *hoop_tests._bob_items(),
    ]


def _assert_hoop(items: list[DriftItem]) -> None:
    assert items[0].attribution[0]["actor"] == "alice@example.com"
    hoop_tests._assert_bob(items[1:])


HOOP_WINDOW = (hoop_tests.NOW - timedelta(hours=2), hoop_tests.NOW)


@pytest.mark.parametrize("bad", sorted(p.name for p in (CORPUS / "hoop").glob("bad-*.jsonl")))
def test_hoop_export_one_bad_session_between_good_ones(
    gateway: Gateway,  # noqa: F811 (fixture)
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    _alice(gateway)
    hoop_tests._bob(gateway)
    # An export of the detail answers: an exec's input comes without expand.
    alice = json.dumps(gateway.get_session("a1-exec-alice", {})[1]).encode() + b"\n"
    bob = gateway.get_session("d4b2-connect-bob", {"expand": ["event_stream"]})[1]
    bob = json.dumps(bob).encode() + b"\n"
    export = tmp_path / "sessions.jsonl"
    export.write_bytes(alice + (CORPUS / "hoop" / bad).read_bytes() + bob)
    config = hoop_tests._config(tmp_path, 'file = "sessions.jsonl"\n')
    items = _hoop_items()
    caplog.set_level(logging.WARNING, logger="driftd.attribute.sources")
    problems = attribute(config.resolve("prod"), items, *HOOP_WINDOW, state=MemoryAuditState())
    assert problems == ["audit.hoop-prod: 1 unparseable record(s) skipped"]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("audit.hoop-prod: skipped ")
    # A line that is no session is named by its line; a session, by its id.
    where = "session 's-types'" if "wrong-types" in bad else f"{export} line 2"
    assert warning.endswith(f" at {where}"), warning
    _assert_hoop(items)


@pytest.mark.parametrize("cut", ["truncated", "invalid-utf8", "wrong-type"])
def test_hoop_gateway_one_bad_answer_between_good_sessions(
    gateway: Gateway,  # noqa: F811 (fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    cut: str,
) -> None:
    """A session detail cut off mid-body (a proxy timing out), not UTF-8, or JSON of
    the wrong type: that session is skipped, the sessions before and after it are read."""
    _alice(gateway)
    broken = gateway.connect_session(
        "b2-connect-cut",
        "pg-prod",
        hoop_tests.NOW - timedelta(minutes=25),
        hoop_tests._psql(pg_query("DROP TABLE public.b")),
        user="mallory@example.com",
    )
    hoop_tests._bob(gateway)
    body = json.dumps(gateway.get_session(broken.id, {"expand": ["event_stream"]})[1]).encode()
    broken.raw_detail = {
        "truncated": body[: len(body) // 2],
        "invalid-utf8": body.replace(b'"mallory', b'"\xff\xfemallory'),
        "wrong-type": json.dumps([body.decode()]).encode(),
    }[cut]
    config = hoop_tests._gateway_config(tmp_path, gateway, monkeypatch)
    items = _hoop_items()
    caplog.set_level(logging.WARNING, logger="driftd.attribute.sources")
    problems = attribute(config.resolve("prod"), items, *HOOP_WINDOW, state=MemoryAuditState())
    assert problems == ["audit.hoop-prod: 1 unparseable record(s) skipped"]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning == (
        "audit.hoop-prod: skipped a session whose answer is not a JSON object "
        "at session 'b2-connect-cut'"
    )
    _assert_hoop(items)


# -- CloudWatch Logs (moto) and CloudTrail (botocore Stubber) -------------------------------


@pytest.mark.parametrize(
    "bad", sorted(json.loads((CORPUS / "cloudwatch" / "bad.json").read_text()))
)
def test_cloudwatch_one_bad_event_between_good_ones(
    aws: None,  # noqa: F811 (fixture)
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    import boto3

    logs = boto3.client("logs", region_name=aws_tests.REGION)
    logs.create_log_group(logGroupName=aws_tests.GROUP)
    logs.create_log_stream(logGroupName=aws_tests.GROUP, logStreamName="prod-db.0")
    t0 = aws_tests.NOW - timedelta(minutes=30)
    stamp = t0.strftime("%Y-%m-%d %H:%M:%S UTC")
    audit = "LOG:  AUDIT: SESSION,1,1,DDL,ALTER TABLE,,,{},<not logged>"
    messages = [
        aws_tests._rds_line(
            t0, "alice", 101, audit.format("ALTER TABLE public.orders ADD COLUMN note text")
        ),
        json.loads((CORPUS / "cloudwatch" / "bad.json").read_text())[bad].format(stamp=stamp),
        aws_tests._rds_line(
            t0, "bob", 202, audit.format("ALTER TABLE public.customers ADD COLUMN email text")
        ),
    ]
    logs.put_log_events(
        logGroupName=aws_tests.GROUP,
        logStreamName="prod-db.0",
        logEvents=[
            {"timestamp": int((t0 + timedelta(seconds=n)).timestamp() * 1000), "message": m}
            for n, m in enumerate(messages)
        ],
    )
    config = aws_tests._config(
        tmp_path, "s", f'type = "cloudwatch"\ninstance = "prod-db"\nregion = "{aws_tests.REGION}"\n'
    )
    items = [
        DriftItem("table:public.orders", "modified", ["columns", "note"], None, {"t": 1}),
        DriftItem("table:public.customers", "modified", ["columns", "email"], None, {"t": 1}),
    ]
    caplog.set_level(logging.WARNING, logger="driftd.attribute.sources")
    problems = attribute(
        config.resolve("prod"), items, aws_tests.NOW - timedelta(hours=1), aws_tests.NOW,
        state=MemoryAuditState(),
    )  # fmt: skip
    assert problems == ["audit.s: 1 unparseable record(s) skipped"]
    assert [i.attribution[0]["db_user"] for i in items] == ["alice", "bob"]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("audit.s: skipped ") and " at event '" in warning


@pytest.mark.parametrize(
    "bad", sorted(json.loads((CORPUS / "cloudtrail" / "bad.json").read_text()))
)
def test_cloudtrail_one_bad_event_between_good_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    import boto3
    from botocore.stub import ANY, Stubber

    from driftd.attribute.sources import cloudtrail

    client = boto3.client(
        "cloudtrail", region_name=aws_tests.REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    t0 = aws_tests.NOW - timedelta(minutes=50)

    def change(name: str, at: datetime, event_id: str) -> dict[str, Any]:
        params = {
            "dBParameterGroupName": "prod-pg15",
            "parameters": [{"parameterName": name, "parameterValue": "1"}],
        }
        return aws_tests._trail_event("ModifyDBParameterGroup", at, aws_tests.SSO, params, event_id)

    broken = change("work_mem", t0 + timedelta(minutes=1), "ev-bad")
    broken["CloudTrailEvent"] = json.loads((CORPUS / "cloudtrail" / "bad.json").read_text())[bad]
    del broken["EventTime"]  # the time then comes from the (bad) detail
    events = [
        change("work_mem", t0, "ev-1"),
        broken,
        change("maintenance_work_mem", t0 + timedelta(minutes=2), "ev-3"),
    ]
    stubber = Stubber(client)
    source_filter = {"AttributeKey": "EventSource", "AttributeValue": "rds.amazonaws.com"}
    stubber.add_response("lookup_events", {"Events": events}, {
        "LookupAttributes": [source_filter], "StartTime": ANY, "EndTime": ANY, "MaxResults": 50,
    })  # fmt: skip

    class Session:
        def client(self, service: str, endpoint_url: str | None = None) -> Any:
            return client

    monkeypatch.setattr(cloudtrail, "aws_session", lambda profile, region: Session())
    config = aws_tests._config(
        tmp_path, "s", 'type = "cloudtrail"\nrequest_interval = "0s"\nresources = ["prod-pg15"]\n'
    )
    items = [
        DriftItem("setting:work_mem", "modified", ["value"], "4MB", "64MB"),
        DriftItem("setting:maintenance_work_mem", "modified", ["value"], "4MB", "64MB"),
    ]
    caplog.set_level(logging.WARNING, logger="driftd.attribute.sources")
    with stubber:
        problems = attribute(
            config.resolve("prod"), items, aws_tests.NOW - timedelta(hours=2), aws_tests.NOW,
            state=MemoryAuditState(),
        )  # fmt: skip
    assert problems == ["audit.s: 1 unparseable record(s) skipped"]
    assert [i.attribution[0]["statement"] for i in items] == [
        "ModifyDBParameterGroup prod-pg15: work_mem = ?",
        "ModifyDBParameterGroup prod-pg15: maintenance_work_mem = ?",
    ]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("audit.s: skipped ") and warning.endswith(" at event 'ev-bad'")


def test_csvlog_first_read_from_the_middle_of_a_file_skips_nothing(tmp_path: Path) -> None:
    """A first run reads only the last max_read_bytes: it starts at the first whole
    row found there (a multi-line row cut at the start is not a torn row)."""
    good = (CORPUS / "pgaudit" / "good.csv").read_bytes()
    multi = (
        b'2026-12-05 11:45:02.554 UTC,"alice","app",22288,"127.0.0.1:47674",6b13f93e.5710,1,'
        b'"CREATE TABLE",2026-12-05 11:45:02 UTC,3/17,735,LOG,00000,"AUDIT: SESSION,1,1,DDL,'
        b'CREATE TABLE,TABLE,shop.invoices,""CREATE TABLE shop.invoices (id bigint,\n'
        + b"  -- " * 400
        + b'\n  total numeric)"",<not logged>",,,,,,,,,"","client backend",,0\n'
    )
    log = tmp_path / "pg.csv"
    log.write_bytes(multi + good * 4)
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\nmax_read_bytes = 4096\n')
    state = MemoryAuditState()
    result = source(config, "s").poll(*WIDE, state)
    assert (result.bad_records, result.skipped) == (0, [])
    assert len(multi) > 4096 - len(good) * 4 > 0  # the read started inside the long row
    assert set(_texts(state)) == {
        "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?",
        "GRANT SELECT ON shop.customers TO PUBLIC",
    }
