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

# Relations share one namespace per schema, so a ref to one matches any of these.
RELATION_KINDS = frozenset({"table", "view", "materialized_view", "sequence", "foreign_table"})

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


def _analyze_other(sql: str, dialect: str) -> tuple[list[Statement], int]:
    if _too_big(sql):
        return _unparsed(sql, dialect)
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    read = {"mariadb": "mysql", "sqlserver": "tsql"}.get(dialect, dialect)
    try:
        trees = sqlglot.parse(sql, read=read, error_level=ErrorLevel.RAISE)
    except Exception:
        return _unparsed(sql, dialect)
    out: list[Statement] = []
    errors = 0
    for tree in trees[:MAX_STATEMENTS]:
        if tree is None:
            continue
        raw = tree.sql(dialect=read)
        text = mask(raw, dialect)
        if not looks_like_ddl(text):
            continue
        st = Statement(text=text, command=command_of(text))
        if isinstance(tree, exp.Command):
            st.parsed = False
            errors += 1
        elif isinstance(tree, exp.Create | exp.Drop):
            _glot_create_drop(tree, st, exp)
        elif isinstance(tree, exp.Alter):
            _glot_alter(tree, st, exp)
        else:
            st.dynamic = True
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


def _glot_create_drop(tree: Any, st: Statement, exp: Any) -> None:
    kind = _GLOT_KINDS.get(str(tree.args.get("kind") or "").upper())
    action = "drop" if isinstance(tree, exp.Drop) else "create"
    if kind is None:
        st.dynamic = True
        return
    if kind == "index" and action == "create":
        index = tree.this
        table = index.args.get("table")
        if table is not None:
            tname, q = _glot_table(table)
            st.refs.append(Ref("relation", tname, ("indexes", index.name), "create", q))
            return
    targets = tree.args.get("tables") or [tree.this]
    for target in targets:
        t = target.this if isinstance(target, exp.Schema) else target
        if isinstance(t, exp.Table):
            tname, q = _glot_table(t)
        elif isinstance(t, exp.UserDefinedFunction):
            tname, q = _glot_table(t.this) if isinstance(t.this, exp.Table) else (t.name, False)
        else:
            tname, q = (t.name if t is not None else "*"), kind in ("schema", "role")
        st.refs.append(Ref(kind, tname, (), action, q))


def _glot_alter(tree: Any, st: Statement, exp: Any) -> None:
    if not isinstance(tree.this, exp.Table):
        st.dynamic = True
        return
    tname, q = _glot_table(tree.this)
    for action in tree.args.get("actions") or []:
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
        else:
            st.refs.append(Ref("relation", tname, (), "alter", q))
