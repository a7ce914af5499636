"""The audit state in the state store: what a fleet of daemons and the CLI share.

Every daemon reads and writes an environment's audit state while it holds
the environment's lease (checks run only then), so when the lease moves the
new owner continues from the same cursors and event cache: no record is
read into a second, diverging copy, no window is lost. Events are upserted
by (source, key), so two readers of one shared source, or a re-read after a
crash between saving events and cursor, write the same rows again.

Each method is one short transaction: the audit state never holds locks
across a source's network read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from driftd.attribute.sources.events import AuditEvent
from driftd.attribute.sources.model import AuditCursor, AuditEventRow, AuditSourceHealth
from driftd.attribute.sources.state import (
    MAX_EVENT_AGE,
    MAX_EVENTS_PER_SOURCE,
    AuditState,
    Bounds,
    HealthListener,
    JsonFileAuditState,
    MemoryAuditState,
    PollOutcome,
    SourceHealth,
    advance,
)
from driftd.errors import DriftdError
from driftd.store import Store

if TYPE_CHECKING:
    from driftd.config import Config

log = logging.getLogger(__name__)

MAX_KEY = 500  # audit_events.key
PRUNE_EVERY = 200  # prune a source's events after this many additions


class StoreAuditState(Bounds):
    """:class:`driftd.attribute.sources.state.AuditState` on the state store's audit tables."""

    def __init__(
        self,
        store: Store,
        *,
        max_events: int = MAX_EVENTS_PER_SOURCE,
        max_age: timedelta = MAX_EVENT_AGE,
        on_poll: HealthListener | None = None,
    ) -> None:
        self.store = store
        self._added: dict[str, int] = {}
        super().__init__(max_events, max_age, on_poll)

    # -- cursors ---------------------------------------------------------------------

    def cursor(self, source: str) -> dict[str, Any] | None:
        with self.store.session() as s:
            value = s.scalar(select(AuditCursor.value).where(AuditCursor.source == source))
        return dict(value) if isinstance(value, dict) else None

    def save_cursor(self, source: str, value: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        stmt = self.store.insert(AuditCursor).values(source=source, value=value, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source"], set_={"value": value, "updated_at": now}
        )
        with self.store.session() as s, s.begin():
            s.execute(stmt)

    # -- events ----------------------------------------------------------------------

    def add_events(self, source: str, events: Iterable[AuditEvent]) -> None:
        rows = {}
        for event in events:
            rows[_key(event.key)] = {
                "source": source,
                "key": _key(event.key),
                "at": event.at,
                "end_at": event.end,
                "data": event.to_json(),
            }
        if not rows:
            return
        with self.store.session() as s, s.begin():
            for row in rows.values():
                stmt = self.store.insert(AuditEventRow).values(**row)
                s.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["source", "key"],
                        set_={"at": row["at"], "end_at": row["end_at"], "data": row["data"]},
                    )
                )
            self._added[source] = self._added.get(source, 0) + len(rows)
            if self._added[source] >= PRUNE_EVERY:
                self._added[source] = 0
                self._prune(s, source)

    def events(self, source: str, since: datetime, until: datetime) -> list[AuditEvent]:
        # A session that started before the window and ended inside it counts:
        # the lower bound is on its end (or its time when it has none).
        with self.store.session() as s:
            rows = s.scalars(
                select(AuditEventRow.data)
                .where(
                    AuditEventRow.source == source,
                    AuditEventRow.at <= until,
                    func.coalesce(AuditEventRow.end_at, AuditEventRow.at) >= since,
                )
                .order_by(AuditEventRow.at, AuditEventRow.key)
            ).all()
        out = []
        for data in rows:
            try:
                out.append(AuditEvent.from_json(data))
            except (KeyError, TypeError, ValueError):
                continue  # a row from a newer or broken writer: skip, never fail a check
        return out

    def _prune(self, s: Session, source: str) -> None:
        oldest = datetime.now(UTC) - self.max_age
        s.execute(
            delete(AuditEventRow).where(AuditEventRow.source == source, AuditEventRow.at < oldest)
        )
        cut = s.scalar(
            select(AuditEventRow.at)
            .where(AuditEventRow.source == source)
            .order_by(AuditEventRow.at.desc())
            .offset(self.max_events)
            .limit(1)
        )
        if cut is not None:
            s.execute(
                delete(AuditEventRow).where(AuditEventRow.source == source, AuditEventRow.at <= cut)
            )

    # -- health ----------------------------------------------------------------------

    def note_poll(self, poll: PollOutcome) -> SourceHealth:
        with self.store.session() as s, s.begin():
            # The first read of a source by two daemons at once: one inserts, both update.
            s.execute(
                self.store.insert(AuditSourceHealth)
                .values(
                    name=poll.name,
                    type=poll.type,
                    up=1,
                    last_poll_at=poll.at,
                    events_read=0,
                    parse_errors=0,
                )
                .on_conflict_do_nothing()
            )
            row = s.get(AuditSourceHealth, poll.name, with_for_update=True, populate_existing=True)
            assert row is not None
            fresh = row.events_read == 0 and row.last_success_at is None and row.last_error is None
            health = advance(None if fresh else _health_of(row), poll)
            for key, value in _row_values(health).items():
                setattr(row, key, value)
        if self.on_poll is not None:
            self.on_poll(health, poll)
        return health

    def health(self) -> list[SourceHealth]:
        with self.store.session() as s:
            rows = s.scalars(select(AuditSourceHealth).order_by(AuditSourceHealth.name)).all()
        return [_health_of(r) for r in rows]


