"""Config loading: every mistake gives one clear error naming the key (and line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftd.config import find_config
from driftd.config.load import load, parse
from driftd.errors import ConfigError

GOOD = """
[driftd]
baselines_dir = "bl"

[environments.prod]
url = "postgresql+psycopg://driftd@db.internal:5432/app"
password_env = "DRIFTD_TEST_PW"
schedule = "*/5 * * * *"
audit = ["pga"]
alerts = ["oncall"]
ignore = ["role:rds*", "table:public.*#comment"]

[audit.pga]
type = "pgaudit"
path = "/var/log/postgresql/postgresql-15-main.log"

[alerts.oncall]
type = "slack"
webhook_url_env = "SLACK_WEBHOOK_URL"
min_severity = "high"
"""


def _err(text: str, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text, tmp_path / "driftd.toml")
    return str(info.value)


def test_good_config_loads(tmp_path: Path) -> None:
    cfg = parse(GOOD, tmp_path / "driftd.toml")
    assert cfg.baselines_dir == tmp_path / "bl"
    assert cfg.resolve("prod").baseline_path == tmp_path / "bl" / "prod.json"
    assert cfg.environments["prod"].statement_timeout == 30.0


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    text = GOOD.replace('schedule = "*/5 * * * *"', 'schedul = "5m"')
    msg = _err(text, tmp_path)
    assert "environments.prod.schedul" in msg
    assert "unknown key" in msg
    assert "driftd.toml:8" in msg


def test_wrong_type(tmp_path: Path) -> None:
    msg = _err(
        GOOD.replace('ignore = ["role:rds*", "table:public.*#comment"]', "ignore = 3"), tmp_path
    )
    assert "environments.prod.ignore" in msg


def test_bad_schedule(tmp_path: Path) -> None:
    msg = _err(GOOD.replace('"*/5 * * * *"', '"every five minutes"'), tmp_path)
    assert "environments.prod.schedule" in msg and "cron" in msg


def test_missing_reference(tmp_path: Path) -> None:
    msg = _err(GOOD.replace('alerts = ["oncall"]', 'alerts = ["pager"]'), tmp_path)
    assert "[alerts.pager]" in msg and "not defined" in msg


def test_environment_without_url(tmp_path: Path) -> None:
    msg = _err("[environments.prod]\nschedule = '5m'\n", tmp_path)
    assert "environments.prod" in msg and "URL" in msg


def test_password_in_url_is_refused_and_not_echoed(tmp_path: Path) -> None:
    msg = _err("[environments.prod]\nurl = 'postgresql://u:hunter2@h/db'\n", tmp_path)
    assert "password_env" in msg
    assert "hunter2" not in msg


def test_bad_toml_syntax(tmp_path: Path) -> None:
    msg = _err("[environments.prod\nurl = 1\n", tmp_path)
    assert "not valid TOML" in msg and "line 1" in msg


def test_bad_object_glob(tmp_path: Path) -> None:
    msg = _err(GOOD.replace('"role:rds*", ', '"rds*", '), tmp_path)
    assert "'rds*' is not an object glob" in msg


def test_secret_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse(GOOD, tmp_path / "driftd.toml")
    with pytest.raises(ConfigError, match="DRIFTD_TEST_PW is not set"):
        cfg.resolve("prod").database_url()
    monkeypatch.setenv("DRIFTD_TEST_PW", "s3cret")
    assert "s3cret" in cfg.resolve("prod").database_url()
    assert "s3cret" not in cfg.resolve("prod").display_url()

    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "prod").write_text("fromfile\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    text = GOOD.replace(
        'password_env = "DRIFTD_TEST_PW"', 'password_file = "${CREDENTIALS_DIRECTORY}/prod"'
    )
    cfg = parse(text, tmp_path / "driftd.toml")
    assert ":fromfile@" in cfg.resolve("prod").database_url()


def test_missing_secret_file(tmp_path: Path) -> None:
    text = GOOD.replace('password_env = "DRIFTD_TEST_PW"', 'password_file = "nope"')
    cfg = parse(text, tmp_path / "driftd.toml")
    with pytest.raises(ConfigError, match="cannot read secret file"):
        cfg.resolve("prod").database_url()


def test_config_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DRIFTD_CONFIG", raising=False)
    assert find_config("x.toml") == Path("x.toml")
    monkeypatch.setenv("DRIFTD_CONFIG", "/elsewhere.toml")
    assert find_config(None) == Path("/elsewhere.toml")
    monkeypatch.delenv("DRIFTD_CONFIG")
    (tmp_path / "driftd.toml").write_text("")
    assert find_config(None) == Path("./driftd.toml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "nope.toml")


def test_example_config_is_valid() -> None:
    cfg = load(Path(__file__).parent.parent / "config.example.toml")
    assert "demo" in cfg.environments


def test_example_config_commented_examples_are_valid() -> None:
    """Uncommenting the example's commented settings gives a valid config too."""
    import re

    text = (Path(__file__).parent.parent / "config.example.toml").read_text()
    uncommented = re.sub(r'^# ?(?=\[|[a-z_\-]+ += |\s*"|\s*\])', "", text, flags=re.M)
    assert uncommented.count("\n#") < text.count("\n#")
    cfg = parse(uncommented, Path(__file__).parent.parent / "config.example.toml")
    assert sorted(cfg.environments) == ["demo", "prod"]
    assert sorted(cfg.audit) == ["hoop-prod", "pgaudit-prod"]
    assert sorted(cfg.alerts) == ["oncall", "pager"]
    assert cfg.rules.severity == {"index-added": "info", "comment-changed": "off"}
    assert [r.name for r in cfg.rules.custom] == ["audit-schema-is-sacred"]
