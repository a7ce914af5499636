"""The statement model of driftd.attribute.sqlrefs: :class:`Ref`, :class:`Statement`, limits
and the helpers every dialect shares."""

from __future__ import annotations

import logging
import re
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
NOT_DDL_NODES = frozenset(
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


def unparsed(sql: str, dialect: str) -> tuple[list[Statement], int]:
    text = mask(sql[:MAX_STATEMENT_CHARS], dialect)
    if not text.strip() or not looks_like_ddl(text):
        return [], 1 if text.strip() else 0
    return [Statement(text=text, command=command_of(text), parsed=False)], 1


def too_big(sql: str) -> bool:
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