# The health row has SourceHealth's fields by name; ``up`` is stored as 0 or 1.
_HEALTH_FIELDS = tuple(f.name for f in dataclasses.fields(SourceHealth))


def _health_of(row: AuditSourceHealth) -> SourceHealth:
    values = {name: getattr(row, name) for name in _HEALTH_FIELDS}
    return SourceHealth(**{**values, "up": bool(row.up)})


def _row_values(health: SourceHealth) -> dict[str, Any]:
    """What a poll changes in the row (all but the name, its key)."""
    values = {name: getattr(health, name) for name in _HEALTH_FIELDS if name != "name"}
    return {**values, "up": int(health.up)}


def _key(key: str) -> str:
    """Keys are short (a session id, inode:offset); an odd long one is hashed to fit."""
    if len(key) <= MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def import_json_state(state: StoreAuditState, path: Path) -> str | None:
    """Move the JSON audit state driftd 0.1 kept beside the store into the store, once.

    Cursors already in the store win (a daemon of the fleet got there first);
    events are upserted. The file is renamed ``*.imported`` so it is never read
    again. Returns a line for the log, or None when there was nothing to import.
    """
    if not path.is_file():
        return None
    old = JsonFileAuditState(path)
    if old.load_error:
        return f"{old.load_error}; not imported"
    data = old.to_json()
    for source, value in (data.get("cursors") or {}).items():
        if state.cursor(source) is None:
            state.save_cursor(source, value)
    count = 0
    for source, events in (data.get("events") or {}).items():
        state.add_events(source, (AuditEvent.from_json(e) for e in events))
        count += len(events)
    done = path.with_name(path.name + ".imported")
    try:
        path.replace(done)
    except OSError as exc:
        return f"imported {path} into the state store but could not rename it: {exc.strerror}"
    return (
        f"imported the audit state of {path} into the state store ({count} events); kept as {done}"
    )


@contextmanager
def open_state(config: Config) -> Iterator[tuple[AuditState, list[str]]]:
    """The audit state for a CLI check: the state store's (created or migrated as
    the daemon would), else one in memory, with the reason as a problem."""
    from driftd.attribute.sources import default_state_path
    from driftd.store import open_store

    try:
        store = open_store(config, migrate=True, pool_size=2)
    except DriftdError as exc:
        problem = (
            f"cannot open the state store ({exc.message}): audit cursors are not kept, "
            "sources are read from the start of the window"
        )
        yield MemoryAuditState(), [problem]
        return
    try:
        state = StoreAuditState(store)
        problems: list[str] = []
        note = import_json_state(state, default_state_path(config))
        if note:
            log.info("%s", note)
        yield state, problems
    finally:
        store.close()
