"""Diff two object maps into drift items (no severity or id yet).

Objects are compared by their canonical bytes first; deepdiff runs only on
the few whose content differs (a whole-document deepdiff of a 10k-table
snapshot takes tens of seconds; this takes well under one). Lists are leaves:
a changed privilege list or enum label list is one item at the list's path,
with the whole list before and after, which is what a reader wants to see.
"""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

from driftd.canonical import dumps
from driftd.drift import DriftItem

Objects = dict[str, dict[str, Any]]


def diff_objects(before: Objects, after: Objects) -> list[DriftItem]:
    items: list[DriftItem] = []
    for key in sorted(before.keys() - after.keys()):
        items.append(
            DriftItem(object=key, change="removed", path=[], before=before[key], after=None)
        )
    for key in sorted(after.keys() - before.keys()):
        items.append(DriftItem(object=key, change="added", path=[], before=None, after=after[key]))
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key], after[key]
        if old is new or dumps(old) == dumps(new):
            continue
        items.extend(_diff_object(key, old, new))
    return items


def _diff_object(key: str, old: dict[str, Any], new: dict[str, Any]) -> list[DriftItem]:
    tree = DeepDiff(old, new, threshold_to_diff_deeper=0, view="tree", verbose_level=2)
    paths: dict[tuple[Any, ...], None] = {}
    for nodes in tree.values():
        for node in nodes:
            paths[_leaf_path(node.path(output_format="list"))] = None
    items = []
    for path in sorted(paths, key=lambda p: [str(x) for x in p]):
        b, a = _get(old, path), _get(new, path)
        if dumps(b) == dumps(a):  # e.g. a type-only change deepdiff saw (1 vs 1.0)
            continue
        items.append(DriftItem(object=key, change="modified", path=list(path), before=b, after=a))
    return items


def _leaf_path(path: list[Any]) -> tuple[Any, ...]:
    """Cut a path at its first list index: lists are compared whole."""
    for i, part in enumerate(path):
        if isinstance(part, int):
            return tuple(path[:i])
    return tuple(path)


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return None if isinstance(value, NotPresent) else value
