"""MySQL/MariaDB collector: ``information_schema``, and the grant tables (``mysql.user``'s
privilege columns, ``mysql.db``, ``tables_priv``, ``columns_priv``) for accounts and
grants, so that driftd's account needs no access to a password hash (docs/security.md).

One query per kind for all tables. The SQLAlchemy inspector has no
multi-table reflection for MySQL (one ``SHOW CREATE TABLE`` per table) and its
parser drops column-level CHECK constraints and descending or functional key
parts. Everything is read inside one read-only transaction that is rolled back.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, RowMapping
from sqlalchemy.sql.elements import BindParameter

from driftd.collect import Collected, Target
from driftd.collect.ddl_tokens import (
    _closing,
    _tokens,
    normalize_sql,
)
from driftd.collect.sa_common import (
    Grants,
    Obj,
    _add_named,
    _constraint,
    _error_code,
    _mysql_privilege,
    _parse_url,
    _privilege,
    _Quoter,
    _read_transaction,
    _run,
    _sorted_grants,
)
from driftd.errors import CollectError
from driftd.kinds import make_key

MYSQL_SYSTEM_SCHEMAS = frozenset({"information_schema", "mysql", "performance_schema", "sys"})
# Locked accounts the server creates for itself; they change only with server upgrades.
MYSQL_SYSTEM_ACCOUNTS = frozenset(
    {"mariadb.sys@localhost", "mysql.sys@localhost", "mysql.session@localhost"}
    | {"mysql.infoschema@localhost"}
)
MYSQL_DRIVER_HINT = "install the MySQL driver: pip install 'driftd[mysql]'"

# -- MySQL / MariaDB --------------------------------------------------------------------------


def collect(target: Target) -> Collected:
    """Read ``target`` into snapshot objects."""
    return _collect_mysql(target, _parse_url(target))


def _collect_mysql(target: Target, url: URL) -> Collected:
    if "+" not in url.drivername:
        # A bare mysql:// means mysqlclient; the driver driftd ships is PyMySQL.
        url = url.set(drivername=f"{url.get_backend_name()}+pymysql")
    connect_args: dict[str, Any] = {}
    if url.get_driver_name() in ("pymysql", "mysqldb"):
        # read_timeout backs up the server-side limit: SHOW-like reads are not
        # covered by MySQL's max_execution_time.
        connect_args = {
            "connect_timeout": max(1, math.ceil(target.connect_timeout)),
            "read_timeout": max(1, math.ceil(target.statement_timeout + 5)),
            "write_timeout": max(1, math.ceil(target.statement_timeout + 5)),
        }

    def read(conn: Connection) -> Collected:
        return _read_mysql(conn, target, url.database)

    return _run(target, url, read, connect_args=connect_args, driver_hint=MYSQL_DRIVER_HINT)


def mysql_read_only_session(conn: Connection, target: Target) -> None:
    """Limit the session: statement and lock timeouts, read-only transactions only."""
    conn.execution_options(isolation_level="AUTOCOMMIT")
    mariadb = bool(getattr(conn.dialect, "is_mariadb", False))
    settings = [
        f"SET SESSION lock_wait_timeout = {max(1, math.ceil(target.lock_timeout))}",
        # MariaDB 10.1+: seconds, any statement; MySQL 5.7.8+: milliseconds, SELECT only.
        f"SET SESSION max_statement_time = {target.statement_timeout:.3f}"
        if mariadb
        else f"SET SESSION max_execution_time = {max(1, int(target.statement_timeout * 1000))}",
    ]
    for statement in settings:
        try:
            conn.exec_driver_sql(statement)
        except sa_exc.DBAPIError as exc:
            if _error_code(exc) != 1193:  # unknown system variable: an older server
                raise
    conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")


def _rows(conn: Connection, sql: str, **params: Any) -> list[RowMapping]:
    stmt = text(sql)
    expanding: list[BindParameter[Any]] = [
        bindparam(k, expanding=True) for k, v in params.items() if isinstance(v, list)
    ]
    if expanding:
        stmt = stmt.bindparams(*expanding)
    return list(conn.execute(stmt, params).mappings())


def _s(value: Any) -> str | None:
    """A text column as str (some servers send binary-collated catalog text as bytes)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _account(user: str, host: str | None) -> str:
    """``user@host``; a MariaDB role has an empty host and is named alone."""
    return f"{user}@{host}" if host else user


_GRANTEE = re.compile(r"^'((?:[^']|'')*)'(?:@'((?:[^']|'')*)')?$")


def _grantee(raw: str | None) -> str:
    """``'app'@'%'`` as written by information_schema -> ``app@%``."""
    match = _GRANTEE.match(raw or "")
    if not match:
        return raw or ""
    user = match.group(1).replace("''", "'")
    host = (match.group(2) or "").replace("''", "'")
    return _account(user, host)


def _read_mysql(conn: Connection, target: Target, url_database: str | None) -> Collected:
    mysql_read_only_session(conn, target)
    # The catalog is not transactional in MySQL, but the snapshot still keeps
    # the reads of mysql.* tables consistent with each other.
    with _read_transaction(conn, "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT"):
        version = str(conn.exec_driver_sql("SELECT VERSION()").scalar_one())
        mariadb = bool(getattr(conn.dialect, "is_mariadb", False)) or "mariadb" in version.lower()
        caps = _mysql_capabilities(conn)
        _require_grant_tables(target, caps)
        objects = _mysql_objects(conn, target, url_database, caps)
        objects.update(_mysql_roles(conn, target, caps))
    engine = {"dialect": "mariadb" if mariadb else "mysql", "server_version": version}
    return Collected(engine=engine, objects=objects)


