"""A cheap fingerprint of everything the PostgreSQL collector reads (the no-change fast path).

Most checks find nothing, and a full snapshot of a large catalog costs seconds.
The fingerprint is one query that reads no object definitions: for every
``pg_catalog`` relation that a collector query (``sql/*.sql``) names, a row
count and the sum of a 64-bit hash over each row's version:

- a catalog **table** the role may read whole: ``hash(xmin)`` per row. Every
  DDL statement writes row versions of a later transaction (a new ``xmin``) in
  the catalogs it changes or deletes rows, so the multiset of ``xmin`` (its
  count and hash sum) changes with anything the collector reads.
- a **view** (``pg_settings``, ``pg_user_mappings``) or a table
  the role may read only in part (``pg_subscription``): ``hash(row text)`` over
  the columns it may read. These are small (roles, settings), and settings
  changed by a reload live in no catalog row at all.
- ``pg_class``, ``pg_index``, ``pg_sequence``: ``hash(row text)`` without
  the columns that maintenance rewrites (``relfilenode``, ``relpages``,
  ``indisclustered``, ...), which no query reads.

Shared catalogs are narrowed to this database's rows where the queries are
(``pg_database``, ``pg_db_role_setting``, ``pg_subscription``), and the role
catalogs (``pg_roles``, ``pg_auth_members``, ``pg_db_role_setting``) to the
rows about a role the environment watches (its ``roles`` globs).

The relations are derived from the SQL files, so a kind added with its SQL
file is covered with nothing more to write; ``tests/test_fingerprint.py``
runs every golden scenario and fails when a change leaves the fingerprint
unchanged. Equal fingerprints mean the snapshot would be equal; a different
fingerprint says nothing (the full snapshot decides).

On a large catalog a second connection in the same snapshot sums ``SECOND_LANE``
while the first sums the rest (the server's work on two cores, ~0.2 -> ~0.15 s on
10k tables); the digest is the same however the work was split.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import re
import threading
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql as pgsql

from driftd.collect import Target
from driftd.collect.postgres import queries
from driftd.collect.postgres.acl import SECRET_WORDS
from driftd.collect.postgres.connect import (
    _connect_params,
    begin_read_only,
    second_connection,
)
from driftd.collect.postgres.errors import _connect_error, make_url

log = logging.getLogger(__name__)

# SQL files that are not part of a snapshot (lock diagnosis after a lock timeout).
NOT_SNAPSHOT = frozenset({"lock_holders"})
# Relations of pg_catalog that change on their own or per session, never with the schema.
VOLATILE = frozenset({"pg_locks", "pg_stat_activity", "pg_statistic", "pg_statistic_ext_data"})
# Named in the queries but read through a view that is fingerprinted instead:
# pg_authid only as ``'pg_authid'::regclass``, its rows through pg_roles (role-scoped).
READ_THROUGH_VIEWS = frozenset({"pg_authid"})
# Catalogs whose rows maintenance rewrites (VACUUM FULL, CLUSTER, TRUNCATE, REINDEX,
# REFRESH, ANALYZE, a sequence's RESTART) without a schema change: hashed by content,
# without the columns listed, which no query reads (a test checks that), so a nightly
# TRUNCATE does not cost a full snapshot.
MAINTENANCE_COLUMNS = {
    "pg_class": frozenset(
        {"relfilenode", "relpages", "reltuples", "relallvisible", "relfrozenxid", "relminmxid"}
    ),
    "pg_index": frozenset({"indisclustered"}),
    "pg_sequence": frozenset(),
}

# Shared catalogs (one per cluster) narrowed to the rows of this database, which is all
# their queries read: another database created or altered on the server is no change here.
_THIS_DB = "(SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())"
SCOPE = {
    "pg_database": "datname = current_database()",
    "pg_subscription": f"subdbid = {_THIS_DB}",
}
# Cluster-wide catalogs about roles, narrowed (in Python, with the collector's own globs)
# to what the snapshot shows: a row about a watched role counts whole; of any other role
# only its name counts (a renamed role is renamed in every owner and grant shown), and
# only where the snapshot can show it: a role that something of this database (or a
# tablespace) depends on (pg_shdepend: owners, grants, policies, default privileges), a
# role in a membership of a watched role, and the built-in ones (bootstrap superuser,
# predefined roles; never in pg_shdepend). So a password or attribute changed by another
# application on a shared server, or a role it creates or drops that owns nothing here,
# is no change here. Each row gives the roles it is about (none: always whole), the hash
# of the row, for pg_roles the hash of the name alone, and whether that name may show.
_REFERENCED = (
    "t.oid < 16384 OR EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend d"
    " WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass AND d.refobjid = t.oid"
    f" AND (d.dbid = {_THIS_DB} OR d.dbid = 0"
    f" AND (d.classid <> 'pg_catalog.pg_database'::regclass OR d.objid = {_THIS_DB})))"
)
ROLE_SCOPED = {
    "pg_roles": "SELECT ARRAY[t.rolname::text], hashtextextended(t::text, 0),"
    " hashtextextended(t.oid::text || ':' || t.rolname, 0),"
    f" {_REFERENCED} FROM pg_catalog.pg_roles t",
    "pg_auth_members": "SELECT ARRAY[pg_get_userbyid(t.roleid)::text,"
    " pg_get_userbyid(t.member)::text], hashtextextended(t::text, 0), NULL::bigint, true"
    " FROM pg_catalog.pg_auth_members t",
    "pg_db_role_setting": "SELECT CASE WHEN t.setrole = 0 THEN ARRAY[]::text[]"
    " ELSE ARRAY[pg_get_userbyid(t.setrole)::text] END, hashtextextended(t::text, 0),"
    " NULL::bigint, true FROM pg_catalog.pg_db_role_setting t"
    f" WHERE t.setdatabase IN (0, {_THIS_DB})",
}

# Option lists read as content (a view's rows) with every secret-looking value masked as
# the collector masks it (acl.SECRET_WORDS): the fingerprint sees what a snapshot sees,
# and nothing derived from a password, even in memory.
_MASKED_OPTIONS = (
    "array(SELECT CASE WHEN lower(split_part(o, '=', 1)) ~ '{words}'"
    " THEN split_part(o, '=', 1) || '=********' ELSE o END FROM unnest({col}) o)"
)
SECRET_OPTION_COLUMNS = {"pg_user_mappings": frozenset({"umoptions"})}

_NAME = re.compile(r"\bpg_[a-z_]+\b")
_COMMENT = re.compile(r"--[^\n]*")

# Which pg_catalog relations of those named exist here, and how much the role may read.
_PLAN = """
SELECT c.relname, c.relkind IN ('r', 'p') AND has_table_privilege(c.oid, 'SELECT') AS whole,
       array_agg(a.attname ORDER BY a.attnum)
         FILTER (WHERE has_column_privilege(c.oid, a.attnum, 'SELECT')) AS columns
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind IN ('r', 'p', 'v')
  AND c.relname = ANY(%(names)s)
