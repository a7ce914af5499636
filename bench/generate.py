"""Build a large, deterministic PostgreSQL catalog for the driftd benchmarks.

One database (default) or a fleet of identical small databases. Everything is
derived from ``--seed``: the same arguments always give the same catalog.

    python bench/generate.py --db driftd_bench --tables 10000 --schemas 10 --roles 1000
    python bench/generate.py --fleet 200 --fleet-tables 200 --role-prefix bf_
    python bench/generate.py --db driftd_bench --drop          # database and its roles

Per table: 4–16 columns of mixed types (including the primary key and foreign
keys to earlier tables of the same schema), 0–3 extra indexes, a trigger on
~20 %, RLS with policies on ~5 %, a view on ~10 %, a materialized view on ~1 %,
1–4 grants (some column-level, some WITH GRANT OPTION), comments on ~30 %.
Per schema: an enum, a domain, two trigger functions, a sequence, schema grants
and default privileges. Roles (cluster-wide, all named ``<prefix>...``): one
owner that owns every object, ~10 % group roles (some nested), the rest login
users in 1–3 groups with assorted attributes and settings.

SQL is built in Python and sent through one connection as multi-statement
batches (one round trip and one commit per ``--batch`` tables).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
import psycopg.rows
from psycopg import sql

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
MARKER_KEY = "driftd_bench"

# (column-name stem, SQL type, possible defaults); "{s}" is the schema.
COLUMN_TYPES: list[tuple[str, str, tuple[str | None, ...]]] = [
    ("qty", "integer", (None, "0")),
    ("total", "bigint", (None, "0")),
    ("rank", "smallint", (None,)),
    ("note", "text", (None, "''")),
    ("label", "varchar({n})", (None,)),
    ("amount", "numeric(12,2)", (None, "0")),
    ("active", "boolean", ("true", "false", None)),
    ("created_at", "timestamptz", ("now()", None)),
    ("day", "date", (None, "CURRENT_DATE")),
    ("payload", "jsonb", ("'{{}}'::jsonb", None)),
    ("ref_uuid", "uuid", (None,)),
    ("blob", "bytea", (None,)),
    ("score", "double precision", (None,)),
    ("addr", "inet", (None,)),
    ("tags", "text[]", (None, "'{{}}'::text[]")),
    ("status", "{s}.status", ("'new'",)),
    ("email", "{s}.email", (None,)),
]
TEXTLIKE = {"text", "varchar({n})", "{s}.email"}
GIN_TYPES = {"jsonb", "text[]"}
PRIVILEGE_SETS = [
    "SELECT",
    "SELECT",
    "SELECT, INSERT, UPDATE, DELETE",
    "SELECT, INSERT",
    "ALL",
    "SELECT, REFERENCES",
    "SELECT, UPDATE, TRIGGER",
    "TRUNCATE",
]


@dataclass(frozen=True)
class Spec:
    """What to build. Stored as JSON in the database comment (the marker)."""

    db: str
    tables: int = 10_000
    schemas: int = 10
    roles: int = 1_000
    role_prefix: str = "bb_"
    seed: int = 1
    # False: the catalogs keep the statistics of template1 (a fresh restore, a new
    # server, autovacuum behind): the planner believes pg_class holds a few hundred rows.
    analyzed: bool = True

    def marker(self) -> str:
        return json.dumps({MARKER_KEY: asdict(self)}, sort_keys=True)


@dataclass
class Roles:
    owner: str
    groups: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)

    @property
    def grantees(self) -> list[str]:
        return self.groups + self.users


def ident(name: str) -> str:
    """Quote only when needed; every generated name is a plain lowercase identifier."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- roles -------------------------------------------------------------------


