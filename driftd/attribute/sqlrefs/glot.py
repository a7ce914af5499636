"""Other dialects, parsed with sqlglot (MySQL/MariaDB mapped to the collector's keys)."""

from __future__ import annotations

import re
from typing import Any

from driftd.attribute.sqlrefs.model import (
    MAX_STATEMENTS,
    Ref,
    Statement,
    command_of,
    looks_like_ddl,
    too_big,
    unparsed,
)
from driftd.attribute.sqlrefs.mysql import (
    MYSQL_SET_ROLE,
    account_names,
    mysql_command,
    mysql_fallback,
)
from driftd.masking import mask

# -- other dialects (sqlglot) -----------------------------------------------------

MYSQL_DIALECTS = frozenset({"mysql", "mariadb"})


def analyze_other(sql: str, dialect: str) -> tuple[list[Statement], int]:
    if too_big(sql):
        return unparsed(sql, dialect)
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    mysql = dialect in MYSQL_DIALECTS
    read = {"mariadb": "mysql", "sqlserver": "tsql"}.get(dialect, dialect)
    try:
        trees = sqlglot.parse(sql, read=read, error_level=ErrorLevel.RAISE)
    except Exception:
        if mysql:
            return mysql_fallback(sql, dialect)
        return unparsed(sql, dialect)
    out: list[Statement] = []
    errors = 0
    parsed = [t for t in trees if t is not None]
    for tree in parsed[:MAX_STATEMENTS]:
        raw = tree.sql(dialect=read)
        if mysql and len(parsed) == 1:
            raw = sql.strip().rstrip(";")  # keep what the person typed (masked below)
        text = mask(account_names(raw) if mysql else raw, dialect)
        if not looks_like_ddl(text) and not (mysql and MYSQL_SET_ROLE.match(text)):
            continue
        st = Statement(text=text, command=command_of(text))
        if mysql and isinstance(tree, exp.TruncateTable):
            continue  # data only
        if isinstance(tree, exp.Command):
            if not (mysql and mysql_command(raw, st)):
                st.parsed = False
                st.refs = []
                errors += 1
        elif isinstance(tree, exp.Create | exp.Drop):
            _glot_create_drop(tree, st, exp, mysql)
        elif isinstance(tree, exp.Alter):
            _glot_alter(tree, st, exp, mysql)
        else:
            st.dynamic = True
        st.refs = list(dict.fromkeys(st.refs))
        out.append(st)
    return out, errors


def _glot_table(table: Any) -> tuple[str, bool]:
    if table.db:
        return f"{table.db}.{table.name}", True
    return str(table.name), False


_GLOT_KINDS = {
    "TABLE": "relation",
    "VIEW": "relation",
    "SEQUENCE": "relation",
    "SCHEMA": "schema",
    "DATABASE": "schema",
    "FUNCTION": "function",
    "PROCEDURE": "function",
    "INDEX": "index",
    "USER": "role",
    "ROLE": "role",
}
# MySQL/MariaDB: a database *is* the schema, and the collector (driftd.collect.generic)
# emits it as ``database:<name>``; CREATE SCHEMA is a synonym of CREATE DATABASE.
_MYSQL_GLOT_KINDS = {**_GLOT_KINDS, "SCHEMA": "database", "DATABASE": "database"}


def _glot_create_drop(tree: Any, st: Statement, exp: Any, mysql: bool = False) -> None:
    kinds = _MYSQL_GLOT_KINDS if mysql else _GLOT_KINDS
    word = str(tree.args.get("kind") or "").upper()
    kind = kinds.get(word)
    action = "drop" if isinstance(tree, exp.Drop) else "create"
    if action == "create" and tree.args.get("replace"):
        action = "replace"
    if mysql and word == "TRIGGER" and action == "drop":
        # DROP TRIGGER names the trigger, not its table: any table of that database.
        for target in tree.args.get("tables") or [tree.this]:
            schema = f"{target.db}." if getattr(target, "db", None) else ""
            st.refs.append(Ref("relation", schema + "*", ("triggers", target.name), "drop"))
        return
    if kind is None:
        st.dynamic = True
        return
    if kind == "index" and action == "create":
        index = tree.this
        table = index.args.get("table")
        if table is not None:
            tname, q = _glot_table(table)
            # MySQL reports a unique index once, as a constraint (see the collector).
            part = "constraints" if mysql and tree.args.get("unique") else "indexes"
            st.refs.append(Ref("relation", tname, (part, index.name), "create", q))
            return
    if mysql and kind == "index" and action == "drop":
        on = tree.args.get("cluster")
        table = getattr(on, "this", None)
        if isinstance(table, exp.Table):
            tname, q = _glot_table(table)
            for target in tree.args.get("tables") or [tree.this]:
                for part in ("indexes", "constraints"):
                    st.refs.append(Ref("relation", tname, (part, target.name), "drop", q))
            return
    targets = tree.args.get("tables") or [tree.this]
    for target in targets:
        t = target.this if isinstance(target, exp.Schema) else target
        if isinstance(t, exp.Table) and kind == "database":
            tname, q = str(t.name or t.db), True  # CREATE SCHEMA x parses x as a "db"
        elif isinstance(t, exp.Table):
            tname, q = _glot_table(t)
        elif isinstance(t, exp.UserDefinedFunction):
            tname, q = _glot_table(t.this) if isinstance(t.this, exp.Table) else (t.name, False)
        else:
            tname, q = (t.name if t is not None else "*"), kind in ("schema", "role", "database")
        st.refs.append(Ref(kind, tname, (), action, q or kind == "database"))


