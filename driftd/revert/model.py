"""What a revert is: statements with their hazards, per drift item.

A :class:`Revert` answers one drift item: the statements that bring the live
object back to its baseline (in the order they must run), each with the
hazards a person should weigh before running it, or the reason no safe
statement exists (``needs_person``). Nothing here talks to a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftd.drift import DriftItem

# Hazard types, as pg-schema-diff names the risks of a migration statement. The
# message is what the script says above a statement that carries one.
HAZARDS: dict[str, str] = {
    "deletes_data": "drops data written since the drift (a column or table the baseline lacks)",
    "access_exclusive_lock": "takes an ACCESS EXCLUSIVE lock: reads and writes of the table wait",
    "table_rewrite": "rewrites the whole table (time and disk grow with its size)",
    "index_build": "builds an index; CONCURRENTLY (used where possible) does not block writes",
    "breaks_dependants": "objects that depend on this one (views, functions, grants) break or "
    "block the statement",
    "cannot_restore_data": "recreates the definition only: the data is gone, restore it from "
    "backup",
}


class NeedsPerson(Exception):
    """No safe statement exists for an item; the message says why and what to do."""


@dataclass
class Statement:
    """One statement of a revert script.

    ``phase`` orders statements across items (dependency order: drop dependants,
    drop, create, alter, grant; roles are created first and dropped last).
    """

    sql: str
    phase: int
    hazards: list[str] = field(default_factory=list)
    note: str | None = None

    def __post_init__(self) -> None:
        unknown = [h for h in self.hazards if h not in HAZARDS]
        if unknown:
            raise ValueError(f"unknown hazard(s) {unknown}")

    def to_json(self, enabled: bool) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "hazards": [{"type": h, "message": HAZARDS[h]} for h in self.hazards],
            "note": self.note,
            "enabled": enabled,
        }


@dataclass
class Revert:
    """The answer to one drift item."""

    item: DriftItem
    statements: list[Statement] = field(default_factory=list)
    needs_person: str | None = None

    @property
    def status(self) -> str:
        return "needs_person" if self.needs_person else "revert"

    def blocked_by(self, allowed: frozenset[str]) -> list[str]:
        """The hazards not allowed among the item's statements. An item's statements
        run all or none: half of a drop-and-create would lose the object."""
        return sorted({h for s in self.statements for h in s.hazards if h not in allowed})

    def to_json(self, allowed: frozenset[str]) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "object": self.item.object,
            "kind": self.item.kind,
            "change": self.item.change,
            "path": self.item.path,
            "severity": self.item.severity,
            "status": self.status,
            "needs_person": self.needs_person,
            "statements": [s.to_json(not self.blocked_by(allowed)) for s in self.statements],
        }
