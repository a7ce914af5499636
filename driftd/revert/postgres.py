"""PostgreSQL: the statements that turn a live object back into its baseline.

One :class:`KindRevert` per kind in :data:`HANDLERS`: how to drop an object
the baseline lacks, how to create one the live database lost, and, per
top-level field (``section``), how to undo a change inside it. Section
builders compare the baseline and live values of the section (or of the one
entry the item names) and emit what turns the live value into the baseline's,
so the same builders also finish a recreated object (compared against the
state ``CREATE`` leaves). SQL held in a snapshot (definitions, expressions)
is PostgreSQL's own rendering and is used as it is; names are quoted here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from driftd.revert.context import Ctx, get
from driftd.revert.model import NeedsPerson, Statement
from driftd.revert.quote import pg_ident, pg_literal, pg_qualified, pg_ref, pg_role

Builder = Callable[[Ctx], list[Statement]]

# Phases: dependency order across items. Roles exist before anything is granted to
# them and go last; dependants are dropped before what they depend on and created after.
CREATE_ROLE = 5
DROP_DEPENDANT = 10  # policies, triggers, rules, event triggers, publications, mappings
DROP_VIEW = 15
DROP_CONSTRAINT = 20  # constraints, indexes, statistics
DROP_COLUMN = 25
DROP_TABLE = 30
DROP_SEQUENCE = 31  # after the tables and columns that may own it
DROP_AGGREGATE = 33
DROP_FUNCTION = 35
DROP_TYPE = 40
DROP_SERVER = 42  # servers, then their wrapper, then the extension that brought it
DROP_WRAPPER = 43
DROP_EXTENSION = 45
DROP_SCHEMA = 50
CREATE_SCHEMA = 55
CREATE_EXTENSION = 58
CREATE_WRAPPER = 59  # the other way round when creating
CREATE_SERVER = 60
CREATE_TYPE = 60
CREATE_FUNCTION = 62
CREATE_SEQUENCE = 64
CREATE_TABLE = 66
ALTER_COLUMN = 70
ADD_CONSTRAINT = 74
CREATE_INDEX = 76
CREATE_VIEW = 78
CREATE_VIEW_INDEX = 79  # a materialized view's indexes, once it exists
CREATE_DEPENDANT = 80
ALTER = 90
RELOAD = 91  # one pg_reload_conf() after every ALTER SYSTEM
GRANT = 92
ALTER_ROLE = 94
DROP_ROLE = 99

MASKED = "********"
TABLE_PRIVILEGES = ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"]
# What a new object's ACL shows before any GRANT (the owner's implicit privileges,
# and PUBLIC's where PostgreSQL gives it some): the state CREATE leaves.
OWNER_PRIVILEGES: dict[str, list[str]] = {
    "table": TABLE_PRIVILEGES,
    "view": TABLE_PRIVILEGES,
    "materialized_view": TABLE_PRIVILEGES,
    "sequence": ["SELECT", "UPDATE", "USAGE"],
    "function": ["EXECUTE"],
    "type": ["USAGE"],
    "schema": ["CREATE", "USAGE"],
    "foreign_server": ["USAGE"],
}
PUBLIC_PRIVILEGES: dict[str, list[str]] = {"function": ["EXECUTE"], "type": ["USAGE"]}
# Parameters whose value is a list PostgreSQL stores already quoted (GUC_LIST_QUOTE):
# written back bare, not as one string.
LIST_SETTINGS = frozenset(
    {
        "search_path",
        "temp_tablespaces",
        "session_preload_libraries",
        "shared_preload_libraries",
        "local_preload_libraries",
    }
)
_LIST_VALUE = re.compile(
    r'(?:[A-Za-z0-9_$]+|"(?:[^"]|"")*")(?:\s*,\s*(?:[A-Za-z0-9_$]+|"(?:[^"]|"")*"))*'
)
_OPTION_NAME = re.compile(r"[a-z_][a-z0-9_.]*")


def stmt(sql: str, phase: int, *hazards: str, note: str | None = None) -> Statement:
    return Statement(sql + ";", phase, list(hazards), note)


# -- what an object is called in SQL -------------------------------------------------------


_OPERATOR = re.compile(r"[+\-*/<>=~!@#%^&|`?]+")


def name_of(ctx: Ctx) -> str:
    """The object's quoted, schema-qualified name (a function's with its arguments)."""
    kind, args = ctx.key.kind, ctx.key.args
    if kind == "cast":
        return f"({args})"
    if kind == "operator":
        schema, op = ctx.key.parts
        if not _OPERATOR.fullmatch(op):
            raise NeedsPerson(f"operator name {op!r}")
        return f"{pg_ident(schema)}.{op} ({args})"
    q = pg_qualified(*ctx.key.parts)
    if kind in ("operator_class", "operator_family"):
        return f"{q} USING {pg_ident(args or '')}"
    return f"{q}({args})" if args is not None else q


_ROUTINE = {"procedure": "PROCEDURE", "aggregate": "AGGREGATE"}
_TYPE_WORD = {"domain": "DOMAIN"}
_WORD = {
    "table": "TABLE",
    "view": "VIEW",
    "materialized_view": "MATERIALIZED VIEW",
    "sequence": "SEQUENCE",
    "schema": "SCHEMA",
    "database": "DATABASE",
    "collation": "COLLATION",
    "statistics": "STATISTICS",
    "event_trigger": "EVENT TRIGGER",
    "extension": "EXTENSION",
    "role": "ROLE",
    "publication": "PUBLICATION",
    "subscription": "SUBSCRIPTION",
    "foreign_server": "SERVER",
    "access_method": "ACCESS METHOD",
    "cast": "CAST",
    "operator": "OPERATOR",
    "operator_class": "OPERATOR CLASS",
    "operator_family": "OPERATOR FAMILY",
    "text_search_config": "TEXT SEARCH CONFIGURATION",
    "text_search_dictionary": "TEXT SEARCH DICTIONARY",
    "tablespace": "TABLESPACE",
    "foreign_data_wrapper": "FOREIGN DATA WRAPPER",
}


def word_of(ctx: Ctx) -> str:
    """``TABLE``, ``FUNCTION``, ``DOMAIN``...: the keyword before the object's name."""
    kind = ctx.key.kind
    if kind == "function":
        return _ROUTINE.get(ctx.field("kind"), "FUNCTION")
    if kind == "type":
        return _TYPE_WORD.get(ctx.field("kind"), "TYPE")
    if kind == "table" and (get(ctx.base, "foreign_server") or get(ctx.live, "foreign_server")):
        return "FOREIGN TABLE"
    return _WORD[kind]


