"""`driftd snapshot / baseline accept / check / compare` against a real PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import PgDatabase, Project

SCHEMA = """
CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE TABLE public.orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint REFERENCES public.customers (id),
    qty int CHECK (qty > 0)
);
CREATE INDEX ix_orders_customer ON public.orders (customer_id);
CREATE VIEW public.big_orders AS SELECT * FROM public.orders WHERE qty > 10;
CREATE SEQUENCE public.invoice_no;
CREATE FUNCTION public.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE TYPE public.mood AS ENUM ('sad', 'ok');
"""


def report(project: Project, *envs: str) -> tuple[int, dict[str, Any]]:
    res = project.run("check", *envs, "--format", "json")
    return res.exit_code, json.loads(res.stdout)


def items(project: Project) -> list[dict[str, Any]]:
    code, rep = report(project)
    env = rep["environments"][0]
    assert env["error"] is None, env["error"]
    assert code == (1 if env["drift"] else 0)
    return list(env["drift"])


@pytest.fixture
def accepted(project: Project, pgdb: PgDatabase) -> Project:
    pgdb.execute(SCHEMA)
    pgdb.execute(f"CREATE ROLE {pgdb.role('app')} LOGIN; CREATE ROLE {pgdb.role('reporting')}")
    res = project.run("baseline", "accept", "test")
    assert res.exit_code == 0, res.stderr
    return project


def test_clean_check_exits_0_and_is_stable(accepted: Project) -> None:
    code, rep = report(accepted)
    assert code == 0
    assert rep["format"] == "driftd.report/1"
    assert rep["environments"] == [{"name": "test", "status": "clean", "error": None, "drift": []}]


def test_snapshot_is_deterministic(accepted: Project, tmp_path: Any) -> None:
    a = accepted.run("snapshot", "test")
    b = accepted.run("snapshot", "test")
    assert a.exit_code == b.exit_code == 0
    da, db = json.loads(a.stdout), json.loads(b.stdout)
    assert da.pop("taken_at") and db.pop("taken_at")
    assert da == db
    strip = [line for line in a.stdout.splitlines() if '"taken_at"' not in line]
    assert strip == [line for line in b.stdout.splitlines() if '"taken_at"' not in line]
    assert da["format"] == "driftd.snapshot/1" and da["engine"]["dialect"] == "postgresql"
    out = tmp_path / "snap.json"
    assert accepted.run("snapshot", "test", "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text())["objects"] == da["objects"]


def test_baseline_file_is_reviewable(accepted: Project) -> None:
    text = accepted.baseline("test").read_text()
    doc = json.loads(text)
    assert "taken_at" not in doc and "server_version" not in doc["engine"]
    assert text.count("\n") > 50  # pretty-printed: one change is a few lines of git diff
    assert "table:public.customers" in doc["objects"]


def test_out_of_band_change_is_reported_with_stable_id(accepted: Project, pgdb: PgDatabase) -> None:
    pgdb.execute("GRANT SELECT ON public.customers TO PUBLIC")
    first = items(accepted)
    assert [(i["object"], i["path"], i["before"], i["after"]) for i in first] == [
        ("table:public.customers", ["grants", "PUBLIC"], None, ["SELECT"])
    ]
    item = first[0]
    assert item["kind"] == "table" and item["change"] == "modified"
    assert item["severity"] == "critical" and item["rules"][0] == "grant-to-public"
    assert item["attribution"] == []
    assert items(accepted)[0]["id"] == item["id"]


# One out-of-band change per object kind: (SQL, expected object key, expected path prefix).
KIND_CASES = [
    (
        "ALTER TABLE public.customers ADD COLUMN phone text",
        "table:public.customers",
        ["columns", "phone"],
    ),
    (
        "ALTER TABLE public.customers ALTER COLUMN note TYPE varchar(20)",
        "table:public.customers",
        ["columns", "note", "type"],
    ),
    (
        "ALTER TABLE public.customers ALTER COLUMN note SET DEFAULT 'x'",
        "table:public.customers",
        ["columns", "note", "default"],
    ),
    (
        "ALTER TABLE public.customers ALTER COLUMN note SET NOT NULL",
        "table:public.customers",
        ["columns", "note", "nullable"],
    ),
    (
        "ALTER TABLE public.customers ADD CONSTRAINT email_uq UNIQUE (email)",
        "table:public.customers",
        ["constraints", "email_uq"],
    ),
    (
        "DROP INDEX public.ix_orders_customer",
        "table:public.orders",
        ["indexes", "ix_orders_customer"],
    ),
    (
        "ALTER TABLE public.customers ENABLE ROW LEVEL SECURITY",
        "table:public.customers",
        ["rls", "enabled"],
    ),
    (
        "CREATE POLICY p ON public.customers USING (true)",
        "table:public.customers",
        ["policies", "p"],
    ),
    (
        "GRANT UPDATE (note) ON public.customers TO {reporting}",
        "table:public.customers",
        ["column_grants", "note"],
    ),
    ("COMMENT ON TABLE public.orders IS 'orders'", "table:public.orders", ["comment"]),
    ("CREATE TABLE public.t2 (x int)", "table:public.t2", []),
    (
        "CREATE OR REPLACE VIEW public.big_orders AS SELECT * FROM public.orders WHERE qty > 20",
        "view:public.big_orders",
        ["definition"],
    ),
    ("CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS one", "materialized_view:public.mv", []),
    (
        "ALTER SEQUENCE public.invoice_no INCREMENT BY 5",
        "sequence:public.invoice_no",
        ["increment"],
    ),
    (
        "ALTER FUNCTION public.add(int, int) SECURITY DEFINER",
        "function:public.add(a integer, b integer)",
        ["security_definer"],
    ),
    ("ALTER TYPE public.mood ADD VALUE 'happy'", "type:public.mood", []),
    ("CREATE SCHEMA audit", "schema:audit", []),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {reporting}",
        "schema:public",
        ["default_privileges"],
    ),
    ("CREATE EXTENSION IF NOT EXISTS pg_trgm", "extension:pg_trgm", []),
    ("ALTER ROLE {app} CREATEDB", "role:{app}", ["createdb"]),
    ("GRANT {reporting} TO {app}", "role:{app}", ["member_of", "{reporting}"]),
    ("ALTER DATABASE {db} SET work_mem = '8MB'", "database:{db}", ["settings"]),
]


@pytest.mark.parametrize(("sql", "obj", "path"), KIND_CASES, ids=[c[0][:48] for c in KIND_CASES])
def test_every_kind_is_detected(
    accepted: Project, pgdb: PgDatabase, sql: str, obj: str, path: list[str]
) -> None:
    names = {"app": pgdb.role("app"), "reporting": pgdb.role("reporting"), "db": pgdb.name}
    pgdb.execute(sql.format(**names))
    found = items(accepted)
    want_obj = obj.format(**names)
    want_path = [p.format(**names) for p in path]
    assert found, "no drift reported"
    assert all(i["object"] == want_obj for i in found), found
    assert any(i["path"][: len(want_path)] == want_path for i in found), found


def test_accept_only_named_objects(accepted: Project, pgdb: PgDatabase) -> None:
    pgdb.execute(
        "ALTER TABLE public.customers ADD COLUMN phone text; CREATE TABLE public.t3 (x int)"
    )
    assert {i["object"] for i in items(accepted)} == {"table:public.customers", "table:public.t3"}
    res = accepted.run(
        "baseline", "accept", "test", "--object", "table:public.t3", "--reason", "new table t3"
    )
    assert res.exit_code == 0, res.stderr
    assert "1 object(s) changed" in res.stderr
    assert {i["object"] for i in items(accepted)} == {"table:public.customers"}
    meta = json.loads(accepted.baseline("test").read_text())["accepted"]
    assert (meta["reason"], meta["objects"]) == ("new table t3", ["table:public.t3"])
    # Accepting a dropped object removes it from the baseline (a critical change: on purpose).
    pgdb.execute("DROP TABLE public.t3")
    argv = ("baseline", "accept", "test", "--object", "table:public.t3")
    assert accepted.run(*argv).exit_code == 2
    assert accepted.run(*argv, "--yes", "--reason", "t3 retired").exit_code == 0
    assert "table:public.t3" not in json.loads(accepted.baseline("test").read_text())["objects"]
    bad = accepted.run("baseline", "accept", "test", "--object", "table:public.nope")
    assert bad.exit_code == 2 and "no such object" in bad.stderr


def test_ignore_globs(accepted: Project, pgdb: PgDatabase) -> None:
    accepted.write_config(
        accepted.config.read_text()
        + '\nignore = ["table:public.tmp_*", "table:public.*#comment"]\n'
    )
    pgdb.execute("CREATE TABLE public.tmp_x (i int); COMMENT ON TABLE public.orders IS 'x'")
    assert items(accepted) == []
    pgdb.execute("COMMENT ON COLUMN public.orders.qty IS 'x'")
    assert [i["path"] for i in items(accepted)] == [["columns", "qty", "comment"]]


def test_text_report(accepted: Project, pgdb: PgDatabase) -> None:
    pgdb.execute("ALTER TABLE public.customers DROP COLUMN note")
    res = accepted.run("check")
    assert res.exit_code == 1
    assert "test: drift" in res.stdout and "columns.note" in res.stdout and "high" in res.stdout


def test_unreachable_environment_is_error_others_still_checked(
    accepted: Project, pgdb: PgDatabase
) -> None:
    accepted.write_config(
        accepted.config.read_text()
        + """
