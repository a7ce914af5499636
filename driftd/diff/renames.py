"""Renames: a thing gone under one name and the same thing under another.

A snapshot holds no identities (OIDs differ on every restore, and a baseline
must compare with any copy of its database), so a rename is recognised by its
body: a removed key and an added key of the same kind whose objects are equal
once each one's own name is taken out, when no other removed or added object
of that kind looks the same (an ambiguous match stays a drop and an add). The
same inside an object present on both sides, for its columns, indexes,
constraints, triggers, policies and rules.

A rename's consequences belong to it, not to drift of their own: a table's
name in its indexes' and triggers' definitions and in other objects' bodies, a
column's name in its table's constraints, indexes and column grants, a role's
name in every owner, grant, membership and policy, a schema's name in the keys
of everything in it. So the diff applies the renames to the baseline first and
then diffs what is left; ``apply`` is also what accepting a rename does to a
baseline.

A rename is reported as one ``modified`` item whose path ends in ``name``
(no object or entry has a field of that name): ``["name"]`` for an object,
with ``before``/``after`` the names as keys write them (``public.orders``), and
``[<section>, <new name>, "name"]`` for an entry, with the bare names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from driftd.canonical import dumps
from driftd.drift import DriftItem
from driftd.kinds import KeyError_, make_key, parse_key

Objects = dict[str, dict[str, Any]]

# Kinds without a name of their own to change (a cast, a user mapping), that
# PostgreSQL cannot rename (an access method, an operator, an extension), or
# that name the watched database itself.
NOT_RENAMED = frozenset(
    {"database", "access_method", "cast", "operator", "extension", "setting", "user_mapping"}
)
# The sections of an object whose entries are named things that can be renamed.
ENTRY_SECTIONS = ("columns", "indexes", "constraints", "triggers", "policies", "rules")
# Where a role's name stands in an object: the keys of these maps at these depths
# (default privileges: {owner: {object type: {grantee: privileges}}}), and ``owner``.
_ROLE_KEYS = {"grants": {1}, "member_of": {1}, "column_grants": {2}, "default_privileges": {1, 3}}
# Text about a thing, not SQL that names it: never rewritten, never taken apart.
_PROSE = frozenset({"comment", "column_comments"})


def is_rename(path: Sequence[Any], after: Any) -> bool:
    """Whether a drift item at ``path`` whose value is now ``after`` reports a rename
    (``["name"]``, or ``[<section>, <new name>, "name"]``): no object or entry has a
    field called ``name``, so the path alone tells."""
    if not isinstance(after, str) or not path or path[-1] != "name":
        return False
    if len(path) == 1:
        return True
    return len(path) == 3 and path[0] in ENTRY_SECTIONS and path[1] == after


@dataclass(frozen=True)
class Rename:
    """``old`` became ``new``: object keys, or entry names when ``section`` is set
    (``key`` is then the object holding the entry, under its live key)."""

    old: str
    new: str
    section: str | None = None
    key: str | None = None

    @property
    def kind(self) -> str:
        return _kind(self.key or self.old)

    def item(self) -> DriftItem:
        if self.section is None:
            return DriftItem(
                object=self.new,
                change="modified",
                path=["name"],
                before=_name(self.old),
                after=_name(self.new),
            )
        assert self.key is not None
        return DriftItem(
            object=self.key,
            change="modified",
            path=[self.section, self.new, "name"],
            before=self.old,
            after=self.new,
        )

    @classmethod
    def of(cls, item: DriftItem) -> Rename | None:
        """The rename an item reports, or None for any other item."""
        if item.change != "modified" or not isinstance(item.before, str):
            return None
        if not is_rename(item.path, item.after):
            return None
        if len(item.path) == 1:
            return cls(f"{item.kind}:{item.before}", item.object)
        return cls(item.before, item.after, str(item.path[0]), item.object)


def find_objects(
    before: Objects, after: Objects, skip: Callable[[str], bool] = lambda key: False
) -> tuple[list[Rename], list[Rename]]:
    """Object renames: (those to report, all of them).

    Found in rounds: a renamed role's name stands in a renamed table's grants,
    so the table matches once the role's rename is made. A schema's rename
    renames every key in it; those follow from it and are applied, but only the
    schema's is reported.
    """
    removed = {k for k in before.keys() - after.keys() if _renamable(k) and not skip(k)}
    added = {k for k in after.keys() - before.keys() if _renamable(k) and not skip(k)}
    renames: list[Rename] = []
    for _round in range(_ROUNDS):
        if not removed or not added:
            break
        current = apply(before, renames, within=removed)
        found = _pairs(
            _signatures(current, sorted(removed)), _signatures(after, sorted(added)), _kind
        )
        if not found:
            break
        renames += [Rename(old, new) for old, new in found]
        removed -= {old for old, _ in found}
        added -= {new for _, new in found}
    follows = _following(renames, after)
    return [r for r in renames if not follows(r)], renames


_ROUNDS = 3


def followers(chosen: list[Rename], everything: list[Rename], after: Objects) -> list[Rename]:
    """The renames in ``everything`` that follow from ``chosen`` and are not reported
    on their own: the keys in a renamed schema, the sequence a moved table owns."""
    follows = _following(chosen, after)
    return [r for r in everything if r not in chosen and follows(r)]


def _following(renames: list[Rename], after: Objects) -> Callable[[Rename], bool]:
    """Whether a rename only follows from ``renames``: a key moved with its renamed
    schema, or a sequence moved with the renamed table that owns it."""
    moved = _schemas_moved(renames)
    tables = {_name(r.new) for r in renames if r.kind == "table"}
    return lambda r: _follows_schema(r, moved) or _follows_table(r, after, tables)


def _schemas_moved(renames: list[Rename]) -> dict[str, str]:
    return {_name(r.old): _name(r.new) for r in renames if r.kind == "schema"}


def find_entries(
    before: Objects, after: Objects, keys: Iterable[str], sections: Iterable[str] = ENTRY_SECTIONS
) -> list[Rename]:
    """Entry renames inside the objects ``keys`` (present on both sides, changed).

    Columns are to be found (and applied) before the other sections: an index
    on a renamed column names the new column.
    """
    out: list[Rename] = []
    for key in keys:
        old, new = before[key], after[key]
        for section in sections:
            a, b = old.get(section), new.get(section)
            if not isinstance(a, dict) or not isinstance(b, dict):
                continue
            gone, came = a.keys() - b.keys(), b.keys() - a.keys()
            if not gone or not came:
                continue
            found = _pairs(
                {n: _neutral_entry(a[n], section, n) for n in gone},
                {n: _neutral_entry(b[n], section, n) for n in came},
            )
            out += [Rename(o, n, section, key) for o, n in found]
    return out


def _neutral_entry(entry: Any, section: str, name: str) -> bytes:
    """An entry's canonical bytes without its own name (which only the SQL of an
    index or trigger holds; a column's body never names it)."""
    pattern = None if section == "columns" else _pattern(_bare_forms(name))
    if pattern is None or not isinstance(entry, dict):
        return dumps(entry)
    return dumps(
        {
            f: pattern.sub("\x00", v) if f in _SQL_FIELDS and isinstance(v, str) else v
            for f, v in entry.items()
        }
    )


