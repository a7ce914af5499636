"""The floor: the raw catalog queries alone, as one set-based pass in one transaction.

    python bench/floor.py --dsn postgresql://postgres@127.0.0.1:5432/driftd_bench

``--queries driftd`` (default): driftd's own read phase, the function that
runs the collector's queries in its read-only transaction and fetches every
row before any object is built (``driftd.collect.postgres._read``).
``--queries builtin``: an independent set of set-based queries reading roughly
what a snapshot needs (relations, columns with defaults, constraints, indexes,
triggers, policies, views, sequences, functions, types, ACLs, comments, roles,
memberships). Prints JSON with rows per query and the total seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

USER_NS = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
REL = f"pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND {USER_NS}"

BUILTIN_QUERIES: dict[str, str] = {
    "relations": f"""
        SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relpersistence,
               c.relrowsecurity, c.relforcerowsecurity, c.reloptions, c.relacl,
               c.relispartition, pg_get_partkeydef(c.oid)
        FROM {REL} WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')""",
    "columns": f"""
        SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, a.attidentity, a.attgenerated, a.attacl,
               pg_get_expr(d.adbin, d.adrelid), co.collname
        FROM {REL} JOIN pg_attribute a ON a.attrelid = c.oid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": f"""
        SELECT k.conrelid, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable
        FROM {REL} JOIN pg_constraint k ON k.conrelid = c.oid""",
    "indexes": f"""
        SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique,
               i.indisprimary
        FROM {REL} JOIN pg_index i ON i.indrelid = c.oid
        JOIN pg_class ic ON ic.oid = i.indexrelid""",
    "triggers": f"""
        SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM {REL} JOIN pg_trigger t ON t.tgrelid = c.oid WHERE NOT t.tgisinternal""",
    "policies": f"""
        SELECT p.polrelid, p.polname, p.polcmd, p.polpermissive,
               ARRAY(SELECT pg_get_userbyid(r) FROM unnest(p.polroles) r),
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
        FROM {REL} JOIN pg_policy p ON p.polrelid = c.oid""",
    "views": f"""
        SELECT c.oid, pg_get_viewdef(c.oid) FROM {REL} WHERE c.relkind IN ('v', 'm')""",
    "sequences": f"""
        SELECT s.seqrelid, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               s.seqmin, s.seqmax, s.seqcycle
        FROM {REL} JOIN pg_sequence s ON s.seqrelid = c.oid""",
    "functions": f"""
        SELECT p.oid, n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_function_result(p.oid), p.prokind, l.lanname, p.prosrc, p.provolatile,
               p.prosecdef, p.proconfig, pg_get_userbyid(p.proowner), p.proacl
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND {USER_NS}
        JOIN pg_language l ON l.oid = p.prolang""",
    "types": f"""
        SELECT t.oid, n.nspname, t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod),
               ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
                     ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace AND {USER_NS}
        WHERE t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND t.typrelid IN
              (SELECT oid FROM pg_class WHERE relkind = 'c'))""",
    "comments": """
        SELECT d.classoid, d.objoid, d.objsubid, d.description FROM pg_description d
        WHERE d.classoid IN ('pg_class'::regclass, 'pg_namespace'::regclass,
                             'pg_proc'::regclass, 'pg_type'::regclass)""",
    "schemas": f"""
        SELECT n.nspname, pg_get_userbyid(n.nspowner), n.nspacl FROM pg_namespace n
        WHERE {USER_NS}""",
    "default_privileges": """
        SELECT defaclrole, defaclnamespace, defaclobjtype, defaclacl FROM pg_default_acl""",
    "roles": """
        SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,
               r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil,
               s.setconfig, shobj_description(r.oid, 'pg_authid')
        FROM pg_roles r LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid
        WHERE r.rolname !~ '^pg_'""",
    "memberships": """
        SELECT pg_get_userbyid(m.roleid), pg_get_userbyid(m.member), m.admin_option
        FROM pg_auth_members m""",
}


def run_builtin(dsn: str) -> dict[str, Any]:
    started = time.perf_counter()
    rows: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            for name, query in BUILTIN_QUERIES.items():
                rows[name] = len(conn.execute(query.encode()).fetchall())
    return {"queries": "builtin", "total_s": round(time.perf_counter() - started, 4), "rows": rows}


def run_driftd(dsn: str) -> dict[str, Any]:
    # A private function on purpose: the floor is driftd's read phase without the
    # object building. If its signature changes, this is the one line to adapt.
    from driftd.collect import Target, postgres

    target = Target(environment="floor", url=dsn, statement_timeout=600.0)
    # As driftd connects: a large catalog is read over two connections (read_connections).
    params = {**conninfo_to_dict(dsn), "autocommit": True}
    started = time.perf_counter()
    with psycopg.connect(**params) as conn:
        fetched = postgres._read(conn, target, params)
    total = round(time.perf_counter() - started, 4)
    rows = {k: len(v) for k, v in vars(fetched).items() if isinstance(v, list)}
    return {"queries": "driftd", "total_s": total, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dsn", required=True, help="libpq URL of the database to read")
    ap.add_argument("--queries", choices=("driftd", "builtin"), default="driftd")
    a = ap.parse_args()
    print(json.dumps(run_driftd(a.dsn) if a.queries == "driftd" else run_builtin(a.dsn)))


if __name__ == "__main__":
    main()
