"""Hostile input and secrets (issue 17): names from a database never drive a terminal,
Slack or email; secrets never sit in the config file or its output; files are private."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PgDatabase, Project

# Names an attacker who may create tables or roles could pick.
HOSTILE_TABLES = {
    "red": "red\x1b[31mRED",
    "clear": "clr\x1b[2J\x1b[H",
    "osc8": "lnk\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "bidi": "bidi\u202egnp.exe",
    "newline": "two\nlines",
    "markup": "[bold red]markup[/bold red]",
}
RAW_BAD = ("\x1b", "\u202e", "\x07")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _assert_safe(text: str) -> None:
    for bad in RAW_BAD:
        assert bad not in text, f"raw {bad!r} reached the output: {text!r}"


@pytest.fixture
def hostile(project: Project, pgdb: PgDatabase) -> tuple[Project, str]:
    project.write_config(
        f"""
        [driftd]
        baselines_dir = "baselines"
        state_url = "sqlite:///state.db"
        http_listen = ""

        [environments.test]
        url = "{pgdb.url}"
        roles = ["{pgdb.prefix}*"]
        """
    )
    pgdb.execute("CREATE TABLE public.plain (id int)")
    assert project.run("baseline", "accept", "test").exit_code == 0
    role = pgdb.role("r\x1b[31m\u202e")
    sql = [f"CREATE TABLE public.{_ident(n)} (id int)" for n in HOSTILE_TABLES.values()]
    sql.append(f"CREATE ROLE {_ident(role)}")
    pgdb.execute("; ".join(sql))
    return project, role


def test_check_text_shows_hostile_names_as_visible_escapes(hostile: tuple[Project, str]) -> None:
    project, role = hostile
    res = project.run("check", "test")
    assert res.exit_code == 1, res.stderr
    _assert_safe(res.stdout)
    out = res.stdout
    assert "red\\x1b[31mRED" in out
    assert "bidi\\u202egnp.exe" in out
    assert "two\\nlines" in out  # one row, the newline visible
    assert "[bold red]markup[/bold red]" in out  # markup printed, not applied
    assert "lnk\\x1b]8;;http://evil.example/" in out
    # JSON keeps the exact names.
    data = json.loads(project.run("check", "test", "--format", "json").stdout)
    objects = {i["object"] for i in data["environments"][0]["drift"]}
    assert f'table:public."{HOSTILE_TABLES["red"]}"' in objects or any(
        HOSTILE_TABLES["red"] in o for o in objects
    )
    assert any(HOSTILE_TABLES["bidi"] in o for o in objects)
    assert any(role in o for o in objects)


def test_run_once_history_explain_status_are_safe(hostile: tuple[Project, str]) -> None:
    project, _role = hostile
    res = project.run("run", "--once")
    assert res.exit_code == 1, res.stderr
    _assert_safe(res.stdout)
    assert "red\\x1b[31mRED" in res.stdout
    hist = project.run("history", "test")
    assert hist.exit_code == 0, hist.stderr
    _assert_safe(hist.stdout)
    status = project.run("status")
    _assert_safe(status.stdout)
    items = json.loads(project.run("check", "test", "--format", "json").stdout)
    for item in items["environments"][0]["drift"]:
        shown = project.run("explain", item["id"])
        assert shown.exit_code == 0, shown.stderr
        _assert_safe(shown.stdout)
        raw = json.loads(project.run("explain", item["id"], "--format", "json").stdout)
        assert raw["object"] == item["object"]


def _event() -> Any:
    from driftd.alerts.events import AlertEvent

    item = {
        "id": "5f0c9a1e2b7d4c3a",
        "object": "table:public." + HOSTILE_TABLES["osc8"],
        "kind": "table",
        "change": "modified",
        "path": ["grants", "bob\u202e"],
        "before": None,
        "after": ["SELECT\x1b[2J"],
        "severity": "high",
        "rules": [],
        "attribution": [
            {
                "source": "pgaudit",
                "actor": "mallory\x1b[31m",
                "db_user": "mallory\nroot",
                "at": "2026-11-22T09:58:12Z",
                "statement": "GRANT SELECT ON t TO \x1b]8;;http://x/\x1b\\y",
            }
        ],
    }
    return AlertEvent.for_drift("opened", "prod", [item], at=datetime.now(UTC))


def test_slack_and_email_bodies_are_safe() -> None:
    from driftd.alerts import email, slack, text

    event = _event()
    _assert_safe(json.dumps(slack.message(event), ensure_ascii=False))
    _assert_safe(text.plain(event))
    _assert_safe(email.html_body(event))
    assert "\\x1b]8;;http://evil.example/" in text.plain(event)
    assert "mallory\\nroot" in text.plain(event)
    err = _error_event('relation "a\x1b[31m" is locked\nDETAIL: held by pid 7')
    body = text.plain(err)
    _assert_safe(body)
    assert "DETAIL: held by pid 7" in body  # lines of an error are kept
    _assert_safe(json.dumps(slack.message(err), ensure_ascii=False))
    _assert_safe(email.html_body(err))


def _error_event(message: str) -> Any:
    from driftd.alerts.events import AlertEvent

    return AlertEvent(
        kind="environment_error",
        environment="prod",
        at=datetime.now(UTC),
        error=message,
        consecutive_errors=3,
    )


# -- secrets ----------------------------------------------------------------------------

SECRET_VALUES = {
    "S17_DB_PASSWORD": "dbpw-Zq81x",
    "S17_STATE_PASSWORD": "statepw-Kx02",
    "S17_HOOP_TOKEN": "hooptok-Mv55",
    "S17_SLACK_URL": "https://hooks.slack.example/services/T1/B2/slacksecret99",
    "S17_PD_KEY": "pdkey-Rr77aa",
    "S17_HOOK_SECRET": "whsec-Ttt444",
    "S17_HOOK_HEADER": "Bearer hdr-Qq31",
    "S17_SMTP_PASSWORD": "smtppw-Hh12",
    "S17_AM_TOKEN": "amtok-Yy90",
    "AWS_SECRET_ACCESS_KEY": "awssecret-Pp65",
    "AWS_ACCESS_KEY_ID": "AKIAS17TESTKEY",
}

ALL_SECRETS_CONFIG = """
[driftd]
state_url = "postgresql://driftd@127.0.0.1:5432/driftd_state"
state_password_env = "S17_DB_PASSWORD"
http_listen = ""

