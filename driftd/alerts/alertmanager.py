"""Prometheus Alertmanager: ``POST /api/v2/alerts`` with one alert per drift item.

``url`` is one Alertmanager or a list: like Prometheus, driftd posts every
alert to every instance of an HA pair (they deduplicate notifications between
themselves). Each instance is its own outbox delivery, retried on its own: an
instance that is down never holds up the other, and a delivery is done once
that instance took it.

Alertmanager forgets an alert whose ``endsAt`` has passed, so firing alerts
carry ``endsAt`` = send time + 3 × ``renotify_after`` and driftd re-sends them
every ``renotify_after`` (default 5m) while the drift stays open, the way
Prometheus re-sends firing alerts each cycle. A resolved or accepted item is
sent with ``endsAt`` = when it went away, and re-sent with every reminder for
``resend_resolved`` (default 15m, as Prometheus does), so an instance that
missed the first one (down, restarted) still learns it is over.

``startsAt`` is when driftd first saw the drift, not when it was last sent.
Labels identify an alert (``alertname``, ``environment``, ``drift_id``, ...);
what it says is in the annotations. Label names must match
``[a-zA-Z_][a-zA-Z0-9_]*``: Alertmanager answers 400 to a batch holding one
that does not, so configured labels are checked at config load and every
alert again before it is sent. Alertmanager answers 200.
"""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from pydantic import BeforeValidator, Field, field_validator, model_validator

from driftd.alerts import text
from driftd.alerts.base import (
    USER_AGENT,
    HttpRequest,
    HttpSink,
    Outcome,
    Seconds,
    SinkSettings,
    json_body,
    one_of,
    post,
)
from driftd.alerts.events import AlertEvent
from driftd.drift import iso

DRIFT_ALERT = "DriftdDrift"
ERROR_ALERT = "DriftdEnvironmentUnreadable"
TEST_ALERT = "DriftdTest"
TEST_LIFETIME = timedelta(minutes=5)
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels driftd sets itself: a configured label of the same name is a config error.
OWN_LABELS = frozenset({"alertname", "environment", "severity", "kind", "drift_id", "sink"})
GENERATOR_FIELDS = frozenset({"environment", "drift_id", "object", "alertname"})
ENDED = ("resolved", "accepted", "environment_recovered")


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class AlertmanagerSettings(SinkSettings):
    # The Alertmanager base URL, or every instance of an HA pair:
    # url = ["http://am-1:9093", "http://am-2:9093"]
    url: Annotated[list[str], BeforeValidator(_listed)] = Field(min_length=1)
    renotify_after: Seconds | None = 300.0
    # Resolved alerts are re-sent with each reminder for this long (Prometheus: 15m).
    resend_resolved: Seconds = 900.0
    labels: dict[str, str] = Field(default_factory=dict)  # added to every alert (team = "dba")
    # A link back, per alert; may use {environment}, {drift_id}, {object}, {alertname}
    # (URL-quoted). Optional in the API: unset, alerts carry none.
    generator_url: str | None = None
    bearer_token_env: str | None = None
    bearer_token_file: str | None = None

    @model_validator(mode="after")
    def _refresh(self) -> AlertmanagerSettings:
        if self.renotify_after is None or self.renotify_after < 10:
            raise ValueError(
                "renotify_after must be at least 10s: Alertmanager drops alerts "
                "that are not re-sent"
            )
        if self.resend_resolved < 0:
            raise ValueError("resend_resolved cannot be negative")
        one_of(self, "the bearer token", "bearer_token_env", "bearer_token_file", required=False)
        return self

    @field_validator("url")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(
                    f"{url!r}: an Alertmanager URL must start with http:// or https://"
                )
            parts = urlsplit(url)
            if parts.username or parts.password:
                raise ValueError(
                    f"{parts.hostname}: no credentials in the URL (it is stored with each "
                    "delivery); use bearer_token_env or bearer_token_file"
                )
            if parts.query or parts.fragment:
                raise ValueError(f"{url!r}: give the base URL, without query or fragment")
            url = url.rstrip("/")
            if url in out:
                raise ValueError(f"{url} is listed twice")
            out.append(url)
        return out

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not LABEL_NAME.match(name):
                raise ValueError(
                    f"label name {name!r} is not valid in Alertmanager "
                    "(it must match [a-zA-Z_][a-zA-Z0-9_]*)"
                )
            if name in OWN_LABELS:
                raise ValueError(f"label {name} is set by driftd on every alert; choose another")
        return value

    @field_validator("generator_url")
    @classmethod
    def _generator(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"generator_url: {exc}") from None
        unknown = fields - GENERATOR_FIELDS
        if unknown:
            raise ValueError(
                f"generator_url: unknown placeholder {{{sorted(unknown)[0]}}} "
                f"(use {', '.join('{' + f + '}' for f in sorted(GENERATOR_FIELDS))})"
            )
        if not value.startswith(("http://", "https://")):
            raise ValueError("generator_url must be an absolute http:// or https:// URL")
        return value


def bad_labels(alerts: list[dict[str, Any]]) -> list[str]:
    """Label and annotation names Alertmanager would refuse (the whole POST gets 400)."""
    bad = []
    for alert in alerts:
        for where in ("labels", "annotations"):
            bad += [f"{where[:-1]} {n!r}" for n in alert.get(where, {}) if not LABEL_NAME.match(n)]
    return sorted(set(bad))


