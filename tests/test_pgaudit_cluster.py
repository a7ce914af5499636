"""End to end: real PostgreSQL 15 clusters with pgaudit, two login roles, `driftd check`.

The tests start their own throwaway clusters (initdb + pg_ctl as the
``postgres`` system user, on a free port) so they can load pgaudit and write
the server log to files; nothing is ever set on the shared server. One
``initdb`` is copied for each server configuration (``postgresql.conf``
settings: default, ``log_error_verbosity = verbose``,
``pgaudit.log_statement_once = on``, ``pgaudit.log_statement = off``). Every
cluster runs the logging collector with ``log_destination = 'stderr,
csvlog, jsonlog'``, so one workload gives the same records in the three
formats, and one ``driftd`` config with an environment per format reads them
all: 4 cluster starts cover the 12 combinations.

The workload: ``alice`` creates a table with a primary key and adds a column,
``bob`` grants on his table to PUBLIC and alters a role (with a password,
which pgaudit redacts), then tries a change he may not make. Without pgaudit
installed the tests fail with the command to install it.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from driftd.attribute.sources import source
from driftd.attribute.sources.state import MemoryAuditState
from driftd.config.load import load
from tests import doc_examples
from tests.private_pg import PG_BIN, as_postgres, free_port

PGAUDIT_SO = Path("/usr/lib/postgresql/15/lib/pgaudit.so")
INSTALL_HINT = (
    "pgaudit for PostgreSQL 15 is not installed; install it with "
    "`bash .ci/install-system.sh` (apt-get install -y postgresql-15-pgaudit)"
)
PREFIX = "%m [%p] %q%u@%d "
LOG_WAIT = 30.0  # seconds for the logging collector to write a line

# Server configurations (postgresql.conf lines) and the log formats read.
SETTINGS: dict[str, dict[str, str]] = {
    "default": {},
    "verbose": {"log_error_verbosity": "verbose"},
    "log_statement_once": {"pgaudit.log_statement_once": "on"},
    "log_statement_off": {"pgaudit.log_statement": "off"},
}
FORMATS = {"stderr": "postgresql.log", "csvlog": "postgresql.csv", "jsonlog": "postgresql.json"}

CREATE_INVOICES = "CREATE TABLE shop.invoices (id bigint PRIMARY KEY,\n  total numeric)"
ADD_NOTE = "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'call 555-0100'"
GRANT_PUBLIC = "GRANT SELECT ON shop.customers TO PUBLIC"
ALTER_CAROL = "ALTER ROLE carol CONNECTION LIMIT 3 PASSWORD 'hunter2'"
NOT_LOGGED = " (pgaudit: statement not logged)"


@dataclass(frozen=True)
class Expected:
    user: str
    statement: str
    reason: str
    confidence: float  # at least


# (object, path) → who and what, when pgaudit logs the statement text ...
WITH_TEXT: dict[tuple[str, tuple[str, ...]], Expected] = {
    ("table:shop.invoices", ()): Expected("alice", CREATE_INVOICES, "exact object + path", 0.9),
    ("table:shop.orders", ("columns", "note")): Expected(
        "alice",
        "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?",
        "exact object + path",
        0.9,
    ),
    ("table:shop.customers", ("grants", "PUBLIC")): Expected(
        "bob", GRANT_PUBLIC, "exact object + path", 0.9
    ),
    ("role:carol", ("connection_limit",)): Expected(
        "bob", "ALTER ROLE carol CONNECTION LIMIT ? PASSWORD ?", "exact object + path", 0.9
    ),
}
# ... and with pgaudit.log_statement = off: the object fields stand in.
WITHOUT_TEXT: dict[tuple[str, tuple[str, ...]], Expected] = {
    ("table:shop.invoices", ()): Expected(
        "alice", "CREATE TABLE shop.invoices" + NOT_LOGGED, "exact object + path", 0.9
    ),
    ("table:shop.orders", ("columns", "note")): Expected(
        "alice", "ALTER TABLE shop.orders" + NOT_LOGGED, "object only", 0.55
    ),
    # GRANT lines name the object type only (TABLE): any table's grants.
    ("table:shop.customers", ("grants", "PUBLIC")): Expected(
        "bob", "GRANT ON TABLE" + NOT_LOGGED, "exact object + path", 0.75
    ),
    # Role commands have no object fields: some role.
    ("role:carol", ("connection_limit",)): Expected(
        "bob", "ALTER ROLE" + NOT_LOGGED, "object only", 0.4
    ),
}


def _run(config: Path, *args: str) -> tuple[int, str, str]:
    from driftd.cli.main import cli

    res = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


@dataclass
class Cluster:
    root: Path
    data: Path
    port: int
    settings: dict[str, str]
    markers: Iterator[int] = field(default_factory=itertools.count)

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    def log(self, fmt: str) -> Path:
        return self.log_dir / FORMATS[fmt]

    def url(self, db: str, user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str, user: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} dbname={db} user={user}",
            autocommit=True,
            connect_timeout=5,
        )

    def _text(self, fmt: str) -> str:
        try:
            return self.log(fmt).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def flush_log(self) -> None:
        """Wait until everything logged so far is in all three files: the logging
        collector writes asynchronously, in order, so a marker logged now shows
        that every earlier line is there."""
        marker = f"driftd-test-marker-{next(self.markers)}"
        with self.connect("postgres") as conn:
            conn.execute(f"DO $$BEGIN RAISE LOG '{marker}'; END$$")
        deadline = time.monotonic() + LOG_WAIT
        waiting = set(FORMATS)
        while waiting:
            waiting = {f for f in waiting if marker not in self._text(f)}
            if waiting and time.monotonic() > deadline:
                raise AssertionError(f"{marker} not in the {sorted(waiting)} log after {LOG_WAIT}s")
            if waiting:
                time.sleep(0.05)  # polling interval of the deadline loop, not a fixed wait


@pytest.fixture(scope="module")
def start_cluster() -> Iterator[Callable[[dict[str, str]], Cluster]]:
    """Start a private cluster with the given postgresql.conf settings (one initdb,
    copied per cluster); all are stopped and removed at the end, also on failure."""
    if not PGAUDIT_SO.exists():
        pytest.fail(INSTALL_HINT, pytrace=False)
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 server binaries are missing (apt-get install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="driftd-pgaudit-"))
    started: list[Cluster] = []
    try:
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o755)
        template = root / "template"
        done = as_postgres(
            str(PG_BIN / "initdb"),
            *("-D", str(template), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
        )
        assert done.returncode == 0, done.stderr

        def start(settings: dict[str, str]) -> Cluster:
            home = root / f"c{len(started)}"
            home.mkdir()
            shutil.chown(home, "postgres", "postgres")
            data = home / "data"
            shutil.copytree(template, data, symlinks=True)
            for path in [data, *data.rglob("*")]:
                shutil.chown(path, "postgres", "postgres")
            port = free_port()
            conf = {
                "port": str(port),
                "listen_addresses": "'127.0.0.1'",
                "unix_socket_directories": f"'{home}'",
                "shared_preload_libraries": "'pgaudit'",
                "pgaudit.log": "'ddl, role'",
                "log_line_prefix": f"'{PREFIX}'",
                "logging_collector": "on",
                "log_destination": "'stderr,csvlog,jsonlog'",
                "log_directory": f"'{home}/log'",
                "log_filename": "'postgresql.log'",
                "fsync": "off",
                **settings,
            }
            with (data / "postgresql.conf").open("a") as fh:
                fh.write("".join(f"{k} = {v}\n" for k, v in conf.items()))
            cluster = Cluster(home, data, port, settings)
            run = as_postgres(
                str(PG_BIN / "pg_ctl"),
                *("-D", str(data), "-l", str(home / "start.log"), "-w", "-t", "60", "start"),
            )
            started.append(cluster)  # stopped at the end even when the start half failed
            if run.returncode != 0:
                text = (home / "start.log").read_text() if (home / "start.log").exists() else ""
                if "pgaudit" in text:
                    pytest.fail(f"{INSTALL_HINT}\n{text[-2000:]}", pytrace=False)
                raise AssertionError(run.stdout + run.stderr + text[-2000:])
            return cluster

        yield start
    finally:
        for cluster in started:
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Outcome:
    """One cluster after the workload: the driftd config and each format's drift."""

    cluster: Cluster
    config: Path
    drift: dict[str, dict[tuple[str, tuple[str, ...]], dict[str, Any]]]
    raw: dict[str, str]
    stderr: str