def _glot_alter(tree: Any, st: Statement, exp: Any, mysql: bool = False) -> None:
    if not isinstance(tree.this, exp.Table):
        st.dynamic = True
        return
    tname, q = _glot_table(tree.this)
    actions = tree.args.get("actions") or []
    options = tree.args.get("options") or []
    for option in options:  # MySQL table options: ENGINE=, COMMENT=, CHARSET=, ...
        name = type(option).__name__
        path = ("comment",) if "Comment" in name else ("options",)
        st.refs.append(Ref("relation", tname, path if mysql else (), "alter", q))
    if not actions and not options:
        st.refs.append(Ref("relation", tname, (), "alter", q))
    for action in actions:
        if isinstance(action, exp.ColumnDef):
            st.refs.append(Ref("relation", tname, ("columns", action.name), "create", q))
        elif isinstance(action, exp.Drop) and str(action.args.get("kind", "")).upper() == "COLUMN":
            for col in action.args.get("tables") or []:
                st.refs.append(Ref("relation", tname, ("columns", col.name), "drop", q))
        elif isinstance(action, exp.AlterColumn):
            st.refs.append(Ref("relation", tname, ("columns", action.name), "alter", q))
        elif isinstance(action, exp.RenameColumn):
            old, new = action.this, action.args.get("to")
            st.refs.append(Ref("relation", tname, ("columns", old.name), "drop", q))
            if new is not None:
                st.refs.append(Ref("relation", tname, ("columns", new.name), "create", q))
        elif mysql and _mysql_alter_action(action, tname, q, st, exp):
            pass
        else:
            st.refs.append(Ref("relation", tname, (), "alter", q))


def _mysql_alter_action(action: Any, tname: str, q: bool, st: Statement, exp: Any) -> bool:
    """ALTER TABLE sub-commands the way the MySQL collector lays the table out:
    unique and primary keys and foreign keys under ``constraints``, plain keys under
    ``indexes``. False when the action is not one of these."""
    if isinstance(action, exp.ModifyColumn):  # MODIFY c ... / CHANGE old new ...
        new_name = action.this.name if action.this is not None else ""
        old = action.args.get("rename_from")
        old_name = old.name if old is not None else new_name
        if old_name != new_name:
            st.refs.append(Ref("relation", tname, ("columns", old_name), "drop", q))
            st.refs.append(Ref("relation", tname, ("columns", new_name), "create", q))
        else:
            st.refs.append(Ref("relation", tname, ("columns", new_name), "alter", q))
        return True
    if isinstance(action, exp.AddConstraint):
        for con in action.expressions or [action.this]:
            st.refs.append(Ref("relation", tname, _added_key_path(con, exp), "create", q))
        return True
    if isinstance(action, exp.DropPrimaryKey):
        st.refs.append(Ref("relation", tname, ("constraints", "PRIMARY"), "drop", q))
        return True
    if isinstance(action, exp.Drop):
        return _mysql_drop_key(action, tname, q, st)
    if isinstance(action, exp.AlterRename) and isinstance(action.this, exp.Table):
        nname, nq = _glot_table(action.this)
        if not nq and q:
            nname, nq = tname.rsplit(".", 1)[0] + "." + nname, True
        st.refs.append(Ref("relation", tname, (), "drop", q))
        st.refs.append(Ref("relation", nname, (), "create", nq))
        return True
    return False


def _added_key_path(con: Any, exp: Any) -> tuple[str, ...]:
    text = con.sql("mysql").upper() if con is not None else ""
    name = _mysql_constraint_name(con, exp)
    if re.match(r"(?:ADD\s+)?(?:INDEX|KEY|FULLTEXT|SPATIAL)\b", text):
        return ("indexes", name) if name else ("indexes",)
    if "PRIMARY KEY" in text:
        return ("constraints", "PRIMARY")
    return ("constraints", name) if name else ("constraints",)


def _mysql_drop_key(action: Any, tname: str, q: bool, st: Statement) -> bool:
    kind = str(action.args.get("kind", "")).upper()
    for target in action.args.get("tables") or [action.this]:
        name = getattr(target, "name", None)
        if not name:
            continue
        if kind in ("INDEX", "KEY"):
            # A unique key is a constraint in the snapshot, a plain one an index.
            st.refs.append(Ref("relation", tname, ("indexes", name), "drop", q))
            st.refs.append(Ref("relation", tname, ("constraints", name), "drop", q))
        elif kind in ("FOREIGN KEY", "CONSTRAINT", "CHECK"):
            st.refs.append(Ref("relation", tname, ("constraints", name), "drop", q))
        else:
            return False
    return True


def _mysql_constraint_name(con: Any, exp: Any) -> str | None:
    if con is None:
        return None
    name = con.this
    if isinstance(name, exp.Schema):  # UNIQUE KEY uq (a): the name sits on the column list
        name = name.this
    return str(name.name) if isinstance(name, exp.Identifier | exp.Var) else None
