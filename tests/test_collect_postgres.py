"""The PostgreSQL collector against a real server.

Most tests build one baseline state, then apply real DDL step by step and check
that each step changes exactly the expected paths of the object map and
nothing else. ``setting:`` objects are server-wide and other test sessions may
touch them, so they are compared only in the test that changes one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy.engine import make_url

from driftd.collect import Target
from driftd.collect import postgres as pg
from driftd.errors import CollectError
from tests.conftest import PgDatabase

Objects = dict[str, dict[str, Any]]
Path = tuple[str, ...]

BASE = """
CREATE ROLE {p}app LOGIN;
CREATE ROLE {p}reader;
CREATE ROLE {p}writer;
CREATE SCHEMA app AUTHORIZATION {p}app;
CREATE SCHEMA other;
CREATE TABLE other.t (id int);
CREATE INDEX ON other.t (id);
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.posint AS integer CONSTRAINT posint_check CHECK (VALUE > 0);
CREATE TYPE app.pair AS (a int, b text);
CREATE TYPE app.floatrange AS RANGE (subtype = float8);
CREATE TABLE app.customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL CONSTRAINT customers_email_key UNIQUE,
  name text,
  mood app.mood DEFAULT 'ok');
CREATE TABLE app.orders (
  id serial PRIMARY KEY,
  customer_id bigint REFERENCES app.customers (id),
  amount numeric(10, 2) CHECK (amount >= 0),
  qty int,
  total numeric GENERATED ALWAYS AS (amount * qty) STORED,
  note text);
ALTER TABLE app.orders ADD CONSTRAINT amount_cap CHECK (amount < 1000000) NOT VALID;
CREATE INDEX orders_customer_idx ON app.orders (customer_id);
CREATE TABLE app.tags (name text, label text);
CREATE TABLE app.base_t (x int);
CREATE TABLE app.child_t (x int, y int);
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders
  FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE POLICY own ON app.orders USING (true);
CREATE TABLE app.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE VIEW app.big_orders AS SELECT id, amount FROM app.orders WHERE amount > 100;
CREATE MATERIALIZED VIEW app.order_totals AS
  SELECT customer_id, sum(amount) AS total FROM app.orders GROUP BY customer_id;
