"""`driftd init` (issue 13): probe a real PostgreSQL database, write a config that
watches the roles that matter to it, and the two commands after it work.

On the shared server there are always other roles (other tests', other
databases'): the generated ``roles`` must hold this database's owner, the owners
and grantees of its objects and the roles those are members of, and none of
the others.
"""

from __future__ import annotations

from pathlib import Path

from driftd.config.load import load
from tests.conftest import PgDatabase, Project


def _roles_of(config: Path) -> set[str]:
    return set(load(config).resolve("test").settings.roles)


def test_init_writes_a_config_for_the_roles_that_matter(
    project: Project, pgdb: PgDatabase, tmp_path: Path
) -> None:
    app, reader, group, other = (pgdb.role(s) for s in ("app", "reader", "group", "other"))
    pgdb.execute(
        f"CREATE ROLE {app}; CREATE ROLE {reader}; CREATE ROLE {group}; CREATE ROLE {other};"
        f"GRANT {group} TO {reader};"
        f"CREATE TABLE public.orders (id int); ALTER TABLE public.orders OWNER TO {app};"
        f"GRANT SELECT ON public.orders TO {reader};"
    )
    out = tmp_path / "init.toml"
    res = project.run("init", pgdb.url, "--name", "test", "-o", str(out))
    assert res.exit_code == 0, res.stderr
    text = out.read_text()
    assert "never a password here" in text and "# " in text  # commented
    assert "docs/security.md (Database accounts)" in text  # where the grant is
    roles = _roles_of(out)
    assert {app, reader, group} <= roles
    assert other not in roles  # a role with nothing in this database is noise
    assert not any(r.startswith("pg_") for r in roles)
    # The two commands after it: accept, then a clean check.
    config = ["--config", str(out)]
    from click.testing import CliRunner

    from driftd.cli.main import cli

    runner = CliRunner()
    accept = runner.invoke(cli, [*config, "baseline", "accept", "test"], catch_exceptions=False)
    assert accept.exit_code == 0, accept.stderr
    check = runner.invoke(cli, [*config, "check", "--no-attribution"], catch_exceptions=False)
    assert check.exit_code == 0, check.stdout


def test_init_refuses_what_would_lose_or_leak(
    project: Project, pgdb: PgDatabase, tmp_path: Path
) -> None:
    out = tmp_path / "init.toml"
    out.write_text("# mine\n")
    res = project.run("init", pgdb.url, "--name", "test", "-o", str(out))
    assert res.exit_code == 2 and "exists" in res.stderr and out.read_text() == "# mine\n"
    leaky = pgdb.url.replace("postgres@", "postgres:s3cret@")
    res = project.run("init", leaky, "-o", str(tmp_path / "new.toml"), "--force")
    assert res.exit_code == 2 and "password" in res.stderr and "s3cret" not in res.stderr
    assert not (tmp_path / "new.toml").exists()
    # libpq also reads a password from the query string: refused the same way.
    res = project.run("init", pgdb.url + "?password=s3cret", "-o", str(tmp_path / "new.toml"))
    assert res.exit_code == 2 and "s3cret" not in res.stderr + res.stdout


def test_names_that_could_break_the_config_stay_strings() -> None:
    """A role named with a newline, quotes or a TOML header must not add lines."""
    import tomllib

    from driftd.cli.init_command import Probe, render

    odd = 'x"\n[evil]\nkey = 1 \\ ü'
    probe = Probe("postgresql", "app", [odd, "plain*"], 3, [f"rds{odd}"])
    data = tomllib.loads(render("prod", "postgresql+psycopg://u@db/app", None, probe))
    assert "evil" not in data
    import fnmatch

    roles = data["environments"]["prod"]["roles"]
    assert fnmatch.fnmatchcase(odd, roles[0]) and roles[1] == "plain[*]"  # globs of the name
    assert not fnmatch.fnmatchcase("plainX", roles[1])


def test_init_for_mariadb_points_to_the_grant(tmp_path: Path) -> None:
    """init probes PostgreSQL only; for a MariaDB URL it says where the grant is."""
    from click.testing import CliRunner

    from driftd.cli.main import cli

    out = tmp_path / "init.toml"
    res = CliRunner().invoke(
        cli, ["init", "mysql+pymysql://driftd@db.internal/app", "-o", str(out)]
    )
    assert res.exit_code == 2 and not out.exists()
    assert "PostgreSQL only" in res.stderr and "docs/security.md" in res.stderr, res.stderr
