"""A state store that is down when the daemon starts: the daemon waits for it.

Under systemd, ``RestartPreventExitStatus=2`` keeps a daemon that exited 2 from
being restarted, so exiting 2 because the store's server was still booting
would leave driftd down for good. The daemon instead retries (with backoff,
``STATUS=`` says why) until the store answers, then starts as usual; a
SIGTERM while it waits stops it cleanly. The store here is a private
PostgreSQL cluster started on the port the daemon is already knocking on.
"""

from __future__ import annotations

import signal

from tests.conftest import PgDatabase, Project
from tests.daemon_support import Daemons, daemons_fixture, free_port  # noqa: F401 (fixture)
from tests.private_pg import private_cluster
from tests.test_daemon import accept, config


def test_the_daemon_waits_for_a_store_that_comes_up_later(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    store_port = free_port()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{store_port}/postgres"
    config(project, pgdb, port=free_port(), state_url=url)
    accept(project, "test")
    d = daemons.start()
    waiting = d.wait_log(
        "the daemon to wait for the store", lambda r: "waiting for the state store" in r["msg"], 20
    )
    assert waiting["level"] == "warning"
    d.assert_alive()  # not exited 2: systemd would not restart it
    with private_cluster(port=store_port):
        d.wait_ready(timeout=60)  # the backoff is at most 30 s
        d.wait_log(
            "a check recorded in the store",
            lambda r: r.get("environment") == "test" and "run_id" in r,
            30,
        )
        d.signal(signal.SIGTERM)
        assert d.wait_exit(25) == 0


def test_a_stop_while_waiting_for_the_store_exits_cleanly(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    config(project, pgdb, port=free_port(), state_url=url)
    d = daemons.start()
    d.wait_log("the daemon to wait", lambda r: "waiting for the state store" in r["msg"], 20)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(10) == 0
