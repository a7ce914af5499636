"""``driftd alerts``: send a test message, see (and requeue) the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from driftd.cli.util import EXIT_ERROR, EXIT_OK, State, exit_with, pass_state
from driftd.drift import iso
from driftd.errors import DriftdError

STATE_STYLE = {"pending": "yellow", "failed": "bold red", "delivered": "green"}


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


@click.group("alerts")
def alerts_group() -> None:
    """Alert sinks and the outbox of deliveries."""


@alerts_group.command("test")
@click.argument("name")
@pass_state
def alerts_test(state: State, name: str) -> None:
    """Send a test message through [alerts.NAME] now (not through the outbox).

    Exit 0 when the service took it, 2 when it did not (the reason is printed).
    """
    from driftd import alerts

    sink = alerts.sink(state.config, name)
    now = datetime.now(UTC)
    answer = ""
    try:
        for event in sink.test_events(now):
            outcome = sink.send(event, event.idempotency_key(name), now)
            if not outcome.ok:
                advice = (
                    "the service refused it: check the sink's settings and secret"
                    if outcome.result == "permanent"
                    else "the service is unreachable or busy: try again, or check the URL"
                )
                click.echo(f"error: alerts.{name} ({sink.type_name}): {outcome.reason}", err=True)
                click.echo(f"  hint: {advice}", err=True)
                exit_with(EXIT_ERROR)
            answer = outcome.reason
    finally:
        sink.close()
    click.echo(f"sent a test message through alerts.{name} ({sink.type_name}): {answer}")
    exit_with(EXIT_OK)


def _row(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "sink": d.sink,
        "environment": d.environment or None,
        "event": d.kind,
        "state": d.state,
        "attempts": d.attempts,
        "created_at": _iso(d.created_at),
        "next_attempt_at": _iso(d.next_attempt_at) if d.state == "pending" else None,
        "last_attempt_at": _iso(d.last_attempt_at),
        "delivered_at": _iso(d.delivered_at),
        "last_error": d.last_error,
        "idempotency_key": d.idempotency_key,
    }


@alerts_group.command("pending")
@click.option(
    "--all", "show_all", is_flag=True, help="Also list delivered alerts (newest kept ones)."
)
@click.option("-n", "--limit", default=200, show_default=True, help="Rows to show.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def alerts_pending(state: State, show_all: bool, limit: int, fmt: str) -> None:
    """The outbox: alerts waiting to be delivered, and those that failed for good."""
    from sqlalchemy.orm import Session

    from driftd.alerts import outbox
    from driftd.store import open_store

    store = open_store(state.config, migrate=False, pool_size=1)
    states = ("pending", "failed", "delivered") if show_all else ("pending", "failed")
    try:
        with Session(store.engine) as s:
            rows = [_row(d) for d in outbox.listing(s, states, limit)]
    finally:
        store.close()
    if fmt == "json":
        from driftd import canonical

        click.echo(canonical.dumps_pretty({"deliveries": rows}).decode(), nl=False)
        return
    if not rows:
        click.echo("no alerts waiting: the outbox is empty")
        return
    # rich is imported on use: `driftd --help` starts without it.
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(pad_edge=False)
    for column in (
        "id",
        "sink",
        "environment",
        "event",
        "state",
        "tries",
        "next try",
        "last error",
    ):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]),
            escape(r["sink"]),
            escape(r["environment"] or "—"),
            r["event"],
            Text(r["state"], style=STATE_STYLE.get(r["state"], "")),
            str(r["attempts"]),
            r["next_attempt_at"] or "",
            escape(r["last_error"] or ""),
        )
    from driftd.report import console

    console().print(table)
    waiting = sum(r["state"] == "pending" for r in rows)
    failed = sum(r["state"] == "failed" for r in rows)
    click.echo(
        f"{waiting} pending, {failed} failed"
        + (" (requeue with `driftd alerts retry --failed`)" if failed else "")
    )


@alerts_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Requeue every failed delivery.")
@pass_state
def alerts_retry(state: State, ids: tuple[int, ...], all_failed: bool) -> None:
    """Put failed deliveries (IDS, or all with --failed) back in the outbox."""
    from sqlalchemy.orm import Session

    from driftd.alerts import outbox
    from driftd.store import open_store

    if not ids and not all_failed:
        raise click.UsageError("give delivery ids (from `driftd alerts pending`) or --failed")
    store = open_store(state.config, migrate=False, pool_size=1)
    try:
        with Session(store.engine) as s, s.begin():
            missing = sorted(set(ids) - outbox.failed_ids(s, ids)) if ids else []
            if missing:
                raise DriftdError(
                    f"no failed delivery with id {', '.join(map(str, missing))}: nothing requeued",
                    "see `driftd alerts pending --all` for the ids and their states",
                )
            count = outbox.requeue(s, None if all_failed else list(ids))
    finally:
        store.close()
    click.echo(f"requeued {count} failed deliver{'y' if count == 1 else 'ies'}")


COMMANDS = [alerts_group]