def role_names(spec: Spec) -> Roles:
    p = spec.role_prefix
    n_groups = max(1, spec.roles // 10)
    n_users = max(0, spec.roles - 1 - n_groups)
    return Roles(
        owner=f"{p}app_owner",
        groups=[f"{p}g_{i:03d}" for i in range(n_groups)],
        users=[f"{p}u_{i:04d}" for i in range(n_users)],
    )


def roles_sql(spec: Spec, roles: Roles, rng: random.Random) -> list[str]:
    out = [f"CREATE ROLE {roles.owner} NOLOGIN"]
    out.append(f"COMMENT ON ROLE {roles.owner} IS 'owns every benchmark object'")
    for i, g in enumerate(roles.groups):
        inherit = " NOINHERIT" if rng.random() < 0.1 else ""
        out.append(f"CREATE ROLE {g} NOLOGIN{inherit}")
        if i and rng.random() < 0.3:  # nested groups, always pointing at earlier ones
            out.append(f"GRANT {roles.groups[rng.randrange(i)]} TO {g}")
        if rng.random() < 0.2:
            out.append(f"COMMENT ON ROLE {g} IS {lit(f'group {i} of the benchmark')}")
    for u in roles.users:
        attrs = ["LOGIN"]
        if rng.random() < 0.05:
            attrs.append("CREATEDB")
        if rng.random() < 0.02:
            attrs.append("CREATEROLE")
        if rng.random() < 0.1:
            attrs.append(f"CONNECTION LIMIT {rng.choice((5, 10, 50))}")
        if rng.random() < 0.05:
            attrs.append("VALID UNTIL '2031-01-01 00:00:00+00'")
        if rng.random() < 0.05:
            attrs.append("NOINHERIT")
        out.append(f"CREATE ROLE {u} {' '.join(attrs)}")
        for g in rng.sample(roles.groups, k=min(len(roles.groups), rng.randint(1, 3))):
            admin = " WITH ADMIN OPTION" if rng.random() < 0.05 else ""
            out.append(f"GRANT {g} TO {u}{admin}")
        if rng.random() < 0.05:
            out.append(f"ALTER ROLE {u} SET statement_timeout = '{rng.choice((5, 30, 60))}s'")
        if rng.random() < 0.03:
            out.append(f"ALTER ROLE {u} SET search_path = app, public")
    return out


# -- schemas and tables --------------------------------------------------------


@dataclass
class Table:
    schema: str
    name: str
    pk_type: str
    unlogged: bool = False  # permanent tables may not reference it


def schema_names(spec: Spec) -> list[str]:
    width = max(2, len(str(spec.schemas - 1)))
    return [f"s{i:0{width}d}" for i in range(spec.schemas)]


def schema_prelude(schema: str, roles: Roles, rng: random.Random) -> list[str]:
    s = schema
    out = [
        f"CREATE TYPE {s}.status AS ENUM ('new', 'active', 'suspended', 'closed')",
        f"CREATE DOMAIN {s}.email AS text CHECK (VALUE ~ '^[^@]+@[^@]+$')",
        f"CREATE SEQUENCE {s}.ticket_seq START 1000 INCREMENT 5 CACHE 1",
        f"CREATE FUNCTION {s}.touch() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN NEW.id := NEW.id; RETURN NEW; END$$",
        f"CREATE FUNCTION {s}.audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS "
        "$$BEGIN RETURN NULL; END$$",
        f"COMMENT ON SCHEMA {s} IS {lit(f'benchmark schema {s}')}",
    ]
    for g in rng.sample(roles.groups, k=min(3, len(roles.groups))):
        out.append(f"GRANT USAGE ON SCHEMA {s} TO {g}")
    out.append(f"GRANT USAGE ON SEQUENCE {s}.ticket_seq TO {rng.choice(roles.groups)}")
    out.append(f"REVOKE EXECUTE ON FUNCTION {s}.audit() FROM PUBLIC")
    return out


def schema_epilogue(schema: str, roles: Roles, rng: random.Random) -> list[str]:
    # After the tables, so default privileges only affect objects created later.
    g = rng.choice(roles.groups)
    return [
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {g}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE ON SEQUENCES TO {g}",
    ]


def table_sql(t: Table, earlier: list[Table], roles: Roles, rng: random.Random) -> list[str]:
    s, q = t.schema, f"{t.schema}.{t.name}"
    n_cols = rng.randint(4, 16)
    cols: list[str] = []
    constraints: list[str] = []
    # Primary key.
    if t.pk_type == "uuid":
        cols.append("id uuid DEFAULT gen_random_uuid() PRIMARY KEY")
    elif t.pk_type == "serial":
        cols.append("id bigserial PRIMARY KEY")
    else:
        cols.append("id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    # Foreign keys to earlier tables of the same schema.
    refs = [e for e in earlier[-200:] if not e.unlogged]
    n_fk = 0 if not refs else rng.choices((0, 1, 2), weights=(50, 40, 10))[0]
    for ref in rng.sample(refs, k=min(n_fk, len(refs))):
        ref_type = "uuid" if ref.pk_type == "uuid" else "bigint"
        action = rng.choice(("NO ACTION", "CASCADE", "SET NULL", "RESTRICT"))
        cols.append(
            f"{ref.name}_id {ref_type} REFERENCES {ref.schema}.{ref.name} (id) ON DELETE {action}"
        )
    # Other columns.
    data_cols: list[tuple[str, str]] = []  # (name, COLUMN_TYPES kind)
    while len(cols) < n_cols:
        stem, kind, defaults = rng.choice(COLUMN_TYPES)
        name = f"{stem}_{len(cols)}"
        col = f"{name} {kind.format(s=s, n=rng.choice((32, 64, 255)))}"
        if rng.random() < 0.3:
            col += " NOT NULL"
        default = rng.choice(defaults)
        if default:
            col += f" DEFAULT {default.format()}"
        if kind in ("integer", "bigint", "numeric(12,2)") and rng.random() < 0.15:
            constraints.append(f"CONSTRAINT {t.name}_{name}_check CHECK ({name} >= 0)")
        cols.append(col)
        data_cols.append((name, kind))
    options = " WITH (fillfactor = 80)" if rng.random() < 0.05 else ""
    unlogged = "UNLOGGED " if t.unlogged else ""
    out = [f"CREATE {unlogged}TABLE {q} ({', '.join(cols + constraints)}){options}"]

    # 0–3 extra indexes.
    for k in range(rng.randint(0, 3)):
        if not data_cols:
            break
        name, kind = rng.choice(data_cols)
        iname = f"{t.name}_ix{k}"
        variant = rng.random()
        if kind in GIN_TYPES:
            out.append(f"CREATE INDEX {iname} ON {q} USING gin ({name})")
        elif kind in TEXTLIKE and variant < 0.3:
            out.append(f"CREATE INDEX {iname} ON {q} (lower({name}::text))")
        elif variant < 0.2:
            out.append(f"CREATE UNIQUE INDEX {iname} ON {q} ({name}, id)")
        elif variant < 0.4:
            out.append(f"CREATE INDEX {iname} ON {q} ({name}) WHERE {name} IS NOT NULL")
        elif variant < 0.55 and len(data_cols) > 1:
            other = rng.choice([c for c, _ in data_cols if c != name])
            out.append(f"CREATE INDEX {iname} ON {q} ({name}, {other} DESC)")
        else:
            out.append(f"CREATE INDEX {iname} ON {q} ({name})")

    # Triggers on ~20 %.
    if rng.random() < 0.2:
        when = " WHEN (OLD.* IS DISTINCT FROM NEW.*)" if rng.random() < 0.3 else ""
        out.append(
            f"CREATE TRIGGER {t.name}_touch BEFORE UPDATE ON {q} FOR EACH ROW{when} "
            f"EXECUTE FUNCTION {s}.touch()"
        )
        if rng.random() < 0.3:
            out.append(
                f"CREATE TRIGGER {t.name}_audit AFTER INSERT OR DELETE ON {q} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit()"
            )

    # RLS and policies on ~5 %.
    if rng.random() < 0.05:
        out.append(f"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY")
        if rng.random() < 0.3:
            out.append(f"ALTER TABLE {q} FORCE ROW LEVEL SECURITY")
        out.append(
            f"CREATE POLICY {t.name}_read ON {q} FOR SELECT TO {rng.choice(roles.groups)} "
            "USING (id IS NOT NULL)"
        )
        if rng.random() < 0.5:
            out.append(
                f"CREATE POLICY {t.name}_write ON {q} AS RESTRICTIVE FOR ALL TO PUBLIC "
                "USING (true) WITH CHECK (id IS NOT NULL)"
            )

    # 1–4 grants.
    for grantee in rng.sample(roles.grantees, k=min(len(roles.grantees), rng.randint(1, 4))):
        option = " WITH GRANT OPTION" if rng.random() < 0.05 else ""
        if data_cols and rng.random() < 0.1:
            chosen = sorted({c for c, _ in rng.sample(data_cols, k=min(2, len(data_cols)))})
            out.append(f"GRANT SELECT ({', '.join(chosen)}) ON {q} TO {grantee}{option}")
        else:
            out.append(f"GRANT {rng.choice(PRIVILEGE_SETS)} ON {q} TO {grantee}{option}")

    # Comments on ~30 %.
    if rng.random() < 0.3:
        out.append(f"COMMENT ON TABLE {q} IS {lit(f'table {t.name} in {s}')}")
        if data_cols:
            out.append(f"COMMENT ON COLUMN {q}.{data_cols[0][0]} IS 'first data column'")

    # Views on ~10 %, materialized views on ~1 %.
    shown = ["id", *[c for c, _ in data_cols[:3]]]
    if rng.random() < 0.1:
        v = f"{s}.v_{t.name}"
        barrier = " WITH (security_barrier)" if rng.random() < 0.2 else ""
        out.append(
            f"CREATE VIEW {v}{barrier} AS SELECT {', '.join(shown)} FROM {q} WHERE id IS NOT NULL"
        )
        out.append(f"GRANT SELECT ON {v} TO {rng.choice(roles.groups)}")
        if rng.random() < 0.3:
            out.append(f"COMMENT ON VIEW {v} IS 'view over {t.name}'")
    if rng.random() < 0.01:
        mv = f"{s}.mv_{t.name}"
        out.append(f"CREATE MATERIALIZED VIEW {mv} AS SELECT {', '.join(shown)} FROM {q}")
        out.append(f"CREATE UNIQUE INDEX mv_{t.name}_id ON {mv} (id)")
        out.append(f"GRANT SELECT ON {mv} TO {rng.choice(roles.groups)}")
    return out


def tables_for(spec: Spec, rng: random.Random) -> dict[str, list[Table]]:
    schemas = schema_names(spec)
    per, extra = divmod(spec.tables, spec.schemas)
    out: dict[str, list[Table]] = {}
    for i, s in enumerate(schemas):
        n = per + (1 if i < extra else 0)
        width = max(4, len(str(n - 1)))
        pk_types = rng.choices(("identity", "serial", "uuid"), (85, 10, 5), k=n)
        out[s] = [
            Table(s, f"t_{j:0{width}d}", pk_types[j], unlogged=rng.random() < 0.01)
            for j in range(n)
        ]
    return out


def database_batches(spec: Spec, roles: Roles, batch: int) -> Iterator[tuple[int, str]]:
    """(tables in the batch, SQL) for everything inside the database, in order."""
    rng = random.Random(f"{spec.seed}:objects")
    plan = tables_for(spec, rng)
    head = [f"SET ROLE {roles.owner}"]  # session-level: everything is owned by the owner
    for s in plan:
        head += [f"CREATE SCHEMA {s}", *schema_prelude(s, roles, rng)]
    yield 0, ";\n".join(head)
    for s, tables in plan.items():
        for start in range(0, len(tables), batch):
            stmts: list[str] = []
            for i in range(start, min(start + batch, len(tables))):
                stmts += table_sql(tables[i], tables[:i], roles, rng)
            yield min(batch, len(tables) - start), ";\n".join(stmts)
        yield 0, ";\n".join(schema_epilogue(s, roles, rng))
    yield 0, "RESET ROLE"


# -- server operations ---------------------------------------------------------


def connect(dsn: str, dbname: str | None = None) -> psycopg.Connection[Any]:
    kwargs: dict[str, Any] = {"autocommit": True}
    if dbname:
        kwargs["dbname"] = dbname
    return psycopg.connect(dsn, **kwargs)


def check_prefix(prefix: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9]{1,15}_", prefix) or prefix.startswith("pg"):
        sys.exit(f"role prefix {prefix!r} is too broad: use 2–16 letters/digits and '_' (bb_)")


def db_marker(admin: psycopg.Connection[Any], db: str) -> dict[str, Any] | None:
    """The generator spec stored on ``db``; None when absent. Exits if ``db`` is foreign."""
    row = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (db,)
    ).fetchone()
    if row is None:
        return None
    try:
        spec: dict[str, Any] = json.loads(row[0] or "")[MARKER_KEY]
        return spec
    except (ValueError, KeyError, TypeError):
        sys.exit(
            f"database {db} exists and was not made by bench/generate.py: refusing to touch it"
        )


def drop_database(admin: psycopg.Connection[Any], db: str) -> None:
    if db_marker(admin, db) is not None:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))


