"""Roles, tablespaces and server settings belong to the server (issue 13): seen through
several environments on one PostgreSQL server, a role change is one drift item, in the
first environment by name, not one per database. `cluster_objects` decides otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from driftd.config.model import server_of
from tests.conftest import PgDatabase, Project, admin_connect


def test_server_of() -> None:
    assert server_of("postgresql+psycopg://u@DB.example:5433/a") == (
        "postgresql",
        "db.example",
        5433,
    )
    assert server_of("postgresql://u@localhost/b") == ("postgresql", "127.0.0.1", 5432)
    assert server_of("mysql+pymysql://root@127.0.0.1/x") == ("mysql", "127.0.0.1", 3306)
    assert server_of("sqlite:///demo/shop.db") is None
    assert server_of("postgresql:///app?host=/run/postgresql") is None  # a socket: unknown
    assert server_of(None) is None


@pytest.fixture
def twin(pgdb: PgDatabase) -> Iterator[PgDatabase]:
    name = f"{pgdb.name}_b"
    with admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    other = PgDatabase(name=name, prefix=pgdb.prefix)
    try:
        yield other
    finally:
        for conn in other._conns:
            conn.close()
        with admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _config(project: Project, a: PgDatabase, b: PgDatabase, extra_b: str = "") -> None:
    project.write_config(
        f'[environments.a]\nurl = "{a.url}"\nroles = ["{a.prefix}*"]\n'
        f'[environments.b]\nurl = "{b.url}"\nroles = ["{a.prefix}*"]\n{extra_b}'
    )


def _role_drift(project: Project) -> dict[str, list[str]]:
    res = project.run("check", "--format", "json", "--no-attribution")
    assert res.exit_code in (0, 1), res.stderr
    return {
        e["name"]: [i["object"] for i in e["drift"] if i["kind"] == "role"]
        for e in json.loads(res.stdout)["environments"]
    }


def test_a_role_change_is_reported_once_per_server(
    project: Project, pgdb: PgDatabase, twin: PgDatabase
) -> None:
    _config(project, pgdb, twin)
    for env in ("a", "b"):
        assert project.run("baseline", "accept", env).exit_code == 0
    baseline_b = json.loads(project.baseline("b").read_text())
    assert not any(k.startswith("role:") for k in baseline_b["objects"])
    role = pgdb.role("ops")
    pgdb.execute(f"CREATE ROLE {role}")
    assert _role_drift(project) == {"a": [f"role:{role}"], "b": []}
    # Asked for: b reports the server's objects as well.
    _config(project, pgdb, twin, "cluster_objects = true\n")
    assert project.run("baseline", "accept", "b", "--yes", "--reason", "t").exit_code == 0
    pgdb.execute(f"ALTER ROLE {role} CREATEDB")
    drift = _role_drift(project)
    assert drift["a"] == [f"role:{role}"] and drift["b"] == [f"role:{role}"]
