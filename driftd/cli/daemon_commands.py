"""CLI of the daemon and its state store: run, status, history, explain, ack, db upgrade."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from driftd import canonical
from driftd.cli.util import EXIT_DRIFT, EXIT_ERROR, EXIT_OK, State, exit_with, pass_state
from driftd.diff.filters import dotted
from driftd.drift import iso
from driftd.errors import DriftdError

if TYPE_CHECKING:
    from rich.table import Table

    # the store pulls in SQLAlchemy: only the commands that use it load it
    from driftd.attribute.sources.state import SourceHealth
    from driftd.config import Config
    from driftd.store import Store
    from driftd.store.repo import DaemonStatus, EnvironmentStatus


STATUS_STYLE = {"clean": "bold green", "drift": "bold yellow", "error": "bold red"}


@contextmanager
def _store(state: State) -> Iterator[Store]:
    from driftd.store import open_store

    store = open_store(state.config, migrate=False, pool_size=1)
    try:
        yield store
    finally:
        store.close()


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _local(moment: datetime) -> str:
    """Local time with its UTC offset (stored in UTC): ``2026-12-05 15:43:33+01:00``."""
    return moment.astimezone().isoformat(sep=" ", timespec="seconds")


def _echo_json(data: Any) -> None:
    click.echo(canonical.dumps_pretty(data).decode(), nl=False)


# -- run ------------------------------------------------------------------------


@click.command()
@click.option("--once", is_flag=True, help="Check every environment once, record, and exit.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log lines on stderr as text or JSON (default: [driftd] log_format).",
)
@pass_state
def run(state: State, once: bool, log_format: str | None) -> None:
    """Run the daemon: check every environment on its schedule (under systemd: Type=notify).

    SIGHUP reloads the configuration, SIGTERM stops after running checks finish.
    With --once: exit 0 clean, 1 drift, 2 error, like `driftd check`.
    """
    from driftd.config import find_config
    from driftd.daemon import logs
    from driftd.daemon import service as daemon

    path = find_config(state.config_path)
    config = state.config
    logs.setup(log_format or config.driftd.log_format, config.driftd.log_level, state.debug)
    if once:
        from driftd import report as rep

        result = daemon.run_once(config)
        rep.render_text(result)
        exit_with(result.exit_code)
    exit_with(daemon.Daemon(path, config, debug=state.debug).serve())


# -- status / history / explain -----------------------------------------------------


def _source_health(store: Store, config: Config) -> list[tuple[str, str, SourceHealth | None]]:
    """Each configured audit source with how its last read went (None: never read)."""
    from driftd.attribute.sources.store_state import StoreAuditState

    known = {h.name: h for h in StoreAuditState(store).health()}
    return [(name, src.type, known.get(name)) for name, src in sorted(config.audit.items())]


def _source_json(name: str, kind: str, h: SourceHealth | None) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "status": "unknown" if h is None else "up" if h.up else "down",
        "last_read_at": _iso(h.last_poll_at) if h else None,
        "last_success_at": _iso(h.last_success_at) if h else None,
        "last_event_at": _iso(h.last_event_at) if h else None,
        "events_read": h.events_read if h else 0,
        "parse_errors": h.parse_errors if h else 0,
        "error": h.last_error if h else None,
    }


def _source_table(sources: list[tuple[str, str, SourceHealth | None]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    from driftd.report import safe

    table = Table(pad_edge=False)
    for column in ("audit source", "status", "last read", "newest event", "events", "note"):
        table.add_column(column, overflow="fold")
    for name, kind, h in sources:
        if h is None:
            table.add_row(safe(name), Text("unknown", style="dim"), "never", "", "", kind)
            continue
        note = h.last_error or (f"{h.parse_errors} unparseable record(s)" if h.parse_errors else "")
        if not h.up and h.last_success_at is not None:
            note = f"{note} (last success {_ago(h.last_success_at)})"
        table.add_row(
            safe(name),
            Text("up" if h.up else "down", style="green" if h.up else "red"),
            _ago(h.last_poll_at),
            _ago(h.last_event_at) if h.last_event_at else "none yet",
            str(h.events_read),
            safe(note.splitlines()[0] if note else ""),
        )
    return table


def _overdue(config: Config, r: EnvironmentStatus, now: datetime) -> float | None:
    """The environment's nominal period when its last run is older than twice it."""
    from driftd.daemon.schedule import Plan

    if r.last_run_at is None:
        return None
    period = Plan(r.name, config.environments[r.name].schedule).period
    return period if (now - r.last_run_at).total_seconds() > 2 * period else None


