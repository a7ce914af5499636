"""Renames (issue 13): a thing under a new name with the same body is one rename item.

The golden scenarios (tests/scenarios/*rename*, pg_set_schema) prove it on the real
servers, with the revert round trip and the pg_dump cross-check; these tests pin the
rules of the matching itself (no server), then accept and revert by id on a real
PostgreSQL.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from driftd.diff import diff_objects
from driftd.diff.filters import IgnoreRule
from driftd.diff.renames import Rename, apply, find_objects
from tests.conftest import PgDatabase, Project


def table(*columns: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "columns": {c: {"type": "text", "nullable": True, "default": None} for c in columns},
        "constraints": {},
        "indexes": {},
        "grants": {},
        "owner": "app",
        "comment": None,
    }
    body.update(extra)
    return body


def found(before: dict[str, Any], after: dict[str, Any], *ignore: str) -> list[tuple[Any, ...]]:
    rules = [IgnoreRule.parse(g) for g in ignore]
    return [
        (i.object, i.change, tuple(i.path), i.before, i.after)
        for i in diff_objects(before, after, rules)
    ]


def test_a_table_renamed_is_one_item_and_its_mentions_follow() -> None:
    t = table(
        "id",
        indexes={"ix": {"definition": "CREATE INDEX ix ON public.orders USING btree (id)"}},
    )
    view = {"definition": "SELECT orders.id FROM public.orders;", "owner": "app"}
    moved = copy.deepcopy(t)
    moved["indexes"]["ix"]["definition"] = "CREATE INDEX ix ON public.sales USING btree (id)"
    before = {"table:public.orders": t, "view:public.v": view}
    after = {
        "table:public.sales": moved,
        "view:public.v": {"definition": "SELECT sales.id FROM public.sales;", "owner": "app"},
    }
    assert found(before, after) == [
        ("table:public.sales", "modified", ("name",), "public.orders", "public.sales")
    ]


def test_the_same_body_twice_is_no_rename() -> None:
    before = {"table:public.a": table("id"), "table:public.b": table("id")}
    after = {"table:public.c": table("id"), "table:public.d": table("id")}
    changes = sorted(c for _o, c, *_ in found(before, after))
    assert changes == ["added", "added", "removed", "removed"]


def test_another_body_is_a_drop_and_an_add() -> None:
    before = {"table:public.a": table("id")}
    after = {"table:public.b": table("id", "extra")}
    assert [c for _o, c, *_ in found(before, after)] == ["removed", "added"]


def test_kinds_without_a_name_of_their_own_are_never_renamed() -> None:
    before = {"extension:citext": {"version": "1.6", "schema": "public"}}
    after = {"extension:hstore": {"version": "1.6", "schema": "public"}}
    assert [c for _o, c, *_ in found(before, after)] == ["removed", "added"]


def test_a_column_renamed_takes_its_constraints_and_grants_along() -> None:
    old = table(
        "id",
        "email",
        constraints={"uq": {"definition": "UNIQUE (email)", "type": "unique"}},
        column_grants={"email": {"support": ["SELECT"]}},
    )
    new = table(
        "id",
        "mail",
        constraints={"uq": {"definition": "UNIQUE (mail)", "type": "unique"}},
        column_grants={"mail": {"support": ["SELECT"]}},
    )
    assert found({"table:public.t": old}, {"table:public.t": new}) == [
        ("table:public.t", "modified", ("columns", "mail", "name"), "email", "mail")
    ]


def test_a_column_named_like_its_type_keeps_the_type() -> None:
    """The bare name is rewritten only in SQL: a column "status" of type "status"."""
    old = table("id", constraints={"ck": {"definition": "CHECK ((status <> 'x'))"}})
    old["columns"]["status"] = {"type": "status", "nullable": True, "default": None}
    new = copy.deepcopy(old)
    new["columns"]["state"] = new["columns"].pop("status")
    new["constraints"]["ck"]["definition"] = "CHECK ((state <> 'x'))"
    assert found({"table:public.t": old}, {"table:public.t": new}) == [
        ("table:public.t", "modified", ("columns", "state", "name"), "status", "state")
    ]


def test_a_column_name_is_rewritten_only_where_sql_names_this_tables_column() -> None:
    """Not in a string literal, not after :: (a type), not in the table a foreign key
    references: a real change there stays drift, and nothing made up appears."""
    old = table("id", "c")
    old["columns"]["date"] = {"type": "date", "nullable": True, "default": None}
    old["columns"]["c"]["default"] = "'date'::text"
    old["constraints"] = {
        "ck": {"definition": "CHECK ((date > '2020-01-01'::date))"},
        "fk": {"definition": "FOREIGN KEY (date) REFERENCES public.parent(date)"},
    }
    new = copy.deepcopy(old)
    new["columns"]["d"] = new["columns"].pop("date")
    new["columns"]["c"]["default"] = "'d'::text"  # a real change, not the rename's
    new["constraints"]["ck"]["definition"] = "CHECK ((d > '2020-01-01'::date))"
    new["constraints"]["fk"]["definition"] = "FOREIGN KEY (d) REFERENCES public.parent(date)"
    assert found({"table:public.t": old}, {"table:public.t": new}) == [
        ("table:public.t", "modified", ("columns", "d", "name"), "date", "d"),
        ("table:public.t", "modified", ("columns", "c", "default"), "'date'::text", "'d'::text"),
    ]


def test_a_schema_named_like_its_owner_is_renamed() -> None:
    """CREATE SCHEMA AUTHORIZATION app: the bare name is the owner, not the schema."""
    schema = {"owner": "app", "grants": {"app": ["USAGE"]}, "comment": None}
    before = {"schema:app": schema, "table:app.t": table("id", owner="app")}
    after = {"schema:app2": schema, "table:app2.t": table("id", owner="app")}
    assert found(before, after) == [("schema:app2", "modified", ("name",), "app", "app2")]


def test_a_rename_is_rated_as_the_drop_it_may_be() -> None:
    """Only the body tells: a table dropped and made again under another name looks
    the same, so the rename is as severe as the drop (and its rules say both)."""
    from driftd.rules import RuleSet

    rated = []
    for r in (Rename("table:public.a", "table:public.b"), Rename("x", "y", "columns", "table:s.t")):
        item = r.item()
        RuleSet().apply(item)
        rated.append((item.severity, item.rules))
    assert rated == [
        ("critical", ["table-dropped", "renamed"]),
        ("high", ["renamed", "column-dropped"]),
    ]


def test_a_comment_that_names_the_thing_is_not_rewritten() -> None:
    before = {"table:public.orders": table("id", comment="see public.orders docs")}
    after = {"table:public.sales": table("id", comment="see public.orders docs")}
    assert found(before, after) == [
        ("table:public.sales", "modified", ("name",), "public.orders", "public.sales")
    ]


def test_a_role_renamed_is_renamed_in_owners_grants_and_policies() -> None:
    role = {"login": True, "superuser": False, "member_of": {"staff": {"admin_option": False}}}
    t = table("id", owner="ann", grants={"ann": ["SELECT"]})
    t["policies"] = {"p": {"roles": ["ann"], "using": "true"}}
    renamed = copy.deepcopy(t)
    renamed.update(owner="anne", grants={"anne": ["SELECT"]})
    renamed["policies"]["p"]["roles"] = ["anne"]
    before = {"role:ann": role, "table:public.t": t}
    after = {"role:anne": copy.deepcopy(role), "table:public.t": renamed}
    assert found(before, after) == [("role:anne", "modified", ("name",), "ann", "anne")]


def test_a_role_and_its_table_renamed_in_one_check() -> None:
    """Rounds: the table matches once the role's rename is made in its grants."""
    role = {"login": False}
    before = {"role:r1": role, "table:public.a": table("id", grants={"r1": ["SELECT"]})}
    after = {"role:r2": role, "table:public.b": table("id", grants={"r2": ["SELECT"]})}
    assert sorted(found(before, after)) == [
        ("role:r2", "modified", ("name",), "r1", "r2"),
        ("table:public.b", "modified", ("name",), "public.a", "public.b"),
    ]


