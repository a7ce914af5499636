"""Diff two object maps into drift items (no severity or id yet).

Two stages. Objects are compared by their canonical bytes first, so the cost
stays with the few whose content differs (a whole-document DeepDiff of a
10k-table snapshot takes tens of seconds; the byte comparison a fraction of
one). Each changed object is pruned to the sections and entries whose bytes
differ (``_changed_parts``: DeepDiff costs ~0.1 ms per key it visits, and a
table has hundreds) and then diffed field by field with DeepDiff's tree
view; every reported node becomes one drift item: its path (dict keys
from the object's root), and the value before and after (``None`` where the
key is missing on that side).

Settings, and why:

- ``threshold_to_diff_deeper=0``: always descend into dicts present on both
  sides (the default reports a whole dict as one change when few keys
  overlap, hiding the real path).
- No ``ignore_order``: lists of named things are dicts keyed by name in the
  collectors, scalar lists (privileges) are sorted, so order is meaningful.
- Lists are leaves (``_Leaves``, a custom operator): a changed privilege list
  or enum label list (reordered, grown, shrunk) is one item at the list's
  path, with the whole list before and after, which is what a reader wants
  to see. It also keeps DeepDiff from taking ``[1]`` and ``[true]`` (or
  ``[2]`` and ``[2.0]``) inside a list for equal: leaves, lists and floats,
  are compared by their canonical bytes, so a change the content hash sees
  (``-0.0`` → ``0.0`` too) is never lost.
- ``ignore_private_variables=False``: DeepDiff skips dict keys starting with
  ``__`` by default; a column may be called that.
- Nothing is unpickled: no Delta, no deserialisation, only ``DeepDiff(...)``.

Ignore rules (``driftd.diff.filters.IgnoreRule``), when given: an object rule
(no ``#path``) drops the object before any diff; a path rule becomes a
DeepDiff ``exclude_regex_paths`` pattern where its glob translates soundly
(see ``_exclude_regex``; DeepDiff's own globs in ``exclude_paths`` match one
whole key per ``*``, fnmatch's ``*`` spans dots and keys), so ignored
subtrees are not walked; the items are then also filtered with the rules
themselves, because a glob reads the dotted path (``columns.*.comment``
also matches a column called ``x.comment``), which no pattern over DeepDiff's bracketed paths can
reproduce for every key. The result is exactly the unfiltered diff minus the
items ``ignored()`` hides.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from driftd.canonical import dumps
from driftd.diff.filters import IgnoreRule, ignored
from driftd.drift import DriftItem

if TYPE_CHECKING:
    from deepdiff import DeepDiff

Objects = dict[str, dict[str, Any]]


def diff_objects(
    before: Objects,
    after: Objects,
    ignore: Sequence[IgnoreRule] = (),
    hidden: list[str] | None = None,
) -> list[DriftItem]:
    """Removed, then added objects' items, then renames and modified objects' items,
    each group sorted by key.

    Renames (``driftd.diff.renames``) are found first and made in the baseline,
    so what follows from them is not drift of its own. With ``ignore``, the
    items those rules hide are left out (the same as filtering the result with
    ``filters.ignored``); ``hidden`` collects the keys of objects that changed
    but whose every change they hid.
    """
    hid = hidden if hidden is not None else []
    before, changed, renamed = _renamed(before, after, ignore)
    items: list[DriftItem] = []
    for key in sorted(before.keys() - after.keys()):
        if ignore and ignored(ignore, key, []):
            hid.append(key)
        else:
            items.append(
                DriftItem(object=key, change="removed", path=[], before=before[key], after=None)
            )
    for key in sorted(after.keys() - before.keys()):
        if ignore and ignored(ignore, key, []):
            hid.append(key)
        else:
            items.append(
                DriftItem(object=key, change="added", path=[], before=None, after=after[key])
            )
    items += [i for i in renamed if not (ignore and ignored(ignore, i.object, i.path))]
    for key in changed:
        found = diff_object(key, before[key], after[key], ignore)
        if not found and ignore:
            hid.append(key)
        items.extend(found)
    return items


def _differs(old: Any, new: Any) -> bool:
    return old is not new and dumps(old) != dumps(new)


def _renamed(
    before: Objects, after: Objects, ignore: Sequence[IgnoreRule]
) -> tuple[Objects, list[str], list[DriftItem]]:
    """The baseline with the renames made, the keys on both sides whose content
    differs then (sorted), and the rename items."""
    from driftd.diff import renames

    skip = (lambda key: ignored(ignore, key, [])) if ignore else (lambda key: False)
    shown, objects = renames.find_objects(before, after, skip)
    changed = [k for k in before.keys() & after.keys() if _differs(before[k], after[k])]
    if objects:
        before = renames.apply(before, objects, within=changed)
        changed = [k for k in {*changed, *(r.new for r in objects)} if k in before]
        changed = [k for k in changed if _differs(before[k], after[k])]
    entries: list[renames.Rename] = []
    for sections in (renames.ENTRY_SECTIONS[:1], renames.ENTRY_SECTIONS[1:]):
        found = renames.find_entries(before, after, changed, sections)
        before = renames.apply(before, found, within=())
        entries += found
    if entries:
        changed = [k for k in changed if _differs(before[k], after[k])]
    return before, sorted(changed), [r.item() for r in [*shown, *entries]]


def diff_object(
    key: str, old: dict[str, Any], new: dict[str, Any], ignore: Sequence[IgnoreRule] = ()
) -> list[DriftItem]:
    """The ``modified`` items of one object whose content differs."""
    rules = [r for r in ignore if fnmatch.fnmatchcase(key, r.object_glob)]
    if any(r.path_glob is None for r in rules):
        return []
    exclude = [rx for r in rules if r.path_glob is not None and (rx := _exclude_regex(r.path_glob))]
    old, new = _changed_parts(*_same_fields(old, new), _PRUNE_DEPTH)
    if not old and not new:
        return []
    tree = _deepdiff()(
        old,
        new,
        view="tree",
        threshold_to_diff_deeper=0,
        ignore_private_variables=False,
        custom_operators=[_leaves()],
        exclude_regex_paths=exclude or None,
    )
    found: dict[tuple[Any, ...], tuple[Any, Any]] = {}
    for nodes in tree.values():
        for node in nodes:
            path = tuple(node.path(output_format="list"))
            found[path] = (_value(node.t1), _value(node.t2))
    items = []
    for path in sorted(found, key=lambda p: [str(x) for x in p]):
        b, a = found[path]
        if dumps(b) == dumps(a):  # e.g. a key removed whose value was null
            continue
        if rules and ignored(rules, key, path):
            continue
        items.append(DriftItem(object=key, change="modified", path=list(path), before=b, after=a))
    return items


_EMPTY: tuple[Any, ...] = (None, {}, [])


def _same_fields(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Leave out a field only one side has while its value is empty (null, {}, []).

    Every field of an object is always present, so such a field is one that a
    newer driftd collects and an older one did not (a baseline accepted before
    an upgrade): there is nothing in it to call drift. A field that appears
    with content is still reported.
    """
    extra_old = [k for k in old.keys() - new.keys() if old[k] in _EMPTY]
    extra_new = [k for k in new.keys() - old.keys() if new[k] in _EMPTY]
    if extra_old:
        old = {k: v for k, v in old.items() if k not in extra_old}
    if extra_new:
        new = {k: v for k, v in new.items() if k not in extra_new}
    return old, new