[environments.down]
url = "postgresql+psycopg://nobody@127.0.0.1:1/nope"
password_env = "DRIFTD_DOWN_PW"
connect_timeout = "2s"
"""
    )
    (accepted.root / "baselines" / "down.json").write_text(accepted.baseline("test").read_text())
    pgdb.execute("CREATE TABLE public.t4 (x int)")
    res = accepted.run("check", "--format", "json", env={"DRIFTD_DOWN_PW": "sekr1t-pw"})
    assert res.exit_code == 2
    rep = json.loads(res.stdout)
    by_name = {e["name"]: e for e in rep["environments"]}
    assert by_name["down"]["status"] == "error" and "cannot connect" in by_name["down"]["error"]
    assert by_name["test"]["status"] == "drift"
    assert "sekr1t-pw" not in res.stdout + res.stderr


def test_missing_baseline_is_error_with_hint(project: Project) -> None:
    res = project.run("check")
    assert res.exit_code == 2
    assert "no baseline for test" in res.stdout and "baseline accept test" in res.stdout


def test_unknown_environment(accepted: Project) -> None:
    res = accepted.run("check", "nope")
    assert res.exit_code == 2 and "unknown environment 'nope'" in res.stderr


def test_compare_two_live_environments(accepted: Project, pgdb: PgDatabase) -> None:
    other = PgDatabase(name=pgdb.name, prefix=pgdb.prefix)
    accepted.write_config(
        accepted.config.read_text()
        + f"""