[environments.prod]
url = "postgresql+psycopg://app@127.0.0.1:5432/app"
password_env = "S17_DB_PASSWORD"
audit = ["hoop", "trail"]
alerts = ["slack", "pd", "hook", "mail", "am", "sns"]

[audit.hoop]
type = "hoop"
url = "https://hoop.example"
token_env = "S17_HOOP_TOKEN"
connection = "prod"

[audit.trail]
type = "cloudtrail"
region = "eu-west-1"

[alerts.slack]
type = "slack"
webhook_url_env = "S17_SLACK_URL"

[alerts.pd]
type = "pagerduty"
routing_key_env = "S17_PD_KEY"

[alerts.hook]
type = "webhook"
url = "https://hooks.example/driftd"
secret_env = "S17_HOOK_SECRET"
headers_env = {Authorization = "S17_HOOK_HEADER"}

[alerts.mail]
type = "email"
host = "smtp.example"
username = "driftd"
password_env = "S17_SMTP_PASSWORD"
from = "driftd@example.com"
to = ["oncall@example.com"]

[alerts.am]
type = "alertmanager"
url = ["http://am.example:9093"]
bearer_token_env = "S17_AM_TOKEN"

[alerts.sns]
type = "sns"
topic_arn = "arn:aws:sns:eu-west-1:123456789012:driftd"
"""


def _write(tmp_path: Path, text: str) -> Project:
    project = Project(root=tmp_path, config=tmp_path / "driftd.toml")
    project.config.write_text(text)
    return project


def test_config_show_and_validate_never_print_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(name, value)
    project = _write(tmp_path, ALL_SECRETS_CONFIG)
    shown = project.run("config", "show")
    assert shown.exit_code == 0, shown.stderr
    valid = project.run("config", "validate")
    assert valid.exit_code == 0, valid.stderr
    for res in (shown, valid):
        for value in SECRET_VALUES.values():
            assert value not in res.stdout + res.stderr
    data = json.loads(shown.stdout)
    assert data["alerts"]["hook"]["secret_env"] == "S17_HOOK_SECRET"  # where, not what


@pytest.mark.parametrize(
    ("table", "key", "instead"),
    [
        (
            '[driftd]\nstate_url = "postgresql://driftd:pw17@db/state"\n',
            "driftd.state_url",
            "state_password_env",
        ),
        (
            '[environments.prod]\nurl = "postgresql://app:pw17@db/app"\n',
            "environments.prod.url",
            "password_env",
        ),
        (
            '[audit.hoop]\ntype = "hoop"\nurl = "https://u:pw17@hoop.example"\n'
            'token_env = "T"\nconnection = "prod"\n',
            "audit.hoop.url",
            "token_env",
        ),
        (
            '[alerts.hook]\ntype = "webhook"\nurl = "https://u:pw17@hooks.example/x"\n',
            "alerts.hook.url",
            "url_env",
        ),
        (
            '[alerts.am]\ntype = "alertmanager"\nurl = ["http://u:pw17@am:9093"]\n',
            "alerts.am.url",
            "bearer_token_env",
        ),
        (
            '[alerts.sns]\ntype = "sns"\ntopic_arn = "arn:aws:sns:eu-west-1:123456789012:d"\n'
            'endpoint_url = "https://AKIA:pw17@sns.example"\n',
            "alerts.sns.endpoint_url",
            "_env",
        ),
    ],
)
def test_a_password_in_any_url_is_refused_naming_key_and_home(
    tmp_path: Path, table: str, key: str, instead: str
) -> None:
    base = '[environments.prod]\nurl = "sqlite:///x.db"\n'
    text = table if table.startswith("[environments") else base + table
    project = _write(tmp_path, text)
    for command in (("config", "show"), ("config", "validate")):
        res = project.run(*command)
        assert res.exit_code == 2
        assert "pw17" not in res.stdout + res.stderr
        assert key in res.stderr and instead in res.stderr, res.stderr
        assert "password" in res.stderr or "credentials" in res.stderr


def test_unset_secret_env_names_the_variable(tmp_path: Path) -> None:
    from driftd import alerts
    from driftd.alerts.events import AlertEvent
    from driftd.config.load import parse

    config = parse(
        '[environments.prod]\nurl = "sqlite:///x.db"\nalerts = ["hook"]\n'
        '[alerts.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/x"\n'
        'secret_env = "S17_UNSET_HOOKSEC"\n',
        tmp_path / "driftd.toml",
    )
    sink = alerts.sink(config, "hook")
    event = AlertEvent(kind="test", at=datetime.now(UTC), sink="hook")
    outcome = sink.send(event, "k", datetime.now(UTC))
    assert outcome.result == "retry"
    assert "S17_UNSET_HOOKSEC is not set" in outcome.reason, outcome.reason
    assert "***" not in outcome.reason
