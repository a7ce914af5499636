"""Connect first (issue 13): a server that is down or refuses the password is the
error reported, ahead of a missing baseline; exit 2, the cause on one line."""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.conftest import PgDatabase, Project
from tests.test_collect_generic import mysql_admin, mysql_server  # noqa: F401 (fixture)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_down_server_wins_over_missing_baseline(project: Project, pgdb: PgDatabase) -> None:
    port = closed_port()
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"

        [environments.down]
        url = "postgresql+psycopg://nobody@127.0.0.1:{port}/nope"
        connect_timeout = "2s"
        """
    )
    assert not project.baseline("down").exists()
    res = project.run("check", "--format", "json")
    assert res.exit_code == 2
    error = json.loads(res.stdout)["environments"][0]["error"]
    first = error.splitlines()[0]
    assert first.startswith("cannot connect to") and "Connection refused" in first, error
    assert "no baseline" not in error
    for argv in (("check",), ("baseline", "accept", "down"), ("snapshot", "down")):
        res = project.run(*argv)
        assert res.exit_code == 2, argv
        out = res.stdout + res.stderr
        assert "cannot connect to" in out and "no baseline" not in out, (argv, out)


@pytest.fixture
def mysql_user(mysql_server: None) -> Iterator[tuple[str, str]]:  # noqa: F811
    """A MariaDB account with a password, and a database it may read."""
    name = f"uxpw_{secrets.token_hex(4)}"
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'right-pw'")
        cur.execute(f"GRANT SELECT ON `{name}`.* TO '{name}'@'%'")
        cur.execute(f"GRANT SELECT ON mysql.* TO '{name}'@'%'")  # lets it read accounts
    try:
        yield name, name
    finally:
        with mysql_admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{name}'@'%'")
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_refused_password_wins_over_missing_baseline(
    tmp_path: Path, mysql_user: tuple[str, str]
) -> None:
    user, database = mysql_user
    project = Project(root=tmp_path, config=tmp_path / "driftd.toml")
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"

        [environments.app]
        url = "mysql+pymysql://{user}@127.0.0.1:3306/{database}"
        password_env = "UX_APP_PW"
        """
    )
    res = project.run("check", env={"UX_APP_PW": "wrong-pw"})
    assert res.exit_code == 2
    assert "Access denied" in res.stdout and "no baseline" not in res.stdout, res.stdout
    assert "wrong-pw" not in res.stdout + res.stderr
    # The right password: now the missing baseline is the error.
    res = project.run("check", env={"UX_APP_PW": "right-pw"})
    assert res.exit_code == 2 and "no baseline for app" in res.stdout, res.stdout
    try:
        pymysql.connect(host="127.0.0.1", user=user, password="right-pw").close()
    except pymysql.err.Error as exc:  # the account works: the refusal above was the password
        pytest.fail(f"the test account cannot log in: {exc}")
