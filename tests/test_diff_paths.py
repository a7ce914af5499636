"""driftd.diff: DeepDiff on the changed parts of changed objects, exactly as before.

Two oracles. ``walker`` is the hand-written walk driftd used until DeepDiff
came back (issue 14): the drift items must be exactly its items on any pair of
JSON-like objects, including the cases where plain DeepDiff differs (numbers
of another type inside a list, ``-0.0``). ``oracle`` is plain DeepDiff (tree
view, ``threshold_to_diff_deeper=0``, paths cut at the first list index, the
same before/after filter): the pruning and the list-leaf operator must not
change what DeepDiff reports. Ignore rules given to ``diff_objects`` must hide
exactly what filtering afterwards with ``filters.ignored`` hides.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import NotPresent
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.canonical import dumps
from driftd.diff import _exclude_regex, _same_fields, diff_objects
from driftd.diff.filters import IgnoreRule, dotted, ignored
from driftd.drift import DriftItem
from tests.conftest import examples

# Keys that DeepDiff writes oddly in its paths (quotes, dots, brackets,
# backslashes, a leading "__") are in here on purpose.
KEYS = st.sampled_from(
    [
        "a",
        "b",
        "c",
        "grants",
        "columns",
        "PUBLIC",
        "x y",
        "0",
        "__x",
        "x.y",
        "it's",
        'q"',
        "[a]",
        "b\\",
    ]
)
# Inside a list deepdiff takes numbers of equal value for equal whatever their type
# (1, 1.0 and true): see test_numbers_in_a_list_that_change_type_are_drift. check()
# compares with plain DeepDiff only where no number sits in a list.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 1.0, 2.0]),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["", "SELECT", "SELECT WITH GRANT OPTION", "1", "true"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=5)


def oracle(key: str, old: dict[str, Any], new: dict[str, Any]) -> list[DriftItem]:
    """The deepdiff-based diff of one changed object (driftd before issue 6)."""
    tree = DeepDiff(
        old,
        new,
        threshold_to_diff_deeper=0,
        view="tree",
        verbose_level=2,
        ignore_private_variables=False,  # else DeepDiff skips keys starting with "__"
    )
    paths: dict[tuple[Any, ...], None] = {}
    for nodes in tree.values():
        for node in nodes:
            path = node.path(output_format="list")
            cut = next((i for i, p in enumerate(path) if isinstance(p, int)), len(path))
            paths[tuple(path[:cut])] = None

    def get(value: Any, path: tuple[Any, ...]) -> Any:
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return None if isinstance(value, NotPresent) else value

    items = []
    for path in sorted(paths, key=lambda p: [str(x) for x in p]):
        b, a = get(old, path), get(new, path)
        if dumps(b) != dumps(a):
            items.append(DriftItem(key, "modified", list(path), b, a))
    return items


def walker(key: str, old: dict[str, Any], new: dict[str, Any]) -> list[DriftItem]:
    """The hand-written walk of driftd/diff before issue 14 (commit 76c2ecb)."""
    paths: dict[tuple[Any, ...], None] = {}

    def walk(a: dict[str, Any], b: dict[str, Any], prefix: tuple[Any, ...]) -> None:
        for k in a.keys() | b.keys():
            if k not in a or k not in b:
                paths[(*prefix, k)] = None
                continue
            x, y = a[k], b[k]
            if type(x) is dict and type(y) is dict:
                if x != y or dumps(x) != dumps(y):
                    walk(x, y, (*prefix, k))
            elif type(x) is not type(y) or x != y or dumps(x) != dumps(y):
                paths[(*prefix, k)] = None

    def get(value: Any, path: tuple[Any, ...]) -> Any:
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    if dumps(old) == dumps(new):
        return []
    walk(old, new, ())
    items = []
    for path in sorted(paths, key=lambda p: [str(x) for x in p]):
        b, a = get(old, path), get(new, path)
        if dumps(b) != dumps(a):
            items.append(DriftItem(key, "modified", list(path), b, a))
    return items


def dicts(items: list[DriftItem]) -> list[dict[str, Any]]:
    return [i.__dict__ for i in items]


def check(old: dict[str, Any], new: dict[str, Any]) -> None:
    got = dicts(diff_objects({"table:s.t": old}, {"table:s.t": new}))
    # On purpose, unlike the references: a top-level field only one side has while
    # it is empty is a field of another driftd version, not drift.
    old, new = _same_fields(old, new)
    assert got == dicts(walker("table:s.t", old, new))
    if not _numbers_in_lists(old) and not _numbers_in_lists(new):
        want = oracle("table:s.t", old, new) if dumps(old) != dumps(new) else []
        assert got == dicts(want)


def _numbers_in_lists(value: Any, in_list: bool = False) -> bool:
    """Where plain DeepDiff and driftd part on purpose: 1/true/1.0 inside a list."""
    if isinstance(value, dict):
        return any(_numbers_in_lists(v, in_list) for v in value.values())
    if isinstance(value, list):
        return any(_numbers_in_lists(v, True) for v in value)
    return in_list and isinstance(value, (int, float))


@settings(max_examples=examples(400), deadline=None)
@given(OBJECTS, OBJECTS)
def test_same_items_as_deepdiff_on_any_pair(old: dict[str, Any], new: dict[str, Any]) -> None:
    check(old, new)


@settings(max_examples=examples(400), deadline=None)
@given(OBJECTS, st.data())
def test_same_items_as_deepdiff_on_small_edits(old: dict[str, Any], data: st.DataObject) -> None:
    """Mostly-equal pairs, like a live object next to its baseline."""
    new = copy.deepcopy(old)
    for _ in range(data.draw(st.integers(1, 3))):
        target = new
        while True:
            dicts = [k for k, v in target.items() if isinstance(v, dict)]
            if not dicts or data.draw(st.booleans()):
                break
            target = target[data.draw(st.sampled_from(dicts))]
        action = data.draw(st.sampled_from(["set", "delete", "retype"]))
        key = data.draw(KEYS)
        if action == "delete" and key in target:
            del target[key]
        elif action == "retype" and key in target:
            value = target[key]
            target[key] = [value] if not isinstance(value, list) else {"a": value}
        else:
            target[key] = data.draw(VALUES)
    check(old, new)


def test_type_only_changes_are_drift() -> None:
    check({"a": 1, "b": {"c": 2}}, {"a": True, "b": {"c": 2.0}})
    check({"a": None}, {})  # a key removed whose value was null is no drift


def test_numbers_in_a_list_that_change_type_are_drift() -> None:
    """The one known difference, on purpose: deepdiff misses [1] → [true] and [2] → [2.0].

    Snapshots hold no such lists (privileges, names and labels are strings),
    so reports are the same; but the canonical bytes differ, and so does the
    content hash, so driftd reports the change rather than hide it.
    """
    for old, new in (([1, True], [True, 1]), ([1], [True]), ([2], [2.0])):
        assert oracle("table:s.t", {"c": old}, {"c": new}) == []
        [item] = diff_objects({"table:s.t": {"c": old}}, {"table:s.t": {"c": new}})
        assert (item.path, item.before, item.after) == (["c"], old, new)


def test_float_sign_is_drift() -> None:
    """``-0.0 == 0.0`` in Python (and for DeepDiff), but the canonical bytes differ."""
    [item] = diff_objects({"setting:x": {"v": -0.0}}, {"setting:x": {"v": 0.0}})
    assert (item.path, str(item.before), str(item.after)) == (["v"], "-0.0", "0.0")
    check({"v": -0.0, "w": [0.0]}, {"v": 0.0, "w": [-0.0]})


def test_private_looking_keys_are_compared() -> None:
    """DeepDiff skips keys starting with "__" unless told not to: a column may be called that."""
    [item] = diff_objects(
        {"table:s.t": {"columns": {"__c": {"type": "int"}}}},
        {"table:s.t": {"columns": {"__c": {"type": "text"}}}},
    )
    assert item.path == ["columns", "__c", "type"]


def test_a_whole_list_change_is_one_item_with_both_lists() -> None:
    """Enum labels reordered, a privilege list grown: one item at the list, both lists whole."""
    for old, new in (
        (["happy", "ok", "sad"], ["sad", "ok", "happy"]),
        (["SELECT"], ["INSERT", "SELECT"]),
        (["INSERT", "SELECT"], []),
    ):
        items = diff_objects({"type:s.mood": {"labels": old}}, {"type:s.mood": {"labels": new}})
        assert [(i.path, i.before, i.after) for i in items] == [(["labels"], old, new)]


def test_nothing_changed_below_a_changed_entry_is_reported() -> None:
    """Pruning equal parts before DeepDiff runs keeps every path and value the same."""
    old: dict[str, Any] = {
        "columns": {n: {"type": "int", "nullable": True, "comment": None} for n in "abcd"},
        "grants": {"app": ["SELECT"], "ro": ["SELECT"]},
        "owner": "app",
    }
    new = copy.deepcopy(old)
    new["columns"]["b"]["nullable"] = False
    new["columns"]["c"] = {"type": "int"}
    new["grants"]["ro"] = ["SELECT", "UPDATE"]
    del new["columns"]["d"]
    items = diff_objects({"table:s.t": old}, {"table:s.t": new})
    assert [(i.path, i.before, i.after) for i in items] == [
        (["columns", "b", "nullable"], True, False),
        (["columns", "c", "nullable"], True, None),  # "comment": null → missing is no drift
        (["columns", "d"], old["columns"]["d"], None),
        (["grants", "ro"], ["SELECT"], ["SELECT", "UPDATE"]),
    ]
    assert items[3].before is old["grants"]["ro"]  # the object's own values, not copies
    check(old, new)


# -- ignore rules --------------------------------------------------------------------------------

PATH_GLOBS = st.sampled_from(
    ["a", "a.*", "*.b", "*", "columns.*.comment", "x.y", "x y", "?", "a?b", "c.0", "[ab]",
     "grants.PUBLIC", "it's", "*.__x", "0", "x", "y", "b.*.c", ""]
)  # fmt: skip
OBJECT_GLOBS = st.sampled_from(["table:*", "table:s.t", "role:*", "*"])


@st.composite
def rules(draw: st.DrawFn) -> list[IgnoreRule]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.one_of(st.none(), PATH_GLOBS))
        out.append(IgnoreRule(draw(OBJECT_GLOBS), path))
    return out


@settings(max_examples=examples(400), deadline=None)
@given(OBJECTS, OBJECTS, rules())
def test_ignore_given_to_the_diff_hides_what_filtering_after_hides(
    old: dict[str, Any], new: dict[str, Any], ignore: list[IgnoreRule]
) -> None:
    before = {"table:s.t": old, "table:s.gone": old}
    after = {"table:s.t": new, "table:s.new": new}
    want = [i for i in diff_objects(before, after) if not ignored(ignore, i.object, i.path)]
    assert dicts(diff_objects(before, after, ignore)) == dicts(want)


@settings(max_examples=examples(1000), deadline=None)
@given(st.lists(KEYS, min_size=1, max_size=4), PATH_GLOBS)
def test_an_exclude_pattern_only_excludes_what_its_glob_ignores(path: list[str], glob: str) -> None:
    """The DeepDiff pattern of a glob never hides a path the rule itself would not."""
    regex = _exclude_regex(glob)
    if regex is None:
        return
    if re.search(regex, deepdiff_path(path)):
        assert IgnoreRule("*", glob).matches("table:s.t", path), (path, glob, dotted(path))


def deepdiff_path(path: list[str]) -> str:
    """The path string DeepDiff matches exclude patterns against, from DeepDiff itself."""
    old: Any = 1
    new: Any = 2
    for key in reversed(path):
        old, new = {key: old}, {key: new}
    [node] = DeepDiff(old, new, view="tree", ignore_private_variables=False)["values_changed"]
    return str(node.path())


def test_exclude_patterns_cover_the_usual_globs() -> None:
    for glob, path in (
        ("columns.*.comment", ["columns", "email", "comment"]),
        ("comment", ["comment"]),
        ("grants.PUBLIC", ["grants", "PUBLIC"]),
        ("options", ["options"]),
    ):
        regex = _exclude_regex(glob)
        assert regex is not None and re.search(regex, deepdiff_path(path)), glob
    assert _exclude_regex("columns.[ab].comment") is None  # a class: filtered afterwards only


def test_a_field_an_older_driftd_did_not_collect_is_not_drift() -> None:
    """A baseline accepted before an upgrade lacks the new fields: empty ones are no
    change; one that holds something is."""
    baseline = {"table:app.t": {"owner": "app", "columns": {}}}
    live = {"table:app.t": {"owner": "app", "columns": {}, "rules": {}, "replica_identity": None}}
    assert diff_objects(baseline, live) == []
    assert diff_objects(live, baseline) == []
    live["table:app.t"]["rules"] = {"r": {"definition": "CREATE RULE r AS ..."}}
    (item,) = diff_objects(baseline, live)
    assert (item.path, item.before) == (["rules"], None)
