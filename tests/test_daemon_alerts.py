"""Alerts through the real daemon: a sink that fails, a daemon restarted, nothing lost.

`driftd run` (a real subprocess) checks a real PostgreSQL database and
delivers to a real loopback webhook receiver that answers 500 at first. The
daemon is stopped and started again while deliveries are still failing; in
the end every event (drift opened, then resolved) arrives exactly once, signed.
"""

from __future__ import annotations

import signal
from typing import Any

from tests.alert_servers import AlertServer, alert_server_fixture  # noqa: F401 (fixture)
from tests.conftest import PgDatabase, Project
from tests.daemon_support import Daemons, daemons_fixture, wait_for  # noqa: F401 (fixture)

SECRET = "hmac-secret-for-the-test"


def _config(project: Project, pgdb: PgDatabase, url: str) -> None:
    project.config.write_text(
        f"""
[driftd]
baselines_dir = "baselines"
state_url = "sqlite:///state.db"
http_listen = ""

[environments.test]
url = "{pgdb.url}"
roles = ["{pgdb.prefix}*"]
schedule = "2s"
alerts = ["hook"]

[alerts.hook]
type = "webhook"
url = "{url}/driftd"
secret_env = "DRIFTD_TEST_HOOK_SECRET"
min_severity = "low"
retry_initial = "1s"
retry_max = "2s"
"""
    )


def _events(server: AlertServer) -> list[tuple[str, list[str]]]:
    """(event, drift ids) of every delivered request."""
    out = []
    for rec in server.delivered("/driftd"):
        body: dict[str, Any] = rec.json
        out.append((body["event"], [i["id"] for i in body.get("drift", [])]))
    return out


def test_failing_sink_and_restart_deliver_each_event_exactly_once(
    project: Project, pgdb: PgDatabase, daemons: Daemons, alert_server: AlertServer
) -> None:
    pgdb.execute("CREATE TABLE public.customers (id bigint PRIMARY KEY, email text)")
    _config(project, pgdb, alert_server.url)
    assert project.run("baseline", "accept", "test").exit_code == 0
    alert_server.require_signature(SECRET)
    alert_server.fail(4)  # the first four deliveries get 500
    env = {"DRIFTD_TEST_HOOK_SECRET": SECRET}

    first = daemons.start(env=env)
    first.wait_ready()
    pgdb.execute("GRANT SELECT ON public.customers TO PUBLIC")
    wait_for("a first (failing) delivery", lambda: alert_server.received("/driftd") or None, 30)
    first.signal(signal.SIGTERM)
    assert first.wait_exit(40) == 0

    second = daemons.start(env=env)
    second.wait_ready()
    wait_for("the opened alert", lambda: _events(alert_server) or None, 60)
    pgdb.execute("REVOKE SELECT ON public.customers FROM PUBLIC")
    wait_for(
        "the resolved alert",
        lambda: len(_events(alert_server)) >= 2 or None,
        60,
    )

    # Let a few more checks and dispatch passes go by: nothing may be sent again.
    def clean_runs() -> int:
        return sum(r.get("msg") == "test: clean" for r in second.logs())

    wait_for("a clean run", lambda: clean_runs() or None, 30)
    seen = clean_runs()
    wait_for("three more runs", lambda: clean_runs() >= seen + 3 or None, 30)
    second.signal(signal.SIGTERM)
    assert second.wait_exit(40) == 0

    events = _events(alert_server)
    assert [e for e, _ in events] == ["opened", "resolved"], events
    assert events[0][1] == events[1][1] and len(events[0][1]) == 1  # the same drift item
    assert len(alert_server.received("/driftd", status=500)) == 4
    assert all(r.signature_ok for r in alert_server.delivered("/driftd"))
    # One idempotency key per event, however often it was tried.
    keys = {r.headers.get("idempotency-key") for r in alert_server.received("/driftd")}
    assert len(keys) == 2
    item = alert_server.delivered("/driftd")[0].json["drift"][0]
    assert (item["object"], item["path"], item["severity"]) == (
        "table:public.customers",
        ["grants", "PUBLIC"],
        "critical",
    )
    assert SECRET not in first.log_text() + second.log_text()
