"""``bench/fleet.py``, small: the real daemon over six databases on a private cluster.

Two sizes (six databases with one daemon, six with two sharing the store
through leases), a 4 s schedule, two measured periods. Timings are not
asserted; what the results say is: every environment checked once per period
(none twice, none skipped), no connection to a watched database held between
checks, the fast path used, and each change made mid-run reported by the next
check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent


def test_bench_fleet_small(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "bench" / "fleet.py"), "--sizes", "6,6:2"]
    cmd += ["--tables", "20", "--period", "4", "--periods", "2", "--lease", "3"]
    cmd += ["--work", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    doc: dict[str, Any] = json.loads((tmp_path / "fleet_daemon.json").read_text())
    assert doc["problems"] == []
    assert [(s["databases"], s["daemons"]) for s in doc["sizes"]] == [(6, 1), (6, 2)]
    for size in doc["sizes"]:
        per_env = size["per_environment"]
        assert per_env["checked_twice_in_a_period"] == per_env["skipped_a_period"] == []
        assert set(per_env["checks_in_measured_window"]) <= {"1", "2", "3"}
        assert size["connections"]["held_between_checks_count"] == 0
        assert size["errors"] == 0
        assert size["fast_path"]["share"] > 0.5
        assert len(size["changes"]) == 3
        assert all(c["within_one_period"] for c in size["changes"]), size["changes"]
    two = doc["sizes"][1]
    # Both daemons checked: the leases split the six databases.
    assert all(all(n > 0 for n in p["checks_by_daemon"].values()) for p in two["periods"])
