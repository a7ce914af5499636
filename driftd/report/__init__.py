"""Render a report for people (rich tables) or machines (driftd.report/1 JSON).

rich is imported only where it is used (a terminal, tables): its ~25 ms are a good
part of the start-up of a no-change ``driftd check`` whose text goes to a pipe or a file.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections import Counter
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from driftd import canonical
from driftd.diff.filters import dotted
from driftd.drift import SEVERITY_ORDER, DriftItem, EnvironmentReport, Report

if TYPE_CHECKING:
    from rich.console import Console

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
    from rich.markup import escape

    return escape(visible(value))


PIPED_WIDTH = 200  # piped with no COLUMNS and no terminal on stderr: CI logs


def width(out: Any = None) -> int:
    """Columns to fit: ``COLUMNS`` when set (also when piped), else the terminal's
    (stdout's, or stderr's when stdout is piped into ``less``), else 200."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for stream in (out or sys.stdout, sys.stderr):
        try:
            if stream.isatty():
                return os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # a test's capture has no fileno
            continue
    return PIPED_WIDTH


def console(file: Any = None) -> Console:
    from rich.console import Console

    out = file or sys.stdout
    return Console(file=out, width=width(out), highlight=False)


def _coloured(out: TextIO) -> bool:
    """Whether rich may colour ``out``: a terminal, or rich's FORCE_COLOR or
    TTY_COMPATIBLE set (either way rich decides). Elsewhere rich writes no colour."""
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        return True
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # closed, or a test's capture
        return False


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
    from driftd.diff.renames import is_rename  # items only: not for a clean report

    if not item.path:
        return f"{item.object} {item.change}"
    if is_rename(item.path, item.after):
        where = dotted(item.path[:-1])
        return f"{item.object} {where + ' ' if where else ''}renamed from {item.before}"
    what = "added" if item.before is None else "removed" if item.after is None else "changed"
    return f"{item.object} {dotted(item.path)} {what}"


def render_text(report: Report, con: Console | None = None) -> None:
    """The report for people, every line within ``con.width`` columns.

    Each item is a block: severity, object and path on the first line, then
    the change, the rules that set the severity and the id; then what changed:
    a unified diff for bodies (functions, views, triggers, policies), an
    attribute table for a whole new or dropped role, ``before``/``after``
    otherwise. Lines wrap between words, so a name breaks only when it alone is
    wider than the terminal. Names and values pass through :func:`visible`.

    Without ``con``: to stdout, through rich where it may colour (:func:`_coloured`);
    elsewhere the same bytes are written without it (:class:`_PlainSink`).
    """
    if con is not None or _coloured(sys.stdout):
        _render(report, _Lines(_RichSink(con or console())))
        return
    try:
        _render(report, _Lines(_PlainSink(sys.stdout)))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`driftd check | head`): what rich does, so that a check cut
        # short exits 1 as before, never 0 as a clean one would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def _render(report: Report, out: _Lines) -> None:
    for env in report.environments:
        _render_environment(env, out)
    total = sum(len(e.drift) for e in report.environments)
    errors = sum(e.status == "error" for e in report.environments)
    if report.comparison:
        out.text(
            f"{total} difference(s). A comparison records nothing: its ids name these "
            "differences only (driftd explain and baseline accept do not know them)."
        )
        return
    built = any(e.reference for e in report.environments)
    out.text(
        f"{len(report.environments)} environment(s) checked: {total} drift item(s), "
        f"{errors} error(s). Details: driftd explain ID · accept: driftd baseline accept ENV"
        + (" (built from migrations: driftd baseline build ENV)" if built else "")
    )


class _Sink(Protocol):
    width: int

    def line(self, text: str, style: str = "", lead: tuple[int, int, str] | None = None) -> None:
        """One line; ``lead``: (start, end, style) of a part styled apart."""


class _RichSink:
    def __init__(self, con: Console) -> None:
        self.con = con
        self.width = con.width

    def line(self, text: str, style: str = "", lead: tuple[int, int, str] | None = None) -> None:
        from rich.text import Text

        shown = Text(text, style=style)
        if lead is not None:
            shown.stylize(lead[2], lead[0], lead[1])
        self.con.print(shown, soft_wrap=True)


# What rich's Text drops from the text it is given (rich.control.STRIP_CONTROL_CODES:
# BEL, BS, VT, FF, CR); what :func:`visible` leaves in a line never holds them, but a
# migrations revision read from the baseline file may.
_RICH_STRIPS = dict.fromkeys((7, 8, 11, 12, 13))


class _PlainSink:
    """The lines as rich writes them where it adds no colour: as they are, no styles,
    no wrapping of its own (``soft_wrap``), at ``width(file)`` columns."""

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self.width = width(file)

    def line(self, text: str, style: str = "", lead: tuple[int, int, str] | None = None) -> None:
        self.file.write(text.translate(_RICH_STRIPS) + "\n")


