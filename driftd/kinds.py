"""The object kinds of a snapshot, each declared once, and the object keys.

Every kind of object a snapshot can hold is one :class:`Kind` in :data:`KINDS`:
its key format (how many name parts, whether it carries identity arguments),
the engines whose collectors produce it, its default severity hints and its
row of docs/objects.md. The PostgreSQL collector reads the kinds that declare
``pg_query``: one SQL file ``driftd/collect/postgres/sql/<pg_query>.sql`` whose
named columns are the key parts and the object's fields (see
:mod:`driftd.collect.postgres.normalise`). Adding such a kind is this one
declaration and that one SQL file; tests and the docs table follow from here.

Keys (shared/design.md): ``<kind>:<part>.<part>`` with each name part written
raw unless it contains ``.``, ``"``, ``(``, ``)``, ``,`` or a control
character, in which case it is double-quoted with inner ``"`` doubled; a
function's key ends with ``(<identity args>)`` (an operator's with its operand
types, an operator class's or family's with its access method), and a cast's
key is that alone: ``cast:(<source> AS <target>)``. So ``table:"dot.a".b`` and
``table:dot."a.b"`` are two tables. :func:`make_key` writes a key,
:func:`parse_key` reads one back, :func:`migrate_key` turns a key written raw
by driftd before this rule into today's.

This module imports nothing but the standard library: anything may use it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "KINDS",
    "Key",
    "KeyError_",
    "Kind",
    "default_severity",
    "display_name",
    "kind_of",
    "make_key",
    "migrate_key",
    "migrate_keys",
    "parse_key",
    "quote_part",
]

ENGINES = ("postgresql", "mysql", "sqlite", "sqlalchemy")

# -- the quoting rule ----------------------------------------------------------------------------

# A name part is quoted when it holds one of these (C0/C1 control characters included).
_NEEDS_QUOTES = re.compile(r'[.",()\x00-\x1f\x7f-\x9f]')


class KeyError_(ValueError):  # not the builtin KeyError: a malformed key
    """A string that is not an object key under the quoting rule."""


class Key(NamedTuple):
    """A parsed object key: ``function:app."a.b"(x integer)`` is
    ``Key("function", ("app", "a.b"), "x integer")``."""

    kind: str
    parts: tuple[str, ...]
    args: str | None = None

    def __str__(self) -> str:
        return make_key(self.kind, *self.parts, args=self.args)


def quote_part(part: str) -> str:
    """One name part as it is written in a key."""
    if _NEEDS_QUOTES.search(part) is None:
        return part
    return '"' + part.replace('"', '""') + '"'


def make_key(kind: str, *parts: str, args: str | None = None) -> str:
    """The key of an object: ``make_key("table", "dot.a", "b") == 'table:"dot.a".b'``.

    ``args`` is a function's identity argument list (without parentheses); it is
    kept as the server prints it.
    """
    name = ".".join([quote_part(p) for p in parts])
    return f"{kind}:{name}" if args is None else f"{kind}:{name}({args})"


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """The quoted part starting at ``text[pos] == '"'``: its value and the index past it."""
    out: list[str] = []
    i = pos + 1
    while True:
        close = text.find('"', i)
        if close < 0:
            raise KeyError_(f"unbalanced double quote in {text!r}")
        out.append(text[i:close])
        if text.startswith('""', close):
            out.append('"')
            i = close + 2
        else:
            return "".join(out), close + 1


_RAW_STOP = re.compile(r'[.",()\x00-\x1f\x7f-\x9f]')


def _split_parts(kind: str, name: str) -> tuple[tuple[str, ...], str | None]:
    parts: list[str] = []
    i, n = 0, len(name)
    while True:
        if i < n and name[i] == '"':
            part, i = _read_quoted(name, i)
        else:
            m = _RAW_STOP.search(name, i)
            end = n if m is None else m.start()
            part, i = name[i:end], end
        parts.append(part)
        if i == n:
            return tuple(parts), None
        c = name[i]
        if c == ".":
            i += 1
            continue
        if c == "(" and name.endswith(")"):
            return tuple(parts), name[i + 1 : -1]
        raise KeyError_(f"unexpected {c!r} at position {i + len(kind) + 1} of {kind}:{name!r}")


def parse_key(key: str) -> Key:
    """Read a key back into its kind, name parts and identity arguments.

    Raises :class:`KeyError_` for a string that is not a well-formed key, or
    whose shape does not match its kind's declaration (a table key has two
    parts, a function key arguments).
    """
    kind, sep, name = key.partition(":")
    if not sep or not kind:
        raise KeyError_(f"{key!r} is not an object key (<kind>:<name>)")
    parts, args = _split_parts(kind, name)
    declared = KINDS.get(kind)
    if declared is not None:
        if not declared.parts and parts == ("",):  # cast:(<source> AS <target>)
            parts = ()
        if len(parts) != len(declared.parts):
            raise KeyError_(
                f"{key!r}: a {kind} key has {len(declared.parts)} name part(s) "
                f"({'.'.join(declared.parts)}), not {len(parts)}"
            )
        if (args is not None) != declared.args:
            raise KeyError_(
                f"{key!r}: a {kind} key "
                + ("ends with (<identity args>)" if declared.args else "has no (arguments)")
            )
    return Key(kind, parts, args)


def kind_of(key: str) -> str:
    """The kind of a key (no parsing beyond the first ``:``)."""
    return key.partition(":")[0]


def display_name(key: str) -> str:
    """The name of a key without its kind, as written in the key (quotes included)."""
    return key.partition(":")[2]


def is_canonical(key: str) -> bool:
    """Whether ``key`` is well formed and written exactly as :func:`make_key` writes it."""
    try:
        return str(parse_key(key)) == key
    except KeyError_:
        return False


def migrate_key(key: str) -> str:
    """The key under today's quoting rule of a key that driftd may have written before it.

    Before the rule, name parts were joined raw with ``.``. A key that is
    already well formed and canonical is returned as is. Otherwise it is read
    the old way: it is re-keyed when only one split into its kind's name parts
    exists, and :class:`KeyError_` says it is ambiguous when several do (then
    the baseline must be accepted again).
    """
    if is_canonical(key):
        return key
    kind, sep, name = key.partition(":")
    declared = KINDS.get(kind)
    if not sep or declared is None:
        raise KeyError_(f"{key!r} is not an object key of a known kind")
    args: str | None = None
    if declared.args:
        if not name.endswith(")") or "(" not in name:
            raise KeyError_(f"{key!r}: a {kind} key ends with (<identity args>)")
        name, _, rest = name.partition("(")
        args = rest[:-1]
    want = len(declared.parts)
    pieces = name.split(".")
    if want == 0:
        parts: tuple[str, ...] = ()
    elif want == 1:
        parts = (name,)
    elif len(pieces) == want:
        parts = tuple(pieces)
    else:
        raise KeyError_(
            f"{key!r} was written before object keys were quoted and names "
            f"{len(pieces) - 1} dot(s) where a {kind} key has {want - 1}: which "
            "object it meant cannot be told"
        )
    return make_key(kind, *parts, args=args)


_PLAIN_KEY = re.compile(r'[^:]+:[^.",()\x00-\x1f\x7f-\x9f]*(?:\.[^.",()\x00-\x1f\x7f-\x9f]*)*')


def migrate_keys(keys: Iterable[str]) -> dict[str, str]:
    """``{old: new}`` for the keys of a document that :func:`migrate_key` changes.

    Keys of plain names (nearly all) are checked with one regular expression.
    Raises :class:`KeyError_` for a key that cannot be migrated, and when two
    keys would become one.
    """
    changed: dict[str, str] = {}
    plain = _PLAIN_KEY.fullmatch
    seen: dict[str, str] = {}  # new key -> the key it came from
    for key in keys:
        new = key
        declared = KINDS.get(key.partition(":")[0])
        if plain(key) is None or (
            declared is not None and (declared.args or key.count(".") != len(declared.parts) - 1)
        ):
            new = migrate_key(key)
        if new in seen:
            raise KeyError_(f"{seen[new]!r} and {key!r} name the same object ({new})")
        seen[new] = key
        if new != key:
            changed[key] = new
    return changed


# -- the kinds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of snapshot object, declared once.

    - ``parts``: the names of the key's name parts (``("schema", "name")``; none
      for a cast); ``args``: the key ends with ``(<args_name>)``, the identity
      arguments of a function (an operator's operand types, an operator class's
      access method, a cast's ``<source> AS <target>``).
    - ``engines``: the collectors that produce it.
    - ``description`` / ``fields``: its row of docs/objects.md.
    - ``severity``: default severity hints, ``{"<change>" or "<change>:<path glob>":
      severity}`` (change is added, removed or modified; ``*`` for any).
    - ``pg_query``: PostgreSQL only: the SQL file (``sql/<pg_query>.sql`` of the
      PostgreSQL collector; by default the kind's name) whose rows are objects of
      this kind. Its columns are
      named after the key parts (and ``args``) and the fields; ``pg_transforms``
      maps a field to how its value is normalised (``grants``, ``config``,
      ``secret_options``, ``conninfo``, ``setting_value``, ``sorted``, or ``spread``: the column is
      a JSON map whose entries become fields, for fields only some objects of
      the kind have). Codes are turned into words in the SQL (``CASE``).
    - ``pg_builtin``: the object is assembled from several queries (a table from
      its columns, constraints, indexes, ...) by hand-written code in the
      collector, ``pg_query`` being the main query's file.
    - ``pg_min_version``: oldest server (``server_version_num``) whose catalog has it;
      older servers do not report the kind.
    - ``pg_role_column``: a column naming a role; rows whose role the environment
      does not want (its ``roles`` globs) are left out, as the roles themselves are.
    - ``cluster_wide``: the same objects in every database of a cluster.
    - ``pg_statements``: the PostgreSQL statements (pglast node names) that create
      or change it, and ``pg_objtypes``: the ``ObjectType`` names by which DROP,
      ALTER ... OWNER, RENAME, COMMENT and GRANT name it. Attribution
      (:mod:`driftd.attribute.sqlrefs.postgres`) is derived from these: a test
      fails when a statement has no handler there.
    """

    name: str
    parts: tuple[str, ...]
    description: str
    fields: tuple[str, ...]
    engines: frozenset[str]
    args: bool = False
    severity: Mapping[str, str] = field(default_factory=dict)
    pg_query: str | None = None
    pg_transforms: Mapping[str, str] = field(default_factory=dict)
    pg_builtin: bool = False
    pg_min_version: int = 0
    cluster_wide: bool = False
    pg_statements: tuple[str, ...] = ()
    pg_objtypes: tuple[str, ...] = ()
    pg_role_column: str | None = None
    args_name: str = "identity args"

    def __post_init__(self) -> None:
        if self.pg_query is None and "postgresql" in self.engines:
            object.__setattr__(self, "pg_query", self.name)

    @property
    def key_format(self) -> str:
        name = ".".join(f"<{p}>" for p in self.parts)
        return f"{self.name}:{name}(<{self.args_name}>)" if self.args else f"{self.name}:{name}"