_CAPABILITY_TABLES = {
    "information_schema": (
        *("SCHEMATA", "STATISTICS", "CHECK_CONSTRAINTS"),
        *("TABLE_CONSTRAINTS", "VIEWS", "COLUMNS"),
    ),
    "mysql": (
        *("user", "global_priv", "db", "tables_priv", "columns_priv"),
        *("roles_mapping", "role_edges", "event"),
    ),
}


def _mysql_capabilities(conn: Connection) -> dict[str, set[str]]:
    """Columns of the catalog tables whose shape differs between servers and versions.

    ``mysql.*`` tables are listed only when driftd's user may read them.
    """
    rows = _rows(
        conn,
        "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS c "
        "FROM information_schema.COLUMNS "
        "WHERE (TABLE_SCHEMA = 'information_schema' AND TABLE_NAME IN :isc) "
        "OR (TABLE_SCHEMA = 'mysql' AND TABLE_NAME IN :my)",
        isc=list(_CAPABILITY_TABLES["information_schema"]),
        my=list(_CAPABILITY_TABLES["mysql"]),
    )
    caps: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        caps[f"{_s(row['s'])}.{_s(row['t'])}".lower()].add((_s(row["c"]) or "").upper())
    return caps


def _optional(caps: dict[str, set[str]], table: str, *columns: str) -> str:
    """``, COL`` for each column the server's ``table`` has (empty otherwise)."""
    have = caps.get(table.lower(), set())
    return "".join(f", {c}" for c in columns if c in have)


def _mysql_objects(
    conn: Connection, target: Target, url_database: str | None, caps: dict[str, set[str]]
) -> dict[str, Obj]:
    q = _Quoter(conn.dialect)
    comment_col = _optional(caps, "information_schema.SCHEMATA", "SCHEMA_COMMENT")
    objects: dict[str, Obj] = {}
    schemas: list[str] = []
    for row in _rows(
        conn,
        "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME"
        f"{comment_col} FROM information_schema.SCHEMATA",
    ):
        name = _s(row["SCHEMA_NAME"]) or ""
        if name.lower() in MYSQL_SYSTEM_SCHEMAS or not target.wants_schema(name):
            continue
        # A database in the URL narrows the default; configured schemas override it.
        if url_database and not target.schemas and name != url_database:
            continue
        schemas.append(name)
        objects[make_key("database", name)] = {
            "charset": _s(row["DEFAULT_CHARACTER_SET_NAME"]),
            "collation": _s(row["DEFAULT_COLLATION_NAME"]),
            "comment": _s(row.get("SCHEMA_COMMENT")) or None,
        }
    if not schemas:
        return objects

    tables: dict[tuple[str, str], Obj] = {}
    views: dict[tuple[str, str], Obj] = {}
    sequences: dict[tuple[str, str], Obj] = {}
    for row in _rows(
        conn,
        "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.TABLE_TYPE, t.ENGINE, t.TABLE_COLLATION, "
        "t.CREATE_OPTIONS, t.TABLE_COMMENT, c.CHARACTER_SET_NAME "
        "FROM information_schema.TABLES t LEFT JOIN information_schema.COLLATIONS c "
        "ON c.COLLATION_NAME = t.TABLE_COLLATION WHERE t.TABLE_SCHEMA IN :schemas",
        schemas=schemas,
    ):
        key = (_s(row["TABLE_SCHEMA"]) or "", _s(row["TABLE_NAME"]) or "")
        kind = _s(row["TABLE_TYPE"])
        if kind in ("BASE TABLE", "SYSTEM VERSIONED"):
            collation = _s(row["TABLE_COLLATION"])
            charset = _s(row["CHARACTER_SET_NAME"]) or (
                collation.split("_")[0] if collation else None
            )
            create_options = sorted(
                o for o in (_s(row["CREATE_OPTIONS"]) or "").split() if o != "partitioned"
            )
            tables[key] = {
                "columns": {},
                "constraints": {},
                "indexes": {},
                "triggers": {},
                "partitioning": None,
                "comment": _s(row["TABLE_COMMENT"]) or None,
                "options": {
                    "engine": _s(row["ENGINE"]),
                    "charset": charset,
                    "collation": collation,
                    "create_options": create_options,
                    "system_versioned": kind == "SYSTEM VERSIONED",
                },
                "grants": {},
                "column_grants": {},
            }
            objects[make_key("table", key[0], key[1])] = tables[key]
        elif kind == "VIEW":
            views[key] = {"definition": None, "comment": None, "grants": {}}
            objects[make_key("view", key[0], key[1])] = views[key]
        elif kind == "SEQUENCE":  # MariaDB 10.3+
            sequences[key] = {"comment": _s(row["TABLE_COMMENT"]) or None, "grants": {}}
            objects[make_key("sequence", key[0], key[1])] = sequences[key]

    _mysql_columns(conn, schemas, caps, tables)
    # Foreign keys first: an index InnoDB made for one is left out with it.
    fk_columns = _mysql_foreign_keys(conn, schemas, tables, q)
    _mysql_indexes(conn, schemas, caps, tables, q, fk_columns)
    _mysql_checks(conn, schemas, caps, tables)
    _mysql_triggers(conn, schemas, tables, q)
    _mysql_views(conn, schemas, caps, views)
    _mysql_partitions(conn, schemas, tables)
    _mysql_sequences(conn, sequences, q)
    _mysql_object_grants(conn, schemas, tables, {**views, **sequences})
    objects.update(_mysql_routines(conn, schemas))
    objects.update(_mysql_events(conn, schemas, caps))
    return objects


