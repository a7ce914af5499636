"""The alert outbox on a real SQLite file and a real PostgreSQL store (Alembic-migrated).

Retries with backoff, Retry-After, permanent failures, dedup of one event,
order within a sink and environment, restarts (new engines, new processes), two
dispatchers at once, and no secret anywhere a person or a log can see.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from driftd.alerts import outbox
from driftd.alerts.events import AlertEvent
from driftd.alerts.model import Delivery
from driftd.config import Config
from driftd.store import Store, open_store
from tests.alert_servers import (  # noqa: F401 (fixture)
    AlertServer,
    alert_config,
    alert_server_fixture,
    drift_item,
)
from tests.daemon_support import StateDB, statedb_fixture  # noqa: F401 (fixture)

T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


class Top:
    """A 'random' source that always picks the top of the range: backoff becomes exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


@dataclass
class Setup:
    tmp_path: Path
    state_url: str
    server: AlertServer

    def config(self, sinks: str, envs: str | None = None) -> Config:
        envs = envs or '[environments.prod]\nurl = "sqlite:///app.db"\nalerts = ["hook"]\n'
        return alert_config(self.tmp_path, envs + sinks, self.state_url)

    def hook(self, extra: str = "", name: str = "hook") -> str:
        if "retry_initial" not in extra:
            extra += '\nretry_initial = "10s"'
        return f'[alerts.{name}]\ntype = "webhook"\nurl = "{self.server.url}/{name}"\n{extra}\n'

    def open(self, config: Config) -> Store:
        return open_store(config, migrate=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(request: pytest.FixtureRequest, tmp_path: Path, alert_server: AlertServer) -> Setup:
    if request.param == "sqlite":
        url = "sqlite:///state.db"
    else:
        url = request.getfixturevalue("statedb").url
    return Setup(tmp_path, url, alert_server)


@pytest.fixture
def opened_store(setup: Setup) -> Iterator[tuple[Setup, Config, Store]]:
    config = setup.config(setup.hook())
    store = setup.open(config)
    yield setup, config, store
    store.close()


def event(n: int = 1, env: str = "prod", at: datetime = T0, kind: str = "opened") -> AlertEvent:
    items = [
        drift_item(f"table:public.t{n}_{i}", ["owner"], "app", "mallory", env=env) for i in range(1)
    ]
    return AlertEvent.for_drift(kind, env, items, at=at, run_id=n)  # type: ignore[arg-type]


def enqueue(store: Store, config: Config, *events: AlertEvent, **kw: Any) -> list[outbox.Queued]:
    added: list[outbox.Queued] = []
    with Session(store.engine) as s, s.begin():
        for ev in events:
            added += outbox.enqueue(s, config, ev, now=ev.at, **kw)
    return added


def rows(store: Store) -> list[Delivery]:
    with Session(store.engine) as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


# -- enqueue ---------------------------------------------------------------------------


def test_enqueue_routes_and_dedups(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_KEY", "k" * 32)
    config = setup.config(
        setup.hook()
        + '[alerts.pd]\ntype = "pagerduty"\nrouting_key_env = "PD_KEY"\nmin_severity = "high"\n',
        envs=(
            '[environments.prod]\nurl = "sqlite:///a.db"\nalerts = ["hook", "pd"]\n'
            '[environments.staging]\nurl = "sqlite:///b.db"\nalerts = ["hook"]\n'
        ),
    )
    store = setup.open(config)
    try:
        crit = drift_item()
        medium = drift_item("table:public.x", ["owner"], "a", "b", severity="medium")
        info = drift_item("table:public.y", ["comment"], None, "c", severity="info")
        ev = AlertEvent.for_drift("opened", "prod", [crit, medium, info], at=T0, run_id=1)
        added = enqueue(store, config, ev)
        assert sorted((q.sink, q.kind) for q in added) == [("hook", "opened"), ("pd", "opened")]
        assert enqueue(store, config, ev) == []  # the same event again: a no-op
        stored = {r.sink: r for r in rows(store)}
        assert [i["id"] for i in stored["hook"].payload["drift"]] == [crit.id, medium.id]
        assert [i["id"] for i in stored["pd"].payload["drift"]] == [crit.id]
        assert stored["hook"].idempotency_key == ev.idempotency_key("hook")
        assert stored["hook"].state == "pending" and stored["hook"].next_attempt_at == T0
        staging = AlertEvent.for_drift(
            "opened", "staging", [drift_item(env="staging")], at=T0, run_id=2
        )
        assert [q.sink for q in enqueue(store, config, staging)] == ["hook"]
        nowhere = AlertEvent.for_drift("opened", "gone", [crit], at=T0, run_id=3)
        assert enqueue(store, config, nowhere) == []
        # Nothing secret is stored: the row holds the event, not the request.
        with store.engine.connect() as conn:
            dump = str(conn.execute(text("SELECT * FROM alert_deliveries")).fetchall())
        assert "k" * 32 not in dump and setup.server.url not in dump
    finally:
        store.close()


def test_enqueue_rolls_back_with_the_callers_transaction(
    opened_store: tuple[Setup, Config, Store],
) -> None:
    _setup, config, store = opened_store
    with pytest.raises(RuntimeError), Session(store.engine) as s, s.begin():
        outbox.enqueue(s, config, event())
        raise RuntimeError("the run could not be recorded")
    assert rows(store) == []


# -- dispatch --------------------------------------------------------------------------


def sent_count(sink: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("driftd_alerts_sent_total", {"sink": sink, "outcome": outcome})
        or 0.0
    )


def test_dispatch_delivers_once(opened_store: tuple[Setup, Config, Store]) -> None:
    setup, config, store = opened_store
    enqueue(store, config, event(1), event(2))
    before = sent_count("hook", "delivered")
    stats = outbox.dispatch_due(store.engine, config, T0)
    assert (stats.delivered, stats.retried, stats.failed) == (2, 0, 0)
    assert [r.json["run_id"] for r in setup.server.received("/hook")] == [1, 2]
    assert [(r.state, r.attempts, r.delivered_at) for r in rows(store)] == [
        ("delivered", 1, T0),
        ("delivered", 1, T0),
    ]
    assert outbox.dispatch_due(store.engine, config, T0 + timedelta(days=1)).attempted == 0
    assert len(setup.server.received()) == 2
    assert sent_count("hook", "delivered") == before + 2
    assert REGISTRY.get_sample_value("driftd_alerts_pending", {"sink": "hook"}) == 0


def test_retry_with_backoff_then_retry_after(opened_store: tuple[Setup, Config, Store]) -> None:
    setup, config, store = opened_store
    enqueue(store, config, event())
    setup.server.fail(2, 500, "overloaded")
    setup.server.retry_after(1, "120")
    rng = Top()

    def step(at: datetime) -> Delivery:
        outbox.dispatch_due(store.engine, config, at, rng=rng)  # type: ignore[arg-type]
        [row] = rows(store)
        return row

    row = step(T0)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "HTTP 500: overloaded")
    assert row.next_attempt_at == T0 + timedelta(seconds=10)  # initial × 2^0
    assert REGISTRY.get_sample_value("driftd_alerts_pending", {"sink": "hook"}) == 1
    assert step(T0 + timedelta(seconds=9)).attempts == 1  # not due yet: not tried
    row = step(T0 + timedelta(seconds=10))
    assert row.attempts == 2 and row.next_attempt_at == T0 + timedelta(seconds=30)  # + 20s
    row = step(T0 + timedelta(seconds=30))
    # 429 Retry-After: 120 outweighs the backoff (40s).
    assert row.attempts == 3 and row.next_attempt_at == T0 + timedelta(seconds=150)
    assert row.last_error == "HTTP 429: slow down"
    assert step(T0 + timedelta(seconds=149)).attempts == 3
    row = step(T0 + timedelta(seconds=150))
    assert (row.state, row.attempts, row.last_error) == ("delivered", 4, None)
    assert len(setup.server.delivered()) == 1 and len(setup.server.received()) == 4


def test_backoff_is_full_jitter_capped() -> None:
    import random

    from driftd.alerts.base import SinkSettings

    s = SinkSettings(type="x", retry_initial="10s", retry_max="5m")
    rng = random.Random(7)
    delays = [outbox.backoff(n, s, None, rng) for n in range(1, 40)]
    assert all(0 <= d <= 300 for d in delays)
    assert outbox.backoff(1, s, None, Top()) == 10  # type: ignore[arg-type]
    assert outbox.backoff(30, s, None, Top()) == 300  # type: ignore[arg-type]
    assert outbox.backoff(1, s, 999.0, rng) == 999.0
    assert len(set(delays)) > 30  # jittered, not lock-step


def test_permanent_failure_is_logged_and_does_not_block(
    opened_store: tuple[Setup, Config, Store], caplog: pytest.LogCaptureFixture
) -> None:
    setup, config, store = opened_store
    caplog.set_level(logging.INFO, logger="driftd.alerts")
    enqueue(store, config, event(1), event(2))
    setup.server.fail(1, 400, "missing field: environment")
    stats = outbox.dispatch_due(store.engine, config, T0)
    assert (stats.delivered, stats.failed) == (1, 1)
    first, second = rows(store)
    assert (first.state, first.attempts, first.last_error) == (
        "failed",
        1,
        "HTTP 400: missing field: environment",
    )
    assert second.state == "delivered"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "HTTP 400: missing field: environment" in record.getMessage()
    assert record.__dict__["sink"] == "hook" and record.__dict__["event"] == "opened"


def test_gives_up_after_max_attempts_and_age(setup: Setup) -> None:
    config = setup.config(setup.hook('max_attempts = 2\nretry_initial = "1s"\n'))
    store = setup.open(config)
    try:
        setup.server.answer(503, "down")
        enqueue(store, config, event(1))
        outbox.dispatch_due(store.engine, config, T0, rng=Top())  # type: ignore[arg-type]
        outbox.dispatch_due(store.engine, config, T0 + timedelta(seconds=5), rng=Top())  # type: ignore[arg-type]
        [row] = rows(store)
        assert row.state == "failed" and row.attempts == 2
        assert row.last_error == "HTTP 503: down (gave up after 2 attempts)"
    finally:
        store.close()
    config = setup.config(setup.hook('give_up_after = "1h"\n'))
    store = setup.open(config)
    try:
        enqueue(store, config, event(2))
        outbox.dispatch_due(store.engine, config, T0 + timedelta(hours=2))
        row = rows(store)[-1]
        assert row.state == "failed" and "gave up after 1 attempts" in (row.last_error or "")
    finally:
        store.close()


def test_order_within_sink_and_environment(opened_store: tuple[Setup, Config, Store]) -> None:
    setup, config, store = opened_store
    opened, resolved = event(1), event(1, kind="resolved", at=T0 + timedelta(seconds=1))
    other_env = event(2, env="staging")
    config = setup.config(
        setup.hook(),
        envs=(
            '[environments.prod]\nurl = "sqlite:///a.db"\nalerts = ["hook"]\n'
            '[environments.staging]\nurl = "sqlite:///b.db"\nalerts = ["hook"]\n'
        ),
    )
    enqueue(store, config, opened, resolved, other_env)
    setup.server.fail(1, 500)
    stats = outbox.dispatch_due(store.engine, config, T0 + timedelta(seconds=2), rng=Top())  # type: ignore[arg-type]
    # The trigger failed: its resolve waits behind it; staging is another queue... but the
    # sink was down for this pass, so it waits for the next pass too.
    assert (stats.retried, stats.delivered, stats.down) == (1, 0, ["hook"])
    stats = outbox.dispatch_due(store.engine, config, T0 + timedelta(seconds=5), rng=Top())  # type: ignore[arg-type]
    assert stats.delivered == 1  # staging only: prod's trigger is not due until +12s
    assert [r.json["environment"] for r in setup.server.delivered()] == ["staging"]
    outbox.dispatch_due(store.engine, config, T0 + timedelta(seconds=12))
    assert [
        r.json["event"] for r in setup.server.delivered() if r.json["environment"] == "prod"
    ] == [
        "opened",
        "resolved",
    ]


def test_a_down_sink_does_not_hold_up_the_others(setup: Setup) -> None:
    down = setup.hook(name="down")
    config = setup.config(
        setup.hook() + down,
        envs='[environments.prod]\nurl = "sqlite:///a.db"\nalerts = ["down", "hook"]\n',
    )
    store = setup.open(config)
    try:
        enqueue(store, config, *(event(n) for n in range(5)))
        setup.server.fail(1, 503)  # the first request goes to "down" (created first)
        stats = outbox.dispatch_due(store.engine, config, T0, rng=Top())  # type: ignore[arg-type]
        assert (stats.retried, stats.delivered, stats.down) == (1, 5, ["down"])
        assert len(setup.server.received("/down")) == 1  # tried once in this pass
    finally:
        store.close()


def test_restart_picks_up_pending_rows(setup: Setup) -> None:
    config = setup.config(setup.hook())
    first = setup.open(config)
    enqueue(first, config, event(1))
    setup.server.fail(1, 500)
    outbox.dispatch_due(first.engine, config, T0, rng=Top())  # type: ignore[arg-type]
    first.close()  # the daemon stops
    second = setup.open(setup.config(setup.hook()))  # and starts again
    try:
        assert outbox.dispatch_due(second.engine, config, T0 + timedelta(seconds=10)).delivered == 1
        assert [r.state for r in rows(second)] == ["delivered"]
    finally:
        second.close()


def test_two_dispatchers_never_send_one_row_twice(setup: Setup) -> None:
    envs = "".join(
        f'[environments.e{i}]\nurl = "sqlite:///a.db"\nalerts = ["hook"]\n' for i in range(8)
    )
    config = setup.config(setup.hook(), envs=envs)
    stores = [setup.open(config), setup.open(config)]
    try:
        events = [event(n, env=f"e{n % 8}") for n in range(40)]
        enqueue(stores[0], config, *events)
        setup.server.answer(200, "ok")
        setup.server.fail(40, 200, "ok", delay=0.02)  # slow enough for the two to overlap
        errors: list[BaseException] = []

        def work(store: Store) -> None:
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    outbox.dispatch_due(store.engine, config, limit=5)
                    with Session(store.engine) as s:
                        if not outbox.pending_counts(s):
                            return
            except BaseException as exc:  # pragma: no cover (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        keys = Counter(r.headers["idempotency-key"] for r in setup.server.received())
        assert len(keys) == 40 and set(keys.values()) == {1}
        assert {r.state for r in rows(stores[0])} == {"delivered"}
    finally:
        for s in stores:
            s.close()


# -- no secret leaves -------------------------------------------------------------------


SECRETS = {
    "SLACK_URL_PATH": "/services/T0/B0/sl4ckS3cretPath",
    "PD_KEY": "pdR0utingKeyS3cret0000000000000",
    "HOOK_SECRET": "hm4cS3cretValue",
    "SMTP_PASSWORD": "smtpP4ssw0rdS3cret",
}


def test_no_secret_in_store_logs_or_pending_output(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from driftd.alerts.commands import COMMANDS
    from driftd.cli.main import cli

    caplog.set_level(logging.DEBUG)
    url = setup.server.url
    monkeypatch.setenv("SLACK_URL", url + SECRETS["SLACK_URL_PATH"])
    monkeypatch.setenv("PD_KEY", SECRETS["PD_KEY"])
    monkeypatch.setenv("HOOK_SECRET", SECRETS["HOOK_SECRET"])
    monkeypatch.setenv("SMTP_PASSWORD", SECRETS["SMTP_PASSWORD"])
    sinks = f"""
[alerts.slack]
type = "slack"
webhook_url_env = "SLACK_URL"

[alerts.pd]
type = "pagerduty"
routing_key_env = "PD_KEY"
url = "{url}/v2/enqueue"

[alerts.hook]
type = "webhook"
url = "{url}/hook"
secret_env = "HOOK_SECRET"

[alerts.mail]
type = "email"
host = "127.0.0.1"
port = 9
username = "driftd"
password_env = "SMTP_PASSWORD"
from = "d@example.com"
to = ["dba@example.com"]
timeout = "1s"
"""
    envs = '[environments.prod]\nurl = "sqlite:///a.db"\nalerts = ["slack", "pd", "hook", "mail"]\n'
    config = setup.config(sinks, envs=envs)
    store = setup.open(config)
    try:
        enqueue(store, config, event(1))
        # The services quote the request they got (a bad gateway page, say).
        setup.server.answer(500, "bad gateway:", echo=True)
        outbox.dispatch_due(store.engine, config, T0)
        assert {r.state for r in rows(store)} == {"pending"}
        with store.engine.connect() as conn:
            dump = str(conn.execute(text("SELECT * FROM alert_deliveries")).fetchall())
    finally:
        store.close()
    for command in COMMANDS:
        if command.name not in cli.commands:
            cli.add_command(command)
    runner = CliRunner()
    config_path = str(setup.tmp_path / "driftd.toml")
    shown = runner.invoke(cli, ["--config", config_path, "alerts", "pending"])
    shown_json = runner.invoke(
        cli, ["--config", config_path, "alerts", "pending", "--format", "json"]
    )
    assert shown.exit_code == 0 and shown_json.exit_code == 0, shown.output + shown_json.output
    listed = json.loads(shown_json.stdout)["deliveries"]
    assert {d["sink"] for d in listed} == {"slack", "pd", "hook", "mail"}
    assert all(d["last_error"] for d in listed)
    assert "HTTP 500" in shown.stdout
    for where, content in (
        ("store", dump),
        ("logs", caplog.text),
        ("alerts pending", shown.stdout),
        ("alerts pending --format json", shown_json.stdout),
    ):
        for name, value in SECRETS.items():
            assert value not in content, f"{name} appears in {where}"


# -- restarts in between: every alert arrives exactly once -----------------------------------


DISPATCH = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from driftd import alerts
from driftd.alerts import outbox
from driftd.config.load import load
from driftd.store import open_store

config = load(Path(sys.argv[1]))
alerts.validate(config)
store = open_store(config, migrate=True)
stats = outbox.dispatch_due(store.engine, config)
print(stats.delivered, stats.retried, stats.failed)
store.close()
"""


def test_fault_500s_and_restarts_deliver_each_alert_exactly_once(setup: Setup) -> None:
    config = setup.config(setup.hook('retry_initial = "50ms"\nretry_max = "100ms"\n'))
    store = setup.open(config)
    now = datetime.now(UTC)  # real time: the processes dispatch on the real clock
    events = [event(n, at=now) for n in range(6)]
    enqueue(store, config, *events)
    store.close()
    setup.server.fail(4, 500, "not now")
    script = setup.tmp_path / "dispatch.py"
    script.write_text(DISPATCH)
    runs = []
    for _ in range(20):  # each pass is a fresh process: a daemon restarted in between
        proc = subprocess.run(
            [sys.executable, str(script), str(setup.tmp_path / "driftd.toml")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        runs.append(tuple(int(x) for x in proc.stdout.split()))
        if sum(r[0] for r in runs) == len(events):
            break
        # No sleep: a process takes longer to start than the 100 ms backoff, and a pass
        # that comes too early sends nothing and is simply followed by the next.
    assert sum(r[1] for r in runs) == 4  # the four 500s, each retried later
    assert sum(r[2] for r in runs) == 0
    delivered = Counter(r.headers["idempotency-key"] for r in setup.server.delivered())
    assert delivered == Counter({e.idempotency_key("hook"): 1 for e in events})
    # In order, despite the failures and restarts.
    assert [r.json["run_id"] for r in setup.server.delivered()] == list(range(6))


def test_alertmanager_pair_one_instance_down(setup: Setup) -> None:
    """One row per instance: the instance that is down is retried alone, in order, and
    each instance gets each alert once; the one that is up is never held up."""
    other = AlertServer()
    try:
        up, down = setup.server.url, other.url
        config = setup.config(
            f'[alerts.am]\ntype = "alertmanager"\nurl = ["{up}", "{down}"]\n'
            'retry_initial = "10s"\n',
            envs='[environments.prod]\nurl = "sqlite:///a.db"\nalerts = ["am"]\n',
        )
        store = setup.open(config)
        try:
            added = enqueue(store, config, event(1), event(2), event(3, kind="resolved"))
            assert [(q.kind, q.target) for q in added] == [
                ("opened", up),
                ("opened", down),
                ("opened", up),
                ("opened", down),
                ("resolved", up),
                ("resolved", down),
            ]
            assert len({q.idempotency_key for q in added}) == 6
            assert enqueue(store, config, event(1)) == []  # once per instance, however often

            other.answer(503, "down for maintenance")
            stats = outbox.dispatch_due(store.engine, config, T0, rng=Top())  # type: ignore[arg-type]
            assert (stats.delivered, stats.retried, stats.down) == (3, 1, [f"am {down}"])
            assert len(other.received()) == 1  # tried once, the rest waited behind it
            by_target = Counter((r.target, r.state) for r in rows(store))
            assert by_target == {(up, "delivered"): 3, (down, "pending"): 3}

            other.answer(200, "")
            later = T0 + timedelta(seconds=11)
            assert outbox.dispatch_due(store.engine, config, later).delivered == 3
            assert {r.state for r in rows(store)} == {"delivered"}
            for server in (setup.server, other):
                bodies = [r.json for r in server.delivered("/api/v2/alerts")]
                ends = [b[0]["endsAt"] for b in bodies]
                assert len(bodies) == 3  # each alert once, in order: the resolve last
                assert ends[2] == "2026-11-22T10:00:00Z" and ends[0] > ends[2]
        finally:
            store.close()
    finally:
        other.close()


# -- claims: who sends a row, and what frees a claim (issue 17) ------------------------------


def _claim(store: Store) -> tuple[str | None, datetime | None, str | None]:
    with Session(store.engine) as s:
        row = s.scalars(select(Delivery)).one()
        return row.claim_owner, row.claimed_at, row.last_error


def test_a_killed_processs_claim_is_freed_at_once_same_delivery(tmp_path: Path) -> None:
    """SQLite: a process that dies mid-send leaves its claim (a 60 s+ lease); the next
    process of this host frees it at its first pass and sends the same row."""
    server = AlertServer()
    try:
        setup = Setup(tmp_path, "sqlite:///state.db", server)
        config = setup.config(setup.hook('timeout = "60s"'))
        store = setup.open(config)
        (queued,) = enqueue(store, config, event(1, at=datetime.now(UTC)))
        server.fail(1, 200, "ok", delay=60)  # the first send hangs
        script = tmp_path / "dispatch.py"
        script.write_text(DISPATCH)
        proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "driftd.toml")])
        try:
            deadline = time.monotonic() + 30
            while server._script:  # the hanging answer taken: the request is at the sink
                assert time.monotonic() < deadline, "the first send never reached the sink"
                time.sleep(0.02)
            owner, claimed_at, last_error = _claim(store)
            assert owner is not None and owner.split(":")[1] == str(proc.pid)
            assert claimed_at is not None and last_error is None  # no note in last_error
        finally:
            proc.kill()
            proc.wait(10)
        server.answer(200, "ok")
        started = time.monotonic()
        stats = outbox.dispatch_due(store.engine, config)
        assert stats.delivered == 1 and time.monotonic() - started < 5
        (row,) = rows(store)
        assert (row.id, row.state, row.claim_owner, row.claimed_at) == (
            queued.id,
            "delivered",
            None,
            None,
        )
        keys = [r.headers["idempotency-key"] for r in server.delivered()]
        assert keys == [queued.idempotency_key]  # the same delivery, sent again
        store.close()
    finally:
        server.close()


def test_another_hosts_claim_waits_for_its_lease(setup: Setup) -> None:
    config = setup.config(setup.hook())
    store = setup.open(config)
    try:
        enqueue(store, config, event(1))
        with Session(store.engine) as s, s.begin():
            row = s.scalars(select(Delivery)).one()
            row.claim_owner = "elsewhere.example:4242:abcdef"
            row.claimed_at = T0
            row.next_attempt_at = T0 + timedelta(seconds=90)  # its lease
        assert outbox.dispatch_due(store.engine, config, T0 + timedelta(seconds=5)).attempted == 0
        assert _claim(store)[0] == "elsewhere.example:4242:abcdef"
        stats = outbox.dispatch_due(store.engine, config, T0 + timedelta(seconds=91))
        assert stats.delivered == 1  # the lease ran out: anyone may send it
        assert _claim(store)[0] is None
    finally:
        store.close()


def test_migration_0005_upgrades_a_0004_store_and_moves_old_claims(setup: Setup) -> None:
    """A store at revision 0004 with a claim noted the old way (in last_error) gets
    the claim columns, the owner moved there, and its error note cleared."""
    from alembic import command
    from sqlalchemy import create_engine

    from driftd.store import migrate, store_url

    config = setup.config(setup.hook())
    url = store_url(config)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), "0004")
            conn.execute(
                text(
                    "INSERT INTO alert_deliveries (sink, target, environment, kind,"
                    " idempotency_key, payload, state, attempts, next_attempt_at, created_at,"
                    " last_error) VALUES ('hook', '', 'prod', 'opened', :key, :payload,"
                    " 'pending', 0, :at, :at, :err)"
                ),
                [
                    {
                        "key": key,
                        "payload": json.dumps(event(1).to_json()),
                        "at": T0.replace(tzinfo=None),
                        "err": err,
                    }
                    for key, err in [
                        ("k1", "sending: claimed by host-a:123:abc"),
                        ("k2", "HTTP 503 from the sink"),
                    ]
                ],
            )
    finally:
        engine.dispose()
    store = setup.open(config)  # migrates to head
    try:
        with store.engine.connect() as conn:
            assert migrate.current(conn) == migrate.head() == "0005"
        got = {(r.idempotency_key, r.claim_owner, r.last_error) for r in rows(store)}
        assert got == {("k1", "host-a:123:abc", None), ("k2", None, "HTTP 503 from the sink")}
    finally:
        store.close()
