"""Apply N out-of-band changes of mixed kinds to a database; say what they touched.

    python bench/mutate.py --db driftd_bench_mut --count 100 --out changes.json
    python bench/mutate.py --undo changes.json       # revert the cluster-wide (role) changes

Targets are picked from the live catalog (sorted, then a seeded shuffle), so the
same database state and seed give the same changes. Every change touches a
different snapshot object, so each one must show up on its own in
``driftd check``. The JSON lists every change (kind, object key, SQL),
``expected``: the object keys driftd must report, ``implied``: keys that may
also legitimately change (e.g. the sequence owned by a dropped table), and
``undo``: SQL reverting the changes to cluster-wide objects (roles), which a
database copy does not isolate. All changes are applied in one transaction.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
USER_SCHEMA = "n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'public')"
# Column type changes that need no USING clause.
RETYPE = {
    "int4": "bigint",
    "int2": "integer",
    "int8": "numeric(20,0)",
    "text": "varchar(500)",
    "varchar": "text",
    "float8": "numeric",
    "date": "timestamp",
}


@dataclass
class Change:
    kind: str
    object: str
    sql: list[str]
    implied: list[str] = field(default_factory=list)
    undo: list[str] = field(default_factory=list)  # only for cluster-wide objects


@dataclass
class Catalog:
    """What the mutations pick from, read once from the live catalog."""

    schemas: list[str]
    tables: list[str]  # "schema.name"
    rls: list[str]
    droppable: list[str]
    free_columns: dict[str, list[tuple[str, str, bool]]]  # table -> (column, typname, notnull)
    extra_indexes: dict[str, list[str]]  # table -> qualified index names
    grants: dict[str, list[str]]  # table -> prefixed grantees
    triggers: dict[str, list[str]]
    views: dict[str, str]  # view -> definition
    sequences: dict[str, list[str]]  # table -> owned sequences
    logins: list[str]
    groups: list[str]
    role_attrs: dict[str, tuple[bool, int]]  # role -> (createdb, connection limit)
    members: set[tuple[str, str]]  # (group, member)


def _rows(conn: psycopg.Connection[Any], query: str, params: Any = None) -> list[tuple[Any, ...]]:
    return conn.execute(query.encode(), params).fetchall()


def _rel(joins: str = "") -> str:
    """FROM user relations ``c`` in schemas ``n``, plus ``joins``."""
    return (
        f"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace {joins} WHERE {USER_SCHEMA}"
    )


def read_catalog(conn: psycopg.Connection[Any], prefix: str) -> Catalog:
    name = "n.nspname || '.' || c.relname"
    tables = _rows(conn, f"SELECT {name}, c.relrowsecurity {_rel()} AND c.relkind = 'r'")
    droppable = _rows(
        conn,
        f"""SELECT {name} {_rel()} AND c.relkind = 'r'
        AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.confrelid = c.oid
                        AND f.conrelid <> c.oid)
        AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
                        WHERE d.classid = 'pg_rewrite'::regclass
                        AND d.refclassid = 'pg_class'::regclass
                        AND d.refobjid = c.oid AND r.ev_class <> c.oid)""",
    )
    free = _rows(  # columns nothing depends on: no index, constraint, default, view, sequence
        conn,
        f"""SELECT {name}, a.attname, t.typname, a.attnotnull
        {_rel("JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type t ON t.oid = a.atttypid")}
        AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass
                        AND d.refobjid = c.oid AND d.refobjsubid = a.attnum)
        ORDER BY 1, a.attnum""",
    )
    indexes = _rows(  # indexes that back no constraint
        conn,
        f"""SELECT {name}, n.nspname || '.' || ic.relname
        {_rel("JOIN pg_index i ON i.indrelid = c.oid JOIN pg_class ic ON ic.oid = i.indexrelid")}
        AND c.relkind = 'r'
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)""",
    )
    grants = _rows(
        conn,
        f"""SELECT DISTINCT {name}, r.rolname
        {_rel(", aclexplode(c.relacl) x JOIN pg_roles r ON r.oid = x.grantee")}
        AND c.relkind = 'r' AND starts_with(r.rolname, %s)""",
        (prefix,),
    )
    triggers = _rows(
        conn,
        f"""SELECT {name}, t.tgname {_rel("JOIN pg_trigger t ON t.tgrelid = c.oid")}
        AND NOT t.tgisinternal AND t.tgenabled <> 'D'""",
    )
    views = _rows(conn, f"SELECT {name}, pg_get_viewdef(c.oid) {_rel()} AND c.relkind = 'v'")
    owned = (  # c: the sequence, t: the table owning it
        "JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass "
        "JOIN pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass "
        "JOIN pg_namespace tn ON tn.oid = t.relnamespace"
    )
    sequences = _rows(
        conn,
        f"""SELECT tn.nspname || '.' || t.relname, {name} {_rel(owned)}
        AND c.relkind = 'S' AND d.deptype IN ('a', 'i')""",
    )
    roles = _rows(
        conn,
        "SELECT rolname, rolcanlogin, rolcreatedb, rolconnlimit FROM pg_roles "
        "WHERE starts_with(rolname, %s) AND rolname NOT LIKE '%%app_owner'",
        (prefix,),
    )
    members = _rows(
        conn,
        """SELECT g.rolname, m.rolname FROM pg_auth_members am
        JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
        WHERE starts_with(m.rolname, %s)""",
        (prefix,),
    )
    schemas = _rows(conn, f"SELECT n.nspname FROM pg_namespace n WHERE {USER_SCHEMA}")

    def group(rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = defaultdict(list)
        for key, *rest in rows:
            out[key].append(rest[0] if len(rest) == 1 else tuple(rest))
        return {k: sorted(v) for k, v in out.items()}

    return Catalog(
        schemas=sorted(r[0] for r in schemas),
        tables=sorted(r[0] for r in tables),
        rls=sorted(r[0] for r in tables if r[1]),
        droppable=sorted(r[0] for r in droppable),
        free_columns=group(free),
        extra_indexes=group(indexes),
        grants=group(grants),
        triggers=group(triggers),
        views=dict(sorted((r[0], r[1]) for r in views)),
        sequences=group(sequences),
        logins=sorted(r[0] for r in roles if r[1]),
        groups=sorted(r[0] for r in roles if not r[1]),
        role_attrs={r[0]: (r[2], r[3]) for r in roles},
        members={(r[0], r[1]) for r in members},
    )


# -- the mutations ---------------------------------------------------------------
# Each takes (catalog, rng, change number, a target it may use) and returns a Change,
# or None when that target does not fit. Targets come from CANDIDATES below.


def t_key(table: str) -> str:
    return f"table:{table}"


Mutation = Callable[[Catalog, random.Random, int, str], Change | None]


def add_column(c: Catalog, r: random.Random, n: int, t: str) -> Change:
    return Change("add_column", t_key(t), [f"ALTER TABLE {t} ADD COLUMN drift_c{n} text"])


def drop_column(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    cols = c.free_columns.get(t)
    if not cols:
        return None
    col = r.choice(cols)[0]
    return Change("drop_column", t_key(t), [f"ALTER TABLE {t} DROP COLUMN {col}"])


def change_column_type(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    cols = [(col, typ) for col, typ, _ in c.free_columns.get(t, []) if typ in RETYPE]
    if not cols:
        return None
    col, typ = r.choice(cols)
    sql = f"ALTER TABLE {t} ALTER COLUMN {col} TYPE {RETYPE[typ]}"
    return Change("change_column_type", t_key(t), [sql])


def set_not_null(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    cols = [col for col, _, notnull in c.free_columns.get(t, []) if not notnull]
    if not cols:
        return None
    sql = f"ALTER TABLE {t} ALTER COLUMN {r.choice(cols)} SET NOT NULL"
    return Change("set_not_null", t_key(t), [sql])


def add_index(c: Catalog, r: random.Random, n: int, t: str) -> Change:
    cols = [col for col, *_ in c.free_columns.get(t, [])] or ["id"]
    sql = f"CREATE INDEX drift_ix{n} ON {t} ({r.choice(cols)})"
    return Change("add_index", t_key(t), [sql])


def drop_index(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    indexes = c.extra_indexes.get(t)
    if not indexes:
        return None
    return Change("drop_index", t_key(t), [f"DROP INDEX {r.choice(indexes)}"])


def grant_role(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    have = set(c.grants.get(t, []))
    free = [role for role in c.groups + c.logins if role not in have]
    if not free:
        return None
    sql = f"GRANT SELECT, UPDATE ON {t} TO {r.choice(free)}"
    return Change("grant_role", t_key(t), [sql])


def revoke(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    have = c.grants.get(t)
    if not have:
        return None
    return Change("revoke", t_key(t), [f"REVOKE ALL ON {t} FROM {r.choice(have)}"])


def grant_public(c: Catalog, r: random.Random, n: int, t: str) -> Change:
    return Change("grant_public", t_key(t), [f"GRANT SELECT ON {t} TO PUBLIC"])


def column_grant(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    cols = c.free_columns.get(t)
    if not cols or not c.groups:
        return None
    sql = f"GRANT UPDATE ({r.choice(cols)[0]}) ON {t} TO {r.choice(c.groups)}"
    return Change("column_grant", t_key(t), [sql])


def disable_rls(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    if t not in c.rls:
        return None
    return Change("disable_rls", t_key(t), [f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY"])


def add_policy(c: Catalog, r: random.Random, n: int, t: str) -> Change:
    sql = f"CREATE POLICY drift_p{n} ON {t} FOR SELECT TO PUBLIC USING (true)"
    return Change("add_policy", t_key(t), [sql])


def disable_trigger(c: Catalog, r: random.Random, n: int, t: str) -> Change | None:
    triggers = c.triggers.get(t)
    if not triggers:
        return None
    sql = f"ALTER TABLE {t} DISABLE TRIGGER {r.choice(triggers)}"
    return Change("disable_trigger", t_key(t), [sql])


def set_option(c: Catalog, r: random.Random, n: int, t: str) -> Change:
    sql = f"ALTER TABLE {t} SET (fillfactor = 70, autovacuum_enabled = false)"
    return Change("set_option", t_key(t), [sql])


def add_comment(c: Catalog, r: random.Random, n: int, t: str) -> Change:
    target = f"TABLE {t}" if n % 2 else f"COLUMN {t}.id"
    return Change("add_comment", t_key(t), [f"COMMENT ON {target} IS 'drift change {n}'"])


def create_table(c: Catalog, r: random.Random, n: int, schema: str) -> Change:
    t = f"{schema}.drift_new_{n}"
    sql = f"CREATE TABLE {t} (id bigint PRIMARY KEY, note text)"
    return Change("create_table", t_key(t), [sql])


def drop_table(c: Catalog, r: random.Random, n: int, t: str) -> Change:
    implied = [f"sequence:{s}" for s in c.sequences.get(t, [])]
    return Change("drop_table", t_key(t), [f"DROP TABLE {t}"], implied=implied)


def change_view(c: Catalog, r: random.Random, n: int, v: str) -> Change:
    body = c.views[v].strip().rstrip(";")
    sql = f"CREATE OR REPLACE VIEW {v} AS SELECT * FROM ({body}) AS drift_{n} WHERE true"
    return Change("change_view", f"view:{v}", [sql])


def schema_grant(c: Catalog, r: random.Random, n: int, schema: str) -> Change | None:
    if not c.logins:
        return None
    sql = f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {r.choice(c.logins)}"
    return Change("schema_grant", f"schema:{schema}", [sql])


def alter_role(c: Catalog, r: random.Random, n: int, role: str) -> Change:
    createdb, limit = c.role_attrs[role]
    if n % 2:
        do, undo = ("NOCREATEDB", "CREATEDB") if createdb else ("CREATEDB", "NOCREATEDB")
    else:
        do, undo = f"CONNECTION LIMIT {limit + 7}", f"CONNECTION LIMIT {limit}"
    return Change(
        "alter_role",
        f"role:{role}",
        [f"ALTER ROLE {role} {do}"],
        undo=[f"ALTER ROLE {role} {undo}"],
    )


def add_membership(c: Catalog, r: random.Random, n: int, user: str) -> Change | None:
    groups = [g for g in c.groups if (g, user) not in c.members]
    if not groups:
        return None
    g = r.choice(groups)
    return Change(
        "add_membership",
        f"role:{user}",
        [f"GRANT {g} TO {user}"],
        implied=[f"role:{g}"],
        undo=[f"REVOKE {g} FROM {user}"],
    )


# kind -> (mutation, candidate targets, changes cluster-wide objects)
MUTATIONS: dict[str, tuple[Mutation, Callable[[Catalog], list[str]], bool]] = {
    "add_column": (add_column, lambda c: c.tables, False),
    "drop_column": (drop_column, lambda c: list(c.free_columns), False),
    "change_column_type": (change_column_type, lambda c: list(c.free_columns), False),
    "add_index": (add_index, lambda c: c.tables, False),
    "drop_index": (drop_index, lambda c: list(c.extra_indexes), False),
    "grant_role": (grant_role, lambda c: c.tables, False),
    "revoke": (revoke, lambda c: list(c.grants), False),
    "grant_public": (grant_public, lambda c: c.tables, False),
    "disable_rls": (disable_rls, lambda c: c.rls, False),
    "alter_role": (alter_role, lambda c: c.logins + c.groups, True),
    "add_membership": (add_membership, lambda c: c.logins, True),
    "change_view": (change_view, lambda c: list(c.views), False),
    "add_comment": (add_comment, lambda c: c.tables, False),
    "create_table": (create_table, lambda c: c.schemas, False),
    "drop_table": (drop_table, lambda c: c.droppable, False),
    "column_grant": (column_grant, lambda c: list(c.free_columns), False),
    "add_policy": (add_policy, lambda c: c.tables, False),
    "disable_trigger": (disable_trigger, lambda c: list(c.triggers), False),
    "set_not_null": (set_not_null, lambda c: list(c.free_columns), False),
    "set_option": (set_option, lambda c: c.tables, False),
    "schema_grant": (schema_grant, lambda c: c.schemas, False),
}


def plan(catalog: Catalog, count: int, seed: int, roles: bool = True) -> list[Change]:
    """``count`` changes, each on a different object, kinds taken in turn."""
    rng = random.Random(f"{seed}:mutate")
    kinds = [k for k, (_, _, cluster) in MUTATIONS.items() if roles or not cluster]
    pools: dict[str, list[str]] = {}
    for kind in kinds:
        pool = sorted(set(MUTATIONS[kind][1](catalog)))
        rng.shuffle(pool)
        pools[kind] = pool
    used: set[str] = set()
    changes: list[Change] = []
    turn = 0
    while len(changes) < count:
        if not any(pools.values()):
            sys.exit(f"only {len(changes)} distinct changes fit this database; asked for {count}")
        kind = kinds[turn % len(kinds)]
        turn += 1
        mutate, _, _ = MUTATIONS[kind]
        while pools[kind]:
            target = pools[kind].pop()
            change = mutate(catalog, rng, len(changes), target)
            if change and change.object not in used:
                used.add(change.object)
                changes.append(change)
                break
    return changes


def apply(conn: psycopg.Connection[Any], changes: list[Change]) -> None:
    with conn.transaction():
        for i, ch in enumerate(changes):
            for stmt in ch.sql:
                try:
                    conn.execute(stmt.encode())
                except psycopg.Error as exc:
                    sys.exit(f"change {i} ({ch.kind}) failed: {stmt}: {exc}; nothing applied")


def report(changes: list[Change], db: str, seed: int) -> dict[str, Any]:
    expected = sorted({ch.object for ch in changes})
    return {
        "database": db,
        "seed": seed,
        "count": len(changes),
        "expected": expected,
        "implied": sorted({k for ch in changes for k in ch.implied} - set(expected)),
        "undo": [stmt for ch in reversed(changes) for stmt in ch.undo],
        "kinds": {k: sum(ch.kind == k for ch in changes) for k in MUTATIONS},
        "changes": [asdict(ch) for ch in changes],
    }


def undo(conn: psycopg.Connection[Any], path: Path) -> int:
    statements: list[str] = json.loads(path.read_text())["undo"]
    with conn.transaction():
        for stmt in statements:
            conn.execute(stmt.encode())
    return len(statements)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dsn", default=DEFAULT_DSN)
    ap.add_argument("--db", default="driftd_bench")
    ap.add_argument("--role-prefix", default="bb_")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-roles", action="store_true", help="leave cluster-wide objects alone")
    ap.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    ap.add_argument("--dry-run", action="store_true", help="plan and print, change nothing")
    ap.add_argument("--undo", type=Path, metavar="JSON", help="run the undo SQL of a change list")
    a = ap.parse_args(argv)

    with psycopg.connect(a.dsn, dbname=a.db, autocommit=True) as conn:
        if a.undo:
            print(f"undid {undo(conn, a.undo)} cluster-wide changes", file=sys.stderr)
            return
        changes = plan(read_catalog(conn, a.role_prefix), a.count, a.seed, roles=not a.no_roles)
        if not a.dry_run:
            apply(conn, changes)
    doc = json.dumps(report(changes, a.db, a.seed), indent=2) + "\n"
    if a.out:
        a.out.write_text(doc)
    else:
        sys.stdout.write(doc)
    verb = "planned" if a.dry_run else "applied"
    print(f"{verb} {len(changes)} changes to {a.db}", file=sys.stderr)


if __name__ == "__main__":
    main()
