"""``cloudwatch``: RDS / Aurora PostgreSQL logs exported to CloudWatch Logs.

``logs.filter_log_events`` on ``/aws/rds/instance/<id>/postgresql`` (or the
cluster group), through the paginator: pages may be empty and still carry a
``nextToken``. Each log event is one server log record (stderr format with
the RDS prefix ``%t:%r:%u@%d:[%p]:``), parsed as pgaudit or log_statement.

The cursor is the newest event time read; each run goes back ``overlap``
before it (CloudWatch ingests late) and events dedupe by their event id.
Credentials come from boto3's usual chain (environment, profile, instance
role); none live in the config.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from driftd.attribute.sources.base import PollResult, Source, SourceConfig
from driftd.attribute.sources.pgaudit import audit_extract
from driftd.attribute.sources.pglog import (
    RDS_PREFIX,
    EventBuilder,
    Extracted,
    LineParser,
    LogRecord,
    Skipped,
    statement_message,
    zone,
)
from driftd.attribute.sources.state import AuditState
from driftd.config.durations import Seconds


class AwsConfig(SourceConfig):
    """The keys of every AWS source (credentials come from boto3's chain, never here)."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    overlap: Seconds = 300.0


class CloudwatchConfig(AwsConfig):
    type: Literal["cloudwatch"]
    log_group: str | None = None
    instance: str | None = None  # RDS instance id: /aws/rds/instance/<id>/postgresql
    cluster: str | None = None  # Aurora cluster id: /aws/rds/cluster/<id>/postgresql
    log_stream_prefix: str | None = None
    parse: Literal["auto", "pgaudit", "pglog"] = "auto"
    log_line_prefix: str = RDS_PREFIX
    timezone: str = "UTC"
    filter_pattern: str | None = None
    max_events: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _group(self) -> CloudwatchConfig:
        given = [k for k in ("log_group", "instance", "cluster") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("set one of log_group, instance, cluster")
        return self

    def group(self) -> str:
        if self.log_group:
            return self.log_group
        if self.instance:
            return f"/aws/rds/instance/{self.instance}/postgresql"
        return f"/aws/rds/cluster/{self.cluster}/postgresql"


def _extract(parse: str) -> Any:
    def extract(message: str) -> str | Extracted | None:
        if parse != "pglog" and message.startswith("AUDIT: "):
            # pgaudit's fallbacks too: <previously logged>, <not logged>.
            return audit_extract(message)
        if parse != "pgaudit":
            return statement_message(message)
        return None

    return extract


def resume_at(since: datetime, read_to: datetime | None, overlap: float) -> datetime:
    """Where an AWS read starts: the window's start, or ``overlap`` before what was
    read last (AWS delivers late: events land behind the newest one already seen)."""
    if read_to is None:
        return since
    return max(since, read_to - timedelta(seconds=overlap))


def aws_session(profile: str | None, region: str | None) -> Any:
    import boto3

    return boto3.session.Session(profile_name=profile, region_name=region)


class AwsSource(Source):
    """A source read through an AWS API, from ``overlap`` before what its cursor says
    was read last (:func:`resume_at`) to the window's end."""

    settings: AwsConfig

    @abstractmethod
    def read_to(self, cursor: dict[str, Any]) -> datetime | None:
        """How far the cursor says the source was read (None: never)."""

    @abstractmethod
    def read(
        self, start: datetime, until: datetime, cursor: dict[str, Any], state: AuditState
    ) -> PollResult:
        """Read ``[start, until]`` into ``state`` and move the cursor."""

    def poll(self, since: datetime, until: datetime, state: AuditState) -> PollResult:
        cursor = state.cursor(self.name) or {}
        start = resume_at(since, self.read_to(cursor), self.settings.overlap)
        return self.read(start, until, cursor, state) if start < until else PollResult()


class CloudwatchSource(AwsSource):
    config_model = CloudwatchConfig
    settings: CloudwatchConfig

    def read_to(self, cursor: dict[str, Any]) -> datetime | None:
        last = cursor.get("last_ms")
        return datetime.fromtimestamp(last / 1000, UTC) if last else None

    def read(
        self, start: datetime, until: datetime, cursor: dict[str, Any], state: AuditState
    ) -> PollResult:
        from botocore.exceptions import BotoCoreError, ClientError

        cfg = self.settings
        result = PollResult()
        parser = LineParser("stderr", cfg.log_line_prefix, zone(cfg.timezone))
        builder = EventBuilder(_extract(cfg.parse), result)
        last_ms = int(cursor.get("last_ms") or 0)
        params: dict[str, Any] = {
            "logGroupName": cfg.group(),
            "startTime": int(start.timestamp() * 1000),
            "endTime": int(until.timestamp() * 1000),
        }
        if cfg.log_stream_prefix:
            params["logStreamNamePrefix"] = cfg.log_stream_prefix
        if cfg.filter_pattern:
            params["filterPattern"] = cfg.filter_pattern
        seen = 0
        try:
            client = aws_session(cfg.profile, cfg.region).client(
                "logs", endpoint_url=cfg.endpoint_url
            )
            for page in client.get_paginator("filter_log_events").paginate(**params):
                for item in page.get("events", []):
                    seen += 1
                    builder.add(self._record(parser, item))
                    last_ms = max(last_ms, _millis(item.get("timestamp")))
                if seen >= cfg.max_events:
                    result.problems.append(
                        f"stopped after {cfg.max_events} log events; the rest is read next run"
                    )
                    break
        except (BotoCoreError, ClientError) as exc:
            result.problems.append(f"CloudWatch Logs {cfg.group()}: {exc}")
        self.add(state, builder.events, result)
        if last_ms:
            state.save_cursor(self.name, {"last_ms": last_ms})
        return result

    def _record(self, parser: LineParser, item: Any) -> LogRecord | Skipped:
        if not isinstance(item, dict):
            return Skipped("a log event", "an event that is not an object")
        key = str(item.get("eventId") or f"{item.get('logStreamName')}:{item.get('timestamp')}")
        where = f"event {key[:100]!r}"
        message = item.get("message")
        if not isinstance(message, str):
            return Skipped(where, "an event without a message string")
        lines = message.rstrip("\n").split("\n")
        record = parser.stderr_line(lines[0], key)
        if record is None:
            return Skipped(where, "a message without the log_line_prefix")
        record.where = where
        for line in lines[1:]:
            record.message += "\n" + line.removeprefix("\t")
        if record.at is None and _millis(item.get("timestamp")):
            record.at = datetime.fromtimestamp(_millis(item.get("timestamp")) / 1000, UTC)
        return record


def _millis(value: Any) -> int:
    """An event's timestamp (ms since the epoch); 0 when it is not a plausible one."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value if 0 < value < 253402300800000 else 0
