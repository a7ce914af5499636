"""``driftd init``: probe a database and write a commented config for it.

On a shared PostgreSQL cluster most roles belong to other applications: a
config that watches every role reports a thousand roles nobody here owns. The
probe lists the roles that matter to this database (its owner, the owners of
its schemas and objects, every grantee of a privilege in it, and the roles
those are members of) and writes them as the environment's ``roles``, with the
cloud providers' roles left out. It only reads, in one read-only transaction.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import click

from driftd.cli.util import State, pass_state
from driftd.errors import DriftdError

# Roles that own or hold a privilege on something in the current database, and the
# roles they are members of (directly or not): what a snapshot of it names.
_PG_ROLES = """
WITH RECURSIVE used(oid) AS (
  SELECT datdba FROM pg_database WHERE datname = current_database()
  UNION SELECT (aclexplode(datacl)).grantee FROM pg_database WHERE datname = current_database()
  UNION SELECT nspowner FROM pg_namespace
  UNION SELECT (aclexplode(nspacl)).grantee FROM pg_namespace
  UNION SELECT relowner FROM pg_class
  UNION SELECT (aclexplode(relacl)).grantee FROM pg_class
  UNION SELECT proowner FROM pg_proc
  UNION SELECT (aclexplode(proacl)).grantee FROM pg_proc
  UNION SELECT typowner FROM pg_type
  UNION SELECT defaclrole FROM pg_default_acl
  UNION SELECT (aclexplode(defaclacl)).grantee FROM pg_default_acl
), member_of(oid) AS (
  SELECT oid FROM used
  UNION SELECT m.roleid FROM pg_auth_members m JOIN member_of ON m.member = member_of.oid
)
SELECT r.rolname FROM pg_roles r JOIN member_of ON member_of.oid = r.oid
WHERE r.rolname !~ '^pg_'
ORDER BY r.rolname
"""
_PG_ALL_ROLES = "SELECT count(*) FROM pg_roles WHERE rolname !~ '^pg_'"


@dataclass
class Probe:
    """What ``init`` learnt about the database."""

    dialect: str
    database: str
    roles: list[str] = field(default_factory=list)
    all_roles: int = 0
    managed: list[str] = field(default_factory=list)  # cloud providers' roles seen


def probe_postgres(url: str, connect_timeout: float = 10.0) -> Probe:
    import psycopg

    from driftd.collect.postgres.errors import _connect_error, make_url
    from driftd.collect.postgres.read import _connect_params
    from driftd.config import MANAGED_ROLE_GLOBS

    parsed = make_url(url)
    params = _connect_params(parsed, connect_timeout)
    try:
        conn = psycopg.connect(**params)
    except psycopg.Error as exc:
        raise _connect_error(exc, parsed.render_as_string(hide_password=True), parsed) from exc
    with conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        roles = [r[0] for r in conn.execute(_PG_ROLES).fetchall()]
        row = conn.execute(_PG_ALL_ROLES).fetchone()
        conn.execute("COMMIT")
    managed = [r for r in roles if any(fnmatch.fnmatchcase(r, g) for g in MANAGED_ROLE_GLOBS)]
    return Probe(
        "postgresql",
        parsed.database or "",
        [r for r in roles if r not in managed],
        int(row[0]) if row else 0,
        managed,
    )


def _glob_literal(name: str) -> str:
    """A role name as a glob matching only itself (``roles`` are fnmatch globs)."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _toml_string(value: str) -> str:
    # A JSON string (non-ASCII kept as is) is a valid TOML basic string: quotes,
    # backslashes and control characters (a newline in a role name) come escaped.
    return json.dumps(value, ensure_ascii=False)