def _daemon_json(d: DaemonStatus) -> dict[str, Any]:
    return {
        "id": d.id,
        "hostname": d.hostname,
        "pid": d.pid,
        "status": "up" if d.up else "down",
        "started_at": _iso(d.started_at),
        "last_heartbeat_at": _iso(d.heartbeat_at),
    }


def _env_row(r: EnvironmentStatus, overdue: float | None) -> list[Any]:
    from rich.text import Text

    from driftd.report import safe

    counts = ", ".join(f"{n} {sev}" for sev, n in r.open_by_severity.items() if n)
    if r.acknowledged:
        counts += f" ({r.acknowledged} acknowledged)"
    note = r.error or ""
    if r.status != "error" and r.last_success_at and r.last_run_at != r.last_success_at:
        note = f"last success {_ago(r.last_success_at)}"
    if overdue is not None:
        note = f"overdue: no run in 2x its {overdue:g}s interval" + (f"; {note}" if note else "")
    took = f"{r.last_duration_seconds:.1f}s" if r.last_duration_seconds is not None else ""
    shown = Text(r.status, style=STATUS_STYLE.get(r.status, "dim"))
    if overdue is not None:
        shown.append(" overdue", style="bold red")
    return [
        safe(r.name),
        shown,
        _ago(r.last_run_at),
        took,
        str(r.open_drift) + (f": {counts}" if counts else ""),
        safe(note.splitlines()[0] if note else ""),
    ]


