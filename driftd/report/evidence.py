"""The evidence document (:mod:`driftd.store.evidence`) for people: one self-contained,
printable HTML page (``driftd report``, and the daemon's ``/`` page) or CSV."""

from __future__ import annotations

from typing import Any

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


def render_html(doc: dict[str, Any], now: bool = False) -> str:
    """One self-contained page (no scripts, no external assets); every name escaped.
    ``now``: the daemon's page (the last 24 hours: open now or closed since)."""
    from html import escape

    period = f"{doc['since']} to {doc['until']}"
    title = "Drift of the last 24 hours" if now else "Drift evidence report"
    when = f"Period {escape(period)} (UTC) · "
    empty = "No drift open or closed in the last 24 hours." if now else "No drift in this period."
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>driftd: {title.lower()}{'' if now else ', ' + escape(period)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="meta">{when}generated {escape(doc["generated_at"])}'
        f" · {len(doc['drift'])} drift item(s)</p>",
        "<h2>Summary by environment</h2>",
        _html_summary(doc["environments"]),
        "<h2>Drift items</h2>",
        _html_items(doc["drift"]) if doc["drift"] else f"<p>{empty}</p>",
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


def by_whom(event: dict[str, Any]) -> str:
    """`` by <actor>: <note>`` of a drift event, as much of it as it has."""
    return (f" by {event['actor']}" if event["actor"] else "") + (
        f": {event['note']}" if event["note"] else ""
    )


def _html_life(item: dict[str, Any]) -> str:
    from html import escape

    lines = [f"first seen {item['first_seen_at']}"]
    for e in item["events"]:
        if e["event"] != "opened":
            lines.append(f"{e['event']} {e['at']}{by_whom(e)}")
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
