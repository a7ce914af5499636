"""PostgreSQL collector: the catalog of one database as snapshot objects.

The read is one short ``REPEATABLE READ READ ONLY`` transaction of set-based
queries (one per object kind, never one per table), so its cost grows with the
size of the catalog, not with the number of round trips.

Locks (measured on 15.20): ``pg_get_expr`` with a relation, ``pg_get_indexdef``
and ``pg_get_constraintdef`` of a CHECK take ``AccessShareLock`` on the relation
they deparse, so they wait behind an ``ACCESS EXCLUSIVE`` lock, but release it
at once. ``pg_get_viewdef`` keeps its locks (view and every relation it reads)
until the end of the transaction, so views are deparsed in batches inside a
savepoint that is rolled back: the snapshot stays the same and at most one
batch of locks is held. Everything runs under a low ``lock_timeout``; when it
fires, the error names the table and the session that held the lock. The
transaction ends as soon as the last rows are fetched.

Speed (issue 6, bench/README.md): the queries run on a reader thread while the
calling thread builds the objects of each result as it arrives, so the server
and Python work at the same time; the cyclic garbage collector is paused while
millions of small acyclic containers are made. ACLs come as aclitem text and
are parsed here, and the definitions of primary keys, unique constraints and
foreign keys are written here from server-quoted names: exploding ACLs and
deparsing keys on the server cost more than the rest of a large read.

Output conventions (docs/objects.md): every kind has a fixed set of fields;
absent scalars are ``None``, empty collections are ``{}``/``[]``; things that
are named are dicts keyed by name; privilege lists are sorted; no OIDs,
timestamps of activity, sequence values, statistics or password hashes.
"""

from __future__ import annotations

import functools
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.types.json import set_json_loads

from driftd.canonical import gc_paused
from driftd.collect import Collected, Target
from driftd.errors import CollectError
from driftd.masking import mask

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def make_url(url: str) -> URL:
    """SQLAlchemy's URL parser, imported when first needed (it takes ~0.2 s to import)."""
    from sqlalchemy.engine import make_url as parse

    return parse(url)


Obj = dict[str, Any]
Row = tuple[Any, ...]
Grants = dict[str, list[str]]

# Oldest server whose catalog has everything read here (attgenerated: 12).
MIN_SERVER_VERSION = 120000

# -- SQL building blocks ------------------------------------------------------------------------


def _acl(acl: str, objtype: str | None = None, owner: str | None = None) -> str:
    """SQL for the ACL of one object as ``text[]`` of aclitems (``grantee=arw*/grantor``).

    With ``objtype`` a NULL ACL reads as ``acldefault`` (the owner's implicit
    privileges and PUBLIC's defaults), so ``GRANT x TO bob`` only adds ``bob``
    and a ``REVOKE ... FROM PUBLIC`` on a never-granted object is visible.
    The text is parsed into ``{grantee: [privilege, ...]}`` by :class:`_Acl`:
    exploding and aggregating every ACL into JSON on the server cost twice as
    much server time on a large catalog.
    """
    source = f"coalesce({acl}, acldefault('{objtype}', {owner}))" if objtype else acl
    return f"{source}::text[]"


def _not_member(catalog: str, oid: str, deptypes: str = "'e'") -> str:
    """SQL: the object is not created by an extension (or, with 'i', by another object)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '{catalog}'::regclass"
        f" AND dep.objid = {oid} AND dep.deptype IN ({deptypes}))"
    )


def _comment(catalog: str, oid: str, alias: str = "d") -> str:
    """SQL join for an object's comment (a join is cheaper than obj_description per row)."""
    return (
        f"LEFT JOIN pg_description {alias} ON {alias}.objoid = {oid}"
        f" AND {alias}.classoid = '{catalog}'::regclass AND {alias}.objsubid = 0"
    )


def _collation(oid: str) -> str:
    """SQL: a collation as ``schema.name``."""
    return (
        "(SELECT cn.nspname || '.' || co.collname FROM pg_collation co"
        f" JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = {oid})"
    )


def _proc(col: str) -> str:
    """SQL: a function reference as ``schema.name(argtypes)``, NULL when unset."""
    return f"NULLIF({col}::oid, 0)::regprocedure::text"


# -- one query per kind -------------------------------------------------------------------------
# Lock-free queries first; the ones whose functions wait for AccessShareLock (marked
# "Locks:") come last.

# The letters of aclitem text and the privilege each stands for, from the server itself (so
# a privilege a later version adds is known): every privilege an owner can hold on the kinds
# of object read here, written as a one-privilege aclitem granted to PUBLIC ("=r/owner").
PRIVILEGES_SQL = """
SELECT DISTINCT substr(makeaclitem(0, x.grantor, x.privilege_type, false)::text, 2, 1),
       x.privilege_type
FROM unnest('{r,s,f,T,n,d}'::"char"[]) AS o(objtype), aclexplode(acldefault(o.objtype, 10)) x
"""

SERVER_SQL = "SELECT current_setting('server_version'), current_setting('server_version_num')::int"

DATABASE_SQL = f"""
SELECT db.datname, pg_get_userbyid(db.datdba), pg_encoding_to_char(db.encoding),
       db.datcollate, db.datctype, {_acl("db.datacl", "d", "db.datdba")},
       sd.description
FROM pg_database db
LEFT JOIN pg_shdescription sd ON sd.objoid = db.oid AND sd.classoid = 'pg_database'::regclass
WHERE db.datname = current_database()
"""

# setrole = 0: ALTER DATABASE SET; otherwise ALTER ROLE ... IN DATABASE ... SET.
DB_ROLE_SETTINGS_SQL = """
SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END, s.setconfig
FROM pg_db_role_setting s JOIN pg_database db ON db.oid = s.setdatabase
WHERE db.datname = current_database()
"""

# The stored ACL as is: per-schema entries add to the global ones, global ones replace
# the built-in defaults, so neither is expanded.
DEFAULT_ACL_SQL = f"""
SELECT pg_get_userbyid(a.defaclrole), a.defaclnamespace, a.defaclobjtype, {_acl("a.defaclacl")}
FROM pg_default_acl a
"""

