"""``hoop``: sessions of a hoop.dev gateway, tying statements to a person.

Every hoop session reaches the database as the connection's service user,
so only hoop knows who ran it. What follows is how the gateway really
answers (hoophq/hoop; file and function named where it matters):

- ``GET /api/sessions`` (gateway/api/session/session.go ``List``,
  list_options.go ``parseSessionListOptions``, models/session.go
  ``ListSessions``) filters ``connection`` with SQL ``LIKE`` (``_`` and ``%``
  are wildcards, so ``pg_prod`` also returns ``pg-prod``): every item's
  connection is checked again here. Items come newest first
  (``created_at DESC``); offsets shift when sessions arrive between pages, so
  pages are anchored by time (``end_date`` moves down to the oldest session
  seen, at the second precision the gateway keeps), deduplicated by id, and
  the newest page is read again at the end for sessions that started
  meanwhile. List items carry ``"script": null``.
- ``exec`` sessions: the SQL is ``script.data`` of ``GET /api/sessions/{id}``.
- ``connect`` sessions (psql or any native client through the proxy): the SQL
  is only in the event stream. ``?expand=event_stream&event_stream=raw-queries``
  gives ``[[seconds, "i", base64(sql)], ...]`` for PostgreSQL (parser.go
  ``parseRawQueries``; ``utf8`` would give the *output* only). Other engines,
  sessions stored before the wire format, and gateways older than hoop #854
  return the stored events unchanged; a gateway that answers 422 (unknown
  format) or nothing usable is asked again without ``event_stream``: the
  stored events (plugins/audit/wal.go ``encodeEventEntry``) are base64 of
  what the client sent: PostgreSQL frontend messages (``Q`` simple query,
  ``P`` parse; startup, bind, execute... carry no SQL) or, for MySQL, the
  COM_QUERY packet as plugins/audit/decoders.go ``decodeMySQLCommandQuery``
  keeps it (from the command byte on). Every input event is decoded here,
  whichever form it arrives in.
- Machine identities (services/credentials.go, transport/plugins/audit):
  ``user`` is ``""``, ``user_name`` the identity's name, ``user_id`` its id.
- ``review`` is null or the approval (openapi/types.go ``SessionReview``); it
  becomes the event's ``review``: ``status`` (approved / revoked / pending /
  rejected / unknown / unreviewed), ``approved_by``, ``approved_at``.

Finished sessions are fetched once; their parsed events stay in the audit
state. A session whose detail cannot be read (not JSON, not UTF-8) is counted
as a bad record; the others are still read. ``file`` reads an exported JSON /
JSONL file of sessions instead (offline). The token is sent, never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from driftd.attribute.sources.base import PollResult, Source, SourceConfig
from driftd.attribute.sources.events import AuditEvent, Parsed, parse_time, statements_of
from driftd.attribute.sources.state import AuditState
from driftd.config.durations import Seconds
from driftd.drift import iso
from driftd.errors import DriftdError

if TYPE_CHECKING:
    import httpx  # imported on use: `config validate` loads this module

MAX_OFFSET = 10_000  # models.MaxSessionListOffset: the gateway refuses (422) larger offsets
MAX_DONE_IDS = 5_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_LIST_REQUESTS = 2_000  # per connection and poll: a bound whatever the gateway answers
_DIALECTS = {
    "postgres": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "tsql",
    "sqlserver": "tsql",
    "oracledb": "oracle",
}
# hoop's review statuses (models/reviews.go) in on-call words. PROCESSING and
# EXECUTED follow an approval; REVOKED ends an approved jit access
# (api/review/review.go validateReviewStatusTransition: only from APPROVED).
REVIEW_STATUS = {
    "APPROVED": "approved",
    "PROCESSING": "approved",
    "EXECUTED": "approved",
    "REVOKED": "revoked",
    "PENDING": "pending",
    "REJECTED": "rejected",
    "UNKNOWN": "unknown",
}
# PostgreSQL frontend message types (protocol docs, "Message Formats").
_PG_FRONTEND = frozenset(b"BCdcfDEFHPpQSX")


class HoopConfig(SourceConfig):
    type: Literal["hoop"]
    url: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    api_key_env: str | None = None  # legacy ``Api-Key`` header
    api_key_file: str | None = None
    connection: list[str] = Field(default_factory=list)
    file: str | None = None
    db_user: str | None = None  # the connection's service user, as the database sees it
    dialect: str = "postgres"  # for connections whose subtype does not say
    timeout: Seconds = 15.0
    page_size: int = Field(default=100, ge=1, le=100)
    max_sessions: int = Field(default=2000, ge=1)
    session_lookback: Seconds = 43200.0  # a session started this long before the window may matter
    verify_tls: bool = True
    ca_file: str | None = None

    @field_validator("connection", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _where(self) -> HoopConfig:
        if bool(self.url) == bool(self.file):
            raise ValueError("set url (the gateway) or file (an exported sessions file)")
        if self.url:
            secrets = [
                k
                for k in ("token_env", "token_file", "api_key_env", "api_key_file")
                if getattr(self, k)
            ]
            if len(secrets) != 1:
                raise ValueError("set one of token_env, token_file, api_key_env, api_key_file")
            if not self.connection:
                raise ValueError("set connection: the hoop connection name(s) of this database")
        return self


class HoopError(Exception):
    """The gateway cannot be read at all: the poll stops with this problem."""


class BadSession(Exception):
    """One session's detail cannot be read: counted, the others are still read."""


