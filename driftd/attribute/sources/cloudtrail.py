"""``cloudtrail``: RDS configuration changes made through the AWS API.

``cloudtrail.lookup_events`` (one lookup attribute: ``EventSource =
rds.amazonaws.com``; at most 50 results a page; 2 requests/s per account and
region, so pages are spaced) finds ModifyDBParameterGroup and friends. Each
becomes an event whose refs are the parameters it set (``setting:<name>``),
or every setting when a whole parameter group was swapped or reset. The
actor is the IAM principal: the assumed-role session name (for SSO, the
person's user name), else the user name or ARN.

Parameter values are never shown; the "statement" names the API call, its
target and the parameter names.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from driftd.attribute.sources.base import PollResult
from driftd.attribute.sources.cloudwatch import AwsConfig, AwsSource, aws_session
from driftd.attribute.sources.events import AuditEvent
from driftd.attribute.sources.state import AuditState
from driftd.attribute.sqlrefs import Ref, Statement
from driftd.config.durations import Seconds

DEFAULT_EVENTS = [
    "ModifyDBParameterGroup",
    "ResetDBParameterGroup",
    "ModifyDBClusterParameterGroup",
    "ResetDBClusterParameterGroup",
    "ModifyDBInstance",
    "ModifyDBCluster",
]
# requestParameters keys naming the resource an event changed.
_RESOURCE_KEYS = (
    "dBParameterGroupName",
    "dBClusterParameterGroupName",
    "dBInstanceIdentifier",
    "dBClusterIdentifier",
)


class CloudtrailConfig(AwsConfig):
    type: Literal["cloudtrail"]
    event_names: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    # Parameter groups, instances and clusters of this environment; empty: all of them.
    resources: list[str] = Field(default_factory=list)
    request_interval: Seconds = 0.5  # lookup_events allows 2 requests/s
    overlap: Seconds = 900.0  # CloudTrail delivers events minutes late
    max_pages: int = Field(default=200, ge=1)
    window_slack: Seconds = 900.0


class CloudtrailSource(AwsSource):
    config_model = CloudtrailConfig
    settings: CloudtrailConfig

    def read_to(self, cursor: dict[str, Any]) -> datetime | None:
        last = cursor.get("last")
        return datetime.fromisoformat(last) if last else None

    def read(
        self, start: datetime, until: datetime, cursor: dict[str, Any], state: AuditState
    ) -> PollResult:
        from botocore.exceptions import BotoCoreError, ClientError

        cfg = self.settings
        result = PollResult()
        events: list[AuditEvent] = []
        newest = cursor.get("last")
        params: dict[str, Any] = {
            "LookupAttributes": [
                {"AttributeKey": "EventSource", "AttributeValue": "rds.amazonaws.com"}
            ],
            "StartTime": start,
            "EndTime": until,
            "MaxResults": 50,
        }
        try:
            client = aws_session(cfg.profile, cfg.region).client(
                "cloudtrail", endpoint_url=cfg.endpoint_url
            )
            for page_no in range(cfg.max_pages):
                if page_no:
                    time.sleep(cfg.request_interval)
                page = client.lookup_events(**params)
                for item in page.get("Events", []):
                    event = self._event(item, result)
                    if event is not None:
                        events.append(event)
                token = page.get("NextToken")
                if not token:
                    break
                params["NextToken"] = token
            else:
                result.problems.append(f"stopped after {cfg.max_pages} pages of CloudTrail events")
        except (BotoCoreError, ClientError) as exc:
            result.problems.append(f"CloudTrail lookup_events: {exc}")
            return result
        self.add(state, events, result)
        for event in events:
            if newest is None or event.at.isoformat() > newest:
                newest = event.at.isoformat()
        state.save_cursor(self.name, {"last": newest or until.isoformat()})
        return result

    def _event(self, item: dict[str, Any], result: PollResult) -> AuditEvent | None:
        name = item.get("EventName")
        if name not in self.settings.event_names:
            return None
        where = f"event {str(item.get('EventId'))[:80]!r}"
        try:
            detail = json.loads(item["CloudTrailEvent"])
            if not isinstance(detail, dict):
                raise ValueError
        except (KeyError, TypeError, ValueError, RecursionError):
            result.skip(where, "an event whose CloudTrailEvent is not a JSON object")
            return None
        if detail.get("errorCode"):
            return None  # the call was refused: it changed nothing
        params = detail.get("requestParameters") or {}
        if not isinstance(params, dict):
            params = {}
        resources = [str(params[k]) for k in _RESOURCE_KEYS if params.get(k)]
        wanted = self.settings.resources
        if wanted and not any(r in wanted for r in resources):
            return None
        at = item.get("EventTime")
        if not isinstance(at, datetime):
            try:
                at = datetime.fromisoformat(str(detail.get("eventTime")).replace("Z", "+00:00"))
            except ValueError:
                result.skip(where, "an event without a valid time")
                return None
        identity = detail.get("userIdentity") or {}
        actor, principal = principal_of(identity if isinstance(identity, dict) else {})
        statement = _statement(str(name), resources, params)
        if not statement.refs:
            return None
        extra: dict[str, Any] = {}
        if principal:
            extra["principal"] = principal
        if detail.get("sourceIPAddress"):
            extra["source_ip"] = str(detail["sourceIPAddress"])
        return AuditEvent(
            key=str(item.get("EventId") or detail.get("eventID")),
            at=at.astimezone(UTC),
            statements=[statement],
            actor=actor,
            identity_type=_opt(identity.get("type")) if isinstance(identity, dict) else None,
            session=_opt(identity.get("accessKeyId")) if isinstance(identity, dict) else None,
            extra=extra,
        )


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def principal_of(identity: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(actor, principal ARN)`` from a CloudTrail ``userIdentity``.

    An assumed role's session name is who used it (an SSO user's name, or
    what the caller set); an IAM user is its user name; else the ARN.
    """
    arn = _opt(identity.get("arn"))
    kind = identity.get("type")
    if kind == "AssumedRole" and arn and "/" in arn:
        return arn.rsplit("/", 1)[1], arn  # the role is in the ARN, kept as principal
    if kind == "IAMUser" and identity.get("userName"):
        return str(identity["userName"]), arn
    if kind == "Root":
        return "root", arn
    if kind == "AWSService":
        return _opt(identity.get("invokedBy")), arn
    return arn or _opt(identity.get("principalId")), arn


def _statement(name: str, resources: list[str], params: dict[str, Any]) -> Statement:
    names: list[str] = []
    for p in params.get("parameters") or []:
        if isinstance(p, dict) and p.get("parameterName"):
            names.append(str(p["parameterName"]).lower())
    target = " ".join(resources) or "?"
    swaps_group = any(
        k in params
        for k in (
            "dBParameterGroupName",
            "dBClusterParameterGroupName",
            "dBInstanceParameterGroupName",
        )
    )
    if name in ("ModifyDBInstance", "ModifyDBCluster") and not swaps_group:
        return Statement(text=f"{name} {target}", command=name)  # not about settings
    if names:
        refs = [Ref("setting", n, (), "alter") for n in names]
        text = f"{name} {target}: " + ", ".join(f"{n} = ?" for n in names)
    else:
        # A reset of a whole group, or a new group attached: any setting may change.
        refs = [Ref("setting", "*", (), "alter")]
        changed = sorted(k for k in params if k not in _RESOURCE_KEYS)
        text = f"{name} {target}" + (f" ({', '.join(changed)})" if changed else "")
    return Statement(text=text, command=name, refs=refs)
