"""What a SQL statement changes: its command and the objects (and paths) it touches.

PostgreSQL statements are parsed with pglast (the server's own parser);
other dialects with sqlglot. Each statement of a multi-statement script is
analysed on its own, and the plain SQL inside ``DO`` blocks is followed
(``EXECUTE 'literal'`` too; ``EXECUTE`` of a computed string is *dynamic*:
its objects are unknown). A :class:`Ref` names a snapshot object the way
snapshot keys do (``table:public.orders`` → kind ``table``, name
``public.orders``) plus the path inside it (``("columns", "note")``).

Only the masked text of a statement leaves this module: the raw text is
parsed and dropped. Nothing here raises on bad input; a statement that does
not parse is returned with ``parsed=False``.
"""

from __future__ import annotations

from driftd.attribute.sqlrefs.model import (
    MAX_NESTING,
    MAX_STATEMENT_CHARS,
    MAX_STATEMENTS,
    RELATION_KINDS,
    Ref,
    Statement,
    command_of,
    looks_like_ddl,
    unparsed,
)

__all__ = [
    "MAX_NESTING",
    "MAX_STATEMENTS",
    "MAX_STATEMENT_CHARS",
    "RELATION_KINDS",
    "Ref",
    "Statement",
    "analyze",
    "command_of",
    "looks_like_ddl",
]


def analyze(sql: str, dialect: str = "postgres") -> tuple[list[Statement], int]:
    """The schema-changing statements in ``sql`` and how many could not be parsed.

    Queries (SELECT, DML, transaction control) are left out: they never
    explain drift. A statement that does not parse is kept (``parsed=False``)
    when its first word says it could be DDL.
    """
    try:
        if dialect in ("postgres", "postgresql"):
            from driftd.attribute.sqlrefs.postgres import analyze_pg

            return analyze_pg(sql)
        from driftd.attribute.sqlrefs.glot import analyze_other

        return analyze_other(sql, dialect)
    except RecursionError:
        return unparsed(sql, dialect)
    except Exception:  # a parser bug must not cost the check: keep what we can say
        return unparsed(sql, dialect)
