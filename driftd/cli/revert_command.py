"""``driftd revert``: the script that brings a live database back to its baseline.

It reads the database the way ``driftd check`` does and never runs anything on
it: a person reviews the script and runs it, preferably through the audited
access path, so the fix is attributed too.
"""

from __future__ import annotations

import click

from driftd import canonical
from driftd.cli.util import EXIT_DRIFT, EXIT_OK, State, exit_with, pass_state
from driftd.drift import DriftItem
from driftd.errors import DriftdError


def _hazards(text: str) -> frozenset[str]:
    from driftd.revert.model import HAZARDS

    names = frozenset(h.strip() for h in text.split(",") if h.strip())
    if "all" in names:
        return frozenset(HAZARDS)
    unknown = sorted(names - HAZARDS.keys())
    if unknown:
        raise DriftdError(
            f"unknown hazard type(s) {', '.join(unknown)} in --allow-hazards",
            f"known: {', '.join(HAZARDS)} (or all)",
        )
    return names


def _select(items: list[DriftItem], ids: tuple[str, ...], env: str) -> list[DriftItem]:
    """The items named by id (or a unique prefix of four or more characters)."""
    if not ids:
        return items
    chosen: list[DriftItem] = []
    for ref in ids:
        ref = ref.strip().lower()
        found = [i for i in items if i.id == ref or (len(ref) >= 4 and i.id.startswith(ref))]
        if len(found) != 1:
            problem = "matches several" if found else "is not open"
            raise DriftdError(
                f"drift item {ref!r} {problem} in {env}",
                f"ids are listed by `driftd check {env}`",
            )
        if found[0] not in chosen:
            chosen.append(found[0])
    return chosen


@click.command()
@click.argument("env")
@click.argument("drift_ids", nargs=-1, metavar="[DRIFT_ID]...")
@click.option("--format", "fmt", type=click.Choice(["sql", "json"]), default="sql")
@click.option(
    "--allow-hazards",
    "allow",
    metavar="TYPE,...",
    default="",
    help="Hazard types to accept (or all); statements with others are commented out.",
)
@pass_state
def revert(state: State, env: str, drift_ids: tuple[str, ...], fmt: str, allow: str) -> None:
    """Print the SQL that undoes the drift of ENV (all items, or the DRIFT_IDs named).

    driftd runs nothing: review the script and run it yourself. Exit 0 when every
    item has a revert, 1 when some need a person (listed on stderr), 2 on error.
    """
    from driftd import revert as rv
    from driftd import snapshot
    from driftd.check import evaluate
    from driftd.diff.filters import IgnoreRule
    from driftd.report import visible
    from driftd.rules import RuleSet

    allowed = _hazards(allow)
    config = state.config
    resolved = config.resolve(env)
    baseline, live = snapshot.take_with_baseline(resolved)
    ignore = [IgnoreRule.parse(g) for g in resolved.settings.ignore]
    items = evaluate(env, baseline, live, RuleSet(config.rules), ignore)
    items = _select(items, drift_ids, env)
    dialect = str(live.get("engine", {}).get("dialect", ""))
    reverts = rv.plan(items, baseline["objects"], live["objects"], dialect)
    if fmt == "json":
        doc = rv.to_json(env, dialect, reverts, allowed)
        click.echo(canonical.dumps_pretty(doc).decode(), nl=False)
    else:
        click.echo(rv.script(env, dialect, reverts, allowed), nl=False)
    people = [r for r in reverts if r.needs_person]
    for r in people:
        click.echo(
            visible(f"needs a person: {r.item.id} {r.item.object}: {r.needs_person}"), err=True
        )
    exit_with(EXIT_DRIFT if people else EXIT_OK)


COMMANDS = (revert,)