def apply(objects: Objects, renames: list[Rename], within: Iterable[str] | None = None) -> Objects:
    """``objects`` with ``renames`` made, consequences included (a new map; the
    objects it changes are copies). ``within``: the only keys whose bodies may
    hold consequences (the diff's changed objects); None: all of them."""
    if not renames:
        return objects
    out = dict(objects)
    scope = set(out) if within is None else set(within)
    for r in renames:
        if r.section is None and r.old in out:
            out[r.new] = out.pop(r.old)
            scope.discard(r.old)
            scope.add(r.new)
    moved = _schemas_moved(renames)
    for r in renames:
        if r.section is None and not _follows_schema(r, moved):
            # (one that only follows its schema's is covered by the schema's: linear)
            _consequences(out, r, scope)
        elif r.section is not None and r.key in out:
            out[r.key] = _rename_entry(out[r.key], r)
    return out


def _consequences(out: Objects, r: Rename, scope: set[str]) -> None:
    if r.kind == "role":
        old, new = _name(r.old), _name(r.new)
        for key in scope & out.keys():
            out[key] = _roles_renamed(out[key], old, new)
        return
    schema = r.kind == "schema"  # its bare name only as a qualifier (see _patterns)
    steps = [_substitution(_key_forms(r.old), _key_forms(r.new), qualifier=schema)]
    if r.kind in _RELATIONS:  # a view writes the columns it reads as t.col
        steps.append(_substitution(_last_forms(r.old), _last_forms(r.new), qualifier=True))
    for subst in filter(None, steps):
        for key in scope & out.keys():
            out[key] = _map_strings(out[key], subst)


_RELATIONS = frozenset({"table", "view", "materialized_view"})


def _last_forms(key: str) -> list[str]:
    try:
        parts = parse_key(key).parts
    except KeyError_:
        return []
    return _bare_forms(parts[-1]) if parts else []


