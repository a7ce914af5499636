"""The kinds registry: declarations, docs/objects.md, and the kinds added through it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftd.collect import Target
from driftd.collect import postgres as pg
from driftd.collect.postgres import acl, queries
from driftd.kinds import KINDS, KeyError_, default_severity, make_key, parse_key
from tests.conftest import PgDatabase

DOCS = Path(__file__).resolve().parent.parent / "docs" / "objects.md"
BEGIN, END = "<!-- kinds:begin -->", "<!-- kinds:end -->"


def docs_table() -> str:
    """The kinds table of docs/objects.md, as the registry says it must read."""
    rows = ["| kind | key | engines | fields |", "|---|---|---|---|"]
    for kind in KINDS.values():
        engines = ", ".join(sorted(kind.engines))
        fields = ", ".join(f"`{f}`" for f in kind.fields)
        rows.append(f"| `{kind.name}` | `{kind.key_format}` | {engines} | {fields} |")
    return "\n".join(rows)


def test_docs_table_is_the_registry() -> None:
    text = DOCS.read_text()
    assert BEGIN in text and END in text, "docs/objects.md has no generated kinds table"
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == docs_table(), "regenerate: python -m tests.test_kinds"
    documented = set(re.findall(r"^### `([a-z_]+):", text, re.MULTILINE))
    assert documented <= set(KINDS), (
        f"docs list kinds the registry lacks: {documented - set(KINDS)}"
    )


def test_every_postgres_kind_has_its_sql_file() -> None:
    for kind in KINDS.values():
        if "postgresql" in kind.engines:
            assert kind.pg_query and queries.has_sql(kind.pg_query), kind.name


def test_every_declared_transform_exists() -> None:
    from driftd.collect.postgres.normalise import SPREAD, transforms

    known = {*transforms(acl.Acl({})), SPREAD}
    for kind in KINDS.values():
        assert set(kind.pg_transforms.values()) <= known, kind.name
        if kind.pg_role_column is not None:
            assert kind.pg_role_column in (*kind.parts, *kind.fields), kind.name


def test_severity_hints() -> None:
    assert default_severity("publication", "added", []) == "high"
    assert default_severity("publication", "modified", ["tables"]) == "high"
    assert default_severity("user_mapping", "modified", ["options", "user"]) == "high"
    assert default_severity("table", "added", []) is None
    # Path hints are globs, element by element (a column name may hold a dot).
    assert default_severity("table", "modified", ["columns", "a.b", "storage"]) == "low"
    assert default_severity("table", "modified", ["columns", "a", "type"]) is None
    assert default_severity("event_trigger", "added", []) == "high"
    assert default_severity("statistics", "added", []) == "low"


def test_keys_of_the_kinds_keyed_by_types() -> None:
    cast = make_key("cast", args="public.mood AS integer")
    assert cast == "cast:(public.mood AS integer)"
    assert parse_key(cast) == ("cast", (), "public.mood AS integer")
    assert str(parse_key(cast)) == cast
    op = make_key("operator", "public", "<<<", args="integer, integer")
    assert parse_key(op) == ("operator", ("public", "<<<"), "integer, integer")
    assert parse_key("operator_class:app.abs_ops(btree)").args == "btree"
    with pytest.raises(KeyError_):
        parse_key("cast:public.mood")  # a cast key is its (types) alone
    with pytest.raises(KeyError_):
        parse_key("operator_family:app.abs_ops")  # keyed by its access method too


def test_new_kinds_severity() -> None:
    assert default_severity("foreign_data_wrapper", "added", []) == "high"
    assert default_severity("access_method", "added", []) == "high"
    assert default_severity("table", "modified", ["tablespace"]) == "low"
    assert default_severity("table", "modified", ["columns", "a", "local"]) == "low"
    assert default_severity("cast", "added", []) is None  # schema-change: medium


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("host=db password=hunter2 user=rep", "host=db password=******** user=rep"),
        ("host=db password='hun ter2' dbname=x", "host=db password=******** dbname=x"),
        ("postgresql://rep:hunter2@db:5432/x?sslpassword=hunter2", "postgresql://rep:********@db:5432/x?sslpassword=********"),
    ],
)  # fmt: skip
def test_conninfo_masks_secrets(text: str, shown: str) -> None:
    assert acl.conninfo(text) == shown


SETUP = """
CREATE EXTENSION postgres_fdw;
CREATE TABLE public.t1 (id int PRIMARY KEY, note text);
CREATE TABLE public.t2 (id int PRIMARY KEY);
CREATE PUBLICATION {p}pub FOR TABLE public.t1 WITH (publish = 'insert, update');
CREATE PUBLICATION {p}all FOR ALL TABLES;
CREATE SUBSCRIPTION {p}sub CONNECTION 'host=127.0.0.1 dbname=nowhere password=hunter2'
  PUBLICATION {p}pub WITH (connect = false, slot_name = NONE, enabled = false);
