"""EXPLAIN (ANALYZE, BUFFERS) of the slowest catalog queries of driftd's read, as the
read runs them (its transaction settings, the column query without nested loops), on
each database given: writes ``results/explain.md``.

    python bench/explain.py driftd_bench driftd_bench_never_analyzed
"""

from __future__ import annotations

import argparse
from pathlib import Path

import psycopg

from driftd.collect import Target
from driftd.collect.postgres import queries, read

# The two slowest steps (one on each connection of a large catalog's read).
STEPS = {"columns": "column", "indexes": "index"}


def explain(dsn: str, db: str) -> list[str]:
    target = Target(environment="explain", url=dsn, statement_timeout=600.0)
    out: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        read._begin(conn, target)
        version_num = conn.info.server_version
        schemas = conn.execute("SELECT oid, nspname FROM pg_namespace").fetchall()
        nsp = [oid for oid, name in schemas if target.wants_schema(name)]
        for step, name in STEPS.items():
            text = queries.columns_sql(version_num) if step == "columns" else queries.sql(name)
            if step == "columns":  # as read._queries runs it
                conn.execute("SELECT set_config('enable_nestloop', 'off', true)")
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + text, {"nsp": nsp}).fetchall()
            if step == "columns":
                conn.execute("SELECT set_config('enable_nestloop', 'on', true)")
            out += [f"## {db}: {name}.sql", "", "```", *(r[0] for r in plan), "```", ""]
        conn.execute("ROLLBACK")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("databases", nargs="+")
    ap.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/")
    a = ap.parse_args()
    lines = [
        "# EXPLAIN (ANALYZE, BUFFERS) of the slowest catalog queries, analyzed and "
        "never-analyzed catalogs",
        "",
        "Written by `bench/explain.py`: each query as driftd's read runs it.",
        "",
    ]
    for db in a.databases:
        lines += explain(a.dsn.rstrip("/") + "/" + db, db)
    path = Path(__file__).parent / "results" / "explain.md"
    path.write_text("\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
