"""The snapshot document: build, read and write it; baselines are snapshots on disk.

A snapshot is canonical: the same database gives byte-identical output apart
from ``taken_at`` and ``engine.server_version`` (the volatile fields). A
baseline is a snapshot with those dropped, pretty-printed so that one database
change is a few lines of ``git diff``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from driftd import canonical, kinds
from driftd.collect import Collected, Target, collect, collector
from driftd.config import ResolvedEnvironment
from driftd.diff.filters import KeyFilter, key_glob
from driftd.drift import iso, value_at
from driftd.errors import BaselineError

SNAPSHOT_FORMAT = "driftd.snapshot/1"
Snapshot = dict[str, Any]


def build(environment: str, collected: Collected, keys: KeyFilter) -> Snapshot:
    objects = {k: v for k, v in collected.objects.items() if keys.wants(k)}
    return {
        "format": SNAPSHOT_FORMAT,
        "environment": environment,
        "engine": dict(collected.engine),
        "taken_at": iso(datetime.now(UTC)),
        "objects": objects,
    }


def take(env: ResolvedEnvironment) -> Snapshot:
    """Read the live database of ``env`` into a snapshot."""
    return build(env.name, collect(Target.of(env)), _key_filter(env))


def _key_filter(env: ResolvedEnvironment) -> KeyFilter:
    exclude = tuple(env.settings.exclude)
    if not env.cluster_objects:  # another environment on this server reports them
        exclude += tuple(f"{k.name}:*" for k in kinds.KINDS.values() if k.cluster_wide)
    return KeyFilter(tuple(env.settings.include), exclude)


def stable(snapshot: Snapshot) -> Snapshot:
    """The snapshot without its volatile fields: what a baseline holds."""
    out = {k: v for k, v in snapshot.items() if k != "taken_at"}
    out["engine"] = {k: v for k, v in snapshot.get("engine", {}).items() if k != "server_version"}
    return out


def content_hash(snapshot: Snapshot) -> str:
    """Hash of everything that is diffed (objects and engine dialect)."""
    engine, objects = stable(snapshot)["engine"], snapshot["objects"]
    if not isinstance(objects, CompactObjects):
        return canonical.content_hash({"engine": engine, "objects": objects})
    # The same bytes canonical.dumps writes for the parsed objects (keys sorted).
    parts = [canonical.dumps(k) + b":" + objects[k] for k in sorted(objects)]
    data = b'{"engine":' + canonical.dumps(engine) + b',"objects":{' + b",".join(parts) + b"}}"
    return hashlib.blake2b(data, digest_size=16).hexdigest()  # as canonical.content_hash


def to_bytes(snapshot: Snapshot) -> bytes:
    return canonical.dumps_pretty(snapshot)


TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 60.0
GITIGNORE = (
    f"# driftd: temp files of a baseline being written (never commit them)\n/.*{TEMP_SUFFIX}\n"
)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via a temp file and rename: a crash never leaves half a file.

    The file gets ``mode`` whatever the umask: 0600 for what is private (snapshots
    of a live database); baselines are reviewed and committed, and get 0644. A
    missing directory is created 0700 (0755 for a public file). The temp file is
    ``.NAME.XXXXXXXX.tmp``: hidden, ignored by git (see :data:`GITIGNORE`), and
    removed by the next write when a crash left it behind.
    """
    if not path.parent.is_dir():
        os.makedirs(path.parent, mode=0o755 if mode & 0o044 else 0o700, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _temp_pattern(path: Path) -> re.Pattern[str]:
    # mkstemp's 8 random characters; ``.tmp`` since issue 17, none before.
    return re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}(?:{re.escape(TEMP_SUFFIX)})?")


