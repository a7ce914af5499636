"""Rows into snapshot objects: the kinds assembled from several queries.

Results come in the order of :func:`driftd.collect.postgres.read.queries`, each
step's rows as psycopg named rows. Tables, views and materialized views are
assembled from several steps (columns, constraints, indexes, triggers,
policies, view definitions); triggers wait for the relations they belong to; a
view's definition is filled in when its batch arrives (read last, to hold
their locks briefly). The database and its schemas wait for the default
privileges. Every other kind is one declaration and one query, built by
:func:`driftd.collect.postgres.normalise.declared` (step ``kind:<name>``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from driftd.collect.postgres import acl as acls
from driftd.collect.postgres.normalise import declared
from driftd.kinds import KINDS, make_key

if TYPE_CHECKING:
    from driftd.collect import Target

Obj = dict[str, Any]
Row = Any  # a psycopg namedtuple row
Grants = acls.Grants
DefaultPrivileges = dict[str, dict[str, Grants]]  # {role: {"tables": {grantee: [...]}}}

# -- code → word maps ---------------------------------------------------------------------------

PERSISTENCE = {"p": "permanent", "u": "unlogged", "t": "temporary"}
PARTITION_STRATEGY = {"r": "range", "l": "list", "h": "hash"}
IDENTITY = {"": None, "a": "always", "d": "by default"}
CONSTRAINT_TYPE = {
    "p": "primary_key",
    "u": "unique",
    "f": "foreign_key",
    "c": "check",
    "x": "exclusion",
    "n": "not_null",  # PostgreSQL 18+
}
FK_MATCH = {"f": " MATCH FULL", "p": " MATCH PARTIAL", "s": ""}
FK_ACTION = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
TRIGGER_ENABLED = {"O": "origin", "D": "disabled", "R": "replica", "A": "always"}
POLICY_COMMAND = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
DEFAULT_ACL_OBJECTS = {
    "r": "tables",
    "S": "sequences",
    "f": "functions",
    "T": "types",
    "n": "schemas",
}

# The columns of the two largest results (130k columns on a large catalog): read as plain
# tuples and unpacked by position for speed; the reader checks the query's column names.
COLUMN_FIELDS = (
    "relid", "name", "type", "nullable", "default_expr", "identity", "generated",
    "collation", "comment", "acl", "attnum", "quoted", "statistics", "storage", "compression",
    "identity_options", "local",
)  # fmt: skip
CONSTRAINT_FIELDS = (
    "relid", "name", "contype", "definition", "deferrable", "deferred", "validated", "fast",
    "conkey", "confrelid", "confkey", "match", "on_update", "on_delete", "referenced",
)  # fmt: skip


class Builder:
    """Turns each query's rows into snapshot objects as soon as what they need has arrived."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.server_version = ""
        self.objects: dict[str, Obj] = {}
        self.acl = acls.Acl({})
        self.schemas: list[Row] = []
        self.database: Row = None
        self.db_role_settings: list[Row] = []
        self.relations: dict[int, Obj] = {}  # tables, views and materialized views by OID
        self.views: dict[int, Obj] = {}
        self.triggers: list[Row] = []
        # Quoted column names by table OID and attnum, for the key definitions the
        # builder writes (see FAST_KEY_DEFINITIONS).
        self.quoted: dict[int, dict[int, str]] = {}
        self.conninfo: dict[str, str | None] = {}

    def add(self, name: str, rows: list[Row]) -> None:
        # Dispatch by name (not a dict of bound methods on self: that would be a
        # reference cycle, leaving every object to the cyclic collector to free).
        if name.startswith("kind:"):
            kind = KINDS[name[5:]]
            self.objects.update(declared(kind, rows, self.acl, self.target.wants_role))
            return
        step: Callable[[list[Row]], None] = getattr(self, f"_{name}")
        step(rows)

    def _server(self, rows: list[Row]) -> None:
        self.server_version = rows[0][0]

    def _privileges(self, rows: list[Row]) -> None:
        self.acl = acls.Acl({r.letter: r.privilege for r in rows})

    def _schemas(self, rows: list[Row]) -> None:
        self.schemas = rows

    def _database(self, rows: list[Row]) -> None:
        self.database = rows[0]

    def _db_role_settings(self, rows: list[Row]) -> None:
        self.db_role_settings = rows

    def _default_acls(self, rows: list[Row]) -> None:
        """Default privileges complete the database and the schemas: build those now."""
        global_defaults, schema_defaults = self._default_privileges(rows)
        self._build_database(global_defaults)
        grants = self.acl.grants
        for s in self.schemas:
            self.objects[make_key("schema", s.name)] = {
                "owner": s.owner,
                "comment": s.comment,
                "grants": grants(s.grants),
                "default_privileges": schema_defaults.get(s.oid, {}),
            }

    def _default_privileges(
        self, rows: list[Row]
    ) -> tuple[DefaultPrivileges, dict[int, DefaultPrivileges]]:
        """Global default privileges, and those of each wanted schema by schema OID."""
        wanted = {s.oid for s in self.schemas}
        global_: DefaultPrivileges = {}
        per_schema: dict[int, DefaultPrivileges] = {}
        for r in rows:
            if r.nsp == 0:
                into = global_
            elif r.nsp in wanted:
                into = per_schema.setdefault(r.nsp, {})
            else:
                continue
            into.setdefault(r.role, {})[DEFAULT_ACL_OBJECTS[r.objtype]] = self.acl.grants(r.acl)
        return global_, per_schema

    def _build_database(self, default_privileges: DefaultPrivileges) -> None:
        db = self.database
        settings: dict[str, str] = {}
        role_settings: dict[str, dict[str, str]] = {}
        for r in self.db_role_settings:
            if r.role is None:
                settings = acls.config(r.config)
            elif self.target.wants_role(r.role):
                role_settings[r.role] = acls.config(r.config)
        self.objects[make_key("database", db.name)] = {
            "owner": db.owner,
            "encoding": db.encoding,
            "collation": db.collation,
            "ctype": db.ctype,
            "grants": self.acl.grants(db.grants),
            "settings": settings,
            "role_settings": role_settings,
            "default_privileges": default_privileges,
            "comment": db.comment,
        }

    def _subscription_conninfo(self, rows: list[Row]) -> None:
        for r in rows:
            key = make_key("subscription", r.name)
            if key in self.objects:
                self.objects[key]["conninfo"] = acls.conninfo(r.conninfo)

    def _triggers(self, rows: list[Row]) -> None:
        self.triggers = rows  # attached once the views (the last relations) are built

    def _tables(self, rows: list[Row]) -> None:
        objects, relations, grants = self.objects, self.relations, self.acl.grants
        for r in rows:
            is_partition = r.is_partition
            obj: Obj = {
                "owner": r.owner,
                "persistence": PERSISTENCE[r.persistence],
                "partitioning": (
                    {"strategy": PARTITION_STRATEGY[r.strategy], "key": r.partkey}
                    if r.strategy
                    else None
                ),
                # A partition's parent is its partition_of, not an inheritance parent.
                "partition_of": (
                    {"parent": r.parents[0], "bound": r.bound} if is_partition else None
                ),
                "inherits": [] if is_partition else r.parents,
                "rls": {"enabled": r.rls, "forced": r.rls_forced},
                "comment": r.comment,
                "columns": {},
                "constraints": {},
                "indexes": {},
                "triggers": {},
                "policies": {},
                "grants": grants(r.grants),
                "column_grants": {},
                "options": acls.config(r.options),
                "replica_identity": r.replica_identity,
                "rules": {},
                "access_method": r.access_method,
                "tablespace": r.tablespace,
            }
            if r.is_foreign:
                obj["foreign_server"] = r.server
                obj["foreign_options"] = acls.secret_options(r.foreign_options)
            objects[make_key("table", r.schema, r.name)] = relations[r.oid] = obj

    def _views(self, rows: list[Row]) -> None:
        for r in rows:
            obj: Obj = {
                "definition": None,  # filled in by _view_definitions
                "owner": r.owner,
                "grants": self.acl.grants(r.grants),
                "comment": r.comment,
                "options": acls.config(r.options),
                "column_comments": {},
                "column_grants": {},
            }
            if r.relkind == "m":
                obj["indexes"] = {}
                obj["access_method"] = r.access_method
                obj["tablespace"] = r.tablespace
                self.objects[make_key("materialized_view", r.schema, r.name)] = obj
            else:
                obj["triggers"] = {}  # INSTEAD OF triggers
                obj["rules"] = {}
                self.objects[make_key("view", r.schema, r.name)] = obj
            self.relations[r.oid] = self.views[r.oid] = obj
        # Rows whose relation is not in ``relations`` (an extension's table, a TOAST
        # table) are dropped here and below rather than filtered in every query.
        for t in self.triggers:
            rel = self.relations.get(t.relid)
            if rel is not None and "triggers" in rel:
                rel["triggers"][t.name] = {
                    "definition": t.definition,
                    "enabled": TRIGGER_ENABLED[t.enabled],
                }
        self.triggers = []

    def _view_definitions(self, rows: list[Row]) -> None:
        for r in rows:
            view = self.views.get(r.oid)
            if view is not None:
                view["definition"] = r.definition.strip() if r.definition else r.definition

    def _columns(self, rows: list[Row]) -> None:
        relations, grants, quoted_names = self.relations, self.acl.grants, self.quoted
        for (
            relid,
            name,
            typ,
            nullable,
            default,
            identity,
            generated,
            coll,
            comment,
            acl,
            attnum,
            quoted,
            statistics,
            storage,
            compression,
            identity_options,
            local,
        ) in rows:
            if quoted is not None:  # a table's column (also an extension's: keys may refer to it)
                by_attnum = quoted_names.get(relid)
                if by_attnum is None:
                    by_attnum = quoted_names[relid] = {}
                by_attnum[attnum] = quoted
            rel = relations.get(relid)
            if rel is None:
                continue
            if acl:  # a revoked column ACL is an empty array: nothing to show
                rel["column_grants"][name] = grants(acl)
            if "columns" in rel:
                rel["columns"][name] = {
                    "type": typ,
                    "nullable": nullable,
                    "default": default,
                    "identity": IDENTITY[identity],
                    "identity_options": identity_options,
                    "generated": generated,
                    "collation": coll,
                    "statistics": statistics,
                    "storage": storage,
                    "compression": compression,
                    "local": local,
                    "comment": comment,
                }
            elif comment is not None:
                rel["column_comments"][name] = comment

    def _constraints(self, rows: list[Row]) -> None:
        relations = self.relations
        for (
            relid,
            name,
            contype,
            definition,
            deferrable,
            deferred,
            validated,
            fast,
            conkey,
            confrelid,
            confkey,
            match,
            on_update,
            on_delete,
            referenced,
        ) in rows:
            rel = relations.get(relid)
            if rel is not None and "constraints" in rel:
                if fast:
                    definition = self._key_definition(
                        relid,
                        contype,
                        conkey,
                        (confrelid, referenced, confkey),
                        match,
                        on_update,
                        on_delete,
                    )
                    definition += (
                        (" DEFERRABLE" if deferrable else "")
                        + (" INITIALLY DEFERRED" if deferred else "")
                        + ("" if validated else " NOT VALID")
                    )
                rel["constraints"][name] = {
                    "type": CONSTRAINT_TYPE.get(contype, contype),
                    "definition": definition,
                    "deferrable": deferrable,
                    "deferred": deferred,
                    "validated": validated,
                }
        self.quoted = {}

    def _key_definition(
        self,
        relid: int,
        contype: str,
        conkey: list[int],
        foreign: tuple[int, str, list[int]],  # the referenced table: OID, quoted name, columns
        match: str,
        on_update: str,
        on_delete: str,
    ) -> str:
        """What pg_get_constraintdef says of a primary key, unique constraint or foreign key."""
        columns = ", ".join(self.quoted[relid][n] for n in conkey)
        if contype == "p":
            return f"PRIMARY KEY ({columns})"
        if contype == "u":
            return f"UNIQUE ({columns})"
        confrelid, table, confkey = foreign
        referenced = ", ".join(self.quoted[confrelid][n] for n in confkey)
        out = f"FOREIGN KEY ({columns}) REFERENCES {table}({referenced})"
        out += FK_MATCH[match]
        if on_update != "a":
            out += f" ON UPDATE {FK_ACTION[on_update]}"
        if on_delete != "a":
            out += f" ON DELETE {FK_ACTION[on_delete]}"
        return out

    def _indexes(self, rows: list[Row]) -> None:
        self._named_parts(rows, "indexes", _index)

    def _policies(self, rows: list[Row]) -> None:
        self._named_parts(rows, "policies", _policy)

    def _rules(self, rows: list[Row]) -> None:
        self._named_parts(rows, "rules", _rule)

    def _named_parts(self, rows: list[Row], section: str, shape: Callable[[Row], Obj]) -> None:
        """Each row's part (``shape(row)``) under ``section`` of its relation, by name,
        for the relations that have that section (tables, materialized views)."""
        relations = self.relations
        for r in rows:
            rel = relations.get(r.relid)
            if rel is not None and section in rel:
                rel[section][r.name] = shape(r)


def _index(r: Row) -> Obj:
    return {
        "definition": r.definition,
        "unique": r.is_unique,
        "status": r.status,
        "tablespace": r.tablespace,
    }


def _policy(r: Row) -> Obj:
    return {
        "command": POLICY_COMMAND[r.command],
        "permissive": r.permissive,
        "roles": sorted(r.roles),
        "using": r.using_expr,
        "with_check": r.with_check,
    }


def _rule(r: Row) -> Obj:
    return {"definition": r.definition, "enabled": TRIGGER_ENABLED[r.enabled]}
