"""``driftd run``: the supervisor loop around the scheduler (the Patroni pattern).

Signal handlers only set a flag and wake the loop (a self-pipe); the loop, in
the main thread, does the work: reloads, lease passes, watchdog pings, and the
orderly stop. Checks run in the scheduler's worker threads, each under a hard
deadline, so a hanging database is reported and never holds up the others.

systemd sees: ``READY=1`` once the config is valid, the store migrated, the
HTTP port bound and the scheduler started; ``WATCHDOG=1`` while the loop goes
round and the scheduler lives; ``RELOADING=1`` + ``MONOTONIC_USEC`` then
``READY=1`` around a SIGHUP; ``STOPPING=1`` on SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from driftd.alerts import lifecycle, outbox
from driftd.alerts import metrics as alert_metrics
from driftd.attribute.sources import default_state_path
from driftd.attribute.sources.state import AuditState
from driftd.attribute.sources.store_state import StoreAuditState, import_json_state
from driftd.check import FastPath, check_environment
from driftd.config import Config, Environment, ResolvedEnvironment
from driftd.config.load import load
from driftd.daemon import logs
from driftd.daemon.http import Listener, Metrics
from driftd.daemon.lease import Leases, for_store
from driftd.daemon.schedule import Plan, Scheduler, SchedulerEvents
from driftd.daemon.sdnotify import notify, watchdog_interval
from driftd.drift import EnvironmentReport, Report
from driftd.errors import ConfigError, DriftdError
from driftd.rules import RuleSet
from driftd.store import Store, StoreUnavailable, first_line, open_store, repo

log = logging.getLogger(__name__)

# After SIGTERM, running checks and an alert in flight get this long in all (the
# unit's TimeoutStopSec is 30 s); what is not sent by then stays in the outbox.
STOP_TIMEOUT = 20.0
LOOP_TICK = 1.0
LOOP_STALLED = 30.0  # /healthz fails when the loop has not gone round for this long
SOLO_TICK = 5.0
RUN_RETENTION = timedelta(days=90)
ALERT_DISPATCH_EVERY = 5.0  # seconds between outbox passes
PRUNE_EVERY = 3600.0
# What the / page shows: the drift open now and what closed within this period.
PAGE_PERIOD = timedelta(hours=24)

# Settings read once at start: a reload that changes them says so.
RESTART_ONLY = (
    "state_url",
    "state_password_env",
    "state_password_file",
    "http_listen",
    "max_concurrent_checks",
)


def check_deadline(env: Environment) -> float:
    """Hard limit for one check, beyond the collector's own connect/statement timeouts."""
    return env.connect_timeout + 4 * env.statement_timeout + 10.0


def build_plans(config: Config) -> dict[str, Plan]:
    plans = {}
    for name, env in config.environments.items():
        plan = Plan(name, env.schedule)
        try:
            plan.trigger()
        except ValueError as exc:
            raise ConfigError(f"environments.{name}.schedule: {exc}") from None
        plans[name] = plan
    return plans


