"""From recorded runs to alerts: once per new drift item, resolve/accept, unreadable
environments and their recovery, reminders. Real state store (SQLite and PostgreSQL),
real ``repo.record_run``, deliveries to a real loopback receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from driftd import alerts
from driftd.alerts import lifecycle, outbox
from driftd.alerts.model import Delivery
from driftd.config import Config
from driftd.drift import DriftItem, EnvironmentReport
from driftd.store import Store, open_store, repo
from tests.alert_servers import (  # noqa: F401 (fixture)
    AlertServer,
    alert_config,
    alert_server_fixture,
    drift_item,
)
from tests.daemon_support import StateDB, statedb_fixture  # noqa: F401 (fixture)

ENV = "prod"
T0 = datetime.now(UTC).replace(microsecond=0)


class World:
    """A config, a store and a clock; ``run`` records a check and queues its alerts."""

    def __init__(self, config: Config, store: Store, server: AlertServer) -> None:
        self.config = config
        self.store = store
        self.server = server
        self.now = T0

    def run(
        self,
        items: list[DriftItem] | None = None,
        error: str | None = None,
        live: dict[str, Any] | None = None,
        baseline: str = "b1",
    ) -> None:
        self.now += timedelta(minutes=5)
        if error is not None:
            report = EnvironmentReport(ENV, "error", error=error)
        else:
            items = items or []
            report = EnvironmentReport(
                ENV,
                "drift" if items else "clean",
                drift=items,
                snapshot_hash="h",
                snapshot={"objects": live or {}},
            )
        # As the daemon does it: the alerts are queued in the run's own transaction.
        repo.record_run(
            self.store,
            report,
            started_at=self.now - timedelta(seconds=2),
            finished_at=self.now,
            daemon="test",
            baseline_hash=baseline,
            hooks=[lifecycle.run_hook(lambda: self.config)],
        )

    def kinds(self, sink: str = "hook") -> list[str]:
        with Session(self.store.engine) as s:
            return list(
                s.scalars(select(Delivery.kind).where(Delivery.sink == sink).order_by(Delivery.id))
            )

    def payloads(self, sink: str = "hook") -> list[dict[str, Any]]:
        with Session(self.store.engine) as s:
            return [
                d.payload
                for d in s.scalars(
                    select(Delivery).where(Delivery.sink == sink).order_by(Delivery.id)
                )
            ]


@pytest.fixture(params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, alert_server: AlertServer
) -> Iterator[World]:
    url = (
        "sqlite:///state.db"
        if request.param == "sqlite"
        else request.getfixturevalue("statedb").url
    )
    config = alert_config(
        tmp_path,
        f"""
        [environments.{ENV}]
        url = "sqlite:///app.db"
        alerts = ["hook", "am"]

        [alerts.hook]
        type = "webhook"
        url = "{alert_server.url}/hook"
        error_after = 2
        renotify_after = "1h"

        [alerts.am]
        type = "alertmanager"
        url = "{alert_server.url}"
        renotify_after = "10m"
        environment_errors = false
        """,
        url,
    )
    store = open_store(config, migrate=True)
    yield World(config, store, alert_server)
    store.close()


def test_new_drift_is_told_once_then_resolved_and_reopened(world: World) -> None:
    a = drift_item("table:public.a", ["owner"], "app", "mallory", env=ENV)
    b = drift_item("table:public.b", ["owner"], "app", "eve", severity="high", env=ENV)
    world.run([a, b])
    world.run([a, b])  # the same drift: nothing new to tell
    world.run([a, b])
    assert world.kinds() == ["opened"]
    [opened] = world.payloads()
    assert [i["id"] for i in opened["drift"]] == [a.id, b.id]  # one message, both items
    assert [i["id"] for i in opened["still_open"]] == [a.id, b.id]

    world.run([b])  # a went away
    assert world.kinds() == ["opened", "resolved"]
    resolved = world.payloads()[-1]
    assert [i["id"] for i in resolved["drift"]] == [a.id]
    assert resolved["drift"][0]["after"] == "mallory"  # the item as it was
    assert [i["id"] for i in resolved["still_open"]] == [b.id]

    world.run([a, b])  # and came back: told again
    assert world.kinds() == ["opened", "resolved", "opened"]
    assert [i["id"] for i in world.payloads()[-1]["drift"]] == [a.id]
    # Every alert also went to Alertmanager (the whole flow, per sink).
    assert world.kinds("am") == ["opened", "resolved", "opened"]

    stats = outbox.dispatch_due(world.store.engine, world.config, world.now)
    assert stats.delivered == 6
    assert [r.json["event"] for r in world.server.received("/hook")] == [
        "opened",
        "resolved",
        "opened",
    ]


def test_accepted_when_the_baseline_took_the_change_in(world: World) -> None:
    a = drift_item("table:public.a", ["owner"], "app", "mallory", env=ENV)
    world.run([a], baseline="b1")
    world.run([], live={"table:public.a": {"owner": "mallory"}}, baseline="b2")
    assert world.kinds() == ["opened", "accepted"]
    outbox.dispatch_due(world.store.engine, world.config, world.now)
    [am_opened, am_accepted] = [r.json for r in world.server.received("/api/v2/alerts")]
    assert am_accepted[0]["labels"] == am_opened[0]["labels"]
    assert am_accepted[0]["annotations"]["resolution"] == "accepted into the baseline"


def test_unreadable_environment_alerts_after_n_failures_and_on_recovery(world: World) -> None:
    world.run([])
    world.run(error="connection refused (password=hunter2)")
    assert world.kinds() == []  # one failure is not yet a pattern
    world.run(error="connection refused (password=hunter2)")
    assert world.kinds() == ["environment_error"]
    world.run(error="connection refused")
    assert world.kinds() == ["environment_error"]  # told once
    world.run([])
    assert world.kinds() == ["environment_error", "environment_recovered"]
    world.run([])
    assert world.kinds() == ["environment_error", "environment_recovered"]
    error = world.payloads()[0]
    assert error["consecutive_errors"] == 2
    assert error["error"] == "connection refused (password=***)"
    assert world.kinds("am") == []  # environment_errors = false there


def test_renotify_reminds_while_drift_stays_open(world: World) -> None:
    a = drift_item("table:public.a", ["owner"], "app", "mallory", env=ENV)
    world.run([a])

    def due(after: timedelta) -> list[str]:
        with Session(world.store.engine) as s, s.begin():
            return [q.sink for q in lifecycle.renotify_due(s, world.config, world.now + after)]

    assert due(timedelta(minutes=5)) == []
    assert due(timedelta(minutes=11)) == ["am"]  # Alertmanager's refresh comes sooner
    assert due(timedelta(minutes=12)) == []
    assert due(timedelta(minutes=61)) == ["hook", "am"]
    assert due(timedelta(minutes=62)) == []
    assert world.kinds() == ["opened", "renotify"]
    reminder = world.payloads()[-1]
    assert [i["id"] for i in reminder["drift"]] == [a.id]

    # Acknowledged drift: no more reminders to people; Alertmanager keeps it firing.
    repo.acknowledge(world.store, a.id, "bob", "on it")
    world.now += timedelta(hours=2)
    assert due(timedelta(0)) == ["am"]

    world.run([])  # resolved: nothing left to remind of
    world.now += timedelta(hours=2)
    assert due(timedelta(0)) == []


def test_a_failing_hook_costs_the_alerts_never_the_run(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> list[outbox.Queued]:
        args[0].add(Delivery(sink="half", environment=ENV, kind="opened"))  # half-written
        raise RuntimeError("bug")

    monkeypatch.setattr(lifecycle, "after_run", broken)
    world.run([drift_item(env=ENV)])
    assert world.kinds() == [] and world.kinds("half") == []
    [status] = repo.environment_status(world.store, [ENV])
    assert status.status == "drift" and status.open_drift == 1
    assert "could not queue the alerts of run" in caplog.text


def test_two_daemons_queue_one_reminder(world: World) -> None:
    import threading

    a = drift_item("table:public.a", ["owner"], "app", "mallory", env=ENV)
    world.run([a])
    # At the start of an hour: both daemons look within the same reminder period.
    later = world.now + timedelta(minutes=61)
    due_at = later.replace(minute=0, second=0) + timedelta(hours=1)
    first = Session(world.store.engine)
    first.begin()
    mine = lifecycle.renotify_due(first, world.config, due_at, [ENV])
    assert sorted(q.sink for q in mine) == ["am", "hook"]
    theirs: list[Any] = []

    def other_daemon() -> None:  # a minute later, while the first has not committed
        with Session(world.store.engine) as s, s.begin():
            theirs.extend(
                lifecycle.renotify_due(s, world.config, due_at + timedelta(minutes=1), [ENV])
            )

    thread = threading.Thread(target=other_daemon)
    thread.start()
    thread.join(0.5)  # it waits on the first's lock (SQLite) or its unique key (PostgreSQL)
    first.commit()
    first.close()
    thread.join(10)
    assert theirs == []
    assert world.kinds() == ["opened", "renotify"]


def test_alertmanager_hears_resolved_again_and_first_seen(world: World) -> None:
    from driftd.alerts import alertmanager
    from driftd.alerts.events import AlertEvent

    a = drift_item("table:public.a", ["owner"], "app", "mallory", env=ENV)
    world.run([a])
    first_seen = world.now
    world.run([])  # resolved
    resolved_at = world.now

    def due(after: timedelta) -> list[str]:
        with Session(world.store.engine) as s, s.begin():
            return [q.sink for q in lifecycle.renotify_due(s, world.config, world.now + after)]

    stamp = first_seen.strftime("%Y-%m-%dT%H:%M:%SZ")
    closed = resolved_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Closing events carry the stored item: first seen, closed, how.
    [item] = world.payloads()[-1]["drift"]
    assert (item["first_seen_at"], item["closed_at"], item["state"]) == (stamp, closed, "resolved")

    assert due(timedelta(minutes=1)) == []  # am heard of it 6 minutes ago (renotify: 10m)
    assert due(timedelta(minutes=6)) == ["am"]  # the resolved alert, once more
    reminder = world.payloads("am")[-1]
    assert reminder["kind"] == "renotify" and reminder["still_open"] == []
    sink = alerts.sink(world.config, "am")
    assert isinstance(sink, alertmanager.AlertmanagerSink)
    [alert] = sink.alerts(AlertEvent.from_json(reminder), world.now)
    assert (alert["startsAt"], alert["endsAt"]) == (stamp, closed)
    assert due(timedelta(minutes=16)) == []  # past resend_resolved (15m): done
    assert world.kinds() == ["opened", "resolved"]  # a webhook is told once