# Dict levels below the object's root that are pruned before DeepDiff runs:
# the object's sections (columns, grants, ...) and their entries (a column,
# a grantee). A changed entry goes to DeepDiff whole.
_PRUNE_DEPTH = 1


def _changed_parts(
    old: dict[str, Any], new: dict[str, Any], depth: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``old`` and ``new`` without the keys whose values have equal canonical bytes.

    The hash stage carried down ``depth`` more dict levels: DeepDiff builds a
    tree node for every key it visits (~0.1 ms each), and a table has a few
    hundred keys of which a change touches one or two. Leaving out equal
    values changes nothing DeepDiff reports (with ``threshold_to_diff_deeper=0``
    each key of a dict is compared on its own; equal canonical bytes give no
    item), and every value kept is the object's own, so ``before``/``after``
    are the same objects as without pruning.
    """
    o: dict[str, Any] = {}
    n: dict[str, Any] = {}
    for k, a in old.items():
        if k not in new:
            o[k] = a
            continue
        b = new[k]
        if a is b:
            continue
        if depth and type(a) is dict and type(b) is dict:
            pa, pb = _changed_parts(a, b, depth - 1)
            if pa or pb:
                o[k], n[k] = pa, pb
        elif type(a) is not type(b) or a != b or dumps(a) != dumps(b):
            o[k], n[k] = a, b
    for k, b in new.items():
        if k not in old:
            n[k] = b
    return o, n


@functools.cache
def _deepdiff() -> type[DeepDiff]:
    # Imported on first use: a check without changed objects never pays for it.
    from deepdiff import DeepDiff

    return DeepDiff


@functools.cache
def _not_present() -> type:
    from deepdiff.helper import NotPresent

    return NotPresent


def _value(value: Any) -> Any:
    return None if isinstance(value, _not_present()) else value


@functools.cache
def _leaves() -> Any:
    """The custom operator that makes lists (and floats) leaves compared by canonical bytes."""
    from deepdiff.operator import BaseOperator

    class _Leaves(BaseOperator):
        def match(self, level: Any) -> bool:
            t1, t2 = level.t1, level.t2
            return (type(t1) is list and type(t2) is list) or (
                type(t1) is float and type(t2) is float
            )

        def give_up_diffing(self, level: Any, diff_instance: Any) -> bool:
            t1, t2 = level.t1, level.t2
            if t1 is not t2 and (t1 != t2 or dumps(t1) != dumps(t2)):
                diff_instance.custom_report_result("values_changed", level)
            return True  # never descend: the list is one value

    return _Leaves()


# A key as DeepDiff writes it in a path it matches: ``root['a']['b']``. A key
# holding a quote or a backslash is written another way; the patterns below
# never match those paths (the rules still filter them afterwards).
_KEY_CHAR = r"""[^'"\\]"""
_SEP = r"'\]\['"


@functools.cache
def _exclude_regex(path_glob: str) -> str | None:
    """A DeepDiff path pattern that matches only paths the glob ignores, or None.

    Translated one glob character at a time over the path ``root['k1']['k2']``:
    ``.`` is a separator or a dot inside a key, ``*``/``?`` any run of / one
    key character or separator (as in the dotted text the glob reads), other
    characters themselves. A glob with ``[...]`` classes or quote/backslash
    characters is not translated (None): the rule only filters afterwards.
    Every path the pattern matches has a dotted form the glob matches, so
    DeepDiff never hides what the rule would not; paths below it are not
    walked, which is what ``glob + ".*"`` ignores.
    """
    out = []
    for c in path_glob:
        if c == "*":
            out.append(f"(?:{_KEY_CHAR}|{_SEP})*")
        elif c == "?":
            out.append(f"(?:{_KEY_CHAR}|{_SEP})")
        elif c == ".":
            out.append(rf"(?:\.|{_SEP})")
        elif c in "'\"\\[]":
            return None
        else:
            out.append(re.escape(c))
    if not out:
        return None
    return r"\Aroot\['" + "".join(out) + r"'\]\Z"
