"""The drift item and the report: the only things passed from diff onwards.

Field names and meanings are the ``driftd.report/1`` contract (docs: the report).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from driftd.canonical import dumps_pretty, fingerprint

REPORT_FORMAT = "driftd.report/1"
Severity = Literal["critical", "high", "medium", "low", "info"]  # most severe first
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
SEVERITY_ORDER: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}

Change = Literal["added", "removed", "modified"]
Status = Literal["clean", "drift", "error"]


def drift_id(environment: str, obj: str, path: list[Any], after: Any) -> str:
    """Stable fingerprint of (environment, object, path, after): same drift, same id."""
    return fingerprint(environment, obj, path, after)


@dataclass
class DriftItem:
    object: str
    change: Change
    path: list[Any]
    before: Any
    after: Any
    id: str = ""
    severity: str = "medium"
    rules: list[str] = field(default_factory=list)
    attribution: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.object.split(":", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.object,
            "kind": self.kind,
            "change": self.change,
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "severity": self.severity,
            "rules": self.rules,
            "attribution": self.attribution,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DriftItem:
        return cls(
            object=data["object"],
            change=data["change"],
            path=list(data["path"]),
            before=data["before"],
            after=data["after"],
            id=data["id"],
            severity=data["severity"],
            rules=list(data["rules"]),
            attribution=list(data.get("attribution") or []),
        )


def value_at(obj: Any, path: Iterable[Any], missing: Any = None) -> Any:
    """The value at ``path`` inside an object, or ``missing`` where any step is missing."""
    for step in path:
        if not isinstance(obj, dict) or step not in obj:
            return missing
        obj = obj[step]
    return obj


def sort_items(items: list[DriftItem]) -> list[DriftItem]:
    """Most severe first, then by object and path: a stable reading order."""
    return sorted(
        items,
        key=lambda i: (SEVERITY_ORDER.get(i.severity, 9), i.object, [str(p) for p in i.path]),
    )


@dataclass
class EnvironmentReport:
    name: str
    status: Status
    error: str | None = None
    drift: list[DriftItem] = field(default_factory=list)
    # Objects whose changes `ignore` rules hid entirely (the text summary's "N ignored").
    ignored: int = 0
    # What the baseline is, for the text output: None for an accepted one, else e.g.
    # "migrations (revision 3f2a1c)" for one built by `driftd baseline build`.
    reference: str | None = None
    # Not part of the JSON report; set only for callers that record runs (the
    # daemon): content hashes of the live snapshot and of the baseline it was
    # diffed against, and the live snapshot itself (to tell accepted from resolved).
    snapshot_hash: str | None = None
    baseline_hash: str | None = None
    snapshot: dict[str, Any] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "error": self.error,
            "drift": [i.to_json() for i in self.drift],
        }


@dataclass
class Report:
    environments: list[EnvironmentReport]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    comparison: bool = False  # `driftd compare` (nothing recorded; not in the JSON)

    @property
    def exit_code(self) -> int:
        """2 if any environment failed, else 1 if any drifted, else 0."""
        statuses = {e.status for e in self.environments}
        if "error" in statuses:
            return 2
        return 1 if "drift" in statuses else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "generated_at": iso(self.generated_at),
            "environments": [e.to_json() for e in self.environments],
        }

    def dumps(self) -> str:
        """The ``driftd.report/1`` document as `--format json` prints it."""
        return dumps_pretty(self.to_json()).decode()


def iso(moment: datetime) -> str:
    """``2026-11-22T10:00:03Z``: UTC, second precision, as in the report contract."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
