"""Incremental audit state: read positions and a bounded cache of parsed events.

Sources read only what is new since their cursor (a file offset and inode, a
CloudWatch timestamp, ...) and keep what they parsed here, so the
attribution window can reach back before the last read position without
re-reading logs. Events are deduplicated by key, so reading a record twice
(after a crash between saving events and cursor, or by two processes) is
harmless. Only masked statements are ever stored.

:class:`MemoryAuditState` serves the daemon and tests; :class:`JsonFileAuditState`
keeps the same data in one JSON file for CLI runs. The daemon's state store
can implement :class:`AuditState` as well.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from bisect import insort
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from driftd.audit.events import AuditEvent

log = logging.getLogger(__name__)

STATE_FORMAT = "driftd.audit-state/1"
MAX_EVENTS_PER_SOURCE = 20_000
MAX_EVENT_AGE = timedelta(days=31)


class AuditState(Protocol):
    def cursor(self, source: str) -> dict[str, Any] | None: ...

    def save_cursor(self, source: str, value: dict[str, Any]) -> None: ...

    def add_events(self, source: str, events: Iterable[AuditEvent]) -> None: ...

    def events(self, source: str, since: datetime, until: datetime) -> list[AuditEvent]: ...


class MemoryAuditState:
    """Cursors and events in memory, bounded per source by count and age."""

    def __init__(
        self,
        max_events: int = MAX_EVENTS_PER_SOURCE,
        max_age: timedelta = MAX_EVENT_AGE,
    ) -> None:
        self.max_events = max_events
        self.max_age = max_age
        self._cursors: dict[str, dict[str, Any]] = {}
        # Per source: key -> event, plus (at, key) kept sorted for pruning and windows.
        self._events: dict[str, dict[str, AuditEvent]] = {}
        self._order: dict[str, list[tuple[datetime, str]]] = {}
        self._lock = threading.RLock()

    def cursor(self, source: str) -> dict[str, Any] | None:
        with self._lock:
            value = self._cursors.get(source)
            return json.loads(json.dumps(value)) if value is not None else None

    def save_cursor(self, source: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._cursors[source] = json.loads(json.dumps(value))

    def add_events(self, source: str, events: Iterable[AuditEvent]) -> None:
        with self._lock:
            table = self._events.setdefault(source, {})
            order = self._order.setdefault(source, [])
            for event in events:
                old = table.get(event.key)
                if old is not None:  # a re-read or an updated session: replace
                    order.remove((old.at, old.key))
                table[event.key] = event
                insort(order, (event.at, event.key))
            self._prune(source)

    def events(self, source: str, since: datetime, until: datetime) -> list[AuditEvent]:
        with self._lock:
            table = self._events.get(source, {})
            out = []
            for at, key in self._order.get(source, []):
                event = table[key]
                end = event.end or at
                if end >= since and at <= until:
                    out.append(event)
            return out

    def _prune(self, source: str) -> None:
        table, order = self._events[source], self._order[source]
        oldest = datetime.now(UTC) - self.max_age
        drop = 0
        while drop < len(order) and (
            len(order) - drop > self.max_events or order[drop][0] < oldest
        ):
            del table[order[drop][1]]
            drop += 1
        del order[:drop]

    # -- persistence helpers -------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "format": STATE_FORMAT,
                "cursors": self._cursors,
                "events": {
                    source: [self._events[source][key].to_json() for _, key in order]
                    for source, order in self._order.items()
                },
            }

    def load_json(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._cursors = dict(data.get("cursors") or {})
            for source, events in (data.get("events") or {}).items():
                self.add_events(source, (AuditEvent.from_json(e) for e in events))


class JsonFileAuditState(MemoryAuditState):
    """:class:`MemoryAuditState` loaded from and saved to one JSON file (0600, atomic)."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.load_error: str | None = None
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
                raise ValueError(f"not a {STATE_FORMAT} file")
            self.load_json(data)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Start afresh: the worst case is re-reading logs (events dedupe by key).
            self.load_error = f"audit state {path} unreadable, starting afresh: {exc}"

    def save(self) -> None:
        """Write the file atomically; raises OSError when it cannot."""
        data = json.dumps(self.to_json(), separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".audit-state.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
