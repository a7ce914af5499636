"""End to end: a real PostgreSQL 15 cluster with pgaudit, two login roles, `driftd check`.

The test starts its own throwaway cluster (initdb + pg_ctl as the ``postgres``
system user, on a free port) so it can load pgaudit and send the server log
to a file. Without pgaudit installed it fails with the command to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGAUDIT_SO = Path("/usr/lib/postgresql/15/lib/pgaudit.so")
INSTALL_HINT = (
    "pgaudit for PostgreSQL 15 is not installed; install it with "
    "`bash .ci/install-system.sh` (apt-get install -y postgresql-15-pgaudit)"
)
PREFIX = "%m [%p] %q%u@%d "


@dataclass
class Cluster:
    root: Path
    port: int
    log: Path

    def url(self, db: str, user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str, user: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} dbname={db} user={user}",
            autocommit=True,
            connect_timeout=5,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not PGAUDIT_SO.exists():
        pytest.fail(INSTALL_HINT, pytrace=False)
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 server binaries are missing (apt-get install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="driftd-pgaudit-"))
    shutil.chown(root, "postgres", "postgres")
    os.chmod(root, 0o755)
    data, log, port = root / "data", root / "server.log", _free_port()
    done = _as_postgres(
        str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
    )
    assert done.returncode == 0, done.stderr
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            textwrap.dedent(
                f"""
                port = {port}
                listen_addresses = '127.0.0.1'
                unix_socket_directories = '{root}'
                shared_preload_libraries = 'pgaudit'
                pgaudit.log = 'ddl,role'
                log_line_prefix = '{PREFIX}'
                logging_collector = off
                log_destination = 'stderr'
                fsync = off
                """
            )
        )
    started = _as_postgres(
        str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"
    )
    if started.returncode != 0:
        text = log.read_text() if log.exists() else ""
        if "pgaudit" in text:
            pytest.fail(f"{INSTALL_HINT}\n{text[-2000:]}", pytrace=False)
        raise AssertionError(started.stdout + started.stderr + text[-2000:])
    try:
        yield Cluster(root, port, log)
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _run(config: Path, *args: str) -> tuple[int, str, str]:
    from driftd.cli import cli

    res = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def test_each_drift_item_is_attributed_to_its_login_role(cluster: Cluster, tmp_path: Path) -> None:
    with cluster.connect("postgres") as admin:
        admin.execute("CREATE DATABASE app")
        admin.execute("CREATE ROLE alice LOGIN")
        admin.execute("CREATE ROLE bob LOGIN")
    with cluster.connect("app") as app:
        app.execute("CREATE EXTENSION pgaudit")
        app.execute("CREATE SCHEMA shop")
        app.execute("GRANT USAGE, CREATE ON SCHEMA shop TO alice, bob")
        app.execute("CREATE TABLE shop.orders (id bigint PRIMARY KEY)")
        app.execute("ALTER TABLE shop.orders OWNER TO alice")
        app.execute("CREATE TABLE shop.customers (id bigint PRIMARY KEY, email text)")
        app.execute("ALTER TABLE shop.customers OWNER TO bob")

    config = tmp_path / "driftd.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [driftd]
            baselines_dir = "baselines"
            state_url = "sqlite:///state.db"

            [environments.app]
            url = "{cluster.url("app")}"
            schemas = ["shop"]
            roles = ["alice", "bob"]
            audit = ["pga"]

            [audit.pga]
            type = "pgaudit"
            path = "{cluster.log}"
            log_line_prefix = "{PREFIX}"
            window_slack = "0s"  # same host, same clock: the setup must fall outside
            """
        )
    )
    code, _, err = _run(config, "baseline", "accept", "app")
    assert code == 0, err
    # A first check reads the log so far (the setup above): nothing to attribute yet.
    code, out, err = _run(config, "check", "app", "--format", "json")
    assert code == 0, out + err

    with cluster.connect("app", "alice") as alice:
        alice.execute("ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'call 555-0100'")
        alice.execute("CREATE INDEX orders_note_ix ON shop.orders (note)")
    with cluster.connect("app", "bob") as bob:
        bob.execute("GRANT SELECT ON shop.customers TO PUBLIC")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bob.execute("ALTER TABLE shop.orders ADD COLUMN bob_was_here int")

    code, out, err = _run(config, "check", "app", "--format", "json")
    assert code == 1, out + err
    drift = {
        (d["object"], tuple(d["path"])): d for d in json.loads(out)["environments"][0]["drift"]
    }
    expected = {
        ("table:shop.orders", ("columns", "note")): (
            "alice",
            "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?",
        ),
        ("table:shop.orders", ("indexes", "orders_note_ix")): (
            "alice",
            "CREATE INDEX orders_note_ix ON shop.orders (note)",
        ),
        ("table:shop.customers", ("grants", "PUBLIC")): (
            "bob",
            "GRANT SELECT ON shop.customers TO PUBLIC",
        ),
    }
    for key, (user, statement) in expected.items():
        assert key in drift, sorted(drift)
        attribution = drift[key]["attribution"]
        assert attribution, f"{key} has no attribution"
        best = attribution[0]
        assert best["db_user"] == user, (key, attribution)
        assert best["actor"] == user
        assert best["statement"] == statement
        assert best["source"] == "pgaudit"
        assert best["reason"] == "exact object + path"
        assert best["confidence"] >= 0.9
        assert best["session"].isdigit()
        # The other role never shows up as a candidate for this change.
        assert all(a["db_user"] == user for a in attribution), attribution
    # No literal from the statements reaches the evidence (the column default
    # itself is schema, shown in "after").
    evidence = json.dumps([d["attribution"] for d in drift.values()])
    assert "555-0100" not in evidence
    assert "bob_was_here" not in out  # the refused statement is no candidate

    # The text report shows who and the masked statement under the table.
    code, text, _ = _run(config, "check", "app")
    assert code == 1
    section = text.split("who changed it", 1)[1]
    assert "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?" in section
    assert "alice" in section and "bob" in section
    assert "555-0100" not in section

    # --no-attribution skips the audit sources altogether.
    code, out, _ = _run(config, "check", "app", "--format", "json", "--no-attribution")
    assert code == 1
    assert all(not d["attribution"] for d in json.loads(out)["environments"][0]["drift"])
