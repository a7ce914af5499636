"""The PostgreSQL collector's shortcuts must give exactly what the server's functions give.

The collector writes the definitions of primary keys, unique constraints and
foreign keys itself (from server-quoted names) instead of calling
pg_get_constraintdef for each, and reads ACLs as aclitem text instead of
exploding them on the server. Here both ways run on a catalog of awkward
cases: the objects must be equal, and each shortcut must actually be taken.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import sql

from driftd.collect import Target
from driftd.collect import postgres as pg
from driftd.collect.postgres import build, queries
from tests.conftest import PgDatabase

CASES = """
CREATE ROLE "{p}Mixed Case";
CREATE ROLE "{p}quo""te";
CREATE ROLE {p}plain;
CREATE SCHEMA "Odd Schema";
CREATE SCHEMA s2;
CREATE SCHEMA hidden;
CREATE TABLE hidden.ref (id int PRIMARY KEY);
CREATE TABLE "Odd Schema"."Parent" ("Id" int, "user" int, "select" text, plain int,
  PRIMARY KEY ("Id", "user"), UNIQUE (plain), UNIQUE ("select", plain) DEFERRABLE);
CREATE TABLE s2.child (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  pid int, puser int, plain int, "order" int, note varchar(10),
  CONSTRAINT fk_full FOREIGN KEY (pid, puser) REFERENCES "Odd Schema"."Parent" ("Id", "user")
    MATCH FULL ON UPDATE CASCADE ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
  CONSTRAINT fk_plain FOREIGN KEY (plain) REFERENCES "Odd Schema"."Parent" (plain)
    ON DELETE RESTRICT ON UPDATE SET DEFAULT,
  CONSTRAINT fk_hidden FOREIGN KEY ("order") REFERENCES hidden.ref (id) ON DELETE CASCADE,
  CONSTRAINT fk_self FOREIGN KEY (pid) REFERENCES s2.child (id) NOT VALID,
  CONSTRAINT chk CHECK (note <> 'x'),
  CONSTRAINT inc UNIQUE (note) INCLUDE (plain),
  CONSTRAINT nnd UNIQUE NULLS NOT DISTINCT (pid, plain),
  CONSTRAINT fk_setcols FOREIGN KEY (pid, puser) REFERENCES "Odd Schema"."Parent" ("Id", "user")
    ON DELETE SET NULL (pid));