class _Lines:
    """Prints lines wrapped to the console's width, with a style for the first word."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.width = max(20, sink.width)

    def text(self, line: str, indent: str = "", style: str = "", lead: str = "") -> None:
        """``line`` (already made visible) wrapped; ``lead`` (its first word) styled."""
        wrapper = textwrap.TextWrapper(
            width=self.width,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_long_words=True,
            break_on_hyphens=False,
        )
        for n, part in enumerate(wrapper.wrap(line) or [indent]):
            span = None
            if n == 0 and lead and part.startswith(indent + lead):
                span = (len(indent), len(indent) + len(lead), SEVERITY_STYLE.get(lead, ""))
            self.sink.line(part, style, span)

    def blank(self) -> None:
        self.sink.line("")


def _render_environment(env: EnvironmentReport, out: _Lines) -> None:
    name = visible(env.name)
    if env.status == "error":
        # The message and its hint on lines of their own; each line made safe
        # (a driver's error may quote names from the database).
        first, *rest = (env.error or "").splitlines() or [""]
        out.text(f"{name}: error {visible(first)}", style="", lead="")
        for line in rest:
            out.text(visible(line), indent="  ")
        return
    ignored = env.ignored  # changed objects whose every change `ignore` rules hid
    tail = f", {ignored} ignored" if ignored else ""
    if env.status == "clean":
        out.text(f"{name}: clean (no drift from {env.reference or 'baseline'}{tail})")
        return
    counts = Counter(i.severity for i in env.drift)
    summary = ", ".join(
        f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: SEVERITY_ORDER.get(s, 9))
    )
    n = len(env.drift)
    against = f" against {env.reference}" if env.reference else ""
    out.text(f"{name}: drift {n} item{'s' if n != 1 else ''} ({summary}){tail}{against}")
    for item in env.drift:
        out.blank()
        _render_item(item, out, env.reference)
    _print_attribution(env.drift, out)
    out.blank()


def _render_item(item: DriftItem, out: _Lines, reference: str | None = None) -> None:
    from driftd.diff.renames import is_rename  # items only: not for a clean report

    where = dotted(item.path) if item.path else ""
    out.text(
        f"{item.severity} {visible(item.object)} {visible(where)}".rstrip(), lead=item.severity
    )
    rules = ", ".join(item.rules) or "schema-change"
    rule_word = "rules" if len(item.rules) > 1 else "rule"
    what: str = item.change
    if item.path:
        what = "added" if item.before is None else "removed" if item.after is None else "changed"
        if is_rename(item.path, item.after):
            what = "renamed"
    if reference and what in ("added", "removed"):
        # A baseline built from migrations: say where the object is (not) declared.
        what += f" · {'not ' if what == 'added' else ''}in {reference}"
    out.text(f"{what} · {rule_word} {visible(rules)} · id {item.id}", indent="  ")
    body = _bodies(item)
    if body is not None:
        for line in body:
            style = "red" if line.startswith("-") else "green" if line.startswith("+") else ""
            out.text(visible(line), indent="    ", style=style)
    elif item.kind == "role" and not item.path:
        _attribute_table(item.after if item.after is not None else item.before, out)
    else:
        out.text(f"before: {visible(short(item.before))}", indent="    ")
        out.text(f"after:  {visible(short(item.after))}", indent="    ")
    if item.attribution:
        out.text(f"by {visible(who(item))}", indent="  ")


BODY_KINDS = ("function", "view", "materialized_view", "procedure")
BODY_SECTIONS = ("triggers", "policies")


def _body(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("definition"), str):
        return str(value["definition"])
    return None


def _bodies(item: DriftItem) -> list[str] | None:
    """A body's change as unified diff lines (header and hunks), or None for other values."""
    body = (item.path and item.path[-1] == "definition" and item.kind in BODY_KINDS) or (
        len(item.path) == 2 and item.path[0] in BODY_SECTIONS
    )
    if not body:
        return None
    before, after = _body(item.before), _body(item.after)
    if before is None and after is None:
        return None
    import difflib  # for bodies only

    lines = list(
        difflib.unified_diff(
            (before or "").splitlines(),
            (after or "").splitlines(),
            "before" if before is not None else "(none)",
            "after" if after is not None else "(none)",
            lineterm="",
        )
    )
    return lines or None


def _attribute_table(value: Any, out: _Lines) -> None:
    """A role's attributes as a two-column table (its nested maps on one line each)."""
    if not isinstance(value, dict):
        out.text(f"value: {visible(short(value))}", indent="    ")
        return
    keys = sorted(value)
    pad = min(max((len(k) for k in keys), default=0), 20)
    out.text(f"{'attribute'.ljust(pad)}  value", indent="    ", style="bold")
    for key in keys:
        shown = visible(short(value[key]) if value[key] is not None else "null")
        out.text(f"{visible(key).ljust(pad)}  {shown}", indent="    ")


def _print_attribution(items: list[DriftItem], out: _Lines) -> None:
    """The best match of each attributed item, with its statement (already masked)."""
    attributed = [i for i in items if i.attribution]
    if not attributed:
        return
    out.blank()
    out.text("who changed it (best match; all candidates: driftd explain ID):")
    for item in attributed:
        out.text(f"{item.id} {visible(describe(item))}", indent="  ")
        for line in attribution_lines(item.attribution[0]):
            out.text(visible(line), indent="    ")
        more = len(item.attribution) - 1
        if more:
            out.text(f"(+{more} other candidate{'s' if more > 1 else ''})", indent="    ")
