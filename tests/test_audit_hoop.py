"""The ``hoop`` audit source against a gateway that answers as hoop's source does.

The gateway (tests/hoop_gateway.py) keeps sessions in hoop's storage form and
builds every answer the way hoop's handlers do: list items with ``"script":
null``, ``connection`` as a SQL LIKE, ``created_at DESC`` pages, event streams
as base64 wire frames, ``raw-queries`` decoded by hoop's own rules, machine
identities with an empty ``user``, reviews in the openapi shape.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftd.attribute.match import attribute
from driftd.attribute.sources import source
from driftd.attribute.sources.hoop import HoopSource, wire_sql
from driftd.attribute.sources.state import MemoryAuditState
from driftd.check import check_environment
from driftd.config import Config, Rules
from driftd.config.load import load, parse
from driftd.drift import DriftItem
from driftd.report import attribution_lines, review_text
from driftd.rules import RuleSet
from tests import doc_examples
from tests.conftest import PgDatabase, Project
from tests.hoop_gateway import (
    Gateway,
    Review,
    ReviewGroup,
    approved_by,
    hoop_decode_mysql_command_query,
    hoop_parse_query,
    mysql_com_query,
    mysql_com_quit,
    mysql_com_stmt_prepare,
    mysql_handshake_response,
    mysql_packet,
    pg_bind,
    pg_execute,
    pg_extended,
    pg_parse,
    pg_password,
    pg_query,
    pg_startup,
    pg_sync,
    pg_terminate,
    serve,
)

TOKEN = "hpk_test_9f8e7d"
NOW = datetime.now(UTC).replace(microsecond=0)
CI_DEPLOYER_ID = "bf997324-5a27-4778-806a-41ee83598494"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with serve(Gateway(token=TOKEN)) as gw:
        yield gw


def _config(tmp_path: Path, body: str) -> Config:
    text = (
        '[environments.prod]\nurl = "postgresql+psycopg://driftd@db.internal/app"\n'
        'audit = ["hoop-prod"]\n\n[audit.hoop-prod]\ntype = "hoop"\n' + body
    )
    return parse(text, tmp_path / "driftd.toml")


def _gateway_config(
    tmp_path: Path, gw: Gateway, monkeypatch: pytest.MonkeyPatch, extra: str = ""
) -> Config:
    monkeypatch.setenv("HOOP_TOKEN", TOKEN)
    return _config(
        tmp_path,
        f'url = "{gw.url}"\ntoken_env = "HOOP_TOKEN"\nconnection = "pg-prod"\n'
        f'db_user = "hoop_svc"\n{extra}',
    )


def _psql(*frames: bytes, step: float = 0.5) -> list[tuple[float, bytes]]:
    """A psql session: startup, password, the given messages, terminate; timed."""
    allf = [pg_startup("hoop_svc", "app"), pg_password("s3cr3t-pw"), *frames, pg_terminate()]
    return [(0.1 + i * step, f) for i, f in enumerate(allf)]


# -- the golden scenario: real drift, the real check pipeline ---------------------------------


def test_golden_three_people_through_hoop_one_change_made_directly(
    project: Project, pgdb: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyst, app = pgdb.role("analyst"), pgdb.role("app")
    pgdb.execute(
        "CREATE SCHEMA shop;"
        "CREATE TABLE shop.orders (id bigint PRIMARY KEY, created_at timestamptz);"
        "CREATE TABLE shop.customers (id bigint PRIMARY KEY, email text);"
        f"CREATE ROLE {analyst}; CREATE ROLE {app};"
    )
    with serve(Gateway(token=TOKEN)) as gw:
        monkeypatch.setenv("HOOP_TOKEN", TOKEN)
        project.write_config(
            f"""
            [driftd]
            baselines_dir = "baselines"
            state_url = "sqlite:///state.db"

            [environments.test]
            url = "{pgdb.url}"
            schemas = ["shop"]
            roles = ["{pgdb.prefix}*"]
            audit = ["hoop"]

            [audit.hoop]
            type = "hoop"
            url = "{gw.url}"
            token_env = "HOOP_TOKEN"
            connection = "pg_prod"  # hoop LIKEs it: pg-prod sessions come back too
            db_user = "hoop_svc"
            """
        )
        assert project.run("baseline", "accept", "test").exit_code == 0

        start = datetime.now(UTC) - timedelta(seconds=90)
        # 1. alice, from the web UI: an exec session (the SQL is the session input).
        alice_sql = "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'call 555-0100'"
        pgdb.execute(alice_sql)
        gw.exec_session(
            "3f0c1a52-alice-exec", "alice@example.com", "pg_prod", alice_sql, start,
            output="ALTER TABLE\n",
        )  # fmt: skip
        # 2. bob, psql through the proxy: a simple query and an extended-protocol Parse.
        grant = f"GRANT SELECT ON shop.customers TO {analyst}"
        index = "CREATE INDEX orders_created_ix ON shop.orders (created_at)"
        pgdb.execute(grant)
        pgdb.execute(index)
        gw.connect_session(
            "7d2e9b40-bob-psql",
            "pg_prod",
            start + timedelta(seconds=20),
            _psql(pg_query("SET search_path TO shop"), pg_query(grant), *pg_extended(index)),
            user="bob@example.com",
        )
        # 3. a machine identity, its access approved by carol.
        machine_sql = f"GRANT INSERT ON shop.orders TO {app}"
        pgdb.execute(machine_sql)
        gw.connect_session(
            "9a4b7c11-ci-deployer",
            "pg_prod",
            start + timedelta(seconds=40),
            _psql(pg_query(machine_sql)),
            machine=True,
            user_name="ci-deployer",
            user_id=CI_DEPLOYER_ID,
            review=approved_by("carol@example.com", start + timedelta(seconds=30)),
        )
        # 4. somebody with direct access: no audit record anywhere.
        pgdb.execute("CREATE TABLE shop.refunds (id bigint)")
        # Another connection's session creating the same table must not count.
        gw.exec_session(
            "0b1d-other-conn", "mallory@example.com", "pg-prod",
            "CREATE TABLE shop.refunds (id bigint)", start,
        )  # fmt: skip

        config = load(project.config)
        report = check_environment(config.resolve("test"))
        assert report.status == "drift", report.error
        by_key = {(i.object, tuple(i.path)): i for i in report.drift}

        note = by_key[("table:shop.orders", ("columns", "note"))]
        best = note.attribution[0]
        assert best["actor"] == "alice@example.com"
        assert best["session"] == "3f0c1a52-alice-exec"
        assert best["statement"] == "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?"
        assert best["source"] == "hoop" and best["db_user"] == "hoop_svc"
        assert best["identity_type"] == "user" and "identity_id" not in best
        assert best["review"] == {"status": "unreviewed", "approved_by": [], "approved_at": None}

        granted = by_key[("table:shop.customers", ("grants", analyst))]
        best = granted.attribution[0]
        assert (best["actor"], best["session"]) == ("bob@example.com", "7d2e9b40-bob-psql")
        assert best["statement"] == grant
        assert best["reason"] == "exact object + path"
        # A grant nobody approved: critical, by the review-aware rule.
        assert granted.severity == "critical" and "unreviewed-access-change" in granted.rules

        indexed = by_key[("table:shop.orders", ("indexes", "orders_created_ix"))]
        best = indexed.attribution[0]
        assert (best["actor"], best["session"]) == ("bob@example.com", "7d2e9b40-bob-psql")
        assert best["statement"] == index  # from the Parse message
        # The event time is the session start plus the event's offset (seconds).
        assert best["at"] > note.attribution[0]["at"]

        machine = by_key[("table:shop.orders", ("grants", app))]
        best = machine.attribution[0]
        assert best["actor"] == "ci-deployer"  # the identity's name, not machine:<uuid>
        assert best["identity_type"] == "machine" and best["identity_id"] == CI_DEPLOYER_ID
        assert best["session"] == "9a4b7c11-ci-deployer" and best["statement"] == machine_sql
        assert best["review"]["status"] == "approved"
        assert best["review"]["approved_by"] == ["carol@example.com"]
        approved_at = (start + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert best["review"]["approved_at"] == approved_at
        assert machine.severity == "high" and "unreviewed-access-change" not in machine.rules
        doc_examples.check("hoop", granted.attribution[0], "grant added in a psql session")
        doc_examples.check("hoop machine", best, "grant added by a machine identity")

        direct = by_key[("table:shop.refunds", ())]
        assert direct.change == "added"
        assert direct.attribution == []  # made directly: no author, no guess

        evidence = json.dumps([i.attribution for i in report.drift])
        assert "555-0100" not in evidence and "s3cr3t-pw" not in evidence
        assert "mallory" not in evidence
        assert gw.lists()[0]["connection"] == ["pg_prod"]
        assert not gw.details("0b1d-other-conn")  # filtered out before any detail call
        # The connect sessions were read decoded by the gateway (raw-queries) first.
        bob = gw.details("7d2e9b40-bob-psql")
        assert bob[0].query["event_stream"] == ["raw-queries"]
        assert bob[0].query["expand"] == ["event_stream"]

        # The people's report says who, and whether anybody approved it.
        res = project.run("check", "test")
        assert res.exit_code == 1
        text = " ".join(res.stdout.split())
        assert "review: not reviewed" in text
        assert f"review: approved by carol@example.com at {approved_at}" in text
        assert "ci-deployer" in text


# -- wire frames ----------------------------------------------------------------------------


def test_postgres_frames_byte_exact() -> None:
    sql = "ALTER ROLE reporting SUPERUSER"
    q = pg_query(sql)
    assert q == b"Q" + (4 + len(sql) + 1).to_bytes(4, "big") + sql.encode() + b"\0"
    assert wire_sql(q) == [sql]
    named = pg_parse("UPDATE t SET a = $1 WHERE id = $2", "stmt_7", (25, 20))
    assert named[:1] == b"P" and named.endswith(b"\0\x00\x02\x00\x00\x00\x19\x00\x00\x00\x14")
    assert wire_sql(named) == ["UPDATE t SET a = $1 WHERE id = $2"]
    assert wire_sql(pg_parse("DROP TABLE t")) == ["DROP TABLE t"]
    # Our decoder and hoop's ParseQuery agree on every frame hoop would decode.
    for frame in (q, named, pg_parse("DROP TABLE t")):
        assert wire_sql(frame) == [hoop_parse_query(frame).decode()]  # type: ignore[union-attr]
    # Messages that carry no SQL give none (a password above all).
    for frame in (
        pg_startup("u", "db"),
        pg_password("hunter2"),
        pg_bind((b"x",)),
        pg_execute(),
        pg_sync(),
        pg_terminate(),
    ):
        assert wire_sql(frame) == []
    # Several messages in one payload; plain SQL (raw-queries, old storage) as is.
    assert wire_sql(pg_parse("CREATE TABLE a ()") + pg_bind() + pg_query("DROP TABLE b")) == [
        "CREATE TABLE a ()",
        "DROP TABLE b",
    ]
    assert wire_sql(b"CREATE TABLE q (a int)") == ["CREATE TABLE q (a int)"]
    assert wire_sql(b"PREPARE p AS SELECT 1") == ["PREPARE p AS SELECT 1"]
    assert wire_sql(b"DROP TABLE legacy\0") == ["DROP TABLE legacy"]  # pre-#854 storage


def test_mysql_frames_byte_exact() -> None:
    sql = "ALTER TABLE shop.orders ADD COLUMN note text"
    packet = mysql_com_query(sql)
    assert packet == (1 + len(sql)).to_bytes(3, "little") + b"\x00\x03" + sql.encode()
    assert wire_sql(packet, "mysql") == [sql]
    attrs = mysql_com_query(sql, query_attributes=True)
    assert attrs[4:7] == b"\x03\x00\x01"
    assert wire_sql(attrs, "mysql") == [sql]
    assert wire_sql(mysql_com_stmt_prepare("DROP TABLE x"), "mysql") == ["DROP TABLE x"]
    assert wire_sql(mysql_handshake_response("root"), "mysql") == []
    assert wire_sql(mysql_com_quit(), "mysql") == []
    # What hoop's audit plugin keeps (decodeMySQLCommandQuery): from the command byte,
    # or from parameter_set_count with query attributes; prepares and the rest: nothing.
    stored = hoop_decode_mysql_command_query(packet)
    assert stored == b"\x03" + sql.encode() and wire_sql(stored, "mysql") == [sql]
    stored = hoop_decode_mysql_command_query(attrs)
    assert stored == b"\x01" + sql.encode() and wire_sql(stored, "mysql") == [sql]
    assert hoop_decode_mysql_command_query(mysql_com_stmt_prepare("DROP TABLE x")) is None
    assert hoop_decode_mysql_command_query(mysql_handshake_response("root")) is None
    assert wire_sql(mysql_packet(b"\x03" + b"x" * 300), "mysql") == ["x" * 300]


def test_mysql_connect_session_is_attributed(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [
        (0.1, mysql_handshake_response("hoop_svc")),
        (0.5, mysql_com_query("ALTER TABLE shop.orders ADD COLUMN note text")),
        (1.0, mysql_com_query("CREATE INDEX ix_c ON shop.orders (c)", query_attributes=True)),
        (1.5, mysql_com_stmt_prepare("DROP TABLE shop.audit_log")),
        (2.0, mysql_com_quit()),
    ]
    gateway.connect_session(
        "5e6f-mysql", "pg-prod", NOW - timedelta(minutes=5), frames,
        user="erin@example.com", subtype="mysql",
    )  # fmt: skip
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    items = [
        DriftItem("table:shop.orders", "modified", ["columns", "note"], None, {"type": "text"}),
        DriftItem("table:shop.orders", "modified", ["indexes", "ix_c"], None, {"cols": ["c"]}),
        DriftItem("table:shop.audit_log", "removed", [], {"columns": {}}, None),
    ]
    problems = attribute(
        config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
    )
    assert problems == []
    note, index, dropped = (i.attribution for i in items)
    assert note[0]["actor"] == "erin@example.com" and note[0]["session"] == "5e6f-mysql"
    assert note[0]["statement"] == "ALTER TABLE shop.orders ADD COLUMN note text"
    assert index[0]["statement"] == "CREATE INDEX ix_c ON shop.orders (c)"
    # hoop's audit plugin does not store COM_STMT_PREPARE: nothing to attribute it to.
    assert dropped == []
    # raw-queries on a MySQL session: the stored events come back unchanged (the blob
    # is not in the wire-proto format), so one request was enough.
    assert [r.query.get("event_stream") for r in gateway.details("5e6f-mysql")] == [["raw-queries"]]


# -- event streams: raw-queries, fallbacks, older gateways ----------------------------------


def _bob(gw: Gateway, sid: str = "d4b2-connect-bob") -> None:
    gw.connect_session(
        sid,
        "pg-prod",
        NOW - timedelta(minutes=20),
        _psql(
            pg_query("BEGIN"),
            pg_query("GRANT SELECT ON public.customers TO PUBLIC"),
            *pg_extended("ALTER ROLE reporting SUPERUSER"),
            pg_query("COMMIT"),
        ),
        user="bob@example.com",
        errors=((5.0, "ERROR: canceling statement due to user request"),),
    )


def _bob_items() -> list[DriftItem]:
    return [
        DriftItem("table:public.customers", "modified", ["grants", "PUBLIC"], None, ["SELECT"]),
        DriftItem("role:reporting", "modified", ["superuser"], False, True),
    ]


def _assert_bob(items: list[DriftItem]) -> None:
    grant, superuser = (i.attribution for i in items)
    assert grant[0]["actor"] == "bob@example.com"
    assert grant[0]["statement"] == "GRANT SELECT ON public.customers TO PUBLIC"
    start = NOW - timedelta(minutes=20)
    # the 4th message, 0.1 + 3 * 0.5 s after the start
    assert grant[0]["at"] == (start + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert superuser[0]["actor"] == "bob@example.com"
    assert superuser[0]["statement"] == "ALTER ROLE reporting SUPERUSER"


def test_utf8_answers_output_only_so_raw_queries_is_asked(gateway: Gateway) -> None:
    _bob(gateway)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{gateway.url}/api/sessions/d4b2-connect-bob"
    utf8 = httpx.get(
        url, params={"expand": "event_stream", "event_stream": "utf8"}, headers=headers
    )
    assert utf8.json()["event_stream"] == ["ERROR: canceling statement due to user request"]
    raw = httpx.get(
        url, params={"expand": "event_stream", "event_stream": "raw-queries"}, headers=headers
    ).json()["event_stream"]
    assert [e[1] for e in raw] == ["i"] * 4  # Q, Q, P (B/D/E/S dropped), Q
    stored = httpx.get(url, params={"expand": "event_stream"}, headers=headers).json()
    assert len(stored["event_stream"]) == 12  # 11 frontend messages and the error
    assert stored["script"] == {"data": ""}  # expand without session_input: no input
    nothing = httpx.get(url, headers=headers).json()
    assert "event_stream" not in nothing  # only with ?expand=event_stream


def test_connect_session_from_raw_queries(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bob(gateway)
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    items = _bob_items()
    assert (
        attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
        )
        == []
    )
    _assert_bob(items)
    assert [r.status for r in gateway.details("d4b2-connect-bob")] == [200]


def test_gateway_refusing_raw_queries_falls_back_to_stored_frames(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.formats = {"utf8", "base64"}  # encodeBlobStream without raw-queries: 422
    _bob(gateway)
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    items = _bob_items()
    assert (
        attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
        )
        == []
    )
    _assert_bob(items)  # decoded from the stored Q and P frames
    calls = gateway.details("d4b2-connect-bob")
    assert [(r.status, r.query.get("event_stream")) for r in calls] == [
        (422, ["raw-queries"]),
        (200, None),
    ]


def test_empty_raw_queries_falls_back_to_stored_frames(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A session whose SQL hoop's ParseQuery cannot see (a COPY-only session): null.
    gateway.connect_session(
        "e1-copy", "pg-prod", NOW - timedelta(minutes=3),
        _psql(pg_sync()), user="bob@example.com",
    )  # fmt: skip
    _bob(gateway, "e2-bob")
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    items = _bob_items()
    assert (
        attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
        )
        == []
    )
    _assert_bob(items)
    calls = gateway.details("e1-copy")
    assert [r.query.get("event_stream") for r in calls] == [["raw-queries"], None]


def test_older_gateway_without_raw_queries(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before hoop #854 the gateway ignored an event_stream it did not know and stored
    the body of each Q message (SQL and its NUL); Parse messages were not kept."""
    gateway.legacy = True
    gateway.record_legacy_pg(
        "c9-legacy",
        "bob@example.com",
        "pg-prod",
        NOW - timedelta(minutes=20),
        _psql(
            pg_query("BEGIN"),
            pg_query("GRANT SELECT ON public.customers TO PUBLIC"),
            pg_query("ALTER ROLE reporting SUPERUSER"),
        ),
    )
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    items = _bob_items()
    assert (
        attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
        )
        == []
    )
    _assert_bob(items)
    assert [r.status for r in gateway.details("c9-legacy")] == [200]


