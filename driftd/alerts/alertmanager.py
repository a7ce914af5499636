"""Prometheus Alertmanager: ``POST /api/v2/alerts`` with one alert per drift item.

Alertmanager forgets an alert whose ``endsAt`` has passed, so firing alerts
carry ``endsAt`` = send time + 3 × ``renotify_after`` and driftd re-sends them
every ``renotify_after`` (default 5m) while the drift stays open, the way
Prometheus re-sends firing alerts each cycle. A resolved or accepted item is
sent once more with ``endsAt`` = when it went away.

Labels identify an alert (``alertname``, ``environment``, ``drift_id``, ...);
what it says is in the annotations. Alertmanager answers 200.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from driftd.alerts import text
from driftd.alerts.base import HttpRequest, HttpSink, Seconds, SinkSettings, one_of
from driftd.alerts.events import AlertEvent
from driftd.drift import iso

DRIFT_ALERT = "DriftdDrift"
ERROR_ALERT = "DriftdEnvironmentUnreadable"
TEST_ALERT = "DriftdTest"
TEST_LIFETIME = timedelta(minutes=5)


class AlertmanagerSettings(SinkSettings):
    url: str  # the Alertmanager's base URL, e.g. http://alertmanager:9093
    renotify_after: Seconds | None = 300.0
    labels: dict[str, str] = Field(default_factory=dict)  # added to every alert (team = "dba")
    generator_url: str | None = None  # a link back (a dashboard); optional in the API
    bearer_token_env: str | None = None
    bearer_token_file: str | None = None

    @model_validator(mode="after")
    def _refresh(self) -> AlertmanagerSettings:
        if self.renotify_after is None or self.renotify_after < 10:
            raise ValueError(
                "renotify_after must be at least 10s: Alertmanager drops alerts "
                "that are not re-sent"
            )
        one_of(self, "the bearer token", "bearer_token_env", "bearer_token_file", required=False)
        return self

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the Alertmanager URL must start with http:// or https://")
        return value.rstrip("/")


class AlertmanagerSink(HttpSink[AlertmanagerSettings]):
    type_name = "alertmanager"
    config_model = AlertmanagerSettings
    # An acknowledged item is still drift: if it were not re-sent, Alertmanager
    # would call it resolved when its endsAt passes. Silence it there instead.
    refresh_acknowledged = True

    def render(self, event: AlertEvent, key: str, now: datetime) -> HttpRequest:
        headers = {}
        token = self.secret("bearer_token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return HttpRequest(
            url=self.settings.url + "/api/v2/alerts",
            payload=self.alerts(event, now),
            headers=headers,
        )

    def alerts(self, event: AlertEvent, now: datetime) -> list[dict[str, Any]]:
        s = self.settings
        assert s.renotify_after is not None
        firing_until = iso(now + timedelta(seconds=3 * s.renotify_after))
        ended = event.kind in ("resolved", "accepted", "environment_recovered")
        ends = iso(event.at) if ended else firing_until
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
                    ends,
                )
            )
        elif event.kind == "test":
            out.append(
                self._alert(
                    {**s.labels, "alertname": TEST_ALERT, "severity": "info", "sink": self.name},
                    {"summary": text.title(event)},
                    event.at,
                    iso(event.at + TEST_LIFETIME),
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
            entry = text.best(item)
            if entry:
                annotations["who"] = text.who(entry)
                sql = text.statement(entry, limit=2000)
                if sql:
                    annotations["statement"] = sql
            if event.kind == "accepted":
                annotations["resolution"] = "accepted into the baseline"
            elif event.kind == "resolved":
                annotations["resolution"] = "gone from the live database"
            out.append(self._alert(labels, annotations, event.at, ends))
        return out

    def _alert(
        self, labels: dict[str, str], annotations: dict[str, str], starts: datetime, ends: str
    ) -> dict[str, Any]:
        alert: dict[str, Any] = {
            "labels": labels,
            "annotations": annotations,
            "startsAt": iso(starts),
            "endsAt": ends,
        }
        if self.settings.generator_url:
            alert["generatorURL"] = self.settings.generator_url
        return alert