def target(ctx: Ctx) -> str:
    return f"{word_of(ctx)} {name_of(ctx)}"


def grant_target(ctx: Ctx) -> str:
    """The ``ON ...`` of GRANT/REVOKE: relations are all ``TABLE``, routines ``ROUTINE``."""
    kind = ctx.key.kind
    if kind in ("table", "view", "materialized_view"):
        return f"TABLE {name_of(ctx)}"
    if kind == "function":
        return f"ROUTINE {name_of(ctx)}"
    if kind == "foreign_server":
        return f"FOREIGN SERVER {name_of(ctx)}"
    if kind == "type":
        return f"TYPE {name_of(ctx)}"
    return target(ctx)


def ref(text: Any, what: str) -> str:
    """A raw ``schema.name`` reference of the snapshot, quoted; a person decides otherwise."""
    quoted = pg_ref(text) if isinstance(text, str) else None
    if quoted is None:
        raise NeedsPerson(f"{what} {text!r} cannot be split into schema and name with certainty")
    return quoted


def settings_value(name: str, value: str) -> str:
    """A parameter's value as ``SET name = ...`` takes it back."""
    if name in LIST_SETTINGS:
        if not _LIST_VALUE.fullmatch(value):
            raise NeedsPerson(f"the value of {name} is not a plain list of names")
        return value
    return pg_literal(value)


# -- privileges ----------------------------------------------------------------------------


def _privileges(values: Any) -> dict[str, bool]:
    """``["SELECT WITH GRANT OPTION", "UPDATE"]`` as ``{"SELECT": True, "UPDATE": False}``."""
    out: dict[str, bool] = {}
    for value in values or []:
        name, grantable, _rest = str(value).partition(" WITH GRANT OPTION")
        out[name] = bool(grantable) or out.get(name, False)
    return out


