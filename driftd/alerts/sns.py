"""AWS SNS: publish the event to a topic, with message attributes to filter on.

The message is per protocol (``MessageStructure = "json"``): email subscribers
get the plain text, everything else (SQS, Lambda, HTTP) the webhook's JSON
document. Attributes ``environment``, ``severity`` and ``event`` let
subscription filter policies route by them. FIFO topics get the environment
as message group and the idempotency key as deduplication id.

Credentials come from boto3's usual chain (instance role, environment,
``AWS_PROFILE``), never from the driftd config. boto3's own retries are off:
the outbox retries, with its own backoff, across restarts.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import field_validator

from driftd.alerts import text
from driftd.alerts.base import Outcome, Sink, SinkSettings
from driftd.alerts.events import AlertEvent
from driftd.alerts.webhook import document

MAX_MESSAGE = 256 * 1024  # bytes, all protocols together
MAX_SUBJECT = 100
_ARN = re.compile(r"^arn:aws[a-z\-]*:sns:([a-z0-9\-]+):\d{12}:[A-Za-z0-9_\-]{1,256}(\.fifo)?$")
RETRY_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "KMSThrottling",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
}


class SnsSettings(SinkSettings):
    topic_arn: str
    region: str | None = None  # default: the topic's region
    endpoint_url: str | None = None  # a VPC endpoint, or a local emulator
    subject_prefix: str = "[driftd]"

    @field_validator("topic_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not _ARN.match(value):
            raise ValueError(f"{value!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
        return value


def subject(prefix: str, event: AlertEvent) -> str:
    """SNS subjects: ASCII, no line breaks, at most 100 characters."""
    raw = f"{prefix} {text.title(event)}".strip()
    ascii_only = raw.encode("ascii", "replace").decode().replace("?", "-")
    one_line = " ".join(ascii_only.split())
    return one_line if len(one_line) <= MAX_SUBJECT else one_line[: MAX_SUBJECT - 3] + "..."


class SnsSink(Sink[SnsSettings]):
    type_name = "sns"
    config_model = SnsSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: Any = None

    @property
    def region(self) -> str:
        if self.settings.region:
            return self.settings.region
        match = _ARN.match(self.settings.topic_arn)
        assert match is not None
        return match.group(1)

    def render(self, event: AlertEvent, key: str, now: datetime) -> dict[str, Any]:
        """The keyword arguments of ``sns.publish``."""
        s = self.settings
        shown = event
        while True:
            message = json.dumps(
                {
                    "default": json.dumps(document(shown, key), ensure_ascii=False),
                    "email": text.plain(shown),
                },
                ensure_ascii=False,
            )
            if len(message.encode()) <= MAX_MESSAGE - 4096 or not shown.drift:
                break
            # Too big for SNS: keep the most severe half (items are sorted that way).
            shown = shown.with_drift(shown.drift[: len(shown.drift) // 2])
        attributes = {
            "event": {"DataType": "String", "StringValue": event.kind},
            "severity": {"DataType": "String", "StringValue": event.severity},
        }
        if event.environment:
            attributes["environment"] = {"DataType": "String", "StringValue": event.environment}
        request: dict[str, Any] = {
            "TopicArn": s.topic_arn,
            "Subject": subject(s.subject_prefix, event),
            "Message": message,
            "MessageStructure": "json",
            "MessageAttributes": attributes,
        }
        if s.topic_arn.endswith(".fifo"):
            request["MessageGroupId"] = event.environment or "driftd"
            request["MessageDeduplicationId"] = key
        return request

    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config as BotoConfig

            timeout = self.settings.timeout
            self._client = boto3.client(
                "sns",
                region_name=self.region,
                endpoint_url=self.settings.endpoint_url,
                config=BotoConfig(
                    connect_timeout=timeout,
                    read_timeout=timeout,
                    retries={"max_attempts": 1, "mode": "standard"},
                ),
            )
        return self._client

    def send(self, event: AlertEvent, key: str, now: datetime) -> Outcome:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client().publish(**self.render(event, key, now))
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "?"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            reason = self.scrub(f"SNS {code}: {err.get('Message', '')}".strip())
            if code in RETRY_CODES or status == 429 or status >= 500:
                return Outcome("retry", reason)
            return Outcome("permanent", reason)
        except BotoCoreError as exc:  # no network, timeouts, no credentials (yet)
            return Outcome("retry", self.scrub(f"{type(exc).__name__}: {exc}"))
        return Outcome("delivered", f"MessageId {response.get('MessageId', '?')}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
