"""The benchmarks of issue 6, small: ``bench/run.py --smoke`` must give correct results.

It builds a 300-table catalog (and a 100-table one for the scaling curve) with
the benchmark's generator, measures snapshot / check / floor / load+diff next
to pg_dump, applies 40 out-of-band changes of every kind with bench/mutate.py,
and runs ``driftd run --once`` and ``driftd check`` over a fleet of 5
databases. Timings are not asserted (CI machines vary); what the results say
is: every change found and nothing else, a clean database reported clean,
snapshots that match the catalog and each other, the fleet's status right.
Every database and role it creates carries a unique tag and is dropped.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("DRIFTD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def drop_tagged(tag: str) -> None:
    """Whatever a failed run left behind: databases and roles carrying ``tag``."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        for (db,) in admin.execute(
            "SELECT datname FROM pg_database WHERE strpos(datname, %s) > 0", (tag,)
        ).fetchall():
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
        roles = admin.execute(
            "SELECT rolname FROM pg_roles WHERE strpos(rolname, %s) > 0 ORDER BY rolname DESC",
            (tag,),
        ).fetchall()
        for (role,) in roles:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_bench_smoke(tmp_path: Path) -> None:
    tag = "_" + secrets.token_hex(3)
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--smoke-tag", tag]
    cmd += ["--dsn", ADMIN_URL, "--work", str(tmp_path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    finally:
        drop_tagged(tag)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / f"smoke{tag}"

    scaling: dict[str, Any] = json.loads((results / "scaling.json").read_text())
    assert scaling["problems"] == []
    assert [p["spec"]["tables"] for p in scaling["points"]] == [100, 300]
    for point in scaling["points"]:
        steps, ok, catalog = point["steps"], point["correctness"], point["catalog"]
        for name, step in steps.items():
            assert step["error"] is None, (name, step["error"])
            assert len(step["runs"]) == 1 and step["median_s"] > 0, name
        assert catalog["tables"] == point["spec"]["tables"]
        assert ok["snapshot_objects"]["table"] == catalog["tables"]
        assert ok["snapshot_objects"]["role"] == catalog["roles"]
        assert ok["snapshot_columns"] == catalog["table_columns"]
        assert ok["snapshot_deterministic"] is True
        assert ok["check_clean"] == {"status": "clean", "drifted_objects": []}
        changed = ok["check_changed"]
        assert changed["status"] == "drift"
        assert changed["expected"] == point["changes"] == 40
        assert changed["missing"] == [] and changed["unexpected"] == []  # 100 % recall, exact
        assert ok["load_diff"]["items"] == ok["load_diff_ref"]["items"] == 0
        assert ok["load_diff"]["objects"] == sum(ok["snapshot_objects"].values())
        assert {t["target"] for t in point["targets"]} >= {"snapshot peak RSS (MB)"}
    assert (results / "scaling.png").exists() or "matplotlib" in proc.stderr

    fleet: dict[str, Any] = json.loads((results / "fleet.json").read_text())
    assert fleet["problems"] == []
    assert fleet["environments"] == 5
    for name, step in fleet["steps"].items():
        assert step["error"] is None, (name, step["error"])
    assert fleet["correctness"]["status"] == {"environments": 5, "wrong_status": []}
    per_env = fleet["per_environment_s"]  # each environment's check inside run --once
    assert per_env["runs"] == 5 and 0 < per_env["p50"] <= per_env["p95"] <= per_env["max"]
    found = fleet["correctness"]["check_all"]
    assert found["expected"] == fleet["changes"] == 10
    assert found["missing"] == [] and found["unexpected"] == []