# -- machine identities, the connection filter, paging --------------------------------------


def test_machine_identity_is_named(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.connect_session(
        "m1", "pg-prod", NOW - timedelta(minutes=5),
        _psql(pg_query("ALTER ROLE reporting SUPERUSER")),
        machine=True, user_name="ci-deployer", user_id=CI_DEPLOYER_ID,
    )  # fmt: skip
    listed = gateway.list_sessions({})[1]["data"][0]
    assert (listed["user"], listed["user_name"]) == ("", "ci-deployer")
    assert listed["user_id"] == listed["machine_identity_id"] == CI_DEPLOYER_ID
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    items = _bob_items()[1:]
    attribute(
        config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
    )
    best = items[0].attribution[0]
    assert best["actor"] == "ci-deployer" and best["identity_id"] == CI_DEPLOYER_ID
    assert best["identity_type"] == "machine"
    assert "ci-deployer" in attribution_lines(best)[0]


def test_connection_like_overmatch_is_filtered(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # hoop: COALESCE(s.connection::text, '') LIKE @connection; "_" matches any character.
    for sid, conn in (
        ("s1", "pg_prod"),
        ("s2", "pg-prod"),
        ("s3", "pgXprod"),
        ("s4", "prod-replica"),
    ):
        gateway.exec_session(
            sid, f"{sid}@example.com", conn, "ALTER TABLE public.orders ADD COLUMN note text",
            NOW - timedelta(minutes=5),
        )  # fmt: skip
    listed = gateway.list_sessions({"connection": ["pg_prod"]})[1]["data"]
    assert sorted(s["connection"] for s in listed) == ["pg-prod", "pgXprod", "pg_prod"]
    # Without a wildcard the LIKE is exact: "prod" does not return "prod-replica".
    assert gateway.list_sessions({"connection": ["prod"]})[1]["data"] == []

    monkeypatch.setenv("HOOP_TOKEN", TOKEN)
    config = _config(
        tmp_path, f'url = "{gateway.url}"\ntoken_env = "HOOP_TOKEN"\nconnection = "pg_prod"\n'
    )
    items = [DriftItem("table:public.orders", "modified", ["columns", "note"], None, {"t": 1})]
    assert (
        attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
        )
        == []
    )
    assert [a["actor"] for a in items[0].attribution] == ["s1@example.com"]
    assert [r.path for r in gateway.details()] == ["/api/sessions/s1"]  # no detail of the others


def test_paging_while_sessions_arrive(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions added between page requests are neither lost nor read twice."""
    base = NOW - timedelta(minutes=30)
    sql = "ALTER TABLE public.t{n} ADD COLUMN c int"
    for n in range(17):  # one every 7 s
        gateway.exec_session(
            f"old-{n:02d}",
            "a@example.com",
            "pg-prod",
            sql.format(n=n),
            base + timedelta(seconds=7 * n),
        )
    same_second = base + timedelta(minutes=5, microseconds=1000)
    for n in range(17, 29):  # 12 sessions in one second: more than a page
        gateway.exec_session(
            f"burst-{n:02d}",
            "b@example.com",
            "pg-prod",
            sql.format(n=n),
            same_second + timedelta(microseconds=n),
        )
    added: list[str] = []

    def arrive(number: int) -> None:
        # New sessions at the top of the list before the 2nd and 4th page requests,
        # and, before the 5th, one above the part already read (committed late).
        if number in (2, 4):
            for k in range(3):
                sid = f"new-{number}-{k}"
                at = NOW - timedelta(seconds=10 - number - k)
                gateway.exec_session(
                    sid, "c@example.com", "pg-prod", sql.format(n=100 + len(added)), at
                )
                added.append(sid)
        if number == 5:
            late = NOW - timedelta(minutes=15)
            gateway.exec_session("late-mid", "d@example.com", "pg-prod", sql.format(n=999), late)
            added.append("late-mid")

    gateway.before_list = arrive
    config = _gateway_config(tmp_path, gateway, monkeypatch, "page_size = 5\n")
    src = source(config, "hoop-prod")
    assert isinstance(src, HoopSource)
    state = MemoryAuditState()
    result = src.poll(NOW - timedelta(hours=1), NOW, state)
    assert result.problems == [] and result.bad_records == 0
    gateway.before_list = None
    second = src.poll(NOW - timedelta(hours=1), NOW, state)  # the next check
    assert second.problems == []

    everyone = {s.id for s in gateway.sessions}
    assert len(everyone) == 29 + len(added)
    fetched = [r.path.rsplit("/", 1)[1] for r in gateway.details()]
    assert sorted(fetched) == sorted(everyone)  # each session read exactly once
    keys = [e.key for e in state.events("hoop-prod", NOW - timedelta(hours=2), NOW)]
    assert sorted(keys) == sorted(everyone)  # one event each, none doubled
    # All were read by the first poll; the next one lists again but fetches nothing.
    assert result.new_events == len(everyone) and second.new_events == 0
    # Pages are anchored by time (end_date moves down) with the documented limits.
    lists = gateway.lists()
    assert all(q["limit"] == ["5"] and q["connection"] == ["pg-prod"] for q in lists)
    assert len({q["end_date"][0] for q in lists}) > 2
    assert any(q["offset"] != ["0"] for q in lists)  # the one-second burst


# -- reviews: rendering and severity --------------------------------------------------------


def _entry(review: dict[str, Any] | None) -> dict[str, Any]:
    entry = {
        "source": "hoop",
        "actor": "bob@example.com",
        "db_user": "hoop_svc",
        "at": "2026-11-22T09:58:12Z",
        "statement": "GRANT SELECT ON public.customers TO analyst",
        "session": "7d2e",
        "confidence": 0.95,
        "reason": "exact object + path",
    }
    if review is not None:
        entry["review"] = review
    return entry


def test_review_is_read_and_rendered(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftd.alerts.text import item_lines, who

    at = NOW - timedelta(minutes=10)
    reviews = {
        "r-approved": approved_by("carol@example.com", at),
        "r-pending": Review(status="PENDING", groups=[ReviewGroup("dba", "PENDING")]),
        "r-rejected": Review(
            status="REJECTED",
            groups=[
                ReviewGroup("dba", "REJECTED", "dan@example.com", reviewed_at=at, owner_id="u1")
            ],
            rejection_reason="not in prod",
        ),
        "r-revoked": Review(
            status="REVOKED",
            type="jit",
            revoked_at=at + timedelta(minutes=5),
            groups=[
                ReviewGroup("dba", "APPROVED", "carol@example.com", reviewed_at=at, owner_id="u2")
            ],
        ),
        "r-none": None,
    }
    for n, (sid, review) in enumerate(reviews.items()):
        gateway.exec_session(
            sid, "bob@example.com", "pg-prod", f"GRANT SELECT ON public.t{n} TO analyst",
            at + timedelta(seconds=n), review=review,
        )  # fmt: skip
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    items = [
        DriftItem(f"table:public.t{n}", "modified", ["grants", "analyst"], None, ["SELECT"])
        for n in range(len(reviews))
    ]
    attribute(
        config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
    )
    got = {i.attribution[0]["session"]: i.attribution[0]["review"] for i in items}
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got["r-approved"] == {
        "status": "approved",
        "hoop_status": "EXECUTED",
        "type": "onetime",
        "approved_by": ["carol@example.com"],
        "approved_at": stamp,
    }
    assert got["r-none"] == {"status": "unreviewed", "approved_by": [], "approved_at": None}
    assert got["r-pending"]["status"] == "pending"
    assert got["r-rejected"]["rejected_by"] == ["dan@example.com"]
    texts = {sid: review_text(r) for sid, r in got.items()}
    assert texts == {
        "r-approved": f"approved by carol@example.com at {stamp}",
        "r-pending": "not approved (review pending)",
        "r-rejected": "not approved (rejected by dan@example.com)",
        "r-revoked": f"approved by carol@example.com at {stamp}, access revoked at "
        + (at + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "r-none": "not reviewed",
    }
    # The people's report and every alert's "who" carry it; other sources are unchanged.
    assert attribution_lines(_entry(got["r-none"]))[-1] == "  review: not reviewed"
    assert who(_entry(got["r-approved"])).endswith(
        f"via hoop, approved by carol@example.com at {stamp}"
    )
    assert who(_entry(None)) == "bob@example.com (as hoop_svc) at 2026-11-22T09:58:12Z via hoop"
    item = {"id": "x", "severity": "critical", "object": "table:public.t0", "change": "modified",
            "path": ["grants", "analyst"], "before": None, "after": ["SELECT"],
            "attribution": [_entry(got["r-none"])]}  # fmt: skip
    assert any(line.endswith("via hoop, not reviewed") for line in item_lines(item))


def test_review_based_severity_rules() -> None:
    def grant(review: dict[str, Any] | None, attributed: bool = True) -> DriftItem:
        item = DriftItem("table:public.orders", "modified", ["grants", "analyst"], None, ["SELECT"])
        item.attribution = [_entry(review)] if attributed else []
        return item

    def unattributed(item: DriftItem) -> DriftItem:
        copy = DriftItem(item.object, item.change, item.path, item.before, item.after)
        RuleSet().apply(copy)  # the check's first pass, before attribution
        return copy

    approved = {"status": "approved", "approved_by": ["carol@example.com"], "approved_at": "x"}
    unreviewed: dict[str, Any] = {"status": "unreviewed", "approved_by": [], "approved_at": None}
    rules = RuleSet()
    cases = {
        "approved": grant(approved),
        "unreviewed": grant(unreviewed),
        "pending": grant({"status": "pending", "approved_by": []}),
        "old cache": grant({"status": "EXECUTED", "approved_by": ["carol@example.com"]}),
        "pgaudit": grant(None),
        "nobody": grant(None, attributed=False),
    }
    # Before attribution (the check's first pass) every grant change is high.
    assert {unattributed(i).severity for i in cases.values()} == {"high"}
    items = list(cases.values())
    rules.after_attribution(items)
    assert {k: i.severity for k, i in cases.items()} == {
        "approved": "high",
        "unreviewed": "critical",
        "pending": "critical",
        "old cache": "high",
        "pgaudit": "high",
        "nobody": "high",
    }
    assert cases["unreviewed"].rules[0] == "unreviewed-access-change"
    assert items[0] in (cases["unreviewed"], cases["pending"])  # most severe first
    # Not an access change: a column, even unreviewed, stays medium.
    column = DriftItem("table:public.orders", "modified", ["columns", "x"], None, {"type": "int"})
    column.attribution = [_entry(unreviewed)]
    rules.after_attribution([column])
    assert column.severity == "medium"

    # [[rules.custom]] review = "approved" | "unreviewed"; re-rated like any built-in.
    custom_rules = [
        {"name": "approved-is-fine", "review": "approved", "severity": "low"},
        {"name": "unreviewed-tables", "object": "table:*", "review": "unreviewed"},
    ]
    custom_rules[1]["severity"] = "critical"
    custom = RuleSet(
        Rules.model_validate(
            {"severity": {"unreviewed-access-change": "high"}, "custom": custom_rules}
        )
    )
    a, u, n = grant(approved), grant(unreviewed), grant(None)
    column.severity = "medium"
    custom.after_attribution([a, u, n, column])
    assert (a.severity, a.rules) == ("low", ["approved-is-fine"])
    assert (u.severity, u.rules) == ("critical", ["unreviewed-tables"])
    assert (column.severity, column.rules) == ("critical", ["unreviewed-tables"])
    assert n.severity == "high" and n.rules == ["grant-changed"]  # no review known: no match


def test_review_key_is_validated(tmp_path: Path) -> None:
    from driftd.errors import ConfigError

    text = textwrap.dedent(
        """
        [[rules.custom]]
        name = "x"
        review = "maybe"
        severity = "low"
        """
    )
    with pytest.raises(ConfigError) as info:
        parse(text, tmp_path / "driftd.toml")
    assert "rules.custom" in str(info.value) and "review" in str(info.value)


# -- failures are counted, never fatal ------------------------------------------------------


def test_malformed_session_detail_is_a_bad_record(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = NOW - timedelta(minutes=10)
    gateway.exec_session(
        "ok-alice",
        "alice@example.com",
        "pg-prod",
        "ALTER TABLE public.orders ADD COLUMN note text",
        start,
    )
    broken = gateway.exec_session(
        "bad-html", "x@example.com", "pg-prod", "DROP TABLE public.a", start
    )
    broken.raw_detail = b"<html><body>502 Bad Gateway</body></html>"
    bad_utf8 = gateway.connect_session(
        "bad-utf8", "pg-prod", start, _psql(pg_query("DROP TABLE public.b")), user="y@example.com"
    )
    bad_utf8.raw_detail = b'{"id": "bad-utf8", "user": "\xff\xfe"}'
    _bob(gateway)
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    items = [
        DriftItem("table:public.orders", "modified", ["columns", "note"], None, {"t": 1}),
        *_bob_items(),
    ]
    problems = attribute(
        config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=MemoryAuditState()
    )
    assert problems == ["audit.hoop-prod: 2 unparseable record(s) skipped"]
    assert items[0].attribution[0]["actor"] == "alice@example.com"
    _assert_bob(items[1:])


def test_finished_sessions_are_read_once(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bob(gateway)
    gateway.connect_session(
        "running", "pg-prod", NOW - timedelta(minutes=2),
        _psql(pg_query("ALTER TABLE public.orders ADD COLUMN note text")),
        user="alice@example.com", ended=False,
    )  # fmt: skip
    config = _gateway_config(tmp_path, gateway, monkeypatch)
    state = MemoryAuditState()
    items = _bob_items()
    attribute(config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=state)
    again = _bob_items()
    attribute(config.resolve("prod"), again, NOW - timedelta(hours=1), NOW, state=state)
    assert again[0].attribution == items[0].attribution
    assert len(gateway.details("d4b2-connect-bob")) == 1
    assert len(gateway.details("running")) == 2  # still open: read again
    keys = [e.key for e in state.events("hoop-prod", NOW - timedelta(hours=2), NOW)]
    assert len(keys) == len(set(keys))


def test_gateway_refuses_bad_list_options(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{gateway.url}/api/sessions"
    bad = httpx.get(url, params={"start_date": "2026-11-22 10:00"}, headers=headers)
    assert bad.status_code == 422
    assert "start_date or end_date in wrong format" in bad.json()["message"]
    assert httpx.get(url, params={"offset": "10001"}, headers=headers).status_code == 422
    page = httpx.get(url, params={"limit": "500"}, headers=headers).json()
    assert page == {"data": [], "total": 0, "total_is_capped": False, "has_next_page": False}
    assert httpx.get(url).status_code == 401
    assert httpx.get(f"{url}/nope", headers=headers).json() == {"message": "not found"}


def test_api_key_header_and_token_file(gateway: Gateway, tmp_path: Path) -> None:
    _bob(gateway)
    gateway.api_key = "xapi-9f8e7d6c"
    (tmp_path / "hoop.key").write_text(TOKEN + "\n")
    config = _config(
        tmp_path, f'url = "{gateway.url}"\ntoken_file = "hoop.key"\nconnection = ["pg-prod"]\n'
    )
    items = _bob_items()
    assert (
        attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState()
        )
        == []
    )
    _assert_bob(items)
    (tmp_path / "api.key").write_text("xapi-9f8e7d6c\n")
    config = _config(
        tmp_path, f'url = "{gateway.url}"\napi_key_file = "api.key"\nconnection = "pg-prod"\n'
    )
    items = _bob_items()
    assert (
        attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState()
        )
        == []
    )
    _assert_bob(items)


def test_refused_token_is_a_problem_not_a_failure(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bob(gateway)
    monkeypatch.setenv("HOOP_TOKEN", "wrong-token-value")
    config = _config(
        tmp_path, f'url = "{gateway.url}"\ntoken_env = "HOOP_TOKEN"\nconnection = "pg-prod"\n'
    )
    items = _bob_items()
    problems = attribute(
        config.resolve("prod"), items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState()
    )
    assert len(problems) == 1 and "HTTP 401" in problems[0]
    assert "wrong-token-value" not in problems[0]
    assert all(i.attribution == [] for i in items)


def test_unreachable_gateway_and_missing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOP_TOKEN", raising=False)
    config = _config(
        tmp_path, 'url = "http://127.0.0.1:9"\ntoken_env = "HOOP_TOKEN"\nconnection = "pg-prod"\n'
    )
    problems = attribute(config.resolve("prod"), _bob_items(), None, NOW, state=MemoryAuditState())
    assert problems and "HOOP_TOKEN is not set" in problems[0]
    monkeypatch.setenv("HOOP_TOKEN", TOKEN)
    problems = attribute(config.resolve("prod"), _bob_items(), None, NOW, state=MemoryAuditState())
    assert problems and "cannot reach http://127.0.0.1:9" in problems[0]


def test_exported_sessions_file(gateway: Gateway, tmp_path: Path) -> None:
    """An export of the detail answers (base64 events as the gateway serves them)."""
    _bob(gateway)
    create_index = _psql(pg_query("CREATE INDEX ix ON public.orders (a)"))
    gateway.connect_session(
        "m1", "pg-prod", NOW - timedelta(minutes=5), create_index,
        machine=True, user_name="ci-deployer", user_id=CI_DEPLOYER_ID,
    )  # fmt: skip
    rows = [gateway.get_session(s.id, {"expand": ["event_stream"]})[1] for s in gateway.sessions]
    (tmp_path / "sessions.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows) + "\nnot json\n"
    )
    config = _config(tmp_path, 'file = "sessions.jsonl"\n')
    items = [
        *_bob_items(),
        DriftItem("table:public.orders", "modified", ["indexes", "ix"], None, {"a": 1}),
    ]
    problems = attribute(
        config.resolve("prod"), items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState()
    )
    assert problems == ["audit.hoop-prod: 1 unparseable record(s) skipped"]
    _assert_bob(items[:2])
    assert items[2].attribution[0]["actor"] == "ci-deployer"
    (tmp_path / "sessions.json").write_text(json.dumps({"data": rows}))
    config = _config(tmp_path, 'file = "sessions.json"\n')
    items = _bob_items()
    assert (
        attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState()
        )
        == []
    )
    _assert_bob(items)


def test_hoop_config_errors_name_the_key(tmp_path: Path) -> None:
    from driftd.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'url = "http://h"\ntoken_env = "T"\nconnection = "c"\ntokn = "x"\n')
    assert "audit.hoop-prod.tokn" in str(info.value) and "unknown key" in str(info.value)
    assert "driftd.toml:10" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'url = "http://h"\nconnection = "c"\n')
    assert "token_env" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'url = "http://h"\ntoken_env = "T"\nconnection = "c"\npage_size = 500\n')
    assert "audit.hoop-prod.page_size" in str(info.value)
