"""The ``mariadb_audit`` source and the MySQL/MariaDB statement mapping.

Unit tests read lines copied from a real MariaDB 10.11.19 server_audit log
(plugin 1.4.14, ``server_audit_events=QUERY_DDL,QUERY_DCL``). The end-to-end
test starts a private MariaDB instance (never the shared server) with the
plugin loaded, makes changes as two users and checks that driftd names them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
import pytest
from click.testing import CliRunner

from driftd.attribute.sources import MemoryAuditState, source
from driftd.attribute.sources.mariadb_audit import BadLine, parse_line, unescape, unhide_passwords
from driftd.attribute.sqlrefs import RELATION_KINDS, Ref, analyze
from driftd.config import Config
from driftd.config.load import parse
from driftd.errors import ConfigError
from tests import doc_examples

# From MariaDB 10.11.19 server_audit (plugin 1.4.14), copied verbatim from its log.
REAL_LOG = r"""20261205 11:36:39,vm,root,localhost,4,3,QUERY,,'CREATE DATABASE app',0
20261205 11:36:39,vm,root,localhost,4,4,QUERY,mysql,'CREATE USER \'alice\'@\'%\' IDENTIFIED BY *****\'ss\'',0
20261205 11:36:39,vm,root,localhost,4,6,QUERY,mysql,'GRANT ALL ON app.* TO \'alice\'@\'%\'',0
20261205 11:36:39,vm,alice,127.0.0.1,6,12,QUERY,app,'CREATE TABLE t1 (id int primary key,\n  note varchar(20) DEFAULT \'it\'\'s, here\' COMMENT \'c\\\\d\ttab\')',0
20261205 11:36:39,vm,alice,127.0.0.1,6,13,QUERY,app,'ALTER TABLE t1 ADD COLUMN extra text',0
20261205 11:36:39,vm,alice,127.0.0.1,6,14,QUERY,app,'CREATE INDEX ix_note ON t1 (note)',0
20261205 11:36:39,vm,alice,127.0.0.1,6,15,QUERY,app,'CREATE TABLE t1 (id int)',1050
20261205 11:36:39,vm,bob,127.0.0.1,7,17,QUERY,mysql,'CREATE USER carol@localhost IDENTIFIED BY *****',0
20261205 11:37:07,vm,root,localhost,15,36,QUERY,mysql,'SET PASSWORD FOR carol@localhost = PASSWORD(*****)',0
20261205 11:37:07,vm,root,localhost,16,38,QUERY,mysql,'ALTER USER carol@localhost ACCOUNT UNLOCK',0
20261205 11:37:07,vm,root,localhost,17,40,QUERY,,'select 1',0
"""  # noqa: E501
LINES = REAL_LOG.splitlines()
SECRET_TAIL = "ss"  # what the plugin leaks of the password 'S3cret,pa''ss'


# -- parsing the plugin's lines ----------------------------------------------------------


def test_record_fields() -> None:
    rec = parse_line(LINES[4], UTC)
    assert rec is not None
    assert rec.at == datetime(2026, 12, 5, 11, 36, 39, tzinfo=UTC)
    assert (rec.user, rec.host, rec.session, rec.query_id) == ("alice", "127.0.0.1", "6", "13")
    assert rec.database == "app" and rec.failed is False
    assert rec.query == "ALTER TABLE t1 ADD COLUMN extra text"


def test_quoted_statement_with_comma_quote_newline_tab_backslash() -> None:
    rec = parse_line(LINES[3], UTC)
    assert rec is not None
    assert unescape(rec.query) == (
        "CREATE TABLE t1 (id int primary key,\n"
        "  note varchar(20) DEFAULT 'it''s, here' COMMENT 'c\\\\d\ttab')"
    )


def test_server_local_time_is_converted_with_the_timezone_setting() -> None:
    from zoneinfo import ZoneInfo

    rec = parse_line(LINES[0], ZoneInfo("Asia/Tokyo"))
    assert rec is not None and rec.at == datetime(2026, 12, 5, 2, 36, 39, tzinfo=UTC)


def test_error_code_marks_the_statement_failed() -> None:
    rec = parse_line(LINES[6], UTC)
    assert rec is not None and rec.failed is True


def test_hidden_passwords_parse_and_never_leak() -> None:
    for line in (LINES[1], LINES[7], LINES[8]):
        rec = parse_line(line, UTC)
        assert rec is not None
        sql = unhide_passwords(unescape(rec.query))
        statements, _ = analyze(sql, "mariadb")
        for st in statements:
            assert "*****" not in st.text and SECRET_TAIL not in st.text.replace("pass", "")
    rec = parse_line(LINES[1], UTC)
    assert rec is not None
    (st,), errors = analyze(unhide_passwords(unescape(rec.query)), "mariadb")
    assert errors == 0 and st.text == "CREATE USER `alice`@`%` IDENTIFIED BY ?"
    assert st.refs == [Ref("role", "alice@%", (), "create")]


def test_other_operations_are_skipped_and_garbage_is_bad() -> None:
    assert parse_line("20261205 11:36:35,vm,root,localhost,4,0,CONNECT,,,0", UTC) is None
    assert parse_line("20261205 11:36:35,vm,root,localhost,4,9,CREATE,app,t1,", UTC) is None
    for bad in ("hello", "20261205 11:36:39,vm,root,localhost,4,3,QUERY,,'unterminated,0"):
        with pytest.raises(BadLine):
            parse_line(bad, UTC)


# -- the source: incremental reading, rotation, masking ------------------------------------


def _config(tmp: Path, **settings: Any) -> Config:
    extra = "".join(f'{k} = "{v}"\n' for k, v in settings.items())
    text = textwrap.dedent(
        f"""
        [environments.app]
        url = "mysql+pymysql://root@127.0.0.1:1/app"
        audit = ["mdb"]

        [audit.mdb]
        type = "mariadb_audit"
        path = "{tmp / "server_audit.log"}"
        """
    )
    return parse(text + extra, tmp / "driftd.toml")


def _poll(config: Config, state: MemoryAuditState) -> Any:
    src = source(config, "mdb")
    lo, hi = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    result = src.poll(lo, hi, state)
    return result, state.events("mdb", lo, hi)


def test_source_reads_incrementally_and_follows_rotation(tmp_path: Path) -> None:
    log = tmp_path / "server_audit.log"
    log.write_text("\n".join(LINES[:5]) + "\n")
    config, state = _config(tmp_path), MemoryAuditState()
    result, events = _poll(config, state)
    assert result.bad_records == 0 and result.new_events == 5
    # More lines, then the plugin rotates (server_audit.log -> server_audit.log.1).
    with log.open("a") as fh:
        fh.write(LINES[5] + "\n" + LINES[6][:40])  # the last line is still being written
    result, events = _poll(config, state)
    assert result.new_events == 1
    with log.open("a") as fh:
        fh.write(LINES[6][40:] + "\n")
    log.rename(tmp_path / "server_audit.log.1")
    log.write_text("\n".join(LINES[7:]) + "\n")
    result, events = _poll(config, state)
    assert result.problems == [] and result.bad_records == 0
    # The failed CREATE TABLE, CREATE USER carol, ALTER USER (not SET PASSWORD, SELECT).
    assert result.new_events == 3
    texts = [e.statements[0].text for e in events]
    assert len(texts) == len({e.key for e in events}) == 9  # nothing read twice
    failed = [e for e in events if e.failed]
    assert [e.statements[0].text for e in failed] == ["CREATE TABLE t1 (id int)"]
    by_text = {e.statements[0].text: e for e in events}
    create = by_text["CREATE TABLE t1 (id int primary key,\n  note varchar(?) DEFAULT ? COMMENT ?)"]
    assert create.db_user == "alice" and create.session == "6"
    # The session's database qualifies the names the statement left out.
    assert create.statements[0].refs == [Ref("relation", "app.t1", (), "create")]
    assert create.extra["current_database"] == "app"
    assert by_text["CREATE INDEX ix_note ON t1 (note)"].statements[0].refs == [
        Ref("relation", "app.t1", ("indexes", "ix_note"), "create")
    ]
    assert all("*****" not in t and "S3cret" not in t for t in texts)


def test_query_events_keep_only_schema_and_account_changes(tmp_path: Path) -> None:
    (tmp_path / "server_audit.log").write_text(LINES[8] + "\n" + LINES[10] + "\n")
    result, events = _poll(_config(tmp_path), MemoryAuditState())
    assert events == [] and result.unparsed_statements == 0


def test_timezone_setting_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"driftd.toml:9: audit.mdb.timezone: unknown time zone"):
        _config(tmp_path, timezone="Mars/Olympus")


# -- MySQL statements map to the collector's keys and paths --------------------------------

DB = "app"
MYSQL_CASES: list[tuple[str, list[Ref]]] = [
    ("CREATE TABLE app.t (id int)", [Ref("relation", "app.t", (), "create")]),
    (
        "DROP TABLE app.t, u",
        [Ref("relation", "app.t", (), "drop"), Ref("relation", "u", (), "drop", False)],
    ),
    ("ALTER TABLE app.t ADD COLUMN c int", [Ref("relation", "app.t", ("columns", "c"), "create")]),
    ("ALTER TABLE app.t DROP COLUMN c", [Ref("relation", "app.t", ("columns", "c"), "drop")]),
    ("ALTER TABLE app.t MODIFY c bigint", [Ref("relation", "app.t", ("columns", "c"), "alter")]),
    (
        "ALTER TABLE app.t CHANGE c d int",
        [
            Ref("relation", "app.t", ("columns", "c"), "drop"),
            Ref("relation", "app.t", ("columns", "d"), "create"),
        ],
    ),
    ("ALTER TABLE app.t ADD INDEX ix (c)", [Ref("relation", "app.t", ("indexes", "ix"), "create")]),
    (
        "ALTER TABLE app.t ADD UNIQUE KEY uq (c)",
        [Ref("relation", "app.t", ("constraints", "uq"), "create")],
    ),
    (
        "ALTER TABLE app.t DROP FOREIGN KEY fk",
        [Ref("relation", "app.t", ("constraints", "fk"), "drop")],
    ),
    ("ALTER TABLE app.t COMMENT = 'x'", [Ref("relation", "app.t", ("comment",), "alter")]),
    ("CREATE INDEX ix ON app.t (c)", [Ref("relation", "app.t", ("indexes", "ix"), "create")]),
    (
        "CREATE UNIQUE INDEX uq ON app.t (c)",
        [Ref("relation", "app.t", ("constraints", "uq"), "create")],
    ),
    (
        "DROP INDEX ix ON app.t",
        [
            Ref("relation", "app.t", ("indexes", "ix"), "drop"),
            Ref("relation", "app.t", ("constraints", "ix"), "drop"),
        ],
    ),
    ("CREATE VIEW app.v AS SELECT 1", [Ref("relation", "app.v", (), "create")]),
    ("CREATE OR REPLACE VIEW app.v AS SELECT 2", [Ref("relation", "app.v", (), "replace")]),
    ("CREATE DATABASE app", [Ref("database", "app", (), "create")]),
    ("CREATE SCHEMA app", [Ref("database", "app", (), "create")]),
    ("DROP DATABASE app", [Ref("database", "app", (), "drop")]),
    (
        "ALTER DATABASE app CHARACTER SET latin1",
        [
            Ref("database", "app", ("charset",), "alter"),
            Ref("database", "app", ("collation",), "alter"),
        ],
    ),
    (
        "RENAME TABLE app.a TO app.b",
        [Ref("relation", "app.a", (), "drop"), Ref("relation", "app.b", (), "create")],
    ),
    ("CREATE USER 'dave'@'%' IDENTIFIED BY 'x'", [Ref("role", "dave@%", (), "create")]),
    ("CREATE ROLE r1", [Ref("role", "r1", (), "create")]),
    (
        "ALTER USER 'dave'@'%' ACCOUNT LOCK",
        [Ref("role", "dave@%", ("account_locked",)), Ref("role", "dave@%", ("login",))],
    ),
    ("DROP USER dave@localhost", [Ref("role", "dave@localhost", (), "drop")]),
    ("GRANT SELECT ON *.* TO 'dave'@'%'", [Ref("role", "dave@%", ("grants", "*.*"), "grant")]),
    (
        "GRANT SELECT ON `app`.* TO 'dave'@'%'",
        [Ref("role", "dave@%", ("grants", "app.*"), "grant")],
    ),
    (
        "GRANT SELECT ON app.t TO 'dave'@'%'",
        [Ref("relation", "app.t", ("grants", "dave@%"), "grant")],
    ),
    (
        "GRANT SELECT (c) ON app.t TO 'dave'@'%'",
        [Ref("relation", "app.t", ("column_grants", "c", "dave@%"), "grant")],
    ),
    (
        "REVOKE INSERT ON app.t FROM dave@'%'",
        [Ref("relation", "app.t", ("grants", "dave@%"), "revoke")],
    ),
    ("GRANT r1 TO 'dave'@'%'", [Ref("role", "dave@%", ("member_of", "r1"), "grant")]),
]


@pytest.mark.parametrize(("sql", "refs"), MYSQL_CASES, ids=[c[0] for c in MYSQL_CASES])
def test_mysql_statement_refs(sql: str, refs: list[Ref]) -> None:
    (st,), errors = analyze(sql, "mariadb")
    assert errors == 0 and st.parsed and not st.dynamic
    assert st.refs == refs


def test_mysql_masks_literals_but_keeps_account_names() -> None:
    (st,), _ = analyze("CREATE USER 'dave'@'%' IDENTIFIED BY 'Secret-1'", "mariadb")
    assert st.text == "CREATE USER `dave`@`%` IDENTIFIED BY ?"
    (st,), _ = analyze("ALTER TABLE app.t ADD COLUMN c varchar(9) DEFAULT 'x@y.z'", "mysql")
    assert "x@y.z" not in st.text


def test_no_foreign_table_kind() -> None:
    assert "foreign_table" not in RELATION_KINDS


def test_data_statements_are_not_candidates() -> None:
    for sql in ("TRUNCATE TABLE app.t", "SELECT 1", "INSERT INTO t VALUES (1)", "SET GLOBAL x = 1"):
        assert analyze(sql, "mariadb") == ([], 0)


# -- end to end: a private MariaDB with server_audit ----------------------------------------

PLUGIN = Path("/usr/lib/mysql/plugin/server_audit.so")
SERVER_TZ = "Asia/Tokyo"  # the server writes local time: a zone far from UTC proves the setting


@dataclass
class Server:
    root: Path
    port: int
    audit_log: Path

    def connect(self, user: str = "root", password: str = "", db: str | None = None) -> Any:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=user,
            password=password,
            database=db,
            autocommit=True,
            connect_timeout=5,
        )

    def run(self, user: str, password: str, *statements: str, db: str | None = None) -> list[int]:
        """Run statements; the MySQL error code of each (0 = success)."""
        codes = []
        conn = self.connect(user, password, db)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    try:
                        cur.execute(statement)
                        codes.append(0)
                    except pymysql.MySQLError as exc:
                        codes.append(int(exc.args[0]))
        finally:
            conn.close()
        return codes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Server]:
    if not PLUGIN.exists():
        pytest.fail(
            f"{PLUGIN} is missing: install the MariaDB server (apt-get install mariadb-server)",
            pytrace=False,
        )
    root = Path(tempfile.mkdtemp(prefix="driftd-mariadb-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        data = root / "data"
        done = subprocess.run(
            [
                shutil.which("mariadb-install-db") or "mysql_install_db",
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        server = Server(root, _free_port(), root / "server_audit.log")
        proc = subprocess.Popen(
            [
                shutil.which("mariadbd") or "mysqld",
                "--no-defaults",
                "--user=root",
                f"--datadir={data}",
                f"--socket={root / 's.sock'}",
                f"--port={server.port}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--skip-log-bin",
                f"--pid-file={root / 'mariadbd.pid'}",
                f"--log-error={root / 'error.log'}",
                "--innodb-buffer-pool-size=16M",
                "--plugin-load-add=server_audit",
                "--server-audit-logging=ON",
                "--server-audit-events=QUERY_DDL,QUERY_DCL",
                f"--server-audit-file-path={server.audit_log}",
            ],
            env={**os.environ, "TZ": SERVER_TZ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                server.connect().close()
                break
            except pymysql.MySQLError:
                if time.monotonic() > deadline:
                    pytest.fail("the private MariaDB did not start in 60 s", pytrace=False)
            try:
                proc.wait(timeout=0.05)  # waits on the server, returns early if it died
            except subprocess.TimeoutExpired:
                continue
            log = (root / "error.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"the private MariaDB exited:\n{log}", pytrace=False)
        yield server
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _check(config: Config, state: MemoryAuditState) -> list[Any]:
    from driftd.check import check_environment

    report = check_environment(config.resolve("app"), audit_state=state)
    assert report.error is None, report.error
    return list(report.drift)


def test_changes_through_a_real_server_are_attributed(mariadb: Server, tmp_path: Path) -> None:
    mariadb.run(
        "root",
        "",
        "CREATE DATABASE app CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        "CREATE TABLE app.orders (id int PRIMARY KEY, qty int)",
        "CREATE USER 'alice'@'%' IDENTIFIED BY 'Alice-pw1'",
        "CREATE USER 'bob'@'%' IDENTIFIED BY 'Bob,pa''ss'",
        "CREATE USER 'reader'@'%' IDENTIFIED BY 'Reader-pw1'",
        "GRANT ALL ON app.* TO 'alice'@'%'",
        "GRANT ALL ON app.* TO 'bob'@'%' WITH GRANT OPTION",
        "GRANT CREATE USER ON *.* TO 'bob'@'%'",
    )
    (tmp_path / "driftd.toml").write_text(
        textwrap.dedent(
            f"""
            [driftd]
            baselines_dir = "baselines"

            [environments.app]
            url = "mysql+pymysql://root@127.0.0.1:{mariadb.port}/app"
            audit = ["mdb"]

            [audit.mdb]
            type = "mariadb_audit"
            path = "{mariadb.audit_log}"
            timezone = "{SERVER_TZ}"
            """
        )
    )
    from driftd.cli.main import cli

    res = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "driftd.toml"), "baseline", "accept", "app"]
    )
    assert res.exit_code == 0, res.output
    config = parse((tmp_path / "driftd.toml").read_text(), tmp_path / "driftd.toml")
    state = MemoryAuditState()
    assert _check(config, state) == []  # clean: the source has read the log up to here

    started = datetime.now(UTC)
    alice = mariadb.run(
        "alice",
        "Alice-pw1",
        "CREATE TABLE t1 (\n  id int PRIMARY KEY,\n  note varchar(20) DEFAULT 'it''s, here'\n)",
        "ALTER TABLE orders ADD COLUMN note varchar(40)",
        "CREATE TABLE orders (id int)",  # fails: 1050, never a candidate
        "GRANT SELECT ON app.orders TO 'reader'@'%'",  # fails: alice may not grant
        "ALTER DATABASE app CHARACTER SET latin1",
        db="app",
    )
    assert alice[0:2] == [0, 0] and alice[2] == 1050 and alice[3] != 0 and alice[4] == 0
    # The plugin renames the file (server_audit.log -> .1) and goes on in a new one.
    mariadb.run("root", "", "SET GLOBAL server_audit_file_rotate_now = ON")
    bob = mariadb.run(
        "bob",
        "Bob,pa'ss",
        "CREATE INDEX ix_qty ON app.orders (qty)",
        "GRANT SELECT ON app.orders TO 'reader'@'%'",
        "CREATE USER 'dave'@'%' IDENTIFIED BY 'Dave-secret-9'",
    )
    assert bob == [0, 0, 0]
    assert (mariadb.root / "server_audit.log.1").exists()

    drift = _check(config, state)
    got = {(d.object, tuple(d.path)): d.attribution for d in drift}
    expected = {
        ("table:app.t1", ()): (
            "alice",
            "CREATE TABLE t1 (\n  id int PRIMARY KEY,\n  note varchar(?) DEFAULT ?\n)",
        ),
        ("table:app.orders", ("columns", "note")): (
            "alice",
            "ALTER TABLE orders ADD COLUMN note varchar(?)",
        ),
        ("table:app.orders", ("indexes", "ix_qty")): (
            "bob",
            "CREATE INDEX ix_qty ON app.orders (qty)",
        ),
        ("table:app.orders", ("grants", "reader@%")): (
            "bob",
            "GRANT SELECT ON app.orders TO `reader`@`%`",
        ),
        ("role:dave@%", ()): ("bob", "CREATE USER `dave`@`%` IDENTIFIED BY ?"),
        ("database:app", ("charset",)): ("alice", "ALTER DATABASE app CHARACTER SET latin1"),
        ("database:app", ("collation",)): ("alice", "ALTER DATABASE app CHARACTER SET latin1"),
    }
    for key, (user, statement) in expected.items():
        assert key in got, (key, sorted(got))
        best = got[key][0]
        assert (best["db_user"], best["statement"], best["source"]) == (
            user,
            statement,
            "mariadb_audit",
        )
        assert best["confidence"] >= 0.9, best
        at = datetime.fromisoformat(best["at"].replace("Z", "+00:00"))
        assert started - timedelta(seconds=2) <= at <= datetime.now(UTC) + timedelta(seconds=1)
        # The failed statements (error code != 0) are never candidates.
        for entry in got[key]:
            assert entry["statement"] not in ("CREATE TABLE orders (id int)",)
            assert not (entry["db_user"] == "alice" and entry["statement"].startswith("GRANT"))
    assert set(got) == set(expected), sorted(set(got) - set(expected))
    doc_examples.check(
        "mariadb_audit", got[("table:app.orders", ("grants", "reader@%"))][0], "table grant added"
    )
    # No password (nor the tail the plugin leaks of a quoted one) reaches the report.
    dumped = repr([d.attribution for d in drift])
    for secret in ("Dave-secret-9", "Bob,pa", "*****"):
        assert secret not in dumped
