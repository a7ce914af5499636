"""Audit sources: where driftd learns who changed what (one module per type).

``[audit.NAME]`` tables are validated against their type's model at config
load (:func:`validate`); :func:`source` builds a ready source by name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from driftd.attribute.sources.base import PollResult, Source, SourceConfig
from driftd.attribute.sources.state import AuditState, JsonFileAuditState, MemoryAuditState

if TYPE_CHECKING:
    from driftd.config import AuditSource, Config

__all__ = [
    "AuditState",
    "JsonFileAuditState",
    "MemoryAuditState",
    "PollResult",
    "Source",
    "SourceConfig",
    "default_state",
    "default_state_path",
    "settings",
    "source",
    "validate",
]


def source_types() -> dict[str, type[Source]]:
    # Imported on use: boto3 and httpx stay out of runs that need no audit.
    from driftd.attribute.sources.cloudtrail import CloudtrailSource
    from driftd.attribute.sources.cloudwatch import CloudwatchSource
    from driftd.attribute.sources.hoop import HoopSource
    from driftd.attribute.sources.jsonl import JsonlSource
    from driftd.attribute.sources.mariadb_audit import MariadbAuditSource
    from driftd.attribute.sources.pgaudit import PgauditSource
    from driftd.attribute.sources.pglog import PglogSource

    return {
        "pgaudit": PgauditSource,
        "pglog": PglogSource,
        "hoop": HoopSource,
        "cloudwatch": CloudwatchSource,
        "cloudtrail": CloudtrailSource,
        "jsonl": JsonlSource,
        "mariadb_audit": MariadbAuditSource,
    }


def settings(name: str, table: AuditSource) -> SourceConfig:
    """The typed settings of ``[audit.NAME]`` (ValidationError located under it)."""
    from driftd.config.typed import validate_typed

    models = {kind: cls.config_model for kind, cls in source_types().items()}
    return validate_typed("audit", name, table, models)


def validate(config: Config) -> None:
    """Validate every ``[audit.NAME]`` table against its type (called at load)."""
    for name, table in config.audit.items():
        settings(name, table)


def source(config: Config, name: str) -> Source:
    table = config.audit[name]
    return source_types()[table.type](name, settings(name, table), config)


def default_state_path(config: Config) -> Path:
    """Where the JSON audit state lives: ``$DRIFTD_AUDIT_STATE``, else beside a SQLite
    state store, else in ``$STATE_DIRECTORY`` (systemd) or next to the config file."""
    explicit = os.environ.get("DRIFTD_AUDIT_STATE")
    if explicit:
        return Path(explicit)
    url = config.driftd.state_url
    if url.startswith("sqlite:///") and url not in ("sqlite:///", "sqlite:///:memory:"):
        db = config.resolve_path(url.removeprefix("sqlite:///"))
        return db.with_name(db.stem + "-audit.json")
    base = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(base or config.base_dir) / "driftd-audit.json"


def default_state(config: Config) -> JsonFileAuditState:
    return JsonFileAuditState(default_state_path(config))
