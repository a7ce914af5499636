"""The read: one short read-only repeatable-read transaction, pipelined with the building.

The queries run on a reader thread, the objects are built on the calling thread as the
rows of each query arrive: the server computes the next query while Python converts and
builds the previous one (waiting on the server releases the GIL), so on a large catalog
building costs almost no wall time on top of the queries.

On a large catalog (``PARALLEL_MIN_RELATIONS``) a second connection imports the first
one's snapshot and reads the heaviest lock-free steps (``SECOND_LANE``) at the same
time: the server works on two cores, and the result is the same single snapshot.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, suppress
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
from driftd.collect.postgres.connect import begin_read_only, second_connection
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

log = logging.getLogger(__name__)

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
        return _read_and_build(conn, target, busy, params)
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


def _begin(conn: psycopg.Connection[Row], target: Target, snapshot: str | None = None) -> None:
    set_json_loads(orjson.loads, conn)
    begin_read_only(conn, snapshot)
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


# A catalog with at least this many relations in the watched schemas is read over two
# connections sharing one snapshot (``read_connections``); on a smaller one the second
# connection costs more than it saves (the whole read takes ~0.1 s at 1,000 relations).
PARALLEL_MIN_RELATIONS = 2000
# What the second connection reads, in the order the builder takes it: half of the
# server's time on a large catalog (pg_get_indexdef, pg_get_constraintdef), nothing that
# needs the first connection's results, and nothing that keeps a lock (pg_get_indexdef
# and pg_get_constraintdef of a CHECK wait behind ACCESS EXCLUSIVE, so lock_timeout
# applies here from the start, but they release the lock at once).
SECOND_LANE = ("kind:sequence", "triggers", "constraints", "indexes")
# Stands for a step's rows in the first connection's stream when the second one reads it.
_ELSEWHERE: Any = object()

_RELATIONS = "SELECT count(*) FROM pg_class WHERE relnamespace = ANY(%(nsp)s::oid[])"


def _step_query(step: str, version_num: int, nsp: list[int]) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of a step whose query depends on nothing read before it
    but the server's version and the schemas (those of :data:`SECOND_LANE`)."""
    if step == "constraints":
        text = queries.constraints_sql(version_num)
    elif step.startswith("kind:"):
        pg_query = KINDS[step.removeprefix("kind:")].pg_query
        assert pg_query is not None
        text = queries.sql(pg_query)
    else:
        text = queries.sql({"triggers": "trigger", "indexes": "index"}[step])
    return text, ({"nsp": nsp} if "%(nsp)s" in text else {})


def _checked(step: str, cur: psycopg.Cursor[Row]) -> psycopg.Cursor[Row]:
    """The two largest results come as plain tuples (cheaper): their column names checked."""
    fields = {"columns": COLUMN_FIELDS, "constraints": CONSTRAINT_FIELDS}.get(step)
    got = tuple(c.name for c in cur.description or ())
    if fields is not None and got != fields:
        name = step.removesuffix("s")
        raise CollectError(
            f"{name}.sql returns the columns {', '.join(got)}",
            f"driftd's builder reads {', '.join(fields)}: fix the query or the builder",
        )
    return cur


def _run(conn: psycopg.Connection[Row], step: str, text: str, params: dict[str, Any]) -> Any:
    positional = step in ("columns", "constraints")
    cur = conn.cursor() if positional else conn.cursor(row_factory=namedtuple_row)
    return _checked(step, cur.execute(text, params or None))


