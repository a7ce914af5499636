"""The catalog queries: SQL files under ``sql/``, read as data (one per kind or part).

Each file returns named columns; the normalisers read rows by those names.
"""

from __future__ import annotations

import functools
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


@functools.cache
def sql(name: str) -> str:
    """The text of ``sql/<name>.sql`` (its leading ``--`` comment lines dropped)."""
    text = resources.files(__package__).joinpath("sql", f"{name}.sql").read_text("utf-8")
    lines = text.splitlines()
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "\n".join(lines) + "\n"


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
