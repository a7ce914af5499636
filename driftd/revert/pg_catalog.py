"""PostgreSQL kinds added with issue 18: access methods, casts, operators and their
classes and families, text search, tablespaces, foreign data wrappers."""

from __future__ import annotations

import re
from typing import Any

from driftd.revert.context import Ctx
from driftd.revert.model import NeedsPerson, Statement
from driftd.revert.pg_objects import masked, options_sql
from driftd.revert.postgres import (
    ALTER,
    COMMON,
    CREATE_TYPE,
    CREATE_WRAPPER,
    DROP_AGGREGATE,
    DROP_FUNCTION,
    DROP_SERVER,
    DROP_TYPE,
    DROP_WRAPPER,
    Builder,
    KindRevert,
    comment,
    name_of,
    needs,
    owner,
    stmt,
)
from driftd.revert.quote import pg_ident, pg_literal, pg_qualified

_ROUTINE_REF = re.compile(r"(?:([^.\"()]+)\.)?([^.\"()]+)\(([^()]*)\)")
_OPERATOR_REF = re.compile(r"([^.\"()]+)\.([+\-*/<>=~!@#%^&|`?]+)\(([^()]*)\)")
SHARED: dict[str, Builder] = {"owner": owner, "comment": comment}


def _routine(text: Any, with_args: bool = True) -> str:
    """``schema.name(argtypes)`` of the snapshot as quoted SQL (arguments as the
    server wrote them); a person decides when it does not read cleanly."""
    m = _ROUTINE_REF.fullmatch(str(text))
    if not m:
        raise NeedsPerson(f"function {text!r} cannot be read with certainty")
    name = pg_qualified(m.group(1), m.group(2)) if m.group(1) else pg_ident(m.group(2))
    return f"{name}({m.group(3)})" if with_args else name


def _drop(sql: str, phase: int, *hazards: str) -> Builder:
    def build(ctx: Ctx) -> list[Statement]:
        return [stmt(sql.format(ctx=ctx, name=name_of(ctx)), phase, *hazards)]

    return build


# -- access methods, casts, operators ----------------------------------------------------


def create_access_method(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    kind = {"table": "TABLE", "index": "INDEX"}.get(str(base.get("type")))
    if kind is None:
        raise NeedsPerson(f"access method type {base.get('type')!r}")
    handler = _routine(base.get("handler"), with_args=False)
    out = [stmt(f"CREATE ACCESS METHOD {name_of(ctx)} TYPE {kind} HANDLER {handler}", CREATE_TYPE)]
    if base.get("comment") is not None:
        out.append(
            stmt(f"COMMENT ON ACCESS METHOD {name_of(ctx)} IS {pg_literal(base['comment'])}", ALTER)
        )
    return out


ACCESS_METHOD = KindRevert(
    drop=_drop("DROP ACCESS METHOD {name}", DROP_TYPE, "breaks_dependants"),
    create=create_access_method,
    reason="an access method's handler is changed by dropping and creating it",
)


def _cast_types(ctx: Ctx) -> str:
    text = ctx.key.args or ""
    if not re.fullmatch(r"[^;()]+ AS [^;()]+", text):
        raise NeedsPerson(f"cast {text!r}")
    return f"({text})"


def drop_cast(ctx: Ctx) -> list[Statement]:
    return [stmt(f"DROP CAST {_cast_types(ctx)}", DROP_FUNCTION, "breaks_dependants")]


def create_cast(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    method = base.get("method")
    if method == "function":
        how = f"WITH FUNCTION {_routine(base.get('function'))}"
    elif method in ("binary", "inout"):
        how = "WITHOUT FUNCTION" if method == "binary" else "WITH INOUT"
    else:
        raise NeedsPerson(f"cast method {method!r}")
    context = {"assignment": " AS ASSIGNMENT", "implicit": " AS IMPLICIT"}.get(
        str(base.get("context")), ""
    )
    return [stmt(f"CREATE CAST {_cast_types(ctx)} {how}{context}", CREATE_TYPE + 3)]


CAST = KindRevert(
    drop=drop_cast,
    sections={"comment": SHARED["comment"]},
    create=create_cast,
    reason="a cast is changed by dropping and creating it",
)


def drop_operator(ctx: Ctx) -> list[Statement]:
    return [stmt(f"DROP OPERATOR {name_of(ctx)}", DROP_FUNCTION, "breaks_dependants")]


OPERATOR = KindRevert(
    drop=drop_operator,
    sections=SHARED,
    reason="an operator is created again by hand (CREATE OPERATOR from its fields)",
)


def drop_opclass(ctx: Ctx) -> list[Statement]:
    word = "CLASS" if ctx.key.kind == "operator_class" else "FAMILY"
    phase = DROP_AGGREGATE if word == "CLASS" else DROP_AGGREGATE + 1
    sql = f"DROP OPERATOR {word} {name_of(ctx)}"
    return [stmt(sql, phase, "breaks_dependants")]


def _family_members(section: str, word: str) -> Builder:
    def build(ctx: Ctx) -> list[Statement]:
        head = f"ALTER OPERATOR FAMILY {name_of(ctx)}"
        out = []
        for slot in ctx.entries(section):
            if not re.fullmatch(r"[0-9]+ \([^;()]*\)", slot):
                raise NeedsPerson(f"{word.lower()} {slot!r}")
            want, have = ctx.both(section, slot)
            if have is not None and want != have:
                out.append(stmt(f"{head} DROP {word} {slot}", ALTER, "breaks_dependants"))
            if want is not None and want != have:
                number, types = slot.split(" ", 1)
                out.append(stmt(f"{head} ADD {word} {number} {types} {_member(word, want)}", ALTER))
        return out

    return build


def _member(word: str, value: Any) -> str:
    if word == "FUNCTION":
        return _routine(value)
    m = _OPERATOR_REF.fullmatch(str(value))
    if not m:
        raise NeedsPerson(f"operator {value!r} cannot be read with certainty")
    return f"{pg_ident(m.group(1))}.{m.group(2)}"


OPERATOR_CLASS = KindRevert(
    drop=drop_opclass,
    sections=SHARED,
    reason="an operator class is created again by hand (CREATE OPERATOR CLASS)",
)
OPERATOR_FAMILY = KindRevert(
    drop=drop_opclass,
    sections={
        **SHARED,
        "operators": _family_members("operators", "OPERATOR"),
        "functions": _family_members("functions", "FUNCTION"),
    },
    reason="an operator family is created again by hand (CREATE OPERATOR FAMILY)",
)


# -- text search -------------------------------------------------------------------------


def _dictionary(name: str) -> str:
    schema, dot, rest = name.partition(".")
    return pg_qualified(schema, rest) if dot else pg_ident(name)


def mappings(ctx: Ctx) -> list[Statement]:
    head = f"ALTER TEXT SEARCH CONFIGURATION {name_of(ctx)}"
    out = []
    for token in ctx.entries("mappings"):
        want, have = ctx.both("mappings", token)
        if want == have:
            continue
        tok = pg_ident(token)
        if not want:
            out.append(stmt(f"{head} DROP MAPPING FOR {tok}", ALTER))
            continue
        verb = "ALTER" if have else "ADD"
        dicts = ", ".join(_dictionary(str(d)) for d in want)
        out.append(stmt(f"{head} {verb} MAPPING FOR {tok} WITH {dicts}", ALTER))
    return out


_DICT_OPTION = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*) = ('(?:[^']|'')*'|[^,']+)\s*(?:,|$)")


