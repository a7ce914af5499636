"""The durable alert outbox: enqueue with the run, deliver until the sink takes it.

``enqueue`` writes one row per sink that takes an event (one per instance for
a sink that posts to several, such as an Alertmanager HA pair), in the caller's
transaction: the run and its alerts are committed together or not at all.
Routing happens there (the environment's sinks, each one's severity, object
and environment filters). A row holds the routed event, never the rendered
request, so no secret (webhook URL, routing key, password) is ever stored.

``dispatch_due`` sends due rows and records each outcome:

- **PostgreSQL**: a row is claimed with ``FOR UPDATE SKIP LOCKED``, sent, and
  marked in that same transaction once the sink answered 2xx. Several daemons
  never send one row twice, and a daemon that dies mid-send leaves the row
  pending (its lock goes with its connection).
- **SQLite**: its lock covers the whole database, and holding it across a
  network call would stall every writer (the daemon recording runs) behind a
  slow sink. A row is claimed in a short transaction by moving its
  ``next_attempt_at`` past the send (a lease) and naming the sending process in
  ``claim_owner``, sent, then marked in a second one. A claim whose process is
  gone (killed; on this host) is freed at the start of the next pass, so a
  restarted daemon sends at once; another host's claim is freed by its lease.

Either way the one window left is a crash after the sink answered and before
the commit: the row is sent again, with the same idempotency key (PagerDuty's
dedup key, the webhook's ``Idempotency-Key``, the email's ``Message-ID``,
an SNS FIFO deduplication id), so services that dedupe drop it.

Deliveries of one (sink, target, environment) go out in order: a resolve never
overtakes its trigger. Each instance of a multi-instance sink has its own
rows: one instance that is down is retried alone while the others get on.
Failures are retried with exponential backoff and full jitter (honouring
``Retry-After``) until ``max_attempts`` or ``give_up_after``, then the row is
``failed`` and logged; other 4xx answers fail it at once.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, select, update
from sqlalchemy.orm import Session, aliased

from driftd import alerts
from driftd.alerts import metrics
from driftd.alerts.base import Outcome, Sink, SinkSettings
from driftd.alerts.events import AlertEvent
from driftd.alerts.model import DELIVERED, FAILED, PENDING, Delivery
from driftd.config import Config
from driftd.store import upsert_insert

log = logging.getLogger(__name__)

DEFAULT_SETTINGS = SinkSettings(type="?")
BATCH = 200  # rows per dispatch pass: the next pass goes on

# The process that claims SQLite rows (``claim_owner``). A claim whose process is
# gone (killed, or an earlier process of this daemon under the same pid, as a
# container's pid 1) is freed at the next pass: a restart sends at once.
OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
# Set while the daemon stops: a pass sends no further row (what is left stays queued).
STOPPING = threading.Event()


@dataclass(frozen=True)
class Queued:
    """A delivery ``enqueue`` added."""

    id: int
    sink: str
    kind: str
    idempotency_key: str
    target: str = ""


@dataclass
class DispatchStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    # Sinks that answered "try later" in this pass: their other rows waited.
    # ``sink`` or, for one instance of a multi-instance sink, ``sink target``.
    down: list[str] = field(default_factory=list)
    down_targets: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retried + self.failed


# -- enqueue -------------------------------------------------------------------------


def sinks_of(config: Config, environment: str) -> list[str]:
    env = config.environments.get(environment)
    return list(env.alerts) if env is not None else []


def enqueue(
    session: Session,
    config: Config,
    event: AlertEvent,
    *,
    sinks: Sequence[str] | None = None,
    now: datetime | None = None,
) -> list[Queued]:
    """Queue ``event`` for each sink that takes it (default: its environment's sinks).

    Runs in the caller's transaction; commit it to make the alerts durable.
    Enqueuing the same event again is a no-op (unique idempotency key per sink).
    Returns the rows added. A sink that cannot be built is logged, never raised:
    it must not cost the caller its transaction.
    """
    names = list(sinks) if sinks is not None else sinks_of(config, event.environment)
    created = now or datetime.now(UTC)
    dialect = session.get_bind().dialect.name
    added: list[Queued] = []
    for name in dict.fromkeys(names):
        try:
            sink = alerts.sink(config, name)
        except Exception as exc:
            log.error("alerts.%s: cannot queue %s alert: %s", name, event.kind, exc)
            continue
        routed = sink.route(event)
        if routed is None:
            continue
        parts = [(p, t) for p in sink.split(routed) for t in sink.targets()]
        for part, target in parts:
            key = sink.part_key(part)
            values: dict[str, Any] = {
                "sink": name,
                "target": target,
                "environment": part.environment,
                "kind": part.kind,
                # One key per instance: the unique (sink, key) keeps each row once.
                "idempotency_key": event.idempotency_key(
                    name, f"{key}@{target}" if target else key
                ),
                "payload": part.to_json(),
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": created,
                "created_at": created,
            }
            stmt = (
                upsert_insert(dialect, Delivery)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["sink", "idempotency_key"])
                .returning(Delivery.id)
            )
            new_id = session.execute(stmt).scalar()
            if new_id is not None:
                added.append(Queued(new_id, name, part.kind, values["idempotency_key"], target))
    return added


# -- dispatch ------------------------------------------------------------------------


def backoff(
    attempts: int,
    settings: SinkSettings,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next try: full jitter over initial × 2^(attempts-1), capped at
    ``retry_max``; never sooner than the service's ``Retry-After``."""
    cap = min(settings.retry_max, settings.retry_initial * 2 ** min(attempts - 1, 30))
    delay = (rng or random).uniform(0, cap)
    return max(delay, retry_after or 0.0)


def _due(now: datetime, skip: Iterable[tuple[str, str]]) -> Any:
    earlier = aliased(Delivery)
    blocked = (
        select(earlier.id)
        .where(
            earlier.sink == Delivery.sink,
            earlier.target == Delivery.target,
            earlier.environment == Delivery.environment,
            earlier.state == PENDING,
            earlier.id < Delivery.id,
        )
        .exists()
    )
    query = select(Delivery).where(
        Delivery.state == PENDING, Delivery.next_attempt_at <= now, ~blocked
    )
    for sink, target in sorted(skip):
        query = query.where(~and_(Delivery.sink == sink, Delivery.target == target))
    return query.order_by(Delivery.next_attempt_at, Delivery.id).limit(1)


class _Pass:
    """One dispatch pass: its sinks (built once, closed at the end) and its tally."""

    def __init__(self, config: Config, now: datetime | None, rng: random.Random | None) -> None:
        self.config = config
        self.fixed_now = now
        self.rng = rng
        self.sinks: dict[str, Sink[Any] | None] = {}
        self.stats = DispatchStats()

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC)

    def sink(self, name: str) -> Sink[Any] | None:
        if name not in self.sinks:
            try:
                self.sinks[name] = alerts.sink(self.config, name)
            except Exception as exc:
                log.error("alerts.%s: %s", name, exc)
                self.sinks[name] = None
        return self.sinks[name]

    def lease(self, name: str) -> timedelta:
        sink = self.sinks.get(name)
        timeout = sink.settings.timeout if sink else 10.0
        return timedelta(seconds=max(60.0, 3 * timeout + 30))

    def close(self) -> None:
        for sink in self.sinks.values():
            if sink is not None:
                try:
                    sink.close()
                except Exception:  # closing a client must not stop the daemon
                    log.debug("closing sink failed", exc_info=True)

    # -- one row ---------------------------------------------------------------------

    def attempt(self, row: Delivery, now: datetime) -> Outcome:
        sink = self.sink(row.sink)
        if sink is None:
            return Outcome(
                "permanent", f"alert sink {row.sink} is not (or no longer) configured correctly"
            )
        try:
            event = AlertEvent.from_json(row.payload)
            return sink.send_to(row.target, event, row.idempotency_key, now)
        except Exception as exc:  # a bug in a sink: keep the row, say what happened
            log.exception("alerts.%s: sending crashed", row.sink)
            return Outcome("retry", sink.scrub(f"internal error: {type(exc).__name__}: {exc}"))

    def record(self, row: Delivery, outcome: Outcome, now: datetime) -> None:
        sink = self.sinks.get(row.sink)
        settings = sink.settings if sink is not None else DEFAULT_SETTINGS
        row.attempts += 1
        row.last_attempt_at = now
        fields: dict[str, Any] = {
            "sink": row.sink,
            "target": row.target or None,
            "environment": row.environment or None,
            "event": row.kind,
            "delivery": row.id,
            "attempts": row.attempts,
        }
        if outcome.ok:
            row.state = DELIVERED
            row.delivered_at = now
            row.last_error = None
            self.stats.delivered += 1
            metrics.SENT.labels(row.sink, "delivered").inc()
            log.info("alerts.%s: delivered %s alert", row.sink, row.kind, extra=fields)
            return
        age = now - row.created_at
        reason = outcome.reason
        if outcome.result == "retry":
            if (
                row.attempts >= settings.max_attempts
                or age.total_seconds() >= settings.give_up_after
            ):
                outcome = Outcome("permanent", f"{reason} (gave up after {row.attempts} attempts)")
            else:
                delay = backoff(row.attempts, settings, outcome.retry_after, self.rng)
                row.next_attempt_at = now + timedelta(seconds=delay)
                row.last_error = reason
                self.stats.retried += 1
                if (row.sink, row.target) not in self.stats.down_targets:
                    self.stats.down_targets.add((row.sink, row.target))
                    self.stats.down.append(f"{row.sink} {row.target}".strip())
                metrics.SENT.labels(row.sink, "retry").inc()
                log.warning(
                    "alerts.%s: %s alert not delivered, next try in %.0fs: %s",
                    row.sink,
                    row.kind,
                    delay,
                    reason,
                    extra={**fields, "retry_in_seconds": round(delay, 1)},
                )
                return
        row.state = FAILED
        row.last_error = outcome.reason
        self.stats.failed += 1
        metrics.SENT.labels(row.sink, "failed").inc()
        log.error(
            "alerts.%s: %s alert failed for good: %s (`driftd alerts pending` lists it)",
            row.sink,
            row.kind,
            outcome.reason,
            extra=fields,
        )

    # -- claiming ------------------------------------------------------------------------

    def one_locked(self, engine: Engine) -> bool:
        """PostgreSQL: claim, send and mark one row in one transaction."""
        now = self.now()
        with Session(engine, expire_on_commit=False) as s, s.begin():
            query = _due(now, self.stats.down_targets)
            query = query.with_for_update(skip_locked=True, of=Delivery)
            row = s.scalars(query).first()
            if row is None:
                return False
            outcome = self.attempt(row, now)
            row.claim_owner = row.claimed_at = None  # the row lock was the claim
            self.record(row, outcome, self.now())
        return True

    def one_leased(self, engine: Engine) -> bool:
        """SQLite: claim one row with a lease (short transaction), send, then mark it."""
        now = self.now()
        with Session(engine, expire_on_commit=False) as s, s.begin():
            row = s.scalars(_due(now, self.stats.down_targets)).first()
            if row is None:
                return False
            self.sink(row.sink)  # the lease outlasts this sink's timeout
            result = s.execute(
                update(Delivery)
                .where(
                    Delivery.id == row.id,
                    Delivery.state == PENDING,
                    Delivery.next_attempt_at == row.next_attempt_at,
                )
                .values(
                    next_attempt_at=now + self.lease(row.sink),
                    claim_owner=OWNER,
                    claimed_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            claimed = getattr(result, "rowcount", 0)
            s.expunge(row)
        if not claimed:  # another dispatcher got there first
            return True
        outcome = self.attempt(row, now)
        with Session(engine, expire_on_commit=False) as s, s.begin():
            fresh = s.get(Delivery, row.id)
            if fresh is None or fresh.state != PENDING:
                return True
            if fresh.claim_owner == OWNER:  # else another process holds it since our lease ran out
                fresh.claim_owner = fresh.claimed_at = None
            self.record(fresh, outcome, self.now())
        return True


def _owner_alive(owner: str) -> bool:
    """Whether the process that made a claim may still be sending it."""
    if owner == OWNER:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's process: its lease decides
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # an earlier process with our pid (a container's pid 1): gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours to signal
    return True


def reclaim_dead(engine: Engine, now: datetime | None = None) -> int:
    """Free SQLite claims whose process is gone: due now, same row and id (so the
    same idempotency key). Claims of other hosts wait for their lease."""
    at = now or datetime.now(UTC)
    freed = 0
    with Session(engine, expire_on_commit=False) as s, s.begin():
        rows = s.scalars(
            select(Delivery).where(
                Delivery.state == PENDING,
                Delivery.next_attempt_at > at,
                Delivery.claim_owner.is_not(None),
            )
        ).all()
        for row in rows:
            owner = row.claim_owner or ""
            if _owner_alive(owner):
                continue
            row.next_attempt_at = at
            row.claim_owner = row.claimed_at = None
            row.last_error = f"interrupted: the process sending it ({owner}) stopped"
            freed += 1
            log.info(
                "alerts.%s: delivery %d was claimed by a process that is gone; sending it now",
                row.sink,
                row.id,
                extra={"sink": row.sink, "delivery": row.id},
            )
    return freed


def dispatch_due(
    engine: Engine,
    config: Config,
    now: datetime | None = None,
    *,
    limit: int = BATCH,
    rng: random.Random | None = None,
) -> DispatchStats:
    """Send what is due (at most ``limit`` rows) and record each outcome.

    ``now`` fixes the clock for the pass (tests); by default it is the real time.
    A sink (or one instance of it) that answers "try later" is skipped for the
    rest of the pass.
    """
    run = _Pass(config, now, rng)
    sqlite = engine.dialect.name != "postgresql"
    step = run.one_leased if sqlite else run.one_locked
    if sqlite:
        try:
            reclaim_dead(engine, now)
        except Exception as exc:  # the lease still frees them in the end
            log.warning("alerts: could not free dead claims: %s", exc)
    try:
        for _ in range(limit):
            if STOPPING.is_set() or not step(engine):
                break
    finally:
        run.close()
    try:
        update_pending_gauge(engine, config)
    except Exception:  # the gauge is a nicety; a store hiccup is logged by the caller
        log.debug("could not count pending alerts", exc_info=True)
    return run.stats


# -- reading and upkeep ----------------------------------------------------------------


def pending_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Delivery.sink, func.count()).where(Delivery.state == PENDING).group_by(Delivery.sink)
    )
    return {sink: int(n) for sink, n in rows}


