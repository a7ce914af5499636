"""MySQL/MariaDB revert: what a column, a default and a role are written back as.

Each round trip takes a baseline on the real MariaDB, makes drift, applies
``driftd revert``'s script with the server's own client and checks again: the
check must be clean. The MySQL 8 spellings (a bare string default, a role that
is an account) are checked on the generated SQL.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from driftd.collect import collect
from driftd.drift import DriftItem
from driftd.revert import revert_item
from driftd.revert.context import Ctx
from driftd.revert.mysql import default_sql
from tests import test_collect_generic as generic
from tests.conftest import Project
from tests.test_collect_generic import MYSQL_URL, MyDatabase

mysql_server = generic.mysql_server
mydb = generic.mydb


def _project(tmp_path: Path, mydb: MyDatabase) -> Project:
    project = Project.watching(tmp_path, mydb.url(), mydb.prefix)
    res = project.run("baseline", "accept", "test")
    assert res.exit_code == 0, res.stdout + res.stderr
    return project


def _apply(mydb: MyDatabase, sql: str) -> None:
    """Run a revert script with the mariadb client, as a person would."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    assert client, "the mariadb client is needed to apply revert scripts"
    u = make_url(MYSQL_URL)
    args = [client, "-h", u.host or "127.0.0.1", "-P", str(u.port or 3306)]
    args += ["-u", u.username or "root"] + ([f"-p{u.password}"] if u.password else [])
    done = subprocess.run([*args, mydb.name], input=sql, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{sql}\n{done.stderr}"


def _revert_and_check(project: Project, mydb: MyDatabase) -> str:
    """Revert the drift; the check after it must be clean. Returns the script."""
    rev = project.run("revert", "test", "--allow-hazards", "all")
    assert rev.exit_code == 0, rev.stdout + rev.stderr
    _apply(mydb, rev.stdout)
    check = project.run("check", "test", "--format", "json", "--no-attribution")
    left = [
        (i["object"], i["path"], i["before"], i["after"])
        for e in json.loads(check.stdout)["environments"]
        for i in e["drift"]
    ]
    assert check.exit_code == 0 and not left, f"{rev.stdout}\n{left}"
    return rev.stdout


def test_modify_column_keeps_on_update_invisible_and_default(
    tmp_path: Path, mydb: MyDatabase
) -> None:
    mydb.execute(
        """CREATE TABLE t (
            id INT PRIMARY KEY,
            changed TIMESTAMP(3) NOT NULL DEFAULT current_timestamp(3)
                ON UPDATE current_timestamp(3),
            secret VARCHAR(20) DEFAULT 'it''s' INVISIBLE COMMENT 'hidden',
            code VARCHAR(36) DEFAULT uuid(),
            twice INT DEFAULT (1 + 1)
        )"""
    )
    project = _project(tmp_path, mydb)
    mydb.execute(
        "ALTER TABLE t MODIFY changed TIMESTAMP(3) NULL",
        "ALTER TABLE t MODIFY secret VARCHAR(30) DEFAULT 'other'",
        "ALTER TABLE t MODIFY code VARCHAR(40) DEFAULT NULL",
        "ALTER TABLE t MODIFY twice INT DEFAULT 3",
    )
    script = _revert_and_check(project, mydb)
    assert "ON UPDATE current_timestamp(3)" in script and " INVISIBLE" in script


def test_dropped_column_comes_back_whole(tmp_path: Path, mydb: MyDatabase) -> None:
    mydb.execute(
        """CREATE TABLE t (
            id INT PRIMARY KEY,
            changed DATETIME DEFAULT current_timestamp() ON UPDATE current_timestamp(),
            note VARCHAR(10) NOT NULL DEFAULT 'n/a' INVISIBLE
        )"""
    )
    project = _project(tmp_path, mydb)
    mydb.execute("ALTER TABLE t DROP COLUMN changed", "ALTER TABLE t DROP COLUMN note")
    _revert_and_check(project, mydb)


def test_mysql8_bare_string_default_is_quoted(tmp_path: Path, mydb: MyDatabase) -> None:
    """MySQL 8 reports ``DEFAULT 'anon'`` as ``anon``: a baseline from it, written back."""
    mydb.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) DEFAULT 'anon')")
    project = _project(tmp_path, mydb)
    path = project.baseline("test")
    baseline = json.loads(path.read_text())
    column = baseline["objects"][f"table:{mydb.name}.t"]["columns"]["name"]
    assert column["default"] == "'anon'"
    column["default"] = "it's anon"  # as MySQL 8 would say a default of 'it''s anon'
    path.write_text(json.dumps(baseline))
    rev = project.run("revert", "test", "--allow-hazards", "all")
    assert rev.exit_code == 0, rev.stderr
    assert "DEFAULT 'it''s anon'" in rev.stdout
    _apply(mydb, rev.stdout)
    got = collect(mydb.target()).objects[f"table:{mydb.name}.t"]["columns"]["name"]
    assert got["default"] == "'it''s anon'"


