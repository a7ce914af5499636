"""Interval schedules: a stable phase per environment over its whole period, a first
check soon after a start, never two checks within half a period (driftd.daemon.schedule).

Timing is asserted on the triggers' own computations (``next_run_time``,
``get_next_fire_time``) wherever that says it; the few tests that must watch real
runs use a real BackgroundScheduler with a 2 s period and poll with deadlines.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from driftd.daemon.schedule import (
    MAX_FIRST_DELAY,
    Plan,
    Scheduler,
    SchedulerEvents,
    phase_of,
    plans,
)

HOUR = 3600.0


class Recorder:
    """The job function: when each environment ran (wall clock, as the grid is)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, list[float]] = {}

    def __call__(self, env: str) -> None:
        with self.lock:
            self.runs.setdefault(env, []).append(time.time())

    def of(self, env: str) -> list[float]:
        with self.lock:
            return list(self.runs.get(env, []))


def wait_until(what: str, cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # polling interval, not synchronisation


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def running(recorder: Recorder) -> Iterator[Scheduler]:
    sched = Scheduler(recorder, max_workers=4, events=SchedulerEvents())
    sched.start()
    yield sched
    sched.shutdown()


def idle_scheduler() -> Scheduler:
    """Never started: its jobs stay pending, with the next_run_time reconcile gave them."""
    return Scheduler(lambda env: None, max_workers=1, events=SchedulerEvents())


def jobs(sched: Scheduler) -> dict[str, Any]:
    return {job.id.removeprefix("check:"): job for job in sched._sched.get_jobs()}


def names(n: int) -> list[str]:
    return [f"prod-db-{i:04d}" for i in range(n)]


def ts(dt: datetime) -> float:
    return dt.timestamp()


def on_grid(t: float, phase: float, period: float, late: float = 1e-3) -> bool:
    """``t`` is a point of the grid ``phase + k * period``, or at most ``late`` after one."""
    off = (t - phase) % period
    return off <= late or off >= period - 1e-3


def steady_fires(job: Any, count: int) -> list[float]:
    """The job's fire times from its next run on, as APScheduler computes them
    (each from the previous: Job._get_run_times and _process_jobs)."""
    first = getattr(job, "next_run_time", None)  # a pending job's, if reconcile gave one
    fires = [first or job.trigger.get_next_fire_time(None, datetime.now(UTC))]
    while len(fires) < count:
        fires.append(job.trigger.get_next_fire_time(fires[-1], fires[-1]))
    return [ts(f) for f in fires]


def test_phases_of_many_environments_spread_over_the_whole_period() -> None:
    sched = idle_scheduler()
    sched.reconcile(plans(dict.fromkeys(names(1000), "1h")))
    # Where each environment lands in the hour once past its first check.
    steady = [steady_fires(job, 3)[1] % HOUR for job in jobs(sched).values()]
    buckets = Counter(int(s // 60) for s in steady)
    mean = len(steady) / 60
    # With uniform phases the fullest of 60 buckets holds ~30 (mean 16.7); the old
    # code (phase = a random point of the first minute) put all 1,000 in one or two.
    assert max(buckets.values()) <= 3 * mean, buckets.most_common(3)
    chi2 = sum((buckets.get(b, 0) - mean) ** 2 / mean for b in range(60))
    assert chi2 < 120, chi2  # 59 degrees of freedom: P(chi2 > 120) < 1e-5


def test_same_environment_same_phase_in_every_daemon() -> None:
    schedules = {"billing": "1h", "orders": "5m", "audit": "37s", "edge": "2s"}
    a, b = idle_scheduler(), idle_scheduler()
    a.reconcile(plans(schedules))
    b.reconcile(plans(dict(reversed(list(schedules.items())))))
    now = datetime.now(UTC)
    ja, jb = jobs(a), jobs(b)
    for env, schedule in schedules.items():
        period = Plan(env, schedule).period
        grid_a = ja[env].trigger.get_next_fire_time(None, now)
        assert grid_a == jb[env].trigger.get_next_fire_time(None, now)
        assert on_grid(ts(grid_a), phase_of(env, period), period)
        # Each daemon's first check is its own (random) one; afterwards they agree.
        fa, fb = steady_fires(ja[env], 4)[1:], steady_fires(jb[env], 4)[1:]
        assert {round(f, 3) for f in fa} & {round(f, 3) for f in fb}, (fa, fb)
    # A stable hash of the name, not of anything in this process (PYTHONHASHSEED, time).
    digest = hashlib.blake2b(b"billing", digest_size=8).digest()
    assert phase_of("billing", HOUR) == pytest.approx(int.from_bytes(digest) / 2**64 * HOUR)
    assert len({round(phase_of(n, HOUR), 3) for n in names(50)}) == 50


@pytest.mark.parametrize("schedule", ["1h", "10m", "61s", "30s", "2s"])
def test_first_check_soon_after_a_start(schedule: str) -> None:
    sched = idle_scheduler()
    before = datetime.now(UTC)
    sched.reconcile(plans(dict.fromkeys(names(300), schedule)))
    after = datetime.now(UTC)
    period = Plan("x", schedule).period
    window = min(period, MAX_FIRST_DELAY)
    firsts = [ts(job.next_run_time) for job in jobs(sched).values()]
    assert all(ts(before) <= f <= ts(after) + window for f in firsts)
    # Spread over that window, not all at once (a restart of a big daemon).
    spread = Counter(int((f - ts(before)) / window * 10) for f in firsts)
    assert len(spread) >= 8, spread


@pytest.mark.parametrize("schedule", ["1h", "5m", "2s", "7s"])
def test_after_the_first_check_the_grid_and_never_within_half_a_period(schedule: str) -> None:
    rng = random.Random(schedule)
    for i in range(300):
        env = f"env-{i}"
        plan = Plan(env, schedule)
        period, phase = plan.period, phase_of(env, plan.period)
        trigger = plan.trigger()
        # First checks anywhere, also just before and just after a grid point.
        grid = phase + (int(time.time() / period) + 5) * period
        first = rng.choice(
            [grid - 0.001, grid + 0.001, grid - period / 2, grid, grid + rng.random()]
        )
        fires = [datetime.fromtimestamp(first, UTC)]
        for _ in range(4):
            fires.append(trigger.get_next_fire_time(fires[-1], fires[-1]))
        gaps = [ts(b) - ts(a) for a, b in itertools.pairwise(fires)]
        assert period / 2 - 1e-3 <= gaps[0] < 1.5 * period + 1e-3, (env, first, gaps)
        assert gaps[1:] == pytest.approx([period] * 3, abs=1e-3)
        assert all(on_grid(ts(f), phase, period) for f in fires[1:]), (env, first, fires)


def test_a_late_backlog_coalesces_back_onto_the_grid() -> None:
    """A run the pool could not start for several periods: APScheduler lists the missed
    fire times from next_run_time, and the one after them is still on the grid."""
    plan = Plan("slow", "2s")
    trigger, period, phase = plan.trigger(), plan.period, phase_of("slow", plan.period)
    now = datetime.now(UTC)
    first = now - timedelta(seconds=7.3)  # an off-grid first check, 3 periods overdue
    missed = [first]
    while (nxt := trigger.get_next_fire_time(missed[-1], now)) <= now:
        missed.append(nxt)
    assert len(missed) >= 3
    assert 0 < ts(nxt) - ts(now) <= period
    assert on_grid(ts(nxt), phase, period)


def test_cron_schedules_are_unchanged() -> None:
    plan = Plan("nightly", "30 2 * * *")
    assert plan.first_run(datetime.now(UTC)) is None
    assert type(plan.trigger()).__name__ == "CronTrigger"
    assert plan.trigger().jitter == plan.jitter == min(plan.period * 0.1, 30.0)


def test_real_scheduler_checks_once_per_period_on_the_phase(
    running: Scheduler, recorder: Recorder
) -> None:
    envs = [f"phase-{uuid.uuid4().hex[:8]}-{i}" for i in range(4)]
    started = time.time()
    running.reconcile(plans(dict.fromkeys(envs, "2s")))
    wait_until("four checks of each", lambda: all(len(recorder.of(e)) >= 4 for e in envs), 20)
    for env in envs:
        runs = recorder.of(env)
        phase = phase_of(env, 2.0)
        assert runs[0] - started <= 2.0 + 0.5  # within min(period, MAX_FIRST_DELAY)
        gaps = [b - a for a, b in itertools.pairwise(runs)]
        # Never within half a period (a little less for thread start-up latency).
        assert min(gaps) >= 1.0 - 0.2, (env, gaps)
        assert gaps[0] <= 3.0 + 0.5, (env, gaps)
        # Then on the grid: a little late (thread hand-off), never early.
        assert all(on_grid(r, phase, 2.0, late=0.5) for r in runs[1:]), (env, runs, phase)
        assert gaps[1:] == pytest.approx([2.0] * len(gaps[1:]), abs=0.5)


def test_hold_resumes_on_the_phase_and_run_soon_once(
    running: Scheduler, recorder: Recorder
) -> None:
    env, other = f"held-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    period, phase = 2.0, phase_of(env, 2.0)
    running.reconcile(plans({env: "2s", other: "1h"}))
    running.hold({other})
    assert jobs(running)[env].next_run_time is None  # paused
    assert jobs(running)[other].next_run_time is not None
    resumed_at = time.time()
    running.hold({env, other})
    nrt = ts(jobs(running)[env].next_run_time)
    assert resumed_at - 0.01 <= nrt <= resumed_at + period + 0.01
    assert on_grid(nrt, phase, period)

    # run_soon: once, within a second; the job then goes back to its grid.
    wait_until("the resumed check", lambda: len(recorder.of(env)) >= 1, 5)
    before = len(recorder.of(env))
    asked = time.time()
    running.run_soon(env)
    wait_until("the check run_soon asked for", lambda: len(recorder.of(env)) > before, 5)
    wait_until("the next check after it", lambda: len(recorder.of(env)) > before + 1, 5)
    soon, nxt = recorder.of(env)[before : before + 2]
    assert soon - asked <= 1.0 + 0.3
    assert nxt - soon >= period / 2 - 0.2
    assert on_grid(nxt, phase, period, late=0.3)