ALTER TABLE s2.child ADD CONSTRAINT uq_late UNIQUE (puser) NOT DEFERRABLE;
CREATE TABLE s2.parted (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE s2.parted_1 PARTITION OF s2.parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE s2.refs_parted (id int, at date, FOREIGN KEY (id, at) REFERENCES s2.parted);
GRANT SELECT, UPDATE ("select") ON "Odd Schema"."Parent" TO "{p}Mixed Case" WITH GRANT OPTION;
GRANT INSERT ON "Odd Schema"."Parent" TO "{p}quo""te", PUBLIC;
GRANT SELECT ("Id") ON "Odd Schema"."Parent" TO {p}plain;
REVOKE ALL ON s2.child FROM PUBLIC;
GRANT ALL ON s2.child TO {p}plain;
GRANT USAGE, CREATE ON SCHEMA "Odd Schema" TO "{p}Mixed Case";
GRANT TEMPORARY ON DATABASE {db} TO {p}plain;
ALTER DEFAULT PRIVILEGES IN SCHEMA s2 GRANT SELECT ON TABLES TO "{p}quo""te";
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO {p}plain WITH GRANT OPTION;
REVOKE ALL ON SCHEMA s2 FROM PUBLIC;
"""

ACL_IN_SQL = """
(SELECT json_object_agg(g.grantee, g.privileges) FROM (
 SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END AS grantee,
        json_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
        AS privileges
 FROM aclexplode({source}) x GROUP BY 1) g)"""


def server_side_acl(acl: str, objtype: str | None = None, owner: str | None = None) -> str:
    """The ACL exploded and aggregated into JSON on the server (the collector's old way)."""
    source = f"coalesce({acl}, acldefault('{objtype}', {owner}))" if objtype else acl
    return ACL_IN_SQL.format(source=source)


@pytest.fixture
def target(pgdb: PgDatabase) -> Iterator[Target]:
    pgdb.execute(CASES.format(p=pgdb.prefix, db=pgdb.name))
    try:
        yield Target(environment="test", url=pgdb.url, roles=(pgdb.prefix + "*",))
    finally:  # the shared clean-up cannot drop a role with a quote in its name
        quoted = sql.Identifier(f'{pgdb.prefix}quo"te')
        with pgdb.connect() as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(quoted))
            conn.execute(sql.SQL("DROP ROLE {}").format(quoted))


def collect(target: Target, **kw: Any) -> dict[str, Any]:
    return pg.collect(Target(**{**target.__dict__, **kw})).objects


def test_key_definitions_match_pg_get_constraintdef(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = collect(target)
    built: list[str] = []
    key_definition = build.Builder._key_definition

    def spy(self: build.Builder, *args: Any) -> str:
        built.append(key_definition(self, *args))
        return built[-1]

    monkeypatch.setattr(build.Builder, "_key_definition", spy)
    queries.constraints_sql.cache_clear()
    assert collect(target) == fast
    assert len(built) >= 10  # the shortcut was taken for the plain keys...
    real = queries.constraints_sql
    monkeypatch.setattr(queries, "constraints_sql", lambda v: real(v, range(0)))
    built.clear()
    slow = collect(target)
    assert built == []  # ...and not at all here
    assert fast == slow
    child = fast["table:s2.child"]["constraints"]
    assert child["fk_full"]["definition"] == (
        'FOREIGN KEY (pid, puser) REFERENCES "Odd Schema"."Parent"("Id", "user") MATCH FULL '
        "ON UPDATE CASCADE ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED"
    )
    assert child["fk_hidden"]["definition"] == (
        'FOREIGN KEY ("order") REFERENCES hidden.ref(id) ON DELETE CASCADE'
    )
    assert child["fk_setcols"]["definition"].endswith("ON DELETE SET NULL (pid)")


def test_key_definitions_without_the_referenced_schema(target: Target) -> None:
    """A foreign key to an excluded schema still names its table (the server writes it)."""
    objects = collect(target, exclude_schemas=("hidden", "Odd Schema"))
    child = objects["table:s2.child"]["constraints"]
    assert child["fk_hidden"]["definition"].startswith('FOREIGN KEY ("order") REFERENCES hidden.')
    assert child["fk_plain"]["definition"].startswith(
        'FOREIGN KEY (plain) REFERENCES "Odd Schema"."Parent"(plain)'
    )


def test_acl_text_matches_aclexplode(target: Target, pgdb: PgDatabase) -> None:
    objects = collect(target)
    p = pgdb.prefix
    parent = objects["table:Odd Schema.Parent"]
    assert parent["grants"][f"{p}Mixed Case"] == ["SELECT WITH GRANT OPTION"]
    assert parent["grants"]["PUBLIC"] == ["INSERT"]
    assert parent["grants"][f'{p}quo"te'] == ["INSERT"]
    assert parent["column_grants"]["select"] == {f"{p}Mixed Case": ["UPDATE WITH GRANT OPTION"]}
    assert objects["table:s2.child"]["grants"][f"{p}plain"] == [
        "DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"
    ]  # fmt: skip
    # Every ACL read, next to the same ACL exploded and aggregated on the server:
    kinds = {"r": "table", "p": "table", "v": "view", "m": "materialized_view", "S": "sequence"}
    with pgdb.connect() as conn:
        rels = conn.execute(f"""
            SELECT c.relkind, n.nspname, c.relname,
                   {server_side_acl("c.relacl", "r", "c.relowner")},
                   {server_side_acl("c.relacl", "s", "c.relowner")}
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('Odd Schema', 's2', 'hidden')
              AND c.relkind IN ('r', 'p', 'v', 'm', 'S')""").fetchall()
        columns = conn.execute(f"""
            SELECT n.nspname, c.relname, a.attname, {server_side_acl("a.attacl")}
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('Odd Schema', 's2', 'hidden')
              AND a.attacl IS NOT NULL""").fetchall()
        schemas = conn.execute(f"""
            SELECT n.nspname, {server_side_acl("n.nspacl", "n", "n.nspowner")}
            FROM pg_namespace n WHERE n.nspname IN ('Odd Schema', 's2', 'hidden', 'public')
            """).fetchall()
        [database] = conn.execute(f"""
            SELECT {server_side_acl("d.datacl", "d", "d.datdba")} FROM pg_database d
            WHERE d.datname = current_database()""").fetchall()
    checked = 0
    for relkind, schema, name, table_acl, sequence_acl in rels:
        key = f"{kinds[relkind]}:{schema}.{name}"
        if key in objects:  # an identity column's sequence is part of its table
            want = sequence_acl if relkind == "S" else table_acl
            assert objects[key]["grants"] == normalized(want), key
            checked += 1
    for schema, name, column, acl in columns:
        grants = objects[f"table:{schema}.{name}"]["column_grants"].get(column, {})
        assert grants == normalized(acl), (schema, name, column)
        checked += 1
    for name, acl in schemas:
        assert objects[f"schema:{name}"]["grants"] == normalized(acl), name
    assert objects[f"database:{pgdb.name}"]["grants"] == normalized(database[0])
    assert checked >= 8


def normalized(grants: dict[str, list[str]] | None) -> dict[str, list[str]]:
    return {grantee: sorted(set(privs)) for grantee, privs in (grants or {}).items()}


def test_a_failure_while_building_stops_the_reader(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query running on the reader thread is cancelled; nothing is left behind."""

    def broken(self: build.Builder, rows: list[Any]) -> None:
        raise RuntimeError("a bug while building")

    monkeypatch.setattr(build.Builder, "_tables", broken)
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(RuntimeError, match="a bug while building"):
        pg.collect(target)
    assert {t.name for t in threading.enumerate()} == before
    assert gc.isenabled()
    monkeypatch.undo()
    assert "table:s2.child" in pg.collect(target).objects  # and the next read works


def test_reader_errors_are_raised_as_they_were(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = queries.sql

    def broken(name: str) -> str:
        return "SELECT 1/0" if name == "policy" else real(name)

    monkeypatch.setattr(queries, "sql", broken)
    with pytest.raises(pg.CollectError, match="division by zero"):
        pg.collect(target)
    assert gc.isenabled()
