"""Identifiers and literals written the way each server reads them.

PostgreSQL: ``quote_ident`` semantics (a name is left bare only when it is
lower case letters, digits and ``_`` and not a keyword that needs quotes);
MySQL/MariaDB: backticks, always. Literals double their quotes (and, for
MySQL, their backslashes), so no name or value read from a catalog can end a
string or a statement early.
"""

from __future__ import annotations

import functools
import re

_BARE = re.compile(r"[a-z_][a-z0-9_]*")


@functools.cache
def _pg_keywords() -> frozenset[str]:
    # The keywords quote_ident quotes: all but the unreserved ones.
    from pglast import keywords

    return frozenset(
        keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS
    )


def pg_ident(name: str) -> str:
    """``name`` as PostgreSQL's ``quote_ident`` writes it."""
    if _BARE.fullmatch(name) and name not in _pg_keywords():
        return name
    return '"' + name.replace('"', '""') + '"'


def pg_qualified(*parts: str) -> str:
    return ".".join(pg_ident(p) for p in parts)


def pg_role(name: str) -> str:
    """A grantee or role: ``PUBLIC`` is the keyword, not a role called so."""
    return "PUBLIC" if name == "PUBLIC" else pg_ident(name)


def pg_literal(value: str) -> str:
    """A string constant (the script sets ``standard_conforming_strings``)."""
    return "'" + value.replace("'", "''") + "'"


def my_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def my_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def my_account(name: str) -> str:
    """``user@host`` as ``'user'@'host'``; a role (no host) as ``'role'``."""
    user, sep, host = name.rpartition("@")
    if not sep:
        return my_literal(name)
    return f"{my_literal(user)}@{my_literal(host)}"


# A raw ``schema.name`` reference held in a snapshot (inherits, partition parents,
# publication tables): read back only when it is unambiguous.
_REF = re.compile(r"([^.\"]+)\.([^.\"]+)")


def pg_ref(text: str) -> str | None:
    """A raw ``schema.name`` as a quoted qualified name, or None when it cannot be split
    with certainty (a name holding a dot or a quote)."""
    m = _REF.fullmatch(text)
    return pg_qualified(m.group(1), m.group(2)) if m else None
