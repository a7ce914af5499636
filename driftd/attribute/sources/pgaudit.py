"""``pgaudit``: PostgreSQL logs with pgaudit session/object audit lines.

``AUDIT: <type>,<statement id>,<substatement id>,<class>,<command>,<object type>,
<object name>,<statement>,<parameter>[,<rows>]``: CSV in which a field is
quoted only when it holds a comma, quote, CR or LF (pgaudit 1.7
``append_valid_csv``). The statement is analysed with the SQL parser
(pgaudit's own object fields are empty for role commands, and GRANT lines
name the object type only); the parameter field is never kept. Files are read
with the shared reader in :mod:`driftd.attribute.sources.pglog` (stderr — also with
``log_error_verbosity = verbose`` —, csvlog, jsonlog; incremental).

What pgaudit 1.7 writes in the statement field (``log_audit_event``):

- the query string the client sent, ``PASSWORD`` and what follows it
  replaced by ``<REDACTED>`` in CREATE/ALTER ROLE;
- ``<previously logged>`` (and the same in the parameter field) with
  ``pgaudit.log_statement_once = on`` on every line of a statement/substatement
  after its first: CREATE TABLE with a primary key gives a CREATE INDEX line
  so, and DROP TABLE its constraint and index lines. The first line of the
  same (backend, statement id, substatement id) carries the text;
- ``<not logged>`` (and the same in the parameter field) with
  ``pgaudit.log_statement = off``. The line's object type and name (filled by
  pgaudit's event triggers, so only in databases with ``CREATE EXTENSION
  pgaudit``) then stand in for the statement: ``ALTER TABLE shop.orders`` is
  known to touch that table, not which part of it, so it matches at the
  object level.

Statement ids count per backend (a static counter in each server process):
lines are grouped by (session id or pid, statement id, substatement id).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Literal

from driftd.attribute.sources.pglog import BadRecord, Extracted, LogFileConfig, LogFileSource
from driftd.attribute.sqlrefs import Ref, Statement

PREFIX = "AUDIT: "
NOT_LOGGED = "<not logged>"
PREVIOUSLY_LOGGED = "<previously logged>"
# Classes whose lines can change a schema, roles or grants (pgaudit.log = 'ddl, role').
SCHEMA_CLASSES = frozenset({"DDL", "ROLE"})
NOTE_NOT_LOGGED = "(pgaudit: statement not logged)"
NOTE_EARLIER = "(pgaudit: statement logged on an earlier line that was not read)"


class PgauditConfig(LogFileConfig):
    type: Literal["pgaudit"]


@dataclass(frozen=True)
class AuditLine:
    """The fields of one pgaudit line (the parameter and row count are not kept)."""

    audit_type: str  # SESSION | OBJECT
    statement_id: str
    substatement_id: str
    audit_class: str  # DDL, ROLE, READ, WRITE, FUNCTION, MISC, MISC_SET
    command: str  # command tag: CREATE TABLE, GRANT, ALTER ROLE, ...
    object_type: str  # upper case, as pgaudit writes it: TABLE, INDEX, TABLE COLUMN, ...
    object_name: str  # pg_identify_object's identity: shop.orders, "Odd"."Name", f(integer)
    statement: str  # the text, or <previously logged> / <not logged>

    @property
    def logged(self) -> bool:
        """The line carries the statement text."""
        return self.statement not in (NOT_LOGGED, PREVIOUSLY_LOGGED)


def parse_line(message: str) -> AuditLine | None:
    """The fields of a pgaudit message; None when the message is not one."""
    if not message.startswith(PREFIX):
        return None
    try:
        row = next(csv.reader(io.StringIO(message[len(PREFIX) :], newline=""), strict=True))
    except (csv.Error, StopIteration):
        raise BadRecord("malformed AUDIT line") from None
    if (
        len(row) < 8
        or row[0] not in ("SESSION", "OBJECT")
        or not row[1].isdigit()
        or not row[2].isdigit()
    ):
        raise BadRecord("malformed AUDIT line")
    return AuditLine(*row[:8])


def _sql(statement: str) -> str:
    # Passwords arrive as <REDACTED>: make that a literal so the statement parses.
    return statement.replace("<REDACTED>", "'<REDACTED>'")


def audit_statement(message: str) -> str | None:
    """The statement of a pgaudit message; None when the message is not one or does
    not carry the text (``<previously logged>`` / ``<not logged>``)."""
    line = parse_line(message)
    if line is None or not line.logged:
        return None
    return _sql(line.statement) or None


def audit_extract(message: str) -> Extracted | None:
    """What :class:`~driftd.attribute.sources.pglog.EventBuilder` needs from a pgaudit message:
    the SQL, the statement it belongs to, and what stands in when the SQL is not
    on the line."""
    line = parse_line(message)
    if line is None:
        return None
    unit = (line.statement_id, line.substatement_id)
    if line.logged:
        return Extracted(_sql(line.statement) or None, unit)
    if line.audit_class not in SCHEMA_CLASSES:
        return Extracted(None, unit)  # a read or write: never drift
    note = NOTE_EARLIER if line.statement == PREVIOUSLY_LOGGED else NOTE_NOT_LOGGED
    return Extracted(None, unit, [object_statement(line, note)])


# -- a statement from the object fields ---------------------------------------------

# pg_event_trigger_ddl_commands() / _dropped_objects() object types → snapshot kinds.
_KINDS = {
    "TABLE": "relation",
    "VIEW": "relation",
    "MATERIALIZED VIEW": "relation",
    "SEQUENCE": "relation",
    "FOREIGN TABLE": "relation",
    "INDEX": "index",
    "SCHEMA": "schema",
    "FUNCTION": "function",
    "PROCEDURE": "function",
    "AGGREGATE": "function",
    "TYPE": "type",
    "COMPOSITE TYPE": "type",
    "DOMAIN": "type",
    "EXTENSION": "extension",
}
# Objects that live under a table: their identity is "<name> on <schema>.<table>".
_TABLE_PARTS = {
    "TABLE CONSTRAINT": "constraints",
    "TRIGGER": "triggers",
    "POLICY": "policies",
    "RULE": "rules",
}
# Commands that never reach the event triggers (global objects): pgaudit leaves
# the object fields empty; the command still names the kind.
_GLOBAL_COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CREATE ROLE": ("role", ()),
    "ALTER ROLE": ("role", ()),
    "DROP ROLE": ("role", ()),
    "GRANT ROLE": ("role", ("member_of",)),
    "REVOKE ROLE": ("role", ("member_of",)),
    "ALTER SYSTEM": ("setting", ()),
    "CREATE DATABASE": ("database", ()),
    "ALTER DATABASE": ("database", ()),
    "DROP DATABASE": ("database", ()),
}


def _action(command: str) -> str:
    first = command.split(" ", 1)[0]
    return {"CREATE": "create", "DROP": "drop", "GRANT": "grant", "REVOKE": "revoke"}.get(
        first, "alter"
    )


def _outside_quotes(text: str, needle: str) -> int:
    """Index of ``needle`` in ``text`` outside double-quoted identifiers, or -1."""
    quoted = False
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif not quoted and text.startswith(needle, i):
            return i
    return -1


def identifiers(identity: str) -> list[str]:
    """``shop."Odd.Name"`` → ``["shop", "Odd.Name"]`` (quote_identifier undone)."""
    parts: list[str] = []
    buf: list[str] = []
    quoted = False
    i = 0
    while i < len(identity):
        c = identity[i]
        if quoted:
            if c == '"' and identity[i + 1 : i + 2] == '"':
                buf.append('"')
                i += 1
            elif c == '"':
                quoted = False
            else:
                buf.append(c)
        elif c == '"':
            quoted = True
        elif c == ".":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    parts.append("".join(buf))
    return parts


def _function_ref(identity: str, action: str) -> Ref:
    cut = _outside_quotes(identity, "(")
    name, args_text = (identity, None) if cut < 0 else (identity[:cut], identity[cut + 1 :])
    args = None
    if args_text is not None:
        inner = args_text.rstrip().removesuffix(")")
        args = tuple(a.strip().removeprefix("pg_catalog.") for a in inner.split(",") if a.strip())
    return Ref("function", ".".join(identifiers(name)[-2:]), (), action, True, args)


def _object_refs(otype: str, name: str, action: str) -> list[Ref]:
    if not name:
        if otype and action in ("grant", "revoke"):  # GRANT lines name the type only
            kind = _KINDS.get(otype, otype.lower().replace(" ", "_"))
            return [
                Ref(kind, "*", ("grants",), action),
                Ref(kind, "*", ("column_grants",), action),
            ]
        return []
    if otype in _TABLE_PARTS:
        cut = _outside_quotes(name, " on ")
        if cut < 0:
            return []
        part = identifiers(name[:cut])[-1]
        table = ".".join(identifiers(name[cut + 4 :])[-2:])
        return [Ref("relation", table, (_TABLE_PARTS[otype], part), action)]
    if otype.endswith(" COLUMN") or otype == "DEFAULT VALUE":
        ids = identifiers(name.removeprefix("for "))
        if len(ids) < 2:
            return []
        act = "alter" if otype == "DEFAULT VALUE" else action
        return [Ref("relation", ".".join(ids[-3:-1]), ("columns", ids[-1]), act)]
    kind = _KINDS.get(otype, otype.lower().replace(" ", "_"))
    if action == "create" and (kind == "function" or otype == "VIEW"):
        action = "replace"  # CREATE OR REPLACE VIEW / FUNCTION log the same command
    if kind == "function":
        return [_function_ref(name, action)]
    return [Ref(kind, ".".join(identifiers(name)), (), action)]


def object_statement(line: AuditLine, note: str = NOTE_NOT_LOGGED) -> Statement:
    """A statement built from a line's command, object type and object name, for a
    line without the statement text: ``ALTER TABLE shop.orders (pgaudit: statement
    not logged)``. Without object fields (a database without ``CREATE EXTENSION
    pgaudit``, role commands) the command alone says what it can: a role command
    touches some role; anything else can only be matched by time."""
    command = " ".join(line.command.upper().split()) or "UNKNOWN"
    otype = " ".join(line.object_type.upper().split())
    action = _action(command)
    refs = _object_refs(otype, line.object_name, action)
    if not refs and not otype and command in _GLOBAL_COMMANDS:
        kind, path = _GLOBAL_COMMANDS[command]
        refs = [Ref(kind, "*", path, action)]
    target = line.object_name or (f"ON {otype}" if otype else "")
    text = " ".join(p for p in (command, target, note) if p)
    return Statement(text=text, command=command, refs=refs, parsed=bool(refs))


class PgauditSource(LogFileSource):
    config_model = PgauditConfig

    def extract(self, message: str) -> Extracted | None:
        return audit_extract(message)