# Memberships are aggregated once and joined, not looked up per role (pg_auth_members
# is scanned whole by a correlated subquery: quadratic with a thousand roles).
ROLES_SQL = """
SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolcanlogin, r.rolreplication,
       r.rolbypassrls, r.rolinherit, r.rolconnlimit,
       CASE WHEN isfinite(r.rolvaliduntil) THEN r.rolvaliduntil AT TIME ZONE 'UTC' END,
       CASE WHEN NOT isfinite(r.rolvaliduntil) THEN r.rolvaliduntil::text END,
       r.rolconfig, m.groups, sd.description
FROM pg_roles r
LEFT JOIN pg_shdescription sd ON sd.objoid = r.oid AND sd.classoid = 'pg_authid'::regclass
LEFT JOIN (
  SELECT am.member, json_object_agg(g.rolname, am.admin) AS groups
  FROM (SELECT member, roleid, bool_or(admin_option) AS admin
        FROM pg_auth_members GROUP BY member, roleid) am
  JOIN pg_roles g ON g.oid = am.roleid
  GROUP BY am.member) m ON m.member = r.oid
"""

# Parameters set on purpose; current_setting() shows the value with its unit.
SETTINGS_SQL = """
SELECT s.name, current_setting(s.name), s.source FROM pg_settings s
WHERE s.source IN ('configuration file', 'command line', 'environment variable')
"""

EXTENSIONS_SQL = """
SELECT e.extname, e.extversion, n.nspname
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
"""

SCHEMAS_SQL = f"""
SELECT n.oid, n.nspname, pg_get_userbyid(n.nspowner), {_acl("n.nspacl", "n", "n.nspowner")},
       d.description
FROM pg_namespace n {_comment("pg_namespace", "n.oid")}
WHERE {_not_member("pg_namespace", "n.oid")}
"""

_AGGREGATE_JSON = f"""json_build_object(
  'kind', CASE a.aggkind WHEN 'n' THEN 'normal' WHEN 'o' THEN 'ordered-set'
          ELSE 'hypothetical' END,
  'direct_args', a.aggnumdirectargs,
  'sfunc', {_proc("a.aggtransfn")},
  'stype', format_type(a.aggtranstype, NULL),
  'sspace', a.aggtransspace,
  'finalfunc', {_proc("a.aggfinalfn")},
  'finalfunc_extra', a.aggfinalextra,
  'finalfunc_modify', CASE a.aggfinalmodify WHEN 'r' THEN 'read_only' WHEN 's' THEN 'shareable'
                      ELSE 'read_write' END,
  'combinefunc', {_proc("a.aggcombinefn")},
  'serialfunc', {_proc("a.aggserialfn")},
  'deserialfunc', {_proc("a.aggdeserialfn")},
  'initcond', a.agginitval,
  'msfunc', {_proc("a.aggmtransfn")},
  'minvfunc', {_proc("a.aggminvtransfn")},
  'mstype', CASE WHEN a.aggmtranstype <> 0 THEN format_type(a.aggmtranstype, NULL) END,
  'msspace', a.aggmtransspace,
  'mfinalfunc', {_proc("a.aggmfinalfn")},
  'mfinalfunc_extra', a.aggmfinalextra,
  'mfinalfunc_modify', CASE a.aggmfinalmodify WHEN 'r' THEN 'read_only'
                       WHEN 's' THEN 'shareable' ELSE 'read_write' END,
  'minitcond', a.aggminitval,
  'sortop', CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::regoperator::text END)"""

# deptype 'i': range/multirange constructors and the like belong to their type.
FUNCTIONS_SQL = f"""
SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind,
       pg_get_function_result(p.oid), l.lanname,
       CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END,
       CASE WHEN p.prokind = 'a' THEN
         (SELECT {_AGGREGATE_JSON} FROM pg_aggregate a WHERE a.aggfnoid = p.oid) END,
       p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof, p.proparallel, p.proconfig,
       pg_get_userbyid(p.proowner), {_acl("p.proacl", "f", "p.proowner")}, d.description
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
{_comment("pg_proc", "p.oid")}
WHERE p.pronamespace = ANY(%(nsp)s::oid[]) AND {_not_member("pg_proc", "p.oid", "'e', 'i'")}
"""

# Enum, domain, composite (standalone only: not a table's row type) and range types.
# Array and multirange types are typtype 'b'/'m' and so never selected.
TYPES_SQL = f"""
SELECT n.nspname, t.typname, t.typtype, pg_get_userbyid(t.typowner),
       {_acl("t.typacl", "T", "t.typowner")}, d.description,
       CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                                            WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
       END,
       CASE WHEN t.typtype = 'd' THEN json_build_object(
         'base_type', format_type(t.typbasetype, t.typtypmod),
         'not_null', t.typnotnull,
         'default', pg_get_expr(t.typdefaultbin, 0),
         'collation', CASE WHEN t.typcollation <> bt.typcollation
                      THEN {_collation("t.typcollation")} END,
         'constraints', coalesce((SELECT json_object_agg(c.conname, pg_get_constraintdef(c.oid))
                                  FROM pg_constraint c WHERE c.contypid = t.oid), '{{}}'))
       END,
       CASE WHEN t.typtype = 'c' THEN coalesce((
         SELECT json_object_agg(at.attname, json_build_object(
                  'type', at.type, 'collation', at.collation, 'position', at.position))
         FROM (SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type,
                      CASE WHEN a.attcollation <> att.typcollation
                           THEN {_collation("a.attcollation")} END AS collation,
                      row_number() OVER (ORDER BY a.attnum) AS position
               FROM pg_attribute a JOIN pg_type att ON att.oid = a.atttypid
               WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) at),
         '{{}}')
       END,
       CASE WHEN t.typtype = 'r' THEN (
         SELECT json_build_object(
           'subtype', format_type(r.rngsubtype, NULL),
           'subtype_opclass', (SELECT on_.nspname || '.' || oc.opcname FROM pg_opclass oc
                               JOIN pg_namespace on_ ON on_.oid = oc.opcnamespace
                               WHERE oc.oid = r.rngsubopc),
           'collation', CASE WHEN r.rngcollation <> 0 THEN {_collation("r.rngcollation")} END,
           'canonical', {_proc("r.rngcanonical")},
           'subtype_diff', {_proc("r.rngsubdiff")})
         FROM pg_range r WHERE r.rngtypid = t.oid)
       END
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
{_comment("pg_type", "t.oid")}
WHERE t.typnamespace = ANY(%(nsp)s::oid[]) AND t.typtype IN ('e', 'd', 'c', 'r')
  AND (t.typtype <> 'c'
       OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
  AND {_not_member("pg_type", "t.oid")}
"""

