"""Each alert sink against a real loopback server, asserting what the real service requires.

HTTP sinks talk to a recording HTTP server, email to aiosmtpd (plain, STARTTLS
with a certificate made here, SSL), SNS to moto.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from driftd import alerts
from driftd.alerts.base import Outcome, Sink, classify, retry_after
from driftd.alerts.events import AlertEvent
from driftd.drift import DriftItem
from tests.alert_servers import (  # noqa: F401 (fixture)
    AlertServer,
    SmtpServer,
    alert_config,
    alert_server_fixture,
    drift_item,
    self_signed,
)

AT = datetime(2026, 11, 22, 10, 0, 3, tzinfo=UTC)
NOW = AT + timedelta(seconds=2)
ENV_BLOCK = """
[environments.prod]
url = "sqlite:///app.db"
alerts = [{names}]
"""


def make_sink(tmp_path: Path, table: str, name: str = "s") -> Sink[Any]:
    config = alert_config(tmp_path, ENV_BLOCK.format(names=f'"{name}"') + table)
    return alerts.sink(config, name)


def opened(*items: DriftItem, env: str = "prod") -> AlertEvent:
    return AlertEvent.for_drift("opened", env, items, at=AT, run_id=42, still_open=items)


def send(sink: Sink[Any], event: AlertEvent) -> list[Outcome]:
    routed = sink.route(event)
    assert routed is not None
    return [
        sink.send(p, event.idempotency_key(sink.name, sink.part_key(p)), NOW)
        for p in sink.split(routed)
    ]


# -- Slack -----------------------------------------------------------------------------


SLACK_PATH = "/services/T0000/B0000/XXXXSECRETXXXX"


@pytest.fixture
def slack(tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch) -> Sink[Any]:
    monkeypatch.setenv("SLACK_URL", alert_server.url + SLACK_PATH)
    return make_sink(
        tmp_path,
        '[alerts.s]\ntype = "slack"\nwebhook_url_env = "SLACK_URL"\nmin_severity = "info"\n',
    )


def test_slack_block_kit_message(slack: Sink[Any], alert_server: AlertServer) -> None:
    item = drift_item(statement="GRANT SELECT ON customers TO PUBLIC -- for 'bob@example.com'")
    low = drift_item("role:reporting", ["login"], False, True, severity="low", statement=None)
    [outcome] = send(slack, opened(item, low))
    assert outcome.result == "delivered"
    [req] = alert_server.received(SLACK_PATH)
    assert req.headers["content-type"] == "application/json"
    body = req.json
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("prod: 2 new drift items (1 critical, 1 low)")
    header, first, second, review, footer = body["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    assert first["type"] == "section" and first["text"]["type"] == "mrkdwn"
    text = first["text"]["text"]
    assert "*critical*" in text and "`table:public.customers grants.PUBLIC added`" in text
    assert "*before → after:* — → SELECT" in text
    assert "alice@example.com (as alice) at 2026-11-22T09:58:12Z via pgaudit" in text
    assert "```GRANT SELECT ON customers TO PUBLIC```" in text  # comment (and literal) gone
    assert f"`driftd explain {item.id}`" in text
    assert "bob@example.com" not in req.body.decode()
    assert "role:reporting login changed" in second["text"]["text"]
    assert "driftd baseline accept prod" in review["elements"][0]["text"]
    assert footer["elements"][0]["text"] == (
        "driftd · run 42 · 2026-11-22T10:00:03Z · 2 drift items open in prod"
    )


def test_slack_escapes_and_limits(slack: Sink[Any], alert_server: AlertServer) -> None:
    items = [
        drift_item(
            f"table:public.t{i:03d}<b>&x",
            ["comment"],
            "a < b",
            "x > y & z " * 400,
            severity="medium",
            statement="COMMENT ON TABLE t IS " + "'x'" * 2000,
        )
        for i in range(60)
    ]
    event = opened(*items, env="e" * 180)
    [outcome] = send(slack, event)
    assert outcome.ok
    body = alert_server.received()[0].json
    blocks = body["blocks"]
    assert len(blocks) <= 50
    assert body["text"] and len(body["text"]) <= 3000
    assert len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert "<b>" not in block["text"]["text"]
            assert "&lt;b&gt;&amp;x" in block["text"]["text"]
    assert "… and 40 more items" in blocks[-3]["elements"][0]["text"]
    assert "<" not in body["text"].replace("&lt;", "")


def test_slack_errors_are_permanent_and_never_show_the_url(
    slack: Sink[Any], alert_server: AlertServer
) -> None:
    alert_server.fail(1, 400, "invalid_blocks")
    alert_server.fail(1, 404, f"no_service {alert_server.url + SLACK_PATH}")
    alert_server.fail(1, 200, "channel_is_archived")
    first, second, third = (send(slack, opened(drift_item()))[0] for _ in range(3))
    assert (first.result, first.reason) == ("permanent", "HTTP 400: invalid_blocks")
    assert second.result == "permanent" and "SECRET" not in second.reason
    assert "no_service" in second.reason and "***" in second.reason
    assert third.result == "permanent" and "channel_is_archived" in third.reason


def test_slack_events_of_every_kind(slack: Sink[Any], alert_server: AlertServer) -> None:
    item = drift_item()
    events = [
        AlertEvent.for_drift("resolved", "prod", [item], at=AT),
        AlertEvent.for_drift("accepted", "prod", [item], at=AT),
        AlertEvent.for_drift("renotify", "prod", [item], at=AT),
        AlertEvent.environment_error("prod", at=AT, error="timeout & <x>", consecutive_errors=3),
        AlertEvent.environment_recovered("prod", at=AT),
        AlertEvent.test("s", at=AT),
    ]
    for event in events:
        assert send(slack, event)[0].ok
    headers = [r.json["blocks"][0]["text"]["text"] for r in alert_server.received()]
    assert headers == [
        ":white_check_mark: prod: 1 drift item resolved",
        ":inbox_tray: prod: 1 drift item accepted into the baseline",
        ":alarm_clock: prod: 1 drift item still open (1 critical)",
        ":x: prod: cannot be read (3 failed checks in a row)",
        ":white_check_mark: prod: can be read again",
        ":wave: test from alert sink s: alerts reach you (nothing to do)",
    ]
    error_text = alert_server.received()[3].json["blocks"][1]["text"]["text"]
    assert "```timeout &amp; &lt;x&gt;```" in error_text


# -- PagerDuty ---------------------------------------------------------------------------


ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12"


def pagerduty(
    tmp_path: Path, server: AlertServer, monkeypatch: pytest.MonkeyPatch, extra: str = ""
) -> Sink[Any]:
    monkeypatch.setenv("PD_KEY", ROUTING_KEY)
    server.answer(202, '{"status":"success","message":"Event processed","dedup_key":"x"}')
    return make_sink(
        tmp_path,
        f'[alerts.s]\ntype = "pagerduty"\nrouting_key_env = "PD_KEY"\n'
        f'url = "{server.url}/v2/enqueue"\nmin_severity = "info"\n{extra}',
    )


def test_pagerduty_trigger_per_drift_item(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = pagerduty(tmp_path, alert_server, monkeypatch)
    items = [
        drift_item(f"table:public.t_{sev}", ["owner"], "app", "mallory", severity=sev)
        for sev in ("critical", "high", "medium", "low", "info")
    ]
    outcomes = send(sink, opened(*items))
    assert [o.result for o in outcomes] == ["delivered"] * 5
    bodies = [r.json for r in alert_server.received("/v2/enqueue")]
    assert [b["payload"]["severity"] for b in bodies] == [
        "critical",
        "error",
        "warning",
        "info",
        "info",
    ]
    first = bodies[0]
    assert first["routing_key"] == ROUTING_KEY
    assert first["event_action"] == "trigger"
    assert first["dedup_key"] == items[0].id and len(first["dedup_key"]) <= 255
    payload = first["payload"]
    assert payload["summary"] == (
        "[prod] critical drift: table:public.t_critical owner changed by alice@example.com"
    )
    assert payload["source"] == "prod"
    assert payload["component"] == "table:public.t_critical"
    assert payload["group"] == "prod" and payload["class"] == "table"
    assert payload["timestamp"] == "2026-11-22T10:00:03Z"
    details = payload["custom_details"]
    assert details["before"] == "app" and details["after"] == "mallory"
    assert details["explain"] == f"driftd explain {items[0].id}"
    assert details["statement"] == "GRANT SELECT ON customers TO PUBLIC"

    resolved = AlertEvent.for_drift("resolved", "prod", [items[0]], at=AT)
    assert send(sink, resolved)[0].ok
    last = alert_server.received()[-1].json
    assert last == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": items[0].id}


def test_pagerduty_summary_limit_and_environment_incidents(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = pagerduty(tmp_path, alert_server, monkeypatch, 'dedup = "environment"\n')
    long = drift_item("table:public." + "x" * 2000, ["owner"], "a", "b", severity="high")
    other = drift_item("role:app", ["superuser"], False, True, severity="critical")
    [outcome] = send(sink, opened(long, other))
    assert outcome.ok
    body = alert_server.received()[-1].json
    assert body["dedup_key"] == "driftd:prod:drift"
    assert len(body["payload"]["summary"]) <= 1024
    assert body["payload"]["severity"] == "critical"
    # Resolve the environment's incident only once nothing is open any more.
    partly = AlertEvent.for_drift("resolved", "prod", [long], at=AT, still_open=[other])
    routed = sink.route(partly)
    assert routed is not None and sink.split(routed) == []
    fully = AlertEvent.for_drift("resolved", "prod", [long, other], at=AT)
    assert send(sink, fully)[0].ok
    assert alert_server.received()[-1].json["event_action"] == "resolve"
    assert alert_server.received()[-1].json["dedup_key"] == "driftd:prod:drift"

    error = AlertEvent.environment_error(
        "prod", at=AT, error="connection refused", consecutive_errors=3
    )
    assert send(sink, error)[0].ok
    trig = alert_server.received()[-1].json
    assert trig["dedup_key"] == "driftd:prod:error"
    assert trig["payload"]["severity"] == "error"
    assert "connection refused" in trig["payload"]["summary"]
    assert send(sink, AlertEvent.environment_recovered("prod", at=AT))[0].ok
    assert alert_server.received()[-1].json == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "driftd:prod:error",
    }
    assert sink.route(AlertEvent.for_drift("renotify", "prod", [long], at=AT)) is None


def test_pagerduty_answers(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = pagerduty(tmp_path, alert_server, monkeypatch)
    bad = json.dumps(
        {"status": "invalid event", "message": "Event object is invalid", "errors": [ROUTING_KEY]}
    )
    alert_server.fail(1, 400, bad)
    alert_server.retry_after(1, "30")
    alert_server.fail(1, 502, "bad gateway")
    first, second, third = (send(sink, opened(drift_item()))[0] for _ in range(3))
    assert first.result == "permanent" and "Event object is invalid" in first.reason
    assert ROUTING_KEY not in first.reason
    assert (second.result, second.retry_after) == ("retry", 30.0)
    assert third.result == "retry" and "502" in third.reason


# -- webhook ---------------------------------------------------------------------------


def test_webhook_signed_json(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t-hmac")
    monkeypatch.setenv("HOOK_TOKEN", "Bearer tok-123")
    alert_server.require_signature("s3cr3t-hmac", "legacy")
    sink = make_sink(
        tmp_path,
        f"""
        [alerts.s]
        type = "webhook"
        url = "{alert_server.url}/driftd"
        secret_env = "HOOK_SECRET"
        signature = "legacy"
        min_severity = "low"
        headers = {{ X-Team = "dba" }}
        headers_env = {{ Authorization = "HOOK_TOKEN" }}
        """,
    )
    item = drift_item()
    event = opened(item)
    [outcome] = send(sink, event)
    assert outcome.ok, outcome.reason
    [req] = alert_server.received("/driftd")
    assert req.signature_ok is True
    assert req.headers["x-driftd-signature"].startswith("sha256=")
    assert "webhook-signature" not in req.headers  # legacy: the old header only
    key = event.idempotency_key("s")
    assert req.headers["idempotency-key"] == key == req.headers["x-driftd-delivery"]
    assert req.headers["x-driftd-event"] == "opened"
    assert req.headers["x-team"] == "dba"
    assert req.headers["authorization"] == "Bearer tok-123"
    body = req.json
    assert body["format"] == "driftd.alert/1" and body["event"] == "opened"
    assert body["environment"] == "prod" and body["run_id"] == 42 and body["id"] == key
    assert body["drift"] == [item.to_json()]  # the report's shape, field for field

    # A receiver with another secret refuses it: permanent, and no secret in the reason.
    alert_server.require_signature("other", "legacy")
    [refused] = send(sink, event)
    assert refused.result == "permanent" and refused.reason == "HTTP 401: bad signature"


def test_webhook_unsigned_without_secret(tmp_path: Path, alert_server: AlertServer) -> None:
    sink = make_sink(tmp_path, f'[alerts.s]\ntype = "webhook"\nurl = "{alert_server.url}/h"\n')
    assert send(sink, opened(drift_item()))[0].ok
    assert "x-driftd-signature" not in alert_server.received()[0].headers
    assert "webhook-signature" not in alert_server.received()[0].headers


def test_http_answers_are_classified(tmp_path: Path, alert_server: AlertServer) -> None:
    sink = make_sink(
        tmp_path, f'[alerts.s]\ntype = "webhook"\nurl = "{alert_server.url}/h"\ntimeout = "300ms"\n'
    )
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    alert_server.retry_after(1, "7")
    alert_server.retry_after(1, later, status=503)
    alert_server.fail(1, 500)
    alert_server.fail(1, 400, "missing field: environment")
    alert_server.fail(1, 301, "", Location="https://elsewhere.example/")
    alert_server.fail(1, 200, "slow", delay=1.0)
    results = [send(sink, opened(drift_item()))[0] for _ in range(6)]
    assert (results[0].result, results[0].retry_after) == ("retry", 7.0)
    assert results[1].result == "retry" and 100 < (results[1].retry_after or 0) <= 120
    assert results[2].result == "retry" and results[2].retry_after is None
    assert (results[3].result, results[3].reason) == (
        "permanent",
        "HTTP 400: missing field: environment",
    )
    assert results[4].result == "permanent" and "redirect" in results[4].reason
    assert (results[5].result, results[5].reason) == ("retry", "no answer within 0.3s")


def test_unreachable_is_retried(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = make_sink(tmp_path, f'[alerts.s]\ntype = "webhook"\nurl = "http://127.0.0.1:{port}/"\n')
    [outcome] = send(sink, opened(drift_item()))
    assert outcome.result == "retry" and "ConnectError" in outcome.reason


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
    assert retry_after("120") == 120.0
    assert retry_after("Sun, 22 Nov 2026 10:01:00 GMT", now) == 60.0
    assert retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now) == 0.0
    assert retry_after("soon") is None and retry_after(None) is None
    assert retry_after("999999999") == 86400.0


def test_missing_secret_is_retried_not_crashed(tmp_path: Path) -> None:
    sink = make_sink(tmp_path, '[alerts.s]\ntype = "slack"\nwebhook_url_env = "NOT_SET_ANYWHERE"\n')
    [outcome] = send(sink, opened(drift_item()))
    assert outcome.result == "retry"
    assert "NOT_SET_ANYWHERE is not set" in outcome.reason


def test_classify_scrubs_every_secret_the_sink_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setenv("PD_KEY", ROUTING_KEY)
    sink = make_sink(tmp_path, '[alerts.s]\ntype = "pagerduty"\nrouting_key_env = "PD_KEY"\n')
    sink.secret("routing_key")
    response = httpx.Response(400, text=f"bad key {ROUTING_KEY} password=hunter2")
    outcome = classify(response, sink)
    assert ROUTING_KEY not in outcome.reason and "hunter2" not in outcome.reason


# -- Alertmanager ----------------------------------------------------------------------------


def test_alertmanager_alerts(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AM_TOKEN", "am-token-1")
    sink = make_sink(
        tmp_path,
        f"""
        [alerts.s]
        type = "alertmanager"
        url = "{alert_server.url}/"
        renotify_after = "5m"
        labels = {{ team = "dba" }}
        generator_url = "https://grafana.example/d/driftd"
        bearer_token_env = "AM_TOKEN"
        """,
    )
    item = drift_item()
    assert send(sink, opened(item))[0].ok
    [req] = alert_server.received("/api/v2/alerts")
    assert req.headers["authorization"] == "Bearer am-token-1"
    [alert] = req.json
    assert alert["labels"] == {
        "team": "dba",
        "environment": "prod",
        "alertname": "DriftdDrift",
        "severity": "critical",
        "kind": "table",
        "drift_id": item.id,
    }
    assert alert["annotations"]["summary"] == (
        "[prod] critical drift: table:public.customers grants.PUBLIC added"
    )
    assert alert["annotations"]["object"] == "table:public.customers"
    assert alert["annotations"]["explain"] == f"driftd explain {item.id}"
    assert alert["startsAt"] == "2026-11-22T10:00:03Z"
    # Firing: ends 3 × renotify_after after it was sent, unless re-sent before.
    assert alert["endsAt"] == "2026-11-22T10:15:05Z"
    assert alert["generatorURL"] == "https://grafana.example/d/driftd"

    later = AT + timedelta(hours=1)
    assert send(sink, AlertEvent.for_drift("resolved", "prod", [item], at=later))[0].ok
    [resolved] = alert_server.received()[-1].json
    assert resolved["labels"] == alert["labels"]  # the same alert, now ended
    assert resolved["endsAt"] == "2026-11-22T11:00:03Z"
    assert resolved["annotations"]["resolution"] == "gone from the live database"

    error = AlertEvent.environment_error("prod", at=AT, error="boom", consecutive_errors=3)
    assert send(sink, error)[0].ok
    [unreadable] = alert_server.received()[-1].json
    assert unreadable["labels"]["alertname"] == "DriftdEnvironmentUnreadable"
    assert unreadable["annotations"]["description"] == "boom"
    assert send(sink, AlertEvent.environment_recovered("prod", at=later))[0].ok
    [recovered] = alert_server.received()[-1].json
    assert recovered["labels"] == unreadable["labels"]
    assert recovered["endsAt"] == "2026-11-22T11:00:03Z"


def test_alertmanager_needs_refreshing(tmp_path: Path) -> None:
    from driftd.errors import ConfigError

    # Caught at config load, naming the key.
    with pytest.raises(ConfigError, match=r"alerts\.s: renotify_after must be at least 10s"):
        make_sink(
            tmp_path,
            '[alerts.s]\ntype = "alertmanager"\nurl = "http://am:9093"\nrenotify_after = "1s"\n',
        )


# -- email -----------------------------------------------------------------------------


pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


def parse_mail(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def email_sink(tmp_path: Path, port: int, extra: str) -> Sink[Any]:
    return make_sink(
        tmp_path,
        f"""
        [alerts.s]
        type = "email"
        host = "127.0.0.1"
        port = {port}
        from = "driftd@example.com"
        to = ["dba@example.com", "oncall@example.com"]
        timeout = "5s"
        {extra}
        """,
    )


def test_email_plain_and_html(tmp_path: Path) -> None:
    server = SmtpServer("none")
    try:
        sink = email_sink(tmp_path, server.port, 'security = "none"')
        item = drift_item(statement="ALTER ROLE bob PASSWORD 'hunter2' VALID UNTIL '2030-01-01'")
        event = opened(item)
        [outcome] = send(sink, event)
        assert outcome.result == "delivered", outcome.reason
        [mail] = server.messages
    finally:
        server.close()
    assert mail.mail_from == "driftd@example.com"
    assert mail.rcpt_tos == ["dba@example.com", "oncall@example.com"]
    msg = parse_mail(mail.data)
    assert msg["Subject"] == "[driftd] prod: 1 new drift item (1 critical)"
    assert msg["Message-ID"] == f"<{event.idempotency_key('s')}@driftd>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = plain.get_content(), html.get_content()
    assert "[critical] table:public.customers grants.PUBLIC added" in text
    assert "who: alice@example.com (as alice) at 2026-11-22T09:58:12Z via pgaudit" in text
    assert f"details: driftd explain {item.id}" in text
    assert "<h2>prod: 1 new drift item (1 critical)</h2>" in markup
    for body in (text, markup):
        assert "ALTER ROLE bob PASSWORD ? VALID UNTIL ?" in body
        assert "hunter2" not in body


def test_email_starttls_with_login(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cert = self_signed(tmp_path)
    (tmp_path / "smtp-password").write_text("mail-pw-123\n")
    server = SmtpServer("starttls", cert, users={"driftd": "mail-pw-123"})
    try:
        extra = (
            'security = "starttls"\nusername = "driftd"\npassword_file = "smtp-password"\n'
            f'ca_file = "{cert[0]}"'
        )
        sink = email_sink(tmp_path, server.port, extra)
        [outcome] = send(sink, opened(drift_item()))
        assert outcome.ok, outcome.reason
        [mail] = server.messages
        assert mail.tls and mail.login == "driftd"

        # Without trusting the test CA the certificate is refused (and retried).
        plain = email_sink(tmp_path, server.port, 'security = "starttls"')
        [untrusted] = send(plain, opened(drift_item()))
        assert untrusted.result == "retry" and "CERTIFICATE_VERIFY_FAILED" in untrusted.reason

        # A wrong password: 535 is permanent, and the password is in no reason.
        (tmp_path / "smtp-password").write_text("wrong-pw-456\n")
        wrong = email_sink(tmp_path, server.port, extra)
        [denied] = send(wrong, opened(drift_item()))
        assert denied.result == "permanent" and denied.reason.startswith("SMTP 535"), denied
        assert "wrong-pw-456" not in denied.reason
    finally:
        server.close()
    assert "mail-pw-123" not in caplog.text and "wrong-pw-456" not in caplog.text


def test_email_ssl(tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    server = SmtpServer("ssl", cert)
    try:
        sink = email_sink(tmp_path, server.port, f'security = "ssl"\nca_file = "{cert[0]}"')
        assert send(sink, opened(drift_item()))[0].ok
        assert server.messages[0].tls
    finally:
        server.close()


def test_email_smtp_replies(tmp_path: Path) -> None:
    server = SmtpServer("none")
    try:
        sink = email_sink(tmp_path, server.port, 'security = "none"')
        server.script = [(451, "4.3.0 try again later"), (554, "5.6.0 message refused")]
        first, second = (send(sink, opened(drift_item()))[0] for _ in range(2))
        assert (first.result, first.reason) == ("retry", "SMTP 451: 4.3.0 try again later")
        assert (second.result, second.reason) == ("permanent", "SMTP 554: 5.6.0 message refused")
        nobody = make_sink(
            tmp_path,
            f'[alerts.s]\ntype = "email"\nhost = "127.0.0.1"\nport = {server.port}\n'
            'security = "none"\nfrom = "d@example.com"\nto = ["nobody@example.com"]\n',
        )
        [refused] = send(nobody, opened(drift_item()))
        assert refused.result == "permanent" and "550" in refused.reason
        # STARTTLS asked of a server that has none: a setting to fix, not to retry.
        starttls = email_sink(tmp_path, server.port, 'security = "starttls"')
        [unsupported] = send(starttls, opened(drift_item()))
        assert unsupported.result == "permanent"
    finally:
        server.close()


def test_email_refuses_clear_text_passwords(tmp_path: Path) -> None:
    from driftd.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"alerts\.s: a password would cross the network in clear"
    ):
        email_sink(tmp_path, 25, 'security = "none"\nusername = "u"\npassword_env = "P"')


# -- SNS (moto) --------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    from moto import mock_aws

    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        yield


@pytest.fixture
def no_sdk_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore sleeps up to 1-2 s between its tries; these tests count tries, not waits."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


def sns_queue(topic_arn: str) -> str:
    import boto3

    sqs = boto3.client("sqs", region_name="eu-west-1")
    queue_url = sqs.create_queue(QueueName="driftd-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    boto3.client("sns", region_name="eu-west-1").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn
    )
    return str(queue_url)


def test_sns_publish_with_attributes(tmp_path: Path, aws: Any) -> None:
    import boto3

    arn = boto3.client("sns", region_name="eu-west-1").create_topic(Name="driftd")["TopicArn"]
    queue = sns_queue(arn)
    sink = make_sink(tmp_path, f'[alerts.s]\ntype = "sns"\ntopic_arn = "{arn}"\n')
    item = drift_item()
    event = opened(item)
    [outcome] = send(sink, event)
    assert outcome.ok and outcome.reason.startswith("MessageId ")
    messages = boto3.client("sqs", region_name="eu-west-1").receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10
    )["Messages"]
    [envelope] = [json.loads(m["Body"]) for m in messages]
    assert envelope["TopicArn"] == arn
    assert envelope["Subject"] == "[driftd] prod: 1 new drift item (1 critical)"
    assert envelope["MessageAttributes"] == {
        "environment": {"Type": "String", "Value": "prod"},
        "severity": {"Type": "String", "Value": "critical"},
        "event": {"Type": "String", "Value": "opened"},
    }
    doc = json.loads(envelope["Message"])  # the "default" message: the webhook document
    assert doc["event"] == "opened" and doc["drift"] == [item.to_json()]
    assert doc["id"] == event.idempotency_key("s")


def test_sns_request_shape_and_fifo(tmp_path: Path) -> None:
    arn = "arn:aws:sns:eu-west-1:123456789012:driftd.fifo"
    sink = make_sink(tmp_path, f'[alerts.s]\ntype = "sns"\ntopic_arn = "{arn}"\n')
    event = opened(drift_item(obj="table:public.ünïcode" + "x" * 200))
    request = sink.render(event, "k" * 32, NOW)  # type: ignore[attr-defined]
    assert request["MessageStructure"] == "json"
    message = json.loads(request["Message"])
    assert set(message) == {"default", "email"}
    assert request["Subject"].isascii() and len(request["Subject"]) <= 100
    assert request["MessageGroupId"] == "prod"
    assert request["MessageDeduplicationId"] == "k" * 32


def test_sns_errors(tmp_path: Path, aws: Any) -> None:
    missing = "arn:aws:sns:eu-west-1:123456789012:does-not-exist"
    sink = make_sink(tmp_path, f'[alerts.s]\ntype = "sns"\ntopic_arn = "{missing}"\n')
    [outcome] = send(sink, opened(drift_item()))
    assert outcome.result == "permanent" and "NotFound" in outcome.reason


def test_sns_unreachable_endpoint_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_sdk_backoff: None
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    arn = "arn:aws:sns:eu-west-1:123456789012:driftd"
    sink = make_sink(
        tmp_path,
        f'[alerts.s]\ntype = "sns"\ntopic_arn = "{arn}"\nendpoint_url = "http://127.0.0.1:9"\n'
        'timeout = "1s"\n',
    )
    [outcome] = send(sink, opened(drift_item()))
    assert outcome.result == "retry" and "EndpointConnectionError" in outcome.reason


# -- routing ---------------------------------------------------------------------------------


def test_routing_by_severity_objects_and_environment(tmp_path: Path) -> None:
    sink = make_sink(
        tmp_path,
        """
        [alerts.s]
        type = "webhook"
        url = "http://127.0.0.1:9/"
        min_severity = "high"
        objects = ["table:public.*", "role:*"]
        environments = ["prod*"]
        send_resolved = false
        """,
    )
    crit = drift_item()
    medium = drift_item("table:public.x", ["owner"], "a", "b", severity="medium")
    other = drift_item("schema:audit", ["owner"], "a", "b", severity="critical")
    routed = sink.route(opened(crit, medium, other))
    assert routed is not None and [i["id"] for i in routed.drift] == [crit.id]
    assert sink.route(opened(medium)) is None
    assert sink.route(opened(crit, env="staging")) is None
    assert sink.route(AlertEvent.for_drift("resolved", "prod", [crit], at=AT)) is None


def test_logging_of_a_send_carries_no_secret(
    tmp_path: Path,
    alert_server: AlertServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SLACK_URL", alert_server.url + SLACK_PATH)
    sink = make_sink(tmp_path, '[alerts.s]\ntype = "slack"\nwebhook_url_env = "SLACK_URL"\n')
    alert_server.fail(1, 500, f"oops {alert_server.url + SLACK_PATH}")
    [outcome] = send(sink, opened(drift_item()))
    assert outcome.result == "retry" and SLACK_PATH not in outcome.reason
    assert SLACK_PATH not in caplog.text


# -- Standard Webhooks (verified with the reference implementation) ---------------------------

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the specification's example secret


def hook_sink(tmp_path: Path, url: str, extra: str = "") -> Sink[Any]:
    return make_sink(
        tmp_path,
        f'[alerts.s]\ntype = "webhook"\nurl = "{url}/driftd"\nsecret_env = "HOOK_SECRET"\n{extra}',
    )


def test_webhook_standard_signature_verified_by_the_reference_library(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standardwebhooks.webhooks import Webhook

    monkeypatch.setenv("HOOK_SECRET", WHSEC)
    alert_server.require_signature(WHSEC)  # the reference verifier, as a receiver runs it
    sink = hook_sink(tmp_path, alert_server.url)
    event = opened(drift_item())
    key = event.idempotency_key("s")
    now = datetime.now(UTC)
    assert sink.send(event, key, now).ok
    assert sink.send(event, key, now + timedelta(seconds=1)).ok  # a retry of the same delivery
    first, retry = alert_server.received("/driftd")
    assert first.signature_ok and retry.signature_ok
    # webhook-id is the idempotency key on every retry; the timestamp is each send's.
    assert first.headers["webhook-id"] == retry.headers["webhook-id"] == key == first.json["id"]
    assert first.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert int(retry.headers["webhook-timestamp"]) == int(now.timestamp()) + 1
    assert first.headers["webhook-signature"].startswith("v1,")
    assert "x-driftd-signature" not in first.headers  # standard only, by default
    assert Webhook(WHSEC).verify(first.body, first.headers) == first.json


def test_webhook_replay_is_rejected_by_the_reference_verifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    monkeypatch.setenv("HOOK_SECRET", WHSEC)
    sink = hook_sink(tmp_path, "https://hooks.example")
    event = opened(drift_item())
    key = event.idempotency_key("s")
    now = datetime.now(UTC)
    hook = Webhook(WHSEC)
    fresh = sink.render(event, key, now)  # type: ignore[attr-defined]
    assert hook.verify(fresh.body, fresh.headers)["id"] == key
    # The same request, captured and replayed six minutes later.
    captured = sink.render(event, key, now - timedelta(minutes=6))  # type: ignore[attr-defined]
    with pytest.raises(WebhookVerificationError, match="too old"):
        hook.verify(captured.body, captured.headers)
    # Moving its timestamp forward breaks the signature.
    forged = {**captured.headers, "webhook-timestamp": fresh.headers["webhook-timestamp"]}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        hook.verify(captured.body, forged)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        hook.verify(fresh.body.replace(b'"prod"', b'"dev1"'), fresh.headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook("whsec_" + "A" * 32).verify(fresh.body, fresh.headers)


def test_webhook_plain_secret_and_both_signatures(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftd.alerts.base import sign

    monkeypatch.setenv("HOOK_SECRET", "plain-old-secret")
    # A plain secret is the key's bytes: the library takes it as whsec_ + base64.
    alert_server.require_signature("plain-old-secret")
    sink = hook_sink(tmp_path, alert_server.url, 'signature = "both"')
    event = opened(drift_item())
    assert sink.send(event, event.idempotency_key("s"), datetime.now(UTC)).ok
    [req] = alert_server.received("/driftd")
    assert req.signature_ok
    assert req.headers["x-driftd-signature"] == sign("plain-old-secret", req.body)


def test_webhook_secret_that_is_not_base64_is_a_clear_error(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec_not base64 at all!")
    sink = hook_sink(tmp_path, alert_server.url)
    event = opened(drift_item())
    outcome = sink.send(event, event.idempotency_key("s"), datetime.now(UTC))
    assert outcome.result == "retry" and "not base64" in outcome.reason
    assert "at all" not in outcome.reason and not alert_server.received()


# -- Alertmanager: config, HA, startsAt, resolved re-sends -------------------------------------


def am_table(url: str, extra: str = "") -> str:
    return f'[alerts.s]\ntype = "alertmanager"\nurl = {url}\n{extra}'


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('labels = { "team-name" = "dba" }', r"label name 'team-name' is not valid"),
        ('labels = { "1team" = "dba" }', r"must match \[a-zA-Z_\]"),
        ('labels = { severity = "page" }', "label severity is set by driftd"),
        ('generator_url = "https://g/{nope}"', r"unknown placeholder \{nope\}"),
        ('generator_url = "/relative"', "absolute"),
    ],
)
def test_alertmanager_config_errors(tmp_path: Path, extra: str, message: str) -> None:
    from driftd.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_sink(tmp_path, am_table('"http://am:9093"', extra))


def test_alertmanager_urls(tmp_path: Path) -> None:
    from driftd.errors import ConfigError

    one = make_sink(tmp_path, am_table('"http://am:9093/"'))
    assert one.targets() == ["http://am:9093"]
    pair = make_sink(tmp_path, am_table('["http://am-1:9093", "https://am-2:9093/"]'))
    assert pair.targets() == ["http://am-1:9093", "https://am-2:9093"]
    for bad, message in [
        ('["http://u:p@am:9093"]', "no credentials in the URL"),
        ('["http://am:9093", "http://am:9093/"]', "listed twice"),
        ("[]", "at least 1"),
        ('"am:9093"', "must start with http"),
    ]:
        with pytest.raises(ConfigError, match=message):
            make_sink(tmp_path, am_table(bad))


def stored(item: DriftItem, first_seen: datetime, closed: datetime | None = None) -> dict[str, Any]:
    """An item as ``lifecycle.item_of`` gives it (first seen; closed, resolved)."""
    data = item.to_json()
    data["first_seen_at"] = first_seen.strftime("%Y-%m-%dT%H:%M:%SZ")
    if closed is not None:
        data["closed_at"] = closed.strftime("%Y-%m-%dT%H:%M:%SZ")
        data["state"] = "resolved"
    return data


def test_alertmanager_starts_at_first_seen_and_resolved_in_reminders(tmp_path: Path) -> None:
    sink = make_sink(
        tmp_path,
        am_table(
            '"http://am:9093"',
            'generator_url = "https://g.example/d?env={environment}&id={drift_id}&o={object}"',
        ),
    )
    first_seen = AT - timedelta(days=2)
    still, gone = drift_item(), drift_item("table:public.orders")
    reminder = AlertEvent.for_drift(
        "renotify",
        "prod",
        [stored(still, first_seen), stored(gone, first_seen, AT - timedelta(minutes=4))],
        at=AT,
    )
    alerts_ = {a["labels"]["drift_id"]: a for a in sink.alerts(reminder, NOW)}  # type: ignore[attr-defined]
    firing, resolved = alerts_[still.id], alerts_[gone.id]
    # startsAt: when the drift was first seen, not this reminder.
    assert firing["startsAt"] == resolved["startsAt"] == "2026-11-20T10:00:03Z"
    assert firing["endsAt"] == "2026-11-22T10:15:05Z" and "resolution" not in firing["annotations"]
    # A resolved item in a reminder keeps the time it went away.
    assert resolved["endsAt"] == "2026-11-22T09:56:03Z"
    assert resolved["annotations"]["resolution"] == "gone from the live database"
    assert firing["generatorURL"] == (
        f"https://g.example/d?env=prod&id={still.id}&o=table%3Apublic.customers"
    )


def test_alertmanager_bad_label_is_never_sent(tmp_path: Path, alert_server: AlertServer) -> None:
    sink = make_sink(tmp_path, am_table(f'"{alert_server.url}"'))
    # A label name the config would refuse, smuggled past it.
    sink.settings = sink.settings.model_copy(update={"labels": {"bad-name": "x"}})
    [outcome] = send(sink, opened(drift_item()))
    assert outcome.result == "permanent" and "label 'bad-name'" in outcome.reason
    assert not alert_server.received()


def test_alertmanager_every_instance(tmp_path: Path, alert_server: AlertServer) -> None:
    from tests.alert_servers import AlertServer as Server

    other = Server()
    try:
        sink = make_sink(tmp_path, am_table(f'["{alert_server.url}", "{other.url}"]'))
        event = opened(drift_item())
        key = event.idempotency_key("s")
        # One instance, as an outbox row for it sends.
        assert sink.send_to(other.url, event, key, NOW).ok
        assert (len(alert_server.received()), len(other.received())) == (0, 1)
        # All of them (`driftd alerts test`, or a row from before per-instance rows):
        # done only when each took it; the one that failed is named.
        other.fail(1, 503)
        outcome = sink.send(event, key, NOW)
        assert outcome.result == "retry" and outcome.reason.startswith(other.url + ": HTTP 503")
        assert sink.send(event, key, NOW).ok
        assert alert_server.received()[0].json == other.received()[0].json
        # An instance no longer configured: its rows cannot be delivered.
        gone = sink.send_to("http://old-am:9093", event, key, NOW)
        assert gone.result == "permanent" and "no longer" in gone.reason
    finally:
        other.close()


# -- SNS: botocore's own retries, limits --------------------------------------------------------

PUBLISHED = (
    '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
    "<MessageId>m-123</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId>"
    "</ResponseMetadata></PublishResponse>"
)
FAILED = (
    '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
    "<Code>InternalFailure</Code><Message>boom</Message></Error><RequestId>r-2</RequestId>"
    "</ErrorResponse>"
)


def test_sns_retries_within_one_delivery_attempt(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch, no_sdk_backoff: None
) -> None:
    from driftd.alerts.sns import SDK_ATTEMPTS

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    arn = "arn:aws:sns:eu-west-1:123456789012:driftd"
    sink = make_sink(
        tmp_path,
        f'[alerts.s]\ntype = "sns"\ntopic_arn = "{arn}"\nendpoint_url = "{alert_server.url}"\n',
    )
    assert sink.client().meta.config.retries["total_max_attempts"] == SDK_ATTEMPTS == 3  # type: ignore[attr-defined]
    alert_server.answer(200, PUBLISHED, **{"Content-Type": "text/xml"})
    alert_server.fail(2, 500, FAILED, **{"Content-Type": "text/xml"})
    [outcome] = send(sink, opened(drift_item()))  # two 5xx, then SNS takes it
    assert outcome.ok and outcome.reason == "MessageId m-123"
    assert [r.answered for r in alert_server.received()] == [500, 500, 200]
    # Still failing after botocore's attempts: the outbox's turn.
    alert_server.fail(3, 500, FAILED, **{"Content-Type": "text/xml"})
    [later] = send(sink, opened(drift_item()))
    assert later.result == "retry" and "InternalFailure" in later.reason
    assert len(alert_server.received()) == 6
    # Not SNS at all (a proxy's error page): retried by the outbox, not a crash.
    alert_server.fail(3, 502, "<html>bad gateway</html>")
    [proxy] = send(sink, opened(drift_item()))
    assert proxy.result == "retry", proxy


def test_sns_message_and_subject_at_the_limit(tmp_path: Path, aws: Any) -> None:
    import boto3

    from driftd.alerts.sns import MAX_MESSAGE, MAX_SUBJECT, size

    arn = boto3.client("sns", region_name="eu-west-1").create_topic(Name="driftd")["TopicArn"]
    queue = sns_queue(arn)
    sink = make_sink(tmp_path, f'[alerts.s]\ntype = "sns"\ntopic_arn = "{arn}"\n')
    items = [
        drift_item(f"table:public.t{i:04d}", ["comment"], None, "ü" * 1500, severity="medium")
        for i in range(300)
    ]
    event = opened(*items, env="prod\x07\n" + "é" * 150)
    request = sink.render(event, "k", NOW)  # type: ignore[attr-defined]
    # As much as fits, and no more: 256 KB with the attributes.
    assert MAX_MESSAGE - 8000 < size(request) <= MAX_MESSAGE == 262144
    kept = json.loads(json.loads(request["Message"])["default"])["drift"]
    assert 0 < len(kept) < 300 and kept == [i.to_json() for i in items[: len(kept)]]
    subject = request["Subject"]
    assert len(subject) == MAX_SUBJECT == 99 and subject.endswith("...")
    assert subject.isascii() and subject.isprintable() and subject.startswith("[driftd] prod-")
    [outcome] = send(sink, event)
    assert outcome.ok, outcome.reason
    [message] = boto3.client("sqs", region_name="eu-west-1").receive_message(QueueUrl=queue)[
        "Messages"
    ]
    assert json.loads(message["Body"])["Subject"] == subject


# -- limits: Slack, PagerDuty, email ------------------------------------------------------------


def whole_entities(mrkdwn: str) -> bool:
    import re

    return all(re.match(r"&(amp|lt|gt);", mrkdwn[m.start() :]) for m in re.finditer("&", mrkdwn))


def test_slack_fit_never_cuts_an_escape() -> None:
    from driftd.alerts.slack import fit

    assert fit("a&b", 7) == "a&amp;b"
    assert fit("a&b", 6) == "a…"
    for limit in range(2, 40):
        for raw in ("&" * 50, "<>" * 30, "x&<y>" * 20):
            out = fit(raw, limit)
            assert len(out) <= limit and whole_entities(out), (raw, limit, out)


def test_slack_sections_at_the_limit(slack: Sink[Any], alert_server: AlertServer) -> None:
    from driftd.alerts.slack import MAX_HEADER, MAX_SECTION, MAX_TEXT

    item = drift_item(
        "table:public." + "&" * 900,
        ["comment"],
        None,
        "<&>" * 2000,
        statement="COMMENT ON TABLE t IS " + "&" * 3000,
    )
    event = opened(*[item] * 60, env="&" * 400)
    [outcome] = send(slack, event)
    assert outcome.ok, outcome.reason
    body = alert_server.received()[0].json
    assert len(body["blocks"]) <= 50
    assert len(body["blocks"][0]["text"]["text"]) == MAX_HEADER
    assert len(body["text"]) <= MAX_TEXT and whole_entities(body["text"])
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    # Filled up to the limit (within one escape), never past it.
    assert MAX_SECTION - 5 < max(len(t) for t in sections) <= MAX_SECTION
    for text_ in sections:
        assert whole_entities(text_)
        assert text_.count("```") == 2  # the statement's block is closed
    contexts = [e["text"] for b in body["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert all(len(t) <= MAX_SECTION and whole_entities(t) for t in contexts)


def test_pagerduty_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from driftd.alerts.base import json_body
    from driftd.alerts.pagerduty import MAX_DEDUP_KEY, MAX_PAYLOAD, MAX_SUMMARY

    monkeypatch.setenv("PD_KEY", "R0UTINGKEYR0UTINGKEYR0UTINGKEY00")
    sink = make_sink(
        tmp_path,
        '[alerts.s]\ntype = "pagerduty"\nrouting_key_env = "PD_KEY"\nmin_severity = "info"\n',
    )
    huge = drift_item("table:public." + "x" * (600 * 1024))
    event = opened(huge)
    [part] = sink.split(event)
    request = sink.render(part, "k", NOW)  # type: ignore[attr-defined]
    assert len(json_body(request.payload)) <= MAX_PAYLOAD == 512 * 1024
    payload = request.payload["payload"]
    assert len(payload["summary"]) == MAX_SUMMARY == 1024 and payload["summary"].endswith("…")
    assert payload["custom_details"]["drift_id"] == huge.id
    assert "too large" in payload["custom_details"]["truncated"]
    # A small event is left alone.
    [small] = sink.split(opened(drift_item()))
    assert "truncated" not in sink.render(small, "k", NOW).payload["payload"]["custom_details"]  # type: ignore[attr-defined]
    # Environment incidents: a long environment name gives a hashed key within 255.
    monkeypatch.setenv("PD_KEY", "R0UTINGKEYR0UTINGKEYR0UTINGKEY00")
    env_sink = make_sink(
        tmp_path,
        '[alerts.s]\ntype = "pagerduty"\nrouting_key_env = "PD_KEY"\ndedup = "environment"\n',
    )
    key = env_sink.dedup_for(opened(drift_item(), env="e" * 300))  # type: ignore[attr-defined]
    assert len(key) <= MAX_DEDUP_KEY and key.startswith("driftd:")
    exact = env_sink.dedup_for(opened(drift_item(), env="e" * (255 - len("driftd::drift"))))  # type: ignore[attr-defined]
    assert len(exact) == MAX_DEDUP_KEY and exact.endswith(":drift")


def test_email_subject_at_the_limit(tmp_path: Path) -> None:
    from driftd.alerts.email import MAX_SUBJECT

    sink = email_sink(tmp_path, 25, 'security = "none"')
    msg = sink.render(opened(drift_item(), env="ünï " * 100), "k", NOW)  # type: ignore[attr-defined]
    subject = msg["Subject"]
    assert len(subject) == MAX_SUBJECT == 200 and subject.endswith("…")
    assert "\n" not in subject
    raw = msg.as_bytes(policy=email.policy.SMTP)
    header = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))  # folded (RFC 5322)
    # (CPython's folding drops a space between two encoded words here: the words survive.)
    assert "".join(parse_mail(raw)["Subject"].split()) == "".join(subject.split())
    plain = sink.render(opened(drift_item(), env="prod-" + "x" * 300), "k", NOW)  # type: ignore[attr-defined]
    assert len(plain["Subject"]) == MAX_SUBJECT
    raw = plain.as_bytes(policy=email.policy.SMTP)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert parse_mail(raw)["Subject"] == plain["Subject"]
