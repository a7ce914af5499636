"""Configuration: one TOML file, validated at load, secrets resolved on use.

:mod:`driftd.config.model` holds the model and parses the file's structure; it
imports no stage. :mod:`driftd.config.load` (``load``, ``parse``) adds what only
the plugin registries know: the keys of each ``[audit.NAME]`` and
``[alerts.NAME]`` table, by its ``type``.
"""

from __future__ import annotations

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
    ResolvedEnvironment,
    Rules,
    find_config,
)

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
    "ResolvedEnvironment",
    "Rules",
    "find_config",
]
