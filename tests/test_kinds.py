"""The kinds registry: declarations, docs/objects.md, and the kinds added through it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftd.collect import Target
from driftd.collect import postgres as pg
from driftd.collect.postgres import acl, queries
from driftd.kinds import KINDS, default_severity
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


if __name__ == "__main__":  # rewrite the generated table of docs/objects.md
    text = DOCS.read_text()
    head, rest = text.split(BEGIN, 1)
    DOCS.write_text(head + BEGIN + "\n" + docs_table() + "\n" + END + rest.split(END, 1)[1])
