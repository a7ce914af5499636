"""``hoop``: sessions of a hoop.dev gateway, tying statements to a person.

Every hoop session reaches the database as the connection's service user,
so only hoop knows who ran it: the session's ``user`` (email) or machine
identity. ``GET /api/sessions`` (filtered by connection and creation time,
paged by ``limit``/``offset`` until ``has_next_page`` is false) lists them;
list items carry ``"script": null``, so an ``exec`` session's SQL comes from
``GET /api/sessions/{id}`` and a ``connect`` session's from its event stream
(``?expand=event_stream&event_stream=utf8``: ``[seconds, "i"|"o"|"e",
content]``; only input is read). Finished sessions are fetched once; their
parsed events stay in the audit state.

``file`` reads an exported JSON / JSONL file of sessions instead (offline).
The token is sent, never logged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from driftd.audit.base import PollResult, Seconds, Source, SourceConfig
from driftd.audit.events import AuditEvent, Parsed, parse_time, statements_of
from driftd.audit.state import AuditState
from driftd.errors import DriftdError

MAX_OFFSET = 10_000  # the gateway refuses larger offsets
MAX_DONE_IDS = 5_000
MAX_FILE_BYTES = 64 * 1024 * 1024
_DIALECTS = {
    "postgres": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "tsql",
    "sqlserver": "tsql",
    "oracledb": "oracle",
}


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
    timeout: Seconds = "15s"
    page_size: int = Field(default=100, ge=1, le=100)
    max_sessions: int = Field(default=2000, ge=1)
    session_lookback: Seconds = "12h"  # a session started this long before the window may matter
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
    pass


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
                done = list(cursor.get("done") or [])
                sessions = self._fetch(since, until, set(done), result)
        except HoopError as exc:
            result.problems.append(str(exc))
            return result
        events: list[AuditEvent] = []
        for session in sessions:
            try:
                events += self._events(session, result)
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
                result.bad_records += 1  # a session we cannot read is counted, never fatal
                continue
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
        return httpx.Client(
            base_url=cfg.url.rstrip("/"),
            headers=headers,
            timeout=float(cfg.timeout),
            verify=verify,
            follow_redirects=False,
        )

    def _get(self, client: httpx.Client, path: str, params: dict[str, Any]) -> Any:
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
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise HoopError(f"{path}: HTTP {response.status_code} from {self.settings.url}")
        try:
            return response.json()
        except ValueError:
            raise HoopError(f"{path}: the answer is not JSON") from None

    def _fetch(
        self, since: datetime, until: datetime, done: set[str], result: PollResult
    ) -> list[dict[str, Any]]:
        cfg = self.settings
        start = since - timedelta(seconds=float(cfg.session_lookback))
        out: list[dict[str, Any]] = []
        with self._client() as client:
            for connection in cfg.connection:
                offset = 0
                while offset <= MAX_OFFSET and len(out) < cfg.max_sessions:
                    page = self._get(
                        client,
                        "/api/sessions",
                        {
                            "connection": connection,
                            "start_date": _rfc3339(start),
                            "end_date": _rfc3339(until),
                            "limit": cfg.page_size,
                            "offset": offset,
                        },
                    )
                    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                        raise HoopError("/api/sessions: unexpected answer (no data list)")
                    for item in page["data"]:
                        if not isinstance(item, dict) or "id" not in item:
                            result.bad_records += 1
                            continue
                        if str(item["id"]) in done or not _overlaps(item, since, until):
                            continue
                        detail = self._detail(client, item, result)
                        if detail is not None:
                            out.append(detail)
                    if not page.get("has_next_page") or not page["data"]:
                        break
                    offset += len(page["data"])
                else:
                    result.problems.append(
                        f"more than {min(cfg.max_sessions, MAX_OFFSET)} sessions in the window; "
                        "the oldest were not read"
                    )
        return out

    def _detail(
        self, client: httpx.Client, item: dict[str, Any], result: PollResult
    ) -> dict[str, Any] | None:
        verb = item.get("verb")
        if verb == "exec" and _script(item) is not None:
            return item
        if verb not in ("exec", "connect"):
            return None
        params = {"expand": "event_stream", "event_stream": "utf8"} if verb == "connect" else {}
        detail = self._get(client, f"/api/sessions/{item['id']}", params)
        if not isinstance(detail, dict):
            result.problems.append(f"session {item['id']} vanished before it could be read")
            return None
        return {**item, **{k: v for k, v in detail.items() if v is not None}}

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
        try:
            data = json.loads(text)
            items = data.get("data") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise ValueError
            sessions = items
        except (ValueError, RecursionError):
            sessions = []
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    sessions.append(json.loads(line))
                except (ValueError, RecursionError):
                    result.bad_records += 1
        out = []
        for s in sessions:
            if isinstance(s, dict) and "id" in s:
                out.append(s)
            else:
                result.bad_records += 1
        return out

    # -- sessions → events ---------------------------------------------------------------

    def _events(self, session: dict[str, Any], result: PollResult) -> list[AuditEvent]:
        start = parse_time(str(session["start_date"]))
        end = parse_time(str(session["end_date"])) if session.get("end_date") else None
        subtype = str(session.get("connection_subtype") or "")
        dialect = _DIALECTS.get(subtype, self.settings.dialect)

        def event(key: str, at: datetime, end: datetime | None, parsed: Parsed) -> AuditEvent:
            return AuditEvent(
                key=key,
                at=at,
                end=end,
                statements=parsed.statements,
                actor=_actor(session),
                identity_type=_opt_str(session.get("identity_type")),
                session=str(session["id"]),
                connection=_opt_str(session.get("connection")),
                db_user=self.settings.db_user,
                review=_review(session.get("review")),
                extra=dict(extra),
            )

        extra: dict[str, Any] = {"verb": session.get("verb")}
        if session.get("exit_code") not in (None, 0):
            extra["exit_code"] = session.get("exit_code")
        if session.get("correlation_id"):
            extra["correlation_id"] = str(session["correlation_id"])
        events = []
        if session.get("verb") == "connect":
            for index, (at, sql) in enumerate(_inputs(session, start, end)):
                parsed = statements_of(sql, dialect)
                result.unparsed_statements += parsed.errors
                if parsed.statements:
                    events.append(event(f"{session['id']}:{index}", at, None, parsed))
            return events
        script = _script(session)
        if script is None:
            return []
        parsed = statements_of(script, dialect)
        result.unparsed_statements += parsed.errors
        if not parsed.statements:
            return []
        return [event(str(session["id"]), start, end or datetime.now(UTC), parsed)]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _actor(session: dict[str, Any]) -> str | None:
    if session.get("identity_type") == "machine":
        ident = session.get("machine_identity_id") or session.get("user_name")
        return f"machine:{ident}" if ident else _opt_str(session.get("user"))
    return _opt_str(session.get("user")) or _opt_str(session.get("user_name"))


def _review(review: Any) -> dict[str, Any] | None:
    """The approval in short: status, type and who approved."""
    if not isinstance(review, dict):
        return None
    out: dict[str, Any] = {k: review[k] for k in ("status", "type") if review.get(k)}
    approvers = []
    for group in review.get("review_groups_data") or []:
        who = (group or {}).get("reviewed_by") if isinstance(group, dict) else None
        if isinstance(who, dict) and who.get("email"):
            approvers.append(str(who["email"]))
    if approvers:
        out["approved_by"] = approvers
    return out or None


def _inputs(
    session: dict[str, Any], start: datetime, end: datetime | None
) -> list[tuple[datetime, str]]:
    """``(time, sql)`` for each input event of a connect session's event stream."""
    stream = session.get("event_stream")
    if not isinstance(stream, list):
        return []
    duration = (end - start).total_seconds() if end else None
    raw = [e for e in stream if isinstance(e, list | tuple) and len(e) >= 3 and e[1] == "i"]
    offsets = [float(e[0]) for e in raw if isinstance(e[0], int | float)]
    # The code writes seconds, a doc comment says milliseconds: tell by the session length.
    scale = 1.0
    if duration is not None and offsets and max(offsets) > duration + 5:
        scale = 0.001
    out = []
    for event in raw:
        if not isinstance(event[0], int | float) or not isinstance(event[2], str):
            continue
        sql = _wire_sql(event[2])
        if sql.strip():
            out.append((start + timedelta(seconds=float(event[0]) * scale), sql))
    return out


def _wire_sql(content: str) -> str:
    """SQL from an input event: plain text, or a PostgreSQL Query/Parse message."""
    if len(content) > 5 and content[0] in "QP" and "\x00" in content[5:]:
        body = content[5:]
        if content[0] == "P":  # Parse: statement name \0 query \0 ...
            body = body.split("\x00", 1)[1] if "\x00" in body else body
        return body.split("\x00", 1)[0]
    return content
