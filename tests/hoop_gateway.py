"""A hoop.dev gateway on loopback that answers the way hoop's own source does.

Everything here follows hoophq/hoop (read at commit e939597, 2026-08-21); each
piece names the file and function it copies. Sessions are kept in hoop's
*storage* form (a ``private.sessions`` row with its blobs, models/session.go)
and turned into API answers by the same steps the gateway takes, so the tests
exercise driftd's decoders with the very bytes hoop stores:

- input events of native-client sessions are what the audit plugin writes
  (gateway/transport/plugins/audit/audit.go ``OnReceive``): every PostgreSQL
  frontend message as sent (``pbagent.PGConnectionWrite``: ``pkt.Payload``,
  one message per packet, gateway/proxyproto/postgresproxy ``handleServerWrite``
  decodes one message at a time); for MySQL only COM_QUERY, cut by
  decoders.go ``decodeMySQLCommandQuery`` (from the command byte on);
- events are stored as ``[seconds since start, type, base64]``
  (plugins/audit/wal.go ``encodeEventEntry``; empty payloads are skipped),
  in a blob whose format is ``wire-proto`` for PostgreSQL connections only
  (wal.go ``blobFormatFor``);
- ``GET /api/sessions`` is api/session/session.go ``List`` with
  list_options.go ``parseSessionListOptions`` and models/session.go
  ``ListSessions`` (LIKE filters, created_at BETWEEN, newest first, a probe
  row for ``has_next_page``, the count modes);
- ``GET /api/sessions/{id}`` is session.go ``Get`` with parser.go
  ``encodeBlobStream`` / ``parseBlobStream`` / ``parseRawQueries`` and
  common/pgtypes/packet.go ``ParseQuery``;
- authentication is api/apiroutes/auth.go ``AuthMiddleware`` / ``parseToken``.

``legacy=True`` serves a gateway from before hoop #854 (2025-05-23): its
``Get`` ignores an ``event_stream`` value it does not know (raw-queries did not
exist), and ``record_legacy_pg`` stores PostgreSQL input the way it did then
(pgtypes ``SimpleQueryContent``: the body of ``Q`` messages only).
``formats`` lists the event_stream formats ``encodeBlobStream`` knows; taking
``raw-queries`` out gives hoop's answer to an unknown format (422).
"""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

ORG_ID = "0cd7f941-2bb8-4f9f-93b0-11620d4652ab"

# -- wire protocol frames, built byte-exactly ---------------------------------------------
# PostgreSQL: "Frontend/Backend Protocol, Message Formats" (type byte, int32
# length counting itself, body); hoop decodes them with common/pgtypes.


def _cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def pg_message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", 4 + len(body)) + body


def pg_startup(user: str, database: str, application: str = "psql") -> bytes:
    """StartupMessage: int32 length, int32 protocol 3.0, name/value pairs, NUL."""
    body = struct.pack("!I", 196608)
    for name, value in (("user", user), ("database", database), ("application_name", application)):
        body += _cstr(name) + _cstr(value)
    body += b"\0"
    return struct.pack("!I", 4 + len(body)) + body


def pg_password(secret: str) -> bytes:
    """PasswordMessage ``p`` (a password must never come out as SQL)."""
    return pg_message(b"p", _cstr(secret))


def pg_query(sql: str) -> bytes:
    """Simple query ``Q``: int32 length, the SQL, NUL."""
    return pg_message(b"Q", _cstr(sql))


def pg_parse(sql: str, name: str = "", param_oids: tuple[int, ...] = ()) -> bytes:
    """Parse ``P``: statement name NUL, SQL NUL, int16 count, int32 type oid each."""
    body = _cstr(name) + _cstr(sql) + struct.pack("!H", len(param_oids))
    body += b"".join(struct.pack("!I", oid) for oid in param_oids)
    return pg_message(b"P", body)


def pg_bind(params: tuple[bytes, ...] = (), portal: str = "", statement: str = "") -> bytes:
    """Bind ``B``: portal, statement, format codes (none), values, result formats (none)."""
    body = _cstr(portal) + _cstr(statement) + struct.pack("!H", 0)
    body += struct.pack("!H", len(params))
    for value in params:
        body += struct.pack("!i", len(value)) + value
    body += struct.pack("!H", 0)
    return pg_message(b"B", body)


