"""What a SQL statement changes: its command and the objects (and paths) it touches.

PostgreSQL statements are parsed with pglast (the server's own parser);
other dialects with sqlglot. Each statement of a multi-statement script is
analysed on its own, and the plain SQL inside ``DO`` blocks is followed
(``EXECUTE 'literal'`` too; ``EXECUTE`` of a computed string is *dynamic*:
its objects are unknown). A :class:`Ref` names a snapshot object the way
snapshot keys do (``table:public.orders`` → kind ``table``, name
``public.orders``) plus the path inside it (``("columns", "note")``).

Only the masked text of a statement leaves this module: the raw text is
parsed and dropped. Nothing here raises on bad input; a statement that does
not parse is returned with ``parsed=False``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftd.masking import mask

# Inputs beyond these bounds are not parsed (a hostile line must not stall a check).
MAX_STATEMENT_CHARS = 100_000
MAX_NESTING = 200
MAX_STATEMENTS = 500

# Relations share one namespace per schema, so a ref to one matches any of these
# (the kinds the collectors emit: a PostgreSQL foreign table is a ``table:``).
RELATION_KINDS = frozenset({"table", "view", "materialized_view", "sequence"})

# sqlglot logs the unsupported statement verbatim: that would put literals in logs.
logging.getLogger("sqlglot").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Ref:
    """One object a statement touches. ``name`` may hold ``*`` globs."""

    kind: str  # a snapshot kind, "relation" (any of RELATION_KINDS) or "index"
    name: str  # "schema.name" (or "name" when the statement left the schema out)
    path: tuple[str, ...] = ()
    action: str = "alter"  # create | replace | drop | alter | grant | revoke
    qualified: bool = True
    args: tuple[str, ...] | None = None  # function identity argument types, when known

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "action": self.action}
        if self.path:
            out["path"] = list(self.path)
        if not self.qualified:
            out["qualified"] = False
        if self.args is not None:
            out["args"] = list(self.args)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ref:
        args = data.get("args")
        return cls(
            kind=str(data["kind"]),
            name=str(data["name"]),
            path=tuple(str(p) for p in data.get("path", ())),
            action=str(data.get("action", "alter")),
            qualified=bool(data.get("qualified", True)),
            args=None if args is None else tuple(str(a) for a in args),
        )


@dataclass
class Statement:
    """One analysed statement: masked text, command, touched objects."""

    text: str
    command: str
    refs: list[Ref] = field(default_factory=list)
    parsed: bool = True
    dynamic: bool = False  # holds SQL built at run time: objects partly unknown

    @property
    def unknown(self) -> bool:
        """Objects cannot be known: only the time can tie it to a change."""
        return not self.parsed or self.dynamic

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "command": self.command,
            "refs": [r.to_json() for r in self.refs],
        }
        if not self.parsed:
            out["parsed"] = False
        if self.dynamic:
            out["dynamic"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Statement:
        return cls(
            text=str(data["text"]),
            command=str(data.get("command", "")),
            refs=[Ref.from_json(r) for r in data.get("refs", ())],
            parsed=bool(data.get("parsed", True)),
            dynamic=bool(data.get("dynamic", False)),
        )


# Statements that never change a schema, roles, grants or settings.
_NOT_DDL_NODES = frozenset(
    {
        "SelectStmt",
        "InsertStmt",
        "UpdateStmt",
        "DeleteStmt",
        "MergeStmt",
        "CopyStmt",
        "ExplainStmt",
        "TransactionStmt",
        "VariableSetStmt",
        "VariableShowStmt",
        "PrepareStmt",
        "ExecuteStmt",
        "DeallocateStmt",
        "ListenStmt",
        "UnlistenStmt",
        "NotifyStmt",
        "LockStmt",
        "VacuumStmt",
        "CheckPointStmt",
        "DiscardStmt",
        "FetchStmt",
        "DeclareCursorStmt",
        "ClosePortalStmt",
        "ConstraintsSetStmt",
        "ClusterStmt",
        "ReindexStmt",
        "LoadStmt",
        "CallStmt",
        "PLAssignStmt",
        "ReturnStmt",
    }
)
_NOT_DDL_WORDS = frozenset(
    {
        "select",
        "insert",
        "update",
        "delete",
        "merge",
        "copy",
        "explain",
        "begin",
        "commit",
        "rollback",
        "start",
        "end",
        "savepoint",
        "release",
        "set",
        "show",
        "reset",
        "prepare",
        "execute",
        "deallocate",
        "listen",
        "notify",
        "lock",
        "vacuum",
        "analyze",
        "checkpoint",
        "discard",
        "fetch",
        "declare",
        "close",
        "with",
        "values",
        "table",
        "call",
        "use",
        "describe",
        "desc",
    }
)


def analyze(sql: str, dialect: str = "postgres") -> tuple[list[Statement], int]:
    """The schema-changing statements in ``sql`` and how many could not be parsed.

    Queries (SELECT, DML, transaction control) are left out: they never
    explain drift. A statement that does not parse is kept (``parsed=False``)
    when its first word says it could be DDL.
    """
    try:
        if dialect in ("postgres", "postgresql"):
            return _analyze_pg(sql)
        return _analyze_other(sql, dialect)
    except RecursionError:
        return _unparsed(sql, dialect)
    except Exception:  # a parser bug must not cost the check: keep what we can say
        return _unparsed(sql, dialect)


def command_of(sql: str) -> str:
    """``ALTER TABLE``-style command name from the leading keywords."""
    words: list[str] = re.findall(r"[A-Za-z]+", sql[:200])
    upper = [w.upper() for w in words[:6]]
    for noise in ("OR", "REPLACE", "UNIQUE", "TEMPORARY", "TEMP", "UNLOGGED", "MATERIALIZED"):
        if upper[:1] == ["CREATE"] and noise in upper[1:3]:
            upper.remove(noise)
    if not upper:
        return "UNKNOWN"
    if upper[0] in ("GRANT", "REVOKE", "COMMENT", "DO", "REASSIGN", "SECURITY", "IMPORT"):
        return upper[0]
    return " ".join(upper[:2])


def looks_like_ddl(sql: str) -> bool:
    m = re.match(r"\s*(?:\(\s*)*([A-Za-z]+)", sql)
    return bool(m) and m.group(1).lower() not in _NOT_DDL_WORDS  # type: ignore[union-attr]


def _unparsed(sql: str, dialect: str) -> tuple[list[Statement], int]:
    text = mask(sql[:MAX_STATEMENT_CHARS], dialect)
    if not text.strip() or not looks_like_ddl(text):
        return [], 1 if text.strip() else 0
    return [Statement(text=text, command=command_of(text), parsed=False)], 1


def _too_big(sql: str) -> bool:
    if len(sql) > MAX_STATEMENT_CHARS:
        return True
    depth = peak = 0
    for c in sql:
        if c == "(":
            depth += 1
            peak = max(peak, depth)
        elif c == ")":
            depth -= 1
    return peak > MAX_NESTING


# -- PostgreSQL (pglast) ----------------------------------------------------------


def _analyze_pg(sql: str) -> tuple[list[Statement], int]:
    if _too_big(sql):
        return _unparsed(sql, "postgres")
    from pglast import parser

    out: list[Statement] = []
    errors = 0
    for piece in _split_pg(sql)[:MAX_STATEMENTS]:
        try:
            stmts = parser.parse_sql(piece)
        except Exception:
            unparsed, bad = _unparsed(piece, "postgres")
            out += unparsed
            errors += bad
            continue
        for raw in stmts:
            node = raw.stmt
            if type(node).__name__ in _NOT_DDL_NODES:
                continue
            text = mask(piece).strip().rstrip(";").strip()
            statement = Statement(text=text, command=command_of(text))
            try:
                _pg_refs(node, statement, 0)
            except Exception:
                statement.dynamic = True  # an unexpected node shape: objects partly unknown
            statement.refs = list(dict.fromkeys(statement.refs))
            out.append(statement)
    return out, errors


def _split_pg(sql: str) -> list[str]:
    """Statements of a script, split on top-level ``;`` by the server's own scanner."""
    from pglast import parser

    try:
        tokens = parser.scan(sql)
    except Exception:
        return [sql]
    # scan() gives byte offsets into the UTF-8 text.
    data = sql.encode()
    pieces, start = [], 0
    for tok in tokens:
        if tok.name == "ASCII_59":
            pieces.append(data[start : tok.start].decode(errors="replace"))
            start = tok.end + 1
    pieces.append(data[start:].decode(errors="replace"))
    return [p for p in pieces if p.strip()]


