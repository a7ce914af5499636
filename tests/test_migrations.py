"""`driftd baseline build / verify`: baselines built from a real Alembic project and a
plain-SQL project on the shared PostgreSQL (a temporary database per build), then
`check` against a database migrated by the same revisions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_URL, PgDatabase, Project, admin_connect

FIXTURES = Path(__file__).parent / "fixtures"
SCRATCH_URL = make_url(ADMIN_URL).set(drivername="postgresql+psycopg").render_as_string(False)
HEAD = "a3f0c0de0003"
# The tests compare the server's driftd_build_* databases before and after a build:
# under pytest-xdist they run on one worker, so no build of another test's lands
# in between (--dist loadgroup in pyproject.toml).
pytestmark = pytest.mark.xdist_group("scratch-builds")


def build_databases() -> set[str]:
    with admin_connect() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'driftd_build_%'")
        return {r[0] for r in rows.fetchall()}


@pytest.fixture
def app(tmp_path: Path, pgdb: PgDatabase, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the Alembic fixture (Python caches land in tmp) and its reporting role."""
    root = tmp_path / "app"
    shutil.copytree(FIXTURES / "alembic_app", root)
    role = pgdb.role("reader")
    pgdb.execute(f'CREATE ROLE "{role}"')
    monkeypatch.setenv("APP_READER_ROLE", role)  # read by revision a3 (driftd's env passes on)
    return root


def migrate_production(app: Path, pgdb: PgDatabase) -> None:
    """What a deploy does to the watched database: the same revisions, applied by Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(app / "alembic.ini"))
    cfg.set_main_option("script_location", str(app / "migrations"))
    cfg.set_main_option("sqlalchemy.url", pgdb.url)
    command.upgrade(cfg, "head")


def write_config(project: Project, pgdb: PgDatabase, migrations: str) -> None:
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"

        [environments.prod]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]

        [environments.prod.migrations]
        scratch_url = "{SCRATCH_URL}"
        {migrations}
        """
    )


def write_overlay(project: Project) -> dict[str, Any]:
    """What exists in production by design: its cluster-wide objects (roles, settings)."""
    from driftd.kinds import KINDS

    res = project.run("snapshot", "prod")
    assert res.exit_code == 0, res.stderr
    objects = json.loads(res.stdout)["objects"]
    overlay = {k: v for k, v in objects.items() if KINDS[k.split(":", 1)[0]].cluster_wide}
    path = project.root / "baselines" / "prod.overlay.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"objects": overlay}))
    return overlay


@pytest.fixture
def built(project: Project, pgdb: PgDatabase, app: Path) -> Iterator[Project]:
    """prod migrated to head and its baseline built in-process by Alembic."""
    write_config(project, pgdb, f'alembic_ini = "{app}/alembic.ini"\nworkdir = "{app}"')
    migrate_production(app, pgdb)
    write_overlay(project)
    before = build_databases()
    res = project.run_subprocess("baseline", "build", "prod")
    assert res.exit_code == 0, res.stderr
    assert "revision " + HEAD in res.stderr
    assert build_databases() - before == set()
    yield project


def test_build_then_check_is_clean(built: Project, pgdb: PgDatabase) -> None:
    doc = json.loads(built.baseline("prod").read_text())
    overlay = json.loads((built.root / "baselines" / "prod.overlay.json").read_text())
    assert doc["migrations"] == {
        "tool": "alembic",
        "revision": HEAD,
        "overlay_objects": len(overlay["objects"]),
    }
    assert f"role:{pgdb.role('reader')}" in overlay["objects"]
    objects = doc["objects"]
    assert f"database:{pgdb.name}" in objects  # renamed from the temporary database
    assert not any(k.startswith("database:driftd_build_") for k in objects)
    orders = objects["table:public.orders"]
    assert "orders_customer_idx" in orders["indexes"]
    view = objects["view:public.order_totals"]
    assert view["grants"][pgdb.role("reader")] == ["SELECT"]
    res = built.run_subprocess("check", "prod", "--no-attribution")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert f"prod: clean (no drift from migrations (revision {HEAD[:12]}))" in res.stdout