def test_a_schema_renamed_is_one_item() -> None:
    schema = {"owner": "app", "grants": {}, "comment": None}
    before = {"schema:s1": schema, "table:s1.t": table("id"), "view:s1.v": {"definition": "x"}}
    after = {"schema:s2": schema, "table:s2.t": table("id"), "view:s2.v": {"definition": "x"}}
    assert found(before, after) == [("schema:s2", "modified", ("name",), "s1", "s2")]


def test_ignored_objects_are_not_renamed() -> None:
    before = {"table:public.tmp_1": table("id")}
    after = {"table:public.tmp_2": table("id")}
    assert found(before, after, "table:public.tmp_*") == []


def test_a_rename_item_reads_back_as_its_rename() -> None:
    for r in (Rename("table:public.a", "table:public.b"), Rename("x", "y", "columns", "table:s.t")):
        item = r.item()
        assert Rename.of(item) == r
    other = Rename("x", "y", "columns", "table:s.t").item()
    other.path = ["columns", "z", "name"]  # the path names another entry: not a rename
    assert Rename.of(other) is None


def test_no_object_has_a_field_called_name() -> None:
    """The path element ``name`` is the rename's: no collector may use it as a field."""
    from tests.test_scenarios import discover

    for s in discover():
        for item in json.loads((s.path / "expected.json").read_text()):
            for side in (item["before"], item["after"]):
                if isinstance(side, dict) and not item["path"]:
                    assert "name" not in side, (s.name, item["object"])
                    for section in side.values():
                        if isinstance(section, dict):
                            for entry in section.values():
                                assert not (isinstance(entry, dict) and "name" in entry), s.name