# deptype 'i': identity-column sequences belong to their column.
SEQUENCES_SQL = f"""
SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
       s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
       (SELECT tn.nspname || '.' || tc.relname || '.' || ta.attname
        FROM pg_depend o
        JOIN pg_class tc ON tc.oid = o.refobjid
        JOIN pg_namespace tn ON tn.oid = tc.relnamespace
        JOIN pg_attribute ta ON ta.attrelid = tc.oid AND ta.attnum = o.refobjsubid
        WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid
          AND o.refclassid = 'pg_class'::regclass AND o.deptype = 'a' AND o.refobjsubid > 0
        ORDER BY 1 LIMIT 1),
       pg_get_userbyid(c.relowner), {_acl("c.relacl", "s", "c.relowner")}, d.description
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
{_comment("pg_class", "c.oid")}
WHERE c.relnamespace = ANY(%(nsp)s::oid[]) AND {_not_member("pg_class", "c.oid", "'e', 'i'")}
"""

# pg_get_triggerdef does not lock. Triggers cloned onto partitions are not internal
# (PostgreSQL 15+): they show on each partition, where they can be disabled alone.
TRIGGERS_SQL = """
SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = ANY(%(nsp)s::oid[]) AND NOT t.tgisinternal
"""

# Locks: pg_get_expr(relpartbound) of partitions.
TABLES_SQL = f"""
SELECT c.oid, n.nspname, c.relname, pg_get_userbyid(c.relowner), c.relpersistence,
       c.relrowsecurity, c.relforcerowsecurity, d.description, c.reloptions,
       {_acl("c.relacl", "r", "c.relowner")},
       pt.partstrat, CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
       c.relispartition, CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
       ARRAY(SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i
             JOIN pg_class pc ON pc.oid = i.inhparent
             JOIN pg_namespace pn ON pn.oid = pc.relnamespace
             WHERE i.inhrelid = c.oid ORDER BY i.inhseqno),
       c.relkind = 'f', fs.srvname, ft.ftoptions
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
{_comment("pg_class", "c.oid")}
WHERE c.relnamespace = ANY(%(nsp)s::oid[]) AND c.relkind IN ('r', 'p', 'f')
  AND {_not_member("pg_class", "c.oid")}
"""

VIEWS_SQL = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner),
       d.description, c.reloptions,
       {_acl("c.relacl", "r", "c.relowner")}
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
{_comment("pg_class", "c.oid")}
WHERE c.relnamespace = ANY(%(nsp)s::oid[]) AND c.relkind IN ('v', 'm')
  AND {_not_member("pg_class", "c.oid")}
"""

# Unlike the functions above, pg_get_viewdef keeps the AccessShareLocks it takes (on the
# view and every relation it reads) until the end of the transaction: it runs on batches
# of views, each inside a savepoint that is rolled back to let go of those locks.
VIEW_DEFINITIONS_SQL = """
SELECT c.oid, pg_get_viewdef(c.oid, true) FROM pg_class c WHERE c.oid = ANY(%(rel)s::oid[])
"""
VIEW_BATCH = 200

# Columns of every table and view at once (of a view, only those with a comment or
# grants: nothing else of them is shown). A default cannot refer to a column, so it is
# deparsed without its relation (relid 0): no lock, and much faster on 100k columns.
# The quoted names of table columns are for the key definitions (FAST_KEY_DEFINITIONS).
# Locks: pg_get_expr of generation expressions (STRICT: only columns that have one).
COLUMNS_SQL = f"""
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, 0) END,
       a.attidentity,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
       CASE WHEN a.attcollation <> t.typcollation THEN {_collation("a.attcollation")} END,
       d.description,
       {_acl("a.attacl")},
       a.attnum, CASE WHEN c.relkind IN ('r', 'p') THEN quote_ident(a.attname) END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_description d ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass
                          AND d.objsubid = a.attnum
WHERE c.relnamespace = ANY(%(nsp)s::oid[]) AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND a.attnum > 0 AND NOT a.attisdropped
  AND (c.relkind IN ('r', 'p', 'f') OR d.description IS NOT NULL OR a.attacl IS NOT NULL)
"""

# PostgreSQL versions whose pg_get_constraintdef output for primary keys, unique
# constraints and foreign keys the builder reproduces (ruleutils.c; 17 adds PERIOD and
# WITHOUT OVERLAPS, 18 NOT ENFORCED): there it writes those itself from the quoted
# column and table names, which costs the server ~20x less than deparsing 16k keys.
FAST_KEY_DEFINITIONS = range(120000, 170000)


@functools.cache
def _constraints_sql(version_num: int) -> str:
    """Constraints of wanted tables; definitions the builder can write are left to it.

    Constraint triggers are listed under triggers. A foreign key that references a
    partitioned table gets one clone per referenced partition on the same table: those
    are internal bookkeeping of the parent constraint and are left out.
    Locks: pg_get_constraintdef of CHECK constraints.
    """
    if version_num in FAST_KEY_DEFINITIONS:
        v15 = version_num >= 150000
        fast = f"""coalesce(
          (co.contype IN ('p', 'u') AND ci.indnatts = ci.indnkeyatts
           {"AND NOT ci.indnullsnotdistinct" if v15 else ""})
          OR (co.contype = 'f' AND fc.relnamespace = ANY(%(nsp)s::oid[])
              AND fc.relkind IN ('r', 'p') AND co.confmatchtype IN ('f', 'p', 's')
              AND co.confupdtype IN ('a', 'r', 'c', 'n', 'd')
              AND co.confdeltype IN ('a', 'r', 'c', 'n', 'd')
              {"AND co.confdelsetcols IS NULL" if v15 else ""}),
          false)"""
    else:
        fast = "false"
    return f"""
SELECT co.conrelid, co.conname, co.contype,
       CASE WHEN NOT f.fast THEN pg_get_constraintdef(co.oid) END,
       co.condeferrable, co.condeferred, co.convalidated, f.fast,
       co.conkey, co.confrelid, co.confkey, co.confmatchtype, co.confupdtype, co.confdeltype,
       quote_ident(fn.nspname) || '.' || quote_ident(fc.relname)
