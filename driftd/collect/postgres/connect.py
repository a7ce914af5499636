"""libpq connection parameters from a database URL, and the second connection of a
large catalog: apart from the read loop, so the catalog fingerprint (the no-change fast
path) imports neither the builder nor the kinds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql

from driftd.collect.postgres.errors import _one_line

if TYPE_CHECKING:
    from driftd.collect import Target
    from driftd.config.url import URL

log = logging.getLogger(__name__)


def _connect_params(url: URL, connect_timeout: float) -> dict[str, Any]:
    params: dict[str, Any] = {}
    # URL query options (sslmode, host=/socket/dir, ...) are libpq options too.
    for key, value in url.query.items():
        params[key] = ",".join(value) if isinstance(value, tuple) else value
    parts = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    params.update((k, v) for k, v in parts.items() if v is not None)
    params.update(
        # libpq takes whole seconds and treats 1 as 2; 0 would mean "wait forever".
        connect_timeout=max(2, round(connect_timeout)),
        application_name="driftd",
        autocommit=True,  # the transaction is explicit: BEGIN ... COMMIT below
        prepare_threshold=None,  # nothing repeats; also safe behind pgbouncer
    )
    return params


def begin_read_only(conn: psycopg.Connection[Any], snapshot: str | None = None) -> None:
    """Begin driftd's read-only repeatable-read transaction; in ``snapshot`` (one another
    connection exported) when given."""
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    if snapshot is not None:  # before the transaction's first query
        conn.execute(pgsql.SQL("SET TRANSACTION SNAPSHOT {}").format(pgsql.Literal(snapshot)))


# A second connection in the first one's snapshot (a large catalog is read, and
# fingerprinted, over two): how long driftd waits for it. The first connection waits
# idle in its transaction meanwhile (its idle_in_transaction_session_timeout is the
# statement_timeout), and a pooler with a full pool may hold the second's BEGIN for
# minutes: past this, the first connection does it all.
SECOND_DEADLINE = 2.0
# After a refusal or a timeout, the environment is read on one connection for this long
# (a role's CONNECTION LIMIT would otherwise write a FATAL to the server log every run).
SECOND_RETRY_AFTER = 3600.0
# (environment, host, port, database, user) -> time.monotonic() of the last refusal
_refused: dict[tuple[Any, ...], float] = {}
_refused_lock = threading.Lock()


def second_connection(
    params: dict[str, Any],
    target: Target,
    begin: Callable[[psycopg.Connection[Any]], None],
    what: str,
) -> psycopg.Connection[Any] | None:
    """Connect again and ``begin`` there (import the first connection's snapshot), within
    ``SECOND_DEADLINE``; None when the server refuses or is too slow, or did either for
    this environment within ``SECOND_RETRY_AFTER`` (said once, at info level)."""
    key = (target.environment, *(params.get(k) for k in ("host", "port", "dbname", "user")))
    with _refused_lock:
        last = _refused.get(key)
    if last is not None and time.monotonic() - last < SECOND_RETRY_AFTER:
        return None
    opened: list[psycopg.Connection[Any] | BaseException] = []
    lock = threading.Lock()
    abandoned = False

    def setup() -> None:
        conn: psycopg.Connection[Any] | None = None
        try:
            conn = psycopg.connect(**params)
            begin(conn)
        except psycopg.Error as exc:
            if conn is not None:
                conn.close()
            conn = None
            result: psycopg.Connection[Any] | BaseException = exc
        else:
            result = conn
        with lock:
            if abandoned and conn is not None:
                conn.close()  # too late: the first connection does it all
            opened.append(result)

    thread = threading.Thread(target=setup, name=f"driftd-connect2-{target.environment}")
    thread.daemon = True
    thread.start()
    thread.join(min(SECOND_DEADLINE, target.statement_timeout / 2))
    with lock:
        got = opened[0] if opened else None
        abandoned = got is None
    if isinstance(got, psycopg.Connection):
        return got
    reason = _one_line(got) if got is not None else "no answer in time"
    with _refused_lock:
        _refused[key] = time.monotonic()
    log.info(
        "%s of environment %s on one connection for the next %d min: a second one failed (%s)",
        what,
        target.environment,
        SECOND_RETRY_AFTER // 60,
        reason,
    )
    return None