def pg_describe(portal: str = "") -> bytes:
    return pg_message(b"D", b"P" + _cstr(portal))


def pg_execute(portal: str = "", max_rows: int = 0) -> bytes:
    return pg_message(b"E", _cstr(portal) + struct.pack("!I", max_rows))


def pg_sync() -> bytes:
    return pg_message(b"S", b"")


def pg_terminate() -> bytes:
    return pg_message(b"X", b"")


def pg_extended(sql: str, params: tuple[bytes, ...] = ()) -> list[bytes]:
    """What an extended-protocol client (psycopg, JDBC, psql's \\bind) sends for one statement."""
    oids = tuple(25 for _ in params)  # text
    return [pg_parse(sql, "", oids), pg_bind(params), pg_describe(), pg_execute(), pg_sync()]


# MySQL: "Client/Server Protocol": a packet is a 3-byte little-endian payload
# length, a 1-byte sequence id, then the payload (command byte first).


def mysql_packet(payload: bytes, seq: int = 0) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def mysql_com_query(sql: str, *, query_attributes: bool = False) -> bytes:
    """COM_QUERY (0x03); with CLIENT_QUERY_ATTRIBUTES and no attributes the SQL follows
    parameter_count 0 and parameter_set_count 1."""
    prefix = b"\x03" + (b"\x00\x01" if query_attributes else b"")
    return mysql_packet(prefix + sql.encode())


def mysql_com_stmt_prepare(sql: str) -> bytes:
    """COM_STMT_PREPARE (0x16)."""
    return mysql_packet(b"\x16" + sql.encode())


def mysql_handshake_response(user: str) -> bytes:
    """HandshakeResponse41 (sequence 1): capability flags, max packet, charset, filler, user."""
    body = struct.pack("<IIB", 0x000FA68D, 16 * 1024 * 1024, 0x2D) + b"\0" * 23 + _cstr(user)
    return mysql_packet(body + b"\0", seq=1)


def mysql_com_quit() -> bytes:
    return mysql_packet(b"\x01")


# -- what the audit plugin stores --------------------------------------------------------


def hoop_decode_mysql_command_query(payload: bytes) -> bytes | None:
    """A port of plugins/audit/decoders.go ``decodeMySQLCommandQuery``, quirks and all:
    it keeps ``payload[4:]`` (the 0x03 command byte, then the SQL) or, when byte 5 is
    0 (query attributes), ``payload[6:]`` (the parameter_set_count byte, then the SQL)."""
    if len(payload) < 5:
        return None
    pos = 4
    if payload[pos] != 0x03:
        return None
    if payload[pos + 1] == 0x00:
        pos += 2
    if len(payload) < pos:
        return None
    return payload[pos:]


def hoop_simple_query_content(payload: bytes) -> bytes | None:
    """Pre-#854 common/pgtypes ``SimpleQueryContent`` (what old gateways stored):
    ``Q`` messages only, their body (the SQL and its NUL)."""
    if not payload or payload[:1] != b"Q":
        return None
    length = struct.unpack("!I", payload[1:5])[0] - 4
    return payload[5 : 5 + length]


def hoop_parse_query(payload: bytes) -> bytes | None:
    """common/pgtypes/packet.go ``ParseQuery``: the SQL of a ``Q`` or ``P`` message."""
    if payload[:1] == b"Q":
        length = struct.unpack("!I", payload[1:5])[0]
        return payload[5:length]
    if payload[:1] == b"P":
        rest = payload[5:]
        if rest[:1] == b"\0":
            rest = rest[1:]
        else:
            idx = rest.find(b"\0")
            if idx == -1:
                return None
            rest = rest[idx + 1 :]
        idx = rest.find(b"\0")
        return None if idx == -1 else rest[:idx]
    return None


# -- hoop's storage form ------------------------------------------------------------------


@dataclass
class ReviewGroup:
    """A row of private.review_groups (models/reviews.go ``ReviewGroups``)."""

    group_name: str
    status: str  # APPROVED | REJECTED | REVOKED | PENDING
    owner_email: str | None = None
    owner_name: str | None = None
    reviewed_at: datetime | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    owner_id: str | None = None
    owner_slack_id: str | None = None
    forced_review: bool = False