def test_hand_made_change_is_drift(built: Project, pgdb: PgDatabase) -> None:
    pgdb.execute("CREATE INDEX orders_total_idx ON orders (total)")
    pgdb.execute("CREATE TABLE public.hotfix (id int)")
    res = built.run_subprocess("check", "prod", "--no-attribution", env={"COLUMNS": "200"})
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "orders_total_idx" in res.stdout
    # Said against the migrations, not "the baseline".
    assert f"against migrations (revision {HEAD[:12]})" in res.stdout
    assert f"added · not in migrations (revision {HEAD[:12]})" in res.stdout


def test_verify_passes_then_catches_a_hand_edit(built: Project) -> None:
    res = built.run_subprocess("baseline", "verify", "prod")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert f"matches its migrations (revision {HEAD})" in res.stdout
    path = built.baseline("prod")
    doc = json.loads(path.read_text())
    del doc["objects"]["table:public.orders"]["indexes"]["orders_customer_idx"]
    path.write_text(json.dumps(doc))
    before = build_databases()
    res = built.run_subprocess("baseline", "verify", "prod")
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "table:public.orders indexes.orders_customer_idx added" in res.stdout
    res = built.run_subprocess("baseline", "verify", "prod", "--format", "json")
    assert res.exit_code == 1
    (env,) = json.loads(res.stdout)["environments"]
    assert [(i["object"], i["path"]) for i in env["drift"]] == [
        ("table:public.orders", ["indexes", "orders_customer_idx"])
    ]
    assert build_databases() - before == set()


def test_alembic_through_a_command(project: Project, pgdb: PgDatabase, app: Path) -> None:
    """`alembic upgrade head` as the command: the revision is read from alembic_version."""
    write_config(
        project, pgdb, f'command = "{sys.executable} -m alembic upgrade head"\nworkdir = "{app}"'
    )
    migrate_production(app, pgdb)
    write_overlay(project)
    res = project.run_subprocess("baseline", "build", "prod")
    assert res.exit_code == 0, res.stderr
    meta = json.loads(project.baseline("prod").read_text())["migrations"]
    assert meta["tool"] == "alembic" and meta["revision"] == HEAD
    assert project.run_subprocess("check", "prod", "--no-attribution").exit_code == 0


def test_plain_sql_files_through_psql(project: Project, pgdb: PgDatabase, tmp_path: Path) -> None:
    root = tmp_path / "sql_app"
    shutil.copytree(FIXTURES / "sql_app", root)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "sql"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    write_config(project, pgdb, f'command = "./migrate.sh"\nworkdir = "{root}"')
    for sql in sorted((root / "sql").glob("*.sql")):
        pgdb.execute(sql.read_text())
    write_overlay(project)
    res = project.run_subprocess("baseline", "build", "prod")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(project.baseline("prod").read_text())
    assert doc["migrations"]["tool"] == "command"
    assert doc["migrations"]["revision"] == doc["migrations"]["git_commit"] == commit
    assert "accounts_name_idx" in doc["objects"]["table:public.accounts"]["indexes"]
    assert project.run_subprocess("check", "prod", "--no-attribution").exit_code == 0
    pgdb.execute("ALTER TABLE accounts ADD COLUMN email text")
    res = project.run_subprocess("check", "prod", "--no-attribution")
    assert res.exit_code == 1 and "columns.email" in res.stdout, res.stdout


def test_failing_command_exits_2_with_its_stderr(
    project: Project, pgdb: PgDatabase, tmp_path: Path
) -> None:
    write_config(
        project,
        pgdb,
        "command = \"psql -X -v ON_ERROR_STOP=1 -c 'CREATE TABLE broken (id nosuchtype)'\"\n"
        f'workdir = "{tmp_path}"',
    )
    before = build_databases()
    res = project.run_subprocess("baseline", "build", "prod")
    assert res.exit_code == 2, res.stderr
    assert "the migration command exited" in res.stderr
    assert 'type "nosuchtype" does not exist' in res.stderr
    assert build_databases() - before == set()
    assert not project.baseline("prod").exists()


