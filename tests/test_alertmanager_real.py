"""driftd's Alertmanager sink against two real Alertmanager 0.25 processes (an HA pair).

Each instance runs from the Debian package (``prometheus-alertmanager``, installed
by ``.ci/install-system.sh``) on a free loopback port, without gossip, and
notifies a loopback webhook receiver. The real state store, lifecycle, outbox and
sink code queue and deliver the alerts: drift fires on both instances, a reminder
keeps ``startsAt`` at the time the drift was first seen, the drift resolves on
both, and while one instance is down the other gets every alert and the one
that was down gets what it missed when it is back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from driftd import alerts
from driftd.alerts import lifecycle, outbox
from driftd.drift import DriftItem, EnvironmentReport
from driftd.store import Store, open_store, repo
from tests.alert_servers import (  # noqa: F401 (fixture)
    AlertServer,
    alert_config,
    alert_server_fixture,
    drift_item,
)
from tests.daemon_support import free_port, wait_for

BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
# Skipped on a machine without it, never in CI (.ci/install-system.sh installs it).
pytestmark = pytest.mark.skipif(
    not Path(BINARY).exists() and not os.environ.get("CI"),
    reason="prometheus-alertmanager is not installed (bash .ci/install-system.sh)",
)
ENV = "prod"


class Alertmanager:
    """One real Alertmanager process: its own config, storage and port."""

    def __init__(self, name: str, directory: Path, receiver: str) -> None:
        self.name = name
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        directory.mkdir()
        # Notify the receiver at once, and of resolved alerts too.
        (directory / "alertmanager.yml").write_text(
            f"""
route:
  receiver: hook
  group_by: [drift_id]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {receiver}/{name}
        send_resolved: true
"""
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={self.directory / 'alertmanager.yml'}",
                f"--storage.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # no gossip: two independent instances
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.directory / "log", "ab"),  # noqa: SIM115 (kept by the process)
        )
        wait_for(f"{self.name} to be ready", self.ready, 20, interval=0.05)

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.directory / "log").read_text()[-2000:]
            pytest.fail(f"{self.name} exited ({self.process.returncode}): {log}")
        try:
            return httpx.get(self.url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts it holds as firing (resolved ones are left out)."""
        response = httpx.get(self.url + "/api/v2/alerts", timeout=5)
        response.raise_for_status()
        return list(response.json())


@pytest.fixture
def pair(tmp_path: Path, alert_server: AlertServer) -> Iterator[list[Alertmanager]]:
    managers = [Alertmanager(f"am-{n}", tmp_path / f"am-{n}", alert_server.url) for n in (1, 2)]
    try:
        for manager in managers:
            manager.start()
        yield managers
    finally:
        for manager in managers:
            manager.stop()


class Driftd:
    """The store, lifecycle and outbox of a daemon, driven by hand: ``run`` records a
    check (queuing its alerts in its transaction), ``dispatch`` sends what is due."""

    def __init__(self, tmp_path: Path, urls: list[str]) -> None:
        listed = ", ".join(f'"{u}"' for u in urls)
        self.config = alert_config(
            tmp_path,
            f"""
            [environments.{ENV}]
            url = "sqlite:///app.db"
            alerts = ["am"]

            [alerts.am]
            type = "alertmanager"
            url = [{listed}]
            labels = {{ team = "dba" }}
            renotify_after = "5m"
            generator_url = "https://grafana.example/d/driftd?env={{environment}}&id={{drift_id}}"
            retry_initial = "1s"
            timeout = "5s"
            """,
        )
        self.store: Store = open_store(self.config, migrate=True)

    def run(self, items: list[DriftItem], at: datetime) -> None:
        report = EnvironmentReport(
            ENV,
            "drift" if items else "clean",
            drift=items,
            snapshot_hash="h",
            snapshot={"objects": {}},
        )
        repo.record_run(
            self.store,
            report,
            started_at=at - timedelta(seconds=1),
            finished_at=at,
            daemon="test",
            baseline_hash="b1",
            hooks=[lifecycle.run_hook(lambda: self.config)],
        )

    def remind(self, at: datetime) -> list[outbox.Queued]:
        with Session(self.store.engine) as s, s.begin():
            return lifecycle.renotify_due(s, self.config, at)

    def dispatch(self, at: datetime | None = None) -> outbox.DispatchStats:
        return outbox.dispatch_due(self.store.engine, self.config, at)


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def firing(manager: Alertmanager, drift_id: str) -> dict[str, Any] | None:
    found = [a for a in manager.alerts() if a["labels"].get("drift_id") == drift_id]
    return found[0] if found else None


def notified(server: AlertServer, name: str, status: str) -> list[dict[str, Any]]:
    """Alerts an Alertmanager notified the receiver of, with this status."""
    return [
        alert
        for rec in server.received(f"/{name}")
        for alert in rec.json["alerts"]
        if alert["status"] == status
    ]


