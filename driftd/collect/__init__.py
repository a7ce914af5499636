"""Collectors read a live database into snapshot objects, one module per engine.

Every collector takes a :class:`Target` and returns :class:`Collected`: the
engine description and the flat ``{"<kind>:<name>": {...}}`` object map of the
snapshot document. Collectors only read; they never write to a target.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftd.config import MANAGED_ROLE_GLOBS, ResolvedEnvironment

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
    read_connections: int = 2  # a large PostgreSQL catalog is read over two

    @classmethod
    def of(cls, resolved: ResolvedEnvironment) -> Target:
        env = resolved.settings
        exclude_roles = ("pg_*", *(MANAGED_ROLE_GLOBS if env.exclude_managed_roles else ()))
        return cls(
            environment=resolved.name,
            url=resolved.database_url(),
            display_url=resolved.display_url(),
            schemas=tuple(env.schemas),
            exclude_schemas=tuple(env.exclude_schemas),
            roles=tuple(env.roles),
            exclude_roles=exclude_roles,
            statement_timeout=env.statement_timeout,
            lock_timeout=env.lock_timeout,
            connect_timeout=env.connect_timeout,
            read_connections=env.read_connections,
        )

    def shown(self) -> str:
        """The database for messages: its URL without a password."""
        if self.display_url:
            return self.display_url
        try:
            from sqlalchemy.engine import make_url

            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return f"the database of environment {self.environment}"

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


# The engine registry: URL dialect -> the module whose ``collect(target)`` reads it.
# Modules are imported when first used (SQLAlchemy and the drivers are slow to import).
ENGINES: dict[str, str] = {
    "postgresql": "driftd.collect.postgres",
    "postgres": "driftd.collect.postgres",
    "sqlite": "driftd.collect.sqlite",
    "mysql": "driftd.collect.mysql",
    "mariadb": "driftd.collect.mysql",
}
# Any other dialect: SQLAlchemy's inspector, best effort.
FALLBACK = "driftd.collect.inspector"


def dialect_of(url: str) -> str:
    """The dialect of a database URL (``postgresql+psycopg://...`` -> ``postgresql``)."""
    return url.split(":", 1)[0].split("+", 1)[0].lower()


def collector(target: Target) -> Callable[..., Collected]:
    """The ``collect`` function of ``target``'s engine."""
    module = importlib.import_module(ENGINES.get(dialect_of(target.url), FALLBACK))
    read: Callable[..., Collected] = module.collect
    return read


def collect(target: Target) -> Collected:
    """Read ``target`` with the collector for its engine."""
    return collector(target)(target)


def fingerprinter(target: Target) -> Callable[[Target], str] | None:
    """The engine's cheap catalog fingerprint (``<engine module>.fingerprint``), if it
    has one: equal fingerprints promise an equal snapshot (the no-change fast path)."""
    base = ENGINES.get(dialect_of(target.url), FALLBACK)
    try:
        module = importlib.import_module(base + ".fingerprint")
    except ModuleNotFoundError as exc:
        if exc.name != base + ".fingerprint":
            raise
        return None
    read: Callable[[Target], str] = module.fingerprint
    return read
