"""Shared fixtures: every test gets its own PostgreSQL database and role prefix.

Tests talk to a real PostgreSQL (``DRIFTD_TEST_PG``, default
``postgresql://postgres@127.0.0.1:5432/postgres``). If none is reachable the
run stops with a message saying how to start one; nothing is skipped. Tests
that need no server run without one: ``pytest -m "not server"``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

# Output width is part of what tests check: no width from the caller's shell, nor the
# COLUMNS=80 pytest-xdist sets in its workers (a test wanting one passes COLUMNS).
for _var in ("COLUMNS", "LINES"):
    os.environ.pop(_var, None)

ADMIN_URL = os.environ.get("DRIFTD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
START_HINT = (
    "PostgreSQL is not reachable at {url} ({error}).\n"
    "Start it (Debian: pg_ctlcluster --skip-systemctl-redirect 15 main start) "
    "or point DRIFTD_TEST_PG at a server where the user may create databases and roles."
)


def _conninfo(url: str) -> str:
    u = make_url(url)
    parts = {
        "host": u.host or "127.0.0.1",
        "port": u.port or 5432,
        "user": u.username or "postgres",
        "dbname": u.database or "postgres",
    }
    if u.password:
        parts["password"] = u.password
    return " ".join(f"{k}={v}" for k, v in parts.items())


def admin_connect(dbname: str | None = None) -> psycopg.Connection[Any]:
    info = _conninfo(ADMIN_URL)
    if dbname:
        info += f" dbname={dbname}"
    return psycopg.connect(info, autocommit=True, connect_timeout=5)


# Fixtures that need a database server (the shared ones, or a private one a test
# starts), by name and the module defining them. A test using any of them is marked
# ``server``: ``pytest -m "not server"`` runs the rest with no server at all. The module
# counts because a test file may define its own fixture of the same name that needs no
# server (test_alerts_commands.py's ``project``).
SERVER_FIXTURES = {
    "postgres_server": "tests.conftest",
    "pgdb": "tests.conftest",
    "project": "tests.conftest",
    "statedb": "tests.daemon_support",
    "mysql_server": "tests.test_collect_generic",
    "mydb": "tests.test_collect_generic",
    "mariadb": "tests.test_audit_mariadb",
    "start_cluster": "tests.test_pgaudit_cluster",
    "outcomes": "tests.test_pgaudit_cluster",
}


# Property tests ask for examples(n): n under Hypothesis's default profile (and "ci",
# which CI=true loads), scaled by the loaded profile's max_examples over the default 100.
# The no-server subset is the quick loop (issue 12: under 30 s): ``-m "not server"``
# loads the "quick" profile, a quarter of each count, unless --hypothesis-profile is given.
QUICK_SUBSET = "not server"
QUICK_MAX_EXAMPLES = 25


def examples(n: int) -> int:
    return max(10, n * hypothesis_settings.default.max_examples // 100)


def _quick_hypothesis(config: pytest.Config) -> None:
    if " ".join(str(config.getoption("markexpr", "")).split()) != QUICK_SUBSET:
        return
    if config.getoption("hypothesis_profile", None):
        return
    hypothesis_settings.register_profile(
        "quick", parent=hypothesis_settings.default, max_examples=QUICK_MAX_EXAMPLES
    )
    hypothesis_settings.load_profile("quick")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "server: needs a database server (shared, or private to the test)"
    )
    _quick_hypothesis(config)


def pytest_report_header(config: pytest.Config) -> str:
    scale = hypothesis_settings.default.max_examples
    hint = " (all of them: --hypothesis-profile=default)" if scale < 100 else ""
    return f"property tests: {scale}% of their examples{hint}"


# Parameters that select a server backend (``@pytest.mark.parametrize("backend",
# ["sqlite", "postgresql"])`` then ``request.getfixturevalue("statedb")``).
SERVER_PARAMS = frozenset({"postgresql", "mysql", "mariadb"})


def _uses_server_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    for name, defs in info.name2fixturedefs.items():
        # The last definition is the one the test gets (a closer one overrides).
        if defs and SERVER_FIXTURES.get(name) == getattr(defs[-1].func, "__module__", None):
            return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = set(map(str, callspec.params.values())) if callspec is not None else set()
        if _uses_server_fixture(item) or SERVER_PARAMS & params:
            item.add_marker(pytest.mark.server)


@pytest.fixture(scope="session", name="postgres_server")
def _postgres_reachable(request: pytest.FixtureRequest) -> None:
    try:
        with admin_connect() as conn:
            conn.execute("SELECT 1")
        return
    except psycopg.Error as exc:
        hint = START_HINT.format(url=ADMIN_URL, error=str(exc).strip())
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.exit(hint, returncode=3)
    # pytest.exit in an xdist worker is an INTERNALERROR that hides the hint: fail this
    # test with it and stop the worker instead.
    request.session.shouldstop = "PostgreSQL is not reachable"
    pytest.fail(hint, pytrace=False)


@dataclass
class PgDatabase:
    """A throwaway database plus a role-name prefix owned by one test."""

    name: str
    prefix: str
    _conns: list[psycopg.Connection[Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        u = make_url(ADMIN_URL)
        return u.set(drivername="postgresql+psycopg", database=self.name).render_as_string(
            hide_password=False
        )

    def connect(self, user: str | None = None) -> psycopg.Connection[Any]:
        info = _conninfo(ADMIN_URL) + f" dbname={self.name}"
        if user:
            info += f" user={user}"
        conn = psycopg.connect(info, autocommit=True, connect_timeout=5)
        self._conns.append(conn)
        return conn

    def execute(self, sql: str, user: str | None = None) -> None:
        """Run SQL in the test database (as ``user`` when given), autocommit."""
        with self.connect(user) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def role(self, suffix: str) -> str:
        return f"{self.prefix}{suffix}"


def _drop_roles(prefix: str) -> None:
    with admin_connect() as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
            (prefix.replace("_", r"\_") + "%",),
        ).fetchall()
        for (name,) in rows:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')  # type: ignore[arg-type]


@pytest.fixture
def pgdb(postgres_server: None) -> Iterator[PgDatabase]:
    token = secrets.token_hex(4)
    db = PgDatabase(name=f"driftd_t_{token}", prefix=f"dt{token}_")
    with admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{db.name}"')  # type: ignore[arg-type]
    try:
        yield db
    finally:
        for c in db._conns:
            c.close()
        with admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')  # type: ignore[arg-type]
        _drop_roles(db.prefix)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Project:
    """A config file in a temp dir, and a way to run the driftd CLI against it."""

    root: Path
    config: Path

    @classmethod
    def watching(cls, root: Path, url: str, prefix: str, extra: str = "") -> Project:
        """A project whose environment ``test`` watches ``url``, its roles limited to
        ``prefix``; ``extra``: more lines of that environment's table."""
        proj = cls(root=root, config=root / "driftd.toml")
        table = f'url = "{url}"\nroles = ["{prefix}*"]\n{extra}'
        proj.write_config(
            f'[driftd]\nbaselines_dir = "baselines"\n\n[environments.test]\n{table}\n'
        )
        return proj

    def write_config(self, text: str) -> None:
        self.config.write_text(textwrap.dedent(text))

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run the CLI in-process (fast); see run_subprocess for a real process."""
        from driftd.cli.main import cli

        runner = CliRunner()
        res = runner.invoke(
            cli, ["--config", str(self.config), *args], env=env, catch_exceptions=False
        )
        return Result(res.exit_code, res.stdout, res.stderr)

    def run_subprocess(self, *args: str, env: dict[str, str] | None = None) -> Result:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "driftd", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def baseline(self, env: str) -> Path:
        return self.root / "baselines" / f"{env}.json"


@pytest.fixture
def project(tmp_path: Path, pgdb: PgDatabase) -> Project:
    """A project whose environment ``test`` watches ``pgdb`` (roles limited to its prefix)."""
    return Project.watching(tmp_path, pgdb.url, pgdb.prefix)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/scenarios/*/expected.json from driftd's output (review the diff)",
    )
