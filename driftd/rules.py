"""Severity rules: how bad is a drift item, and why.

Every built-in rule has a name (reported in the item's ``rules``) and a
default severity that ``[rules.severity]`` can change or turn ``"off"``. An
item's severity is the highest of the rules that match it; an item no rule
matches is a plain ``schema-change`` (medium). ``[[rules.custom]]`` rules
match on object glob, path glob and change; when any custom rule matches,
the custom rules alone decide (so a team can also lower a severity).

Rules may also read the review of an item's best attribution (a hoop session's
approval): the built-in ``unreviewed-access-change`` and the custom rules'
``review`` key. They can only match once the item is attributed, so the check
rates its items again after attribution (``RuleSet.after_attribution``).

A few rules read the live snapshot besides the item (``CONTEXT_RULES``: is this
table published?). The check passes the live objects on the first rating; a
later rating keeps what they matched then.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from driftd.config import Rules as RulesConfig
from driftd.diff.filters import dotted
from driftd.drift import SEVERITY_ORDER, DriftItem, sort_items

# driftd.diff.renames and driftd.kinds are imported where items are rated (below): a
# check whose result is reused builds a RuleSet (refusing unknown rule names), no more.

Predicate = Callable[[DriftItem], bool]

GRANT_FIELDS = ("grants", "column_grants", "default_privileges")
# PUBLIC privileges PostgreSQL gives a new object of these kinds by itself.
PUBLIC_DEFAULTS: dict[str, frozenset[str]] = {
    "function": frozenset({"EXECUTE"}),
    "type": frozenset({"USAGE"}),
    "database": frozenset({"CONNECT", "TEMPORARY"}),
}
# Review statuses (driftd.attribute.sources.hoop) under which an approval was given before the
# session ran; the hoop names are accepted too (events cached by older versions).
APPROVED_REVIEWS = frozenset({"approved", "revoked", "processing", "executed"})


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    matches: Predicate
    description: str


def _field(item: DriftItem) -> str | None:
    return str(item.path[0]) if item.path else None


def _became_true(attribute: str) -> Predicate:
    def check(item: DriftItem) -> bool:
        if item.kind != "role":
            return False
        if item.change == "added":
            return bool((item.after or {}).get(attribute))
        return item.path == [attribute] and item.after is True and item.before is not True

    return check


def _privs(value: Any) -> set[str]:
    return (
        {str(p).removesuffix(" WITH GRANT OPTION") for p in value}
        if isinstance(value, list)
        else set()
    )


def _public_lists(value: Any) -> Iterable[Any]:
    """Every PUBLIC privilege list inside a grants-like structure."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if key == "PUBLIC" and isinstance(sub, list):
                yield sub
            else:
                yield from _public_lists(sub)


def _grant_to_public(item: DriftItem) -> bool:
    if item.change == "added":
        obj = item.after or {}
        defaults = PUBLIC_DEFAULTS.get(item.kind, frozenset())
        lists = [_privs(lst) - defaults for f in GRANT_FIELDS for lst in _public_lists(obj.get(f))]
        return any(lists)
    if item.change != "modified" or _field(item) not in GRANT_FIELDS:
        return False
    if "PUBLIC" in item.path:
        before, after = _privs(item.before), _privs(item.after)
    else:  # a whole grants map (e.g. a column's) appeared or changed
        before = set().union(*map(_privs, _public_lists(item.before)))
        after = set().union(*map(_privs, _public_lists(item.after)))
    return bool(after - before)


def _rls_disabled(item: DriftItem) -> bool:
    return (
        item.kind == "table"
        and item.path in (["rls", "enabled"], ["rls", "forced"])
        and item.before is True
        and item.after is not True
    )


def _policy_dropped(item: DriftItem) -> bool:
    return (
        item.kind == "table"
        and item.path[:1] == ["policies"]
        and (
            (len(item.path) == 2 and item.after is None)
            or (len(item.path) > 2)  # a policy's roles or expressions changed: also weakening risk
        )
    )


def _security_definer(item: DriftItem) -> bool:
    if item.kind != "function":
        return False
    if item.change == "added":
        return bool((item.after or {}).get("security_definer"))
    return item.path == ["security_definer"] and item.after is True


def _dropped(kind: str) -> Predicate:
    return lambda item: item.kind == kind and item.change == "removed"


def _other_dropped(item: DriftItem) -> bool:
    return item.change == "removed" and item.kind not in ("table", "role")


def _column_dropped(item: DriftItem) -> bool:
    return (
        item.path[:1] == ["columns"]
        and len(item.path) == 2
        and item.before is not None
        and item.after is None
    )


