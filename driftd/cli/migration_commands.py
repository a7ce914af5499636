"""``driftd baseline build`` / ``baseline verify`` (baselines from migrations) and
``driftd report`` (the evidence report), registered by driftd.cli.main through
:func:`register`. Heavy modules are imported inside the commands: startup stays fast.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from driftd.cli.util import EXIT_DRIFT, EXIT_OK, State, exit_with, pass_state

if TYPE_CHECKING:
    from driftd.drift import DriftItem


@click.command("build")
@click.argument("env")
@pass_state
def baseline_build(state: State, env: str) -> None:
    """Build ENV's baseline from its migrations (a temporary database on the scratch server).

    Runs [environments.ENV.migrations] against a new database on scratch_url (always
    dropped), snapshots it with ENV's collector and filters, adds the overlay
    (baselines/ENV.overlay.json) and writes baselines/ENV.json with the revision.
    """
    from driftd import canonical
    from driftd import snapshot as snap
    from driftd.errors import DriftdError
    from driftd.migrations.build import build

    resolved = state.config.resolve(env)
    built = build(resolved)
    path = resolved.baseline_path
    try:
        old = snap.read(path, "baseline")["objects"] if path.exists() else {}
    except DriftdError:
        old = {}  # a broken file is what the build replaces
    new = built.document["objects"]
    changed = sum(
        canonical.dumps(old.get(k)) != canonical.dumps(new.get(k)) for k in set(old) | set(new)
    )
    snap.write_baseline(resolved, snap.to_bytes(built.document))
    revision = built.document["migrations"]["revision"]
    click.echo(
        f"built {path} from migrations (revision {revision}): {len(new)} object(s), "
        f"{built.overlay} from the overlay; {changed} object(s) changed. "
        "Review with `git diff` and commit it.",
        err=True,
    )


@click.command("verify")
@click.argument("env")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def baseline_verify(state: State, env: str, fmt: str) -> None:
    """Rebuild ENV's baseline from its migrations and compare it with the committed one.

    Exit 0 when they hold the same objects, 1 when they differ (each difference as
    `check` names drift, the committed baseline as the reference: "added" is in the
    migrations and not in the committed file), 2 on error. Nothing is written.
    """
    from driftd import snapshot as snap
    from driftd.drift import EnvironmentReport, Report
    from driftd.migrations.build import verify
    from driftd.report import to_json

    resolved = state.config.resolve(env)
    built, committed, items = verify(resolved)
    same = snap.content_hash(built.document) == snap.content_hash(committed)
    if fmt == "json":
        report = Report([EnvironmentReport(env, "clean" if same else "drift", drift=items)])
        click.echo(to_json(report), nl=False)
    else:
        _show_verify(env, resolved.baseline_path, built.document["migrations"], items, same)
    exit_with(EXIT_OK if same else EXIT_DRIFT)


def _show_verify(
    env: str, path: Path, meta: dict[str, Any], items: list[DriftItem], same: bool
) -> None:
    from driftd.report import describe, short, visible

    revision = meta["revision"]
    if same:
        click.echo(f"{env}: {path} matches its migrations (revision {revision})")
        return
    click.echo(
        f"{env}: {path} differs from what its migrations build (revision {revision}): "
        f"{len(items) or 'the engine section'} difference(s)"
    )
    for item in items:
        click.echo(visible(f"  {item.severity} {describe(item)} · id {item.id}"))
        click.echo(visible(f"    migrations: {short(item.after)}"))
        click.echo(visible(f"    committed:  {short(item.before)}"))
    click.echo(f"rebuild it with `driftd baseline build {env}`, review with `git diff`, commit it")


# -- the evidence report ------------------------------------------------------------


def _when(value: str, end_of_day: bool) -> datetime:
    """A DATE (``2026-10-01``, UTC midnight; the next midnight for an ``--until`` day)
    or an ISO datetime (UTC when it has no offset)."""
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day + timedelta(days=1) if end_of_day else day
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (2026-10-01) or a datetime") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@click.command("report")
@click.option("--since", required=True, metavar="DATE", help="Start of the period (UTC).")
@click.option(
    "--until", metavar="DATE", help="End of the period, that day included (default: now)."
)
@click.option(
    "--env", "envs", multiple=True, metavar="ENV", help="Only this environment; repeatable."
)
@click.option("--format", "fmt", type=click.Choice(["html", "json", "csv"]), default="html")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@pass_state
def report(
    state: State,
    since: str,
    until: str | None,
    envs: tuple[str, ...],
    fmt: str,
    output: Path | None,
) -> None:
    """The evidence report of a period from the state store: every drift item with
    first seen, resolved/accepted/acknowledged, author and approval, alerts sent,
    and a summary per environment. HTML is one self-contained, printable file."""
    from driftd import canonical
    from driftd.errors import DriftdError
    from driftd.store import open_store
    from driftd.store.evidence import evidence

    start, end = _when(since, False), _when(until, True) if until else datetime.now(UTC)
    if end <= start:
        raise click.BadParameter("--until must be after --since")
    if output and not output.parent.is_dir():
        raise DriftdError(
            f"cannot write {output}: directory {output.parent} does not exist",
            f"create it first (mkdir -p {output.parent}) or write elsewhere",
        )
    store = open_store(state.config, migrate=False, pool_size=1)  # read-only: never creates
    try:
        doc = evidence(store, start, end, envs, _accepted(state, envs))
    finally:
        store.close()
    if fmt == "json":
        data = canonical.dumps_pretty(doc)
    else:
        data = (render_html(doc) if fmt == "html" else render_csv(doc)).encode()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    from driftd import snapshot as snap

    snap.write_atomic(output, data)  # 0600: evidence names people
    click.echo(f"wrote {output} ({len(doc['drift'])} drift item(s))", err=True)


def _accepted(state: State, envs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Drift id -> the ``accepted`` metadata (by, reason) of the baseline that took it in."""
    from driftd import snapshot as snap
    from driftd.errors import DriftdError

    out: dict[str, dict[str, Any]] = {}
    config = state.config
    for name in [e for e in envs if e in config.environments] or sorted(config.environments):
        path = config.resolve(name).baseline_path
        try:
            meta = snap.read(path, "baseline").get("accepted") if path.exists() else None
        except DriftdError:
            continue  # evidence comes from the store; the baseline only adds who accepted
        if isinstance(meta, dict):
            out.update({str(i): meta for i in meta.get("drift") or []})
    return out


