"""PostgreSQL statements, parsed with pglast (the server's own parser)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from driftd.attribute.sqlrefs.model import (
    MAX_STATEMENTS,
    NOT_DDL_NODES,
    RELATION_KINDS,
    Ref,
    Statement,
    command_of,
    too_big,
    unparsed,
)
from driftd.masking import mask

# -- PostgreSQL (pglast) ----------------------------------------------------------


def analyze_pg(sql: str) -> tuple[list[Statement], int]:
    if too_big(sql):
        return unparsed(sql, "postgres")
    from pglast import parser

    out: list[Statement] = []
    errors = 0
    for piece in _split_pg(sql)[:MAX_STATEMENTS]:
        try:
            stmts = parser.parse_sql(piece)
        except Exception:
            kept, bad = unparsed(piece, "postgres")
            out += kept
            errors += bad
            continue
        for raw in stmts:
            node = raw.stmt
            if type(node).__name__ in NOT_DDL_NODES:
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


def _owa(obj: Any, path: tuple[str, ...], action: str, kind: str = "function") -> Ref:
    """A Ref for an ObjectWithArgs (function, procedure, aggregate, operator)."""
    name, qualified = _qualify(obj.objname)
    args = None
    if not obj.args_unspecified:
        args = tuple("NONE" if t is None else _type_name(t) for t in obj.objargs or ())
    return Ref(kind, name, path, action, qualified, args)


def _cast_ref(source: Any, target: Any, action: str) -> Ref:
    """A cast's key has no name, only ``(<source> AS <target>)``."""
    return Ref("cast", "", (), action, True, (f"{_type_name(source)} AS {_type_name(target)}",))


def _objtype_kinds() -> dict[str, str]:
    """pglast ObjectType name → the kind a Ref names, from the kinds registry
    (``Kind.pg_objtypes``); relations share one namespace, indexes belong to tables."""
    from driftd.kinds import KINDS

    out = {"OBJECT_INDEX": "index"}
    for kind in KINDS.values():
        for objtype in kind.pg_objtypes:
            out[objtype] = "relation" if kind.name in RELATION_KINDS else kind.name
    return out


_OBJTYPE_KIND = _objtype_kinds()
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
    "AT_SetTableSpace": ("tablespace",),
    "AT_SetAccessMethod": ("access_method",),
    "AT_AddInherit": ("inherits",),
    "AT_DropInherit": ("inherits",),
    "AT_ReplicaIdentity": ("replica_identity",),
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


Handler = Callable[[Any, Statement, int], None]
# pglast node type name → what the statement touches. A node type not here is a
# statement kind we do not map: it is marked dynamic rather than guessed.
_HANDLERS: dict[str, Handler] = {}
_DATA_ONLY = frozenset({"RefreshMatViewStmt"})