FROM pg_constraint co
LEFT JOIN pg_index ci ON ci.indexrelid = co.conindid AND co.contype IN ('p', 'u')
LEFT JOIN pg_class fc ON fc.oid = co.confrelid AND co.contype = 'f'
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
CROSS JOIN LATERAL (SELECT {fast} AS fast) f
WHERE co.connamespace = ANY(%(nsp)s::oid[]) AND co.conrelid <> 0 AND co.contype <> 't'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint pc
                  WHERE pc.oid = co.conparentid AND pc.conrelid = co.conrelid)
"""


# Indexes that implement a primary key, unique or exclusion constraint are shown
# under constraints. Locks: pg_get_indexdef.
INDEXES_SQL = """
SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE ic.relnamespace = ANY(%(nsp)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co
                  WHERE co.conrelid = i.indrelid AND co.conindid = i.indexrelid
                    AND co.contype IN ('p', 'u', 'x'))
"""

# pg_policy rather than the pg_policies view (same lock, fewer joins).
# Locks: pg_get_expr of USING / WITH CHECK.
POLICIES_SQL = """
SELECT p.polrelid, p.polname, p.polcmd, p.polpermissive,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r.oid) END
             FROM unnest(p.polroles) AS r(oid)),
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
WHERE c.relnamespace = ANY(%(nsp)s::oid[])
"""

# Who holds an ACCESS EXCLUSIVE lock on a relation of this database (run on a fresh
# connection after lock_timeout fired).
LOCK_HOLDERS_SQL = """
SELECT n.nspname, c.relname, c.relkind, l.pid, a.usename, a.application_name,
       extract(epoch FROM now() - a.xact_start)::float8, a.query
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.pid IS DISTINCT FROM pg_backend_pid()
ORDER BY a.xact_start NULLS LAST, l.pid, n.nspname, c.relname
"""

# -- code → word maps ---------------------------------------------------------------------------

PERSISTENCE = {"p": "permanent", "u": "unlogged", "t": "temporary"}
PARTITION_STRATEGY = {"r": "range", "l": "list", "h": "hash"}
IDENTITY = {"": None, "a": "always", "d": "by default"}
CONSTRAINT_TYPE = {
    "p": "primary_key",
    "u": "unique",
    "f": "foreign_key",
    "c": "check",
    "x": "exclusion",
    "n": "not_null",  # PostgreSQL 18+
}
FK_MATCH = {"f": " MATCH FULL", "p": " MATCH PARTIAL", "s": ""}
FK_ACTION = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
TRIGGER_ENABLED = {"O": "origin", "D": "disabled", "R": "replica", "A": "always"}
POLICY_COMMAND = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
FUNCTION_KIND = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}
VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}
PARALLEL = {"s": "safe", "r": "restricted", "u": "unsafe"}
TYPE_KIND = {"e": "enum", "d": "domain", "c": "composite", "r": "range"}
DEFAULT_ACL_OBJECTS = {
    "r": "tables",
    "S": "sequences",
    "f": "functions",
    "T": "types",
    "n": "schemas",
}
RELKIND_WORD = {
    "r": "table",
    "p": "table",
    "f": "foreign table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "i": "index",
    "I": "index",
}

# -- reading ------------------------------------------------------------------------------------
# The queries run on a reader thread, the objects are built on the calling thread as the
# rows of each query arrive: the server computes the next query while Python converts and
# builds the previous one (waiting on the server releases the GIL), so on a large catalog
# building costs almost no wall time on top of the queries.

# A query's rows: already fetched, or an executed cursor whose rows the builder fetches.
_Payload = list[Row] | psycopg.Cursor[Row]


def collect(target: Target, busy: Callable[[], None] | None = None) -> Collected:
    """Read the catalog of ``target`` (a PostgreSQL database) into snapshot objects.

    ``busy`` is called once, on this thread, when the tables are built and the
    server is on the long queries: other work started then (snapshot.py parses
    the baseline) runs while the server does, not before it starts.
    """
    where = _display_url(target)
    try:
        url = make_url(target.url)
    except Exception:  # ArgumentError, ValueError: the message may hold the password
        raise CollectError(
            f"the database URL of environment {target.environment} cannot be parsed",
            "use the form postgresql+psycopg://user@host:5432/dbname",
        ) from None
    params = _connect_params(url, target.connect_timeout)
    try:
        conn = psycopg.connect(**params)
    except psycopg.Error as exc:
        raise _connect_error(exc, where, url) from exc
    try:
        builder = _read_and_build(conn, target, busy)
    except psycopg.errors.LockNotAvailable as exc:
        # Close first: that rolls back and releases our locks before we go looking.
        conn.close()
        raise _lock_error(params, target) from exc
    except psycopg.Error as exc:
        raise _read_error(exc, target, where) from exc
    finally:
        conn.close()
    return Collected(
        engine={"dialect": "postgresql", "server_version": builder.server_version},
        objects=builder.objects,
    )


def _display_url(target: Target) -> str:
    if target.display_url:
        return target.display_url
    try:
        return make_url(target.url).render_as_string(hide_password=True)
    except Exception:
        return f"<environment {target.environment}>"


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


def _queries(conn: psycopg.Connection[Row], target: Target) -> Iterator[tuple[str, _Payload]]:
    """Run every catalog query in one read-only repeatable-read transaction, in order.

    Yields ``(name, rows or executed cursor)`` per query (view definitions come in
    batches). The transaction is committed after the last one: its locks are
    held no longer than the queries take.
    """
    set_json_loads(orjson.loads, conn)
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    statement_ms = _ms(target.statement_timeout)
    for name, value in (
        ("statement_timeout", statement_ms),
        ("lock_timeout", _ms(target.lock_timeout)),
        # If driftd itself stalls mid-read, the server ends the session and its locks.
        ("idle_in_transaction_session_timeout", statement_ms),
    ):
        conn.execute(sql.SQL("SET LOCAL {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    # format_type, regprocedure and pg_get_*def qualify every name outside pg_catalog.
    conn.execute("SET LOCAL search_path = pg_catalog")
    # The planner's cost of a 10k-table catalog query crosses jit_above_cost; compiling
    # it takes longer (~1 s each) than running it.
    conn.execute("SET LOCAL jit = off")

    def q(query: str, **params: Any) -> psycopg.Cursor[Row]:
        return conn.execute(query, params or None)

    version, version_num = q(SERVER_SQL).fetchall()[0]
    if version_num < MIN_SERVER_VERSION:
        raise CollectError(
            f"PostgreSQL {version} is too old for driftd",
            "driftd reads PostgreSQL 12 and newer",
        )
    yield "server", [(version.split()[0],)]
    schemas = [r for r in q(SCHEMAS_SQL).fetchall() if target.wants_schema(r[1])]
    nsp = [r[0] for r in schemas]
    yield "privileges", q(PRIVILEGES_SQL)
    yield "schemas", schemas
    yield "database", q(DATABASE_SQL)
    yield "db_role_settings", q(DB_ROLE_SETTINGS_SQL)
    yield "default_acls", q(DEFAULT_ACL_SQL)
    yield "roles", q(ROLES_SQL)
    yield "settings", q(SETTINGS_SQL)
    yield "extensions", q(EXTENSIONS_SQL)
    yield "functions", q(FUNCTIONS_SQL, nsp=nsp)
    yield "types", q(TYPES_SQL, nsp=nsp)
    yield "sequences", q(SEQUENCES_SQL, nsp=nsp)
    yield "triggers", q(TRIGGERS_SQL, nsp=nsp)
    # From here on the queries may wait for locks (lock_timeout applies).
    yield "tables", q(TABLES_SQL, nsp=nsp)
    views = q(VIEWS_SQL, nsp=nsp).fetchall()
    yield "views", views
    yield "columns", q(COLUMNS_SQL, nsp=nsp)
    yield "constraints", q(_constraints_sql(version_num), nsp=nsp)
    yield "indexes", q(INDEXES_SQL, nsp=nsp)
    yield "policies", q(POLICIES_SQL, nsp=nsp)
    view_oids = [r[0] for r in views]
    for start in range(0, len(view_oids), VIEW_BATCH):
        conn.execute("SAVEPOINT driftd_views")
        yield "view_definitions", q(VIEW_DEFINITIONS_SQL, rel=view_oids[start : start + VIEW_BATCH])
        conn.execute("ROLLBACK TO SAVEPOINT driftd_views")  # releases this batch's locks
    conn.execute("COMMIT")


def _read_and_build(
    conn: psycopg.Connection[Row], target: Target, busy: Callable[[], None] | None = None
) -> _Builder:
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
    builder = _Builder(target)
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


@dataclass
class _Rows:
    """Every query's rows, fetched in one pass without building anything (bench/floor.py)."""

    server_version: str = ""
    privileges: list[Row] = field(default_factory=list)
    schemas: list[Row] = field(default_factory=list)
    database: list[Row] = field(default_factory=list)
    db_role_settings: list[Row] = field(default_factory=list)
    default_acls: list[Row] = field(default_factory=list)
    roles: list[Row] = field(default_factory=list)
    settings: list[Row] = field(default_factory=list)
    extensions: list[Row] = field(default_factory=list)
    functions: list[Row] = field(default_factory=list)
    types: list[Row] = field(default_factory=list)
    sequences: list[Row] = field(default_factory=list)
    triggers: list[Row] = field(default_factory=list)
    tables: list[Row] = field(default_factory=list)
    views: list[Row] = field(default_factory=list)
    columns: list[Row] = field(default_factory=list)
    constraints: list[Row] = field(default_factory=list)
    indexes: list[Row] = field(default_factory=list)
    policies: list[Row] = field(default_factory=list)
    view_definitions: list[Row] = field(default_factory=list)


