"""Golden scenario tests: one directory per change, run against the real servers.

Each ``tests/scenarios/<name>/`` holds ``before.sql`` (run on a fresh database,
then ``driftd baseline accept``), ``after.sql`` (the change) and
``expected.json`` (the drift items ``driftd check --format json`` reports,
volatile fields dropped). Optional files:

- ``engine``: ``postgresql`` (default), ``mysql`` (MariaDB) or ``sqlite``;
- ``audit.log``: a pgaudit stderr log the environment's audit source reads
  (``{{ts}}`` becomes a time a few seconds before the check); the expected
  attribution is then kept in expected.json, without its time;
- ``hoop.json``: exec sessions a fake hoop gateway serves (tests/hoop_gateway.py);
- ``xfail``: the reason driftd does not give ``expected.json`` yet (a finding);
- ``README``: one line saying what the scenario proves.

In the SQL, the audit log and expected.json, ``{{db}}`` is the scenario's
database and ``{{prefix}}`` the prefix of every role or account it creates
(unique per run; the environment watches only ``{{prefix}}*`` roles).

``pytest tests/test_scenarios.py --update-golden`` rewrites expected.json from
what driftd reports (not for xfail scenarios); review the diff before committing.
See docs/testing.md.
"""

from __future__ import annotations

import difflib
import json
import os
import secrets
import sqlite3
import textwrap
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pymysql
import pytest
from sqlalchemy.engine import make_url

from driftd.collect.postgres import read as pg_read
from tests.conftest import ADMIN_URL, Project, _conninfo, admin_connect

SCENARIOS = Path(__file__).parent / "scenarios"
ENGINES = ("postgresql", "mysql", "sqlite")
KEEP = ("object", "kind", "change", "path", "before", "after", "severity", "rules")
# Attribution fields that change from run to run (times are those of the run).
VOLATILE_ATTRIBUTION = ("at", "approved_at")
MYSQL_URL = os.environ.get("DRIFTD_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")
HOOP_TOKEN_ENV = "DRIFTD_SCENARIO_HOOP_TOKEN"


# -- the scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path

    def read(self, name: str) -> str | None:
        f = self.path / name
        return f.read_text() if f.exists() else None

    @property
    def engine(self) -> str:
        engine = (self.read("engine") or "postgresql").strip()
        assert engine in ENGINES, f"{self.name}/engine: {engine!r} is not one of {ENGINES}"
        return engine

    @property
    def xfail(self) -> str | None:
        reason = self.read("xfail")
        return None if reason is None else (reason.strip() or "known driftd gap")

    @property
    def audited(self) -> bool:
        return (self.path / "audit.log").exists() or (self.path / "hoop.json").exists()


def discover() -> list[Scenario]:
    return sorted(
        (Scenario(p.name, p) for p in SCENARIOS.iterdir() if (p / "after.sql").exists()),
        key=lambda s: s.name,
    )


def _params() -> list[Any]:
    out = []
    for s in discover():
        marks = [pytest.mark.xfail(reason=s.xfail, strict=True)] if s.xfail else []
        if s.engine != "sqlite":
            marks.append(pytest.mark.server)  # needs the shared PostgreSQL or MariaDB
        out.append(pytest.param(s, id=s.name, marks=marks))
    return out


# -- SQL scripts --------------------------------------------------------------------------------


def split_sql(script: str, dialect: str = "postgresql") -> list[str]:
    """Statements of ``script``, each run on its own (VACUUM, CONCURRENTLY and
    ``ALTER TYPE ... ADD VALUE`` refuse to run inside a multi-statement string).

    Knows quotes, PostgreSQL dollar quotes, comments, and for MySQL the
    client's ``DELIMITER`` lines (for routine bodies holding ``;``)."""
    out: list[str] = []
    buf: list[str] = []
    delim = ";"
    i, n = 0, len(script)
    at_line_start = True
    while i < n:
        if dialect == "mysql" and at_line_start:
            line_end = script.find("\n", i)
            line = script[i : n if line_end < 0 else line_end]
            if line.strip().upper().startswith("DELIMITER "):
                delim = line.strip().split(None, 1)[1]
                i = n if line_end < 0 else line_end + 1
                continue
        c = script[i]
        at_line_start = c == "\n"
        if script.startswith("--", i) or (dialect == "mysql" and c == "#"):
            end = script.find("\n", i)
            i = n if end < 0 else end
            continue
        if script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end < 0 else end + 2
            buf.append(" ")
            continue
        if c in "'\"`":
            j = i + 1
            while j < n:
                if dialect == "mysql" and script[j] == "\\":
                    j += 2
                    continue
                if script[j] == c:
                    if j + 1 < n and script[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            buf.append(script[i : j + 1])
            i = j + 1
            continue
        if c == "$" and dialect == "postgresql":
            end_tag = script.find("$", i + 1)
            tag = script[i : end_tag + 1] if end_tag > 0 else ""
            if tag and (tag == "$$" or tag[1:-1].replace("_", "a").isalnum()):
                close = script.find(tag, end_tag + 1)
                j = n if close < 0 else close + len(tag)
                buf.append(script[i:j])
                i = j
                continue
        if script.startswith(delim, i):
            out.append("".join(buf).strip())
            buf = []
            i += len(delim)
            continue
        buf.append(c)
        i += 1
    out.append("".join(buf).strip())
    return [s for s in out if s]


# -- one run of one scenario ------------------------------------------------------------------


@dataclass
class Run:
    scenario: Scenario
    token: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def db(self) -> str:
        return f"driftd_s_{self.token}"

    @property
    def prefix(self) -> str:
        return f"ds{self.token}_"

    def fill(self, text: str) -> str:
        return text.replace("{{db}}", self.db).replace("{{prefix}}", self.prefix)

    def unfill(self, text: str) -> str:
        return text.replace(self.db, "{{db}}").replace(self.prefix, "{{prefix}}")


def _mysql_admin() -> pymysql.connections.Connection[Any]:
    u = make_url(MYSQL_URL)
    return pymysql.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        autocommit=True,
        connect_timeout=5,
    )