CREATE SEQUENCE app.invoice_seq;
CREATE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE PROCEDURE app.noop() LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE app.total(int) (sfunc = int4pl, stype = int, initcond = '0');
GRANT USAGE ON SCHEMA app TO {p}reader;
GRANT SELECT ON app.orders TO {p}reader;
"""


def _leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf with its path; empty dicts have none (so removals show as paths)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    else:
        yield path, value


def changed_paths(before: Objects, after: Objects) -> set[Path]:
    a, b = dict(_leaves(before)), dict(_leaves(after))
    missing = object()
    return {p for p in a.keys() | b.keys() if a.get(p, missing) != b.get(p, missing)}


class Env:
    """The baseline state in a fresh database, and a way to change it step by step."""

    def __init__(self, pgdb: PgDatabase) -> None:
        self.pgdb = pgdb
        self.p = pgdb.prefix
        self.target = Target(environment="test", url=pgdb.url, roles=(pgdb.prefix + "*",))
        self.sql(BASE)
        self.current = self.collect()

    def sql(self, text: str, user: str | None = None) -> None:
        self.pgdb.execute(text.format(p=self.p, db=self.pgdb.name), user=user)

    def collect(self, settings: bool = False, **target: Any) -> Objects:
        objects = pg.collect(dataclasses.replace(self.target, **target)).objects
        return {k: v for k, v in objects.items() if settings or not k.startswith("setting:")}

    def step(self, sql: str, *expected: Path) -> Objects:
        """Run ``sql``; exactly the paths under ``expected`` must change (none if empty)."""
        self.sql(sql)
        after = self.collect()
        expected = tuple(tuple(part.format(p=self.p) for part in e) for e in expected)
        diff = changed_paths(self.current, after)
        unexpected = sorted(p for p in diff if not any(p[: len(e)] == e for e in expected))
        missing = [e for e in expected if not any(p[: len(e)] == e for p in diff)]
        assert not unexpected and not missing, (
            f"after {sql!r}: unexpected changes {unexpected}, expected but unchanged {missing}"
        )
        self.current = after
        return after


@pytest.fixture
def env(pgdb: PgDatabase) -> Env:
    return Env(pgdb)


ORDERS = "table:app.orders"


def test_baseline_shape(env: Env) -> None:
    o = env.current
    p = env.p
    assert o[ORDERS]["owner"] == "postgres"
    assert o[ORDERS]["columns"]["id"] == {
        "type": "integer",
        "nullable": False,
        "default": "nextval('app.orders_id_seq'::regclass)",
        "identity": None,
        "identity_options": None,
        "generated": None,
        "collation": None,
        "statistics": None,
        "storage": None,
        "compression": None,
        "local": None,
        "comment": None,
    }
    assert o[ORDERS]["columns"]["total"]["generated"] == "(amount * (qty)::numeric)"
    assert o["table:app.customers"]["columns"]["id"]["identity"] == "always"
    assert o[ORDERS]["grants"] == {
        "postgres": ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"],
        f"{p}reader": ["SELECT"],
    }
    assert set(o[ORDERS]["constraints"]) == {
        "orders_pkey",
        "orders_customer_id_fkey",
        "orders_amount_check",
        "amount_cap",
    }
    assert o[ORDERS]["constraints"]["amount_cap"]["validated"] is False
    # Indexes behind a primary key / unique constraint are constraints, not indexes.
    assert set(o[ORDERS]["indexes"]) == {"orders_customer_idx"}
    assert o["table:app.customers"]["indexes"] == {}
    assert o["table:app.events"]["partitioning"] == {"strategy": "range", "key": "RANGE (at)"}
    assert o["table:app.events_2024"]["partition_of"] == {
        "parent": "app.events",
        "bound": "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    }
    assert o["type:app.mood"]["labels"] == ["sad", "ok", "happy"]
    assert o["type:app.pair"]["attributes"]["b"] == {
        "type": "text",
        "collation": None,
        "position": 2,
    }
    assert o["function:app.add(a integer, b integer)"]["grants"] == {
        "PUBLIC": ["EXECUTE"],
        "postgres": ["EXECUTE"],
    }
    assert o["function:app.total(integer)"]["definition"]["initcond"] == "0"
    assert o["sequence:app.orders_id_seq"]["owned_by"] == "app.orders.id"
    assert o["database:" + env.pgdb.name]["grants"]["PUBLIC"] == ["CONNECT", "TEMPORARY"]
    # Left out: identity sequences, array / multirange / row types, range constructors,
    # other schemas' objects, system schemas.
    assert "sequence:app.customers_id_seq" not in o
    assert not any(k.startswith("type:app._") for k in o)
    assert "type:app.floatmultirange" not in o and "type:app.orders" not in o
    assert not any(k.startswith("function:app.floatrange") for k in o)
    assert not any(k.startswith(("table:pg_catalog.", "view:information_schema.")) for k in o)
    assert {k.split(":", 1)[0] for k in o} == {
        "database",
        "schema",
        "table",
        "view",
        "materialized_view",
        "sequence",
        "function",
        "type",
        "extension",
        "role",
    }


def test_columns(env: Env) -> None:
    col = (ORDERS, "columns")
    after = env.step(
        "ALTER TABLE app.orders ALTER COLUMN note TYPE varchar(200)", (*col, "note", "type")
    )
    assert after[ORDERS]["columns"]["note"]["type"] == "character varying(200)"
    after = env.step(
        "ALTER TABLE app.orders ALTER COLUMN qty SET DEFAULT 1", (*col, "qty", "default")
    )
    assert after[ORDERS]["columns"]["qty"]["default"] == "1"
    env.step("ALTER TABLE app.orders ALTER COLUMN note SET NOT NULL", (*col, "note", "nullable"))
    after = env.step(
        "ALTER TABLE app.customers ALTER COLUMN id SET GENERATED BY DEFAULT",
        ("table:app.customers", "columns", "id", "identity"),
    )
    assert after["table:app.customers"]["columns"]["id"]["identity"] == "by default"
    env.step(
        "ALTER TABLE app.orders ALTER COLUMN total DROP EXPRESSION", (*col, "total", "generated")
    )
    after = env.step(
        'ALTER TABLE app.customers ALTER COLUMN name TYPE text COLLATE "POSIX"',
        ("table:app.customers", "columns", "name", "collation"),
    )
    assert after["table:app.customers"]["columns"]["name"]["collation"] == "pg_catalog.POSIX"
    env.step("COMMENT ON COLUMN app.orders.note IS 'free text'", (*col, "note", "comment"))
    env.step("ALTER TABLE app.orders ADD COLUMN extra int", (*col, "extra"))
    env.step("ALTER TABLE app.orders DROP COLUMN extra", (*col, "extra"))


def test_constraints(env: Env) -> None:
    con = ("table:app.tags", "constraints")
    after = env.step(
        "ALTER TABLE app.tags ADD PRIMARY KEY (name)",
        (*con, "tags_pkey"),
        ("table:app.tags", "columns", "name", "nullable"),  # a primary key implies NOT NULL
    )
    assert after["table:app.tags"]["constraints"]["tags_pkey"]["type"] == "primary_key"
    env.step(
        "ALTER TABLE app.tags ADD CONSTRAINT tags_label_key UNIQUE (label)",
        (*con, "tags_label_key"),
    )
    after = env.step(
        "ALTER TABLE app.tags ADD CONSTRAINT tags_excl EXCLUDE USING btree (label WITH =)",
        (*con, "tags_excl"),
    )
    assert after["table:app.tags"]["constraints"]["tags_excl"]["type"] == "exclusion"
    assert after["table:app.tags"]["indexes"] == {}
    env.step(
        "ALTER TABLE app.orders DROP CONSTRAINT orders_customer_id_fkey",
        (ORDERS, "constraints", "orders_customer_id_fkey"),
    )
    after = env.step(
        "ALTER TABLE app.orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id)"
        " REFERENCES app.customers (id) DEFERRABLE INITIALLY DEFERRED",
        (ORDERS, "constraints", "orders_customer_fk"),
    )
    assert after[ORDERS]["constraints"]["orders_customer_fk"] == {
        "type": "foreign_key",
        "definition": "FOREIGN KEY (customer_id) REFERENCES app.customers(id)"
        " DEFERRABLE INITIALLY DEFERRED",
        "deferrable": True,
        "deferred": True,
        "validated": True,
    }
    env.step(
        "ALTER TABLE app.orders ALTER CONSTRAINT orders_customer_fk NOT DEFERRABLE",
        (ORDERS, "constraints", "orders_customer_fk", "definition"),
        (ORDERS, "constraints", "orders_customer_fk", "deferrable"),
        (ORDERS, "constraints", "orders_customer_fk", "deferred"),
    )
    after = env.step(
        "ALTER TABLE app.orders ADD CONSTRAINT qty_positive CHECK (qty > 0)",
        (ORDERS, "constraints", "qty_positive"),
    )
    assert after[ORDERS]["constraints"]["qty_positive"]["definition"] == "CHECK ((qty > 0))"
    env.step(
        "ALTER TABLE app.orders VALIDATE CONSTRAINT amount_cap",
        (ORDERS, "constraints", "amount_cap", "validated"),
        (ORDERS, "constraints", "amount_cap", "definition"),  # loses its NOT VALID
    )


def test_indexes_and_triggers(env: Env) -> None:
    after = env.step(
        "CREATE INDEX orders_note_idx ON app.orders (note) WHERE note IS NOT NULL",
        (ORDERS, "indexes", "orders_note_idx"),
    )
    assert after[ORDERS]["indexes"]["orders_note_idx"] == {
        "definition": "CREATE INDEX orders_note_idx ON app.orders USING btree (note)"
        " WHERE (note IS NOT NULL)",
        "unique": False,
        "status": None,
        "tablespace": None,
    }
    after = env.step(
        "CREATE UNIQUE INDEX tags_lower ON app.tags (lower(name))",
        ("table:app.tags", "indexes", "tags_lower"),
    )
    assert after["table:app.tags"]["indexes"]["tags_lower"]["unique"] is True
    env.step("DROP INDEX app.orders_customer_idx", (ORDERS, "indexes", "orders_customer_idx"))
    trg = (ORDERS, "triggers", "orders_touch")
    after = env.step("ALTER TABLE app.orders DISABLE TRIGGER orders_touch", (*trg, "enabled"))
    assert after[ORDERS]["triggers"]["orders_touch"]["enabled"] == "disabled"
    env.step("ALTER TABLE app.orders ENABLE REPLICA TRIGGER orders_touch", (*trg, "enabled"))
    after = env.step(
        "CREATE TRIGGER tags_touch AFTER INSERT ON app.tags"
        " FOR EACH STATEMENT EXECUTE FUNCTION app.touch()",
        ("table:app.tags", "triggers", "tags_touch"),
    )
    assert after["table:app.tags"]["triggers"]["tags_touch"]["definition"].startswith(
        "CREATE TRIGGER tags_touch AFTER INSERT ON app.tags"
    )


def test_issue_18_table_fields(env: Env) -> None:
    """Identity options, statistics/storage/compression, replica identity, rules, validity."""
    cust = "table:app.customers"
    after = env.step(
        "ALTER TABLE app.customers ALTER COLUMN id SET CACHE 20 SET CYCLE",
        (cust, "columns", "id", "identity_options"),
    )
    assert after[cust]["columns"]["id"]["identity_options"] == {"cache": 20, "cycle": True}
    env.step(
        "ALTER TABLE app.customers ALTER COLUMN id SET CACHE 1 SET NO CYCLE",
        (cust, "columns", "id", "identity_options"),
    )
    after = env.step(
        "ALTER TABLE app.orders ALTER COLUMN note SET COMPRESSION pglz",
        (ORDERS, "columns", "note", "compression"),
    )
    assert after[ORDERS]["columns"]["note"]["compression"] == "pglz"
    env.step(
        "ALTER TABLE app.orders ALTER COLUMN note SET STORAGE MAIN",
        (ORDERS, "columns", "note", "storage"),
    )
    after = env.step(
        "CREATE UNIQUE INDEX orders_id_uq ON app.orders (id);"
        "ALTER TABLE app.orders REPLICA IDENTITY USING INDEX orders_id_uq",
        (ORDERS, "indexes", "orders_id_uq"),
        (ORDERS, "replica_identity"),
    )
    assert after[ORDERS]["replica_identity"] == "index orders_id_uq"
    after = env.step(
        "CREATE VIEW app.v_orders AS SELECT id, note FROM app.orders;"
        "CREATE RULE v_orders_ins AS ON INSERT TO app.v_orders DO INSTEAD NOTHING",
        ("view:app.v_orders",),
    )
    assert list(after["view:app.v_orders"]["rules"]) == ["v_orders_ins"]
    # A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an invalid index behind.
    env.sql("INSERT INTO app.tags (name) VALUES ('x'), ('X')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        env.sql("CREATE UNIQUE INDEX CONCURRENTLY tags_ci ON app.tags (lower(name))")
    after = env.step("SELECT 1", ("table:app.tags", "indexes", "tags_ci"))
    assert after["table:app.tags"]["indexes"]["tags_ci"]["status"] == "invalid"
    after = env.step(
        "CREATE ACCESS METHOD {p}heap TYPE TABLE HANDLER heap_tableam_handler;"
        "ALTER TABLE app.base_t SET ACCESS METHOD {p}heap",
        ("access_method:{p}heap",),
        ("table:app.base_t", "access_method"),
    )
    assert after["table:app.base_t"]["access_method"] == env.p + "heap"
    assert after[f"access_method:{env.p}heap"]["type"] == "table"


def test_rls_and_policies(env: Env) -> None:
    env.step("ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY", (ORDERS, "rls", "enabled"))
    env.step("ALTER TABLE app.orders FORCE ROW LEVEL SECURITY", (ORDERS, "rls", "forced"))
    after = env.step(
        "CREATE POLICY readers ON app.orders AS RESTRICTIVE FOR SELECT TO {p}reader, {p}app"
        " USING (qty > 0)",
        (ORDERS, "policies", "readers"),
    )
    assert after[ORDERS]["policies"]["readers"] == {
        "command": "SELECT",
        "permissive": False,
        "roles": sorted([env.p + "app", env.p + "reader"]),
        "using": "(qty > 0)",
        "with_check": None,
    }
    assert after[ORDERS]["policies"]["own"]["roles"] == ["PUBLIC"]
    env.step("ALTER POLICY own ON app.orders TO {p}writer", (ORDERS, "policies", "own", "roles"))
    env.step(
        "ALTER POLICY own ON app.orders WITH CHECK (qty < 10)",
        (ORDERS, "policies", "own", "with_check"),
    )


def test_grants_and_owner(env: Env) -> None:
    after = env.step("GRANT INSERT ON app.orders TO {p}writer", (ORDERS, "grants", "{p}writer"))
    assert after[ORDERS]["grants"][env.p + "writer"] == ["INSERT"]
    after = env.step(
        "GRANT SELECT ON app.orders TO {p}writer WITH GRANT OPTION",
        (ORDERS, "grants", "{p}writer"),
    )
    assert after[ORDERS]["grants"][env.p + "writer"] == ["INSERT", "SELECT WITH GRANT OPTION"]
    env.step("GRANT SELECT ON app.customers TO PUBLIC", ("table:app.customers", "grants", "PUBLIC"))
    env.step("REVOKE SELECT ON app.orders FROM {p}reader", (ORDERS, "grants", "{p}reader"))
    after = env.step(
        "GRANT UPDATE (note), SELECT (note, qty) ON app.orders TO {p}writer",
        (ORDERS, "column_grants", "note"),
        (ORDERS, "column_grants", "qty"),
    )
    assert after[ORDERS]["column_grants"]["note"] == {env.p + "writer": ["SELECT", "UPDATE"]}
    env.step("REVOKE ALL (qty) ON app.orders FROM {p}writer", (ORDERS, "column_grants", "qty"))
    # The owner's implicit privileges move with it, and so does the serial's sequence.
    after = env.step(
        "ALTER TABLE app.orders OWNER TO {p}app",
        (ORDERS, "owner"),
        (ORDERS, "grants", "postgres"),
        (ORDERS, "grants", "{p}app"),
        ("sequence:app.orders_id_seq", "owner"),
        ("sequence:app.orders_id_seq", "grants", "postgres"),
        ("sequence:app.orders_id_seq", "grants", "{p}app"),
    )
    assert after[ORDERS]["owner"] == env.p + "app"


def test_table_structure(env: Env) -> None:
    after = env.step(
        "CREATE TABLE app.events_2025 PARTITION OF app.events"
        " FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        ("table:app.events_2025",),
    )
    assert after["table:app.events_2025"]["partition_of"]["parent"] == "app.events"
    env.step(
        "ALTER TABLE app.events DETACH PARTITION app.events_2024",
        ("table:app.events_2024", "partition_of"),
    )
    env.step("ALTER TABLE app.tags SET UNLOGGED", ("table:app.tags", "persistence"))
    after = env.step(
        "ALTER TABLE app.orders SET (fillfactor = 70)", (ORDERS, "options", "fillfactor")
    )
    assert after[ORDERS]["options"] == {"fillfactor": "70"}
    env.step("COMMENT ON TABLE app.orders IS 'orders'", (ORDERS, "comment"))
    # child_t declared x itself before it inherited it: x stays local (attislocal).
    after = env.step(
        "ALTER TABLE app.child_t INHERIT app.base_t",
        ("table:app.child_t", "inherits"),
        ("table:app.child_t", "columns", "x", "local"),
    )
    assert after["table:app.child_t"]["inherits"] == ["app.base_t"]
    assert after["table:app.child_t"]["columns"]["x"]["local"] is True
    after = env.step(
        "CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;"
        " CREATE FOREIGN TABLE app.ft (a int) SERVER files OPTIONS (filename '/dev/null')",
        ("extension:file_fdw",),
        ("table:app.ft",),
        ("foreign_server:files",),  # the server is an object of its own
    )
    assert after["foreign_server:files"]["wrapper"] == "file_fdw"
    assert after["table:app.ft"]["foreign_server"] == "files"
    assert after["table:app.ft"]["foreign_options"] == {"filename": "/dev/null"}


def test_partitions(env: Env) -> None:
    ev, ev24 = "table:app.events", "table:app.events_2024"
    env.step(
        "ALTER TABLE app.events ADD PRIMARY KEY (id, at)",
        (ev, "constraints", "events_pkey"),
        (ev24, "constraints", "events_2024_pkey"),  # each partition has its own
        *[(t, "columns", c, "nullable") for t in (ev, ev24) for c in ("id", "at")],
    )
    # A foreign key to a partitioned table: one constraint, not one per partition.
    after = env.step(
        "CREATE TABLE app.refs (eid int, at date, FOREIGN KEY (eid, at) REFERENCES app.events)",
        ("table:app.refs",),
    )
    assert list(after["table:app.refs"]["constraints"]) == ["refs_eid_at_fkey"]
    trigger = (
        "CREATE TRIGGER ev_touch BEFORE UPDATE ON app.events"
        " FOR EACH ROW EXECUTE FUNCTION app.touch()"
    )
    env.step(trigger, (ev, "triggers", "ev_touch"), (ev24, "triggers", "ev_touch"))
    env.step(
        "ALTER TABLE app.events_2024 DISABLE TRIGGER ev_touch",
        (ev24, "triggers", "ev_touch", "enabled"),
    )
    env.step(
        "CREATE INDEX events_at ON app.events (at)",
        (ev, "indexes", "events_at"),  # once, on the parent: the partitions' copies attach
    )


def test_views(env: Env) -> None:
    view = "view:app.big_orders"
    after = env.step(
        "CREATE OR REPLACE VIEW app.big_orders AS"
        " SELECT id, amount FROM app.orders WHERE amount > 200",
        (view, "definition"),
    )
    assert after[view]["definition"].endswith("WHERE orders.amount > 200::numeric;")
    env.step("ALTER VIEW app.big_orders SET (security_barrier = true)", (view, "options"))
    env.step("GRANT SELECT ON app.big_orders TO {p}reader", (view, "grants", "{p}reader"))
    env.step(
        "COMMENT ON COLUMN app.big_orders.amount IS 'eur'", (view, "column_comments", "amount")
    )
    env.step("ALTER VIEW app.big_orders OWNER TO {p}app", (view, "owner"), (view, "grants"))
    mv = "materialized_view:app.order_totals"
    after = env.step(
        "CREATE UNIQUE INDEX order_totals_customer ON app.order_totals (customer_id)",
        (mv, "indexes", "order_totals_customer"),
    )
    assert after[mv]["indexes"]["order_totals_customer"]["unique"] is True
    env.step("COMMENT ON MATERIALIZED VIEW app.order_totals IS 'x'", (mv, "comment"))
    # Data is not schema: refreshing changes nothing.
    env.step(
        "INSERT INTO app.customers (email) VALUES ('a@b');"
        " REFRESH MATERIALIZED VIEW app.order_totals"
    )


def test_sequences(env: Env) -> None:
    seq = "sequence:app.invoice_seq"
    env.step("SELECT nextval('app.invoice_seq'), nextval('app.invoice_seq')")  # no change
    after = env.step(
        "ALTER SEQUENCE app.invoice_seq INCREMENT BY 5 MAXVALUE 1000 CYCLE",
        (seq, "increment"),
        (seq, "max"),
        (seq, "cycle"),
    )
    assert (after[seq]["increment"], after[seq]["max"], after[seq]["cycle"]) == (5, 1000, True)
    after = env.step("ALTER SEQUENCE app.invoice_seq AS integer", (seq, "data_type"))
    assert after[seq]["data_type"] == "integer"
    after = env.step("ALTER SEQUENCE app.invoice_seq OWNED BY app.orders.qty", (seq, "owned_by"))
    assert after[seq]["owned_by"] == "app.orders.qty"
    env.step("ALTER SEQUENCE app.invoice_seq START 10 CACHE 20", (seq, "start"), (seq, "cache"))


def test_functions(env: Env) -> None:
    add = "function:app.add(a integer, b integer)"
    env.step(
        "CREATE OR REPLACE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE"
        " AS 'SELECT a + b + 0'",
        (add, "definition"),
    )
    after = env.step(
        "ALTER FUNCTION app.add(int, int) SECURITY DEFINER",
        (add, "security_definer"),
        (add, "definition"),
    )
    assert after[add]["security_definer"] is True
    after = env.step(
        "ALTER FUNCTION app.add(int, int) SET search_path = app, pg_temp",
        (add, "config"),
        (add, "definition"),
    )
    assert after[add]["config"] == {"search_path": "app, pg_temp"}
    env.step("ALTER FUNCTION app.add(int, int) STABLE", (add, "volatility"), (add, "definition"))
    # REVOKE from PUBLIC on a function never granted before: the owner keeps EXECUTE.
    after = env.step(
        "REVOKE EXECUTE ON FUNCTION app.add(int, int) FROM PUBLIC", (add, "grants", "PUBLIC")
    )
    assert after[add]["grants"] == {"postgres": ["EXECUTE"]}
    env.step("GRANT EXECUTE ON FUNCTION app.add(int, int) TO {p}app", (add, "grants", "{p}app"))
    env.step(
        "CREATE OR REPLACE PROCEDURE app.noop() LANGUAGE sql AS 'SELECT 2'",
        ("function:app.noop()", "definition"),
    )
    after = env.step(
        "CREATE OR REPLACE AGGREGATE app.total(int) (sfunc = int4pl, stype = int, initcond = '1')",
        ("function:app.total(integer)", "definition", "initcond"),
    )
    assert after["function:app.total(integer)"]["kind"] == "aggregate"
    after = env.step(
        "CREATE FUNCTION app.add(a bigint, b bigint) RETURNS bigint LANGUAGE sql AS 'SELECT a + b'",
        ("function:app.add(a bigint, b bigint)",),
    )
    assert after["function:app.noop()"]["kind"] == "procedure"


def test_types(env: Env) -> None:
    after = env.step("ALTER TYPE app.mood ADD VALUE 'meh' BEFORE 'ok'", ("type:app.mood", "labels"))
    assert after["type:app.mood"]["labels"] == ["sad", "meh", "ok", "happy"]
    dom = "type:app.posint"
    after = env.step(
        "ALTER DOMAIN app.posint ADD CONSTRAINT posint_small CHECK (VALUE < 1000)",
        (dom, "constraints", "posint_small"),
    )
    assert after[dom]["constraints"]["posint_small"] == "CHECK ((VALUE < 1000))"
    env.step("ALTER DOMAIN app.posint SET NOT NULL", (dom, "not_null"))
    env.step("ALTER DOMAIN app.posint SET DEFAULT 1", (dom, "default"))
    after = env.step(
        "ALTER TYPE app.pair ADD ATTRIBUTE c date", ("type:app.pair", "attributes", "c")
    )
    assert after["type:app.pair"]["attributes"]["c"] == {
        "type": "date",
        "collation": None,
        "position": 3,
    }
    after = env.step(
        "CREATE TYPE app.intrange2 AS RANGE (subtype = int4)", ("type:app.intrange2",)
    )  # and not its multirange type or constructor functions
    assert after["type:app.intrange2"]["subtype"] == "integer"
    env.step("COMMENT ON TYPE app.floatrange IS 'x'", ("type:app.floatrange", "comment"))
    env.step("REVOKE USAGE ON TYPE app.mood FROM PUBLIC", ("type:app.mood", "grants", "PUBLIC"))
    env.step(
        "ALTER TYPE app.mood OWNER TO {p}app",
        ("type:app.mood", "owner"),
        ("type:app.mood", "grants"),
    )


def test_extensions_are_one_object(env: Env) -> None:
    # citext brings functions, operators and a type: none of them shows up.
    after = env.step("CREATE EXTENSION citext SCHEMA app", ("extension:citext",))
    assert after["extension:citext"] == {"version": "1.6", "schema": "app"}
    env.step("ALTER EXTENSION citext SET SCHEMA public", ("extension:citext", "schema"))
    env.step("ALTER EXTENSION citext UPDATE")  # already current: no change


def test_schemas_and_default_privileges(env: Env) -> None:
    after = env.step("CREATE SCHEMA s2 AUTHORIZATION {p}app", ("schema:s2",))
    assert after["schema:s2"]["grants"] == {env.p + "app": ["CREATE", "USAGE"]}
    env.step("COMMENT ON SCHEMA app IS 'the app'", ("schema:app", "comment"))
    env.step("GRANT CREATE ON SCHEMA app TO {p}reader", ("schema:app", "grants", "{p}reader"))
    env.step(
        "ALTER SCHEMA s2 OWNER TO {p}writer",
        ("schema:s2", "owner"),
        ("schema:s2", "grants"),
    )
    after = env.step(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {p}app IN SCHEMA app"
        " GRANT SELECT ON TABLES TO {p}reader",
        ("schema:app", "default_privileges", "{p}app", "tables", "{p}reader"),
    )
    assert after["schema:app"]["default_privileges"] == {
        env.p + "app": {"tables": {env.p + "reader": ["SELECT"]}}
    }
    db = "database:" + env.pgdb.name
    after = env.step(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {p}app REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
        (db, "default_privileges", "{p}app", "functions"),
    )
    assert after[db]["default_privileges"] == {
        env.p + "app": {"functions": {env.p + "app": ["EXECUTE"]}}
    }
    env.step(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {p}app GRANT USAGE ON SCHEMAS TO {p}reader",
        (db, "default_privileges", "{p}app", "schemas"),
    )


def test_database(env: Env) -> None:
    db = "database:" + env.pgdb.name
    after = env.step("ALTER DATABASE {db} SET work_mem = '8MB'", (db, "settings", "work_mem"))
    assert after[db]["settings"] == {"work_mem": "8MB"}
    after = env.step(
        "ALTER ROLE {p}app IN DATABASE {db} SET search_path = app",
        (db, "role_settings", "{p}app"),
    )
    assert after[db]["role_settings"] == {env.p + "app": {"search_path": "app"}}
    env.step("GRANT CREATE ON DATABASE {db} TO {p}app", (db, "grants", "{p}app"))
    after = env.step("REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC", (db, "grants", "PUBLIC"))
    assert after[db]["grants"]["PUBLIC"] == ["CONNECT"]
    env.step("COMMENT ON DATABASE {db} IS 'test'", (db, "comment"))
    env.step("ALTER DATABASE {db} OWNER TO {p}app", (db, "owner"), (db, "grants"))


def test_roles(env: Env) -> None:
    r = "role:{p}reader"
    key = r.format(p=env.p)
    env.step("ALTER ROLE {p}reader LOGIN CREATEDB", (r, "login"), (r, "createdb"))
    after = env.step(
        "ALTER ROLE {p}reader CONNECTION LIMIT 5 VALID UNTIL '2030-01-02 03:04:05+02'",
        (r, "connection_limit"),
        (r, "valid_until"),
    )
    assert after[key]["valid_until"] == "2030-01-02T01:04:05Z"
    after = env.step("ALTER ROLE {p}reader VALID UNTIL 'infinity'", (r, "valid_until"))
    assert after[key]["valid_until"] == "infinity"
    after = env.step("ALTER ROLE {p}reader SET statement_timeout = '5s'", (r, "config"))
    assert after[key]["config"] == {"statement_timeout": "5s"}
    after = env.step(
        "GRANT {p}reader TO {p}app WITH ADMIN OPTION",
        ("role:{p}app", "member_of", "{p}reader"),
    )
    assert after[f"role:{env.p}app"]["member_of"] == {env.p + "reader": {"admin_option": True}}
    # Membership in a predefined role is shown, though pg_* roles are not objects.
    after = env.step(
        "GRANT pg_read_all_data TO {p}app", ("role:{p}app", "member_of", "pg_read_all_data")
    )
    assert not any(k.startswith("role:pg_") for k in after)
    env.step("COMMENT ON ROLE {p}reader IS 'read only'", (r, "comment"))
    env.step("ALTER ROLE {p}reader NOINHERIT BYPASSRLS", (r, "inherit"), (r, "bypassrls"))
    after = env.step("CREATE ROLE {p}new REPLICATION", ("role:{p}new",))
    assert after[f"role:{env.p}new"]["replication"] is True
    # Passwords are never read: setting one changes nothing.
    after = env.step("ALTER ROLE {p}reader PASSWORD 'hunter2-secret'")
    dumped = orjson.dumps(after)
    assert b"hunter2" not in dumped and b"SCRAM" not in dumped and b"md5" not in dumped


def test_roles_filter(env: Env) -> None:
    env.sql("CREATE ROLE {p}zz_other; ALTER ROLE {p}zz_other IN DATABASE {db} SET work_mem = '1MB'")
    objects = env.collect(roles=(env.p + "a*", env.p + "r*"))
    roles = {k for k in objects if k.startswith("role:")}
    assert roles == {f"role:{env.p}app", f"role:{env.p}reader"}
    assert objects["database:" + env.pgdb.name]["role_settings"] == {}
    everything = env.collect(roles=())
    assert f"role:{env.p}zz_other" in everything and "role:postgres" in everything
    assert not any(k.startswith("role:pg_") for k in everything)  # exclude_roles default


def test_engine_and_determinism(env: Env) -> None:
    first = pg.collect(env.target)
    second = pg.collect(env.target)
    assert first.engine["dialect"] == "postgresql"
    assert first.engine["server_version"].split(".")[0].isdigit()
    assert " " not in first.engine["server_version"]
    assert first.objects == second.objects
    opt = orjson.OPT_SORT_KEYS
    assert orjson.dumps(first.objects, option=opt) == orjson.dumps(second.objects, option=opt)
    # Nothing that changes by itself: no OIDs, no sequence values, no timestamps.
    env.sql("SELECT nextval('app.invoice_seq'); ANALYZE; INSERT INTO app.tags VALUES ('a', 'b')")
    assert pg.collect(env.target).objects == first.objects


def test_schema_filters(env: Env) -> None:
    def schemas_of(objects: Objects) -> set[str]:
        return {
            k.split(":", 1)[1].split(".", 1)[0]
            for k in objects
            if k.split(":", 1)[0] in ("table", "view", "function", "type", "sequence")
        }

    assert schemas_of(env.current) == {"app", "other"}
    only_app = env.collect(schemas=("ap*",))
    assert schemas_of(only_app) == {"app"}
    assert "schema:other" not in only_app and "schema:public" not in only_app
    no_app = env.collect(exclude_schemas=("app",))
    assert schemas_of(no_app) == {"other"} and "schema:app" not in no_app
    # Per-schema default privileges of an excluded schema go too.
    env.sql("ALTER DEFAULT PRIVILEGES IN SCHEMA other GRANT SELECT ON TABLES TO {p}reader")
    assert (
        env.collect(exclude_schemas=("other",))["database:" + env.pgdb.name]
        == env.current["database:" + env.pgdb.name]
    )


def test_read_only_role_is_enough(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A role with CONNECT/USAGE/SELECT only sees the same objects; only reads are sent."""
    ro = env.p + "ro"
    env.sql(
        f"CREATE ROLE {ro} LOGIN; GRANT CONNECT ON DATABASE {{db}} TO {ro};"
        f" GRANT USAGE ON SCHEMA app, other TO {ro};"
        f" GRANT SELECT ON ALL TABLES IN SCHEMA app, other TO {ro}"
    )
    as_admin = env.collect()
    sent: list[str] = []
    original = psycopg.Connection.execute
    original_cursor = psycopg.Cursor.execute

    def spy(self: psycopg.Connection[Any], query: Any, *args: Any, **kw: Any) -> Any:
        sent.append(query if isinstance(query, str) else query.as_string(self))
        return original(self, query, *args, **kw)

    def spy_cursor(self: psycopg.Cursor[Any], query: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(query, str):  # Connection.execute goes through here too: count once
            sent.append(query) if not sent or sent[-1] != query else None
        return original_cursor(self, query, *args, **kw)

    monkeypatch.setattr(psycopg.Connection, "execute", spy)
    monkeypatch.setattr(psycopg.Cursor, "execute", spy_cursor)
    url = make_url(env.pgdb.url).set(username=ro).render_as_string(hide_password=False)
    as_ro = env.collect(url=url)
    assert as_ro == as_admin
    assert sent[0] == "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    assert sent[-1] == "COMMIT"
    verbs = {
        " ".join(s.split()[:2]) if s.startswith(("SET", "ROLLBACK")) else s.split()[0] for s in sent
    }
    assert verbs == {"BEGIN", "SET LOCAL", "SELECT", "SAVEPOINT", "ROLLBACK TO", "COMMIT"}


def test_lock_timeout_names_the_blocker(env: Env) -> None:
    blocker = env.pgdb.connect()
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE app.orders IN ACCESS EXCLUSIVE MODE")
    blocker.execute("SELECT 'alice@example.com' AS email, 42 AS n")
    started = time.monotonic()
    try:
        with pytest.raises(CollectError) as info:
            env.collect(lock_timeout=0.2)
    finally:
        elapsed = time.monotonic() - started
        blocker.execute("ROLLBACK")
    message = info.value.message
    assert message.startswith(
        "lock_timeout (200ms) reading the catalog: table app.orders is locked"
    )
    assert f"(AccessExclusiveLock) by pid {blocker.info.backend_pid} (user postgres" in message
    assert "transaction open" in message
    assert "SELECT ? AS email, ? AS n" in message
    assert "alice@example.com" not in message
    assert info.value.hint == pg.LOCK_HINT
    assert elapsed < 5
    # Once the lock is gone, the next run succeeds and nothing changed.
    assert env.collect() == env.current


def test_lock_in_an_excluded_schema_does_not_block(env: Env) -> None:
    blocker = env.pgdb.connect()
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE other.t IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(CollectError):
            env.collect(lock_timeout=0.2)
        objects = env.collect(lock_timeout=0.2, exclude_schemas=("other",))
    finally:
        blocker.execute("ROLLBACK")
    assert ORDERS in objects and "table:other.t" not in objects


def test_statement_timeout(env: Env) -> None:
    blocker = env.pgdb.connect()
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE app.orders IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(CollectError) as info:
            env.collect(lock_timeout=30, statement_timeout=0.3)
    finally:
        blocker.execute("ROLLBACK")
    assert info.value.message.startswith("statement_timeout (300ms) reading the catalog of ")
    assert "statement_timeout" in (info.value.hint or "")


def test_unreachable_server_hides_the_password() -> None:
    target = Target(
        environment="prod",
        url="postgresql+psycopg://bob:hunter2secret@127.0.0.1:1/app",
        connect_timeout=2,
    )
    with pytest.raises(CollectError) as info:
        pg.collect(target)
    text = str(info.value)
    assert info.value.message.startswith(
        "cannot connect to postgresql+psycopg://bob:***@127.0.0.1:1/app: "
    )
    assert "refused" in info.value.message
    assert "hunter2secret" not in text
    assert info.value.hint


def test_wrong_database_name(pgdb: PgDatabase) -> None:
    url = make_url(pgdb.url).set(database=pgdb.name + "_nope").render_as_string(hide_password=False)
    with pytest.raises(CollectError) as info:
        pg.collect(Target(environment="t", url=url, display_url="<prod>"))
    assert info.value.message.startswith("cannot connect to <prod>: ")
    assert "does not exist" in info.value.message


def test_blocker_statement_is_masked_then_cut() -> None:
    # Masking is driftd.masking's (tested there); this checks the collector uses it first.
    assert pg._statement("ALTER TABLE t ADD COLUMN x int\n  DEFAULT 5") == (
        "ALTER TABLE t ADD COLUMN x int DEFAULT ?"
    )
    assert pg._statement("ALTER ROLE bob PASSWORD 'hunter2'") == "ALTER ROLE bob PASSWORD ?"
    long = "UPDATE t SET a = 'x' WHERE note = '" + "secret " * 20 + "'"
    shown = pg._statement(long)
    assert shown == "UPDATE t SET a = ? WHERE note = ?"
    shown = pg._statement("SELECT " + "col, " * 30 + "'alice@example.com'")
    assert len(shown) == 80 and shown.endswith("…") and "alice" not in shown