def _rename_entry(obj: dict[str, Any], r: Rename) -> dict[str, Any]:
    section = obj.get(r.section or "")
    if not isinstance(section, dict) or r.old not in section:
        return obj
    obj = dict(obj)
    entries = dict(section)
    entries[r.new] = entries.pop(r.old)
    obj[r.section or ""] = entries
    if r.section == "columns":
        grants = obj.get("column_grants")
        if isinstance(grants, dict) and r.old in grants:
            obj["column_grants"] = {(r.new if k == r.old else k): v for k, v in grants.items()}
        # A column's name stands in the SQL of the table's constraints, indexes, ...
        return _map_sql(obj, _sql_substitution(r.old, r.new))
    own = _substitution(_bare_forms(r.old), _bare_forms(r.new))
    if own:  # an index's or trigger's definition names the entry itself
        entries[r.new] = _map_strings(entries[r.new], own)
    return obj


def _pairs(
    gone: dict[str, bytes], came: dict[str, bytes], group: Callable[[str], str] = lambda n: ""
) -> list[tuple[str, str]]:
    """(old, new) for the bodies that match exactly one on each side (in ``group``)."""
    left: dict[tuple[str, bytes], list[str]] = {}
    right: dict[tuple[str, bytes], list[str]] = {}
    for name, body in gone.items():
        left.setdefault((group(name), body), []).append(name)
    for name, body in came.items():
        right.setdefault((group(name), body), []).append(name)
    return sorted(
        (olds[0], right[sig][0])
        for sig, olds in left.items()
        if len(olds) == 1 and len(right.get(sig, ())) == 1
    )


def _name(key: str) -> str:
    return key.partition(":")[2]


def _kind(key: str) -> str:
    return key.partition(":")[0]


# Above this many candidates a body is neutralised of its own name only (the joint
# pattern costs about the square of them: a schema of 1,000 tables renamed, 2,000
# candidates, takes 0.4 s); objects that name each other then match no more.
_JOINT_LIMIT = 2000


def _signatures(objects: Objects, keys: list[str]) -> dict[str, bytes]:
    """Each object's bytes without the names of all ``keys``: things renamed together
    (a table and its serial's sequence moved to another schema) name each other."""
    if len(keys) <= _JOINT_LIMIT:
        joint = _patterns(keys)  # compiled once
        return {k: _neutral(objects[k], joint) for k in keys}
    return {k: _neutral(objects[k], _patterns([k])) for k in keys}


def _patterns(keys: list[str]) -> list[re.Pattern[str]]:
    """The names of ``keys`` as they stand in bodies; a schema's only as a qualifier
    (``s.t``: a bare ``s`` may be a role of the same name, its owner)."""
    schemas = [f for k in keys if _kind(k) == "schema" for f in _key_forms(k)]
    others = [f for k in keys if _kind(k) != "schema" for f in _key_forms(k)]
    found = [_pattern(others), _pattern(schemas, qualifier=True)]
    return [p for p in found if p is not None]


def _renamable(key: str) -> bool:
    return _kind(key) not in NOT_RENAMED


def _follows_schema(r: Rename, moved: dict[str, str]) -> bool:
    """Whether ``r`` is only its schema's rename (same kind and name, the new schema)."""
    if r.kind == "schema" or not moved:
        return False
    try:
        old, new = parse_key(r.old), parse_key(r.new)
    except KeyError_:
        return False
    if len(old.parts) < 2 or old.parts[1:] != new.parts[1:] or old.args != new.args:
        return False
    return moved.get(_name(make_key("schema", old.parts[0]))) == new.parts[0]


def _follows_table(r: Rename, after: Objects, tables: set[str]) -> bool:
    """Whether ``r`` moves a sequence its table owns along with that table's move
    (ALTER TABLE ... SET SCHEMA takes it; the sequence cannot be moved alone)."""
    if r.kind != "sequence":
        return False
    owner = str(after.get(r.new, {}).get("owned_by") or "")
    table = owner.rpartition(".")[0]
    if table not in tables:
        return False
    old, new = _name(r.old).rpartition(".")[2], _name(r.new).rpartition(".")[2]
    return old == new  # a rename of the sequence itself is its own


# --- names as they stand in bodies -------------------------------------------------

_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*\Z")


def _pg_quote(name: str) -> str:
    return name if _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


def _bare_forms(name: str) -> list[str]:
    """How one name is written in SQL text: as it is, quoted for PostgreSQL or MySQL."""
    # PostgreSQL's own spelling last: where two forms are one text, it decides
    # how the new name is written (see _substitution).
    return [name, f"`{name}`", '"' + name.replace('"', '""') + '"', _pg_quote(name)]


def _key_forms(key: str) -> list[str]:
    """How an object's (qualified) name is written in SQL text."""
    try:
        parsed = parse_key(key)
    except KeyError_:
        return []
    parts = parsed.parts
    if not parts:
        return []
    shown = key.partition(":")[2]
    return [
        shown.split("(", 1)[0] if parsed.args else shown,
        ".".join(f"`{p}`" for p in parts),
        ".".join(_pg_quote(p) for p in parts),  # last: see _bare_forms
    ]