def _config_text(cluster: Cluster, source_type: str = "pgaudit") -> str:
    text = '[driftd]\nbaselines_dir = "baselines"\nstate_url = "sqlite:///state.db"\n'
    for fmt in FORMATS:
        text += textwrap.dedent(
            f"""
            [environments.{fmt}]
            url = "{cluster.url("app")}"
            schemas = ["shop"]
            roles = ["alice", "bob", "carol"]
            cluster_objects = true  # one database read per log format: each reports roles
            baseline = "baselines/app.json"
            audit = ["pga-{fmt}"]

            [audit.pga-{fmt}]
            type = "{source_type}"
            path = "{cluster.log(fmt)}"
            log_line_prefix = "{PREFIX}"
            window_slack = "0s"  # same host, same clock: the setup must fall outside
            """
        )
    return text


def _workload(cluster: Cluster, tmp: Path, source_type: str = "pgaudit") -> Outcome:
    with cluster.connect("postgres") as admin:
        admin.execute("CREATE DATABASE app")
        admin.execute("CREATE ROLE alice LOGIN")
        admin.execute("CREATE ROLE bob LOGIN CREATEROLE")
        admin.execute("CREATE ROLE carol LOGIN")
    with cluster.connect("app") as app:
        app.execute("CREATE EXTENSION pgaudit")  # its event triggers fill the object fields
        app.execute("CREATE SCHEMA shop")
        app.execute("GRANT USAGE, CREATE ON SCHEMA shop TO alice, bob")
        app.execute("CREATE TABLE shop.orders (id bigint PRIMARY KEY)")
        app.execute("ALTER TABLE shop.orders OWNER TO alice")
        app.execute("CREATE TABLE shop.customers (id bigint PRIMARY KEY, email text)")
        app.execute("ALTER TABLE shop.customers OWNER TO bob")
    config = tmp / "driftd.toml"
    config.write_text(_config_text(cluster, source_type))
    code, out, err = _run(config, "baseline", "accept", "stderr")
    assert code == 0, out + err
    # A first check reads the log so far (the setup above): nothing to attribute yet,
    # and its time starts the attribution window.
    cluster.flush_log()
    code, out, err = _run(config, "check", "--format", "json")
    assert code == 0, out + err

    with cluster.connect("app", "alice") as alice:
        alice.execute(CREATE_INVOICES)
        alice.execute(ADD_NOTE)
    with cluster.connect("app", "bob") as bob:
        bob.execute(GRANT_PUBLIC)
        bob.execute(ALTER_CAROL)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bob.execute("ALTER TABLE shop.orders ADD COLUMN bob_was_here int")
    cluster.flush_log()

    code, out, err = _run(config, "check", "--format", "json")
    assert code == 1, out + err
    drift = {
        env["name"]: {(d["object"], tuple(d["path"])): d for d in env["drift"]}
        for env in json.loads(out)["environments"]
    }
    return Outcome(cluster, config, drift, {"json": out}, err)


