"""`driftd revert` on a real PostgreSQL: picking items, exit codes, and that it runs nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_URL, PgDatabase, Project


def _drift(project: Project, pgdb: PgDatabase) -> dict[str, str]:
    """Three drift items (security, schema, and an enum value no SQL can drop): {path: id}."""
    app = pgdb.role("app")
    pgdb.execute(
        f"CREATE ROLE {app} LOGIN; CREATE TABLE public.payments (id bigint PRIMARY KEY);"
        "CREATE TYPE public.mood AS ENUM ('sad', 'happy');"
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute(
        f"ALTER ROLE {app} SUPERUSER; GRANT ALL ON public.payments TO PUBLIC;"
        "ALTER TYPE public.mood ADD VALUE 'ok';"
    )
    res = project.run("check", "test", "--format", "json", "--no-attribution")
    items = json.loads(res.stdout)["environments"][0]["drift"]
    return {".".join(map(str, i["path"])): i["id"] for i in items}


def test_named_items_only_and_nothing_runs(project: Project, pgdb: PgDatabase) -> None:
    ids = _drift(project, pgdb)
    res = project.run("revert", "test", ids["superuser"][:6], ids["grants.PUBLIC"])
    assert res.exit_code == 0, res.stderr
    statements = [line for line in res.stdout.splitlines() if line and not line.startswith("--")]
    assert statements == [
        "SET standard_conforming_strings = on;",
        "REVOKE ALL ON TABLE public.payments FROM PUBLIC;",
        f"ALTER ROLE {pgdb.role('app')} NOSUPERUSER;",
    ]
    # driftd printed the script and ran none of it: the drift is all still there.
    check = project.run("check", "test", "--format", "json", "--no-attribution")
    assert check.exit_code == 1
    assert len(json.loads(check.stdout)["environments"][0]["drift"]) == 3


def test_items_for_a_person_exit_1(project: Project, pgdb: PgDatabase) -> None:
    ids = _drift(project, pgdb)
    res = project.run("revert", "test", "--format", "json")
    assert res.exit_code == 1
    assert f"needs a person: {ids['labels']} type:public.mood" in res.stderr
    doc = json.loads(res.stdout)
    status = {i["id"]: i["status"] for i in doc["items"]}
    assert status[ids["labels"]] == "needs_person"
    assert status[ids["superuser"]] == status[ids["grants.PUBLIC"]] == "revert"
    sql = project.run("revert", "test")
    assert "-- 1 item(s) need a person" in sql.stdout
    assert "cannot drop a value from an enum" in sql.stdout


def test_unknown_id_is_an_error(project: Project, pgdb: PgDatabase) -> None:
    _drift(project, pgdb)
    res = project.run("revert", "test", "ffffffffffff")
    assert res.exit_code == 2
    assert "drift item 'ffffffffffff' is not open in test" in res.stderr


def _psql(pgdb: PgDatabase, script: Path) -> subprocess.CompletedProcess[str]:
    u = make_url(ADMIN_URL)
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", u.host or "127.0.0.1"]
    args += ["-p", str(u.port or 5432), "-U", u.username or "postgres", "-d", pgdb.name]
    return subprocess.run([*args, "-f", str(script)], capture_output=True, text=True, timeout=60)


def test_table_revoke_keeps_the_baselines_column_grants(
    project: Project, pgdb: PgDatabase, tmp_path: Path
) -> None:
    """REVOKE on a table also takes that grantee's column privileges: they come back."""
    bob = pgdb.role("bob")
    pgdb.execute(f"CREATE ROLE {bob}; CREATE TABLE public.t (a int, b int);")
    pgdb.execute(f"GRANT SELECT (a) ON public.t TO {bob}")
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute(f"GRANT SELECT ON public.t TO {bob}")
    res = project.run("revert", "test")
    assert res.exit_code == 0, res.stderr
    assert f"GRANT SELECT (a) ON TABLE public.t TO {bob};" in res.stdout
    (tmp_path / "revert.sql").write_text(res.stdout)
    applied = _psql(pgdb, tmp_path / "revert.sql")
    assert applied.returncode == 0, applied.stderr
    check = project.run("check", "test", "--no-attribution")
    assert check.exit_code == 0, check.stdout


def test_explain_says_how_to_undo(project: Project, pgdb: PgDatabase) -> None:
    ids = _drift(project, pgdb)
    res = project.run("explain", ids["superuser"])
    assert res.exit_code == 0, res.stderr
    assert f"To undo: `ALTER ROLE {pgdb.role('app')} NOSUPERUSER;`" in res.stdout
    res = project.run("explain", ids["labels"])
    assert f"To undo: run `driftd revert test {ids['labels']}`" in res.stdout
