"""Alerts: sinks that speak each service's own API, fed through a durable outbox.

``[alerts.NAME]`` tables are validated against their type's settings model
(:func:`validate`, at config load); :func:`sink` builds a ready sink by name.
Nothing heavy is imported here: the state store's migrations import
:mod:`driftd.alerts.model`, and must not pull in httpx, boto3 or smtplib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftd.alerts.base import Sink, SinkSettings
    from driftd.config import AlertSink, Config

__all__ = ["settings", "sink", "sink_types", "validate", "warnings"]


def sink_types() -> dict[str, type[Sink[Any]]]:
    # Imported on use: a run that sends no alert never loads boto3 or smtplib.
    from driftd.alerts.alertmanager import AlertmanagerSink
    from driftd.alerts.email import EmailSink
    from driftd.alerts.pagerduty import PagerDutySink
    from driftd.alerts.slack import SlackSink
    from driftd.alerts.sns import SnsSink
    from driftd.alerts.webhook import WebhookSink

    return {
        "slack": SlackSink,
        "pagerduty": PagerDutySink,
        "webhook": WebhookSink,
        "email": EmailSink,
        "sns": SnsSink,
        "alertmanager": AlertmanagerSink,
    }


def settings(name: str, table: AlertSink) -> SinkSettings:
    """The typed settings of ``[alerts.NAME]`` (ValidationError located under it, so
    the config loader names the key and line)."""
    from driftd.config.typed import validate_typed

    models = {kind: cls.config_model for kind, cls in sink_types().items()}
    return validate_typed("alerts", name, table, models)


def validate(config: Config) -> None:
    """Validate every ``[alerts.NAME]`` table against its type (call at config load)."""
    for name, table in config.alerts.items():
        settings(name, table)


def sink(config: Config, name: str) -> Sink[Any]:
    """The sink ``[alerts.NAME]``, ready to render and send (secrets are read on first use)."""
    from pydantic import ValidationError

    from driftd.errors import ConfigError

    table = config.alerts.get(name)
    if table is None:
        known = ", ".join(sorted(config.alerts)) or "none defined"
        raise ConfigError(
            f"no alert sink [alerts.{name}] in the config (defined: {known})",
            "check the name, or add the table to the config",
        )
    try:
        typed = settings(name, table)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{key}: {err['msg']}", "run `driftd config validate`") from None
    return sink_types()[table.type](name, typed, config)


def warnings(config: Config) -> list[str]:
    """Things `driftd config validate` should point out about the alert sinks."""
    import fnmatch
    import os

    out: list[str] = []
    used: dict[str, list[str]] = {}
    for env_name, env in config.environments.items():
        for ref in env.alerts:
            used.setdefault(ref, []).append(env_name)
    for name, table in config.alerts.items():
        envs = used.get(name)
        if not envs:
            out.append(f"alerts.{name} is not used by any environment (add it to an alerts list)")
            continue
        try:
            typed = settings(name, table)
        except Exception:
            continue  # validate() reports it
        if not any(fnmatch.fnmatchcase(e, g) for e in envs for g in typed.environments):
            out.append(
                f"alerts.{name}: its environments filter excludes every environment that "
                f"lists it ({', '.join(envs)})"
            )
        for key, value in typed.model_dump().items():
            refs = value if isinstance(value, dict) else {"": value}
            for sub, ref in refs.items():
                where = f"alerts.{name}.{key}" + (f".{sub}" if sub else "")
                if not isinstance(ref, str):
                    continue
                if key.endswith("_env") and ref not in os.environ:
                    out.append(f"{where}: environment variable {ref} is not set")
                if key.endswith("_file") and not config.resolve_path(ref).exists():
                    out.append(f"{where}: secret file {ref} does not exist")
    return out