@dataclass
class Review:
    """private.reviews as ``GetSessionByID`` builds it (models/session.go ``SessionReview``)."""

    status: str  # models/reviews.go: PENDING APPROVED REJECTED REVOKED PROCESSING EXECUTED UNKNOWN
    groups: list[ReviewGroup] = field(default_factory=list)
    type: str = "onetime"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    revoked_at: datetime | None = None
    access_duration_sec: int = 0
    access_request_rule_name: str | None = None
    min_approvals: int | None = None
    force_approval_groups: list[str] = field(default_factory=list)
    rejection_reason: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def approved_by(email: str, at: datetime, group: str = "dba", name: str = "") -> Review:
    """A one-time review approved by one reviewer (then executed: run-exec.go sets
    EXECUTED once the approved session ran)."""
    return Review(
        status="EXECUTED",
        created_at=at - timedelta(minutes=5),
        groups=[
            ReviewGroup(
                group_name=group,
                status="APPROVED",
                owner_email=email,
                owner_name=name or email.split("@")[0].title(),
                owner_id=str(uuid.uuid5(uuid.NAMESPACE_URL, email)),
                owner_slack_id="U053ELZHB53",
                reviewed_at=at,
            )
        ],
    )


@dataclass
class StoredSession:
    """A private.sessions row with its input and stream blobs (models/session.go ``Session``)."""

    id: str
    connection: str
    verb: str  # exec | connect (proto.ClientVerbExec / ClientVerbConnect)
    user_email: str
    user_id: str
    user_name: str
    created_at: datetime
    ended_at: datetime | None
    connection_type: str = "database"
    connection_subtype: str = "postgres"
    connection_tags: dict[str, str] = field(default_factory=dict)
    status: str = "done"
    exit_code: int | None = 0
    identity_type: str = "user"
    machine_identity_id: str | None = None
    correlation_id: str | None = None
    session_batch_id: str | None = None
    blob_input: str = ""  # private.blobs type session-input (exec scripts)
    blob_stream: list[list[Any]] | None = None  # type session-stream, as stored
    blob_format: str | None = None  # "wire-proto" for PostgreSQL (wal.go blobFormatFor)
    review: Review | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    org_id: str = ORG_ID
    # A detail answer replaced byte for byte (a broken proxy, an encoding bug).
    raw_detail: bytes | None = None


def stream_of(start: datetime, events: list[tuple[datetime, str, bytes | None]]) -> list[list[Any]]:
    """wal.go ``encodeEventEntry``: ``[elapsed seconds, type, base64]``; empty payloads
    (the PostgreSQL output packets carry only metadata) are not written."""
    out: list[list[Any]] = []
    for at, kind, payload in events:
        if not payload:
            continue
        out.append([(at - start).total_seconds(), kind, base64.b64encode(payload).decode()])
    return out


# -- the API answers -------------------------------------------------------------------------


