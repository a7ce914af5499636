"""Keep the README's attributed-alert examples equal to what the real sources produce.

The integration test of each audit source (a real pgaudit cluster, a real
MariaDB with server_audit, the hoop gateway built from hoop's source, moto's
CloudWatch, ...) hands its best attribution entry to :func:`check`. The entry
is rendered the way alerts render it (``who`` line and masked statement) and
compared with the README's row for that source, between
``<!-- attributed:begin -->`` and ``<!-- attributed:end -->``. Times, pids and
session ids change every run, so they are written as placeholders.

``DRIFTD_UPDATE_DOCS=1 pytest ...`` rewrites the row instead of failing.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from driftd.alerts import text

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- attributed:begin -->", "<!-- attributed:end -->"
_lock = threading.Lock()
_PREFIX = re.compile(r"\bdt[0-9a-f]{8}_")


def row(source: str, entry: dict[str, Any], change: str) -> str:
    """One README table row: the change, who the alert names, the statement."""
    who = re.sub(r" at \d{4}-\d\d-\d\dT[0-9:.]+Z", " at …", text.who(entry))
    sql = (text.statement(entry, limit=120) or "").replace("|", "\\|")
    sql = _PREFIX.sub("", sql)  # the per-test role prefix of tests/conftest.py's pgdb
    code = f"`` {sql} ``" if "`" in sql else f"`{sql}`"
    return f"| `{source}` | {change} | {who} | {code} |"


def check(source: str, entry: dict[str, Any], change: str) -> None:
    want = row(source, entry, change)
    with _lock:
        readme = README.read_text()
        head, _, rest = readme.partition(BEGIN)
        block, _, tail = rest.partition(END)
        assert block, f"README.md has no {BEGIN} block"
        lines = block.strip("\n").splitlines()
        prefix = f"| `{source}` |"
        current = [line for line in lines if line.startswith(prefix)]
        if current == [want]:
            return
        assert os.environ.get("DRIFTD_UPDATE_DOCS"), (
            f"README.md's attributed example for {source} is stale; "
            f"rerun with DRIFTD_UPDATE_DOCS=1.\n  README: {current}\n  real:   {want}"
        )
        kept = [line for line in lines if not line.startswith(prefix)]
        header, body = kept[:2], [*kept[2:], want]
        body.sort()
        README.write_text(head + BEGIN + "\n" + "\n".join(header + body) + "\n" + END + tail)
