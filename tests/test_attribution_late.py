"""Late audit data and fleets, through real `driftd run` processes.

A real PostgreSQL database drifts; the audit record that names the author is
appended to a JSON-lines audit file only after the drift was alerted (as a
hoop session that is still open, or CloudWatch delivery, would). The alert
receivers (loopback HTTP servers speaking each sink's protocol) get one
firing alert, then one update naming the author, and nothing twice.

In a fleet, the environment's lease moves to another daemon in the middle
of the attribution window: the new owner continues from the cursor the old
one left in the PostgreSQL state store, so every change is attributed
exactly once and no record is read twice.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests import doc_examples
from tests.alert_servers import (  # noqa: F401 (fixture)
    SLACK_OK,
    AlertServer,
    Reply,
    alert_server_fixture,
    pagerduty_accepted,
)
from tests.conftest import PgDatabase, Project
from tests.daemon_support import (  # noqa: F401 (fixtures)
    Daemons,
    StateDB,
    daemons_fixture,
    free_port,
    statedb_fixture,
    wait_for,
)

SINKS = """
[alerts.hook]
type = "webhook"
url = "{url}/hook"
retry_initial = "1s"

[alerts.pager]
type = "pagerduty"
url = "{url}/pagerduty"
routing_key_env = "DRIFTD_TEST_ROUTING_KEY"
retry_initial = "1s"

[alerts.chat]
type = "slack"
webhook_url_env = "DRIFTD_TEST_SLACK_URL"
retry_initial = "1s"

[alerts.am]
type = "alertmanager"
url = "{url}/am"
renotify_after = "1h"
retry_initial = "1s"
"""


def _config(
    path: Path, pgdb: PgDatabase, state_url: str, audit: Path, url: str, port: int = 0
) -> None:
    listen = f"127.0.0.1:{port}" if port else ""
    path.write_text(
        f"""
[driftd]
baselines_dir = "baselines"
state_url = "{state_url}"
http_listen = "{listen}"
lease_duration = "3s"

[environments.test]
url = "{pgdb.url}"
roles = ["{pgdb.prefix}*"]
schedule = "1s"
audit = ["proxy"]
alerts = ["hook", "pager", "chat", "am"]

[audit.proxy]
type = "jsonl"
path = "{audit}"
"""
        + SINKS.format(url=url)
    )


def _env(server: AlertServer) -> dict[str, str]:
    """The sinks' secrets; and each path of the recorder answers as its service does."""
    server.answer_path("/pagerduty", pagerduty_accepted())
    server.answer_path("/slack", Reply(200, SLACK_OK))
    server.answer_path("/am/api/v2/alerts", Reply(200, b""))
    return {
        "DRIFTD_TEST_ROUTING_KEY": "R0UTINGKEY0123456789abcdef012345",
        "DRIFTD_TEST_SLACK_URL": f"{server.url}/slack",
    }


def _record(audit: Path, at: datetime, user: str, sql: str, session: str) -> None:
    line = {
        "time": at.isoformat(),
        "statement": sql,
        "user": user,
        "db_user": "postgres",
        "session": session,
    }
    with audit.open("a") as fh:
        fh.write(json.dumps(line) + "\n")


def _hook_events(server: AlertServer) -> list[tuple[str, str, str | None]]:
    """(event, drift id, actor of the best attribution) per delivered webhook item."""
    out = []
    for rec in server.delivered("/hook"):
        body: dict[str, Any] = rec.json
        for item in body.get("drift", []):
            who = item["attribution"][0]["actor"] if item["attribution"] else None
            out.append((body["event"], item["id"], who))
    return out


def _sqlite_runs(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])


