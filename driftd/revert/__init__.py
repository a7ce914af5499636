"""Remediation: the SQL that brings a live database back to its baseline.

Stage after diff and rules: from drift items and the baseline and live
objects, :func:`plan` writes each item's statements with their hazards (or
why a person must act), and :func:`script` orders them into one script.
driftd never runs them: a person does, preferably through the audited access
path. The per-kind tables are :mod:`driftd.revert.pg_handlers` (PostgreSQL,
every kind) and :mod:`driftd.revert.mysql` (MySQL/MariaDB).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from driftd.drift import DriftItem
from driftd.kinds import KeyError_
from driftd.revert.context import Ctx, Objects
from driftd.revert.model import HAZARDS, NeedsPerson, Revert, Statement
from driftd.revert.postgres import KindRevert

__all__ = [
    "HAZARDS",
    "Revert",
    "Statement",
    "handlers",
    "plan",
    "script",
    "to_json",
    "undo_hint",
]

REVERT_FORMAT = "driftd.revert/1"
# Characters a terminal acts on (report.visible's set), less the line breaks and tabs
# that SQL definitions hold.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def handlers(dialect: str) -> dict[str, KindRevert]:
    """The per-kind table of an engine; empty for engines driftd writes no SQL for."""
    if dialect == "postgresql":
        from driftd.revert.pg_handlers import HANDLERS

        return HANDLERS
    if dialect in ("mysql", "mariadb"):
        from driftd.revert.mysql import HANDLERS as MY

        return MY
    return {}


def revert_item(ctx: Ctx, dialect: str) -> Revert:
    from driftd.diff.renames import Rename

    rename = Rename.of(ctx.item)
    if rename is not None:
        from driftd.revert.renames import revert_rename

        try:
            return Revert(ctx.item, revert_rename(ctx, rename, dialect))
        except NeedsPerson as exc:
            return Revert(ctx.item, needs_person=str(exc))
    table = handlers(dialect)
    handler = table.get(ctx.key.kind)
    if handler is None:
        return Revert(
            ctx.item, needs_person=f"driftd writes no {dialect} revert for {ctx.key.kind}"
        )
    try:
        return Revert(ctx.item, handler.build(ctx))
    except NeedsPerson as exc:
        return Revert(ctx.item, needs_person=str(exc))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A snapshot shape the builders do not expect: a person, not a wrong script.
        return Revert(ctx.item, needs_person=f"unexpected {ctx.key.kind} content ({exc})")


def plan(
    items: Iterable[DriftItem], baseline: Objects, live: Objects, dialect: str
) -> list[Revert]:
    """Each item's revert, in the items' order."""
    out = []
    for item in items:
        try:
            ctx = Ctx.of(item, baseline, live)
        except KeyError_ as exc:
            out.append(Revert(item, needs_person=f"object key: {exc}"))
            continue
        r = revert_item(ctx, dialect)
        if any(_UNSAFE.search(s.sql) for s in r.statements):
            # A terminal would act on the characters of such a name: the exact
            # statements stay in the JSON (escaped there), not in the script.
            r.needs_person = (
                "a name holds control characters or bidi overrides: take the exact "
                "statements from --format json"
            )
        out.append(r)
    return out


def ordered(reverts: list[Revert]) -> list[tuple[Statement, Revert]]:
    """Every statement once, in dependency order (stable within a phase)."""
    seen: set[str] = set()
    rows: list[tuple[int, int, Statement, Revert]] = []
    for r in reverts:
        for s in r.statements:
            if s.sql in seen:
                continue
            seen.add(s.sql)
            rows.append((s.phase, len(rows), s, r))
    return [(s, r) for _p, _n, s, r in sorted(rows, key=lambda x: (x[0], x[1]))]


def _comment(text: str) -> str:
    from driftd.report import visible

    return "-- " + visible(text)


def script(environment: str, dialect: str, reverts: list[Revert], allowed: frozenset[str]) -> str:
    """The revert script: hazards as comments above each statement; a statement with a
    hazard not in ``allowed`` is commented out; items for a person listed at the top."""
    lines = [
        _comment(f"driftd revert {environment}: {len(reverts)} drift item(s). Review, then run"),
        _comment(
            "through your audited access path (psql -v ON_ERROR_STOP=1 -f FILE)."
            if dialect == "postgresql"
            else "through your audited access path."
        ),
    ]
    if dialect == "postgresql":
        lines.append("SET standard_conforming_strings = on;")
    people = [r for r in reverts if r.needs_person]
    if people:
        lines += ["", _comment(f"{len(people)} item(s) need a person (no statement below):")]
        lines += [_comment(f"  {r.item.id} {r.item.object}: {r.needs_person}") for r in people]
    for s, r in ordered([r for r in reverts if not r.needs_person]):
        where = ".".join(str(p) for p in r.item.path)
        lines += ["", _comment(f"{r.item.id} {r.item.object} {where}".rstrip())]
        lines += [_comment(f"hazard {h}: {HAZARDS[h]}") for h in s.hazards]
        if s.note:
            lines.append(_comment(f"note: {s.note}"))
        blocked = r.blocked_by(allowed)
        if not blocked:
            lines.append(s.sql)
        else:
            lines.append(_comment(f"not run: allow with --allow-hazards {','.join(blocked)}"))
            lines += [f"-- {line}" for line in s.sql.splitlines()]
    return "\n".join(lines) + "\n"


def to_json(
    environment: str, dialect: str, reverts: list[Revert], allowed: frozenset[str]
) -> dict[str, Any]:
    return {
        "format": REVERT_FORMAT,
        "environment": environment,
        "dialect": dialect,
        "allowed_hazards": sorted(allowed),
        "items": [r.to_json(allowed) for r in reverts],
        "script": [
            s.sql for s, r in ordered(reverts) if not r.blocked_by(allowed) and not r.needs_person
        ],
    }


# Kinds of change short and safe enough to show as one statement in an alert.
_HINT_PATHS = {
    "grants",
    "column_grants",
    "owner",
    "member_of",
    "config",
    "settings",
    "role_settings",
    "default_privileges",
    "superuser",
    "createdb",
    "createrole",
    "login",
    "replication",
    "bypassrls",
    "inherit",
    "connection_limit",
    "valid_until",
    "account_locked",
}


def undo_hint(item: dict[str, Any] | DriftItem, dialect: str | None = None) -> str | None:
    """The undo statement(s) of a grant, role, membership, owner or setting change,
    written from the item alone (alerts carry no snapshot); None for other changes."""
    drift = (
        item
        if isinstance(item, DriftItem)
        else DriftItem.from_json({"id": "", "severity": "info", "rules": [], **item})
    )
    from driftd.diff.renames import Rename

    if not (
        drift.kind in ("setting", "role")
        or (drift.path and str(drift.path[0]) in _HINT_PATHS)
        or Rename.of(drift) is not None  # one statement: the name back
    ):
        return None
    try:
        ctx = Ctx.from_item(drift)
    except KeyError_:
        return None
    guessed = dialect or _guess_dialect(drift)
    r = revert_item(ctx, guessed)
    if r.needs_person or not r.statements:
        return None
    return " ".join(s.sql for s in r.statements)


def _guess_dialect(item: DriftItem) -> str:
    """Alerts do not say which engine: MySQL accounts and grantees hold ``user@host``."""
    name = item.object.partition(":")[2]
    grantee = str(item.path[1]) if len(item.path) > 1 else ""
    return "mysql" if "@" in name or "@" in grantee else "postgresql"
