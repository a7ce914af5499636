"""From what a run changed to the alerts it owes: the daemon calls these.

- :func:`after_run`: in the transaction that recorded a run, queue ``opened``
  (opened + reopened items, one event per run), ``resolved``, ``accepted``,
  and the environment's health events. :func:`run_hook` wraps it as the state
  store's ``repo.RunHook``.
- :func:`renotify_due`: periodically, queue reminders for drift still open
  after a sink's ``renotify_after``; for a sink that may hold an alert until
  told again (Alertmanager), a reminder also carries the drift that closed
  within the sink's ``resend_resolved_for``, as resolved.

Dedup on drift id across runs and restarts comes from the state store (an item
is ``opened`` once until it closes) and from the outbox's idempotency keys.
Whether a sink was last told an environment is unreadable is read back from
the outbox itself, so no other state is kept.

This is the one module of the alerts package that reads the state store's
tables (drift items and runs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, cast

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from driftd import alerts
from driftd.alerts.events import AlertEvent, compact
from driftd.alerts.model import Delivery
from driftd.alerts.outbox import BATCH, Queued, dispatch_due, enqueue, sinks_of
from driftd.config import Config
from driftd.drift import Change, DriftItem, EnvironmentReport, iso
from driftd.errors import first_line
from driftd.store.models import Drift, Run

log = logging.getLogger(__name__)

ACTIVE = ("open", "acknowledged")
CLOSED = ("resolved", "accepted")


class RunChanges(Protocol):
    """What ``repo.record_run`` returns (``RunOutcome``): drift ids by what happened."""

    run_id: int
    opened: list[str]
    reopened: list[str]
    resolved: list[str]
    accepted: list[str]
    attributed: list[str]


def item_of(row: Drift) -> dict[str, Any]:
    """A stored drift item in the report's JSON shape, plus when driftd first saw it
    (``first_seen_at``) and, once it closed, when and how (``closed_at``, ``state``:
    ``resolved`` or ``accepted``). Alert items only: the report has none of these."""
    item = DriftItem(
        object=row.object,
        change=cast(Change, row.change),
        path=list(row.path),
        before=row.before,
        after=row.after,
        id=row.id,
        severity=row.severity,
        rules=list(row.rules or []),
        attribution=list(row.attribution or []),
    ).to_json()
    if row.first_seen_at is not None:
        item["first_seen_at"] = iso(row.first_seen_at)
    if row.closed_at is not None and row.state in CLOSED:
        item["closed_at"] = iso(row.closed_at)
        item["state"] = row.state
    return item


def open_drift(session: Session, environment: str) -> list[Drift]:
    return list(
        session.scalars(
            select(Drift).where(Drift.environment == environment, Drift.state.in_(ACTIVE))
        )
    )


def after_run(
    session: Session,
    config: Config,
    report: EnvironmentReport,
    changes: RunChanges,
    at: datetime,
) -> list[Queued]:
    """Queue the alerts one recorded run owes. Call it in the run's transaction, after
    its rows are flushed (``record_run`` does), or in a transaction right after."""
    env = report.name
    queued: list[Queued] = []
    if not sinks_of(config, env):
        return queued
    queued += environment_health(
        session,
        config,
        env,
        failed=report.status == "error",
        error=report.error,
        at=at,
        run_id=changes.run_id,
    )
    if report.status == "error":
        return queued  # a failed run says nothing about drift
    still_open = [compact(item_of(r)) for r in open_drift(session, env)]
    new_ids = [*changes.opened, *changes.reopened]
    if new_ids:
        present = {i.id: i for i in report.drift}
        items = [present[i] for i in new_ids if i in present]
        event = AlertEvent.for_drift(
            "opened", env, items, at=at, run_id=changes.run_id, still_open=still_open
        )
        queued += enqueue(session, config, event, now=at)
    # Late audit records named the author of drift alerted without one: the
    # sinks update that alert (one ``updated`` event), they never open another.
    stored: list[tuple[Literal["updated", "resolved", "accepted"], list[str]]] = [
        ("updated", [i for i in changes.attributed if i not in new_ids]),
        ("resolved", changes.resolved),
        ("accepted", changes.accepted),
    ]
    for kind, ids in stored:
        if not ids:
            continue
        rows = session.scalars(select(Drift).where(Drift.id.in_(ids)))
        event = AlertEvent.for_drift(
            kind,
            env,
            [item_of(r) for r in rows],
            at=at,
            run_id=changes.run_id,
            still_open=still_open,
        )
        queued += enqueue(session, config, event, now=at)
    return queued


def after_ack(session: Session, config: Config, row: Drift) -> list[Queued]:
    """Queue ``acknowledged`` for the sinks that act on it (PagerDuty acknowledges
    the item's incident), in the transaction that records the acknowledgement."""
    assert row.acknowledged_at is not None
    event = AlertEvent.for_drift(
        "acknowledged",
        row.environment,
        [item_of(row)],
        at=row.acknowledged_at,
        by=row.acknowledged_by,
        note=row.note,
    )
    return enqueue(session, config, event, now=row.acknowledged_at)


def run_hook(
    get_config: Callable[[], Config],
) -> Callable[[Session, EnvironmentReport, RunChanges], None]:
    """A ``repo.RunHook``: queue each recorded run's alerts in the run's own transaction.

    ``get_config`` gives the current config (it changes on reload). A failure
    here is logged and costs this run its alerts, never its record: the queuing
    runs in a savepoint, so the run still commits whole."""

    def hook(session: Session, report: EnvironmentReport, changes: RunChanges) -> None:
        run = session.get(Run, changes.run_id)
        at = run.finished_at if run is not None else datetime.now(UTC)
        try:
            with session.begin_nested():
                after_run(session, get_config(), report, changes, at)
        except Exception:
            log.exception(
                "%s: could not queue the alerts of run %s",
                report.name,
                changes.run_id,
                extra={"environment": report.name},
            )

    return hook


def consecutive_errors(session: Session, environment: str, limit: int) -> int:
    """How many of the environment's latest runs failed, counting back (at most ``limit``)."""
    statuses = session.scalars(
        select(Run.status)
        .where(Run.environment == environment)
        .order_by(Run.id.desc())
        .limit(limit)
    )
    count = 0
    for status in statuses:
        if status != "error":
            break
        count += 1
    return count


def last_health(session: Session, sink: str, environment: str) -> str | None:
    """``environment_error`` if the sink was last told the environment is unreadable."""
    return session.scalar(
        select(Delivery.kind)
        .where(
            Delivery.sink == sink,
            Delivery.environment == environment,
            Delivery.kind.in_(("environment_error", "environment_recovered")),
        )
        .order_by(Delivery.id.desc())
        .limit(1)
    )


def environment_health(
    session: Session,
    config: Config,
    environment: str,
    *,
    failed: bool,
    error: str | None,
    at: datetime,
    run_id: int | None = None,
    consecutive: int | None = None,
) -> list[Queued]:
    """After a check: an ``environment_error`` to each sink once the environment has
    failed its ``error_after`` checks in a row, an ``environment_recovered`` to each
    sink that was told so, at the first good check. ``consecutive`` (failed checks
    in a row, this one included) is counted from the store's runs when not given."""
    queued: list[Queued] = []
    sinks = []
    for name in sinks_of(config, environment):
        try:
            sinks.append(alerts.sink(config, name))
        except Exception as exc:
            log.error("alerts.%s: %s", name, exc)
    sinks = [s for s in sinks if s.settings.environment_errors]
    if not sinks:
        return queued
    if failed and consecutive is None:
        consecutive = consecutive_errors(
            session, environment, max(s.settings.error_after for s in sinks)
        )
    for sink in sinks:
        told = last_health(session, sink.name, environment) == "environment_error"
        if failed and not told and (consecutive or 0) >= sink.settings.error_after:
            event = AlertEvent.environment_error(
                environment,
                at=at,
                error=error or "unknown error",
                consecutive_errors=consecutive or 0,
                run_id=run_id,
            )
        elif not failed and told:
            event = AlertEvent.environment_recovered(environment, at=at, run_id=run_id)
        else:
            continue
        queued += enqueue(session, config, event, sinks=[sink.name], now=at)
    return queued


def recently_closed(session: Session, environment: str, since: datetime) -> list[Drift]:
    return list(
        session.scalars(
            select(Drift).where(
                Drift.environment == environment,
                Drift.state.in_(CLOSED),
                Drift.closed_at >= since,
            )
        )
    )


def renotify_due(
    session: Session, config: Config, now: datetime, environments: Sequence[str] | None = None
) -> list[Queued]:
    """Queue a reminder to each sink with ``renotify_after`` whose environment still has
    drift open (for that sink) and that heard nothing about it for that long.

    For a sink with ``resend_resolved_for`` (Alertmanager), the reminder also carries
    the items that closed within that time, as resolved (``closed_at``, ``state``),
    the way Prometheus re-sends resolved alerts: an instance that missed the resolve
    (down, restarted, or it never got the first one) learns it all the same."""
    queued: list[Queued] = []
    for env in environments if environments is not None else sorted(config.environments):
        wanting = []
        for name in sinks_of(config, env):
            try:
                sink = alerts.sink(config, name)
            except Exception as exc:
                log.error("alerts.%s: %s", name, exc)
                continue
            if sink.settings.renotify_after is not None and "renotify" in sink.supports:
                wanting.append(sink)
        if not wanting:
            continue
        rows = open_drift(session, env)
        window = max(s.resend_resolved_for() for s in wanting)
        closed = recently_closed(session, env, now - timedelta(seconds=window)) if window else []
        if not rows and not closed:
            continue
        for sink in wanting:
            every = sink.settings.renotify_after or 0.0
            items = [item_of(r) for r in rows if r.state == "open" or sink.refresh_acknowledged]
            since = now - timedelta(seconds=sink.resend_resolved_for())
            ended = [
                item_of(r)
                for r in closed
                if sink.resend_resolved_for() and r.closed_at and r.closed_at >= since
            ]
            if not items and not ended:
                continue
            # A reminder is dated to the start of its period, so daemons of a fleet
            # that both find it due within one period queue it once (same key).
            period = datetime.fromtimestamp(now.timestamp() // every * every, UTC)
            event = AlertEvent.for_drift(
                "renotify",
                env,
                [*items, *ended],
                at=period,
                still_open=[compact(i) for i in items],
            )
            if sink.route(event) is None:
                continue
            last = session.scalar(
                select(Delivery.created_at)
                .where(
                    Delivery.sink == sink.name,
                    Delivery.environment == env,
                    Delivery.kind.in_(("opened", "renotify")),
                )
                .order_by(Delivery.id.desc())
                .limit(1)
            )
            if last is not None and now - last < timedelta(seconds=every):
                continue
            queued += enqueue(session, config, event, sinks=[sink.name], now=now)
    return queued


def run_forever(
    engine: Engine,
    get_config: Callable[[], Config],
    stop: threading.Event,
    *,
    interval: float = 5.0,
    renotify_every: float = 60.0,
) -> None:
    """The daemon's alert thread: dispatch every ``interval``, queue reminders every
    ``renotify_every``, until ``stop`` is set. Errors are logged and the loop goes on."""
    last_renotify = 0.0
    while not stop.is_set():
        config = get_config()
        try:
            if time.monotonic() - last_renotify >= renotify_every:
                with Session(engine) as s, s.begin():
                    renotify_due(s, config, datetime.now(UTC))
                last_renotify = time.monotonic()
            stats = dispatch_due(engine, config)
            if stats.attempted >= BATCH:
                continue  # more is due: no pause
        except Exception as exc:
            log.error("alerts: dispatch pass failed: %s", first_line(exc))
        stop.wait(interval)
