"""MySQL/MariaDB: accounts, roles and grants, and dropping what the baseline lacks.

Accounts are keyed ``role:user@host`` (MariaDB roles ``role:name``), grants are
``{scope: [privilege, ...]}`` on accounts (``*.*``, ``db.*``) and ``{account:
[...]}`` on tables. A lost table or routine cannot be written back from the
snapshot (it does not hold MySQL's full DDL): those need a person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from driftd.revert.context import Ctx
from driftd.revert.membership import member_of_statements
from driftd.revert.model import NeedsPerson, Statement
from driftd.revert.postgres import (
    ALTER,
    ALTER_COLUMN,
    ALTER_ROLE,
    CREATE_INDEX,
    CREATE_ROLE,
    CREATE_VIEW,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_DEPENDANT,
    DROP_FUNCTION,
    DROP_ROLE,
    DROP_TABLE,
    DROP_VIEW,
    GRANT,
    Builder,
    KindRevert,
    _privileges,
    needs,
    nothing,
    stmt,
)
from driftd.revert.quote import my_account, my_ident, my_literal

LOCK = "access_exclusive_lock"


def qualified(ctx: Ctx) -> str:
    return ".".join(my_ident(p) for p in ctx.key.parts)


def _scope(scope: str) -> str:
    """``db.*`` as ``\\`db\\`.*``; ``*.*`` as it is."""
    if scope == "*.*":
        return scope
    db, sep, rest = scope.rpartition(".")
    if not sep or rest != "*":
        raise NeedsPerson(f"grant scope {scope!r}")
    return f"{my_ident(db)}.*"


def privilege_statements(
    on: str, account: str, want: Any, have: Any, cols: str = ""
) -> list[Statement]:
    """GRANT/REVOKE turning ``have`` into ``want`` (MySQL keeps one grant option per level)."""
    w, h = _privileges(want), _privileges(have)
    who = my_account(account)
    out: list[Statement] = []
    extra = sorted(p for p in h if p not in w)
    if extra:
        listed = ", ".join(f"{p}{cols}" for p in extra)
        out.append(stmt(f"REVOKE {listed} ON {on} FROM {who}", GRANT))
    if any(h.values()) and not any(w.values()):
        out.append(stmt(f"REVOKE GRANT OPTION ON {on} FROM {who}", GRANT))
    missing = sorted(p for p in w if p not in h)
    option = any(w.values()) and not any(h.values())
    if missing or option:
        listed = ", ".join(f"{p}{cols}" for p in (missing or sorted(w)))
        tail = " WITH GRANT OPTION" if any(w.values()) else ""
        out.append(stmt(f"GRANT {listed} ON {on} TO {who}{tail}", GRANT))
    return out


def _grants(ctx: Ctx, target: Callable[[str], tuple[str, str]]) -> list[Statement]:
    """``grants`` entries back to the baseline; ``target(entry)`` is (ON clause, account)."""
    out: list[Statement] = []
    for entry in ctx.entries("grants"):
        want, have = ctx.both("grants", entry)
        out += privilege_statements(*target(entry), want, have)
    return out


def account_grants(ctx: Ctx) -> list[Statement]:
    """An account's ``{scope: [...]}``."""
    return _grants(ctx, lambda scope: (_scope(scope), ctx.key.parts[0]))


def table_grants(ctx: Ctx) -> list[Statement]:
    """A table's or view's ``{account: [...]}``."""
    return _grants(ctx, lambda account: (qualified(ctx), account))


def column_grants(ctx: Ctx) -> list[Statement]:
    out: list[Statement] = []
    for column in ctx.entries("column_grants"):
        want, have = ctx.both("column_grants", column)
        for account in sorted(set(want or {}) | set(have or {})):
            w, h = (want or {}).get(account), (have or {}).get(account)
            out += privilege_statements(qualified(ctx), account, w, h, f" ({my_ident(column)})")
    return out


def role_name(role: str) -> str:
    """A role as GRANT and SET DEFAULT ROLE take it: a MySQL 8 role is an account
    (``r@%`` as ``'r'@'%'``, never one identifier), a MariaDB role a bare name."""
    return my_account(role) if "@" in role else my_ident(role)


def member_of(ctx: Ctx) -> list[Statement]:
    return member_of_statements(ctx, my_account(ctx.key.parts[0]), role_name)


