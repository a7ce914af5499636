"""PostgreSQL relations: tables and their parts, views, materialized views, sequences."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from driftd.revert.context import Ctx, get
from driftd.revert.model import NeedsPerson, Statement
from driftd.revert.postgres import (
    ADD_CONSTRAINT,
    ALTER,
    ALTER_COLUMN,
    COMMON,
    CREATE_DEPENDANT,
    CREATE_INDEX,
    CREATE_SEQUENCE,
    CREATE_TABLE,
    CREATE_VIEW,
    CREATE_VIEW_INDEX,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_DEPENDANT,
    DROP_SEQUENCE,
    DROP_TABLE,
    DROP_VIEW,
    Builder,
    KindRevert,
    column_comments,
    column_grants,
    dropper,
    finish,
    name_of,
    needs,
    options,
    ref,
    stmt,
    target,
    word_of,
)
from driftd.revert.quote import pg_ident, pg_literal, pg_qualified, pg_role

LOCK = "access_exclusive_lock"

# A column's storage when the snapshot says null (the type's own): the common types.
TYPE_STORAGE = {
    "text": "extended",
    "bytea": "extended",
    "jsonb": "extended",
    "json": "extended",
    "xml": "extended",
    "numeric": "main",
    "tsvector": "extended",
}


def _type_storage(type_name: str) -> str:
    base = type_name.split("(")[0].strip()
    if base in TYPE_STORAGE:
        return TYPE_STORAGE[base]
    if base.startswith(("character", "bit varying")) or base.endswith("[]"):
        return "extended"
    raise NeedsPerson(f"the default storage of type {type_name} is not known to driftd")


# Column fields the builders below revert; another field that differs needs a person.
COLUMN_FIELDS = frozenset(
    {
        "type",
        "nullable",
        "default",
        "identity",
        "identity_options",
        "generated",
        "collation",
        "statistics",
        "storage",
        "compression",
        "comment",
    }
)

# -- columns -------------------------------------------------------------------------------


def column_definition(name: str, col: dict[str, Any]) -> str:
    parts = [pg_ident(name), str(col["type"])]
    if col.get("collation"):
        parts.append(f"COLLATE {ref(col['collation'], 'collation')}")
    if col.get("generated"):
        parts.append(f"GENERATED ALWAYS AS ({col['generated']}) STORED")
    if col.get("identity"):
        parts.append(f"GENERATED {str(col['identity']).upper()} AS IDENTITY")
    if col.get("nullable") is False:
        parts.append("NOT NULL")
    if col.get("default") is not None and not col.get("generated"):
        parts.append(f"DEFAULT {col['default']}")
    return " ".join(parts)


_INT_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}
_IDENTITY_CLAUSE = {
    "increment": "INCREMENT BY",
    "min": "MINVALUE",
    "max": "MAXVALUE",
    "start": "START WITH",
    "cache": "CACHE",
}


def _identity_options(col_type: str, want: Any, have: Any) -> list[str]:
    """``SET INCREMENT BY 1`` ... that give an identity column the baseline's options
    (null: what ``GENERATED ... AS IDENTITY`` gives it)."""
    defaults: dict[str, Any] = {
        "increment": 1,
        "min": 1,
        "max": _INT_MAX.get(col_type),
        "start": 1,
        "cache": 1,
        "cycle": False,
    }
    target_opts = {**defaults, **(want or {})}
    clauses = []
    for key in sorted(set(want or {}) | set(have or {})):
        value = target_opts.get(key)
        if value is None:
            raise NeedsPerson(f"the default {key} of an identity column of type {col_type}")
        if key == "cycle":
            clauses.append("SET CYCLE" if value else "SET NO CYCLE")
        else:
            clauses.append(f"SET {_IDENTITY_CLAUSE[key]} {int(value)}")
    return clauses


def _column_changes(
    table: str, name: str, want: dict[str, Any], have: dict[str, Any]
) -> list[Statement]:
    """ALTER COLUMN statements for the fields that differ (type first: the rest
    are stated for the baseline's type)."""
    unknown = sorted(
        k for k in set(want) | set(have) if k not in COLUMN_FIELDS and want.get(k) != have.get(k)
    )
    if unknown:
        raise NeedsPerson(f"driftd writes no revert for a column's {', '.join(unknown)}")
    col = f"ALTER TABLE {table} ALTER COLUMN {pg_ident(name)}"
    out: list[Statement] = []

    def differs(key: str) -> bool:
        return want.get(key) != have.get(key)

    if differs("generated"):
        if want.get("generated") is None:
            out.append(stmt(f"{col} DROP EXPRESSION", ALTER_COLUMN, LOCK))
        else:
            raise NeedsPerson("a generated column's expression cannot be changed in place")
    if differs("type") or differs("collation"):
        collate = f" COLLATE {ref(want['collation'], 'collation')}" if want.get("collation") else ""
        out.append(
            stmt(
                f"{col} TYPE {want['type']}{collate} USING {pg_ident(name)}::{want['type']}",
                ALTER_COLUMN,
                LOCK,
                "table_rewrite",
            )
        )
    if differs("nullable"):
        verb = "DROP NOT NULL" if want.get("nullable") else "SET NOT NULL"
        out.append(stmt(f"{col} {verb}", ALTER_COLUMN, LOCK))
    if differs("default") and not want.get("generated"):
        d = want.get("default")
        out.append(
            stmt(f"{col} DROP DEFAULT" if d is None else f"{col} SET DEFAULT {d}", ALTER_COLUMN)
        )
    out += _identity_changes(col, want, have)
    if differs("statistics"):
        n = want.get("statistics")
        out.append(stmt(f"{col} SET STATISTICS {-1 if n is None else int(n)}", ALTER_COLUMN))
    if differs("storage"):
        storage = want.get("storage") or _type_storage(str(want["type"]))
        out.append(stmt(f"{col} SET STORAGE {storage.upper()}", ALTER_COLUMN))
    if differs("compression"):
        out.append(
            stmt(f"{col} SET COMPRESSION {want.get('compression') or 'DEFAULT'}", ALTER_COLUMN)
        )
    if differs("comment"):
        c = want.get("comment")
        value = "NULL" if c is None else pg_literal(c)
        out.append(stmt(f"COMMENT ON COLUMN {table}.{pg_ident(name)} IS {value}", ALTER))
    return out


def _identity_changes(col: str, want: dict[str, Any], have: dict[str, Any]) -> list[Statement]:
    out: list[Statement] = []
    w, h = want.get("identity"), have.get("identity")
    if w != h:
        if w is None:
            out.append(stmt(f"{col} DROP IDENTITY", ALTER_COLUMN, LOCK))
        elif h is None:
            out.append(stmt(f"{col} ADD GENERATED {w.upper()} AS IDENTITY", ALTER_COLUMN, LOCK))
        else:
            out.append(stmt(f"{col} SET GENERATED {w.upper()}", ALTER_COLUMN, LOCK))
    if w is not None and want.get("identity_options") != (
        have.get("identity_options") if h else None
    ):
        have_opts = have.get("identity_options") if h else None
        clauses = _identity_options(str(want["type"]), want.get("identity_options"), have_opts)
        if clauses:
            out.append(stmt(f"{col} {' '.join(clauses)}", ALTER_COLUMN))
    return out


def columns(ctx: Ctx) -> list[Statement]:
    table = name_of(ctx)
    out: list[Statement] = []
    for name in ctx.entries("columns"):
        want, have = ctx.both("columns", name)
        if want is None:
            out.append(
                stmt(
                    f"ALTER TABLE {table} DROP COLUMN {pg_ident(name)}",
                    DROP_COLUMN,
                    "deletes_data",
                    LOCK,
                    "breaks_dependants",
                )
            )
        elif have is None:
            added = {k: want.get(k) for k in ("type", "collation", "generated", "identity")}
            added.update(nullable=want.get("nullable"), default=want.get("default"))
            out.append(
                stmt(
                    f"ALTER TABLE {table} ADD COLUMN {column_definition(name, want)}",
                    ALTER_COLUMN,
                    LOCK,
                    "cannot_restore_data",
                )
            )
            out += _column_changes(table, name, want, added)
        else:
            if not get(ctx.base, "inherits") and want.get("local") is None:
                # No parent in the baseline: reverting the INHERIT leaves no inherited
                # column to be local or not.
                have = {**have, "local": None}
            out += _column_changes(table, name, want, have)
    return out


# -- constraints, indexes, triggers, rules, policies ---------------------------------------------


def _inherited_drop(ctx: Ctx, section: str, name: str) -> bool:
    """Whether the entry also appeared on a parent, whose revert drops it here too."""
    live = ctx.live or {}
    parents = list(live.get("inherits") or [])
    if isinstance(live.get("partition_of"), dict):
        parents.append(live["partition_of"].get("parent"))
    for parent in parents:
        key = f"table:{parent}"
        if get(ctx.current.get(key), section, name) is not None and (
            get(ctx.baseline.get(key), section, name) is None
        ):
            return True
    return False


def _replaced(
    ctx: Ctx,
    section: str,
    drop: Callable[[str, Any], Statement | None],
    create: Callable[[str, dict[str, Any]], Statement],
) -> list[Statement]:
    """Each changed entry of ``section`` dropped (``drop(name, want)``; None: leave it)
    and made again as the baseline has it: entries with no ALTER for their body."""
    out: list[Statement] = []
    for name in ctx.entries(section):
        want, have = ctx.both(section, name)
        if want == have:
            continue
        if have is not None and (dropped := drop(name, want)) is not None:
            out.append(dropped)
        if want is not None:
            out.append(create(name, want))
    return out


def constraints(ctx: Ctx) -> list[Statement]:
    table = name_of(ctx)

    def drop(name: str, want: Any) -> Statement | None:
        if want is None and _inherited_drop(ctx, "constraints", name):
            return None  # goes with the parent's
        return stmt(f"ALTER TABLE {table} DROP CONSTRAINT {pg_ident(name)}", DROP_CONSTRAINT, LOCK)

    def create(name: str, want: dict[str, Any]) -> Statement:
        hazards = [LOCK] + (
            ["index_build"] if want.get("type") in ("primary_key", "unique") else []
        )
        sql = f"ALTER TABLE {table} ADD CONSTRAINT {pg_ident(name)} {want['definition']}"
        return stmt(sql, ADD_CONSTRAINT, *hazards)

    return _replaced(ctx, "constraints", drop, create)


_CREATE_INDEX = re.compile(r"CREATE (UNIQUE )?INDEX ")


def indexes(ctx: Ctx) -> list[Statement]:
    schema = ctx.key.parts[0]
    partitioned = get(ctx.base, "partitioning") is not None or ctx.key.kind != "table"

    def create(name: str, want: dict[str, Any]) -> Statement:
        sql = str(want["definition"])
        if " ON ONLY " not in sql and not partitioned:
            # CONCURRENTLY does not block writes (and cannot run inside a transaction).
            sql = _CREATE_INDEX.sub(
                lambda m: f"CREATE {m.group(1) or ''}INDEX CONCURRENTLY ", sql, 1
            )
        return stmt(sql, CREATE_INDEX, "index_build")

    return _replaced(
        ctx,
        "indexes",
        lambda name, _want: stmt(f"DROP INDEX {pg_qualified(schema, name)}", DROP_CONSTRAINT, LOCK),
        create,
    )


_ENABLE = {
    "origin": "ENABLE",
    "disabled": "DISABLE",
    "replica": "ENABLE REPLICA",
    "always": "ENABLE ALWAYS",
}


def _defined(section: str, noun: str, drop_sql: str) -> Builder:
    """Triggers and rules: ``{name: {definition, enabled}}``."""

    def build(ctx: Ctx) -> list[Statement]:
        rel = name_of(ctx)
        out: list[Statement] = []
        for name in ctx.entries(section):
            want, have = ctx.both(section, name)
            if want == have:
                continue
            same = (
                want is not None and have is not None and want["definition"] == have["definition"]
            )
            if have is not None and not same:
                if want is None and _inherited_drop(ctx, section, name):
                    continue
                out.append(stmt(drop_sql.format(name=pg_ident(name), rel=rel), DROP_DEPENDANT))
            if want is not None and not same:
                out.append(stmt(str(want["definition"]), CREATE_DEPENDANT))
            if (
                want is not None
                and (not same or want["enabled"] != have["enabled"])
                and (want["enabled"] != "origin" or same)
            ):
                verb = _ENABLE[want["enabled"]]
                out.append(
                    stmt(f"ALTER {word_of(ctx)} {rel} {verb} {noun} {pg_ident(name)}", ALTER)
                )
        return out

    return build


triggers = _defined("triggers", "TRIGGER", "DROP TRIGGER {name} ON {rel}")
rules = _defined("rules", "RULE", "DROP RULE {name} ON {rel}")


def _policy_sql(table: str, name: str, p: dict[str, Any]) -> str:
    kind = "PERMISSIVE" if p.get("permissive", True) else "RESTRICTIVE"
    roles = ", ".join(pg_role(r) for r in p.get("roles") or ["PUBLIC"])
    sql = f"CREATE POLICY {pg_ident(name)} ON {table} AS {kind} FOR {p['command']} TO {roles}"
    if p.get("using") is not None:
        sql += f" USING ({p['using']})"
    if p.get("with_check") is not None:
        sql += f" WITH CHECK ({p['with_check']})"
    return sql


def policies(ctx: Ctx) -> list[Statement]:
    table = name_of(ctx)
    return _replaced(
        ctx,
        "policies",
        lambda name, _want: stmt(f"DROP POLICY {pg_ident(name)} ON {table}", DROP_DEPENDANT),
        lambda name, want: stmt(_policy_sql(table, name, want), CREATE_DEPENDANT),
    )


def rls(ctx: Ctx) -> list[Statement]:
    want, have = ctx.both("rls")
    want, have = want or {}, have or {}
    table = name_of(ctx)
    out = []
    if want.get("enabled") != have.get("enabled"):
        verb = "ENABLE" if want.get("enabled") else "DISABLE"
        out.append(stmt(f"ALTER TABLE {table} {verb} ROW LEVEL SECURITY", ALTER))
    if want.get("forced") != have.get("forced"):
        verb = "FORCE" if want.get("forced") else "NO FORCE"
        out.append(stmt(f"ALTER TABLE {table} {verb} ROW LEVEL SECURITY", ALTER))
    return out


def persistence(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("persistence")
    verb = "SET UNLOGGED" if want == "unlogged" else "SET LOGGED"
    return [stmt(f"ALTER TABLE {name_of(ctx)} {verb}", ALTER, LOCK, "table_rewrite")]


def replica_identity(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("replica_identity")
    if want is None:
        clause = "DEFAULT"
    elif want in ("full", "nothing"):
        clause = want.upper()
    elif isinstance(want, str) and want.startswith("index "):
        clause = f"USING INDEX {pg_ident(want[6:])}"
    else:
        raise NeedsPerson(f"replica identity {want!r}")
    return [stmt(f"ALTER TABLE {name_of(ctx)} REPLICA IDENTITY {clause}", ALTER, LOCK)]


def inherits(ctx: Ctx) -> list[Statement]:
    want, have = ctx.both("inherits")
    table = name_of(ctx)
    out = []
    for parent in have or []:
        if parent not in (want or []):
            out.append(stmt(f"ALTER TABLE {table} NO INHERIT {ref(parent, 'parent')}", ALTER, LOCK))
    for parent in want or []:
        if parent not in (have or []):
            out.append(stmt(f"ALTER TABLE {table} INHERIT {ref(parent, 'parent')}", ALTER, LOCK))
    return out


def partition_of(ctx: Ctx) -> list[Statement]:
    want, have = ctx.both("partition_of")
    table = name_of(ctx)
    out = []
    if have is not None:
        parent = ref(have.get("parent"), "partitioned table")
        out.append(stmt(f"ALTER TABLE {parent} DETACH PARTITION {table}", ALTER, LOCK))
    if want is not None:
        parent = ref(want.get("parent"), "partitioned table")
        out.append(
            stmt(f"ALTER TABLE {parent} ATTACH PARTITION {table} {want['bound']}", ALTER, LOCK)
        )
    return out


def access_method(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("access_method")
    method = pg_ident(str(want)) if want is not None else "heap"
    return [
        stmt(
            f"ALTER TABLE {name_of(ctx)} SET ACCESS METHOD {method}",
            DROP_DEPENDANT,
            LOCK,
            "table_rewrite",
        )
    ]


def tablespace(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("tablespace")
    space = pg_ident(str(want)) if want is not None else "pg_default"
    return [
        stmt(
            f"ALTER TABLE {name_of(ctx)} SET TABLESPACE {space}",
            DROP_DEPENDANT + 1,
            LOCK,
            "table_rewrite",
            note="moves every block of the table to the tablespace",
        )
    ]


TABLE_SECTIONS: dict[str, Builder] = {
    "access_method": access_method,
    "tablespace": tablespace,
    **COMMON,
    "columns": columns,
    "constraints": constraints,
    "indexes": indexes,
    "triggers": triggers,
    "rules": rules,
    "policies": policies,
    "rls": rls,
    "column_grants": column_grants,
    "options": options,
    "persistence": persistence,
    "replica_identity": replica_identity,
    "inherits": inherits,
    "partition_of": partition_of,
    "partitioning": needs("partitioning cannot be changed in place: recreate the table"),
    "foreign_server": needs("a foreign table's server cannot be changed in place"),
    "foreign_options": needs("foreign table options may hold masked secrets: set them by hand"),
}
# Sections a recreated table gets after CREATE TABLE, in the order they must run.
_TABLE_FINISH = (
    "constraints",
    "indexes",
    "triggers",
    "rules",
    "policies",
    "rls",
    "options",
    "replica_identity",
    "owner",
    "comment",
    "grants",
    "column_grants",
)


def create_table(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    if base.get("foreign_server"):
        raise NeedsPerson("a foreign table's options may hold masked secrets: recreate it by hand")
    table = name_of(ctx)
    cols = base.get("columns") or {}
    unlogged = "UNLOGGED " if base.get("persistence") == "unlogged" else ""
    part = base.get("partition_of")
    if part:
        parent = ref(part.get("parent"), "parent")
        sql = f"CREATE {unlogged}TABLE {table} PARTITION OF {parent} {part['bound']}"
    else:
        body = ",\n    ".join(column_definition(n, c) for n, c in cols.items())
        sql = f"CREATE {unlogged}TABLE {table} (\n    {body}\n)"
        if base.get("inherits"):
            sql += f" INHERITS ({', '.join(ref(p, 'parent') for p in base['inherits'])})"
    if base.get("partitioning"):
        sql += f" PARTITION BY {base['partitioning']['key']}"
    out = [stmt(sql, CREATE_TABLE, "cannot_restore_data")]
    for name, col in cols.items():
        created = {
            k: col.get(k)
            for k in ("type", "collation", "generated", "identity", "nullable", "default")
        }
        out += _column_changes(table, name, col, created)
    empty = {
        "constraints": {},
        "indexes": {},
        "triggers": {},
        "rules": {},
        "policies": {},
        "rls": {"enabled": False, "forced": False},
        "options": {},
        "replica_identity": None,
        "column_grants": {},
    }
    return out + finish(ctx, empty, {s: TABLE_SECTIONS[s] for s in _TABLE_FINISH})


TABLE = KindRevert(
    drop=dropper(DROP_TABLE, "deletes_data", "breaks_dependants"),
    create=create_table,
    sections=TABLE_SECTIONS,
)


# -- views -------------------------------------------------------------------------------------


def _view_sql(ctx: Ctx, base: dict[str, Any], replace_: bool) -> str:
    definition = str(base["definition"]).rstrip().rstrip(";")
    opts = base.get("options") or {}
    with_ = ""
    if opts:
        for name in opts:
            if not re.fullmatch(r"[a-z_]+", name):
                raise NeedsPerson(f"view option {name!r}")
        with_ = " WITH (" + ", ".join(f"{k} = {pg_literal(str(v))}" for k, v in opts.items()) + ")"
    verb = "CREATE OR REPLACE" if replace_ else "CREATE"
    data = " WITH DATA" if ctx.key.kind == "materialized_view" else ""
    return f"{verb} {word_of(ctx)} {name_of(ctx)}{with_} AS\n{definition}{data}"


def view_definition(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    if ctx.key.kind == "materialized_view":
        # No CREATE OR REPLACE: drop it and build it again, indexes included.
        out = [stmt(f"DROP {target(ctx)}", DROP_VIEW, "breaks_dependants")]
        return out + create_view(ctx)
    return [
        stmt(
            _view_sql(ctx, base, replace_=True),
            CREATE_VIEW,
            "breaks_dependants",
            note="CREATE OR REPLACE keeps the columns' names and types; if they differ, "
            "drop the view first",
        )
    ]


VIEW_SECTIONS: dict[str, Builder] = {
    **COMMON,
    "definition": view_definition,
    "options": options,
    "column_comments": column_comments,
    "column_grants": column_grants,
    "triggers": triggers,
    "rules": rules,
    "indexes": indexes,
}
_VIEW_FINISH = (
    "indexes",
    "triggers",
    "rules",
    "owner",
    "comment",
    "column_comments",
    "grants",
    "column_grants",
)


def create_view(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    out = [stmt(_view_sql(ctx, base, replace_=False), CREATE_VIEW)]
    empty: dict[str, Any] = {
        k: {} for k in ("indexes", "triggers", "rules", "column_comments", "column_grants")
    }
    rest = finish(ctx, empty, {s: VIEW_SECTIONS[s] for s in _VIEW_FINISH})
    # A materialized view's indexes (CREATE_INDEX) can only be built once it exists.
    return out + [
        replace(st, phase=CREATE_VIEW_INDEX) if st.phase < CREATE_VIEW else st for st in rest
    ]


VIEW = KindRevert(
    drop=dropper(DROP_VIEW, "breaks_dependants"), create=create_view, sections=VIEW_SECTIONS
)


# -- sequences ---------------------------------------------------------------------------------

_SEQ_CLAUSE = {
    "data_type": "AS {}",
    "increment": "INCREMENT BY {}",
    "min": "MINVALUE {}",
    "max": "MAXVALUE {}",
    "start": "START WITH {}",
    "cache": "CACHE {}",
}
_OWNED_BY = re.compile(r"([^.\"]+)\.([^.\"]+)\.([^.\"]+)")


def _seq_clause(key: str, value: Any) -> str:
    if key == "cycle":
        return "CYCLE" if value else "NO CYCLE"
    if key == "data_type":
        if value not in ("smallint", "integer", "bigint"):
            raise NeedsPerson(f"sequence type {value!r}")
        return f"AS {value}"
    return _SEQ_CLAUSE[key].format(int(value))


def sequence_field(ctx: Ctx) -> list[Statement]:
    key = str(ctx.path[0])
    want, _have = ctx.both(key)
    return [stmt(f"ALTER SEQUENCE {name_of(ctx)} {_seq_clause(key, want)}", ALTER)]


def owned_by(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("owned_by")
    if want is None:
        return [stmt(f"ALTER SEQUENCE {name_of(ctx)} OWNED BY NONE", ALTER)]
    m = _OWNED_BY.fullmatch(str(want))
    if not m:
        raise NeedsPerson(f"owner column {want!r} cannot be split with certainty")
    col = pg_qualified(m.group(1), m.group(2), m.group(3))
    return [stmt(f"ALTER SEQUENCE {name_of(ctx)} OWNED BY {col}", ALTER)]


SEQUENCE_SECTIONS: dict[str, Builder] = {
    **COMMON,
    **{k: sequence_field for k in (*_SEQ_CLAUSE, "cycle")},
    "owned_by": owned_by,
}


def create_sequence(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    clauses = [_seq_clause(k, base[k]) for k in (*_SEQ_CLAUSE, "cycle") if base.get(k) is not None]
    out = [
        stmt(
            f"CREATE SEQUENCE {name_of(ctx)} {' '.join(clauses)}",
            CREATE_SEQUENCE,
            note="starts again from START: set its value with setval() if rows use it",
        )
    ]
    return out + finish(ctx, {"owned_by": None}, {"owned_by": owned_by, **COMMON})


def drop_sequence(ctx: Ctx) -> list[Statement]:
    # IF EXISTS: a sequence owned by a column or table dropped above went with it.
    return [stmt(f"DROP SEQUENCE IF EXISTS {name_of(ctx)}", DROP_SEQUENCE, "breaks_dependants")]


SEQUENCE = KindRevert(
    drop=drop_sequence,
    create=create_sequence,
    sections=SEQUENCE_SECTIONS,
)

__all__ = ["SEQUENCE", "TABLE", "VIEW"]