def _mysql_sequences(conn: Connection, sequences: dict[Any, Obj], q: _Quoter) -> None:
    """A MariaDB sequence's definition is the one row it holds (its next value left out).

    Reading it takes SELECT on the sequence, which the watched databases' SELECT gives.
    """
    keys = sorted(sequences)
    for start in range(0, len(keys), 100):  # one statement per 100 sequences
        batch = keys[start : start + 100]
        sql = " UNION ALL ".join(
            f"SELECT {i} AS n, start_value, minimum_value, maximum_value, increment, "
            f"cycle_option, cache_size FROM {q(schema)}.{q(name)}"
            for i, (schema, name) in enumerate(batch)
        )
        for row in _rows(conn, sql):
            sequences[batch[int(row["n"])]].update(
                {
                    "start": int(row["start_value"]),
                    "increment": int(row["increment"]),
                    "min": int(row["minimum_value"]),
                    "max": int(row["maximum_value"]),
                    "cache": int(row["cache_size"]),
                    "cycle": bool(row["cycle_option"]),
                }
            )


def _mysql_routines(conn: Connection, schemas: list[str]) -> dict[str, Obj]:
    """Stored procedures and functions: ``function:<db>.<name>(<parameters>)``.

    information_schema lists every routine, body included, to a user with SELECT on
    mysql.proc (MariaDB; docs/security.md), or with
    SHOW_ROUTINE / global SELECT (MySQL 8).
    """
    params: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in _rows(
        conn,
        "SELECT SPECIFIC_SCHEMA AS s, SPECIFIC_NAME AS n, ROUTINE_TYPE AS t, "
        "PARAMETER_MODE AS m, PARAMETER_NAME AS p, DTD_IDENTIFIER AS d "
        "FROM information_schema.PARAMETERS "
        "WHERE SPECIFIC_SCHEMA IN :schemas AND ORDINAL_POSITION > 0 "
        "ORDER BY SPECIFIC_SCHEMA, SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION",
        schemas=schemas,
    ):
        mode = _s(row["m"])
        parameter = f"{_s(row['p'])} {_s(row['d'])}"
        key = (_s(row["s"]) or "", _s(row["n"]) or "", _s(row["t"]) or "")
        # A function's parameters are all IN, and it says nothing of them.
        params[key].append(f"{mode} {parameter}" if key[2] == "PROCEDURE" and mode else parameter)
    objects: dict[str, Obj] = {}
    for row in _rows(
        conn,
        "SELECT ROUTINE_SCHEMA AS s, ROUTINE_NAME AS n, ROUTINE_TYPE AS t, "
        "DTD_IDENTIFIER AS r, ROUTINE_DEFINITION AS body, IS_DETERMINISTIC AS det, "
        "SQL_DATA_ACCESS AS access, SECURITY_TYPE AS sec, DEFINER AS definer, "
        "ROUTINE_COMMENT AS comment FROM information_schema.ROUTINES "
        "WHERE ROUTINE_SCHEMA IN :schemas AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION')",
        schemas=schemas,
    ):
        schema, name, routine = _s(row["s"]) or "", _s(row["n"]) or "", _s(row["t"]) or ""
        args = ", ".join(params.get((schema, name, routine), []))
        objects[make_key("function", schema, name, args=args)] = {
            "kind": routine.lower(),
            "returns": _s(row["r"]) if routine == "FUNCTION" else None,
            "language": "sql",
            "definition": normalize_sql(_s(row["body"]) or ""),
            "deterministic": _s(row["det"]) == "YES",
            "data_access": _s(row["access"]),
            # SQL SECURITY DEFINER (the default): it runs with its definer's privileges.
            "security_definer": _s(row["sec"]) == "DEFINER",
            "definer": _s(row["definer"]),
            "comment": _s(row["comment"]) or None,
        }
    return objects