def privilege_statements(
    on: str, grantee: str, want: Any, have: Any, columns: str = "", everything: int = 0
) -> list[Statement]:
    """GRANT/REVOKE that turn ``have`` (live) privileges of ``grantee`` into ``want``.

    ``everything``: how many privileges the object type has; revoking all of them
    is written ``REVOKE ALL``.
    """
    want_p, have_p = _privileges(want), _privileges(have)
    who = pg_role(grantee)
    out: list[Statement] = []
    extra = sorted(p for p in have_p if p not in want_p)
    if extra:
        words = (
            "ALL" if not want_p and everything and len(extra) >= everything else ", ".join(extra)
        )
        out.append(stmt(f"REVOKE {words}{columns} ON {on} FROM {who}", GRANT))
    options = sorted(p for p in have_p if p in want_p and have_p[p] and not want_p[p])
    if options:
        out.append(
            stmt(f"REVOKE GRANT OPTION FOR {', '.join(options)}{columns} ON {on} FROM {who}", GRANT)
        )
    for with_option in (False, True):
        missing = sorted(
            p
            for p, opt in want_p.items()
            if opt == with_option and (p not in have_p or (opt and not have_p[p]))
        )
        if missing:
            tail = " WITH GRANT OPTION" if with_option else ""
            out.append(stmt(f"GRANT {', '.join(missing)}{columns} ON {on} TO {who}{tail}", GRANT))
    return out


def grants(ctx: Ctx) -> list[Statement]:
    on = grant_target(ctx)
    total = len(OWNER_PRIVILEGES.get(ctx.key.kind, []))
    out: list[Statement] = []
    for grantee in ctx.entries("grants"):
        want, have = ctx.both("grants", grantee)
        revoked = privilege_statements(on, grantee, want, have, everything=total)
        out += revoked
        if any(s.sql.startswith("REVOKE") for s in revoked):
            out += _column_grants_again(ctx, grantee)
    return out


def _column_grants_again(ctx: Ctx, grantee: str) -> list[Statement]:
    """A table-level REVOKE also takes the grantee's column privileges: the baseline's
    are granted again right after it."""
    out = []
    for column, by_grantee in sorted((get(ctx.base, "column_grants") or {}).items()):
        privileges = get(by_grantee, grantee)
        if privileges:
            cols = f" ({pg_ident(column)})"
            for s in privilege_statements(f"TABLE {name_of(ctx)}", grantee, privileges, None, cols):
                out.append(replace(s, phase=GRANT + 1))
    return out


def column_grants(ctx: Ctx) -> list[Statement]:
    on = f"TABLE {name_of(ctx)}"
    out: list[Statement] = []
    for column in ctx.entries("column_grants"):
        want, have = ctx.both("column_grants", column)
        for grantee in sorted(set(want or {}) | set(have or {})):
            cols = f" ({pg_ident(column)})"
            out += privilege_statements(on, grantee, get(want, grantee), get(have, grantee), cols)
    return out


_DEFAULT_OBJECTS = {
    "tables": "TABLES",
    "sequences": "SEQUENCES",
    "functions": "FUNCTIONS",
    "types": "TYPES",
    "schemas": "SCHEMAS",
}
_DEFAULT_OWNER = {
    "tables": "table",
    "sequences": "sequence",
    "functions": "function",
    "types": "type",
    "schemas": "schema",
}


def _builtin_defaults(role: str, objects: str) -> dict[str, list[str]]:
    """The privileges a new object gets with no ``ALTER DEFAULT PRIVILEGES`` entry."""
    kind = _DEFAULT_OWNER[objects]
    out = {role: OWNER_PRIVILEGES[kind]}
    if kind in PUBLIC_PRIVILEGES:
        out["PUBLIC"] = PUBLIC_PRIVILEGES[kind]
    return out


def default_privileges(ctx: Ctx) -> list[Statement]:
    """``ALTER DEFAULT PRIVILEGES``: per role, per object type, per grantee.

    A global entry (on ``database:``) replaces the built-in defaults, so a missing
    one means the built-ins; an ``IN SCHEMA`` entry adds to them, so missing is none.
    """
    in_schema = f" IN SCHEMA {pg_ident(ctx.key.parts[0])}" if ctx.key.kind == "schema" else ""
    out: list[Statement] = []
    for role in ctx.entries("default_privileges"):
        want, have = ctx.both("default_privileges", role)
        for objects in sorted(set(want or {}) | set(have or {})):
            if objects not in _DEFAULT_OBJECTS:
                raise NeedsPerson(f"default privileges on {objects!r} are not known to driftd")
            w, h = get(want, objects), get(have, objects)
            if not in_schema:
                w = w if w is not None else _builtin_defaults(role, objects)
                h = h if h is not None else _builtin_defaults(role, objects)
            on = f"ALTER DEFAULT PRIVILEGES FOR ROLE {pg_ident(role)}{in_schema}"
            for grantee in sorted(set(w or {}) | set(h or {})):
                for s in privilege_statements(
                    _DEFAULT_OBJECTS[objects], grantee, get(w, grantee), get(h, grantee)
                ):
                    out.append(replace(s, sql=f"{on} {s.sql}"))
    return out


