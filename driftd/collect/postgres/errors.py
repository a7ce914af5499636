"""Failures of a read as messages that say what happened and what to do.

A lock timeout is diagnosed on a fresh connection: which relation, held by
which session (user, application, its statement with literals masked).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.errors

from driftd.collect.postgres.queries import sql
from driftd.config.url import URL, parse
from driftd.errors import CollectError
from driftd.masking import mask

if TYPE_CHECKING:
    from driftd.collect import Target

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


def make_url(url: str) -> URL:
    """The URL's parts as SQLAlchemy reads them (``driftd.config.url``: SQLAlchemy takes
    ~0.15 s to import); for a URL that does not parse, SQLAlchemy raises its error."""
    parsed = parse(url)
    if parsed is None:
        from sqlalchemy.engine import make_url as sa_parse

        sa_parse(url)  # raises ArgumentError or ValueError
        raise ValueError("the database URL cannot be parsed")
    return parsed


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
            holders = conn.execute(sql("lock_holders")).fetchall()
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
