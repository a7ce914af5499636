"""Object-key globs: include/exclude at collection, ignore at diff time.

An object glob is ``<kind>:<name glob>`` (``table:public.tmp_*``), optionally
followed by ``#<path glob>`` to ignore only part of an object
(``table:public.*#comment``, ``table:*#columns.*.comment``). A path glob
matches the dotted drift path or any path below it.

The object glob is read like a key (driftd.kinds): a name part in double
quotes may hold ``.``, ``#`` and the other characters that keys quote, and is
written back the way keys write it before matching, so ``table:"dot.a".*``
matches the tables of schema ``dot.a`` and never those of schema ``dot``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def key_glob(glob: str) -> str:
    """An object glob with its name parts written as keys write them.

    ``table:"a#b".*`` becomes ``table:a#b.*`` (``#`` needs no quotes in a key);
    ``table:"dot.*".x`` stays quoted. A glob that does not read as a key
    (``*``, ``role:rds*``) is kept as it is.
    """
    from driftd.kinds import KeyError_, parse_key

    if '"' not in glob:
        return glob
    try:
        return str(parse_key(glob))
    except KeyError_:
        return glob


def key_matches(key: str, glob: str) -> bool:
    """Whether an object key matches an object glob (see :func:`key_glob`)."""
    return fnmatch.fnmatchcase(key, key_glob(glob))


def split_rule(text: str) -> tuple[str, str | None]:
    """``<object glob>#<path glob>``: the ``#`` that splits them is the first outside quotes."""
    quoted = False
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif c == "#" and not quoted:
            return text[:i], text[i + 1 :]
    return text, None


def _compile(globs: Iterable[str]) -> re.Pattern[str] | None:
    parts = [fnmatch.translate(key_glob(g)) for g in globs]
    return re.compile("|".join(parts)) if parts else None


@dataclass(frozen=True)
class KeyFilter:
    """Which object keys a snapshot keeps."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_inc", _compile(self.include))
        object.__setattr__(self, "_exc", _compile(self.exclude))

    def wants(self, key: str) -> bool:
        inc: re.Pattern[str] | None = self._inc  # type: ignore[attr-defined]
        exc: re.Pattern[str] | None = self._exc  # type: ignore[attr-defined]
        if inc is not None and not inc.match(key):
            return False
        return exc is None or not exc.match(key)


def dotted(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path)


@dataclass(frozen=True)
class IgnoreRule:
    object_glob: str
    path_glob: str | None

    @classmethod
    def parse(cls, text: str) -> IgnoreRule:
        key, path = split_rule(text)
        return cls(key_glob(key), path)

    def matches(self, obj: str, path: Sequence[Any]) -> bool:
        if not fnmatch.fnmatchcase(obj, self.object_glob):
            return False
        if self.path_glob is None:
            return True
        if not path:
            # A path rule never hides a whole object being added or removed.
            return False
        text = dotted(path)
        return fnmatch.fnmatchcase(text, self.path_glob) or fnmatch.fnmatchcase(
            text, self.path_glob + ".*"
        )


def ignored(rules: Sequence[IgnoreRule], obj: str, path: Sequence[Any]) -> bool:
    return any(rule.matches(obj, path) for rule in rules)