_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "varchar": "character varying",
    "bpchar": "character",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
    "varbit": "bit varying",
    "decimal": "numeric",
}


def _s(node: Any) -> str:
    """The text of a pglast String node (or a plain str)."""
    if isinstance(node, str):
        return node
    return str(getattr(node, "sval", node))


def _qualify(parts: Sequence[Any]) -> tuple[str, bool]:
    names = [_s(p) for p in parts]
    return ".".join(names[-2:]), len(names) >= 2


def _rangevar(rv: Any) -> tuple[str, bool]:
    if rv.schemaname:
        return f"{rv.schemaname}.{rv.relname}", True
    return str(rv.relname), False


def _type_name(tn: Any) -> str:
    names = [_s(n) for n in (tn.names or ())]
    if not names:
        return "?"
    base = names[-1]
    if len(names) == 1 or names[0] == "pg_catalog":
        base = _TYPE_NAMES.get(base, base)
    else:
        base = ".".join(names[-2:])
    if tn.arrayBounds:
        base += "[]" * len(tn.arrayBounds)
    return base


def _func_args(params: Sequence[Any] | None) -> tuple[str, ...]:
    out = []
    for p in params or ():
        mode = getattr(getattr(p, "mode", None), "name", "")
        if mode in ("FUNC_PARAM_OUT", "FUNC_PARAM_TABLE"):
            continue  # not part of the identity
        out.append(_type_name(p.argType))
    return tuple(out)


def _owa(obj: Any, path: tuple[str, ...], action: str) -> Ref:
    """A Ref for an ObjectWithArgs (function, procedure, aggregate)."""
    name, qualified = _qualify(obj.objname)
    args = None if obj.args_unspecified else tuple(_type_name(t) for t in obj.objargs or ())
    return Ref("function", name, path, action, qualified, args)


_OBJTYPE_KIND = {
    "OBJECT_TABLE": "relation",
    "OBJECT_VIEW": "relation",
    "OBJECT_MATVIEW": "relation",
    "OBJECT_SEQUENCE": "relation",
    "OBJECT_FOREIGN_TABLE": "relation",
    "OBJECT_INDEX": "index",
    "OBJECT_SCHEMA": "schema",
    "OBJECT_FUNCTION": "function",
    "OBJECT_PROCEDURE": "function",
    "OBJECT_ROUTINE": "function",
    "OBJECT_AGGREGATE": "function",
    "OBJECT_TYPE": "type",
    "OBJECT_DOMAIN": "type",
    "OBJECT_EXTENSION": "extension",
    "OBJECT_DATABASE": "database",
    "OBJECT_ROLE": "role",
    "OBJECT_PARAMETER_ACL": "setting",
}
# Sub-objects that live under a table: DROP/RENAME name them as [schema, table, name].
_TABLE_PARTS = {
    "OBJECT_TRIGGER": "triggers",
    "OBJECT_POLICY": "policies",
    "OBJECT_RULE": "rules",
    "OBJECT_TABCONSTRAINT": "constraints",
}

_ROLE_OPTIONS = {
    "superuser": "superuser",
    "createdb": "createdb",
    "createrole": "createrole",
    "canlogin": "login",
    "isreplication": "replication",
    "bypassrls": "bypassrls",
    "inherit": "inherit",
    "connectionlimit": "connection_limit",
    "validUntil": "valid_until",
    "password": "password",
}

_FUNCTION_OPTIONS: dict[str, tuple[str, ...]] = {
    "security": ("security_definer",),
    "volatility": ("volatility",),
    "set": ("config",),
    "strict": ("strict",),
    "leakproof": ("leakproof",),
    "parallel": ("parallel",),
}

