"""History, ack and output files as a person meets them (issue 13): run numbers of
an environment are consecutive, times carry their offset (local shown, UTC
stored), `ack` twice is one ack (one webhook event), and `snapshot -o` into a
missing directory is a clear error. Against a real PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.alert_servers import AlertServer, alert_server_fixture  # noqa: F401 (fixture)
from tests.conftest import PgDatabase, Project


def two_envs(project: Project, pgdb: PgDatabase, extra: str = "") -> None:
    """Environments a and b on one database: their runs interleave in the store."""
    env = f'url = "{pgdb.url}"\nroles = ["{pgdb.prefix}*"]\n'
    project.write_config(
        '[driftd]\nbaselines_dir = "baselines"\nstate_url = "sqlite:///state.db"\n'
        f"[environments.a]\n{env}{extra}[environments.b]\n{env}"
    )
    for name in ("a", "b"):
        assert project.run("baseline", "accept", name).exit_code == 0


def history(project: Project, env: str) -> list[dict[str, Any]]:
    res = project.run("history", env, "--format", "json")
    assert res.exit_code == 0, res.stderr
    return list(json.loads(res.stdout)["entries"])


def test_run_numbers_are_consecutive_and_times_carry_offsets(
    project: Project, pgdb: PgDatabase
) -> None:
    two_envs(project, pgdb)
    pgdb.execute("CREATE TABLE public.t (x int)")
    for _ in range(3):
        assert project.run("run", "--once").exit_code == 1
    runs = [e for e in history(project, "a") if e["type"] == "run"]
    assert [e["run"] for e in runs] == [3, 2, 1]
    ids = [e["run_id"] for e in runs]  # the store's ids: shared by a and b, so gaps
    assert ids == sorted(ids, reverse=True) and max(ids) > 3
    assert all(e["at"].endswith("Z") for e in runs)  # stored and given in UTC
    res = project.run_subprocess("history", "a", env={"TZ": "Asia/Kolkata", "COLUMNS": "120"})
    assert res.exit_code == 0, res.stderr
    text = res.stdout
    assert [int(n) for n in re.findall(r"#(\d+) ", text)] == [3, 2, 1], text
    stamps = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+05:30", text)
    assert len(stamps) == 4, text  # three runs and the drift opened, in local time
    utc = runs[0]["at"][11:16]
    local = stamps[0][11:16]
    assert (int(local[:2]) * 60 + int(local[3:])) - (int(utc[:2]) * 60 + int(utc[3:])) in (
        330,
        330 - 1440,
    )


def test_ack_twice_is_one_ack(
    project: Project, pgdb: PgDatabase, alert_server: AlertServer
) -> None:
    two_envs(
        project,
        pgdb,
        f'alerts = ["hook"]\n[alerts.hook]\ntype = "webhook"\nurl = "{alert_server.url}/hook"\n',
    )
    pgdb.execute("CREATE TABLE public.t (x int); GRANT SELECT ON public.t TO PUBLIC")
    assert project.run("run", "--once").exit_code == 1
    (item,) = [e for e in history(project, "a") if e["type"] == "drift"]
    first = project.run("ack", item["drift_id"], "--by", "alice", "--note", "OPS-1")
    assert first.exit_code == 0 and "queued for hook" in first.stdout, first.stderr
    second = project.run("ack", item["drift_id"], "--by", "bob", "--note", "me too")
    assert second.exit_code == 0, second.stderr
    assert "already acknowledged by alice" in second.stdout and "OPS-1" in second.stdout
    assert "queued" not in second.stdout
    events = [h.json["event"] for h in alert_server.delivered("/hook")]
    assert events == ["opened", "acknowledged"], events
    acks = [e for e in history(project, "a") if e.get("event") == "acknowledged"]
    assert [(e["actor"], e["note"]) for e in acks] == [("alice", "OPS-1")]
    shown = json.loads(project.run("explain", item["drift_id"], "--format", "json").stdout)
    assert (shown["acknowledged_by"], shown["note"]) == ("alice", "OPS-1")


def test_snapshot_into_a_missing_directory_is_a_clear_error(project: Project) -> None:
    out = project.root / "no-such-dir" / "snap.json"
    res = project.run("snapshot", "test", "-o", str(out))
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: cannot write {out}: directory ")
    assert "does not exist" in res.stderr and "mkdir -p" in res.stderr
    assert not out.parent.exists()
    (project.root / "here").mkdir()
    ok = project.run("snapshot", "test", "-o", str(project.root / "here" / "snap.json"))
    assert ok.exit_code == 0, ok.stderr
