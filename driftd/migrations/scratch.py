"""The temporary database a build migrates: created on the scratch server, always dropped.

The drop runs in ``finally`` with SIGINT and SIGTERM held back (recorded and
re-raised after it), so a second Ctrl-C or a ``systemctl stop`` does not skip
it; SIGTERM is turned into KeyboardInterrupt for the build's duration, which
unwinds through the same ``finally``. ``WITH (FORCE)`` ends the sessions a
killed migration left behind.
"""

from __future__ import annotations

import logging
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from driftd.errors import ConfigError, DriftdError, first_line

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from driftd.config import ResolvedEnvironment
    from driftd.config.model import Migrations

log = logging.getLogger(__name__)

PREFIX = "driftd_build_"  # temporary databases are named PREFIX + 12 hex digits
_LOCAL = frozenset({"", "localhost", "127.0.0.1", "::1"})


def server_url(env: ResolvedEnvironment, settings: Migrations) -> URL:
    """The scratch server's URL with its password, refused when it is ``env``'s own database."""
    from sqlalchemy.engine import make_url

    where = f"environments.{env.name}.migrations"
    try:
        url = make_url(settings.scratch_url)
    except Exception:
        raise ConfigError(
            f"{where}.scratch_url cannot be parsed",
            "use the form postgresql+psycopg://user@host:5432/postgres",
        ) from None
    if not url.drivername.startswith("postgresql"):
        raise ConfigError(
            f"{where}.scratch_url: baselines are built on PostgreSQL only (got {url.drivername})",
            "point scratch_url at a PostgreSQL server where driftd may create databases",
        )
    own = watched_url(env)
    if own is not None and same_database(url, own):
        raise ConfigError(
            f"{where}.scratch_url points at the database {env.name} watches; "
            "driftd never writes to a watched database",
            "point scratch_url at a separate server's maintenance database (e.g. .../postgres)",
        )
    password = env.config.secret(where + ".password", settings.password_env, settings.password_file)
    return url.set(password=password) if password is not None else url


def watched_url(env: ResolvedEnvironment) -> URL | None:
    """The environment's URL, or None when its secret cannot be read here (CI)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(env.database_url())
    except DriftdError:
        return None


def same_database(a: URL, b: URL) -> bool:
    def where(u: URL) -> tuple[str, int, str]:
        host = u.host or ""
        host = "local" if host in _LOCAL or host.startswith("/") else host.lower()
        return host, u.port or 5432, u.database or ""

    return where(a) == where(b)


def connect(url: URL, timeout: float = 10.0) -> Any:
    """A psycopg connection (autocommit) to ``url``; the password never in argv or logs."""
    import psycopg

    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
        "connect_timeout": max(1, int(timeout)),
    }
    params.update({k: v for k, v in url.query.items() if isinstance(v, str)})
    try:
        return psycopg.connect(
            **{k: v for k, v in params.items() if v is not None}, autocommit=True
        )
    except psycopg.Error as exc:
        raise DriftdError(
            f"cannot connect to the scratch server {_shown(url)}: {first_line(exc)}",
            "check scratch_url, its password_env/password_file, and that the server is up",
        ) from None


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


@contextmanager
def database(server: URL) -> Iterator[URL]:
    """A new, empty database on ``server`` (from template0) for the block; dropped after."""
    name = PREFIX + secrets.token_hex(6)
    with _sigterm_interrupts():
        try:
            with connect(server) as conn:
                try:
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
                except Exception as exc:
                    raise DriftdError(
                        f"cannot create a temporary database on the scratch server "
                        f"{_shown(server)}: {first_line(exc)}",
                        "the scratch_url's user needs CREATEDB on that server",
                    ) from None
            log.info("created temporary database %s on %s", name, _shown(server))
            yield server.set(database=name)
        finally:
            with _signals_held():
                drop(server, name)


def drop(server: URL, name: str) -> None:
    """Drop ``name`` if it exists; a failure is a warning naming what to drop by hand."""
    try:
        with connect(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log.info("dropped temporary database %s", name)
    except Exception as exc:
        log.warning(
            "could not drop the temporary database %s on %s (%s); drop it by hand: "
            'DROP DATABASE "%s" WITH (FORCE)',
            name,
            _shown(server),
            first_line(exc),
            name,
        )


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (as Ctrl-C does) so ``finally`` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT/SIGTERM recorded, not acted on, during the block; the first is re-raised
    after it as KeyboardInterrupt (handlers, not a signal mask: another thread may
    receive the signal and Python runs handlers on the main thread anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    old = {s: signal.signal(s, record) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    if seen:
        raise KeyboardInterrupt