@pytest.fixture(scope="module")
def outcomes(
    start_cluster: Callable[[dict[str, str]], Cluster], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Outcome]:
    """The workload's outcome on the cluster of one configuration (started once)."""
    done: dict[str, Outcome | BaseException] = {}

    def get(name: str) -> Outcome:
        if name not in done:
            try:
                cluster = start_cluster(SETTINGS[name])
                done[name] = _workload(cluster, tmp_path_factory.mktemp(name))
            except BaseException as exc:  # the next test of this setting fails alike, no restart
                done[name] = exc
                raise
        got = done[name]
        if isinstance(got, BaseException):
            raise got
        return got

    return get


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("settings", list(SETTINGS))
def test_each_drift_item_is_attributed_to_its_login_role(
    outcomes: Callable[[str], Outcome], settings: str, fmt: str
) -> None:
    outcome = outcomes(settings)
    drift = outcome.drift[fmt]
    expected = WITHOUT_TEXT if settings == "log_statement_off" else WITH_TEXT
    assert set(drift) == set(expected), sorted(drift)
    for key, want in expected.items():
        attribution = drift[key]["attribution"]
        assert attribution, f"{key} has no attribution"
        best = attribution[0]
        got = (best["db_user"], best["actor"], best["statement"], best["reason"])
        assert got == (want.user, want.user, want.statement, want.reason), (key, attribution)
        assert best["source"] == "pgaudit" and best["source_name"] == f"pga-{fmt}"
        assert best["confidence"] >= want.confidence, (key, best)
        assert best["session"].isdigit() and best["database"] == "app"
        # The other role is never the best: with the statement text it is no
        # candidate at all; without it, only a lower-ranked object-level guess.
        others = [a for a in attribution if a["db_user"] != want.user]
        if settings == "log_statement_off":
            assert all(a["confidence"] < best["confidence"] for a in others), attribution
        else:
            assert others == [], attribution
    if (settings, fmt) == ("default", "stderr"):
        grant = drift[("table:shop.customers", ("grants", "PUBLIC"))]["attribution"][0]
        doc_examples.check("pgaudit", grant, "grant to PUBLIC")
    evidence = json.dumps([d["attribution"] for d in drift.values()])
    # No literal from the statements reaches the evidence (the column default
    # itself is schema, shown in "after"); the password never appears.
    assert "555-0100" not in evidence
    assert "hunter2" not in outcome.raw["json"] and "REDACTED" not in evidence
    assert "bob_was_here" not in outcome.raw["json"]  # the refused statement is no candidate


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("settings", list(SETTINGS))
def test_each_statement_is_one_event(
    outcomes: Callable[[str], Outcome], settings: str, fmt: str
) -> None:
    """The source read directly: every line parses, and the lines of one statement
    (CREATE TABLE and the CREATE INDEX of its primary key, however pgaudit writes
    the second one) give one event."""
    outcome = outcomes(settings)
    config = load(outcome.config)
    now = datetime.now(UTC)
    state = MemoryAuditState()
    result = source(config, f"pga-{fmt}").poll(now - timedelta(hours=1), now, state)
    assert (result.bad_records, result.unparsed_statements, result.problems) == (0, 0, [])
    events = [
        e
        for e in state.events(f"pga-{fmt}", now - timedelta(hours=1), now)
        if e.db_user in ("alice", "bob")
    ]
    assert [(e.db_user, len(e.statements)) for e in events] == [
        ("alice", 1),
        ("alice", 1),
        ("bob", 1),
        ("bob", 1),
    ]
    # One backend each: the statement ids 1, 2 of alice and of bob do not mix.
    assert len({e.session for e in events[:2]}) == len({e.session for e in events[2:]}) == 1
    assert events[0].session != events[2].session
    if fmt != "stderr":
        assert all(e.extra["session_id"] for e in events)
    log = outcome.cluster.log(fmt).read_text()
    if settings == "log_statement_once":
        assert "CREATE INDEX,INDEX,shop.invoices_pkey,<previously logged>" in log
    if settings == "log_statement_off":
        assert "CREATE TABLE,TABLE,shop.invoices,<not logged>,<not logged>" in log
        refs = {(r.kind, r.name, r.action) for r in events[0].statements[0].refs}
        assert refs == {
            ("relation", "shop.invoices", "create"),
            ("index", "shop.invoices_pkey", "create"),  # from the CREATE INDEX line
        }
    if settings == "verbose" and fmt == "stderr":
        assert "LOG:  00000: AUDIT: SESSION," in log and "LOCATION:  log_audit_event" in log