_COLUMN_CMDS = frozenset(
    {
        "AT_ColumnDefault",
        "AT_CookedColumnDefault",
        "AT_DropNotNull",
        "AT_SetNotNull",
        "AT_SetExpression",
        "AT_DropExpression",
        "AT_SetStatistics",
        "AT_SetOptions",
        "AT_ResetOptions",
        "AT_SetStorage",
        "AT_SetCompression",
        "AT_AlterColumnType",
        "AT_AlterColumnGenericOptions",
        "AT_AddIdentity",
        "AT_SetIdentity",
        "AT_DropIdentity",
    }
)
_TABLE_CMD_PATHS = {
    "AT_ChangeOwner": ("owner",),
    "AT_EnableRowSecurity": ("rls", "enabled"),
    "AT_DisableRowSecurity": ("rls", "enabled"),
    "AT_ForceRowSecurity": ("rls", "forced"),
    "AT_NoForceRowSecurity": ("rls", "forced"),
    "AT_SetRelOptions": ("options",),
    "AT_ResetRelOptions": ("options",),
    "AT_ReplaceRelOptions": ("options",),
    "AT_SetLogged": ("persistence",),
    "AT_SetUnLogged": ("persistence",),
    "AT_AttachPartition": ("partitioning",),
    "AT_DetachPartition": ("partitioning",),
    "AT_DetachPartitionFinalize": ("partitioning",),
}


def _enum(value: Any) -> str:
    return str(getattr(value, "name", value))


def _roles(specs: Sequence[Any] | None) -> Iterator[str]:
    for spec in specs or ():
        kind = _enum(getattr(spec, "roletype", ""))
        if kind == "ROLESPEC_PUBLIC":
            yield "PUBLIC"
        elif getattr(spec, "rolename", None):
            yield str(spec.rolename)
        elif isinstance(spec, str):
            yield spec
        else:
            yield "*"  # CURRENT_USER / SESSION_USER: unknown here


def _pg_refs(node: Any, st: Statement, depth: int) -> None:
    name = type(node).__name__
    add = st.refs.append
    if name == "CreateStmt":
        rel, q = _rangevar(node.relation)
        add(Ref("relation", rel, (), "create", q))
        for parent in node.inhRelations or ():
            prel, pq = _rangevar(parent)
            add(Ref("relation", prel, ("partitioning",), "alter", pq))
    elif name == "CreateTableAsStmt":
        rel, q = _rangevar(node.into.rel)
        add(Ref("relation", rel, (), "create", q))
    elif name == "ViewStmt":
        rel, q = _rangevar(node.view)
        add(Ref("relation", rel, (), "replace" if node.replace else "create", q))
    elif name in ("CreateSeqStmt", "AlterSeqStmt"):
        rel, q = _rangevar(node.sequence)
        add(Ref("relation", rel, (), "create" if name == "CreateSeqStmt" else "alter", q))
    elif name == "AlterTableStmt":
        _pg_alter_table(node, st)
    elif name == "IndexStmt":
        rel, q = _rangevar(node.relation)
        path = ("indexes", node.idxname) if node.idxname else ("indexes",)
        add(Ref("relation", rel, path, "create", q))
    elif name == "RenameStmt":
        _pg_rename(node, st)
    elif name == "DropStmt":
        _pg_drop(node, st)
    elif name == "CreateRoleStmt":
        add(Ref("role", str(node.role), (), "create"))
        for opt in node.options or ():
            if opt.defname in ("addroleto",):
                for parent in _roles(opt.arg):
                    add(Ref("role", str(node.role), ("member_of", parent), "grant"))
            elif opt.defname in ("rolemembers", "adminmembers"):
                for member in _roles(opt.arg):
                    add(Ref("role", member, ("member_of", str(node.role)), "grant"))
    elif name == "AlterRoleStmt":
        for role in _roles([node.role]):
            paths = [_ROLE_OPTIONS.get(o.defname, "") for o in node.options or ()]
            for p in paths or [""]:
                add(Ref("role", role, (p,) if p else (), "alter"))
            for opt in node.options or ():
                if opt.defname == "rolemembers":  # ALTER GROUP g ADD/DROP USER u
                    act = "grant" if node.action == 1 else "revoke"
                    for member in _roles(opt.arg):
                        add(Ref("role", member, ("member_of", role), act))
    elif name == "AlterRoleSetStmt":
        roles = list(_roles([node.role])) if node.role else ["*"]
        setting = node.setstmt.name if node.setstmt and node.setstmt.name else None
        for role in roles:
            add(Ref("role", role, ("config", setting) if setting else ("config",), "alter"))
    elif name == "DropRoleStmt":
        for role in _roles(node.roles):
            add(Ref("role", role, (), "drop"))
    elif name == "GrantRoleStmt":
        act = "grant" if node.is_grant else "revoke"
        for granted in node.granted_roles or ():
            for grantee in _roles(node.grantee_roles):
                add(Ref("role", grantee, ("member_of", str(granted.priv_name)), act))
    elif name == "GrantStmt":
        _pg_grant(node, st, schemas=None)
    elif name == "AlterDefaultPrivilegesStmt":
        schemas: list[str] = []
        for opt in node.options or ():
            if opt.defname == "schemas":
                schemas += [_s(s) for s in opt.arg]
        _pg_grant(node.action, st, schemas=schemas or ["*"])
    elif name == "AlterOwnerStmt":
        _pg_object(node.objectType, node.object, ("owner",), "alter", st)
    elif name == "CommentStmt":
        if _enum(node.objtype) == "OBJECT_COLUMN":
            parts = [_s(p) for p in node.object]
            rel, q = _qualify(parts[:-1])
            add(Ref("relation", rel, ("columns", parts[-1], "comment"), "alter", q))
        else:
            _pg_object(node.objtype, node.object, ("comment",), "alter", st)
    elif name == "CreateFunctionStmt":
        fname, q = _qualify(node.funcname)
        act = "replace" if node.replace else "create"
        add(Ref("function", fname, (), act, q, _func_args(node.parameters)))
    elif name == "AlterFunctionStmt":
        for act in node.actions or ():
            st.refs.append(_owa(node.func, _FUNCTION_OPTIONS.get(act.defname, ()), "alter"))
    elif name == "CreateSchemaStmt":
        schema = node.schemaname or next(_roles([node.authrole]), "*")
        add(Ref("schema", schema, (), "create"))
        for elt in node.schemaElts or ():
            _pg_refs(elt, st, depth + 1)
    elif name in ("CreateExtensionStmt", "AlterExtensionStmt"):
        act = "create" if name == "CreateExtensionStmt" else "alter"
        add(Ref("extension", node.extname, ("version",) if act == "alter" else (), act))
    elif name == "AlterExtensionContentsStmt":
        add(Ref("extension", node.extname, (), "alter"))
    elif name == "CreateTrigStmt":
        rel, q = _rangevar(node.relation)
        add(Ref("relation", rel, ("triggers", node.trigname), "create", q))
    elif name in ("CreatePolicyStmt", "AlterPolicyStmt"):
        rel, q = _rangevar(node.table)
        act = "create" if name == "CreatePolicyStmt" else "alter"
        add(Ref("relation", rel, ("policies", node.policy_name), act, q))
    elif name in ("CreateEnumStmt", "CreateDomainStmt", "CompositeTypeStmt", "CreateRangeStmt"):
        tn = node.typevar if name == "CompositeTypeStmt" else node.typeName
        if name == "CompositeTypeStmt":
            tname, q = _rangevar(tn)
        else:
            tname, q = _qualify(tn if isinstance(tn, tuple) else tn.names)
        add(Ref("type", tname, (), "create", q))
    elif name in ("AlterEnumStmt", "AlterDomainStmt", "AlterTypeStmt"):
        tname, q = _qualify(node.typeName)
        add(Ref("type", tname, (), "alter", q))
    elif name == "AlterSystemStmt":
        setting = node.setstmt.name if node.setstmt else None
        add(Ref("setting", setting or "*", (), "alter"))
    elif name == "AlterDatabaseSetStmt":
        setting = node.setstmt.name if node.setstmt and node.setstmt.name else None
        add(Ref("database", node.dbname, ("settings", setting) if setting else ("settings",)))
    elif name in ("AlterDatabaseStmt", "AlterDatabaseRefreshCollStmt"):
        add(Ref("database", node.dbname, (), "alter"))
    elif name == "CreatedbStmt":
        add(Ref("database", node.dbname, (), "create"))
    elif name == "DropdbStmt":
        add(Ref("database", node.dbname, (), "drop"))
    elif name == "ReassignOwnedStmt":
        add(Ref("*", "*", ("owner",), "alter"))
    elif name == "DropOwnedStmt":
        st.dynamic = True  # drops and revokes whatever the roles own: unknown objects
    elif name == "DoStmt":
        _pg_do(node, st, depth)
    elif name == "RuleStmt":
        rel, q = _rangevar(node.relation)
        add(Ref("relation", rel, ("rules", node.rulename), "create", q))
    elif name == "RefreshMatViewStmt":
        pass  # data only
    elif name == "SecLabelStmt":
        _pg_object(node.objtype, node.object, ("security_labels",), "alter", st)
    else:
        st.dynamic = True  # a statement kind we do not map: say so rather than guess


