"""Render a report for people (rich tables) or machines (driftd.report/1 JSON)."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from driftd import canonical
from driftd.drift import SEVERITY_ORDER, DriftItem, Report
from driftd.filters import dotted

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
MAX_VALUE = 60


def to_json(report: Report) -> str:
    return canonical.dumps_pretty(report.to_json()).decode()


def console(file: Any = None) -> Console:
    out = file or sys.stdout
    # Wide when piped (CI logs), the terminal's width otherwise.
    return Console(file=out, width=None if out.isatty() else 200, highlight=False)


def short(value: Any) -> str:
    """A one-line rendering of a before/after value."""
    if value is None:
        return "—"
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = ", ".join(value) if value else "(none)"
    else:
        text = canonical.dumps(value).decode()
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def who(item: DriftItem) -> str:
    if not item.attribution:
        return ""
    best = item.attribution[0]
    actor = best.get("actor") or best.get("db_user") or "?"
    return f"{actor} ({best.get('at', '')})".strip()


def describe(item: DriftItem) -> str:
    """``table:public.orders columns.note added`` style summary."""
    if not item.path:
        return f"{item.object} {item.change}"
    what = "added" if item.before is None else "removed" if item.after is None else "changed"
    return f"{item.object} {dotted(item.path)} {what}"


def render_text(report: Report, con: Console) -> None:
    for env in report.environments:
        if env.status == "error":
            con.print(Text(f"{env.name}: error", style="bold red"), Text(f"  {env.error}"))
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
        table.add_column("who", overflow="fold")
        table.add_column("id", no_wrap=True)
        for item in env.drift:
            table.add_row(
                Text(item.severity, style=SEVERITY_STYLE.get(item.severity, "")),
                escape(item.object),
                escape(dotted(item.path) if item.path else f"({item.change})"),
                escape(short(item.before)),
                escape(short(item.after)),
                escape(who(item)),
                item.id,
            )
        con.print(table)
    total = sum(len(e.drift) for e in report.environments)
    errors = sum(e.status == "error" for e in report.environments)
    con.print(
        f"{len(report.environments)} environment(s) checked: {total} drift item(s), "
        f"{errors} error(s). Details: driftd explain ID · accept: driftd baseline accept ENV"
    )