# -- fields every kind shares --------------------------------------------------------------


def owner(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("owner")
    if want is None:
        raise NeedsPerson("the baseline names no owner")
    return [stmt(f"ALTER {target(ctx)} OWNER TO {pg_ident(want)}", ALTER)]


def comment(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("comment")
    value = "NULL" if want is None else pg_literal(want)
    return [stmt(f"COMMENT ON {target(ctx)} IS {value}", ALTER)]


def column_comments(ctx: Ctx) -> list[Statement]:
    out = []
    for column in ctx.entries("column_comments"):
        want, _have = ctx.both("column_comments", column)
        value = "NULL" if want is None else pg_literal(want)
        out.append(stmt(f"COMMENT ON COLUMN {name_of(ctx)}.{pg_ident(column)} IS {value}", ALTER))
    return out


def options(ctx: Ctx) -> list[Statement]:
    """Storage parameters and view options: ``SET (k = v)`` / ``RESET (k)``."""
    out = []
    word = word_of(ctx)
    for name in ctx.entries("options"):
        if not _OPTION_NAME.fullmatch(name):
            raise NeedsPerson(f"option name {name!r} is not a plain name")
        want, have = ctx.both("options", name)
        if want == have:
            continue
        if want is None:
            out.append(stmt(f"ALTER {word} {name_of(ctx)} RESET ({name})", ALTER))
        else:
            out.append(
                stmt(f"ALTER {word} {name_of(ctx)} SET ({name} = {pg_literal(str(want))})", ALTER)
            )
    return out


def needs(reason: str) -> Builder:
    def builder(ctx: Ctx) -> list[Statement]:
        raise NeedsPerson(reason)

    return builder


def nothing(ctx: Ctx) -> list[Statement]:
    """Fields that follow from another item's revert (a function's definition repeats
    its attributes; both are reverted by the definition's statement)."""
    return []


@dataclass(frozen=True)
class KindRevert:
    """How to revert drift of one kind: drop, create, and per-field builders."""

    drop: Builder | None = None
    create: Builder | None = None
    sections: dict[str, Builder] = field(default_factory=dict)
    reason: str = ""  # why a change without a builder needs a person

    def build(self, ctx: Ctx) -> list[Statement]:
        change = ctx.item.change
        if change == "added":
            fn = self.drop
        elif change == "removed":
            fn = self.create
        else:
            fn = self.sections.get(str(ctx.path[0]))
        if fn is None:
            what = ctx.item.change if not ctx.path else f"a change of {ctx.path[0]}"
            raise NeedsPerson(
                self.reason or f"driftd writes no revert for {what} of a {ctx.key.kind}"
            )
        return fn(ctx)


COMMON: dict[str, Builder] = {"owner": owner, "comment": comment, "grants": grants}


def dropper(phase: int, *hazards: str, cascade: bool = False, note: str | None = None) -> Builder:
    def drop(ctx: Ctx) -> list[Statement]:
        tail = " CASCADE" if cascade else ""
        return [stmt(f"DROP {target(ctx)}{tail}", phase, *hazards, note=note)]

    return drop


def fresh(ctx: Ctx, created: dict[str, Any]) -> Ctx:
    """The context of finishing an object just created from the baseline: its live
    side is what CREATE leaves (``created``), the owner not yet set."""
    base = ctx.base or {}
    kind = ctx.key.kind
    owner_name = base.get("owner")
    acl: dict[str, list[str]] = {}
    if owner_name and kind in OWNER_PRIVILEGES:
        acl[owner_name] = OWNER_PRIVILEGES[kind]
    if kind in PUBLIC_PRIVILEGES:
        acl["PUBLIC"] = PUBLIC_PRIVILEGES[kind]
    live = {"owner": None, "comment": None, "grants": acl, **created}
    item = replace(ctx.item, change="modified", path=[])
    return replace(ctx, item=item, live=live)


def finish(ctx: Ctx, created: dict[str, Any], sections: dict[str, Builder]) -> list[Statement]:
    """Owner, comment, grants and the other ``sections`` of a recreated object."""
    after = fresh(ctx, created)
    out: list[Statement] = []
    for name, builder in sections.items():
        if name in (ctx.base or {}) and get(after.base, name) != get(after.live, name):
            out += builder(replace(after, item=replace(after.item, path=[name])))
    return out
