"""The check pipeline: collect → snapshot → diff → rules (→ attribute).

This is the one place the stages are strung together; the CLI and the daemon
both call it. An environment that cannot be read is reported as ``error``
with the reason, and the other environments are still checked.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd.canonical import dumps, loads
from driftd.config import Config, ResolvedEnvironment
from driftd.diff import diff_objects
from driftd.diff.filters import IgnoreRule
from driftd.drift import DriftItem, EnvironmentReport, Report, Status, drift_id, sort_items
from driftd.errors import DriftdError
from driftd.rules import RuleSet

if TYPE_CHECKING:
    from driftd import snapshot
    from driftd.attribute.sources.state import AuditState
    from driftd.collect import Target

log = logging.getLogger(__name__)


def evaluate(
    label: str,
    baseline: snapshot.Snapshot,
    live: snapshot.Snapshot,
    rules: RuleSet,
    ignore: list[IgnoreRule],
    hidden: list[str] | None = None,
) -> list[DriftItem]:
    """Drift items of ``live`` against ``baseline``, with ids, severity and rules
    (``hidden``: the keys of changed objects the ignore rules hid entirely)."""
    # The ignore rules reach the diff itself (ignored subtrees are never walked).
    before, after = _differing(baseline["objects"], live["objects"])
    items = diff_objects(before, after, ignore, hidden)
    for item in items:
        item.id = drift_id(label, item.object, item.path, item.after)
        rules.apply(item, live["objects"])
    return sort_items(items)


def _differing(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The objects of a compact baseline (``snapshot.CompactObjects``) whose bytes differ
    from the live ones', parsed, and those live objects, plus every object on one side
    only: all that ``diff_objects`` reports on (it skips equal objects itself)."""
    from driftd.snapshot import CompactObjects

    if not isinstance(before, CompactObjects):
        return before, after
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key, value in after.items():
        raw = before.get(key)
        if raw is None or raw != dumps(value):
            new[key] = value
            if raw is not None:
                old[key] = loads(raw)
    for key in before.keys() - after.keys():
        old[key] = loads(before[key])
    return old, new


def check_environment(
    env: ResolvedEnvironment,
    rules: RuleSet | None = None,
    attribution: bool = True,
    for_store: bool = False,
    audit_state: AuditState | None = None,
    fast: FastPath | None = None,
) -> EnvironmentReport:
    """Check one environment against its baseline; never raises for expected failures.

    ``for_store`` (the daemon) also returns the content hashes and the live
    snapshot a recorded run needs; without it nothing large outlives the call.
    ``audit_state`` is where audit sources keep their cursors and events (the
    state store's; without it, one is opened for this check). ``fast`` (the
    daemon's) reuses the last full check while nothing it read has changed.
    """
    rules = rules or RuleSet(env.config.rules)
    outcome = _reused(env, fast) or _full(env, rules, for_store, fast)
    if isinstance(outcome, EnvironmentReport):
        return outcome  # the error report
    items = outcome.items
    if attribution and env.audit:
        from driftd.attribute.match import attribute

        # Also when clean: sources keep reading in small steps and the clean time
        # starts the next window. Audit trouble is reported, never a check failure.
        with _state(env.config, audit_state) as (state, problems):
            problems += attribute(env, items, None, datetime.now(UTC), state=state)
        for problem in problems:
            log.warning("%s: attribution: %s", env.name, problem)
        rules.after_attribution(items)  # rules that read the review (e.g. hoop approvals)
    report = EnvironmentReport(
        name=env.name,
        status="drift" if items else "clean",
        drift=items,
        ignored=outcome.ignored,
        reference=outcome.reference,
    )
    if for_store:
        report.baseline_hash, report.snapshot_hash = outcome.baseline_hash, outcome.snapshot_hash
        report.snapshot = outcome.live
    return report


def reference_of(baseline: snapshot.Snapshot) -> str | None:
    """How the text output names a baseline built from migrations (None: accepted)."""
    built = baseline.get("migrations")
    if not isinstance(built, dict):
        return None
    revision = built.get("revision") or built.get("git_commit")
    return f"migrations (revision {str(revision)[:12]})" if revision else "migrations"


@dataclass
class Evaluated:
    """A check before attribution: its drift items and what a recorded run needs."""

    items: list[DriftItem]
    baseline_hash: str | None = None
    snapshot_hash: str | None = None
    live: snapshot.Snapshot | None = None  # None when reused (the baseline is unchanged)
    ignored: int = 0  # changed objects the ignore rules hid entirely
    reference: str | None = None  # see EnvironmentReport.reference


