"""Honest status (issue 13): `driftd status` marks an environment overdue and a daemon
that stopped reporting as down; `/healthz` answers 503 with the reason when the
newest successful check is older than `[driftd] healthz_max_check_age`. Real
daemons, real PostgreSQL."""

from __future__ import annotations

import json
import signal
from typing import Any

from tests.conftest import PgDatabase, Project
from tests.daemon_support import (  # noqa: F401 (fixtures)
    Daemons,
    StateDB,
    daemons_fixture,
    free_port,
    statedb_fixture,
    wait_for,
)


def status(project: Project) -> dict[str, Any]:
    res = project.run("status", "--format", "json")
    assert res.exit_code in (0, 1), res.stdout + res.stderr
    return dict(json.loads(res.stdout))


def test_killed_daemon_is_down_and_its_environment_overdue(
    project: Project, pgdb: PgDatabase, statedb: StateDB, daemons: Daemons
) -> None:
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"
        state_url = "{statedb.url}"
        http_listen = "127.0.0.1:{free_port()}"
        lease_duration = "2s"

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        schedule = "1s"
        """
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    d = daemons.start()
    d.wait_ready()

    def checked_and_up() -> dict[str, Any] | None:
        st = status(project)
        env, daemons_ = st["environments"][0], st["daemons"]
        up = [x["status"] for x in daemons_] == ["up"]
        ok = env["last_run_at"] and st["overdue"] == [] and up
        return st if ok else None

    st = wait_for("a run and a live daemon", checked_and_up, 20)
    assert st["daemons"][0]["pid"] == d.pid
    d.signal(signal.SIGKILL)
    d.wait_exit(10)

    def down_and_overdue() -> dict[str, Any] | None:
        st = status(project)
        daemons_ = st["daemons"]
        return st if st["overdue"] == ["test"] and daemons_[0]["status"] == "down" else None

    wait_for("the daemon down and the environment overdue", down_and_overdue, 20)
    res = project.run_subprocess("status", env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.stderr
    assert "clean overdue" in res.stdout and "overdue: no run in 2x its 1s interval" in res.stdout
    assert f"daemon {st['daemons'][0]['id']}" in res.stdout
    assert "down (stopped reporting; last heartbeat" in res.stdout


def test_healthz_fails_when_the_last_success_is_too_old(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    port = free_port()
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"
        state_url = "sqlite:///state.db"
        http_listen = "127.0.0.1:{port}"
        healthz_max_check_age = "4s"

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        schedule = "8s"
        """
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    d = daemons.start(port=port)
    d.wait_ready()
    wait_for(
        "a successful first check",
        lambda: (
            (d.metric("driftd_check_last_success_timestamp_seconds", environment="test") or 0) > 0
        ),
        30,
    )

    def healthz(code: int) -> tuple[int, str] | None:
        got = d.get("/healthz")
        return got if got[0] == code else None

    # Checks every 8s: 4s after each success the newest one is too old, until the next.
    _, body = wait_for("/healthz to fail", lambda: healthz(503), 20, interval=0.05)
    problems = json.loads(body)["problems"]
    assert any(
        p.startswith("the last successful check was ")
        and p.endswith("(healthz_max_check_age = 4s)")
        for p in problems
    ), problems
    _, body = wait_for("/healthz to recover", lambda: healthz(200), 20, interval=0.05)
    assert json.loads(body)["status"] == "ok"
    d.signal(signal.SIGTERM)
    assert d.wait_exit(25) == 0
