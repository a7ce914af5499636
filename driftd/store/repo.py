"""Reading and writing the state store: one function per thing the daemon or CLI needs.

Lifecycle of a drift item (keyed by its stable id), decided by ``record_run``:

- seen and unknown → ``open`` (event ``opened``); seen again while closed →
  ``open`` again (``reopened``); seen while open or acknowledged → last seen moves on;
- gone from a successful run → ``accepted`` when the baseline changed since
  the last successful run and the live snapshot still holds the item's
  ``after`` value at its path (the baseline took the change in), else ``resolved``;
- ``acknowledged`` only by a person (``driftd ack``); it still counts as open drift.

Attribution is looked up again by every run for ``late_attribution`` after
an item was first seen (audit records arrive late: CloudWatch delivery, a
hoop session still open, log rotation). The run that finds a first author,
or a statement that matches better than the one known (an exact match where
only the table was known), records an ``attributed`` event, once; alerting
then updates the alert it sent. Evidence is never replaced by weaker evidence,
and after ``late_attribution`` it no longer changes.

A failed run (status ``error``) says nothing about drift: items keep their state.
Each run is written in one transaction with everything it changes, so a crash
at any point leaves either all of it or none of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from driftd.canonical import dumps
from driftd.diff.renames import is_rename
from driftd.drift import SEVERITIES, DriftItem, EnvironmentReport, value_at
from driftd.store import DriftNotFound, Store, StoreError
from driftd.store.models import Daemon, Drift, DriftEvent, EnvironmentState, Run

ACTIVE = ("open", "acknowledged")
CLOSED = ("resolved", "accepted")
_CHUNK = 500  # ids per IN (...) list: far below SQLite's parameter limit


@dataclass
class RunOutcome:
    """What one recorded run changed: the events alerting and metrics react to."""

    run_id: int
    opened: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    attributed: list[str] = field(default_factory=list)  # authors found late
    open_by_severity: dict[str, int] = field(default_factory=dict)


# Runs inside a run's transaction, after its drift moved on: what must commit
# (or roll back) with the run, such as queuing alerts in an outbox.
RunHook = Callable[[Session, EnvironmentReport, RunOutcome], None]


@dataclass
class EnvironmentStatus:
    name: str
    status: str  # clean | drift | error | unknown (never checked)
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_duration_seconds: float | None = None
    error: str | None = None
    open_by_severity: dict[str, int] = field(default_factory=dict)
    acknowledged: int = 0

    @property
    def open_drift(self) -> int:
        return sum(self.open_by_severity.values())


# -- writing ------------------------------------------------------------------


def record_run(
    store: Store,
    report: EnvironmentReport,
    *,
    started_at: datetime,
    finished_at: datetime,
    daemon: str | None,
    baseline_hash: str | None,
    hooks: Sequence[RunHook] = (),
    late_attribution: float = 3600.0,
) -> RunOutcome:
    """Record one finished check and move every drift item of its environment along."""
    name = report.name
    with store.session() as s, s.begin():
        state = _lock_environment(s, store, name)
        run = Run(
            environment=name,
            started_at=started_at,
            finished_at=finished_at,
            duration_seconds=max(0.0, (finished_at - started_at).total_seconds()),
            status=report.status,
            error=report.error,
            snapshot_hash=report.snapshot_hash,
            drift_count=len(report.drift),
            daemon=daemon,
        )
        s.add(run)
        s.flush()
        outcome = RunOutcome(run_id=run.id)
        state.last_run_id = run.id
        state.last_run_at = finished_at
        state.last_status = report.status
        state.last_error = report.error
        state.last_duration_seconds = run.duration_seconds
        if report.status != "error":
            late = timedelta(seconds=late_attribution)
            _advance_drift(s, report, run.id, finished_at, state, baseline_hash, outcome, late)
            state.last_success_at = finished_at
            state.snapshot_hash = report.snapshot_hash
            state.baseline_hash = baseline_hash
        s.flush()
        outcome.open_by_severity = _open_counts(s, [name]).get(name, _zero())
        for hook in hooks:
            hook(s, report, outcome)
    return outcome


def _lock_environment(s: Session, store: Store, name: str) -> EnvironmentState:
    """The environment's row, locked: two writers of one environment take turns."""
    s.execute(store.insert(EnvironmentState).values(name=name).on_conflict_do_nothing())
    return s.execute(
        select(EnvironmentState).where(EnvironmentState.name == name).with_for_update()
    ).scalar_one()


