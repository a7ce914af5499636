"""Read only what is new in log files: offsets per inode, rotation followed.

The cursor remembers, per file (device:inode), the offset read up to and a
hash of the file's first bytes. Each run reads from there; a file whose head
changed or that shrank was truncated or replaced and is read from the start.
For a plain path, a rotated-away file (``postgresql.log.1``) is still
finished when its inode is in the cursor; a glob (``log/postgresql-*.log``,
for ``logging_collector``) covers every file it matches. Compressed files
are skipped. Only complete records are consumed: a line still being written
is read next time.

The very first run reads at most ``max_bytes`` from the end of the newest
files: the attribution window is hours, not the whole history.
"""

from __future__ import annotations

import glob as globmod
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEAD_BYTES = 256
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip")

# Returns how many leading bytes of ``data`` form complete records.
Splitter = Callable[[bytes], int]


def lines_splitter(data: bytes) -> int:
    """Complete lines (stderr logs, JSON lines)."""
    return data.rfind(b"\n") + 1


def csv_splitter(data: bytes) -> int:
    """Complete CSV records: the last newline outside double quotes."""
    in_quote = False
    end = 0
    i = 0
    n = len(data)
    while i < n:
        j_quote = data.find(b'"', i)
        j_nl = data.find(b"\n", i)
        if j_quote < 0 and j_nl < 0:
            break
        if j_quote >= 0 and (j_nl < 0 or j_quote < j_nl):
            in_quote = not in_quote
            i = j_quote + 1
        else:
            if not in_quote:
                end = j_nl + 1
            i = j_nl + 1
    return end


@dataclass
class Chunk:
    """New complete bytes of one file, starting at ``offset``."""

    path: str
    file_id: str
    offset: int
    data: bytes


@dataclass
class TailResult:
    chunks: list[Chunk] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    backlog: bool = False  # more to read than max_bytes: the next run goes on

    def lines(self) -> Iterator[tuple[bytes, str]]:
        """Each non-blank line read, with a key unique to its place in its file."""
        for chunk in self.chunks:
            pos = 0
            for raw in chunk.data.split(b"\n"):
                start = pos
                pos += len(raw) + 1
                if raw.strip():
                    yield raw, f"{chunk.file_id}:{chunk.offset + start}"


def _head(path: str, size: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.blake2b(fh.read(min(size, HEAD_BYTES)), digest_size=8).hexdigest()


def _candidates(pattern: str, known: dict[str, Any]) -> list[str]:
    if globmod.has_magic(pattern):
        paths = globmod.glob(pattern)
    else:
        paths = [pattern]
        # Rotated siblings we were still reading (logrotate: .1, -20261122, ...).
        parent = Path(pattern).parent
        base = Path(pattern).name
        known_ids = set(known)
        try:
            for entry in os.scandir(parent):
                if entry.name != base and entry.name.startswith(base):
                    st = entry.stat(follow_symlinks=True)
                    if f"{st.st_dev}:{st.st_ino}" in known_ids:
                        paths.append(entry.path)
        except OSError:
            pass
    return [p for p in paths if not p.endswith(COMPRESSED)]


def read_new(
    pattern: str, cursor: dict[str, Any] | None, max_bytes: int, splitter: Splitter
) -> TailResult:
    """New complete records of the files at ``pattern`` since ``cursor``."""
    known: dict[str, Any] = dict((cursor or {}).get("files") or {})
    result = TailResult()
    files = _stat_files(pattern, known, result)
    budget = max_bytes
    new_files: dict[str, Any] = {}
    for path, st, start_at in _plan(files, cursor is None, max_bytes):
        file_id = f"{st.st_dev}:{st.st_ino}"
        try:
            head = _head(path, st.st_size)
        except OSError as exc:
            result.problems.append(f"cannot read {path}: {exc.strerror}")
            continue
        offset = _start(path, st, start_at, known.get(file_id))
        want = min(st.st_size - offset, budget)
        try:
            data = _read(path, offset, want)
        except OSError as exc:
            result.problems.append(f"cannot read {path}: {exc.strerror}")
            continue
        if start_at and offset > 0:
            # A first run starting mid-file: skip the partial record.
            cut = data.find(b"\n") + 1
            offset += cut
            data = data[cut:]
        used = splitter(data)
        if used == 0 and len(data) >= max_bytes:
            used = len(data)  # one record bigger than the whole budget: skip it, never stall
            result.problems.append(f"{path}: a record over {max_bytes} bytes was skipped")
        budget -= len(data)
        if want < st.st_size - offset:
            result.backlog = True
        if used:
            result.chunks.append(Chunk(path, file_id, offset, data[:used]))
        new_files[file_id] = {
            "path": path,
            "offset": offset + used,
            "head": head,
            "head_len": min(st.st_size, HEAD_BYTES),
        }
    result.cursor = {"files": new_files}
    return result


def _stat_files(
    pattern: str, known: dict[str, Any], result: TailResult
) -> list[tuple[float, str, os.stat_result]]:
    """The files to read, oldest first; missing or unreadable ones are problems."""
    files = []
    for path in _candidates(pattern, known):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.problems.append(f"cannot read {path}: {exc.strerror}")
            continue
        files.append((st.st_mtime, path, st))
    if not files and not globmod.has_magic(pattern):
        result.problems.append(f"log file {pattern} does not exist")
    files.sort()
    return files


def _plan(
    files: list[tuple[float, str, os.stat_result]], first_run: bool, max_bytes: int
) -> list[tuple[str, os.stat_result, int | None]]:
    """``(path, stat, start offset)`` oldest first. A first run reads only the newest
    ``max_bytes`` in all (budgeted newest first); later runs start at each cursor (None)."""
    if not first_run:
        return [(path, st, None) for _, path, st in files]
    budget = max_bytes
    plan: list[tuple[str, os.stat_result, int | None]] = []
    for _, path, st in reversed(files):
        take = min(st.st_size, budget)
        budget -= take
        plan.append((path, st, st.st_size - take))
    plan.reverse()
    return plan


def _start(
    path: str, st: os.stat_result, start_at: int | None, entry: dict[str, Any] | None
) -> int:
    if start_at is not None:
        return start_at
    if entry and int(entry.get("offset", 0)) <= st.st_size and _same_prefix(path, entry):
        return int(entry["offset"])
    return 0  # new, truncated or replaced


def _read(path: str, offset: int, want: int) -> bytes:
    if want <= 0:
        return b""
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(want)


def _same_prefix(path: str, entry: dict[str, Any]) -> bool:
    """The file still starts with the bytes it started with when the cursor was saved."""
    length = int(entry.get("head_len", 0))
    try:
        with open(path, "rb") as fh:
            digest = hashlib.blake2b(fh.read(length), digest_size=8).hexdigest()
    except OSError:
        return False
    return bool(digest == entry.get("head"))
