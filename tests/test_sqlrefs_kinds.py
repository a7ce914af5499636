"""Attribution of every PostgreSQL kind is derived from the kinds registry.

Each kind declares the statements that create or change it (``pg_statements``)
and the object types by which DROP, OWNER, RENAME, COMMENT and GRANT name it
(``pg_objtypes``); the SQL reference extractor has a handler for every one.
Then, for each kind, real statements are parsed by the server's own parser
(pglast) and matched against a drift item on an object key of that kind, as
`driftd check` would match an audit record to a change.
"""

from __future__ import annotations

import pytest

from driftd.attribute.match import level_of, target_of
from driftd.attribute.sqlrefs.postgres import _HANDLERS, _OBJTYPE_KIND, analyze_pg
from driftd.drift import DriftItem
from driftd.kinds import KINDS

PG_KINDS = [k for k in KINDS.values() if "postgresql" in k.engines]


@pytest.mark.parametrize("kind", PG_KINDS, ids=[k.name for k in PG_KINDS])
def test_every_kind_declares_statements_with_handlers(kind: object) -> None:
    assert kind.pg_statements, f"{kind.name}: declare the statements that change it"  # type: ignore[attr-defined]
    assert kind.pg_objtypes, f"{kind.name}: declare the ObjectType names of DROP/OWNER/..."  # type: ignore[attr-defined]
    missing = [s for s in kind.pg_statements if s not in _HANDLERS]  # type: ignore[attr-defined]
    assert not missing, f"{kind.name}: no sqlrefs handler for {missing}"  # type: ignore[attr-defined]
    for objtype in kind.pg_objtypes:  # type: ignore[attr-defined]
        assert objtype in _OBJTYPE_KIND


# (statement, drift item key, change, path): the statement must explain the item.
CASES = [
    ("CREATE CAST (int4 AS text) WITH INOUT", "cast:(integer AS text)", "added", []),
    ("DROP CAST (integer AS text)", "cast:(integer AS text)", "removed", []),
    (
        "CREATE OPERATOR app.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)",
        "operator:app.===(integer, integer)",
        "added",
        [],
    ),
    (
        "ALTER OPERATOR app.=== (int, int) OWNER TO bob",
        "operator:app.===(integer, integer)",
        "modified",
        ["owner"],
    ),
    (
        "CREATE OPERATOR CLASS app.c FOR TYPE int USING btree AS OPERATOR 1 <",
        "operator_class:app.c(btree)",
        "added",
        [],
    ),
    ("DROP OPERATOR CLASS app.c USING btree", "operator_class:app.c(btree)", "removed", []),
    (
        "ALTER OPERATOR FAMILY app.f USING btree ADD OPERATOR 1 < (int, int)",
        "operator_family:app.f(btree)",
        "modified",
        ["operators"],
    ),
    (
        "CREATE TEXT SEARCH DICTIONARY app.d (TEMPLATE = simple)",
        "text_search_dictionary:app.d",
        "added",
        [],
    ),
    (
        "ALTER TEXT SEARCH DICTIONARY app.d (STOPWORDS = english)",
        "text_search_dictionary:app.d",
        "modified",
        ["options"],
    ),
    (
        "ALTER TEXT SEARCH CONFIGURATION app.c ALTER MAPPING FOR word WITH simple",
        "text_search_config:app.c",
        "modified",
        ["mappings"],
    ),
    ("CREATE TABLESPACE ts LOCATION '/x'", "tablespace:ts", "added", []),
    ("ALTER TABLESPACE ts SET (seq_page_cost = 2)", "tablespace:ts", "modified", ["options"]),
    ("DROP TABLESPACE ts", "tablespace:ts", "removed", []),
    ("CREATE FOREIGN DATA WRAPPER w", "foreign_data_wrapper:w", "added", []),
    (
        "ALTER FOREIGN DATA WRAPPER w OPTIONS (ADD a 'b')",
        "foreign_data_wrapper:w",
        "modified",
        ["options"],
    ),
    (
        "CREATE ACCESS METHOD am TYPE TABLE HANDLER heap_tableam_handler",
        "access_method:am",
        "added",
        [],
    ),
    ("ALTER TABLE app.t SET TABLESPACE ts", "table:app.t", "modified", ["tablespace"]),
    ("ALTER TABLE app.t SET ACCESS METHOD heap", "table:app.t", "modified", ["access_method"]),
    ("ALTER TABLE app.t INHERIT app.p", "table:app.t", "modified", ["inherits"]),
    ("CREATE PUBLICATION p FOR TABLE app.t", "publication:p", "added", []),
    ("ALTER PUBLICATION p ADD TABLE app.t2", "publication:p", "modified", ["tables"]),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p", "subscription:s", "added", []),
    ("ALTER SUBSCRIPTION s DISABLE", "subscription:s", "modified", ["enabled"]),
    ("CREATE SERVER srv FOREIGN DATA WRAPPER w", "foreign_server:srv", "added", []),
    ("ALTER SERVER srv OPTIONS (SET host 'h')", "foreign_server:srv", "modified", ["options"]),
    (
        "CREATE USER MAPPING FOR bob SERVER srv OPTIONS (user 'x')",
        "user_mapping:srv.bob",
        "added",
        [],
    ),
    ("DROP USER MAPPING FOR PUBLIC SERVER srv", "user_mapping:srv.PUBLIC", "removed", []),
    (
        "CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION f()",
        "event_trigger:et",
        "added",
        [],
    ),
    ("ALTER EVENT TRIGGER et DISABLE", "event_trigger:et", "modified", ["enabled"]),
    ("CREATE STATISTICS app.s ON a, b FROM app.t", "statistics:app.s", "added", []),
    ("CREATE COLLATION app.c (provider = icu, locale = 'und')", "collation:app.c", "added", []),
    (
        "CREATE AGGREGATE app.agg (int) (sfunc = int4pl, stype = int)",
        "function:app.agg(integer)",
        "added",
        [],
    ),
    ("ALTER PUBLICATION p OWNER TO bob", "publication:p", "modified", ["owner"]),
    (
        "GRANT USAGE ON FOREIGN SERVER srv TO bob",
        "foreign_server:srv",
        "modified",
        ["grants", "bob"],
    ),
    ("GRANT CREATE ON TABLESPACE ts TO bob", "tablespace:ts", "modified", ["grants", "bob"]),
    ("DROP EVENT TRIGGER et", "event_trigger:et", "removed", []),
    ("DROP STATISTICS app.s", "statistics:app.s", "removed", []),
]


@pytest.mark.parametrize(("sql", "key", "change", "path"), CASES, ids=[c[0][:48] for c in CASES])
def test_a_statement_explains_a_change_of_its_kind(
    sql: str, key: str, change: str, path: list[str]
) -> None:
    statements, errors = analyze_pg(sql)
    assert errors == 0 and len(statements) == 1
    [statement] = statements
    assert not statement.dynamic, f"{sql}: not understood"

    item = DriftItem(object=key, change=change, path=path, before=None, after=None)  # type: ignore[arg-type]
    levels = [level_of(ref, target_of(item), item) for ref in statement.refs]
    assert any(levels), f"{sql}: {statement.refs} does not explain {key}#{'.'.join(path)}"


def test_an_operator_of_other_operand_types_is_another_object() -> None:
    [statement], _ = analyze_pg("DROP OPERATOR app.=== (text, text)")
    item = DriftItem(
        object="operator:app.===(integer, integer)",
        change="removed",
        path=[],
        before=None,
        after=None,
    )
    assert not any(level_of(r, target_of(item), item) for r in statement.refs)
