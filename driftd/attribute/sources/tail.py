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

import csv
import glob as globmod
import hashlib
import io
import os
import re
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


# The start of a csvlog record: its log_time (``2026-12-05 11:45:02.554 UTC,``).
_CSVLOG_START = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? ?[^,\n]{0,40},")
# 14 fields reach the message; PostgreSQL writes 22 (8.4) to 26 (14+).
CSVLOG_MIN_FIELDS = 14
CSVLOG_MAX_FIELDS = 40


@dataclass
class CsvScan:
    """Byte spans (start, end) of the csvlog records and torn rows of some data;
    ``used``: how much of it is decided (the rest may still be being written)."""

    records: list[tuple[int, int]] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # the fields of each record
    torn: list[tuple[int, int]] = field(default_factory=list)
    used: int = 0


def _record_end(data: bytes, start: int) -> int | None:
    """Where the CSV record starting at ``start`` ends (past its newline); None if it
    does not end in ``data``."""
    in_quote = False
    i = start
    while True:
        j_quote = data.find(b'"', i)
        j_nl = data.find(b"\n", i)
        if j_nl < 0:
            return None
        if 0 <= j_quote < j_nl:
            in_quote = not in_quote
            i = j_quote + 1
        elif in_quote:
            i = j_nl + 1
        else:
            return j_nl + 1


def csvlog_row(record: bytes) -> list[str] | None:
    """The fields of one csvlog record, or None when it is not one (strict CSV, a
    timestamp first, enough fields)."""
    if not _CSVLOG_START.match(record):
        return None
    text = record.decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    if len(rows) != 1 or not CSVLOG_MIN_FIELDS <= len(rows[0]) <= CSVLOG_MAX_FIELDS:
        return None
    return rows[0]


def _valid_at(data: bytes, start: int) -> tuple[int, list[str]] | None:
    """The end and fields of a complete, valid csvlog record starting at ``start``."""
    end = _record_end(data, start)
    if end is None:
        return None
    row = csvlog_row(data[start:end])
    return None if row is None else (end, row)


def _next_valid(data: bytes, after: int) -> int | None:
    """The start of the first complete, valid record that begins a line after ``after``."""
    pos = after
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return None
        pos = nl + 1
        if _CSVLOG_START.match(data, pos) and _valid_at(data, pos) is not None:
            return pos


def csvlog_scan(data: bytes, final: bool) -> CsvScan:
    """Split csvlog ``data`` into records and torn rows.

    A row that is not a valid record is torn when a valid record follows it
    (more data came after it, so it will never be finished) or when ``final``
    (nothing more will be written). Otherwise it may still be being written:
    it and what follows are left undecided (``used`` stops before it).
    """
    scan = CsvScan()
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] in b"\r\n":  # blank line
            pos += 1
            continue
        valid = _valid_at(data, pos)
        if valid is not None:
            scan.records.append((pos, valid[0]))
            scan.rows.append(valid[1])
            pos = valid[0]
            continue
        resume = _next_valid(data, pos)
        if resume is None:
            if final:
                scan.torn.append((pos, n))
                pos = n
            break
        scan.torn.append((pos, resume))
        pos = resume
    scan.used = pos
    return scan


def csvlog_splitter(data: bytes) -> int:
    """Complete csvlog records, and torn rows a complete record follows.

    Fast path: rows that start with a timestamp and end (quotes balanced) where
    the next one starts. Whatever does not look so, and the last row (it may be
    cut), is checked by :func:`csvlog_scan`; the parser checks every row anyway.
    """
    pos = 0
    n = len(data)
    while pos < n:
        end = _record_end(data, pos)
        if end is None or end == n or not _CSVLOG_START.match(data, pos):
            break
        if not _CSVLOG_START.match(data, end):
            break
        pos = end
    return pos + csvlog_scan(data[pos:], final=False).used


def csvlog_resync(data: bytes) -> int:
    """Where the first csvlog record starts in data read from the middle of a file."""
    if _CSVLOG_START.match(data) and _valid_at(data, 0) is not None:
        return 0
    found = _next_valid(data, 0)
    return found if found is not None else lines_resync(data)


def lines_resync(data: bytes) -> int:
    """Where the first whole line starts in data read from the middle of a file."""
    return data.find(b"\n") + 1


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
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why), never parsed
    backlog: bool = False  # more to read than max_bytes: the next run goes on

    def lines(self) -> Iterator[tuple[bytes, str, str]]:
        """Each non-blank line read, with a key unique to its place in its file and
        that place for warnings (``path byte offset``)."""
        for chunk in self.chunks:
            for start, raw in nonblank_lines(chunk.data):
                at = chunk.offset + start
                yield raw, f"{chunk.file_id}:{at}", f"{chunk.path} byte {at}"


def nonblank_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Each line of ``data`` that is not blank, with the byte offset where it starts."""
    pos = 0
    for raw in data.split(b"\n"):
        start = pos
        pos += len(raw) + 1
        if raw.strip():
            yield start, raw


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
    pattern: str,
    cursor: dict[str, Any] | None,
    max_bytes: int,
    splitter: Splitter,
    resync: Splitter = lines_resync,
) -> TailResult:
    """New complete records of the files at ``pattern`` since ``cursor``.

    ``resync`` finds the first record in data read from the middle of a file."""
    known: dict[str, Any] = dict((cursor or {}).get("files") or {})
    result = TailResult()
    files = _stat_files(pattern, known, result)
    budget = max_bytes
    new_files: dict[str, Any] = {}
    live = _live(pattern, files)
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
            cut = resync(data)
            offset += cut
            data = data[cut:]
        used = splitter(data)
        if path != live and offset + len(data) == st.st_size:
            used = len(data)  # it grows no more: an unfinished last record is torn
        consumed = used
        if used == 0 and len(data) >= max_bytes:
            consumed = len(data)  # one record bigger than the whole budget: skip it, never stall
            result.skipped.append((f"{path} byte {offset}", f"a record over {max_bytes} bytes"))
        budget -= len(data)
        if want < st.st_size - offset:
            result.backlog = True
        if used:
            result.chunks.append(Chunk(path, file_id, offset, data[:used]))
        new_files[file_id] = {
            "path": path,
            "offset": offset + consumed,
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


def _live(pattern: str, files: list[tuple[float, str, os.stat_result]]) -> str | None:
    """The one file that may still be written to: the path itself, or a glob's newest."""
    if not globmod.has_magic(pattern):
        return pattern
    return files[-1][1] if files else None


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