def _pg_alter_table(node: Any, st: Statement) -> None:
    kind = _OBJTYPE_KIND.get(_enum(node.objtype), "relation")
    rel, q = _rangevar(node.relation)
    for cmd in node.cmds or ():
        sub = _enum(cmd.subtype)
        if sub == "AT_AddColumn":
            st.refs.append(Ref(kind, rel, ("columns", cmd.def_.colname), "create", q))
        elif sub == "AT_DropColumn":
            st.refs.append(Ref(kind, rel, ("columns", cmd.name), "drop", q))
        elif sub in _COLUMN_CMDS and cmd.name:
            st.refs.append(Ref(kind, rel, ("columns", cmd.name), "alter", q))
        elif sub == "AT_AddConstraint":
            con = cmd.def_
            cname = getattr(con, "conname", None)
            st.refs.append(
                Ref(kind, rel, ("constraints", cname) if cname else ("constraints",), "create", q)
            )
            if cname and _enum(getattr(con, "contype", "")) in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
                st.refs.append(Ref(kind, rel, ("indexes", cname), "create", q))
        elif sub in ("AT_DropConstraint", "AT_ValidateConstraint", "AT_AlterConstraint"):
            cname = cmd.name or getattr(cmd.def_, "conname", None)
            act = "drop" if sub == "AT_DropConstraint" else "alter"
            path = ("constraints", cname) if cname else ("constraints",)
            st.refs.append(Ref(kind, rel, path, act, q))
            if cname and act == "drop":
                st.refs.append(Ref(kind, rel, ("indexes", cname), act, q))
        elif sub in _TABLE_CMD_PATHS:
            st.refs.append(Ref(kind, rel, _TABLE_CMD_PATHS[sub], "alter", q))
        elif sub.startswith(("AT_EnableTrig", "AT_DisableTrig", "AT_EnableAlwaysTrig")) or sub in (
            "AT_EnableReplicaTrig",
        ):
            path = ("triggers", cmd.name) if cmd.name else ("triggers",)
            st.refs.append(Ref(kind, rel, path, "alter", q))
        else:
            st.refs.append(Ref(kind, rel, (), "alter", q))


def _pg_rename(node: Any, st: Statement) -> None:
    rtype = _enum(node.renameType)
    if node.relation is not None:
        rel, q = _rangevar(node.relation)
        schema = rel.rsplit(".", 1)[0] + "." if q else ""
        if rtype in ("OBJECT_COLUMN", "OBJECT_ATTRIBUTE"):
            st.refs.append(Ref("relation", rel, ("columns", node.subname), "drop", q))
            st.refs.append(Ref("relation", rel, ("columns", node.newname), "create", q))
        elif rtype in _TABLE_PARTS:
            part = _TABLE_PARTS[rtype]
            st.refs.append(Ref("relation", rel, (part, node.subname), "drop", q))
            st.refs.append(Ref("relation", rel, (part, node.newname), "create", q))
        elif rtype == "OBJECT_INDEX":
            st.refs.append(Ref("index", rel, (), "drop", q))
            st.refs.append(Ref("index", schema + node.newname, (), "create", q))
        else:
            st.refs.append(Ref("relation", rel, (), "drop", q))
            st.refs.append(Ref("relation", schema + node.newname, (), "create", q))
        return
    kind = _OBJTYPE_KIND.get(rtype, rtype.removeprefix("OBJECT_").lower())
    if kind == "function":
        old = _owa(node.object, (), "drop")
        schema = old.name.rsplit(".", 1)[0] + "." if old.qualified else ""
        st.refs += [old, Ref("function", schema + node.newname, (), "create", old.qualified)]
        return
    if rtype in ("OBJECT_ROLE", "OBJECT_DATABASE", "OBJECT_SCHEMA"):
        old_name = node.subname or _s(node.object)
        st.refs += [Ref(kind, old_name, (), "drop"), Ref(kind, node.newname, (), "create")]
        return
    if node.object is not None:
        _pg_object(node.renameType, node.object, (), "drop", st)
    st.dynamic = st.dynamic or not st.refs


