"""Undoing a rename: the one statement that gives a thing its baseline name back.

A rename item (``driftd.diff.renames``) carries both names; what followed from
the rename (definitions, grants, owners naming the new name) follows it back,
since the server rewrites them itself. Entry renames run before object renames
(``ALTER TABLE new_t RENAME COLUMN ...`` names the table as it is now), and
both before anything else the script does, which names things as the baseline
does.
"""

from __future__ import annotations

from dataclasses import replace

from driftd.diff.renames import Rename
from driftd.kinds import make_key, parse_key
from driftd.revert.context import Ctx
from driftd.revert.model import NeedsPerson, Statement
from driftd.revert.postgres import stmt, target, word_of
from driftd.revert.quote import my_account, my_ident, pg_ident, pg_qualified

RENAME_ENTRY = 2
RENAME_OBJECT = 3

# Kinds PostgreSQL moves between schemas with ALTER ... SET SCHEMA.
_PG_SET_SCHEMA = frozenset(
    {
        "table",
        "view",
        "materialized_view",
        "sequence",
        "function",
        "type",
        "collation",
        "statistics",
        "operator_class",
        "operator_family",
        "text_search_config",
        "text_search_dictionary",
    }
)
_PG_ENTRY = {
    "columns": "{target} RENAME COLUMN {new} TO {old}",
    "constraints": "{target} RENAME CONSTRAINT {new} TO {old}",
    "triggers": "ALTER TRIGGER {new} ON {table} RENAME TO {old}",
    "policies": "ALTER POLICY {new} ON {table} RENAME TO {old}",
    "rules": "ALTER RULE {new} ON {table} RENAME TO {old}",
}
_MY_ENTRY = {
    "columns": "ALTER TABLE {table} RENAME COLUMN {new} TO {old}",
    "indexes": "ALTER TABLE {table} RENAME INDEX {new} TO {old}",
}
_NOTE = "what named the old name (views, grants, owners) was renamed with it and follows back"
# A rename is told by its body alone: a table or column dropped and made again under
# another name looks the same, and renaming it back brings no data back.
_DATA = (
    _NOTE + "; if it was dropped and created again rather than renamed, its data is gone:"
    " restore it from a backup"
)
_DATA_KINDS = frozenset({"table", "materialized_view", "sequence"})


def revert_rename(ctx: Ctx, rename: Rename, dialect: str) -> list[Statement]:
    """The statements that undo ``rename``; NeedsPerson where SQL cannot."""
    if dialect == "postgresql":
        return _pg_entry(ctx, rename) if rename.section else _pg_object(ctx, rename)
    if dialect in ("mysql", "mariadb"):
        return _my_entry(ctx, rename) if rename.section else _my_object(ctx, rename)
    raise NeedsPerson(f"driftd writes no {dialect} revert for a rename")


def _pg_object(ctx: Ctx, r: Rename) -> list[Statement]:
    old, new = parse_key(r.old), parse_key(r.new)
    if r.kind == "role":
        sql = f"ALTER ROLE {pg_ident(new.parts[0])} RENAME TO {pg_ident(old.parts[0])}"
        note = "a role's MD5 password is cleared by a rename; SCRAM passwords are kept"
        return [stmt(sql, RENAME_OBJECT, note=note)]
    out: list[Statement] = []
    current = target(ctx)
    if len(old.parts) == 2 and old.parts[0] != new.parts[0]:
        if r.kind not in _PG_SET_SCHEMA:
            raise NeedsPerson(f"a {r.kind} cannot be moved back to schema {old.parts[0]}")
        out.append(stmt(f"ALTER {current} SET SCHEMA {pg_ident(old.parts[0])}", RENAME_OBJECT))
        moved = make_key(new.kind, old.parts[0], *new.parts[1:], args=new.args)
        current = target(replace(ctx, key=parse_key(moved)))
    if old.parts[-1] != new.parts[-1]:
        sql = f"ALTER {current} RENAME TO {pg_ident(old.parts[-1])}"
        out.append(stmt(sql, RENAME_OBJECT, note=_DATA if r.kind in _DATA_KINDS else _NOTE))
    return out


def _pg_entry(ctx: Ctx, r: Rename) -> list[Statement]:
    table = pg_qualified(*ctx.key.parts)
    if r.section == "indexes":
        schema = ctx.key.parts[0]
        sql = f"ALTER INDEX {pg_qualified(schema, r.new)} RENAME TO {pg_ident(r.old)}"
        return [stmt(sql, RENAME_ENTRY)]
    form = _PG_ENTRY.get(r.section or "")
    if form is None:
        raise NeedsPerson(f"driftd writes no revert for renamed {r.section}")
    sql = form.format(
        target=f"ALTER {word_of(ctx)} {table}",
        table=table,
        new=pg_ident(r.new),
        old=pg_ident(r.old),
    )
    return [stmt(sql, RENAME_ENTRY, note=_DATA if r.section == "columns" else None)]


def _my_object(ctx: Ctx, r: Rename) -> list[Statement]:
    old, new = parse_key(r.old), parse_key(r.new)
    if r.kind == "role":
        sql = f"RENAME USER {my_account(new.parts[0])} TO {my_account(old.parts[0])}"
        return [stmt(sql, RENAME_OBJECT)]
    if r.kind == "table":
        names = [".".join(my_ident(p) for p in k.parts) for k in (new, old)]
        return [stmt(f"RENAME TABLE {names[0]} TO {names[1]}", RENAME_OBJECT, note=_DATA)]
    raise NeedsPerson(f"driftd writes no MySQL revert for a renamed {r.kind}")


def _my_entry(ctx: Ctx, r: Rename) -> list[Statement]:
    form = _MY_ENTRY.get(r.section or "")
    if form is None:
        raise NeedsPerson(f"MySQL cannot rename {r.section} in place: drop and add it")
    table = ".".join(my_ident(p) for p in ctx.key.parts)
    sql = form.format(table=table, new=my_ident(r.new), old=my_ident(r.old))
    return [stmt(sql, RENAME_ENTRY, note=_DATA if r.section == "columns" else None)]
