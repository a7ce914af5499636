"""What every audit source shares: its config base model and the poll contract."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from driftd.attribute.sources import tail
from driftd.attribute.sources.events import AuditEvent
from driftd.attribute.sources.state import AuditState
from driftd.config.durations import Seconds

if TYPE_CHECKING:
    from driftd.attribute.sources.tail import TailResult
    from driftd.config import Config


log = logging.getLogger(__name__)

Dialect = Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]


class SourceConfig(BaseModel):
    """Keys every ``[audit.NAME]`` table may set; unknown keys are errors."""

    # validate_default: defaults go through the same validators as values.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    type: str
    # Clock skew (and the snapshot's own duration) allowed around the window.
    window_slack: Seconds = 30.0


# Skipped records listed by position in one read (the rest are only counted).
MAX_LISTED_SKIPS = 10


@dataclass
class PollResult:
    """Problems met while reading, and counts of what could not be parsed.

    A bad record (torn, not UTF-8, of the wrong shape) is skipped with :meth:`skip`:
    it is counted (``driftd_audit_parse_errors_total``, and a summary line), logged
    as a warning naming the source and its position (:meth:`Source.add`), and the
    read goes on. It never marks the source down: ``problems`` do.
    """

    problems: list[str] = field(default_factory=list)
    bad_records: int = 0
    skipped: list[str] = field(default_factory=list)  # "<why> at <where>", the first few
    unparsed_statements: int = 0
    new_events: int = 0
    last_event_at: datetime | None = None  # the newest event this read found

    def skip(self, where: str, why: str) -> None:
        """Count one bad record; ``where`` is its position (file and byte offset, or the
        session or event id), ``why`` a fixed phrase (never the record's own text)."""
        self.bad_records += 1
        if len(self.skipped) < MAX_LISTED_SKIPS:
            self.skipped.append(f"{why} at {where}")

    def took(self, read: TailResult, max_read_bytes: int) -> None:
        """What a log read (:func:`driftd.attribute.sources.tail.read_new`) met: its
        problems, the records it skipped, and a backlog left for the next run."""
        self.problems += read.problems
        for where, why in read.skipped:
            self.skip(where, why)
        if read.backlog:
            self.problems.append(
                f"more than max_read_bytes ({max_read_bytes}) of new log: the rest is read "
                "on the next run"
            )

    def warn_skipped(self, name: str) -> None:
        """A warning per skipped record (the first few; the rest are counted). Called
        once per poll by the caller, also when the poll stopped on a source error."""
        for skipped in self.skipped:
            log.warning("audit.%s: skipped %s", name, skipped)
        if self.bad_records > len(self.skipped) >= MAX_LISTED_SKIPS:
            log.warning(
                "audit.%s: %d more record(s) skipped", name, self.bad_records - len(self.skipped)
            )

    def summary(self, name: str) -> list[str]:
        out = [f"audit.{name}: {p}" for p in self.problems]
        if self.bad_records:
            out.append(f"audit.{name}: {self.bad_records} unparseable record(s) skipped")
        if self.unparsed_statements:
            out.append(
                f"audit.{name}: {self.unparsed_statements} statement(s) could not be parsed "
                "(they can only be matched by time)"
            )
        return out


class Source(ABC):
    """An audit source: reads what is new into the state's event cache."""

    config_model: ClassVar[type[SourceConfig]]

    def __init__(self, name: str, settings: SourceConfig, config: Config) -> None:
        self.name = name
        self.settings = settings
        self.config = config

    @abstractmethod
    def poll(self, since: datetime, until: datetime, state: AuditState) -> PollResult:
        """Read new audit records covering ``[since, until]`` into ``state``; never raise
        for expected failures (unreachable source, bad records): report them instead."""

    def poll_lines(
        self,
        state: AuditState,
        path: str,
        max_read_bytes: int,
        parse: Callable[[bytes, str, PollResult, str], AuditEvent | None],
    ) -> PollResult:
        """Poll a file of one record a line: what is new since the cursor, each line
        through ``parse`` (raw bytes, key, result, where), the cursor moved past it."""
        result = PollResult()
        where_to = str(self.config.resolve_path(path))
        read = tail.read_new(where_to, state.cursor(self.name), max_read_bytes, tail.lines_splitter)
        result.took(read, max_read_bytes)
        events: list[AuditEvent] = []
        for raw, key, where in read.lines():
            event = parse(raw, key, result, where)
            if event is not None:
                events.append(event)
        self.add(state, events, result)
        state.save_cursor(self.name, read.cursor)
        return result

    def add(self, state: AuditState, events: list[AuditEvent], result: PollResult) -> None:
        """Keep what a poll read (every source's poll that gets this far ends here)."""
        state.add_events(self.name, events)
        result.new_events += len(events)
        for event in events:
            if result.last_event_at is None or event.at > result.last_event_at:
                result.last_event_at = event.at
