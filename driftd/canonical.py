"""Canonical JSON: the one serialisation used for hashing, ids and files.

Sorted keys and no whitespace make equal content byte-identical, so a hash of
the bytes is a content hash.
"""

from __future__ import annotations

import gc
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact canonical JSON bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


_PRETTY = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE


def dumps_pretty(value: Any) -> bytes:
    """Canonical JSON indented two spaces with a trailing newline (for git)."""
    # OPT_APPEND_NEWLINE rather than + b"\n": no second copy of a 40 MB document.
    return orjson.dumps(value, option=_PRETTY)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def content_hash(value: Any) -> str:
    """A short, stable hash of a JSON-able value."""
    return hashlib.blake2b(dumps(value), digest_size=16).hexdigest()


def fingerprint(*parts: Any) -> str:
    """16 hex characters identifying ``parts`` (used for drift ids)."""
    return hashlib.sha256(dumps(list(parts))).hexdigest()[:16]


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_resume = False
_gc_paused_since = 0.0
# Overlapping pauses (a daemon checking several environments at once) may keep the
# collector off for long: then one collection runs anyway, at most this often.
GC_MAX_PAUSE = 60.0


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building or parsing a large document.

    A snapshot is millions of small dicts, lists and tuples and no reference
    cycle: collection passes over them while they are built find nothing and
    cost as much as the building itself. Nests and works across threads: the
    collector runs again when the last pause ends (unless it was off before).
    """
    global _gc_pauses, _gc_resume, _gc_paused_since
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_resume = gc.isenabled()
            _gc_paused_since = time.monotonic()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        collect = False
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                if _gc_resume:
                    gc.enable()
            elif _gc_resume and time.monotonic() - _gc_paused_since > GC_MAX_PAUSE:
                _gc_paused_since = time.monotonic()
                collect = True
        if collect:
            gc.collect()
