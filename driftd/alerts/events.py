"""The alert event: what happened to an environment's drift, as sinks receive it.

Kinds: ``opened`` (new drift items of one environment from one run, grouped),
``resolved`` and ``accepted`` (items gone from the live database, or taken into
the baseline), ``renotify`` (drift still open after a sink's ``renotify_after``),
``environment_error`` (N consecutive failed checks), ``environment_recovered``,
``acknowledged`` (a person ran ``driftd ack``: sinks with an incident to
acknowledge take it), ``updated`` (the author of open drift was found in audit
records that arrived after the drift was first alerted: sinks update the
alert they sent, never open a second one) and ``test`` (``driftd alerts test``).

Drift items travel in the report's JSON shape (``DriftItem.to_json()``), with
their attribution statements masked once more here: whatever an audit source
handed over, no literal (and so no personal data) leaves in an alert.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, field_validator

from driftd.canonical import dumps, fingerprint
from driftd.drift import SEVERITY_ORDER, DriftItem, iso
from driftd.masking import mask

ALERT_FORMAT = "driftd.alert/1"
Kind = Literal[
    "opened",
    "resolved",
    "accepted",
    "renotify",
    "environment_error",
    "environment_recovered",
    "acknowledged",
    "updated",
    "test",
]
KINDS: tuple[str, ...] = get_args(Kind)
DRIFT_KINDS = frozenset({"opened", "resolved", "accepted", "renotify", "acknowledged", "updated"})
# Events that tell a sink something is over: skipped when a sink sets send_resolved = false.
CLOSING_KINDS = frozenset({"resolved", "accepted", "environment_recovered"})
ENVIRONMENT_KINDS = frozenset({"environment_error", "environment_recovered"})
MAX_ERROR = 1000

# Credentials that could ride along in a driver's error message.
_URL_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.\-]*://[^:/@\s]+:)[^@\s]+@")
_KEY_VALUE = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|routing[_-]?key)(\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&)\]}]+)"
)


def redact(text: str) -> str:
    """``text`` with URL passwords and ``password=...``-style values replaced by ``***``."""
    text = _URL_USERINFO.sub(r"\1***@", text)
    return _KEY_VALUE.sub(r"\1\2***", text)


def clean_item(item: DriftItem | dict[str, Any]) -> dict[str, Any]:
    """An item in the report's JSON shape, with every attribution statement masked."""
    data = item.to_json() if isinstance(item, DriftItem) else dict(item)
    attribution = []
    for entry in data.get("attribution") or []:
        entry = dict(entry)
        if isinstance(entry.get("statement"), str):
            entry["statement"] = mask(entry["statement"])
        attribution.append(entry)
    data["attribution"] = attribution
    return data


def compact(item: DriftItem | dict[str, Any]) -> dict[str, Any]:
    """The few fields of an item a sink needs to count or list what is still open."""
    data = item.to_json() if isinstance(item, DriftItem) else item
    return {"id": data["id"], "object": data["object"], "severity": data["severity"]}


class AlertEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    environment: str = ""
    at: datetime
    run_id: int | None = None
    # The items this event is about, in the report's JSON shape.
    drift: list[dict[str, Any]] = []
    # The environment's open drift after this event ({id, object, severity}), so
    # a sink can say "3 still open" or resolve a per-environment incident at zero.
    still_open: list[dict[str, Any]] = []
    error: str | None = None
    consecutive_errors: int | None = None
    # Test events: the sink they are for, and whether this is the closing half
    # (sinks that open incidents close them again).
    sink: str | None = None
    closing: bool = False
    # Acknowledged events: who, and what they said.
    by: str | None = None
    note: str | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("an alert event's time must be timezone-aware")
        return value.astimezone(UTC)

    # -- constructors ------------------------------------------------------------

    @classmethod
    def for_drift(
        cls,
        kind: Literal["opened", "resolved", "accepted", "renotify", "acknowledged", "updated"],
        environment: str,
        items: Iterable[DriftItem | dict[str, Any]],
        *,
        at: datetime,
        run_id: int | None = None,
        still_open: Iterable[DriftItem | dict[str, Any]] = (),
        by: str | None = None,
        note: str | None = None,
    ) -> AlertEvent:
        drift = sorted((clean_item(i) for i in items), key=_order)
        return cls(
            kind=kind,
            environment=environment,
            at=at,
            run_id=run_id,
            drift=drift,
            still_open=sorted((compact(i) for i in still_open), key=_order),
            by=by,
            note=redact(note) if note else None,
        )

    @classmethod
    def environment_error(
        cls,
        environment: str,
        *,
        at: datetime,
        error: str,
        consecutive_errors: int,
        run_id: int | None = None,
    ) -> AlertEvent:
        text = redact(" ".join(error.split()))
        if len(text) > MAX_ERROR:
            text = text[: MAX_ERROR - 1] + "…"
        return cls(
            kind="environment_error",
            environment=environment,
            at=at,
            run_id=run_id,
            error=text,
            consecutive_errors=consecutive_errors,
        )

    @classmethod
    def environment_recovered(
        cls, environment: str, *, at: datetime, run_id: int | None = None
    ) -> AlertEvent:
        return cls(kind="environment_recovered", environment=environment, at=at, run_id=run_id)

    @classmethod
    def test(cls, sink: str, *, at: datetime, closing: bool = False) -> AlertEvent:
        return cls(kind="test", at=at, sink=sink, closing=closing)

    # -- identity ----------------------------------------------------------------

    @property
    def event_id(self) -> str:
        """Stable for one event: built again from the same run, it has the same id."""
        return fingerprint(
            self.kind,
            self.environment,
            self.run_id,
            iso(self.at),
            [i["id"] for i in self.drift],
            self.sink,
            self.closing,
        )

    def idempotency_key(self, sink: str, part: str = "") -> str:
        """Stable for one (sink, event): the outbox's dedup key, and the receiver's.

        ``part`` tells apart the deliveries of a sink that sends one request per
        item. It is computed from the event as the run produced it, before a
        sink's filters, so changing a filter never makes an old event look new."""
        return hashlib.sha256(dumps([sink, self.event_id, part])).hexdigest()[:32]

    # -- views -------------------------------------------------------------------

    @property
    def severity(self) -> str:
        """The most severe item's severity (``high`` for an unreadable environment)."""
        if self.kind == "environment_error":
            return "high"
        if not self.drift:
            return "info"
        return str(min((i["severity"] for i in self.drift), key=lambda s: SEVERITY_ORDER.get(s, 9)))

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertEvent:
        return cls.model_validate(data)

    def with_drift(
        self, drift: Sequence[dict[str, Any]], still_open: Sequence[dict[str, Any]] | None = None
    ) -> AlertEvent:
        update: dict[str, Any] = {"drift": list(drift)}
        if still_open is not None:
            update["still_open"] = list(still_open)
        return self.model_copy(update=update)


def _order(item: dict[str, Any]) -> tuple[int, str, str]:
    return (
        SEVERITY_ORDER.get(item["severity"], 9),
        item["object"],
        dumps(item.get("path", [])).decode(),
    )
