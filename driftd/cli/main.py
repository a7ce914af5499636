"""The ``driftd`` command line: every pipeline step, exposed to a person.

Exit codes (every command): 0 clean/success, 1 drift found, 2 error. Errors
are one or two lines on stderr, with a traceback only under ``--debug``.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from driftd import __version__, canonical
from driftd.cli.util import EXIT_ERROR, EXIT_OK, State, exit_with, pass_state
from driftd.errors import DriftdError


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

    doc = snap.take(state.config.resolve(env))
    data = snap.to_bytes(doc)
    if output:
        snap.write_atomic(output, data)
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
@click.option(
    "--object",
    "objects",
    multiple=True,
    metavar="KEY",
    help="Accept only this object (a key or glob, e.g. table:public.orders); repeatable.",
)
@click.option("--reason", metavar="TEXT", help="Why: recorded in the baseline for reviewers.")
@pass_state
def baseline_accept(state: State, env: str, objects: tuple[str, ...], reason: str | None) -> None:
    """Take the live state of ENV as its new baseline."""
    from driftd import snapshot as snap

    resolved = state.config.resolve(env)
    path = resolved.baseline_path
    live = snap.take(resolved)
    old = snap.read(path, "baseline") if path.exists() else None
    new, changed = snap.accept(old, live, list(objects) or None, reason)
    snap.write_baseline(resolved, snap.to_bytes(new))
    scope = f"{len(objects)} selector(s)" if objects else "all objects"
    click.echo(
        f"accepted {scope} of {env} into {path}: {len(changed)} object(s) changed, "
        f"{len(new['objects'])} in baseline. Review with `git diff` and commit it.",
        err=True,
    )


# -- check / compare ------------------------------------------------------------


def _emit(report: Any, fmt: str) -> None:
    from driftd import report as rep

    if fmt == "json":
        click.echo(rep.to_json(report), nl=False)
    else:
        rep.render_text(report, rep.console())


@cli.command()
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--no-attribution", is_flag=True, help="Skip audit-log correlation.")
@pass_state
def check(state: State, envs: tuple[str, ...], fmt: str, no_attribution: bool) -> None:
    """Diff live ENVs (default: all) against their baselines. Exit 0 clean, 1 drift, 2 error."""
    from driftd.check import check as run_check

    config = state.config
    report = run_check(config, config.resolve_all(envs), attribution=not no_attribution)
    _emit(report, fmt)
    exit_with(report.exit_code)


@cli.command()
@click.argument("env_a")
@click.argument("env_b")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def compare(state: State, env_a: str, env_b: str, fmt: str) -> None:
    """Diff two live environments (ENV_A as the reference). Exit 0 same, 1 different."""
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
        for file in (env.url_file, env.password_file):
            if file and not config.resolve_path(file).exists():
                warnings.append(f"environments.{name}: secret file {file} does not exist")
        if not resolved.baseline_path.exists():
            warnings.append(
                f"environments.{name}: no baseline yet (run `driftd baseline accept {name}`)"
            )
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
from driftd.cli.revert_command import COMMANDS as _REVERT_COMMANDS  # noqa: E402

for _command in (*_DAEMON_COMMANDS, *_ALERT_COMMANDS, *_REVERT_COMMANDS):
    cli.add_command(_command)


# -- entry point ----------------------------------------------------------------


def main() -> None:
    cli(prog_name="driftd")