def _full(
    env: ResolvedEnvironment, rules: RuleSet, for_store: bool, fast: FastPath | None
) -> Evaluated | EnvironmentReport:
    """Snapshot, read the baseline, diff, apply the rules."""
    from driftd import snapshot  # not for a reused check: it needs the fingerprint only

    seen = fast.before_full(env) if fast is not None else None
    try:
        # Read side by side; the baseline kept as bytes, the objects that differ parsed.
        reader = fast.baseline_reader() if fast is not None else None
        baseline, live = snapshot.take_with_baseline(env, compact=True, read_baseline=reader)
    except DriftdError as exc:
        log.info("%s: check failed: %s", env.name, exc.message)
        return EnvironmentReport(name=env.name, status="error", error=str(exc))
    ignore = [IgnoreRule.parse(g) for g in env.settings.ignore]
    hidden: list[str] = []
    out = Evaluated(evaluate(env.name, baseline, live, rules, ignore, hidden))
    out.ignored, out.reference = len(hidden), reference_of(baseline)
    if for_store:
        # The hash of the very baseline diffed here (not a second read of the file).
        out.baseline_hash = snapshot.content_hash(baseline)
        out.snapshot_hash = snapshot.content_hash(live)
        out.live = live if for_store else None
    if fast is not None and seen is not None:
        fast.remember(env, seen, out)
    return out


def _reused(
    env: ResolvedEnvironment, fast: FastPath | None
) -> Evaluated | EnvironmentReport | None:
    return fast.reuse(env) if fast is not None else None


@dataclass(frozen=True)
class _Seen:
    """What a full check saw before it read anything: compared at the next check.
    ``generation`` is the FastPath's at that moment: a check that started before a
    reload must not be remembered after it (its rules and filters are the old ones)."""

    fingerprint: str
    baseline: tuple[int, ...]
    generation: int = 0
    key: str = ""  # CheckCache: what else decides the result (settings, rules, code)
    digest: str | None = None  # CheckCache: the baseline's sha256 when its stamp is racy
    at: float = 0.0  # when it was read (the clock of its FastPath)


@dataclass(frozen=True)
class _Full:
    seen: _Seen
    evaluated: Evaluated
    at: float


