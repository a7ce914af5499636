"""A private PostgreSQL cluster for tests that must not share the server.

Some tests need a server no other test touches: a server-wide setting, or a
measurement that concurrent tests on the shared server would disturb (the
catalog fingerprint reads cluster-wide catalogs such as ``pg_authid``). This
starts one with ``initdb`` + ``pg_ctl`` as the ``postgres`` system user, on a
free port, in a temporary directory, and removes it afterwards, also when the
test fails. Nothing is ever set on the shared server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass(frozen=True)
class PrivateCluster:
    root: Path
    port: int

    def url(self, db: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str = "postgres", user: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} dbname={db} user={user}",
            autocommit=True,
            connect_timeout=5,
        )


@contextmanager
def private_cluster(
    settings: dict[str, str] | None = None, port: int | None = None
) -> Iterator[PrivateCluster]:
    """A running cluster with ``settings`` in postgresql.conf (values as written there),
    on ``port`` (default: a free one)."""
    if not (PG_BIN / "initdb").exists():
        raise AssertionError(
            "PostgreSQL 15 server binaries are missing (apt-get install postgresql-15)"
        )
    root = Path(tempfile.mkdtemp(prefix="driftd-pg-"))
    data = root / "data"
    started = False
    try:
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o755)
        done = as_postgres(
            str(PG_BIN / "initdb"),
            *("-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
        )
        assert done.returncode == 0, done.stderr
        port = port or free_port()
        conf = {
            "port": str(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{root}'",
            "fsync": "off",
            "autovacuum": "off",  # nothing changes the catalog but the test
            **(settings or {}),
        }
        with (data / "postgresql.conf").open("a") as fh:
            fh.write("".join(f"{k} = {v}\n" for k, v in conf.items()))
        log = root / "start.log"
        run = as_postgres(
            str(PG_BIN / "pg_ctl"), *("-D", str(data), "-l", str(log), "-w", "-t", "60", "start")
        )
        started = True  # stopped at the end even when the start half failed
        if run.returncode != 0:
            raise AssertionError(run.stderr + (log.read_text() if log.exists() else ""))
        yield PrivateCluster(root, port)
    finally:
        if started:
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
