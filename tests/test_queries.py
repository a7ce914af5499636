"""The SQL files' fragments (``{{name arg ...}}``) are all written out before a query runs."""

from __future__ import annotations

from importlib import resources

import pytest

from driftd.collect.postgres import queries

NAMES = sorted(
    p.name[:-4]
    for p in resources.files("driftd.collect.postgres").joinpath("sql").iterdir()
    if p.name.endswith(".sql")
)


@pytest.mark.parametrize("name", NAMES)
def test_no_fragment_is_left_in_a_query(name: str) -> None:
    assert "{{" not in queries.sql(name), name


def test_a_fragment_expands_to_its_sql() -> None:
    text = queries.expand("FROM pg_cast c\n{{comment c pg_cast}}\nWHERE {{not_member c pg_cast i}}")
    assert text == (
        "FROM pg_cast c\n"
        "LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_cast'::regclass"
        " AND d.objsubid = 0\n"
        "WHERE NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_cast'::regclass"
        " AND dep.objid = c.oid AND dep.deptype IN ('e', 'i'))"
    )


def test_an_unknown_fragment_is_an_error() -> None:
    with pytest.raises(KeyError):
        queries.expand("{{no_such_fragment x}}")