def test_author_found_two_runs_late_updates_each_alert_once(
    project: Project, pgdb: PgDatabase, daemons: Daemons, alert_server: AlertServer
) -> None:
    pgdb.execute("CREATE TABLE public.orders (id bigint PRIMARY KEY)")
    audit = project.root / "proxy.jsonl"
    audit.write_text("")
    _config(project.config, pgdb, "sqlite:///state.db", audit, alert_server.url)
    assert project.run("baseline", "accept", "test").exit_code == 0
    daemon = daemons.start(env=_env(alert_server))
    daemon.wait_ready()

    changed_at = datetime.now(UTC)
    pgdb.execute("ALTER TABLE public.orders ADD COLUMN note text")
    opened = wait_for("the opened webhook", lambda: _hook_events(alert_server) or None, 30)
    assert [(e, who) for e, _, who in opened] == [("opened", None)]
    drift_id = opened[0][1]

    # Two more runs find the drift still without an author; then the record lands.
    state_db = project.root / "state.db"
    seen = _sqlite_runs(state_db)
    wait_for("two more runs", lambda: _sqlite_runs(state_db) >= seen + 2 or None, 20)
    assert len(_hook_events(alert_server)) == 1
    _record(audit, changed_at, "bob@example.com", "ALTER TABLE public.orders ADD note text", "s-7")

    def updated() -> bool:
        return any(e == "updated" for e, *_ in _hook_events(alert_server))

    wait_for("the updated webhook", updated, 30)
    seen = _sqlite_runs(state_db)
    wait_for("three more runs", lambda: _sqlite_runs(state_db) >= seen + 3 or None, 20)
    # Let the outbox run one more dispatch pass (every 5 s) after those runs.
    wait_for("all four sinks to hear twice", lambda: len(alert_server.delivered()) >= 8, 15)
    daemon.signal(15)
    assert daemon.wait_exit(40) == 0

    assert _hook_events(alert_server) == [
        ("opened", drift_id, None),
        ("updated", drift_id, "bob@example.com"),
    ]
    # PagerDuty: the same dedup_key triggered again, now with who made the change.
    pages = [r.json for r in alert_server.delivered("/pagerduty")]
    assert [p["event_action"] for p in pages] == ["trigger", "trigger"]
    assert pages[0]["dedup_key"] == pages[1]["dedup_key"] == drift_id
    assert "who" not in pages[0]["payload"]["custom_details"]
    assert pages[1]["payload"]["custom_details"]["who"].startswith("bob@example.com")
    # Alertmanager: the same labels again, the annotations now name the author.
    am = [r.json[0] for r in alert_server.delivered("/am/api/v2/alerts")]
    assert len(am) == 2 and am[0]["labels"] == am[1]["labels"]
    assert "who" not in am[0]["annotations"]
    assert am[1]["annotations"]["who"].startswith("bob@example.com")
    # Slack: one follow-up message.
    slack = [r.json["text"] for r in alert_server.delivered("/slack")]
    assert len(slack) == 2 and "author found" in slack[1]
    late = [r.json for r in alert_server.delivered("/hook")][1]["drift"][0]
    doc_examples.check("jsonl", late["attribution"][0], "column added (record late)")
    # The history says when the author was found, once.
    res = project.run("explain", drift_id)
    assert res.exit_code in (0, 1), res.stderr
    assert res.stdout.count("attributed") == 1 and "bob@example.com" in res.stdout