def _read(conn: psycopg.Connection[Row], target: Target) -> _Rows:
    """The read phase alone: every query run and every row fetched, nothing built."""
    rows = _Rows()
    for name, payload in _queries(conn, target):
        fetched = payload if isinstance(payload, list) else payload.fetchall()
        if name == "server":
            rows.server_version = fetched[0][0]
        else:
            getattr(rows, name).extend(fetched)
    return rows


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


# -- building objects ---------------------------------------------------------------------------

DefaultPrivileges = dict[str, dict[str, Grants]]  # {role: {"tables": {grantee: [...]}}}


class _Builder:
    """Turns each query's rows into snapshot objects as soon as what they need has arrived.

    Results come in the order of :func:`_queries`. Triggers wait for the tables
    and views they belong to; a view's definition is filled in when its batch
    arrives (the batches are read last, to hold their locks briefly).
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.server_version = ""
        self.objects: dict[str, Obj] = {}
        self.acl = _Acl({})
        self.schemas: list[Row] = []
        self.database: Row = ()
        self.db_role_settings: list[Row] = []
        self.relations: dict[int, Obj] = {}  # tables, views and materialized views by OID
        self.views: dict[int, Obj] = {}
        self.triggers: list[Row] = []
        # Quoted column names by table OID and attnum, for the key definitions the
        # builder writes (see FAST_KEY_DEFINITIONS).
        self.quoted: dict[int, dict[int, str]] = {}

    def add(self, name: str, rows: list[Row]) -> None:
        # Dispatch by name (not a dict of bound methods on self: that would be a
        # reference cycle, leaving every object to the cyclic collector to free).
        step: Callable[[list[Row]], None] = getattr(self, f"_{name}")
        step(rows)

    def _server(self, rows: list[Row]) -> None:
        self.server_version = rows[0][0]

    def _privileges(self, rows: list[Row]) -> None:
        self.acl = _Acl({letter: privilege for letter, privilege in rows})

    def _schemas(self, rows: list[Row]) -> None:
        self.schemas = rows

    def _database(self, rows: list[Row]) -> None:
        self.database = rows[0]

    def _db_role_settings(self, rows: list[Row]) -> None:
        self.db_role_settings = rows

    def _default_acls(self, rows: list[Row]) -> None:
        """Default privileges complete the database and the schemas: build those now."""
        global_defaults, schema_defaults = self._default_privileges(rows)
        self._build_database(global_defaults)
        grants = self.acl.grants
        for oid, name, owner, acl, comment in self.schemas:
            self.objects[f"schema:{name}"] = {
                "owner": owner,
                "comment": comment,
                "grants": grants(acl),
                "default_privileges": schema_defaults.get(oid, {}),
            }

    def _default_privileges(
        self, rows: list[Row]
    ) -> tuple[DefaultPrivileges, dict[int, DefaultPrivileges]]:
        """Global default privileges, and those of each wanted schema by schema OID."""
        wanted = {r[0] for r in self.schemas}
        global_: DefaultPrivileges = {}
        per_schema: dict[int, DefaultPrivileges] = {}
        for role, nsp, objtype, acl in rows:
            if nsp == 0:
                into = global_
            elif nsp in wanted:
                into = per_schema.setdefault(nsp, {})
            else:
                continue
            into.setdefault(role, {})[DEFAULT_ACL_OBJECTS[objtype]] = self.acl.grants(acl)
        return global_, per_schema

    def _build_database(self, default_privileges: DefaultPrivileges) -> None:
        name, owner, encoding, collation, ctype, acl, comment = self.database
        settings: dict[str, str] = {}
        role_settings: dict[str, dict[str, str]] = {}
        for role, config in self.db_role_settings:
            if role is None:
                settings = _config(config)
            elif self.target.wants_role(role):
                role_settings[role] = _config(config)
        self.objects[f"database:{name}"] = {
            "owner": owner,
            "encoding": encoding,
            "collation": collation,
            "ctype": ctype,
            "grants": self.acl.grants(acl),
            "settings": settings,
            "role_settings": role_settings,
            "default_privileges": default_privileges,
            "comment": comment,
        }

    def _roles(self, rows: list[Row]) -> None:
        wants_role = self.target.wants_role
        for (
            name,
            superuser,
            createdb,
            createrole,
            login,
            replication,
            bypassrls,
            inherit,
            connection_limit,
            valid_until,
            valid_until_special,
            config,
            member_of,
            comment,
        ) in rows:
            if not wants_role(name):
                continue
            self.objects[f"role:{name}"] = {
                "superuser": superuser,
                "createdb": createdb,
                "createrole": createrole,
                "login": login,
                "replication": replication,
                "bypassrls": bypassrls,
                "inherit": inherit,
                "connection_limit": connection_limit,
                # UTC, so the value does not depend on the session's TimeZone.
                "valid_until": (
                    valid_until.isoformat() + "Z" if valid_until else valid_until_special
                ),
                "config": _config(config),
                "member_of": {g: {"admin_option": a} for g, a in (member_of or {}).items()},
                "comment": comment,
            }

    def _settings(self, rows: list[Row]) -> None:
        for name, value, source in rows:
            self.objects[f"setting:{name}"] = {"value": value, "source": source}

    def _extensions(self, rows: list[Row]) -> None:
        for name, version, schema in rows:
            self.objects[f"extension:{name}"] = {"version": version, "schema": schema}

    def _functions(self, rows: list[Row]) -> None:
        grants = self.acl.grants
        for (
            schema,
            name,
            args,
            kind,
            returns,
            language,
            definition,
            aggregate,
            volatility,
            strict,
            secdef,
            leakproof,
            parallel,
            config,
            owner,
            acl,
            comment,
        ) in rows:
            self.objects[f"function:{schema}.{name}({args})"] = {
                "kind": FUNCTION_KIND[kind],
                "returns": returns,
                "language": language,
                "definition": aggregate if kind == "a" else definition,
                "volatility": VOLATILITY[volatility],
                "strict": strict,
                "security_definer": secdef,
                "leakproof": leakproof,
                "parallel": PARALLEL[parallel],
                "config": _config(config),
                "owner": owner,
                "grants": grants(acl),
                "comment": comment,
            }

    def _types(self, rows: list[Row]) -> None:
        for schema, name, typtype, owner, acl, comment, labels, domain, attributes, rng in rows:
            obj: Obj = {"kind": TYPE_KIND[typtype]}
            if typtype == "e":
                obj["labels"] = labels
            elif typtype == "d":
                obj.update(domain)
            elif typtype == "c":
                obj["attributes"] = attributes
            else:
                obj.update(rng)
            obj.update(owner=owner, grants=self.acl.grants(acl), comment=comment)
            self.objects[f"type:{schema}.{name}"] = obj

    def _sequences(self, rows: list[Row]) -> None:
        grants = self.acl.grants
        for (
            schema,
            name,
            data_type,
            start,
            increment,
            minimum,
            maximum,
            cache,
            cycle,
            owned_by,
            owner,
            acl,
            comment,
        ) in rows:
            self.objects[f"sequence:{schema}.{name}"] = {
                "data_type": data_type,
                "start": start,
                "increment": increment,
                "min": minimum,
                "max": maximum,
                "cache": cache,
                "cycle": cycle,
                "owned_by": owned_by,
                "owner": owner,
                "grants": grants(acl),
                "comment": comment,
            }

    def _triggers(self, rows: list[Row]) -> None:
        self.triggers = rows  # attached once the views (the last relations) are built

    def _tables(self, rows: list[Row]) -> None:
        objects, relations, grants = self.objects, self.relations, self.acl.grants
        for (
            oid,
            schema,
            name,
            owner,
            persistence,
            rls,
            rls_forced,
            comment,
            options,
            acl,
            strategy,
            partkey,
            is_partition,
            bound,
            parents,
            is_foreign,
            server,
            foreign_options,
        ) in rows:
            obj: Obj = {
                "owner": owner,
                "persistence": PERSISTENCE[persistence],
                "partitioning": (
                    {"strategy": PARTITION_STRATEGY[strategy], "key": partkey} if strategy else None
                ),
                # A partition's parent is its partition_of, not an inheritance parent.
                "partition_of": {"parent": parents[0], "bound": bound} if is_partition else None,
                "inherits": [] if is_partition else parents,
                "rls": {"enabled": rls, "forced": rls_forced},
                "comment": comment,
                "columns": {},
                "constraints": {},
                "indexes": {},
                "triggers": {},
                "policies": {},
                "grants": grants(acl),
                "column_grants": {},
                "options": _config(options),
            }
            if is_foreign:
                obj["foreign_server"] = server
                obj["foreign_options"] = _config(foreign_options)
            objects[f"table:{schema}.{name}"] = relations[oid] = obj

    def _views(self, rows: list[Row]) -> None:
        for oid, schema, name, relkind, owner, comment, options, acl in rows:
            obj: Obj = {
                "definition": None,  # filled in by _view_definitions
                "owner": owner,
                "grants": self.acl.grants(acl),
                "comment": comment,
                "options": _config(options),
                "column_comments": {},
                "column_grants": {},
            }
            if relkind == "m":
                obj["indexes"] = {}
                self.objects[f"materialized_view:{schema}.{name}"] = obj
            else:
                obj["triggers"] = {}  # INSTEAD OF triggers
                self.objects[f"view:{schema}.{name}"] = obj
            self.relations[oid] = self.views[oid] = obj
        # Rows whose relation is not in ``relations`` (an extension's table, a TOAST
        # table) are dropped here and below rather than filtered in every query.
        for relid, name, definition, enabled in self.triggers:
            rel = self.relations.get(relid)
            if rel is not None and "triggers" in rel:
                rel["triggers"][name] = {
                    "definition": definition,
                    "enabled": TRIGGER_ENABLED[enabled],
                }
        self.triggers = []

    def _view_definitions(self, rows: list[Row]) -> None:
        for oid, definition in rows:
            view = self.views.get(oid)
            if view is not None:
                view["definition"] = definition.strip() if definition else definition

    def _columns(self, rows: list[Row]) -> None:
        relations, grants, quoted_names = self.relations, self.acl.grants, self.quoted
        for (
            relid,
            name,
            typ,
            nullable,
            default,
            identity,
            generated,
            coll,
            comment,
            acl,
            attnum,
            quoted,
        ) in rows:
            if quoted is not None:  # a table's column (also an extension's: keys may refer to it)
                by_attnum = quoted_names.get(relid)
                if by_attnum is None:
                    by_attnum = quoted_names[relid] = {}
                by_attnum[attnum] = quoted
            rel = relations.get(relid)
            if rel is None:
                continue
            if acl:  # a revoked column ACL is an empty array: nothing to show
                rel["column_grants"][name] = grants(acl)
            if "columns" in rel:
                rel["columns"][name] = {
                    "type": typ,
                    "nullable": nullable,
                    "default": default,
                    "identity": IDENTITY[identity],
                    "generated": generated,
                    "collation": coll,
                    "comment": comment,
                }
            elif comment is not None:
                rel["column_comments"][name] = comment

    def _constraints(self, rows: list[Row]) -> None:
        relations = self.relations
        for (
            relid,
            name,
            contype,
            definition,
            deferrable,
            deferred,
            validated,
            fast,
            conkey,
            confrelid,
            confkey,
            match,
            on_update,
            on_delete,
            referenced,
        ) in rows:
            rel = relations.get(relid)
            if rel is not None and "constraints" in rel:
                if fast:
                    definition = self._key_definition(
                        relid,
                        contype,
                        conkey,
                        (confrelid, referenced, confkey),
                        match,
                        on_update,
                        on_delete,
                    )
                    definition += (
                        (" DEFERRABLE" if deferrable else "")
                        + (" INITIALLY DEFERRED" if deferred else "")
                        + ("" if validated else " NOT VALID")
                    )
                rel["constraints"][name] = {
                    "type": CONSTRAINT_TYPE.get(contype, contype),
                    "definition": definition,
                    "deferrable": deferrable,
                    "deferred": deferred,
                    "validated": validated,
                }
        self.quoted = {}

    def _key_definition(
        self,
        relid: int,
        contype: str,
        conkey: list[int],
        foreign: tuple[int, str, list[int]],  # the referenced table: OID, quoted name, columns
        match: str,
        on_update: str,
        on_delete: str,
    ) -> str:
        """What pg_get_constraintdef says of a primary key, unique constraint or foreign key."""
        columns = ", ".join(self.quoted[relid][n] for n in conkey)
        if contype == "p":
            return f"PRIMARY KEY ({columns})"
        if contype == "u":
            return f"UNIQUE ({columns})"
        confrelid, table, confkey = foreign
        referenced = ", ".join(self.quoted[confrelid][n] for n in confkey)
        out = f"FOREIGN KEY ({columns}) REFERENCES {table}({referenced})"
        out += FK_MATCH[match]
        if on_update != "a":
            out += f" ON UPDATE {FK_ACTION[on_update]}"
        if on_delete != "a":
            out += f" ON DELETE {FK_ACTION[on_delete]}"
        return out

    def _indexes(self, rows: list[Row]) -> None:
        relations = self.relations
        for relid, name, definition, unique in rows:
            rel = relations.get(relid)
            if rel is not None and "indexes" in rel:
                rel["indexes"][name] = {"definition": definition, "unique": unique}

    def _policies(self, rows: list[Row]) -> None:
        relations = self.relations
        for relid, name, command, permissive, roles, using, with_check in rows:
            rel = relations.get(relid)
            if rel is not None and "policies" in rel:
                rel["policies"][name] = {
                    "command": POLICY_COMMAND[command],
                    "permissive": permissive,
                    "roles": sorted(roles),
                    "using": using,
                    "with_check": with_check,
                }


class _Acl:
    """ACLs as aclitem text (``grantee=arw*/grantor``) into ``{grantee: [privilege, ...]}``.

    ``letters`` maps each privilege letter to its name (``r`` → ``SELECT``); a
    ``*`` after a letter is the grant option (``SELECT WITH GRANT OPTION``). An
    empty grantee is ``PUBLIC``; a name that is not plain letters, digits and
    ``_`` comes in double quotes, with ``""`` for a quote. Two grantors can give
    the same privilege: the privileges of a grantee are a sorted set.
    """

    def __init__(self, letters: dict[str, str]) -> None:
        self.letters = letters
        self._items: dict[str, tuple[str, list[str]]] = {}  # most aclitems repeat

    def grants(self, acl: Sequence[str] | None) -> Grants:
        if not acl:
            return {}
        items = self._items
        out: Grants = {}
        for text in acl:
            item = items.get(text)
            if item is None:
                item = items[text] = self._parse(text)
            grantee, privileges = item
            have = out.get(grantee)
            out[grantee] = privileges[:] if have is None else sorted({*have, *privileges})
        return out

    def _parse(self, text: str) -> tuple[str, list[str]]:
        if text.startswith('"'):
            parts, pos = [], 1
            while True:
                close = text.index('"', pos)
                parts.append(text[pos:close])
                if text.startswith('""', close):
                    parts.append('"')
                    pos = close + 2
                else:
                    break
            grantee, rest = "".join(parts), text[close + 2 :]  # past the quote and "="
        else:
            grantee, _, rest = text.partition("=")
            grantee = grantee or "PUBLIC"
        letters = rest[: rest.index("/")]
        privileges = set()
        for i, letter in enumerate(letters):
            if letter == "*":
                continue
            try:
                name = self.letters[letter]
            except KeyError:
                raise CollectError(
                    f"unknown privilege letter {letter!r} in the ACL item {text!r}",
                    "this looks like a bug in driftd's PostgreSQL collector: report it",
                ) from None
            privileges.add(f"{name} WITH GRANT OPTION" if letters[i + 1 : i + 2] == "*" else name)
        return grantee, sorted(privileges)


def _config(items: Sequence[str] | None) -> dict[str, str]:
    """``["name=value", ...]`` (proconfig, rolconfig, reloptions, ...) as a dict."""
    out: dict[str, str] = {}
    for item in items or ():
        name, _, value = item.partition("=")
        out[name] = value
    return out


# -- errors -------------------------------------------------------------------------------------

CONNECT_HINT = "check that the server is up and reachable from this host, and the URL"
LOCK_HINT = (
    "driftd did not wait; it will try again on the next run. "
    "Raise lock_timeout if this is expected."
)


def _one_line(exc: BaseException) -> str:
    return " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())


# libpq's "connection to server at "h" (addr), port 5432 failed: FATAL:  ..." repeats the URL.
_LIBPQ_PREFIX = re.compile(
    r"^(?:connection (?:failed|is bad): )?(?:connection to server (?:at|on) .*? failed: )?"
    r"(?:FATAL: +)?"
)


def _connect_error(exc: psycopg.Error, where: str, url: URL) -> CollectError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = _scrub(_LIBPQ_PREFIX.sub("", first), url.password)
    if "password authentication failed" in reason or "no password supplied" in reason:
        hint = "check the user and the password (password_env / password_file) of this environment"
    elif "timeout expired" in reason:
        hint = f"{CONNECT_HINT}; a firewall may drop the packets (connect_timeout)"
    elif "does not exist" in reason:
        hint = "check the database and user names in the URL"
    else:
        hint = CONNECT_HINT
    return CollectError(f"cannot connect to {where}: {reason}", hint)


def _read_error(exc: psycopg.Error, target: Target, where: str) -> CollectError:
    reason = _scrub(_one_line(exc), make_url(target.url).password)
    if isinstance(exc, psycopg.errors.QueryCanceled):
        if "statement timeout" in reason:
            return CollectError(
                f"statement_timeout ({_duration(target.statement_timeout)}) reading the catalog "
                f"of {where}",
                "driftd gave up and holds no locks; raise statement_timeout if the catalog is "
                "this large or the server this busy",
            )
        return CollectError(
            f"reading the catalog of {where} was cancelled: {reason}",
            "another session cancelled driftd's query; it will try again on the next run",
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return CollectError(
            f"permission denied reading the catalog of {where}: {reason}",
            "driftd's role needs LOGIN, CONNECT on the database and read access to the "
            "system catalogs (PUBLIC has it unless it was revoked)",
        )
    if "cache lookup failed" in reason or "could not open relation" in reason:
        return CollectError(
            f"the catalog of {where} changed while driftd read it: {reason}",
            "an object was dropped during the read; driftd will try again on the next run",
        )
    if isinstance(exc, psycopg.OperationalError):
        return CollectError(
            f"lost the connection to {where} while reading the catalog: {reason}",
            "driftd will try again on the next run",
        )
    return CollectError(
        f"reading the catalog of {where} failed: {reason}",
        "this looks like a bug in driftd's PostgreSQL collector: run with --debug and report it",
    )


def _lock_error(params: dict[str, Any], target: Target) -> CollectError:
    prefix = f"lock_timeout ({_duration(target.lock_timeout)}) reading the catalog"
    try:
        with psycopg.connect(**params) as conn:
            conn.execute("SET statement_timeout = '5s'")
            holders = conn.execute(LOCK_HOLDERS_SQL).fetchall()
    except psycopg.Error as exc:
        return CollectError(
            f"{prefix}: a table is locked by another session "
            f"(could not look up which: {_one_line(exc)})",
            LOCK_HINT,
        )
    # Only relations driftd reads can have blocked it; tables before their indexes.
    candidates = [h for h in holders if h[0] is None or target.wants_schema(h[0])]
    candidates.sort(key=lambda h: h[2] not in ("r", "p", "f", "v", "m"))
    if not candidates:
        return CollectError(
            f"{prefix}: a table was locked by another session, which released it before "
            "driftd could see who held it",
            LOCK_HINT,
        )
    schema, relname, relkind, pid, user, app, age, query = candidates[0]
    what = f"{RELKIND_WORD.get(relkind, 'relation')} {schema}.{relname}" if relname else "a table"
    details = [f"user {user}" if user else "user unknown"]
    if app:
        details.append(f"application {app}")
    if age is not None and query not in (None, "<insufficient privilege>"):
        details.append(f"transaction open {_duration(age)}: {_statement(query)}")
    else:
        details.append("its query is hidden from driftd's role (grant it pg_read_all_stats)")
    others = len({(h[0], h[1]) for h in candidates}) - 1
    more = f"; {others} more relation(s) locked" if others > 0 else ""
    holder = f"pid {pid}" if pid is not None else "a prepared transaction"
    by = f"{holder} ({', '.join(details)}){more}"
    return CollectError(f"{prefix}: {what} is locked (AccessExclusiveLock) by {by}", LOCK_HINT)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    s = round(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    return f"{s // 3600}h{s % 3600 // 60}m"


def _scrub(text: str, password: str | None) -> str:
    """Belt and braces: libpq does not echo passwords, but never let one through."""
    return text.replace(password, "***") if password else text


def _statement(query: str, limit: int = 80) -> str:
    """A statement for a message: literals masked, one line, about ``limit`` characters."""
    text = " ".join(mask(query).split())  # mask before cutting: no half literal survives
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