def _mysql_events(
    conn: Connection, schemas: list[str], caps: dict[str, set[str]]
) -> dict[str, Obj]:
    """Scheduled events: ``event:<db>.<name>``.

    MariaDB lists in information_schema.EVENTS only the events of databases where the
    user has the EVENT privilege, so they are read from mysql.event (the documented
    docs/security.md); MySQL 8, which has no mysql.event, from
    information_schema.EVENTS. Times of activity (created, last executed) and STARTS
    (the creation time unless given) are left out.
    """
    if "mysql.event" in caps:
        sql = (
            "SELECT db AS s, name AS n, body, definer, execute_at, interval_value AS iv, "
            "interval_field AS fld, ends, status, on_completion AS oc, comment "
            "FROM mysql.event WHERE db IN :schemas"
        )
    else:
        sql = (
            "SELECT EVENT_SCHEMA AS s, EVENT_NAME AS n, EVENT_DEFINITION AS body, "
            "DEFINER AS definer, EXECUTE_AT AS execute_at, INTERVAL_VALUE AS iv, "
            "INTERVAL_FIELD AS fld, ENDS AS ends, STATUS AS status, ON_COMPLETION AS oc, "
            "EVENT_COMMENT AS comment FROM information_schema.EVENTS "
            "WHERE EVENT_SCHEMA IN :schemas"
        )
    objects: dict[str, Obj] = {}
    for row in _rows(conn, sql, schemas=schemas):
        if row["iv"] is not None:
            schedule = f"EVERY {_s(row['iv'])} {_s(row['fld'])}"
        else:
            schedule = f"AT {_s(row['execute_at'])}"
        completion = _s(row["oc"])
        objects[make_key("event", _s(row["s"]) or "", _s(row["n"]) or "")] = {
            "definition": normalize_sql(_s(row["body"]) or ""),
            "schedule": schedule,
            "ends": _s(row["ends"]),
            "status": _s(row["status"]),
            # mysql.event says DROP, information_schema NOT PRESERVE: the SQL is the latter.
            "on_completion": "PRESERVE" if completion == "PRESERVE" else "NOT PRESERVE",
            "definer": _s(row["definer"]),
            "comment": _s(row["comment"]) or None,
        }
    return objects


_ON_UPDATE = re.compile(r"(?i)\bon update (.+?)(?:\s+(?:INVISIBLE|VIRTUAL|STORED)\b|$)")


def _mysql_columns(
    conn: Connection, schemas: list[str], caps: dict[str, set[str]], tables: dict[Any, Obj]
) -> None:
    generation = _optional(caps, "information_schema.COLUMNS", "GENERATION_EXPRESSION")
    for row in _rows(
        conn,
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, "
        f"COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT, COLLATION_NAME{generation} "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN :schemas",
        schemas=schemas,
    ):
        table = tables.get((_s(row["TABLE_SCHEMA"]), _s(row["TABLE_NAME"])))
        if table is None:  # a view's columns
            continue
        extra = _s(row["EXTRA"]) or ""
        low = extra.lower()
        default = _s(row["COLUMN_DEFAULT"])
        if default == "NULL":  # MariaDB 10.2.7+ writes "no default" as NULL and quotes literals
            default = None
        generated = None
        expression = _s(row.get("GENERATION_EXPRESSION"))
        if "generated" in low and expression:
            stored = "stored" in low or "persistent" in low
            generated = f"{expression} {'STORED' if stored else 'VIRTUAL'}"
        on_update = _ON_UPDATE.search(extra)
        table["columns"][_s(row["COLUMN_NAME"])] = {
            "type": _s(row["COLUMN_TYPE"]),
            "nullable": _s(row["IS_NULLABLE"]) == "YES",
            "default": default,
            "autoincrement": "auto_increment" in low,
            "on_update": on_update.group(1) if on_update else None,
            "generated": generated,
            "invisible": "invisible" in low,
            "collation": _s(row["COLLATION_NAME"]),
            "comment": _s(row["COLUMN_COMMENT"]) or None,
        }


def _strip_parens(expr: str) -> str:
    """``(a > 0)`` -> ``a > 0``, only when the outer pair encloses everything."""
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        toks = _tokens(expr)
        if _closing(toks, 0) != len(toks) - 1:
            break
        expr = expr[1:-1].strip()
    return expr


_FOREIGN_KEYS = (
    "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, "
    "k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, "
    "r.UPDATE_RULE, r.DELETE_RULE FROM information_schema.KEY_COLUMN_USAGE k "
    "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
    "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME "
    "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
    "WHERE k.TABLE_SCHEMA IN :schemas AND k.REFERENCED_TABLE_NAME IS NOT NULL "
    "ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"
)


def _mysql_foreign_keys(
    conn: Connection, schemas: list[str], tables: dict[Any, Obj], q: _Quoter
) -> dict[tuple[str, str, str], list[str | None]]:
    """Add the foreign keys; returns each one's columns (to recognise InnoDB's index)."""
    fk_columns: dict[tuple[str, str, str], list[str | None]] = {}
    fk_rows = _rows(conn, _FOREIGN_KEYS, schemas=schemas)
    for table, (schema, table_name, name), parts in _by_table_and_name(
        fk_rows, "CONSTRAINT_NAME", tables
    ):
        first = parts[0]
        src = q.join(_s(p["COLUMN_NAME"]) or "" for p in parts)
        dst = q.join(_s(p["REFERENCED_COLUMN_NAME"]) or "" for p in parts)
        ref_schema = _s(first["REFERENCED_TABLE_SCHEMA"]) or schema
        ref = f"{q(ref_schema)}.{q(_s(first['REFERENCED_TABLE_NAME']) or '')}"
        definition = f"FOREIGN KEY ({src}) REFERENCES {ref} ({dst})"
        # InnoDB treats NO ACTION as RESTRICT, and servers report the default as either.
        for action, rule in (("DELETE", first["DELETE_RULE"]), ("UPDATE", first["UPDATE_RULE"])):
            if _s(rule) not in (None, "RESTRICT", "NO ACTION"):
                definition += f" ON {action} {_s(rule)}"
        _add_named(table["constraints"], name, _constraint("foreign_key", definition))
        fk_columns[(schema, table_name, name)] = [_s(p["COLUMN_NAME"]) for p in parts]
    return fk_columns


