"""Incremental audit state: read positions, a bounded cache of parsed events, health.

Sources read only what is new since their cursor (a file offset and inode, a
CloudWatch timestamp, ...) and keep what they parsed here, so the
attribution window can reach back before the last read position without
re-reading logs. Events are deduplicated by key, so reading a record twice
(after a crash between saving events and cursor, or by two processes) is
harmless. Only masked statements are ever stored.

:class:`driftd.attribute.sources.store_state.StoreAuditState` keeps it in the state store
(the daemon, a fleet of daemons and the CLI share it there);
:class:`MemoryAuditState` serves one process when no store can be opened, and
tests. :class:`JsonFileAuditState` reads the JSON file that driftd 0.1 kept
beside the store, so it can be imported into the store once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from bisect import insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from driftd.attribute.sources.events import AuditEvent

log = logging.getLogger(__name__)

STATE_FORMAT = "driftd.attribute.sources-state/1"
MAX_EVENTS_PER_SOURCE = 20_000
MAX_EVENT_AGE = timedelta(days=31)


@dataclass(frozen=True)
class SourceHealth:
    """How reading one audit source has gone: the last read, and totals since it was
    first read. Lag behind now is ``now - last_event_at``."""

    name: str
    type: str
    up: bool
    last_poll_at: datetime
    last_success_at: datetime | None = None
    last_event_at: datetime | None = None
    events_read: int = 0
    parse_errors: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class PollOutcome:
    """One read of one source, as :meth:`AuditState.note_poll` takes it."""

    name: str
    type: str
    at: datetime
    error: str | None  # None: the read worked
    new_events: int
    parse_errors: int
    last_event_at: datetime | None


def advance(old: SourceHealth | None, poll: PollOutcome) -> SourceHealth:
    """The health after ``poll``, given the health before it."""
    base = old or SourceHealth(poll.name, poll.type, True, poll.at)
    last_event = base.last_event_at
    if poll.last_event_at is not None and (last_event is None or poll.last_event_at > last_event):
        last_event = poll.last_event_at
    return replace(
        base,
        type=poll.type,
        up=poll.error is None,
        last_poll_at=poll.at,
        last_success_at=poll.at if poll.error is None else base.last_success_at,
        last_event_at=last_event,
        events_read=base.events_read + poll.new_events,
        parse_errors=base.parse_errors + poll.parse_errors,
        last_error=poll.error,
    )


HealthListener = Callable[[SourceHealth, PollOutcome], None]


class AuditState(Protocol):
    def cursor(self, source: str) -> dict[str, Any] | None: ...

    def save_cursor(self, source: str, value: dict[str, Any]) -> None: ...

    def add_events(self, source: str, events: Iterable[AuditEvent]) -> None: ...

    def events(self, source: str, since: datetime, until: datetime) -> list[AuditEvent]: ...

    def note_poll(self, poll: PollOutcome) -> SourceHealth:
        """Record how a read of a source went; returns the source's health after it."""
        ...

    def health(self) -> list[SourceHealth]: ...


class Bounds:
    """What every audit state keeps per source (at most ``max_events``, none older
    than ``max_age``) and who hears of each poll."""

    def __init__(
        self,
        max_events: int = MAX_EVENTS_PER_SOURCE,
        max_age: timedelta = MAX_EVENT_AGE,
        on_poll: HealthListener | None = None,
    ) -> None:
        self.max_events = max_events
        self.max_age = max_age
        self.on_poll = on_poll
        self._start()

    def _start(self) -> None:
        """A subclass's own state, set up once the bounds are known."""


class MemoryAuditState(Bounds):
    """Cursors and events in memory, bounded per source by count and age."""

    def _start(self) -> None:
        self._health: dict[str, SourceHealth] = {}
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

    def note_poll(self, poll: PollOutcome) -> SourceHealth:
        with self._lock:
            health = self._health[poll.name] = advance(self._health.get(poll.name), poll)
        if self.on_poll is not None:
            self.on_poll(health, poll)
        return health

    def health(self) -> list[SourceHealth]:
        with self._lock:
            return [self._health[k] for k in sorted(self._health)]

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
