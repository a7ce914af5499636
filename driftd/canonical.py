"""Canonical JSON: the one serialisation used for hashing, ids and files.

Sorted keys and no whitespace make equal content byte-identical, so a hash of
the bytes is a content hash.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact canonical JSON bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def dumps_pretty(value: Any) -> bytes:
    """Canonical JSON indented two spaces with a trailing newline (for git)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def content_hash(value: Any) -> str:
    """A short, stable hash of a JSON-able value."""
    return hashlib.blake2b(dumps(value), digest_size=16).hexdigest()


def fingerprint(*parts: Any) -> str:
    """16 hex characters identifying ``parts`` (used for drift ids)."""
    return hashlib.sha256(dumps(list(parts))).hexdigest()[:16]
