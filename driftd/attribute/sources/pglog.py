"""PostgreSQL server logs: the shared reader (stderr, csvlog, jsonlog) and ``pglog``.

The reader turns log bytes into :class:`LogRecord` s: stderr lines are split
with a regex built from ``log_line_prefix`` (continuation lines start with a
tab), csvlog records are CSV with the 26 columns of PostgreSQL 14+ (older
layouts too, by position), jsonlog records are JSON objects (PG 15+).

With ``log_error_verbosity = verbose`` a stderr message starts with its
SQLSTATE (``LOG:  00000: AUDIT: ...``) and is followed by a ``LOCATION:`` line
(with the prefix); csvlog has the SQLSTATE and location in columns of their
own and jsonlog in ``state_code`` (left out when it is 00000) and
``func_name``/``file_name``/``file_line_num``, so only stderr messages change.
The SQLSTATE is moved out of the message into :attr:`LogRecord.sql_state`.

The ``pglog`` source reads ``log_statement = 'ddl'`` messages
(``statement: ...``, ``execute <name>: ...``) for servers without pgaudit.
Those messages hold passwords in clear text: the SQL is masked before
anything is kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from driftd.attribute.sources import tail
from driftd.attribute.sources.base import PollResult, Source, SourceConfig
from driftd.attribute.sources.events import AuditEvent, statements_of
from driftd.attribute.sources.state import AuditState
from driftd.attribute.sqlrefs import Statement
from driftd.masking import mask, normalize

DEBIAN_PREFIX = "%m [%p] %q%u@%d "
RDS_PREFIX = "%t:%r:%u@%d:[%p]:"
MAX_PREFIX_CHARS = 1024  # a prefix is short: never run its regex over a whole long line
MAX_MESSAGE_CHARS = 1_000_000

LogFormat = Literal["auto", "stderr", "csvlog", "jsonlog"]


@dataclass
class LogRecord:
    key: str
    at: datetime | None
    severity: str
    message: str
    user: str | None = None
    database: str | None = None
    pid: str | None = None
    session_id: str | None = None
    application: str | None = None
    query: str | None = None  # csvlog/jsonlog: the statement an ERROR is about
    sql_state: str | None = None  # csvlog, jsonlog, stderr with log_error_verbosity = verbose
    where: str = ""  # file and byte offset, for warnings


@dataclass(frozen=True)
class Skipped:
    """A record that cannot be read: where it is (file, byte offset) and why."""

    where: str
    why: str


Parsed = LogRecord | Skipped


# -- log_line_prefix ----------------------------------------------------------------

_TS = (
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?"
    r"(?: [A-Za-z][A-Za-z0-9_/+\-]{0,31}|[+-]\d\d(?::?\d\d)?)?"
)
_ESCAPES: dict[str, tuple[str | None, str]] = {
    "a": ("application", r".*?"),
    "u": ("user", r".*?"),
    "d": ("database", r".*?"),
    "r": (None, r"\S*?"),
    "h": (None, r"\S*?"),
    "L": (None, r"\S*?"),
    "b": (None, r".*?"),
    "p": ("pid", r"\d+"),
    "P": (None, r"\d*"),
    "t": ("ts", _TS),
    "m": ("ts", _TS),
    "n": ("epoch", r"\d+(?:\.\d+)?"),
    "i": (None, r".*?"),
    "e": (None, r"[0-9A-Z]{5}"),
    "c": ("session_id", r"[0-9a-f]+\.[0-9a-f]+"),
    "l": (None, r"\d+"),
    "s": (None, _TS),
    "v": (None, r"\S*?"),
    "x": (None, r"\d+"),
    "Q": (None, r"-?\d+"),
}
_SEVERITY = r"(?P<severity>[A-Z][A-Z0-9]{1,12}):\s\s?"
# log_error_verbosity = verbose puts the SQLSTATE first: "00000: AUDIT: ...". A code
# without a digit is not taken for one: "AUDIT: " itself has that shape.
_VERBOSE_STATE = re.compile(r"(?=[A-Z]*[0-9])([0-9A-Z]{5}): ")


def prefix_regex(prefix: str) -> re.Pattern[str]:
    """A regex matching ``log_line_prefix`` plus the severity (``LOG:  ``)."""
    parts: list[str] = []
    optional_from: int | None = None
    used: set[str] = set()
    i = 0
    while i < len(prefix):
        c = prefix[i]
        if c != "%":
            parts.append(re.escape(c))
            i += 1
            continue
        m = re.match(r"%(-?\d*)(.)", prefix[i:])
        if not m:
            parts.append(re.escape(prefix[i:]))
            break
        padded, esc = bool(m.group(1)), m.group(2)
        i += m.end()
        if esc == "%":
            parts.append("%")
        elif esc == "q":
            optional_from = len(parts)
        elif esc in _ESCAPES:
            group, pattern = _ESCAPES[esc]
            if padded:
                pattern = rf"\s*{pattern}\s*"
            if group and group not in used:
                used.add(group)
                parts.append(f"(?P<{group}>{pattern})")
            else:
                parts.append(f"(?:{pattern})")
        else:
            parts.append(re.escape(m.group(0)))
    if optional_from is not None:
        head, rest = parts[:optional_from], parts[optional_from:]
        # Non-session processes stop at %q; keep the rest optional.
        parts = [*head, "(?:", *rest, ")?"]
    return re.compile("^" + "".join(parts) + _SEVERITY)


def zone(name: str) -> tzinfo:
    if name.upper() in ("UTC", "GMT", "Z"):
        return UTC
    return ZoneInfo(name)


_LOG_TIME = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?)\s*"
    r"([A-Za-z][\w/+\-]*|[+-]\d\d(?::?\d\d)?)?$"
)


def check_zone(value: str) -> str:
    """A ``timezone`` setting: an IANA zone name (or UTC), checked at config load."""
    try:
        zone(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from None
    return value


ZoneName = Annotated[str, AfterValidator(check_zone)]


def parse_log_time(text: str, default_tz: tzinfo) -> datetime | None:
    """``2026-11-22 16:44:11.996 UTC`` (zone optional: numeric, UTC/GMT, else ``default_tz``)."""
    m = _LOG_TIME.match(text.strip())
    if not m:
        return None
    try:
        moment = datetime.fromisoformat(m.group(1))
    except ValueError:
        return None
    tz_text = m.group(2) or ""
    tz: tzinfo = default_tz
    if tz_text.upper() in ("UTC", "GMT", "Z", "UCT"):
        tz = UTC
    elif tz_text[:1] in "+-" and tz_text:
        digits = tz_text[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            return None
        delta = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-delta if tz_text[0] == "-" else delta)
    elif "/" in tz_text:
        try:
            tz = ZoneInfo(tz_text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            tz = default_tz
    return moment.replace(tzinfo=tz).astimezone(UTC)


class LineParser:
    """Turns raw log text into :class:`LogRecord` s for one format and prefix."""

    def __init__(self, fmt: LogFormat, prefix: str, default_tz: tzinfo) -> None:
        self.fmt = fmt
        self.prefix = prefix_regex(prefix)
        self.tz = default_tz

    # stderr ---------------------------------------------------------------------

    def stderr_line(self, line: str, key: str) -> LogRecord | None:
        m = self.prefix.match(line[:MAX_PREFIX_CHARS])
        if not m:
            return None
        fields = m.groupdict()
        at = None
        if fields.get("ts"):
            at = parse_log_time(fields["ts"], self.tz)
        elif fields.get("epoch"):
            try:
                at = datetime.fromtimestamp(float(fields["epoch"]), UTC)
            except (OverflowError, ValueError, OSError):
                at = None
        message = line[m.end() :]
        state = _VERBOSE_STATE.match(message)
        if state:
            message = message[state.end() :]
        return LogRecord(
            key=key,
            at=at,
            severity=fields["severity"],
            message=message[:MAX_MESSAGE_CHARS],
            user=fields.get("user") or None,
            database=fields.get("database") or None,
            pid=fields.get("pid"),
            session_id=fields.get("session_id"),
            application=fields.get("application") or None,
            sql_state=state.group(1) if state else None,
        )

    def stderr(self, data: bytes, key_base: str, offset: int, where: str) -> Iterator[Parsed]:
        """Records (:class:`Skipped` for each line that is neither a record nor a
        continuation)."""
        record: LogRecord | None = None
        for start, raw in tail.nonblank_lines(data):
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            if line.startswith("\t") and record is not None:
                if len(record.message) < MAX_MESSAGE_CHARS:
                    record.message += "\n" + line[1:]
                continue
            at = f"{where} byte {offset + start}"
            parsed = self.stderr_line(line, f"{key_base}:{offset + start}")
            if parsed is None:
                yield Skipped(at, "a line without the log_line_prefix")
                continue
            parsed.where = at
            if record is not None:
                yield record
            record = parsed
        if record is not None:
            yield record

    # csvlog -----------------------------------------------------------------------

    def csvlog(self, data: bytes, key_base: str, offset: int, where: str) -> Iterator[Parsed]:
        """Records, and a :class:`Skipped` for each torn row (tail.csvlog_scan resyncs
        on the next record, so one torn row never hides the rows after it)."""
        scan = tail.csvlog_scan(data, final=True)
        for start, _end in scan.torn:
            yield Skipped(
                f"{where} byte {offset + start}",
                "a row that is not a csvlog record (torn, or unbalanced quotes)",
            )
        for (start, _end), row in zip(scan.records, scan.rows, strict=True):
            yield LogRecord(
                key=f"{key_base}:{offset + start}",
                at=parse_log_time(row[0], self.tz),
                severity=row[11],
                message=row[13][:MAX_MESSAGE_CHARS],
                user=row[1] or None,
                database=row[2] or None,
                pid=row[3] or None,
                session_id=row[5] or None,
                application=(row[22] if len(row) > 22 else "") or None,
                query=(row[19] if len(row) > 19 else "") or None,
                sql_state=row[12] or None,
                where=f"{where} byte {offset + start}",
            )

    # jsonlog ------------------------------------------------------------------------

    def jsonlog(self, data: bytes, key_base: str, offset: int, where: str) -> Iterator[Parsed]:
        for start, raw in tail.nonblank_lines(data):
            at = f"{where} byte {offset + start}"
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError):
                yield Skipped(at, "a line that is not JSON")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("message"), str):
                yield Skipped(at, "a JSON line without a message string")
                continue
            yield LogRecord(
                where=at,
                key=f"{key_base}:{offset + start}",
                at=parse_log_time(str(obj.get("timestamp", "")), self.tz),
                severity=str(obj.get("error_severity", "")),
                message=obj["message"][:MAX_MESSAGE_CHARS],
                user=_str(obj.get("user")),
                database=_str(obj.get("dbname")),
                pid=_str(obj.get("pid")),
                session_id=_str(obj.get("session_id")),
                application=_str(obj.get("application_name")),
                query=_str(obj.get("statement")),
                sql_state=_str(obj.get("state_code")),
            )

    def records(
        self, data: bytes, key_base: str, offset: int, where: str | None = None
    ) -> Iterator[Parsed]:
        """The records of ``data`` (read at ``offset`` of a file); ``where`` names the
        file in warnings (default: ``key_base``)."""
        at = where or key_base
        if self.fmt == "csvlog":
            return self.csvlog(data, key_base, offset, at)
        if self.fmt == "jsonlog":
            return self.jsonlog(data, key_base, offset, at)
        return self.stderr(data, key_base, offset, at)


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# -- from records to events ---------------------------------------------------------


@dataclass
class Extracted:
    """What an extractor read from a message that is more than plain SQL.

    ``unit`` names the statement the line belongs to within its backend
    (pgaudit: statement id and substatement id): several lines of one unit
    describe one statement and give one event. ``sql`` is None when the line
    does not carry the text (pgaudit ``<previously logged>``, ``<not
    logged>``): an earlier line of the same unit gives it, else ``fallback``
    (statements built from the line's other fields) stands in, and the
    ``fallback`` refs of later text-less lines of the unit are added to it.
    """

    sql: str | None
    unit: tuple[str, str] | None = None
    fallback: list[Statement] = field(default_factory=list)


# Returns the raw SQL a message carries (or an Extracted), or None when the message
# is not ours; raises BadRecord when it is ours but malformed.
Extractor = Callable[[str], str | Extracted | None]

# Lines that belong to the record before them (with their own prefix in stderr).
SUB_LINES = frozenset({"DETAIL", "HINT", "CONTEXT", "QUERY", "LOCATION"})


class BadRecord(ValueError):
    """A record of the expected kind that cannot be read."""


_STATEMENT = re.compile(
    r"^(?:duration: \d+(?:\.\d+)? ms\s+)?(?:statement|execute [^:\n]{0,200}): ", re.S
)


def statement_message(message: str) -> str | None:
    """The SQL of a ``log_statement`` message (``statement:`` / ``execute <name>:``)."""
    m = _STATEMENT.match(message)
    return message[m.end() :] if m else None


Backend = tuple[str, str, str]  # (session id or pid, user, database)


@dataclass
class _Unit:
    event: AuditEvent | None  # None: the statement changes no schema
    norm: str | None  # normalized masked text; None when built from fallback fields


class EventBuilder:
    """Records → events: parse the SQL, mask it, and drop repeats; mark statements
    the server then rejected (an ERROR whose STATEMENT is the same text).

    Repeats: lines of one unit (pgaudit statement/substatement id, counted per
    backend) give one event; lines without a unit, the same text twice in a row
    from one backend. A backend is its session id (csvlog, jsonlog, ``%c``) or
    pid, with the user and database: a pid reused by a later session of another
    user is another backend.
    """

    def __init__(self, extract: Extractor, result: PollResult) -> None:
        self.extract = extract
        self.result = result
        self.events: list[AuditEvent] = []
        # Per backend: its last event and that statement's normalized masked text.
        self._last: dict[Backend, tuple[AuditEvent, str]] = {}
        # Per backend: the statement id of its last unit and that statement's units.
        self._units: dict[Backend, tuple[str, dict[str, _Unit]]] = {}
        self._error_pending: set[Backend] = set()

    @staticmethod
    def backend(record: LogRecord) -> Backend:
        return (record.session_id or record.pid or "", record.user or "", record.database or "")

    def _rejected(self, backend: Backend, query: str) -> None:
        last = self._last.get(backend)
        if last is not None and normalize(mask(query)) == last[1]:
            last[0].failed = True
            del self._last[backend]

    def add(self, record: Parsed) -> None:
        if isinstance(record, Skipped):
            self.result.skip(record.where, record.why)
            return
        backend = self.backend(record)
        if record.severity in SUB_LINES:
            return  # verbose LOCATION, DETAIL, CONTEXT...: the STATEMENT may still follow
        if record.severity in ("ERROR", "FATAL", "PANIC"):
            if record.query:
                self._rejected(backend, record.query)
            else:
                self._error_pending.add(backend)  # the STATEMENT line follows (stderr format)
            return
        if record.severity == "STATEMENT":
            if backend in self._error_pending:
                self._error_pending.discard(backend)
                self._rejected(backend, record.message)
            return
        self._error_pending.discard(backend)
        try:
            got = self.extract(record.message)
        except BadRecord as exc:
            self.result.skip(record.where or record.key, str(exc))
            return
        if got is None:
            return
        if record.at is None:
            self.result.skip(record.where or record.key, "a record without a valid time")
            return
        extracted = got if isinstance(got, Extracted) else Extracted(got)
        if extracted.unit is None:
            if extracted.sql is not None:
                self._add_sql(record, backend, extracted.sql)
            return
        self._add_unit(record, backend, extracted, extracted.unit)

    def _add_sql(self, record: LogRecord, backend: Backend, sql: str) -> None:
        norm = normalize(mask(sql))
        last = self._last.get(backend)
        if last is not None and last[1] == norm:
            return  # the same statement again
        event = self._event(record, sql)
        if event is not None:
            self._last[backend] = (event, norm)

    def _add_unit(
        self, record: LogRecord, backend: Backend, got: Extracted, unit: tuple[str, str]
    ) -> None:
        statement_id, sub_id = unit
        current = self._units.get(backend)
        if current is None or current[0] != statement_id:
            current = self._units[backend] = (statement_id, {})
        units = current[1]
        seen = units.get(sub_id)
        norm = None if got.sql is None else normalize(mask(got.sql))
        if seen is not None:
            if got.sql is None:
                if seen.norm is None and seen.event is not None:
                    _merge_refs(seen.event.statements, got.fallback)
                return  # the text came on the unit's first line
            if norm == seen.norm:
                return  # the same statement's next object (CREATE INDEX of a primary key)
        event: AuditEvent | None
        if got.sql is None:
            if not got.fallback:
                units[sub_id] = _Unit(None, None)
                return
            event = self._new_event(record, [_copy(s) for s in got.fallback])
        else:
            event = self._event(record, got.sql)
        units[sub_id] = _Unit(event, norm)
        if event is not None:
            self._last[backend] = (event, norm or "")

    def _event(self, record: LogRecord, sql: str) -> AuditEvent | None:
        parsed = statements_of(sql)
        self.result.unparsed_statements += parsed.errors
        if not parsed.statements:
            return None
        return self._new_event(record, parsed.statements)

    def _new_event(self, record: LogRecord, statements: list[Statement]) -> AuditEvent:
        if record.at is None:
            raise ValueError("a record without a time gives no event")  # add() checked it
        event = AuditEvent(
            key=record.key,
            at=record.at,
            statements=statements,
            db_user=record.user,
            session=record.pid,
            database=record.database,
        )
        if record.application:
            event.extra["application"] = record.application
        if record.session_id:
            event.extra["session_id"] = record.session_id
        self.events.append(event)
        return event


def _copy(statement: Statement) -> Statement:
    return Statement(
        statement.text, statement.command, list(statement.refs), statement.parsed, statement.dynamic
    )


def _merge_refs(into: list[Statement], more: list[Statement]) -> None:
    """Add the refs of ``more`` (later lines of a text-less unit) to its statement."""
    if not into:
        return
    target = into[0]
    for statement in more:
        for ref in statement.refs:
            if ref not in target.refs:
                target.refs.append(ref)
                target.parsed = True


# -- the pglog source ---------------------------------------------------------------


class LogFileConfig(SourceConfig):
    path: str
    format: LogFormat = "auto"
    log_line_prefix: str = DEBIAN_PREFIX
    timezone: ZoneName = "UTC"  # for timestamps whose zone abbreviation is not UTC or numeric
    max_read_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)

    def log_format(self) -> LogFormat:
        if self.format != "auto":
            return self.format
        if self.path.endswith(".csv"):
            return "csvlog"
        if self.path.endswith(".json"):
            return "jsonlog"
        return "stderr"


class PglogConfig(LogFileConfig):
    type: Literal["pglog"]


class LogFileSource(Source):
    """A PostgreSQL log file (or glob), read incrementally."""

    settings: LogFileConfig

    def extract(self, message: str) -> str | Extracted | None:
        return statement_message(message)

    def poll(self, since: datetime, until: datetime, state: AuditState) -> PollResult:
        result = PollResult()
        cfg = self.settings
        fmt = cfg.log_format()
        path = str(self.config.resolve_path(cfg.path))
        csvlog = fmt == "csvlog"
        read = tail.read_new(
            path,
            state.cursor(self.name),
            cfg.max_read_bytes,
            tail.csvlog_splitter if csvlog else tail.lines_splitter,
            tail.csvlog_resync if csvlog else tail.lines_resync,
        )
        result.took(read, cfg.max_read_bytes)
        parser = LineParser(fmt, cfg.log_line_prefix, zone(cfg.timezone))
        builder = EventBuilder(self.extract, result)
        for chunk in read.chunks:
            for record in parser.records(chunk.data, chunk.file_id, chunk.offset, chunk.path):
                builder.add(record)
        self.add(state, builder.events, result)
        state.save_cursor(self.name, read.cursor)
        return result


class PglogSource(LogFileSource):
    config_model = PglogConfig
