"""Any other SQLAlchemy dialect (best effort): the ``Inspector`` with ``get_multi_*`` calls.

They are set-based where the dialect implements them. Tables and views only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.sql.sqltypes import NullType

from driftd.collect import Collected, Target
from driftd.collect.ddl_tokens import normalize_sql
from driftd.collect.sa_common import (
    Obj,
    _constraint,
    _name_constraints,
    _parse_url,
    _Quoter,
    _run,
    _slug,
)

# -- any other dialect: the SQLAlchemy inspector ----------------------------------------------
from driftd.kinds import make_key


def collect(target: Target) -> Collected:
    """Read ``target`` into snapshot objects."""

    def read(conn: Connection) -> Collected:
        with conn.begin() as trans:
            try:
                insp = inspect(conn)
                default = insp.default_schema_name
                if target.schemas:
                    schemas = [s for s in insp.get_schema_names() if target.wants_schema(s)]
                else:
                    schemas = [default] if default and target.wants_schema(default) else []
                objects = inspected_objects(conn, schemas)
            finally:
                trans.rollback()  # never commit anything a driver may have started
        info = conn.dialect.server_version_info or ()
        engine = {
            "dialect": conn.dialect.name,
            "server_version": ".".join(str(p) for p in info),
        }
        return Collected(engine=engine, objects=objects)

    return _run(target, _parse_url(target), read)


def _multi(call: Callable[..., dict[Any, Any]], schema: str) -> dict[Any, Any]:
    try:
        return call(schema=schema)
    except NotImplementedError:
        return {}


def _type_name(type_: Any, dialect: Dialect) -> str:
    if isinstance(type_, NullType):
        return ""
    try:
        return str(type_.compile(dialect=dialect))
    except sa_exc.SQLAlchemyError:
        return type(type_).__name__.upper()


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def inspected_objects(conn: Connection, schemas: Sequence[str]) -> dict[str, Obj]:
    """Tables and views of ``schemas`` through SQLAlchemy's inspector (any dialect)."""
    insp: Inspector = inspect(conn)
    dialect = conn.dialect
    q = _Quoter(dialect)
    objects: dict[str, Obj] = {}
    for schema in schemas:
        columns = insp.get_multi_columns(schema=schema)
        pks = _multi(insp.get_multi_pk_constraint, schema)
        fks = _multi(insp.get_multi_foreign_keys, schema)
        indexes = _multi(insp.get_multi_indexes, schema)
        uniques = _multi(insp.get_multi_unique_constraints, schema)
        checks = _multi(insp.get_multi_check_constraints, schema)
        comments = _multi(insp.get_multi_table_comment, schema)
        options = _multi(insp.get_multi_table_options, schema)
        for key, cols in columns.items():
            name = key[1]
            table: Obj = {
                "columns": {},
                "constraints": {},
                "indexes": {},
                "comment": (comments.get(key) or {}).get("text"),
                # AUTO_INCREMENT-style counters move with the data.
                "options": {
                    k: _jsonable(v)
                    for k, v in (options.get(key) or {}).items()
                    if "auto_increment" not in k
                },
            }
            for col in cols:
                entry: Obj = {
                    "type": _type_name(col["type"], dialect),
                    "nullable": bool(col["nullable"]),
                    "default": None if col.get("default") is None else str(col["default"]),
                    "comment": col.get("comment"),
                }
                if isinstance(col.get("autoincrement"), bool):
                    entry["autoincrement"] = col["autoincrement"]
                computed = col.get("computed")
                if computed:
                    stored = " STORED" if computed.get("persisted") else ""
                    entry["generated"] = f"{computed.get('sqltext') or '?'}{stored}"
                if col.get("identity"):
                    entry["identity"] = _jsonable(col["identity"])
                table["columns"][col["name"]] = entry
            table["constraints"] = _inspected_constraints(q, schema, key, pks, fks, uniques, checks)
            for index in indexes.get(key) or []:
                if index.get("duplicates_constraint"):
                    continue
                table["indexes"][index["name"]] = {
                    "definition": _inspected_index(q, schema, name, index),
                    "unique": bool(index.get("unique")),
                }
            objects[make_key("table", schema, name)] = table
        for view in _multi_names(insp.get_view_names, schema):
            try:
                definition: str | None = normalize_sql(insp.get_view_definition(view, schema))
            except NotImplementedError:
                definition = None
            objects[make_key("view", schema, view)] = {"definition": definition, "comment": None}
    return objects


def _multi_names(call: Callable[..., list[str]], schema: str) -> list[str]:
    try:
        return call(schema=schema)
    except NotImplementedError:
        return []


def _inspected_constraints(
    q: _Quoter,
    schema: str,
    key: Any,
    pks: dict[Any, Any],
    fks: dict[Any, Any],
    uniques: dict[Any, Any],
    checks: dict[Any, Any],
) -> dict[str, Obj]:
    found: list[tuple[str | None, str, Obj]] = []
    pk = pks.get(key) or {}
    if pk.get("constrained_columns"):
        cols = pk["constrained_columns"]
        found.append(
            (pk.get("name"), "pk", _constraint("primary_key", f"PRIMARY KEY ({q.join(cols)})"))
        )
    for uq in uniques.get(key) or []:
        cols = uq["column_names"]
        found.append(
            (uq.get("name"), f"uq_{_slug(cols)}", _constraint("unique", f"UNIQUE ({q.join(cols)})"))
        )
    for fk in fks.get(key) or []:
        src, ref = fk["constrained_columns"], fk["referred_table"]
        definition = (
            f"FOREIGN KEY ({q.join(src)}) REFERENCES "
            f"{q(fk.get('referred_schema') or schema)}.{q(ref)} ({q.join(fk['referred_columns'])})"
        )
        opts = fk.get("options") or {}
        for opt, words in (
            ("ondelete", "ON DELETE"),
            ("onupdate", "ON UPDATE"),
            ("match", "MATCH"),
        ):
            if opts.get(opt) and str(opts[opt]).upper() != "NO ACTION":
                definition += f" {words} {str(opts[opt]).upper()}"
        if opts.get("deferrable"):
            definition += " DEFERRABLE"
            if opts.get("initially"):
                definition += f" INITIALLY {str(opts['initially']).upper()}"
        fallback = f"fk_{_slug(src)}_{_slug([ref])}"
        found.append((fk.get("name"), fallback, _constraint("foreign_key", definition)))
    for n, ck in enumerate(checks.get(key) or [], start=1):
        body = _constraint("check", f"CHECK ({normalize_sql(ck['sqltext'])})")
        found.append((ck.get("name"), f"ck_{n}", body))
    return _name_constraints(found)


def _inspected_index(q: _Quoter, schema: str, table: str, index: Mapping[str, Any]) -> str:
    expressions = index.get("expressions") or []
    sorting = index.get("column_sorting") or {}
    parts = []
    for i, col in enumerate(index.get("column_names") or []):
        item = q(col) if col is not None else (expressions[i] if i < len(expressions) else "?")
        for flag in sorting.get(col, ()) if col is not None else ():
            item += f" {str(flag).upper()}"
        parts.append(item)
    unique = "UNIQUE " if index.get("unique") else ""
    definition = (
        f"CREATE {unique}INDEX {q(index['name'])} ON {q(schema)}.{q(table)} ({', '.join(parts)})"
    )
    for option, value in sorted((index.get("dialect_options") or {}).items()):
        if option.endswith("_where") and value is not None:
            definition += f" WHERE {normalize_sql(str(value))}"
    return definition