CREATE SERVER {p}srv FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host 'remote', dbname 'x', passfile 'hunter2');
CREATE USER MAPPING FOR PUBLIC SERVER {p}srv OPTIONS (user 'bob', password 'hunter2');
CREATE FOREIGN TABLE public.ft (id int) SERVER {p}srv OPTIONS (table_name 'remote_t');
CREATE FOREIGN DATA WRAPPER {p}fdw OPTIONS (token 'hunter2', debug 'true');
"""


@pytest.fixture
def replicated(pgdb: PgDatabase) -> Iterator[Target]:
    pgdb.execute(SETUP.format(p=pgdb.prefix))
    try:
        yield Target(environment="test", url=pgdb.url, roles=(pgdb.prefix + "*",))
    finally:  # a subscription must be dropped before its database (no slot: none to drop)
        pgdb.execute(f"DROP SUBSCRIPTION {pgdb.prefix}sub")


def test_publications_subscriptions_foreign_servers(replicated: Target, pgdb: PgDatabase) -> None:
    p = pgdb.prefix
    objects = pg.collect(replicated).objects
    assert "hunter2" not in repr(objects)
    pub = objects[f"publication:{p}pub"]
    assert pub["tables"] == ["public.t1"] and pub["all_tables"] is False
    assert pub["publish"] == {"insert": True, "update": True, "delete": False, "truncate": False}
    assert objects[f"publication:{p}all"]["all_tables"] is True
    sub = objects[f"subscription:{p}sub"]
    assert sub["publications"] == [f"{p}pub"] and sub["enabled"] is False
    assert sub["conninfo"] == "host=127.0.0.1 dbname=nowhere password=********"
    srv = objects[f"foreign_server:{p}srv"]
    assert srv["wrapper"] == "postgres_fdw"
    assert srv["options"] == {"host": "remote", "dbname": "x", "passfile": "********"}
    assert objects[f"user_mapping:{p}srv.PUBLIC"]["options"] == {
        "user": "bob",
        "password": "********",
    }
    assert objects["table:public.ft"]["foreign_server"] == f"{p}srv"
    assert objects[f"foreign_data_wrapper:{p}fdw"]["options"] == {
        "token": "********",
        "debug": "true",
    }
    assert "foreign_data_wrapper:postgres_fdw" not in objects  # the extension's own

    pgdb.execute(
        f"ALTER PUBLICATION {p}pub ADD TABLE public.t2;"
        f"ALTER USER MAPPING FOR PUBLIC SERVER {p}srv"
        " OPTIONS (SET password 'other', ADD sslkey 'k');"
        f"ALTER SERVER {p}srv OPTIONS (SET host 'elsewhere')"
    )
    after = pg.collect(replicated).objects
    assert after[f"publication:{p}pub"]["tables"] == ["public.t1", "public.t2"]
    assert after[f"user_mapping:{p}srv.PUBLIC"]["options"]["sslkey"] == "********"
    assert after[f"foreign_server:{p}srv"]["options"]["host"] == "elsewhere"
    assert "other" not in repr(after) and "hunter2" not in repr(after)


def test_tablespaces_of_wanted_roles(pgdb: PgDatabase) -> None:
    """Tablespaces are cluster-wide: only those owned by a wanted role are objects."""
    p, where = pgdb.prefix, f"/tmp/driftd_{pgdb.name}"
    pgdb.execute(
        f"CREATE ROLE {p}app; CREATE ROLE {p}other;"
        f"COPY (SELECT 1) TO PROGRAM 'mkdir -p -m 700 {where}_a {where}_b'"
    )
    pgdb.execute(f"CREATE TABLESPACE {p}ts OWNER {p}app LOCATION '{where}_a'")
    try:
        pgdb.execute(f"CREATE TABLESPACE {p}hidden OWNER {p}other LOCATION '{where}_b'")
        try:
            pgdb.execute(
                f"ALTER TABLESPACE {p}ts SET (seq_page_cost = 2); COMMENT ON TABLESPACE {p}ts"
                f" IS 'fast disk'; GRANT CREATE ON TABLESPACE {p}ts TO {p}other;"
                f"CREATE TABLE public.t (id int) TABLESPACE {p}ts;"
                f"CREATE INDEX t_id ON public.t (id) TABLESPACE {p}ts;"
                f"CREATE MATERIALIZED VIEW public.m TABLESPACE {p}ts AS SELECT id FROM public.t"
            )
            target = Target(environment="test", url=pgdb.url, roles=(p + "app*",))
            objects = pg.collect(target).objects
            assert objects[f"tablespace:{p}ts"] == {
                "location": f"{where}_a",
                "owner": f"{p}app",
                "options": {"seq_page_cost": "2"},
                "grants": {f"{p}app": ["CREATE"], f"{p}other": ["CREATE"]},
                "comment": "fast disk",
            }
            assert f"tablespace:{p}hidden" not in objects
            assert not any(k in objects for k in ("tablespace:pg_default", "tablespace:pg_global"))
            assert objects["table:public.t"]["tablespace"] == f"{p}ts"
            assert objects["table:public.t"]["indexes"]["t_id"]["tablespace"] == f"{p}ts"
            assert objects["materialized_view:public.m"]["tablespace"] == f"{p}ts"
            pgdb.execute("DROP MATERIALIZED VIEW public.m; DROP TABLE public.t")
        finally:
            pgdb.execute(f"DROP TABLESPACE {p}hidden")
    finally:
        pgdb.execute(f"DROP TABLESPACE {p}ts")
        pgdb.execute(f"COPY (SELECT 1) TO PROGRAM 'rmdir {where}_a {where}_b'")


if __name__ == "__main__":  # rewrite the generated table of docs/objects.md
    text = DOCS.read_text()
    head, rest = text.split(BEGIN, 1)
    DOCS.write_text(head + BEGIN + "\n" + docs_table() + "\n" + END + rest.split(END, 1)[1])
