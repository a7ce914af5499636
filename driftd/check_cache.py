"""The no-change fast path of ``driftd check`` (a process of its own): kept on disk.

The daemon remembers its last full check in memory (:class:`driftd.check.FastPath`).
A ``driftd check`` process has nothing in memory, so it keeps the same record in a
small file per environment (``<cache_dir>/<env>.<hash>.json``, JSON, mode 0600,
written atomically): the catalog fingerprint and the baseline file's stamp read
before the last full check, a hash of everything else that decides the result
(the resolved environment settings, the rules, the driftd version and code), its
evaluated drift items and the wall-clock time. When all of them match now and the
record is younger than ``full_snapshot_every``, the items are used again; the
output is the full check's. Attribution runs as always.

Nothing here imports SQLAlchemy or the differ: the no-change path needs psycopg
(the fingerprint) and the standard library.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import struct
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import driftd
from driftd.check import Evaluated, FastPath, _Full, _Seen, _stamp
from driftd.config import url as urls
from driftd.drift import DriftItem
from driftd.errors import DriftdError

if TYPE_CHECKING:
    from driftd.collect import Target
    from driftd.config import Config, ResolvedEnvironment
    from driftd.snapshot import Snapshot

log = logging.getLogger(__name__)

CACHE_FORMAT = "driftd.check-cache/1"
# A baseline changed this recently may be rewritten within the same timestamp tick
# without its stamp changing (git's "racy clean"): its content hash is kept too.
RACY_NS = 2_000_000_000


def cache_dir(config: Config) -> Path:
    """``[driftd] cache_dir`` (relative to the config file); else ``driftd-cache/`` next
    to a SQLite state store (``state_url``); else ``$XDG_CACHE_HOME/driftd``
    (``~/.cache/driftd``), e.g. with a PostgreSQL state store."""
    if config.driftd.cache_dir:
        return config.resolve_path(config.driftd.cache_dir, "driftd.cache_dir")
    state = urls.parse(config.driftd.state_url)
    if state and state.drivername.startswith("sqlite") and state.database not in (None, ""):
        with contextlib.suppress(DriftdError):  # e.g. ${STATE_DIRECTORY} unset here
            if state.database != ":memory:":
                return config.resolve_path(state.database or "").parent / "driftd-cache"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path(os.path.expanduser("~")) / ".cache"
    return base / "driftd"


class CheckCache(FastPath):
    """:class:`FastPath` with its memory in files, for ``driftd check``.

    ``full``: never reuse (``driftd check --full``), but still remember the result.
    A directory that cannot be written costs one warning and full checks."""

    def __init__(self, directory: Path, full: bool = False) -> None:
        super().__init__(clock=time.time)  # wall clock: the record outlives the process
        self.directory = directory
        self.full = full
        self._warned = False

    def baseline_reader(self) -> Callable[[Path], Snapshot] | None:
        return BaselineCache(self.directory).read

    def file(self, env: ResolvedEnvironment) -> Path:
        where = f"{os.path.abspath(env.config.base_dir)}\0{env.name}"
        return self.directory / f"{env.name}.{_sha(where)[:16]}.json"

    def _seen(self, env: ResolvedEnvironment, target: Target, seen: _Seen) -> _Seen:
        digest = None
        if seen.baseline and time.time_ns() - seen.baseline[-1] < RACY_NS:
            digest = _file_digest(env.baseline_path)
        return replace(seen, key=settings_key(env, target), digest=digest)

    def _recall(self, env: ResolvedEnvironment) -> _Full | None:
        if self.full:
            return None
        try:
            data = json.loads(self.file(env).read_bytes())
            if data.get("format") != CACHE_FORMAT or data.get("environment") != env.name:
                return None
            seen = _Seen(
                str(data["fingerprint"]),
                tuple(int(n) for n in data["baseline"]),
                key=str(data["key"]),
                digest=data.get("baseline_sha256"),
                at=float(data["at"]),
            )
            items = [DriftItem.from_json(i) for i in data["items"]]
            evaluated = Evaluated(
                items,
                data.get("baseline_hash"),
                data.get("snapshot_hash"),
                None,
                int(data.get("ignored", 0)),
                data.get("reference"),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable or damaged
            log.debug("%s: check cache not used (%s)", env.name, exc)
            return None
        return _Full(seen, evaluated, seen.at)

    def _same(self, env: ResolvedEnvironment, last: _Seen, now: _Seen) -> bool:
        if (last.fingerprint, last.baseline, last.key) != (now.fingerprint, now.baseline, now.key):
            return False
        # Racy when remembered: compare the content (hashed now unless just hashed).
        return last.digest is None or last.digest == (now.digest or _file_digest(env.baseline_path))

    def remember(self, env: ResolvedEnvironment, seen: _Seen, out: Evaluated) -> None:
        record = {
            "format": CACHE_FORMAT,
            "driftd": driftd.__version__,
            "environment": env.name,
            "key": seen.key,
            "fingerprint": seen.fingerprint,
            "baseline": list(seen.baseline),
            "baseline_sha256": seen.digest,
            "at": seen.at,  # when the full check started: its age counts from there
            "items": [i.to_json() for i in out.items],
            "ignored": out.ignored,
            "reference": out.reference,
            "baseline_hash": out.baseline_hash,
            "snapshot_hash": out.snapshot_hash,
        }
        from driftd.snapshot import write_atomic

        try:
            write_atomic(self.file(env), json.dumps(record).encode(), mode=0o600)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "cannot write the check cache in %s (%s): every check takes a full "
                    "snapshot; set [driftd] cache_dir to a writable directory",
                    self.directory,
                    exc.strerror or exc,
                )


def settings_key(env: ResolvedEnvironment, target: Target) -> str:
    """A hash of everything besides the catalog and the baseline file that decides
    the drift items: the environment's settings as resolved, the database (its URL
    without the password), the rules, and driftd's version and code."""
    parsed = urls.parse(target.url)
    database = parsed.set(None).render() if parsed else target.display_url
    decided = {
        "driftd": [driftd.__version__, _code_stamp()],
        "environment": env.name,
        "settings": env.settings.model_dump(mode="json"),
        "cluster_objects": env.cluster_objects,
        "baseline": os.path.abspath(env.baseline_path),
        "database": database,
        "rules": env.config.rules.model_dump(mode="json"),
    }
    return _sha(json.dumps(decided, sort_keys=True, default=str))