def render(name: str, url: str, password_env: str | None, probe: Probe) -> str:
    """The commented config for one environment."""
    roles = ",\n".join(f"  {_toml_string(_glob_literal(r))}" for r in probe.roles)
    lines = [
        f"# driftd configuration written by `driftd init` for {probe.dialect} database",
        f"# {probe.database!r}. Review it, then: driftd baseline accept {name}",
        "# (docs/configuration.md has every key).",
        "",
        "[driftd]",
        'baselines_dir = "baselines"                 # baselines/<environment>.json, commit them',
        'state_url = "sqlite:///driftd-state.db"     # the daemon\'s state',
        "",
        f"[environments.{name}]",
        f"url = {_toml_string(url)}   # never a password here",
        f"# driftd's login: {GRANT_HINT}",
    ]
    if password_env:
        lines.append(f"password_env = {_toml_string(password_env)}")
    lines += [
        'schedule = "5m"',
        f"# {len(probe.roles)} of the server's {probe.all_roles} roles own or may use something",
        "# in this database (or are roles those are members of): the others belong to other",
        "# databases and would only be noise here. Add globs as your roles change.",
        f"roles = [\n{roles},\n]" if probe.roles else "roles = []",
    ]
    if probe.managed:
        lines.append(
            "exclude_managed_roles = true               # the provider's own: "
            # As TOML strings: a name holding a newline must not start a line of its own.
            + ", ".join(_toml_string(r) for r in probe.managed[:5])
        )
    lines += [
        "# What is never worth an alert here, for a start (object-key globs, #path for a field):",
        "ignore = [",
        '  "table:*#columns.*.statistics",          # planner statistics targets',
        "]",
        '# exclude = ["table:public.tmp_*"]         # objects left out of snapshots entirely',
        "# audit = []                               # [audit.*] sources: who made each change",
        "# alerts = []                              # [alerts.*] sinks",
        "",
    ]
    return "\n".join(lines)


# Where the least-privilege grant is (PostgreSQL: CONNECT and pg_read_all_settings;
# MariaDB: column grants that leave the password hashes out).
GRANT_HINT = "the least-privilege grant is in docs/security.md (Database accounts)"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@click.command("init")
@click.argument("url")
@click.option("--name", default="prod", show_default=True, help="The environment's name.")
@click.option("--password-env", metavar="VAR", help="Environment variable holding the password.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("driftd.toml"),
    show_default=True,
    help="Where to write the config.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_state
def init(
    state: State, url: str, name: str, password_env: str | None, output: Path, force: bool
) -> None:
    """Probe the database at URL (read-only) and write a commented config for it: the
    roles that matter to it, a first ignore list. Exit 0 written, 2 on error."""
    from driftd.config.model import _url_has_password

    if not _NAME.match(name):
        raise click.BadParameter("letters, digits, '_', '.', '-'", param_hint="--name")
    if _url_has_password(url):
        raise DriftdError(
            "the URL holds a password: it would be written into the config",
            "leave it out and pass --password-env VAR (the variable must be set now)",
        )
    if output.exists() and not force:
        raise DriftdError(f"{output} exists", "pass --force to overwrite it, or -o elsewhere")
    if not output.parent.is_dir():
        raise DriftdError(f"cannot write {output}: directory {output.parent} does not exist")
    from driftd.collect import dialect_of

    dialect = dialect_of(url)
    if dialect not in ("postgresql", "postgres"):
        hint = "copy config.example.toml and adapt it"
        if dialect in ("mysql", "mariadb"):
            hint += f"; driftd's account: {GRANT_HINT}"
        raise DriftdError(f"driftd init probes PostgreSQL only (this URL is {dialect})", hint)
    probe_url = url
    if password_env:
        from sqlalchemy.engine import make_url

        password = os.environ.get(password_env)
        if password is None:
            raise DriftdError(
                f"--password-env: {password_env} is not set", f"export {password_env}=..."
            )
        probe_url = make_url(url).set(password=password).render_as_string(hide_password=False)
    probe = probe_postgres(probe_url)
    output.write_text(render(name, url, password_env, probe))
    click.echo(
        f"wrote {output}: environment {name}, {len(probe.roles)} of {probe.all_roles} roles. "
        f"Review it, then `driftd --config {output} baseline accept {name}`.",
        err=True,
    )


COMMANDS = [init]
