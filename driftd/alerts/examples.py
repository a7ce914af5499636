"""The examples in docs/alerts.md, rendered by the sinks themselves.

``python -m driftd.alerts.examples docs/alerts.md`` rewrites every block
between ``<!-- example:NAME -->`` and ``<!-- /example -->``; a test checks that
the file is current, so the documentation shows exactly what is sent.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftd import alerts
from driftd.alerts.base import HttpRequest, Sink
from driftd.alerts.events import AlertEvent
from driftd.config import Config
from driftd.config.load import parse
from driftd.drift import iso

AT = datetime(2026, 11, 22, 10, 0, 3, tzinfo=UTC)
SENT = AT + timedelta(seconds=1)
# Placeholders shown where a real secret would be.
SECRETS = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
    "PAGERDUTY_ROUTING_KEY": "R0UTINGKEYR0UTINGKEYR0UTINGKEY00",
    # The example secret of the Standard Webhooks specification.
    "DRIFTD_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
CONFIG = """
[environments.prod]
url = "postgresql+psycopg://driftd@db.internal:5432/app"
alerts = ["oncall", "pager", "hook", "mail", "topic", "am"]

[alerts.oncall]
type = "slack"
webhook_url_env = "SLACK_WEBHOOK_URL"
min_severity = "high"

[alerts.pager]
type = "pagerduty"
routing_key_env = "PAGERDUTY_ROUTING_KEY"
min_severity = "high"

[alerts.hook]
type = "webhook"
url = "https://hooks.internal/driftd"
secret_env = "DRIFTD_WEBHOOK_SECRET"

[alerts.mail]
type = "email"
host = "smtp.internal"
from = "driftd@example.com"
to = ["dba@example.com"]

[alerts.topic]
type = "sns"
topic_arn = "arn:aws:sns:eu-west-1:123456789012:driftd-alerts"

[alerts.am]
type = "alertmanager"
url = ["http://am-1.internal:9093", "http://am-2.internal:9093"]
labels = { team = "dba" }
generator_url = "https://grafana.internal/d/driftd?var-environment={environment}&var-drift={drift_id}"
"""

ATTRIBUTION: dict[str, list[dict[str, Any]]] = {
    "table:public.customers": [
        {
            "source": "pgaudit",
            "actor": "alice@example.com",
            "db_user": "alice",
            "at": "2026-11-22T09:58:12Z",
            "statement": "GRANT SELECT ON customers TO PUBLIC",
            "session": "12345",
            "confidence": 0.95,
        }
    ],
    "role:reporting": [
        {
            "source": "hoop",
            "actor": "bob@example.com",
            "db_user": "app_admin",
            "at": "2026-11-22T09:59:40Z",
            "statement": "ALTER ROLE reporting SUPERUSER PASSWORD 'hunter2'",
            "session": "3c1b",
            "confidence": 0.9,
        }
    ],
}


def _items() -> list[dict[str, Any]]:
    """Two drift items made by driftd's own diff and rules (ids, severity, rules are real)."""
    from driftd.check import evaluate
    from driftd.rules import RuleSet

    role = {"superuser": False, "login": True, "member_of": {}}
    before = {
        "table:public.customers": {"grants": {"app": ["SELECT"]}},
        "role:reporting": role,
    }
    after = {
        "table:public.customers": {"grants": {"app": ["SELECT"], "PUBLIC": ["SELECT"]}},
        "role:reporting": {**role, "superuser": True},
    }
    doc = {"format": "driftd.snapshot/1", "environment": "prod", "engine": {}}
    found = evaluate("prod", {**doc, "objects": before}, {**doc, "objects": after}, RuleSet(), [])
    items = [item.to_json() for item in found]
    for item in items:
        item["attribution"] = ATTRIBUTION[item["object"]]
    return items


ITEMS: list[dict[str, Any]] = _items()


def config() -> Config:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse(CONFIG, Path(tmp) / "driftd.toml")
    alerts.validate(cfg)
    return cfg