def remove_stale_temps(path: Path, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Remove the temp files a killed write of ``path`` left behind (only driftd's own
    pattern, only older than ``older_than`` seconds: a write in progress keeps its
    file). Never raises: a read-only directory just keeps them."""
    pattern = _temp_pattern(path)
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime > older_than:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def write_baseline(env: ResolvedEnvironment, data: bytes) -> Path:
    """Write the baseline of ``env`` (0644: it is committed), after giving the
    baselines directory a ``.gitignore`` for temp files if it has none."""
    path = env.baseline_path
    if not path.parent.is_dir():
        os.makedirs(path.parent, mode=0o755, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if path.parent == env.config.baselines_dir and not ignore.exists():
        with contextlib.suppress(OSError):  # a nicety: the baseline itself matters
            write_atomic(ignore, GITIGNORE.encode(), mode=0o644)
    write_atomic(path, data, mode=0o644)
    return path


def read(path: Path, what: str = "snapshot", compact: bool = False) -> Snapshot:
    """Load a snapshot or baseline file and check its format. ``compact``: its
    objects as :class:`CompactObjects` (each one's canonical bytes, a quarter of
    the memory of the parsed objects), for a check that parses only what differs."""
    try:
        with canonical.gc_paused():  # a large baseline parses twice as fast
            with path.open("rb") as fh:
                data = _stream(fh, compact)
            if data is None:  # not laid out as driftd writes it: parsed whole
                data = _compacted(canonical.loads(path.read_bytes()), compact)
    except FileNotFoundError:
        raise BaselineError(f"{what} file {path} does not exist") from None
    except OSError as exc:
        raise BaselineError(f"cannot read {what} file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise BaselineError(
            f"{what} file {path} is not valid JSON: {exc}",
            "restore it from git, or write it anew with `driftd baseline accept`",
        ) from None
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise BaselineError(
            f"{what} file {path} is not a {SNAPSHOT_FORMAT} document",
            "restore it from git, or write it anew with `driftd baseline accept`",
        )
    if not isinstance(data.get("objects"), dict):
        raise BaselineError(f"{what} file {path} has no 'objects' map")
    data["objects"] = _migrated_objects(data["objects"], path, what)
    return data


class CompactObjects(dict[str, bytes]):
    """A snapshot's objects map holding each object's canonical bytes
    (``canonical.dumps``) instead of the object: what a check keeps of the
    baseline while it reads the live database (``check.evaluate`` compares the
    bytes and parses the objects that differ)."""


# How dumps_pretty lays out a document's objects: the map opens at two spaces, each
# object's key at four (raw newlines occur in JSON only between tokens).
_OBJECTS_OPEN = b'\n  "objects": {\n'
_OBJECTS_CLOSE = b"\n  }"
_NEXT_OBJECT = b',\n    "'
READ_BLOCK = 1 << 20


def _stream(fh: BinaryIO, compact: bool) -> Snapshot | None:
    """A document read and parsed a megabyte of objects at a time: parsing a 58 MB
    baseline whole held the file and orjson's own tree of it at once (170 MB more
    at the peak of a check). None when the file is not laid out as
    ``dumps_pretty`` writes it (a hand-edited one), or a part does not parse: the
    caller parses it whole, which also says what is wrong."""
    start, found = bytearray(), -1
    while found < 0:
        block = fh.read(READ_BLOCK)
        if not block:
            return None
        start += block
        found = start.find(_OBJECTS_OPEN, max(0, len(start) - len(block) - len(_OBJECTS_OPEN)))
    head, buf = bytes(start[:found]), bytes(start[found + len(_OBJECTS_OPEN) - 1 :])
    del start  # buf: from the newline before the first object
    objects: dict[str, Any] = CompactObjects() if compact else {}
    try:
        while (end := buf.find(_OBJECTS_CLOSE)) < 0:
            cut = buf.rfind(_NEXT_OBJECT)
            if cut > 0:
                _add(objects, buf[:cut], compact)
                buf = buf[cut + 1 :]  # from the newline
            block = fh.read(READ_BLOCK)
            if not block:
                return None
            buf += block
        if end > 0:
            _add(objects, buf[:end], compact)
        doc = canonical.loads(
            head + b'\n  "objects": {}' + buf[end + len(_OBJECTS_CLOSE) :] + fh.read()
        )
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    doc["objects"] = objects
    return doc


def _add(objects: dict[str, Any], part: bytes, compact: bool) -> None:
    parsed = canonical.loads(b"{" + part + b"}")
    if compact:
        parsed = {k: _exact(canonical.dumps(v)) for k, v in parsed.items()}
    objects.update(parsed)


def _exact(data: bytes) -> bytes:
    """A copy of exactly its size: orjson's bytes keep the buffer they grew in (the
    13k objects of a 10k-table baseline: 34 MB of JSON took 90 MB)."""
    return memoryview(data).tobytes()


def _compacted(doc: Any, compact: bool) -> Any:
    if compact and isinstance(doc, dict) and isinstance(doc.get("objects"), dict):
        objects = doc["objects"]
        doc["objects"] = CompactObjects((k, _exact(canonical.dumps(v))) for k, v in objects.items())
    return doc


def _migrated_objects(objects: dict[str, Any], path: Path, what: str) -> dict[str, Any]:
    """The objects of a document with keys written before the quoting rule re-keyed.

    driftd once joined name parts raw (``table:dot.a.b`` for both ``"dot.a".b``
    and ``dot."a.b"``). Such a key is re-keyed when it can name only one object;
    when it could name several, the document cannot be read and must be
    accepted again (the live database says which objects exist).
    """
    try:
        changed = kinds.migrate_keys(objects)
    except kinds.KeyError_ as exc:
        raise BaselineError(
            f"{what} file {path}: {exc}",
            "accept the baseline again (`driftd baseline accept ENV`): its object keys "
            "predate the quoting rule of docs/objects.md",
        ) from None
    if not changed:
        return objects
    return type(objects)((changed.get(k, k), v) for k, v in objects.items())


def _baseline_path(env: ResolvedEnvironment) -> Path:
    path = env.baseline_path
    remove_stale_temps(path)  # left by a `baseline accept` that was killed
    return path


def _missing_baseline(env: ResolvedEnvironment) -> BaselineError:
    return BaselineError(
        f"no baseline for {env.name} ({env.baseline_path} does not exist)",
        f"review the live state, then run `driftd baseline accept {env.name}` and commit the file",
    )


def take_with_baseline(
    env: ResolvedEnvironment,
    compact: bool = False,
    read_baseline: Callable[[Path], Snapshot] | None = None,
) -> tuple[Snapshot, Snapshot]:
    """The baseline of ``environment`` and its live snapshot, read at the same time.

    The baseline is parsed on a thread while the collector waits for the
    catalog queries; the PostgreSQL collector says when its long queries have
    started (parsing holds the GIL, so earlier it would only delay them).
    Connect first: a database that cannot be read (down, password refused) is
    the error reported even when the baseline is missing or unreadable too,
    since that is the one to fix first (issue 13); baseline errors come after.
    ``read_baseline`` reads the file instead of :func:`read` (``driftd check``'s cache).
    """
    path = _baseline_path(env)
    loaded: list[Snapshot] = []
    failed: list[BaseException] = []

    def load() -> None:
        try:
            if not path.exists():
                raise _missing_baseline(env)
            loaded.append(read_baseline(path) if read_baseline else read(path, "baseline", compact))
        except BaseException as exc:  # raised on the calling thread
            failed.append(exc)

    loader = threading.Thread(target=load, name=f"driftd-baseline-{env.name}", daemon=True)

    def start() -> None:
        if loader.ident is None:
            loader.start()

    try:
        target = Target.of(env)
        engine_collect = collector(target)
        if engine_collect.__module__.startswith("driftd.collect.postgres"):
            # It says when its long queries have started.
            collected = engine_collect(target, busy=start)
        else:
            start()
            collected = engine_collect(target)
    finally:
        start()
        loader.join()  # a collector error propagates from here, ahead of the baseline's
    if failed:
        raise failed[0]
    keys = _key_filter(env)
    baseline = loaded[0]
    if not env.cluster_objects:  # leave them out of an older baseline as well
        server_own = {k.name for k in kinds.KINDS.values() if k.cluster_wide}
        baseline["objects"] = type(baseline["objects"])(
            (k, v) for k, v in baseline["objects"].items() if kinds.kind_of(k) not in server_own
        )
    return baseline, build(env.name, collected, keys)


Move = tuple[str, list[Any]]  # (object key, path inside it; [] for the whole object)


def object_moves(baseline: Snapshot, live: Snapshot, globs: Iterable[str]) -> list[Move]:
    """The whole objects that ``--object`` globs select (from the live side or the baseline)."""
    import fnmatch

    universe = set(baseline["objects"]) | set(live["objects"])
    moves: list[Move] = []
    for glob in globs:
        pattern = key_glob(glob)
        matched = sorted(k for k in universe if fnmatch.fnmatchcase(k, pattern))
        if not matched:
            raise BaselineError(
                f"--object {glob}: no such object in the live database or the baseline",
                "object keys look like table:public.orders or role:app (see `driftd check` output)",
            )
        moves += [(k, []) for k in matched if (k, []) not in moves]
    return moves


def path_move(baseline: Snapshot, live: Snapshot, text: str) -> Move:
    """``--path KEY#dotted.path``: the field's real keys (a key may itself hold a dot)."""
    from driftd.diff.filters import split_rule

    glob, dotted_path = split_rule(text)
    key = key_glob(glob)
    if not dotted_path:
        raise BaselineError(
            f"--path {text}: no path after '#'",
            "write OBJECT#PATH, e.g. 'table:public.t#columns.email' (or use --object)",
        )
    sides = [s["objects"][key] for s in (live, baseline) if key in s["objects"]]
    if not sides:
        raise BaselineError(
            f"--path {text}: no object {key} in the live database or the baseline",
            "object keys and paths are shown by `driftd check`",
        )
    path = _split_path(sides, dotted_path)
    if key not in baseline["objects"] or _parent(baseline["objects"][key], path) is None:
        raise BaselineError(
            f"--path {text}: the baseline has no {key} to hold that field",
            f"accept the whole object: --object '{key}'",
        )
    return key, path


def _split_path(sides: list[Any], dotted_path: str) -> list[Any]:
    """The keys that spell ``dotted_path`` in either object, longest key first at each level."""
    path: list[Any] = []
    rest = dotted_path
    while rest:
        levels = [s for s in sides if isinstance(s, dict)]
        names = {str(k): k for s in levels for k in s}
        for name in sorted(names, key=len, reverse=True):
            if rest == name or rest.startswith(name + "."):
                path.append(names[name])
                rest = rest[len(name) + 1 :]
                sides = [s[names[name]] for s in levels if names[name] in s]
                break
        else:
            raise BaselineError(
                f"--path: no field {rest!r} in {'.'.join(map(str, path)) or 'the object'}",
                "paths are the dotted paths `driftd check` shows, e.g. columns.email",
            )
    return path


def _parent(obj: Any, path: list[Any]) -> dict[str, Any] | None:
    for part in path[:-1]:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj if isinstance(obj, dict) else None


_ABSENT = object()


def _move(objects: dict[str, Any], live: dict[str, Any], key: str, path: list[Any]) -> None:
    """Make ``objects[key]`` at ``path`` what the live side has there (gone if it has none)."""
    value = value_at(live.get(key, _ABSENT), path, _ABSENT) if key in live else _ABSENT
    if not path:
        if value is _ABSENT:
            objects.pop(key, None)
        else:
            objects[key] = value
        return
    if key not in objects:  # a part of an object the baseline lacks: the whole object
        if key in live:
            objects[key] = live[key]
        return
    objects[key] = copy = _copied(objects[key], path[:-1])
    parent = _parent(copy, path)
    if parent is None:  # the live side added the parents too
        objects[key] = live[key]
    elif value is _ABSENT:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value


def _copied(obj: dict[str, Any], path: list[Any]) -> dict[str, Any]:
    """``obj`` with the dicts along ``path`` copied (the baseline read is not changed)."""
    out = dict(obj)
    node = out
    for part in path:
        child = node.get(part)
        if not isinstance(child, dict):
            break
        node[part] = node = dict(child)
    return out


def accept(
    baseline: Snapshot | None,
    live: Snapshot,
    moves: list[Move] | None = None,
    accepted: dict[str, Any] | None = None,
) -> tuple[Snapshot, list[str]]:
    """The new baseline, and the keys whose content it changes.

    Without ``moves`` the live state is taken whole. With them, each
    (object, path) moves from ``live`` into the existing ``baseline``: a path
    of ``[]`` is the whole object, and what the live side lacks is removed.
    ``accepted`` (who, when, why, what) is the document's metadata: outside
    ``objects`` and ``engine``, so it never changes the content hash.
    """
    if moves is not None and baseline is None:
        raise BaselineError(
            f"no baseline for {live['environment']} yet, so there is nothing to accept into",
            f"accept everything first: driftd baseline accept {live['environment']}",
        )
    old_objects = baseline["objects"] if baseline else {}
    if moves is None or baseline is None:
        new = stable(live)
        selected = sorted(set(old_objects) | set(new["objects"]))
    else:
        new = stable(baseline)
        new["objects"] = dict(baseline["objects"])
        new["engine"] = stable(live)["engine"]
        for key, path in moves:
            _move(new["objects"], live["objects"], key, path)
        selected = sorted({key for key, _ in moves})
    new.pop("accepted", None)
    if accepted:
        new["accepted"] = accepted
    changed = [
        k
        for k in selected
        if canonical.dumps(old_objects.get(k)) != canonical.dumps(new["objects"].get(k))
    ]
    return new, changed