def _renamed(item: DriftItem) -> bool:
    from driftd.diff.renames import is_rename

    return item.change == "modified" and is_rename(item.path, item.after)


def _as_dropped(item: DriftItem) -> DriftItem | None:
    """For a rename, the drift item of the drop it may also be; None for other items."""
    from driftd.diff.renames import Rename

    rename = Rename.of(item)
    if rename is None:
        return None
    if rename.section is None:
        return DriftItem(object=rename.old, change="removed", path=[], before={}, after=None)
    path = [rename.section, rename.old]
    return DriftItem(object=item.object, change="modified", path=path, before={}, after=None)


def _grant_changed(item: DriftItem) -> bool:
    return item.change == "modified" and _field(item) in GRANT_FIELDS


def _membership_changed(item: DriftItem) -> bool:
    return item.kind == "role" and _field(item) == "member_of"


def _role_changed(item: DriftItem) -> bool:
    # A role's comment is documentation, rated like any other comment.
    return item.kind == "role" and item.path != ["comment"]


def _index_added(item: DriftItem) -> bool:
    return item.path[:1] == ["indexes"] and len(item.path) == 2 and item.before is None


def _comment_changed(item: DriftItem) -> bool:
    return bool(item.path) and item.path[-1] == "comment"


def best_review(item: DriftItem) -> dict[str, Any] | None:
    """The review of the item's best attribution, when its source knows reviews (hoop)."""
    if not item.attribution:
        return None
    review = item.attribution[0].get("review")
    return review if isinstance(review, dict) else None


def review_approved(review: dict[str, Any]) -> bool:
    return str(review.get("status") or "").lower() in APPROVED_REVIEWS


def _review_matches(item: DriftItem, wanted: str) -> bool:
    review = best_review(item)
    if review is None:
        return False
    return review_approved(review) == (wanted == "approved")


def _access_change(item: DriftItem) -> bool:
    return _grant_changed(item) or _grant_to_public(item) or _role_changed(item)


def _unreviewed_access_change(item: DriftItem) -> bool:
    review = best_review(item)
    return review is not None and not review_approved(review) and _access_change(item)


def _setting_changed(item: DriftItem) -> bool:
    return item.kind == "setting" or _field(item) in ("settings", "config", "role_settings")


BUILTIN: tuple[Rule, ...] = (
    Rule(
        "superuser-granted",
        "critical",
        _became_true("superuser"),
        "a role became superuser, or a superuser role was created",
    ),
    Rule(
        "bypassrls-granted",
        "critical",
        _became_true("bypassrls"),
        "a role may now bypass row-level security",
    ),
    Rule(
        "replication-granted",
        "critical",
        _became_true("replication"),
        "a role may now stream the whole cluster",
    ),
    Rule("grant-to-public", "critical", _grant_to_public, "PUBLIC (every role) gained a privilege"),
    Rule(
        "unreviewed-access-change",
        "critical",
        _unreviewed_access_change,
        "a grant or role change made through a hoop session nobody approved",
    ),
    Rule(
        "rls-disabled",
        "critical",
        _rls_disabled,
        "row-level security was disabled or no longer forced",
    ),
    Rule("table-dropped", "critical", _dropped("table"), "a table was dropped"),
    Rule(
        "policy-dropped",
        "high",
        _policy_dropped,
        "a row-level security policy was dropped or changed",
    ),
    Rule(
        "security-definer",
        "high",
        _security_definer,
        "a function now runs with its owner's privileges",
    ),
    Rule("column-dropped", "high", _column_dropped, "a column was dropped"),
    Rule(
        "object-dropped",
        "high",
        _other_dropped,
        "a view, function, type or other object was dropped",
    ),
    Rule(
        "renamed",
        "high",
        _renamed,
        "an object, column, index, constraint or role was renamed: what names it breaks",
    ),
    Rule("grant-changed", "high", _grant_changed, "privileges or default privileges changed"),
    Rule("membership-changed", "high", _membership_changed, "role membership changed"),
    Rule("role-changed", "high", _role_changed, "a role was created, dropped or altered"),
    Rule(
        "setting-changed", "medium", _setting_changed, "a server, database or role setting changed"
    ),
    Rule("index-added", "low", _index_added, "a new index"),
    Rule("comment-changed", "low", _comment_changed, "a comment changed"),
)
DEFAULT_RULE = Rule("schema-change", "medium", lambda item: True, "any other change")

Objects = dict[str, Any]


@dataclass(frozen=True)
class ContextRule:
    """A rule that also reads the live snapshot's objects."""

    name: str
    severity: str
    matches: Callable[[DriftItem, Objects], bool]
    description: str