def events() -> dict[str, AlertEvent]:
    opened = AlertEvent.for_drift("opened", "prod", ITEMS, at=AT, run_id=1842, still_open=ITEMS)
    resolved_at = AT + timedelta(hours=1)
    # Closing events carry the stored item (``lifecycle.item_of``): when it was first
    # seen, when and how it closed.
    closed = {
        **ITEMS[0],
        "first_seen_at": iso(AT),
        "closed_at": iso(resolved_at),
        "state": "resolved",
    }
    return {
        "opened": opened,
        "resolved": AlertEvent.for_drift(
            "resolved",
            "prod",
            [closed],
            at=resolved_at,
            run_id=1854,
            still_open=ITEMS[1:],
        ),
        "environment_error": AlertEvent.environment_error(
            "prod",
            at=AT,
            error='connection to server at "db.internal" (10.0.3.7), port 5432 failed: '
            "timeout expired",
            consecutive_errors=3,
            run_id=1843,
        ),
    }


def _json(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"


def _http(sink: Sink[Any], event: AlertEvent, show_headers: bool = False) -> list[str]:
    routed = sink.route(event)
    assert routed is not None
    out = []
    for part in sink.split(routed):
        key = event.idempotency_key(sink.name, sink.part_key(part))
        request: HttpRequest = sink.render(part, key, SENT)  # type: ignore[attr-defined]
        if show_headers:
            lines = [f"{k}: {v}" for k, v in request.headers.items()]
            out.append(
                "```http\nPOST /driftd HTTP/1.1\nContent-Type: application/json\n"
                + "\n".join(lines)
                + "\n```"
            )
        out.append(_json(request.payload))
    return out


def render() -> dict[str, str]:
    """Every example block, by name."""
    saved = {k: os.environ.get(k) for k in SECRETS}
    os.environ.update(SECRETS)
    try:
        cfg = config()
        ev = events()
        sinks = {name: alerts.sink(cfg, name) for name in cfg.alerts}
        out: dict[str, str] = {}
        out["slack-opened"] = _http(sinks["oncall"], ev["opened"])[0]
        out["slack-error"] = _http(sinks["oncall"], ev["environment_error"])[0]
        pager = _http(sinks["pager"], ev["opened"])
        out["pagerduty-trigger"] = pager[0]
        out["pagerduty-resolve"] = _http(sinks["pager"], ev["resolved"])[0]
        out["webhook-opened"] = "\n\n".join(_http(sinks["hook"], ev["opened"], True))
        mail = sinks["mail"]
        key = ev["opened"].idempotency_key("mail")
        msg = mail.render(ev["opened"], key, SENT)  # type: ignore[attr-defined]
        plain = msg.get_body(("plain",))
        head = "\n".join(
            f"{k}: {v}" for k, v in msg.items() if k not in ("MIME-Version", "Content-Type")
        )
        out["email-opened"] = "```\n" + head + "\n\n" + plain.get_content().rstrip("\n") + "\n```"
        publish = sinks["topic"].render(  # type: ignore[attr-defined]
            ev["opened"], ev["opened"].idempotency_key("topic"), SENT
        )
        message = json.loads(publish["Message"])
        shown = {
            **publish,
            "Message": {
                "default": json.loads(message["default"]),
                "email": message["email"].splitlines(),
            },
        }
        out["sns-opened"] = _json(shown)
        out["alertmanager-opened"] = _http(sinks["am"], ev["opened"])[0]
        out["alertmanager-resolved"] = _http(sinks["am"], ev["resolved"])[0]
        assert not any(
            "hunter2" in text
            or SECRETS["SLACK_WEBHOOK_URL"] in text
            or SECRETS["DRIFTD_WEBHOOK_SECRET"] in text
            for text in out.values()
        )
        return out
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_BLOCK = re.compile(r"(<!-- example:([a-z\-]+) -->\n).*?(<!-- /example -->)", re.S)


def update(text: str, blocks: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in blocks:
            raise KeyError(f"docs name an example that does not exist: {name}")
        return match.group(1) + blocks[name] + "\n" + match.group(3)

    return _BLOCK.sub(fill, text)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/alerts.md")
    path.write_text(update(path.read_text(), render()))


if __name__ == "__main__":
    main()
