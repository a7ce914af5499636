"""PagerDuty Events API v2: ``trigger`` on new drift, ``resolve`` when it is gone.

``dedup = "drift"`` (default) opens one incident per drift item, keyed by the
drift id; ``dedup = "environment"`` opens one per environment
(``driftd:<env>:drift``), resolved when none of its drift is open any more. An
unreadable environment is its own incident (``driftd:<env>:error``). PagerDuty
deduplicates triggers on the key, so a trigger sent twice is one incident.
Answers: 202 accepted; 429 and 5xx are retried; 400 is permanent.

Limits (Events API v2): ``summary`` ≤ 1024 characters, ``dedup_key`` ≤ 255
(a longer key becomes ``driftd:<sha256>``), the whole event ≤ 512 KB: past it
``custom_details`` shrinks to a pointer at ``driftd explain``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import model_validator

from driftd.alerts import text
from driftd.alerts.base import HttpRequest, HttpSink, SinkSettings, json_body, one_of
from driftd.alerts.events import AlertEvent
from driftd.canonical import dumps
from driftd.diff.filters import dotted
from driftd.drift import iso

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "info": "info",
}
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_PAYLOAD = 512 * 1024  # bytes, the whole event
MAX_FIELD = 1024  # component, group, class, source when the event is too big
MAX_DETAIL_VALUE = 2000
MAX_LISTED = 50


class PagerDutySettings(SinkSettings):
    routing_key_env: str | None = None
    routing_key_file: str | None = None
    url: str = EVENTS_URL  # https://events.eu.pagerduty.com/v2/enqueue for EU accounts
    dedup: Literal["drift", "environment"] = "drift"
    source: str | None = None  # payload.source; default: the environment name
    client_url: str | None = None  # a link PagerDuty shows beside "driftd"

    @model_validator(mode="after")
    def _key(self) -> PagerDutySettings:
        one_of(self, "the routing key", "routing_key_env", "routing_key_file", required=True)
        return self


def dedup_key(value: str) -> str:
    return (
        value
        if len(value) <= MAX_DEDUP_KEY
        else "driftd:" + hashlib.sha256(value.encode()).hexdigest()
    )


class PagerDutySink(HttpSink[PagerDutySettings]):
    type_name = "pagerduty"
    config_model = PagerDutySettings
    # PagerDuty's escalation policies do the reminding.
    supports = frozenset(
        {
            "opened",
            "resolved",
            "accepted",
            "acknowledged",
            "updated",
            "environment_error",
            "environment_recovered",
            "test",
        }
    )
    # An ``updated`` event re-triggers the same dedup_key: PagerDuty adds the new
    # details (who made the change) to the open incident instead of paging again.
    PER_ITEM = ("opened", "resolved", "accepted", "acknowledged", "updated")

    def split(self, event: AlertEvent) -> list[AlertEvent]:
        if self.settings.dedup == "drift" and event.kind in self.PER_ITEM:
            return [event.with_drift([item]) for item in event.drift]
        if event.kind == "acknowledged":
            # One item's ack must not acknowledge the whole environment's incident.
            return []
        if self.settings.dedup == "environment" and event.kind in ("resolved", "accepted"):
            # The environment's incident stays open while any of its drift is.
            return [event] if not event.still_open else []
        return [event]

    def part_key(self, part: AlertEvent) -> str:
        if self.settings.dedup == "drift" and part.kind in self.PER_ITEM:
            return str(part.drift[0]["id"])
        return ""

    def test_events(self, at: datetime) -> list[AlertEvent]:
        # Open a test incident and close it again: nobody should be left paged.
        return [
            AlertEvent.test(self.name, at=at),
            AlertEvent.test(self.name, at=at, closing=True),
        ]

    def render(self, event: AlertEvent, key: str, now: datetime) -> HttpRequest:
        routing_key = self.secret("routing_key", required=True)
        assert routing_key is not None
        return HttpRequest(
            url=self.settings.url, payload=within_limit(self.body(event, routing_key))
        )

    def dedup_for(self, event: AlertEvent) -> str:
        env = event.environment
        if event.kind == "test":
            return dedup_key(f"driftd:test:{self.name}")
        if event.kind in ("environment_error", "environment_recovered"):
            return dedup_key(f"driftd:{env}:error")
        if self.settings.dedup == "drift" and len(event.drift) == 1:
            return str(event.drift[0]["id"])
        return dedup_key(f"driftd:{env}:drift")

    def body(self, event: AlertEvent, routing_key: str) -> dict[str, Any]:
        key = self.dedup_for(event)
        closing = event.kind in ("resolved", "accepted", "environment_recovered") or (
            event.kind == "test" and event.closing
        )
        if closing:
            return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
        if event.kind == "acknowledged":
            return {"routing_key": routing_key, "event_action": "acknowledge", "dedup_key": key}
        body: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": key,
            "payload": self.payload(event),
            "client": "driftd",
        }
        if self.settings.client_url:
            body["client_url"] = self.settings.client_url
        return body

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        source = self.settings.source or event.environment or "driftd"
        out: dict[str, Any] = {
            "summary": "",
            "source": source,
            "severity": "info",
            "timestamp": iso(event.at),
        }
        if event.kind == "environment_error":
            out["summary"] = f"[{event.environment}] {text.title(event)}: {event.error}"
            out["severity"] = "error"
            out["group"] = event.environment
            out["class"] = "environment_error"
            out["custom_details"] = {
                "environment": event.environment,
                "error": event.error,
                "consecutive_failed_checks": event.consecutive_errors,
            }
        elif event.kind == "test":
            out["summary"] = f"driftd {text.title(event)}"
            out["class"] = "test"
            out["custom_details"] = {"sink": event.sink}
        elif len(event.drift) == 1 and self.settings.dedup == "drift":
            item = event.drift[0]
            summary = f"[{event.environment}] {item['severity']} drift: {text.what(item)}"
            entry = text.best(item)
            if entry:
                summary += f" by {entry.get('actor') or entry.get('db_user') or 'unknown'}"
            out["summary"] = summary
            out["severity"] = SEVERITY[item["severity"]]
            out["component"] = item["object"]
            out["group"] = event.environment
            out["class"] = item["kind"]
            out["custom_details"] = details(event, item)
        else:
            out["summary"] = f"[{event.environment}] {text.title(event)}: " + "; ".join(
                text.what(i) for i in event.drift[:10]
            )
            out["severity"] = SEVERITY[event.severity]
            out["group"] = event.environment
            out["class"] = "drift"
            out["custom_details"] = {
                "environment": event.environment,
                "drift": [text.item_line(i) + f" [{i['id']}]" for i in event.drift[:MAX_LISTED]],
                "more": max(0, len(event.drift) - MAX_LISTED),
                "explain": "driftd explain <id>",
            }
        if len(out["summary"]) > MAX_SUMMARY:
            out["summary"] = out["summary"][: MAX_SUMMARY - 1] + "…"
        return out


def within_limit(body: dict[str, Any]) -> dict[str, Any]:
    """The event as is if it fits PagerDuty's 512 KB, else with ``custom_details`` cut
    down to what finds the rest (and free-form fields cut to 1024 characters)."""
    if len(json_body(body)) <= MAX_PAYLOAD or "payload" not in body:
        return body
    payload = dict(body["payload"])
    old = payload.get("custom_details") or {}
    payload["custom_details"] = {
        k: old[k]
        for k in ("environment", "drift_id", "explain")
        if k in old and len(str(old[k])) <= MAX_FIELD
    }
    payload["custom_details"]["truncated"] = "too large for PagerDuty (512 KB): see driftd explain"
    for key in ("source", "component", "group", "class"):
        if isinstance(payload.get(key), str) and len(payload[key]) > MAX_FIELD:
            payload[key] = payload[key][: MAX_FIELD - 1] + "…"
    return {**body, "payload": payload}


def details(event: AlertEvent, item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "environment": event.environment,
        "object": item["object"],
        "change": item["change"],
        "path": dotted(item["path"]),
        "before": bounded(item["before"]),
        "after": bounded(item["after"]),
        "severity": item["severity"],
        "rules": item["rules"],
        "drift_id": item["id"],
        "explain": text.explain(item),
    }
    return {**out, **text.evidence_fields(event, item, limit=MAX_DETAIL_VALUE)}


def bounded(value: Any) -> Any:
    """The value as is, unless it is too big to read in an incident: then its summary."""
    if len(dumps(value)) <= MAX_DETAIL_VALUE:
        return value
    from driftd.report import short

    return short(value)