def _index_columns(parts: list[Any], q: _Quoter) -> list[str]:
    cols = []
    for part in parts:
        column = _s(part["COLUMN_NAME"])
        item = q(column) if column else f"({_s(part.get('EXPRESSION'))})"
        if part["SUB_PART"]:
            item += f"({part['SUB_PART']})"
        if _s(part["COLLATION"]) == "D":
            item += " DESC"
        cols.append(item)
    return cols


def _index_tail(first: Any, index_type: str) -> str:
    """What follows the column list: USING, COMMENT, INVISIBLE, IGNORED."""
    tail = f" USING {index_type}" if index_type not in ("BTREE", "FULLTEXT", "SPATIAL") else ""
    comment = _s(first["INDEX_COMMENT"])
    if comment:
        tail += " COMMENT '{}'".format(comment.replace("'", "''"))
    if _s(first.get("IS_VISIBLE")) == "NO":
        tail += " INVISIBLE"
    if _s(first.get("IGNORED")) == "YES":
        tail += " IGNORED"
    return tail


_INDEXES = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, "
    "COLLATION, INDEX_TYPE, INDEX_COMMENT{extra} FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA IN :schemas "
    "ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
)


def _mysql_indexes(
    conn: Connection,
    schemas: list[str],
    caps: dict[str, set[str]],
    tables: dict[Any, Obj],
    q: _Quoter,
    fk_columns: dict[tuple[str, str, str], list[str | None]],
) -> None:
    extra = _optional(caps, "information_schema.STATISTICS", "EXPRESSION", "IS_VISIBLE", "IGNORED")
    index_rows = _rows(conn, _INDEXES.format(extra=extra), schemas=schemas)
    for table, (schema, table_name, name), parts in _by_table_and_name(
        index_rows, "INDEX_NAME", tables
    ):
        first = parts[0]
        cols = ", ".join(_index_columns(parts, q))
        index_type = (_s(first["INDEX_TYPE"]) or "BTREE").upper()
        tail = _index_tail(first, index_type)
        # MySQL makes no difference between a unique key and a unique
        # constraint: each is reported once, as a constraint.
        if name == "PRIMARY":
            body = _constraint("primary_key", f"PRIMARY KEY ({cols}){tail}")
            _add_named(table["constraints"], name, body)
        elif str(first["NON_UNIQUE"]) == "0":
            _add_named(table["constraints"], name, _constraint("unique", f"UNIQUE ({cols}){tail}"))
        elif fk_columns.get((schema, table_name, name)) == [_s(p["COLUMN_NAME"]) for p in parts]:
            # InnoDB's index for a foreign key, named after it: it backs the
            # constraint (like SQLite's autoindexes) and comes and goes with it.
            continue
        else:
            kind = f"{index_type} " if index_type in ("FULLTEXT", "SPATIAL") else ""
            table["indexes"][name] = {
                "definition": f"CREATE {kind}INDEX {q(name)} ON {q(schema)}.{q(table_name)} "
                f"({cols}){tail}",
                "unique": False,
            }


def _mysql_checks(
    conn: Connection, schemas: list[str], caps: dict[str, set[str]], tables: dict[Any, Obj]
) -> None:
    checks = caps.get("information_schema.check_constraints")
    if not checks:  # MySQL < 8.0.16, MariaDB < 10.2: no CHECK constraints
        return
    if "TABLE_NAME" in checks:  # MariaDB: names are unique per table
        sql = (
            "SELECT CONSTRAINT_SCHEMA AS s, TABLE_NAME AS t, CONSTRAINT_NAME AS n, "
            "CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA IN :schemas"
        )
    else:  # MySQL: names are unique per schema; the table comes from TABLE_CONSTRAINTS
        enforced = _optional(caps, "information_schema.TABLE_CONSTRAINTS", "ENFORCED")
        sql = (
            "SELECT tc.TABLE_SCHEMA AS s, tc.TABLE_NAME AS t, tc.CONSTRAINT_NAME AS n, "
            f"cc.CHECK_CLAUSE AS c{enforced.replace(', ', ', tc.')} "
            "FROM information_schema.TABLE_CONSTRAINTS tc "
            "JOIN information_schema.CHECK_CONSTRAINTS cc "
            "ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA "
            "AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME "
            "WHERE tc.CONSTRAINT_TYPE = 'CHECK' AND tc.TABLE_SCHEMA IN :schemas"
        )
    for row in _rows(conn, sql, schemas=schemas):
        table = tables.get((_s(row["s"]), _s(row["t"])))
        if table is None:
            continue
        definition = f"CHECK ({_strip_parens(_s(row['c']) or '')})"
        if _s(row.get("ENFORCED")) == "NO":
            definition += " NOT ENFORCED"
        _add_named(table["constraints"], _s(row["n"]) or "", _constraint("check", definition))


def _mysql_triggers(
    conn: Connection, schemas: list[str], tables: dict[Any, Obj], q: _Quoter
) -> None:
    for row in _rows(
        conn,
        "SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, "
        "ACTION_TIMING, ACTION_STATEMENT, DEFINER FROM information_schema.TRIGGERS "
        "WHERE EVENT_OBJECT_SCHEMA IN :schemas",
        schemas=schemas,
    ):
        schema, name = _s(row["EVENT_OBJECT_SCHEMA"]) or "", _s(row["EVENT_OBJECT_TABLE"]) or ""
        table = tables.get((schema, name))
        if table is None:
            continue
        trigger = _s(row["TRIGGER_NAME"]) or ""
        table["triggers"][trigger] = {
            "definition": f"CREATE TRIGGER {q(trigger)} {_s(row['ACTION_TIMING'])} "
            f"{_s(row['EVENT_MANIPULATION'])} ON {q(schema)}.{q(name)} FOR EACH ROW "
            + normalize_sql(_s(row["ACTION_STATEMENT"]) or ""),
            # The trigger body runs with its definer's privileges.
            "definer": _s(row["DEFINER"]),
        }