PG = frozenset({"postgresql"})
ALL = frozenset(ENGINES)
RELATIONAL = frozenset({"postgresql", "mysql", "sqlite", "sqlalchemy"})


def _words(text: str) -> tuple[str, ...]:
    """A declaration's list of names, written as one line: ``"owner grants comment"``."""
    return tuple(text.split())


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    out: dict[str, Kind] = {}
    for k in kinds:
        if k.name in out:
            raise ValueError(f"kind {k.name} declared twice")
        out[k.name] = k
    return out


KINDS: dict[str, Kind] = _kinds(
    Kind(
        "database",
        ("name",),
        "The database driftd reads (SQLite: `main`; MySQL: each watched database).",
        _words(
            "owner encoding collation ctype grants settings role_settings "
            "default_privileges comment"
        ),
        frozenset({"postgresql", "mysql", "sqlite"}),
        pg_builtin=True,
        pg_statements=_words(
            "CreatedbStmt AlterDatabaseStmt AlterDatabaseSetStmt "
            "AlterDatabaseRefreshCollStmt DropdbStmt"
        ),
        pg_objtypes=("OBJECT_DATABASE",),
    ),
    Kind(
        "schema",
        ("name",),
        "A schema (namespace).",
        _words("owner comment grants default_privileges"),
        PG,
        pg_builtin=True,
        pg_statements=_words("CreateSchemaStmt"),
        pg_objtypes=("OBJECT_SCHEMA",),
    ),
    Kind(
        "table",
        ("schema", "name"),
        "Ordinary, partitioned and foreign tables, with their columns, constraints, "
        "indexes, triggers, policies and grants.",
        _words(
            "owner persistence partitioning partition_of inherits rls comment columns "
            "constraints indexes triggers policies grants column_grants options "
            "foreign_server foreign_options replica_identity rules access_method tablespace"
        ),
        RELATIONAL,
        # Planner and storage details: they change no data and no access.
        severity={
            "modified:columns.*.statistics": "low",
            "modified:columns.*.storage": "low",
            "modified:columns.*.compression": "low",
            "modified:columns.*.local": "low",
            "modified:access_method": "low",
            "modified:tablespace": "low",
            "modified:indexes.*.tablespace": "low",
        },
        pg_builtin=True,
        pg_statements=_words(
            "CreateStmt CreateTableAsStmt AlterTableStmt IndexStmt CreateTrigStmt "
            "CreatePolicyStmt AlterPolicyStmt RuleStmt CreateForeignTableStmt"
        ),
        pg_objtypes=("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"),
    ),
    Kind(
        "view",
        ("schema", "name"),
        "A view: its normalized definition.",
        _words(
            "definition owner grants comment options column_comments column_grants triggers rules"
        ),
        RELATIONAL,
        pg_builtin=True,
        pg_statements=_words("ViewStmt"),
        pg_objtypes=("OBJECT_VIEW",),
    ),
    Kind(
        "materialized_view",
        ("schema", "name"),
        "A materialized view: its definition and indexes (not its data).",
        _words(
            "definition owner grants comment options column_comments column_grants indexes "
            "access_method tablespace"
        ),
        PG,
        # Where and how its rows are stored, as for tables.
        severity={
            "modified:access_method": "low",
            "modified:tablespace": "low",
            "modified:indexes.*.tablespace": "low",
        },
        pg_query="view",
        pg_builtin=True,
        pg_statements=_words("CreateTableAsStmt"),
        pg_objtypes=("OBJECT_MATVIEW",),
    ),
    Kind(
        "sequence",
        ("schema", "name"),
        "A sequence's definition (never its current value).",
        _words("data_type start increment min max cache cycle owned_by owner grants comment"),
        frozenset({"postgresql", "mysql"}),
        pg_transforms={"grants": "grants"},
        pg_statements=_words("CreateSeqStmt AlterSeqStmt"),
        pg_objtypes=("OBJECT_SEQUENCE",),
    ),
    Kind(
        "function",
        ("schema", "name"),
        "Functions, procedures, aggregates and window functions; overloads are separate "
        "(MySQL/MariaDB: stored procedures and functions, keyed by their parameters).",
        _words(
            "kind returns language definition volatility strict security_definer leakproof "
            "parallel config owner grants comment deterministic data_access definer"
        ),
        frozenset({"postgresql", "mysql"}),
        args=True,
        # SECURITY DEFINER is rated by the built-in security-definer rule.
        pg_transforms={"config": "config", "grants": "grants"},
        pg_statements=_words("CreateFunctionStmt AlterFunctionStmt DefineStmt"),
        pg_objtypes=("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE", "OBJECT_AGGREGATE"),
    ),
    Kind(
        "type",
        ("schema", "name"),
        "Enum, domain, composite and range types.",
        _words(
            "kind labels base_type not_null default collation constraints attributes "
            "subtype owner grants comment"
        ),
        PG,
        pg_transforms={"details": "spread", "grants": "grants"},
        pg_statements=_words(
            "CreateEnumStmt CreateDomainStmt CreateRangeStmt CompositeTypeStmt "
            "AlterEnumStmt AlterDomainStmt AlterTypeStmt DefineStmt"
        ),
        pg_objtypes=("OBJECT_TYPE", "OBJECT_DOMAIN"),
    ),
    Kind(
        "collation",
        ("schema", "name"),
        "A collation created in the database (`CREATE COLLATION`).",
        _words("provider locale ctype icu_rules deterministic owner comment"),
        PG,
        pg_statements=_words("DefineStmt AlterCollationStmt"),
        pg_objtypes=("OBJECT_COLLATION",),
    ),
    Kind(
        "statistics",
        ("schema", "name"),
        "An extended statistics object (`CREATE STATISTICS`): its definition, not its data.",
        _words("definition target owner comment"),
        PG,
        # Only the planner reads them, as it reads an index (index-added is low too).
        severity={"added": "low", "modified": "low"},
        pg_statements=_words("CreateStatsStmt AlterStatsStmt"),
        pg_objtypes=("OBJECT_STATISTIC_EXT",),
    ),
    Kind(
        "access_method",
        ("name",),
        "A table or index access method created in the database (`CREATE ACCESS METHOD`).",
        _words("type handler comment"),
        PG,
        # Its handler is C code that stores and reads every row of the tables using it.
        severity={"added": "high", "modified:handler": "high"},
        pg_statements=_words("CreateAmStmt"),
        pg_objtypes=("OBJECT_ACCESS_METHOD",),
    ),
    Kind(
        "cast",
        (),
        "A cast created in the database (`CREATE CAST`), keyed by its source and target types.",
        _words("method function context comment"),
        PG,
        args=True,
        args_name="source AS target",
        pg_statements=_words("CreateCastStmt"),
        pg_objtypes=("OBJECT_CAST",),
    ),
    Kind(
        "operator",
        ("schema", "name"),
        "An operator (`CREATE OPERATOR`), keyed by its operand types (`NONE` for a prefix "
        "operator's left).",
        _words("result function commutator negator restrict join hashes merges owner comment"),
        PG,
        args=True,
        args_name="left, right",
        pg_statements=_words("DefineStmt AlterOperatorStmt"),
        pg_objtypes=("OBJECT_OPERATOR",),
    ),
    Kind(
        "operator_class",
        ("schema", "name"),
        "An operator class (`CREATE OPERATOR CLASS`), keyed by its index access method; "
        "its operators and functions are on its family.",
        _words("type default family storage owner comment"),
        PG,
        args=True,
        args_name="access method",
        pg_statements=_words("CreateOpClassStmt"),
        pg_objtypes=("OBJECT_OPCLASS",),
    ),
    Kind(
        "operator_family",
        ("schema", "name"),
        "An operator family, keyed by its index access method: every operator and support "
        "function of its classes and those added by `ALTER OPERATOR FAMILY`.",
        _words("operators functions owner comment"),
        PG,
        args=True,
        args_name="access method",
        pg_statements=_words("CreateOpFamilyStmt AlterOpFamilyStmt"),
        pg_objtypes=("OBJECT_OPFAMILY",),
    ),
    Kind(
        "text_search_config",
        ("schema", "name"),
        "A text search configuration: its parser and which dictionaries each token type uses.",
        _words("parser mappings owner comment"),
        PG,
        pg_statements=_words("DefineStmt AlterTSConfigurationStmt"),
        pg_objtypes=("OBJECT_TSCONFIGURATION",),
    ),
    Kind(
        "text_search_dictionary",
        ("schema", "name"),
        "A text search dictionary: its template and options.",
        _words("template options owner comment"),
        PG,
        pg_statements=_words("DefineStmt AlterTSDictionaryStmt"),
        pg_objtypes=("OBJECT_TSDICTIONARY",),
    ),
    Kind(
        "event_trigger",
        ("name",),
        "An event trigger: a function run on DDL (`ddl_command_start`, `sql_drop`, ...).",
        _words("event function tags enabled owner comment"),
        PG,
        # It runs (usually as a superuser's function) on every matching DDL of every role.
        severity={"added": "high", "modified:function": "high", "modified:enabled": "high"},
        pg_transforms={"tags": "sorted"},
        pg_statements=_words("CreateEventTrigStmt AlterEventTrigStmt"),
        pg_objtypes=("OBJECT_EVENT_TRIGGER",),
    ),
    Kind(
        "extension",
        ("name",),
        "An installed extension (its own objects are left out).",
        _words("version schema"),
        PG,
        pg_statements=_words("CreateExtensionStmt AlterExtensionStmt AlterExtensionContentsStmt"),
        pg_objtypes=("OBJECT_EXTENSION",),
    ),
    Kind(
        "event",
        ("schema", "name"),
        "A MySQL/MariaDB scheduled event: its schedule, status, body and definer.",
        _words("definition schedule ends status on_completion definer comment"),
        frozenset({"mysql"}),
    ),
    Kind(
        "role",
        ("name",),
        "A role (MySQL/MariaDB: an account `user@host` or a role); never a password.",
        _words(
            "superuser createdb createrole login replication bypassrls inherit "
            "connection_limit valid_until config member_of comment"
        ),
        frozenset({"postgresql", "mysql"}),
        pg_transforms={"config": "config"},
        pg_role_column="name",
        cluster_wide=True,
        pg_statements=_words(
            "CreateRoleStmt AlterRoleStmt AlterRoleSetStmt DropRoleStmt GrantRoleStmt"
        ),
        pg_objtypes=("OBJECT_ROLE",),
    ),
    Kind(
        "setting",
        ("name",),
        "A server parameter set on purpose (configuration file, command line, environment).",
        _words("value source"),
        PG,
        pg_transforms={"value": "setting_value"},
        cluster_wide=True,
        pg_statements=_words("AlterSystemStmt"),
        pg_objtypes=("OBJECT_PARAMETER_ACL",),
    ),
    Kind(
        "tablespace",
        ("name",),
        "A tablespace (cluster-wide; those owned by a wanted role), not `pg_default`/`pg_global`.",
        _words("location owner options grants comment"),
        PG,
        pg_transforms={"options": "config", "grants": "grants"},
        pg_role_column="owner",
        cluster_wide=True,
        pg_statements=_words("CreateTableSpaceStmt DropTableSpaceStmt AlterTableSpaceOptionsStmt"),
        pg_objtypes=("OBJECT_TABLESPACE",),
    ),
    Kind(
        "publication",
        ("name",),
        "A logical replication publication: what leaves the database.",
        _words("owner all_tables publish publish_via_partition_root tables schemas comment"),
        PG,
        severity={
            "added": "high",
            "modified:all_tables": "high",
            "modified:tables": "high",
            "modified:schemas": "high",
        },
        pg_transforms={"tables": "sorted", "schemas": "sorted"},
        pg_min_version=150000,
        pg_statements=_words("CreatePublicationStmt AlterPublicationStmt"),
        pg_objtypes=("OBJECT_PUBLICATION",),
    ),
    Kind(
        "subscription",
        ("name",),
        "A logical replication subscription (its conninfo with the password masked).",
        _words(
            "owner enabled conninfo slot_name publications synchronous_commit binary "
            "streaming two_phase disable_on_error comment"
        ),
        PG,
        severity={"added": "high", "modified:conninfo": "high"},
        pg_transforms={"conninfo": "conninfo", "publications": "sorted"},
        pg_min_version=150000,
        pg_statements=_words("CreateSubscriptionStmt AlterSubscriptionStmt DropSubscriptionStmt"),
        pg_objtypes=("OBJECT_SUBSCRIPTION",),
    ),
    Kind(
        "foreign_data_wrapper",
        ("name",),
        "A foreign data wrapper not created by an extension: handler, validator, options.",
        _words("handler validator options owner grants comment"),
        PG,
        # Its handler is C code that reads and writes outside the database.
        severity={"added": "high", "modified:handler": "high", "modified:validator": "high"},
        pg_transforms={"options": "secret_options", "grants": "grants"},
        pg_statements=_words("CreateFdwStmt AlterFdwStmt"),
        pg_objtypes=("OBJECT_FDW",),
    ),
    Kind(
        "foreign_server",
        ("name",),
        "A foreign server (SQL/MED): wrapper, type, version, options (secrets masked).",
        _words("wrapper type version options owner grants comment"),
        PG,
        severity={"added": "high", "modified:options": "high"},
        pg_transforms={"options": "secret_options", "grants": "grants"},
        pg_statements=_words("CreateForeignServerStmt AlterForeignServerStmt"),
        pg_objtypes=("OBJECT_FOREIGN_SERVER",),
    ),
    Kind(
        "user_mapping",
        ("server", "user"),
        "A user mapping for a foreign server (`PUBLIC` for all users); options masked.",
        _words("options"),
        PG,
        severity={"added": "high", "modified": "high"},
        pg_transforms={"options": "secret_options"},
        pg_statements=_words("CreateUserMappingStmt AlterUserMappingStmt DropUserMappingStmt"),
        pg_objtypes=("OBJECT_USER_MAPPING",),
    ),
)


def default_severity(kind: str, change: str, path: Iterable[str]) -> str | None:
    """The severity a kind's declaration suggests for a drift item, or None.

    The most specific hint wins: ``<change>:<path>`` (path written with ``.``
    between its elements, each element a glob: ``columns.*.storage``; matched
    against the first path elements), then ``<change>``, then ``*``.
    """
    declared = KINDS.get(kind)
    if declared is None or not declared.severity:
        return None
    hints = declared.severity
    elements = [str(p) for p in path]
    for hint, severity in hints.items():
        want_change, sep, want_path = hint.partition(":")
        if sep and want_change in (change, "*") and _path_matches(elements, want_path):
            return severity
    return hints.get(change) or hints.get("*")


def _path_matches(elements: list[str], want: str) -> bool:
    """Whether the path starts with the elements of ``want`` (``.``-separated globs)."""
    globs = want.split(".")
    return len(elements) >= len(globs) and all(
        fnmatch.fnmatchcase(e, g) for e, g in zip(elements, globs, strict=False)
    )
