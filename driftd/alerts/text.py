"""Words for alerts, shared by every sink: titles, one-line items, who did it.

Names, values and statements come from databases and audit logs: every helper
here returns them through :func:`driftd.report.visible`, so a control character
or bidi override in a table name reaches no terminal, chat client or mail
reader as anything but a visible escape.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from driftd.alerts.events import AlertEvent
from driftd.diff.filters import dotted
from driftd.diff.renames import is_rename
from driftd.drift import SEVERITY_ORDER
from driftd.report import review_text, short, visible

EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":large_blue_circle:",
    "info": ":white_circle:",
}


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def counts(items: list[dict[str, Any]]) -> str:
    """``1 critical, 2 high``: most severe first."""
    c = Counter(i["severity"] for i in items)
    return ", ".join(f"{c[s]} {s}" for s in sorted(c, key=lambda s: SEVERITY_ORDER.get(s, 9)))


def title(event: AlertEvent) -> str:
    """One line saying what happened, where: subjects, headers, summaries."""
    env, n = event.environment, len(event.drift)
    if event.kind == "opened":
        return f"{env}: {plural(n, 'new drift item')} ({counts(event.drift)})"
    if event.kind == "resolved":
        return f"{env}: {plural(n, 'drift item')} resolved"
    if event.kind == "accepted":
        return f"{env}: {plural(n, 'drift item')} accepted into the baseline"
    if event.kind == "updated":
        return f"{env}: author found for {plural(n, 'open drift item')}"
    if event.kind == "renotify":
        return f"{env}: {plural(n, 'drift item')} still open ({counts(event.drift)})"
    if event.kind == "environment_error":
        return (
            f"{env}: cannot be read ({plural(event.consecutive_errors or 1, 'failed check')} "
            "in a row)"
        )
    if event.kind == "environment_recovered":
        return f"{env}: can be read again"
    if event.closing:
        return f"test from alert sink {event.sink}: resolved"
    return f"test from alert sink {event.sink}: alerts reach you (nothing to do)"


def what(item: dict[str, Any]) -> str:
    """``table:public.orders columns.note added``: object, where in it, what happened."""
    path = item.get("path") or []
    if not path:
        return visible(f"{item['object']} {item['change']}")
    before, after = item.get("before"), item.get("after")
    verb = "added" if before is None else "removed" if after is None else "changed"
    if is_rename(path, after):
        where = dotted(path[:-1])
        return visible(f"{item['object']} {where + ' ' if where else ''}renamed")
    return visible(f"{item['object']} {dotted(path)} {verb}")


def values(item: dict[str, Any]) -> str:
    """``before → after`` in a reader's terms (``—`` for nothing)."""
    return visible(f"{short(item.get('before'))} → {short(item.get('after'))}")


def best(item: dict[str, Any]) -> dict[str, Any] | None:
    entries = item.get("attribution") or []
    return entries[0] if entries else None


def who(entry: dict[str, Any]) -> str:
    """``alice@example.com (as alice) at 2026-11-22T09:58:12Z via pgaudit``; with a
    session review (hoop): ``...via hoop, approved by carol@example.com at ...`` or
    ``..., not reviewed``."""
    actor = entry.get("actor") or entry.get("db_user") or "unknown"
    text = str(actor)
    if entry.get("db_user") and entry.get("db_user") != actor:
        text += f" (as {entry['db_user']})"
    if entry.get("at"):
        text += f" at {entry['at']}"
    if entry.get("source"):
        text += f" via {entry['source']}"
    review = review_text(entry.get("review"))
    if review:
        text += f", {review}"
    return visible(text)


def statement(entry: dict[str, Any], limit: int = 500) -> str | None:
    """The (already masked) statement on one line, cut to ``limit``."""
    sql = entry.get("statement")
    if not isinstance(sql, str) or not sql.strip():
        return None
    one = visible(" ".join(sql.split()))
    return one if len(one) <= limit else one[: limit - 1] + "…"