@functools.cache
def _code_stamp() -> str:
    """Size and mtime of every file of the installed package: a development tree
    changed under the same version number is other code (a few ms)."""
    root = Path(driftd.__file__).parent
    stamps = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".sql")):
                st = os.stat(os.path.join(dirpath, name))
                stamps.append(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}")
    return _sha("\n".join(stamps))


def _file_digest(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


BASELINE_FORMAT = "driftd.baseline-cache/1"
_LENGTH = struct.Struct("<I")


class BaselineCache:
    """A baseline as a check keeps it (each object's canonical bytes,
    ``snapshot.CompactObjects``), in ``<cache_dir>/baseline.<hash>.bin``: read back in
    ~20 ms where parsing the 58 MB JSON of a 10k-table baseline takes ~0.3 s of CPU.

    Used while the file's stamp (inode, size, mtime, ctime) is the one it was read
    with, and driftd's version and code are the same; a file changed in the last
    two seconds is not kept (a rewrite in the same clock tick would keep its stamp).
    A JSON header line, then per object: key and bytes, each after its length."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def file(self, path: Path) -> Path:
        return self.directory / f"baseline.{_sha(os.path.abspath(path))[:16]}.bin"

    def read(self, path: Path) -> Snapshot:
        """The baseline at ``path``, compact: kept, or read (and kept for next time)."""
        from driftd.snapshot import read

        stamp = _stamp(path)
        kept = self.load(path, stamp)
        if kept is not None:
            return kept
        baseline = read(path, "baseline", compact=True)
        if _stamp(path) == stamp:  # not rewritten while it was read
            self.store(path, stamp, baseline)
        return baseline

    def _header(self, path: Path, stamp: tuple[int, ...]) -> dict[str, Any]:
        return {
            "format": BASELINE_FORMAT,
            "driftd": [driftd.__version__, _code_stamp()],
            "path": os.path.abspath(path),
            "stamp": list(stamp),
        }

    def load(self, path: Path, stamp: tuple[int, ...]) -> Snapshot | None:
        from driftd.snapshot import CompactObjects

        try:
            data = memoryview(self.file(path).read_bytes())
            end = bytes(data[:65536]).index(b"\n")
            header = json.loads(bytes(data[:end]))
            document = header.pop("document")
            if header != self._header(path, stamp):
                return None
            objects, at = CompactObjects(), end + 1
            for _ in range(int(document.pop("count"))):
                (n,) = _LENGTH.unpack_from(data, at)
                key = str(data[at + 4 : at + 4 + n], "utf-8")
                at += 4 + n
                (n,) = _LENGTH.unpack_from(data, at)
                objects[key] = bytes(data[at + 4 : at + 4 + n])
                at += 4 + n
            if at != len(data):
                return None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, struct.error) as exc:  # damaged
            log.debug("baseline cache of %s not used (%s)", path, exc)
            return None
        document["objects"] = objects
        return document  # type: ignore[no-any-return]

    def store(self, path: Path, stamp: tuple[int, ...], baseline: Snapshot) -> None:
        if not stamp or time.time_ns() - stamp[3] < RACY_NS:  # ctime: any write moves it
            return
        objects = baseline["objects"]
        document = {k: v for k, v in baseline.items() if k != "objects"}
        document["count"] = len(objects)
        header = {**self._header(path, stamp), "document": document}
        parts = [json.dumps(header).encode(), b"\n"]
        for key, raw in objects.items():
            encoded = key.encode()
            parts += [_LENGTH.pack(len(encoded)), encoded, _LENGTH.pack(len(raw)), raw]
        from driftd.snapshot import write_atomic

        try:
            write_atomic(self.file(path), b"".join(parts), mode=0o600)
        except OSError as exc:  # a cache: the check goes on without it
            log.debug("baseline cache of %s not written (%s)", path, exc)