def _pg_object(objtype: Any, obj: Any, path: tuple[str, ...], action: str, st: Statement) -> None:
    """A Ref for the generic ``object`` field of COMMENT/OWNER/SECURITY LABEL/DROP."""
    otype = _enum(objtype)
    kind = _OBJTYPE_KIND.get(otype)
    if otype in _TABLE_PARTS and isinstance(obj, tuple):
        parts = [_s(p) for p in obj]
        rel, q = _qualify(parts[:-1])
        st.refs.append(Ref("relation", rel, (_TABLE_PARTS[otype], parts[-1], *path), action, q))
    elif kind == "function":
        st.refs.append(_owa(obj, path, action))
    elif kind == "type" and hasattr(obj, "names"):
        tname, q = _qualify(obj.names)
        st.refs.append(Ref("type", tname, path, action, q))
    elif kind is not None:
        if isinstance(obj, tuple):
            oname, q = _qualify(obj)
        elif hasattr(obj, "relname"):
            oname, q = _rangevar(obj)
        else:
            oname, q = _s(obj), kind not in RELATION_KINDS | {"relation", "index"}
        st.refs.append(Ref(kind, oname, path, action, q))
    else:
        st.dynamic = True


def _pg_drop(node: Any, st: Statement) -> None:
    for obj in node.objects or ():
        _pg_object(node.removeType, obj, (), "drop", st)


def _pg_grant(node: Any, st: Statement, schemas: list[str] | None) -> None:
    act = "grant" if node.is_grant else "revoke"
    grantees = list(_roles(node.grantees))
    column_privs = any(getattr(p, "cols", None) for p in node.privileges or ())
    otype = _enum(node.objtype)
    kind = _OBJTYPE_KIND.get(otype, otype.removeprefix("OBJECT_").lower())
    if schemas is not None:  # ALTER DEFAULT PRIVILEGES
        for schema in schemas:
            target = "schema" if schema != "*" else "database"
            st.refs.append(Ref(target, schema, ("default_privileges",), act))
        return
    targets: list[tuple[str, bool, tuple[str, ...] | None]] = []
    if _enum(node.targtype) == "ACL_TARGET_ALL_IN_SCHEMA":
        targets = [(f"{_s(s)}.*", True, None) for s in node.objects or ()]
    else:
        for obj in node.objects or ():
            if hasattr(obj, "relname"):
                n, q = _rangevar(obj)
                targets.append((n, q, None))
            elif hasattr(obj, "objname"):
                ref = _owa(obj, (), act)
                targets.append((ref.name, ref.qualified, ref.args))
            elif isinstance(obj, tuple):
                n, q = _qualify(obj)
                targets.append((n, q, None))
            elif hasattr(obj, "names"):
                n, q = _qualify(obj.names)
                targets.append((n, q, None))
            else:
                targets.append((_s(obj), True, None))
    for tname, q, args in targets:
        for g in grantees:
            field_name = "column_grants" if column_privs else "grants"
            path = (field_name,) if column_privs else (field_name, g)
            st.refs.append(Ref(kind, tname, path, act, q, args))


def _pg_do(node: Any, st: Statement, depth: int) -> None:
    """Follow the SQL inside a plpgsql ``DO`` block (not executed code is not followed)."""
    body, language = None, "plpgsql"
    for arg in node.args or ():
        if arg.defname == "as":
            body = _s(arg.arg)
        elif arg.defname == "language":
            language = _s(arg.arg)
    if body is None or language.lower() != "plpgsql" or depth > 2 or _too_big(body):
        st.dynamic = True
        return
    from pglast import parse_plpgsql, parser

    tag = "$driftd_do$"
    if tag in body:
        st.dynamic = True
        return
    wrapper = f"CREATE FUNCTION driftd_do() RETURNS void LANGUAGE plpgsql AS {tag}{body}{tag}"
    try:
        tree = parse_plpgsql(wrapper)
    except Exception:
        st.dynamic = True
        return
    for kind, query in _plpgsql_sql(tree):
        if kind == "dynexecute":
            literal = _string_literal(query)
            if literal is None:
                st.dynamic = True
                continue
            query = literal
        try:
            inner = parser.parse_sql(query)
        except Exception:
            st.dynamic = True
            continue
        for raw in inner:
            if type(raw.stmt).__name__ not in _NOT_DDL_NODES:
                _pg_refs(raw.stmt, st, depth + 1)


