"""AWS SNS: publish the event to a topic, with message attributes to filter on.

The message is per protocol (``MessageStructure = "json"``): email subscribers
get the plain text, everything else (SQS, Lambda, HTTP) the webhook's JSON
document. Attributes ``environment``, ``severity`` and ``event`` let
subscription filter policies route by them. FIFO topics get the environment
as message group and the idempotency key as deduplication id.

Credentials come from boto3's usual chain (instance role, environment,
``AWS_PROFILE``), never from the driftd config.

Retries happen at two levels. botocore's standard retry mode tries a publish
up to ``SDK_ATTEMPTS`` times within one delivery attempt (a throttle, a 5xx, a
dropped connection: gone within seconds, with AWS's own backoff and retry
quota); the outbox retries what is left over (an outage, no credentials yet),
with its own backoff, across restarts. (Before, ``max_attempts = 1`` was meant
as "off" but botocore reads it as one *retry*: two attempts.)

Limits (the Publish API reference): the message at most 256 KB (262,144 bytes,
attributes included here, to be safe): the least severe items are left out
until it fits; the subject "UTF-8 text with no line breaks or control
characters, and less than 100 characters long": driftd sends printable ASCII
(older AWS docs asked for it, and every email client shows it), at most 99.
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

MAX_MESSAGE = 256 * 1024  # bytes: the message (all protocols together) and its attributes
MAX_SUBJECT = 99  # "less than 100 characters"
SDK_ATTEMPTS = 3  # botocore's tries per delivery attempt (standard mode's default)
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
    """SNS subjects: printable ASCII, no line breaks or control characters, fewer than
    100 characters (a character outside printable ASCII becomes ``-``)."""
    raw = " ".join(f"{prefix} {text.title(event)}".split())
    shown = "".join(c if " " <= c <= "~" else "-" for c in raw)
    return shown if len(shown) <= MAX_SUBJECT else shown[: MAX_SUBJECT - 3] + "..."


def size(request: dict[str, Any]) -> int:
    """What counts against SNS's 256 KB: the message and each attribute's name, type, value."""
    total = len(request["Message"].encode())
    for name, attr in request.get("MessageAttributes", {}).items():
        total += len(name.encode()) + len(attr["DataType"].encode())
        total += len(attr["StringValue"].encode())
    return total


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
        attributes = {
            "event": {"DataType": "String", "StringValue": event.kind},
            "severity": {"DataType": "String", "StringValue": event.severity},
        }
        if event.environment:
            attributes["environment"] = {"DataType": "String", "StringValue": event.environment}
        request: dict[str, Any] = {
            "TopicArn": s.topic_arn,
            "Subject": subject(s.subject_prefix, event),
            "Message": "",
            "MessageStructure": "json",
            "MessageAttributes": attributes,
        }

        def fits(keep: int) -> bool:
            request["Message"] = message(event.with_drift(event.drift[:keep]), key)
            return size(request) <= MAX_MESSAGE

        if not fits(len(event.drift)):
            # Too big for SNS: the most severe items that fit (they are sorted that
            # way; the subject still says how many there are), found by bisection.
            low, high = 0, len(event.drift) - 1
            while low < high:
                middle = (low + high + 1) // 2
                low, high = (middle, high) if fits(middle) else (low, middle - 1)
            fits(low)
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
                    retries={"total_max_attempts": SDK_ATTEMPTS, "mode": "standard"},
                ),
            )
        return self._client

    def send(self, event: AlertEvent, key: str, now: datetime) -> Outcome:
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

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
        except ResponseParserError as exc:  # a proxy's error page instead of SNS's answer
            return Outcome("retry", self.scrub(f"not an SNS answer: {' '.join(str(exc).split())}"))
        return Outcome("delivered", f"MessageId {response.get('MessageId', '?')}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def message(event: AlertEvent, key: str) -> str:
    """``Message`` for ``MessageStructure = "json"``: the webhook document for every
    protocol, the plain text for email."""
    return json.dumps(
        {
            "default": json.dumps(document(event, key), ensure_ascii=False),
            "email": text.plain(event),
        },
        ensure_ascii=False,
    )
