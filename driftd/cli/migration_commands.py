"""``driftd baseline build`` / ``baseline verify`` (baselines from migrations) and
``driftd report`` (the evidence report), registered by driftd.cli.main through
:func:`register`. Heavy modules are imported inside the commands: startup stays fast.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from driftd.cli.util import EXIT_DRIFT, EXIT_OK, State, exit_with, pass_state

if TYPE_CHECKING:
    from driftd.drift import DriftItem


@click.command("build")
@click.argument("env")
@pass_state
def baseline_build(state: State, env: str) -> None:
    """Build ENV's baseline from its migrations (a temporary database on the scratch server).

    Runs [environments.ENV.migrations] against a new database on scratch_url (always
    dropped), snapshots it with ENV's collector and filters, adds the overlay
    (baselines/ENV.overlay.json) and writes baselines/ENV.json with the revision.
    """
    from driftd import canonical
    from driftd import snapshot as snap
    from driftd.errors import DriftdError
    from driftd.migrations.build import build

    resolved = state.config.resolve(env)
    built = build(resolved)
    path = resolved.baseline_path
    try:
        old = snap.read(path, "baseline")["objects"] if path.exists() else {}
    except DriftdError:
        old = {}  # a broken file is what the build replaces
    new = built.document["objects"]
    changed = sum(
        canonical.dumps(old.get(k)) != canonical.dumps(new.get(k)) for k in set(old) | set(new)
    )
    snap.write_baseline(resolved, snap.to_bytes(built.document))
    revision = built.document["migrations"]["revision"]
    click.echo(
        f"built {path} from migrations (revision {revision}): {len(new)} object(s), "
        f"{built.overlay} from the overlay; {changed} object(s) changed. "
        "Review with `git diff` and commit it.",
        err=True,
    )


@click.command("verify")
@click.argument("env")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def baseline_verify(state: State, env: str, fmt: str) -> None:
    """Rebuild ENV's baseline from its migrations and compare it with the committed one.

    Exit 0 when they hold the same objects, 1 when they differ (each difference as
    `check` names drift, the committed baseline as the reference: "added" is in the
    migrations and not in the committed file), 2 on error. Nothing is written.
    """
    from driftd import snapshot as snap
    from driftd.drift import EnvironmentReport, Report
    from driftd.migrations.build import verify

    resolved = state.config.resolve(env)
    built, committed, items = verify(resolved)
    same = snap.content_hash(built.document) == snap.content_hash(committed)
    if fmt == "json":
        report = Report([EnvironmentReport(env, "clean" if same else "drift", drift=items)])
        click.echo(report.dumps(), nl=False)
    else:
        _show_verify(env, resolved.baseline_path, built.document["migrations"], items, same)
    exit_with(EXIT_OK if same else EXIT_DRIFT)


def _show_verify(
    env: str, path: Path, meta: dict[str, Any], items: list[DriftItem], same: bool
) -> None:
    from driftd.report import describe, short, visible

    revision = meta["revision"]
    if same:
        click.echo(f"{env}: {path} matches its migrations (revision {revision})")
        return
    click.echo(
        f"{env}: {path} differs from what its migrations build (revision {revision}): "
        f"{len(items) or 'the engine section'} difference(s)"
    )
    for item in items:
        click.echo(visible(f"  {item.severity} {describe(item)} · id {item.id}"))
        click.echo(visible(f"    migrations: {short(item.after)}"))
        click.echo(visible(f"    committed:  {short(item.before)}"))
    click.echo(f"rebuild it with `driftd baseline build {env}`, review with `git diff`, commit it")


# -- the evidence report ------------------------------------------------------------


def _when(value: str, end_of_day: bool) -> datetime:
    """A DATE (``2026-10-01``, UTC midnight; the next midnight for an ``--until`` day)
    or an ISO datetime (UTC when it has no offset)."""
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day + timedelta(days=1) if end_of_day else day
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (2026-10-01) or a datetime") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@click.command("report")
@click.option("--since", required=True, metavar="DATE", help="Start of the period (UTC).")
@click.option(
    "--until", metavar="DATE", help="End of the period, that day included (default: now)."
)
@click.option(
    "--env", "envs", multiple=True, metavar="ENV", help="Only this environment; repeatable."
)
@click.option("--format", "fmt", type=click.Choice(["html", "json", "csv"]), default="html")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@pass_state
def report(
    state: State,
    since: str,
    until: str | None,
    envs: tuple[str, ...],
    fmt: str,
    output: Path | None,
) -> None:
    """The evidence report of a period from the state store: every drift item with
    first seen, resolved/accepted/acknowledged, author and approval, alerts sent,
    and a summary per environment. HTML is one self-contained, printable file."""
    from driftd import canonical
    from driftd.errors import DriftdError
    from driftd.store import open_store
    from driftd.store.evidence import evidence

    start, end = _when(since, False), _when(until, True) if until else datetime.now(UTC)
    if end <= start:
        raise click.BadParameter("--until must be after --since")
    if output and not output.parent.is_dir():
        raise DriftdError(
            f"cannot write {output}: directory {output.parent} does not exist",
            f"create it first (mkdir -p {output.parent}) or write elsewhere",
        )
    store = open_store(state.config, migrate=False, pool_size=1)  # read-only: never creates
    try:
        doc = evidence(store, start, end, envs, _accepted(state, envs))
    finally:
        store.close()
    if fmt == "json":
        data = canonical.dumps_pretty(doc)
    else:
        from driftd.report.evidence import render_csv, render_html

        data = (render_html(doc) if fmt == "html" else render_csv(doc)).encode()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    from driftd import snapshot as snap

    snap.write_atomic(output, data)  # 0600: evidence names people
    click.echo(f"wrote {output} ({len(doc['drift'])} drift item(s))", err=True)


def _accepted(state: State, envs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Drift id -> the ``accepted`` metadata (by, reason) of the baseline that took it in."""
    from driftd import snapshot as snap
    from driftd.errors import DriftdError

    out: dict[str, dict[str, Any]] = {}
    config = state.config
    for name in [e for e in envs if e in config.environments] or sorted(config.environments):
        path = config.resolve(name).baseline_path
        try:
            meta = snap.read(path, "baseline").get("accepted") if path.exists() else None
        except DriftdError:
            continue  # evidence comes from the store; the baseline only adds who accepted
        if isinstance(meta, dict):
            out.update({str(i): meta for i in meta.get("drift") or []})
    return out


def register(cli: click.Group, baseline: click.Group) -> None:
    """Add this module's commands to the top-level group and to ``baseline``."""
    baseline.add_command(baseline_build)
    baseline.add_command(baseline_verify)
    cli.add_command(report)


__all__ = ["register"]