def test_text_report_and_no_attribution(outcomes: Callable[[str], Outcome]) -> None:
    outcome = outcomes("default")
    # The text report shows who and the masked statement under the table.
    code, text, _ = _run(outcome.config, "check", "stderr")
    assert code == 1
    section = text.split("who changed it", 1)[1]
    assert "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?" in section
    assert "alice" in section and "bob" in section
    assert "555-0100" not in section

    # --no-attribution skips the audit sources altogether.
    code, out, _ = _run(outcome.config, "check", "stderr", "--format", "json", "--no-attribution")
    assert code == 1
    assert all(not d["attribution"] for d in json.loads(out)["environments"][0]["drift"])


def test_installed_pgaudit_settings(outcomes: Callable[[str], Outcome]) -> None:
    """The settings these tests rely on exist in the installed pgaudit (1.7)."""
    outcome = outcomes("default")
    with outcome.cluster.connect("app") as conn:
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'pgaudit'"
        ).fetchone()
        names = {
            r[0] for r in conn.execute("SELECT name FROM pg_settings WHERE name LIKE 'pgaudit.%'")
        }
    assert version is not None and version[0] == "1.7"
    assert {"pgaudit.log", "pgaudit.log_statement", "pgaudit.log_statement_once"} <= names


def test_pglog_reads_log_statement_ddl_from_a_real_server(
    start_cluster: Callable[[dict[str, str]], Cluster], tmp_path: Path
) -> None:
    """``pglog``: a server without pgaudit's logging, ``log_statement = 'ddl'`` only.
    Its lines carry passwords in clear: driftd masks them before keeping anything."""
    cluster = start_cluster({"pgaudit.log": "'none'", "log_statement": "'ddl'"})
    outcome = _workload(cluster, tmp_path, source_type="pglog")
    for fmt in FORMATS:
        drift = outcome.drift[fmt]
        assert set(drift) == set(WITH_TEXT), sorted(drift)
        for key, want in WITH_TEXT.items():
            best = drift[key]["attribution"][0]
            assert (best["db_user"], best["source"]) == (want.user, "pglog"), (key, best)
            assert best["statement"] == want.statement, (key, best)
            assert best["reason"] == want.reason and best["confidence"] >= want.confidence
    assert "hunter2" in cluster.log("stderr").read_text()  # in clear in the server log ...
    assert "hunter2" not in outcome.raw["json"]  # ... never past driftd's parser
    grant = outcome.drift["stderr"][("table:shop.customers", ("grants", "PUBLIC"))]
    doc_examples.check("pglog", grant["attribution"][0], "grant to PUBLIC (log_statement)")