def test_drift_fires_and_resolves_on_both_instances(
    tmp_path: Path, pair: list[Alertmanager], alert_server: AlertServer
) -> None:
    driftd = Driftd(tmp_path, [m.url for m in pair])
    try:
        item = drift_item("table:public.customers", env=ENV)
        first_seen = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
        driftd.run([item], first_seen)
        stats = driftd.dispatch()
        assert (stats.delivered, stats.retried, stats.failed) == (2, 0, 0)  # one per instance

        for manager in pair:
            alert = firing(manager, item.id)
            assert alert is not None, manager.name
            assert alert["status"]["state"] == "active"
            assert alert["labels"] == {
                "alertname": "DriftdDrift",
                "team": "dba",
                "environment": ENV,
                "severity": "critical",
                "kind": "table",
                "drift_id": item.id,
            }
            assert parse(alert["startsAt"]) == first_seen
            assert parse(alert["endsAt"]) > datetime.now(UTC) + timedelta(minutes=10)
            assert alert["generatorURL"] == (
                f"https://grafana.example/d/driftd?env={ENV}&id={item.id}"
            )
            assert alert["annotations"]["explain"] == f"driftd explain {item.id}"

        # A reminder keeps it firing, still dated to when the drift was first seen.
        # (The reminder is queued six minutes ahead and sent with that clock.)
        reminder_at = datetime.now(UTC) + timedelta(minutes=6)
        assert len(driftd.remind(reminder_at)) == 2
        assert driftd.dispatch(reminder_at).delivered == 2
        for manager in pair:
            alert = firing(manager, item.id)
            assert alert is not None and parse(alert["startsAt"]) == first_seen

        # Both notified the receiver of it firing (each instance on its own: no gossip).
        for manager in pair:
            wait_for(
                f"{manager.name} to notify the firing alert",
                lambda m=manager: notified(alert_server, m.name, "firing"),
                15,
            )

        # The drift goes away: resolved on both.
        driftd.run([], datetime.now(UTC).replace(microsecond=0))
        assert driftd.dispatch().delivered == 2
        for manager in pair:
            assert firing(manager, item.id) is None, manager.name
            [resolved] = wait_for(
                f"{manager.name} to notify the resolved alert",
                lambda m=manager: notified(alert_server, m.name, "resolved"),
                15,
            )
            assert resolved["labels"]["drift_id"] == item.id
            assert parse(resolved["startsAt"]) == first_seen
            assert parse(resolved["endsAt"]) <= datetime.now(UTC)

        # Resolved alerts are re-sent for a while (15m; the last reminder was 6m ahead,
        # so this one is 12m ahead); the instances keep them resolved.
        reminder_at = datetime.now(UTC) + timedelta(minutes=12)
        assert len(driftd.remind(reminder_at)) == 2
        assert driftd.dispatch(reminder_at).delivered == 2
        assert all(firing(m, item.id) is None for m in pair)
    finally:
        driftd.store.close()


def test_one_instance_down_misses_nothing(
    tmp_path: Path, pair: list[Alertmanager], alert_server: AlertServer
) -> None:
    up, down = pair
    driftd = Driftd(tmp_path, [m.url for m in pair])
    try:
        a = drift_item("table:public.a", ["owner"], "app", "mallory", env=ENV)
        b = drift_item("table:public.b", ["owner"], "app", "eve", severity="high", env=ENV)
        down.stop()
        now = datetime.now(UTC).replace(microsecond=0)
        driftd.run([a], now - timedelta(seconds=30))
        driftd.run([b], now)  # a resolved, b opened
        stats = driftd.dispatch()
        # The instance that is up got everything, in order; the other is retried alone.
        assert (stats.delivered, stats.retried) == (3, 1)
        assert stats.down == [f"am {down.url}"]
        assert firing(up, a.id) is None and firing(up, b.id) is not None

        down.start()  # back (empty: Alertmanager keeps alerts in memory)
        later = datetime.now(UTC) + timedelta(seconds=5)  # past its backoff
        assert driftd.dispatch(later).delivered == 3
        assert firing(down, a.id) is None
        alert = firing(down, b.id)
        assert alert is not None and parse(alert["startsAt"]) == now
        assert driftd.dispatch(later).attempted == 0  # nothing twice
    finally:
        driftd.store.close()


def test_label_names_alertmanager_refuses_are_never_sent(
    tmp_path: Path, pair: list[Alertmanager]
) -> None:
    from driftd.alerts.events import AlertEvent

    driftd = Driftd(tmp_path, [pair[0].url])
    try:
        sink = alerts.sink(driftd.config, "am")
        item = drift_item(env=ENV)
        event = AlertEvent.for_drift("opened", ENV, [item], at=datetime.now(UTC))
        # A label name the config refuses, smuggled past it: the real server would
        # answer 400 to the whole POST...
        sink.settings = sink.settings.model_copy(update={"labels": {"team-name": "dba"}})
        payload = sink.alerts(event, datetime.now(UTC))  # type: ignore[attr-defined]
        answer = httpx.post(pair[0].url + "/api/v2/alerts", json=payload, timeout=5)
        assert answer.status_code == 400 and "invalid label set" in answer.text
        # ...so driftd does not send it: a permanent failure that says why.
        outcome = sink.send(event, "k", datetime.now(UTC))
        assert outcome.result == "permanent" and "label 'team-name'" in outcome.reason
        assert firing(pair[0], item.id) is None
    finally:
        driftd.store.close()
