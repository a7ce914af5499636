"""PostgreSQL objects other than relations: routines, types, schemas, the database,
roles, settings, extensions, replication and foreign data, event triggers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from driftd.revert.context import Ctx, get
from driftd.revert.membership import member_of_statements
from driftd.revert.model import NeedsPerson, Statement
from driftd.revert.postgres import (
    ALTER,
    ALTER_ROLE,
    COMMON,
    CREATE_DEPENDANT,
    CREATE_EXTENSION,
    CREATE_FUNCTION,
    CREATE_ROLE,
    CREATE_SCHEMA,
    CREATE_SERVER,
    CREATE_TYPE,
    DROP_AGGREGATE,
    DROP_CONSTRAINT,
    DROP_DEPENDANT,
    DROP_EXTENSION,
    DROP_FUNCTION,
    DROP_ROLE,
    DROP_SCHEMA,
    DROP_SERVER,
    DROP_TYPE,
    MASKED,
    RELOAD,
    Builder,
    KindRevert,
    default_privileges,
    dropper,
    finish,
    name_of,
    needs,
    nothing,
    owner,
    ref,
    settings_value,
    stmt,
    target,
)
from driftd.revert.quote import pg_ident, pg_literal, pg_role

# -- functions, procedures, aggregates -----------------------------------------------------------


def _definition_sql(base: dict[str, Any]) -> str:
    definition = base.get("definition")
    if not isinstance(definition, str):
        raise NeedsPerson("an aggregate is recreated by hand (CREATE AGGREGATE from its parts)")
    return definition.rstrip().rstrip(";")


def function_definition(ctx: Ctx) -> list[Statement]:
    base, live = ctx.base or {}, ctx.live or {}
    sql = _definition_sql(base)
    if (base.get("returns"), base.get("kind")) != (live.get("returns"), live.get("kind")):
        # CREATE OR REPLACE cannot change the result type or the kind of routine.
        drop = stmt(f"DROP {target(ctx)}", DROP_FUNCTION, "breaks_dependants")
        return [drop, stmt(sql, CREATE_FUNCTION)]
    return [stmt(sql, CREATE_FUNCTION)]


_FUNCTION_FLAGS: dict[str, dict[Any, str]] = {
    "security_definer": {True: "SECURITY DEFINER", False: "SECURITY INVOKER"},
    "volatility": {"immutable": "IMMUTABLE", "stable": "STABLE", "volatile": "VOLATILE"},
    "strict": {True: "STRICT", False: "CALLED ON NULL INPUT"},
    "leakproof": {True: "LEAKPROOF", False: "NOT LEAKPROOF"},
    "parallel": {
        "safe": "PARALLEL SAFE",
        "restricted": "PARALLEL RESTRICTED",
        "unsafe": "PARALLEL UNSAFE",
    },
}


def function_flag(ctx: Ctx) -> list[Statement]:
    key = str(ctx.path[0])
    want, _have = ctx.both(key)
    clause = _FUNCTION_FLAGS[key].get(want)
    if clause is None:
        raise NeedsPerson(f"{key} {want!r}")
    return [stmt(f"ALTER {target(ctx)} {clause}", ALTER)]


def _config(ctx: Ctx, section: str, prefix: str, phase: int) -> list[Statement]:
    """``SET name = value`` / ``RESET name`` for a ``{name: value}`` settings map."""
    return config_statements(ctx.both(section), ctx.entries(section), prefix, phase)


def config_statements(
    sides: tuple[Any, Any], names: list[str], prefix: str, phase: int
) -> list[Statement]:
    want_map, have_map = sides
    out = []
    for name in names:
        want, have = get(want_map, name), get(have_map, name)
        if want == have:
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            raise NeedsPerson(f"parameter name {name!r}")
        if want is None:
            out.append(stmt(f"{prefix} RESET {name}", phase))
        else:
            out.append(stmt(f"{prefix} SET {name} = {settings_value(name, str(want))}", phase))
    return out


def function_config(ctx: Ctx) -> list[Statement]:
    return _config(ctx, "config", f"ALTER {target(ctx)}", ALTER)


def create_function(ctx: Ctx) -> list[Statement]:
    out = [stmt(_definition_sql(ctx.base or {}), CREATE_FUNCTION)]
    return out + finish(ctx, {}, COMMON)


def drop_function(ctx: Ctx) -> list[Statement]:
    phase = DROP_AGGREGATE if ctx.field("kind") == "aggregate" else DROP_FUNCTION
    return [stmt(f"DROP {target(ctx)}", phase, "breaks_dependants")]


FUNCTION = KindRevert(
    drop=drop_function,
    create=create_function,
    sections={
        **COMMON,
        "definition": function_definition,
        "config": function_config,
        **{k: function_flag for k in _FUNCTION_FLAGS},
        # Written into the definition: its revert restores them.
        "returns": nothing,
        "language": nothing,
        "kind": nothing,
    },
)


# -- types -----------------------------------------------------------------------------------


def _create_type_sql(ctx: Ctx, base: dict[str, Any]) -> str:
    name = name_of(ctx)
    kind = base.get("kind")
    if kind == "enum":
        return f"CREATE TYPE {name} AS ENUM ({', '.join(pg_literal(x) for x in base['labels'])})"
    if kind == "composite":
        attrs = sorted((base.get("attributes") or {}).items(), key=lambda kv: kv[1]["position"])
        body = ", ".join(_attribute(n, a) for n, a in attrs)
        return f"CREATE TYPE {name} AS ({body})"
    if kind == "domain":
        sql = f"CREATE DOMAIN {name} AS {base['base_type']}"
        if base.get("collation"):
            sql += f" COLLATE {ref(base['collation'], 'collation')}"
        if base.get("default") is not None:
            sql += f" DEFAULT {base['default']}"
        if base.get("not_null"):
            sql += " NOT NULL"
        for cname, check in sorted((base.get("constraints") or {}).items()):
            sql += f" CONSTRAINT {pg_ident(cname)} {check}"
        return sql
    if kind == "range" and base.get("subtype"):
        return f"CREATE TYPE {name} AS RANGE (SUBTYPE = {base['subtype']})"
    raise NeedsPerson(f"a {kind} type is recreated by hand")


def _attribute(name: str, attr: dict[str, Any]) -> str:
    sql = f"{pg_ident(name)} {attr['type']}"
    if attr.get("collation"):
        sql += f" COLLATE {ref(attr['collation'], 'collation')}"
    return sql


def create_type(ctx: Ctx) -> list[Statement]:
    out = [stmt(_create_type_sql(ctx, ctx.base or {}), CREATE_TYPE)]
    return out + finish(ctx, {}, COMMON)


def labels(ctx: Ctx) -> list[Statement]:
    want, have = ctx.both("labels")
    want, have = list(want or []), list(have or [])
    if any(label not in want for label in have):
        raise NeedsPerson(
            "PostgreSQL cannot drop a value from an enum: create the type again without it "
            "(and convert the columns that use it)"
        )
    out = []
    for i, label in enumerate(want):
        if label in have:
            continue
        where = f" BEFORE {pg_literal(want[i + 1])}" if i + 1 < len(want) else ""
        out.append(stmt(f"ALTER TYPE {name_of(ctx)} ADD VALUE {pg_literal(label)}{where}", ALTER))
    if [x for x in have if x in want] != [x for x in want if x in have]:
        raise NeedsPerson("the enum's values were reordered: create the type again")
    return out


def domain_field(ctx: Ctx) -> list[Statement]:
    key = str(ctx.path[0])
    want, _have = ctx.both(key)
    name = f"ALTER DOMAIN {name_of(ctx)}"
    if key == "default":
        return [
            stmt(f"{name} DROP DEFAULT" if want is None else f"{name} SET DEFAULT {want}", ALTER)
        ]
    return [stmt(f"{name} {'SET' if want else 'DROP'} NOT NULL", ALTER, "access_exclusive_lock")]


def domain_constraints(ctx: Ctx) -> list[Statement]:
    out = []
    for cname in ctx.entries("constraints"):
        want, have = ctx.both("constraints", cname)
        if have is not None and want != have:
            out.append(
                stmt(f"ALTER DOMAIN {name_of(ctx)} DROP CONSTRAINT {pg_ident(cname)}", ALTER)
            )
        if want is not None and want != have:
            out.append(
                stmt(f"ALTER DOMAIN {name_of(ctx)} ADD CONSTRAINT {pg_ident(cname)} {want}", ALTER)
            )
    return out


def attributes(ctx: Ctx) -> list[Statement]:
    out = []
    for aname in ctx.entries("attributes"):
        want, have = ctx.both("attributes", aname)
        head = f"ALTER TYPE {name_of(ctx)}"
        if want is None:
            out.append(stmt(f"{head} DROP ATTRIBUTE {pg_ident(aname)}", ALTER, "breaks_dependants"))
        elif have is None:
            out.append(
                stmt(
                    f"{head} ADD ATTRIBUTE {_attribute(aname, want)}",
                    ALTER,
                    note="added last: if the baseline has it elsewhere, recreate the type",
                )
            )
        elif want.get("type") != have.get("type") or want.get("collation") != have.get("collation"):
            out.append(stmt(f"{head} ALTER ATTRIBUTE {_attribute(aname, want)}", ALTER))
    return out


TYPE = KindRevert(
    drop=dropper(DROP_TYPE, "breaks_dependants"),
    create=create_type,
    sections={
        **COMMON,
        "labels": labels,
        "default": domain_field,
        "not_null": domain_field,
        "constraints": domain_constraints,
        "attributes": attributes,
    },
)


# -- schema, database, extension ---------------------------------------------------------------


def create_schema(ctx: Ctx) -> list[Statement]:
    out = [stmt(f"CREATE SCHEMA {name_of(ctx)}", CREATE_SCHEMA)]
    sections = {**COMMON, "default_privileges": default_privileges}
    return out + finish(ctx, {"default_privileges": {}}, sections)


SCHEMA = KindRevert(
    drop=dropper(DROP_SCHEMA, "breaks_dependants"),
    create=create_schema,
    sections={**COMMON, "default_privileges": default_privileges},
)


def database_settings(ctx: Ctx) -> list[Statement]:
    return _config(ctx, "settings", f"ALTER DATABASE {name_of(ctx)}", ALTER)


def database_role_settings(ctx: Ctx) -> list[Statement]:
    out: list[Statement] = []
    for role in ctx.entries("role_settings"):
        want, have = ctx.both("role_settings", role)
        names = sorted(set(want or {}) | set(have or {}))
        prefix = f"ALTER ROLE {pg_ident(role)} IN DATABASE {name_of(ctx)}"
        out += config_statements((want, have), names, prefix, ALTER)
    return out


DATABASE = KindRevert(
    reason="a whole database is created or dropped by hand",
    sections={
        **COMMON,
        "settings": database_settings,
        "role_settings": database_role_settings,
        "default_privileges": default_privileges,
        "encoding": needs("a database's encoding is fixed when it is created"),
        "collation": needs("a database's collation is fixed when it is created"),
        "ctype": needs("a database's ctype is fixed when it is created"),
    },
)


def create_extension(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    sql = f"CREATE EXTENSION {name_of(ctx)} WITH SCHEMA {pg_ident(base['schema'])}"
    if base.get("version"):
        sql += f" VERSION {pg_literal(base['version'])}"
    return [stmt(sql, CREATE_EXTENSION)]


def extension_version(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("version")
    return [
        stmt(
            f"ALTER EXTENSION {name_of(ctx)} UPDATE TO {pg_literal(str(want))}",
            ALTER,
            "breaks_dependants",
            note="extensions rarely ship a downgrade path: this fails unless this one does",
        )
    ]


def extension_schema(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("schema")
    return [stmt(f"ALTER EXTENSION {name_of(ctx)} SET SCHEMA {pg_ident(str(want))}", ALTER)]


EXTENSION = KindRevert(
    drop=dropper(DROP_EXTENSION, "breaks_dependants", "deletes_data"),
    create=create_extension,
    sections={"version": extension_version, "schema": extension_schema},
)


# -- roles and settings ----------------------------------------------------------------------

_ROLE_FLAGS = {
    "superuser": "SUPERUSER",
    "createdb": "CREATEDB",
    "createrole": "CREATEROLE",
    "login": "LOGIN",
    "replication": "REPLICATION",
    "bypassrls": "BYPASSRLS",
    "inherit": "INHERIT",
}


def _role_clause(key: str, want: Any) -> str:
    if key in _ROLE_FLAGS:
        return _ROLE_FLAGS[key] if want else "NO" + _ROLE_FLAGS[key]
    if key == "connection_limit":
        return f"CONNECTION LIMIT {int(want if want is not None else -1)}"
    # valid_until: SQL has no way back to "no expiry" other than 'infinity'.
    stamp = "infinity" if want is None else str(want)
    return f"VALID UNTIL {pg_literal(stamp)}"


def role_attribute(ctx: Ctx) -> list[Statement]:
    key = str(ctx.path[0])
    want, _have = ctx.both(key)
    note = (
        "the baseline had no expiry: 'infinity' is the nearest SQL can say"
        if (key == "valid_until" and want is None)
        else None
    )
    return [stmt(f"ALTER ROLE {name_of(ctx)} {_role_clause(key, want)}", ALTER_ROLE, note=note)]


def member_of(ctx: Ctx) -> list[Statement]:
    return member_of_statements(ctx, name_of(ctx), pg_ident)


def role_config(ctx: Ctx) -> list[Statement]:
    return _config(ctx, "config", f"ALTER ROLE {name_of(ctx)}", ALTER_ROLE)


ROLE_SECTIONS: dict[str, Builder] = {
    **{k: role_attribute for k in (*_ROLE_FLAGS, "connection_limit", "valid_until")},
    "member_of": member_of,
    "config": role_config,
    "comment": COMMON["comment"],
}


def create_role(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    clauses = [_role_clause(k, base.get(k)) for k in (*_ROLE_FLAGS, "connection_limit")]
    if base.get("valid_until") is not None:
        clauses.append(_role_clause("valid_until", base["valid_until"]))
    note = "driftd never reads passwords: set this role's password" if base.get("login") else None
    out = [stmt(f"CREATE ROLE {name_of(ctx)} WITH {' '.join(clauses)}", CREATE_ROLE, note=note)]
    sections = {k: ROLE_SECTIONS[k] for k in ("member_of", "config", "comment")}
    return out + finish(ctx, {"member_of": {}, "config": {}}, sections)


ROLE = KindRevert(
    drop=dropper(
        DROP_ROLE,
        "breaks_dependants",
        note="fails while the role owns objects or holds privileges: REASSIGN OWNED BY / "
        "DROP OWNED BY it first, in every database",
    ),
    create=create_role,
    sections=ROLE_SECTIONS,
)


def setting(ctx: Ctx) -> list[Statement]:
    name = ctx.key.parts[0]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
        raise NeedsPerson(f"parameter name {name!r}")
    want = get(ctx.base, "value")
    if want is not None and MASKED in str(want):
        raise NeedsPerson("the value holds a masked secret: set it by hand")
    note = (
        "if the value comes from postgresql.conf or the command line, change it there "
        "instead; parameters marked 'postmaster' need a restart"
    )
    if want is None:
        sql = f"ALTER SYSTEM RESET {name}"
    else:
        sql = f"ALTER SYSTEM SET {name} = {settings_value(name, str(want))}"
    # The same reload from every setting item: the script keeps one, after them all.
    return [stmt(sql, ALTER, note=note), stmt("SELECT pg_reload_conf()", RELOAD)]


SETTING = KindRevert(drop=setting, create=setting, sections={"value": setting, "source": setting})


# -- replication, foreign data, event triggers, collations, statistics ---------------------


def _plain_refs(values: Any, what: str) -> list[str]:
    return [ref(v, what) for v in values or []]


def _publication_list(
    ctx: Ctx, section: str, clause: str, quote: Callable[[str], str]
) -> list[Statement]:
    """DROP what the publication lists beyond the baseline, ADD what it lacks."""
    want, have = ctx.both(section)
    want, have = list(want or []), list(have or [])
    out = []
    for verb, names in (
        ("DROP", [n for n in have if n not in want]),
        ("ADD", [n for n in want if n not in have]),
    ):
        if names:
            listed = ", ".join(quote(n) for n in names)
            out.append(stmt(f"ALTER PUBLICATION {name_of(ctx)} {verb} {clause} {listed}", ALTER))
    return out


def publication_tables(ctx: Ctx) -> list[Statement]:
    return _publication_list(ctx, "tables", "TABLE", lambda t: ref(t, "table"))


def publication_schemas(ctx: Ctx) -> list[Statement]:
    return _publication_list(ctx, "schemas", "TABLES IN SCHEMA", pg_ident)


def _publish_options(base: dict[str, Any]) -> str:
    publish = ", ".join(
        k for k in ("insert", "update", "delete", "truncate") if get(base, "publish", k)
    )
    root = "true" if base.get("publish_via_partition_root") else "false"
    return f"publish = {pg_literal(publish)}, publish_via_partition_root = {root}"


def publication_options(ctx: Ctx) -> list[Statement]:
    return [
        stmt(f"ALTER PUBLICATION {name_of(ctx)} SET ({_publish_options(ctx.base or {})})", ALTER)
    ]


def create_publication(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    what = []
    if base.get("all_tables"):
        what.append("ALL TABLES")
    if base.get("tables"):
        what.append("TABLE " + ", ".join(_plain_refs(base["tables"], "table")))
    if base.get("schemas"):
        what.append("TABLES IN SCHEMA " + ", ".join(pg_ident(s) for s in base["schemas"]))
    scope = f" FOR {', '.join(what)}" if what else ""
    out = [
        stmt(
            f"CREATE PUBLICATION {name_of(ctx)}{scope} WITH ({_publish_options(base)})",
            CREATE_DEPENDANT,
        )
    ]
    return out + finish(ctx, {}, {"owner": owner, "comment": COMMON["comment"]})


PUBLICATION = KindRevert(
    drop=dropper(DROP_DEPENDANT),
    create=create_publication,
    sections={
        "owner": owner,
        "comment": COMMON["comment"],
        "tables": publication_tables,
        "schemas": publication_schemas,
        "publish": publication_options,
        "publish_via_partition_root": publication_options,
        "all_tables": needs("FOR ALL TABLES cannot be changed in place: recreate the publication"),
    },
)


def subscription_enabled(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("enabled")
    return [stmt(f"ALTER SUBSCRIPTION {name_of(ctx)} {'ENABLE' if want else 'DISABLE'}", ALTER)]


SUBSCRIPTION = KindRevert(
    drop=dropper(DROP_DEPENDANT, note="also drops its replication slot on the publisher"),
    reason="a subscription's connection string holds a masked password: a person sets it",
    sections={"owner": owner, "comment": COMMON["comment"], "enabled": subscription_enabled},
)


def masked(options: Any) -> bool:
    """Whether an option list holds a masked secret (never put in a script)."""
    return isinstance(options, dict) and MASKED in options.values()


def options_sql(options: dict[str, Any]) -> str:
    """``key 'value', ...`` of an OPTIONS (...) clause (NeedsPerson for an odd name)."""
    for key in options:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise NeedsPerson(f"option name {key!r}")
    return ", ".join(f"{k} {pg_literal(str(v))}" for k, v in sorted(options.items()))


def create_server(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    if masked(base.get("options")):
        raise NeedsPerson("its options hold a masked secret: driftd never puts one in a script")
    sql = f"CREATE SERVER {name_of(ctx)}"
    if base.get("type"):
        sql += f" TYPE {pg_literal(base['type'])}"
    if base.get("version"):
        sql += f" VERSION {pg_literal(base['version'])}"
    sql += f" FOREIGN DATA WRAPPER {pg_ident(base['wrapper'])}"
    if base.get("options"):
        sql += f" OPTIONS ({options_sql(base['options'])})"
    return [stmt(sql, CREATE_SERVER), *finish(ctx, {}, COMMON)]


FOREIGN_SERVER = KindRevert(
    drop=dropper(DROP_SERVER, "breaks_dependants"),
    create=create_server,
    sections={
        **COMMON,
        "options": needs("server options may hold masked secrets: set them by hand"),
    },
)


def drop_user_mapping(ctx: Ctx) -> list[Statement]:
    server, user = ctx.key.parts
    return [
        stmt(f"DROP USER MAPPING FOR {pg_role(user)} SERVER {pg_ident(server)}", DROP_DEPENDANT)
    ]


def create_user_mapping(ctx: Ctx) -> list[Statement]:
    server, user = ctx.key.parts
    opts = get(ctx.base, "options")
    if opts is None or masked(opts):
        raise NeedsPerson("a user mapping's options hold a masked password: a person sets it")
    tail = f" OPTIONS ({options_sql(opts)})" if opts else ""
    return [
        stmt(
            f"CREATE USER MAPPING FOR {pg_role(user)} SERVER {pg_ident(server)}{tail}",
            CREATE_DEPENDANT,
        )
    ]


USER_MAPPING = KindRevert(
    drop=drop_user_mapping,
    create=create_user_mapping,
    sections={"options": needs("a user mapping's options hold masked passwords: set them by hand")},
)

_EVENT_ENABLE = {
    "origin": "ENABLE",
    "disabled": "DISABLE",
    "replica": "ENABLE REPLICA",
    "always": "ENABLE ALWAYS",
}
_FUNCTION_REF = re.compile(r"([^.\"()]+)\.([^.\"()]+)\(\)")


def event_trigger_enabled(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("enabled")
    return [stmt(f"ALTER EVENT TRIGGER {name_of(ctx)} {_EVENT_ENABLE[want]}", ALTER)]


def create_event_trigger(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    m = _FUNCTION_REF.fullmatch(str(base.get("function")))
    if not m:
        raise NeedsPerson(f"function {base.get('function')!r} cannot be split with certainty")
    sql = f"CREATE EVENT TRIGGER {name_of(ctx)} ON {pg_ident(base['event'])}"
    if base.get("tags"):
        sql += f" WHEN TAG IN ({', '.join(pg_literal(t) for t in base['tags'])})"
    sql += f" EXECUTE FUNCTION {pg_ident(m.group(1))}.{pg_ident(m.group(2))}()"
    out = [stmt(sql, CREATE_DEPENDANT)]
    if base.get("enabled", "origin") != "origin":
        out.append(
            stmt(f"ALTER EVENT TRIGGER {name_of(ctx)} {_EVENT_ENABLE[base['enabled']]}", ALTER)
        )
    return out + finish(ctx, {}, {"owner": owner, "comment": COMMON["comment"]})


EVENT_TRIGGER = KindRevert(
    drop=dropper(DROP_DEPENDANT),
    create=create_event_trigger,
    sections={"owner": owner, "comment": COMMON["comment"], "enabled": event_trigger_enabled},
)


def create_collation(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    opts = [f"provider = {pg_ident(base['provider'])}"]
    if base.get("ctype"):
        opts += [
            f"lc_collate = {pg_literal(base['locale'])}",
            f"lc_ctype = {pg_literal(base['ctype'])}",
        ]
    else:
        opts.append(f"locale = {pg_literal(base['locale'])}")
    if base.get("deterministic") is False:
        opts.append("deterministic = false")
    out = [stmt(f"CREATE COLLATION {name_of(ctx)} ({', '.join(opts)})", CREATE_TYPE)]
    return out + finish(ctx, {}, {"owner": owner, "comment": COMMON["comment"]})


COLLATION = KindRevert(
    drop=dropper(DROP_TYPE, "breaks_dependants"),
    create=create_collation,
    sections={"owner": owner, "comment": COMMON["comment"]},
    reason="a collation's provider and locale are fixed when it is created",
)


def statistics_target(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("target")
    n = -1 if want is None else int(want)
    return [stmt(f"ALTER STATISTICS {name_of(ctx)} SET STATISTICS {n}", ALTER)]


def create_statistics(ctx: Ctx) -> list[Statement]:
    base = ctx.base or {}
    out = [stmt(str(base["definition"]), CREATE_DEPENDANT)]
    sections = {"target": statistics_target, "owner": owner, "comment": COMMON["comment"]}
    return out + finish(ctx, {"target": None}, sections)


STATISTICS = KindRevert(
    drop=dropper(DROP_CONSTRAINT),
    create=create_statistics,
    sections={"target": statistics_target, "owner": owner, "comment": COMMON["comment"]},
    reason="an extended statistics object's definition is changed by dropping and creating it",
)

__all__ = [
    "COLLATION",
    "DATABASE",
    "EVENT_TRIGGER",
    "EXTENSION",
    "FOREIGN_SERVER",
    "FUNCTION",
    "PUBLICATION",
    "ROLE",
    "SCHEMA",
    "SETTING",
    "STATISTICS",
    "SUBSCRIPTION",
    "TYPE",
    "USER_MAPPING",
]
