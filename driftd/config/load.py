"""Loading the config file: its structure (driftd.config.model), then every typed
``[audit.NAME]`` / ``[alerts.NAME]`` table through the audit and alert registries.

Apart from the package, so that what the registries import (durations, typed,
the model) never pulls the registries back in.
"""

from __future__ import annotations

from pathlib import Path

from driftd.config.model import Config, read
from driftd.config.model import parse as parse_structure


def load(path: Path) -> Config:
    return parse(read(path), path)


def parse(text: str, path: Path) -> Config:
    """The whole config, every typed table checked (errors name the key and line)."""
    return parse_structure(text, path, typed=(_audit, _alerts))


# Each registry is imported only when the config has a table for it: a config
# without [audit] or [alerts] starts without their modules (driftd config validate).
def _audit(config: Config) -> None:
    if config.audit:
        from driftd.attribute.sources import validate

        validate(config)


def _alerts(config: Config) -> None:
    if config.alerts:
        from driftd.alerts import validate

        validate(config)
