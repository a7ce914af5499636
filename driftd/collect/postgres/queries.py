"""The catalog queries: SQL files under ``sql/``, read as data (one per kind or part).

Each file returns named columns; the normalisers read rows by those names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from importlib import resources

# Oldest server whose catalog has everything read here (attgenerated: 12).
MIN_SERVER_VERSION = 120000

# Views per batch of pg_get_viewdef (each batch's locks are let go before the next).
VIEW_BATCH = 200

# PostgreSQL versions whose pg_get_constraintdef output for primary keys, unique
# constraints and foreign keys the builder reproduces (ruleutils.c; 17 adds PERIOD and
# WITHOUT OVERLAPS, 18 NOT ENFORCED): there it writes those itself from the quoted
# column and table names, which costs the server ~20x less than deparsing 16k keys.
FAST_KEY_DEFINITIONS = range(120000, 170000)


def _comment(alias: str, catalog: str) -> str:
    """The object's comment as ``d.description``."""
    return (
        f"LEFT JOIN pg_description d ON d.objoid = {alias}.oid"
        f" AND d.classoid = '{catalog}'::regclass AND d.objsubid = 0"
    )


def _not_member(alias: str, catalog: str, *deptypes: str) -> str:
    """Not created by an extension (deptype 'e'), nor by whatever else ``deptypes`` adds
    ('i': an object that belongs to another, such as a range type's constructors)."""
    kinds = ", ".join(f"'{t}'" for t in ("e", *deptypes))
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '{catalog}'::regclass"
        f" AND dep.objid = {alias}.oid AND dep.deptype IN ({kinds}))"
    )


def _in_schema(alias: str, catalog: str, nsp_column: str) -> str:
    """The object's schema as ``n`` and its comment as ``d``."""
    return f"JOIN pg_namespace n ON n.oid = {alias}.{nsp_column}\n{_comment(alias, catalog)}"


def _wanted(alias: str, catalog: str, nsp_column: str, *deptypes: str) -> str:
    """In a wanted schema (the ``nsp`` parameter) and not an extension's."""
    return (
        f"{alias}.{nsp_column} = ANY(%(nsp)s::oid[]) AND {_not_member(alias, catalog, *deptypes)}"
    )


def _collation_name(oid: str) -> str:
    """A collation's "schema.name"."""
    return (
        "(SELECT cn.nspname || '.' || co.collname FROM pg_collation co"
        f" JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = {oid})"
    )


def _name_outside_pg_catalog(catalog: str, nsp_column: str, name_column: str, oid: str) -> str:
    """An object's "schema.name", or its bare name in pg_catalog (the search_path)."""
    return (
        "(SELECT CASE WHEN qn.nspname = 'pg_catalog' THEN '' ELSE qn.nspname || '.' END"
        f" || q.{name_column} FROM {catalog} q JOIN pg_namespace qn ON qn.oid = q.{nsp_column}"
        f" WHERE q.oid = {oid})"
    )


# The pieces most queries share, written once: ``{{name arg ...}}`` in a SQL file.
FRAGMENTS: dict[str, Callable[..., str]] = {
    "comment": _comment,
    "not_member": _not_member,
    "in_schema": _in_schema,
    "wanted": _wanted,
    "collation_name": _collation_name,
    "name_outside_pg_catalog": _name_outside_pg_catalog,
}
_FRAGMENT = re.compile(r"\{\{(\w+)((?: [^{} ]+)*)\}\}")


def expand(text: str) -> str:
    """``text`` with every ``{{fragment arg ...}}`` written out."""
    return _FRAGMENT.sub(lambda m: FRAGMENTS[m[1]](*m[2].split()), text)


@functools.cache
def sql(name: str) -> str:
    """The text of ``sql/<name>.sql`` (its leading ``--`` comment lines dropped, its
    fragments expanded)."""
    text = resources.files(__package__).joinpath("sql", f"{name}.sql").read_text("utf-8")
    lines = text.splitlines()
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return expand("\n".join(lines) + "\n")


def has_sql(name: str) -> bool:
    return resources.files(__package__).joinpath("sql", f"{name}.sql").is_file()


@functools.cache
def columns_sql(version_num: int) -> str:
    """column.sql for this server (attcompression: PostgreSQL 14+)."""
    compression = (
        "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END"
        if version_num >= 140000
        else "NULL::text"
    )
    return sql("column").replace("{compression}", compression)


@functools.cache
def constraints_sql(version_num: int, fast_versions: range = FAST_KEY_DEFINITIONS) -> str:
    """constraint.sql with the condition under which the builder writes a definition."""
    if version_num in fast_versions:
        v15 = version_num >= 150000
        fast = f"""coalesce(
          (co.contype IN ('p', 'u') AND ci.indnatts = ci.indnkeyatts
           {"AND NOT ci.indnullsnotdistinct" if v15 else ""})
          OR (co.contype = 'f' AND fc.relnamespace = ANY(%(nsp)s::oid[])
              AND fc.relkind IN ('r', 'p') AND co.confmatchtype IN ('f', 'p', 's')
              AND co.confupdtype IN ('a', 'r', 'c', 'n', 'd')
              AND co.confdeltype IN ('a', 'r', 'c', 'n', 'd')
              {"AND co.confdelsetcols IS NULL" if v15 else ""}),
          false)"""
    else:
        fast = "false"
    return sql("constraint").replace("{fast}", fast)
