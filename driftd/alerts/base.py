"""What every sink shares: settings, routing, the send outcome, and HTTP delivery.

A sink renders an event to its service's request (pure: same event, same
request) and sends it, classifying the answer:

- ``delivered``: the service took it (2xx);
- ``retry``: worth trying again later (429, 5xx, 408, network error, timeout),
  with the service's ``Retry-After`` when it gave one;
- ``permanent``: trying again cannot help (any other 4xx), with the reason.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from driftd import __version__
from driftd.alerts.events import CLOSING_KINDS, DRIFT_KINDS, ENVIRONMENT_KINDS, KINDS, AlertEvent
from driftd.config.durations import parse_duration
from driftd.drift import SEVERITY_ORDER, Severity
from driftd.errors import ConfigError

if TYPE_CHECKING:
    import httpx

    from driftd.config import Config

# httpx logs every request's full URL at INFO; a Slack webhook URL is a secret.
logging.getLogger("httpx").setLevel(logging.WARNING)

USER_AGENT = f"driftd/{__version__}"
MAX_RETRY_AFTER = 86400.0  # a server asking for more than a day is not taken literally
MAX_REASON = 300


def _seconds(value: Any) -> float:
    return parse_duration(value)


# Typed as seconds; written in the config as '30s', '5m' or a number.
Seconds = Annotated[float, BeforeValidator(_seconds)]

# Keys that would put a secret into the config file, and where it belongs instead.
LITERAL_SECRETS = {
    "webhook_url": "webhook_url_env or webhook_url_file",
    "routing_key": "routing_key_env or routing_key_file",
    "integration_key": "routing_key_env or routing_key_file",
    "password": "password_env or password_file",
    "secret": "secret_env or secret_file",
    "token": "bearer_token_env or bearer_token_file",
    "bearer_token": "bearer_token_env or bearer_token_file",
}


class SinkSettings(BaseModel):
    """Keys every ``[alerts.NAME]`` table may set; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    min_severity: Severity = "low"
    environments: list[str] = ["*"]  # globs over environment names
    objects: list[str] = ["*"]  # globs over object keys (table:public.*)
    renotify_after: Seconds | None = None  # remind while drift stays open
    send_resolved: bool = True  # resolved / accepted / recovered notifications
    environment_errors: bool = True  # alert when an environment cannot be read
    error_after: int = Field(default=3, ge=1)  # ... for this many checks in a row
    timeout: Seconds = 10.0
    retry_initial: Seconds = 30.0  # backoff: full jitter up to initial × 2^(attempt-1)
    retry_max: Seconds = 1800.0
    give_up_after: Seconds = 86400.0
    max_attempts: int = Field(default=50, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _no_literal_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, instead in LITERAL_SECRETS.items():
                if key in data and f"{key}" not in cls.model_fields:
                    raise ValueError(
                        f"{key}: secrets never live in the config file; set {instead} "
                        "(an environment variable, or a file such as a systemd credential)"
                    )
        return data

    def wants_environment(self, environment: str) -> bool:
        return any(fnmatch.fnmatchcase(environment, g) for g in self.environments)

    def wants_item(self, item: dict[str, Any]) -> bool:
        limit = SEVERITY_ORDER[self.min_severity]
        if SEVERITY_ORDER.get(item.get("severity", ""), 9) > limit:
            return False
        return any(fnmatch.fnmatchcase(str(item.get("object", "")), g) for g in self.objects)


def one_of(data: BaseModel, where: str, *keys: str, required: bool) -> None:
    """At most (or, when ``required``, exactly) one of ``keys`` is set."""
    given = [k for k in keys if getattr(data, k) is not None]
    if len(given) > 1:
        raise ValueError(f"set only one of {', '.join(keys)} (got {', '.join(given)})")
    if required and not given:
        raise ValueError(f"{where} is required: set {' or '.join(keys)}")


@dataclass
class Outcome:
    result: Literal["delivered", "retry", "permanent"]
    reason: str = ""
    retry_after: float | None = None  # seconds, when the service said when to come back

    @property
    def ok(self) -> bool:
        return self.result == "delivered"


@dataclass
class HttpRequest:
    """A rendered HTTP delivery. The URL may be a secret (Slack): never print it."""

    url: str = field(repr=False)
    payload: Any
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: bytes = b""


S = TypeVar("S", bound=SinkSettings)


class Sink(ABC, Generic[S]):
    """An alert sink of one type; ``name`` is its ``[alerts.NAME]``."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[SinkSettings]]
    # Event kinds the service has something to do with.
    # "acknowledged" only means something to a sink with incidents (or a machine).
    supports: ClassVar[frozenset[str]] = frozenset(KINDS) - {"acknowledged"}
    # Whether reminders must also repeat drift a person acknowledged (services
    # that forget an alert that is not re-sent, such as Alertmanager).
    refresh_acknowledged: ClassVar[bool] = False

    def __init__(self, name: str, settings: S, config: Config) -> None:
        self.name = name
        self.settings = settings
        self.config = config
        self._secrets: dict[str, str | None] = {}

    # -- secrets -----------------------------------------------------------------

    def secret(self, key: str, required: bool = False) -> str | None:
        """``KEY_env`` / ``KEY_file`` of this sink, read once (ConfigError when missing)."""
        if key not in self._secrets:
            env = getattr(self.settings, f"{key}_env", None)
            file = getattr(self.settings, f"{key}_file", None)
            value = self.config.secret(f"alerts.{self.name}.{key}", env, file)
            if required and not value:
                raise ConfigError(
                    f"alerts.{self.name}.{key}: the secret is empty",
                    f"put the value in {env or file}",
                )
            self._secrets[key] = value
        return self._secrets[key]

    def secret_values(self) -> list[str]:
        """Every secret this sink has read: scrubbed from anything logged or stored.

        A secret URL's path and query are secrets on their own too: a proxy's
        error page quotes the request line, not the whole URL."""
        from urllib.parse import urlsplit

        out = []
        for value in self._secrets.values():
            if not value:
                continue
            out.append(value)
            if value.startswith(("http://", "https://")):
                parts = urlsplit(value)
                out += [p for p in (parts.path, parts.query) if len(p) >= 8]
        return out

    def scrub(self, text: str) -> str:
        from driftd.alerts.events import redact

        for value in sorted(self.secret_values(), key=len, reverse=True):
            if len(value) >= 4:
                text = text.replace(value, "***")
        text = redact(text)
        return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"

    # -- routing -----------------------------------------------------------------

    def route(self, event: AlertEvent) -> AlertEvent | None:
        """The event as this sink should get it (its items filtered), or None."""
        s = self.settings
        if event.kind == "test":
            return event
        if event.kind not in self.supports:
            return None
        if not s.wants_environment(event.environment):
            return None
        if event.kind in CLOSING_KINDS and not s.send_resolved:
            return None
        if event.kind in ENVIRONMENT_KINDS:
            return event if s.environment_errors else None
        if event.kind in DRIFT_KINDS:
            items = [i for i in event.drift if s.wants_item(i)]
            if not items:
                return None
            return event.with_drift(items, [i for i in event.still_open if s.wants_item(i)])
        return None

    def split(self, event: AlertEvent) -> list[AlertEvent]:
        """The deliveries one routed event becomes (one, unless the service wants
        one request per item); an empty list when there is nothing to send."""
        return [event]

    def part_key(self, part: AlertEvent) -> str:
        """What tells apart the deliveries ``split`` made of one event ("" for one)."""
        return ""

    def test_events(self, at: datetime) -> list[AlertEvent]:
        return [AlertEvent.test(self.name, at=at)]

    def resend_resolved_for(self) -> float:
        """Seconds after drift closed during which reminders still carry it, resolved
        (services that may hold the alert until told again, such as Alertmanager)."""
        return 0.0

    def targets(self) -> list[str]:
        """The instances every delivery goes to, each its own outbox row (``[""]``: one
        delivery per event, the sink's own business where it goes)."""
        return [""]

    # -- rendering and sending ---------------------------------------------------

    @abstractmethod
    def send(self, event: AlertEvent, key: str, now: datetime) -> Outcome:
        """Deliver one routed event; ``key`` is its idempotency key. Never raises for
        a failure of the service or the network: the outcome says what happened."""

    def send_to(self, target: str, event: AlertEvent, key: str, now: datetime) -> Outcome:
        """Deliver to one of :meth:`targets` (``""``: wherever :meth:`send` sends)."""
        return self.send(event, key, now)

    def close(self) -> None:
        """Release connections (sinks are built per dispatch pass)."""


class HttpSink(Sink[S]):
    """A sink that POSTs JSON: render() builds the request, send() posts and classifies."""

    @abstractmethod
    def render(self, event: AlertEvent, key: str, now: datetime) -> HttpRequest: ...

    def accepts(self, response: httpx.Response) -> str | None:
        """For a 2xx answer: None when the service took the event, else why not."""
        return None

    def send(self, event: AlertEvent, key: str, now: datetime) -> Outcome:
        try:
            request = self.render(event, key, now)
        except ConfigError as exc:
            return Outcome("retry", self.scrub(exc.message))
        if not request.body:
            request.body = json_body(request.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **request.headers,
        }
        return post(request.url, request.body, headers, self.settings.timeout, self)


def json_body(payload: Any) -> bytes:
    import json

    # Plain json keeps the key order rendered (services don't care; people reading do).
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the raw body>`` (the X-Driftd-Signature header)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, sink: Sink[Any]
) -> Outcome:
    """POST and classify; nothing raised, nothing secret in the reason."""
    import httpx  # on use: `config validate` and `--help` start without it

    try:
        # No redirects: a webhook that moved should be reconfigured, not followed
        # (a redirect could carry the body, and its signature, somewhere else).
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Outcome("retry", f"no answer within {timeout:g}s")
    except httpx.HTTPError as exc:
        return Outcome("retry", sink.scrub(f"{type(exc).__name__}: {exc}"))
    except (OSError, ValueError) as exc:  # bad URL, TLS setup, ...
        return Outcome("retry", sink.scrub(f"{type(exc).__name__}: {exc}"))
    return classify(response, sink)


def classify(response: httpx.Response, sink: Sink[Any]) -> Outcome:
    status = response.status_code
    excerpt = sink.scrub(" ".join(response.text[:500].split())) if response.content else ""
    described = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if 200 <= status < 300:
        refused = sink.accepts(response) if isinstance(sink, HttpSink) else None
        if refused:
            return Outcome("permanent", sink.scrub(f"HTTP {status} but {refused}"))
        return Outcome("delivered", f"HTTP {status}")
    if status in (408, 429) or status >= 500:
        return Outcome("retry", described, retry_after(response.headers.get("Retry-After")))
    if 300 <= status < 400:
        return Outcome("permanent", f"HTTP {status} redirect: configure the final URL")
    return Outcome("permanent", described)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, delta), MAX_RETRY_AFTER)