_VIEWS = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, DEFINER, "
    "SECURITY_TYPE{algorithm} FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN :schemas"
)


def _mysql_views(
    conn: Connection, schemas: list[str], caps: dict[str, set[str]], views: dict[Any, Obj]
) -> None:
    algorithm = _optional(caps, "information_schema.VIEWS", "ALGORITHM")
    for row in _rows(conn, _VIEWS.format(algorithm=algorithm), schemas=schemas):
        view = views.get((_s(row["TABLE_SCHEMA"]), _s(row["TABLE_NAME"])))
        if view is None:
            continue
        check = _s(row["CHECK_OPTION"])
        view.update(
            {
                "definition": normalize_sql(_s(row["VIEW_DEFINITION"]) or ""),
                "definer": _s(row["DEFINER"]),
                "security": _s(row["SECURITY_TYPE"]),
                "check_option": None if check in (None, "NONE") else check,
                "algorithm": _s(row.get("ALGORITHM")),
            }
        )


def _mysql_partitions(conn: Connection, schemas: list[str], tables: dict[Any, Obj]) -> None:
    for row in _rows(
        conn,
        "SELECT TABLE_SCHEMA, TABLE_NAME, PARTITION_NAME, SUBPARTITION_NAME, PARTITION_METHOD, "
        "SUBPARTITION_METHOD, PARTITION_EXPRESSION, SUBPARTITION_EXPRESSION, "
        "PARTITION_DESCRIPTION FROM information_schema.PARTITIONS "
        "WHERE TABLE_SCHEMA IN :schemas AND PARTITION_NAME IS NOT NULL "
        "ORDER BY TABLE_SCHEMA, TABLE_NAME, PARTITION_ORDINAL_POSITION, "
        "SUBPARTITION_ORDINAL_POSITION",
        schemas=schemas,
    ):
        table = tables.get((_s(row["TABLE_SCHEMA"]), _s(row["TABLE_NAME"])))
        if table is None:
            continue
        if table["partitioning"] is None:
            table["partitioning"] = {
                "method": _s(row["PARTITION_METHOD"]),
                "expression": _s(row["PARTITION_EXPRESSION"]),
                "subpartition_method": _s(row["SUBPARTITION_METHOD"]),
                "subpartition_expression": _s(row["SUBPARTITION_EXPRESSION"]),
                "partitions": {},
            }
        partition = table["partitioning"]["partitions"].setdefault(
            _s(row["PARTITION_NAME"]),
            {"description": _s(row["PARTITION_DESCRIPTION"]), "subpartitions": []},
        )
        sub = _s(row["SUBPARTITION_NAME"])
        if sub:
            partition["subpartitions"].append(sub)


# The privilege columns of mysql.user and mysql.db, as information_schema names them.
_PRIVILEGE_COLUMNS = {
    **{f"{w.capitalize()}_priv": w.upper() for w in ("select", "insert", "update", "delete")},
    **{f"{w.capitalize()}_priv": w.upper() for w in ("create", "drop", "reload", "shutdown")},
    **{f"{w.capitalize()}_priv": w.upper() for w in ("process", "file", "references")},
    **{f"{w.capitalize()}_priv": w.upper() for w in ("index", "alter", "super", "execute")},
    **{f"{w.capitalize()}_priv": w.upper() for w in ("event", "trigger")},
    "Show_db_priv": "SHOW DATABASES",
    "Create_tmp_table_priv": "CREATE TEMPORARY TABLES",
    "Lock_tables_priv": "LOCK TABLES",
    "Repl_slave_priv": "REPLICATION SLAVE",
    "Repl_client_priv": "REPLICATION CLIENT",  # BINLOG MONITOR on MariaDB 10.5+
    "Create_view_priv": "CREATE VIEW",
    "Show_view_priv": "SHOW VIEW",
    "Create_routine_priv": "CREATE ROUTINE",
    "Alter_routine_priv": "ALTER ROUTINE",
    "Create_user_priv": "CREATE USER",
    "Create_tablespace_priv": "CREATE TABLESPACE",
    "Delete_history_priv": "DELETE HISTORY",
    "Create_role_priv": "CREATE ROLE",  # MySQL 8
    "Drop_role_priv": "DROP ROLE",
}
# tables_priv / columns_priv SET members that information_schema names otherwise.
_SET_NAMES = {"Delete versioning rows": "DELETE HISTORY"}
# Grant tables read whole (none holds a password hash), and the hint when one is not readable.
_GRANT_TABLES = ("user", "db", "tables_priv", "columns_priv")
GRANT_HINT = (
    "give driftd's user the grant in docs/security.md (Database accounts): SELECT on the "
    "grant tables, never on the password hashes"
)


