"""``[alerts.NAME]`` validation, warnings, the outbox migration, and the docs' examples."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from driftd import alerts
from driftd.alerts import examples
from driftd.alerts.model import Delivery
from driftd.config import load as cfg
from driftd.errors import ConfigError
from driftd.store import migrate, open_store
from driftd.store.models import Base
from tests.daemon_support import StateDB, statedb_fixture  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent
HEAD = """
[environments.prod]
url = "sqlite:///app.db"
alerts = ["s"]
"""


def errors(tmp_path: Path, table: str) -> str:
    """The message the config loader prints for ``table`` (validated as at load)."""
    text = textwrap.dedent(HEAD) + textwrap.dedent(table)
    path = tmp_path / "driftd.toml"
    with pytest.raises(ConfigError) as err:  # each sink type's own keys, checked at load
        cfg.parse(text, path)
    return err.value.message


def test_unknown_key_names_the_key_and_line(tmp_path: Path) -> None:
    message = errors(
        tmp_path,
        """
        [alerts.s]
        type = "slack"
        webhook_url_env = "SLACK_URL"
        min_severty = "high"
        """,
    )
    assert "driftd.toml:9: alerts.s.min_severty: unknown key" in message


def test_secrets_in_the_file_are_refused(tmp_path: Path) -> None:
    message = errors(
        tmp_path,
        """
        [alerts.s]
        type = "slack"
        webhook_url = "https://hooks.slack.com/services/T/B/X"
        """,
    )
    assert "secrets never live in the config file; set webhook_url_env or webhook_url_file" in (
        message
    )
    message = errors(
        tmp_path,
        '[alerts.s]\ntype = "pagerduty"\nrouting_key = "abc"\n',
    )
    assert "routing_key_env or routing_key_file" in message


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('type = "slack"', "the webhook URL is required: set webhook_url_env or webhook_url_file"),
        ('type = "pagerduty"', "the routing key is required"),
        ('type = "webhook"\nurl = "https://x"\nurl_env = "U"', "set only one of url, url_env"),
        ('type = "webhook"\nurl = "ftp://x"', "must start with http:// or https://"),
        ('type = "email"\nhost = "h"\nfrom = "a@b"\nto = []', "alerts.s.to"),
        ('type = "sns"\ntopic_arn = "my-topic"', "is not an SNS topic ARN"),
        ('type = "teams"', "alerts.s.type: Input should be 'slack', 'pagerduty'"),
        ('type = "slack"\nwebhook_url_env = "U"\nmin_severity = "urgent"', "alerts.s.min_severity"),
        ('type = "slack"\nwebhook_url_env = "U"\ntimeout = "soon"', "is not a duration"),
        (
            'type = "webhook"\nurl = "https://x"\nheaders = { X-Driftd-Signature = "x" }',
            "is set by driftd and cannot be overridden",
        ),
        (
            'type = "webhook"\nurl = "https://x"\nheaders_env = { Webhook-Signature = "S" }',
            "is set by driftd and cannot be overridden",
        ),
        ('type = "webhook"\nurl = "https://x"\nsignature = "sha1"', "alerts.s.signature"),
        (
            'type = "alertmanager"\nurl = "http://am:9093"\nlabels = { "team-name" = "x" }',
            "driftd.toml:8: alerts.s.labels: label name 'team-name' is not valid in Alertmanager",
        ),
        ('type = "alertmanager"\nurl = ["http://am:9093", 3]', "alerts.s.url"),
    ],
)
def test_bad_sinks(tmp_path: Path, table: str, expected: str) -> None:
    assert expected in errors(tmp_path, "[alerts.s]\n" + table + "\n")


def test_warnings(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """
        [environments.prod]
        url = "sqlite:///app.db"
        alerts = ["used", "elsewhere"]

        [alerts.used]
        type = "slack"
        webhook_url_env = "DRIFTD_TEST_UNSET_VARIABLE"

        [alerts.elsewhere]
        type = "webhook"
        url = "https://x"
        environments = ["staging*"]
        secret_file = "missing-secret"

        [alerts.spare]
        type = "webhook"
        url = "https://x"
        """
    )
    config = cfg.parse(text, tmp_path / "driftd.toml")
    alerts.validate(config)
    assert alerts.warnings(config) == [
        "alerts.used.webhook_url_env: environment variable DRIFTD_TEST_UNSET_VARIABLE is not set",
        "alerts.elsewhere: its environments filter excludes every environment that lists it (prod)",
        "alerts.elsewhere.secret_file: secret file missing-secret does not exist",
        "alerts.spare is not used by any environment (add it to an alerts list)",
    ]


def test_unknown_sink_name(tmp_path: Path) -> None:
    config = cfg.parse(
        '[alerts.s]\ntype = "webhook"\nurl = "https://x"\n', tmp_path / "driftd.toml"
    )
    with pytest.raises(ConfigError, match=r"no alert sink \[alerts.nope\].*defined: s"):
        alerts.sink(config, "nope")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_matches_the_model(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = "sqlite:///state.db" if backend == "sqlite" else request.getfixturevalue("statedb").url
    config = cfg.parse(f'[driftd]\nstate_url = "{url}"\n', tmp_path / "driftd.toml")
    store = open_store(config, migrate=True)
    try:
        with store.engine.connect() as conn:
            assert migrate.current(conn) == migrate.head()
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        ours = [d for d in diff if Delivery.__tablename__ in str(d)]
        assert ours == [], "driftd.alerts.model and migration 0002 disagree"
    finally:
        store.close()


def test_docs_examples_are_current() -> None:
    for doc in ("docs/alerts.md", "README.md"):
        text = (ROOT / doc).read_text()
        assert examples.update(text, examples.render()) == text, (
            f"{doc} is stale: run `python -m driftd.alerts.examples {doc}`"
        )
    text = (ROOT / "docs" / "alerts.md").read_text()
    for name in examples.render():
        assert f"<!-- example:{name} -->" in text
    # docs/alerts.md shows a real message of every sink type; the README, one.
    for sink in ("slack", "pagerduty", "webhook", "email", "sns", "alertmanager"):
        assert f"<!-- example:{sink}-" in text
    assert "<!-- example:slack-opened -->" in (ROOT / "README.md").read_text()