def update_pending_gauge(engine: Engine, config: Config) -> None:
    """The outbox gauges: depth, oldest pending, failed (see driftd.alerts.metrics)."""
    metrics.observe_outbox(engine, config.alerts)


def listing(
    session: Session, states: Sequence[str] = (PENDING, FAILED), limit: int = 200
) -> list[Delivery]:
    """Deliveries in ``states``, oldest first (what `driftd alerts pending` shows)."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.state.in_(list(states)))
            .order_by(Delivery.id)
            .limit(limit)
        )
    )


def failed_ids(session: Session, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` are failed deliveries (the ones ``requeue`` can take back)."""
    query = select(Delivery.id).where(Delivery.state == FAILED, Delivery.id.in_(list(ids)))
    return {int(i) for i in session.execute(query).scalars()}


def requeue(session: Session, ids: Sequence[int] | None, now: datetime | None = None) -> int:
    """Put failed deliveries (these ids, or all) back in the queue, as if new."""
    at = now or datetime.now(UTC)
    query = update(Delivery).where(Delivery.state == FAILED)
    if ids is not None:
        query = query.where(Delivery.id.in_(list(ids)))
    result = session.execute(
        query.values(state=PENDING, attempts=0, next_attempt_at=at, created_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def prune(session: Session, before: datetime) -> int:
    """Forget delivered and failed rows created before ``before``."""
    result = session.execute(
        delete(Delivery).where(Delivery.state != PENDING, Delivery.created_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
