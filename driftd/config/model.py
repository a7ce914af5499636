"""The configuration's model and structural parsing: a leaf, importing no stage.

Errors name the key and the line (``environments.prod.schedule (line 12)``).
Secrets never live in the file: ``*_env`` names an environment variable,
``*_file`` a file (``${CREDENTIALS_DIRECTORY}`` is expanded, for systemd's
``LoadCredential=``). Values read from them are never logged or printed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from driftd.config import url as urls
from driftd.config.durations import Seconds, validate_schedule
from driftd.drift import Severity
from driftd.errors import ConfigError

SEARCH_PATH = ("./driftd.toml", "/etc/driftd/config.toml")
# Validates the typed tables of a parsed config (raises pydantic's ValidationError).
TypedCheck = Callable[["Config"], None]
_M = TypeVar("_M", bound=BaseModel)


# Roles that cloud providers create and change on their own schedule.
MANAGED_ROLE_GLOBS = (
    "rds*",
    "rdsadmin",
    "cloudsql*",
    "azure*",
    "alloydb*",
    "aiven*",
    "supabase*",
)


Duration = Seconds  # written '30s', '5m', '1h' or a number; always seconds once loaded
Schedule = Annotated[str, AfterValidator(validate_schedule)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriftdSection(_Strict):
    baselines_dir: str = "baselines"
    state_url: str = "sqlite:///driftd-state.db"
    http_listen: str = "127.0.0.1:29187"
    max_concurrent_checks: int = Field(default=4, ge=1, le=256)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The state store's password, when state_url is PostgreSQL (never in the URL).
    state_password_env: str | None = None
    state_password_file: str | None = None
    # Daemons sharing a PostgreSQL store hold an environment for this long per renewal.
    lease_duration: Duration = 30.0
    # /healthz answers 503 when the daemon's newest successful check is older than
    # this (0: off); set it above the longest schedule.
    healthz_max_check_age: Duration = 0.0
    # Where `driftd check` keeps its no-change fast path (relative to this file); unset:
    # driftd-cache/ next to a SQLite state store, else $XDG_CACHE_HOME/driftd.
    cache_dir: str | None = None


class Migrations(_Strict):
    """``[environments.NAME.migrations]``: build the baseline from migrations
    (``driftd baseline build``) on a scratch server, never the watched database."""

    command: str | None = None  # run by /bin/sh in workdir; gets DATABASE_URL and PG*
    workdir: str = "."
    scratch_url: str
    password_env: str | None = None
    password_file: str | None = None
    timeout: Duration = 600.0
    alembic_ini: str | None = None  # Alembic in-process when command is omitted

    @model_validator(mode="after")
    def _how(self) -> Migrations:
        if not self.command and not self.alembic_ini:
            raise ValueError("set command (any migration tool) or alembic_ini (Alembic)")
        if _url_has_password(self.scratch_url):
            raise ValueError(
                "scratch_url holds a password; remove it and set password_env or password_file"
            )
        return self


class UrlFrom(BaseModel):
    """A URL written in the file, or read from an environment variable or a file
    (one of the three: checked by the model that uses it)."""

    url: str | None = None
    url_env: str | None = None
    url_file: str | None = None


class Environment(_Strict, UrlFrom):
    password_env: str | None = None
    password_file: str | None = None
    schedule: Schedule = "5m"
    audit: list[str] = []
    alerts: list[str] = []
    ignore: list[str] = []
    schemas: list[str] = []
    exclude_schemas: list[str] = []
    include: list[str] = []
    exclude: list[str] = []
    roles: list[str] = []
    exclude_managed_roles: bool = False
    statement_timeout: Duration = 30.0
    lock_timeout: Duration = 2.0
    connect_timeout: Duration = 10.0
    # A large PostgreSQL catalog is read over this many connections sharing one snapshot.
    read_connections: int = Field(default=2, ge=1, le=2)
    baseline: str | None = None
    # How far back attribution looks when there is no last clean check.
    attribution_lookback: Duration = 86400.0  # 24h
    # How long drift first seen without an author is looked up again (late audit data).
    late_attribution: Duration = 3600.0  # 1h
    # The no-change fast path (PostgreSQL; the daemon's, and `driftd check`'s through
    # [driftd] cache_dir): while the catalog fingerprint and the baseline file are
    # unchanged the last full check is reused, but a full
    # snapshot still runs at least this often; 0 turns the fast path off.
    full_snapshot_every: Duration = 3600.0  # 1h
    # Roles, tablespaces and server settings belong to the server, not the database:
    # None (default) lets the first environment (by name) on the same server report
    # them and the others leave them out; true or false decides for this one.
    cluster_objects: bool | None = None
    migrations: Migrations | None = None  # driftd baseline build

    @model_validator(mode="after")
    def _one_url(self) -> Environment:
        given = [k for k in ("url", "url_env", "url_file") if getattr(self, k)]
        if not given:
            raise ValueError("an environment needs a database URL: set url (or url_env / url_file)")
        if len(given) > 1:
            raise ValueError(f"set only one of url, url_env, url_file (got {', '.join(given)})")
        if self.password_env and self.password_file:
            raise ValueError("set only one of password_env, password_file")
        return self

    @field_validator("url")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        if value is not None and _url_has_password(value):
            raise ValueError(
                "the URL holds a password; remove it and set password_env or password_file"
            )
        return value

    @field_validator("ignore", "include", "exclude")
    @classmethod
    def _object_globs(cls, value: list[str]) -> list[str]:
        for glob in value:
            key = glob.split("#", 1)[0]
            if ":" not in key and key != "*":
                raise ValueError(
                    f"{glob!r} is not an object glob; write '<kind>:<name>' "
                    "such as 'table:public.tmp_*' or 'role:rds*'"
                )
        return value


class AuditSource(BaseModel):
    """An audit source; its fields are validated by the source type."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str


