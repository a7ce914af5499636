"""`driftd check` in a real pseudo-terminal 80 columns wide (no COLUMNS: the width
comes from the terminal itself): no line is wider, colours and all, and the names
stay whole and escaped. Against a real PostgreSQL."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

from tests.conftest import PgDatabase, Project
from tests.test_ux_output import LONG, scenario

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def run_in_pty(
    argv: list[str],
    columns: int,
    rows: int = 50,
    timeout: float = 60,
    answers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run ``argv`` with a terminal of ``columns`` x ``rows`` as stdin, stdout and stderr;
    ``answers`` types a reply once its prompt text has been shown."""
    answers = dict(answers or {})
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
            shown = b"".join(chunks).decode("utf-8", "replace")
            for prompt in [p for p in answers if p in shown]:
                os.write(master, answers.pop(prompt).encode() + b"\r")
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_check_in_an_80_column_terminal(project: Project, pgdb: PgDatabase) -> None:
    scenario(project, pgdb)
    argv = [sys.executable, "-m", "driftd", "--config", str(project.config), "check"]
    code, raw = run_in_pty([*argv, "--no-attribution"], columns=80)
    assert code == 1, raw
    assert "\x1b[" in raw  # a terminal: rich colours it
    lines = ANSI.sub("", raw).replace("\r\n", "\n").split("\n")
    too_wide = [(len(line), line) for line in lines if len(line) > 80]
    assert too_wide == [], too_wide
    text = "\n".join(lines)
    # Wrapped between words: the long table name is whole on a line of its own.
    assert f"\n  table:public.{LONG}\n  grants.PUBLIC\n" in text, text
    assert "rules grant-to-public" in text and "+    RETURN greatest(a + b, 0);" in text
    assert max(len(line) for line in lines) > 70  # it used the width it has
    # The same terminal at 120 columns: the header of that item fits on one line.
    code, raw = run_in_pty([*argv, "--no-attribution"], columns=120)
    text = ANSI.sub("", raw).replace("\r\n", "\n")
    assert f"critical table:public.{LONG} grants.PUBLIC\n" in text
    assert all(len(line) <= 120 for line in text.split("\n"))


def test_accept_asks_at_the_terminal(project: Project, pgdb: PgDatabase) -> None:
    scenario(project, pgdb)
    argv = [sys.executable, "-m", "driftd", "--config", str(project.config)]
    before = project.baseline("test").read_bytes()
    code, raw = run_in_pty([*argv, "baseline", "accept", "test"], 80, answers={"[y/N]": "n"})
    assert code == 2 and "refusing to accept 3 critical/high" in raw, raw
    assert project.baseline("test").read_bytes() == before
    code, raw = run_in_pty(
        [*argv, "baseline", "accept", "test"],
        80,
        answers={"[y/N]": "y", "Reason": "OPS-9 release 4.2"},
    )
    assert code == 0, raw
    assert "Accept 3 critical/high drift item(s) into the baseline? [y/N]" in ANSI.sub("", raw)
    meta = json.loads(project.baseline("test").read_text())["accepted"]
    assert meta["reason"] == "OPS-9 release 4.2" and len(meta["drift"]) == 7