# HTML and CSV of the evidence document (driftd.store.evidence). Kept here, next to the
# command, until a daemon page needs them too.

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;
margin:2rem auto;max-width:1180px;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.meta{color:#57606a;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.sev{font-weight:600;text-transform:uppercase;font-size:12px}
.critical{color:#fff;background:#b42318;padding:0 .3rem;border-radius:3px}
.high{color:#b42318}.medium{color:#9a6700}.low{color:#0969da}.info{color:#57606a}
.ok{color:#1a7f37;font-weight:600}.no{color:#b42318;font-weight:600}
ul{margin:0;padding-left:1.1rem}
@media print{body{margin:0;max-width:none;font-size:11px}tr{break-inside:avoid}
thead{display:table-header-group}a{color:inherit}}
"""


def render_html(doc: dict[str, Any]) -> str:
    """One self-contained page (no scripts, no external assets); every name escaped."""
    from html import escape

    period = f"{doc['since']} to {doc['until']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>driftd evidence report, {escape(period)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Drift evidence report</h1>",
        f'<p class="meta">Period {escape(period)} (UTC) · generated {escape(doc["generated_at"])}'
        f" · {len(doc['drift'])} drift item(s)</p>",
        "<h2>Summary by environment</h2>",
        _html_summary(doc["environments"]),
        "<h2>Drift items</h2>",
        _html_items(doc["drift"]) if doc["drift"] else "<p>No drift in this period.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _html_summary(envs: list[dict[str, Any]]) -> str:
    from html import escape

    head = (
        "<table><thead><tr><th>Environment</th><th>Drift</th><th>Open</th><th>Resolved</th>"
        "<th>Accepted</th><th>Time in drift</th><th>Unreviewed</th><th>Changes by author</th>"
        "<th>Alerts delivered / failed</th></tr></thead><tbody>"
    )
    rows = []
    for e in envs:
        authors = ", ".join(f"{escape(a)}: {n}" for a, n in e["changes_by_author"].items())
        rows.append(
            f"<tr><td>{escape(e['name'])}</td><td class=num>{e['drift']}</td>"
            f"<td class=num>{e['open']}</td><td class=num>{e['resolved']}</td>"
            f"<td class=num>{e['accepted']}</td>"
            f"<td class=num>{_duration(e['time_in_drift_seconds'])}</td>"
            f"<td class=num>{e['unreviewed']}</td><td>{authors or '—'}</td>"
            f"<td class=num>{e['alerts_delivered']} / {e['alerts_failed']}</td></tr>"
        )
    return head + "".join(rows) + "</tbody></table>"


def _html_items(items: list[dict[str, Any]]) -> str:
    from html import escape

    from driftd.diff.filters import dotted
    from driftd.report import review_text

    head = (
        "<table><thead><tr><th>Drift</th><th>Severity</th><th>Life</th><th>Author</th>"
        "<th>Approval</th><th>Alerts</th></tr></thead><tbody>"
    )
    rows = []
    for i in items:
        where = i["object"] + (f"#{dotted(i['path'])}" if i["path"] else "")
        approval = review_text(i["review"]) or "no review recorded"
        author = escape(i["author"] or "unknown")
        if i["author_source"]:
            author += f" <small>via {escape(i['author_source'])}</small>"
        if i["statement"]:
            author += f"<br><code>{escape(i['statement'])}</code>"
        rows.append(
            f"<tr><td><code>{escape(where)}</code><br>{escape(i['change'])} in "
            f"{escape(i['environment'])} · id <code>{escape(i['id'])}</code></td>"
            f'<td><span class="sev {escape(i["severity"])}">{escape(i["severity"])}</span></td>'
            f"<td>{_html_life(i)}</td><td>{author}</td>"
            f'<td class="{"ok" if i["approved"] else "no"}">{escape(approval)}</td>'
            f"<td>{_html_alerts(i['alerts'])}</td></tr>"
        )
    return head + "".join(rows) + "</tbody></table>"


def _html_life(item: dict[str, Any]) -> str:
    from html import escape

    lines = [f"first seen {item['first_seen_at']}"]
    for e in item["events"]:
        if e["event"] == "opened":
            continue
        line = f"{e['event']} {e['at']}"
        if e["actor"]:
            line += f" by {e['actor']}"
        if e["note"]:
            line += f": {e['note']}"
        lines.append(line)
    if item["accepted_by"]:
        why = f" ({item['accepted_reason']})" if item["accepted_reason"] else ""
        lines.append(f"accepted into the baseline by {item['accepted_by']}{why}")
    if item["state"] in ("open", "acknowledged"):
        lines.append(f"still {item['state']}")
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"


def _html_alerts(alerts: list[dict[str, Any]]) -> str:
    from html import escape

    if not alerts:
        return "—"
    lines = [
        f"{a['kind']} → {a['sink']}{'/' + a['target'] if a['target'] else ''}: {a['state']}"
        + (f" {a['delivered_at']}" if a["delivered_at"] else f" ({a['attempts']} attempt(s))")
        for a in alerts
    ]
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m" if minutes else f"{int(seconds)}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours < 48 else f"{hours // 24}d {hours % 24}h"


CSV_COLUMNS = (
    "id", "environment", "object", "path", "change", "severity", "state", "first_seen_at",
    "closed_at", "acknowledged_at", "acknowledged_by", "note", "author", "author_source",
    "session", "statement", "approved", "approval", "accepted_by", "accepted_reason",
    "alerts_delivered", "alerts_failed",
)  # fmt: skip


def render_csv(doc: dict[str, Any]) -> str:
    """One row per drift item; cells a spreadsheet would run as a formula are quoted with '."""
    import csv
    import io

    from driftd.diff.filters import dotted
    from driftd.report import review_text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i in doc["drift"]:
        row = {
            **i,
            "path": dotted(i["path"]) if i["path"] else "",
            "approval": review_text(i["review"]) or "",
            "alerts_delivered": sum(a["state"] == "delivered" for a in i["alerts"]),
            "alerts_failed": sum(a["state"] == "failed" for a in i["alerts"]),
        }
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def register(cli: click.Group, baseline: click.Group) -> None:
    """Add this module's commands to the top-level group and to ``baseline``."""
    baseline.add_command(baseline_build)
    baseline.add_command(baseline_verify)
    cli.add_command(report)


__all__ = ["register"]
