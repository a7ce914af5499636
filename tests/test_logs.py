"""Daemon logs: one record one line, sd-daemon priorities under journald, JSON fields.

The formatter tests log through a real handler into a real file; the daemon
tests run `driftd run` as a subprocess with stderr on a file that
``$JOURNAL_STREAM`` names, as systemd sets it up.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from driftd.daemon import logs
from driftd.errors import DriftdError
from tests.conftest import PgDatabase, Project
from tests.daemon_support import Daemons, daemons_fixture, free_port  # noqa: F401

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def capture(fmt: str, emit: Any, stream: Any = None) -> list[str]:
    out = stream or io.StringIO()
    logs.setup(fmt, "debug", stream=out)
    emit(logging.getLogger("driftd.test"))
    out.flush()
    text = out.getvalue() if isinstance(out, io.StringIO) else Path(out.name).read_text()
    return text.splitlines()


def journal_env(path: Path) -> str:
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}"


# -- one record, one line -------------------------------------------------------------


def _awkward(log: logging.Logger) -> None:
    err = DriftdError("reload: [environments.x] schedule 'hourly' is not valid", "use 5m or cron")
    log.error("reload failed: %s", err)  # str(DriftdError) puts the hint on a 2nd line
    log.warning("object \x1b[2Jtable\nname\u202e", extra={"object": "a\nb", "n": 3})
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("check crashed")


@pytest.mark.usefixtures("restore_logging")
def test_text_one_line_per_record_hint_as_field_and_escapes() -> None:
    lines = capture("text", _awkward)
    assert len(lines) == 3, lines
    reload, name, crash = lines
    assert reload == (
        "ERROR driftd.test: reload failed: reload: [environments.x] schedule 'hourly' "
        'is not valid hint="use 5m or cron"'
    )
    assert name == r'WARNING driftd.test: object \x1b[2Jtable\nname\u202e object="a\nb" n=3'
    assert crash.startswith('ERROR driftd.test: check crashed exc="Traceback (most recent')
    assert r"ValueError: bad\nthing" in crash


@pytest.mark.usefixtures("restore_logging")
def test_json_one_object_per_line_with_time_level_logger() -> None:
    lines = capture("json", _awkward)
    assert len(lines) == 3, lines
    records = [json.loads(line) for line in lines]
    for r in records:
        assert RFC3339.match(r["time"]), r["time"]
        assert datetime.fromisoformat(r["time"].replace("Z", "+00:00")).tzinfo is not None
        assert r["logger"] == "driftd.test"
    reload, name, crash = records
    assert reload["level"] == "error" and reload["hint"] == "use 5m or cron"
    assert "\n" not in reload["msg"]
    assert name["msg"] == "object \x1b[2Jtable\nname\u202e"  # exact, once parsed
    assert "\x1b" not in lines[1] and "\u202e" not in lines[1]  # never raw on the line
    assert crash["exc"].startswith("Traceback") and crash["exc"].endswith("bad\nthing")


@pytest.mark.usefixtures("restore_logging")
def test_context_fields_reach_every_line_of_a_thread() -> None:
    out = io.StringIO()
    logs.setup("json", "info", stream=out)

    def check() -> None:
        logs.bind(environment="prod")
        logging.getLogger("driftd.collect.postgres").info("reading catalog")
        with logs.context(run_id=7):
            logging.getLogger("driftd.daemon.service").info("prod: clean")

    t = threading.Thread(target=check)
    t.start()
    t.join()
    logging.getLogger("driftd.daemon.service").info("elsewhere")
    first, second, other = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["environment"] == "prod" and "run_id" not in first
    assert (second["environment"], second["run_id"]) == ("prod", 7)
    assert "environment" not in other  # another thread's context never leaks


@pytest.mark.usefixtures("restore_logging")
def test_a_field_never_overrides_time_level_logger_msg() -> None:
    (line,) = capture("json", lambda log: log.info("hi", extra={"level": "x", "time": 1}))
    r = json.loads(line)
    assert (r["level"], r["msg"], r["field_level"], r["field_time"]) == ("info", "hi", "x", 1)


# -- journald priorities ----------------------------------------------------------------


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_priority_prefixes_when_stderr_is_the_journal_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    path = tmp_path / "journal"
    with path.open("w") as stream:
        monkeypatch.setenv("JOURNAL_STREAM", journal_env(path))

        def emit(log: logging.Logger) -> None:
            log.debug("d")
            log.info("i")
            log.warning("w")
            log.error("e")
            log.critical("c")

        lines = capture(fmt, emit, stream)
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>", "<2>"]
    if fmt == "json":  # journald strips the prefix: what it stores is plain JSON
        assert [json.loads(line[3:])["msg"] for line in lines] == ["d", "i", "w", "e", "c"]


@pytest.mark.usefixtures("restore_logging")
def test_no_prefix_when_stderr_is_not_that_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.touch()
    monkeypatch.setenv("JOURNAL_STREAM", journal_env(other))  # e.g. `driftd ... 2>file`
    path = tmp_path / "log"
    with path.open("w") as stream:
        (line,) = capture("text", lambda log: log.warning("w"), stream)
    assert line == "WARNING driftd.test: w"
    monkeypatch.delenv("JOURNAL_STREAM")
    assert not logs.under_journald(sys.stderr)


def test_priorities_of_levels() -> None:
    assert [logs.priority(n) for n in (5, 10, 20, 25, 30, 40, 50, 60)] == [7, 7, 6, 6, 4, 3, 2, 2]


# -- the real daemon ------------------------------------------------------------------------


def test_daemon_under_journald_prefixes_every_line_one_line_per_record(
    project: Project, pgdb: PgDatabase, tmp_path: Path
) -> None:
    """`driftd run` as systemd starts it: text logs on the journal stream."""
    port = free_port()
    project.write_config(
        f"""
        [driftd]
        state_url = "sqlite:///state.db"
        http_listen = "127.0.0.1:{port}"

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        schedule = "2s"

        [environments.nobaseline]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        schedule = "2s"
        """
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    log_path = tmp_path / "stderr"
    with log_path.open("wb") as err:
        env = {**os.environ, "JOURNAL_STREAM": journal_env(log_path)}
        args = [sys.executable, "-m", "driftd", "--config", str(project.config)]
        proc = subprocess.Popen([*args, "run", "--log-format", "text"], stderr=err, env=env)
        try:
            deadline = 30.0
            t0 = time.monotonic()
            while "driftd.daemon.service: nobaseline: check failed" not in log_path.read_text():
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() - t0 < deadline, log_path.read_text()
                time.sleep(0.1)
            # A broken config on SIGHUP: the error and its hint on one line.
            project.config.write_text(project.config.read_text() + '\nschedule = "x"\n[x\n')
            proc.send_signal(signal.SIGHUP)
            while "reload failed" not in log_path.read_text():
                assert time.monotonic() - t0 < deadline, log_path.read_text()
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(25) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = log_path.read_text().splitlines()
    levels = {"<7>": "DEBUG", "<6>": "INFO", "<4>": "WARNING", "<3>": "ERROR", "<2>": "CRITICAL"}
    for line in lines:  # every line is a record of its own, with its priority
        assert line[:3] in levels and line[3:].startswith(levels[line[:3]] + " "), line
    failed = next(
        line for line in lines if "driftd.daemon.service: nobaseline: check failed" in line
    )
    assert (
        failed.startswith("<4>WARNING driftd.daemon.service: ")
        and "environment=nobaseline" in failed
    )
    reload = next(line for line in lines if "reload failed" in line)
    assert reload.startswith("<3>ERROR driftd.daemon.service: ") and " hint=" in reload


def test_daemon_json_lines_carry_time_level_logger_environment_run_id(
    project: Project, pgdb: PgDatabase, daemons: Daemons
) -> None:
    port = free_port()
    project.write_config(
        f"""
        [driftd]
        state_url = "sqlite:///state.db"
        http_listen = "127.0.0.1:{port}"

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        schedule = "2s"
        """
    )
    assert project.run("baseline", "accept", "test").exit_code == 0
    d = daemons.start(port=port)
    # The run's summary line (whatever the result): it has the run_id.
    checked = d.wait_log("the first check", lambda r: "run_id" in r, 30)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(25) == 0
    records = d.logs()
    assert records and all(r["level"] != "raw" for r in records), d.log_text()[-2000:]
    for r in records:
        assert RFC3339.match(r["time"]) and r["level"] and r["logger"] and "msg" in r, r
    assert checked["environment"] == "test" and isinstance(checked["run_id"], int)