def _on(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            _HANDLERS[name] = fn
        return fn

    return register


def _pg_refs(node: Any, st: Statement, depth: int) -> None:
    name = type(node).__name__
    handler = _HANDLERS.get(name)
    if handler is not None:
        handler(node, st, depth)
    elif name not in _DATA_ONLY:
        st.dynamic = True


def _relation(st: Statement, rv: Any, path: tuple[str, ...], action: str) -> None:
    rel, q = _rangevar(rv)
    st.refs.append(Ref("relation", rel, path, action, q))


@_on("CreateStmt")
def _create_table(node: Any, st: Statement, depth: int) -> None:
    _relation(st, node.relation, (), "create")
    for parent in node.inhRelations or ():
        _relation(st, parent, ("partitioning",), "alter")


@_on("CreateTableAsStmt")
def _create_table_as(node: Any, st: Statement, depth: int) -> None:
    _relation(st, node.into.rel, (), "create")


@_on("ViewStmt")
def _view(node: Any, st: Statement, depth: int) -> None:
    _relation(st, node.view, (), "replace" if node.replace else "create")


@_on("CreateSeqStmt", "AlterSeqStmt")
def _sequence(node: Any, st: Statement, depth: int) -> None:
    create = type(node).__name__ == "CreateSeqStmt"
    _relation(st, node.sequence, (), "create" if create else "alter")


@_on("AlterTableStmt")
def _alter_table(node: Any, st: Statement, depth: int) -> None:
    _pg_alter_table(node, st)


@_on("IndexStmt")
def _index(node: Any, st: Statement, depth: int) -> None:
    path = ("indexes", node.idxname) if node.idxname else ("indexes",)
    _relation(st, node.relation, path, "create")


@_on("RenameStmt")
def _rename(node: Any, st: Statement, depth: int) -> None:
    _pg_rename(node, st)


@_on("DropStmt")
def _drop(node: Any, st: Statement, depth: int) -> None:
    _pg_drop(node, st)


@_on("CreateRoleStmt")
def _create_role(node: Any, st: Statement, depth: int) -> None:
    role = str(node.role)
    st.refs.append(Ref("role", role, (), "create"))
    for opt in node.options or ():
        if opt.defname == "addroleto":
            for parent in _roles(opt.arg):
                st.refs.append(Ref("role", role, ("member_of", parent), "grant"))
        elif opt.defname in ("rolemembers", "adminmembers"):
            for member in _roles(opt.arg):
                st.refs.append(Ref("role", member, ("member_of", role), "grant"))


@_on("AlterRoleStmt")
def _alter_role(node: Any, st: Statement, depth: int) -> None:
    for role in _roles([node.role]):
        paths = [_ROLE_OPTIONS.get(o.defname, "") for o in node.options or ()]
        for p in paths or [""]:
            st.refs.append(Ref("role", role, (p,) if p else (), "alter"))
        for opt in node.options or ():
            if opt.defname == "rolemembers":  # ALTER GROUP g ADD/DROP USER u
                act = "grant" if node.action == 1 else "revoke"
                for member in _roles(opt.arg):
                    st.refs.append(Ref("role", member, ("member_of", role), act))


@_on("AlterRoleSetStmt")
def _alter_role_set(node: Any, st: Statement, depth: int) -> None:
    roles = list(_roles([node.role])) if node.role else ["*"]
    setting = node.setstmt.name if node.setstmt and node.setstmt.name else None
    for role in roles:
        st.refs.append(Ref("role", role, ("config", setting) if setting else ("config",), "alter"))


@_on("DropRoleStmt")
def _drop_role(node: Any, st: Statement, depth: int) -> None:
    for role in _roles(node.roles):
        st.refs.append(Ref("role", role, (), "drop"))


@_on("GrantRoleStmt")
def _grant_role(node: Any, st: Statement, depth: int) -> None:
    act = "grant" if node.is_grant else "revoke"
    for granted in node.granted_roles or ():
        for grantee in _roles(node.grantee_roles):
            st.refs.append(Ref("role", grantee, ("member_of", str(granted.priv_name)), act))


@_on("GrantStmt")
def _grant(node: Any, st: Statement, depth: int) -> None:
    _pg_grant(node, st, schemas=None)


@_on("AlterDefaultPrivilegesStmt")
def _default_privileges(node: Any, st: Statement, depth: int) -> None:
    schemas: list[str] = []
    for opt in node.options or ():
        if opt.defname == "schemas":
            schemas += [_s(s) for s in opt.arg]
    _pg_grant(node.action, st, schemas=schemas or ["*"])


@_on("AlterOwnerStmt")
def _owner(node: Any, st: Statement, depth: int) -> None:
    _pg_object(node.objectType, node.object, ("owner",), "alter", st)


@_on("CommentStmt")
def _comment(node: Any, st: Statement, depth: int) -> None:
    if _enum(node.objtype) == "OBJECT_COLUMN":
        parts = [_s(p) for p in node.object]
        rel, q = _qualify(parts[:-1])
        st.refs.append(Ref("relation", rel, ("columns", parts[-1], "comment"), "alter", q))
    else:
        _pg_object(node.objtype, node.object, ("comment",), "alter", st)


@_on("CreateFunctionStmt")
def _create_function(node: Any, st: Statement, depth: int) -> None:
    fname, q = _qualify(node.funcname)
    act = "replace" if node.replace else "create"
    st.refs.append(Ref("function", fname, (), act, q, _func_args(node.parameters)))


@_on("AlterFunctionStmt")
def _alter_function(node: Any, st: Statement, depth: int) -> None:
    for act in node.actions or ():
        st.refs.append(_owa(node.func, _FUNCTION_OPTIONS.get(act.defname, ()), "alter"))


@_on("CreateSchemaStmt")
def _create_schema(node: Any, st: Statement, depth: int) -> None:
    schema = node.schemaname or next(_roles([node.authrole]), "*")
    st.refs.append(Ref("schema", schema, (), "create"))
    for elt in node.schemaElts or ():
        _pg_refs(elt, st, depth + 1)


@_on("CreateExtensionStmt", "AlterExtensionStmt")
def _extension(node: Any, st: Statement, depth: int) -> None:
    alter = type(node).__name__ == "AlterExtensionStmt"
    path = ("version",) if alter else ()
    st.refs.append(Ref("extension", node.extname, path, "alter" if alter else "create"))


@_on("AlterExtensionContentsStmt")
def _extension_contents(node: Any, st: Statement, depth: int) -> None:
    st.refs.append(Ref("extension", node.extname, (), "alter"))


@_on("CreateTrigStmt")
def _trigger(node: Any, st: Statement, depth: int) -> None:
    _relation(st, node.relation, ("triggers", node.trigname), "create")


@_on("CreatePolicyStmt", "AlterPolicyStmt")
def _policy(node: Any, st: Statement, depth: int) -> None:
    act = "create" if type(node).__name__ == "CreatePolicyStmt" else "alter"
    _relation(st, node.table, ("policies", node.policy_name), act)


@_on("CreateEnumStmt", "CreateDomainStmt", "CreateRangeStmt")
def _create_type(node: Any, st: Statement, depth: int) -> None:
    tn = node.typeName
    tname, q = _qualify(tn if isinstance(tn, tuple) else tn.names)
    st.refs.append(Ref("type", tname, (), "create", q))


@_on("CompositeTypeStmt")
def _create_composite(node: Any, st: Statement, depth: int) -> None:
    tname, q = _rangevar(node.typevar)
    st.refs.append(Ref("type", tname, (), "create", q))


@_on("AlterEnumStmt", "AlterDomainStmt", "AlterTypeStmt")
def _alter_type(node: Any, st: Statement, depth: int) -> None:
    tname, q = _qualify(node.typeName)
    st.refs.append(Ref("type", tname, (), "alter", q))


@_on("AlterSystemStmt")
def _alter_system(node: Any, st: Statement, depth: int) -> None:
    setting = node.setstmt.name if node.setstmt else None
    st.refs.append(Ref("setting", setting or "*", (), "alter"))


@_on("AlterDatabaseSetStmt")
def _database_set(node: Any, st: Statement, depth: int) -> None:
    setting = node.setstmt.name if node.setstmt and node.setstmt.name else None
    path = ("settings", setting) if setting else ("settings",)
    st.refs.append(Ref("database", node.dbname, path))


@_on("AlterDatabaseStmt", "AlterDatabaseRefreshCollStmt")
def _alter_database(node: Any, st: Statement, depth: int) -> None:
    st.refs.append(Ref("database", node.dbname, (), "alter"))


@_on("CreatedbStmt")
def _create_database(node: Any, st: Statement, depth: int) -> None:
    st.refs.append(Ref("database", node.dbname, (), "create"))


@_on("DropdbStmt")
def _drop_database(node: Any, st: Statement, depth: int) -> None:
    st.refs.append(Ref("database", node.dbname, (), "drop"))


@_on("ReassignOwnedStmt")
def _reassign_owned(node: Any, st: Statement, depth: int) -> None:
    st.refs.append(Ref("*", "*", ("owner",), "alter"))


@_on("DropOwnedStmt")
def _drop_owned(node: Any, st: Statement, depth: int) -> None:
    st.dynamic = True  # drops and revokes whatever the roles own: unknown objects


@_on("DoStmt")
def _do(node: Any, st: Statement, depth: int) -> None:
    _pg_do(node, st, depth)


@_on("RuleStmt")
def _rule(node: Any, st: Statement, depth: int) -> None:
    _relation(st, node.relation, ("rules", node.rulename), "create")


@_on("SecLabelStmt")
def _security_label(node: Any, st: Statement, depth: int) -> None:
    _pg_object(node.objtype, node.object, ("security_labels",), "alter", st)


@_on("CreateForeignTableStmt")
def _create_foreign_table(node: Any, st: Statement, depth: int) -> None:
    _relation(st, node.base.relation, (), "create")


@_on("DefineStmt")
def _define(node: Any, st: Statement, depth: int) -> None:
    """CREATE AGGREGATE / OPERATOR / COLLATION / TEXT SEARCH ... / TYPE (base)."""
    kind = _OBJTYPE_KIND.get(_enum(node.kind))
    if kind is None:
        st.dynamic = True
        return
    name, q = _qualify(node.defnames)
    args: tuple[str, ...] | None = None
    if kind == "operator":
        operands = {d.defname: d.arg for d in node.definition or ()}
        args = tuple(
            _type_name(operands[side]) if side in operands else "NONE"
            for side in ("leftarg", "rightarg")
        )
    elif kind == "function" and node.args:
        args = _func_args(node.args[0])
    st.refs.append(Ref(kind, name, (), "replace" if node.replace else "create", q, args))


@_on("AlterOperatorStmt")
def _alter_operator(node: Any, st: Statement, depth: int) -> None:
    st.refs.append(_owa(node.opername, (), "alter", "operator"))


@_on("CreateCastStmt")
def _create_cast(node: Any, st: Statement, depth: int) -> None:
    st.refs.append(_cast_ref(node.sourcetype, node.targettype, "create"))


@_on("CreateOpClassStmt", "CreateOpFamilyStmt", "AlterOpFamilyStmt")
def _operator_class(node: Any, st: Statement, depth: int) -> None:
    statement = type(node).__name__
    kind = "operator_class" if statement == "CreateOpClassStmt" else "operator_family"
    parts = node.opclassname if kind == "operator_class" else node.opfamilyname
    name, q = _qualify(parts)
    action = "alter" if statement == "AlterOpFamilyStmt" else "create"
    st.refs.append(Ref(kind, name, (), action, q, (str(node.amname),)))


def _verb(statement: str) -> str:
    """``create``, ``alter`` or ``drop``: how a node type's name begins."""
    return next(v for v in ("create", "alter", "drop") if statement.lower().startswith(v))


# Statements naming one object by a plain or qualified name, per kind: the node's name
# field and the statements (each one's action is its verb: Create, Alter or Drop).
_NAMED_BY_KIND: dict[str, tuple[str, tuple[str, ...]]] = {
    "text_search_dictionary": ("dictname", ("AlterTSDictionaryStmt",)),
    "text_search_config": ("cfgname", ("AlterTSConfigurationStmt",)),
    "tablespace": (
        "tablespacename",
        ("CreateTableSpaceStmt", "DropTableSpaceStmt", "AlterTableSpaceOptionsStmt"),
    ),
    "foreign_data_wrapper": ("fdwname", ("CreateFdwStmt", "AlterFdwStmt")),
    "access_method": ("amname", ("CreateAmStmt",)),
    "publication": ("pubname", ("CreatePublicationStmt", "AlterPublicationStmt")),
    "subscription": (
        "subname",
        ("CreateSubscriptionStmt", "AlterSubscriptionStmt", "DropSubscriptionStmt"),
    ),
    "foreign_server": ("servername", ("CreateForeignServerStmt", "AlterForeignServerStmt")),
    "event_trigger": ("trigname", ("CreateEventTrigStmt", "AlterEventTrigStmt")),
    "statistics": ("defnames", ("CreateStatsStmt", "AlterStatsStmt")),
    "collation": ("collname", ("AlterCollationStmt",)),
}
# The one section some of them change.
_NAMED_PATHS: dict[str, tuple[str, ...]] = {
    "AlterTableSpaceOptionsStmt": ("options",),
    "AlterForeignServerStmt": ("options",),
    "AlterEventTrigStmt": ("enabled",),
}
# Node type → (kind, name field, action, path).
_NAMED: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    statement: (kind, attr, _verb(statement), _NAMED_PATHS.get(statement, ()))
    for kind, (attr, statements) in _NAMED_BY_KIND.items()
    for statement in statements
}


