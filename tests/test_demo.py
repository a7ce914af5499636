"""The README's first command: the bundled demo shows a real drift report."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_check_reports_the_out_of_band_changes() -> None:
    db = ROOT / "demo" / "shop.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    exe = shutil.which("driftd")
    assert exe, "the driftd console script is not installed (pip install -e .)"
    proc = subprocess.run(
        [exe, "--config", "config.example.toml", "check", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    env = json.loads(proc.stdout)["environments"][0]
    assert env["name"] == "demo" and env["status"] == "drift"
    found = {(i["object"], ".".join(map(str, i["path"]))) for i in env["drift"]}
    assert found == {
        ("table:main.customers", "columns.phone"),
        ("table:main.orders", "indexes.ix_orders_placed_at"),
        ("table:main.orders", "indexes.ix_orders_status"),
        ("table:main.orders", "triggers.orders_no_delete_shipped"),
        ("table:main.tmp_export", ""),
    }
    # Read-only: checking never touches the watched database.
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
