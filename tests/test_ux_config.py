"""A config that helps (issue 13): did-you-mean for unknown keys and sections with
their line, an unset ${VAR} in a path is an error naming it, and an ignore pattern
that matches nothing in the baseline is a warning of `config validate`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from driftd.config import load as cfg
from driftd.errors import ConfigError
from tests.conftest import PgDatabase, Project

TYPOS = """
[driftd]
baselines_dirr = "b"

[environment.a]
url = "sqlite:///a.db"

[environments.b]
url = "sqlite:///b.db"
schedul = "5m"

[[rules.custom]]
name = "x"
severity = "low"
objct = "table:*"
"""


def parse_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "driftd.toml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        cfg.parse(path.read_text(), path)
    return info.value.message


def test_unknown_keys_and_sections_suggest_the_known_one(tmp_path: Path) -> None:
    lines = parse_error(tmp_path, TYPOS).splitlines()
    assert lines[0] == "invalid configuration"
    where = str(tmp_path / "driftd.toml")
    assert (
        f"{where}:3: driftd.baselines_dirr: unknown key; did you mean 'driftd.baselines_dir'?"
        in lines
    )
    assert (
        f"{where}:10: environments.b.schedul: unknown key; did you mean 'environments.b.schedule'?"
        in lines
    )
    assert (
        f"{where}:15: rules.custom.0.objct: unknown key; did you mean 'rules.custom.0.object'?"
        in lines
    )
    assert f"{where}:5: environment: unknown section; did you mean 'environments'?" in lines
    nothing_close = parse_error(tmp_path, "[driftd]\nzzz = 1\n")
    assert (
        "driftd.zzz: unknown key (check the spelling against config.example.toml)" in nothing_close
    )


def test_unset_variable_in_a_path_is_an_error_naming_it(
    project: Project, pgdb: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"

        [environments.test]
        url = "{pgdb.url}"
        password_file = "${{CREDENTIALS_DIRECTORY}}/pg-password"
        """
    )
    res = project.run("check")
    assert res.exit_code == 2
    assert (
        "environments.test.password_file: '${CREDENTIALS_DIRECTORY}/pg-password' uses "
        "${CREDENTIALS_DIRECTORY}, which is not set" in res.stdout
    ), res.stdout
    validate = project.run("config", "validate")  # outside systemd: a warning there
    assert validate.exit_code == 0
    assert "warning: environments.test.password_file: " in validate.stderr
    # Set, it is expanded: the secret file is read from there.
    creds = project.root / "creds"
    creds.mkdir()
    (creds / "pg-password").write_text("unused-with-trust\n")
    res = project.run("snapshot", "test", env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert res.exit_code == 0, res.stderr
    project.write_config(
        f'[driftd]\nbaselines_dir = "$NO_SUCH_DIR_VAR/b"\n[environments.test]\nurl = "{pgdb.url}"\n'
    )
    res = project.run("check")
    assert res.exit_code == 2
    assert "driftd.baselines_dir: '$NO_SUCH_DIR_VAR/b' uses ${NO_SUCH_DIR_VAR}" in res.stderr


def test_ignore_that_matches_nothing_is_a_warning(project: Project, pgdb: PgDatabase) -> None:
    pgdb.execute("CREATE TABLE public.orders (id int, note text)")
    assert project.run("baseline", "accept", "test").exit_code == 0
    project.write_config(
        project.config.read_text() + 'ignore = ["table:public.order*", "table:public.ordres", '
        '"table:public.orders#columns.note", "table:public.orders#colums.*"]\n'
    )
    res = project.run("config", "validate")
    assert res.exit_code == 0, res.stderr
    warned = [line for line in res.stderr.splitlines() if ".ignore:" in line]
    assert len(warned) == 2, res.stderr
    assert "'table:public.ordres' matches nothing in the baseline" in warned[0]
    assert "'table:public.orders#colums.*' matches nothing" in warned[1]