def _alternatives(forms: list[str]) -> str:
    """A regex alternation of the forms, longest first (so a longer form wins)."""
    return "|".join(re.escape(f) for f in sorted(set(forms), key=len, reverse=True))


def _pattern(forms: list[str], qualifier: bool = False) -> re.Pattern[str] | None:
    if not forms:
        return None
    alternatives = _alternatives(forms)
    # Not inside a longer identifier: t in t_id_seq or in "my t" is not t. A
    # qualifier is a bare name followed by a dot and not preceded by one (t.col).
    if qualifier:
        return re.compile(rf"(?<![\w$\"`.])(?:{alternatives})(?=\.)")
    return re.compile(rf"(?<![\w$\"`])(?:{alternatives})(?![\w$\"`])")


def _substitution(
    old: list[str], new: list[str], qualifier: bool = False
) -> Callable[[str], str] | None:
    """Rewrites each written form of the old name as the same form of the new."""
    pattern = _pattern(old, qualifier)
    if pattern is None or len(old) != len(new):
        return None
    table = dict(zip(old, new, strict=True))
    return lambda text: pattern.sub(lambda m: table[m.group(0)], text)


def _neutral(value: Any, patterns: list[re.Pattern[str]]) -> bytes:
    """The canonical bytes of ``value`` with the names ``patterns`` find taken out."""
    if not patterns:
        return dumps(value)

    def out(text: str) -> str:
        for pattern in patterns:
            text = pattern.sub("\x00", text)
        return text

    return dumps(_map_strings(value, out))


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` with ``fn`` applied to every string value (not to keys, nor to
    comments: prose that mentions a name is not renamed with it)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: v if k in _PROSE else _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value


# Fields that hold SQL naming a table's columns (a bare name is too common a word
# to rewrite anywhere else: a column "status" of type "status").
_SQL_FIELDS = frozenset({"definition", "default", "generated", "using", "with_check"})


# A string literal, matched first so that a name inside it is left as it is.
_LITERAL = r"'(?:[^']|'')*'"


def _sql_substitution(old: str, new: str) -> Callable[[str], str]:
    """Rewrites the bare name ``old`` where it is an identifier in SQL text: not in a
    string literal, not after ``.`` or ``::`` (another relation's column, a type), not
    before ``(`` (a function), and not in the other table a foreign key references."""
    alternatives = _alternatives(_bare_forms(old))
    pattern = re.compile(rf"({_LITERAL})|(?<![\w$\"`.:])(?:{alternatives})(?![\w$\"`(])")
    table = dict(zip(_bare_forms(old), _bare_forms(new), strict=True))

    def sub(text: str) -> str:
        head, sep, tail = text.partition(" REFERENCES ")
        head = pattern.sub(lambda m: m.group(1) or table[m.group(0)], head)
        return head + sep + tail

    return sub


def _map_sql(obj: dict[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    """``obj`` with ``fn`` applied to the SQL of its entries and its partition key."""
    out = dict(obj)
    for section in ENTRY_SECTIONS:
        entries = out.get(section)
        if isinstance(entries, dict):
            out[section] = {
                name: {
                    f: fn(v) if f in _SQL_FIELDS and isinstance(v, str) else v
                    for f, v in entry.items()
                }
                if isinstance(entry, dict)
                else entry
                for name, entry in entries.items()
            }
    if out.get("partitioning") is not None:
        out["partitioning"] = _map_strings(out["partitioning"], fn)
    return out


def _roles_renamed(obj: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``obj`` with role ``old`` called ``new`` wherever a role's name stands."""
    out = dict(obj)
    for field, depths in _ROLE_KEYS.items():
        if isinstance(out.get(field), dict):
            out[field] = _keys_renamed(out[field], old, new, depths)
    if out.get("owner") == old:
        out["owner"] = new
    policies = out.get("policies")
    if isinstance(policies, dict):
        out["policies"] = {
            name: {**p, "roles": [new if r == old else r for r in p["roles"]]}
            if isinstance(p, dict) and isinstance(p.get("roles"), list)
            else p
            for name, p in policies.items()
        }
    return out


def _keys_renamed(value: Any, old: str, new: str, depths: set[int], depth: int = 1) -> Any:
    """The map with the keys ``old`` at ``depths`` (1: its own) called ``new``."""
    if not isinstance(value, dict) or depth > max(depths):
        return value
    here = depth in depths
    return {
        (new if here and k == old else k): _keys_renamed(v, old, new, depths, depth + 1)
        for k, v in value.items()
    }