class AlertSink(BaseModel):
    """An alert sink; its fields are validated by the sink type."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    min_severity: Severity = "low"


class CustomRule(_Strict):
    name: Name
    object: str = "*"
    path: str = "*"
    change: list[Literal["added", "removed", "modified"]] = ["added", "removed", "modified"]
    # The review of the change's best attribution (a hoop session): "approved" (an
    # approval was given), "unreviewed" (none, pending or rejected). Matched after
    # attribution; a change no reviewing source attributed matches neither.
    review: Literal["approved", "unreviewed"] | None = None
    severity: Severity


class Rules(_Strict):
    severity: dict[str, Severity | Literal["off"]] = {}
    custom: list[CustomRule] = []


class Config(_Strict):
    driftd: DriftdSection = DriftdSection()
    environments: dict[Name, Environment] = {}
    audit: dict[Name, AuditSource] = {}
    alerts: dict[Name, AlertSink] = {}
    rules: Rules = Rules()
    # Directory relative paths are resolved against; set by load().
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _no_url_passwords(self) -> Config:
        """A password inside any URL of the file is refused, naming the key and where
        the password goes instead: the file is read by more people and tools than
        driftd (``config show``, backups, reviews) and secrets never live in it."""
        if _url_has_password(self.driftd.state_url):
            raise ValueError(
                "driftd.state_url: the URL holds a password; remove it and set "
                "state_password_env or state_password_file"
            )
        for section, tables in (("audit", self.audit), ("alerts", self.alerts)):
            for name, table in tables.items():
                for key, value in (table.model_extra or {}).items():
                    if (section, table.type, key) in _TYPED_URL_CHECKS:
                        continue
                    values = value if isinstance(value, list) else [value]
                    if any(isinstance(v, str) and _url_has_password(v) for v in values):
                        raise ValueError(
                            f"{section}.{name}.{key}: the URL holds a password; remove it "
                            f"and {_secret_home(section, table.type, key)}"
                        )
        return self

    @model_validator(mode="after")
    def _references(self) -> Config:
        for name, env in self.environments.items():
            for ref, table in (("audit", self.audit), ("alerts", self.alerts)):
                for item in getattr(env, ref):
                    if item not in table:
                        known = ", ".join(sorted(table)) or "none defined"
                        raise ValueError(
                            f"environments.{name}.{ref} names [{ref}.{item}], which is not "
                            f"defined (defined: {known})"
                        )
        return self

    # -- paths ---------------------------------------------------------------

    def resolve_path(self, value: str, where: str | None = None) -> Path:
        """``value`` with ``~`` and ``$VAR``/``${VAR}`` expanded, relative to the config
        file. An unset variable is an error naming it (``where``: the key), never a
        literal ``${CREDENTIALS_DIRECTORY}`` directory."""
        unset = [v for v in unset_variables(value) if v not in os.environ]
        if unset:
            raise ConfigError(
                f"{where + ': ' if where else ''}{value!r} uses ${{{unset[0]}}}, which is not set",
                f"set {unset[0]} (systemd sets CREDENTIALS_DIRECTORY for LoadCredential=) "
                "or write the path out",
            )
        path = Path(os.path.expandvars(os.path.expanduser(value)))
        return path if path.is_absolute() else self.base_dir / path

    @property
    def baselines_dir(self) -> Path:
        return self.resolve_path(self.driftd.baselines_dir, "driftd.baselines_dir")

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments)) or "none"
            raise ConfigError(
                f"unknown environment {name!r} (configured: {known})",
                "add [environments." + name + "] to the config, or pick a configured one",
            ) from None

    def resolve(self, name: str) -> ResolvedEnvironment:
        """``[environments.NAME]`` with what it refers to resolved: the one object the
        pipeline passes down (nothing below the CLI and the daemon looks a name up)."""
        env = self.environment(name)
        baseline = (
            self.resolve_path(env.baseline) if env.baseline else self.baselines_dir / f"{name}.json"
        )
        return ResolvedEnvironment(
            name=name,
            settings=env,
            cluster_objects=self._cluster_objects(name, env),
            baseline_path=baseline,
            audit=tuple((a, self.audit[a]) for a in env.audit),
            alerts=tuple((a, self.alerts[a]) for a in env.alerts),
            config=self,
        )

    def _cluster_objects(self, name: str, env: Environment) -> bool:
        """Whether ``env`` reports the server's own objects (roles, tablespaces, server
        settings): by default only the first environment, by name, of those whose
        ``url`` names the same server does, so a role changed on a shared server is
        one drift item, not one per database. An environment whose URL comes from a
        variable or a file is not compared (its server is known only when it connects)."""
        if env.cluster_objects is not None:
            return env.cluster_objects
        key = server_of(env.url)
        if key is None:
            return True
        return name == self.first_per_server[key]

    @cached_property
    def first_per_server(self) -> dict[tuple[str, str, int], str]:
        """Server → the first environment on it by name, worked out once per config:
        comparing every pair made loading 2,000 environments take half a minute."""
        first: dict[tuple[str, str, int], str] = {}
        for name in sorted(self.environments):
            key = server_of(self.environments[name].url)
            if key is not None:
                first.setdefault(key, name)
        return first

    def resolve_all(self, names: Sequence[str] = ()) -> list[ResolvedEnvironment]:
        """The named environments (all, when none are named), resolved."""
        return [self.resolve(n) for n in self.select(names)]

    def select(self, names: Sequence[str]) -> list[str]:
        """The named environments (all, when none are named), validated."""
        if not names:
            return sorted(self.environments)
        for name in names:
            self.environment(name)
        return list(dict.fromkeys(names))

    # -- secrets -------------------------------------------------------------

    def secret(self, where: str, env_var: str | None, file: str | None) -> str | None:
        """Read a secret from an environment variable or a file, never from the config."""
        if env_var:
            value = os.environ.get(env_var)
            if value is None:
                # ``KEY_env:`` rather than ``KEY:``: error scrubbing reads ``secret: x``
                # as a secret and would hide the variable's name.
                raise ConfigError(
                    f"{where}_env: environment variable {env_var} is not set",
                    f"export {env_var}=... (or use a *_file setting)",
                )
            return value
        if file:
            path = self.resolve_path(file, f"{where}_file")
            try:
                return path.read_text().rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(
                    f"{where}_file: cannot read secret file {path}: {exc.strerror}",
                    "check the path and that driftd's user may read it",
                ) from None
        return None


@dataclass(frozen=True)
class ResolvedEnvironment:
    """One environment with its baseline path, audit sources and alert sinks
    resolved from the config; built once by :meth:`Config.resolve` and passed down
    collect → snapshot → diff → rules → attribute → alert.

    Secrets (the database password) are read when :meth:`database_url` is called,
    so a rotated secret is picked up by the next check without a reload.
    """

    name: str
    settings: Environment
    # False: this environment leaves out roles, tablespaces and server settings
    # (another environment on the same server reports them; see Config.resolve).
    cluster_objects: bool
    baseline_path: Path
    audit: tuple[tuple[str, AuditSource], ...]
    alerts: tuple[tuple[str, AlertSink], ...]
    # For secrets and relative paths; never used to look the environment up again.
    config: Config = field(repr=False, compare=False)

    def database_url(self) -> str:
        """The URL with its password filled in (keep it out of logs)."""
        env, where = self.settings, f"environments.{self.name}"
        raw = env.url or self.config.secret(where + ".url", env.url_env, env.url_file)
        assert raw is not None
        password = self.config.secret(where + ".password", env.password_env, env.password_file)
        fast = _postgres_url(raw)  # a no-change check needs psycopg, not SQLAlchemy
        if fast is not None:
            return (fast if password is None else fast.set(password)).render(hide_password=False)
        from sqlalchemy.engine import make_url

        try:
            url = make_url(raw)
        except Exception:
            raise ConfigError(
                f"{where}: the database URL cannot be parsed",
                "use the form postgresql+psycopg://user@host:5432/dbname",
            ) from None
        if password is not None:
            url = url.set(password=password)
        if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
            url = url.set(database=str(self.config.resolve_path(url.database)))
        return url.render_as_string(hide_password=False)

    def display_url(self) -> str:
        """The URL for messages: never with a password."""
        if not self.settings.url:
            return f"<from {self.settings.url_env or self.settings.url_file}>"
        fast = _postgres_url(self.settings.url)
        if fast is not None:
            return fast.render()
        from sqlalchemy.engine import make_url

        return make_url(self.settings.url).render_as_string(hide_password=True)


def _postgres_url(raw: str) -> urls.URL | None:
    """A PostgreSQL URL parsed without SQLAlchemy (None: another engine, or a URL
    only SQLAlchemy can read or reject)."""
    dialect = raw.split(":", 1)[0].split("+", 1)[0].lower()
    return urls.parse(raw) if dialect in ("postgresql", "postgres") else None


def server_of(url: str | None) -> tuple[str, str, int] | None:
    """(dialect, host, port) of a PostgreSQL or MySQL URL; None for others (SQLite) and
    for URLs without a host (a local socket: the same machine may run several servers)."""
    if not url or "://" not in url:
        return None
    from urllib.parse import urlsplit

    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    dialect = {"postgres": "postgresql", "mariadb": "mysql"}.get(scheme, scheme)
    default = {"postgresql": 5432, "mysql": 3306}.get(dialect)
    try:
        parts = urlsplit(url)
        port = parts.port or default
    except ValueError:
        return None
    if default is None or not parts.hostname or port is None:
        return None
    host = {"localhost": "127.0.0.1", "::1": "127.0.0.1"}.get(parts.hostname, parts.hostname)
    return dialect, host.lower(), port


# Where the secret of a URL key goes instead of the URL's password.
_URL_SECRET_HOME = {
    ("alerts", "url"): "put the whole URL in url_env or url_file",
    ("alerts", "generator_url"): "leave credentials out of links people click",
    ("audit", "url"): "put the credential in token_env or token_file",
}
_GENERIC_HOME = "put the credential in the matching *_env or *_file setting"


# URL keys whose type refuses credentials itself, with its own words.
_TYPED_URL_CHECKS = {("alerts", "alertmanager", "url")}


_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def unset_variables(value: str) -> list[str]:
    """The ``$VAR`` and ``${VAR}`` names in ``value`` (set or not: the caller looks)."""
    return [m.group(1) or m.group(2) for m in _VARIABLE.finditer(value)]


def _secret_home(section: str, type_name: str, key: str) -> str:
    return _URL_SECRET_HOME.get((section, key), _GENERIC_HOME)


def _url_has_password(value: str) -> bool:
    """``value`` is a URL (``scheme://``) with a password in its user info."""
    if "://" not in value:
        return False
    from urllib.parse import parse_qsl, urlsplit

    try:
        parts = urlsplit(value)
        if parts.password is not None:
            return True
        # libpq also takes ?password=… (and sslpassword) in the query string.
        return any(k.lower() in ("password", "sslpassword") for k, _ in parse_qsl(parts.query))
    except ValueError:
        pass  # not a plain URL (a bad port, say): ask SQLAlchemy's parser, which is slow to load
    from sqlalchemy.engine import make_url

    try:
        return make_url(value).password is not None
    except Exception:
        return False


# -- loading ------------------------------------------------------------------


def find_config(explicit: str | None) -> Path:
    """``--config``, then ``$DRIFTD_CONFIG``, ``./driftd.toml``, ``/etc/driftd/config.toml``."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("DRIFTD_CONFIG")
    if from_env:
        return Path(from_env)
    for candidate in SEARCH_PATH:
        if Path(candidate).exists():
            return Path(candidate)
    raise ConfigError(
        "no configuration file found (looked for $DRIFTD_CONFIG, ./driftd.toml, "
        "/etc/driftd/config.toml)",
        "pass --config PATH; config.example.toml is a working starting point",
    )


def read(path: Path) -> str:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist",
            "pass --config PATH or set DRIFTD_CONFIG",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return text


def parse(text: str, path: Path, *, typed: Sequence[TypedCheck] = ()) -> Config:
    """The config in ``text``; ``typed`` validate the tables whose keys depend on
    their ``type`` (driftd.config.parse passes the audit and alert registries')."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}", "fix the syntax at that line and column"
        ) from None
    base_dir = path.resolve().parent
    try:
        config = Config.model_validate({**data, "base_dir": base_dir})
        for check in typed:
            check(config)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, text, path)) from None
    return config


