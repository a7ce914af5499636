"""Collector for every engine but PostgreSQL: SQLite, MySQL/MariaDB, any SQLAlchemy dialect.

Each engine is read from the source that is both complete and set-based:

- **SQLite**: ``sqlite_master`` and the table-valued pragmas (``pragma_table_xinfo``,
  ``pragma_foreign_key_list``, ``pragma_index_list``) joined over all tables, a
  constant number of queries. Constraint names, CHECK expressions, collations,
  generated-column expressions and ``DEFERRABLE`` exist only in the stored
  ``CREATE TABLE`` text, so a small tokenizer reads them from there. SQLAlchemy's
  SQLite inspector is not used: it drops expression indexes, loses the actions of
  inline ``REFERENCES`` clauses, folds unknown type names (``JSONB`` becomes
  ``NUMERIC``) and mis-parses generated columns.
- **MySQL/MariaDB**: ``information_schema`` (plus ``mysql.user`` for accounts),
  one query per kind for all tables. The inspector has no multi-table
  reflection for MySQL (one ``SHOW CREATE TABLE`` per table) and its parser drops
  column-level CHECK constraints and descending or functional key parts.
- **Any other dialect** (best effort): SQLAlchemy's ``Inspector`` with the
  ``get_multi_*`` calls, which are set-based where the dialect implements them.

Everything is read inside one read-only transaction that is rolled back; a
SQLite file is opened with ``mode=ro`` so it is never created or written.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

from sqlalchemy import bindparam, create_engine, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Dialect, RowMapping, make_url
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.sqltypes import NullType

from driftd.collect import Collected, Target
from driftd.errors import CollectError

Obj = dict[str, Any]
Grants = dict[str, set[str]]

MYSQL_SYSTEM_SCHEMAS = frozenset({"information_schema", "mysql", "performance_schema", "sys"})
# Locked accounts the server creates for itself; they change only with server upgrades.
MYSQL_SYSTEM_ACCOUNTS = frozenset(
    {"mariadb.sys@localhost", "mysql.sys@localhost", "mysql.session@localhost"}
    | {"mysql.infoschema@localhost"}
)
MYSQL_DRIVER_HINT = "install the MySQL driver: pip install 'driftd[mysql]'"


def collect(target: Target) -> Collected:
    """Read ``target`` (any engine but PostgreSQL) into snapshot objects."""
    url = _parse_url(target)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _collect_sqlite(target, url)
    if backend in ("mysql", "mariadb"):
        return _collect_mysql(target, url)
    return _collect_inspected(target, url)


# -- shared helpers ---------------------------------------------------------------------------


def _parse_url(target: Target) -> URL:
    try:
        return make_url(target.url)
    except Exception:
        # The parser's message would echo the URL, password included.
        raise CollectError(
            f"environment {target.environment}: the database URL cannot be parsed",
            "use the form dialect+driver://user@host:port/database",
        ) from None


def _display(target: Target) -> str:
    if target.display_url:
        return target.display_url
    try:
        return make_url(target.url).render_as_string(hide_password=True)
    except Exception:
        return f"the database of environment {target.environment}"


def _scrub(message: str, target: Target) -> str:
    """Drop the password from a driver message (defensive: drivers do not echo it)."""
    try:
        password = make_url(target.url).password
    except Exception:
        password = None
    if password and len(password) >= 4:
        message = message.replace(password, "***")
    return message


def _run(
    target: Target,
    url: URL,
    read: Callable[[Connection], Collected],
    *,
    connect_args: Mapping[str, Any] | None = None,
    driver_hint: str | None = None,
) -> Collected:
    """Connect, run ``read`` and turn every driver failure into a CollectError."""
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args=dict(connect_args or {}))
    except sa_exc.NoSuchModuleError:
        raise CollectError(
            f"cannot read {_display(target)}: SQLAlchemy knows no database dialect "
            f"{url.drivername!r}",
            "check the URL scheme, or install the package that provides this dialect",
        ) from None
    except ImportError as exc:
        raise CollectError(
            f"cannot read {_display(target)}: the driver for {url.drivername} is not "
            f"installed ({exc})",
            driver_hint or f"install the Python DB-API driver for {url.drivername}",
        ) from None
    connected = False
    try:
        with engine.connect() as conn:
            connected = True
            return read(conn)
    except sa_exc.DBAPIError as exc:
        raise _db_error(target, exc, connected) from exc
    finally:
        engine.dispose()


@contextmanager
def _read_transaction(conn: Connection, begin: str) -> Iterator[None]:
    """One transaction around every read, always rolled back.

    If a read failed because the connection broke, the ROLLBACK fails too;
    that second error must not hide the first (closing the connection ends
    the transaction anyway).
    """
    conn.exec_driver_sql(begin)
    try:
        yield
    except BaseException:
        with suppress(sa_exc.DBAPIError):
            conn.exec_driver_sql("ROLLBACK")
        raise
    conn.exec_driver_sql("ROLLBACK")


# Driver error codes (MySQL/MariaDB) and messages (SQLite) worth a specific hint.
_TIMEOUT_HINT = (
    "reading the catalog took longer than statement_timeout; raise it for this "
    "environment or check what keeps the server busy"
)
_LOCK_HINT = (
    "another session holds a lock on the schema (a migration?); driftd tries again "
    "next cycle, or raise lock_timeout to wait longer"
)
_MYSQL_HINTS = {
    1044: "grant driftd's user read access (SELECT, SHOW VIEW) on the databases it watches",
    1045: "check the user name and the password (password_env / password_file)",
    1049: "check the database name in url",
    1142: "grant driftd's user SELECT on mysql.* and SELECT, SHOW VIEW on the watched databases",
    1205: _LOCK_HINT,
    1969: _TIMEOUT_HINT,
    2002: "check that the server is running and reachable from this host",
    2003: "check that the server is running and reachable from this host",
    2005: "check the host name in url",
    2013: _TIMEOUT_HINT,
    3024: _TIMEOUT_HINT,
}


def _error_code(exc: sa_exc.DBAPIError) -> int | None:
    args: tuple[Any, ...] = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _db_error(target: Target, exc: sa_exc.DBAPIError, connected: bool) -> CollectError:
    args: tuple[Any, ...] = getattr(exc.orig, "args", ())
    code = _error_code(exc)
    reason = str(args[1]) if code is not None and len(args) > 1 else str(exc.orig or exc)
    reason = _scrub(reason.strip(), target)
    where = _display(target)
    message = (
        f"cannot read {where}: {reason}" if connected else f"cannot connect to {where}: {reason}"
    )
    hint = _MYSQL_HINTS.get(code) if code is not None else None
    low = reason.lower()
    if hint is None:
        if "interrupted" in low:
            hint = _TIMEOUT_HINT
        elif "locked" in low:
            hint = _LOCK_HINT
        elif "not a database" in low:
            hint = "check that url points at a SQLite database file"
        elif "unable to open" in low:
            hint = "check that driftd's user may read the file and its directory"
        else:
            hint = "check that the database is up and that driftd's user may read its catalog"
    return CollectError(message, hint)


_SQL_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))
  | (?P<str>'(?:[^']|'')*(?:'|\Z))
  | (?P<qid>"(?:[^"]|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z)|\[[^\]]*(?:\]|\Z))
  | (?P<word>[\w$]+)
  | (?P<op>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class _Tok(NamedTuple):
    kind: str  # str | qid | word | op
    value: str  # identifiers and strings unquoted
    start: int
    end: int


def _tokens(sql: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _SQL_TOKEN.finditer(sql):
        kind = m.lastgroup or "op"
        raw = m.group()
        if kind == "ws":
            continue
        value = raw
        if kind == "str":
            value = raw[1:-1].replace("''", "'")
        elif kind == "qid":
            close = "]" if raw[0] == "[" else raw[0]
            value = raw[1:-1].replace(close * 2, close) if close != "]" else raw[1:-1]
        out.append(_Tok(kind, value, m.start(), m.end()))
    return out


def normalize_sql(sql: str) -> str:
    """Collapse whitespace and comments outside literals, drop a trailing ``;``.

    Re-indenting a view or trigger is not drift; a change inside a string
    literal or a quoted identifier is.
    """
    parts: list[str] = []
    pos = 0
    for m in _SQL_TOKEN.finditer(sql):
        if m.lastgroup == "ws":
            if m.start() > pos or not parts:  # one space for a run of blanks and comments
                parts.append(sql[pos : m.start()])
                parts.append(" ")
            pos = m.end()
    parts.append(sql[pos:])
    return "".join(parts).strip().rstrip(";").strip()


def _kw(tok: _Tok) -> str:
    """The upper-cased keyword a bare word can be; quoted tokens are never keywords."""
    return tok.value.upper() if tok.kind == "word" else ""


def _closing(toks: Sequence[_Tok], open_at: int) -> int:
    """Index of the ``)`` matching the ``(`` at ``open_at`` (or the last token)."""
    depth = 0
    for i in range(open_at, len(toks)):
        if toks[i].kind == "op" and toks[i].value == "(":
            depth += 1
        elif toks[i].kind == "op" and toks[i].value == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(toks) - 1


def _split_commas(toks: Sequence[_Tok]) -> list[list[_Tok]]:
    items: list[list[_Tok]] = [[]]
    depth = 0
    for tok in toks:
        if tok.kind == "op" and tok.value == "(":
            depth += 1
        elif tok.kind == "op" and tok.value == ")":
            depth -= 1
        elif tok.kind == "op" and tok.value == "," and depth == 0:
            items.append([])
            continue
        items[-1].append(tok)
    return [item for item in items if item]


def _first_paren(toks: Sequence[_Tok]) -> int | None:
    return next((i for i, t in enumerate(toks) if t.kind == "op" and t.value == "("), None)


_BARE_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class _Quoter:
    """Quote an identifier only when it needs it, in the dialect's own style."""

    def __init__(self, dialect: Dialect) -> None:
        self._preparer = dialect.identifier_preparer

    def __call__(self, name: str) -> str:
        if _BARE_IDENT.match(name) and name.lower() not in self._preparer.reserved_words:
            return name
        return self._preparer.quote_identifier(name)

    def join(self, names: Iterable[str]) -> str:
        return ", ".join(self(n) for n in names)


def _name_constraints(
    found: Sequence[tuple[str | None, str, Obj]],
) -> dict[str, Obj]:
    """Key constraints by name; unnamed ones get ``fallback``.

    Real names are placed first so a generated name never displaces one.
    """
    out: dict[str, Obj] = {}
    for name, _, body in found:
        if name is not None:
            _add_named(out, name, body)
    for name, fallback, body in found:
        if name is None:
            _add_named(out, fallback, body)
    return out


def _add_named(into: dict[str, Obj], name: str, body: Obj) -> None:
    """Add under ``name``, or ``name_2``, ``name_3``... when taken.

    SQLite accepts two constraints of the same name, and MySQL a unique key
    and a foreign key of the same name: neither may hide the other.
    """
    key, n = name, 1
    while key in into:
        n += 1
        key = f"{name}_{n}"
    into[key] = body


def _slug(names: Iterable[str]) -> str:
    return "_".join(re.sub(r"\W+", "_", n).strip("_") or "x" for n in names)


def _sorted_grants(grants: Grants) -> dict[str, list[str]]:
    return {grantee: sorted(privs) for grantee, privs in grants.items()}


def _privilege(privilege: str, grantable: bool) -> str:
    return f"{privilege} WITH GRANT OPTION" if grantable else privilege


def _mysql_privilege(privilege: str | None, grantable: str | None) -> str | None:
    """One information_schema privilege row as a grant string (None: no privilege).

    MySQL's grant option belongs to a level (table, database, server), not to a
    privilege; a level holding only the grant option is reported as USAGE.
    """
    if privilege == "USAGE":
        return "GRANT OPTION" if grantable == "YES" else None
    return _privilege(privilege or "", grantable == "YES")


# -- SQLite -----------------------------------------------------------------------------------


def _sqlite_path(target: Target, url: URL) -> str:
    path = url.database or ""
    if path.startswith("file:") and str(url.query.get("uri", "")).lower() in ("true", "1"):
        # Already a SQLite URI: keep its path, driftd sets the mode itself.
        path = unquote(path[5:].split("?", 1)[0])
        if path.startswith("//"):  # file://localhost/path or file:///path
            path = path[2:].partition("/")[2]
            path = "/" + path if path else ""
    if path in ("", ":memory:") or url.query.get("mode") == "memory":
        raise CollectError(
            f"cannot read {_display(target)}: an in-memory SQLite database has nothing to check",
            "point url at a database file, e.g. sqlite:////var/lib/app/app.db",
        )
    return path


def _collect_sqlite(target: Target, url: URL) -> Collected:
    path = _sqlite_path(target, url)
    hint = (
        "check url in the environment's configuration (a relative path is resolved "
        "against the configuration file's directory)"
    )
    if not os.path.exists(path):
        # Checked first so that nothing, not even a driver quirk, can create the file.
        raise CollectError(f"cannot open SQLite database {path}: no such file", hint)
    if os.path.isdir(path):
        raise CollectError(f"cannot open SQLite database {path}: it is a directory", hint)
    # mode=ro: SQLite refuses every write and never creates the file.
    ro_url = URL.create(
        "sqlite+pysqlite", database="file:" + quote(path), query={"mode": "ro", "uri": "true"}
    )

    def read(conn: Connection) -> Collected:
        return _read_sqlite(conn, target)

    # timeout: how long SQLite waits for a writer's lock (busy timeout), in seconds.
    return _run(target, ro_url, read, connect_args={"timeout": target.lock_timeout})


def _read_sqlite(conn: Connection, target: Target) -> Collected:
    # Autocommit at the driver, so that the explicit BEGIN below is the only
    # transaction: it pins one consistent view of the file for every read.
    conn.execution_options(isolation_level="AUTOCOMMIT")
    raw: Any = conn.connection.dbapi_connection
    deadline = time.monotonic() + target.statement_timeout
    # SQLite has no statement timeout; the progress handler interrupts the
    # running statement once the whole read has taken too long.
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    conn.exec_driver_sql("PRAGMA query_only = ON")
    with _read_transaction(conn, "BEGIN"):
        version = str(conn.exec_driver_sql("SELECT sqlite_version()").scalar_one())
        objects: dict[str, Obj] = {"database:main": _sqlite_database(conn)}
        if target.wants_schema("main"):
            objects.update(_sqlite_objects(conn, version))
    return Collected(engine={"dialect": "sqlite", "server_version": version}, objects=objects)


_AUTO_VACUUM = {0: "none", 1: "full", 2: "incremental"}


def _sqlite_database(conn: Connection) -> Obj:
    def pragma(name: str) -> Any:
        return conn.exec_driver_sql(f"PRAGMA main.{name}").scalar()

    auto_vacuum = pragma("auto_vacuum")
    return {
        "encoding": pragma("encoding"),
        # Applications and migration tools keep their schema version here.
        "user_version": pragma("user_version"),
        "application_id": pragma("application_id"),
        "auto_vacuum": _AUTO_VACUUM.get(auto_vacuum, str(auto_vacuum)),
        "journal_mode": pragma("journal_mode"),
    }


# Internal objects (sqlite_sequence, sqlite_stat1, autoindexes) change with the data.
_SQLITE_USER = r"name NOT LIKE 'sqlite\_%' ESCAPE '\'"
_SQLITE_TABLES = (
    "FROM main.sqlite_master AS m {join} "
    r"WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' "
    "AND m.sql NOT LIKE 'CREATE VIRTUAL %'"
)


def _sqlite_objects(conn: Connection, version: str) -> dict[str, Obj]:
    q = _Quoter(conn.dialect)
    master = conn.exec_driver_sql(
        f"SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE {_SQLITE_USER}"
    ).all()
    sql_of = {name: sql or "" for kind, name, _, sql in master if kind == "table"}
    virtual = {n for n, s in sql_of.items() if re.match(r"(?i)\s*CREATE\s+VIRTUAL\b", s)}
    parsed = {n: _parse_sqlite_table(s) for n, s in sql_of.items() if n not in virtual}
    tables: dict[str, Obj] = {}
    for name, sql in sql_of.items():
        p = parsed.get(name)
        tables[name] = {
            "columns": _sqlite_virtual_columns(conn, name) if p is None else {},
            "constraints": {},
            "indexes": {},
            "triggers": {},
            "comment": None,
            "options": (
                {"virtual": normalize_sql(sql[_virtual_using(sql) :])}
                if p is None
                else {"without_rowid": p.without_rowid, "strict": p.strict}
            ),
        }

    pk_cols = _sqlite_columns(conn, version, parsed, tables)
    _sqlite_constraints(conn, q, parsed, tables, pk_cols)

    objects: dict[str, Obj] = {f"table:main.{n}": t for n, t in tables.items()}
    views: dict[str, Obj] = {}
    for kind, name, _, sql in master:
        if kind == "view":
            views[name] = {
                "definition": _sqlite_view_body(sql or ""),
                "comment": None,
                "triggers": {},  # INSTEAD OF triggers
            }
            objects[f"view:main.{name}"] = views[name]
    for kind, name, table, sql in master:
        if kind == "index" and sql and table in tables:  # autoindexes have no sql
            unique = bool(re.match(r"(?i)\s*CREATE\s+UNIQUE\b", sql))
            tables[table]["indexes"][name] = {
                "definition": _sqlite_index_definition(q, name, table, sql, unique),
                "unique": unique,
            }
        elif kind == "trigger" and sql:
            owner = tables.get(table) or views.get(table)
            if owner is not None:
                owner["triggers"][name] = {"definition": normalize_sql(sql)}
    return objects


def _sqlite_columns(
    conn: Connection, version: str, parsed: Mapping[str, _ParsedTable], tables: dict[str, Obj]
) -> dict[str, list[str]]:
    """Fill in the columns of every (non-virtual) table; returns primary key columns."""
    # table_xinfo (3.26+) also lists generated columns; table_info is the fallback.
    xinfo = tuple(int(part) for part in version.split(".")[:2]) >= (3, 26)
    pragma = "pragma_table_xinfo" if xinfo else "pragma_table_info"
    hidden = "p.hidden" if xinfo else "0"
    pk_of: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for table, col, decl, notnull, default, pk, hide in conn.exec_driver_sql(
        f'SELECT m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk, {hidden} '
        + _SQLITE_TABLES.format(join=f"JOIN {pragma}(m.name, 'main') AS p")
        + " ORDER BY m.name, p.cid"
    ):
        if hide == 1:  # hidden columns belong to virtual tables
            continue
        p = parsed[table]
        key = col.lower()
        generated = p.generated.get(key)
        if hide in (2, 3):
            generated = f"{generated or '?'} {'STORED' if hide == 3 else 'VIRTUAL'}"
        tables[table]["columns"][col] = {
            "type": normalize_sql(decl or ""),
            "nullable": not notnull,
            "default": default,
            "autoincrement": key in p.autoincrement,
            "generated": generated,
            "collation": p.collations.get(key),
            "comment": None,
        }
        if pk:
            pk_of[table].append((pk, col))
    return {t: [c for _, c in sorted(cols)] for t, cols in pk_of.items()}


def _sqlite_constraints(
    conn: Connection,
    q: _Quoter,
    parsed: Mapping[str, _ParsedTable],
    tables: dict[str, Obj],
    pk_cols: Mapping[str, list[str]],
) -> None:
    """Primary key, unique, foreign key and check constraints of every table."""
    found: dict[str, list[tuple[str | None, str, Obj]]] = defaultdict(list)
    for table, cols in pk_cols.items():
        body = _constraint("primary_key", f"PRIMARY KEY ({q.join(cols)})")
        found[table].append((parsed[table].pk_name, "pk", body))

    # Unique constraints: which exist comes from their autoindexes, names from the text.
    unique_cols: dict[tuple[str, str], list[str]] = defaultdict(list)
    for table, index, col in conn.exec_driver_sql(
        "SELECT m.name, il.name, ii.name "
        + _SQLITE_TABLES.format(
            join="JOIN pragma_index_list(m.name, 'main') AS il "
            "JOIN pragma_index_info(il.name, 'main') AS ii"
        )
        + " AND il.origin = 'u' ORDER BY m.name, il.name, ii.seqno"
    ):
        unique_cols[(table, index)].append(col)
    for (table, _), cols in sorted(unique_cols.items()):
        body = _constraint("unique", f"UNIQUE ({q.join(cols)})")
        found[table].append((parsed[table].take_unique(cols), f"uq_{_slug(cols)}", body))

    # Foreign keys: columns and actions as SQLite understood them (the pragma),
    # the name and DEFERRABLE from the text.
    exact = {n.lower(): n for n in tables}
    fk_rows: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for row in conn.exec_driver_sql(
        'SELECT m.name, f.id, f."table", f."from", f."to", f.on_update, f.on_delete, f."match" '
        + _SQLITE_TABLES.format(join="JOIN pragma_foreign_key_list(m.name, 'main') AS f")
        + " ORDER BY m.name, f.id, f.seq"
    ):
        fk_rows[(row[0], row[1])].append(row)
    for (table, _), rows in sorted(fk_rows.items()):
        ref = exact.get(rows[0][2].lower(), rows[0][2])
        src = [r[3] for r in rows]
        dst = [r[4] for r in rows]
        if all(d is None for d in dst):  # "REFERENCES t" alone means t's primary key
            dst = pk_cols.get(ref, [])
        fk_name, deferrable = parsed[table].take_fk(src, ref)
        definition = f"FOREIGN KEY ({q.join(src)}) REFERENCES {q('main')}.{q(ref)}"
        if dst:
            definition += f" ({q.join(d or '?' for d in dst)})"
        on_update, on_delete, match = rows[0][5], rows[0][6], rows[0][7]
        if on_delete and on_delete != "NO ACTION":
            definition += f" ON DELETE {on_delete}"
        if on_update and on_update != "NO ACTION":
            definition += f" ON UPDATE {on_update}"
        if match and match != "NONE":
            definition += f" MATCH {match}"
        if deferrable:
            definition += f" {deferrable}"
        fallback = f"fk_{_slug(src)}_{_slug([ref])}"
        found[table].append((fk_name, fallback, _constraint("foreign_key", definition)))

    for table, p in parsed.items():
        n = 0  # unnamed table-level checks are numbered in the order written
        for ck_name, column, expr in p.checks:
            if column is None and ck_name is None:
                n += 1
            fallback = f"ck_{_slug([column])}" if column is not None else f"ck_{n}"
            found[table].append((ck_name, fallback, _constraint("check", f"CHECK ({expr})")))
        tables[table]["constraints"] = _name_constraints(found[table])


def _constraint(kind: str, definition: str) -> Obj:
    return {"type": kind, "definition": definition}


def _sqlite_virtual_columns(conn: Connection, table: str) -> dict[str, Obj]:
    """Columns of a virtual table, if its module is loaded in this process."""
    try:
        rows = conn.exec_driver_sql(
            "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(?, 'main')",
            (table,),
        ).all()
    except sa_exc.OperationalError:  # "no such module": nothing more to read
        return {}
    return {
        name: {
            "type": normalize_sql(decl or ""),
            "nullable": not notnull,
            "default": default,
            "autoincrement": False,
            "generated": None,
            "collation": None,
            "comment": None,
        }
        for name, decl, notnull, default in rows
    }


def _virtual_using(sql: str) -> int:
    match = re.search(r"(?i)\bUSING\b", sql)
    return match.start() if match else 0


def _sqlite_index_definition(q: _Quoter, name: str, table: str, sql: str, unique: bool) -> str:
    # Everything from the column list on (columns, expressions, COLLATE, DESC,
    # WHERE) is kept as written; the head is rebuilt so that quoting and
    # IF NOT EXISTS do not matter.
    toks = _tokens(sql)
    at = _first_paren(toks)
    tail = normalize_sql(sql[toks[at].start :]) if at is not None else ""
    head = f"CREATE {'UNIQUE ' if unique else ''}INDEX {q(name)} ON {q('main')}.{q(table)}"
    return f"{head} {tail}".strip()


def _sqlite_view_body(sql: str) -> str:
    """The SELECT of ``CREATE VIEW name [(cols)] AS SELECT ...`` (with its column list)."""
    toks = _tokens(sql)
    depth = 0
    group_start: int | None = None  # the last "(" opened at depth 0: a column list
    for i, tok in enumerate(toks):
        if tok.kind == "op" and tok.value == "(":
            if depth == 0:
                group_start = tok.start
            depth += 1
        elif tok.kind == "op" and tok.value == ")":
            depth -= 1
        elif depth == 0 and _kw(tok) == "AS" and i + 1 < len(toks):
            after_group = toks[i - 1].kind == "op" and toks[i - 1].value == ")"
            start = group_start if after_group and group_start is not None else toks[i + 1].start
            return normalize_sql(sql[start:])
    return normalize_sql(sql)


@dataclass
class _ParsedTable:
    """What only the CREATE TABLE text of a SQLite table says."""

    pk_name: str | None = None
    autoincrement: set[str] = field(default_factory=set)
    collations: dict[str, str] = field(default_factory=dict)
    generated: dict[str, str] = field(default_factory=dict)
    uniques: list[tuple[str | None, list[str]]] = field(default_factory=list)
    fks: list[tuple[str | None, list[str], str, str]] = field(default_factory=list)
    checks: list[tuple[str | None, str | None, str]] = field(default_factory=list)
    without_rowid: bool = False
    strict: bool = False

    def take_unique(self, cols: Sequence[str]) -> str | None:
        want = [c.lower() for c in cols]
        for i, (name, parsed_cols) in enumerate(self.uniques):
            if [c.lower() for c in parsed_cols] == want:
                del self.uniques[i]
                return name
        return None

    def take_fk(self, cols: Sequence[str], table: str) -> tuple[str | None, str]:
        want = ([c.lower() for c in cols], table.lower())
        for i, (name, parsed_cols, ref, deferrable) in enumerate(self.fks):
            if ([c.lower() for c in parsed_cols], ref.lower()) == want:
                del self.fks[i]
                return name, deferrable
        return None, ""


_TABLE_CONSTRAINT = frozenset({"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"})
_COLUMN_CONSTRAINT = frozenset(
    {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE"}
    | {"REFERENCES", "GENERATED", "AS"}
)


def _parse_sqlite_table(sql: str) -> _ParsedTable:
    out = _ParsedTable()
    toks = _tokens(sql)
    at = _first_paren(toks)
    if at is None or re.match(r"(?i)\s*CREATE\s+VIRTUAL\b", sql):
        return out
    end = _closing(toks, at)
    for item in _split_commas(toks[at + 1 : end]):
        if _kw(item[0]) in _TABLE_CONSTRAINT:
            _parse_table_constraint(item, sql, out)
        else:
            _parse_column(item, sql, out)
    tail = {_kw(t) for t in toks[end + 1 :]}
    out.without_rowid = {"WITHOUT", "ROWID"} <= tail
    out.strict = "STRICT" in tail
    return out


def _paren_text(toks: Sequence[_Tok], at: int, sql: str) -> str:
    """Normalized source text inside the parentheses opening at ``toks[at]``."""
    if at >= len(toks) or toks[at].value != "(":
        return ""
    end = _closing(toks, at)
    return normalize_sql(sql[toks[at].end : toks[end].start])


def _paren_names(toks: Sequence[_Tok], at: int) -> list[str]:
    """Column names of ``(a COLLATE x DESC, b)`` at ``toks[at]``."""
    if at >= len(toks) or toks[at].value != "(":
        return []
    return [part[0].value for part in _split_commas(toks[at + 1 : _closing(toks, at)])]


def _deferrable(toks: Sequence[_Tok]) -> str:
    """SQLite defers a foreign key only for DEFERRABLE INITIALLY DEFERRED."""
    words = [_kw(t) for t in toks]
    for i, word in enumerate(words):
        deferrable = word == "DEFERRABLE" and (i == 0 or words[i - 1] != "NOT")
        if deferrable and words[i + 1 : i + 3] == ["INITIALLY", "DEFERRED"]:
            return "DEFERRABLE INITIALLY DEFERRED"
    return ""


def _parse_table_constraint(item: list[_Tok], sql: str, out: _ParsedTable) -> None:
    name = None
    i = 0
    if _kw(item[0]) == "CONSTRAINT" and len(item) > 1:
        name, i = item[1].value, 2
    if i >= len(item):
        return
    head = _kw(item[i])
    if head == "PRIMARY":
        out.pk_name = out.pk_name or name
    elif head == "UNIQUE":
        out.uniques.append((name, _paren_names(item, i + 1)))
    elif head == "CHECK":
        out.checks.append((name, None, _paren_text(item, i + 1, sql)))
    elif head == "FOREIGN":
        at = i + 2  # FOREIGN KEY (
        cols = _paren_names(item, at)
        ref_at = _closing(item, at) + 2 if at < len(item) else len(item)
        if ref_at < len(item):
            out.fks.append((name, cols, item[ref_at].value, _deferrable(item[ref_at:])))


def _parse_column(item: list[_Tok], sql: str, out: _ParsedTable) -> None:
    column = item[0].value
    key = column.lower()
    # Split the rest into constraint clauses at depth 0. Inside a REFERENCES
    # clause "NOT DEFERRABLE", "SET NULL" and "SET DEFAULT" start nothing.
    clauses: list[list[_Tok]] = []
    depth = 0
    for i, tok in enumerate(item[1:], start=1):
        word = _kw(tok)
        starts = (
            depth == 0
            and word in _COLUMN_CONSTRAINT
            and _kw(item[i - 1]) != "SET"
            and not (word == "NOT" and i + 1 < len(item) and _kw(item[i + 1]) == "DEFERRABLE")
            and not (word == "AS" and clauses and _kw(clauses[-1][0]) == "GENERATED")
        )
        if tok.kind == "op" and tok.value == "(":
            depth += 1
        elif tok.kind == "op" and tok.value == ")":
            depth -= 1
        if starts:
            clauses.append([tok])
        elif clauses:
            clauses[-1].append(tok)
    name: str | None = None
    for clause in clauses:
        head = _kw(clause[0])
        if head == "CONSTRAINT":
            name = clause[1].value if len(clause) > 1 else None
            continue
        if head == "PRIMARY":
            out.pk_name = out.pk_name or name
            if any(_kw(t) == "AUTOINCREMENT" for t in clause):
                out.autoincrement.add(key)
        elif head == "UNIQUE":
            out.uniques.append((name, [column]))
        elif head == "CHECK":
            out.checks.append((name, column, _paren_text(clause, 1, sql)))
        elif head == "REFERENCES" and len(clause) > 1:
            out.fks.append((name, [column], clause[1].value, _deferrable(clause)))
        elif head == "COLLATE" and len(clause) > 1:
            out.collations[key] = clause[1].value
        elif head in ("GENERATED", "AS"):
            at = _first_paren(clause)
            if at is not None:
                out.generated[key] = _paren_text(clause, at, sql)
        name = None


# -- MySQL / MariaDB --------------------------------------------------------------------------


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
        objects = _mysql_objects(conn, target, url_database, caps)
        objects.update(_mysql_roles(conn, target, caps))
    engine = {"dialect": "mariadb" if mariadb else "mysql", "server_version": version}
    return Collected(engine=engine, objects=objects)


_CAPABILITY_TABLES = {
    "information_schema": (
        *("SCHEMATA", "STATISTICS", "CHECK_CONSTRAINTS"),
        *("TABLE_CONSTRAINTS", "VIEWS", "COLUMNS"),
    ),
    "mysql": ("user", "global_priv", "roles_mapping", "role_edges"),
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
        objects[f"database:{name}"] = {
            "charset": _s(row["DEFAULT_CHARACTER_SET_NAME"]),
            "collation": _s(row["DEFAULT_COLLATION_NAME"]),
            "comment": _s(row.get("SCHEMA_COMMENT")) or None,
        }
    if not schemas:
        return objects

    tables: dict[tuple[str, str], Obj] = {}
    views: dict[tuple[str, str], Obj] = {}
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
            objects[f"table:{key[0]}.{key[1]}"] = tables[key]
        elif kind == "VIEW":
            views[key] = {"definition": None, "comment": None, "grants": {}}
            objects[f"view:{key[0]}.{key[1]}"] = views[key]

    _mysql_columns(conn, schemas, caps, tables)
    _mysql_keys(conn, schemas, caps, tables, q)
    _mysql_triggers(conn, schemas, tables, q)
    _mysql_views(conn, schemas, caps, views)
    _mysql_partitions(conn, schemas, tables)
    _mysql_object_grants(conn, schemas, tables, views)
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


def _mysql_keys(
    conn: Connection,
    schemas: list[str],
    caps: dict[str, set[str]],
    tables: dict[Any, Obj],
    q: _Quoter,
) -> None:
    """Foreign keys, then primary/unique keys and indexes (STATISTICS), then checks."""
    fk_columns: dict[tuple[str, str, str], list[str | None]] = {}
    fk_rows = _rows(
        conn,
        "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, "
        "k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, "
        "r.UPDATE_RULE, r.DELETE_RULE FROM information_schema.KEY_COLUMN_USAGE k "
        "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
        "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME "
        "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
        "WHERE k.TABLE_SCHEMA IN :schemas AND k.REFERENCED_TABLE_NAME IS NOT NULL "
        "ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        schemas=schemas,
    )
    for (schema, table_name, name), parts in _by_table_and_name(fk_rows, "CONSTRAINT_NAME"):
        table = tables.get((schema, table_name))
        if table is None:
            continue
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

    stats = "information_schema.STATISTICS"
    extra = _optional(caps, stats, "EXPRESSION", "IS_VISIBLE", "IGNORED")
    index_rows = _rows(
        conn,
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, "
        f"COLLATION, INDEX_TYPE, INDEX_COMMENT{extra} FROM {stats} "
        "WHERE TABLE_SCHEMA IN :schemas "
        "ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        schemas=schemas,
    )
    for (schema, table_name, name), parts in _by_table_and_name(index_rows, "INDEX_NAME"):
        table = tables.get((schema, table_name))
        if table is None:
            continue
        first = parts[0]
        cols = []
        for part in parts:
            column = _s(part["COLUMN_NAME"])
            item = q(column) if column else f"({_s(part.get('EXPRESSION'))})"
            if part["SUB_PART"]:
                item += f"({part['SUB_PART']})"
            if _s(part["COLLATION"]) == "D":
                item += " DESC"
            cols.append(item)
        index_type = (_s(first["INDEX_TYPE"]) or "BTREE").upper()
        tail = f" USING {index_type}" if index_type not in ("BTREE", "FULLTEXT", "SPATIAL") else ""
        comment = _s(first["INDEX_COMMENT"])
        if comment:
            tail += " COMMENT '{}'".format(comment.replace("'", "''"))
        if _s(first.get("IS_VISIBLE")) == "NO":
            tail += " INVISIBLE"
        if _s(first.get("IGNORED")) == "YES":
            tail += " IGNORED"
        unique = str(first["NON_UNIQUE"]) == "0"
        # MySQL makes no difference between a unique key and a unique
        # constraint: each is reported once, as a constraint.
        if name == "PRIMARY":
            body = _constraint("primary_key", f"PRIMARY KEY ({', '.join(cols)}){tail}")
            _add_named(table["constraints"], name, body)
        elif unique:
            body = _constraint("unique", f"UNIQUE ({', '.join(cols)}){tail}")
            _add_named(table["constraints"], name, body)
        elif fk_columns.get((schema, table_name, name)) == [_s(p["COLUMN_NAME"]) for p in parts]:
            # InnoDB's index for a foreign key, named after it: it backs the
            # constraint (like SQLite's autoindexes) and comes and goes with it.
            continue
        else:
            kind = f"{index_type} " if index_type in ("FULLTEXT", "SPATIAL") else ""
            table["indexes"][name] = {
                "definition": f"CREATE {kind}INDEX {q(name)} ON {q(schema)}.{q(table_name)} "
                f"({', '.join(cols)}){tail}",
                "unique": False,
            }

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


def _mysql_views(
    conn: Connection, schemas: list[str], caps: dict[str, set[str]], views: dict[Any, Obj]
) -> None:
    algorithm = _optional(caps, "information_schema.VIEWS", "ALGORITHM")
    for row in _rows(
        conn,
        "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, DEFINER, "
        f"SECURITY_TYPE{algorithm} FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN :schemas",
        schemas=schemas,
    ):
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


def _mysql_object_grants(
    conn: Connection, schemas: list[str], tables: dict[Any, Obj], views: dict[Any, Obj]
) -> None:
    # Without SELECT on mysql.* these views list only the current user's
    # grants; _mysql_roles refuses to go on in that case.
    grants: dict[tuple[Any, Any], Grants] = defaultdict(lambda: defaultdict(set))
    for row in _rows(
        conn,
        "SELECT GRANTEE, TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE, IS_GRANTABLE "
        "FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA IN :schemas",
        schemas=schemas,
    ):
        privilege = _mysql_privilege(_s(row["PRIVILEGE_TYPE"]), _s(row["IS_GRANTABLE"]))
        if privilege:
            key = (_s(row["TABLE_SCHEMA"]), _s(row["TABLE_NAME"]))
            grants[key][_grantee(_s(row["GRANTEE"]))].add(privilege)
    for key, by_grantee in grants.items():
        obj = tables.get(key) or views.get(key)
        if obj is not None:
            obj["grants"] = _sorted_grants(by_grantee)

    columns: dict[tuple[Any, Any], dict[str, Grants]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(set))
    )
    for row in _rows(
        conn,
        "SELECT GRANTEE, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, PRIVILEGE_TYPE, IS_GRANTABLE "
        "FROM information_schema.COLUMN_PRIVILEGES WHERE TABLE_SCHEMA IN :schemas",
        schemas=schemas,
    ):
        privilege = _mysql_privilege(_s(row["PRIVILEGE_TYPE"]), _s(row["IS_GRANTABLE"]))
        if privilege:
            key = (_s(row["TABLE_SCHEMA"]), _s(row["TABLE_NAME"]))
            grantee = _grantee(_s(row["GRANTEE"]))
            columns[key][_s(row["COLUMN_NAME"]) or ""][grantee].add(privilege)
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


def _mysql_roles(conn: Connection, target: Target, caps: dict[str, set[str]]) -> dict[str, Obj]:
    """Accounts (``role:user@host``; MariaDB roles as ``role:name``) and their grants."""
    have = caps.get("mysql.user")
    if not have:
        raise CollectError(
            f"cannot read {_display(target)}: driftd's user may not read mysql.user, so the "
            "accounts and every other account's grants are invisible to it",
            "GRANT SELECT ON mysql.* TO the driftd user (it never reads password hashes)",
        )
    # Named columns only, never SELECT *: mysql.user holds password hashes.
    present = [c for c in _ROLE_COLUMNS if c.upper() in have]
    columns = ", ".join(f"`{c}`" for c in ("User", "Host", *present))
    locked: dict[str, bool] = {}
    if "mysql.global_priv" in caps:  # MariaDB 10.4+ keeps account locking here only
        for row in _rows(
            conn,
            "SELECT User AS u, Host AS h, JSON_VALUE(Priv, '$.account_locked') AS l "
            "FROM mysql.global_priv",
        ):
            locked[_account(_s(row["u"]) or "", _s(row["h"]))] = _s(row["l"]) in ("1", "true")

    roles: dict[str, Obj] = {}
    for row in _rows(conn, f"SELECT {columns} FROM mysql.user"):
        name = _account(_s(row["User"]) or "", _s(row["Host"]))
        if name in MYSQL_SYSTEM_ACCOUNTS or not target.wants_role(name):
            continue
        is_role = _s(row.get("is_role")) == "Y"
        is_locked = locked.get(name, _s(row.get("account_locked")) == "Y")
        limit = row.get("max_user_connections")
        roles[name] = {
            "login": not is_locked and not is_role,
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

    grants: dict[str, Grants] = defaultdict(lambda: defaultdict(set))
    for row in _rows(
        conn,
        "SELECT GRANTEE AS g, '*.*' AS scope, PRIVILEGE_TYPE AS p, IS_GRANTABLE AS o "
        "FROM information_schema.USER_PRIVILEGES UNION ALL "
        "SELECT GRANTEE, CONCAT(TABLE_SCHEMA, '.*'), PRIVILEGE_TYPE, IS_GRANTABLE "
        "FROM information_schema.SCHEMA_PRIVILEGES",
    ):
        privilege = _mysql_privilege(_s(row["p"]), _s(row["o"]))
        if privilege:
            grants[_grantee(_s(row["g"]))][_s(row["scope"]) or ""].add(privilege)
    for name, by_scope in grants.items():
        if name in roles:
            roles[name]["grants"] = _sorted_grants(by_scope)

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
        membership = ""
    if membership:
        for row in _rows(conn, membership):
            member = roles.get(_account(_s(row["u"]) or "", _s(row["h"])))
            if member is not None:
                role = _account(_s(row["r"]) or "", _s(row["rh"]))
                member["member_of"][role] = {"admin_option": _s(row["a"]) == "Y"}
    return {f"role:{name}": obj for name, obj in roles.items()}


# -- any other dialect: the SQLAlchemy inspector ----------------------------------------------


def _collect_inspected(target: Target, url: URL) -> Collected:
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

    return _run(target, url, read)


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
            objects[f"table:{schema}.{name}"] = table
        for view in _multi_names(insp.get_view_names, schema):
            try:
                definition: str | None = normalize_sql(insp.get_view_definition(view, schema))
            except NotImplementedError:
                definition = None
            objects[f"view:{schema}.{view}"] = {"definition": definition, "comment": None}
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


def _by_table_and_name(
    rows: Iterable[RowMapping], name_column: str
) -> Iterator[tuple[tuple[str, str, str], list[RowMapping]]]:
    """Rows (one per key column, in order) grouped by (schema, table, key or index name)."""
    grouped: dict[tuple[str, str, str], list[RowMapping]] = defaultdict(list)
    for row in rows:
        key = (
            _s(row["TABLE_SCHEMA"]) or "",
            _s(row["TABLE_NAME"]) or "",
            _s(row[name_column]) or "",
        )
        grouped[key].append(row)
    yield from grouped.items()