@pytest.mark.parametrize(
    ("reported", "sql"),
    [
        ("'anon'", "'anon'"),  # MariaDB 10.2.7+: a literal comes quoted
        ("anon", "'anon'"),  # MySQL 8: bare
        ("", "''"),
        ("O'Brien", "'O''Brien'"),
        ("-1.50", "-1.50"),
        ("1e3", "1e3"),
        ("b'101'", "b'101'"),
        ("CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
        ("current_timestamp(3)", "current_timestamp(3)"),
        ("uuid()", "(uuid())"),  # MySQL 8 needs an expression in parentheses
        ("(1 + 1)", "(1 + 1)"),
    ],
)
def test_default_sql(reported: str, sql: str) -> None:
    assert default_sql(reported) == sql


def _role_item(path: list[Any], before: Any, after: Any) -> Ctx:
    item = DriftItem(object="role:app@%", change="modified", path=path, before=before, after=after)
    return Ctx.from_item(item)


def test_mysql8_role_is_quoted_as_an_account() -> None:
    """A MySQL 8 role is ``reader@%``: one backtick pair around it names another role."""
    revoke = revert_item(
        _role_item(["member_of", "reader@%"], None, {"admin_option": False}), "mysql"
    )
    assert [s.sql for s in revoke.statements] == ["REVOKE 'reader'@'%' FROM 'app'@'%';"]
    grant = revert_item(
        _role_item(["member_of", "reader@%"], {"admin_option": True}, None), "mysql"
    )
    assert [s.sql for s in grant.statements] == [
        "GRANT 'reader'@'%' TO 'app'@'%' WITH ADMIN OPTION;"
    ]
    default = revert_item(_role_item(["default_role"], "reader@%", None), "mysql")
    assert [s.sql for s in default.statements] == ["SET DEFAULT ROLE 'reader'@'%' FOR 'app'@'%';"]


def test_roles_round_trip(tmp_path: Path, mydb: MyDatabase) -> None:
    mydb.execute(
        "CREATE USER '{p}app'@'%' IDENTIFIED BY 'App-Pass-1234'",
        "CREATE ROLE {p}reader",
        "CREATE ROLE {p}writer",
        "GRANT {p}reader TO '{p}app'@'%' WITH ADMIN OPTION",
        "GRANT {p}writer TO '{p}app'@'%'",
        "SET DEFAULT ROLE {p}reader FOR '{p}app'@'%'",
    )
    project = _project(tmp_path, mydb)
    mydb.execute(
        "REVOKE {p}reader FROM '{p}app'@'%'",
        "REVOKE {p}writer FROM '{p}app'@'%'",
        "SET DEFAULT ROLE NONE FOR '{p}app'@'%'",
    )
    _revert_and_check(project, mydb)


def test_unknown_lock_is_left_to_a_person() -> None:
    """``account_locked`` is null when driftd's account may not read it (docs/security.md)."""
    rev = revert_item(_role_item(["account_locked"], True, None), "mysql")
    assert not rev.statements and rev.needs_person and "lock is unknown" in rev.needs_person