def test_timeout_kills_the_command_and_drops_the_database(
    project: Project, pgdb: PgDatabase, tmp_path: Path
) -> None:
    write_config(project, pgdb, f'command = "sleep 60"\ntimeout = "1s"\nworkdir = "{tmp_path}"')
    before = build_databases()
    started = time.monotonic()
    res = project.run_subprocess("baseline", "build", "prod")
    assert res.exit_code == 2, res.stderr
    assert "did not finish within 1s" in res.stderr
    assert time.monotonic() - started < 30
    assert build_databases() - before == set()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_command_cleans_up(
    project: Project, pgdb: PgDatabase, tmp_path: Path, sig: signal.Signals
) -> None:
    pidfile = tmp_path / "child.pid"
    write_config(
        project, pgdb, f'command = "echo $$ > {pidfile}; exec sleep 60"\nworkdir = "{tmp_path}"'
    )
    before = build_databases()
    args = ["--config", str(project.config), "baseline", "build", "prod"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftd", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        assert build_databases() - before, "no temporary database while the command runs"
        child = int(pidfile.read_text())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, err
    assert build_databases() - before == set()
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the migration command outlived driftd"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- no server needed: refused before connecting ---------------------------------------


def _project(tmp_path: Path, migrations: str) -> Project:
    project = Project(root=tmp_path, config=tmp_path / "driftd.toml")
    project.write_config(
        f"""
        [environments.prod]
        url = "postgresql+psycopg://app@127.0.0.1:5432/proddb"

        [environments.prod.migrations]
        {migrations}
        """
    )
    return project


def test_scratch_url_on_the_watched_database_is_refused(tmp_path: Path) -> None:
    project = _project(
        tmp_path, 'command = "true"\nscratch_url = "postgresql+psycopg://postgres@localhost/proddb"'
    )
    res = project.run("baseline", "build", "prod")
    assert res.exit_code == 2
    assert "never writes to a watched database" in res.stderr


@pytest.mark.parametrize(
    ("migrations", "message"),
    [
        ('scratch_url = "postgresql://x@h/postgres"', "set command"),
        (
            'command = "true"\nscratch_url = "postgresql://x:s3cr3tpw@h/postgres"',
            "holds a password",
        ),
        ('command = "true"', "scratch_url: required key is missing"),
    ],
)
def test_bad_migrations_table_is_a_config_error(
    tmp_path: Path, migrations: str, message: str
) -> None:
    res = _project(tmp_path, migrations).run("baseline", "build", "prod")
    assert res.exit_code == 2
    assert message in res.stderr
    assert "s3cr3tpw" not in res.stderr


def test_environment_without_migrations(tmp_path: Path) -> None:
    project = Project(root=tmp_path, config=tmp_path / "driftd.toml")
    project.write_config('[environments.prod]\nurl = "postgresql://app@127.0.0.1/proddb"\n')
    res = project.run("baseline", "verify", "prod")
    assert res.exit_code == 2
    assert "has no migrations to build from" in res.stderr


def test_failing_alembic_migration_in_process(
    project: Project, pgdb: PgDatabase, app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revision a3 grants to a role the scratch server lacks: Alembic's error, exit 2."""
    monkeypatch.setenv("APP_READER_ROLE", pgdb.role("missing"))
    write_config(project, pgdb, f'alembic_ini = "{app}/alembic.ini"\nworkdir = "{app}"')
    before = build_databases()
    res = project.run_subprocess("baseline", "build", "prod")
    assert res.exit_code == 2, res.stderr
    assert "alembic upgrade failed" in res.stderr
    assert f'role "{pgdb.role("missing")}" does not exist' in res.stderr
    assert build_databases() - before == set()
