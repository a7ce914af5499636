"""Rows of a declared kind's query into snapshot objects (driftd.kinds).

A kind that declares ``pg_query`` and is not built by hand gets its objects
here: the columns named after the key parts (and ``args``) make the key, every
other column is a field, normalised as the declaration's ``pg_transforms``
says. New kinds need no code here: a declaration and its SQL file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from driftd.collect.postgres import acl as acls
from driftd.kinds import Kind, make_key

Obj = dict[str, Any]
Row = Any  # a psycopg namedtuple row


def _sorted(value: Any) -> Any:
    return sorted(value) if value is not None else []


def transforms(acl: acls.Acl) -> dict[str, Callable[[Any], Any]]:
    """The value transforms a declaration may name, by name."""
    return {
        "grants": acl.grants,
        "config": acls.config,
        "secret_options": acls.secret_options,
        "conninfo": acls.conninfo,
        "setting_value": acls.setting_value,
        "sorted": _sorted,
    }


SPREAD = "spread"  # the column's map is merged into the object, not a field of its own


def declared(
    kind: Kind,
    rows: Sequence[Row],
    acl: acls.Acl,
    wants_role: Callable[[str], bool] = lambda _: True,
) -> dict[str, Obj]:
    """The objects of ``kind`` from its query's rows, keyed by their keys.

    With ``kind.pg_role_column``, rows whose role ``wants_role`` refuses are left out.
    """
    if not rows:
        return {}
    fields: tuple[str, ...] = rows[0]._fields
    key_fields = (*kind.parts, "args") if kind.args else kind.parts
    missing = [f for f in key_fields if f not in fields]
    if missing:
        raise ValueError(f"the query of kind {kind.name} has no column {missing[0]!r}")
    by_name = transforms(acl)
    unknown = set(kind.pg_transforms.values()) - set(by_name) - {SPREAD}
    if unknown:
        raise ValueError(f"kind {kind.name} names unknown transform(s) {sorted(unknown)}")
    spread = [f for f in fields if kind.pg_transforms.get(f) == SPREAD]
    body_fields = [f for f in fields if f not in key_fields and f not in spread]
    convert = [(f, by_name.get(kind.pg_transforms.get(f, ""))) for f in body_fields]
    out: dict[str, Obj] = {}
    role_column = kind.pg_role_column
    for row in rows:
        values = row._asdict()
        if role_column is not None and not wants_role(values[role_column]):
            continue
        key = make_key(
            kind.name,
            *(values[p] for p in kind.parts),
            args=values["args"] if kind.args else None,
        )
        obj = {f: (values[f] if fn is None else fn(values[f])) for f, fn in convert}
        for f in spread:
            obj.update(values[f] or {})
        out[key] = obj
    return out
