"""Diff granularity, severity rules, ignore globs and drift ids (pure data in, items out)."""

from __future__ import annotations

import copy
from typing import Any

from driftd.check import evaluate
from driftd.config import CustomRule
from driftd.config import Rules as RulesConfig
from driftd.diff import diff_objects
from driftd.diff.filters import IgnoreRule, KeyFilter
from driftd.drift import DriftItem
from driftd.rules import RuleSet

TABLE: dict[str, Any] = {
    "owner": "app",
    "comment": None,
    "rls": {"enabled": True, "forced": False},
    "columns": {
        "id": {"type": "bigint", "nullable": False, "default": None, "comment": None},
        "email": {"type": "text", "nullable": True, "default": None, "comment": None},
    },
    "indexes": {},
    "policies": {
        "own_rows": {"command": "ALL", "roles": ["PUBLIC"], "using": "(owner = CURRENT_USER)"}
    },
    "grants": {"app": ["DELETE", "INSERT", "SELECT", "UPDATE"], "reporting": ["SELECT"]},
    "column_grants": {},
}
ROLE: dict[str, Any] = {
    "superuser": False,
    "bypassrls": False,
    "replication": False,
    "login": True,
    "member_of": {},
}


def snap(objects: dict[str, Any]) -> dict[str, Any]:
    return {"format": "driftd.snapshot/1", "environment": "prod", "engine": {}, "objects": objects}


def base() -> dict[str, Any]:
    return {"table:public.customers": copy.deepcopy(TABLE), "role:alice": copy.deepcopy(ROLE)}


def run(
    live: dict[str, Any], rules: RulesConfig | None = None, ignore: list[str] | None = None
) -> list[DriftItem]:
    return evaluate(
        "prod",
        snap(base()),
        snap(live),
        RuleSet(rules),
        [IgnoreRule.parse(g) for g in ignore or []],
    )


def one(live: dict[str, Any], **kw: Any) -> DriftItem:
    items = run(live, **kw)
    assert len(items) == 1, items
    return items[0]


def test_unchanged_is_clean() -> None:
    assert run(base()) == []


def test_grant_to_public_is_critical_with_design_shape() -> None:
    live = base()
    live["table:public.customers"]["grants"]["PUBLIC"] = ["SELECT"]
    item = one(live)
    assert (item.change, item.path, item.before, item.after) == (
        "modified",
        ["grants", "PUBLIC"],
        None,
        ["SELECT"],
    )
    assert item.severity == "critical"
    assert item.rules[0] == "grant-to-public"
    assert len(item.id) == 16


def test_ids_are_stable_and_depend_on_after() -> None:
    live = base()
    live["table:public.customers"]["grants"]["reporting"] = ["INSERT", "SELECT"]
    a, b = one(live), one(copy.deepcopy(live))
    assert a.id == b.id
    live["table:public.customers"]["grants"]["reporting"] = ["SELECT", "UPDATE"]
    assert one(live).id != a.id
    assert one(live).severity == "high"
    assert one(live).rules == ["grant-changed"]


def test_list_changes_are_reported_whole() -> None:
    live = base()
    live["table:public.customers"]["grants"]["app"] = ["INSERT", "SELECT"]
    item = one(live)
    assert item.path == ["grants", "app"]
    assert item.before == ["DELETE", "INSERT", "SELECT", "UPDATE"]


def test_superuser_and_new_superuser_role() -> None:
    live = base()
    live["role:alice"]["superuser"] = True
    live["role:mallory"] = {**ROLE, "superuser": True}
    items = {i.object: i for i in run(live)}
    assert items["role:alice"].severity == "critical" and items["role:alice"].path == ["superuser"]
    assert items["role:mallory"].change == "added"
    assert items["role:mallory"].rules[0] == "superuser-granted"


def test_rls_disabled_and_policy_dropped() -> None:
    live = base()
    live["table:public.customers"]["rls"]["enabled"] = False
    del live["table:public.customers"]["policies"]["own_rows"]
    items = {tuple(i.path): i for i in run(live)}
    assert items[("rls", "enabled")].severity == "critical"
    assert items[("policies", "own_rows")].severity == "high"
    assert items[("policies", "own_rows")].rules == ["policy-dropped"]


def test_dropped_table_and_column() -> None:
    live = base()
    del live["table:public.customers"]["columns"]["email"]
    item = one(live)
    assert (item.path, item.severity, item.rules) == (
        ["columns", "email"],
        "high",
        ["column-dropped"],
    )
    live = base()
    del live["table:public.customers"]
    item = one(live)
    assert (item.change, item.path, item.severity) == ("removed", [], "critical")


