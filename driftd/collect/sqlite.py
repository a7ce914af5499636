"""SQLite collector: ``sqlite_master`` and the table-valued pragmas, read-only.

``sqlite_master`` and the pragmas (``pragma_table_xinfo``,
``pragma_foreign_key_list``, ``pragma_index_list``) joined over all tables, a
constant number of queries. Constraint names, CHECK expressions, collations,
generated-column expressions and ``DEFERRABLE`` exist only in the stored
``CREATE TABLE`` text, so the tokenizer (driftd.collect.ddl_tokens) reads them
from there. SQLAlchemy's SQLite inspector is not used: it drops expression
indexes, loses the actions of inline ``REFERENCES`` clauses, folds unknown type
names (``JSONB`` becomes ``NUMERIC``) and mis-parses generated columns. The
file is opened with ``mode=ro``, so it is never created or written.
"""

from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection

from driftd.collect import Collected, Target
from driftd.collect.ddl_tokens import (
    _closing,
    _first_paren,
    _kw,
    _split_commas,
    _Tok,
    _tokens,
    normalize_sql,
)
from driftd.collect.sa_common import (
    Obj,
    _constraint,
    _name_constraints,
    _parse_url,
    _Quoter,
    _read_transaction,
    _run,
    _slug,
)
from driftd.errors import CollectError
from driftd.kinds import make_key

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
            f"cannot read {target.shown()}: an in-memory SQLite database has nothing to check",
            "point url at a database file, e.g. sqlite:////var/lib/app/app.db",
        )
    return path


def collect(target: Target) -> Collected:
    """Read ``target`` into snapshot objects (the file opened read-only)."""
    path = _sqlite_path(target, _parse_url(target))
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
        objects: dict[str, Obj] = {make_key("database", "main"): _sqlite_database(conn)}
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

    objects: dict[str, Obj] = {make_key("table", "main", n): t for n, t in tables.items()}
    views: dict[str, Obj] = {}
    for kind, name, _, sql in master:
        if kind == "view":
            views[name] = {
                "definition": _sqlite_view_body(sql or ""),
                "comment": None,
                "triggers": {},  # INSTEAD OF triggers
            }
            objects[make_key("view", "main", name)] = views[name]
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
    name: str | None = None
    for clause in _column_clauses(item):
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


def _column_clauses(item: list[_Tok]) -> list[list[_Tok]]:
    """A column definition's constraint clauses, split at depth 0. Inside a REFERENCES
    clause "NOT DEFERRABLE", "SET NULL" and "SET DEFAULT" start nothing."""
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
    return clauses
