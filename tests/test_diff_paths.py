"""driftd.diff walks changed objects itself: it must find exactly what deepdiff finds.

The oracle is the deepdiff-based implementation driftd used before (tree view,
``threshold_to_diff_deeper=0``, paths cut at the first list index, then the
same before/after filter): on any pair of JSON-like objects both must give the
same drift items.
"""

from __future__ import annotations

import copy
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import NotPresent
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.canonical import dumps
from driftd.diff import diff_objects
from driftd.drift import DriftItem

KEYS = st.sampled_from(["a", "b", "c", "grants", "columns", "PUBLIC", "x y", "0"])
# Inside a list deepdiff takes numbers of equal value for equal whatever their type
# (1, 1.0 and true): see test_numbers_in_a_list_that_change_type_are_drift. The
# numbers here never compare equal across types, so the oracle holds everywhere else.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3).filter(lambda i: i not in (0, 1)),
    st.floats(allow_nan=False, allow_infinity=False, width=16).filter(lambda f: not f.is_integer()),
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
    tree = DeepDiff(old, new, threshold_to_diff_deeper=0, view="tree", verbose_level=2)
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


def check(old: dict[str, Any], new: dict[str, Any]) -> None:
    got = diff_objects({"table:s.t": old}, {"table:s.t": new})
    want = oracle("table:s.t", old, new) if dumps(old) != dumps(new) else []
    assert [i.__dict__ for i in got] == [i.__dict__ for i in want]


@settings(max_examples=400, deadline=None)
@given(OBJECTS, OBJECTS)
def test_same_items_as_deepdiff_on_any_pair(old: dict[str, Any], new: dict[str, Any]) -> None:
    check(old, new)


@settings(max_examples=400, deadline=None)
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
