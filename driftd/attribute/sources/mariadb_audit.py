"""``mariadb_audit``: the MariaDB server_audit plugin's log file.

One record per line (MariaDB ``plugin/server_audit/server_audit.c``)::

    20261205 11:36:39,vm,alice,127.0.0.1,6,12,QUERY,app,'ALTER TABLE t1 ADD COLUMN extra text',0

``log_header()`` writes ``YYYYMMDD HH:MM:SS`` from ``localtime_r()`` (server
local time, whole seconds: see the ``timezone`` setting), the server host, the
user, the client host (its IP when the host is empty), the connection id, the
query id and the operation; ``log_statement_ex()`` adds ``,<database>,'<query>',
<error code>``. Only ``QUERY`` records carry SQL; CONNECT/DISCONNECT and TABLE
records (READ, WRITE, CREATE, ALTER, DROP, RENAME) are skipped.

The query is escaped by ``escape_string()`` / ``escape_string_hide_passwords()``
through ``escaped_char()``'s map: ``'`` and ``\\`` get a backslash, and newline,
CR, tab, backspace and form feed are written as ``\\n``, ``\\r``, ``\\t``, ``\\b``,
``\\f`` (so a multi-line statement stays on one line; older plugin versions such
as 1.4.1 wrote any whitespace as a space). Statements in ``passwd_keywords`` (GRANT, CREATE/ALTER
USER, SET PASSWORD, CREATE/ALTER SERVER, CHANGE MASTER) have the quoted secret
replaced by ``*****``; the plugin does not understand a doubled quote inside it,
so ``'pa''ss'`` comes out as ``*****\\'ss\\'``: the SQL is masked here anyway before
anything is kept. The query is cut at ``server_audit_query_log_limit`` bytes
(default 1024). An error code other than 0 means the server rejected the
statement: the event is kept as failed and is never a candidate.

``server_audit_events=QUERY_DDL,QUERY_DCL`` selects statements by their first
words (``filter_query_type()`` with ``ddl_keywords`` / ``dcl_keywords``);
``QUERY`` logs everything, and only schema- and account-changing statements are
kept. The file rotates by renaming (``do_rotate()`` in ``mysys/file_logger.c``:
``server_audit.log`` -> ``server_audit.log.1``, ``.01`` with 10-99 rotations);
the shared tail reader finishes a renamed file by its inode and then reads the
new one.

The ``database`` column is the session's database as the plugin tracked it; it
also picks up ``mysql`` after a statement that opened the grant tables, so it is
used only to qualify table names the statement left unqualified, never to drop
an event.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Literal

from pydantic import Field

from driftd.attribute.sources.base import PollResult, Source, SourceConfig
from driftd.attribute.sources.events import AuditEvent, statements_of
from driftd.attribute.sources.pglog import ZoneName, zone
from driftd.attribute.sources.state import AuditState
from driftd.attribute.sqlrefs import RELATION_KINDS, Statement

# log_header() + log_statement_ex(); the user may hold commas, the host may be empty.
_HEADER = re.compile(
    r"(?P<ts>\d{8} \d\d:\d\d:\d\d),(?P<server>[^,]*),(?P<user>.*?),(?P<host>[^,]*),"
    r"(?P<conn>\d+),(?P<qid>-?\d+),(?P<op>[A-Z_]+),(?P<rest>.*)",
    re.S,
)
# ,<db>,'<escaped query>',<error code>: inside the quotes every ' is escaped.
_QUERY = re.compile(r"(?P<db>.*?),'(?P<q>(?:[^'\\]|\\.)*)',(?P<rc>-?\d+)(?:,.*)?", re.S)
# escaped_char(): the characters the plugin writes as a backslash pair.
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", "\\": "\\"}
_ESCAPED = re.compile(r"\\(.)", re.S)
# passwd_keywords: the statements in which the plugin writes a secret as *****.
_PASSWORD_STATEMENT = re.compile(
    r"(?is)\s*(?:/\*.*?\*/\s*)*(?:GRANT\b|(?:CREATE|ALTER)\s+(?:USER|SERVER)\b|SET\s+PASSWORD\b"
    r"|CHANGE\s+MASTER\b)"
)
_HIDDEN = re.compile(r"(?<![*\w'\"`])\*{5}(?![*\w])")

MAX_LINE_CHARS = 1_000_000


class MariadbAuditConfig(SourceConfig):
    type: Literal["mariadb_audit"]
    path: str  # server_audit_file_path (rotated server_audit.log.1 ... are followed)
    timezone: ZoneName = "UTC"  # the server's local time zone: the log has no zone
    query_log_limit: int = Field(default=1024, ge=0)  # server_audit_query_log_limit
    max_read_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)


def unescape(text: str) -> str:
    """The query as the client sent it (the inverse of ``escaped_char()``)."""
    return _ESCAPED.sub(lambda m: _UNESCAPE.get(m.group(1), "\\" + m.group(1)), text)


def unhide_passwords(sql: str) -> str:
    """``IDENTIFIED BY *****`` -> ``IDENTIFIED BY '*****'``: a literal again, so the
    statement parses (and masking turns it into ``?``)."""
    if "*****" not in sql or not _PASSWORD_STATEMENT.match(sql):
        return sql
    return _HIDDEN.sub("'*****'", sql)


class Record:
    """One QUERY line of the log."""

    __slots__ = ("at", "database", "failed", "host", "query", "query_id", "session", "user")

    def __init__(
        self,
        at: datetime,
        user: str,
        host: str,
        session: str,
        query_id: str,
        database: str,
        query: str,
        failed: bool,
    ) -> None:
        self.at = at
        self.user = user
        self.host = host
        self.session = session
        self.query_id = query_id
        self.database = database
        self.query = query
        self.failed = failed


class BadLine(ValueError):
    """A line that is not a server_audit record."""


def parse_line(line: str, tz: tzinfo) -> Record | None:
    """A QUERY record, None for the other operations; raises BadLine when unreadable."""
    m = _HEADER.fullmatch(line)
    if not m:
        raise BadLine("not a server_audit record")
    if m.group("op") != "QUERY":
        return None
    q = _QUERY.fullmatch(m.group("rest"))
    if not q:
        raise BadLine("malformed QUERY record")
    try:
        local = datetime.strptime(m.group("ts"), "%Y%m%d %H:%M:%S")
    except ValueError:
        raise BadLine("bad timestamp") from None
    return Record(
        at=local.replace(tzinfo=tz).astimezone(UTC),
        user=m.group("user"),
        host=m.group("host"),
        session=m.group("conn"),
        query_id=m.group("qid"),
        database=q.group("db"),
        query=q.group("q"),
        failed=q.group("rc") != "0",
    )


def qualify(statement: Statement, database: str) -> Statement:
    """Name unqualified tables (and ``ALTER DATABASE`` without a name) in ``database``."""
    if not database:
        return statement
    refs = []
    for ref in statement.refs:
        if ref.qualified or "*" in ref.name:
            refs.append(ref)
        elif ref.kind in RELATION_KINDS or ref.kind in ("relation", "index"):
            refs.append(replace(ref, name=f"{database}.{ref.name}", qualified=True))
        elif ref.kind == "database":
            refs.append(replace(ref, name=database, qualified=True))
        else:
            refs.append(ref)
    statement.refs = list(dict.fromkeys(refs))
    return statement


class MariadbAuditSource(Source):
    config_model = MariadbAuditConfig
    settings: MariadbAuditConfig

    def poll(self, since: datetime, until: datetime, state: AuditState) -> PollResult:
        cfg = self.settings
        tz = zone(cfg.timezone)
        return self.poll_lines(
            state,
            cfg.path,
            cfg.max_read_bytes,
            lambda raw, key, result, where: self._event(raw, key, tz, result, where),
        )

    def _event(
        self, raw: bytes, key: str, tz: tzinfo, result: PollResult, where: str = ""
    ) -> AuditEvent | None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")[:MAX_LINE_CHARS]
        try:
            record = parse_line(line, tz)
        except BadLine:
            result.skip(where or key, "a malformed server_audit line")
            return None
        if record is None:
            return None
        sql = unhide_passwords(unescape(record.query))
        parsed = statements_of(sql, "mariadb")
        result.unparsed_statements += parsed.errors
        if not parsed.statements:
            return None  # a query, or a statement that changes nothing driftd watches
        event = AuditEvent(
            key=key,
            at=record.at,
            statements=[qualify(s, record.database) for s in parsed.statements],
            db_user=record.user,
            session=record.session,
            failed=record.failed,
        )
        event.extra["host"] = record.host
        event.extra["query_id"] = record.query_id
        if record.database:
            event.extra["current_database"] = record.database
        limit = self.settings.query_log_limit
        if limit and len(record.query.encode()) >= limit - 1:
            event.extra["truncated"] = True  # cut at server_audit_query_log_limit
        return event