GROUP BY c.oid, c.relname, c.relkind
ORDER BY c.relname
"""


@functools.cache
def catalog_names() -> tuple[str, ...]:
    """Every ``pg_*`` name in the collector's SQL files (functions too: the plan
    keeps only the relations)."""
    folder = resources.files("driftd.collect.postgres").joinpath("sql")
    names: set[str] = set()
    for entry in folder.iterdir():
        if entry.name.endswith(".sql") and entry.name[:-4] not in NOT_SNAPSHOT:
            # As the server gets it: fragments expanded (queries.FRAGMENTS).
            text = _COMMENT.sub("", queries.sql(entry.name[:-4]))
            names.update(_NAME.findall(text))
    return tuple(sorted(names - VOLATILE - READ_THROUGH_VIEWS))


def _term(relname: str, whole: bool, columns: list[str] | None, records: bool) -> pgsql.Composable:
    """``count:sum-of-row-hashes`` of one relation. ``records``: the server hashes a
    row value itself (``hash_record_extended``, PostgreSQL 14+), else via its text."""
    rel = pgsql.Identifier("pg_catalog", relname)
    skip = MAINTENANCE_COLUMNS.get(relname)
    if skip is not None:
        whole, columns = False, [c for c in columns or [] if c not in skip]
    where = pgsql.SQL(" WHERE " + SCOPE[relname] if relname in SCOPE else "")
    if whole:
        # Committed row versions as a multiset of xmin: every insert, update or delete
        # by a later transaction changes it (a row's ctid adds nothing but cost). The
        # same sum as hashing each row's xmin, hashed once per transaction instead (a
        # catalog holds few distinct xmins): pg_attribute 384k rows, 85 -> 50 ms.
        return pgsql.SQL(
            "(SELECT coalesce(sum(n), 0)::text || ':' || coalesce(sum(n::numeric"
            " * hashtextextended(x::text, 0)), 0)::text"
            " FROM (SELECT xmin AS x, count(*) AS n FROM {rel}{where} GROUP BY xmin) g)"
        ).format(rel=rel, where=where)
    row_hash: pgsql.Composable = pgsql.SQL("0")
    if columns:
        secret = SECRET_OPTION_COLUMNS.get(relname, frozenset())
        cols = pgsql.SQL(", ").join(
            _masked(c) if c in secret else pgsql.Identifier(c) for c in columns
        )
        template = (
            "hash_record_extended(ROW({}), 0)" if records else "hashtextextended(ROW({})::text, 0)"
        )
        row_hash = pgsql.SQL(template).format(cols)
    return pgsql.SQL(
        "(SELECT count(*)::text || ':' || coalesce(sum({hash}), 0)::text FROM {rel}{where})"
    ).format(hash=row_hash, rel=rel, where=where)


def _masked(column: str) -> pgsql.Composable:
    words = "|".join(SECRET_WORDS)
    return pgsql.SQL(_MASKED_OPTIONS.replace("{words}", words)).format(col=pgsql.Identifier(column))


# A catalog whose pg_class is at least this large (bytes on disk: no statistics needed;
# ~2,000 tables) is fingerprinted over two connections sharing one snapshot, as it is
# read (read.PARALLEL_MIN_RELATIONS); on a smaller one a second backend costs more.
PARALLEL_MIN_PG_CLASS_BYTES = 4 << 20
# What the second connection sums: about half of the server's time on a large catalog.
SECOND_LANE = frozenset({"pg_class", "pg_depend", *ROLE_SCOPED})


def fingerprint(target: Target) -> str:
    """The fingerprint of ``target``'s catalog: a hex digest, equal only while
    nothing the collector reads has changed. Raises CollectError when the database
    cannot be reached (the caller then takes the full snapshot, which reports it)."""
    url = make_url(target.url)
    params = _connect_params(url, target.connect_timeout)
    try:
        conn: psycopg.Connection[Any] = psycopg.connect(**params)
    except psycopg.Error as exc:
        raise _connect_error(exc, target.shown(), url) from exc
    with conn:
        # One snapshot for the plan and the sums, read-only like every read of driftd.
        _begin(conn, target)
        with contextlib.ExitStack() as stack:
            second = _second_connection(conn, params, target)
            if second is not None:
                stack.enter_context(second)
            names = catalog_names()
            plan = conn.execute(_PLAN, {"names": list(names)}).fetchall()
            records = conn.info.server_version >= 140000
            sums = {
                name: _term(name, whole, columns, records)
                for name, whole, columns in plan
                if name not in ROLE_SCOPED
            }
            scoped = {n: pgsql.SQL(q) for n, q in ROLE_SCOPED.items() if n in names}
            if second is None:
                sums_read, scoped_read = _sums(conn, sums, scoped)
            else:
                sums_read, scoped_read = _sums_on_two(conn, second, sums, scoped)
        conn.execute("COMMIT")
    # The same digest however the work was split: parts in the plan's order.
    parts = [f"{name}={sums_read[name]}" for name in sums]
    parts += _role_sums({n: scoped_read[n] for n in scoped}, target)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _begin(conn: psycopg.Connection[Any], target: Target, snapshot: str | None = None) -> None:
    begin_read_only(conn, snapshot)
    # If driftd stalls mid-read, the server ends the session (and its snapshot) itself.
    timeout = f"{max(1, int(target.statement_timeout * 1000))}ms"
    conn.execute(
        "SELECT set_config('statement_timeout', %s, true),"
        " set_config('idle_in_transaction_session_timeout', %s, true)",
        (timeout, timeout),
    )


_Sums = dict[str, pgsql.Composable]
_Scoped = dict[str, pgsql.SQL]


def _lane(sums: _Sums, scoped: _Scoped, second: bool) -> tuple[_Sums, _Scoped]:
    """The part of the work the second connection does (:data:`SECOND_LANE`), or the rest."""
    return (
        {n: t for n, t in sums.items() if (n in SECOND_LANE) == second},
        {n: q for n, q in scoped.items() if (n in SECOND_LANE) == second},
    )


def _sums(
    conn: psycopg.Connection[Any], sums: _Sums, scoped: _Scoped
) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """Run the sums (one query) and the role-scoped reads on ``conn``."""
    values: dict[str, str] = {}
    if sums:
        query = pgsql.SQL("SELECT ARRAY[{}]").format(pgsql.SQL(", ").join(sums.values()))
        row = conn.execute(query).fetchone()
        values = dict(zip(sums, row[0] if row else [], strict=True))
    return values, {n: conn.execute(q).fetchall() for n, q in scoped.items()}


def _second_connection(
    conn: psycopg.Connection[Any], params: dict[str, Any], target: Target
) -> psycopg.Connection[Any] | None:
    """A second connection in ``conn``'s snapshot (``conn`` has just begun), for a large
    catalog; None when the catalog is small or the server refuses (the first connection
    then does it all)."""
    if target.read_connections < 2:
        return None
    size = conn.execute("SELECT pg_relation_size('pg_catalog.pg_class')").fetchall()[0][0]
    if size < PARALLEL_MIN_PG_CLASS_BYTES:
        return None
    try:  # (not in a savepoint: a subtransaction cannot export its snapshot)
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchall()[0][0]
    except psycopg.Error as exc:  # the transaction is aborted: begin it again
        log.debug("fingerprint on one connection: pg_export_snapshot() failed: %s", exc)
        conn.execute("ROLLBACK")
        _begin(conn, target)
        return None
    return second_connection(params, target, lambda c: _begin(c, target, snapshot), "fingerprint")


def _sums_on_two(
    conn: psycopg.Connection[Any], second: psycopg.Connection[Any], sums: _Sums, scoped: _Scoped
) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """:func:`_sums`, the part in :data:`SECOND_LANE` on ``second`` (on a thread), the
    rest on ``conn`` at the same time."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(_sums(second, *_lane(sums, scoped, True)))
            second.execute("COMMIT")
        except BaseException as exc:  # raised below, on the calling thread
            result.append(exc)

    thread = threading.Thread(target=run, name="driftd-fingerprint2", daemon=True)
    thread.start()
    try:
        values, rows = _sums(conn, *_lane(sums, scoped, False))
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            second.cancel()
        raise
    finally:
        thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    more_values, more_rows = result[0]
    return values | more_values, rows | more_rows


_RoleRow = tuple[list[str], int, int | None, bool]


def _role_sums(scoped: dict[str, list[_RoleRow]], target: Target) -> list[str]:
    wanted: dict[str, bool] = {}  # a role is named in many rows: its globs matched once

    def wants(role: str) -> bool:
        if role not in wanted:
            wanted[role] = target.wants_role(role)
        return wanted[role]

    # The other side of a watched role's membership shows in its member_of.
    related = {
        r
        for roles, *_ in scoped.get("pg_auth_members", [])
        if any(map(wants, roles))
        for r in roles
    }
    parts = []
    for name, rows in scoped.items():
        kept = []
        for roles, whole, name_only, shown in rows:
            if not roles or any(wants(r) for r in roles):
                kept.append(whole)
            elif name_only is not None and (shown or roles[0] in related):
                kept.append(name_only)
        parts.append(f"{name}={len(kept)}:{sum(kept)}")
    return parts