def _dict_options(text: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    pos, s = 0, str(text or "")
    while pos < len(s):
        m = _DICT_OPTION.match(s, pos)
        if not m:
            raise NeedsPerson(f"dictionary options {s!r} cannot be read with certainty")
        out[m.group(1).lower()] = m.group(2).strip()
        pos = m.end()
    return out


def dictionary_options(ctx: Ctx) -> list[Statement]:
    want, have = ctx.both("options")
    w, h = _dict_options(want), _dict_options(have)
    parts = [f"{k} = {v}" for k, v in w.items() if h.get(k) != v]
    parts += [k for k in h if k not in w]  # an option named without a value is removed
    if not parts:
        return []
    return [stmt(f"ALTER TEXT SEARCH DICTIONARY {name_of(ctx)} ({', '.join(parts)})", ALTER)]


TEXT_SEARCH_CONFIG = KindRevert(
    drop=_drop("DROP TEXT SEARCH CONFIGURATION {name}", DROP_TYPE, "breaks_dependants"),
    sections={**SHARED, "mappings": mappings},
    reason="a text search configuration is created again by hand (its parser and mappings)",
)
TEXT_SEARCH_DICTIONARY = KindRevert(
    drop=_drop("DROP TEXT SEARCH DICTIONARY {name}", DROP_TYPE + 1, "breaks_dependants"),
    sections={**SHARED, "options": dictionary_options},
    reason="a text search dictionary is created again by hand (its template and options)",
)


# -- tablespaces, foreign data wrappers ----------------------------------------------------


def tablespace_options(ctx: Ctx) -> list[Statement]:
    out = []
    for name in ctx.entries("options"):
        if not re.fullmatch(r"[a-z_]+", name):
            raise NeedsPerson(f"option name {name!r}")
        want, have = ctx.both("options", name)
        if want == have:
            continue
        clause = f"RESET ({name})" if want is None else f"SET ({name} = {pg_literal(str(want))})"
        out.append(stmt(f"ALTER TABLESPACE {name_of(ctx)} {clause}", ALTER))
    return out


TABLESPACE = KindRevert(
    drop=_drop("DROP TABLESPACE {name}", DROP_SERVER + 1, "breaks_dependants"),
    create=needs(
        "a tablespace's directory must first be made on the database server, empty and owned "
        "by the postgres user; then CREATE TABLESPACE"
    ),
    sections={
        **COMMON,
        "options": tablespace_options,
        "location": needs("a tablespace's location is fixed when it is created"),
    },
)


def _options(values: Any) -> str:
    opts = values or {}
    if masked(opts):
        raise NeedsPerson("its options hold a masked secret: driftd never puts one in a script")
    return options_sql(opts)


def create_wrapper(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    sql = f"CREATE FOREIGN DATA WRAPPER {name_of(ctx)}"
    for clause in ("handler", "validator"):
        if base.get(clause):
            sql += f" {clause.upper()} {_routine(base[clause], with_args=False)}"
    if base.get("options"):
        sql += f" OPTIONS ({_options(base['options'])})"
    return [stmt(sql, CREATE_WRAPPER)]


FOREIGN_DATA_WRAPPER = KindRevert(
    drop=_drop("DROP FOREIGN DATA WRAPPER {name}", DROP_WRAPPER, "breaks_dependants"),
    create=create_wrapper,
    sections={
        **COMMON,
        "options": needs("wrapper options may hold masked secrets: set them by hand"),
    },
)

__all__ = [
    "ACCESS_METHOD",
    "CAST",
    "FOREIGN_DATA_WRAPPER",
    "OPERATOR",
    "OPERATOR_CLASS",
    "OPERATOR_FAMILY",
    "TABLESPACE",
    "TEXT_SEARCH_CONFIG",
    "TEXT_SEARCH_DICTIONARY",
]