class FastPath:
    """The daemon's memory of each environment's last full check: the no-change fast path.

    Before a check the engine's catalog fingerprint is read (one cheap query,
    ``driftd.collect.postgres.fingerprint``). When it and the baseline file are
    what they were when the last full check started, and that check is younger
    than ``full_snapshot_every``, its drift items are used again: no snapshot,
    no baseline parse, no diff (attribution and alerts run as always). Both are
    read *before* the full check they are remembered with, so a change made
    during it makes the next comparison differ, never the other way round.
    Forget everything when the rules change (a config reload).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, _Full] = {}
        self._pending: dict[str, _Seen] = {}
        self._generation = 0  # bumped by forget(): a reload
        self._lock = threading.Lock()
        self.reused = 0  # checks answered from memory (a count for tests and logs)

    def _see(self, env: ResolvedEnvironment) -> _Seen | DriftdError | None:
        """The fingerprint and baseline stamp now; the error when the database cannot
        be reached (the full check would only wait for the same timeout again)."""
        if env.settings.full_snapshot_every <= 0:
            return None
        from driftd.collect import Target, fingerprinter

        try:
            target = Target.of(env)
            read = fingerprinter(target)
            if read is None:
                return None
            at = self._clock()
            stamp = _stamp(env.baseline_path)  # first: a file written during the read differs
            generation = self._generation
            return self._seen(env, target, _Seen(read(target), stamp, generation, at=at))
        except DriftdError as exc:
            return exc
        except Exception as exc:  # the full check reports what is wrong
            log.debug("%s: no fingerprint (%s): a full check", env.name, type(exc).__name__)
            return None

    def reuse(self, env: ResolvedEnvironment) -> Evaluated | EnvironmentReport | None:
        seen = self._see(env)
        if isinstance(seen, DriftdError):
            log.info("%s: check failed: %s", env.name, seen.message)
            return EnvironmentReport(name=env.name, status="error", error=str(seen))
        with self._lock:
            if seen is not None:
                self._pending[env.name] = seen
            else:  # no fingerprint now: an older one must not pair with this full check
                self._pending.pop(env.name, None)
        last = self._recall(env) if seen is not None else None
        if seen is None or last is None or not self._same(env, last.seen, seen):
            return None
        age = self._clock() - last.at
        if not 0 <= age < env.settings.full_snapshot_every:
            return None
        with self._lock:  # checks of several environments run on worker threads
            self.reused += 1
        log.debug("%s: catalog and baseline unchanged: the last full check is reused", env.name)
        e = last.evaluated
        return Evaluated(
            copy.deepcopy(e.items), e.baseline_hash, e.snapshot_hash, None, e.ignored, e.reference
        )

    def baseline_reader(self) -> Callable[[Path], snapshot.Snapshot] | None:
        """How a full check reads the baseline file (None: ``snapshot.read``)."""
        return None

    def before_full(self, env: ResolvedEnvironment) -> _Seen | None:
        """What ``reuse`` saw just before (read once per check)."""
        with self._lock:
            return self._pending.pop(env.name, None)

    def remember(self, env: ResolvedEnvironment, seen: _Seen, out: Evaluated) -> None:
        kept = Evaluated(
            copy.deepcopy(out.items),
            out.baseline_hash,
            out.snapshot_hash,
            None,
            out.ignored,
            out.reference,
        )
        with self._lock:
            if seen.generation != self._generation:
                return  # started before a reload: computed with the old rules
            self._last[env.name] = _Full(seen, kept, self._clock())

    # -- what subclasses change (CheckCache: on disk, across processes) ----------

    def _seen(self, env: ResolvedEnvironment, target: Target, seen: _Seen) -> _Seen:
        return seen

    def _recall(self, env: ResolvedEnvironment) -> _Full | None:
        with self._lock:
            return self._last.get(env.name)

    def _same(self, env: ResolvedEnvironment, last: _Seen, now: _Seen) -> bool:
        return last == replace(now, at=last.at)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._last.clear()
            self._pending.clear()


def _stamp(path: Path) -> tuple[int, ...]:
    try:
        st = path.stat()
    except OSError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@contextmanager
def _state(config: Config, given: AuditState | None) -> Iterator[tuple[AuditState, list[str]]]:
    if given is not None:
        yield given, []
        return
    from driftd.attribute.sources.store_state import open_state

    with open_state(config) as opened:
        yield opened


def check(
    config: Config,
    selected: list[ResolvedEnvironment],
    attribution: bool = True,
    fast: FastPath | None = None,
) -> Report:
    """Check each of ``selected`` (resolved from ``config`` by the caller); ``fast``:
    the no-change fast path to use (``driftd check``'s is on disk, ``check_cache``)."""
    rules = RuleSet(config.rules)
    if not attribution or not any(env.audit for env in selected):
        return Report([check_environment(env, rules, attribution, fast=fast) for env in selected])
    with _state(config, None) as (state, problems):
        for problem in problems:
            log.warning("attribution: %s", problem)
        return Report(
            [check_environment(env, rules, True, audit_state=state, fast=fast) for env in selected]
        )


def compare(left: ResolvedEnvironment, right: ResolvedEnvironment) -> Report:
    """Diff two live environments: ``left`` plays the baseline, ``right`` the live side."""
    from driftd import snapshot

    rules = RuleSet(left.config.rules)
    label = f"{left.name}..{right.name}"
    # Both sides whole: the server's own objects are compared too, whoever reports them.
    left, right = replace(left, cluster_objects=True), replace(right, cluster_objects=True)
    ignore = [IgnoreRule.parse(g) for g in (*left.settings.ignore, *right.settings.ignore)]
    try:
        before = snapshot.take(left)
        after = snapshot.take(right)
    except DriftdError as exc:
        return Report(
            [EnvironmentReport(name=label, status="error", error=str(exc))], comparison=True
        )
    _same_database_key(before["objects"], after["objects"])
    items = evaluate(label, before, after, rules, ignore)
    status: Status = "drift" if items else "clean"
    return Report([EnvironmentReport(name=label, status=status, drift=items)], comparison=True)


def _same_database_key(reference: dict[str, Any], other: dict[str, Any]) -> None:
    """Two databases are compared by content, not name: staging's ``database:app_staging``
    is filed under the reference's ``database:app`` (when each side has one database)."""
    ours = [k for k in reference if k.startswith("database:")]
    theirs = [k for k in other if k.startswith("database:")]
    if len(ours) == 1 and len(theirs) == 1 and ours != theirs:
        other[ours[0]] = other.pop(theirs[0])
