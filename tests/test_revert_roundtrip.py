"""Round trip: every golden scenario's drift is undone by the script `driftd revert` writes.

For each PostgreSQL and MariaDB scenario of tests/scenarios/: load before.sql,
accept the baseline, apply after.sql, run `driftd revert --allow-hazards all`,
apply its script with the server's own client (``psql -v ON_ERROR_STOP=1``,
``mariadb``), and `driftd check` must then be clean. The scenarios that cannot
come back are in :data:`CANNOT`, each with the reason the revert gives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_URL, Project
from tests.test_scenarios import MYSQL_URL, Run, Scenario, Servers, _config, discover

# Scenarios whose drift cannot be undone by a script: the scenario, and the words of
# the reason driftd gives for the item left to a person (exit 1).
CANNOT: dict[str, str] = {
    # PostgreSQL has no ALTER TYPE ... DROP VALUE.
    "pg_enum_add_value": "cannot drop a value from an enum",
    # Extensions ship upgrade scripts, not downgrades: the ALTER EXTENSION fails.
    "pg_extension_update": "APPLY FAILS: extension",
    # attislocal cannot be set back: only a table created again inherits its columns.
    "pg_column_local": "column's local",
    # An operator of the class's own types, added to its family, belongs to the class
    # (pg_amop dependency): it goes only with the class, which is then created again.
    "pg_operator_family_altered": "APPLY FAILS: operator class abs_ops",
    # A tablespace needs its directory made on the server first.
    "pg_tablespace_dropped": "directory must first be made",
    # valid_until NULL cannot be written in SQL: 'infinity' is the nearest.
    "pg_role_attributes": "NOT CLEAN: valid_until",
    # driftd never reads passwords; MySQL's full DDL is not in the snapshot.
    "my_table_dropped": "full DDL",
}


def _scenarios() -> list[Any]:
    out = []
    for s in discover():
        if s.engine == "sqlite" or s.xfail:
            continue
        out.append(pytest.param(s, id=s.name, marks=[pytest.mark.server]))
    return out


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    s = Servers()
    try:
        yield s
    finally:
        s.close()


def _client(run: Run, script: Path) -> subprocess.CompletedProcess[str]:
    """Apply the script with the server's own command-line client."""
    if run.scenario.engine == "postgresql":
        u = make_url(ADMIN_URL)
        psql = shutil.which("psql")
        assert psql, "psql is needed to apply revert scripts"
        args = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", u.host or "127.0.0.1"]
        args += ["-p", str(u.port or 5432), "-U", u.username or "postgres", "-d", run.db]
        return subprocess.run(
            [*args, "-f", str(script)], capture_output=True, text=True, timeout=60
        )
    u = make_url(MYSQL_URL)
    client = shutil.which("mariadb") or shutil.which("mysql")
    assert client, "the mariadb client is needed to apply revert scripts"
    args = [
        client,
        "-h",
        u.host or "127.0.0.1",
        "-P",
        str(u.port or 3306),
        "-u",
        u.username or "root",
    ]
    if u.password:
        args.append(f"-p{u.password}")
    with script.open() as stdin:
        return subprocess.run(
            [*args, run.db], stdin=stdin, capture_output=True, text=True, timeout=60
        )


@pytest.mark.parametrize("scenario", _scenarios())
def test_roundtrip(scenario: Scenario, servers: Servers, tmp_path: Path) -> None:
    expected = CANNOT.get(scenario.name)
    project = Project(root=tmp_path, config=tmp_path / "driftd.toml")
    with ExitStack() as stack:
        run, url = servers.create(scenario, tmp_path)
        stack.callback(servers.drop, run)
        servers.execute(run, scenario.read("before.sql") or "", tmp_path)
        project.write_config(_config(run, url, ""))
        res = project.run("baseline", "accept", "test")
        assert res.exit_code == 0, res.stderr
        servers.execute(run, scenario.read("after.sql") or "", tmp_path)

        rev = project.run("revert", "test", "--allow-hazards", "all")
        assert rev.exit_code in (0, 1), rev.stderr
        if expected and not expected.startswith(("APPLY FAILS", "NOT CLEAN")):
            assert rev.exit_code == 1, f"{scenario.name} now reverts: take it off CANNOT"
            assert expected in rev.stderr, rev.stderr
            return
        assert rev.exit_code == 0, f"{scenario.name}: items need a person:\n{rev.stderr}"
        script = tmp_path / "revert.sql"
        script.write_text(rev.stdout)
        applied = _client(run, script)
        if expected and expected.startswith("APPLY FAILS"):
            assert applied.returncode != 0, f"{scenario.name} applies now: take it off CANNOT"
            assert expected.split(": ", 1)[1] in applied.stderr, applied.stderr
            return
        assert applied.returncode == 0, f"{rev.stdout}\n{applied.stderr}"

        check = project.run("check", "test", "--format", "json", "--no-attribution")
    report = json.loads(check.stdout)
    left = [
        f"{i['object']} {i['path']}: {i['before']} -> {i['after']}"
        for e in report["environments"]
        for i in e["drift"]
    ]
    if expected and expected.startswith("NOT CLEAN"):
        assert left, f"{scenario.name} is clean now: take it off CANNOT"
        assert any(expected.split(": ", 1)[1] in line for line in left), left
        return
    assert check.exit_code == 0, f"drift left after the revert script:\n{rev.stdout}\n" + "\n".join(
        left
    )