def error_text(error: str | None) -> str:
    """An environment's error (a driver's message may quote names): its lines kept,
    everything else in them made visible."""
    return "\n".join(visible(line) for line in (error or "").splitlines())


def explain(item: dict[str, Any]) -> str:
    return f"driftd explain {item['id']}"


def undo_sql(item: dict[str, Any]) -> str | None:
    """The statement that undoes a grant, role, membership, owner or setting change
    (made visible), or None for changes that need the whole script."""
    from driftd.revert import undo_hint

    hint = undo_hint(item)
    return visible(hint) if hint else None


def revert_command(item: dict[str, Any], environment: str) -> str:
    return visible(f"driftd revert {environment} {item['id']}")


def undo(item: dict[str, Any], environment: str) -> str:
    """``To undo: `REVOKE ALL ON TABLE public.payments FROM PUBLIC;` ``, or for other
    changes the command that writes the script: ``To undo: run `driftd revert ENV ID` ``."""
    sql = undo_sql(item)
    if sql:
        return f"To undo: `{sql}`"
    return f"To undo: run `{revert_command(item, environment)}`"


def evidence_fields(event: AlertEvent, item: dict[str, Any], limit: int) -> dict[str, str]:
    """``undo`` (while the item is open), ``who`` and ``statement`` (of the best
    attribution, the statement cut to ``limit``): the fields sinks with a key-value
    payload add to an item, each only when there is one."""
    out: dict[str, str] = {}
    if event.kind in ("opened", "renotify", "updated"):
        out["undo"] = undo(item, event.environment)
    entry = best(item)
    if entry:
        out["who"] = who(entry)
        sql = statement(entry, limit=limit)
        if sql:
            out["statement"] = sql
    return out


def item_line(item: dict[str, Any]) -> str:
    """One plain-text line per item: severity, what, values, who."""
    line = f"[{item['severity']}] {what(item)}: {values(item)}"
    entry = best(item)
    if entry:
        line += f" (by {who(entry)})"
    return line


def item_lines(item: dict[str, Any], undo_in: str | None = None) -> list[str]:
    """An item for plain-text bodies (email, SNS email subscribers); with ``undo_in``
    (the environment of open drift), how to undo it."""
    out = [f"[{item['severity']}] {what(item)}", f"    {values(item)}"]
    entry = best(item)
    if entry:
        out.append(f"    who: {who(entry)}")
        sql = statement(entry)
        if sql:
            out.append(f"    statement: {sql}")
    if undo_in is not None:
        out.append(f"    {undo(item, undo_in)}")
    out.append(f"    details: {explain(item)}")
    return out


def footer(event: AlertEvent) -> str:
    parts = []
    if event.run_id is not None:
        parts.append(f"run {event.run_id}")
    parts.append(event.at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if event.kind in ("resolved", "accepted") or (event.kind == "opened" and event.still_open):
        parts.append(f"{plural(len(event.still_open), 'drift item')} open in {event.environment}")
    return "driftd · " + " · ".join(parts)


def plain(event: AlertEvent, limit: int = 100) -> str:
    """A plain-text body: title, items, next steps."""
    lines = [title(event), ""]
    if event.kind == "environment_error":
        lines += [
            f"error: {visible(event.error)}",
            "",
            "check the database and driftd's access to it",
        ]
    elif event.kind == "environment_recovered":
        lines.append("the last check read the environment again")
    elif event.kind == "test":
        lines.append("this is a test message sent by `driftd alerts test`")
    still_open = event.environment if event.kind in ("opened", "renotify", "updated") else None
    for item in event.drift[:limit]:
        lines += item_lines(item, still_open)
    if len(event.drift) > limit:
        lines.append(f"... and {len(event.drift) - limit} more: driftd status")
    if event.kind in ("opened", "renotify"):
        lines += [
            "",
            f"review: driftd check {event.environment}",
            f"accept: driftd baseline accept {event.environment}",
        ]
    lines += ["", footer(event)]
    return "\n".join(lines) + "\n"
