"""The ``driftd`` command line: every pipeline step, exposed to a person.

Exit codes (every command): 0 clean/success, 1 drift found, 2 error. Errors
are one or two lines on stderr, with a traceback only under ``--debug``.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from driftd import __version__, canonical
from driftd.cli.util import EXIT_ERROR, EXIT_OK, State, exit_with, pass_state
from driftd.diff.filters import dotted
from driftd.errors import DriftdError

if TYPE_CHECKING:
    from driftd.config import ResolvedEnvironment
    from driftd.diff.renames import Rename
    from driftd.drift import DriftItem


class DriftdGroup(click.Group):
    """Turns expected failures into a short message and exit 2, for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except DriftdError as exc:
            if _debug(ctx):
                raise
            click.echo(f"error: {_shown(exc.message)}", err=True)
            if exc.hint:
                click.echo(f"  hint: {_shown(exc.hint)}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_ERROR)
        except BrokenPipeError:
            # `driftd snapshot prod | head`: the reader left; that's not an error of ours.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_OK)
        except Exception as exc:  # a bug: short message here, the traceback under --debug
            if _debug(ctx):
                raise
            click.echo(f"error: internal error: {type(exc).__name__}: {_shown(str(exc))}", err=True)
            click.echo("  hint: rerun with --debug for the traceback, and report it", err=True)
            ctx.exit(EXIT_ERROR)


def _shown(message: str) -> str:
    """An error for the terminal: its lines kept, control characters and bidi overrides
    in them (a table or application name quoted by the database) made visible."""
    from driftd.report import visible

    return "\n".join(visible(line) for line in message.splitlines())


def _debug(ctx: click.Context) -> bool:
    return isinstance(ctx.obj, State) and ctx.obj.debug


@click.group(cls=DriftdGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $DRIFTD_CONFIG, ./driftd.toml, /etc/driftd/config.toml).",
)
@click.option("--debug", is_flag=True, help="Verbose logs and tracebacks on errors.")
@click.version_option(__version__, prog_name="driftd")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """Detect configuration drift in databases against committed baselines."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = State(config_path, debug)


# -- snapshot -------------------------------------------------------------------


@cli.command()
@click.argument("env")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@pass_state
def snapshot(state: State, env: str, output: Path | None) -> None:
    """Print the live snapshot of ENV (or write it to FILE)."""
    from driftd import snapshot as snap

    if output and not output.parent.is_dir():  # before connecting: a typo costs nothing
        raise DriftdError(
            f"cannot write {output}: directory {output.parent} does not exist",
            f"create it first (mkdir -p {output.parent}) or write elsewhere",
        )
    doc = snap.take(state.config.resolve(env))
    data = snap.to_bytes(doc)
    if output:
        try:
            snap.write_atomic(output, data)
        except OSError as exc:
            raise DriftdError(
                f"cannot write {output}: {exc.strerror or exc}",
                "check the directory's permissions and free space",
            ) from None
        click.echo(f"wrote {output} ({len(doc['objects'])} objects)", err=True)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


# -- baseline -------------------------------------------------------------------


@cli.group()
def baseline() -> None:
    """Manage committed baselines."""


@baseline.command("accept")
@click.argument("env")
@click.argument("drift_ids", nargs=-1, metavar="[DRIFT_ID]...")
@click.option(
    "--object",
    "objects",
    multiple=True,
    metavar="KEY",
    help="Accept only this object (a key or glob, e.g. table:public.orders); repeatable.",
)
@click.option(
    "--path",
    "paths",
    multiple=True,
    metavar="KEY#PATH",
    help="Accept only this field, e.g. 'table:public.t#columns.email'; repeatable.",
)
@click.option(
    "--reason", metavar="TEXT", help="Why: recorded in the baseline (required for critical/high)."
)
@click.option("--yes", "-y", is_flag=True, help="Accept critical/high changes without asking.")
@click.option(
    "--dry-run", is_flag=True, help="Print the baseline diff it would write; write nothing."
)
@pass_state
def baseline_accept(
    state: State,
    env: str,
    drift_ids: tuple[str, ...],
    objects: tuple[str, ...],
    paths: tuple[str, ...],
    reason: str | None,
    yes: bool,
    dry_run: bool,
) -> None:
    """Take the live state of ENV (or the DRIFT_IDs, objects and fields named) as its baseline.

    It lists what it takes by severity; critical and high changes need --yes (or a
    yes at the terminal's prompt) and a --reason, else it exits 2 with the list.
    Who (git config user.name/email, else the login), when and why are recorded in
    the baseline's "accepted" metadata, which `driftd explain` shows.
    """
    from driftd import snapshot as snap

    resolved = state.config.resolve(env)
    path = resolved.baseline_path
    live = snap.take(resolved)  # connect first: a down server is the first thing to hear
    old = snap.read(path, "baseline") if path.exists() else None
    plan = _accept_plan(resolved, old, live, drift_ids, objects, paths)
    _show_plan(plan, path)
    if not dry_run:
        reason = _confirm_accept(plan, yes, reason)
    meta = _accept_metadata(plan, reason, path.parent)
    new, changed = snap.accept(plan.base or old, live, plan.moves, meta)
    changed = sorted({*changed, *plan.renamed})
    if old is not None and snap.content_hash(new) == snap.content_hash(old):
        click.echo(f"nothing to accept: the baseline of {env} already holds that state", err=True)
        return
    if dry_run:
        sys.stdout.write(_unified(path, new))
        click.echo(f"dry run: {path} not written ({len(changed)} object(s) would change)", err=True)
        return
    snap.write_baseline(resolved, snap.to_bytes(new))
    scope = "all objects" if plan.moves is None else f"{len(plan.moves)} selection(s)"
    click.echo(
        f"accepted {scope} of {env} into {path}: {len(changed)} object(s) changed, "
        f"{len(new['objects'])} in baseline. Review with `git diff` and commit it.",
        err=True,
    )


GATED = ("critical", "high")  # severities an accept takes only on purpose


@dataclass
class AcceptPlan:
    environment: str
    moves: list[tuple[str, list[Any]]] | None  # None: the whole live state
    items: list[DriftItem]  # the drift it takes in, with severity and rules as `check` rates it
    first: bool  # no baseline yet
    objects: int  # objects in the live snapshot
    base: dict[str, Any] | None = None  # the baseline with the renames accepted made
    renamed: list[str] = field(default_factory=list)  # the keys those renames change

    @property
    def gated(self) -> list[DriftItem]:
        return [i for i in self.items if i.severity in GATED]


def _accept_plan(
    env: ResolvedEnvironment,
    old: dict[str, Any] | None,
    live: dict[str, Any],
    drift_ids: tuple[str, ...],
    objects: tuple[str, ...],
    paths: tuple[str, ...],
) -> AcceptPlan:
    """What an accept takes: the moves into the baseline and the drift items they cover."""
    from driftd import snapshot as snap
    from driftd.check import evaluate
    from driftd.diff.filters import IgnoreRule, key_matches
    from driftd.diff.renames import Rename
    from driftd.rules import RuleSet

    selectors = bool(drift_ids or objects or paths)
    if old is None:
        if selectors:
            snap.accept(None, live, [])  # raises: nothing to accept into
        return AcceptPlan(env.name, None, [], True, len(live["objects"]))
    ignore = [IgnoreRule.parse(g) for g in env.settings.ignore]
    items = evaluate(env.name, old, live, RuleSet(env.config.rules), ignore)
    if not selectors:
        return AcceptPlan(env.name, None, items, False, len(live["objects"]))
    moves = snap.object_moves(old, live, objects)
    chosen = [i for i in items if any(key_matches(i.object, g) for g in objects)]
    for item in chosen:  # an object taken under its new name leaves its old one
        rename = Rename.of(item)
        if rename is not None and rename.section is None:
            moves.append((rename.old, []))
    renames: list[Rename] = []
    for ref in drift_ids:
        item = _drift_by_id(env.name, items, ref)
        rename = Rename.of(item)
        if rename is None:
            moves.append((item.object, list(item.path)))
        else:  # no path holds a name: the rename is made in the baseline
            renames.append(rename)
        chosen.append(item)
    for text in paths:
        key, path = snap.path_move(old, live, text)
        moves.append((key, path))
        chosen += [i for i in items if i.object == key and _overlaps(i.path, path)]
    unique = {i.id: i for i in chosen}
    plan = AcceptPlan(env.name, moves, [i for i in items if i.id in unique], False, 0)
    if renames:
        plan.base, plan.renamed = _renamed_baseline(old, live, renames)
    return plan


def _renamed_baseline(
    old: dict[str, Any], live: dict[str, Any], renames: list[Rename]
) -> tuple[dict[str, Any], list[str]]:
    """The baseline with ``renames`` made (what follows from them included, in the
    objects that differ from the live ones), and the keys that changes."""
    from driftd.canonical import dumps
    from driftd.diff import renames as rn

    before, after = old["objects"], live["objects"]
    differ = [k for k in before.keys() & after.keys() if dumps(before[k]) != dumps(after[k])]
    # A schema's rename takes the keys in it along, a moved table its sequence.
    renames = renames + rn.followers(renames, rn.find_objects(before, after)[1], after)
    objects = rn.apply(before, renames, within=differ)
    # Only what apply replaced can differ (it copies what it changes).
    changed = [
        k
        for k in objects.keys() | before.keys()
        if objects.get(k) is not before.get(k) and dumps(objects.get(k)) != dumps(before.get(k))
    ]
    return {**old, "objects": objects}, sorted(changed)


def _drift_by_id(env: str, items: list[DriftItem], ref: str) -> DriftItem:
    ref = ref.strip().lower()
    found = [i for i in items if i.id == ref or (len(ref) >= 4 and i.id.startswith(ref))]
    if len(found) != 1:
        raise DriftdError(
            f"drift id {ref!r} " + ("is ambiguous" if found else f"is not drift of {env} now"),
            "ids are shown by `driftd check ENV` (give more characters if ambiguous)",
        )
    return found[0]


def _overlaps(a: list[Any], b: list[Any]) -> bool:
    n = min(len(a), len(b))
    return [str(x) for x in a[:n]] == [str(x) for x in b[:n]]


def _show_plan(plan: AcceptPlan, path: Path) -> None:
    """The drift it takes, grouped by severity (stderr: stdout is for --dry-run's diff)."""
    from driftd.drift import SEVERITIES
    from driftd.report import visible

    if plan.first:
        click.echo(f"{plan.environment}: first baseline, {plan.objects} object(s)", err=True)
        return
    click.echo(
        f"{plan.environment}: {len(plan.items)} drift item(s) to accept into {path}", err=True
    )
    for severity in SEVERITIES:
        group = [i for i in plan.items if i.severity == severity]
        if group:
            click.echo(f"  {severity} ({len(group)})", err=True)
        for i in group:
            where = f"{i.object}#{dotted(i.path)}" if i.path else i.object
            rules = f" [{', '.join(i.rules)}]" if i.rules else ""
            click.echo(visible(f"    {i.id}  {i.change:<8} {where}{rules}"), err=True)


def _confirm_accept(plan: AcceptPlan, yes: bool, reason: str | None) -> str | None:
    """The reason to record; refuses (exit 2) critical/high items not confirmed or explained."""
    gated = plan.gated
    if not gated:
        return reason
    count = f"{len(gated)} critical/high drift item(s)"
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if not yes and interactive:
        yes = click.confirm(f"Accept {count} into the baseline?", default=False, err=True)
    if not yes:
        raise DriftdError(
            f"refusing to accept {count} without --yes",
            "review them above, then rerun with --yes --reason TEXT, or accept fewer "
            "(DRIFT_ID, --path, --object)",
        )
    if not reason and interactive:
        reason = click.prompt("Reason (recorded in the baseline)", err=True).strip()
    if not reason:
        raise DriftdError(
            f"--reason is required to accept {count}", "say why, e.g. --reason TICKET-1"
        )
    return reason


def _accept_metadata(plan: AcceptPlan, reason: str | None, where: Path) -> dict[str, Any]:
    from datetime import UTC, datetime

    from driftd.drift import iso

    meta: dict[str, Any] = {"at": iso(datetime.now(UTC)), "by": _who(where)}
    if reason:
        meta["reason"] = reason
    if plan.moves is None:
        meta["objects"] = "all"
    else:
        meta["objects"] = sorted({k for k, p in plan.moves if not p})
        meta["paths"] = sorted({f"{k}#{dotted(p)}" for k, p in plan.moves if p})
    meta["drift"] = sorted(i.id for i in plan.items)
    return meta


def _who(where: Path) -> str:
    """``Name <email>`` from git config (as a commit would say), else the login."""
    import getpass
    import subprocess

    def git(key: str) -> str:
        try:
            out = subprocess.run(
                ["git", "config", key],
                cwd=where if where.is_dir() else None,
                capture_output=True,
                text=True,
                timeout=5,
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    name, email = git("user.name"), git("user.email")
    if name or email:
        return f"{name} <{email}>".strip() if email else name
    return os.environ.get("SUDO_USER") or getpass.getuser()


def _unified(path: Path, new: dict[str, Any]) -> str:
    """The change to the file as `git diff` will show it."""
    import difflib

    from driftd import snapshot as snap

    before = path.read_text().splitlines(keepends=True) if path.exists() else []
    after = snap.to_bytes(new).decode().splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"))


# -- check / compare ------------------------------------------------------------


def _emit(report: Any, fmt: str) -> None:
    if fmt == "json":  # without importing driftd.report (rich) for it
        click.echo(report.dumps(), nl=False)
        return
    from driftd import report as rep

    rep.render_text(report)


@cli.command()
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--no-attribution", is_flag=True, help="Skip audit-log correlation.")
@click.option(
    "--full", is_flag=True, help="Take the full snapshot even when the catalog is unchanged."
)
@pass_state
def check(state: State, envs: tuple[str, ...], fmt: str, no_attribution: bool, full: bool) -> None:
    """Diff live ENVs (default: all) against their baselines. Exit 0 clean, 1 drift, 2 error.

    When a PostgreSQL catalog, the baseline file and the settings are what they were
    at the last full check (younger than full_snapshot_every), its result is reused
    from [driftd] cache_dir; --full takes the snapshot anyway."""
    from driftd.check import check as run_check
    from driftd.check_cache import CheckCache, cache_dir

    config = state.config
    fast = CheckCache(cache_dir(config), full=full)
    report = run_check(config, config.resolve_all(envs), not no_attribution, fast)
    _emit(report, fmt)
    exit_with(report.exit_code)


@cli.command()
@click.argument("env_a")
@click.argument("env_b")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def compare(state: State, env_a: str, env_b: str, fmt: str) -> None:
    """Diff two live environments (ENV_A as the reference). Exit 0 same, 1 different.

    Databases are compared by content: the database object of ENV_B is filed under
    ENV_A's name. The ids in the output identify differences of this comparison
    only; nothing is recorded, so `driftd explain` and `baseline accept` do not
    take them."""
    from driftd.check import compare as run_compare

    report = run_compare(state.config.resolve(env_a), state.config.resolve(env_b))
    _emit(report, fmt)
    exit_with(report.exit_code)


# -- config ---------------------------------------------------------------------


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("validate")
@pass_state
def config_validate(state: State) -> None:
    """Check the config file without touching any database."""
    from driftd.rules import RuleSet

    config = state.config
    RuleSet(config.rules)  # unknown rule names are errors
    warnings = []
    for resolved in config.resolve_all():
        name, env = resolved.name, resolved.settings
        for var in (env.url_env, env.password_env):
            if var and var not in os.environ:
                warnings.append(f"environments.{name}: environment variable {var} is not set")
        for key, file in (("url_file", env.url_file), ("password_file", env.password_file)):
            try:
                if file and not config.resolve_path(file, f"environments.{name}.{key}").exists():
                    warnings.append(f"environments.{name}: secret file {file} does not exist")
            except DriftdError as exc:  # e.g. ${CREDENTIALS_DIRECTORY}: set only under systemd
                warnings.append(exc.message)
        if not resolved.baseline_path.exists():
            warnings.append(
                f"environments.{name}: no baseline yet (run `driftd baseline accept {name}`)"
            )
        else:
            warnings += _idle_ignores(name, env.ignore, resolved.baseline_path)
    from driftd import alerts

    used_audit = {a for env in config.environments.values() for a in env.audit}
    warnings += alerts.warnings(config)
    warnings += [
        f"audit.{n} is not used by any environment" for n in config.audit if n not in used_audit
    ]
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(
        f"config OK: {len(config.environments)} environment(s), {len(config.audit)} audit "
        f"source(s), {len(config.alerts)} alert sink(s)"
    )


def _idle_ignores(env: str, patterns: list[str], baseline: Path) -> list[str]:
    """Ignore patterns that match nothing in the baseline: a typo, or a leftover."""
    if not patterns:
        return []
    from driftd import snapshot as snap
    from driftd.diff.filters import IgnoreRule

    objects = snap.read(baseline, "baseline")["objects"]
    out = []
    for pattern in patterns:
        rule = IgnoreRule.parse(pattern)
        if not any(_rule_hits(rule, key, value) for key, value in objects.items()):
            out.append(
                f"environments.{env}.ignore: {pattern!r} matches nothing in the baseline "
                f"({len(objects)} objects); check its spelling against `driftd snapshot {env}`"
            )
    return out


def _rule_hits(rule: Any, key: str, value: Any) -> bool:
    import fnmatch

    if not fnmatch.fnmatchcase(key, rule.object_glob):
        return False
    return rule.path_glob is None or any(rule.matches(key, path) for path in _paths(value))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Any:
    """Every key path inside an object (what an ignore rule's ``#path`` may name)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield [*prefix, k]
            yield from _paths(v, (*prefix, k))


@config_group.command("show")
@pass_state
def config_show(state: State) -> None:
    """Print the effective configuration as JSON (secrets are never resolved or shown)."""
    data = state.config.model_dump(mode="json")
    click.echo(canonical.dumps_pretty(_hide_secrets(data)).decode(), nl=False)


# Keys whose literal value would be a secret (the load refuses most of them; this is
# the second line: whatever slipped through is shown as ***).
_SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "routing_key", "headers")


def _hide_secrets(value: Any, key: str = "") -> Any:
    """``value`` with secret-looking keys' values and URL passwords replaced by ``***``;
    ``*_env`` and ``*_file`` keys name where a secret is, and are shown."""
    from driftd.alerts.events import redact

    secret_key = any(w in key.lower() for w in _SECRET_WORDS) and not key.endswith(
        ("_env", "_file")
    )
    if isinstance(value, dict):
        if secret_key:  # e.g. a webhook's literal headers: names shown, values not
            return {k: "***" for k in value}
        return {k: _hide_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(v, key) for v in value]
    if secret_key and value not in (None, ""):
        return "***"
    return redact(value) if isinstance(value, str) else value


# -- daemon and state store (driftd.cli.daemon_commands) ---------------------------------

from driftd.alerts.commands import COMMANDS as _ALERT_COMMANDS  # noqa: E402
from driftd.cli.daemon_commands import COMMANDS as _DAEMON_COMMANDS  # noqa: E402
from driftd.cli.init_command import COMMANDS as _INIT_COMMANDS  # noqa: E402
from driftd.cli.migration_commands import register as _register_migrations  # noqa: E402
from driftd.cli.revert_command import COMMANDS as _REVERT_COMMANDS  # noqa: E402

for _command in (*_DAEMON_COMMANDS, *_ALERT_COMMANDS, *_REVERT_COMMANDS, *_INIT_COMMANDS):
    cli.add_command(_command)
_register_migrations(cli, baseline)


# -- entry point ----------------------------------------------------------------


def main() -> None:
    cli(prog_name="driftd")