class AlertmanagerSink(HttpSink[AlertmanagerSettings]):
    type_name = "alertmanager"
    config_model = AlertmanagerSettings
    # An acknowledged item is still drift: if it were not re-sent, Alertmanager
    # would call it resolved when its endsAt passes. Silence it there instead.
    refresh_acknowledged = True

    def targets(self) -> list[str]:
        return list(self.settings.url)

    def resend_resolved_for(self) -> float:
        return self.settings.resend_resolved if self.settings.send_resolved else 0.0

    def render(self, event: AlertEvent, key: str, now: datetime) -> HttpRequest:
        """The request for the first instance (:meth:`send_to` posts the same body to each)."""
        return self.request(self.settings.url[0], event, now)

    def request(self, base: str, event: AlertEvent, now: datetime) -> HttpRequest:
        headers = {}
        token = self.secret("bearer_token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return HttpRequest(
            url=base + "/api/v2/alerts", payload=self.alerts(event, now), headers=headers
        )

    def send(self, event: AlertEvent, key: str, now: datetime) -> Outcome:
        """Every instance (``driftd alerts test``): delivered only when each took it."""
        return self.send_to("", event, key, now)

    def send_to(self, target: str, event: AlertEvent, key: str, now: datetime) -> Outcome:
        if target and target not in self.settings.url:
            return Outcome("permanent", f"{target} is no longer one of this sink's url")
        bases = [target] if target else list(self.settings.url)
        from driftd.errors import ConfigError

        try:
            requests = [self.request(base, event, now) for base in bases]
        except ConfigError as exc:
            return Outcome("retry", self.scrub(exc.message))
        bad = bad_labels(requests[0].payload)
        if bad:
            return Outcome(
                "permanent",
                f"invalid Alertmanager {', '.join(bad)} (names must match [a-zA-Z_][a-zA-Z0-9_]*)",
            )
        outcomes = []
        for base, request in zip(bases, requests, strict=True):
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
            headers.update(request.headers)
            body = json_body(request.payload)
            got = post(request.url, body, headers, self.settings.timeout, self)
            outcomes.append(Outcome(got.result, f"{base}: {got.reason}", got.retry_after))
        if len(outcomes) == 1:
            return outcomes[0]
        # Several instances in one delivery (a row from before per-instance rows):
        # done when each took it; re-posting to one that has it is harmless.
        for result in ("permanent", "retry"):
            failed = [o for o in outcomes if o.result == result]
            if failed:
                after = [o.retry_after for o in failed if o.retry_after is not None]
                return Outcome(
                    failed[0].result, "; ".join(o.reason for o in failed), max(after, default=None)
                )
        return Outcome("delivered", "; ".join(o.reason for o in outcomes))

    def alerts(self, event: AlertEvent, now: datetime) -> list[dict[str, Any]]:
        s = self.settings
        assert s.renotify_after is not None
        firing_until = now + timedelta(seconds=3 * s.renotify_after)
        ended = event.kind in ENDED
        base = {**s.labels, "environment": event.environment}
        out: list[dict[str, Any]] = []
        if event.kind in ("environment_error", "environment_recovered"):
            annotations = {"summary": text.title(event)}
            if event.error:
                annotations["description"] = event.error
            out.append(
                self._alert(
                    {**base, "alertname": ERROR_ALERT, "severity": "high"},
                    annotations,
                    event.at,
                    event.at if ended else firing_until,
                )
            )
        elif event.kind == "test":
            out.append(
                self._alert(
                    {**s.labels, "alertname": TEST_ALERT, "severity": "info", "sink": self.name},
                    {"summary": text.title(event)},
                    event.at,
                    event.at + TEST_LIFETIME,
                )
            )
        for item in event.drift:
            labels = {
                **base,
                "alertname": DRIFT_ALERT,
                "severity": item["severity"],
                "kind": item["kind"],
                "drift_id": item["id"],
            }
            annotations = {
                "summary": f"[{event.environment}] {item['severity']} drift: {text.what(item)}",
                "object": item["object"],
                "change": text.values(item),
                "explain": text.explain(item),
            }
            annotations.update(text.evidence_fields(event, item, limit=2000))
            # An item that went away: by this event, or (a re-sent resolved alert in a
            # reminder) before it, as its ``closed_at`` says.
            closed = item.get("closed_at")
            state = item.get("state") if closed else None
            if event.kind in ("resolved", "accepted"):
                state = state or event.kind
            if state == "accepted":
                annotations["resolution"] = "accepted into the baseline"
            elif state == "resolved":
                annotations["resolution"] = "gone from the live database"
            if state in ("resolved", "accepted"):
                ends = _time(closed) if closed else event.at
            else:
                ends = firing_until
            starts = _time(item["first_seen_at"]) if item.get("first_seen_at") else event.at
            out.append(self._alert(labels, annotations, min(starts, ends), ends))
        return out

    def _alert(
        self,
        labels: dict[str, str],
        annotations: dict[str, str],
        starts: datetime,
        ends: datetime,
    ) -> dict[str, Any]:
        alert: dict[str, Any] = {
            "labels": labels,
            "annotations": annotations,
            "startsAt": iso(starts),
            "endsAt": iso(ends),
        }
        link = self.settings.generator_url
        if link:
            values = {
                "environment": labels.get("environment", ""),
                "drift_id": labels.get("drift_id", ""),
                "object": annotations.get("object", ""),
                "alertname": labels["alertname"],
            }
            alert["generatorURL"] = link.format(**{k: quote(v, safe="") for k, v in values.items()})
        return alert


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
