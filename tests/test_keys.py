"""Object keys name exactly one object (issue 17; the quoting rule of shared/design.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from driftd import snapshot
from driftd.attribute.match import _split_args, target_of
from driftd.collect import Target
from driftd.collect import postgres as pg
from driftd.diff.filters import IgnoreRule, KeyFilter, key_matches
from driftd.drift import DriftItem
from driftd.errors import BaselineError
from driftd.kinds import KINDS, Key, KeyError_, make_key, migrate_key, parse_key
from tests.conftest import PgDatabase

HOSTILE = ["dot.a", "a.b", 'quo"te', "par(en)", "com,ma", "new\nline", "Mixed Case", "x#y"]


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("dot.a", "b"), 'table:"dot.a".b'),
        (("dot", "a.b"), 'table:dot."a.b"'),
        (("public", 'a"b'), 'table:public."a""b"'),
        (("public", "Order Items"), "table:public.Order Items"),
        (("s", "f(x)"), 'table:s."f(x)"'),
        (("s", "a,b"), 'table:s."a,b"'),
        (("s", "a\tb"), 'table:s."a\tb"'),
    ],
)
def test_make_key_quotes_only_what_it_must(parts: tuple[str, ...], key: str) -> None:
    assert make_key("table", *parts) == key
    assert parse_key(key) == Key("table", parts)


def test_every_hostile_name_round_trips_on_every_kind() -> None:
    for kind in KINDS.values():
        for name in HOSTILE:
            parts = tuple(
                name if i == len(kind.parts) - 1 else f"s{name}" for i in range(len(kind.parts))
            )
            args = 'a integer, "b.c" text' if kind.args else None
            key = make_key(kind.name, *parts, args=args)
            assert parse_key(key) == Key(kind.name, parts, args), key


def test_two_tables_two_keys() -> None:
    assert make_key("table", "dot.a", "b") != make_key("table", "dot", "a.b")


@pytest.mark.parametrize("bad", ["table", "table:a", "table:a.b.c", 'table:"a.b', "function:a.b"])
def test_malformed_keys_are_refused(bad: str) -> None:
    with pytest.raises(KeyError_):
        parse_key(bad)


def test_legacy_keys_are_migrated_or_refused() -> None:
    assert migrate_key("table:public.orders") == "table:public.orders"
    assert migrate_key('table:public.a"b') == 'table:public."a""b"'
    assert migrate_key("setting:auto_explain.log_min_duration") == (
        'setting:"auto_explain.log_min_duration"'
    )
    assert migrate_key("function:app.add(a integer, b integer)") == (
        "function:app.add(a integer, b integer)"
    )
    with pytest.raises(KeyError_, match="cannot be told"):
        migrate_key("table:dot.a.b")


def _baseline(tmp_path: Path, objects: dict[str, object]) -> Path:
    path = tmp_path / "prod.json"
    doc = {"format": snapshot.SNAPSHOT_FORMAT, "environment": "prod", "engine": {}}
    path.write_text(json.dumps({**doc, "objects": objects}))
    return path


def test_old_baselines_are_migrated_on_load(tmp_path: Path) -> None:
    path = _baseline(tmp_path, {"role:app@10.0.0.1": {}, "table:public.t": {"x": 1}})
    assert set(snapshot.read(path)["objects"]) == {'role:"app@10.0.0.1"', "table:public.t"}


def test_ambiguous_old_baseline_says_to_accept_again(tmp_path: Path) -> None:
    path = _baseline(tmp_path, {"table:dot.a.b": {}})
    with pytest.raises(BaselineError) as info:
        snapshot.read(path)
    assert "cannot be told" in info.value.message
    assert "baseline accept" in (info.value.hint or "")


def test_ignore_globs_read_keys() -> None:
    rule = IgnoreRule.parse('table:"x#y".*#columns.*')
    assert rule.matches("table:x#y.t", ["columns", "c"])
    assert KeyFilter(exclude=('table:"dot.*".*',)).wants("table:dot.b")
    assert not KeyFilter(exclude=('table:"dot.*".*',)).wants('table:"dot.a".b')
    assert not key_matches('table:"public.tmp_x".y', "table:public.tmp_*")
    assert key_matches('table:public."tmp.x"', "table:public.*")


def test_target_of_unquotes() -> None:
    item = DriftItem(
        object='function:app."a.b"("x,y" integer, b text)',
        change="modified",
        path=["owner"],
        before=None,
        after=None,
    )
    target = target_of(item)
    assert target.name == "app.a.b"
    assert target.args == ('"x,y" integer', "b text")
    assert _split_args('"a,b" int, numeric(10,2)') == ['"a,b" int', " numeric(10,2)"]


NAMES = """
CREATE ROLE "{p}r.o""le(1,2)";
CREATE SCHEMA dot;
CREATE SCHEMA "dot.a";
CREATE SCHEMA "we""ird(s),x";
CREATE TABLE "dot.a".b (id int);
CREATE TABLE dot."a.b" (id int);
CREATE TABLE "we""ird(s),x"."new
line" ("col.one" int, "c""2" text, "c(3),x" int);
CREATE FUNCTION dot."f.g"("a,b" integer, "c.d" text) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION "dot.a".f(integer) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE VIEW dot."v(1)" AS SELECT 1 AS x;
CREATE SEQUENCE "dot.a"."s,1";
CREATE TYPE dot."t.y" AS ENUM ('a');
"""


@pytest.fixture
def named(pgdb: PgDatabase) -> Iterator[Target]:
    pgdb.execute(NAMES.format(p=pgdb.prefix))
    try:
        yield Target(environment="test", url=pgdb.url, roles=(pgdb.prefix + "*",))
    finally:  # the shared clean-up cannot drop a role with a quote in its name
        role = sql.Identifier(f'{pgdb.prefix}r.o"le(1,2)')
        with pgdb.connect() as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def test_postgres_keys_with_hostile_names(named: Target, pgdb: PgDatabase) -> None:
    objects = pg.collect(named).objects
    p = pgdb.prefix
    expected = {
        'table:"dot.a".b',
        'table:dot."a.b"',
        'table:"we""ird(s),x"."new\nline"',
        'schema:"dot.a"',
        "schema:dot",
        'schema:"we""ird(s),x"',
        'function:dot."f.g"("a,b" integer, "c.d" text)',
        'function:"dot.a".f(integer)',
        'view:dot."v(1)"',
        'sequence:"dot.a"."s,1"',
        'type:dot."t.y"',
        f'role:"{p}r.o""le(1,2)"',
    }
    assert expected <= set(objects)
    for key in objects:
        assert str(parse_key(key)) == key  # every key canonical
    columns = objects['table:"we""ird(s),x"."new\nline"']["columns"]
    assert set(columns) == {"col.one", 'c"2', "c(3),x"}  # inside objects: raw names
    # A change to one of the two look-alike tables is seen on that table only.
    before = objects
    pgdb.execute('ALTER TABLE dot."a.b" ADD COLUMN z int')
    after = pg.collect(named).objects
    assert "z" in after['table:dot."a.b"']["columns"]
    assert after['table:"dot.a".b'] == before['table:"dot.a".b']
