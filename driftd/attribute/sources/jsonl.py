"""``jsonl``: a generic JSON-lines audit file, for any other proxy or tool.

Each line is one object; ``fields`` says where the time, the statement and
the people are (dotted paths reach into nested objects, e.g.
``"session.user.email"``). Times are RFC 3339 or epoch seconds /
milliseconds. The file is read incrementally like server logs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from driftd.attribute.sources.base import PollResult, Source, SourceConfig
from driftd.attribute.sources.events import AuditEvent, parse_time, statements_of
from driftd.attribute.sources.state import AuditState


class JsonlFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    time: str = "time"
    statement: str = "statement"
    actor: str | None = "user"  # the person or machine identity
    db_user: str | None = "db_user"
    session: str | None = "session"
    database: str | None = "database"
    identity_type: str | None = None
    failed: str | None = None  # a boolean: the statement failed


class JsonlConfig(SourceConfig):
    type: Literal["jsonl"]
    path: str
    fields: JsonlFields = JsonlFields()
    dialect: str = "postgres"
    max_read_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)


def dig(obj: Any, path: str | None) -> Any:
    """``obj["a"]["b"]`` for path ``"a.b"``; None when any step is missing."""
    if path is None:
        return None
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def parse_any_time(value: Any) -> datetime:
    """RFC 3339 text, or epoch seconds / milliseconds (told apart by size)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        return parse_time(value)
    raise ValueError("not a time")


def _str(value: Any) -> str | None:
    return None if value in (None, "") or isinstance(value, dict | list) else str(value)


class JsonlSource(Source):
    config_model = JsonlConfig
    settings: JsonlConfig

    def poll(self, since: datetime, until: datetime, state: AuditState) -> PollResult:
        cfg = self.settings
        return self.poll_lines(state, cfg.path, cfg.max_read_bytes, self.parse_line)

    def parse_line(
        self, raw: bytes, key: str, result: PollResult, where: str | None = None
    ) -> AuditEvent | None:
        f = self.settings.fields
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or not UTF-8
            result.skip(where or key, "a line that is not JSON")
            return None
        try:
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            at = parse_any_time(dig(obj, f.time))
            sql = dig(obj, f.statement)
            if not isinstance(sql, str):
                raise ValueError("no statement")
        except (ValueError, TypeError, OverflowError, OSError, RecursionError):
            result.skip(where or key, "a JSON line without a valid time and statement")
            return None
        parsed = statements_of(sql, self.settings.dialect)
        result.unparsed_statements += parsed.errors
        if not parsed.statements:
            return None
        return AuditEvent(
            key=key,
            at=at,
            statements=parsed.statements,
            actor=_str(dig(obj, f.actor)),
            db_user=_str(dig(obj, f.db_user)),
            session=_str(dig(obj, f.session)),
            database=_str(dig(obj, f.database)),
            identity_type=_str(dig(obj, f.identity_type)),
            failed=dig(obj, f.failed) is True,
        )
