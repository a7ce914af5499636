"""What a statement builder sees: the drift item and the object on both sides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftd.drift import DriftItem, value_at
from driftd.kinds import Key, parse_key
from driftd.revert.model import NeedsPerson

Objects = dict[str, dict[str, Any]]


def get(obj: Any, *path: Any) -> Any:
    """The value at ``path`` inside ``obj``, or None where any step is missing."""
    return value_at(obj, path)


def _nest(path: list[Any], value: Any) -> dict[str, Any]:
    out: Any = value
    for step in reversed(path):
        out = {step: out}
    return out if isinstance(out, dict) else {}


@dataclass
class Ctx:
    """One drift item and what the builders may read about it.

    ``base`` and ``live`` are the object in the baseline and in the live
    database (None where it does not exist). Built from the item alone
    (:meth:`from_item`, for alerts), they hold just the changed value at its
    path, and builders that need more raise :class:`NeedsPerson`.
    """

    item: DriftItem
    key: Key
    base: dict[str, Any] | None
    live: dict[str, Any] | None
    baseline: Objects = field(default_factory=dict)
    current: Objects = field(default_factory=dict)
    partial: bool = False

    @classmethod
    def of(cls, item: DriftItem, baseline: Objects, current: Objects) -> Ctx:
        return cls(
            item,
            parse_key(item.object),
            baseline.get(item.object),
            current.get(item.object),
            baseline,
            current,
        )

    @classmethod
    def from_item(cls, item: DriftItem) -> Ctx:
        if not item.path:
            base, live = item.before, item.after
        else:
            base, live = _nest(item.path, item.before), _nest(item.path, item.after)
        return cls(item, parse_key(item.object), base, live, partial=True)

    @property
    def path(self) -> list[Any]:
        return self.item.path

    def both(self, *path: Any) -> tuple[Any, Any]:
        """The value at ``path`` in the baseline and live object."""
        return get(self.base, *path), get(self.live, *path)

    def field(self, name: str) -> Any:
        """A field that says what the object is (a function's kind): from either side."""
        value = get(self.base, name)
        if value is None:
            value = get(self.live, name)
        if value is None and self.partial:
            raise NeedsPerson("needs the whole object: run `driftd revert`")
        return value

    def entries(self, section: str) -> list[str]:
        """The names inside ``section`` the item touches (one, or all of them)."""
        if len(self.path) >= 2:
            return [str(self.path[1])]
        names = set(get(self.base, section) or {}) | set(get(self.live, section) or {})
        return sorted(names)
