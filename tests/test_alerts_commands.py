"""``driftd alerts test | pending | retry`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from driftd.alerts import outbox
from driftd.alerts.commands import COMMANDS
from driftd.alerts.events import AlertEvent
from driftd.cli.main import cli
from driftd.store import open_store
from tests.alert_servers import (  # noqa: F401 (fixture)
    AlertServer,
    alert_config,
    alert_server_fixture,
    drift_item,
)

ROUTING_KEY = "pdKeyForTheCommandTest0000000000"


@pytest.fixture(autouse=True)
def _registered() -> None:
    # The integrator registers COMMANDS in driftd/cli/__init__.py; until then, do it here.
    for command in COMMANDS:
        if command.name not in cli.commands:
            cli.add_command(command)


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(
        cli, ["--config", str(tmp_path / "driftd.toml"), *args], env=env, catch_exceptions=False
    )


@pytest.fixture
def project(tmp_path: Path, alert_server: AlertServer) -> Path:
    alert_config(
        tmp_path,
        f"""
        [environments.prod]
        url = "sqlite:///app.db"
        alerts = ["hook", "pager"]

        [alerts.hook]
        type = "webhook"
        url = "{alert_server.url}/hook"

        [alerts.pager]
        type = "pagerduty"
        routing_key_env = "PD_KEY"
        url = "{alert_server.url}/v2/enqueue"
        """,
    )
    return tmp_path


def test_alerts_test_sends_now(project: Path, alert_server: AlertServer) -> None:
    result = run(project, "alerts", "test", "hook")
    assert result.exit_code == 0, result.output
    assert result.stdout == "sent a test message through alerts.hook (webhook): HTTP 200\n"
    [req] = alert_server.received("/hook")
    assert req.json["event"] == "test" and req.json["test"] == {"sink": "hook"}

    alert_server.answer(202, '{"status":"success"}')
    result = run(project, "alerts", "test", "pager", env={"PD_KEY": ROUTING_KEY})
    assert result.exit_code == 0, result.output
    trigger, resolve = (r.json for r in alert_server.received("/v2/enqueue"))
    assert trigger["event_action"] == "trigger" and trigger["payload"]["severity"] == "info"
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_alerts_test_failure(project: Path, alert_server: AlertServer) -> None:
    alert_server.answer(400, f'{{"message":"Event object is invalid","key":"{ROUTING_KEY}"}}')
    result = run(project, "alerts", "test", "pager", env={"PD_KEY": ROUTING_KEY})
    assert result.exit_code == 2
    assert "error: alerts.pager (pagerduty): HTTP 400:" in result.stderr
    assert "Event object is invalid" in result.stderr
    assert "hint: the service refused it" in result.stderr
    assert ROUTING_KEY not in result.output

    result = run(project, "alerts", "test", "pager")  # PD_KEY not set
    assert result.exit_code == 2 and "PD_KEY is not set" in result.stderr

    result = run(project, "alerts", "test", "nope")
    assert result.exit_code == 2 and "no alert sink [alerts.nope]" in result.stderr


def test_alerts_pending_and_retry(project: Path, alert_server: AlertServer) -> None:
    from driftd.config.load import load

    config = load(project / "driftd.toml")
    store = open_store(config, migrate=True)
    try:
        result = run(project, "alerts", "pending")
        assert result.exit_code == 0 and result.stdout == "no alerts waiting: the outbox is empty\n"
        with Session(store.engine) as s, s.begin():
            ev = AlertEvent.for_drift("opened", "prod", [drift_item()], at=_now(), run_id=1)
            outbox.enqueue(s, config, ev, sinks=["hook"])
            outbox.enqueue(s, config, ev.model_copy(update={"run_id": 2}), sinks=["hook"])
        alert_server.fail(1, 422, "unprocessable: bad environment")
        alert_server.fail(1, 503, "maintenance")
        outbox.dispatch_due(store.engine, config)

        result = run(project, "alerts", "pending", "--format", "json")
        assert result.exit_code == 0
        rows = json.loads(result.stdout)["deliveries"]
        assert [(r["sink"], r["state"], r["attempts"], r["last_error"]) for r in rows] == [
            ("hook", "failed", 1, "HTTP 422: unprocessable: bad environment"),
            ("hook", "pending", 1, "HTTP 503: maintenance"),
        ]
        assert rows[0]["next_attempt_at"] is None and rows[1]["next_attempt_at"]

        text = run(project, "alerts", "pending").stdout
        assert "HTTP 422: unprocessable: bad environment" in text
        assert "1 pending, 1 failed (requeue with `driftd alerts retry --failed`)" in text

        result = run(project, "alerts", "retry", str(rows[0]["id"]))
        assert result.stdout == "requeued 1 failed delivery\n"
        states = [
            r["state"]
            for r in json.loads(run(project, "alerts", "pending", "--format", "json").stdout)[
                "deliveries"
            ]
        ]
        assert states == ["pending", "pending"]
        assert run(project, "alerts", "retry").exit_code == 2  # neither ids nor --failed
        # An id that is not a failed delivery (unknown, or still pending): exit 2, nothing moved.
        bad = run(project, "alerts", "retry", str(rows[1]["id"]), "999999")
        assert bad.exit_code == 2 and "no failed delivery with id" in bad.stderr
        assert str(rows[1]["id"]) in bad.stderr and "999999" in bad.stderr
    finally:
        store.close()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