def _daemon_lines(daemons: list[DaemonStatus]) -> list[str]:
    return [
        f"daemon {d.id} on {d.hostname}: "
        + ("up" if d.up else f"down (stopped reporting; last heartbeat {_ago(d.heartbeat_at)})")
        for d in daemons
    ]


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def status(state: State, fmt: str) -> None:
    """Each environment's last run, status and open drift, from the state store.

    An environment whose last run is older than twice its schedule's interval is
    overdue; a daemon whose heartbeat expired (PostgreSQL fleets) is down.
    Exit 0 when all are clean (or not checked yet), 1 if any has drift, 2 if any failed.
    """
    from rich.table import Table

    from driftd.report import console, safe
    from driftd.store import repo

    config = state.config
    with _store(state) as store:
        rows = repo.environment_status(store, sorted(config.environments))
        sources = _source_health(store, config)
        daemons = repo.daemon_status(store)
    now = datetime.now(UTC)
    overdue = {r.name: _overdue(config, r, now) for r in rows}
    if fmt == "json":
        _echo_json(
            {
                "environments": [
                    {
                        "name": r.name,
                        "status": r.status,
                        "last_run_at": _iso(r.last_run_at),
                        "open_drift": r.open_drift,
                    }
                    for r in rows
                ],
                # Apart from the entries, whose shape design.md fixes.
                "overdue": [r.name for r in rows if overdue[r.name] is not None],
                "daemons": [_daemon_json(d) for d in daemons],
                "audit_sources": [_source_json(name, kind, h) for name, kind, h in sources],
            }
        )
    else:
        table = Table(pad_edge=False)
        for column in ("environment", "status", "last run", "took", "open drift", "note"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(*_env_row(r, overdue[r.name]))
        console().print(table)
        for line in _daemon_lines(daemons):
            console().print(safe(line))
        if sources:
            console().print(_source_table(sources))
    statuses = {r.status for r in rows}
    exit_with(EXIT_ERROR if "error" in statuses else EXIT_DRIFT if "drift" in statuses else EXIT_OK)


@click.command()
@click.argument("env")
@click.option("-n", "--limit", default=50, show_default=True, help="Entries to show.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def history(state: State, env: str, limit: int, fmt: str) -> None:
    """The timeline of ENV: its runs and its drift opening, closing and acknowledged."""
    from rich.table import Table
    from rich.text import Text

    from driftd.report import console, safe
    from driftd.store import repo

    state.config.environment(env)  # unknown names are errors
    with _store(state) as store:
        entries = repo.history(store, env, limit)
    _with_acceptance(state, env, entries)
    if fmt == "json":
        _echo_json({"environment": env, "entries": [{**e, "at": _iso(e["at"])} for e in entries]})
        return
    if not entries:
        click.echo(f"{env}: nothing recorded yet")
        return
    table = Table(pad_edge=False)
    for column in ("at", "what", "detail"):
        table.add_column(column, overflow="fold")
    for e in entries:
        at = _local(e["at"])
        if e["type"] == "run":
            what = Text(f"run {e['status']}", style=STATUS_STYLE.get(e["status"], ""))
            detail = f"#{e['run']} {e['duration_seconds']:.1f}s, {e['drift']} drift item(s)"
            if e["error"]:
                detail += f": {e['error'].splitlines()[0]}"
        else:
            what = Text(f"drift {e['event']}")
            where = f"{e['object']} {dotted(e['path'])}".strip()
            detail = f"{e['drift_id']} {e['severity']} {where}"
            if e["actor"]:
                detail += f" by {e['actor']}"
            if e["note"]:
                detail += f": {e['note']}"
        table.add_row(at, what, safe(detail))
    console().print(table)


@click.command()
@click.argument("drift_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def explain(state: State, drift_id: str, fmt: str) -> None:
    """One drift item: what changed (before/after), its evidence and its life so far.

    An id the state store has not recorded (e.g. from a plain `driftd check`,
    with no daemon) is looked up by checking the environments live.
    """
    from driftd.report import visible
    from driftd.store import DriftNotFound, StoreMissing

    try:
        data = _recorded_drift(state, drift_id)
    except (StoreMissing, DriftNotFound) as missing:
        found = _live_drift(state, drift_id)
        if found is None:
            raise DriftdError(
                f"no drift item {drift_id!r}: {missing.message}, and no live environment "
                "has it now",
                "ids are shown by `driftd check`, `driftd status` and `driftd history ENV`",
            ) from None
        data = found
    data["accepted"] = _acceptance(state, data)  # who took it into the baseline, if anyone
    if fmt == "json":
        _echo_json(data)
    else:
        # Names, values and statements came from a database or an audit log.
        click.echo("\n".join(visible(line) for line in _explain_lines(data)))


def _recorded_drift(state: State, drift_id: str) -> dict[str, Any]:
    from driftd.store import repo
    from driftd.store.evidence import drift_fields

    with _store(state) as store:
        row, events = repo.get_drift(store, drift_id)
    return {
        **drift_fields(
            row,
            "id environment object kind change path before after severity rules attribution "
            "state first_seen_at last_seen_at closed_at acknowledged_by acknowledged_at note",
        ),
        "events": [
            {
                "at": _iso(e.at),
                "event": e.event,
                "run_id": e.run_id,
                "actor": e.actor,
                "note": e.note,
            }
            for e in events
        ],
    }


def _live_drift(state: State, drift_id: str) -> dict[str, Any] | None:
    """The drift item with this id (or unique prefix) in a live check, not recorded."""
    from driftd.check import check

    ref = drift_id.strip().lower()
    report = check(state.config, state.config.resolve_all())
    matches = [
        (env.name, item)
        for env in report.environments
        for item in env.drift
        if item.id == ref or (len(ref) >= 4 and item.id.startswith(ref))
    ]
    if len(matches) != 1:
        if len(matches) > 1:
            raise DriftdError(
                f"drift id {ref!r} is ambiguous ({', '.join(i.id for _, i in matches[:3])})",
                "give more characters of the id",
            )
        return None
    name, item = matches[0]
    return {
        **item.to_json(),
        "environment": name,
        "state": "open (live check; not recorded: no daemon has seen it yet)",
        "first_seen_at": None,
        "last_seen_at": None,
        "closed_at": None,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "note": None,
        "events": [],
    }


def _acceptance(state: State, data: dict[str, Any]) -> dict[str, Any] | None:
    """The baseline's record of the accept that took this drift in (who, when, why), if
    its environment's baseline lists it (the latest accept; earlier ones are in git)."""
    meta = _accept_record(state, data["environment"])
    if meta is None or data["id"] not in (meta.get("drift") or []):
        return None
    return {k: meta.get(k) for k in ("by", "at", "reason")}


def _accept_record(state: State, env: str) -> dict[str, Any] | None:
    """The ``accepted`` metadata of ``env``'s baseline (`driftd baseline accept`)."""
    from driftd import snapshot

    try:
        path = state.config.resolve(env).baseline_path
        meta = snapshot.read(path, "baseline").get("accepted") if path.exists() else None
    except DriftdError:  # an environment gone from the config, or a broken baseline
        return None
    return meta if isinstance(meta, dict) else None


def _with_acceptance(state: State, env: str, entries: list[dict[str, Any]]) -> None:
    """``accepted`` events name who accepted and why, from the baseline's metadata."""
    meta = _accept_record(state, env)
    taken = set(meta.get("drift") or []) if meta else set()
    for e in entries:
        if meta and e.get("event") == "accepted" and e["drift_id"] in taken and not e["actor"]:
            e["actor"], e["note"] = meta.get("by"), meta.get("reason")


def _explain_lines(data: dict[str, Any]) -> list[str]:
    from driftd.report import attribution_lines
    from driftd.report.evidence import by_whom

    out = [
        f"drift {data['id']} in {data['environment']}: {data['state']}",
        f"  object    {data['object']}",
        f"  path      {dotted(data['path']) or '(whole object)'}",
        f"  change    {data['change']}",
        f"  severity  {data['severity']}"
        + (f"  (rules: {', '.join(data['rules'])})" if data["rules"] else ""),
    ]
    if data["first_seen_at"]:
        out.append(f"  seen      {data['first_seen_at']} .. {data['last_seen_at']}")
    if data["acknowledged_by"]:
        ack = f"  acked     by {data['acknowledged_by']} at {data['acknowledged_at']}"
        out.append(ack + (f": {data['note']}" if data["note"] else ""))
    if data.get("accepted"):
        took = data["accepted"]
        line = f"  accepted  by {took.get('by')} at {took.get('at')}"
        out.append(line + (f": {took['reason']}" if took.get("reason") else ""))
    out += ["", "before:", *_block(data["before"]), "after:", *_block(data["after"]), ""]
    if data["state"] not in ("resolved", "accepted"):  # still in the database
        from driftd.alerts.text import undo

        out += [undo(data, data["environment"]), ""]
    out.append("evidence:")
    if not data["attribution"]:
        out.append("  no audit record matched this change")
    for a in data["attribution"]:
        out += [f"  {line}" for line in attribution_lines(a)]
    if data["events"]:
        out += ["", "history:"]
    out += [f"  {e['at']} {e['event']}{by_whom(e)}" for e in data["events"]]
    return out


def _block(value: Any) -> list[str]:
    if value is None:
        return ["  (none)"]
    text = canonical.dumps_pretty(value).decode().rstrip("\n")
    return ["  " + line for line in text.splitlines()]


# -- ack --------------------------------------------------------------------------


@click.command()
@click.argument("drift_id")
@click.option("--note", metavar="TEXT", help="Why it is fine for now, or who is on it.")
@click.option("--by", "actor", metavar="NAME", help="Who acknowledges (default: your login).")
@pass_state
def ack(state: State, drift_id: str, note: str | None, actor: str | None) -> None:
    """Acknowledge a drift item: a person has seen it (it stays open until it goes away).

    Sinks with incidents hear it too (PagerDuty acknowledges the item's incident).
    """
    from driftd.alerts import lifecycle, outbox
    from driftd.report import visible
    from driftd.store import repo

    config = state.config
    who = actor or os.environ.get("SUDO_USER") or getpass.getuser()
    queued: list[outbox.Queued] = []
    asked_at = datetime.now(UTC)
    with _store(state) as store:
        row = repo.acknowledge(
            store,
            drift_id,
            who,
            note,
            hooks=[lambda s, r: queued.extend(lifecycle.after_ack(s, config, r))],
        )
        if queued:
            # Send now rather than at the daemon's next pass; what fails stays queued.
            outbox.dispatch_due(store.engine, config)
    if row.acknowledged_at is not None and row.acknowledged_at < asked_at:
        # Acknowledged before: one ack (no second event, nothing sent).
        note = f": {row.note}" if row.note else ""
        when = _local(row.acknowledged_at)
        click.echo(visible(f"{row.id} was already acknowledged by {row.acknowledged_by}"))
        click.echo(visible(f"  at {when}{note}; nothing changed"))
        return
    click.echo(
        visible(f"acknowledged {row.id} ({row.environment}: {row.object} {dotted(row.path)})")
        + f" as {who}"
        + (f"; queued for {', '.join(sorted({q.sink for q in queued}))}" if queued else "")
    )


# -- db ---------------------------------------------------------------------------


@click.group()
def db() -> None:
    """Manage the state store."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: State) -> None:
    """Create or migrate the state store to this driftd's schema (the daemon does it at start)."""
    from driftd.store import migrate, open_store

    store = open_store(state.config, migrate=True, pool_size=1)
    try:
        with store.engine.connect() as conn:
            rev = migrate.current(conn)
    finally:
        store.close()
    click.echo(f"state store {store.display_url} is at revision {rev} (newest)")


COMMANDS = (run, status, history, explain, ack, db)
