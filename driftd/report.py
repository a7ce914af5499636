"""Render a report for people (rich tables) or machines (driftd.report/1 JSON)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from driftd import canonical
from driftd.diff.filters import dotted
from driftd.drift import SEVERITY_ORDER, DriftItem, Report

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
MAX_VALUE = 60

# Characters a terminal, chat client or mail reader acts on instead of showing:
# C0 and C1 controls (ESC starts colour, screen-clearing and OSC 8 hyperlink
# sequences; a newline breaks a table row), DEL, the line/paragraph separators,
# and the bidirectional overrides and isolates that reorder what is shown
# (U+202E makes ``gnp.exe`` out of ``exe.png``), plus invisible marks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any) -> str:
    """``value`` as text that shows what it holds and does nothing else: every control
    character and bidi override becomes a visible escape (``\\x1b``, ``\\n``,
    ``\\u202e``). For names and values that came from a database or an audit log, on
    their way to a terminal, Slack or email; JSON output keeps the exact text."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape_char, text)


def safe(value: Any) -> str:
    """:func:`visible`, with rich markup escaped: for strings printed by rich."""
    return escape(visible(value))


def to_json(report: Report) -> str:
    return canonical.dumps_pretty(report.to_json()).decode()


def console(file: Any = None) -> Console:
    out = file or sys.stdout
    # Wide when piped (CI logs), the terminal's width otherwise.
    return Console(file=out, width=None if out.isatty() else 200, highlight=False)


def short(value: Any) -> str:
    """A one-line rendering of a before/after value, as a reader thinks of it."""
    if value is None:
        return "—"
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = ", ".join(value) if value else "(none)"
    elif isinstance(value, dict):
        text = _summarise(value)
    else:
        text = canonical.dumps(value).decode()
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _summarise(value: dict[str, Any]) -> str:
    """A column, index, constraint, ... by its definition; a whole object by its size."""
    if isinstance(value.get("definition"), str):
        return str(value["definition"])
    if isinstance(value.get("type"), str) and "nullable" in value:
        parts = [value["type"]]
        if value.get("nullable") is False:
            parts.append("NOT NULL")
        if value.get("default") is not None:
            parts.append(f"DEFAULT {value['default']}")
        return " ".join(str(p) for p in parts)
    if isinstance(value.get("columns"), dict):
        return f"({len(value['columns'])} columns)"
    return canonical.dumps(value).decode()


def who(item: DriftItem) -> str:
    if not item.attribution:
        return ""
    best = item.attribution[0]
    actor = best.get("actor") or best.get("db_user") or "?"
    return f"{actor} ({best.get('at', '')})".strip()


def attribution_lines(entry: dict[str, Any]) -> list[str]:
    """One attribution entry for people: who, where, how sure, and the masked statement."""
    actor = entry.get("actor") or entry.get("db_user") or "?"
    who_text = actor
    if entry.get("db_user") and entry.get("db_user") != actor:
        who_text += f" (as {entry['db_user']})"
    line = f"{who_text} at {entry.get('at', '?')} via {entry.get('source', '?')}"
    if entry.get("session"):
        line += f" session {entry['session']}"
    if entry.get("confidence") is not None:
        line += f": confidence {entry['confidence']}"
    if entry.get("reason"):
        line += f", {entry['reason']}"
    lines = [line]
    if entry.get("statement"):
        lines.append("  " + " ".join(str(entry["statement"]).split()))
    review = review_text(entry.get("review"))
    if review:
        lines.append(f"  review: {review}")
    return lines


def review_text(review: Any) -> str | None:
    """A session's approval as on-call reads it: ``approved by carol@example.com at
    2026-11-22T09:50:00Z`` or ``not reviewed``; None when the source knows no reviews."""
    if not isinstance(review, dict):
        return None
    status = str(review.get("status") or "unknown").lower()
    if status in ("approved", "revoked", "processing", "executed"):
        text = "approved"
        by = review.get("approved_by")
        if isinstance(by, list) and by:
            text += " by " + ", ".join(str(b) for b in by)
        elif isinstance(by, str) and by:
            text += f" by {by}"
        if review.get("approved_at"):
            text += f" at {review['approved_at']}"
        if status == "revoked":
            text += ", access revoked"
            if review.get("revoked_at"):
                text += f" at {review['revoked_at']}"
        return text
    if status in ("unreviewed", "none"):
        return "not reviewed"
    if status == "rejected":
        by = review.get("rejected_by")
        who = f" by {', '.join(map(str, by))}" if isinstance(by, list) and by else ""
        return f"not approved (rejected{who})"
    if status == "pending":
        return "not approved (review pending)"
    return f"not approved (review status {status})"


def describe(item: DriftItem) -> str:
    """``table:public.orders columns.note added`` style summary."""
    if not item.path:
        return f"{item.object} {item.change}"
    what = "added" if item.before is None else "removed" if item.after is None else "changed"
    return f"{item.object} {dotted(item.path)} {what}"


def render_text(report: Report, con: Console) -> None:
    for env in report.environments:
        if env.status == "error":
            # The message and its hint on lines of their own; each line made safe
            # (a driver's error may quote names from the database).
            first, *rest = (env.error or "").splitlines() or [""]
            con.print(Text(f"{visible(env.name)}: error", style="bold red"), Text(visible(first)))
            for line in rest:
                con.print(Text(visible(line)))
            continue
        if env.status == "clean":
            con.print(Text(f"{env.name}: clean", style="bold green"), "(no drift from baseline)")
            continue
        counts = Counter(i.severity for i in env.drift)
        summary = ", ".join(
            f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: SEVERITY_ORDER.get(s, 9))
        )
        n = len(env.drift)
        con.print(
            Text(f"{env.name}: drift", style="bold yellow"),
            f"{n} item{'s' if n != 1 else ''} ({summary})",
        )
        table = Table(show_lines=False, pad_edge=False, expand=False)
        table.add_column("severity")
        table.add_column("object", overflow="fold")
        table.add_column("path", overflow="fold")
        table.add_column("before", overflow="fold")
        table.add_column("after", overflow="fold")
        attributed = any(i.attribution for i in env.drift)
        if attributed:
            table.add_column("who", overflow="fold")
        table.add_column("id", no_wrap=True)
        for item in env.drift:
            row: list[Text | str] = [
                Text(item.severity, style=SEVERITY_STYLE.get(item.severity, "")),
                safe(item.object),
                safe(dotted(item.path) if item.path else f"({item.change})"),
                safe(short(item.before)),
                safe(short(item.after)),
            ]
            if attributed:
                row.append(safe(who(item)))
            table.add_row(*row, item.id)
        con.print(table)
        _print_attribution(env.drift, con)
    total = sum(len(e.drift) for e in report.environments)
    errors = sum(e.status == "error" for e in report.environments)
    con.print(
        f"{len(report.environments)} environment(s) checked: {total} drift item(s), "
        f"{errors} error(s). Details: driftd explain ID · accept: driftd baseline accept ENV"
    )


def _print_attribution(items: list[DriftItem], con: Console) -> None:
    """The best match of each attributed item, with its statement (already masked)."""
    attributed = [i for i in items if i.attribution]
    if not attributed:
        return
    con.print("who changed it (best match; all candidates: driftd explain ID):")
    for item in attributed:
        con.print(f"  {item.id} {safe(describe(item))}", soft_wrap=True)
        for line in attribution_lines(item.attribution[0]):
            con.print(f"    {safe(line)}", soft_wrap=True)
        more = len(item.attribution) - 1
        if more:
            con.print(f"    (+{more} other candidate{'s' if more > 1 else ''})")