@_on(*_NAMED)
def _named(node: Any, st: Statement, depth: int) -> None:
    kind, attr, action, path = _NAMED[type(node).__name__]
    value = getattr(node, attr)
    if isinstance(value, tuple | list):
        name, q = _qualify(value)
    else:
        name, q = str(value), True
    st.refs.append(Ref(kind, name, path, action, q))


_USER_MAPPING_ACTIONS = {
    "CreateUserMappingStmt": "create",
    "AlterUserMappingStmt": "alter",
    "DropUserMappingStmt": "drop",
}


@_on(*_USER_MAPPING_ACTIONS)
def _user_mapping(node: Any, st: Statement, depth: int) -> None:
    # Keyed user_mapping:<server>.<user>; PUBLIC is the mapping for every role.
    for user in _roles([node.user]):
        name = f"{node.servername}.{user}"
        st.refs.append(Ref("user_mapping", name, (), _USER_MAPPING_ACTIONS[type(node).__name__]))


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
    elif kind in ("function", "operator") and hasattr(obj, "objname"):
        st.refs.append(_owa(obj, path, action, kind))
    elif kind == "cast" and isinstance(obj, tuple) and len(obj) == 2:
        st.refs.append(_cast_ref(obj[0], obj[1], action))
    elif kind in ("operator_class", "operator_family") and isinstance(obj, tuple):
        name, q = _qualify(obj[1:])  # (access method, [schema,] name)
        st.refs.append(Ref(kind, name, path, action, q, (_s(obj[0]),)))
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
    if body is None or language.lower() != "plpgsql" or depth > 2 or too_big(body):
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
            if type(raw.stmt).__name__ not in NOT_DDL_NODES:
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
