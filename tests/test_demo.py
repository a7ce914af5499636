"""The README's first command: the bundled demo shows a real drift report."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_demo_command() -> list[str]:
    """The driftd part of the README's first set-up command."""
    first = re.search(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert first, "the README lost its set-up commands"
    venv, command = first.group(1).splitlines()
    # A virtualenv first: Debian's and Ubuntu's system Python refuses pip outside one.
    assert venv == "python3 -m venv .venv && . .venv/bin/activate"
    install, _, run = command.partition(" && ")
    assert install == "python3 -m pip install -e ."
    argv = shlex.split(run)
    assert argv[:3] == ["python3", "-m", "driftd"], argv
    return [sys.executable, *argv[1:]]


def test_demo_check_reports_the_out_of_band_changes() -> None:
    db = ROOT / "demo" / "shop.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    text = subprocess.run(
        readme_demo_command(), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert text.returncode == 1, text.stderr
    assert "demo: drift 5 items" in text.stdout
    proc = subprocess.run(
        [*readme_demo_command(), "--format", "json"],
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
