"""Statement builders of `driftd revert`, without a server: golden SQL for the common
security drift, quoting, hazards, ordering, and one entry per kind.

That the statements work is proven on the real servers by test_revert_roundtrip.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from driftd.drift import DriftItem
from driftd.kinds import KINDS, make_key
from driftd.revert import HAZARDS, handlers, ordered, plan, revert_item, script, to_json, undo_hint
from driftd.revert.context import Ctx
from driftd.revert.quote import my_account, my_ident, pg_ident, pg_literal

ALL_TABLE = ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"]
COLUMN = {
    "type": "text",
    "nullable": True,
    "default": None,
    "identity": None,
    "identity_options": None,
    "generated": None,
    "collation": None,
    "statistics": None,
    "storage": None,
    "compression": None,
    "comment": None,
}


def item(obj: str, path: list[Any], before: Any, after: Any, change: str = "modified") -> DriftItem:
    return DriftItem(object=obj, change=change, path=path, before=before, after=after, id="i1")  # type: ignore[arg-type]


def sql(obj: str, path: list[Any], before: Any, after: Any) -> list[str]:
    """The statements reverting one item, built from the item alone (as for an alert)."""
    r = revert_item(Ctx.from_item(item(obj, path, before, after)), "postgresql")
    assert r.needs_person is None, r.needs_person
    return [s.sql for s in r.statements]


def test_every_kind_has_an_entry() -> None:
    """A kind collected for an engine and missing from its table fails here; an entry
    may say a person is needed, but it must exist."""
    for engine in ("postgresql", "mysql"):
        table = handlers(engine)
        missing = [k.name for k in KINDS.values() if engine in k.engines and k.name not in table]
        assert missing == [], f"{engine}: add these kinds to driftd.revert's table"


def test_superuser_granted_is_revoked() -> None:
    assert sql("role:app", ["superuser"], False, True) == ["ALTER ROLE app NOSUPERUSER;"]
    assert undo_hint(item("role:app", ["superuser"], False, True)) == "ALTER ROLE app NOSUPERUSER;"


def test_grant_all_to_public_is_revoked() -> None:
    revert = sql("table:public.payments", ["grants", "PUBLIC"], None, ALL_TABLE)
    assert revert == ["REVOKE ALL ON TABLE public.payments FROM PUBLIC;"]


def test_grants_every_level() -> None:
    assert sql("table:public.t", ["grants", "bob"], ["SELECT"], ["INSERT", "SELECT"]) == [
        "REVOKE INSERT ON TABLE public.t FROM bob;"
    ]
    assert sql("table:public.t", ["grants", "bob"], ["SELECT"], ["SELECT WITH GRANT OPTION"]) == [
        "REVOKE GRANT OPTION FOR SELECT ON TABLE public.t FROM bob;"
    ]
    assert sql("table:public.t", ["column_grants", "note"], {"bob": ["UPDATE"]}, None) == [
        "GRANT UPDATE (note) ON TABLE public.t TO bob;"
    ]
    assert sql("sequence:public.s", ["grants", "bob"], None, ["USAGE"]) == [
        "REVOKE USAGE ON SEQUENCE public.s FROM bob;"
    ]
    assert sql("function:public.f(a integer)", ["grants", "PUBLIC"], ["EXECUTE"], None) == [
        "GRANT EXECUTE ON ROUTINE public.f(a integer) TO PUBLIC;"
    ]
    assert sql("schema:public", ["grants", "PUBLIC"], ["USAGE"], ["CREATE", "USAGE"]) == [
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
    ]
    assert sql("database:app", ["grants", "PUBLIC"], ["CONNECT", "TEMPORARY"], None) == [
        "GRANT CONNECT, TEMPORARY ON DATABASE app TO PUBLIC;"
    ]


def test_default_privileges() -> None:
    # In a schema, a missing entry is "nothing added".
    assert sql(
        "schema:app", ["default_privileges", "owner"], None, {"tables": {"PUBLIC": ["SELECT"]}}
    ) == [
        "ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA app REVOKE SELECT ON TABLES FROM PUBLIC;"
    ]
    # Globally, a missing entry is PostgreSQL's built-in defaults.
    assert sql(
        "database:app", ["default_privileges", "owner"], None, {"functions": {"owner": ["EXECUTE"]}}
    ) == ["ALTER DEFAULT PRIVILEGES FOR ROLE owner GRANT EXECUTE ON FUNCTIONS TO PUBLIC;"]


def test_roles_memberships_settings_owner() -> None:
    assert sql("role:app", ["member_of", "admins"], None, {"admin_option": False}) == [
        "REVOKE admins FROM app;"
    ]
    assert sql(
        "role:app",
        ["member_of", "admins", "admin_option"],
        False,
        True,
    ) == ["REVOKE ADMIN OPTION FOR admins FROM app;"]
    assert sql("role:app", ["config", "search_path"], "app, public", '"$user", public') == [
        "ALTER ROLE app SET search_path = app, public;"
    ]
    assert sql("role:app", ["config", "statement_timeout"], None, "5s") == [
        "ALTER ROLE app RESET statement_timeout;"
    ]
    assert sql("table:public.t", ["owner"], "app", "mallory") == [
        "ALTER TABLE public.t OWNER TO app;"
    ]


def test_identifiers_are_quoted_like_the_server() -> None:
    assert [pg_ident(n) for n in ("app", "user", "Order Items", 'a"b', "a$b", "_x1")] == [
        "app",
        '"user"',
        '"Order Items"',
        '"a""b"',
        '"a$b"',
        "_x1",
    ]
    assert pg_literal("it's") == "'it''s'"
    assert my_ident("a`b") == "`a``b`"
    assert my_account("o'neil@10.%") == "'o''neil'@'10.%'"
    # A name that could close the statement stays one quoted identifier.
    (statement,) = sql('table:public."x; DROP TABLE y"', ["grants", "bob"], None, ["SELECT"])
    assert statement == 'REVOKE SELECT ON TABLE public."x; DROP TABLE y" FROM bob;'


def test_masked_values_never_reach_a_script() -> None:
    base = {"options": {"user": "rep", "password": "********"}}
    gone = item("user_mapping:srv.app", [], base, None, change="removed")
    (r,) = plan([gone], {gone.object: base}, {}, "postgresql")
    assert r.needs_person and "masked" in r.needs_person
    assert r.statements == []
    text = script("prod", "postgresql", [r], frozenset(HAZARDS))
    assert "********" not in text and "1 item(s) need a person" in text


def test_hazards_comment_a_statement_out_unless_allowed() -> None:
    added = item("table:public.t", ["columns", "phone"], None, COLUMN)
    reverts = plan([added], {}, {}, "postgresql")
    (s,) = reverts[0].statements
    assert s.sql == "ALTER TABLE public.t DROP COLUMN phone;"
    assert {"deletes_data", "access_exclusive_lock"} <= set(s.hazards)
    off = script("prod", "postgresql", reverts, frozenset())
    assert "\n-- ALTER TABLE public.t DROP COLUMN phone;" in off
    assert "-- hazard deletes_data:" in off
    on = script("prod", "postgresql", reverts, frozenset(HAZARDS))
    assert "\nALTER TABLE public.t DROP COLUMN phone;" in on
    doc = to_json("prod", "postgresql", reverts, frozenset({"deletes_data"}))
    assert doc["items"][0]["statements"][0]["enabled"] is False
    assert doc["script"] == []


def test_dependency_order() -> None:
    """A view is dropped before the column it reads, a type made before the column using it."""
    view = item("view:public.v", [], None, {"definition": "SELECT 1;"}, change="added")
    col = item("table:public.t", ["columns", "x"], None, COLUMN)
    enum = {"kind": "enum", "labels": ["a"], "owner": "app", "grants": {}, "comment": None}
    mood = item("type:public.mood", [], enum, None, change="removed")
    with_mood = {**COLUMN, "type": "public.mood"}
    lost = item("table:public.t", ["columns", "m"], with_mood, None)
    base = {"type:public.mood": enum, "table:public.t": {"columns": {"m": with_mood}}}
    live = {"view:public.v": view.after, "table:public.t": {"columns": {"x": COLUMN}}}
    reverts = plan([col, lost, mood, view], base, live, "postgresql")
    order = [s.sql.split(" (")[0] for s, _r in ordered(reverts)]
    assert order.index("DROP VIEW public.v;") < order.index("ALTER TABLE public.t DROP COLUMN x;")
    create = next(o for o in order if o.startswith("CREATE TYPE public.mood"))
    add = next(o for o in order if o.startswith("ALTER TABLE public.t ADD COLUMN m"))
    assert order.index(create) < order.index(add)


def test_alert_hint_only_for_short_safe_kinds() -> None:
    col = item("table:public.t", ["columns", "x"], None, COLUMN)
    assert undo_hint(col) is None
    grant = item("role:app@%", ["grants", "*.*"], None, ["SUPER"])
    assert undo_hint(grant.to_json()) == "REVOKE SUPER ON *.* FROM 'app'@'%';"


def test_unknown_hazard_is_an_error(tmp_path: Path) -> None:
    from driftd.cli.main import cli

    res = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "none.toml"), "revert", "x", "--allow-hazards", "bogus"]
    )
    assert res.exit_code == 2
    assert "unknown hazard type(s) bogus" in res.stderr


def my_sql(obj: str, path: list[Any], before: Any, after: Any) -> list[str]:
    r = revert_item(Ctx.from_item(item(obj, path, before, after)), "mysql")
    assert r.needs_person is None, r.needs_person
    return [s.sql for s in r.statements]


def test_mysql_accounts_roles_grants() -> None:
    assert my_sql("role:app@%", ["account_locked"], False, True) == [
        "ALTER USER 'app'@'%' ACCOUNT UNLOCK;"
    ]
    assert my_sql("role:app@%", ["grants", "shop.*"], ["SELECT"], ["INSERT", "SELECT"]) == [
        "REVOKE INSERT ON `shop`.* FROM 'app'@'%';"
    ]
    assert my_sql("role:app@%", ["member_of", "reader"], None, {"admin_option": False}) == [
        "REVOKE `reader` FROM 'app'@'%';"
    ]
    assert my_sql("table:shop.orders", ["grants", "app@%"], None, ["INSERT", "SELECT"]) == [
        "REVOKE INSERT, SELECT ON `shop`.`orders` FROM 'app'@'%';"
    ]
    assert my_sql("table:shop.orders", ["column_grants", "email"], None, {"app@%": ["SELECT"]}) == [
        "REVOKE SELECT (`email`) ON `shop`.`orders` FROM 'app'@'%';"
    ]
    (added,) = plan(
        [item('role:"ops@10.%"', [], None, {"login": True}, change="added")], {}, {}, "mysql"
    )
    assert [s.sql for s in added.statements] == ["DROP USER 'ops'@'10.%';"]


def test_server_setting_hint() -> None:
    setting = item("setting:work_mem", ["value"], "4MB", "64MB")
    assert undo_hint(setting) == "ALTER SYSTEM SET work_mem = '4MB'; SELECT pg_reload_conf();"


def test_an_items_statements_run_all_or_none() -> None:
    """Dropping an index and not building it again would lose it: the item's statements
    are commented out together when one of them carries a hazard not allowed."""
    old = {"definition": "CREATE INDEX i ON public.t USING btree (a)", "unique": False}
    new = {"definition": "CREATE INDEX i ON public.t USING btree (b)", "unique": False}
    changed = item(
        "table:public.t", ["indexes", "i", "definition"], old["definition"], new["definition"]
    )
    reverts = plan(
        [changed],
        {"table:public.t": {"indexes": {"i": old}, "partitioning": None}},
        {"table:public.t": {"indexes": {"i": new}, "partitioning": None}},
        "postgresql",
    )
    sqls = [s.sql for s in reverts[0].statements]
    assert sqls == [
        "DROP INDEX public.i;",
        "CREATE INDEX CONCURRENTLY i ON public.t USING btree (a);",
    ]
    text = script("prod", "postgresql", reverts, frozenset({"access_exclusive_lock"}))
    assert "\n-- DROP INDEX public.i;" in text and "\nDROP INDEX" not in text
    assert "-- not run: allow with --allow-hazards index_build" in text
    ran = to_json("prod", "postgresql", reverts, frozenset(HAZARDS))["script"]
    assert ran == sqls


def test_a_name_with_control_characters_stays_out_of_the_script() -> None:
    """The script goes to a terminal: an escape sequence in a name must not reach it raw."""
    name = make_key("table", "public", "t\x1b[2J")
    live = {name: {"grants": {"PUBLIC": ["SELECT"]}}}
    (r,) = plan([item(name, ["grants", "PUBLIC"], None, ["SELECT"])], {}, live, "postgresql")
    assert r.needs_person and "control characters" in r.needs_person
    text = script("prod", "postgresql", [r], frozenset(HAZARDS))
    assert "\x1b" not in text and "\\x1b" in text
    doc = to_json("prod", "postgresql", [r], frozenset(HAZARDS))
    assert (
        doc["items"][0]["statements"][0]["sql"]
        == 'REVOKE SELECT ON TABLE public."t\x1b[2J" FROM PUBLIC;'
    )
    assert doc["script"] == []


def _order(items: list[DriftItem], base: dict[str, Any], live: dict[str, Any]) -> list[str]:
    return [s.sql for s, _r in ordered(plan(items, base, live, "postgresql"))]


def test_review_findings_on_order() -> None:
    """Orders a review found wrong: a materialized view before its indexes; servers,
    wrappers, extensions in dependency order; one reload after every setting; a serial
    column's sequence dropped after (and without failing on) the table that owned it."""
    mv = {
        "definition": " SELECT 1 AS x;",
        "owner": "app",
        "grants": {},
        "comment": None,
        "options": {},
        "column_comments": {},
        "column_grants": {},
        "indexes": {"mv_x": {"definition": "CREATE INDEX mv_x ON public.mv USING btree (x)"}},
    }
    gone = item("materialized_view:public.mv", [], mv, None, change="removed")
    order = _order([gone], {"materialized_view:public.mv": mv}, {})
    create = next(i for i, q in enumerate(order) if q.startswith("CREATE MATERIALIZED VIEW"))
    index = next(i for i, q in enumerate(order) if q.startswith("CREATE INDEX mv_x"))
    assert create < index

    ext = {"version": "1.1", "schema": "public", "comment": None}
    fdw = {"handler": None, "validator": None, "options": {}, "owner": "app", "grants": {},
           "comment": None}  # fmt: skip
    srv = {"wrapper": "w", "type": None, "version": None, "options": {}, "owner": "app",
           "grants": {}, "comment": None}  # fmt: skip
    added = [
        item("extension:postgres_fdw", [], None, ext, change="added"),
        item("foreign_data_wrapper:w", [], None, fdw, change="added"),
        item("foreign_server:s", [], None, srv, change="added"),
    ]
    live = {"extension:postgres_fdw": ext, "foreign_data_wrapper:w": fdw, "foreign_server:s": srv}
    order = [q.split(" ")[1] for q in _order(added, {}, live)]
    assert order.index("SERVER") < order.index("FOREIGN") < order.index("EXTENSION")
    removed = [item(i.object, [], i.after, None, change="removed") for i in added]
    order = [q.split(" ")[1] for q in _order(removed, live, {})]
    assert order.index("EXTENSION") < order.index("FOREIGN") < order.index("SERVER")

    settings = [
        item(f"setting:{n}", ["value"], "4MB", "64MB") for n in ("work_mem", "temp_buffers")
    ]
    order = _order(settings, {}, {})
    assert order.count("SELECT pg_reload_conf();") == 1 and order[-1] == "SELECT pg_reload_conf();"

    seq = {"data_type": "integer", "start": 1, "increment": 1, "min": 1, "max": 2147483647,
           "cache": 1, "cycle": False, "owned_by": "public.t.id", "owner": "app",
           "grants": {}, "comment": None}  # fmt: skip
    table_and_seq = [
        item("sequence:public.t_id_seq", [], None, seq, change="added"),
        item("table:public.t", [], None, {"columns": {"id": COLUMN}}, change="added"),
    ]
    order = _order(table_and_seq, {}, {"sequence:public.t_id_seq": seq})
    drop_seq = "DROP SEQUENCE IF EXISTS public.t_id_seq;"
    assert drop_seq in order and order.index(drop_seq) > order.index("DROP TABLE public.t;")


def test_a_masked_setting_is_left_to_a_person() -> None:
    r = revert_item(
        Ctx.from_item(item("setting:primary_conninfo", ["value"], "host=a password=********", "x")),
        "postgresql",
    )
    assert r.needs_person and "masked" in r.needs_person and not r.statements
