"""`driftd ack` tells the sinks that have incidents: PagerDuty acknowledges the item's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftd.alerts import lifecycle
from driftd.drift import EnvironmentReport
from driftd.store import open_store, repo
from tests.alert_servers import (  # noqa: F401 (fixture)
    AlertServer,
    alert_config,
    alert_server_fixture,
    drift_item,
)
from tests.conftest import Project

ROUTING_KEY = "R0UTINGKEYR0UTINGKEYR0UTINGKEY99"


def test_ack_acknowledges_the_pagerduty_incident(
    tmp_path: Path, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTD_TEST_PD_KEY", ROUTING_KEY)
    monkeypatch.setenv("DRIFTD_TEST_SLACK_URL", f"{alert_server.url}/slack")
    config = alert_config(
        tmp_path,
        f"""
        [environments.prod]
        url = "sqlite:///app.db"
        alerts = ["pager", "hook", "chat"]

        [alerts.pager]
        type = "pagerduty"
        url = "{alert_server.url}/pd"
        routing_key_env = "DRIFTD_TEST_PD_KEY"

        [alerts.hook]
        type = "webhook"
        url = "{alert_server.url}/hook"

        [alerts.chat]
        type = "slack"
        webhook_url_env = "DRIFTD_TEST_SLACK_URL"
        """,
    )
    item = drift_item()
    store = open_store(config, migrate=True)
    try:
        now = datetime.now(UTC)
        repo.record_run(
            store,
            EnvironmentReport("prod", "drift", drift=[item], snapshot_hash="h", snapshot={}),
            started_at=now - timedelta(seconds=1),
            finished_at=now,
            daemon="test",
            baseline_hash="b",
            hooks=[lifecycle.run_hook(lambda: config)],
        )
    finally:
        store.close()

    project = Project(root=tmp_path, config=tmp_path / "driftd.toml")
    res = project.run("ack", item.id[:8], "--note", "OPS-1, on it", "--by", "alice")
    assert res.exit_code == 0, res.stderr
    assert f"acknowledged {item.id}" in res.stdout and "queued for hook, pager" in res.stdout

    pd = [r.json for r in alert_server.delivered("/pd")]
    # The run's trigger went first (same sink and environment keep their order).
    assert [(b["event_action"], b["dedup_key"]) for b in pd] == [
        ("trigger", item.id),
        ("acknowledge", item.id),
    ]
    assert pd[1] == {
        "routing_key": ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": item.id,
    }
    hooks = [r.json for r in alert_server.delivered("/hook")]
    assert [h["event"] for h in hooks] == ["opened", "acknowledged"]
    assert hooks[1]["acknowledged"] == {"by": "alice", "note": "OPS-1, on it"}
    assert [d["id"] for d in hooks[1]["drift"]] == [item.id]
    # Slack has no incident to acknowledge: it only got the run's message.
    assert len(alert_server.delivered("/slack")) == 1
    assert ROUTING_KEY not in res.stdout + res.stderr


def test_one_ack_never_acknowledges_an_environment_incident(tmp_path: Path) -> None:
    from driftd import alerts
    from driftd.alerts.events import AlertEvent

    config = alert_config(
        tmp_path,
        """
        [environments.prod]
        url = "sqlite:///app.db"
        alerts = ["pager"]

        [alerts.pager]
        type = "pagerduty"
        routing_key_env = "UNUSED"
        dedup = "environment"
        """,
    )
    sink = alerts.sink(config, "pager")
    event = AlertEvent.for_drift(
        "acknowledged", "prod", [drift_item()], at=datetime.now(UTC), by="alice"
    )
    routed = sink.route(event)
    assert routed is not None and sink.split(routed) == []
