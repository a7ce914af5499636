"""PostgreSQL collector: the catalog of one database as snapshot objects.

Layout:

- ``sql/<name>.sql``: the catalog queries, one per kind (or part of a kind:
  ``column``, ``constraint``, ``index``, ...), read as data, returning named
  columns. A kind declared in :mod:`driftd.kinds` with ``pg_query`` and no
  hand-written builder is read from its file alone. The pieces most of them
  share (comment, schema, not an extension's member) are ``{{fragment ...}}``
  calls that :mod:`.queries` writes out (``FRAGMENTS``).
- :mod:`.read`: the read loop, one short ``REPEATABLE READ READ ONLY``
  transaction of set-based queries (one per kind, never one per table) with
  ``statement_timeout``/``lock_timeout`` and JIT off, run on a reader thread
  while the calling thread builds objects.
- :mod:`.build`: the kinds assembled from several queries (tables, views,
  functions, roles, ...); :mod:`.normalise`: the declared kinds.
- :mod:`.acl`: aclitem text, option lists, masking of secret options.
- :mod:`.errors`: failures as messages; lock-holder diagnosis.

Locks (measured on 15.20): ``pg_get_expr`` with a relation, ``pg_get_indexdef``
and ``pg_get_constraintdef`` of a CHECK take ``AccessShareLock`` on the relation
they deparse, so they wait behind an ``ACCESS EXCLUSIVE`` lock, but release it
at once. ``pg_get_viewdef`` keeps its locks (view and every relation it reads)
until the end of the transaction, so views are deparsed in batches inside a
savepoint that is rolled back: the snapshot stays the same and at most one
batch of locks is held. Everything runs under a low ``lock_timeout``; when it
fires, the error names the table and the session that held the lock.

Speed (issue 6, bench/README.md): ACLs come as aclitem text and are parsed
here, and the definitions of primary keys, unique constraints and foreign keys
are written here from server-quoted names; the cyclic garbage collector is
paused while millions of small acyclic containers are made.

Output conventions (docs/objects.md): every kind has a fixed set of fields;
absent scalars are ``None``, empty collections are ``{}``/``[]``; things that
are named are dicts keyed by name; privilege lists are sorted; no OIDs,
timestamps of activity, sequence values, statistics, passwords or secret
options.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftd.collect.postgres.acl import Acl as _Acl
    from driftd.collect.postgres.errors import LOCK_HINT, _statement
    from driftd.collect.postgres.read import _read, collect, declared_kinds
    from driftd.errors import CollectError

# Imported when first used: the catalog fingerprint (the no-change fast path of
# `driftd check`) lives in this package and needs neither the read loop nor the kinds.
_EXPORTS = {
    "LOCK_HINT": ("driftd.collect.postgres.errors", "LOCK_HINT"),
    "CollectError": ("driftd.errors", "CollectError"),
    "_Acl": ("driftd.collect.postgres.acl", "Acl"),
    "_read": ("driftd.collect.postgres.read", "_read"),
    "_statement": ("driftd.collect.postgres.errors", "_statement"),
    "collect": ("driftd.collect.postgres.read", "collect"),
    "declared_kinds": ("driftd.collect.postgres.read", "declared_kinds"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    return getattr(importlib.import_module(module), attr)


__all__ = [
    "LOCK_HINT",
    "CollectError",
    "_Acl",
    "_read",
    "_statement",
    "collect",
    "declared_kinds",
]