def drop_roles(admin: psycopg.Connection[Any], prefix: str) -> int:
    names = [
        r[0]
        for r in admin.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s) ORDER BY rolname DESC",
            (prefix,),
        )
    ]
    if names:
        try:
            with admin.transaction():
                for name in names:
                    admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            if exc.sqlstate != "2BP01":  # dependent_objects_still_exist
                raise
            sys.exit(
                f"cannot drop the {prefix}* roles: {exc.diag.message_primary} "
                f"({exc.diag.message_detail or ''}); drop the databases using them first "
                "or pick another --role-prefix"
            )
    return len(names)


def create_database(
    admin: psycopg.Connection[Any], db: str, marker: str, template: str = "", strategy: str = ""
) -> None:
    """``strategy`` (PostgreSQL 15+): WAL_LOG (the default) or FILE_COPY, for a clone."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db))
    if template:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    if strategy:
        query += sql.SQL(" STRATEGY {}").format(sql.SQL(strategy))
    for attempt in range(20):  # the template must have no other sessions (e.g. autovacuum)
        try:
            admin.execute(query)
            break
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.5)
    admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(db), marker))


def build(dsn: str, spec: Spec, batch: int = 25, with_roles: bool = True) -> float:
    """Create ``spec.db`` fresh (and, with_roles, its roles); return seconds taken."""
    started = time.perf_counter()
    roles = role_names(spec)
    with connect(dsn) as admin:
        drop_database(admin, spec.db)
        if with_roles:
            drop_roles(admin, spec.role_prefix)
            with admin.transaction():
                admin.execute(
                    ";\n".join(roles_sql(spec, roles, random.Random(f"{spec.seed}:roles")))
                )
        create_database(admin, spec.db, spec.marker())
        admin.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(spec.db), sql.Identifier(roles.owner)
            )
        )
    done = 0
    with connect(dsn, spec.db) as conn:
        conn.execute("SET synchronous_commit = off")
        for n, script in database_batches(spec, roles, batch):
            conn.execute(script.encode())  # bytes: sent as-is, never %-formatted
            done += n
            if n:
                print(f"\r{spec.db}: {done}/{spec.tables} tables", end="", file=sys.stderr)
        print(file=sys.stderr)
        if not spec.analyzed:
            return time.perf_counter() - started
        # Fresh statistics on the catalogs, so later timings do not depend on autovacuum.
        conn.execute(
            "VACUUM (ANALYZE) pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_index, "
            "pg_catalog.pg_constraint, pg_catalog.pg_depend, pg_catalog.pg_type, "
            "pg_catalog.pg_attrdef, pg_catalog.pg_trigger, pg_catalog.pg_policy, "
            "pg_catalog.pg_rewrite, pg_catalog.pg_description, pg_catalog.pg_sequence, "
            "pg_catalog.pg_proc, pg_catalog.pg_namespace, pg_catalog.pg_init_privs"
        )
    return time.perf_counter() - started


COUNTS_SQL = """
WITH rel AS (
  SELECT c.* FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
)
SELECT
  (SELECT count(*) FROM pg_namespace
    WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'public')) AS schemas,
  (SELECT count(*) FROM rel WHERE relkind IN ('r', 'p')) AS tables,
  (SELECT count(*) FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid
    WHERE rel.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped) AS table_columns,
  (SELECT count(*) FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid
    WHERE a.attnum > 0 AND NOT a.attisdropped) AS all_columns,
  (SELECT count(*) FROM rel WHERE relkind = 'i') AS indexes,
  (SELECT count(*) FROM pg_constraint co JOIN rel ON rel.oid = co.conrelid
    WHERE co.contype = 'f') AS foreign_keys,
  (SELECT count(*) FROM pg_trigger t JOIN rel ON rel.oid = t.tgrelid
    WHERE NOT t.tgisinternal) AS triggers,
  (SELECT count(*) FROM rel WHERE relrowsecurity) AS rls_tables,
  (SELECT count(*) FROM pg_policy p JOIN rel ON rel.oid = p.polrelid) AS policies,
  (SELECT count(*) FROM rel WHERE relkind = 'v') AS views,
  (SELECT count(*) FROM rel WHERE relkind = 'm') AS materialized_views,
  (SELECT count(*) FROM rel WHERE relkind = 'S') AS sequences,
  (SELECT count(DISTINCT (rel.oid, x.grantee)) FROM rel, aclexplode(rel.relacl) x
    WHERE rel.relkind IN ('r', 'p') AND x.grantee <> rel.relowner) AS table_grants,
  (SELECT count(*) FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid,
    aclexplode(a.attacl) x) AS column_acl_items,
  (SELECT count(*) FROM pg_roles WHERE starts_with(rolname, %(prefix)s)) AS roles,
  (SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
    WHERE starts_with(r.rolname, %(prefix)s)) AS memberships