def _published(item: DriftItem, objects: Objects) -> bool:
    """The item's table is in a publication (of all tables, its schema, or by name)."""
    from driftd.kinds import KeyError_, parse_key

    try:
        parts = parse_key(item.object).parts
    except KeyError_:
        return False
    if len(parts) != 2:
        return False
    schema, qualified = parts[0], ".".join(parts)
    for key, pub in objects.items():
        if key.startswith("publication:") and isinstance(pub, dict):
            tables, schemas = pub.get("tables") or [], pub.get("schemas") or []
            if pub.get("all_tables") or qualified in tables or schema in schemas:
                return True
    return False


def _published_replica_identity(item: DriftItem, objects: Objects) -> bool:
    return item.kind == "table" and _field(item) == "replica_identity" and _published(item, objects)


CONTEXT_RULES = (
    ContextRule(
        "published-replica-identity",
        "high",
        _published_replica_identity,
        "the replica identity of a published table changed: subscribers get other "
        "UPDATE and DELETE rows, or none (NOTHING)",
    ),
)
# The risk an object kind declares in the kinds registry (driftd.kinds): a new
# publication or foreign server is high, whatever the generic rules say. Its
# severity comes from the declaration; [rules.severity] may fix it or turn it off.
KIND_RULE = "kind-severity"
BUILTIN_NAMES = (
    frozenset(r.name for r in (*BUILTIN, DEFAULT_RULE))
    | frozenset(r.name for r in CONTEXT_RULES)
    | {KIND_RULE}
)


class RuleSet:
    def __init__(self, config: RulesConfig | None = None) -> None:
        config = config or RulesConfig()
        unknown = set(config.severity) - BUILTIN_NAMES
        if unknown:
            from driftd.errors import ConfigError

            raise ConfigError(
                f"rules.severity names unknown rule(s): {', '.join(sorted(unknown))}",
                f"built-in rules: {', '.join(sorted(BUILTIN_NAMES))}",
            )
        self.rules = [
            Rule(r.name, config.severity.get(r.name, r.severity), r.matches, r.description)
            for r in BUILTIN
            if config.severity.get(r.name) != "off"
        ]
        self.context_rules = [
            ContextRule(r.name, config.severity.get(r.name, r.severity), r.matches, r.description)
            for r in CONTEXT_RULES
            if config.severity.get(r.name) != "off"
        ]
        self.kind_severity = config.severity.get(KIND_RULE)  # None: the declaration's
        self.default_severity = config.severity.get(DEFAULT_RULE.name, DEFAULT_RULE.severity)
        if self.default_severity == "off":
            self.default_severity = "info"
        self.custom = config.custom

    def apply(self, item: DriftItem, objects: Objects | None = None) -> None:
        """Set ``item.severity`` and ``item.rules``; ``objects`` (the live snapshot's)
        for the context rules, else what they matched before is kept."""
        from driftd.kinds import default_severity

        path = dotted(item.path)
        custom: list[tuple[str, str]] = [
            (r.name, r.severity)
            for r in self.custom
            if item.change in r.change
            and (r.review is None or _review_matches(item, r.review))
            and fnmatch.fnmatchcase(item.object, r.object)
            and (
                r.path == "*"
                or fnmatch.fnmatchcase(path, r.path)
                or fnmatch.fnmatchcase(path, r.path + ".*")
            )
        ]
        matched = custom or [(r.name, r.severity) for r in self.rules if r.matches(item)]
        dropped = _as_dropped(item) if not custom else None
        if dropped is not None:
            # A rename is told by its body alone: it may be a drop and a new object
            # of the same shape, so it is rated at least as the drop would be.
            matched += [(r.name, r.severity) for r in self.rules if r.matches(dropped)]
        if not custom:
            matched += [
                (r.name, r.severity)
                for r in self.context_rules
                if (r.matches(item, objects) if objects is not None else r.name in item.rules)
            ]
        if not custom and self.kind_severity != "off":
            hint = default_severity(item.kind, item.change, item.path)
            if hint is not None:
                matched.append((KIND_RULE, self.kind_severity or hint))
        if not matched:
            matched = [(DEFAULT_RULE.name, self.default_severity)]
        matched.sort(key=lambda m: SEVERITY_ORDER[m[1]])
        item.severity = matched[0][1]
        item.rules = list(dict.fromkeys(name for name, _ in matched))

    def after_attribution(self, items: list[DriftItem]) -> None:
        """Rate ``items`` again now that they carry their attribution (the rules that
        read the review match only then), and keep them most severe first."""
        for item in items:
            self.apply(item)
        items[:] = sort_items(items)