def _advance_drift(
    s: Session,
    report: EnvironmentReport,
    run_id: int,
    now: datetime,
    state: EnvironmentState,
    baseline_hash: str | None,
    outcome: RunOutcome,
    late: timedelta,
) -> None:
    name = report.name
    present = {item.id: item for item in report.drift}
    active = {
        d.id: d
        for d in s.scalars(select(Drift).where(Drift.environment == name, Drift.state.in_(ACTIVE)))
    }
    known = dict(active)
    missing = [i for i in present if i not in known]
    for start in range(0, len(missing), _CHUNK):
        chunk = missing[start : start + _CHUNK]
        known.update((d.id, d) for d in s.scalars(select(Drift).where(Drift.id.in_(chunk))))

    def event(drift_id: str, what: str) -> None:
        s.add(DriftEvent(drift_id=drift_id, environment=name, at=now, event=what, run_id=run_id))

    for drift_id, item in present.items():
        row = known.get(drift_id)
        if row is None:
            s.add(_new_row(name, item, run_id, now))
            s.flush()  # the event's foreign key needs the row
            event(drift_id, "opened")
            outcome.opened.append(drift_id)
            continue
        if row.state in CLOSED:
            row.state = "open"
            row.closed_at = None
            row.acknowledged_at = row.acknowledged_by = row.note = None
            event(drift_id, "reopened")
            outcome.reopened.append(drift_id)
            row.attribution = list(item.attribution)  # a new occurrence: its own evidence
        elif item.attribution and now - row.first_seen_at <= late:
            # Looked for during ``late`` after it was first seen, then left as it is.
            better = _improves(item.attribution, row.attribution)
            if better is not False:
                row.attribution = list(item.attribution)
            if better:
                event(drift_id, "attributed")
                outcome.attributed.append(drift_id)
        # What the latest run saw: severity by the latest rules, and the value before
        # (the same drift, same id, against a baseline that has changed since).
        row.severity, row.rules = item.severity, list(item.rules)
        row.before, row.change = item.before, item.change
        row.last_seen_at, row.last_run_id = now, run_id

    baseline_changed = (
        baseline_hash is not None
        and state.baseline_hash is not None
        and baseline_hash != state.baseline_hash
    )
    live = (report.snapshot or {}).get("objects", {})
    for drift_id, row in active.items():
        if drift_id in present:
            continue
        taken_in = baseline_changed and holds(live, row.object, row.path, row.after)
        row.state = "accepted" if taken_in else "resolved"
        row.closed_at = now
        event(drift_id, row.state)
        (outcome.accepted if taken_in else outcome.resolved).append(drift_id)