class Checker:
    """Check one environment under a deadline, record the run, update metrics and logs."""

    def __init__(
        self,
        store: Store,
        daemon_id: str,
        metrics: Metrics | None = None,
        abandon: threading.Event | None = None,
        on_store: Callable[[str | None], None] = lambda problem: None,
        hooks: Sequence[repo.RunHook] = (),
        audit_state: AuditState | None = None,
        fast: FastPath | None = None,
    ) -> None:
        self.store = store
        self.fast = fast  # the no-change fast path (the daemon's, not `run --once`'s)
        # Audit cursors and events live in the store, shared by the whole fleet.
        self.audit_state = audit_state or StoreAuditState(store)
        self.hooks = hooks
        self.daemon_id = daemon_id
        self.metrics = metrics
        self.abandon = abandon or threading.Event()
        self.on_store = on_store
        self._hung: dict[str, threading.Thread] = {}

    def run(self, env: ResolvedEnvironment, rules: RuleSet) -> EnvironmentReport | None:
        """The report (also recorded), or None when the daemon gave up waiting at stop."""
        name = env.name
        started = datetime.now(UTC)
        t0 = time.monotonic()
        outcome = self._check(env, rules)
        if outcome is None:
            log.warning("%s: check abandoned at shutdown; nothing recorded", name)
            return None
        report, reason = outcome
        finished = datetime.now(UTC)
        duration = time.monotonic() - t0
        m = self.metrics
        if m is not None:
            m.duration.labels(name).observe(duration)
            m.checks.labels(name, report.status).inc()
            m.last_run.labels(name).set(finished.timestamp())
            if report.status == "error":
                m.errors.labels(name, reason).inc()
            else:
                m.last_success.labels(name).set(finished.timestamp())
        fields: dict[str, Any] = {
            "environment": name,
            "status": report.status,
            "duration_seconds": round(duration, 3),
            "drift": len(report.drift),
        }
        try:
            recorded = repo.record_run(
                self.store,
                report,
                started_at=started,
                finished_at=finished,
                daemon=self.daemon_id,
                baseline_hash=report.baseline_hash,
                hooks=self.hooks,
                late_attribution=env.settings.late_attribution,
            )
        except Exception as exc:
            problem = first_line(exc)
            log.error(
                "%s: could not record the run in the state store: %s", name, problem, extra=fields
            )
            if m is not None:
                m.errors.labels(name, "store").inc()
            self.on_store(problem)
            return report
        finally:
            # Recorded (or not): keep no snapshot alive, e.g. across `run --once`'s reports.
            report.snapshot = None
        self.on_store(None)
        if m is not None:
            m.set_open(name, recorded.open_by_severity)
        fields["run_id"] = recorded.run_id
        for key in ("opened", "reopened", "resolved", "accepted"):
            ids = getattr(recorded, key)
            if ids:
                fields[key] = ids[:50]
        if report.status == "error":
            log.warning("%s: check failed: %s", name, report.error, extra=fields)
        else:
            log.info("%s: %s", name, report.status, extra=fields)
        return report

    def _check(
        self, env: ResolvedEnvironment, rules: RuleSet
    ) -> tuple[EnvironmentReport, str] | None:
        name = env.name
        deadline = check_deadline(env.settings)
        hung = self._hung.get(name)
        if hung is not None and hung.is_alive():
            return _error(
                name, f"the previous check is still hanging past its {deadline:.0f}s deadline"
            ), "timeout"
        box: dict[str, EnvironmentReport] = {}
        crashed = threading.Event()

        def target() -> None:
            logs.bind(environment=name)  # every line this check logs names its environment
            try:
                box["report"] = check_environment(
                    env, rules, for_store=True, audit_state=self.audit_state, fast=self.fast
                )
            except Exception as exc:  # a bug, or an error the collector did not wrap
                log.exception("%s: check crashed", name, extra={"environment": name})
                crashed.set()
                box["report"] = _error(
                    name, f"internal error: {type(exc).__name__}: {first_line(exc)}"
                )

        thread = threading.Thread(target=target, name=f"check-{name}", daemon=True)
        thread.start()
        until = time.monotonic() + deadline
        while thread.is_alive():
            thread.join(0.2)
            if self.abandon.is_set():
                return None
            if thread.is_alive() and time.monotonic() > until:
                self._hung[name] = thread  # one stuck thread per environment at most
                return _error(
                    name,
                    f"check did not finish within {deadline:.0f}s "
                    "(connect_timeout + 4 × statement_timeout + 10s): is the database hanging?",
                ), "timeout"
        self._hung.pop(name, None)
        return box["report"], "crash" if crashed.is_set() else "check"


def _error(name: str, message: str) -> EnvironmentReport:
    return EnvironmentReport(name=name, status="error", error=message)


def _import_audit_state(store: Store, config: Config) -> None:
    """Move a JSON audit state of driftd 0.1 into the store (once; never fatal)."""
    try:
        note = import_json_state(StoreAuditState(store), default_state_path(config))
    except Exception as exc:
        log.warning("could not import the old audit state file: %s", first_line(exc))
        return
    if note:
        log.info("%s", note)