def _plpgsql_sql(tree: Any) -> Iterator[tuple[str, str]]:
    """``(kind, query)`` for every SQL statement and EXECUTE in a plpgsql JSON tree."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "PLpgSQL_stmt_execsql" and isinstance(value, dict):
                    q = value.get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query")
                    if isinstance(q, str):
                        yield "execsql", q
                elif key == "PLpgSQL_stmt_dynexecute" and isinstance(value, dict):
                    q = value.get("query", {}).get("PLpgSQL_expr", {}).get("query")
                    if isinstance(q, str):
                        yield "dynexecute", q
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _string_literal(expr: str) -> str | None:
    """The value of ``expr`` when it is one plain string literal ('...' or $$...$$)."""
    expr = expr.strip()
    m = re.fullmatch(r"'((?:[^']|'')*)'", expr, re.S)
    if m:
        return m.group(1).replace("''", "'")
    m = re.fullmatch(r"(\$[A-Za-z_]*\$)(.*)\1", expr, re.S)
    return m.group(2) if m else None


# -- other dialects (sqlglot) -----------------------------------------------------

MYSQL_DIALECTS = frozenset({"mysql", "mariadb"})


def _analyze_other(sql: str, dialect: str) -> tuple[list[Statement], int]:
    if _too_big(sql):
        return _unparsed(sql, dialect)
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    mysql = dialect in MYSQL_DIALECTS
    read = {"mariadb": "mysql", "sqlserver": "tsql"}.get(dialect, dialect)
    try:
        trees = sqlglot.parse(sql, read=read, error_level=ErrorLevel.RAISE)
    except Exception:
        if mysql:
            return _mysql_fallback(sql, dialect)
        return _unparsed(sql, dialect)
    out: list[Statement] = []
    errors = 0
    parsed = [t for t in trees if t is not None]
    for tree in parsed[:MAX_STATEMENTS]:
        raw = tree.sql(dialect=read)
        if mysql and len(parsed) == 1:
            raw = sql.strip().rstrip(";")  # keep what the person typed (masked below)
        text = mask(_account_names(raw) if mysql else raw, dialect)
        if not looks_like_ddl(text) and not (mysql and _MYSQL_SET_ROLE.match(text)):
            continue
        st = Statement(text=text, command=command_of(text))
        if mysql and isinstance(tree, exp.TruncateTable):
            continue  # data only
        if isinstance(tree, exp.Command):
            if not (mysql and _mysql_command(raw, st)):
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
    add = st.refs.append
    if isinstance(action, exp.ModifyColumn):  # MODIFY c ... / CHANGE old new ...
        new_name = action.this.name if action.this is not None else ""
        old = action.args.get("rename_from")
        old_name = old.name if old is not None else new_name
        if old_name != new_name:
            add(Ref("relation", tname, ("columns", old_name), "drop", q))
            add(Ref("relation", tname, ("columns", new_name), "create", q))
        else:
            add(Ref("relation", tname, ("columns", new_name), "alter", q))
        return True
    if isinstance(action, exp.AddConstraint):
        for con in action.expressions or [action.this]:
            text = con.sql("mysql").upper() if con is not None else ""
            name = _mysql_constraint_name(con, exp)
            if re.match(r"(?:ADD\s+)?(?:INDEX|KEY|FULLTEXT|SPATIAL)\b", text):
                add(
                    Ref("relation", tname, ("indexes", name) if name else ("indexes",), "create", q)
                )
            elif "PRIMARY KEY" in text:
                add(Ref("relation", tname, ("constraints", "PRIMARY"), "create", q))
            else:
                path = ("constraints", name) if name else ("constraints",)
                add(Ref("relation", tname, path, "create", q))
        return True
    if isinstance(action, exp.DropPrimaryKey):
        add(Ref("relation", tname, ("constraints", "PRIMARY"), "drop", q))
        return True
    if isinstance(action, exp.Drop):
        kind = str(action.args.get("kind", "")).upper()
        for target in action.args.get("tables") or [action.this]:
            name = getattr(target, "name", None)
            if not name:
                continue
            if kind in ("INDEX", "KEY"):
                # A unique key is a constraint in the snapshot, a plain one an index.
                add(Ref("relation", tname, ("indexes", name), "drop", q))
                add(Ref("relation", tname, ("constraints", name), "drop", q))
            elif kind in ("FOREIGN KEY", "CONSTRAINT", "CHECK"):
                add(Ref("relation", tname, ("constraints", name), "drop", q))
            else:
                return False
        return True
    if isinstance(action, exp.AlterRename):
        new = action.this
        if isinstance(new, exp.Table):
            nname, nq = _glot_table(new)
            if not nq and q:
                nname = tname.rsplit(".", 1)[0] + "." + nname
                nq = True
            add(Ref("relation", tname, (), "drop", q))
            add(Ref("relation", nname, (), "create", nq))
            return True
    return False


def _mysql_constraint_name(con: Any, exp: Any) -> str | None:
    if con is None:
        return None
    name = con.this
    if isinstance(name, exp.Schema):  # UNIQUE KEY uq (a): the name sits on the column list
        name = name.this
    return str(name.name) if isinstance(name, exp.Identifier | exp.Var) else None


# -- MySQL / MariaDB statements sqlglot leaves as a Command ---------------------------
#
# Accounts, roles and privileges (CREATE/ALTER/DROP/RENAME USER, CREATE/DROP ROLE,
# GRANT, REVOKE, SET DEFAULT ROLE), RENAME TABLE, ALTER DATABASE and CREATE TRIGGER
# are read from their tokens, named the way driftd.collect.generic keys them:
# accounts ``role:user@host`` (a MariaDB role: ``role:name``), global and database
# privileges on the grantee (``("grants", "*.*")``, ``("grants", "db.*")``), table
# privileges on the table (``("grants", grantee)``), column privileges under
# ``("column_grants", column, grantee)``, role membership under ``("member_of", role)``.

_MYSQL_TOKEN = re.compile(
    r"""\s+|--[^\n]*|\#[^\n]*|/\*.*?(?:\*/|$)"""  # space and comments (skipped)
    r"""|(?P<s>'(?:[^'\\]|\\.|'')*(?:'|$)|"(?:[^"\\]|\\.|"")*(?:"|$))"""
    r"""|(?P<b>`(?:[^`]|``)*(?:`|$))"""
    r"""|(?P<w>[A-Za-z0-9_$\u0080-\U0010ffff]+)"""
    r"""|(?P<p>.)""",
    re.S,
)
_MYSQL_SET_ROLE = re.compile(r"(?i)\s*SET\s+DEFAULT\s+ROLE\b")
_UNQUOTE = {"'": "'", '"': '"', "`": "`"}


@dataclass
class _Tok:
    kind: str  # "s" string, "b" backtick identifier, "w" word, "p" punctuation
    text: str  # the value (unquoted)

    @property
    def up(self) -> str:
        return self.text.upper() if self.kind == "w" else ""


