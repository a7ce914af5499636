"""APScheduler 3.x glue: one job per environment, reconciled on reload.

Jobs are ``check:<env>`` with ``coalesce`` (a backlog of missed runs becomes
one), ``max_instances=1`` (an environment is never checked twice at once), no
``misfire_grace_time`` (a run the pool could not start on time runs when a
worker is free, however late: with any grace, a slow environment ahead in the
queue would make a fast one miss every run), in a thread pool of
``max_concurrent_checks``.

Interval schedules are spread, not jittered. Each environment has a phase over
its whole period, from a hash of its name (blake2b, so the same in every
daemon and after every restart: daemons of a fleet agree on when an
environment is due), and fires on the grid ``phase + k * period`` of Unix
time: a thousand hourly environments make an even stream of one check every
3.6 s, not a burst at the top of the hour. So that a start or a reload does
not wait up to a whole period, a newly added (or rescheduled) job's first
check is at a random point of the first ``min(period, MAX_FIRST_DELAY)``
(``next_run_time``: one job, so ``max_instances`` and ``coalesce`` still
cover both). After a fire off the grid (that first check, or ``run_soon``)
the next one is the first grid point at least half a period later: a grid
point closer than that is skipped, so the gap after a first check is between
half a period and one and a half, never two checks in quick succession (half a
period is also the lease's ``min_gap``, so a first check that started on time
never makes the fleet refuse the grid fire after it). A resumed job comes back
on its grid (``resume_job`` asks the trigger with no previous fire time).
(APScheduler's own IntervalTrigger continues from the previous fire time,
``previous + interval``, so an off-grid run would shift the phase for good;
and its jitter accumulated: a 10 % jitter made a 60 s schedule run every 63 s
on average.) Cron schedules keep a small jitter, which does not accumulate
there.
Which daemon of a fleet actually checks is decided at run time (driftd.daemon.lease).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from apscheduler.events import (  # type: ignore[import-untyped]
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
)
from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from driftd.config.durations import is_cron, parse_duration

log = logging.getLogger(__name__)

JOB_PREFIX = "check:"
MAX_JITTER = 30.0  # seconds, cron schedules only
MAX_FIRST_DELAY = 60.0  # spread the first checks after a start over at most this


@dataclass(frozen=True)
class Plan:
    """When one environment is checked."""

    environment: str
    schedule: str

    @property
    def job_id(self) -> str:
        return JOB_PREFIX + self.environment

    @property
    def label(self) -> str:
        return f"check {self.environment} every {self.schedule}"

    @cached_property
    def period(self) -> float:
        """Nominal seconds between checks (for cron: the next gap between fire times)."""
        if not is_cron(self.schedule):
            return parse_duration(self.schedule)
        trigger = CronTrigger(**cron_fields(self.schedule))
        now = datetime.now(UTC)
        first = trigger.get_next_fire_time(None, now)
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
        if first is None or second is None:
            return 86400.0
        return float((second - first).total_seconds())

    @property
    def jitter(self) -> float:
        return min(self.period * 0.1, MAX_JITTER)

    def trigger(self) -> Any:
        if is_cron(self.schedule):
            # Local time, as cron(8) reads it (CronTrigger's default time zone).
            return CronTrigger(**cron_fields(self.schedule), jitter=self.jitter)
        return PhasedIntervalTrigger(self.period, phase_of(self.environment, self.period))

    def first_run(self, now: datetime) -> datetime | None:
        """When a new job first runs: soon, for an interval (None: as the trigger says)."""
        if is_cron(self.schedule):
            return None
        return now + timedelta(seconds=random.uniform(0, min(self.period, MAX_FIRST_DELAY)))


def phase_of(environment: str, period: float) -> float:
    """Seconds after the Unix epoch (mod ``period``) of an environment's grid: stable
    across processes and restarts (unlike ``hash()``), uniform over the period."""
    digest = hashlib.blake2b(environment.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * period


class PhasedIntervalTrigger(IntervalTrigger):  # type: ignore[misc]
    """Fires on ``phase + k * period`` (Unix time); after a fire off that grid, at the
    first grid point at least half a period later (see the module docstring)."""

    __slots__ = ()

    def __init__(self, period: float, phase: float) -> None:
        # start_date is the grid's anchor: IntervalTrigger's state (pickling, repr) holds it all.
        super().__init__(
            seconds=period, start_date=datetime.fromtimestamp(phase, UTC), timezone=UTC
        )

    @property
    def phase(self) -> float:
        return float(self.start_date.timestamp())

    def grid_at_or_after(self, t: float) -> float:
        period = float(self.interval_length)
        return self.phase + math.ceil((t - self.phase) / period) * period

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:  # a new or resumed job: its next grid point
            earliest = now.timestamp()
        else:
            earliest = previous_fire_time.timestamp() + self.interval_length / 2
        return datetime.fromtimestamp(self.grid_at_or_after(earliest), UTC)


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_fields(expr: str) -> dict[str, str]:
    """CronTrigger arguments for a crontab line.

    APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0
    (``from_crontab`` keeps that mismatch), so weekdays are passed by name.
    """
    minute, hour, day, month, day_of_week = expr.split()
    return {
        "minute": minute,
        "hour": hour,
        "day": day,
        "month": month,
        "day_of_week": _weekdays(day_of_week),
    }


def _weekdays(field: str) -> str:
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            lo, hi = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            lo, hi = _day(a), _day(b)
        else:
            lo = hi = _day(base)
            if step_text:
                hi = 6
        if hi == 0 and lo > 0:  # "5-7" / "fri-sun" wrap to Sunday
            hi = 7
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def _day(text: str) -> int:
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text) % 7 if int(text) != 7 else 7
    if text[:3] in _DAYS:
        return _DAYS.index(text[:3])
    raise ValueError(f"{text!r} is not a day of the week (0-7 or sun-sat)")


def plans(schedules: Mapping[str, str]) -> dict[str, Plan]:
    return {name: Plan(name, schedule) for name, schedule in schedules.items()}


class SchedulerEvents:
    """What the scheduler reports to the daemon (metrics and logs)."""

    def missed(self, environment: str) -> None: ...
    def overlap(self, environment: str) -> None: ...
    def crashed(self, environment: str, error: BaseException | None, tb: str | None) -> None: ...


class Scheduler:
    def __init__(
        self, run: Callable[[str], None], max_workers: int, events: SchedulerEvents
    ) -> None:
        self._run = run
        self._events = events
        self._sched = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._sched.add_listener(
            self._on_event,
            EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_EXECUTED,
        )

    def start(self) -> None:
        self._sched.start()

    def alive(self) -> bool:
        thread = getattr(self._sched, "_thread", None)
        return bool(self._sched.running) and (thread is None or thread.is_alive())

    def shutdown(self) -> None:
        """Take no new jobs; running ones go on (the daemon bounds the wait)."""
        if self._sched.running:
            self._sched.shutdown(wait=False)

    def reconcile(self, wanted: Mapping[str, Plan]) -> tuple[list[str], list[str], list[str]]:
        """Make the jobs match ``wanted``: (added, removed, rescheduled) environments."""
        jobs = {job.id: job for job in self._sched.get_jobs()}
        by_id = {plan.job_id: plan for plan in wanted.values()}
        removed = []
        for job_id in sorted(jobs.keys() - by_id.keys()):
            if job_id.startswith(JOB_PREFIX):
                self._sched.remove_job(job_id)
                removed.append(job_id.removeprefix(JOB_PREFIX))
        added: list[str] = []
        changed: list[str] = []
        for job_id, plan in sorted(by_id.items()):
            job = jobs.get(job_id)
            if job is not None and job.name == plan.label:
                continue  # same schedule: leave its timing alone
            first = plan.first_run(datetime.now(UTC))
            self._sched.add_job(
                self._run,
                trigger=plan.trigger(),
                args=[plan.environment],
                id=job_id,
                name=plan.label,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,  # late is better than never (see the docstring)
                **({} if first is None else {"next_run_time": first}),
            )
            (added if job is None else changed).append(plan.environment)
        return added, removed, changed

    def hold(self, environments: Collection[str]) -> None:
        """Run only the jobs of ``environments`` (what this daemon holds): the others
        are paused, so in a fleet they neither queue behind real checks nor warn
        about them. A resumed interval job comes back on its phase."""
        for job in self._sched.get_jobs():
            if not job.id.startswith(JOB_PREFIX):
                continue
            held = job.id.removeprefix(JOB_PREFIX) in environments
            if held and job.next_run_time is None:
                job.resume()
            elif not held and job.next_run_time is not None:
                job.pause()

    def run_soon(self, environment: str) -> None:
        """Bring an environment's next check forward (e.g. just taken over from a dead
        daemon), once: an interval job then goes back to its grid."""
        job = self._sched.get_job(JOB_PREFIX + environment)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=random.uniform(0, 1)))

    def _on_event(self, event: Any) -> None:
        job_id = getattr(event, "job_id", "") or ""
        if not job_id.startswith(JOB_PREFIX):
            return
        env = job_id.removeprefix(JOB_PREFIX)
        if event.code == EVENT_JOB_MISSED:
            self._events.missed(env)
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self._events.overlap(env)
        elif event.code == EVENT_JOB_ERROR:
            self._events.crashed(env, event.exception, event.traceback)