def _improves(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> bool | None:
    """Whether ``new`` names a better author than ``old``: True (a first author, or a
    different statement matching with more confidence), None (the same best entry),
    False (worse: e.g. the record that matched left the audit cache)."""
    if not old:
        return True
    n, o = new[0], old[0]
    if all(n.get(k) == o.get(k) for k in ("actor", "session", "statement", "at")):
        return None
    return float(n.get("confidence") or 0) > float(o.get("confidence") or 0)


def _new_row(env: str, item: DriftItem, run_id: int, now: datetime) -> Drift:
    return Drift(
        id=item.id,
        environment=env,
        object=item.object,
        kind=item.kind,
        change=item.change,
        path=list(item.path),
        before=item.before,
        after=item.after,
        severity=item.severity,
        rules=list(item.rules),
        attribution=list(item.attribution),
        state="open",
        first_seen_at=now,
        last_seen_at=now,
        first_run_id=run_id,
        last_run_id=run_id,
    )


def holds(objects: dict[str, Any], obj: str, path: Sequence[Any], value: Any) -> bool:
    """Whether ``objects[obj]`` has ``value`` at ``path`` (absent reads as None, as in diff).

    A rename's path ends in ``name``, which no object has as a field: it holds
    while the thing exists under its new name."""
    if is_rename(path, value):
        return value_at(objects.get(obj), path[:-1]) is not None
    return dumps(value_at(objects.get(obj), path)) == dumps(value)


def acknowledge(
    store: Store,
    ref: str,
    actor: str,
    note: str | None,
    hooks: Sequence[Callable[[Session, Drift], object]] = (),
) -> Drift:
    """A person has seen this drift; it stays open until it goes away.

    ``hooks`` run in the same transaction (e.g. queuing the acknowledgement
    for alert sinks), so both commit or neither does. Acknowledging an item
    already acknowledged changes nothing (no event, no hooks: sinks hear of an
    acknowledgement once); the row is returned as it was."""
    with store.session() as s, s.begin():
        row = s.get(Drift, _resolve_id(s, ref), with_for_update=True)
        assert row is not None
        if row.state in CLOSED:
            when = row.closed_at.strftime("%Y-%m-%d %H:%M:%SZ") if row.closed_at else "?"
            raise StoreError(
                f"drift {row.id} is already {row.state} (at {when}): nothing to acknowledge",
                f"see `driftd explain {row.id}`",
            )
        if row.state == "acknowledged":
            return row
        now = _now()
        row.state = "acknowledged"
        row.acknowledged_at, row.acknowledged_by, row.note = now, actor, note
        s.add(
            DriftEvent(
                drift_id=row.id,
                environment=row.environment,
                at=now,
                event="acknowledged",
                actor=actor,
                note=note,
            )
        )
        s.flush()
        for hook in hooks:
            hook(s, row)
    return row


def prune_runs(store: Store, before: datetime) -> int:
    """Forget runs older than ``before`` (drift items and their events stay)."""
    with store.session() as s, s.begin():
        result = s.execute(delete(Run).where(Run.finished_at < before))
        return int(getattr(result, "rowcount", 0) or 0)


# -- reading ------------------------------------------------------------------


def environment_status(store: Store, names: Iterable[str]) -> list[EnvironmentStatus]:
    names = list(names)
    with store.session() as s:
        states = {
            st.name: st
            for st in s.scalars(select(EnvironmentState).where(EnvironmentState.name.in_(names)))
        }
        counts = _open_counts(s, names)
        acked = {
            env: int(n)
            for env, n in s.execute(
                select(Drift.environment, func.count())
                .where(Drift.environment.in_(names), Drift.state == "acknowledged")
                .group_by(Drift.environment)
            )
        }
    out = []
    for name in names:
        st = states.get(name)
        if st is None or st.last_status is None:
            out.append(EnvironmentStatus(name, "unknown", open_by_severity=_zero()))
            continue
        out.append(
            EnvironmentStatus(
                name=name,
                status=st.last_status,
                last_run_at=st.last_run_at,
                last_success_at=st.last_success_at,
                last_duration_seconds=st.last_duration_seconds,
                error=st.last_error,
                open_by_severity=counts.get(name, _zero()),
                acknowledged=int(acked.get(name, 0)),
            )
        )
    return out


@dataclass
class DaemonStatus:
    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    up: bool  # its heartbeat has not expired


def daemon_status(store: Store) -> list[DaemonStatus]:
    """The daemons that report in the store (PostgreSQL fleets heartbeat there), newest
    first; one whose heartbeat expired has stopped reporting. Dead ones are forgotten
    after ten lease periods."""
    now = _now()
    with store.session() as s:
        rows = s.scalars(select(Daemon).order_by(Daemon.heartbeat_at.desc())).all()
    return [
        DaemonStatus(d.id, d.hostname, d.pid, d.started_at, d.heartbeat_at, d.expires_at > now)
        for d in rows
    ]


def open_counts(store: Store, names: Iterable[str]) -> dict[str, dict[str, int]]:
    with store.session() as s:
        return _open_counts(s, list(names))


def _open_counts(s: Session, names: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(_zero)
    rows = s.execute(
        select(Drift.environment, Drift.severity, func.count())
        .where(Drift.environment.in_(names), Drift.state.in_(ACTIVE))
        .group_by(Drift.environment, Drift.severity)
    )
    for env, severity, count in rows:
        out[env][severity] = int(count)
    return {name: out[name] for name in names}


def _zero() -> dict[str, int]:
    return dict.fromkeys(SEVERITIES, 0)


def history(store: Store, env: str, limit: int = 50) -> list[dict[str, Any]]:
    """Runs and drift events of ``env``, newest first.

    A run's ``run`` is its number within the environment (1, 2, 3, ... among
    the runs kept; ``run_id`` is the store's id, shared by all environments).
    An acknowledgement repeated (an older driftd recorded each ``ack``) is listed once,
    as the first.
    """
    with store.session() as s:
        runs = s.scalars(
            select(Run).where(Run.environment == env).order_by(Run.id.desc()).limit(limit)
        ).all()
        first = runs[-1].id if runs else 0
        before = s.scalar(
            select(func.count()).select_from(Run).where(Run.environment == env, Run.id < first)
        )
        events = s.execute(
            select(DriftEvent, Drift)
            .join(Drift, Drift.id == DriftEvent.drift_id)
            .where(DriftEvent.environment == env)
            .order_by(DriftEvent.id.desc())
            .limit(limit)
        )
        entries: list[dict[str, Any]] = [
            {
                "at": r.finished_at,
                "type": "run",
                "run": int(before or 0) + len(runs) - i,
                "run_id": r.id,
                "status": r.status,
                "duration_seconds": round(r.duration_seconds, 3),
                "drift": r.drift_count,
                "error": r.error,
                "daemon": r.daemon,
            }
            for i, r in enumerate(runs)
        ]
        entries += _event_entries(events)
    # Events are written in their run's transaction at its finish time: list them
    # after (above) their run.
    entries.sort(key=lambda e: (e["at"], e["type"] == "drift"), reverse=True)
    return entries[:limit]


def _event_entries(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """History entries of (event, drift) rows, newest first, repeated acks folded."""
    out: list[dict[str, Any]] = []
    newest: dict[str, int] = {}  # drift id -> index of its oldest entry so far
    for e, d in rows:
        entry = {
            "at": e.at,
            "type": "drift",
            "event": e.event,
            "drift_id": e.drift_id,
            "object": d.object,
            "path": d.path,
            "severity": d.severity,
            "actor": e.actor,
            "note": e.note,
            "run_id": e.run_id,
        }
        at = newest.get(e.drift_id)
        if at is not None and e.event == "acknowledged" == out[at]["event"]:
            out[at] = entry  # the same acknowledgement again: keep the first
            continue
        newest[e.drift_id] = len(out)
        out.append(entry)
    return out


def get_drift(store: Store, ref: str) -> tuple[Drift, list[DriftEvent]]:
    """One drift item by id (or a unique prefix of at least 4 characters) and its events."""
    with store.session() as s:
        drift_id = _resolve_id(s, ref)
        row = s.get(Drift, drift_id)
        assert row is not None
        events = list(
            s.scalars(
                select(DriftEvent).where(DriftEvent.drift_id == drift_id).order_by(DriftEvent.id)
            )
        )
    return row, events


def _resolve_id(s: Session, ref: str) -> str:
    ref = ref.strip().lower()
    if s.get(Drift, ref) is not None:
        return ref
    if len(ref) >= 4 and all(c in "0123456789abcdef" for c in ref):
        ids = list(s.scalars(select(Drift.id).where(Drift.id.startswith(ref)).limit(3)))
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            raise StoreError(
                f"drift id {ref!r} is ambiguous ({', '.join(ids)}, ...)",
                "give more characters of the id",
            )
    raise DriftNotFound(
        f"no drift item {ref!r} in the state store",
        "ids are shown by `driftd check`, `driftd status` and `driftd history ENV`",
    )


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