def _format_errors(exc: ValidationError, text: str, path: Path) -> str:
    lines = []
    for err in exc.errors()[:5]:
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
        # Drop pydantic's union/tag branch names, e.g. 'str' in (..., 'str').
        loc = [p for p in loc if p not in {"str", "int", "float", "constrained-str"}]
        key = ".".join(loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = _unknown_key(loc)
        elif err["type"] == "missing":
            msg = "required key is missing"
        line = _locate(text, loc)
        where = f"{path}:{line}" if line else str(path)
        lines.append(f"{where}: {key}: {msg}")
    if len(exc.errors()) > 5:
        lines.append(f"... and {len(exc.errors()) - 5} more")
    return "invalid configuration\n" + "\n".join(lines)


def _unknown_key(loc: Sequence[str]) -> str:
    """``unknown key``, with the closest known key of that table when one is close."""
    import difflib

    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6) if loc else []
    what = "unknown section" if len(loc) == 1 else "unknown key"
    if close:
        return f"{what}; did you mean {'.'.join([*loc[:-1], close[0]])!r}?"
    return f"{what} (check the spelling against config.example.toml)"


def _known_keys(loc: Sequence[str]) -> list[str]:
    """The keys a strict table at ``loc`` may hold ([] when not known: typed tables)."""
    from typing import get_args, get_origin

    model: Any = Config
    rest = list(loc)
    while rest:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field_ = model.model_fields.get(rest.pop(0))
        if field_ is None:
            return []
        model = field_.annotation
        if get_origin(model) in (dict, list) and rest:  # a NAME or an index: its value
            model = get_args(model)[-1]
            rest.pop(0)
    if not (isinstance(model, type) and issubclass(model, _Strict)):
        return []
    return [n for n in model.model_fields if n != "base_dir"]


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _split_dotted(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in key.split(".")]


def _locate(text: str, loc: Sequence[str]) -> int | None:
    """Best-effort line number of the TOML key at ``loc`` (1-based)."""
    best: tuple[int, int] | None = None  # (matched depth, line)
    table: list[str] = []
    arrays: dict[str, int] = {}  # [[name]] seen so far: the next one's index
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            if line.lstrip().startswith("[["):  # an array of tables: loc has its index
                index = arrays.get(header.group(1), 0)
                arrays[header.group(1)] = index + 1
                table.append(str(index))
            candidate = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            candidate = table + _split_dotted(key.group(1))
        depth = 0
        for have, want in zip(candidate, loc, strict=False):
            if have != want:
                break
            depth += 1
        # A header below the key counts too: an unknown section ``[environment.a]``.
        whole = depth == len(candidate) or depth == len(loc)
        if whole and depth and (best is None or depth > best[0]):
            best = (depth, number)
    return best[1] if best else None