def _level_privileges(row: RowMapping, names: dict[str, str]) -> set[str]:
    """``Y`` columns of one mysql.user / mysql.db row as grant strings (MySQL's rules)."""
    grantable = _s(row.get("Grant_priv")) == "Y"
    privileges = {names[c] for c in names if _s(row.get(c)) == "Y"}
    if not privileges:  # the grant option alone is USAGE WITH GRANT OPTION
        return {"GRANT OPTION"} if grantable else set()
    return {_privilege(p, grantable) for p in privileges}


def _set_privileges(value: Any) -> set[str]:
    """A tables_priv / columns_priv SET value (``Select,Grant``) as privilege names."""
    members = (_s(value) or "").split(",")
    return {_SET_NAMES.get(m, m.upper()) for m in members if m}


def _grant_rows(
    conn: Connection, table: str, columns: str, schemas: list[str]
) -> Iterator[tuple[str, tuple[str, str], RowMapping]]:
    """(account, (schema, table), row) of mysql.tables_priv or mysql.columns_priv."""
    for row in _rows(
        conn,
        f"SELECT User AS u, Host AS h, Db AS s, Table_name AS t, {columns} "
        f"FROM mysql.{table} WHERE Db IN :schemas",
        schemas=schemas,
    ):
        key = (_s(row["s"]) or "", _s(row["t"]) or "")
        yield _account(_s(row["u"]) or "", _s(row["h"])), key, row


def _mysql_object_grants(
    conn: Connection, schemas: list[str], tables: dict[Any, Obj], views: dict[Any, Obj]
) -> None:
    """Table and column grants, from mysql.tables_priv / columns_priv.

    information_schema's privilege views list every account's grants only to a user
    with SELECT on the whole mysql database, which holds the password hashes; the
    grant tables hold none and are what those views are made from.
    """
    grantable: set[tuple[str, str, str]] = set()  # (account, schema, table)
    grants: dict[tuple[str, str], Grants] = defaultdict(lambda: defaultdict(set))
    for account, key, row in _grant_rows(
        conn, "tables_priv", "Table_priv AS p, Column_priv AS c", schemas
    ):
        privileges = _set_privileges(row["p"])
        option = "GRANT" in privileges
        privileges.discard("GRANT")
        if option:
            grantable.add((account, *key))
        if privileges:
            grants[key][account] |= {_privilege(p, option) for p in privileges}
        elif option and not _s(row["c"]):  # the grant option alone, and no column grant
            grants[key][account].add("GRANT OPTION")
    for key, by_grantee in grants.items():
        obj = tables.get(key) or views.get(key)
        if obj is not None:
            obj["grants"] = _sorted_grants(by_grantee)
    _mysql_column_grants(conn, schemas, tables, grantable)


def _mysql_column_grants(
    conn: Connection,
    schemas: list[str],
    tables: dict[Any, Obj],
    grantable: set[tuple[str, str, str]],
) -> None:
    columns: dict[tuple[str, str], dict[str, Grants]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(set))
    )
    for account, key, row in _grant_rows(
        conn, "columns_priv", "Column_name AS col, Column_priv AS p", schemas
    ):
        # The grant option of a column privilege is the table level's.
        option = (account, *key) in grantable
        privileges = {_privilege(p, option) for p in _set_privileges(row["p"])}
        if privileges:
            columns[key][_s(row["col"]) or ""][account] |= privileges
    for key, by_column in columns.items():
        table = tables.get(key)
        if table is not None:
            table["column_grants"] = {c: _sorted_grants(g) for c, g in by_column.items()}


_ROLE_COLUMNS = (
    "Super_priv",
    "Create_user_priv",
    "Grant_priv",
    "account_locked",
    "password_expired",
    "is_role",
    "plugin",
    "max_user_connections",
    "default_role",
)


def _require_grant_tables(target: Target, caps: dict[str, set[str]]) -> None:
    missing = [f"mysql.{t}" for t in _GRANT_TABLES if f"mysql.{t}" not in caps]
    if missing:
        raise CollectError(
            f"cannot read {target.shown()}: driftd's user may not read {', '.join(missing)}, "
            "so the accounts and every other account's grants are invisible to it",
            GRANT_HINT,
        )


def _account_locks(conn: Connection, caps: dict[str, set[str]]) -> dict[str, bool] | None:
    """Which accounts are locked (MariaDB 10.4+ keeps it in mysql.global_priv only).

    None when driftd may not read global_priv.Priv: that JSON also holds the password
    hash, and the documented grant does not give it (``account_locked`` is then null).
    """
    if "PRIV" not in caps.get("mysql.global_priv", set()):
        return None
    locked: dict[str, bool] = {}
    for row in _rows(
        conn,
        "SELECT User AS u, Host AS h, JSON_VALUE(Priv, '$.account_locked') AS l "
        "FROM mysql.global_priv",
    ):
        locked[_account(_s(row["u"]) or "", _s(row["h"]))] = _s(row["l"]) in ("1", "true")
    return locked