class _SecondLane:
    """The second connection of a parallel read: :data:`SECOND_LANE` in the snapshot the
    first connection exported (as ``pg_dump --jobs`` does), on a thread of its own.

    The builder takes its results with :meth:`take`, in :data:`SECOND_LANE` order."""

    def __init__(self, params: dict[str, Any], target: Target) -> None:
        self.params = params
        self.target = target
        self.conn: psycopg.Connection[Row] | None = None
        self.results: queue.SimpleQueue[tuple[str, _Payload] | BaseException] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, snapshot: str, version_num: int, nsp: list[int]) -> bool:
        """Connect, import ``snapshot`` and start reading; False (and nothing started) if
        the server refuses either: the first connection then reads everything."""
        conn = second_connection(
            self.params, self.target, lambda c: _begin(c, self.target, snapshot), "reading"
        )
        if conn is None:  # e.g. the role's CONNECTION LIMIT, a pooler with a full pool
            return False
        self.conn = conn
        self.thread = threading.Thread(
            target=self._read,
            args=(conn, version_num, nsp),
            name=f"driftd-read2-{self.target.environment}",
            daemon=True,
        )
        self.thread.start()
        return True

    def _read(self, conn: psycopg.Connection[Row], version_num: int, nsp: list[int]) -> None:
        try:
            for step in SECOND_LANE:
                if self.stop.is_set():
                    return
                text, params = _step_query(step, version_num, nsp)
                self.results.put((step, _run(conn, step, text, params)))
            conn.execute("COMMIT")
        except BaseException as exc:  # raised by take(), on the building thread
            self.results.put(exc)

    def take(self, step: str) -> _Payload:
        item = self.results.get()
        if isinstance(item, BaseException):
            raise item
        name, payload = item
        if name != step:  # SECOND_LANE is not in the order _queries takes its steps
            raise CollectError(
                f"the second connection read {name} where the builder takes {step}",
                "this is a bug in driftd: SECOND_LANE must follow the order of _queries",
            )
        return payload

    def cancel(self) -> None:
        if self.conn is not None and self.thread is not None and self.thread.is_alive():
            self.stop.set()
            with suppress(psycopg.Error):
                self.conn.cancel()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        if self.conn is not None:
            self.conn.close()


def _prologue(
    conn: psycopg.Connection[Row], target: Target, second: _SecondLane | None
) -> tuple[str, int, list[Row], bool]:
    """Begin; the server's version, the watched schemas, and whether the second
    connection reads :data:`SECOND_LANE` (a large catalog, and the server let it)."""
    _begin(conn, target)
    version, version_num = conn.execute(queries.sql("server")).fetchall()[0]
    if version_num < queries.MIN_SERVER_VERSION:
        raise CollectError(
            f"PostgreSQL {version} is too old for driftd",
            "driftd reads PostgreSQL 12 and newer",
        )
    rows: list[Row] = (
        conn.cursor(row_factory=namedtuple_row).execute(queries.sql("schema")).fetchall()
    )
    schemas = [r for r in rows if target.wants_schema(r.name)]
    nsp = [r.oid for r in schemas]
    if second is None or conn.execute(_RELATIONS, {"nsp": nsp}).fetchall()[0][0] < (
        PARALLEL_MIN_RELATIONS
    ):
        return version, version_num, schemas, False
    try:
        # The transaction's snapshot (repeatable read: taken at its first query).
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchall()[0][0]
    except psycopg.Error as exc:  # the transaction is aborted: begin again, alone
        log.debug("reading on one connection: pg_export_snapshot() failed: %s", exc)
        conn.execute("ROLLBACK")
        return (*_prologue(conn, target, None)[:3], False)
    return version, version_num, schemas, second.start(snapshot, version_num, nsp)


