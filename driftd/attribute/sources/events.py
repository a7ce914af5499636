"""The parsed audit event: what every source produces and the matcher consumes.

An event holds only masked statements (see driftd.masking): raw SQL is
analysed where it is read and never kept. Events serialise to plain JSON
for the audit state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftd.attribute.sqlrefs import Statement, analyze

# The optional text fields of an event, written to JSON only when set.
_OPTIONAL_TEXT = ("db_user", "actor", "identity_type", "session", "database", "connection")


@dataclass
class AuditEvent:
    key: str  # unique within its source: re-reading the same record gives the same key
    at: datetime
    statements: list[Statement]
    db_user: str | None = None
    actor: str | None = None  # the person or machine identity, when the source knows it
    identity_type: str | None = None
    session: str | None = None
    database: str | None = None
    connection: str | None = None
    end: datetime | None = None  # sessions: when it ended (None while running)
    review: dict[str, Any] | None = None
    failed: bool = False  # the server reported an error for this statement
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "at": self.at.isoformat(),
            "statements": [s.to_json() for s in self.statements],
        }
        for name in _OPTIONAL_TEXT:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.end is not None:
            out["end"] = self.end.isoformat()
        if self.review is not None:
            out["review"] = self.review
        if self.failed:
            out["failed"] = True
        if self.extra:
            out["extra"] = self.extra
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEvent:
        end = data.get("end")
        return cls(
            key=str(data["key"]),
            at=parse_time(data["at"]),
            statements=[Statement.from_json(s) for s in data.get("statements", ())],
            end=parse_time(end) if end else None,
            review=data.get("review"),
            failed=bool(data.get("failed", False)),
            extra=dict(data.get("extra") or {}),
            **{name: data.get(name) for name in _OPTIONAL_TEXT},
        )


def parse_time(value: str) -> datetime:
    """An ISO 8601 / RFC 3339 time as an aware UTC datetime (naive means UTC)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass
class Parsed:
    """Statements of one piece of SQL, and how many did not parse."""

    statements: list[Statement]
    errors: int


def statements_of(sql: str, dialect: str = "postgres") -> Parsed:
    """Analyse raw SQL into masked statements (only schema-changing ones are kept)."""
    statements, errors = analyze(sql, dialect)
    return Parsed(statements, errors)
