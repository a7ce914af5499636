"""Text output people can read (issue 13), from a real PostgreSQL: every line fits 80
or 120 columns (COLUMNS honoured when piped), bodies are unified diffs, a new role
is a table of its attributes, each item names the rule that set its severity.
The output is compared with tests/golden/check_{80,120}.txt (``--update-golden``
rewrites them: read the diff)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PgDatabase, Project

GOLDEN = Path(__file__).parent / "golden"
LONG = "order_line_items_with_an_unusually_long_name_for_wrapping_tests"  # 63 bytes

BEFORE = f"""
CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE public.{LONG} (id int);
CREATE FUNCTION public.total(a int, b int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    -- the sum of both
    RETURN a + b;
END
$$;
CREATE VIEW public.big_customers AS SELECT id, email FROM public.customers WHERE id > 100;
CREATE TABLE public.invoices_archive (id int PRIMARY KEY, amount numeric);
"""

AFTER = f"""
CREATE OR REPLACE FUNCTION public.total(a int, b int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    -- the sum of both, never negative
    RETURN greatest(a + b, 0);
END
$$;
CREATE OR REPLACE VIEW public.big_customers AS
    SELECT id, email FROM public.customers WHERE id > 1000;
ALTER TABLE public.customers ADD COLUMN phone_number_for_the_on_call_engineer varchar(40);
GRANT SELECT ON public.{LONG} TO PUBLIC;
COMMENT ON TABLE public.{LONG}
    IS 'line items of every order, kept for seven years as the auditors require';
ALTER TABLE public.invoices_archive RENAME TO invoices_kept_for_the_auditors;
"""


def scenario(project: Project, pgdb: PgDatabase) -> None:
    pgdb.execute(BEFORE)
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute(AFTER + f"CREATE ROLE {pgdb.role('oncall')} LOGIN CREATEDB CONNECTION LIMIT 5")


def normalised(text: str, pgdb: PgDatabase) -> str:
    """Stable across runs, same widths: the role prefix and the ids it feeds."""
    text = text.replace(pgdb.prefix, "dt" + "x" * (len(pgdb.prefix) - 3) + "_")
    return re.sub(r"\b[0-9a-f]{16}\b", "0" * 16, text)


@pytest.mark.parametrize("columns", [80, 120])
def test_check_text_fits_and_matches_golden(
    project: Project, pgdb: PgDatabase, columns: int, request: pytest.FixtureRequest
) -> None:
    scenario(project, pgdb)
    res = project.run("check", "--no-attribution", env={"COLUMNS": str(columns)})
    assert res.exit_code == 1, res.stderr
    text = normalised(res.stdout, pgdb)
    too_wide = [line for line in text.splitlines() if len(line) > columns]
    assert too_wide == [], too_wide
    golden = GOLDEN / f"check_{columns}.txt"
    if request.config.getoption("--update-golden"):
        golden.write_text(text)
    assert text == golden.read_text(), f"differs from {golden} (--update-golden, then review)"


def test_what_each_item_shows(project: Project, pgdb: PgDatabase) -> None:
    scenario(project, pgdb)
    out = project.run("check", "--no-attribution", env={"COLUMNS": "200"}).stdout
    # The function body as a unified diff, not two blobs.
    assert "    --- before\n    +++ after\n" in out
    assert "\n    -    RETURN a + b;\n" in out and "\n    +    RETURN greatest(a + b, 0);\n" in out
    assert "\n     BEGIN\n" in out  # context lines keep their indentation
    # The new role: a table of its attributes.
    role = out[out.index(f"role:{pgdb.role('oncall')}") :]
    assert re.search(r"\n    attribute +value\n", role)
    assert re.search(r"\n    connection_limit +5\n", role)
    assert re.search(r"\n    createdb +True|\n    createdb +true", role)
    # Each item names the rule that set its severity.
    grant = rf"critical table:public\.{LONG} grants\.PUBLIC\n  added · rules grant-to-public"
    assert re.search(grant, out), out


def test_the_summary_counts_what_ignore_rules_hid(project: Project, pgdb: PgDatabase) -> None:
    pgdb.execute("CREATE TABLE public.kept (id int); CREATE TABLE public.tmp_a (id int);")
    assert project.run("baseline", "accept", "test").exit_code == 0
    with project.config.open("a") as fh:
        fh.write('ignore = ["table:public.tmp_*", "table:public.kept#comment"]\n')
    pgdb.execute(
        "ALTER TABLE public.tmp_a ADD COLUMN x int; CREATE TABLE public.tmp_b (id int);"
        "COMMENT ON TABLE public.kept IS 'hidden';"
    )
    res = project.run("check", "--no-attribution")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "clean (no drift from baseline, 3 ignored)" in res.stdout
    pgdb.execute("ALTER TABLE public.kept ADD COLUMN y int")  # seen: kept is not counted again
    res = project.run("check", "--no-attribution")
    assert res.exit_code == 1 and ", 2 ignored" in res.stdout, res.stdout