def _account_object(row: RowMapping, locks: dict[str, bool] | None, name: str) -> Obj:
    is_role = _s(row.get("is_role")) == "Y"
    is_locked: bool | None
    if "account_locked" in row:  # MySQL 8, MariaDB < 10.4: a column of mysql.user
        is_locked = _s(row["account_locked"]) == "Y"
    elif locks is not None:
        is_locked = locks.get(name, False)
    else:
        is_locked = False if is_role else None
    limit = row.get("max_user_connections")
    return {
        "login": False if is_role or is_locked else None if is_locked is None else True,
        "superuser": _s(row.get("Super_priv")) == "Y",
        "createrole": _s(row.get("Create_user_priv")) == "Y",
        "grant_option": _s(row.get("Grant_priv")) == "Y",
        "account_locked": is_locked,
        "password_expired": _s(row.get("password_expired")) == "Y",
        "auth_plugin": _s(row.get("plugin")) or None,
        "connection_limit": int(limit) if limit is not None else None,
        "default_role": _s(row.get("default_role")) or None,
        "member_of": {},
        "grants": {},
    }


def _mysql_roles(conn: Connection, target: Target, caps: dict[str, set[str]]) -> dict[str, Obj]:
    """Accounts (``role:user@host``; MariaDB roles as ``role:name``) and their grants."""
    have = caps["mysql.user"]
    # Named columns only, never SELECT *: mysql.user holds password hashes.
    wanted = dict.fromkeys((*_ROLE_COLUMNS, *_PRIVILEGE_COLUMNS))
    present = [c for c in wanted if c.upper() in have]
    columns = ", ".join(f"`{c}`" for c in ("User", "Host", *present))
    locks = _account_locks(conn, caps)
    names = _privilege_names(conn)
    roles: dict[str, Obj] = {}
    for row in _rows(conn, f"SELECT {columns} FROM mysql.user"):
        name = _account(_s(row["User"]) or "", _s(row["Host"]))
        if name in MYSQL_SYSTEM_ACCOUNTS or not target.wants_role(name):
            continue
        roles[name] = _account_object(row, locks, name)
        global_grants = _level_privileges(row, names)
        if global_grants:
            roles[name]["grants"]["*.*"] = global_grants
    _account_grants(conn, roles)
    for obj in roles.values():
        obj["grants"] = _sorted_grants(obj["grants"])
    _account_membership(conn, caps, roles)
    return {make_key("role", name): obj for name, obj in roles.items()}


def _privilege_names(conn: Connection) -> dict[str, str]:
    """``_PRIVILEGE_COLUMNS`` as this server names them."""
    names = dict(_PRIVILEGE_COLUMNS)
    version = str(conn.exec_driver_sql("SELECT VERSION()").scalar_one()).lower()
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if "mariadb" in version and numbers >= (10, 5):
        names["Repl_client_priv"] = "BINLOG MONITOR"
    return names


def _account_grants(conn: Connection, roles: dict[str, Obj]) -> None:
    """Database-level grants (mysql.db), and the server-level ones with no mysql.user column.

    information_schema.USER_PRIVILEGES adds what is visible of the privileges MariaDB
    10.5+ keeps only in mysql.global_priv (CONNECTION ADMIN, ...): every account's to a
    user with SELECT on mysql.*, else only driftd's own.
    """
    for row in _rows(conn, "SELECT * FROM mysql.db"):  # no password hash in mysql.db
        role = roles.get(_account(_s(row["User"]) or "", _s(row["Host"])))
        privileges = _level_privileges(row, _PRIVILEGE_COLUMNS)
        if role is not None and privileges:
            role["grants"].setdefault(f"{_s(row['Db'])}.*", set()).update(privileges)
    for row in _rows(
        conn,
        "SELECT GRANTEE AS g, PRIVILEGE_TYPE AS p, IS_GRANTABLE AS o "
        "FROM information_schema.USER_PRIVILEGES",
    ):
        role = roles.get(_grantee(_s(row["g"])))
        privilege = _mysql_privilege(_s(row["p"]), _s(row["o"]))
        if role is not None and privilege:
            role["grants"].setdefault("*.*", set()).add(privilege)


def _account_membership(conn: Connection, caps: dict[str, set[str]], roles: dict[str, Obj]) -> None:
    if "mysql.roles_mapping" in caps:  # MariaDB
        membership = (
            "SELECT User AS u, Host AS h, Role AS r, '' AS rh, Admin_option AS a "
            "FROM mysql.roles_mapping"
        )
    elif "mysql.role_edges" in caps:  # MySQL 8
        membership = (
            "SELECT TO_USER AS u, TO_HOST AS h, FROM_USER AS r, FROM_HOST AS rh, "
            "WITH_ADMIN_OPTION AS a FROM mysql.role_edges"
        )
    else:
        return
    for row in _rows(conn, membership):
        member = roles.get(_account(_s(row["u"]) or "", _s(row["h"])))
        if member is not None:
            role = _account(_s(row["r"]) or "", _s(row["rh"]))
            member["member_of"][role] = {"admin_option": _s(row["a"]) == "Y"}


def _by_table_and_name(
    rows: Iterable[RowMapping], name_column: str, tables: dict[Any, Obj]
) -> Iterator[tuple[Obj, tuple[str, str, str], list[RowMapping]]]:
    """Rows (one per key column, in order) grouped by (schema, table, key or index name),
    with the table they belong to; rows of tables not collected are left out."""
    grouped: dict[tuple[str, str, str], list[RowMapping]] = defaultdict(list)
    for row in rows:
        key = (
            _s(row["TABLE_SCHEMA"]) or "",
            _s(row["TABLE_NAME"]) or "",
            _s(row[name_column]) or "",
        )
        grouped[key].append(row)
    for key, parts in grouped.items():
        table = tables.get(key[:2])
        if table is not None:
            yield table, key, parts