[environments.same]
url = "{other.url}"
roles = ["{pgdb.prefix}*"]
"""
    )
    res = accepted.run("compare", "test", "same", "--format", "json")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["environments"][0]["name"] == "test..same"


def test_compare_two_databases_of_other_names_by_content(
    accepted: Project, pgdb: PgDatabase
) -> None:
    """Two databases with the same schema compare equal, whatever their names; the
    footer says the ids are the comparison's own (issue 13)."""
    from tests.conftest import admin_connect

    twin = f"{pgdb.name}_twin"
    with admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{twin}"')  # type: ignore[arg-type]
    try:
        other = PgDatabase(name=twin, prefix=pgdb.prefix)
        other.execute(SCHEMA)
        accepted.write_config(
            accepted.config.read_text()
            + f'\n[environments.twin]\nurl = "{other.url}"\nroles = ["{pgdb.prefix}*"]\n'
        )
        res = accepted.run("compare", "test", "twin")
        assert res.exit_code == 0, res.stdout
        other.execute("ALTER TABLE public.customers ADD COLUMN twin_only int")
        res = accepted.run("compare", "test", "twin", env={"COLUMNS": "200"})
        assert res.exit_code == 1 and "columns.twin_only" in res.stdout
        assert "database:" not in res.stdout  # the names differ, the databases do not
        assert "A comparison records nothing" in res.stdout
        assert "accept: driftd baseline accept ENV" not in res.stdout
    finally:
        for conn in other._conns:
            conn.close()
        with admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{twin}" WITH (FORCE)')  # type: ignore[arg-type]


def test_bad_config_subprocess_exit_2_no_traceback(project: Project) -> None:
    project.write_config("[environments.x]\nurl = 'sqlite:///x.db'\nschedul = '5m'\n")
    res = project.run_subprocess("check")
    assert res.exit_code == 2
    assert "environments.x.schedul" in res.stderr and "driftd.toml:3:" in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 3


def test_real_process_exit_codes(accepted: Project, pgdb: PgDatabase) -> None:
    assert accepted.run_subprocess("check").exit_code == 0
    pgdb.execute("CREATE TABLE public.t5 (x int)")
    assert accepted.run_subprocess("check").exit_code == 1


def test_debug_shows_traceback(project: Project) -> None:
    res = project.run_subprocess("--debug", "check", "nope")
    assert res.exit_code != 0 and "Traceback" in res.stderr


def test_config_validate_touches_no_database(project: Project) -> None:
    project.write_config(
        """
[environments.prod]
url = "postgresql+psycopg://driftd@db.invalid:5432/app"
password_env = "NOT_SET_ANYWHERE"
"""
    )
    res = project.run_subprocess("config", "validate")
    assert res.exit_code == 0, res.stderr
    assert "config OK: 1 environment(s)" in res.stdout
    assert "NOT_SET_ANYWHERE is not set" in res.stderr


def test_explain_without_a_daemon_checks_live(accepted: Project, pgdb: PgDatabase) -> None:
    pgdb.execute("GRANT SELECT ON public.customers TO PUBLIC")
    item = items(accepted)[0]
    res = accepted.run("explain", item["id"][:8])  # no state store: found by a live check
    assert res.exit_code == 0, res.stderr
    assert f"drift {item['id']} in test: open (live check" in res.stdout
    assert "grants.PUBLIC" in res.stdout and "critical" in res.stdout
    assert not (accepted.root / "driftd-state.db").exists()  # explain created no store
    res = accepted.run("explain", "ffff0000")
    assert res.exit_code == 2 and "no drift item 'ffff0000'" in res.stderr