def go_time(moment: datetime | None) -> str | None:
    """Go's ``time.Time`` in JSON: RFC 3339 with nanoseconds, trailing zeros cut."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def openapi_review(review: Review | None) -> dict[str, Any] | None:
    """parser.go ``topOpenApiReview`` → openapi/types.go ``SessionReview``."""
    if review is None:
        return None
    groups = []
    for rg in review.groups:
        owner: dict[str, str] | None = None
        if rg.owner_id is not None:  # ReviewOwner: id and name are omitempty
            owner = {"id": rg.owner_id} if rg.owner_id else {}
            if rg.owner_name:
                owner["name"] = rg.owner_name
            owner["email"] = rg.owner_email or ""
            owner["slack_id"] = rg.owner_slack_id or ""
        groups.append(
            {
                "id": rg.id,
                "group": rg.group_name,
                "status": rg.status,
                "reviewed_by": owner,
                "review_date": go_time(rg.reviewed_at),
                "forced_review": rg.forced_review,
            }
        )
    out: dict[str, Any] = {
        "id": review.id,
        "type": review.type,
        # "saved as seconds, shown as nanoseconds" (topOpenApiReview)
        "access_duration": review.access_duration_sec * 1_000_000_000,
        "status": review.status,
        "revoke_at": go_time(review.revoked_at),
        "created_at": go_time(review.created_at),
        "review_groups_data": groups,
        "time_window": None,
        "access_request_rule_name": review.access_request_rule_name,
        "min_approvals": review.min_approvals,
        "force_approval_groups": review.force_approval_groups or None,
    }
    if review.rejection_reason:  # omitempty
        out["rejection_reason"] = review.rejection_reason
    return out


def openapi_session(
    s: StoredSession, *, script: str | None, event_stream: Any = None, stream_set: bool = False
) -> dict[str, Any]:
    """parser.go ``toOpenApiSession`` → openapi/types.go ``Session`` (field order kept).

    ``script`` None is a list item (``hasInputExpanded`` false: ``"script": null``);
    ``event_stream`` is omitted unless set (``json:"event_stream,omitempty"``).
    """
    out: dict[str, Any] = {
        "id": s.id,
        "org_id": s.org_id,
        "script": None if script is None else {"data": script},
        "script_size": len(s.blob_input),
        "labels": s.labels or None,
        "integrations_metadata": None,
        "metadata": s.metadata or None,
        "metrics": s.metrics or None,
        "user": s.user_email,
        "user_id": s.user_id,
        "user_name": s.user_name,
        "type": s.connection_type,
        "connection_subtype": s.connection_subtype,
        "connection": s.connection,
        "resource_name": s.connection,
        "role_name": s.connection,
        "connection_tags": s.connection_tags or None,
        "review": openapi_review(s.review),
        "verb": s.verb,
        "status": s.status,
        "exit_code": s.exit_code,
    }
    if stream_set:
        out["event_stream"] = event_stream
    out["event_size"] = int(s.metrics.get("event_size", 0))
    if s.session_batch_id is not None:
        out["session_batch_id"] = s.session_batch_id
    if s.correlation_id is not None:
        out["correlation_id"] = s.correlation_id
    out["start_date"] = go_time(s.created_at)
    out["end_date"] = go_time(s.ended_at)
    out["ai_analysis"] = None
    out["guardrails_info"] = None
    out["identity_type"] = s.identity_type
    if s.machine_identity_id is not None:
        out["machine_identity_id"] = s.machine_identity_id
    return out


def parse_blob_stream(stream: list[list[Any]], kinds: tuple[str, ...]) -> bytes:
    """parser.go ``parseBlobStream``: the decoded payloads of the chosen event types, joined."""
    out = b""
    for event in stream:
        if event[1] in kinds:
            out += base64.b64decode(event[2])
    return out


def parse_raw_queries(s: StoredSession) -> tuple[bool, list[list[Any]] | None]:
    """parser.go ``parseRawQueries``: PostgreSQL connections only (else a nil blob: the
    field is omitted); each input event that ``ParseQuery`` decodes becomes
    ``[time, "i", base64(sql)]``; none at all marshals as ``null``."""
    is_postgres = s.connection_type == "database" and s.connection_subtype == "postgres"
    if not is_postgres or s.blob_stream is None:
        return False, None
    out = []
    for t, kind, content in s.blob_stream:
        if kind != "i":
            continue
        query = hoop_parse_query(base64.b64decode(content))
        if not query:
            continue
        out.append([t, kind, base64.b64encode(query).decode()])
    return True, out or None  # json.Marshal of a nil slice: null


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_go_rfc3339(text: str) -> datetime | None:
    """``time.Parse(time.RFC3339, v)`` then ``Format(time.RFC3339)``: second precision."""
    if not _RFC3339.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(microsecond=0).astimezone(UTC)


def sql_like(value: str, pattern: str) -> bool:
    """PostgreSQL ``LIKE`` (case-sensitive; ``%``, ``_``, backslash escapes)."""
    regex = ""
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            regex += re.escape(next(chars, "\\"))
        elif c == "%":
            regex += ".*"
        elif c == "_":
            regex += "."
        else:
            regex += re.escape(c)
    return re.fullmatch(regex, value, re.DOTALL) is not None


class _Invalid(Exception):
    """list_options.go ``invalidListOptionError``: answered 422."""


def _option_error(key: str, reason: str) -> _Invalid:
    return _Invalid(f'failed listing sessions, invalid "{key}" option: {reason}')


# -- the gateway --------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    status: int


@dataclass
class Gateway:
    """The sessions and settings behind the server; ``url`` is set once it listens."""

    url: str = ""
    token: str = "hpk_test_9f8e7d"  # Authorization: Bearer (OIDC token or hpk_ key)
    api_key: str | None = None  # legacy Api-Key header (server config ApiKey)
    legacy: bool = False  # before hoop #854: event_stream values other than utf8/base64 ignored
    formats: set[str] = field(default_factory=lambda: {"utf8", "base64", "raw-queries"})
    sessions: list[StoredSession] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    # Called with the number of the list request (1, 2, ...) before it is answered:
    # lets a test add sessions between two page requests.
    before_list: Callable[[int], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- recording sessions as the gateway would -------------------------------------------

    def add(self, session: StoredSession) -> StoredSession:
        with self.lock:
            self.sessions.append(session)
        return session

    def exec_session(
        self,
        sid: str,
        user: str,
        connection: str,
        script: str,
        start: datetime,
        *,
        seconds: float = 2.0,
        output: str = "",
        review: Review | None = None,
        subtype: str = "postgres",
    ) -> StoredSession:
        """An ``exec`` from the web UI (session.go ``Post``): the script is the session
        input, psql's output the stream."""
        end = start + timedelta(seconds=seconds)
        events: list[tuple[datetime, str, bytes | None]] = [
            (start + timedelta(seconds=seconds / 2), "o", output.encode() or None)
        ]
        return self.add(
            StoredSession(
                id=sid,
                connection=connection,
                verb="exec",
                user_email=user,
                user_id=f"auth0|{uuid.uuid5(uuid.NAMESPACE_URL, user).hex[:24]}",
                user_name=user.split("@")[0].title(),
                created_at=start,
                ended_at=end,
                connection_subtype=subtype,
                blob_input=script,
                blob_stream=stream_of(start, events),
                blob_format="wire-proto" if subtype == "postgres" else None,
                review=review,
                metadata={"origin": "webapp"},
            )
        )

    def connect_session(
        self,
        sid: str,
        connection: str,
        start: datetime,
        frames: list[tuple[float, bytes]],
        *,
        user: str = "",
        user_id: str | None = None,
        user_name: str | None = None,
        machine: bool = False,
        subtype: str = "postgres",
        review: Review | None = None,
        ended: bool = True,
        errors: tuple[tuple[float, str], ...] = (),
    ) -> StoredSession:
        """A native-client session through the proxy; ``frames`` are what the client
        sent, ``(seconds after start, bytes)``, stored as the audit plugin does."""
        store = hoop_decode_mysql_command_query if subtype == "mysql" else (lambda b: b)
        events: list[tuple[datetime, str, bytes | None]] = [
            (start + timedelta(seconds=t), "i", store(frame)) for t, frame in frames
        ]
        events += [(start + timedelta(seconds=t), "e", msg.encode()) for t, msg in errors]
        events.sort(key=lambda e: e[0])
        last = max((t for t, _ in frames), default=0.0)
        mi = str(uuid.uuid5(uuid.NAMESPACE_URL, user_name or "")) if machine else None
        return self.add(
            StoredSession(
                id=sid,
                connection=connection,
                verb="connect",
                # Machine identities (services/credentials.go, transport/plugins/audit
                # OnConnect): no e-mail, user_id is the identity's id, user_name its name.
                user_email="" if machine else user,
                user_id=(user_id or mi or "")
                if machine
                else (user_id or f"auth0|{uuid.uuid5(uuid.NAMESPACE_URL, user).hex[:24]}"),
                user_name=user_name or (user.split("@")[0].title() if user else ""),
                identity_type="machine" if machine else "user",
                machine_identity_id=(user_id or mi) if machine else None,
                created_at=start,
                ended_at=start + timedelta(seconds=last + 1) if ended else None,
                status="done" if ended else "open",
                connection_subtype=subtype,
                blob_stream=stream_of(start, events),
                blob_format="wire-proto" if subtype == "postgres" else None,
                review=review,
            )
        )

    def record_legacy_pg(
        self,
        sid: str,
        user: str,
        connection: str,
        start: datetime,
        frames: list[tuple[float, bytes]],
    ) -> StoredSession:
        """A psql session stored by a gateway before #854: Q bodies only, no blob format."""
        session = self.connect_session(sid, connection, start, [], user=user)
        events: list[tuple[datetime, str, bytes | None]] = [
            (start + timedelta(seconds=t), "i", hoop_simple_query_content(f)) for t, f in frames
        ]
        session.blob_stream = stream_of(start, events)
        session.blob_format = None
        session.ended_at = start + timedelta(seconds=max(t for t, _ in frames) + 1)
        return session

    # -- bookkeeping for tests ------------------------------------------------------------------

    def lists(self) -> list[dict[str, list[str]]]:
        return [r.query for r in self.requests if r.path == "/api/sessions"]

    def details(self, sid: str | None = None) -> list[Request]:
        prefix = "/api/sessions/" + (sid or "")
        return [
            r
            for r in self.requests
            if r.path.startswith(prefix) and (sid is None or r.path == prefix)
        ]

    # -- the endpoints ---------------------------------------------------------------------------

    def authorized(self, headers: Any) -> tuple[int, dict[str, Any]] | None:
        """apiroutes/auth.go ``AuthMiddleware``: Api-Key first, then ``Bearer``."""
        api_key = headers.get("Api-Key")
        if api_key:
            if self.api_key is None:
                return 401, {"message": "access denied"}
            if api_key != self.api_key:
                return 401, {"message": "unauthorize"}
            return None
        parts = (headers.get("Authorization") or "").split(" ")
        if len(parts) != 2 or parts[0] != "Bearer" or not parts[1] or parts[1] != self.token:
            return 401, {"message": "access denied"}
        return None

    def list_sessions(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        """session.go ``List`` → list_options.go ``parseSessionListOptions`` →
        models/session.go ``ListSessions``."""
        try:
            opt, start, end = _list_options(query)
        except _Invalid as exc:
            return 422, {"message": str(exc)}
        if start is not None and end is None:
            end = datetime.now(UTC).replace(microsecond=0)

        def matches(s: StoredSession) -> bool:
            # newSessionListShape: "%" is the unset sentinel; the filters are LIKEs.
            if opt["user"] != "%" and not sql_like(s.user_id or "", opt["user"]):
                return False
            if opt["connection"] != "%" and not sql_like(s.connection or "", opt["connection"]):
                return False
            if opt["type"] != "%" and not sql_like(s.connection_type or "", opt["type"]):
                return False
            status = s.review.status if s.review else ""
            if opt["review.status"] != "%" and not sql_like(status, opt["review.status"]):
                return False
            if opt.get("correlation_id") and s.correlation_id != opt["correlation_id"]:
                return False
            # sessionListDateRangeCondition, only when start_date is set: BETWEEN, inclusive
            return start is None or start <= s.created_at <= end  # type: ignore[operator]

        with self.lock:
            rows = [s for s in self.sessions if matches(s)]
        rows.sort(key=lambda s: (s.created_at, s.id), reverse=True)  # created_at DESC, id DESC
        limit, offset = opt["limit"], opt["offset"]
        probe = rows[offset : offset + limit + 1]  # LIMIT @page_limit (limit + 1) OFFSET
        total: int | None = None
        capped = False
        if opt["count"] == "exact":
            total = len(rows)
        elif opt["count"] == "capped":
            total = min(len(rows), 10_000)
            capped = len(rows) >= 10_001
        return 200, {
            "data": [openapi_session(s, script=None) for s in probe[:limit]],
            "total": total,
            "total_is_capped": capped,
            "has_next_page": len(probe) > limit,
        }

    def get_session(self, sid: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """session.go ``Get`` (admin or auditor token: ``isAllowed``)."""
        with self.lock:
            found = [s for s in self.sessions if s.id == sid]
        if not found:
            return 404, {"message": "not found"}
        s = found[0]
        if s.raw_detail is not None:
            return 200, s.raw_detail
        expand = (query.get("expand") or [""])[0]
        fields = expand.split(",")
        stream: Any = None
        has_blob = False
        if "event_stream" in fields and s.blob_stream is not None:
            stream, has_blob = json.loads(json.dumps(s.blob_stream)), True
        # Input loaded with no expand (backward compat) or ?expand=session_input.
        script = s.blob_input if expand == "" or "session_input" in fields else ""
        option = (query.get("event_stream") or [""])[0]
        if option and "event_stream" in fields and has_blob:
            if self.legacy:
                # pre-#854 Get: switch option { case "utf8": ...; case "base64": ... }
                if option in ("utf8", "base64"):
                    output = parse_blob_stream(stream, ("o", "e"))
                    stream = [self._output(output, option)]
            elif option not in self.formats:
                return 422, {"message": "event_stream attribute has an unknown type format"}
            elif option in ("utf8", "base64"):
                stream = [self._output(parse_blob_stream(stream, ("o", "e")), option)]
            elif option == "raw-queries" and s.blob_format == "wire-proto":
                # Blobs not in the wire format are returned unchanged ("It maintains
                # compatibility with older sessions ..."); a nil RawMessage is omitted.
                has_blob, stream = parse_raw_queries(s)
        return 200, openapi_session(s, script=script, event_stream=stream, stream_set=has_blob)

    @staticmethod
    def _output(output: bytes, option: str) -> str:
        if option == "base64":
            return base64.b64encode(output).decode()
        return output.decode("utf-8", errors="replace")


def _go_encode(body: Any, *, html_escape: bool) -> bytes:
    """encoding/json output: raw UTF-8; ``json.NewEncoder`` (Get) escapes <, >, & and
    ends with a newline, ``c.PureJSON`` (List) does not escape."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if html_escape:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        text += "\n"
    return text.encode()


@contextmanager
def serve(gateway: Gateway | None = None) -> Iterator[Gateway]:
    """Run ``gateway`` on 127.0.0.1 (a free port) for the duration of the block."""
    gw = gateway or Gateway()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any, *, html_escape: bool = True) -> None:
            data = body if isinstance(body, bytes) else _go_encode(body, html_escape=html_escape)
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            denied = gw.authorized(self.headers)
            if denied is not None:
                code, body = denied
            elif url.path == "/api/sessions":
                with gw.lock:
                    number = 1 + sum(r.path == "/api/sessions" for r in gw.requests)
                if gw.before_list is not None:
                    gw.before_list(number)
                code, body = gw.list_sessions(query)
            elif url.path.startswith("/api/sessions/") and url.path.count("/") == 3:
                code, body = gw.get_session(url.path.rsplit("/", 1)[1], query)
            else:
                code, body = 404, {"message": "not found"}
            with gw.lock:
                gw.requests.append(Request(url.path, query, code))
            self._send(code, body, html_escape=url.path != "/api/sessions")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# list_options.go AvailableSessionOptions, in order; only the first value of each.
_LIST_OPTIONS = (
    "user",
    "type",
    "connection",
    "review.status",
    "review.approver",
    "batch_id",
    "correlation_id",
    "start_date",
    "end_date",
    "limit",
    "offset",
    "jira_issue_key",
    "count",
)


def _list_options(
    query: dict[str, list[str]],
) -> tuple[dict[str, Any], datetime | None, datetime | None]:
    """list_options.go ``parseSessionListOptions``: the options, start and end dates."""
    opt: dict[str, Any] = {
        "user": "%",
        "type": "%",
        "connection": "%",
        "review.status": "%",
        "limit": 20,
        "offset": 0,
        "count": "capped",
    }
    dates: dict[str, datetime] = {}
    for key in _LIST_OPTIONS:
        if not query.get(key):
            continue
        value = query[key][0]
        if key in ("start_date", "end_date"):
            moment = parse_go_rfc3339(value)
            if moment is None:
                raise _option_error(key, "start_date or end_date in wrong format")
            dates[key] = moment
        elif key in ("limit", "offset"):
            opt[key] = _paging_option(key, value)
        elif key == "count":
            if value not in ("exact", "none", "capped"):
                raise _option_error(
                    key, f'invalid count value "{value}", expected one of [exact none capped]'
                )
            opt["count"] = value
        else:
            opt[key] = value
    return opt, dates.get("start_date"), dates.get("end_date")


def _paging_option(key: str, value: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", value):
        raise _option_error(key, f'"{value}" is not a number')
    number = int(value)
    if key == "limit":
        if number < 1:
            raise _option_error(key, f"must be at least 1, got {number}")
        return min(number, 100)  # models.MaxSessionListLimit, clamped
    if number < 0:
        raise _option_error(key, f"must not be negative, got {number}")
    if number > 10_000:  # models.MaxSessionListOffset, refused
        raise _option_error(
            key,
            f"must not be greater than 10000, got {number}; narrow the "
            "result set with a filter instead of paginating deeper",
        )
    return number