def test_settings_set_on_purpose_are_setting_objects(
    start_cluster: Callable[[dict[str, str]], Cluster], tmp_path: Path
) -> None:
    """``setting:`` objects: server parameters set in postgresql.conf or by ALTER SYSTEM,
    on a private server (never the shared one, whose settings belong to everyone)."""
    cluster = start_cluster({"pgaudit.log": "'none'", "cursor_tuple_fraction": "0.25"})
    config = tmp_path / "driftd.toml"
    url = cluster.url("postgres")
    config.write_text(f'[driftd]\nbaselines_dir = "baselines"\n\n[environments.s]\nurl = "{url}"\n')

    def settings() -> dict[str, Any]:
        code, out, err = _run(config, "snapshot", "s")
        assert code == 0, err
        objects = json.loads(out)["objects"]
        return {k: v for k, v in objects.items() if k.startswith("setting:")}

    def source(name: str) -> str:
        with cluster.connect("postgres") as conn:
            row = conn.execute("SELECT source FROM pg_settings WHERE name = %s", (name,))
            return str(row.fetchone()[0])  # type: ignore[index]

    def alter(sql: str, name: str, wanted: str) -> None:
        with cluster.connect("postgres") as conn:
            conn.execute(sql)  # type: ignore[arg-type]
            conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while source(name) != wanted:
            assert time.monotonic() < deadline, f"{name} never became {wanted}"
            time.sleep(0.05)  # polling interval of the deadline loop

    before = settings()
    assert before["setting:cursor_tuple_fraction"] == {
        "value": "0.25",
        "source": "configuration file",
    }
    assert before["setting:port"] == {"value": str(cluster.port), "source": "configuration file"}
    assert all(v["source"] != "default" for v in before.values())
    assert "setting:work_mem" not in before
    alter("ALTER SYSTEM SET work_mem = '64MB'", "work_mem", "configuration file")
    assert settings()["setting:work_mem"] == {"value": "64MB", "source": "configuration file"}
    alter("ALTER SYSTEM RESET work_mem", "work_mem", "default")
    assert settings() == before