def test_new_column_is_medium_new_index_and_comment_low() -> None:
    live = base()
    live["table:public.customers"]["columns"]["note"] = {"type": "text"}
    assert one(live).severity == "medium"
    assert one(live).rules == ["schema-change"]
    live = base()
    live["table:public.customers"]["indexes"]["ix"] = {"definition": "CREATE INDEX ix ..."}
    assert one(live).severity == "low"
    live = base()
    live["table:public.customers"]["columns"]["email"]["comment"] = "PII"
    item = one(live)
    assert (item.path, item.severity) == (["columns", "email", "comment"], "low")


def test_security_definer_function() -> None:
    live = base()
    live["function:public.f()"] = {"security_definer": True, "grants": {"PUBLIC": ["EXECUTE"]}}
    item = one(live)
    # PUBLIC EXECUTE is PostgreSQL's default for a new function: not a grant-to-public.
    assert item.rules == ["security-definer"]
    assert item.severity == "high"


def test_new_table_granted_to_public() -> None:
    live = base()
    live["table:public.t"] = {"grants": {"PUBLIC": ["SELECT"]}}
    assert one(live).severity == "critical"


def test_default_privileges_to_public() -> None:
    b = base()
    b["schema:public"] = {"default_privileges": {}}
    live = copy.deepcopy(b)
    live["schema:public"]["default_privileges"] = {"app": {"tables": {"PUBLIC": ["SELECT"]}}}
    items = evaluate("prod", snap(b), snap(live), RuleSet(), [])
    assert [i.severity for i in items] == ["critical"]


def test_severity_override_and_off() -> None:
    live = base()
    live["table:public.customers"]["grants"]["PUBLIC"] = ["SELECT"]
    item = one(live, rules=RulesConfig(severity={"grant-to-public": "low"}))
    # grant-changed (high) still applies: the highest matching rule wins.
    assert item.severity == "high"
    item = one(
        live, rules=RulesConfig(severity={"grant-to-public": "off", "grant-changed": "info"})
    )
    assert (item.severity, item.rules) == ("info", ["grant-changed"])


def test_custom_rule_decides() -> None:
    live = base()
    live["table:public.customers"]["columns"]["note"] = {"type": "text"}
    rules = RulesConfig(
        custom=[
            CustomRule(name="pii", object="table:public.cust*", path="columns", severity="critical")
        ]
    )
    item = one(live, rules=rules)
    assert (item.severity, item.rules) == ("critical", ["pii"])


def test_ignore_object_and_path() -> None:
    live = base()
    live["table:public.customers"]["comment"] = "x"
    live["table:public.customers"]["columns"]["email"]["comment"] = "y"
    live["role:rdsadmin"] = ROLE
    assert len(run(live)) == 3
    assert len(run(live, ignore=["role:rds*"])) == 2
    remaining = run(live, ignore=["role:rds*", "table:public.*#comment"])
    assert [i.path for i in remaining] == [["columns", "email", "comment"]]
    assert run(live, ignore=["role:rds*", "table:*#comment", "table:*#columns.*.comment"]) == []
    # A path rule never hides a whole object.
    live2 = base()
    live2["table:public.new"] = {}
    assert len(run(live2, ignore=["table:*#comment"])) == 1


def test_key_filter() -> None:
    f = KeyFilter(include=("table:*", "role:*"), exclude=("table:public.tmp_*",))
    assert f.wants("table:public.orders")
    assert not f.wants("table:public.tmp_1")
    assert not f.wants("view:public.v")


def test_diff_detects_type_sensitive_changes() -> None:
    items = diff_objects({"setting:x": {"value": 1}}, {"setting:x": {"value": True}})
    assert len(items) == 1


def test_a_context_rule_reads_the_live_publications_and_survives_re_rating() -> None:
    from driftd.rules import RuleSet

    live = {"publication:out": {"all_tables": False, "tables": ["app.t"], "schemas": []}}

    def item(key: str) -> DriftItem:
        return DriftItem(
            object=key, change="modified", path=["replica_identity"], before=None, after="nothing"
        )

    published, other = item("table:app.t"), item("table:app.u")
    rules = RuleSet()
    rules.apply(published, live)
    rules.apply(other, live)
    assert (published.severity, published.rules) == ("high", ["published-replica-identity"])
    assert other.severity == "medium" and "published-replica-identity" not in other.rules
    rules.after_attribution([published, other])  # re-rated without the snapshot: kept
    assert published.severity == "high"
    every = item("table:app.x")
    rules.apply(every, {"publication:all": {"all_tables": True}})  # FOR ALL TABLES
    assert every.severity == "high"
