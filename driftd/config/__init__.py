"""Configuration: one TOML file, validated at load, secrets resolved on use.

:mod:`driftd.config.model` holds the model and parses the file's structure; it
imports no stage. Loading here adds what only the plugin registries know: the
keys of each ``[audit.NAME]`` and ``[alerts.NAME]`` table, by its ``type``.
"""

from __future__ import annotations

from pathlib import Path

from driftd.config.model import (
    MANAGED_ROLE_GLOBS,
    SEARCH_PATH,
    AlertSink,
    AuditSource,
    Config,
    CustomRule,
    DriftdSection,
    Duration,
    Environment,
    Rules,
    find_config,
    read,
)
from driftd.config.model import parse as parse_structure

__all__ = [
    "MANAGED_ROLE_GLOBS",
    "SEARCH_PATH",
    "AlertSink",
    "AuditSource",
    "Config",
    "CustomRule",
    "DriftdSection",
    "Duration",
    "Environment",
    "Rules",
    "find_config",
    "load",
    "parse",
]


def load(path: Path) -> Config:
    return parse(read(path), path)


def parse(text: str, path: Path) -> Config:
    """The whole config, every typed table checked (errors name the key and line)."""
    from driftd.alerts import validate as validate_alerts
    from driftd.attribute.sources import validate as validate_audit

    return parse_structure(text, path, typed=(validate_audit, validate_alerts))
