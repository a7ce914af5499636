"""Safe accepts (issue 13): `driftd baseline accept` lists what it takes, refuses
critical/high drift unless confirmed and explained, accepts by drift id or field,
and records who, when and why. Against a real PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from driftd import snapshot as snap
from tests.conftest import PgDatabase, Project

SCHEMA = "CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL);"
GIT_ID = {
    "GIT_CONFIG_GLOBAL": "",  # filled per test: a git config of its own
    "GIT_CONFIG_NOSYSTEM": "1",
}


def drift(project: Project) -> list[dict[str, Any]]:
    res = project.run("check", "--format", "json", "--no-attribution")
    env = json.loads(res.stdout)["environments"][0]
    assert env["error"] is None, env["error"]
    return list(env["drift"])


@pytest.fixture
def changed(project: Project, pgdb: PgDatabase, tmp_path: Any) -> Project:
    """A baseline, then a new superuser (critical) and two new columns (medium)."""
    pgdb.execute(SCHEMA)
    assert project.run("baseline", "accept", "test").exit_code == 0
    pgdb.execute(
        f"CREATE ROLE {pgdb.role('boss')} SUPERUSER;"
        "ALTER TABLE public.customers ADD COLUMN phone text, ADD COLUMN fax text"
    )
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n")
    GIT_ID["GIT_CONFIG_GLOBAL"] = str(gitconfig)
    return project


def test_critical_drift_is_listed_and_refused(changed: Project, pgdb: PgDatabase) -> None:
    before = changed.baseline("test").read_bytes()
    res = changed.run("baseline", "accept", "test")
    assert res.exit_code == 2
    assert "3 drift item(s) to accept" in res.stderr
    crit = res.stderr.index("  critical (1)")
    medium = res.stderr.index("  medium (2)")
    assert crit < res.stderr.index(f"role:{pgdb.role('boss')}") < medium
    assert "superuser-granted" in res.stderr  # the rule that set its severity
    assert "refusing to accept 1 critical/high drift item(s) without --yes" in res.stderr
    assert changed.baseline("test").read_bytes() == before
    no_reason = changed.run("baseline", "accept", "test", "--yes")
    assert no_reason.exit_code == 2 and "--reason is required" in no_reason.stderr
    assert changed.baseline("test").read_bytes() == before


def test_dry_run_prints_the_diff_and_writes_nothing(changed: Project, pgdb: PgDatabase) -> None:
    before = changed.baseline("test").read_bytes()
    res = changed.run("baseline", "accept", "test", "--dry-run")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"--- a/{changed.baseline('test')}\n+++ b/")
    added = [line for line in res.stdout.splitlines() if line.startswith("+")]
    assert any(f'"role:{pgdb.role("boss")}"' in line for line in added)
    assert any('"phone"' in line for line in added)
    assert "dry run" in res.stderr and "not written" in res.stderr
    assert changed.baseline("test").read_bytes() == before


def test_accept_one_drift_id_leaves_the_rest(changed: Project) -> None:
    items = drift(changed)
    phone = next(i for i in items if i["path"] == ["columns", "phone"])
    res = changed.run("baseline", "accept", "test", phone["id"][:8], env=GIT_ID)
    assert res.exit_code == 0, res.stderr  # medium: no --yes needed
    left = drift(changed)
    assert phone["id"] not in {i["id"] for i in left} and len(left) == len(items) - 1
    meta = json.loads(changed.baseline("test").read_text())["accepted"]
    assert meta["drift"] == [phone["id"]]
    assert meta["paths"] == ["table:public.customers#columns.phone"]
    assert meta["by"] == "Ada Lovelace <ada@example.com>" and meta["at"].endswith("Z")
    unknown = changed.run("baseline", "accept", "test", "ffffffffffff")
    assert unknown.exit_code == 2 and "is not drift of test now" in unknown.stderr


def test_accept_by_path_moves_only_that_field(changed: Project) -> None:
    res = changed.run("baseline", "accept", "test", "--path", "table:public.customers#columns.fax")
    assert res.exit_code == 0, res.stderr
    base = json.loads(changed.baseline("test").read_text())
    columns = base["objects"]["table:public.customers"]["columns"]
    assert "fax" in columns and "phone" not in columns
    assert {tuple(i["path"]) for i in drift(changed) if i["path"]} == {("columns", "phone")}
    bad = changed.run("baseline", "accept", "test", "--path", "table:public.customers#nope")
    assert bad.exit_code == 2 and "no field 'nope'" in bad.stderr


def test_confirmed_accept_records_who_when_why(changed: Project, pgdb: PgDatabase) -> None:
    old = snap.read(changed.baseline("test"))
    res = changed.run(
        "baseline", "accept", "test", "--yes", "--reason", "OPS-7 break-glass role", env=GIT_ID
    )
    assert res.exit_code == 0, res.stderr
    assert drift(changed) == []
    new = snap.read(changed.baseline("test"))
    meta = new["accepted"]
    assert meta["reason"] == "OPS-7 break-glass role" and meta["objects"] == "all"
    assert meta["by"] == "Ada Lovelace <ada@example.com>" and len(meta["drift"]) == 3
    # The metadata is outside the content: the same objects keep the same hash.
    assert snap.content_hash(new) == snap.content_hash({**new, "accepted": None})
    assert snap.content_hash(new) != snap.content_hash(old)
    again = changed.run("baseline", "accept", "test")
    assert again.exit_code == 0 and "nothing to accept" in again.stderr
    assert snap.read(changed.baseline("test"))["accepted"] == meta


def test_who_falls_back_to_the_login(changed: Project, tmp_path: Any) -> None:
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    env = {"GIT_CONFIG_GLOBAL": str(empty), "GIT_CONFIG_NOSYSTEM": "1", "SUDO_USER": "opsbot"}
    res = changed.run("baseline", "accept", "test", "--object", "table:*", env=env)
    assert res.exit_code == 0, res.stderr
    meta = json.loads(changed.baseline("test").read_text())["accepted"]
    assert meta["by"] == "opsbot" and meta["objects"] == ["table:public.customers"]


def test_explain_shows_who_accepted(changed: Project) -> None:
    assert changed.run("run", "--once").exit_code == 1  # the daemon records the drift
    phone = next(i for i in drift(changed) if i["path"] == ["columns", "phone"])
    argv = ("baseline", "accept", "test", phone["id"], "--reason", "CHG-42 phone column")
    assert changed.run(*argv, env=GIT_ID).exit_code == 0
    assert changed.run("run", "--once").exit_code == 1  # the others are still open
    res = changed.run("explain", phone["id"])
    assert res.exit_code == 0, res.stderr
    assert ": accepted" in res.stdout.splitlines()[0]
    line = next(x for x in res.stdout.splitlines() if x.startswith("  accepted  by "))
    assert "Ada Lovelace <ada@example.com> at 20" in line and line.endswith(": CHG-42 phone column")
    data = json.loads(changed.run("explain", phone["id"], "--format", "json").stdout)
    assert data["accepted"]["reason"] == "CHG-42 phone column"
    hist = json.loads(changed.run("history", "test", "--format", "json").stdout)["entries"]
    taken = [e for e in hist if e.get("event") == "accepted"]
    assert [(e["drift_id"], e["actor"], e["note"]) for e in taken] == [
        (phone["id"], "Ada Lovelace <ada@example.com>", "CHG-42 phone column")
    ]
    other = next(i for i in drift(changed) if i["path"] == ["columns", "fax"])
    assert "accepted  by" not in changed.run("explain", other["id"]).stdout