def test_record_after_the_late_window_leaves_the_item_without_author(
    project: Project, pgdb: PgDatabase
) -> None:
    """`late_attribution` bounds the search: a record arriving after it changes nothing."""
    from driftd.config.load import load
    from driftd.daemon.service import run_once

    pgdb.execute("CREATE TABLE public.orders (id bigint PRIMARY KEY)")
    audit = project.root / "proxy.jsonl"
    audit.write_text("")
    project.config.write_text(
        f"""
[driftd]
baselines_dir = "baselines"
state_url = "sqlite:///state.db"

[environments.test]
url = "{pgdb.url}"
roles = ["{pgdb.prefix}*"]
audit = ["proxy"]
late_attribution = "0s"

[audit.proxy]
type = "jsonl"
path = "{audit}"
"""
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    changed_at = datetime.now(UTC) - timedelta(seconds=1)
    pgdb.execute("ALTER TABLE public.orders ADD COLUMN note text")
    first = run_once(load(project.config))
    assert [i.attribution for i in first.environments[0].drift] == [[]]
    _record(audit, changed_at, "bob@example.com", "ALTER TABLE public.orders ADD note text", "s-8")
    run_once(load(project.config))
    with sqlite3.connect(project.root / "state.db") as conn:
        rows = conn.execute("SELECT attribution FROM drift").fetchall()
        events = [e for (e,) in conn.execute("SELECT event FROM drift_events")]
    assert [json.loads(a) for (a,) in rows] == [[]]
    assert "attributed" not in events


def test_lease_moves_mid_window_every_change_attributed_exactly_once(
    project: Project,
    pgdb: PgDatabase,
    statedb: StateDB,
    daemons: Daemons,
    alert_server: AlertServer,
) -> None:
    pgdb.execute("CREATE TABLE public.t (id int PRIMARY KEY)")
    audit = project.root / "proxy.jsonl"
    audit.write_text("")
    config_b = project.root / "driftd-b.toml"
    port_b = free_port()
    _config(project.config, pgdb, statedb.url, audit, alert_server.url)
    _config(config_b, pgdb, statedb.url, audit, alert_server.url, port=port_b)
    assert project.run("baseline", "accept", "test").exit_code == 0

    a = daemons.start(env=_env(alert_server))
    a.wait_ready()

    def attribution() -> dict[str, Any]:
        return {
            path: json.loads(json.dumps(attr))
            for path, attr in statedb.query("SELECT path::text, attribution FROM drift")
        }

    # Change 1, with its record: A attributes it.
    t1 = datetime.now(UTC)
    pgdb.execute("ALTER TABLE public.t ADD COLUMN c1 int")
    _record(audit, t1, "alice@example.com", "ALTER TABLE public.t ADD c1 int", "s-1")
    wait_for("A to attribute c1", lambda: any(v for v in attribution().values()) or None, 30)
    # Change 2 without its record yet: A knows only that alice's statement touched
    # the same table (an object-level match), not who added c2.
    t2 = datetime.now(UTC)
    pgdb.execute("ALTER TABLE public.t ADD COLUMN c2 int")
    wait_for("A to record c2", lambda: len(attribution()) == 2 or None, 30)

    # A dies in the middle of c2's attribution window; B takes the lease over.
    a.kill()
    b = daemons.start(config_b, env=_env(alert_server), port=port_b)
    b.wait_ready()
    _record(audit, t2, "bob@example.com", "ALTER TABLE public.t ADD c2 int", "s-2")

    def bob() -> bool:
        found = attribution().get('["columns", "c2"]') or [{}]
        return found[0].get("actor") == "bob@example.com"

    wait_for("B to attribute c2 to bob", bob, 30)
    owner = statedb.query("SELECT owner FROM leases WHERE environment = 'test'")[0][0]
    assert owner.split(":")[1] == str(b.pid)
    runs_by = {d.split(":")[1] for (d,) in statedb.query("SELECT DISTINCT daemon FROM runs")}
    assert runs_by == {str(a.pid), str(b.pid)}

    actors = {path: attr[0]["actor"] for path, attr in attribution().items() if attr}
    assert actors == {
        '["columns", "c1"]': "alice@example.com",
        '["columns", "c2"]': "bob@example.com",
    }
    # Exactly once: one `attributed` event (c2's author, found late, by B), none for
    # c1 (found at once, by A).
    events = statedb.query(
        "SELECT d.path::text, e.event FROM drift_events e JOIN drift d ON d.id = e.drift_id"
    )
    assert sorted(events) == [
        ('["columns", "c1"]', "opened"),
        ('["columns", "c2"]', "attributed"),
        ('["columns", "c2"]', "opened"),
    ]
    # B read on from A's cursor: two records read in all, neither twice.
    health = statedb.query("SELECT events_read, up FROM audit_sources WHERE name = 'proxy'")
    assert health == [(2, 1)]
    keys = statedb.query("SELECT count(*), count(DISTINCT key) FROM audit_events")
    assert keys == [(2, 2)]
    # And B's own /metrics shows the source it now reads.
    assert b.metric("driftd_audit_source_up", source="proxy") == 1
    b.signal(15)
    assert b.wait_exit(40) == 0
