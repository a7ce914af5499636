"""Generic webhook, for machines: the event as JSON, signed when a secret is set.

Body (``driftd.alert/1``): the event kind, the environment, and the drift items
in the report's shape. Headers: ``X-Driftd-Event``, ``X-Driftd-Delivery`` and
``Idempotency-Key`` (the same stable key: a receiver drops what it has seen).

With a secret, the request is signed the Standard Webhooks way
(standardwebhooks.com): ``webhook-id`` (the delivery's idempotency key, the
same on every retry), ``webhook-timestamp`` (send time, Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, so a
receiver can reject a replayed request (the reference verifiers refuse
timestamps more than 5 minutes off). The secret is ``whsec_<base64>`` (the
key is the decoded bytes, as every Standard Webhooks library takes it); any
other value is used as its UTF-8 bytes, so a secret from before keeps working
(such a receiver passes ``whsec_`` + base64 of it to the library).
``signature = "legacy"`` sends the older ``X-Driftd-Signature: sha256=<hex
HMAC-SHA256 of the raw body>`` (keyed by the secret exactly as written)
instead, ``"both"`` sends both while receivers move over.

Any 2xx is delivered; 429, 408 and 5xx are retried.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from driftd.alerts.base import HttpRequest, HttpSink, SinkSettings, json_body, one_of, sign
from driftd.alerts.events import ALERT_FORMAT, KINDS, AlertEvent
from driftd.config.model import UrlFrom
from driftd.errors import ConfigError

SIGNATURE_HEADER = "X-Driftd-Signature"
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
RESERVED = {"content-type", "content-length", "host", SIGNATURE_HEADER.lower(), *STANDARD_HEADERS}
SECRET_PREFIX = "whsec_"


class WebhookSettings(SinkSettings, UrlFrom):
    secret_env: str | None = None
    secret_file: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Header values that are secrets (Authorization): header name → variable / file.
    headers_env: dict[str, str] = Field(default_factory=dict)
    headers_file: dict[str, str] = Field(default_factory=dict)
    # With a secret: "standard" (Standard Webhooks headers), "legacy"
    # (X-Driftd-Signature only) or "both".
    signature: Literal["standard", "legacy", "both"] = "standard"

    @model_validator(mode="after")
    def _one_each(self) -> WebhookSettings:
        one_of(self, "the URL", "url", "url_env", "url_file", required=True)
        one_of(self, "the secret", "secret_env", "secret_file", required=False)
        names = [*self.headers, *self.headers_env, *self.headers_file]
        if len({n.lower() for n in names}) != len(names):
            raise ValueError(
                "a header is set more than once across headers, headers_env, headers_file"
            )
        return self

    @field_validator("headers", "headers_env", "headers_file")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in RESERVED:
                raise ValueError(f"header {name} is set by driftd and cannot be overridden")
        return value

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("the webhook URL must start with http:// or https://")
        return value


def document(event: AlertEvent, key: str) -> dict[str, Any]:
    """The JSON a webhook receives: the event and its drift items in the report's shape."""
    return {
        "format": ALERT_FORMAT,
        "id": key,
        "event": event.kind,
        "environment": event.environment or None,
        "at": event.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_id": event.run_id,
        "severity": event.severity,
        "drift": event.drift,
        "still_open": event.still_open,
        "error": event.error,
        "consecutive_errors": event.consecutive_errors,
        "test": {"sink": event.sink} if event.kind == "test" else None,
        "acknowledged": (
            {"by": event.by, "note": event.note} if event.kind == "acknowledged" else None
        ),
    }


class WebhookSink(HttpSink[WebhookSettings]):
    type_name = "webhook"
    config_model = WebhookSettings
    supports = frozenset(KINDS)

    def render(self, event: AlertEvent, key: str, now: datetime) -> HttpRequest:
        s = self.settings
        url = s.url or self.secret("url", required=True)
        assert url is not None
        payload = document(event, key)
        body = json_body(payload)
        headers = {
            **s.headers,
            "X-Driftd-Event": event.kind,
            "X-Driftd-Delivery": key,
            "Idempotency-Key": key,
        }
        for name, var in s.headers_env.items():
            headers[name] = self._header(name, var, None)
        for name, file in s.headers_file.items():
            headers[name] = self._header(name, None, file)
        secret = self.secret("secret")
        if secret:
            if s.signature in ("standard", "both"):
                headers.update(standard_headers(signing_key(secret), key, now, body))
            if s.signature in ("legacy", "both"):
                headers[SIGNATURE_HEADER] = sign(secret, body)
        return HttpRequest(url=url, payload=payload, headers=headers, body=body)

    def _header(self, name: str, var: str | None, file: str | None) -> str:
        key = f"header:{name}"
        if key not in self._secrets:
            value = self.config.secret(f"alerts.{self.name}.headers.{name}", var, file)
            if not value:
                raise ConfigError(f"alerts.{self.name}: header {name} is empty")
            self._secrets[key] = value
        value = self._secrets[key]
        assert value is not None
        return value


def signing_key(secret: str) -> bytes:
    """The Standard Webhooks key: the bytes after ``whsec_``, base64-decoded; a secret
    without the prefix is used as its UTF-8 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    encoded = secret[len(SECRET_PREFIX) :].strip()
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ConfigError(
            "the webhook secret starts with whsec_ but what follows is not base64",
            'generate one: python3 -c "import base64, os; '
            "print('whsec_' + base64.b64encode(os.urandom(32)).decode())\"",
        )
    return key


def standard_headers(key: bytes, msg_id: str, now: datetime, body: bytes) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (Standard Webhooks v1)."""
    timestamp = str(int(now.timestamp()))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