def _pg_unreachable(exc: Exception) -> NoReturn:
    pytest.fail(
        f"PostgreSQL is not reachable at {ADMIN_URL} ({str(exc).strip()}): start it, or point "
        "DRIFTD_TEST_PG at a server where the user may create databases and roles.",
        pytrace=False,
    )


class PgDatabases:
    """PostgreSQL databases made and dropped by one background worker.

    ``CREATE DATABASE`` and ``DROP DATABASE`` are the slowest steps of a scenario:
    the worker (its own admin connection, one statement at a time) creates the next
    scenario's database and drops the last one while the current scenario runs."""

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="scenario-pg")
        self._conn: Any = None
        self._ahead: deque[tuple[str, Future[None]]] = deque()
        self._dropping: list[tuple[str, Future[None]]] = []

    def _admin(self) -> Any:  # the worker thread only
        if self._conn is None:
            self._conn = admin_connect()
        return self._conn

    def _create(self, token: str) -> None:
        self._admin().execute(f'CREATE DATABASE "driftd_s_{token}"')

    def _drop(self, token: str) -> None:
        admin = self._admin()
        admin.execute(f'DROP DATABASE IF EXISTS "driftd_s_{token}" WITH (FORCE)')
        rows = admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (rf"ds{token}\_%",)
        ).fetchall()
        for (name,) in rows:
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')

    def _submit_create(self) -> None:
        token = secrets.token_hex(4)
        self._ahead.append((token, self._worker.submit(self._create, token)))

    def take(self) -> str:
        """The token of a new, empty database (``driftd_s_<token>``)."""
        if not self._ahead:
            self._submit_create()
        token, created = self._ahead.popleft()
        self._submit_create()  # the next scenario's, made while this one runs
        try:
            created.result()
        except Exception as exc:
            _pg_unreachable(exc)
        return token

    def release(self, token: str) -> None:
        self._dropping.append((token, self._worker.submit(self._drop, token)))

    def close(self) -> None:
        for token, created in self._ahead:
            created.exception()
            self.release(token)
        self._worker.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
        failed = [f"driftd_s_{t}: {f.exception()}" for t, f in self._dropping if f.exception()]
        assert not failed, "could not drop scenario databases: " + "; ".join(failed)


