"""What the SQLAlchemy-based collectors (SQLite, MySQL/MariaDB, any dialect) share.

Connecting through SQLAlchemy with every driver failure turned into a
CollectError that says what to do, the read-only transaction, identifier
quoting in the dialect's style, and the naming of constraints and grants.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Dialect, make_url
from sqlalchemy.pool import NullPool

from driftd.collect import Collected, Target
from driftd.errors import CollectError

Obj = dict[str, Any]
Grants = dict[str, set[str]]

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
            f"cannot read {target.shown()}: SQLAlchemy knows no database dialect "
            f"{url.drivername!r}",
            "check the URL scheme, or install the package that provides this dialect",
        ) from None
    except ImportError as exc:
        raise CollectError(
            f"cannot read {target.shown()}: the driver for {url.drivername} is not "
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
    1044: "give driftd's user the grant in docs/security.md (Database accounts)",
    1045: "check the user name and the password (password_env / password_file)",
    1049: "check the database name in url",
    1142: "give driftd's user the grant in docs/security.md (Database accounts)",
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
    where = target.shown()
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


def _constraint(kind: str, definition: str) -> Obj:
    return {"type": kind, "definition": definition}