def _mysql_tokens(sql: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _MYSQL_TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind is None:
            continue
        value = m.group(kind)
        if kind in ("s", "b"):
            quote = value[0]
            body = value[1:-1] if len(value) > 1 and value.endswith(quote) else value[1:]
            body = body.replace(quote * 2, quote)
            if kind == "s":
                body = re.sub(r"\\(.)", r"\1", body, flags=re.S)
            value = body
        out.append(_Tok(kind, value))
    return out


class _Cursor:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def word(self, *words: str) -> bool:
        """Consume the keywords ``words`` when they come next."""
        for n, w in enumerate(words):
            tok = self.peek(n)
            if tok is None or tok.up != w:
                return False
        self.i += len(words)
        return True

    def punct(self, char: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "p" and tok.text == char:
            self.i += 1
            return True
        return False

    def name(self) -> str | None:
        tok = self.peek()
        if tok is None or tok.kind == "p":
            return None
        self.i += 1
        return tok.text

    def skip_to(self, *stops: str) -> None:
        """Skip up to the next top-level ``,`` or one of the ``stops`` keywords."""
        depth = 0
        while (tok := self.peek()) is not None:
            if tok.kind == "p" and tok.text == "(":
                depth += 1
            elif tok.kind == "p" and tok.text == ")":
                depth -= 1
            elif depth <= 0 and ((tok.kind == "p" and tok.text in (",", ";")) or tok.up in stops):
                return
            self.i += 1


def _account(cur: _Cursor, default_host: str | None) -> list[str]:
    """Snapshot names for one account: ``user@host``; a name without a host is a
    MariaDB role (``name``) or a user at ``%``: ``default_host`` None means either."""
    if cur.word("CURRENT_USER") or cur.word("CURRENT_ROLE"):
        if cur.punct("("):
            cur.punct(")")
        return ["*"]
    if cur.word("PUBLIC"):
        return ["PUBLIC"]
    user = cur.name()
    if user is None:
        return []
    host: str | None = None
    tok = cur.peek()
    if tok is not None and tok.kind == "p" and tok.text == "@":
        cur.i += 1
        host = cur.name() or ""
    elif tok is not None and tok.kind == "w" and tok.text.startswith("@"):
        cur.i += 1
        host = tok.text[1:]
    if host is not None:
        return [f"{user}@{host}" if host else user]
    if default_host is None:
        return [user, f"{user}@%"]
    return [f"{user}@{default_host}" if default_host else user]


def _accounts(cur: _Cursor, default_host: str | None, *stops: str) -> list[list[str]]:
    out = []
    while cur.peek() is not None:
        names = _account(cur, default_host)
        if names:
            out.append(names)
        cur.skip_to(*stops)
        if not cur.punct(","):
            break
    return out


_QUOTED_ACCOUNT = re.compile(
    r"""(?:'((?:[^'\\]|\\.|'')*)'|([A-Za-z0-9_$]+))\s*@\s*'((?:[^'\\]|\\.|'')*)'"""
    r"""|'((?:[^'\\]|\\.|'')*)'\s*@\s*([A-Za-z0-9_$.%-]+)"""
)


def _account_names(sql: str) -> str:
    """Account names quoted as strings (``'app'@'%'``) written with backticks instead.

    An account name is an identifier, not data: masking must not turn it into
    ``?@?``. Clients (and the server_audit log) usually quote it as a string.
    """

    def tick(text: str) -> str:
        return "`" + text.replace("''", "'").replace("`", "``") + "`"

    def repl(m: re.Match[str]) -> str:
        if m.group(3) is not None:
            user = tick(m.group(1)) if m.group(1) is not None else m.group(2)
            return f"{user}@{tick(m.group(3))}"
        return f"{tick(m.group(4))}@{m.group(5)}"

    if "@" not in sql or "\\" in sql:
        return sql  # backslash escapes: leave the text as it is, masking handles it
    return _QUOTED_ACCOUNT.sub(repl, sql)


def _mysql_fallback(sql: str, dialect: str) -> tuple[list[Statement], int]:
    """A MySQL statement sqlglot cannot parse: read it from its tokens if we can."""
    text = mask(_account_names(sql.strip().rstrip(";")), dialect)
    if not text.strip() or not (looks_like_ddl(text) or _MYSQL_SET_ROLE.match(text)):
        return [], 1 if text.strip() else 0
    st = Statement(text=text, command=command_of(text))
    if _mysql_command(sql, st):
        st.refs = list(dict.fromkeys(st.refs))
        return [st], 0
    return _unparsed(sql, dialect)


def _mysql_command(sql: str, st: Statement) -> bool:
    """Fill ``st.refs`` for the statements above; False when this is not one of them."""
    cur = _Cursor(_mysql_tokens(sql[:MAX_STATEMENT_CHARS]))
    add = st.refs.append
    if cur.word("CREATE") or cur.word("ALTER") or cur.word("DROP") or cur.word("RENAME"):
        verb = cur.toks[0].up
        cur.word("OR", "REPLACE")
        while cur.word("DEFINER"):  # CREATE DEFINER = user TRIGGER ...
            cur.punct("=")
            _account(cur, "%")
        if cur.word("USER") or cur.word("ROLE"):
            role = cur.toks[cur.i - 1].up == "ROLE"
            cur.word("IF", "NOT", "EXISTS") or cur.word("IF", "EXISTS")
            host = "" if role else "%"
            if verb == "RENAME":
                while cur.peek() is not None:
                    old = _account(cur, host)
                    cur.word("TO")
                    new = _account(cur, host)
                    for name in old:
                        add(Ref("role", name, (), "drop"))
                    for name in new:
                        add(Ref("role", name, (), "create"))
                    cur.skip_to()
                    if not cur.punct(","):
                        break
                return True
            action = {"CREATE": "create", "DROP": "drop"}.get(verb, "alter")
            if action == "alter":
                paths = _mysql_user_paths(sql)
                for names in _accounts(cur, host, "IDENTIFIED", "REQUIRE", "WITH", "ACCOUNT"):
                    for name in names:
                        for path in paths:
                            add(Ref("role", name, path, "alter"))
                return True
            stops = ("IDENTIFIED", "REQUIRE", "WITH", "ACCOUNT", "PASSWORD")
            for names in _accounts(cur, host, *stops):
                for name in names:
                    add(Ref("role", name, (), action))
            return True
        if verb == "RENAME" and (cur.word("TABLE") or cur.word("TABLES")):
            while cur.peek() is not None:
                src = _mysql_table(cur)
                cur.word("TO")
                dst = _mysql_table(cur)
                if src:
                    add(Ref("relation", src[0], (), "drop", src[1]))
                if dst:
                    add(Ref("relation", dst[0], (), "create", dst[1]))
                cur.skip_to()
                if not cur.punct(","):
                    break
            return bool(st.refs)
        if verb == "ALTER" and (cur.word("DATABASE") or cur.word("SCHEMA")):
            db: str | None = None
            tok = cur.peek()
            if tok is not None and tok.up not in _DB_OPTIONS and tok.kind != "p":
                db = cur.name()
            paths = _mysql_database_paths(cur)
            for path in paths or [()]:
                # No name: the session's current database (qualified=False).
                add(Ref("database", db or "*", path, "alter", db is not None))
            return True
        if verb == "CREATE" and cur.word("TRIGGER"):
            cur.word("IF", "NOT", "EXISTS")
            trigger = _mysql_table(cur)
            while (tok := cur.peek()) is not None and tok.up != "ON":
                cur.i += 1
            if trigger and cur.word("ON"):
                table = _mysql_table(cur)
                if table:
                    tname = trigger[0].rsplit(".", 1)[-1]
                    add(Ref("relation", table[0], ("triggers", tname), "create", table[1]))
                    return True
        return False
    if cur.word("GRANT") or cur.word("REVOKE"):
        _mysql_grant(cur, st)
        return True
    if cur.word("SET", "DEFAULT", "ROLE"):
        cur.skip_to("FOR")
        if cur.word("FOR"):
            for name in _account(cur, None):
                add(Ref("role", name, ("default_role",), "alter"))
        else:
            add(Ref("role", "*", ("default_role",), "alter"))
        return True
    return False


_DB_OPTIONS = frozenset(
    {"DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT", "UPGRADE", "READ", "ENCRYPTION"}
)


def _mysql_database_paths(cur: _Cursor) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    while (tok := cur.peek()) is not None:
        cur.i += 1
        if tok.up in ("CHARACTER", "CHARSET", "COLLATE"):
            # Either one sets both: a character set brings its default collation.
            paths += [("charset",), ("collation",)]
        elif tok.up == "COMMENT":
            paths.append(("comment",))
    return list(dict.fromkeys(paths))


def _mysql_user_paths(sql: str) -> list[tuple[str, ...]]:
    """What ALTER USER changes, as role paths (empty: something we do not model)."""
    upper = " ".join(re.findall(r"[A-Za-z_]+", sql.upper()))
    paths: list[tuple[str, ...]] = []
    if "ACCOUNT LOCK" in upper or "ACCOUNT UNLOCK" in upper:
        paths += [("account_locked",), ("login",)]
    if "PASSWORD EXPIRE" in upper:
        paths.append(("password_expired",))
    if "MAX_USER_CONNECTIONS" in upper:
        paths.append(("connection_limit",))
    if re.search(r"\bIDENTIFIED (?:VIA|WITH)\b", upper):
        paths.append(("auth_plugin",))
    return paths or [()]


def _mysql_table(cur: _Cursor) -> tuple[str, bool] | None:
    first = cur.name()
    if first is None:
        return None
    if cur.punct("."):
        second = cur.name()
        return (f"{first}.{second}", True) if second else (first, False)
    return first, False


def _mysql_grant(cur: _Cursor, st: Statement) -> None:
    """GRANT/REVOKE: privileges on a level, or roles (MariaDB) to accounts."""
    act = "grant" if cur.toks[0].up == "GRANT" else "revoke"
    add = st.refs.append
    # Privileges up to ON (with column lists); none means a role grant.
    privileges_end = None
    depth = 0
    columns: list[str] = []
    for j, tok in enumerate(cur.toks):
        if tok.kind == "p" and tok.text == "(":
            depth += 1
        elif tok.kind == "p" and tok.text == ")":
            depth -= 1
        elif depth > 0 and tok.kind in ("w", "b") and j > 0:
            columns.append(tok.text)
        elif depth == 0 and tok.up == "ON":
            privileges_end = j
            break
        elif depth == 0 and tok.up in ("TO", "FROM"):
            break
    if privileges_end is None:  # GRANT role TO acct / REVOKE role FROM acct / REVOKE ALL ... FROM
        words = [t.up for t in cur.toks[1:4]]
        if words[:1] == ["ALL"]:  # REVOKE ALL PRIVILEGES, GRANT OPTION FROM user
            while (nxt := cur.peek()) is not None and nxt.up != "FROM":
                cur.i += 1
            cur.word("FROM")
            for names in _accounts(cur, None):
                for account in names:
                    add(Ref("role", account, ("grants",), act))
                    add(Ref("relation", "*", ("grants", account), act))
                    add(Ref("relation", "*", ("column_grants",), act))
            return
        roles: list[str] = []
        cur.word("ADMIN", "OPTION", "FOR")
        while (nxt := cur.peek()) is not None and nxt.up not in ("TO", "FROM"):
            if nxt.kind != "p":
                roles.append(nxt.text)
            cur.i += 1
        cur.word("TO") or cur.word("FROM")
        for names in _accounts(cur, None, "WITH"):
            for account in names:
                for role in roles:
                    add(Ref("role", account, ("member_of", role), act))
        if not roles:
            st.dynamic = True
        return
    cur.i = privileges_end + 1
    if cur.word("PROXY") or cur.peek() is None:
        st.dynamic = True  # GRANT PROXY: not in the snapshot
        return
    cur.word("TABLE") or cur.word("FUNCTION") or cur.word("PROCEDURE") or cur.word("PACKAGE")
    level: tuple[str, str | None]  # ("global"|"database"|"table"|"current", name)
    first = cur.peek()
    if first is not None and first.kind == "p" and first.text == "*":
        cur.i += 1
        if cur.punct("."):
            cur.punct("*")
            level = ("global", "*.*")
        else:
            level = ("current", None)  # ON *: the current database
    else:
        schema = cur.name()
        if schema is not None and cur.punct("."):
            if cur.punct("*"):
                level = ("database", f"{schema}.*")
            else:
                level = ("table", f"{schema}.{cur.name() or '*'}")
        else:
            level = ("table", schema or "*")
    cur.skip_to("TO", "FROM")
    cur.word("TO") or cur.word("FROM")
    grantees = [n for names in _accounts(cur, None, "WITH", "IDENTIFIED", "REQUIRE") for n in names]
    scope, target = level
    for grantee in grantees:
        if scope in ("global", "database"):
            add(Ref("role", grantee, ("grants", target or "*.*"), act))
        elif scope == "current":
            add(Ref("role", grantee, ("grants",), act))
        else:
            tname = target or "*"
            qualified = "." in tname
            if columns:
                for column in dict.fromkeys(columns):
                    add(Ref("relation", tname, ("column_grants", column, grantee), act, qualified))
            if not columns or _has_table_privilege(cur.toks[:privileges_end]):
                add(Ref("relation", tname, ("grants", grantee), act, qualified))
            if act == "revoke" and columns:
                # MySQL keeps the table-level GRANT OPTION a column grant brought along.
                add(Ref("relation", tname, ("grants", grantee), act, qualified))


def _has_table_privilege(toks: list[_Tok]) -> bool:
    """A privilege list with at least one privilege that has no column list."""
    depth = 0
    pending = False
    for tok in toks[1:]:
        if tok.kind == "p" and tok.text == "(":
            depth += 1
            pending = False
        elif tok.kind == "p" and tok.text == ")":
            depth -= 1
        elif depth == 0 and tok.kind == "p" and tok.text == ",":
            if pending:
                return True
        elif depth == 0:
            pending = True
    return pending
