"""The check pipeline: collect → snapshot → diff → rules (→ attribute).

This is the one place the stages are strung together; the CLI and the daemon
both call it. An environment that cannot be read is reported as ``error``
with the reason, and the other environments are still checked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from driftd import snapshot
from driftd.config import Config, ResolvedEnvironment
from driftd.diff import diff_objects
from driftd.diff.filters import IgnoreRule
from driftd.drift import DriftItem, EnvironmentReport, Report, drift_id, sort_items
from driftd.errors import DriftdError
from driftd.rules import RuleSet

if TYPE_CHECKING:
    from driftd.attribute.sources.state import AuditState

log = logging.getLogger(__name__)


def evaluate(
    label: str,
    baseline: snapshot.Snapshot,
    live: snapshot.Snapshot,
    rules: RuleSet,
    ignore: list[IgnoreRule],
) -> list[DriftItem]:
    """Drift items of ``live`` against ``baseline``, with ids, severity and rules."""
    # The ignore rules reach the diff itself (ignored subtrees are never walked).
    items = diff_objects(baseline["objects"], live["objects"], ignore)
    for item in items:
        item.id = drift_id(label, item.object, item.path, item.after)
        rules.apply(item)
    return sort_items(items)


def check_environment(
    env: ResolvedEnvironment,
    rules: RuleSet | None = None,
    attribution: bool = True,
    for_store: bool = False,
    audit_state: AuditState | None = None,
) -> EnvironmentReport:
    """Check one environment against its baseline; never raises for expected failures.

    ``for_store`` (the daemon) also returns the content hashes and the live
    snapshot a recorded run needs; without it nothing large outlives the call.
    ``audit_state`` is where audit sources keep their cursors and events (the
    state store's; without it, one is opened for this check).
    """
    name = env.name
    rules = rules or RuleSet(env.config.rules)
    try:
        baseline, live = snapshot.take_with_baseline(env)  # read side by side
    except DriftdError as exc:
        log.info("%s: check failed: %s", name, exc.message)
        return EnvironmentReport(name=name, status="error", error=str(exc))
    ignore = [IgnoreRule.parse(g) for g in env.settings.ignore]
    items = evaluate(name, baseline, live, rules, ignore)
    if attribution and env.audit:
        from driftd.attribute.match import attribute

        # Also when clean: sources keep reading in small steps and the clean time
        # starts the next window. Audit trouble is reported, never a check failure.
        with _state(env.config, audit_state) as (state, problems):
            problems += attribute(env, items, None, datetime.now(UTC), state=state)
        for problem in problems:
            log.warning("%s: attribution: %s", name, problem)
        rules.after_attribution(items)  # rules that read the review (e.g. hoop approvals)
    report = EnvironmentReport(name=name, status="drift" if items else "clean", drift=items)
    if for_store:
        # The hash of the very baseline diffed here (not a second read of the file).
        report.baseline_hash = snapshot.content_hash(baseline)
        report.snapshot_hash = snapshot.content_hash(live)
        report.snapshot = live
    return report


@contextmanager
def _state(config: Config, given: AuditState | None) -> Iterator[tuple[AuditState, list[str]]]:
    if given is not None:
        yield given, []
        return
    from driftd.attribute.sources.store_state import open_state

    with open_state(config) as opened:
        yield opened


def check(config: Config, selected: list[ResolvedEnvironment], attribution: bool = True) -> Report:
    """Check each of ``selected`` (resolved from ``config`` by the caller)."""
    rules = RuleSet(config.rules)
    if not attribution or not any(env.audit for env in selected):
        return Report([check_environment(env, rules, attribution) for env in selected])
    with _state(config, None) as (state, problems):
        for problem in problems:
            log.warning("attribution: %s", problem)
        return Report([check_environment(env, rules, True, audit_state=state) for env in selected])


def compare(left: ResolvedEnvironment, right: ResolvedEnvironment) -> Report:
    """Diff two live environments: ``left`` plays the baseline, ``right`` the live side."""
    rules = RuleSet(left.config.rules)
    label = f"{left.name}..{right.name}"
    ignore = [IgnoreRule.parse(g) for g in (*left.settings.ignore, *right.settings.ignore)]
    try:
        before = snapshot.take(left)
        after = snapshot.take(right)
    except DriftdError as exc:
        return Report([EnvironmentReport(name=label, status="error", error=str(exc))])
    items = evaluate(label, before, after, rules, ignore)
    return Report(
        [EnvironmentReport(name=label, status="drift" if items else "clean", drift=items)]
    )
