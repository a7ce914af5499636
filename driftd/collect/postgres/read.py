"""The read: one short read-only repeatable-read transaction, pipelined with the building.

The queries run on a reader thread, the objects are built on the calling thread as the
rows of each query arrive: the server computes the next query while Python converts and
builds the previous one (waiting on the server releases the GIL), so on a large catalog
building costs almost no wall time on top of the queries.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
import psycopg.errors
from psycopg import sql as pgsql
from psycopg.rows import namedtuple_row
from psycopg.types.json import set_json_loads

from driftd.canonical import gc_paused
from driftd.collect import Collected, Target
from driftd.collect.postgres import queries
from driftd.collect.postgres.build import COLUMN_FIELDS, CONSTRAINT_FIELDS, Builder
from driftd.collect.postgres.connect import _connect_params as _connect_params
from driftd.collect.postgres.errors import (
    _connect_error,
    _lock_error,
    _read_error,
    make_url,
)
from driftd.errors import CollectError
from driftd.kinds import KINDS, Kind

if TYPE_CHECKING:
    from driftd.config.url import URL

Row = Any  # a psycopg namedtuple row
# A query's rows: already fetched, or an executed cursor whose rows the builder fetches.
_Payload = list[Row] | psycopg.Cursor[Row]


def declared_kinds(version_num: int) -> list[Kind]:
    """The kinds read from their declaration's query alone (driftd.kinds), in order.

    A query that may wait for a table's lock does not belong here (these run before
    the tables, ahead of the lock-sensitive steps).
    """
    return [
        k
        for k in KINDS.values()
        if "postgresql" in k.engines
        and k.pg_query
        and not k.pg_builtin
        and version_num >= k.pg_min_version
    ]


def collect(target: Target, busy: Callable[[], None] | None = None) -> Collected:
    """Read the catalog of ``target`` (a PostgreSQL database) into snapshot objects.

    ``busy`` is called once, on this thread, when the tables are built and the
    server is on the long queries: other work started then (snapshot.py parses
    the baseline) runs while the server does, not before it starts.
    """
    where = target.shown()
    try:
        url = make_url(target.url)
    except Exception:  # ArgumentError, ValueError: the message may hold the password
        raise CollectError(
            f"the database URL of environment {target.environment} cannot be parsed",
            "use the form postgresql+psycopg://user@host:5432/dbname",
        ) from None
    params = _connect_params(url, target.connect_timeout)
    for attempt in range(READ_ATTEMPTS):
        try:
            builder = _read_once(params, target, busy, where, url)
            break
        except psycopg.errors.UndefinedFile:
            # A tablespace dropped while it was read: the catalog snapshot still lists
            # it, pg_tablespace_location() finds its directory gone. Read again.
            if attempt + 1 == READ_ATTEMPTS:
                raise CollectError(
                    f"cannot read {where}: a tablespace was dropped while it was read",
                    "driftd will try again on the next run",
                ) from None
            busy = None  # said once already
    return Collected(
        engine={"dialect": "postgresql", "server_version": builder.server_version},
        objects=builder.objects,
    )


READ_ATTEMPTS = 3


def _read_once(
    params: dict[str, Any],
    target: Target,
    busy: Callable[[], None] | None,
    where: str,
    url: URL,
) -> Builder:
    try:
        conn = psycopg.connect(**params)
    except psycopg.Error as exc:
        raise _connect_error(exc, where, url) from exc
    try:
        return _read_and_build(conn, target, busy)
    except psycopg.errors.LockNotAvailable as exc:
        # Close first: that rolls back and releases our locks before we go looking.
        conn.close()
        raise _lock_error(params, target) from exc
    except psycopg.errors.UndefinedFile:
        raise  # the caller reads again
    except psycopg.Error as exc:
        raise _read_error(exc, target, where) from exc
    finally:
        conn.close()


def _begin(conn: psycopg.Connection[Row], target: Target) -> None:
    set_json_loads(orjson.loads, conn)
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    statement_ms = _ms(target.statement_timeout)
    for name, value in (
        ("statement_timeout", statement_ms),
        ("lock_timeout", _ms(target.lock_timeout)),
        # If driftd itself stalls mid-read, the server ends the session and its locks.
        ("idle_in_transaction_session_timeout", statement_ms),
    ):
        conn.execute(
            pgsql.SQL("SET LOCAL {} = {}").format(pgsql.Identifier(name), pgsql.Literal(value))
        )
    # format_type, regprocedure and pg_get_*def qualify every name outside pg_catalog.
    conn.execute("SET LOCAL search_path = pg_catalog")
    # The planner's cost of a 10k-table catalog query crosses jit_above_cost; compiling
    # it takes longer (~1 s each) than running it.
    conn.execute("SET LOCAL jit = off")


def _queries(conn: psycopg.Connection[Row], target: Target) -> Iterator[tuple[str, _Payload]]:
    """Run every catalog query in one read-only repeatable-read transaction, in order.

    Yields ``(step, rows or executed cursor)`` per query (view definitions come in
    batches; a declared kind's step is ``kind:<name>``). The transaction is
    committed after the last one: its locks are held no longer than the queries take.
    """
    _begin(conn, target)

    def q(name: str, text: str | None = None, **params: Any) -> psycopg.Cursor[Row]:
        query = text if text is not None else queries.sql(name)
        return conn.cursor(row_factory=namedtuple_row).execute(query, params or None)

    def positional(name: str, text: str, fields: tuple[str, ...], **params: Any) -> Any:
        """The two largest results as plain tuples (cheaper), their column names checked."""
        cur = conn.cursor().execute(text, params or None)
        got = tuple(c.name for c in cur.description or ())
        if got != fields:
            raise CollectError(
                f"{name}.sql returns the columns {', '.join(got)}",
                f"driftd's builder reads {', '.join(fields)}: fix the query or the builder",
            )
        return cur

    version, version_num = q("server").fetchall()[0]
    if version_num < queries.MIN_SERVER_VERSION:
        raise CollectError(
            f"PostgreSQL {version} is too old for driftd",
            "driftd reads PostgreSQL 12 and newer",
        )
    yield "server", [(version.split()[0],)]
    schemas = [r for r in q("schema").fetchall() if target.wants_schema(r.name)]
    nsp = [r.oid for r in schemas]
    yield "privileges", q("privileges")
    yield "schemas", schemas
    yield "database", q("database")
    yield "db_role_settings", q("database_settings")
    yield "default_acls", q("default_privileges")
    for kind in declared_kinds(version_num):
        assert kind.pg_query is not None
        text = queries.sql(kind.pg_query)
        params: dict[str, Any] = {"nsp": nsp} if "%(nsp)s" in text else {}
        yield f"kind:{kind.name}", q(kind.pg_query, text, **params)
        if queries.has_sql(f"{kind.pg_query}_conninfo") and _may_read_conninfo(q):
            yield "subscription_conninfo", q(f"{kind.pg_query}_conninfo")
    yield "triggers", q("trigger", nsp=nsp)
    # From here on the queries may wait for locks (lock_timeout applies).
    yield "tables", q("table", nsp=nsp)
    views = q("view", nsp=nsp).fetchall()
    yield "views", views
    columns = queries.columns_sql(version_num)
    yield "columns", positional("column", columns, COLUMN_FIELDS, nsp=nsp)
    constraints = queries.constraints_sql(version_num)
    yield "constraints", positional("constraint", constraints, CONSTRAINT_FIELDS, nsp=nsp)
    yield "indexes", q("index", nsp=nsp)
    yield "policies", q("policy", nsp=nsp)
    conn.execute("SAVEPOINT driftd_rules")  # pg_get_ruledef keeps its locks: let them go
    yield "rules", q("rule", nsp=nsp)
    conn.execute("ROLLBACK TO SAVEPOINT driftd_rules")
    view_oids = [r.oid for r in views]
    for start in range(0, len(view_oids), queries.VIEW_BATCH):
        conn.execute("SAVEPOINT driftd_views")
        yield (
            "view_definitions",
            q("view_definition", rel=view_oids[start : start + queries.VIEW_BATCH]),
        )
        conn.execute("ROLLBACK TO SAVEPOINT driftd_views")  # releases this batch's locks
    conn.execute("COMMIT")


def _may_read_conninfo(q: Callable[..., psycopg.Cursor[Row]]) -> bool:
    """Whether driftd's role may read subscriptions' connection strings (superusers)."""
    probe = "SELECT has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT')"
    return bool(q("probe", probe).fetchall()[0][0])


def _read_and_build(
    conn: psycopg.Connection[Row], target: Target, busy: Callable[[], None] | None = None
) -> Builder:
    """Run :func:`_queries` on a reader thread; build the objects here as rows arrive.

    An error on the reader (a lock or statement timeout, a lost connection) is
    raised here, as it was raised there. If building fails, the query running
    on the reader is cancelled and no further one is sent.
    """
    results: queue.SimpleQueue[tuple[str, _Payload] | BaseException | None] = queue.SimpleQueue()
    stop = threading.Event()

    def read() -> None:
        try:
            for item in _queries(conn, target):
                if stop.is_set():
                    return
                results.put(item)
        except BaseException as exc:  # handed to the building thread, which raises it
            results.put(exc)
        else:
            results.put(None)

    reader = threading.Thread(target=read, name=f"driftd-read-{target.environment}", daemon=True)
    builder = Builder(target)
    # Millions of small acyclic containers: a collection pass over them finds nothing.
    with gc_paused():
        reader.start()
        try:
            while (item := results.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                name, payload = item
                del item  # the rows are dropped as soon as their objects are built
                builder.add(name, payload if isinstance(payload, list) else payload.fetchall())
                del payload
                if name == "tables" and busy is not None:
                    busy()
        except BaseException:
            if not stop.is_set() and reader.is_alive():
                stop.set()
                with suppress(psycopg.Error):
                    conn.cancel()
            raise
        finally:
            stop.set()
            reader.join()
    return builder


def _read(conn: psycopg.Connection[Row], target: Target) -> SimpleNamespace:
    """The read phase alone: every query run and every row fetched, nothing built.

    For bench/floor.py: ``vars()`` of the result maps each step to its rows.
    """
    rows: dict[str, Any] = {"server_version": ""}
    for name, payload in _queries(conn, target):
        fetched = payload if isinstance(payload, list) else payload.fetchall()
        if name == "server":
            rows["server_version"] = fetched[0][0]
        else:
            rows.setdefault(name, []).extend(fetched)
    return SimpleNamespace(**rows)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