def account_locked(ctx: Ctx) -> list[Statement]:
    want, have = ctx.both("account_locked")
    if want is None or have is None:
        # null: driftd's account may not read the lock (docs/security.md).
        raise NeedsPerson("the lock is unknown on one side: set it with ALTER USER ... ACCOUNT")
    verb = "LOCK" if want else "UNLOCK"
    return [stmt(f"ALTER USER {my_account(ctx.key.parts[0])} ACCOUNT {verb}", ALTER_ROLE)]


def connection_limit(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("connection_limit")
    n = int(want or 0)
    return [
        stmt(f"ALTER USER {my_account(ctx.key.parts[0])} WITH MAX_USER_CONNECTIONS {n}", ALTER_ROLE)
    ]


def default_role(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("default_role")
    role = "NONE" if want is None else role_name(str(want))
    return [stmt(f"SET DEFAULT ROLE {role} FOR {my_account(ctx.key.parts[0])}", ALTER_ROLE)]


def drop_account(ctx: Ctx) -> list[Statement]:
    name = ctx.key.parts[0]
    word = "USER" if "@" in name else "ROLE"
    return [stmt(f"DROP {word} {my_account(name)}", DROP_ROLE, "breaks_dependants")]


def create_account(ctx: Ctx) -> list[Statement]:
    name = ctx.key.parts[0]
    if "@" in name:
        raise NeedsPerson("driftd never reads passwords: a person creates the account again")
    base = ctx.base or {}
    out = [stmt(f"CREATE ROLE {my_ident(name)}", CREATE_ROLE)]
    created = Ctx(ctx.item, ctx.key, base, {"grants": {}, "member_of": {}}, partial=ctx.partial)
    return out + account_grants(created) + member_of(created)


ROLE = KindRevert(
    drop=drop_account,
    create=create_account,
    sections={
        "grants": account_grants,
        "member_of": member_of,
        "account_locked": account_locked,
        "connection_limit": connection_limit,
        "default_role": default_role,
        # Read from the global privileges and the lock: their own items revert them.
        "login": nothing,
        "superuser": nothing,
        "createrole": nothing,
        "grant_option": nothing,
        "password_expired": needs("an expired password is renewed by the account's owner"),
        "auth_plugin": needs("an authentication plugin comes with a password: set both by hand"),
    },
)

# A column default as the servers report it: MariaDB 10.2.7+ quotes literals and
# writes expressions as they are; MySQL 8 writes a literal bare (``anon``) and an
# expression without the parentheses DEFAULT needs around it.
_DEFAULT_AS_IS = re.compile(
    r"'.*'|[bx]'[0-9a-f]*'|[-+]?[0-9]+(\.[0-9]*)?(e[-+]?[0-9]+)?|\(.*\)"
    r"|(current_timestamp|now|localtime|localtimestamp)(\([0-9]*\))?",
    re.IGNORECASE | re.DOTALL,
)


def default_sql(value: str) -> str:
    """A snapshot's column default as the SQL after DEFAULT."""
    if _DEFAULT_AS_IS.fullmatch(value):
        return value
    if re.fullmatch(r"[a-z_][a-z0-9_]*\(.*\)", value, re.IGNORECASE | re.DOTALL):
        return f"({value})"  # a function call: MySQL 8 needs it parenthesised
    return my_literal(value)


_PLAIN_TYPE = re.compile(r"[a-z]+(\([0-9, ]+\))?( unsigned)?( zerofill)?")


def _column_sql(name: str, col: dict[str, Any]) -> str:
    if col.get("generated") or not _PLAIN_TYPE.fullmatch(str(col.get("type"))):
        raise NeedsPerson(f"column {name} ({col.get('type')}) is written back by hand")
    sql = f"{my_ident(name)} {col['type']}"
    if col.get("collation"):
        sql += f" COLLATE {my_ident(col['collation'])}"
    sql += " NULL" if col.get("nullable", True) else " NOT NULL"
    if col.get("default") is not None:
        sql += f" DEFAULT {default_sql(str(col['default']))}"
    if col.get("on_update"):
        sql += f" ON UPDATE {col['on_update']}"
    if col.get("autoincrement"):
        sql += " AUTO_INCREMENT"
    if col.get("invisible"):
        sql += " INVISIBLE"
    if col.get("comment"):
        sql += f" COMMENT {my_literal(col['comment'])}"
    return sql


def _column_change(name: str, want: Any, have: Any) -> tuple[str, int, tuple[str, ...]]:
    """(ALTER TABLE clause, phase, hazards) that turns column ``have`` into ``want``."""
    if want is None:
        return f"DROP COLUMN {my_ident(name)}", DROP_COLUMN, ("deletes_data", LOCK)
    if have is None:
        add = f"ADD COLUMN {_column_sql(name, want)}"
        return add, ALTER_COLUMN, (LOCK, "cannot_restore_data")
    return f"MODIFY COLUMN {_column_sql(name, want)}", ALTER_COLUMN, (LOCK, "table_rewrite")


def columns(ctx: Ctx) -> list[Statement]:
    table = qualified(ctx)
    out = []
    for name in ctx.entries("columns"):
        clause, phase, hazards = _column_change(name, *ctx.both("columns", name))
        out.append(stmt(f"ALTER TABLE {table} {clause}", phase, *hazards))
    return out


def _changed(ctx: Ctx, section: str) -> Iterator[tuple[str, Any, Any]]:
    """(name, baseline, live) of each entry of ``section`` that differs."""
    for name in ctx.entries(section):
        want, have = ctx.both(section, name)
        if want != have:
            yield name, want, have


def indexes(ctx: Ctx) -> list[Statement]:
    table = qualified(ctx)
    out = []
    for name, want, have in _changed(ctx, "indexes"):
        if have is not None:
            out.append(stmt(f"DROP INDEX {my_ident(name)} ON {table}", DROP_CONSTRAINT))
        if want is not None:
            out.append(stmt(str(want["definition"]), CREATE_INDEX, "index_build"))
    return out


def triggers(ctx: Ctx) -> list[Statement]:
    schema = my_ident(ctx.key.parts[0])
    out = []
    for name, want, _have in _changed(ctx, "triggers"):
        if want is not None:
            raise NeedsPerson("a trigger is created again by hand (its definer and body)")
        out.append(stmt(f"DROP TRIGGER {schema}.{my_ident(name)}", DROP_DEPENDANT))
    return out


def _drop(word: str, phase: int, *hazards: str) -> Builder:
    def build(ctx: Ctx) -> list[Statement]:
        return [stmt(f"DROP {word} {qualified(ctx)}", phase, *hazards)]

    return build


def view_definition(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("definition")
    return [stmt(f"CREATE OR REPLACE VIEW {qualified(ctx)} AS {want}", CREATE_VIEW)]


def drop_routine(ctx: Ctx) -> list[Statement]:
    word = "PROCEDURE" if ctx.field("kind") == "procedure" else "FUNCTION"
    return [stmt(f"DROP {word} {qualified(ctx)}", DROP_FUNCTION, "breaks_dependants")]


def database_collation(ctx: Ctx) -> list[Statement]:
    want, _have = ctx.both("collation")
    sql = f"ALTER DATABASE {qualified(ctx)} COLLATE {my_ident(str(want))}"
    return [stmt(sql, ALTER, note="applies to tables created from now on, not to existing ones")]


LOST = "the snapshot does not hold MySQL's full DDL: recreate it from the migration or a backup"

HANDLERS: dict[str, KindRevert] = {
    "role": ROLE,
    "table": KindRevert(
        drop=_drop("TABLE", DROP_TABLE, "deletes_data", "breaks_dependants"),
        reason=LOST,
        sections={
            "grants": table_grants,
            "column_grants": column_grants,
            "columns": columns,
            "indexes": indexes,
            "triggers": triggers,
        },
    ),
    "view": KindRevert(
        drop=_drop("VIEW", DROP_VIEW, "breaks_dependants"),
        reason=LOST,
        sections={"grants": table_grants, "definition": view_definition},
    ),
    "sequence": KindRevert(drop=_drop("SEQUENCE", DROP_TABLE, "breaks_dependants"), reason=LOST),
    "function": KindRevert(drop=drop_routine, reason=LOST),
    "event": KindRevert(drop=_drop("EVENT", DROP_DEPENDANT), reason=LOST),
    "database": KindRevert(sections={"collation": database_collation}, reason=LOST),
}