def test_apply_is_what_accepting_the_rename_does() -> None:
    before = {"table:public.a": table("id", grants={"r1": ["SELECT"]}), "role:r1": {"login": True}}
    after = {"table:public.a": table("id", grants={"r2": ["SELECT"]}), "role:r2": {"login": True}}
    shown, all_renames = find_objects(before, after)
    assert shown == [Rename("role:r1", "role:r2")]
    assert apply(before, all_renames) == after


def test_alerts_say_renamed_and_give_the_statement_back() -> None:
    from driftd.alerts import text

    item = Rename("email", "mail", "columns", "table:public.t").item()
    item.id = "0123456789abcdef"
    data = item.to_json()
    assert text.what(data) == "table:public.t columns.mail renamed"
    assert text.undo(data, "prod") == "To undo: `ALTER TABLE public.t RENAME COLUMN mail TO email;`"


# -- on a real PostgreSQL: accept and revert by id ---------------------------------------


def drift(project: Project) -> list[dict[str, Any]]:
    res = project.run("check", "--format", "json", "--no-attribution")
    env = json.loads(res.stdout)["environments"][0]
    assert env["error"] is None, env["error"]
    return list(env["drift"])


@pytest.mark.server
def test_accept_a_rename_by_id_takes_only_the_rename(project: Project, pgdb: PgDatabase) -> None:
    pgdb.execute(
        "CREATE TABLE public.orders (id int PRIMARY KEY, note text);"
        "CREATE VIEW public.big AS SELECT id FROM public.orders;"
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute(
        "ALTER TABLE public.orders RENAME TO purchases;"
        "COMMENT ON VIEW public.big IS 'not from the rename'"
    )
    items = drift(project)
    rename = next(i for i in items if i["path"] == ["name"])
    assert rename["object"] == "table:public.purchases"
    assert rename["before"] == "public.orders"
    assert rename["rules"] == ["table-dropped", "renamed"]
    res = project.run("baseline", "accept", "test", rename["id"], "--yes", "--reason", "R-1")
    assert res.exit_code == 0, res.stderr
    left = drift(project)  # the view names the table anew: that follows; its comment not
    assert [(i["object"], i["path"]) for i in left] == [("view:public.big", ["comment"])]
    objects = json.loads(project.baseline("test").read_text())["objects"]
    assert "table:public.orders" not in objects and "table:public.purchases" in objects
    assert "public.purchases" in objects["view:public.big"]["definition"]


@pytest.mark.server
def test_accepting_a_renamed_object_by_key_drops_its_old_key(
    project: Project, pgdb: PgDatabase
) -> None:
    pgdb.execute("CREATE TABLE public.t (id int PRIMARY KEY)")
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute("ALTER TABLE public.t RENAME TO u")
    res = project.run(
        "baseline", "accept", "test", "--object", "table:public.u", "--yes", "--reason", "R-2"
    )
    assert res.exit_code == 0, res.stderr
    assert drift(project) == []


@pytest.mark.server
def test_accepting_a_schema_rename_takes_what_moved_with_it(
    project: Project, pgdb: PgDatabase
) -> None:
    pgdb.execute(
        "CREATE SCHEMA s; CREATE TABLE s.items (id serial PRIMARY KEY);"
        "CREATE VIEW s.vi AS SELECT id FROM s.items;"
        "CREATE TABLE public.k (id serial PRIMARY KEY)"
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute("ALTER SCHEMA s RENAME TO s2; ALTER TABLE public.k SET SCHEMA s2")
    ids = [i["id"] for i in drift(project)]
    assert len(ids) == 2  # the schema, the table (its sequence moves with it)
    res = project.run("baseline", "accept", "test", *ids, "--yes", "--reason", "R-3")
    assert res.exit_code == 0, res.stderr
    assert drift(project) == []


@pytest.mark.server
def test_revert_renames_back(project: Project, pgdb: PgDatabase) -> None:
    pgdb.execute("CREATE TABLE public.t (id int PRIMARY KEY, email text)")
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute("ALTER TABLE public.t RENAME COLUMN email TO mail")
    res = project.run("revert", "test")
    assert res.exit_code == 0, res.stderr
    assert "ALTER TABLE public.t RENAME COLUMN mail TO email;" in res.stdout
    pgdb.execute("ALTER TABLE public.t RENAME COLUMN mail TO email")
    assert drift(project) == []
