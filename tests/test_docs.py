"""Everything a user can set, run or scrape is documented (as datasette does for its
settings): every config key, CLI command and option, Prometheus metric, sink type
and audit source type. A new one without a line in docs/ fails here.

A key counts as documented when its page names it in backticks (`` `key` ``) or
in a TOML example (comments count); a command when docs/cli.md names it; an
option by its long flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from driftd import alerts
from driftd.attribute import sources as audit
from driftd.config import CustomRule, DriftdSection, Environment, Rules

DOCS = Path(__file__).resolve().parent.parent / "docs"
# Keys every typed table has, documented once on the page's general part.
COMMON_SINK_KEYS = frozenset({"type"})
COMMON_SOURCE_KEYS = frozenset({"type"})


def page(name: str) -> str:
    return (DOCS / name).read_text()


def names_key(text: str, key: str) -> bool:
    """Named in backticks in prose, or as a word in a TOML example (comments included)."""
    if f"`{key}`" in text:
        return True
    toml = "\n".join(re.findall(r"```toml\n(.*?)```", text, re.S))
    return re.search(rf"(?<![\w.\-]){re.escape(key)}(?![\w\-])", toml) is not None


def fields(model: type[BaseModel]) -> Iterator[str]:
    for name, info in model.model_fields.items():
        yield info.alias or name


def undocumented(
    model: type[BaseModel], text: str, skip: frozenset[str] = frozenset()
) -> list[str]:
    return [k for k in fields(model) if k not in skip and not names_key(text, k)]


@pytest.mark.parametrize(
    ("model", "doc"),
    [
        (DriftdSection, "configuration.md"),
        (Environment, "configuration.md"),
        (Rules, "rules.md"),
        (CustomRule, "rules.md"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_every_config_key_is_documented(model: type[BaseModel], doc: str) -> None:
    assert undocumented(model, page(doc)) == [], f"document these keys in docs/{doc}"


def test_every_audit_source_type_and_key_is_documented() -> None:
    text = page("attribution.md")
    for kind, cls in audit.source_types().items():
        assert f"### `{kind}`" in text, f"docs/attribution.md has no section for {kind}"
        missing = undocumented(cls.config_model, text, COMMON_SOURCE_KEYS)
        assert missing == [], f"[audit.*] type {kind}: document {missing}"


def test_every_sink_type_and_key_is_documented() -> None:
    text = page("alerts.md")
    for kind, cls in alerts.sink_types().items():
        assert kind in text.lower(), f"docs/alerts.md does not mention sink type {kind}"
        missing = undocumented(cls.config_model, text, COMMON_SINK_KEYS)
        assert missing == [], f"[alerts.*] type {kind}: document {missing}"


def commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        yield path, cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, path + " ")


def test_every_command_and_option_is_documented() -> None:
    from driftd.cli.main import cli

    text = page("cli.md")
    missing = []
    for path, cmd in commands(cli):
        if path not in text:
            missing.append(path)
        for param in cmd.params:
            if isinstance(param, click.Option):
                longs = [o for o in param.opts if o.startswith("--")]
                if longs and not any(o in text for o in longs):
                    missing.append(f"{path} {longs[0]}")
    for param in cli.params:
        longs = [o for o in getattr(param, "opts", []) if o.startswith("--")]
        if longs and not any(o in text for o in longs):
            missing.append(longs[0])
    assert missing == [], f"document in docs/cli.md: {missing}"


def test_every_metric_is_documented() -> None:
    from prometheus_client import CollectorRegistry

    from driftd.alerts import metrics as alert_metrics
    from driftd.daemon.http import Metrics

    metrics = Metrics()
    registry: CollectorRegistry = metrics.registry
    alert_metrics.register(registry)
    text = page("metrics.md")
    names = {family.name for family in registry.collect() if family.name.startswith("driftd_")}
    assert names, "no driftd metric found: the registry changed shape"
    # prometheus_client drops a counter's _total suffix from the family name.
    missing = sorted(n for n in names if f"`{n}`" not in text and f"`{n}_total`" not in text)
    assert missing == [], f"document these metrics in docs/metrics.md: {missing}"


def test_the_checker_notices_a_missing_key() -> None:
    class Probe(BaseModel):
        documented_key: int = 0
        brand_new_key: int = 0

    assert undocumented(Probe, "`documented_key` does this") == ["brand_new_key"]