def run_once(config: Config) -> Report:
    """``driftd run --once``: check every environment once, record, and report."""
    store = open_store(config, migrate=True, pool_size=config.driftd.max_concurrent_checks + 1)
    _import_audit_state(store, config)
    rules = RuleSet(config.rules)
    checker = Checker(
        store,
        f"{socket.gethostname()}:{os.getpid()}:once",
        hooks=[lifecycle.run_hook(lambda: config)],
    )
    try:
        with ThreadPoolExecutor(config.driftd.max_concurrent_checks) as pool:
            reports = list(pool.map(lambda e: checker.run(e, rules), config.resolve_all()))
        if config.alerts:
            # One pass: what a sink refuses now stays in the outbox for the daemon.
            outbox.dispatch_due(store.engine, config)
    finally:
        store.close()
    return Report([r for r in reports if r is not None])


class Daemon(SchedulerEvents):
    def __init__(self, config_path: Path, config: Config, debug: bool = False) -> None:
        self.config_path = config_path
        self.config = config
        self.rules = RuleSet(config.rules)
        self.plans = build_plans(config)
        self.envs = {e.name: e for e in config.resolve_all()}  # resolved once per load
        self.debug = debug
        self.daemon_id = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.store: Store | None = None
        self.leases: Leases | None = None
        self.metrics = Metrics()
        self.listener: Listener | None = None
        self.scheduler: Scheduler | None = None
        self.checker: Checker | None = None
        # Called in each run's transaction (see repo.RunHook), e.g. to queue alerts.
        self.run_hooks: list[repo.RunHook] = []
        # Set by signal handlers, acted on by the loop.
        self._stop_requested = False
        self._reload_requested = False
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        self._lock = threading.Lock()
        self._active: set[str] = set()
        self._owned: set[str] = set()
        self._results: dict[str, str] = {}
        self._store_problem: str | None = None
        self._last_loop = time.monotonic()
        self._ready = False
        self._alerts_stop = threading.Event()
        self._alerts_thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # -- entry point -----------------------------------------------------------

    def serve(self) -> int:
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        old_fd = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        try:
            try:
                self._start()
            except StoreUnavailable:
                if self._stop_requested:  # stopped while waiting for the store
                    log.info("stopped before the state store came back")
                    return 0
                raise
            self._loop()
        finally:
            self._shutdown()
            signal.set_wakeup_fd(old_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_requested = True

    def _on_reload(self, signum: int, _frame: FrameType | None) -> None:
        self._reload_requested = True

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe wakes the loop all the same
            os.write(self._wake_w, b"\0")

    def _sleep(self, seconds: float) -> None:
        ready, _, _ = select.select([self._wake_r], [], [], max(0.0, seconds))
        if ready:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass

    # -- start / loop / stop ---------------------------------------------------

    def _page(self) -> str:
        """The ``/`` page: the drift of the last 24 hours (open now, or closed since),
        as `driftd report` shows a period."""
        from driftd.report.evidence import render_html
        from driftd.store.evidence import evidence

        assert self.store is not None
        now = datetime.now(UTC)
        doc = evidence(self.store, now - PAGE_PERIOD, now, sorted(self.config.environments))
        return render_html(doc, now=True)

    def _open_store(self, config: Config) -> Store:
        """The state store, waiting for its server while it cannot be reached: a store
        that comes back later is not a reason to exit (under systemd, TimeoutStartSec
        bounds the wait). A store that refuses driftd for good is an error at once."""
        delay = 1.0
        while True:
            try:
                return open_store(
                    config, migrate=True, pool_size=config.driftd.max_concurrent_checks + 3
                )
            except StoreUnavailable as exc:
                if self._stop_requested:
                    raise
                log.warning("waiting for the state store (retry in %.0fs): %s", delay, exc.message)
                notify(f"STATUS=waiting for the state store: {exc.message}"[:200])
                self._sleep(delay)  # a signal wakes it: SIGTERM stops the wait
                if self._stop_requested:
                    raise
                delay = min(delay * 2, 30.0)

    def _start(self) -> None:
        config = self.config
        section = config.driftd
        self.store = self._open_store(config)
        log.info("state store ready", extra={"store": self.store.display_url})
        _import_audit_state(self.store, config)
        self.leases = for_store(self.store, self.daemon_id, section.lease_duration)
        self.metrics.track(config.environments)
        self.metrics.track_sources(config.audit)
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(time.time())
        alert_metrics.register(self.metrics.registry)
        alert_metrics.init(config.alerts)
        # Alerts are queued in each run's own transaction (the outbox), then sent
        # by their own thread: a slow sink never holds up a check.
        self.run_hooks.append(lifecycle.run_hook(lambda: self.config))
        if section.http_listen:
            self.listener = Listener(
                section.http_listen,
                self.metrics,
                self.health,
                # Read on each probe: a reload that changes it applies at once.
                max_check_age=lambda: self.config.driftd.healthz_max_check_age,
                page=self._page,
            )
            self.listener.start()
            log.info(
                "listening on http://%s:%s (/healthz, /metrics)",
                self.listener.host,
                self.listener.port,
                extra={"port": self.listener.port},
            )
        self.checker = Checker(
            self.store,
            self.daemon_id,
            self.metrics,
            self._abandon,
            self._set_store_problem,
            self.run_hooks,
            audit_state=StoreAuditState(self.store, on_poll=self.metrics.audit_polled),
            fast=FastPath(),
        )
        fast = self.checker.fast
        self.metrics.reused_count = lambda: fast.reused if fast is not None else 0
        self._lease_tick()
        self.scheduler = Scheduler(self._job, section.max_concurrent_checks, self)
        self.scheduler.start()
        outbox.STOPPING.clear()
        self._alerts_thread = threading.Thread(
            target=lifecycle.run_forever,
            args=(self.store.engine, lambda: self.config, self._alerts_stop),
            kwargs={"interval": ALERT_DISPATCH_EVERY},
            name="alerts",
            daemon=True,
        )
        self._alerts_thread.start()
        self.scheduler.reconcile(self.plans)
        if self.leases.fleet:
            self.scheduler.hold(self._owned)
        notify("READY=1", self._status_line())
        self._ready = True
        log.info(
            "driftd running",
            extra={
                "daemon": self.daemon_id,
                "environments": len(config.environments),
                "fleet": self.leases.fleet,
            },
        )

    def _loop(self) -> None:
        assert self.leases is not None and self.scheduler is not None
        watchdog = watchdog_interval()
        lease_every = self.config.driftd.lease_duration / 3 if self.leases.fleet else SOLO_TICK
        now = time.monotonic()
        next_lease, next_ping, next_prune = now + lease_every, now, now + 60.0
        while not self._stop_requested:
            now = time.monotonic()
            wake_at = min(next_lease, now + LOOP_TICK, next_ping if watchdog else now + LOOP_TICK)
            self._sleep(wake_at - now)
            if self._stop_requested:
                break
            if self._reload_requested:
                self._reload_requested = False
                self._reload()
            now = time.monotonic()
            if now >= next_lease:
                self._lease_tick()
                lease_every = (
                    self.config.driftd.lease_duration / 3 if self.leases.fleet else SOLO_TICK
                )
                next_lease = now + lease_every
            if now >= next_prune:
                self._prune()
                next_prune = now + PRUNE_EVERY
            self._last_loop = time.monotonic()
            # Ping only from a loop that goes round with a live scheduler: if
            # either stops, systemd restarts us after WatchdogSec.
            if watchdog and self._last_loop >= next_ping and self.scheduler.alive():
                notify("WATCHDOG=1")
                next_ping = self._last_loop + watchdog

    def _shutdown(self) -> None:
        notify("STOPPING=1")
        self._stopping.set()
        # No new alert is sent from now on; one in flight may finish within the budget.
        outbox.STOPPING.set()
        self._alerts_stop.set()
        if self.scheduler is not None:
            self.scheduler.shutdown()
        deadline = time.monotonic() + STOP_TIMEOUT
        with self._lock:
            running = sorted(self._active)
        if running:
            log.info(
                "stopping: waiting for %d running check(s)",
                len(running),
                extra={"running": running},
            )
        while time.monotonic() < deadline:
            with self._lock:
                if not self._active:
                    break
            self._sleep(0.2)
        with self._lock:
            left = sorted(self._active)
        if left:
            log.warning(
                "stopping without the checks still running after %.0fs",
                STOP_TIMEOUT,
                extra={"abandoned": left},
            )
            self._abandon.set()
        if self._alerts_thread is not None:
            # A send in flight may finish within what is left of the budget; the
            # rest stays in the outbox (a claim of this process is freed by the next).
            self._alerts_thread.join(max(0.0, deadline - time.monotonic()))
            if self._alerts_thread.is_alive():
                log.warning(
                    "stopping with an alert still being sent after %.0fs: it is sent again "
                    "at the next start",
                    STOP_TIMEOUT,
                )
            self._log_unsent()
        if self.leases is not None:
            try:
                self.leases.release()
            except Exception as exc:
                log.warning(
                    "could not hand back leases (they expire by themselves): %s", first_line(exc)
                )
        if self.listener is not None:
            self.listener.stop()
        if self.store is not None:
            self.store.close()
        # The wake-up pipe stays open: an abandoned check's worker may still write to it.
        if self._ready:
            log.info("stopped")

    def _log_unsent(self) -> None:
        """Say what stays in the outbox for the next start."""
        if self.store is None or not self.config.alerts:
            return
        try:
            with self.store.session() as s:
                left = outbox.pending_counts(s)
        except Exception as exc:
            log.warning("could not count unsent alerts: %s", first_line(exc))
            return
        if left:
            log.warning(
                "stopping with %d alert(s) not sent yet: they stay queued for the next start",
                sum(left.values()),
                extra={"unsent": left},
            )

    # -- the pieces the loop runs ---------------------------------------------

    def _lease_tick(self) -> None:
        assert self.leases is not None
        with self._lock:
            busy = set(self._active)
        try:
            owned = self.leases.tick(list(self.config.environments), busy)
        except Exception as exc:
            self._set_store_problem(f"leases: {first_line(exc)}")
            log.warning("lease pass failed: %s", first_line(exc))
            return
        if self._store_problem and self._store_problem.startswith("leases:"):
            self._set_store_problem(None)
        gained = owned - self._owned
        self._owned = owned
        self.metrics.leased.set(len(owned))
        if self.leases.fleet and self.scheduler is not None:
            self.scheduler.hold(owned)
            for env in sorted(gained):
                self.scheduler.run_soon(env)  # e.g. taken over from a daemon that died
        self._refresh_open_drift()

    def _refresh_open_drift(self) -> None:
        """Open drift from the store, for every environment: in a fleet, whoever checked it."""
        assert self.store is not None
        try:
            counts = repo.open_counts(self.store, list(self.config.environments))
        except Exception as exc:
            log.warning("could not read open drift counts: %s", first_line(exc))
            return
        for name, by_severity in counts.items():
            self.metrics.set_open(name, by_severity)

    def _prune(self) -> None:
        assert self.store is not None
        try:
            gone = repo.prune_runs(self.store, datetime.now(UTC) - RUN_RETENTION)
            with self.store.session() as s, s.begin():
                gone += outbox.prune(s, datetime.now(UTC) - RUN_RETENTION)
        except Exception as exc:
            log.warning("could not prune old runs: %s", first_line(exc))
            return
        if gone:
            log.info("pruned %d run(s) older than %d days", gone, RUN_RETENTION.days)

    def _reload(self) -> None:
        notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
        old = self.config
        try:
            new = load(self.config_path)
            rules = RuleSet(new.rules)
            plans = build_plans(new)
        except DriftdError as exc:
            self.metrics.reload_ok.set(0)
            log.error(
                "reload failed, still running the previous configuration: %s",
                exc.message,
                extra={"hint": exc.hint} if exc.hint else {},
            )
            notify("READY=1", self._status_line())
            return
        later = [
            f"driftd.{k}" for k in RESTART_ONLY if getattr(new.driftd, k) != getattr(old.driftd, k)
        ]
        if later:
            log.warning("these settings change only at the next restart: %s", ", ".join(later))
        self.config, self.rules, self.plans = new, rules, plans
        self.envs = {e.name: e for e in new.resolve_all()}
        if self.checker is not None and self.checker.fast is not None:
            self.checker.fast.forget()  # the rules or settings may have changed
        if not self.debug:
            logging.getLogger().setLevel(new.driftd.log_level.upper())
        if self.leases is not None and hasattr(self.leases, "duration"):
            self.leases.duration = new.driftd.lease_duration
        assert self.scheduler is not None and self.store is not None
        added, removed, changed = self.scheduler.reconcile(plans)
        self.metrics.track(new.environments)
        self.metrics.track_sources(new.audit)
        alert_metrics.init(new.alerts)
        for name in removed:
            self._results.pop(name, None)
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(time.time())
        log.info(
            "configuration reloaded",
            extra={"added": added, "removed": removed, "rescheduled": changed},
        )
        self._lease_tick()
        notify("READY=1", self._status_line())

    def _job(self, env: str) -> None:
        """One scheduled check (a scheduler worker thread)."""
        if self._stopping.is_set():
            return
        rules, plan, resolved = self.rules, self.plans.get(env), self.envs.get(env)
        if plan is None or resolved is None or env not in self._owned:
            return
        assert self.leases is not None and self.checker is not None
        try:
            if not self.leases.begin_check(env, plan.period / 2):
                log.debug("%s: not checking (lease lost, or checked by another daemon)", env)
                return
        except Exception as exc:
            self.metrics.errors.labels(env, "store").inc()
            self._set_store_problem(f"leases: {first_line(exc)}")
            log.warning("%s: cannot confirm the lease: %s", env, first_line(exc))
            return
        with self._lock:
            self._active.add(env)
        try:
            report = self.checker.run(resolved, rules)
            if report is not None:
                self._results[env] = report.status
        finally:
            with self._lock:
                self._active.discard(env)
            self._wake()

    # -- SchedulerEvents ---------------------------------------------------------

    def missed(self, environment: str) -> None:
        self._skipped(environment, "missed", "a scheduled check was missed (all workers busy?)")

    def overlap(self, environment: str) -> None:
        self._skipped(environment, "overlap", "previous check still running; skipped this one")

    def _skipped(self, environment: str, reason: str, why: str) -> None:
        self.metrics.errors.labels(environment, reason).inc()
        log.warning("%s: %s", environment, why, extra={"environment": environment})

    def crashed(self, environment: str, error: BaseException | None, tb: str | None) -> None:
        self.metrics.errors.labels(environment, "crash").inc()
        log.error(
            "%s: check job crashed: %r",
            environment,
            error,
            extra={"environment": environment, "traceback": tb},
        )

    # -- health ------------------------------------------------------------------

    def _set_store_problem(self, problem: str | None) -> None:
        self._store_problem = problem

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy: scheduler alive, loop going round, store writable, not every check failing."""
        problems = []
        if self.scheduler is None or not self.scheduler.alive():
            problems.append("scheduler is not running")
        stalled = time.monotonic() - self._last_loop
        if stalled > LOOP_STALLED:
            problems.append(f"supervisor loop stalled for {stalled:.0f}s")
        if self._store_problem:
            problems.append(f"state store: {self._store_problem}")
        owned = self._owned
        results = {e: s for e, s in self._results.items() if e in owned}
        failing = sorted(e for e, s in results.items() if s == "error")
        if results and len(failing) == len(results):
            problems.append("every check is failing")
        return not problems, {
            "problems": problems,
            "daemon": self.daemon_id,
            "environments": len(self.config.environments),
            "held": len(owned),
            "failing": failing,
        }

    def _status_line(self) -> str:
        return f"STATUS=watching {len(self.config.environments)} environment(s)"