"""


def catalog_counts(dsn: str, db: str, prefix: str) -> dict[str, int]:
    """Object counts of a built database, straight from the catalogs."""
    with connect(dsn, db) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute(COUNTS_SQL, {"prefix": prefix}).fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


def fleet_names(n: int, prefix: str = "driftd_fleet_") -> list[str]:
    width = max(3, len(str(n - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def build_fleet(dsn: str, spec: Spec, n: int, db_prefix: str = "driftd_fleet_") -> float:
    """``n`` databases: the first built from ``spec``, the others cloned from it."""
    started = time.perf_counter()
    names = fleet_names(n, db_prefix)
    with connect(dsn) as admin:
        for name in existing_fleet(admin, db_prefix):
            drop_database(admin, name)
    build(dsn, Spec(**{**asdict(spec), "db": names[0]}))
    with connect(dsn) as admin:
        for name in names[1:]:
            create_database(admin, name, Spec(**{**asdict(spec), "db": name}).marker(), names[0])
            print(f"\rcloned {name}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return time.perf_counter() - started


def existing_fleet(admin: psycopg.Connection[Any], db_prefix: str) -> list[str]:
    rows = admin.execute(
        "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY 1", (db_prefix,)
    )
    return [r[0] for r in rows if re.fullmatch(re.escape(db_prefix) + r"\d+", r[0])]


def drop_all(dsn: str, dbs: list[str], prefix: str) -> None:
    with connect(dsn) as admin:
        for db in dbs:
            drop_database(admin, db)
        print(
            f"dropped {', '.join(dbs) or 'no databases'} and "
            f"{drop_roles(admin, prefix)} {prefix}* roles",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dsn", default=DEFAULT_DSN, help="server to build on (any database)")
    ap.add_argument("--db", default="driftd_bench")
    ap.add_argument("--tables", type=int, default=10_000, help="tables in total")
    ap.add_argument("--schemas", type=int, default=None, help="default 10 (2 with --fleet)")
    ap.add_argument("--roles", type=int, default=None, help="default 1000 (50 with --fleet)")
    ap.add_argument("--role-prefix", default=None, help="default bb_ (bf_ with --fleet)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=25, help="tables per round trip / commit")
    ap.add_argument("--fleet", type=int, default=0, help="build N databases instead of --db")
    ap.add_argument("--fleet-tables", type=int, default=200)
    ap.add_argument("--fleet-prefix", default="driftd_fleet_", help="fleet database names")
    ap.add_argument("--drop", action="store_true", help="drop the database(s) and roles, then exit")
    ap.add_argument("--print-sql", action="store_true", help="print the script instead of running")
    ap.add_argument("--counts", action="store_true", help="print catalog counts of --db and exit")
    a = ap.parse_args(argv)

    prefix = a.role_prefix or ("bf_" if a.fleet else "bb_")
    check_prefix(prefix)
    schemas = a.schemas or (2 if a.fleet else 10)
    roles = a.roles or (50 if a.fleet else 1_000)
    if a.fleet:  # build_fleet names the databases
        spec = Spec(a.fleet_prefix, a.fleet_tables, schemas, roles, prefix, a.seed)
    else:
        spec = Spec(a.db, a.tables, schemas, roles, prefix, a.seed)
    if a.drop:
        if a.fleet:
            with connect(a.dsn) as admin:
                dbs = existing_fleet(admin, a.fleet_prefix)
        else:
            dbs = [a.db]
        drop_all(a.dsn, dbs, prefix)
        return
    if a.counts:
        print(json.dumps(catalog_counts(a.dsn, a.db, prefix), indent=2))
        return
    if a.print_sql:
        roles = role_names(spec)
        print(";\n".join(roles_sql(spec, roles, random.Random(f"{spec.seed}:roles"))) + ";")
        for _, script in database_batches(spec, roles, a.batch):
            print(script + ";")
        return
    if a.fleet:
        took = build_fleet(a.dsn, spec, a.fleet, a.fleet_prefix)
        print(f"built {a.fleet} databases of {spec.tables} tables in {took:.1f} s")
    else:
        print(f"built {spec.db} ({spec.tables} tables) in {build(a.dsn, spec, a.batch):.1f} s")


if __name__ == "__main__":
    main()
