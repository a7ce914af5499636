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
    from driftd.alerts import validate as validate_alerts
    from driftd.attribute.sources import validate as validate_audit

    return parse_structure(text, path, typed=(validate_audit, validate_alerts))