class Servers:
    """The scenario databases: PostgreSQL's through PgDatabases, MariaDB's through one
    admin connection, SQLite's in the test's temp directory."""

    def __init__(self) -> None:
        self.pg = PgDatabases()
        self._my: Any = None

    @property
    def my(self) -> Any:
        if self._my is None:
            try:
                self._my = _mysql_admin()
            except pymysql.err.Error as exc:
                pytest.fail(
                    f"MariaDB is not reachable at {MYSQL_URL} ({exc}): start it, or point "
                    "DRIFTD_TEST_MYSQL at a server where the user may create databases and users.",
                    pytrace=False,
                )
        return self._my

    def close(self) -> None:
        if self._my is not None:
            self._my.close()
        self.pg.close()

    # -- per engine: create, execute, drop -------------------------------------------------

    def create(self, scenario: Scenario, tmp: Path) -> tuple[Run, str]:
        """A new database for ``scenario``: its run (names) and the environment's URL."""
        engine = scenario.engine
        if engine == "postgresql":
            run = Run(scenario, self.pg.take())
            url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=run.db)
            return run, url.render_as_string(hide_password=False)
        run = Run(scenario)
        if engine == "mysql":
            with self.my.cursor() as cur:
                cur.execute(
                    f"CREATE DATABASE `{run.db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            return run, make_url(MYSQL_URL).set(database=run.db).render_as_string(
                hide_password=False
            )
        return run, f"sqlite:///{tmp / (run.db + '.db')}"

    def execute(self, run: Run, script: str, tmp: Path) -> None:
        script = run.fill(script)
        engine = run.scenario.engine
        if engine == "sqlite":
            conn = sqlite3.connect(tmp / (run.db + ".db"))
            try:
                conn.executescript(script)
                conn.commit()
            finally:
                conn.close()
            return
        statements = split_sql(script, engine)
        if engine == "postgresql":
            with psycopg.connect(
                _conninfo(ADMIN_URL) + f" dbname={run.db}", autocommit=True, connect_timeout=5
            ) as pg:
                for statement in statements:
                    try:
                        pg.execute(statement)  # type: ignore[arg-type]
                    except psycopg.Error as exc:
                        raise AssertionError(f"{run.scenario.name}: {statement}\n{exc}") from exc
            return
        my = self.my
        my.select_db(run.db)
        with my.cursor() as cur:
            for statement in statements:
                try:
                    cur.execute(statement)
                except pymysql.err.Error as exc:
                    raise AssertionError(f"{run.scenario.name}: {statement}\n{exc}") from exc

    def drop(self, run: Run) -> None:
        engine = run.scenario.engine
        if engine == "postgresql":
            self.pg.release(run.token)
        elif engine == "mysql":
            with self.my.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{run.db}`")
                cur.execute(
                    "SELECT User, Host, is_role FROM mysql.user WHERE User LIKE %s",
                    (run.prefix.replace("_", r"\_") + "%",),
                )
                for user, host, is_role in cur.fetchall():
                    cur.execute(
                        f"DROP ROLE `{user}`" if is_role == "Y" else f"DROP USER `{user}`@`{host}`"
                    )


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    s = Servers()
    try:
        yield s
    finally:
        s.close()


# -- audit inputs ---------------------------------------------------------------------------


def _audit_config(run: Run, tmp: Path, stack: Any) -> tuple[str, dict[str, str]]:
    """The ``[audit.*]`` tables for the scenario's audit inputs, and the env they need."""
    tables: list[str] = []
    env: dict[str, str] = {}
    log = run.scenario.read("audit.log")
    if log is not None:
        # The statements ran just now: a few seconds ago, inside the check's window.
        ts = datetime.now(UTC) - timedelta(seconds=5)
        text = run.fill(log).replace("{{ts}}", ts.strftime("%Y-%m-%d %H:%M:%S.") + "123 UTC")
        (tmp / "audit.log").write_text(text)
        tables.append(
            f"""
            [audit.log]
            type = "pgaudit"
            path = "{tmp / "audit.log"}"
            format = "stderr"
            """
        )
    hoop = run.scenario.read("hoop.json")
    if hoop is not None:
        from tests.hoop_gateway import approved_by, serve

        gw = stack.enter_context(serve())
        start = datetime.now(UTC) - timedelta(seconds=60)
        for n, s in enumerate(json.loads(run.fill(hoop))):
            review = s.get("approved_by")
            gw.exec_session(
                s["id"],
                s["user"],
                "pg-scenario",
                s["script"],
                start + timedelta(seconds=10 * n),
                review=approved_by(review, start) if review else None,
            )
        env[HOOP_TOKEN_ENV] = gw.token
        tables.append(
            f"""
            [audit.hoop]
            type = "hoop"
            url = "{gw.url}"
            token_env = "{HOOP_TOKEN_ENV}"
            connection = "pg-scenario"
            """
        )
    return "".join(textwrap.dedent(t) for t in tables), env


def _config(run: Run, url: str, audit: str) -> str:
    names = [n for n in ("log", "hoop") if f"[audit.{n}]" in audit]
    text = textwrap.dedent(
        f"""
        [driftd]
        baselines_dir = "baselines"

        [environments.test]
        url = "{url}"
        roles = ["{run.prefix}*"]
        """
    )
    if names:
        text += f"audit = {json.dumps(names)}\n"
    return text + audit


# -- what is compared -----------------------------------------------------------------------


def normalise(items: list[dict[str, Any]], run: Run) -> list[dict[str, Any]]:
    """The report's items without volatile fields, with the run's names as placeholders."""
    out = []
    for item in items:
        kept = {k: item[k] for k in KEEP}
        if run.scenario.audited:
            kept["attribution"] = [_stable(a) for a in item["attribution"]]
        out.append(kept)
    return list(json.loads(run.unfill(json.dumps(out))))


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE_ATTRIBUTION}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def dumps(items: list[dict[str, Any]]) -> str:
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


# -- the test -----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", _params())
def test_scenario(
    scenario: Scenario,
    servers: Servers,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    update = bool(request.config.getoption("--update-golden", default=False))
    if update and scenario.xfail:
        pytest.skip("xfail scenario: expected.json is hand-reviewed; delete xfail to regenerate")
    before = scenario.read("before.sql") or ""
    after = scenario.read("after.sql") or ""
    project = Project(root=tmp_path, config=tmp_path / "driftd.toml")
    started = time.monotonic()
    with ExitStack() as stack:
        run, url = servers.create(scenario, tmp_path)
        stack.callback(servers.drop, run)
        servers.execute(run, before, tmp_path)
        project.write_config(_config(run, url, ""))
        res = project.run("baseline", "accept", "test")
        assert res.exit_code == 0, res.stderr
        servers.execute(run, after, tmp_path)
        audit, env = _audit_config(run, tmp_path, stack)
        if audit:
            project.write_config(_config(run, url, audit))
        args = ["check", "--format", "json"] + ([] if audit else ["--no-attribution"])
        # The baseline was read on one connection, the check reads on two (as a large
        # catalog is): any difference between the two ways would be drift here.
        monkeypatch.setattr(pg_read, "PARALLEL_MIN_RELATIONS", 0)
        lanes: list[bool] = []
        start = pg_read._SecondLane.start
        monkeypatch.setattr(
            pg_read._SecondLane,
            "start",
            lambda lane, *a: lanes.append(start(lane, *a)) or lanes[-1],
        )
        res = project.run(*args, env=env)
        # (Read again when another test drops a tablespace mid-read: [True, True].)
        assert lanes == [True] * len(lanes), lanes
        assert bool(lanes) == (scenario.engine == "postgresql"), lanes
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"driftd check gave no report (exit {res.exit_code}):\n{res.stderr}", False)
    (env_report,) = report["environments"]
    assert env_report["error"] is None, env_report["error"]
    assert res.exit_code == (1 if env_report["drift"] else 0), res.stderr
    actual = normalise(env_report["drift"], run)

    golden = scenario.path / "expected.json"
    if update:
        golden.write_text(dumps(actual))
        return
    assert golden.exists(), f"{golden} is missing: run pytest {__file__} --update-golden"
    expected = json.loads(golden.read_text())
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                dumps(expected).splitlines(keepends=True),
                dumps(actual).splitlines(keepends=True),
                f"{scenario.name}/expected.json",
                "driftd check (this run)",
            )
        )
        pytest.fail(
            f"scenario {scenario.name}: driftd's drift items differ from expected.json "
            f"({time.monotonic() - started:.1f}s)\n{diff}",
            pytrace=False,
        )


def test_split_sql() -> None:
    pg = "CREATE FUNCTION f() RETURNS int AS $b$ SELECT 1; $b$ LANGUAGE sql; -- a; b\nSELECT ';'"
    assert split_sql(pg) == [
        "CREATE FUNCTION f() RETURNS int AS $b$ SELECT 1; $b$ LANGUAGE sql",
        "SELECT ';'",
    ]
    my = "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\nDELIMITER ;\nSELECT 'a\\'';"
    assert split_sql(my, "mysql") == ["CREATE PROCEDURE p() BEGIN SELECT 1; END", "SELECT 'a\\''"]


def test_every_scenario_is_complete() -> None:
    """Each scenario says what it proves, and has its golden file (or a reason it fails)."""
    for s in discover():
        assert (s.path / "README").exists(), f"{s.name}: add a README line"
        assert (s.path / "expected.json").exists(), f"{s.name}: run --update-golden"
        assert s.engine in ENGINES


# The kinds driftd has collected since the start, less setting: (server-wide: never
# changed on the shared server; per-database settings are on database:).
COVERED_KINDS = {
    "database",
    "schema",
    "table",
    "view",
    "materialized_view",
    "sequence",
    "function",
    "type",
    "extension",
    "role",
}


def test_scenarios_cover_every_rule_and_kind() -> None:
    """Every built-in rule, and every kind, shows in some passing scenario's golden file."""
    from driftd.rules import BUILTIN_NAMES

    rules: set[str] = set()
    kinds: set[str] = set()
    for s in discover():
        if s.xfail:
            continue
        for item in json.loads((s.path / "expected.json").read_text()):
            rules.update(item["rules"])
            kinds.add(item["kind"])
    assert BUILTIN_NAMES - rules == set(), "rules no scenario shows"
    assert COVERED_KINDS - kinds == set(), "kinds no scenario shows"
