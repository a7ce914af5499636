"""Collectors read a live database into snapshot objects, one module per engine.

Every collector takes a :class:`Target` and returns :class:`Collected`: the
engine description and the flat ``{"<kind>:<name>": {...}}`` object map of the
snapshot document. Collectors only read; they never write to a target.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from driftd.config import MANAGED_ROLE_GLOBS, Config

# Schemas that belong to the server, never to the application.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "pg_temp_*", "pg_toast_temp_*")


@dataclass(frozen=True)
class Target:
    """What to read and how: built from one ``[environments.NAME]`` table."""

    environment: str
    url: str = field(repr=False)  # holds the password: never log it
    display_url: str = ""
    schemas: tuple[str, ...] = ()
    exclude_schemas: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    exclude_roles: tuple[str, ...] = ("pg_*",)
    statement_timeout: float = 30.0
    lock_timeout: float = 2.0
    connect_timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Config, name: str) -> Target:
        env = config.environment(name)
        exclude_roles = ("pg_*", *(MANAGED_ROLE_GLOBS if env.exclude_managed_roles else ()))
        return cls(
            environment=name,
            url=config.database_url(name),
            display_url=config.display_url(name),
            schemas=tuple(env.schemas),
            exclude_schemas=tuple(env.exclude_schemas),
            roles=tuple(env.roles),
            exclude_roles=exclude_roles,
            statement_timeout=float(env.statement_timeout),
            lock_timeout=float(env.lock_timeout),
            connect_timeout=float(env.connect_timeout),
        )

    def wants_schema(self, name: str) -> bool:
        if any(fnmatch.fnmatchcase(name, g) for g in SYSTEM_SCHEMAS):
            return False
        if self.schemas and not any(fnmatch.fnmatchcase(name, g) for g in self.schemas):
            return False
        return not any(fnmatch.fnmatchcase(name, g) for g in self.exclude_schemas)

    def wants_role(self, name: str) -> bool:
        if any(fnmatch.fnmatchcase(name, g) for g in self.exclude_roles):
            return False
        return not self.roles or any(fnmatch.fnmatchcase(name, g) for g in self.roles)


@dataclass
class Collected:
    engine: dict[str, str]
    objects: dict[str, dict[str, Any]]


def collect(target: Target) -> Collected:
    """Read ``target`` with the collector for its engine."""
    scheme = target.url.split(":", 1)[0].split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        from driftd.collect.postgres import collect as collect_postgres

        return collect_postgres(target)
    from driftd.collect.generic import collect as collect_generic

    return collect_generic(target)
