"""Run an environment's migrations against the scratch database, with a timeout.

A ``command`` runs under ``/bin/sh -c`` in ``workdir``, in its own process group
(killed whole on timeout or interrupt), with the connection in its environment
only: ``DATABASE_URL`` (libpq form), ``DRIFTD_SQLALCHEMY_URL`` (scratch_url's
driver) and ``PGHOST``/``PGPORT``/``PGUSER``/``PGDATABASE``/``PGPASSWORD``.
Without ``command``, Alembic's ``upgrade heads`` runs in-process on a thread;
its timeout is enforced by the caller dropping the database ``WITH (FORCE)``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from driftd.errors import DriftdError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from driftd.config import ResolvedEnvironment
    from driftd.config.model import Migrations

TAIL_LINES = 20
# Inherited connection settings that would point the command elsewhere.
_CONNECTION_VARS = frozenset(
    {"PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE"}
)
_KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL of the command's group


class MigrationError(DriftdError):
    """The migrations could not be run: their output's tail is in the message."""


@dataclass(frozen=True)
class Revision:
    """What the baseline was built from: its ``migrations`` metadata."""

    tool: str  # alembic | command
    revision: str  # Alembic's head(s), else the git commit of workdir ("unknown" outside git)
    command: str | None = None
    git_commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool": self.tool, "revision": self.revision}
        if self.command is not None:
            out["command"] = self.command
        if self.git_commit is not None:
            out["git_commit"] = self.git_commit
        return out


def migrate(env: ResolvedEnvironment, settings: Migrations, url: URL) -> Revision:
    """Run the migrations of ``env`` against the scratch database at ``url``."""
    workdir = env.config.resolve_path(settings.workdir, f"environments.{env.name}.migrations")
    if not workdir.is_dir():
        raise MigrationError(
            f"environments.{env.name}.migrations.workdir {workdir} is not a directory",
            "set workdir to the application's checkout (relative to the config file)",
        )
    if settings.command:
        run_command(settings.command, workdir, command_environment(url), settings.timeout, url)
        head = alembic_version(url)
        commit = git_commit(workdir)
        if head is not None:
            return Revision("alembic", head, settings.command)
        return Revision("command", commit or "unknown", settings.command, commit)
    assert settings.alembic_ini is not None  # the model requires one of the two
    ini = env.config.resolve_path(settings.alembic_ini, f"environments.{env.name}.migrations")
    return Revision("alembic", run_alembic(ini, workdir, url, settings.timeout))


def command_environment(url: URL) -> dict[str, str]:
    """The command's environment: ours, with the scratch database's connection."""
    from sqlalchemy.engine import URL as SAURL

    env = {k: v for k, v in os.environ.items() if k not in _CONNECTION_VARS}
    libpq = SAURL.create("postgresql", url.username, url.password, url.host, url.port, url.database)
    env["DATABASE_URL"] = libpq.render_as_string(hide_password=False)
    env["DRIFTD_SQLALCHEMY_URL"] = url.render_as_string(hide_password=False)
    for var, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGDATABASE", url.database),
        ("PGPASSWORD", url.password),
    ):
        if value is not None:
            env[var] = str(value)
    return env


def run_command(command: str, workdir: Path, env: dict[str, str], timeout: float, url: URL) -> None:
    """Run ``command``; MigrationError with its output's tail when it fails or overruns."""
    # Output goes to files, not pipes: no reader threads, no deadlock on a chatty tool.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # Ctrl-C reaches driftd, which ends the group
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise MigrationError(
                f"the migration command did not finish within {timeout:g}s: {command}"
                + _tail(err, out, url),
                "raise environments.NAME.migrations.timeout, or look at what the command waits on",
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
        if code != 0:
            raise MigrationError(
                f"the migration command exited {code}: {command}" + _tail(err, out, url),
                "fix the migration (its output is above) and rerun; no temporary database is left",
            )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the command and everything it started (its own process group): SIGTERM,
    a grace period, then SIGKILL to the whole group, also when the shell itself left
    at once (a child that traps SIGTERM would run on)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_KILL_GRACE)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(err: IO[bytes], out: IO[bytes], url: URL) -> str:
    """The last lines of stderr (stdout when stderr is empty), shown safely."""
    from driftd.report import visible

    for stream in (err, out):
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(max(0, size - 16384))
        lines = stream.read().decode("utf-8", "replace").splitlines()[-TAIL_LINES:]
        if any(line.strip() for line in lines):
            text = "\n".join("  | " + visible(line) for line in lines)
            return "\n" + _scrub(text, url)
    return " (no output)"