class _Refused(Exception):
    """The gateway refused a request parameter (HTTP 4xx/5xx other than auth and 404)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _session_at(session: Any) -> str:
    """A session's position for warnings (its id comes from the gateway: quoted)."""
    sid = session.get("id") if isinstance(session, dict) else None
    return f"session {str(sid)[:80]!r}"


class HoopSource(Source):
    config_model = HoopConfig
    settings: HoopConfig

    def poll(self, since: datetime, until: datetime, state: AuditState) -> PollResult:
        result = PollResult()
        try:
            if self.settings.file:
                sessions = self._read_file(result)
                done: list[str] = []
            else:
                cursor = state.cursor(self.name) or {}
                done = [str(d) for d in cursor.get("done") or []]
                sessions = self._fetch(since, until, set(done), result)
        except HoopError as exc:
            result.problems.append(str(exc))
            return result
        events: list[AuditEvent] = []
        for session in sessions:
            try:
                events += self._events(session, result)
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
                # A session we cannot read is counted, never fatal; once ended it is
                # done (it will not change), so it is not counted again.
                result.skip(_session_at(session), "a session with fields of the wrong type")
            if session.get("end_date") and not self.settings.file:
                done.append(str(session["id"]))
        self.add(state, events, result)
        if not self.settings.file:
            state.save_cursor(self.name, {"done": done[-MAX_DONE_IDS:]})
        return result

    # -- the gateway API -----------------------------------------------------------------

    def _client(self) -> httpx.Client:
        cfg = self.settings
        where = f"audit.{self.name}"
        headers = {"Accept": "application/json"}
        try:
            token = self.config.secret(where + ".token", cfg.token_env, cfg.token_file)
            key = self.config.secret(where + ".api_key", cfg.api_key_env, cfg.api_key_file)
        except DriftdError as exc:
            raise HoopError(exc.message) from None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif key:
            headers["Api-Key"] = key
        verify: Any = cfg.verify_tls
        if cfg.ca_file:
            verify = str(self.config.resolve_path(cfg.ca_file))
        assert cfg.url is not None
        import httpx

        return httpx.Client(
            base_url=cfg.url.rstrip("/"),
            headers=headers,
            timeout=cfg.timeout,
            verify=verify,
            follow_redirects=False,
        )

    def _request(self, client: httpx.Client, path: str, params: dict[str, Any]) -> httpx.Response:
        import httpx

        try:
            response = client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise HoopError(
                f"cannot reach {self.settings.url}: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code in (401, 403):
            raise HoopError(
                f"{self.settings.url} refused the credentials (HTTP {response.status_code}); "
                "the token needs an admin or auditor user to see every session"
            )
        return response

    def _list_page(self, client: httpx.Client, params: dict[str, Any]) -> dict[str, Any]:
        response = self._request(client, "/api/sessions", params)
        if response.status_code != 200:
            raise HoopError(
                f"/api/sessions: HTTP {response.status_code} from {self.settings.url}"
                + _message(response)
            )
        try:
            page = json.loads(response.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HoopError("/api/sessions: the answer is not JSON") from None
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise HoopError("/api/sessions: unexpected answer (no data list)")
        return page

    def _detail_get(
        self, client: httpx.Client, sid: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """``GET /api/sessions/{id}``: the session, None when it is gone (404)."""
        response = self._request(client, f"/api/sessions/{sid}", params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _Refused(response.status_code)
        try:
            detail = json.loads(response.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BadSession(sid) from None
        if not isinstance(detail, dict):
            raise BadSession(sid)
        return detail

    def _fetch(
        self, since: datetime, until: datetime, done: set[str], result: PollResult
    ) -> list[dict[str, Any]]:
        cfg = self.settings
        start = since - timedelta(seconds=cfg.session_lookback)
        out: list[dict[str, Any]] = []
        with self._client() as client:
            for connection in cfg.connection:
                for item in self._list(client, connection, start, until, result):
                    # The gateway's filter is a LIKE: keep the exact name only.
                    if item.get("connection") != connection:
                        continue
                    sid = str(item["id"])
                    if sid in done or not _overlaps(item, since, until):
                        continue
                    try:
                        detail = self._detail(client, item, result)
                    except BadSession:  # read again next time: a cut-off answer may heal
                        result.skip(
                            _session_at(item), "a session whose answer is not a JSON object"
                        )
                        continue
                    if detail is not None:
                        out.append(detail)
        return out

    def _list(
        self,
        client: httpx.Client,
        connection: str,
        start: datetime,
        until: datetime,
        result: PollResult,
    ) -> list[dict[str, Any]]:
        """Every session of ``connection`` created in ``[start, until]``, each once.

        Pages are anchored by time: the next page ends at the oldest session of
        the last one (rounded up to the second: the gateway formats dates with
        second precision and its BETWEEN is inclusive), so sessions arriving at
        the top do not shift what comes next; offsets only step through more
        than a page of sessions within one second. A last pass reads from the
        top again until a page holds nothing new: sessions that started while
        the list was read.
        """
        cfg = self.settings
        found: dict[str, dict[str, Any]] = {}
        top = _ceil_second(until)
        requests = 0
        for second_pass in (False, True):
            hi, offset = top, 0
            while True:
                if len(found) >= cfg.max_sessions or offset > MAX_OFFSET:
                    if not second_pass:
                        result.problems.append(
                            f"more than {len(found)} sessions of {connection} in the window; "
                            "the oldest were not read"
                        )
                    return list(found.values())
                if requests >= MAX_LIST_REQUESTS:
                    result.problems.append(
                        f"stopped listing {connection} after {requests} requests"
                    )
                    return list(found.values())
                requests += 1
                page = self._list_page(
                    client,
                    {
                        "connection": connection,
                        "start_date": _rfc3339(start),
                        "end_date": _rfc3339(hi),
                        "limit": cfg.page_size,
                        "offset": offset,
                        "count": "none",  # list_options.go: skip the total, page on has_next_page
                    },
                )
                data = page["data"]
                fresh = 0
                oldest: datetime | None = None
                for n, item in enumerate(data):
                    if not isinstance(item, dict) or "id" not in item:
                        result.skip(
                            f"item {offset + n} of the {connection} session list",
                            "a session without an id",
                        )
                        continue
                    created = _created(item)
                    if created is not None and (oldest is None or created < oldest):
                        oldest = created
                    sid = str(item["id"])
                    if sid not in found:
                        found[sid] = item
                        fresh += 1
                if second_pass and not fresh:
                    break
                if not page.get("has_next_page") or not data:
                    break
                anchor = _ceil_second(oldest) if oldest is not None else None
                if anchor is not None and anchor < hi:
                    hi, offset = anchor, 0
                else:  # a full page within one second: step through it
                    offset += len(data)
        return list(found.values())

    def _detail(
        self, client: httpx.Client, item: dict[str, Any], result: PollResult
    ) -> dict[str, Any] | None:
        verb = item.get("verb")
        sid = str(item["id"])
        try:
            if verb == "exec":
                if _script(item) is not None:
                    return item
                # No expand: the gateway loads the input (session.go Get).
                detail = self._detail_get(client, sid, {})
            elif verb == "connect":
                detail = self._connect_detail(client, sid)
            else:
                return None
        except _Refused as exc:
            result.problems.append(
                f"session {sid}: HTTP {exc.status} from {self.settings.url}; read next time"
            )
            return None
        if detail is None:
            result.problems.append(f"session {sid} vanished before it could be read")
            return None
        return {**item, **{k: v for k, v in detail.items() if v is not None}}

    def _connect_detail(self, client: httpx.Client, sid: str) -> dict[str, Any] | None:
        """The session with its input events: raw queries, else the stored events."""
        try:
            detail = self._detail_get(
                client, sid, {"expand": "event_stream", "event_stream": "raw-queries"}
            )
        except _Refused:
            detail = None  # 422: this gateway does not know raw-queries
        else:
            if detail is None or _has_input(detail.get("event_stream")):
                return detail
        return self._detail_get(client, sid, {"expand": "event_stream"})

    # -- offline export ------------------------------------------------------------------

    def _read_file(self, result: PollResult) -> list[dict[str, Any]]:
        assert self.settings.file is not None
        path = self.config.resolve_path(self.settings.file)
        try:
            with Path(path).open("rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise HoopError(f"cannot read {path}: {exc.strerror}") from None
        if len(raw) > MAX_FILE_BYTES:
            raise HoopError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        text = raw.decode("utf-8", errors="replace")
        sessions: list[tuple[str, Any]] = []  # (where, item)
        try:
            data = json.loads(text)
            items = data.get("data") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise ValueError
            sessions = [(f"{path} item {n}", item) for n, item in enumerate(items)]
        except (ValueError, RecursionError):
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    sessions.append((f"{path} line {n}", json.loads(line)))
                except (ValueError, RecursionError):
                    result.skip(f"{path} line {n}", "a line that is not JSON")
        out = []
        for where, item in sessions:
            if isinstance(item, dict) and "id" in item:
                out.append(item)
            else:
                result.skip(where, "a session without an id")
        return out

    # -- sessions → events ---------------------------------------------------------------

    def _events(self, session: dict[str, Any], result: PollResult) -> list[AuditEvent]:
        start = parse_time(str(session["start_date"]))
        end = parse_time(str(session["end_date"])) if session.get("end_date") else None
        subtype = str(session.get("connection_subtype") or "")
        dialect = _DIALECTS.get(subtype, self.settings.dialect)
        actor, identity_id = _actor(session)
        extra: dict[str, Any] = {"verb": session.get("verb")}
        if identity_id:
            extra["identity_id"] = identity_id
        if session.get("exit_code") not in (None, 0):
            extra["exit_code"] = session.get("exit_code")
        if session.get("correlation_id"):
            extra["correlation_id"] = str(session["correlation_id"])
        review = _review(session.get("review"))

        def event(key: str, at: datetime, end: datetime | None, parsed: Parsed) -> AuditEvent:
            return AuditEvent(
                key=key,
                at=at,
                end=end,
                statements=parsed.statements,
                actor=actor,
                identity_type=_opt_str(session.get("identity_type")),
                session=str(session["id"]),
                connection=_opt_str(session.get("connection")),
                db_user=self.settings.db_user,
                review=review,
                extra=dict(extra),
            )

        events = []
        if session.get("verb") == "connect":
            engine = "mysql" if dialect == "mysql" else "postgres" if dialect == "postgres" else ""
            for key, at, sql in _inputs(session, start, engine):
                parsed = statements_of(sql, dialect)
                result.unparsed_statements += parsed.errors
                if parsed.statements:
                    events.append(event(f"{session['id']}:{key}", at, None, parsed))
            return events
        script = _script(session)
        if script is None:
            return []
        parsed = statements_of(script, dialect)
        result.unparsed_statements += parsed.errors
        if not parsed.statements:
            return []
        return [event(str(session["id"]), start, end or datetime.now(UTC), parsed)]


# -- helpers ------------------------------------------------------------------------------


def _message(response: httpx.Response) -> str:
    """``: <message>`` from a gateway error answer ({"message": ...}), if any."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f": {body['message'][:200]}"
    return ""


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ceil_second(moment: datetime) -> datetime:
    floor = moment.replace(microsecond=0)
    return floor if floor == moment else floor + timedelta(seconds=1)


def _created(item: dict[str, Any]) -> datetime | None:
    return _time(item.get("start_date"))


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _overlaps(item: dict[str, Any], since: datetime, until: datetime) -> bool:
    try:
        start = parse_time(str(item["start_date"]))
        end = parse_time(str(item["end_date"])) if item.get("end_date") else datetime.now(UTC)
    except (KeyError, ValueError):
        return True  # let the detail decide; a bad date is counted there
    return start <= until and end >= since


def _script(session: dict[str, Any]) -> str | None:
    script = session.get("script")
    if isinstance(script, dict):
        data = script.get("data")
        return data if isinstance(data, str) and data.strip() else None
    return script if isinstance(script, str) and script.strip() else None


def _actor(session: dict[str, Any]) -> tuple[str | None, str | None]:
    """(who, identity id): a person's e-mail, or a machine identity's name and id."""
    if session.get("identity_type") == "machine":
        ident = _opt_str(session.get("user_id")) or _opt_str(session.get("machine_identity_id"))
        name = _opt_str(session.get("user_name")) or _opt_str(session.get("user"))
        return name or (f"machine:{ident}" if ident else None), ident
    return _opt_str(session.get("user")) or _opt_str(session.get("user_name")), None


def _review(review: Any) -> dict[str, Any]:
    """The approval as on-call reads it: status, who approved and when."""
    if not isinstance(review, dict):
        return {"status": "unreviewed", "approved_by": [], "approved_at": None}
    raw = str(review.get("status") or "UNKNOWN").upper()
    out: dict[str, Any] = {"status": REVIEW_STATUS.get(raw, "unknown"), "hoop_status": raw}
    if review.get("type"):
        out["type"] = str(review["type"])
    approvers: list[str] = []
    times: list[datetime] = []
    rejecters: list[str] = []
    for group in review.get("review_groups_data") or []:
        if not isinstance(group, dict):
            continue
        who = group.get("reviewed_by")
        name = None
        if isinstance(who, dict):
            name = _opt_str(who.get("email")) or _opt_str(who.get("name"))
        status = str(group.get("status") or "").upper()
        if status == "APPROVED":
            if name and name not in approvers:
                approvers.append(name)
            when = _time(group.get("review_date"))
            if when is not None:
                times.append(when)
        elif status == "REJECTED" and name:
            rejecters.append(name)
    out["approved_by"] = approvers
    out["approved_at"] = iso(max(times)) if times else None
    if rejecters:
        out["rejected_by"] = rejecters
    revoked = _time(review.get("revoke_at"))
    if raw == "REVOKED" and revoked is not None:
        out["revoked_at"] = iso(revoked)
    return out


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def _has_input(stream: Any) -> bool:
    """Whether an event stream answer holds at least one input event."""
    return isinstance(stream, list) and any(
        isinstance(e, list) and len(e) >= 3 and e[1] == "i" for e in stream
    )


def _inputs(
    session: dict[str, Any], start: datetime, engine: str
) -> list[tuple[str, datetime, str]]:
    """``(key, time, sql)`` for each statement in a connect session's input events.

    Events are ``[seconds since start_date, "i"|"o"|"e", base64]`` (wal.go
    ``encodeEventEntry`` writes ``Seconds()``; the openapi doc comment says
    milliseconds, hoop's own parser.go reads seconds). The key (time and rank
    at that time) is the same whether the gateway decoded the event
    (raw-queries) or not, so a running session read both ways is not doubled.
    """
    stream = session.get("event_stream")
    if not isinstance(stream, list):
        return []
    out = []
    ranks: dict[str, int] = {}
    for event in stream:
        if not (isinstance(event, list) and len(event) >= 3 and event[1] == "i"):
            continue
        offset, content = event[0], event[2]
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            continue
        if not isinstance(content, str):
            continue
        at = start + timedelta(seconds=float(offset))
        for sql in wire_sql(_content(content), engine):
            if not sql.strip():
                continue
            stamp = repr(float(offset))
            rank = ranks.get(stamp, 0)
            ranks[stamp] = rank + 1
            out.append((f"{stamp}:{rank}", at, sql))
    return out


def _content(value: str) -> bytes:
    """An event's bytes: base64 as the gateway stores them (an export may hold text)."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode("utf-8", errors="replace")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def wire_sql(data: bytes, engine: str = "postgres") -> list[str]:
    """The SQL in one input event: wire-protocol frames of ``engine``, or plain SQL.

    PostgreSQL: simple query ``Q`` (int32 length, SQL, NUL) and Parse ``P``
    (int32 length, statement name NUL, SQL NUL, int16 count, int32 type oids);
    other frontend messages and the startup packet carry no SQL. MySQL: whole
    client packets (3-byte little-endian length, sequence id, command) with
    COM_QUERY 0x03 or COM_STMT_PREPARE 0x16, or the packet from its command
    byte on, as hoop's audit plugin stores it. Anything else is plain SQL
    (raw-queries answers, sessions stored before the wire format).
    """
    if not data:
        return []
    if engine == "postgres":
        found = _pg_sql(data)
    elif engine == "mysql":
        found = _mysql_sql(data)
    else:
        found = None
    # Plain SQL; sessions stored before the wire format keep the Q body's NUL.
    return [_text(data.rstrip(b"\0"))] if found is None else found


def _pg_sql(data: bytes) -> list[str] | None:
    if data[0] == 0:
        # Startup, SSLRequest, GSSENCRequest, CancelRequest: no type byte, no SQL.
        return []
    out: list[str] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 5:
            return None if pos == 0 else out
        kind = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 5], "big")
        if kind not in _PG_FRONTEND or length < 4 or pos + 1 + length > len(data):
            return None if pos == 0 else out
        body = data[pos + 5 : pos + 1 + length]
        if kind == ord("Q"):
            out.append(_text(body.split(b"\0", 1)[0]))
        elif kind == ord("P"):
            _name, sep, rest = body.partition(b"\0")
            if sep:
                out.append(_text(rest.split(b"\0", 1)[0]))
        pos += 1 + length
    return out


def _mysql_packets(data: bytes) -> list[bytes] | None:
    """Payloads of whole MySQL packets filling ``data`` exactly, else None."""
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 5:
            return None
        length = int.from_bytes(data[pos : pos + 3], "little")
        if length == 0 or pos + 4 + length > len(data):
            return None
        out.append(data[pos + 4 : pos + 4 + length])
        pos += 4 + length
    return out


def _mysql_sql(data: bytes) -> list[str] | None:
    packets = _mysql_packets(data)
    if packets is not None:
        out = []
        for payload in packets:
            command, body = payload[0], payload[1:]
            if command == 0x03:
                # CLIENT_QUERY_ATTRIBUTES with no attributes: parameter_count 0, set count 1.
                if body[:2] == b"\x00\x01":
                    body = body[2:]
                out.append(_text(body))
            elif command == 0x16:
                out.append(_text(body))
        return out
    # decoders.go decodeMySQLCommandQuery keeps payload[4:] (0x03 and the SQL) or,
    # when query attributes are on (payload[5] == 0), payload[6:] (0x01, the SQL).
    if data[0] in (0x01, 0x03, 0x16) and len(data) > 1:
        return [_text(data[1:])]
    return None