def _queries(
    conn: psycopg.Connection[Row], target: Target, second: _SecondLane | None = None
) -> Iterator[tuple[str, _Payload]]:
    """Run every catalog query in one read-only repeatable-read transaction, in order.

    Yields ``(step, rows or executed cursor)`` per query (view definitions come in
    batches; a declared kind's step is ``kind:<name>``), or ``(step, _ELSEWHERE)`` for
    a step ``second`` reads. The transaction is committed after the last one: its
    locks are held no longer than the queries take.
    """
    version, version_num, schemas, parallel = _prologue(conn, target, second)
    nsp = [r.oid for r in schemas]

    def q(name: str, text: str | None = None, **params: Any) -> psycopg.Cursor[Row]:
        query = text if text is not None else queries.sql(name)
        return conn.cursor(row_factory=namedtuple_row).execute(query, params or None)

    def step(name: str) -> tuple[str, _Payload]:
        if parallel and name in SECOND_LANE:
            return name, _ELSEWHERE
        return name, _run(conn, name, *_step_query(name, version_num, nsp))

    yield "server", [(version.split()[0],)]
    yield "privileges", q("privileges")
    yield "schemas", schemas
    yield "database", q("database")
    yield "db_role_settings", q("database_settings")
    yield "default_acls", q("default_privileges")
    for kind in declared_kinds(version_num):
        assert kind.pg_query is not None
        yield step(f"kind:{kind.name}")
        if queries.has_sql(f"{kind.pg_query}_conninfo") and _may_read_conninfo(q):
            yield "subscription_conninfo", q(f"{kind.pg_query}_conninfo")
    yield step("triggers")
    # From here on the queries of this connection may wait for locks (lock_timeout
    # applies; those of the second one may from the start).
    yield "tables", q("table", nsp=nsp)
    views = q("view", nsp=nsp).fetchall()
    yield "views", views
    # 100k columns: hash joins whatever the statistics say (never analyzed, the planner
    # guesses one table and probes pg_type, pg_attrdef and pg_description per column).
    nestloop = conn.execute(
        "SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)"
    ).fetchall()[0][0]
    columns = _run(conn, "columns", queries.columns_sql(version_num), {"nsp": nsp})
    conn.execute("SELECT set_config('enable_nestloop', %s, true)", (nestloop,))
    yield "columns", columns
    yield step("constraints")
    yield step("indexes")
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


def _rows(
    conn: psycopg.Connection[Row], target: Target, params: dict[str, Any] | None
) -> Generator[tuple[str, list[Row]], None, None]:
    """Every step's rows, in order: :func:`_queries` runs on a reader thread (and, on a
    large catalog, :data:`SECOND_LANE` on a second connection), the rows are fetched
    here as they arrive.

    An error on a reader (a lock or statement timeout, a lost connection) is raised
    here, as it was raised there. If the consumer fails (close() this generator), the
    queries running are cancelled and no further one is sent.
    """
    results: queue.SimpleQueue[tuple[str, _Payload] | BaseException | None] = queue.SimpleQueue()
    stop = threading.Event()
    second = _SecondLane(params, target) if params and target.read_connections > 1 else None

    def read() -> None:
        try:
            for item in _queries(conn, target, second):
                if stop.is_set():
                    return
                results.put(item)
        except BaseException as exc:  # handed to the consuming thread, which raises it
            results.put(exc)
        else:
            results.put(None)

    reader = threading.Thread(target=read, name=f"driftd-read-{target.environment}", daemon=True)
    reader.start()
    try:
        while (item := results.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            name, payload = item
            del item  # the rows are dropped as soon as their objects are built
            if payload is _ELSEWHERE:
                assert second is not None
                payload = second.take(name)
            rows = payload if isinstance(payload, list) else payload.fetchall()
            del payload
            yield name, rows
    except BaseException:
        if not stop.is_set() and reader.is_alive():
            stop.set()
            with suppress(psycopg.Error):
                conn.cancel()
        if second is not None:
            second.cancel()
        raise
    finally:
        stop.set()
        reader.join()
        if second is not None:
            second.close()


def _read_and_build(
    conn: psycopg.Connection[Row],
    target: Target,
    busy: Callable[[], None] | None = None,
    params: dict[str, Any] | None = None,
) -> Builder:
    """Build the objects here as :func:`_rows` hands over each step's rows.

    ``params`` (the connection's) let a large catalog be read on a second connection.
    """
    builder = Builder(target)
    # Millions of small acyclic containers: a collection pass over them finds nothing.
    with gc_paused(), closing(_rows(conn, target, params)) as steps:
        for name, rows in steps:
            builder.add(name, rows)
            del rows
            if name == "tables" and busy is not None:
                busy()
    return builder


def _read(
    conn: psycopg.Connection[Row], target: Target, params: dict[str, Any] | None = None
) -> SimpleNamespace:
    """The read phase alone: every query run and every row fetched, nothing built.

    For bench/floor.py: ``vars()`` of the result maps each step to its rows.
    """
    rows: dict[str, Any] = {"server_version": ""}
    with closing(_rows(conn, target, params)) as steps:
        for name, fetched in steps:
            if name == "server":
                rows["server_version"] = fetched[0][0]
            else:
                rows.setdefault(name, []).extend(fetched)
    return SimpleNamespace(**rows)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