_URL_CREDENTIALS = re.compile(r"(://[^/:@\s]*):[^@\s]*@")


def _scrub(text: str, url: URL) -> str:
    """``text`` without the scratch password: as given, URL-encoded (a tool prints its
    DATABASE_URL), or as any ``user:…@`` credentials of a URL."""
    from urllib.parse import quote, quote_plus

    password = url.password
    if isinstance(password, str) and password:
        for form in {password, quote(password, safe=""), quote_plus(password)}:
            text = text.replace(form, "***")
    return _URL_CREDENTIALS.sub(r"\1:***@", text)


def alembic_version(url: URL) -> str | None:
    """The revision(s) in an ``alembic_version`` table the command left, if any."""
    from driftd.migrations.scratch import connect

    with connect(url) as conn:
        tables = conn.execute(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'alembic_version' AND c.relkind IN ('r', 'p')"
        ).fetchall()
        if len(tables) != 1:
            return None
        rows = conn.execute(f"SELECT version_num FROM {tables[0][0]}").fetchall()
    return ",".join(sorted(str(r[0]) for r in rows)) or None


def git_commit(workdir: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(workdir), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _enable_driftd_loggers() -> None:
    import logging

    for name, logger in logging.root.manager.loggerDict.items():
        if name.startswith("driftd") and isinstance(logger, logging.Logger):
            logger.disabled = False


def run_alembic(ini: Path, workdir: Path, url: URL, timeout: float) -> str:
    """``alembic upgrade heads`` through Alembic's API; the head revision(s)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    from driftd.report import visible

    if not ini.is_file():
        raise MigrationError(f"alembic_ini {ini} does not exist", "check the path")
    cfg = AlembicConfig(str(ini))
    location = cfg.get_main_option("script_location")
    if location and ":" not in location and not Path(location).is_absolute():
        # The alembic CLI reads it relative to where it runs: workdir.
        cfg.set_main_option("script_location", str(workdir / location))
    # configparser interpolation: a literal % in the URL (an escaped password) is %%.
    cfg.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    heads = ScriptDirectory.from_config(cfg).get_heads()
    failed: list[BaseException] = []

    def work() -> None:
        try:
            command.upgrade(cfg, "heads")
        except BaseException as exc:  # reported on the calling thread
            failed.append(exc)

    # An env.py that reads DATABASE_URL or PG* (many do) must see the scratch database,
    # never what driftd's own environment names (possibly a watched database).
    saved, scratch = dict(os.environ), command_environment(url)
    os.environ.clear()
    os.environ.update(scratch)
    try:
        worker = threading.Thread(target=work, name="driftd-alembic", daemon=True)
        worker.start()
        worker.join(timeout)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _enable_driftd_loggers()  # env.py's logging.config.fileConfig() disables them
    if worker.is_alive():  # the caller's drop (WITH FORCE) ends its session
        raise MigrationError(
            f"alembic upgrade did not finish within {timeout:g}s",
            "raise environments.NAME.migrations.timeout, or look at what the migration waits on",
        )
    if failed:
        lines = "".join(traceback.format_exception_only(failed[0])).splitlines()[-TAIL_LINES:]
        text = "\n".join("  | " + visible(line) for line in lines)
        raise MigrationError(
            "alembic upgrade failed\n" + _scrub(text, url),
            "fix the migration and rerun; no temporary database is left",
        )
    return ",".join(sorted(heads))
